//! A read-only reader beside a writer whose writes fail: it keeps showing
//! what was acknowledged while appends keep failing (a failed write that
//! left only a torn frame is no cut to count), and it reads a segment the
//! writer removed after a failed creation and made again (another salt).
//! A batch read in flight and then cut back: the reader forgets only what
//! the cut log says was cut, a follower delivers the records written in
//! place of the cut ones, a query paused between its look and its reads
//! reports no damage, and a reader whose cut log lost the entry reads
//! everything again, as it does after a writer left a cut uncounted and
//! the next writer opened. A retried directory creation syncs its parent. Needs
//! the `failpoints` feature (`cargo test --all-features`); no test sleeps
//! (the clock is a `ManualClock`, follows wait for nothing).

#![cfg(feature = "failpoints")]

mod common;
#[path = "common/failpoints.rs"]
mod failpoints;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use fail::FailScenario;
use failpoints::{cfg, len};
use runlog::{LogRecord, Query};

/// While the writer's appends keep failing (a full disk), a reader shows
/// the records acknowledged before, at every look.
#[test]
fn a_reader_keeps_acknowledged_records_while_appends_keep_failing() {
    let _fp = FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    // One active segment with enough records that reading it takes a while.
    let n = 50_000u64;
    let batch: Vec<LogRecord> = (0..n).map(|i| rec(T0.saturating_sub(secs(1)), i)).collect();
    for chunk in batch.chunks(5_000) {
        p.append_batch(chunk).unwrap();
    }
    let reader_store = options(&clock).open_read_only(dir.path()).unwrap();
    let reader = reader_store.project("p").unwrap();
    let all_time = Query::new().all_time();
    assert_eq!(reader.count(&all_time).unwrap().total, n);

    cfg("segment::append", "return(enospc)");
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicU64::new(0));
    let writer = {
        let (p, stop, failures) = (p.clone(), Arc::clone(&stop), Arc::clone(&failures));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                assert!(p.append(&rec(T0, 1)).is_err());
                failures.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let mut shown = Vec::new();
    for _ in 0..20 {
        shown.push(reader.count(&all_time).unwrap().total);
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    fail::remove("segment::append");
    assert_eq!(p.count(&all_time).unwrap().total, n, "writer");
    eprintln!(
        "{} failed appends; reader counts: {shown:?}",
        failures.load(Ordering::Relaxed)
    );
    assert!(
        shown.iter().all(|&c| c == n),
        "the reader hid acknowledged records: {shown:?}"
    );
}

/// A directory whose parent's sync failed is removed again, so a retry
/// creates it and syncs the parent: with the sync still failing, the
/// second open fails too.
#[test]
fn a_retried_project_creation_syncs_its_parent() {
    let _fp = FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    cfg("fs::sync_dir", "return");
    assert!(store.project("fresh").is_err(), "the parent sync failed");
    let again = store.project("fresh");
    fail::remove("fs::sync_dir");
    assert!(
        again.is_err(),
        "opened without syncing the new project's entry into projects/"
    );
}

/// A segment file the writer removes after its creation failed (the
/// directory sync failed) and then makes again under the same name, with a
/// new salt: the removal is counted, and a reader that had listed the
/// first file reads the second from its header.
#[test]
fn a_reader_reads_a_segment_recreated_after_a_failed_creation() {
    let _fp = FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    let old = T0.saturating_sub(secs(3 * 3600));
    p.append(&rec(old, 0)).unwrap();
    let reader_store = options(&clock).open_read_only(dir.path()).unwrap();
    let reader = reader_store.project("p").unwrap();
    let new = T0.saturating_sub(secs(1));
    let has_new = |segs: &[runlog::SegmentInfo]| {
        segs.iter()
            .any(|s| s.partition.from <= new && new < s.partition.to)
    };

    cfg("fs::sync_dir", "return");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (p, stop) = (p.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                assert!(p.append(&rec(new, 1)).is_err());
                n += 1;
            }
            n
        })
    };
    let mut looks = 0u64;
    loop {
        looks += 1;
        if has_new(&reader.segments().unwrap()) {
            break;
        }
        assert!(looks < 5_000_000, "the reader never caught the file");
    }
    stop.store(true, Ordering::Relaxed);
    let attempts = writer.join().unwrap();
    fail::remove("fs::sync_dir");
    eprintln!("caught after {looks} looks, {attempts} failed creations");

    p.append(&rec(new, 2)).unwrap();
    assert_eq!(all(&p).len(), 2, "writer");
    let q = Query::new().all_time();
    let shown = reader.count(&q).unwrap().total;
    assert_eq!(shown, 2, "reader; damage: {:?}", reader.damage());
    assert!(reader.damage().is_empty(), "{:?}", reader.damage());
}

