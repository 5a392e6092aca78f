//! Crash recovery: torn tails at every byte, flipped bytes, garbage, an
//! interrupted seal. Each case reopens several times and asserts exactly
//! which records survive.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use runlog::format::{HEADER_LEN, frame_len};
use runlog::{LogRecord, RecordId, TimeRange, Timestamp};

/// Write `n` records into one active segment and return its path, the
/// records, their IDs and their frame offsets.
fn write_segment(dir: &Path, n: u64) -> (PathBuf, Vec<LogRecord>, Vec<RecordId>, Vec<u64>) {
    let clock = clock();
    let store = open(dir, &clock);
    let p = store.project("p").unwrap();
    let records: Vec<LogRecord> = (0..n)
        .map(|i| rec(T0.saturating_sub(secs(100 - i)), i))
        .collect();
    let ids = p.append_batch(&records).unwrap();
    p.sync().unwrap();
    let segs = p.segments().unwrap();
    assert_eq!(segs.len(), 1);
    let mut offsets = Vec::new();
    let mut at = HEADER_LEN as u64;
    for r in &records {
        offsets.push(at);
        at += frame_len(r) as u64;
    }
    assert_eq!(fs::metadata(&segs[0].path).unwrap().len(), at);
    (segs[0].path.clone(), records, ids, offsets)
}

/// Reopen the store `times` times; each time, return what it reads.
fn reopen_and_read(dir: &Path, times: usize) -> Vec<Vec<(RecordId, LogRecord)>> {
    (0..times)
        .map(|_| {
            let clock = clock();
            let store = open(dir, &clock);
            let p = store.project("p").unwrap();
            all(&p)
                .into_iter()
                .map(|s| {
                    let full = p.get(s.id).unwrap().expect("listed record has details");
                    (s.id, full.record)
                })
                .collect()
        })
        .collect()
}

fn expected(
    records: &[LogRecord],
    ids: &[RecordId],
    keep: impl Fn(usize) -> bool,
) -> Vec<(RecordId, LogRecord)> {
    let mut v: Vec<_> = (0..records.len())
        .filter(|&i| keep(i))
        .map(|i| (ids[i], records[i].clone()))
        .collect();
    v.reverse(); // newest first: times increase with i
    v
}

#[test]
fn torn_tail_at_every_byte_of_the_last_frames() {
    let dir = tempfile::tempdir().unwrap();
    let (path, records, ids, offsets) = write_segment(dir.path(), 6);
    let original = fs::read(&path).unwrap();
    // Every cut inside the last three frames (and at their boundaries).
    for cut in offsets[3]..=original.len() as u64 {
        fs::write(&path, &original[..cut as usize]).unwrap();
        let whole = offsets
            .iter()
            .zip(&records)
            .filter(|(o, r)| **o + frame_len(r) as u64 <= cut)
            .count();
        let want = expected(&records, &ids, |i| i < whole);
        for got in reopen_and_read(dir.path(), 2) {
            assert_eq!(got, want, "cut at byte {cut}");
        }
        // The torn tail is gone: the file ends at the last whole frame.
        let valid_end = offsets.get(whole).copied().unwrap_or(original.len() as u64);
        assert_eq!(
            fs::metadata(&path).unwrap().len(),
            valid_end,
            "cut at {cut}"
        );
    }
}

#[test]
fn appends_continue_after_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let (path, records, ids, offsets) = write_segment(dir.path(), 4);
    let original = fs::read(&path).unwrap();
    fs::write(&path, &original[..offsets[3] as usize + 7]).unwrap();

    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    let extra = rec(T0.saturating_sub(secs(10)), 99);
    let id = p.append(&extra).unwrap();
    // The torn record's ordinal is reused: it was never whole on disk.
    assert_eq!(id.ordinal, 3);
    drop((p, store));
    let got = &reopen_and_read(dir.path(), 2)[1];
    let mut want = vec![(id, extra)];
    want.extend(expected(&records, &ids, |i| i < 3));
    assert_eq!(got, &want);
}

#[test]
fn garbage_after_the_last_frame_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let (path, records, ids, _) = write_segment(dir.path(), 5);
    let original = fs::read(&path).unwrap();
    for garbage in [
        vec![0u8; 1],
        vec![0u8; 4096],
        vec![0xff; 37],
        b"hello world, not a frame".to_vec(),
    ] {
        let mut bytes = original.clone();
        bytes.extend_from_slice(&garbage);
        fs::write(&path, &bytes).unwrap();
        for got in reopen_and_read(dir.path(), 2) {
            assert_eq!(got, expected(&records, &ids, |_| true));
        }
        assert_eq!(fs::read(&path).unwrap(), original);
    }
}

