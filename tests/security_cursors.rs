//! Cursors and record IDs given by callers: garbage text and bytes,
//! forged cursors with valid checksums (any position, fingerprint or
//! range), and cursors of another project or query give a typed error or
//! a valid page of this project, never a panic, and change nothing on
//! disk; record IDs of nothing are absent, before and after retention,
//! also in a read-only store. Seeded draws; time is a `ManualClock`.

mod common;

use common::files::*;
use common::rng::{Random, Rng};
use common::*;
use runlog::{
    Cursor, Error, ExportFormat, Level, NewRun, Project, Query, RecordId, RunCursor, RunQuery,
    SegmentId, TimeRange, Timestamp, Trigger,
};

fn crc32(b: &[u8]) -> u32 {
    // Bitwise CRC-32 (IEEE), so the test does not share the code under test.
    let mut crc = !0u32;
    for &byte in b {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// URL-safe base64 without padding (the cursors' text form), written
/// independently of runlog's.
fn b64_encode(b: &[u8]) -> String {
    let mut s = String::new();
    let (mut acc, mut bits) = (0u32, 0);
    for &x in b {
        acc = (acc << 8) | u32::from(x);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            s.push(B64[((acc >> bits) & 63) as usize] as char);
        }
    }
    if bits > 0 {
        s.push(B64[((acc << (6 - bits)) & 63) as usize] as char);
    }
    s
}

fn b64_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = B64.iter().position(|&a| a == c).expect("base64") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// Draws for forged cursors.
impl Rng {
    /// An "interesting" i64: extremes, around the test's times, or random.
    fn time(&mut self) -> i64 {
        match self.below(6) {
            0 => i64::MIN,
            1 => i64::MAX,
            2 => 0,
            3 => T0.as_micros() + (self.below(1 << 36) as i64 - (1 << 35)),
            4 => -(self.below(1 << 40) as i64),
            _ => self.next() as i64,
        }
    }
}

/// Every record of a page walk is strictly below the cursor's start, in
/// range and strictly ordered newest first; the walk ends.
fn walk_checked(p: &Project, q: &Query, start: Option<(Timestamp, RecordId)>) {
    let mut prev = start;
    let mut next_q = q.clone();
    for _ in 0..1000 {
        // The range of everything, clamped: it starts at the horizon.
        let horizon = p
            .resolve(&runlog::RangeSpec::Custom(TimeRange::all()))
            .unwrap()
            .range
            .from;
        let page = p.query(&next_q).unwrap();
        let range = page.range.range;
        for r in &page.records {
            let key = (r.record.time, r.id);
            assert!(prev.is_none_or(|prev| key < prev), "{key:?} after {prev:?}");
            assert!(range.contains(r.record.time), "{key:?} outside {range:?}");
            assert!(r.record.time >= horizon, "{key:?} is past the horizon");
            // The record is this project's own.
            assert_eq!(
                p.get(r.id).unwrap().map(|s| s.record.content),
                Some(r.record.content.clone())
            );
            prev = Some(key);
        }
        match page.next {
            Some(c) => next_q = q.clone().after(c),
            None => return,
        }
    }
    panic!("a page walk did not end");
}

/// The bytes of a cursor (its text form decoded).
fn cursor_bytes(c: &Cursor) -> Vec<u8> {
    let b = b64_decode(&c.to_string());
    assert_eq!(b.len(), 49);
    b
}

/// A cursor's bytes with a fresh checksum, as text.
fn forge(mut b: Vec<u8>) -> String {
    let n = b.len() - 4;
    let crc = crc32(&b[..n]);
    b[n..].copy_from_slice(&crc.to_le_bytes());
    b64_encode(&b)
}

#[test]
fn forged_and_foreign_log_cursors_give_typed_errors_or_valid_pages() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let clock = clock();
    let (store, a) = populated(&dir, &clock, 40);
    let b = store.project("b").unwrap();
    for i in 0..25 {
        b.append(&rec(T0.saturating_sub(secs(7200 - i * 100)), 1000 + i))
            .unwrap();
    }
    let q = Query::new().all_time().limit(3);
    let first = a.query(&q).unwrap();
    let cursor = first.next.unwrap();
    let real = cursor_bytes(&cursor);
    let before = snapshot(tmp.path());

    // Garbage text.
    let mut rng = Rng(7);
    let mut garbage: Vec<String> = [
        "",
        "A",
        "====",
        "../../etc/passwd",
        "%00",
        "\0",
        "日本語",
        &"A".repeat(66),
        &"A".repeat(101),
        &"_".repeat(10_000),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let text = cursor.to_string();
    garbage.push(text[..text.len() - 1].to_string());
    garbage.push(format!("{text}A"));
    garbage.push(format!("{text}="));
    garbage.push(text.to_uppercase());
    for _ in 0..2000 {
        let len = rng.below(120) as usize;
        let s: String = match rng.below(3) {
            0 => (0..len)
                .map(|_| B64[rng.below(64) as usize] as char)
                .collect(),
            1 => String::from_utf8_lossy(&rng.bytes(len)).into_owned(),
            _ => {
                // The real cursor with a few characters changed.
                let mut t = text.clone().into_bytes();
                for _ in 0..=rng.below(3) {
                    let i = rng.below(t.len() as u64) as usize;
                    t[i] = B64[rng.below(64) as usize];
                }
                String::from_utf8(t).unwrap()
            }
        };
        if s != text {
            garbage.push(s);
        }
    }
    for s in garbage.iter().filter(|s| **s != text) {
        match s.parse::<Cursor>() {
            Err(Error::InvalidCursor { .. }) => {}
            other => panic!("{s:?}: expected InvalidCursor, got {other:?}"),
        }
    }
    // Raw bytes of every length, valid checksum or not: a typed error or a cursor.
    for len in 0..100 {
        for _ in 0..20 {
            let mut bytes = rng.bytes(len);
            if len == 49 {
                bytes[0] = 1;
                let crc = crc32(&bytes[..45]);
                bytes[45..].copy_from_slice(&crc.to_le_bytes());
            }
            match Cursor::from_bytes(&bytes) {
                Ok(_) => assert_eq!(len, 49),
                Err(Error::InvalidCursor { .. }) => {}
                Err(e) => panic!("{e:?}"),
            }
        }
    }

    // Another query's filters: refused, by queries and exports alike.
    for other in [
        q.clone().level(Level::Error),
        q.clone().env("prod"),
        q.clone().text("POST"),
        q.clone().include_superseded(true),
    ] {
        assert!(matches!(
            a.query(&other.clone().after(cursor)),
            Err(Error::CursorMismatch)
        ));
        assert!(matches!(
            a.export(
                &other.after(cursor),
                runlog::ExportOptions::new(ExportFormat::JsonLines).details(true),
                Vec::new(),
                |_| {}
            ),
            Err(Error::CursorMismatch)
        ));
    }
    // Another project's cursor for the same query: a valid page of this
    // project (the cursor is a position in time, not a handle on a file).
    let last = first.records.last().unwrap();
    walk_checked(
        &b,
        &q.clone().after(cursor),
        Some((last.record.time, last.id)),
    );

    // Well-formed forgeries: a wrong version or an inverted range is a typed
    // error; any other position (segments that do not exist, extreme times
    // and ordinals) is a valid, possibly empty, page of this project.
    let field = |b: &mut Vec<u8>, at: usize, v: &[u8]| b[at..at + v.len()].copy_from_slice(v);
    let mut bad_version = real.clone();
    bad_version[0] = 2;
    let mut inverted = real.clone();
    field(&mut inverted, 9, &10i64.to_le_bytes());
    field(&mut inverted, 17, &9i64.to_le_bytes());
    for bytes in [bad_version, inverted] {
        assert!(matches!(
            forge(bytes).parse::<Cursor>(),
            Err(Error::InvalidCursor { .. })
        ));
    }
    let mut tried = 0;
    for i in 0..3000 {
        let mut bytes = real.clone();
        if i % 5 == 0 {
            // Any fingerprint: usually another query's.
            let fp = rng.next().to_le_bytes();
            field(&mut bytes, 1, &fp);
        }
        let (mut from, mut to) = (rng.time(), rng.time());
        if from > to {
            std::mem::swap(&mut from, &mut to);
        }
        field(&mut bytes, 9, &from.to_le_bytes());
        field(&mut bytes, 17, &to.to_le_bytes());
        let t = rng.time();
        field(&mut bytes, 25, &t.to_le_bytes());
        let segs = a.segments().unwrap();
        let (partition, generation) = match rng.below(4) {
            0 => (u32::MAX, u32::MAX),
            1 => (rng.next() as u32, rng.next() as u32),
            2 => {
                let s = segs[rng.below(segs.len() as u64) as usize].id;
                (s.partition, s.generation)
            }
            _ => (0, 0),
        };
        field(&mut bytes, 33, &partition.to_le_bytes());
        field(&mut bytes, 37, &generation.to_le_bytes());
        let ordinal = [0, 1, u32::MAX, rng.next() as u32][rng.below(4) as usize];
        field(&mut bytes, 41, &ordinal.to_le_bytes());
        let c: Cursor = forge(bytes).parse().unwrap();
        let p = if i % 2 == 0 { &a } else { &b };
        let id = RecordId {
            segment: SegmentId {
                partition,
                generation,
            },
            ordinal,
        };
        match p.query(&q.clone().after(c)) {
            Ok(_) => {
                tried += 1;
                if i % 10 == 0 {
                    walk_checked(
                        p,
                        &q.clone().after(c),
                        Some((Timestamp::from_micros(t), id)),
                    );
                }
            }
            Err(Error::CursorMismatch) => assert_eq!(i % 5, 0),
            Err(e) => panic!("{e:?}"),
        }
        let mut sink = Vec::new();
        match p.export(
            &q.clone().after(c),
            runlog::ExportOptions::new(ExportFormat::Csv).details(true),
            &mut sink,
            |_| {},
        ) {
            Ok(_) | Err(Error::CursorMismatch) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert!(tried > 2000);
    assert_eq!(
        snapshot(tmp.path()),
        before,
        "reading with forged cursors changed the store"
    );
}

#[test]
fn forged_and_foreign_run_cursors_give_typed_errors_or_valid_pages() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let clock = clock();
    let store = open(&dir, &clock);
    let a = store.project("a").unwrap();
    let b = store.project("b").unwrap();
    for (p, n) in [(&a, 30u64), (&b, 12)] {
        for i in 0..n {
            let t = T0.saturating_sub(secs(5000 - i * 100));
            p.start_run(
                &NewRun::new(format!("job-{i}"), "flow", Trigger::Scheduler).triggered_at(t),
            )
            .unwrap();
        }
    }
    let q = RunQuery::new().all_time().limit(4);
    let first = a.query_runs(&q).unwrap();
    let cursor = first.next.clone().unwrap();
    let text = cursor.to_string();
    let real = b64_decode(&text);
    let before = snapshot(tmp.path());

    let mut rng = Rng(11);
    let mut garbage: Vec<String> = [
        "",
        "R",
        "../x",
        "\0",
        &"A".repeat(241),
        &"A".repeat(5000),
        "日本",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    garbage.push(text[..text.len() - 1].to_string());
    garbage.push(format!("{text}AA"));
    for _ in 0..2000 {
        let len = rng.below(250) as usize;
        garbage.push(if rng.below(2) == 0 {
            (0..len)
                .map(|_| B64[rng.below(64) as usize] as char)
                .collect()
        } else {
            String::from_utf8_lossy(&rng.bytes(len)).into_owned()
        });
    }
    for s in &garbage {
        match s.parse::<RunCursor>() {
            Err(Error::InvalidCursor { .. }) => {}
            other => panic!("{s:?}: expected InvalidCursor, got {other:?}"),
        }
    }
    for len in 0..200 {
        let mut bytes = rng.bytes(len);
        if len >= 38 {
            bytes[0] = b'R';
            bytes[33] = (len - 38) as u8;
            let n = len - 4;
            let crc = crc32(&bytes[..n]);
            bytes[n..].copy_from_slice(&crc.to_le_bytes());
        }
        match RunCursor::from_bytes(&bytes) {
            Ok(_) | Err(Error::InvalidCursor { .. }) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    // Another query's filters; another project's cursor.
    for other in [
        q.clone().flow("flow"),
        q.clone().status(runlog::RunStatus::Failed),
    ] {
        assert!(matches!(
            a.query_runs(&other.after(cursor.clone())),
            Err(Error::CursorMismatch)
        ));
    }
    let page = b.query_runs(&q.clone().after(cursor.clone())).unwrap();
    let last = first.runs.last().unwrap();
    for r in &page.runs {
        assert!((r.trigger_time, r.job_id.as_str()) < (last.trigger_time, last.job_id.as_str()));
        assert_eq!(b.run(&r.job_id).unwrap().as_ref(), Some(r));
    }

    // Forgeries: wrong kind, a long or non-UTF-8 job ID, an inverted range:
    // typed errors. Any other position: a valid page.
    let head = &real[..34];
    let with_job = |job: &[u8], tweak: &dyn Fn(&mut Vec<u8>)| {
        let mut b = head.to_vec();
        b[33] = job.len() as u8;
        b.extend_from_slice(job);
        tweak(&mut b);
        b.extend_from_slice(&[0; 4]);
        forge(b)
    };
    for bad in [
        with_job(b"job-1", &|b| b[0] = b'C'),
        with_job(&[b'j'; 129], &|_| {}),
        with_job(&[0xff, 0xfe], &|_| {}),
        with_job(b"job-1", &|b| {
            b[9..17].copy_from_slice(&5i64.to_le_bytes());
            b[17..25].copy_from_slice(&4i64.to_le_bytes());
        }),
    ] {
        assert!(
            matches!(bad.parse::<RunCursor>(), Err(Error::InvalidCursor { .. })),
            "{bad}"
        );
    }
    for i in 0..500 {
        let job: Vec<u8> = match i % 4 {
            0 => Vec::new(),
            1 => b"../../etc/passwd".to_vec(),
            2 => "\u{10ffff}".repeat(32).into_bytes(),
            _ => format!("job-{}", rng.below(40)).into_bytes(),
        };
        let (mut from, mut to) = (rng.time(), rng.time());
        if from > to {
            std::mem::swap(&mut from, &mut to);
        }
        let t = rng.time();
        let c: RunCursor = with_job(&job, &|b| {
            b[9..17].copy_from_slice(&from.to_le_bytes());
            b[17..25].copy_from_slice(&to.to_le_bytes());
            b[25..33].copy_from_slice(&t.to_le_bytes());
        })
        .parse()
        .unwrap();
        let p = if i % 2 == 0 { &a } else { &b };
        let page = p.query_runs(&q.clone().after(c)).unwrap();
        let job = String::from_utf8(job).unwrap();
        for r in &page.runs {
            assert!((r.trigger_time.as_micros(), r.job_id.as_str()) < (t, job.as_str()));
            assert!(r.trigger_time.as_micros() >= from && r.trigger_time.as_micros() < to);
        }
    }
    assert_eq!(snapshot(tmp.path()), before);
}

#[test]
fn record_ids_of_nothing_are_absent_never_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let clock = clock();
    let (store, p) = populated(&dir, &clock, 40);
    let segs = p.segments().unwrap();
    assert!(
        segs.iter().any(|s| s.sealed) && segs.iter().any(|s| !s.sealed),
        "{segs:#?}"
    );
    let before = snapshot(tmp.path());
    let mut ids = Vec::new();
    for s in &segs {
        // Ordinals just past the end, far past it, at the end of u32.
        let n = all(&p).iter().filter(|r| r.id.segment == s.id).count() as u32;
        for ordinal in [n, n + 1, 1 << 20, u32::MAX - 1, u32::MAX] {
            ids.push(RecordId {
                segment: s.id,
                ordinal,
            });
        }
        for generation in [s.id.generation + 1, u32::MAX] {
            ids.push(RecordId {
                segment: SegmentId { generation, ..s.id },
                ordinal: 0,
            });
        }
    }
    let mut rng = Rng(3);
    for _ in 0..2000 {
        ids.push(RecordId {
            segment: SegmentId {
                partition: [0, 1, u32::MAX, rng.next() as u32][rng.below(4) as usize],
                generation: [0, u32::MAX, rng.next() as u32][rng.below(3) as usize],
            },
            ordinal: [0, u32::MAX, rng.next() as u32][rng.below(3) as usize],
        });
    }
    for id in &ids {
        assert_eq!(p.get(*id).unwrap(), None, "{id}");
        // Also through the text form a console or the CLI would pass on.
        assert_eq!(
            p.get(id.to_string().parse().unwrap()).unwrap(),
            None,
            "{id}"
        );
    }
    // Every real ID still answers; then, once retention dropped them, none.
    let real: Vec<_> = all(&p).into_iter().map(|r| r.id).collect();
    assert_eq!(real.len(), 40);
    for id in &real {
        assert!(p.get(*id).unwrap().is_some());
    }
    assert_eq!(snapshot(tmp.path()), before);
    clock.advance(secs(31 * DAY));
    for id in &real {
        assert_eq!(p.get(*id).unwrap(), None, "{id} is past the horizon");
    }
    p.enforce_retention().unwrap();
    for id in real.iter().chain(&ids) {
        assert_eq!(p.get(*id).unwrap(), None, "{id}");
    }
    // A read-only store answers the same.
    drop((p, store));
    let ro = read_only(&dir, &clock);
    let p = ro.project("p").unwrap();
    for id in real.iter().chain(&ids) {
        assert_eq!(p.get(*id).unwrap(), None, "{id}");
    }
}
