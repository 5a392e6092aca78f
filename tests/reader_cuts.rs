//! A read-only reader beside a writer whose writes fail: it keeps showing
//! what was acknowledged while appends keep failing (a failed write that
//! left only a torn frame is no cut to count), and it reads a segment the
//! writer removed after a failed creation and made again (another salt).
//! A retried directory creation syncs its parent. Needs the `failpoints`
//! feature (`cargo test --all-features`).

#![cfg(feature = "failpoints")]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use common::*;
use fail::FailScenario;
use runlog::{LogRecord, Query};

fn cfg(name: &str, actions: &str) {
    fail::cfg(name, actions).unwrap();
}

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
