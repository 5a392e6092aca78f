//! Writes that fail on a full disk (a short write, then ENOSPC) or on a
//! failed rename: the caller gets the error, nothing half-written is kept
//! or read (a batch over two segments is cut back from both, even when
//! the cut cannot be counted), claims recorded before a failed claim are
//! handed out, a failed presets write keeps the previous list; the store
//! works again, without a reopen, once there is space.
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
use runlog::{Error, LogRecord, Query, SavedRange, SyncPolicy};

#[test]
fn claims_recorded_before_a_failed_claim_are_returned() {
    let _fp = FailScenario::setup();
    let env = Env::new(SyncPolicy::Manual);
    for job in ["job-a", "job-b"] {
        env.p().start_run(&new_run(job)).unwrap();
        env.p().attempt_failed(job, 1, "boom").unwrap();
    }
    env.clock.advance(secs(60));
    let now = runlog::Clock::now(&env.clock);
    // The first claim is written, the second hits a full disk.
    cfg("journal::append", "1*off->return(enospc)");
    let first = env.p().due_retries_at(now).unwrap();
    fail::remove("journal::append");
    assert_eq!(first.len(), 1, "{first:?}");
    let second = env.p().due_retries_at(now).unwrap();
    assert_eq!(second.len(), 1, "{second:?}");
    assert_ne!(first[0].job_id, second[0].job_id);
    assert!(env.p().due_retries_at(now).unwrap().is_empty());
    // With every claim failing, the call fails and nothing is claimed.
    env.p().start_run(&new_run("job-c")).unwrap();
    env.p().attempt_failed("job-c", 1, "boom").unwrap();
    env.clock.advance(secs(60));
    let now = runlog::Clock::now(&env.clock);
    cfg("journal::append", "return(enospc)");
    assert!(env.p().due_retries_at(now).is_err());
    fail::remove("journal::append");
    assert_eq!(env.p().due_retries_at(now).unwrap().len(), 1);
}

#[test]
fn short_segment_write_leaves_nothing_half_written() {
    let _fp = FailScenario::setup();
    let mut env = Env::new(SyncPolicy::Manual);
    for i in 0..3 {
        env.append_ok(i);
    }
    let (seg, _) = env.the_segment();
    let before = len(&seg);

    cfg("segment::append", "return(enospc)");
    let batch: Vec<LogRecord> = (3..6).map(|i| rec(T0, i)).collect();
    for _ in 0..2 {
        let e = env.append(&batch).unwrap_err();
        assert_eq!(os_error(&e), Some(ENOSPC), "{e:?}");
        assert_eq!(len(&seg), before, "the half-written frames were cut off");
        env.check();
    }
    // A batch over two segments: the first write succeeds, the second
    // fails, and neither is kept.
    cfg("segment::append", "1*off->return(enospc)");
    let split = [rec(T0, 6), rec(T0.saturating_sub(secs(3600)), 7)];
    let e = env.append(&split).unwrap_err();
    assert_eq!(os_error(&e), Some(ENOSPC), "{e:?}");
    assert_eq!(len(&seg), before);
    env.check();

    // Space is back: no reopen needed.
    fail::remove("segment::append");
    env.append(&batch).unwrap();
    env.append(&split).unwrap();
    env.append_ok(8);
    env.check();
    env.p().sync().unwrap();

    env.reopen();
    env.check();
}

#[test]
fn short_journal_write_leaves_nothing_half_written() {
    let _fp = FailScenario::setup();
    let mut env = Env::new(SyncPolicy::Always);
    env.p().start_run(&new_run("job-1")).unwrap();
    let journal = the_journal(env.p());
    let before = len(&journal);

    cfg("journal::append", "return(enospc)");
    let e = env.p().start_run(&new_run("job-2")).unwrap_err();
    assert_eq!(os_error(&e), Some(ENOSPC), "{e:?}");
    let e = env.p().attempt_failed("job-1", 1, "timeout").unwrap_err();
    assert_eq!(os_error(&e), Some(ENOSPC), "{e:?}");
    assert_eq!(len(&journal), before, "the half-written frame was cut off");
    assert!(env.p().run("job-2").unwrap().is_none());
    assert_eq!(all_runs(env.p()).len(), 1);
    env.check();

    // Space is back: no reopen needed, and the frames follow on.
    fail::remove("journal::append");
    env.p().start_run(&new_run("job-2")).unwrap();
    env.p().attempt_failed("job-1", 1, "timeout").unwrap();
    let runs = all_runs(env.p());
    assert_eq!(runs.len(), 2);
    env.check();

    env.reopen();
    assert_eq!(all_runs(env.p()), runs);
    env.check();
}

/// When the cut count cannot be written, the writer still cuts the
/// abandoned frames and reports the append's own error; it goes on
/// appending (the count matters to live readers only).
#[test]
fn a_failed_cut_count_still_cuts() {
    let _fp = FailScenario::setup();
    let mut env = Env::new(SyncPolicy::Manual);
    env.append_ok(0);
    let (seg, _) = env.the_segment();
    let before = len(&seg);
    cfg("cuts", "return");
    cfg("segment::append", "1*off->return(enospc)");
    let split = [rec(T0, 1), rec(T0.saturating_sub(secs(3600)), 2)];
    let e = env.append(&split).unwrap_err();
    assert_eq!(os_error(&e), Some(ENOSPC), "{e:?}");
    assert_eq!(len(&seg), before, "cut back regardless");
    env.check();
    fail::remove("segment::append");
    fail::remove("cuts");
    env.append(&split).unwrap();
    env.check();
    env.reopen();
    env.check();
}

#[test]
fn failed_presets_write_keeps_the_previous_list() {
    let _fp = FailScenario::setup();
    let mut env = Env::new(SyncPolicy::Manual);
    let hour = SavedRange::Last(secs(3600));
    let day = SavedRange::Last(secs(86_400));
    env.p().save_preset("hour", hour.clone()).unwrap();
    let previous = vec![("hour".to_string(), hour.clone())];

    for (name, errno) in [
        ("fs::write_atomic::write", ENOSPC),
        ("fs::write_atomic::rename", EIO),
    ] {
        cfg(name, "return");
        let e = env.p().save_preset("day", day.clone()).unwrap_err();
        assert_eq!(os_error(&e), Some(errno), "{name}: {e:?}");
        let e = env.p().save_preset("hour", day.clone()).unwrap_err();
        assert_eq!(os_error(&e), Some(errno), "{name}: {e:?}");
        let e = env.p().delete_preset("hour").unwrap_err();
        assert_eq!(os_error(&e), Some(errno), "{name}: {e:?}");
        fail::remove(name);
        assert_eq!(env.p().presets().unwrap(), previous, "{name}");
        assert!(env.p().query(&Query::new().saved("hour")).is_ok());
        assert!(matches!(
            env.p().query(&Query::new().saved("day")),
            Err(Error::UnknownPreset { .. })
        ));
    }
    env.reopen();
    assert_eq!(env.p().presets().unwrap(), previous);

    env.p().save_preset("day", day.clone()).unwrap();
    let both = vec![("day".to_string(), day), ("hour".to_string(), hour)];
    assert_eq!(env.p().presets().unwrap(), both);
    env.reopen();
    assert_eq!(env.p().presets().unwrap(), both);
}
