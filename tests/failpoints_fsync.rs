//! A failed `fsync` poisons the writer until the store is reopened: the
//! unsynced frames or run event are cut off, not acknowledged; every
//! later write (logs and run events alike, whichever file failed) is
//! refused with `Error::Poisoned` naming the file, before it could seal
//! or drop anything; reads go on and return exactly what was
//! acknowledged; reopening recovers.
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
use runlog::{Error, SyncPolicy};

#[test]
fn failed_segment_fsync_under_always_poisons_until_reopen() {
    let _fp = FailScenario::setup();
    let mut env = Env::new(SyncPolicy::Always);
    env.append_ok(0);
    env.append_ok(1);
    let (seg, _) = env.the_segment();
    let before = len(&seg);

    cfg("segment::sync", "return");
    let e = env.append(&[rec(T0, 2)]).unwrap_err();
    assert_poisoned(&e, &seg);
    // The unsynced frames were cut off, not acknowledged.
    assert_eq!(len(&seg), before);
    fail::remove("segment::sync");

    // Writes stay refused, with the same error; reads keep working.
    for _ in 0..2 {
        assert_poisoned(&env.append(&[rec(T0, 3)]).unwrap_err(), &seg);
    }
    assert_poisoned(&env.p().sync().unwrap_err(), &seg);
    assert_poisoned(&env.p().seal_due().unwrap_err(), &seg);
    env.check();

    env.reopen();
    env.check();
    env.append_ok(4);
    env.check();
}

#[test]
fn failed_segment_fsync_in_project_sync_poisons_until_reopen() {
    let _fp = FailScenario::setup();
    let mut env = Env::new(SyncPolicy::Manual);
    for i in 0..5 {
        env.append_ok(i);
    }
    let (seg, _) = env.the_segment();

    cfg("segment::sync", "return");
    assert_poisoned(&env.p().sync().unwrap_err(), &seg);
    fail::remove("segment::sync");

    assert_poisoned(&env.append(&[rec(T0, 5)]).unwrap_err(), &seg);
    assert_poisoned(&env.p().sync().unwrap_err(), &seg);
    // Acknowledged appends are all readable.
    env.check();

    env.reopen();
    env.check();
    env.append_ok(6);
    env.p().sync().unwrap();
    env.check();
}

#[test]
fn failed_journal_fsync_under_always_poisons_run_events_until_reopen() {
    let _fp = FailScenario::setup();
    let mut env = Env::new(SyncPolicy::Always);
    env.p().start_run(&new_run("job-1")).unwrap();
    let journal = the_journal(env.p());
    let before = len(&journal);

    cfg("journal::sync", "return");
    assert_poisoned(&env.p().start_run(&new_run("job-2")).unwrap_err(), &journal);
    assert_eq!(len(&journal), before, "the unsynced event was cut off");
    fail::remove("journal::sync");

    assert_poisoned(&env.p().start_run(&new_run("job-3")).unwrap_err(), &journal);
    assert_poisoned(
        &env.p().attempt_failed("job-1", 1, "boom").unwrap_err(),
        &journal,
    );
    assert_poisoned(&env.p().sync().unwrap_err(), &journal);
    // Reads keep working: only the acknowledged run is there.
    let runs = all_runs(env.p());
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].job_id.as_str(), "job-1");
    assert!(env.p().run("job-2").unwrap().is_none());

    env.reopen();
    assert_eq!(all_runs(env.p()), runs);
    env.p().start_run(&new_run("job-2")).unwrap();
    env.p().attempt_succeeded("job-1", 1).unwrap();
    assert_eq!(all_runs(env.p()).len(), 2);
    env.check();
}