/// What the test does to the cut log once the writer has cut.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Log {
    /// Leaves it as the writer wrote it.
    Intact,
    /// Flips a bit of the cut's entry.
    Corrupt,
    /// Leaves only the count, as a writer before the log wrote it.
    BareCount,
    /// The writer fails to write the cut's entry (it still moves the count).
    Unwritten,
    /// The writer fails to write the count (as if it crashed between the
    /// cut and its count), so its entry is left past the count.
    Uncounted,
    /// The writer fails to write both the entry and the count.
    Lost,
}

/// Where a batch is written part way, read by a reader and a follower in
/// flight, then cut back (a later segment's write fails), after which the
/// writer appends other records, of other lengths, at the same place:
/// partitions `at(3)` and `at(2)` hold cuts, `at(4)` the failed write,
/// and `at(1)` a segment the batch does not touch.
struct CutScene {
    dir: tempfile::TempDir,
    p: runlog::Project,
    reader: runlog::Project,
    follow: runlog::Follow,
    /// What the follower delivered before the cut.
    before_cut: Vec<runlog::StoredRecord>,
    /// Records acknowledged since the follow began.
    acked: Vec<(runlog::RecordId, LogRecord)>,
    /// The segment file of `at(1)`.
    other_seg: std::path::PathBuf,
}

fn at(h: u64) -> runlog::Timestamp {
    T0.saturating_sub(secs(3600 * h))
}

fn r(t: runlog::Timestamp, level: runlog::Level, content: &str) -> LogRecord {
    LogRecord::new(t, level, "job-1", content)
}

fn segment_of(p: &runlog::Project, t: runlog::Timestamp) -> std::path::PathBuf {
    p.segments()
        .unwrap()
        .into_iter()
        .find(|s| s.partition.from <= t && t < s.partition.to)
        .unwrap()
        .path
}

/// Up to the cut: the batch in flight was read by `reader` and
/// delivered by its follower, then cut back; `log` was applied to the
/// cut log. Nothing after the cut was appended yet.
fn cut_scene(log: Log) -> CutScene {
    use runlog::Level;
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    p.append_batch(&[
        r(at(3), Level::Info, "first  record"),
        r(at(2), Level::Info, "second record"),
        r(at(1), Level::Info, "third  record"),
    ])
    .unwrap();
    let (cut_seg, other_seg) = (segment_of(&p, at(3)), segment_of(&p, at(1)));
    let len_before = len(&cut_seg);
    let reader_store = options(&clock).open_read_only(dir.path()).unwrap();
    let reader = reader_store.project("p").unwrap();
    let mut follow = reader.follow(&Query::new()).unwrap();
    assert!(follow.next_batch(Duration::ZERO).unwrap().is_empty());

    // The first segment's write goes through, the second waits (and then
    // goes through), the third fails; the reader and the follower look
    // while the batch is in flight.
    cfg("segment::append", "1*off->pause");
    let writer = {
        let p = p.clone();
        std::thread::spawn(move || {
            p.append_batch(&[
                r(at(3), Level::Error, "alpha  record"),
                r(at(3), Level::Error, "alpha  record"),
                r(at(2), Level::Info, "beta   record"),
                r(at(4), Level::Info, "gamma  record"),
            ])
        })
    };
    while len(&cut_seg) == len_before {
        std::thread::yield_now();
    }
    let errors = Query::new().all_time().level(Level::Error);
    assert_eq!(reader.count(&errors).unwrap().total, 2, "read in flight");
    let before_cut = follow.next_batch(Duration::ZERO).unwrap();
    assert_eq!(before_cut.len(), 2, "delivered in flight: {before_cut:?}");
    match log {
        Log::Unwritten => cfg("cuts::log", "return"),
        Log::Uncounted => cfg("cuts", "return"),
        Log::Lost => {
            cfg("cuts::log", "return");
            cfg("cuts", "return");
        }
        _ => {}
    }
    cfg("segment::append", "return");
    assert!(writer.join().unwrap().is_err(), "the batch fails");
    fail::remove("segment::append");
    fail::remove("cuts::log");
    fail::remove("cuts");
    assert_eq!(len(&cut_seg), len_before, "cut back");

    let cuts = dir.path().join("projects/p/cuts");
    let mut bytes = std::fs::read(&cuts).unwrap();
    match log {
        Log::Intact | Log::Unwritten | Log::Uncounted | Log::Lost => {}
        Log::Corrupt => {
            let last = bytes.len() - 10;
            bytes[last] ^= 0x10;
        }
        Log::BareCount => bytes.truncate(8),
    }
    std::fs::write(&cuts, &bytes).unwrap();
    CutScene {
        dir,
        p,
        reader,
        follow,
        before_cut,
        acked: Vec::new(),
        other_seg,
    }
}

