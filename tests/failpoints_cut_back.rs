//! A read-only reader forgets what the writer cut back after a failed
//! write: the frames of a batch it read in flight (a later segment's write
//! failed), even once the writer has appended more bytes than it cut; and
//! a run event it replayed whose `fsync` failed, showing instead the event
//! the writer records at the same place after reopening. No damage is
//! reported.
//!
//! Needs the `failpoints` feature (`cargo test --all-features`); the
//! failpoints, and how each test holds them, are listed in
//! `tests/common/failpoints.rs`. No test sleeps: the clock is a
//! `ManualClock`.

mod common;
#[path = "common/failpoints.rs"]
mod failpoints;

use common::*;
use fail::FailScenario;
use failpoints::*;
use runlog::{Level, LogRecord, Project, Query, SyncPolicy};

/// A reader in another store handle that read the frames of a batch the
/// writer then cut back (a later segment's write failed: all or nothing)
/// forgets them, even once the writer has appended more bytes than it cut
/// (so the file is no shorter than what the reader read). The writer
/// records each cut in the project's `cuts` file after making it.
#[test]
fn a_reader_forgets_frames_the_writer_cut_back() {
    let _fp = FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    let hour = secs(3600);
    let at = move |h: u32| T0.saturating_sub(hour * h);
    let r = |t, level, content: &str| LogRecord::new(t, level, "job-1", content);
    // One acknowledged record per partition, so every segment exists.
    p.append_batch(&[
        r(at(3), Level::Info, "first  record"),
        r(at(2), Level::Info, "second record"),
        r(at(1), Level::Info, "third  record"),
    ])
    .unwrap();
    let first = p
        .segments()
        .unwrap()
        .into_iter()
        .find(|s| s.partition.from <= at(3) && at(3) < s.partition.to)
        .unwrap()
        .path;
    let len_before = len(&first);
    let reader_store = options(&clock).open_read_only(dir.path()).unwrap();
    let reader = reader_store.project("p").unwrap();
    let errors = Query::new().all_time().level(Level::Error);
    assert_eq!(reader.count(&errors).unwrap().total, 0);

    // The first segment's write goes through, the second waits; the
    // reader looks while the batch is in flight, then the write fails.
    cfg("segment::append", "1*off->pause");
    let writer = {
        let p = p.clone();
        std::thread::spawn(move || {
            p.append_batch(&[
                r(at(3), Level::Error, "alpha  record"),
                r(at(3), Level::Error, "alpha  record"),
                r(at(2), Level::Info, "beta   record"),
                r(at(1), Level::Info, "gamma  record"),
            ])
        })
    };
    while len(&first) == len_before {
        std::thread::yield_now();
    }
    let seen = reader.count(&errors).unwrap().total;
    assert_eq!(seen, 2, "the reader read the in-flight frames");
    cfg("segment::append", "return");
    assert!(writer.join().unwrap().is_err(), "the batch fails");
    fail::remove("segment::append");
    assert_eq!(len(&first), len_before, "cut back");

    // The writer carries on with more bytes than it cut.
    p.append_batch(&[
        r(at(3), Level::Info, "delta  record"),
        r(at(3), Level::Info, "delta  record"),
        r(at(3), Level::Info, "delta  record"),
    ])
    .unwrap();
    assert!(len(&first) > len_before + 100);
    let all_time = Query::new().all_time();
    for (who, q) in [("writer", &p), ("reader", &reader)] {
        assert_eq!(q.count(&errors).unwrap().total, 0, "{who}");
        assert_eq!(q.count(&all_time).unwrap().total, 6, "{who}");
        let alpha = q.query(&Query::new().all_time().text("alpha")).unwrap();
        assert!(alpha.records.is_empty(), "{who}");
        let delta = q.query(&Query::new().all_time().text("delta")).unwrap();
        assert_eq!(delta.records.len(), 3, "{who}");
        assert!(
            delta
                .records
                .iter()
                .all(|s| s.record.content == "delta  record")
        );
    }
    assert!(reader.damage().is_empty(), "{:?}", reader.damage());
}

/// The same for the run journal: a reader that replayed an event whose
/// `fsync` then failed (the writer cuts it back and is poisoned) forgets
/// it, and after the writer reopens and records another event at the same
/// place, the reader shows that one, with no damage.
#[test]
fn a_reader_forgets_a_run_event_the_writer_cut_back() {
    let _fp = FailScenario::setup();
    let mut env = Env::new(SyncPolicy::Always);
    env.p().start_run(&new_run("job-1")).unwrap();
    let journal = the_journal(env.p());
    let before = len(&journal);
    let reader_store = options(&env.clock).open_read_only(env.dir.path()).unwrap();
    let reader = reader_store.project("p").unwrap();
    let jobs = |p: &Project| -> Vec<String> {
        let mut v: Vec<String> = all_runs(p).iter().map(|r| r.job_id.to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(jobs(&reader), ["job-1"]);

    cfg("journal::sync", "return");
    cfg("journal::written", "pause");
    let writer = {
        let p = env.p().clone();
        std::thread::spawn(move || p.start_run(&new_run("job-2")))
    };
    while len(&journal) == before {
        std::thread::yield_now();
    }
    assert_eq!(jobs(&reader), ["job-1", "job-2"], "replayed while written");
    cfg("journal::written", "off");
    assert_poisoned(&writer.join().unwrap().unwrap_err(), &journal);
    assert_eq!(len(&journal), before, "cut back");
    assert_eq!(jobs(&reader), ["job-1"], "forgotten once cut");
    fail::remove("journal::sync");
    fail::remove("journal::written");

    env.reopen();
    env.p().start_run(&new_run("job-3")).unwrap();
    assert_eq!(jobs(env.p()), ["job-1", "job-3"]);
    assert_eq!(jobs(&reader), ["job-1", "job-3"]);
    assert!(reader.damage().is_empty(), "{:?}", reader.damage());
}