#[test]
fn a_flipped_byte_loses_only_its_record_and_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (path, records, ids, offsets) = write_segment(dir.path(), 6);
    let original = fs::read(&path).unwrap();
    for victim in [0usize, 2, 5] {
        for within in [0u64, 5, 17, 30] {
            let mut bytes = original.clone();
            let at = (offsets[victim] + within) as usize;
            bytes[at] ^= 0x5a;
            fs::write(&path, &bytes).unwrap();
            for got in reopen_and_read(dir.path(), 2) {
                // The last frame corrupt is indistinguishable from a torn tail.
                assert_eq!(
                    got,
                    expected(&records, &ids, |i| i != victim),
                    "frame {victim} byte {within}"
                );
            }
            let clock = clock();
            let store = open(dir.path(), &clock);
            let p = store.project("p").unwrap();
            if victim < 5 {
                let damage = p.damage();
                assert_eq!(damage.len(), 1, "{damage:?}");
                assert_eq!(
                    (damage[0].path.clone(), damage[0].offset),
                    (path.clone(), offsets[victim])
                );
                let report = p.verify().unwrap();
                assert_eq!(report.problems.len(), 1);
                assert_eq!(report.records, 5);
            }
            drop((p, store));
            fs::write(&path, &original).unwrap();
        }
    }
}

#[test]
fn a_corrupt_header_sets_the_segment_aside_and_the_rest_works() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _, _, _) = write_segment(dir.path(), 3);
    let mut bytes = fs::read(&path).unwrap();
    bytes[20] ^= 1;
    fs::write(&path, &bytes).unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    assert!(all(&p).is_empty());
    let damage = p.damage();
    assert_eq!(damage.len(), 1);
    assert_eq!(
        (damage[0].path.clone(), damage[0].offset),
        (path.clone(), 60)
    );
    // New records of that partition go to a new generation; the bad file is kept.
    let id = p.append(&rec(T0.saturating_sub(secs(5)), 1)).unwrap();
    assert_eq!(id.segment.generation, 1);
    assert_eq!(all(&p).len(), 1);
    assert_eq!(fs::read(&path).unwrap(), bytes);
}

#[test]
fn a_file_cut_inside_its_header_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _, _, _) = write_segment(dir.path(), 2);
    let bytes = fs::read(&path).unwrap();
    for cut in [0usize, 1, 63] {
        fs::write(&path, &bytes[..cut]).unwrap();
        let got = reopen_and_read(dir.path(), 1);
        assert!(got[0].is_empty());
        assert!(!path.exists(), "no record was ever acknowledged in it");
    }
}

/// Seal segments, then check sealed files: intact, a flipped record, a flipped trailer.
#[test]
fn sealed_segments_survive_reopen_and_corruption_is_contained() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let hour = 3600;
    let mut want = Vec::new();
    {
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        for h in 0..3u64 {
            let batch: Vec<_> = (0..4)
                .map(|i| rec(clock.now_t().saturating_sub(secs(50 - i)), h * 10 + i))
                .collect();
            let ids = p.append_batch(&batch).unwrap();
            want.extend(ids.into_iter().zip(batch));
            clock.advance(secs(hour));
        }
        p.seal_due().unwrap();
        let segs = p.segments().unwrap();
        assert_eq!(segs.len(), 3);
        assert!(segs.iter().all(|s| s.sealed), "{segs:?}");
    }
    want.sort_by_key(|(id, r)| std::cmp::Reverse((r.time, *id)));
    assert_eq!(read_at(dir.path(), &clock), want);

    // Flip a byte inside the newest segment's first frame: that record is
    // skipped and reported, the rest reads.
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    let segs = p.segments().unwrap();
    drop((p, store));
    let newest = &segs[2].path;
    let pristine = fs::read(newest).unwrap();
    let mut bytes = pristine.clone();
    bytes[HEADER_LEN + 25] ^= 0x01;
    fs::write(newest, &bytes).unwrap();
    let victim = want
        .iter()
        .position(|(id, _)| id.segment == segs[2].id && id.ordinal == 0)
        .unwrap();
    let mut fewer = want.clone();
    fewer.remove(victim);
    assert_eq!(read_at(dir.path(), &clock), fewer);
    {
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        let _ = all(&p);
        assert_eq!(p.damage().len(), 1, "{:?}", p.damage());
        assert!(
            p.get(want[victim].0).is_err(),
            "a corrupt record is an error, never data"
        );
        assert_eq!(p.verify().unwrap().problems.len(), 1);
    }
    {
        // Pages and page views skip it too, and report it.
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        let q = runlog::Query::new().range(TimeRange::all()).limit(1000);
        let ids = |v: Vec<runlog::StoredRecord>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
        let fewer_ids: Vec<RecordId> = fewer.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids(p.query(&q).unwrap().records), fewer_ids);
        assert_eq!(ids(p.query_view(&q).unwrap().to_records()), fewer_ids);
        assert!(!p.damage().is_empty(), "the view reported it");
    }

    // Break the trailer: the whole segment is set aside, the others read.
    let mut bytes = pristine.clone();
    let n = bytes.len();
    bytes[n - 30] ^= 0x01;
    fs::write(newest, &bytes).unwrap();
    let rest: Vec<_> = want
        .iter()
        .filter(|(id, _)| id.segment != segs[2].id)
        .cloned()
        .collect();
    assert_eq!(read_at(dir.path(), &clock), rest);
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    let _ = all(&p);
    let damage = p.damage();
    assert_eq!(damage.len(), 1);
    assert_eq!(&damage[0].path, newest);
    assert!(p.segments().unwrap()[2].damaged);
}