impl CutScene {
    fn append(&mut self, records: &[LogRecord]) {
        let ids = self.p.append_batch(records).unwrap();
        self.acked
            .extend(ids.into_iter().zip(records.iter().cloned()));
    }

    /// Close the writer (the reader's handle stands in for it meanwhile)
    /// and open another.
    fn reopen_writer(&mut self) {
        drop(std::mem::replace(&mut self.p, self.reader.clone()));
        self.p = open(self.dir.path(), &clock()).project("p").unwrap();
    }

    /// The reader's queries, counts and lookups agree with the writer's and
    /// with what was acknowledged, and it found no damage.
    fn check_reader(&self) {
        let all_time = Query::new().all_time();
        let want = 3 + self.acked.len() as u64;
        for (who, q) in [("writer", &self.p), ("reader", &self.reader)] {
            assert_eq!(q.count(&all_time).unwrap().total, want, "{who}");
            let errors = all_time.clone().level(runlog::Level::Error);
            assert_eq!(q.count(&errors).unwrap().total, 0, "{who}");
            assert!(
                q.query(&all_time.clone().text("alpha"))
                    .unwrap()
                    .records
                    .is_empty(),
                "{who}"
            );
            let page = q.query(&all_time.clone().limit(1000)).unwrap();
            assert_eq!(page.records.len() as u64, want, "{who}");
            for (id, rec) in &self.acked {
                let got = q.get(*id).unwrap().expect("acknowledged record");
                assert_eq!(&got.record, rec, "{who}");
            }
            assert_eq!(q.job_logs("job-1").unwrap().len() as u64, want, "{who}");
        }
        assert!(
            self.reader.damage().is_empty(),
            "{:?}",
            self.reader.damage()
        );
    }
}

/// A follower in a read-only store that delivered records of a batch the
/// writer then cut back moves back to the first ordinal cut, and delivers
/// every record acknowledged after the cut exactly once (the ones written
/// in place of the cut ones included; the cut ones it delivered before
/// stay delivered). The reader forgets only what was cut: it does not
/// read the other segments again.
#[test]
fn a_follower_delivers_the_records_written_in_place_of_cut_ones() {
    use runlog::Level;
    let _fp = FailScenario::setup();
    let mut s = cut_scene(Log::Intact);
    assert!(
        s.before_cut
            .iter()
            .all(|d| d.record.content == "alpha  record"),
        "{:?}",
        s.before_cut
    );
    // Damage `at(1)`'s record on disk after the reader read it: a reader
    // that read that segment again would now skip it and report damage.
    let mut other = std::fs::read(&s.other_seg).unwrap();
    let flip = other.len() - 5;
    other[flip] ^= 0x01;
    std::fs::write(&s.other_seg, &other).unwrap();

    s.append(&[
        r(at(3), Level::Info, "delta record, longer than the cut ones"),
        r(at(3), Level::Warn, "delta"),
        r(at(3), Level::Info, "delta three"),
    ]);
    let mut delivered = s.follow.next_batch(Duration::ZERO).unwrap();
    s.append(&[
        r(at(3), Level::Info, "epsilon"),
        r(at(2), Level::Info, "zeta"),
    ]);
    delivered.extend(s.follow.next_batch(Duration::ZERO).unwrap());
    assert!(s.follow.next_batch(Duration::ZERO).unwrap().is_empty());

    let mut got: Vec<_> = delivered.iter().map(|d| (d.id, d.record.clone())).collect();
    got.sort_by_key(|(id, _)| *id);
    let mut want = s.acked.clone();
    want.sort_by_key(|(id, _)| *id);
    assert_eq!(got, want, "every record acknowledged after the cut, once");
    let cut_ids: Vec<runlog::RecordId> = s.before_cut.iter().map(|d| d.id).collect();
    assert!(
        got.iter().filter(|(id, _)| cut_ids.contains(id)).count() == 2,
        "the records in place of the cut ones: {got:?}"
    );
    // The reader did not read `at(1)` again: it still counts the record
    // damaged since (a fresh reader skips it).
    let all_time = Query::new().all_time();
    let want = 3 + s.acked.len() as u64;
    assert_eq!(s.reader.count(&all_time).unwrap().total, want);
    assert!(s.reader.damage().is_empty(), "{:?}", s.reader.damage());
    let fresh = options(&clock()).open_read_only(s.dir.path()).unwrap();
    let fresh = fresh.project("p").unwrap();
    assert_eq!(fresh.count(&all_time).unwrap().total, want - 1);
    other[flip] ^= 0x01;
    std::fs::write(&s.other_seg, &other).unwrap();
    s.check_reader();
}

