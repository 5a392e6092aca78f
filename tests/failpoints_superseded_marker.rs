//! A run that succeeds while the write of its superseded marker (for a
//! later partition, where a late log of the failed attempt lies) hits a
//! full disk: the success is recorded and the marker deferred, in effect
//! in memory at once and written by the next event; `sync` reports a
//! marker still deferred; an event whose deferred write poisoned the
//! journal is refused, not acknowledged. The late log stays hidden after
//! the run itself expired.
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
use runlog::{Level, LogRecord, ManualClock, Project, StoreOptions, SyncPolicy};

/// Options of the superseded-marker tests: retries due at once, a day of
/// retention.
fn marker_options(clock: &ManualClock, policy: SyncPolicy) -> StoreOptions {
    options(clock)
        .sync_policy(policy)
        .retention(secs(86_400))
        .retry_policy(runlog::RetryPolicy {
            initial_delay: std::time::Duration::ZERO,
            ..runlog::RetryPolicy::default()
        })
}

/// Job-1 fails, its retry is claimed, and at 23:50 (T0 is 22:13, in
/// partition P; 23:50 is in P + 1) it logs a late line of attempt 1
/// (`late_log`) and succeeds at attempt 2, while the write of its
/// superseded marker (for P + 1) hits a full disk: the success is
/// recorded, the marker deferred.
fn succeed_with_a_failed_marker(p: &Project, clock: &ManualClock, late_log: bool) {
    p.start_run(&new_run("job-1")).unwrap();
    p.attempt_failed("job-1", 1, "boom").unwrap();
    p.due_retries_at(T0).unwrap();
    clock.advance(secs(5_800));
    if late_log {
        let now = runlog::Clock::now(clock);
        p.append(&LogRecord::new(
            now,
            Level::Warn,
            "job-1",
            "attempt 1, late",
        ))
        .unwrap();
    }
    cfg("journal::append", "1*off->return(enospc)");
    p.attempt_succeeded("job-1", 2).unwrap();
    fail::remove("journal::append");
}

#[test]
fn a_superseded_marker_whose_write_failed_is_written_later() {
    let _fp = FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    {
        let store = marker_options(&clock, SyncPolicy::Manual)
            .open(dir.path())
            .unwrap();
        let p = store.project("p").unwrap();
        succeed_with_a_failed_marker(&p, &clock, true);
        assert!(p.job_logs("job-1").unwrap().is_empty());
        // The next event writes it.
        p.start_run(&new_run("job-2")).unwrap();
        p.sync().unwrap();
    }
    // A day later P is past retention (the run is gone), P + 1 is not.
    clock.advance(secs(86_400 - 1_200));
    let store = marker_options(&clock, SyncPolicy::Manual)
        .open(dir.path())
        .unwrap();
    let p = store.project("p").unwrap();
    p.enforce_retention().unwrap();
    assert_eq!(p.run("job-1").unwrap(), None);
    let all = p.job_logs_including_superseded("job-1").unwrap();
    assert_eq!(all.len(), 1, "the late line is within retention");
    assert!(all[0].superseded);
    assert!(p.job_logs("job-1").unwrap().is_empty(), "still hidden");
}

/// As `a_superseded_marker_whose_write_failed_is_written_later`, without a
/// reopen: the deferred marker is in effect in memory from the start.
#[test]
fn a_deferred_marker_is_in_effect_in_memory_at_once() {
    let _fp = FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let opts = || marker_options(&clock, SyncPolicy::Manual);
    let store = opts().open(dir.path()).unwrap();
    let p = store.project("p").unwrap();
    succeed_with_a_failed_marker(&p, &clock, true);
    assert!(p.job_logs("job-1").unwrap().is_empty());
    // The next event writes the deferred marker to disk.
    p.start_run(&new_run("job-2")).unwrap();
    p.sync().unwrap();
    // A day later: the run's partition is past retention, the marker's is not.
    clock.advance(secs(86_400 - 1_200));
    p.enforce_retention().unwrap();
    assert_eq!(p.run("job-1").unwrap(), None);
    let q = runlog::Query::new().all_time();
    assert!(
        p.job_logs("job-1").unwrap().is_empty(),
        "the late line shows while the store is open"
    );
    assert_eq!(
        p.query(&q).unwrap().records.len(),
        0,
        "the late line shows while the store is open"
    );
    drop(p);
    drop(store);
    // Memory agreed with what the journal says.
    let store = opts().open(dir.path()).unwrap();
    let p = store.project("p").unwrap();
    assert!(p.job_logs("job-1").unwrap().is_empty());
    assert_eq!(p.query(&q).unwrap().records.len(), 0);
}

/// When writing a deferred marker poisons the journal (a failed fsync
/// under Always), the event of the same call is refused, not acknowledged.
#[test]
fn no_event_is_acknowledged_once_a_deferred_write_poisoned() {
    let _fp = FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = marker_options(&clock, SyncPolicy::Always)
        .open(dir.path())
        .unwrap();
    let p = store.project("p").unwrap();
    succeed_with_a_failed_marker(&p, &clock, false);
    cfg("journal::sync", "1*return");
    let r = p.start_run(&new_run("job-2"));
    fail::remove("journal::sync");
    let again = p.start_run(&new_run("job-3"));
    assert!(
        r.is_err(),
        "start_run returned Ok though its call poisoned the writer (next call: {again:?})"
    );
}

#[test]
fn sync_reports_a_marker_still_deferred() {
    let _fp = FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = marker_options(&clock, SyncPolicy::Manual)
        .open(dir.path())
        .unwrap();
    let p = store.project("p").unwrap();
    succeed_with_a_failed_marker(&p, &clock, false);
    // The disk stays full: the marker cannot be written, and sync says so.
    cfg("journal::append", "return(enospc)");
    let r = p.sync();
    fail::remove("journal::append");
    assert!(
        r.is_err(),
        "sync returned Ok although the superseded marker is not on disk"
    );
    // With space back, it is written.
    p.sync().unwrap();
}