#[test]
fn failed_journal_fsync_in_project_sync_poisons_run_events_until_reopen() {
    let _fp = FailScenario::setup();
    let mut env = Env::new(SyncPolicy::Manual);
    env.p().start_run(&new_run("job-1")).unwrap();
    env.p().start_run(&new_run("job-2")).unwrap();
    let journal = the_journal(env.p());

    cfg("journal::sync", "return");
    assert_poisoned(&env.p().sync().unwrap_err(), &journal);
    fail::remove("journal::sync");

    assert_poisoned(&env.p().start_run(&new_run("job-3")).unwrap_err(), &journal);
    assert_poisoned(
        &env.p().attempt_succeeded("job-1", 1).unwrap_err(),
        &journal,
    );
    assert_poisoned(&env.p().sync().unwrap_err(), &journal);
    let runs = all_runs(env.p());
    assert_eq!(runs.len(), 2);

    env.reopen();
    assert_eq!(all_runs(env.p()), runs);
    env.p().attempt_succeeded("job-1", 1).unwrap();
    env.p().sync().unwrap();
    env.check();
}

#[test]
fn a_poisoned_writer_refuses_both_logs_and_run_events() {
    // The journal's failed sync refuses log appends too.
    {
        let _fp = FailScenario::setup();
        let mut env = Env::new(SyncPolicy::Manual);
        env.p().start_run(&new_run("job-1")).unwrap();
        env.append_ok(1);
        let journal = the_journal(env.p());
        cfg("journal::sync", "return");
        assert_poisoned(&env.p().sync().unwrap_err(), &journal);
        fail::remove("journal::sync");
        let r = rec(T0, 2);
        assert_poisoned(&env.p().append(&r).unwrap_err(), &journal);
        env.reopen();
        env.check();
        env.p().start_run(&new_run("job-2")).unwrap();
    }
    // A segment's failed sync refuses run events too.
    {
        let _fp = FailScenario::setup();
        let mut env = Env::new(SyncPolicy::Manual);
        env.append_ok(1);
        env.p().start_run(&new_run("job-1")).unwrap();
        let (segment, _) = env.the_segment();
        cfg("segment::sync", "return");
        assert_poisoned(&env.p().sync().unwrap_err(), &segment);
        fail::remove("segment::sync");
        assert_poisoned(&env.p().start_run(&new_run("job-2")).unwrap_err(), &segment);
        assert_poisoned(
            &env.p().attempt_succeeded("job-1", 1).unwrap_err(),
            &segment,
        );
        assert!(env.p().due_retries_at(T0).is_err());
        env.reopen();
        env.p().attempt_succeeded("job-1", 1).unwrap();
        env.check();
    }
}

/// A run event on a poisoned project is refused before it seals or drops
/// anything, like an append.
#[test]
fn a_run_event_on_a_poisoned_writer_seals_nothing() {
    let _fp = FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = options(&clock)
        .sync_policy(SyncPolicy::Always)
        .open(dir.path())
        .unwrap();
    let p = store.project("p").unwrap();
    p.append(&rec(T0, 1)).unwrap();
    fail::cfg("segment::sync", "1*return").unwrap();
    let e = p.append(&rec(T0, 2)).unwrap_err();
    assert!(matches!(e, Error::Poisoned { .. }), "{e:?}");
    fail::remove("segment::sync");
    // Past the partition and its grace: the segment is due for sealing.
    clock.advance(secs(7_200));
    let e = p.append(&rec(runlog::Clock::now(&clock), 3)).unwrap_err();
    assert!(matches!(e, Error::Poisoned { .. }), "{e:?}");
    let sealed_after_append = p.segments().unwrap().iter().any(|s| s.sealed);
    assert!(
        !sealed_after_append,
        "an append on a poisoned writer seals nothing"
    );
    let e = p.start_run(&new_run("job-1")).unwrap_err();
    assert!(matches!(e, Error::Poisoned { .. }), "{e:?}");
    let segs = p.segments().unwrap();
    assert!(
        !segs.iter().any(|s| s.sealed),
        "a refused run event sealed a segment of a poisoned writer"
    );
}