/// A reader whose cut log lost the cut's entry (corrupt, not written, or a
/// writer that predates the log and writes only the count) cannot tell
/// what was cut:
/// it reads every active segment again, and still shows exactly what was
/// acknowledged, without damage.
#[test]
fn a_reader_without_the_cuts_entry_reads_everything_again() {
    use runlog::Level;
    for log in [Log::Corrupt, Log::BareCount, Log::Unwritten] {
        let _fp = FailScenario::setup();
        let mut s = cut_scene(log);
        s.append(&[
            r(at(3), Level::Info, "delta record, longer than the cut ones"),
            r(at(3), Level::Warn, "delta"),
            r(at(3), Level::Info, "delta three"),
        ]);
        s.check_reader();
        // A follower there may miss records written in place of cut ones
        // (documented); it delivers none twice and none cut.
        let delivered = s.follow.next_batch(Duration::ZERO).unwrap();
        for d in &delivered {
            assert!(
                s.acked.iter().any(|(id, r)| *id == d.id && *r == d.record),
                "{log:?}: {d:?}"
            );
        }
    }
}

/// A writer that cut but could not count the cut (as if it crashed in
/// between) leaves its entry past the count; once records are written in
/// place of the cut ones, a reader that read those cannot tell
/// (documented: it would show them, and read on from the wrong place).
/// The next writer to open cannot tell whether the cut was made, so it
/// records a cut of anything: the reader then reads everything again and
/// shows exactly what was acknowledged, without damage.
///
/// The same when neither the cut's entry nor its count could be written:
/// the writer cut the log off the file before the cut, so the next writer
/// finds no log it can trust.
#[test]
fn a_cut_left_uncounted_makes_the_next_writer_count_a_cut_of_anything() {
    for log in [Log::Uncounted, Log::Lost] {
        writer_reopens_after(log);
    }
}

fn writer_reopens_after(log: Log) {
    use runlog::Level;
    let _fp = FailScenario::setup();
    let mut s = cut_scene(log);
    s.append(&[
        r(at(3), Level::Info, "delta record, longer than the cut ones"),
        r(at(3), Level::Warn, "delta"),
        r(at(3), Level::Info, "delta three"),
    ]);
    s.reopen_writer();
    s.check_reader();
}

/// A query that read the offsets of frames in flight, then (paused between
/// its look and its reads) finds them cut and other frames written there,
/// reports no damage; the next query shows what was acknowledged.
#[test]
fn a_query_reading_bytes_cut_since_its_look_reports_no_damage() {
    use runlog::Level;
    let _fp = FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    p.append(&r(at(3), Level::Info, "first  record")).unwrap();
    p.append(&r(at(2), Level::Info, "second record")).unwrap();
    let seg = segment_of(&p, at(3));
    let len_before = len(&seg);
    let reader_store = options(&clock).open_read_only(dir.path()).unwrap();
    let reader = reader_store.project("p").unwrap();
    assert_eq!(reader.count(&Query::new().all_time()).unwrap().total, 2);

    cfg("segment::append", "1*off->pause");
    let writer = {
        let p = p.clone();
        std::thread::spawn(move || {
            p.append_batch(&[
                r(at(3), Level::Error, "alpha  record"),
                r(at(3), Level::Error, "alpha  record"),
                r(at(3), Level::Error, "alpha  record"),
                r(at(2), Level::Info, "beta   record"),
                r(at(4), Level::Info, "gamma  record"),
            ])
        })
    };
    while len(&seg) == len_before {
        std::thread::yield_now();
    }
    // The query looks (reading the frames in flight), then waits.
    cfg("project::looked", "pause");
    let query = {
        let reader = reader.clone();
        std::thread::spawn(move || {
            reader
                .query(&Query::new().all_time())
                .map(|p| p.records.len())
        })
    };
    // The writer fails, cuts, and writes other frames there.
    cfg("segment::append", "return");
    assert!(writer.join().unwrap().is_err());
    fail::remove("segment::append");
    let ids = p
        .append_batch(&[
            r(
                at(3),
                Level::Info,
                "delta, much longer than any cut record was",
            ),
            r(
                at(3),
                Level::Info,
                "delta, much longer than any cut record was",
            ),
            r(
                at(3),
                Level::Info,
                "delta, much longer than any cut record was",
            ),
        ])
        .unwrap();
    cfg("project::looked", "off");
    let shown = query.join().unwrap().unwrap();
    fail::remove("project::looked");
    eprintln!("the paused query showed {shown} records");
    assert!(
        reader.damage().is_empty(),
        "false damage: {:?}",
        reader.damage()
    );
    assert_eq!(
        reader
            .query(&Query::new().all_time())
            .unwrap()
            .records
            .len(),
        5
    );
    for id in ids {
        assert!(reader.get(id).unwrap().is_some());
    }
    assert!(reader.damage().is_empty(), "{:?}", reader.damage());
}