fn read_at(dir: &Path, clock: &runlog::ManualClock) -> Vec<(RecordId, LogRecord)> {
    let store = open(dir, clock);
    let p = store.project("p").unwrap();
    all(&p)
        .into_iter()
        .map(|s| (s.id, p.get(s.id).unwrap().unwrap().record))
        .collect()
}

/// A crash between writing the seal block and the rename: recovery
/// completes the seal; a torn seal block is cut off and the segment stays active.
#[test]
fn interrupted_seal_is_completed_or_undone() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let (wal, sealed_bytes, ids) = {
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        let ids = p
            .append_batch(&[
                rec(T0.saturating_sub(secs(30)), 1),
                rec(T0.saturating_sub(secs(20)), 2),
            ])
            .unwrap();
        let wal = p.segments().unwrap()[0].path.clone();
        clock.advance(secs(2 * 3600));
        p.seal_due().unwrap();
        let seg = p.segments().unwrap()[0].path.clone();
        assert_ne!(seg, wal);
        let bytes = fs::read(&seg).unwrap();
        fs::remove_file(&seg).unwrap();
        (wal, bytes, ids)
    };
    // Complete seal block in a .wal: the seal is finished at open.
    fs::write(&wal, &sealed_bytes).unwrap();
    {
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        let segs = p.segments().unwrap();
        assert!(segs[0].sealed);
        assert!(!wal.exists());
        assert_eq!(
            all(&p).iter().map(|s| s.id).collect::<Vec<_>>(),
            [ids[1], ids[0]]
        );
        fs::remove_file(&segs[0].path).unwrap();
    }
    // Torn seal block: cut back to the frames, still active, nothing lost.
    let frames_end = HEADER_LEN + frame_len(&rec(T0, 1)) + frame_len(&rec(T0, 2));
    fs::write(&wal, &sealed_bytes[..sealed_bytes.len() - 10]).unwrap();
    let clock = common::clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    assert!(!p.segments().unwrap()[0].sealed);
    assert_eq!(fs::metadata(&wal).unwrap().len(), frames_end as u64);
    assert_eq!(all(&p).len(), 2);
    assert!(
        p.scan(TimeRange::new(T0, Timestamp::MAX).unwrap())
            .next()
            .is_none()
    );
}

trait NowT {
    fn now_t(&self) -> Timestamp;
}
impl NowT for runlog::ManualClock {
    fn now_t(&self) -> Timestamp {
        runlog::Clock::now(self)
    }
}

/// A crash between the two renames of a seal: either file may be in
/// place. Both cases open to the same records, and a half-written index
/// left under its temporary name is removed.
#[test]
fn a_seal_interrupted_between_its_renames_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let (seg, idx, ids) = {
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        let ids = p
            .append_batch(&[
                rec(T0.saturating_sub(secs(30)), 1),
                rec(T0.saturating_sub(secs(20)), 2),
            ])
            .unwrap();
        clock.advance(secs(2 * 3600));
        p.seal_due().unwrap();
        let seg = p.segments().unwrap()[0].path.clone();
        (seg.clone(), seg.with_extension("idx"), ids)
    };
    let q = runlog::Query::new().all_time().text("POST");
    let read = |clock: &runlog::ManualClock| {
        let store = open(dir.path(), clock);
        let p = store.project("p").unwrap();
        let got: Vec<_> = p.query(&q).unwrap().records.iter().map(|s| s.id).collect();
        (got, p.segments().unwrap()[0].sealed)
    };
    // The segment renamed, the index not: a stale temporary is left.
    let tmp = seg.with_extension("idx.tmp");
    fs::rename(&idx, &tmp).unwrap();
    assert_eq!(read(&clock), (vec![ids[1], ids[0]], true));
    assert!(!tmp.exists(), "the stale temporary index is removed");
    assert!(idx.exists(), "the index is rebuilt");
    // The index renamed, the segment not: the seal is completed at open.
    let wal = seg.with_extension("wal");
    fs::rename(&seg, &wal).unwrap();
    assert_eq!(read(&clock), (vec![ids[1], ids[0]], true));
    assert!(seg.exists() && !wal.exists());
    // Neither renamed (a crash right after the seal block was synced): the
    // whole index under its temporary name is moved into place with the
    // segment, not thrown away, so verify finds nothing missing.
    let index_bytes = fs::read(&idx).unwrap();
    fs::rename(&seg, &wal).unwrap();
    fs::rename(&idx, &tmp).unwrap();
    {
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        assert!(seg.exists() && !wal.exists() && !tmp.exists());
        assert_eq!(fs::read(&idx).unwrap(), index_bytes);
        let report = p.verify().unwrap();
        assert!(report.is_ok(), "{report:?}");
        assert!(p.damage().is_empty(), "{:?}", p.damage());
    }
    assert_eq!(read(&clock), (vec![ids[1], ids[0]], true));
}
