//! Runs: the retry lifecycle, refused transitions, manual retries, logs of
//! superseded attempts, concurrent claims, crash cuts of the run journal,
//! restarts, run queries, retention and read-only stores. Every test moves
//! the injected clock; none sleeps.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use common::*;
use runlog::{
    Attempt, AttemptTicket, Clock, Error, Field, Level, LogRecord, MAX_ERROR_BYTES,
    MAX_JOB_ID_BYTES, MAX_LIMIT, MAX_NAME_BYTES, ManualClock, NewRun, Outcome, Preset, Project,
    Query, RecordId, RetryPolicy, Run, RunCursor, RunQuery, RunStatus, StoredRecord, SyncPolicy,
    TimeRange, Timestamp, Trigger,
};

const DAY: u64 = 86_400;

fn now(clock: &ManualClock) -> Timestamp {
    clock.now()
}

/// The project's run journal files, sorted.
fn journal_files(p: &Project) -> Vec<PathBuf> {
    let dir = p.dir().join("runs");
    let mut v: Vec<PathBuf> = match fs::read_dir(&dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "runs"))
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// Total bytes of the project's run journal.
fn journal_len(p: &Project) -> u64 {
    journal_files(p)
        .iter()
        .map(|f| fs::metadata(f).unwrap().len())
        .sum()
}

/// The one journal file of the project.
fn the_journal(p: &Project) -> PathBuf {
    let files = journal_files(p);
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

/// Every run the project keeps, newest first.
fn all_runs(p: &Project) -> Vec<Run> {
    let page = p
        .runs(&RunQuery::new().all_time().limit(MAX_LIMIT))
        .unwrap();
    assert!(page.next.is_none());
    page.runs
}

fn run_of(p: &Project, job: &str) -> Run {
    p.run(job)
        .unwrap()
        .unwrap_or_else(|| panic!("no run {job}"))
}

fn states(p: &Project, jobs: &[&str]) -> Vec<Option<Run>> {
    jobs.iter().map(|j| p.run(j).unwrap()).collect()
}

/// Call `f`, which must be refused; check that neither the run of `job`,
/// nor any run, nor the journal changed. Returns the error.
#[track_caller]
fn refused<T: std::fmt::Debug>(
    p: &Project,
    job: &str,
    f: impl FnOnce() -> runlog::Result<T>,
) -> Error {
    let before = p.run(job).unwrap();
    let every = all_runs(p);
    let len = journal_len(p);
    let err = f().expect_err("the call should be refused");
    assert_eq!(
        p.run(job).unwrap(),
        before,
        "run changed by a refused call ({err})"
    );
    assert_eq!(all_runs(p), every, "runs changed by a refused call ({err})");
    assert_eq!(
        journal_len(p),
        len,
        "journal written by a refused call ({err})"
    );
    err
}

#[track_caller]
fn assert_transition(err: &Error, want_action: &str, want_status: RunStatus, want_attempt: u32) {
    match err {
        Error::InvalidTransition {
            action,
            status,
            attempt,
            ..
        } => {
            assert_eq!(
                (*action, *status, *attempt),
                (want_action, want_status, want_attempt),
                "{err}"
            );
        }
        other => panic!("expected InvalidTransition, got {other:?}"),
    }
}

#[track_caller]
fn assert_unknown(err: &Error, job: &str) {
    assert!(
        matches!(err, Error::UnknownJob { job_id } if job_id == job),
        "expected UnknownJob({job}), got {err:?}"
    );
}

// ---------------------------------------------------------------------
// 1. Lifecycle
// ---------------------------------------------------------------------

#[test]
fn start_then_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    let run = p
        .start_run(
            &NewRun::new("job-1", "sync-orders", Trigger::Scheduler)
                .env("prod")
                .app("shop")
                .version("1.4.0"),
        )
        .unwrap();
    let first = Attempt {
        number: 1,
        start: T0,
        end: None,
        outcome: Outcome::Running,
        error: None,
        manual: false,
        superseded: false,
    };
    assert_eq!(
        run,
        Run {
            job_id: "job-1".into(),
            flow: "sync-orders".into(),
            env: "prod".into(),
            app: "shop".into(),
            version: "1.4.0".into(),
            trigger: Trigger::Scheduler,
            trigger_time: T0,
            end_time: None,
            status: RunStatus::Running,
            next_retry: None,
            retry_requested: false,
            attempts: vec![first.clone()],
        }
    );
    assert_eq!(run.attempt(), 1);
    assert!(run.is_scheduled());
    assert_eq!(p.run("job-1").unwrap(), Some(run.clone()));

    clock.advance(secs(3));
    let done = p.attempt_succeeded("job-1", 1).unwrap();
    let end = T0.saturating_add(secs(3));
    assert_eq!(done.status, RunStatus::Successful);
    assert_eq!(done.end_time, Some(end));
    assert_eq!(done.next_retry, None);
    assert_eq!(
        done.attempts,
        vec![Attempt {
            end: Some(end),
            outcome: Outcome::Succeeded,
            ..first
        }]
    );
    assert_eq!(p.run("job-1").unwrap(), Some(done));
    // Nothing to retry, ever.
    assert!(
        p.due_retries(T0.saturating_add(secs(DAY)))
            .unwrap()
            .is_empty()
    );
    let c = p.count_runs(&RunQuery::new()).unwrap();
    assert_eq!((c.total, c.status(RunStatus::Successful)), (1, 1));
}

#[test]
fn failures_retry_with_backoff_until_exhausted() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    p.start_run(
        &NewRun::new("job-1", "sync-orders", Trigger::Event)
            .env("prod")
            .app("shop")
            .version("2"),
    )
    .unwrap();
    let policy = RetryPolicy::default();
    assert_eq!(policy.max_retries, 3);
    assert_eq!(p.retry_policy("sync-orders"), policy);

    // The four attempts: three automatic retries due 5 s, 10 s, 20 s after
    // each failure.
    let delays = [5u64, 10, 20];
    for (k, &delay) in delays.iter().enumerate() {
        let attempt = k as u32 + 1;
        clock.advance(secs(1));
        let failed_at = now(&clock);
        let run = p
            .attempt_failed("job-1", attempt, &format!("boom {attempt}"))
            .unwrap();
        let due = failed_at.saturating_add(secs(delay));
        assert_eq!(policy.delay(k as u32), secs(delay));
        assert_eq!(run.status, RunStatus::Retrying, "after attempt {attempt}");
        assert_eq!(run.next_retry, Some(due));
        assert_eq!(run.end_time, None);
        let last = run.attempts.last().unwrap();
        assert_eq!(last.number, attempt);
        assert_eq!(last.outcome, Outcome::Failed);
        assert_eq!(last.end, Some(failed_at));
        assert_eq!(
            last.error.as_deref(),
            Some(format!("boom {attempt}").as_str())
        );
        assert_eq!(p.run("job-1").unwrap().as_ref(), Some(&run));

        // Not yet due: nothing claimed, nothing changed.
        let before_due = Timestamp::from_micros(due.as_micros() - 1);
        assert!(p.due_retries(failed_at).unwrap().is_empty());
        assert!(p.due_retries(before_due).unwrap().is_empty());
        assert_eq!(p.run("job-1").unwrap().as_ref(), Some(&run));

        // Due: exactly one ticket, for the next attempt.
        clock.set(due);
        let tickets = p.due_retries(due).unwrap();
        assert_eq!(
            tickets,
            vec![AttemptTicket {
                job_id: "job-1".into(),
                attempt: attempt + 1,
                manual: false,
                flow: "sync-orders".into(),
                env: "prod".into(),
                app: "shop".into(),
                version: "2".into(),
                trigger: Trigger::Event,
                trigger_time: T0,
                start: due,
            }]
        );
        assert!(p.due_retries(due).unwrap().is_empty(), "claimed once");
        let run = run_of(&p, "job-1");
        assert_eq!(run.status, RunStatus::Running);
        assert_eq!(run.attempt(), attempt + 1);
        assert_eq!(run.next_retry, None);
        assert_eq!(run.attempts.len(), attempt as usize + 1);
        let new = run.attempts.last().unwrap();
        assert_eq!(
            (new.start, new.outcome, new.manual, new.end),
            (due, Outcome::Running, false, None)
        );
    }

    // The fourth attempt fails: no retry left.
    clock.advance(secs(2));
    let end = now(&clock);
    let run = p.attempt_failed("job-1", 4, "boom 4").unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.end_time, Some(end));
    assert_eq!(run.next_retry, None);
    assert_eq!(run.attempts.len(), 4);
    for (i, a) in run.attempts.iter().enumerate() {
        assert_eq!(a.number, i as u32 + 1);
        assert_eq!(a.outcome, Outcome::Failed);
        assert!(!a.superseded && !a.manual);
        assert_eq!(a.error.as_deref(), Some(format!("boom {}", i + 1).as_str()));
    }
    assert!(
        p.due_retries(end.saturating_add(secs(DAY)))
            .unwrap()
            .is_empty()
    );
    let c = p.count_runs(&RunQuery::new()).unwrap();
    assert_eq!((c.total, c.status(RunStatus::Failed)), (1, 1));
}

#[test]
fn flow_policies_override_the_project_policy() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = options(&clock)
        .retry_policy(RetryPolicy {
            max_retries: 2,
            initial_delay: secs(7),
            multiplier: 1.0,
            max_delay: secs(60),
        })
        .open(dir.path())
        .unwrap();
    let p = store.project("p").unwrap();
    let fast = RetryPolicy {
        max_retries: 1,
        initial_delay: secs(2),
        multiplier: 3.0,
        max_delay: secs(60),
    };
    p.set_flow_retry_policy("fast", Some(fast)).unwrap();
    p.set_flow_retry_policy("never", Some(RetryPolicy::none()))
        .unwrap();
    assert_eq!(p.retry_policy("fast"), fast);
    assert_eq!(p.retry_policy("never"), RetryPolicy::none());
    assert_eq!(p.retry_policy("other").initial_delay, secs(7));

    for (job, flow) in [("a", "fast"), ("b", "never"), ("c", "other")] {
        p.start_run(&NewRun::new(job, flow, Trigger::Event))
            .unwrap();
    }
    // RetryPolicy::none(): the first failure is final.
    let b = p.attempt_failed("b", 1, "no").unwrap();
    assert_eq!(
        (b.status, b.end_time, b.next_retry),
        (RunStatus::Failed, Some(T0), None)
    );
    // The store's policy for flows without their own.
    let c = p.attempt_failed("c", 1, "no").unwrap();
    assert_eq!(c.next_retry, Some(T0.saturating_add(secs(7))));
    // The flow's own policy: one retry, 2 s.
    let a = p.attempt_failed("a", 1, "no").unwrap();
    assert_eq!(a.next_retry, Some(T0.saturating_add(secs(2))));
    clock.advance(secs(2));
    let tickets = p.due_retries(now(&clock)).unwrap();
    assert_eq!(tickets.len(), 1);
    assert_eq!((tickets[0].job_id.as_str(), tickets[0].attempt), ("a", 2));
    let a = p.attempt_failed("a", 2, "again").unwrap();
    assert_eq!(a.status, RunStatus::Failed, "one retry only");

    // A decision already recorded keeps its due time when the policy changes.
    p.set_retry_policy(RetryPolicy::none()).unwrap();
    assert_eq!(run_of(&p, "c").next_retry, Some(T0.saturating_add(secs(7))));
    clock.set(T0.saturating_add(secs(7)));
    let t = p.due_retries(now(&clock)).unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].job_id, "c");
    // …but the next failure of "c" follows the new project policy.
    assert_eq!(
        p.attempt_failed("c", 2, "x").unwrap().status,
        RunStatus::Failed
    );

    // Back to the project policy for "fast".
    p.set_flow_retry_policy("fast", None).unwrap();
    assert_eq!(p.retry_policy("fast"), RetryPolicy::none());

    // The cap: 100 s × 10 is capped at 150 s.
    let capped = RetryPolicy {
        max_retries: 5,
        initial_delay: secs(100),
        multiplier: 10.0,
        max_delay: secs(150),
    };
    p.set_flow_retry_policy("capped", Some(capped)).unwrap();
    p.start_run(&NewRun::new("d", "capped", Trigger::Manual))
        .unwrap();
    let t1 = now(&clock);
    assert_eq!(
        p.attempt_failed("d", 1, "x").unwrap().next_retry,
        Some(t1.saturating_add(secs(100)))
    );
    clock.advance(secs(100));
    assert_eq!(p.due_retries(now(&clock)).unwrap().len(), 1);
    let t2 = now(&clock);
    assert_eq!(
        p.attempt_failed("d", 2, "x").unwrap().next_retry,
        Some(t2.saturating_add(secs(150)))
    );

    // Bad policies are refused and change nothing.
    for bad in [
        RetryPolicy {
            multiplier: 0.5,
            ..RetryPolicy::default()
        },
        RetryPolicy {
            multiplier: f64::NAN,
            ..RetryPolicy::default()
        },
        RetryPolicy {
            initial_delay: secs(10),
            max_delay: secs(5),
            ..RetryPolicy::default()
        },
    ] {
        assert!(matches!(
            p.set_retry_policy(bad),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            p.set_flow_retry_policy("capped", Some(bad)),
            Err(Error::InvalidArgument { .. })
        ));
    }
    assert_eq!(p.retry_policy("capped"), capped);
    assert_eq!(p.retry_policy("x"), RetryPolicy::none());
}

// ---------------------------------------------------------------------
// 2. Refused transitions
// ---------------------------------------------------------------------

#[test]
fn invalid_transitions_are_typed_errors_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    p.set_flow_retry_policy("once", Some(RetryPolicy::none()))
        .unwrap();
    for (job, flow) in [
        ("running", "f"),
        ("retrying", "f"),
        ("successful", "f"),
        ("failed", "once"),
        ("second", "f"),
    ] {
        p.start_run(&NewRun::new(job, flow, Trigger::Event).env("prod"))
            .unwrap();
    }
    p.attempt_failed("retrying", 1, "x").unwrap();
    p.attempt_succeeded("successful", 1).unwrap();
    p.attempt_failed("failed", 1, "x").unwrap();
    p.attempt_failed("second", 1, "x").unwrap();
    clock.advance(secs(5));
    // Claims "second" (attempt 2) and "retrying" (attempt 2)…
    assert_eq!(p.due_retries(now(&clock)).unwrap().len(), 2);
    // …and fail "retrying" again, so it is Retrying at attempt 2.
    p.attempt_failed("retrying", 2, "x").unwrap();
    assert_eq!(run_of(&p, "retrying").status, RunStatus::Retrying);
    assert_eq!(run_of(&p, "second").status, RunStatus::Running);

    // Succeed or fail a run that is not running.
    for (job, status, attempt) in [
        ("retrying", RunStatus::Retrying, 2),
        ("successful", RunStatus::Successful, 1),
        ("failed", RunStatus::Failed, 1),
    ] {
        for n in [attempt, attempt + 1] {
            let e = refused(&p, job, || p.attempt_succeeded(job, n));
            assert_transition(&e, "succeed", status, attempt);
            let e = refused(&p, job, || p.attempt_failed(job, n, "late"));
            assert_transition(&e, "fail", status, attempt);
        }
    }

    // A wrong attempt number on a running run.
    for n in [0, 2, 3, u32::MAX] {
        let e = refused(&p, "running", || p.attempt_succeeded("running", n));
        assert_transition(&e, "succeed", RunStatus::Running, 1);
        let e = refused(&p, "running", || p.attempt_failed("running", n, "x"));
        assert_transition(&e, "fail", RunStatus::Running, 1);
    }
    for n in [1, 3] {
        let e = refused(&p, "second", || p.attempt_succeeded("second", n));
        assert_transition(&e, "succeed", RunStatus::Running, 2);
        let e = refused(&p, "second", || p.attempt_failed("second", n, "x"));
        assert_transition(&e, "fail", RunStatus::Running, 2);
    }

    // Manual retry of anything but a Failed run.
    for (job, status, attempt) in [
        ("successful", RunStatus::Successful, 1),
        ("running", RunStatus::Running, 1),
        ("second", RunStatus::Running, 2),
        ("retrying", RunStatus::Retrying, 2),
    ] {
        let e = refused(&p, job, || p.retry_manually(job));
        assert_transition(&e, "retry manually", status, attempt);
    }

    // Unknown jobs.
    for job in ["nope", "", "RUNNING"] {
        assert_unknown(&refused(&p, job, || p.attempt_succeeded(job, 1)), job);
        assert_unknown(&refused(&p, job, || p.attempt_failed(job, 1, "x")), job);
        assert_unknown(&refused(&p, job, || p.retry_manually(job)), job);
        assert_eq!(p.run(job).unwrap(), None);
    }

    // A job ID the project already has, whatever its state.
    for job in ["running", "retrying", "successful", "failed", "second"] {
        let e = refused(&p, job, || {
            p.start_run(&NewRun::new(job, "another-flow", Trigger::Manual))
        });
        assert!(
            matches!(&e, Error::JobExists { job_id } if job_id == job),
            "{e:?}"
        );
    }

    // Fields over their limits: nothing recorded.
    let long = |n: usize| "x".repeat(n);
    let cases: Vec<(NewRun, Field, usize, usize)> = vec![
        (
            NewRun::new(long(MAX_JOB_ID_BYTES + 1), "f", Trigger::Event),
            Field::JobId,
            MAX_JOB_ID_BYTES + 1,
            MAX_JOB_ID_BYTES,
        ),
        (
            NewRun::new("big-flow", long(MAX_NAME_BYTES + 1), Trigger::Event),
            Field::Flow,
            MAX_NAME_BYTES + 1,
            MAX_NAME_BYTES,
        ),
        (
            NewRun::new("big-env", "f", Trigger::Event).env(long(MAX_NAME_BYTES + 5)),
            Field::Env,
            MAX_NAME_BYTES + 5,
            MAX_NAME_BYTES,
        ),
        (
            NewRun::new("big-app", "f", Trigger::Event).app(long(MAX_NAME_BYTES + 1)),
            Field::App,
            MAX_NAME_BYTES + 1,
            MAX_NAME_BYTES,
        ),
        (
            NewRun::new("big-version", "f", Trigger::Event).version(long(1000)),
            Field::Version,
            1000,
            MAX_NAME_BYTES,
        ),
    ];
    for (new, field, len, max) in cases {
        let job = new.job_id.to_string();
        let e = refused(&p, &job, || p.start_run(&new));
        assert!(
            matches!(&e, Error::FieldTooLarge { field: f, len: l, max: m } if (*f, *l, *m) == (field, len, max)),
            "{e:?}"
        );
        assert_eq!(p.run(&job).unwrap(), None);
    }
    // Exactly at the limits is fine.
    p.start_run(
        &NewRun::new(long(MAX_JOB_ID_BYTES), long(MAX_NAME_BYTES), Trigger::Event)
            .env(long(MAX_NAME_BYTES))
            .app(long(MAX_NAME_BYTES))
            .version(long(MAX_NAME_BYTES)),
    )
    .unwrap();
    // An empty job ID.
    let e = refused(&p, "", || {
        p.start_run(&NewRun::new("", "f", Trigger::Event))
    });
    assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");

    // Trigger times older than retention, or too far ahead.
    let horizon = now(&clock).saturating_sub(secs(30 * DAY));
    let old = horizon.saturating_sub(secs(1));
    let e = refused(&p, "old", || {
        p.start_run(&NewRun::new("old", "f", Trigger::Event).triggered_at(old))
    });
    assert!(
        matches!(e, Error::TooOld { time, horizon: h } if time == old && h == horizon),
        "{e:?}"
    );
    let future = now(&clock).saturating_add(secs(301));
    let e = refused(&p, "future", || {
        p.start_run(&NewRun::new("future", "f", Trigger::Event).triggered_at(future))
    });
    assert!(matches!(e, Error::TooFarInFuture { .. }), "{e:?}");
    // The edges themselves are accepted.
    p.start_run(&NewRun::new("at-horizon", "f", Trigger::Event).triggered_at(horizon))
        .unwrap();
    p.start_run(
        &NewRun::new("at-skew", "f", Trigger::Event)
            .triggered_at(now(&clock).saturating_add(secs(300))),
    )
    .unwrap();

    // Everything survived as it was, also after a reopen (no refused event
    // reached the journal).
    let before = all_runs(&p);
    drop((p, store));
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    assert_eq!(all_runs(&p), before);
    assert!(p.damage().is_empty(), "{:?}", p.damage());
}

#[test]
fn refused_first_run_leaves_no_journal() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    let old = T0.saturating_sub(secs(31 * DAY));
    assert!(matches!(
        p.start_run(&NewRun::new("j", "f", Trigger::Event).triggered_at(old)),
        Err(Error::TooOld { .. })
    ));
    assert!(matches!(
        p.start_run(&NewRun::new("j", "f", Trigger::Event).env("e".repeat(MAX_NAME_BYTES + 1))),
        Err(Error::FieldTooLarge {
            field: Field::Env,
            ..
        })
    ));
    assert_unknown(&p.attempt_failed("j", 1, "x").unwrap_err(), "j");
    assert!(journal_files(&p).is_empty());
    assert!(all_runs(&p).is_empty());
}

#[test]
fn long_error_messages_are_cut_at_a_character_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    p.start_run(&NewRun::new("j", "f", Trigger::Event)).unwrap();
    // 'a' then two-byte characters: byte MAX_ERROR_BYTES is inside one.
    let msg = format!("a{}", "é".repeat(MAX_ERROR_BYTES / 2));
    assert_eq!(msg.len(), MAX_ERROR_BYTES + 1);
    let run = p.attempt_failed("j", 1, &msg).unwrap();
    let kept = run.attempts[0].error.clone().unwrap();
    assert_eq!(kept.len(), MAX_ERROR_BYTES - 1);
    assert!(msg.starts_with(&kept));
    drop((p, store));
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    assert_eq!(
        run_of(&p, "j").attempts[0].error.as_deref(),
        Some(kept.as_str())
    );
}

// ---------------------------------------------------------------------
// 3. Manual retry
// ---------------------------------------------------------------------

/// Fail `job` through the default policy until it is Failed (4 attempts).
fn exhaust(p: &Project, clock: &ManualClock, job: &str) {
    for attempt in 1..=4 {
        let run = p.attempt_failed(job, attempt, "down").unwrap();
        if attempt < 4 {
            clock.set(run.next_retry.unwrap());
            let t = p.due_retries(now(clock)).unwrap();
            assert_eq!(t.len(), 1);
            assert_eq!((t[0].job_id.as_str(), t[0].attempt), (job, attempt + 1));
        } else {
            assert_eq!(run.status, RunStatus::Failed);
        }
    }
}

#[test]
fn manual_retry_after_exhaustion_supersedes_every_failure() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    p.start_run(&NewRun::new("job", "f", Trigger::Scheduler).env("prod"))
        .unwrap();
    exhaust(&p, &clock, "job");

    clock.advance(secs(60));
    let at = now(&clock);
    let ticket = p.retry_manually("job").unwrap();
    assert_eq!(
        ticket,
        AttemptTicket {
            job_id: "job".into(),
            attempt: 5,
            manual: true,
            flow: "f".into(),
            env: "prod".into(),
            app: "".into(),
            version: "".into(),
            trigger: Trigger::Scheduler,
            trigger_time: T0,
            start: at,
        }
    );
    let run = run_of(&p, "job");
    assert_eq!(run.status, RunStatus::Running);
    assert_eq!((run.end_time, run.next_retry), (None, None));
    assert_eq!(run.attempt(), 5);
    assert!(run.attempts[4].manual);
    // Only once: it is running now.
    assert_transition(
        &p.retry_manually("job").unwrap_err(),
        "retry manually",
        RunStatus::Running,
        5,
    );
    assert!(
        p.due_retries(at.saturating_add(secs(DAY)))
            .unwrap()
            .is_empty()
    );

    // The manual attempt fails: automatic retries start over (5 s).
    clock.advance(secs(1));
    let failed_at = now(&clock);
    let run = p.attempt_failed("job", 5, "still down").unwrap();
    assert_eq!(run.status, RunStatus::Retrying);
    assert_eq!(run.next_retry, Some(failed_at.saturating_add(secs(5))));
    clock.advance(secs(5));
    let t = p.due_retries(now(&clock)).unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].attempt, t[0].manual), (6, false));

    clock.advance(secs(1));
    let end = now(&clock);
    let run = p.attempt_succeeded("job", 6).unwrap();
    assert_eq!(run.status, RunStatus::Successful);
    assert_eq!(run.end_time, Some(end));
    assert_eq!(run.attempts.len(), 6);
    for a in &run.attempts[..5] {
        assert_eq!(a.outcome, Outcome::Failed, "attempt {}", a.number);
        assert!(a.superseded, "attempt {} should be superseded", a.number);
    }
    let last = &run.attempts[5];
    assert_eq!(
        (last.outcome, last.superseded, last.end),
        (Outcome::Succeeded, false, Some(end))
    );
    assert_eq!(
        run.attempts.iter().map(|a| a.manual).collect::<Vec<_>>(),
        [false, false, false, false, true, false]
    );

    // The same after a reopen.
    drop((p, store));
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    assert_eq!(run_of(&p, "job"), run);
}

#[test]
fn a_manual_retry_that_succeeds_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    p.set_flow_retry_policy("f", Some(RetryPolicy::none()))
        .unwrap();
    p.start_run(&NewRun::new("job", "f", Trigger::Event))
        .unwrap();
    assert_eq!(
        p.attempt_failed("job", 1, "x").unwrap().status,
        RunStatus::Failed
    );
    let t = p.retry_manually("job").unwrap();
    assert_eq!((t.attempt, t.manual), (2, true));
    // The manual attempt fails too: with no retries, Failed again, and it
    // can be retried by hand again.
    assert_eq!(
        p.attempt_failed("job", 2, "y").unwrap().status,
        RunStatus::Failed
    );
    let t = p.retry_manually("job").unwrap();
    assert_eq!((t.attempt, t.manual), (3, true));
    let run = p.attempt_succeeded("job", 3).unwrap();
    assert_eq!(run.status, RunStatus::Successful);
    assert_eq!(
        run.attempts
            .iter()
            .map(|a| (a.number, a.outcome, a.superseded, a.manual))
            .collect::<Vec<_>>(),
        [
            (1, Outcome::Failed, true, false),
            (2, Outcome::Failed, true, true),
            (3, Outcome::Succeeded, false, true),
        ]
    );
}

// ---------------------------------------------------------------------
// 4. Logs of superseded attempts
// ---------------------------------------------------------------------

fn log(t: Timestamp, level: Level, job: &str, attempt: u32, n: u32) -> LogRecord {
    LogRecord::new(t, level, job, format!("{job} attempt {attempt} line {n}"))
        .flow("orders")
        .env("prod")
        .component("HTTP")
        .attempt(attempt)
}

/// Everything appended, to check the store's answers against.
struct Model {
    appended: Vec<(RecordId, LogRecord)>,
    /// Job → its successful attempt (records of lower attempts are hidden).
    superseding: BTreeMap<String, u32>,
}

impl Model {
    fn append(&mut self, p: &Project, records: &[LogRecord]) {
        let ids = p.append_batch(records).unwrap();
        self.appended
            .extend(ids.into_iter().zip(records.iter().cloned()));
    }

    fn hidden(&self, r: &LogRecord) -> bool {
        self.superseding
            .get(r.job_id.as_str())
            .is_some_and(|&a| r.attempt < a)
    }

    /// Newest first, as queries return them: (id, record, superseded).
    fn newest_first(&self, include: bool) -> Vec<(RecordId, LogRecord, bool)> {
        let mut v: Vec<_> = self
            .appended
            .iter()
            .filter(|(_, r)| include || !self.hidden(r))
            .map(|(id, r)| (*id, r.clone(), self.hidden(r)))
            .collect();
        v.sort_by_key(|(id, r, _)| std::cmp::Reverse((r.time, *id)));
        v
    }

    fn job(&self, job: &str, include: bool) -> Vec<(RecordId, LogRecord, bool)> {
        let mut v: Vec<_> = self
            .newest_first(include)
            .into_iter()
            .filter(|(_, r, _)| r.job_id == job)
            .collect();
        v.reverse();
        v
    }

    fn tally(&self, include: bool, keep: impl Fn(&LogRecord) -> bool) -> (u64, [u64; 4]) {
        let mut by = [0u64; 4];
        for (_, r, _) in self.newest_first(include) {
            if keep(&r) {
                by[r.level.code() as usize] += 1;
            }
        }
        (by.iter().sum(), by)
    }
}

fn triples(records: &[StoredRecord]) -> Vec<(RecordId, LogRecord, bool)> {
    records
        .iter()
        .map(|s| (s.id, s.record.clone(), s.superseded))
        .collect()
}

/// Every read path against the model.
#[track_caller]
fn check_logs(p: &Project, m: &Model, what: &str) {
    for include in [false, true] {
        let want = m.newest_first(include);
        let q = Query::new()
            .all_time()
            .limit(MAX_LIMIT)
            .include_superseded(include);
        let page = p.query(&q).unwrap();
        assert_eq!(
            triples(&page.records),
            want,
            "{what}: query include={include}"
        );
        // Small pages through cursors.
        let mut paged = Vec::new();
        let mut q = q.clone().limit(3);
        for _ in 0..1000 {
            let page = p.query(&q).unwrap();
            assert!(page.records.len() <= 3);
            paged.extend(triples(&page.records));
            match page.next {
                Some(c) => q = q.after(c),
                None => break,
            }
        }
        assert_eq!(paged, want, "{what}: paged include={include}");

        // Counts: all, per level, with a level filter, a job filter, a
        // text filter (which reads records), buckets.
        let base = Query::new().all_time().include_superseded(include);
        let c = p.count(&base).unwrap();
        let (total, by) = m.tally(include, |_| true);
        assert_eq!(
            (c.total, c.by_level),
            (total, by),
            "{what}: count include={include}"
        );
        let c = p.count(&base.clone().level(Level::Error)).unwrap();
        let (total, by) = m.tally(include, |r| r.level == Level::Error);
        assert_eq!(
            (c.total, c.by_level),
            (total, by),
            "{what}: count errors include={include}"
        );
        let c = p
            .count(&base.clone().levels(&[Level::Info, Level::Error]))
            .unwrap();
        let (total, by) = m.tally(include, |r| matches!(r.level, Level::Info | Level::Error));
        assert_eq!(
            (c.total, c.by_level),
            (total, by),
            "{what}: count info+errors include={include}"
        );
        for job in ["job-a", "job-b", "job-c", "job-d"] {
            let c = p.count(&base.clone().job_id(job)).unwrap();
            let (total, by) = m.tally(include, |r| r.job_id == job);
            assert_eq!(
                (c.total, c.by_level),
                (total, by),
                "{what}: count {job} include={include}"
            );
        }
        let c = p.count(&base.clone().text("job-a")).unwrap();
        let (total, by) = m.tally(include, |r| r.content.contains("job-a"));
        assert_eq!(
            (c.total, c.by_level),
            (total, by),
            "{what}: count text include={include}"
        );
        // Ranges cutting through segments (not whole-segment counts).
        let at = |s: i64| Timestamp::from_micros(T0.as_micros() + s * 1_000_000);
        for (from, to) in [(-48, 3), (-45, 7), (-10, 3601), (5, 7), (3500, 4000)] {
            let range = TimeRange::new(at(from), at(to)).unwrap();
            type LogPred = Box<dyn Fn(&LogRecord) -> bool>;
            let cases: [(Query, LogPred); 3] = [
                (Query::new().range(range), Box::new(|_| true)),
                (
                    Query::new().range(range).level(Level::Error),
                    Box::new(|r| r.level == Level::Error),
                ),
                (
                    Query::new().range(range).job_id("job-a"),
                    Box::new(|r| r.job_id == "job-a"),
                ),
            ];
            for (q, pred) in cases {
                let q = q.include_superseded(include);
                let c = p.count(&q).unwrap();
                let (total, by) = m.tally(include, |r| range.contains(r.time) && pred(r));
                assert_eq!((c.total, c.by_level), (total, by), "{what}: count {q:?}");
                let page = p.query(&q.clone().limit(MAX_LIMIT)).unwrap();
                assert_eq!(page.records.len() as u64, total, "{what}: query {q:?}");
                let view = p.query_view(&q.clone().limit(MAX_LIMIT)).unwrap();
                assert_eq!(view.to_records(), page.records, "{what}: view {q:?}");
            }
        }
        let c = p.count(&base.clone().bucket(secs(600))).unwrap();
        let (total, _) = m.tally(include, |_| true);
        assert_eq!(
            c.buckets.iter().map(|(_, n)| n).sum::<u64>(),
            total,
            "{what}: buckets include={include}"
        );
    }
    for job in ["job-a", "job-b", "job-c", "job-d"] {
        assert_eq!(
            triples(&p.job_logs(job).unwrap()),
            m.job(job, false),
            "{what}: job_logs {job}"
        );
        assert_eq!(
            p.job_logs_view(job).unwrap().to_records(),
            p.job_logs(job).unwrap(),
            "{what}: job_logs_view {job}"
        );
        assert_eq!(
            triples(&p.job_logs_all(job).unwrap()),
            m.job(job, true),
            "{what}: job_logs_all {job}"
        );
    }
    // The details view marks them too.
    for (id, r) in &m.appended {
        let got = p.get(*id).unwrap().unwrap();
        assert_eq!(got.superseded, m.hidden(r), "{what}: get {id}");
    }
}

#[test]
fn logs_of_superseded_attempts_are_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    let mut m = Model {
        appended: Vec::new(),
        superseding: BTreeMap::new(),
    };
    p.start_run(&NewRun::new("job-a", "orders", Trigger::Event))
        .unwrap();
    p.start_run(&NewRun::new("job-b", "orders", Trigger::Event))
        .unwrap();
    p.start_run(&NewRun::new("job-d", "orders", Trigger::Event))
        .unwrap();
    let mut follow = p.follow(&Query::new()).unwrap();
    let mut follow_errors = p.follow(&Query::new().level(Level::Error)).unwrap();
    let mut follow_all = p.follow(&Query::new().include_superseded(true)).unwrap();

    let t = |s: i64| Timestamp::from_micros(T0.as_micros() + s * 1_000_000);
    m.append(
        &p,
        &[
            log(t(-50), Level::Info, "job-a", 1, 0),
            log(t(-49), Level::Error, "job-a", 1, 1),
            log(t(-48), Level::Error, "job-a", 1, 2),
            log(t(-47), Level::Warn, "job-a", 1, 3),
            log(t(-46), Level::Error, "job-b", 1, 0),
            log(t(-45), Level::Info, "job-b", 1, 1),
            log(t(-44), Level::Error, "job-c", 1, 0),
            log(t(-43), Level::Debug, "job-c", 1, 1),
            log(t(-40), Level::Error, "job-d", 1, 0),
            log(t(-39), Level::Info, "job-d", 1, 1),
        ],
    );
    p.attempt_failed("job-a", 1, "500").unwrap();
    p.attempt_failed("job-b", 1, "500").unwrap();
    p.attempt_failed("job-d", 1, "500").unwrap();
    // Nothing is superseded yet: everything shows.
    check_logs(&p, &m, "before any success");

    clock.advance(secs(5));
    let tickets = p.due_retries(now(&clock)).unwrap();
    assert_eq!(tickets.len(), 3);
    assert!(tickets.iter().all(|t| t.attempt == 2));
    m.append(
        &p,
        &[
            log(t(1), Level::Info, "job-a", 2, 0),
            log(t(2), Level::Debug, "job-a", 2, 1),
            log(t(3), Level::Info, "job-a", 2, 2),
            log(t(4), Level::Warn, "job-b", 2, 0),
        ],
    );
    p.attempt_succeeded("job-a", 2).unwrap();
    m.superseding.insert("job-a".into(), 2);
    // job-b's retry is still running: its first attempt is not superseded.
    check_logs(&p, &m, "active segment");

    // Records of the superseded attempt written after the success.
    m.append(
        &p,
        &[
            log(t(6), Level::Error, "job-a", 1, 90),
            log(t(6), Level::Info, "job-a", 2, 90),
            log(t(7), Level::Error, "job-b", 1, 90),
        ],
    );
    m.append(&p, &[log(t(-10), Level::Error, "job-a", 1, 91)]);
    check_logs(&p, &m, "active segment, late records");

    // A second job superseded after the segment's hidden records were
    // worked out.
    p.attempt_succeeded("job-b", 2).unwrap();
    m.superseding.insert("job-b".into(), 2);
    check_logs(&p, &m, "active segment, a second job superseded");

    // Follows started before any of it.
    let want = |include: bool, level: Option<Level>| {
        let mut v = m.newest_first(include);
        v.retain(|(_, r, _)| level.is_none_or(|l| r.level == l));
        v.reverse();
        v
    };
    assert_eq!(
        triples(&follow.next_batch(Duration::ZERO).unwrap()),
        want(false, None)
    );
    assert_eq!(
        triples(&follow_errors.next_batch(Duration::ZERO).unwrap()),
        want(false, Some(Level::Error))
    );
    assert_eq!(
        triples(&follow_all.next_batch(Duration::ZERO).unwrap()),
        want(true, None)
    );

    // Seal the segment: same answers from the sealed file and its index.
    clock.set(T0.saturating_add(secs(3600)));
    p.seal_due().unwrap();
    let segs = p.segments().unwrap();
    assert_eq!(segs.len(), 1);
    assert!(segs[0].sealed, "{segs:?}");
    check_logs(&p, &m, "sealed segment");
    // job-d's retry was still running: a job superseded once the segment
    // is sealed.
    p.attempt_succeeded("job-d", 2).unwrap();
    m.superseding.insert("job-d".into(), 2);
    check_logs(&p, &m, "sealed segment, a job superseded after the seal");
    for f in [&mut follow, &mut follow_errors, &mut follow_all] {
        assert!(f.next_batch(Duration::ZERO).unwrap().is_empty());
    }

    // More records: a late one into the sealed partition (a new
    // generation) and some in a new partition, superseded ones included.
    let late_old = log(t(-5), Level::Error, "job-a", 1, 92);
    let fresh = now(&clock);
    let batch = [
        late_old.clone(),
        log(fresh, Level::Error, "job-a", 1, 93),
        log(fresh, Level::Warn, "job-a", 2, 93),
        log(fresh, Level::Error, "job-c", 1, 93),
    ];
    let start = m.appended.len();
    m.append(&p, &batch);
    assert_eq!(p.segments().unwrap().len(), 3);
    check_logs(&p, &m, "sealed and active segments");
    let new_ones: Vec<_> = {
        let mut v: Vec<_> = m.appended[start..]
            .iter()
            .map(|(id, r)| (*id, r.clone(), m.hidden(r)))
            .collect();
        v.sort_by_key(|(id, r, _)| (r.time, *id));
        v
    };
    let visible_new: Vec<_> = new_ones.iter().filter(|x| !x.2).cloned().collect();
    assert_eq!(
        triples(&follow.next_batch(Duration::ZERO).unwrap()),
        visible_new
    );
    assert_eq!(
        triples(&follow_errors.next_batch(Duration::ZERO).unwrap()),
        visible_new
            .iter()
            .filter(|x| x.1.level == Level::Error)
            .cloned()
            .collect::<Vec<_>>()
    );
    assert_eq!(
        triples(&follow_all.next_batch(Duration::ZERO).unwrap()),
        new_ones
    );

    // The hiding survives a reopen: runs are replayed from the journal.
    drop((follow, follow_errors, follow_all));
    drop((p, store));
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    check_logs(&p, &m, "after reopen");
    // And a read-only store agrees.
    let reader = options(&clock).open_read_only(dir.path()).unwrap();
    check_logs(&reader.project("p").unwrap(), &m, "read-only");

    // Seal everything and reopen again.
    clock.advance(secs(2 * 3600));
    p.seal_due().unwrap();
    assert!(p.segments().unwrap().iter().all(|s| s.sealed));
    check_logs(&p, &m, "all sealed");
    drop((p, store, reader));
    let store = open(dir.path(), &clock);
    check_logs(&store.project("p").unwrap(), &m, "all sealed, reopened");
}

/// More superseded jobs than the per-job lookup handles (over 64): hidden
/// records are then found from the segment's job terms.
#[test]
fn many_superseded_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    let n = 70u32;
    let job = |i: u32| format!("job-{i:03}");
    let t = |s: u64| T0.saturating_sub(secs(600)).saturating_add(secs(s));
    for i in 0..n {
        p.start_run(&NewRun::new(job(i), "orders", Trigger::Event))
            .unwrap();
    }
    let mut records = Vec::new();
    for i in 0..n {
        records.push(
            LogRecord::new(t(u64::from(i)), Level::Error, job(i), "first try failed").attempt(1),
        );
        records
            .push(LogRecord::new(t(u64::from(i)), Level::Info, job(i), "second try ok").attempt(2));
        records.push(LogRecord::new(
            t(u64::from(i)),
            Level::Warn,
            format!("other-{i}"),
            "bystander",
        ));
    }
    p.append_batch(&records).unwrap();
    for i in 0..n {
        p.attempt_failed(&job(i), 1, "x").unwrap();
    }
    clock.advance(secs(5));
    assert_eq!(p.due_retries(now(&clock)).unwrap().len(), n as usize);
    for i in 0..n {
        p.attempt_succeeded(&job(i), 2).unwrap();
    }
    let check = |p: &Project, what: &str| {
        let q = Query::new().all_time();
        let c = p.count(&q).unwrap();
        assert_eq!(c.total, 2 * u64::from(n), "{what}");
        assert_eq!(c.level(Level::Error), 0, "{what}");
        assert_eq!(c.level(Level::Info), u64::from(n), "{what}");
        assert_eq!(c.level(Level::Warn), u64::from(n), "{what}");
        let c = p.count(&q.clone().include_superseded(true)).unwrap();
        assert_eq!(c.total, 3 * u64::from(n), "{what}");
        let page = p.query(&q.clone().limit(MAX_LIMIT)).unwrap();
        assert_eq!(page.records.len(), 2 * n as usize, "{what}");
        assert!(page.records.iter().all(|s| s.record.attempt == 1
            && s.record.level == Level::Warn
            || s.record.attempt == 2));
        let page = p
            .query(
                &q.clone()
                    .level(Level::Error)
                    .include_superseded(true)
                    .limit(MAX_LIMIT),
            )
            .unwrap();
        assert_eq!(page.records.len(), n as usize, "{what}");
        assert!(page.records.iter().all(|s| s.superseded), "{what}");
        assert_eq!(p.job_logs(&job(7)).unwrap().len(), 1, "{what}");
        assert_eq!(p.job_logs_all(&job(7)).unwrap().len(), 2, "{what}");
    };
    check(&p, "active");
    clock.advance(secs(2 * 3600));
    p.seal_due().unwrap();
    assert!(p.segments().unwrap().iter().all(|s| s.sealed));
    check(&p, "sealed");
    drop((p, store));
    let store = open(dir.path(), &clock);
    check(&store.project("p").unwrap(), "reopened");
}

// ---------------------------------------------------------------------
// 5. Concurrency
// ---------------------------------------------------------------------

#[test]
fn concurrent_claims_hand_out_each_retry_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    let n = 200u64;
    let job = |i: u64| format!("job-{i:03}");
    // Failures 100 ms apart: retries come due over 20 s.
    for i in 0..n {
        p.start_run(&NewRun::new(job(i), "f", Trigger::Event))
            .unwrap();
    }
    for i in 0..n {
        clock.set(T0.saturating_add(Duration::from_millis(100 * i)));
        p.attempt_failed(&job(i), 1, "x").unwrap();
    }
    let first_due = T0.saturating_add(secs(5));
    let threads = 4;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|w| {
            let p = p.clone();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                let mut got = Vec::new();
                // Each thread sweeps "now" forward in its own steps.
                for k in 0..=(30 + w as u64) {
                    let at =
                        first_due.saturating_add(Duration::from_millis(k * (700 + 50 * w as u64)));
                    got.extend(p.due_retries(at).unwrap());
                }
                got.extend(p.due_retries(first_due.saturating_add(secs(60))).unwrap());
                got
            })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut total = 0;
    for h in handles {
        for t in h.join().unwrap() {
            total += 1;
            assert_eq!(t.attempt, 2);
            assert!(!t.manual);
            assert!(
                seen.insert(t.job_id.to_string()),
                "{} claimed twice",
                t.job_id
            );
        }
    }
    assert_eq!(total, n as usize);
    assert_eq!(seen, (0..n).map(job).collect::<HashSet<_>>());
    let check = |p: &Project| {
        for i in 0..n {
            let r = run_of(p, &job(i));
            assert_eq!(
                (r.status, r.attempt(), r.attempts.len()),
                (RunStatus::Running, 2, 2)
            );
        }
        assert!(
            p.due_retries(T0.saturating_add(secs(DAY)))
                .unwrap()
                .is_empty()
        );
    };
    check(&p);
    drop((p, store));
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    check(&p);
    assert!(p.damage().is_empty(), "{:?}", p.damage());
}

#[test]
fn concurrent_lifecycle_calls_are_decided_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    p.set_flow_retry_policy("f", Some(RetryPolicy::none()))
        .unwrap();
    for i in 0..20 {
        p.start_run(&NewRun::new(format!("failed-{i}"), "f", Trigger::Event))
            .unwrap();
        p.attempt_failed(&format!("failed-{i}"), 1, "x").unwrap();
    }
    let threads = 4;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|w| {
            let p = p.clone();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                let mut started = Vec::new();
                let mut manual = Vec::new();
                let mut ended = Vec::new();
                for i in 0..20 {
                    // The same new job from every thread: one start wins.
                    match p.start_run(&NewRun::new(format!("new-{i}"), "g", Trigger::Event)) {
                        Ok(_) => started.push(i),
                        Err(Error::JobExists { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                    // The same manual retry from every thread: one wins.
                    match p.retry_manually(&format!("failed-{i}")) {
                        Ok(t) => {
                            assert_eq!(t.attempt, 2);
                            manual.push(i);
                        }
                        Err(Error::InvalidTransition { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                    // Success and failure reports racing: one wins.
                    let job = format!("new-{i}");
                    let r = if w % 2 == 0 {
                        p.attempt_succeeded(&job, 1)
                    } else {
                        p.attempt_failed(&job, 1, "x")
                    };
                    match r {
                        Ok(_) => ended.push(i),
                        Err(Error::InvalidTransition { .. } | Error::UnknownJob { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
                (started, manual, ended)
            })
        })
        .collect();
    let (mut started, mut manual, mut ended) = (Vec::new(), Vec::new(), Vec::new());
    for h in handles {
        let (s, m, e) = h.join().unwrap();
        started.extend(s);
        manual.extend(m);
        ended.extend(e);
    }
    for v in [&mut started, &mut manual, &mut ended] {
        v.sort_unstable();
        assert_eq!(*v, (0..20).collect::<Vec<_>>());
    }
    for i in 0..20 {
        let r = run_of(&p, &format!("new-{i}"));
        assert_eq!(r.attempts.len(), 1);
        assert_ne!(r.status, RunStatus::Running);
        let r = run_of(&p, &format!("failed-{i}"));
        assert_eq!((r.status, r.attempts.len()), (RunStatus::Running, 2));
    }
}

// ---------------------------------------------------------------------
// 6. Crash cuts of the journal
// ---------------------------------------------------------------------

const JOBS: [&str; 3] = ["j1", "j2", "j3"];

/// Record a fixed sequence of lifecycle events (synced each), returning
/// the journal file, the journal length after each event (the frame ends,
/// starting with the header end), and the runs after each event.
fn record_events(dir: &Path, clock: &ManualClock) -> (PathBuf, Vec<u64>, Vec<Vec<Option<Run>>>) {
    let store = options(clock)
        .sync_policy(SyncPolicy::Always)
        .open(dir)
        .unwrap();
    let p = store.project("p").unwrap();
    p.set_flow_retry_policy("once", Some(RetryPolicy::none()))
        .unwrap();
    let mut ends = vec![];
    let mut snaps = vec![states(&p, &JOBS)];
    let mut step = |p: &Project, ends: &mut Vec<u64>, f: &dyn Fn(&Project)| {
        f(p);
        if ends.is_empty() {
            ends.push(runlog::journal::HEADER_LEN as u64);
        }
        ends.push(journal_len(p));
        snaps.push(states(p, &JOBS));
    };
    let c = clock.clone();
    step(&p, &mut ends, &|p| {
        p.start_run(&NewRun::new("j1", "f", Trigger::Scheduler).env("prod"))
            .map(drop)
            .unwrap()
    });
    step(&p, &mut ends, &|p| {
        p.start_run(&NewRun::new("j2", "f", Trigger::Event))
            .map(drop)
            .unwrap()
    });
    step(&p, &mut ends, &|p| {
        p.attempt_failed("j1", 1, "first failure")
            .map(drop)
            .unwrap()
    });
    step(&p, &mut ends, &|p| {
        p.start_run(&NewRun::new("j3", "once", Trigger::Manual).app("erp"))
            .map(drop)
            .unwrap()
    });
    step(&p, &mut ends, &|p| {
        p.attempt_succeeded("j2", 1).map(drop).unwrap()
    });
    step(&p, &mut ends, &|p| {
        c.advance(secs(5));
        assert_eq!(p.due_retries(c.now()).unwrap().len(), 1);
    });
    step(&p, &mut ends, &|p| {
        p.attempt_failed("j3", 1, "no retries").map(drop).unwrap()
    });
    step(&p, &mut ends, &|p| {
        p.retry_manually("j3").map(drop).unwrap()
    });
    step(&p, &mut ends, &|p| {
        p.attempt_failed("j1", 2, "second failure")
            .map(drop)
            .unwrap()
    });
    step(&p, &mut ends, &|p| {
        p.attempt_succeeded("j3", 2).map(drop).unwrap()
    });
    step(&p, &mut ends, &|p| {
        c.advance(secs(10));
        assert_eq!(p.due_retries(c.now()).unwrap().len(), 1);
    });
    step(&p, &mut ends, &|p| {
        p.attempt_succeeded("j1", 3).map(drop).unwrap()
    });
    let path = the_journal(&p);
    assert_eq!(fs::metadata(&path).unwrap().len(), *ends.last().unwrap());
    for w in ends.windows(2) {
        assert!(w[0] < w[1], "every event is one frame: {ends:?}");
    }
    drop((p, store));
    (path, ends, snaps)
}

fn reopen_states(dir: &Path, clock: &ManualClock) -> (Vec<Option<Run>>, Vec<runlog::Damage>) {
    let store = open(dir, clock);
    let p = store.project("p").unwrap();
    (states(&p, &JOBS), p.damage())
}

#[test]
fn every_cut_of_the_last_frames_replays_a_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let (path, ends, snaps) = record_events(dir.path(), &clock);
    let original = fs::read(&path).unwrap();
    assert_eq!(ends.len(), 13);
    assert_eq!(snaps.len(), 13);
    // Every byte within the last four frames, and every frame boundary.
    let mut cuts: Vec<u64> = (ends[ends.len() - 5]..=original.len() as u64).collect();
    cuts.extend(&ends[..ends.len() - 5]);
    for cut in cuts {
        fs::write(&path, &original[..cut as usize]).unwrap();
        let whole = ends.iter().filter(|&&e| e <= cut).count() - 1;
        for round in 0..2 {
            let (got, damage) = reopen_states(dir.path(), &clock);
            assert_eq!(got, snaps[whole], "cut at byte {cut}, reopen {round}");
            assert!(damage.is_empty(), "cut at {cut}: {damage:?}");
            assert_eq!(
                fs::metadata(&path).unwrap().len(),
                ends[whole],
                "cut at {cut}: the torn tail is removed"
            );
        }
    }
    fs::write(&path, &original).unwrap();
}

#[test]
fn events_continue_after_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let (path, ends, snaps) = record_events(dir.path(), &clock);
    let original = fs::read(&path).unwrap();
    // Cut inside the frame of event 10 ("j3 attempt 2 succeeded").
    let cut = ends[9] + 5;
    fs::write(&path, &original[..cut as usize]).unwrap();
    {
        // A reader sees the whole events and leaves the file alone.
        let reader = options(&clock).open_read_only(dir.path()).unwrap();
        let r = reader.project("p").unwrap();
        assert_eq!(states(&r, &JOBS), snaps[9]);
        assert_eq!(fs::metadata(&path).unwrap().len(), cut);
    }
    {
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        assert_eq!(states(&p, &JOBS), snaps[9]);
        // The lost success is reported again, and more is recorded.
        p.attempt_succeeded("j3", 2).unwrap();
        p.start_run(&NewRun::new("j4", "f", Trigger::Event))
            .unwrap();
        p.attempt_failed("j4", 1, "x").unwrap();
        let t = p.due_retries(now(&clock).saturating_add(secs(60))).unwrap();
        let mut claimed: Vec<_> = t
            .iter()
            .map(|t| (t.job_id.to_string(), t.attempt))
            .collect();
        claimed.sort();
        assert_eq!(claimed, [("j1".to_string(), 3), ("j4".to_string(), 2)]);
    }
    for _ in 0..2 {
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        assert!(p.damage().is_empty(), "{:?}", p.damage());
        assert_eq!(run_of(&p, "j3").status, RunStatus::Successful);
        assert!(run_of(&p, "j3").attempts[0].superseded);
        assert_eq!(run_of(&p, "j1").attempt(), 3);
        assert_eq!(run_of(&p, "j4").attempt(), 2);
        assert_eq!(run_of(&p, "j2"), snaps[9][1].clone().unwrap());
        assert!(p.verify().unwrap().is_ok());
    }
}

#[test]
fn a_flipped_byte_is_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let (path, ends, snaps) = record_events(dir.path(), &clock);
    let original = fs::read(&path).unwrap();
    let last = snaps.last().unwrap().clone();

    // The intact journal verifies clean.
    {
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        let report = p.verify().unwrap();
        assert!(report.is_ok(), "{report:?}");
        assert_eq!(report.journals, 1);
    }

    // The frame at ends[4] is event 5, "j2 succeeded", and nothing follows
    // it for j2: losing it leaves j2 running, and the others as they ended.
    for within in [0u64, 3, 5, 9, 13, 16] {
        let mut bytes = original.clone();
        let at = (ends[4] + within) as usize;
        assert!(at < ends[5] as usize);
        bytes[at] ^= 0x41;
        fs::write(&path, &bytes).unwrap();
        for round in 0..2 {
            let (got, damage) = reopen_states(dir.path(), &clock);
            let want = vec![last[0].clone(), snaps[2][1].clone(), last[2].clone()];
            assert_eq!(got, want, "byte {within}, reopen {round}");
            assert_eq!(damage.len(), 1, "byte {within}: {damage:?}");
            assert_eq!((&damage[0].path, damage[0].offset), (&path, ends[4]));
        }
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        let report = p.verify().unwrap();
        assert!(
            report.problems.iter().any(|d| d.path == path),
            "byte {within}: {report:?}"
        );
        // The store still takes events, and they survive a reopen (at the
        // original time, so the run ends up exactly as before).
        let later = now(&clock);
        clock.set(T0);
        p.attempt_succeeded("j2", 1).unwrap();
        clock.set(later);
        drop((p, store));
        let (got, damage) = reopen_states(dir.path(), &clock);
        assert_eq!(got, last, "byte {within}: after recording again");
        assert_eq!(damage.len(), 1, "{damage:?}");
        fs::write(&path, &original).unwrap();
    }

    // The frame at ends[2] is event 3, "j1 attempt 1 failed": j1's later
    // events no longer follow and are skipped (reported), never applied
    // twice or out of order.
    let mut bytes = original.clone();
    bytes[(ends[2] + 14) as usize] ^= 0x08;
    fs::write(&path, &bytes).unwrap();
    for _ in 0..2 {
        let (got, damage) = reopen_states(dir.path(), &clock);
        assert_eq!(
            got,
            vec![snaps[1][0].clone(), last[1].clone(), last[2].clone()]
        );
        assert!(damage.iter().all(|d| d.path == path), "{damage:?}");
        assert_eq!(damage[0].offset, ends[2], "{damage:?}");
        // The damaged frame, and j1's four later events.
        assert_eq!(damage.len(), 5, "{damage:?}");
    }
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    assert!(!p.verify().unwrap().is_ok());
    drop((p, store));

    // Garbage in place of the header: the file is set aside and reported,
    // nothing panics, and new runs go to a new file.
    let mut bytes = original.clone();
    bytes[3] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    assert_eq!(states(&p, &JOBS), vec![None, None, None]);
    assert!(
        p.damage().iter().any(|d| d.path == path),
        "{:?}",
        p.damage()
    );
    p.start_run(&NewRun::new("j9", "f", Trigger::Event))
        .unwrap();
    assert_eq!(journal_files(&p).len(), 2);
    assert_eq!(
        fs::read(&path).unwrap(),
        bytes,
        "a set-aside file is kept as is"
    );
    assert!(!p.verify().unwrap().is_ok());
    drop((p, store));
    let store = open(dir.path(), &clock);
    assert!(store.project("p").unwrap().run("j9").unwrap().is_some());
}

// ---------------------------------------------------------------------
// 7. Restart safety
// ---------------------------------------------------------------------

#[test]
fn runs_and_retries_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let before = {
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        for job in ["running", "retrying", "claimed"] {
            p.start_run(&NewRun::new(job, "f", Trigger::Event)).unwrap();
        }
        p.attempt_failed("claimed", 1, "x").unwrap();
        clock.advance(secs(5));
        let t = p.due_retries(now(&clock)).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].job_id, "claimed");
        p.attempt_failed("retrying", 1, "x").unwrap();
        // The process dies without a sync: each event was written to the OS.
        states(&p, &["running", "retrying", "claimed"])
    };
    let due = T0.saturating_add(secs(10));
    assert_eq!(before[1].as_ref().unwrap().next_retry, Some(due));
    {
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        assert_eq!(states(&p, &["running", "retrying", "claimed"]), before);
        let r = run_of(&p, "running");
        assert_eq!(
            (r.status, r.attempts[0].outcome),
            (RunStatus::Running, Outcome::Running)
        );
        // Not due yet, and the retry claimed before the crash is not handed out again.
        assert!(p.due_retries(now(&clock)).unwrap().is_empty());
    }
    clock.set(due);
    let claimed = {
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        let t = p.due_retries(due).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!((t[0].job_id.as_str(), t[0].attempt), ("retrying", 2));
        assert!(p.due_retries(due).unwrap().is_empty());
        run_of(&p, "retrying")
    };
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    assert_eq!(run_of(&p, "retrying"), claimed);
    assert!(
        p.due_retries(due.saturating_add(secs(DAY)))
            .unwrap()
            .is_empty()
    );
    assert_eq!(run_of(&p, "claimed").attempt(), 2);
    assert_eq!(run_of(&p, "running").status, RunStatus::Running);
}

// ---------------------------------------------------------------------
// 8. Run queries
// ---------------------------------------------------------------------

const FLOWS: [&str; 3] = ["orders", "invoices", "stock"];

/// 160 runs over the last ~4.5 hours (about 36 per partition) in every
/// combination of fields and statuses, plus three sharing one trigger
/// time. Returns every run, newest first.
fn populate(p: &Project) -> Vec<Run> {
    let mut jobs = Vec::new();
    for i in 0..160u64 {
        let job = format!("run-{i:03}");
        let t = T0.saturating_sub(secs(i * 100 + i % 3));
        p.start_run(
            &NewRun::new(
                job.as_str(),
                FLOWS[(i % 3) as usize],
                Trigger::ALL[((i / 3) % 3) as usize],
            )
            .env(if i % 2 == 0 { "prod" } else { "test" })
            .app(if (i / 2) % 2 == 0 { "shop" } else { "erp" })
            .version(format!("v{}", i % 5))
            .triggered_at(t),
        )
        .unwrap();
        jobs.push((i, job));
    }
    for job in ["tie-a", "tie-c", "tie-b"] {
        p.start_run(
            &NewRun::new(job, "orders", Trigger::Scheduler)
                .env("prod")
                .triggered_at(T0.saturating_sub(secs(35 * 60))),
        )
        .unwrap();
    }
    // Statuses: (i / 5) % 4 = 0 running, 1 successful, 2 retrying, 3 failed.
    for (i, job) in &jobs {
        if (i / 5) % 4 == 1 {
            p.attempt_succeeded(job, 1).unwrap();
        }
    }
    p.set_retry_policy(RetryPolicy::none()).unwrap();
    for (i, job) in &jobs {
        if (i / 5) % 4 == 3 {
            p.attempt_failed(job, 1, "x").unwrap();
        }
    }
    p.set_retry_policy(RetryPolicy::default()).unwrap();
    for (i, job) in &jobs {
        if (i / 5) % 4 == 2 {
            p.attempt_failed(job, 1, "x").unwrap();
        }
    }
    p.attempt_succeeded("tie-c", 1).unwrap();
    let mut all: Vec<Run> = jobs
        .iter()
        .map(|(_, j)| j.as_str())
        .chain(["tie-a", "tie-b", "tie-c"])
        .map(|j| run_of(p, j))
        .collect();
    all.sort_by(|a, b| (b.trigger_time, &b.job_id).cmp(&(a.trigger_time, &a.job_id)));
    all
}

/// Every page of `q` (by cursor, through its text form), concatenated.
fn pages(p: &Project, q: &RunQuery, scheduled: bool) -> Vec<Run> {
    let mut out = Vec::new();
    let mut q = q.clone();
    for _ in 0..1000 {
        let page = if scheduled {
            p.scheduled_tasks(&q).unwrap()
        } else {
            p.runs(&q).unwrap()
        };
        out.extend(page.runs);
        match page.next {
            Some(c) => {
                let text = c.to_string();
                let parsed: RunCursor = text.parse().unwrap();
                assert_eq!(parsed, c);
                q = q.after(parsed);
            }
            None => return out,
        }
    }
    panic!("paging does not end");
}

#[test]
fn run_queries_match_a_brute_force_filter() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    let all = populate(&p);
    assert_eq!(all.len(), 163);
    assert_eq!(
        all_runs(&p),
        all,
        "newest first, ties by job ID highest first"
    );
    let ties: Vec<&str> = all
        .iter()
        .filter(|r| r.job_id.starts_with("tie-"))
        .map(|r| r.job_id.as_str())
        .collect();
    assert_eq!(ties, ["tie-c", "tie-b", "tie-a"]);

    let now = T0;
    let since = move |d: u64| move |r: &Run| r.trigger_time >= now.saturating_sub(secs(d));
    let in_range = TimeRange::new(
        T0.saturating_sub(secs(3 * 3600)),
        T0.saturating_sub(secs(3600)),
    )
    .unwrap();
    type Pred = Box<dyn Fn(&Run) -> bool>;
    let cases: Vec<(&str, RunQuery, Pred)> = vec![
        ("all", RunQuery::new().all_time(), Box::new(|_| true)),
        ("default 30 min", RunQuery::new(), Box::new(since(30 * 60))),
        (
            "last 15 min",
            RunQuery::new().preset(Preset::Last15Minutes),
            Box::new(since(15 * 60)),
        ),
        (
            "last hour",
            RunQuery::new().preset(Preset::LastHour),
            Box::new(since(3600)),
        ),
        (
            "last 2 h",
            RunQuery::new().last(secs(7200)),
            Box::new(since(7200)),
        ),
        (
            "fixed range",
            RunQuery::new().range(in_range),
            Box::new(move |r| in_range.contains(r.trigger_time)),
        ),
        (
            "flow",
            RunQuery::new().all_time().flow("orders"),
            Box::new(|r| r.flow == "orders"),
        ),
        (
            "env",
            RunQuery::new().all_time().env("test"),
            Box::new(|r| r.env == "test"),
        ),
        (
            "app and version",
            RunQuery::new().all_time().app("erp").version("v2"),
            Box::new(|r| r.app == "erp" && r.version == "v2"),
        ),
        (
            "job",
            RunQuery::new().all_time().job_id("run-010"),
            Box::new(|r| r.job_id == "run-010"),
        ),
        (
            "unknown job",
            RunQuery::new().all_time().job_id("nope"),
            Box::new(|_| false),
        ),
        (
            "job outside the range",
            RunQuery::new()
                .preset(Preset::Last15Minutes)
                .job_id("run-040"),
            Box::new(|_| false),
        ),
        (
            "retrying",
            RunQuery::new().all_time().status(RunStatus::Retrying),
            Box::new(|r| r.status == RunStatus::Retrying),
        ),
        (
            "failed or successful",
            RunQuery::new()
                .all_time()
                .status(RunStatus::Failed)
                .status(RunStatus::Successful),
            Box::new(|r| matches!(r.status, RunStatus::Failed | RunStatus::Successful)),
        ),
        (
            "scheduler",
            RunQuery::new().all_time().trigger(Trigger::Scheduler),
            Box::new(|r| r.trigger == Trigger::Scheduler),
        ),
        (
            "event or manual",
            RunQuery::new()
                .all_time()
                .trigger(Trigger::Event)
                .trigger(Trigger::Manual),
            Box::new(|r| r.trigger != Trigger::Scheduler),
        ),
        (
            "combined",
            RunQuery::new()
                .preset(Preset::Last6Hours)
                .flow("stock")
                .env("prod")
                .status(RunStatus::Running)
                .status(RunStatus::Retrying),
            Box::new(move |r| {
                since(6 * 3600)(r)
                    && r.flow == "stock"
                    && r.env == "prod"
                    && matches!(r.status, RunStatus::Running | RunStatus::Retrying)
            }),
        ),
        (
            "no such flow",
            RunQuery::new().all_time().flow("nope"),
            Box::new(|_| false),
        ),
        (
            "scheduled orders in the last hour",
            RunQuery::scheduled()
                .preset(Preset::LastHour)
                .flow("orders"),
            Box::new(move |r| {
                since(3600)(r) && r.trigger == Trigger::Scheduler && r.flow == "orders"
            }),
        ),
    ];
    for (name, q, pred) in &cases {
        let want: Vec<Run> = all.iter().filter(|r| pred(r)).cloned().collect();
        let page = p.runs(&q.clone().limit(MAX_LIMIT)).unwrap();
        assert_eq!(page.runs, want, "{name}");
        for limit in [1, 2, 5, 100] {
            let got = pages(&p, &q.clone().limit(limit), false);
            assert_eq!(got, want, "{name}, {limit} per page");
        }
        let c = p.count_runs(q).unwrap();
        let mut by = [0u64; 4];
        for r in &want {
            by[r.status.code() as usize] += 1;
        }
        assert_eq!(
            (c.total, c.by_status),
            (want.len() as u64, by),
            "{name}: counts"
        );
    }
    // The fixture covers every status and trigger.
    for s in RunStatus::ALL {
        assert!(all.iter().any(|r| r.status == s), "{s}");
    }
    assert!(
        p.runs(&RunQuery::new().preset(Preset::Last15Minutes))
            .unwrap()
            .runs
            .iter()
            .all(|r| r.trigger_time >= T0.saturating_sub(secs(900))),
    );

    // Scheduled tasks: only Scheduler runs, whatever trigger the query asks.
    let scheduled: Vec<Run> = all
        .iter()
        .filter(|r| r.trigger == Trigger::Scheduler)
        .cloned()
        .collect();
    assert!(!scheduled.is_empty());
    for q in [
        RunQuery::new().all_time(),
        RunQuery::new().all_time().trigger(Trigger::Event),
        RunQuery::scheduled().all_time(),
    ] {
        assert_eq!(
            p.scheduled_tasks(&q.clone().limit(MAX_LIMIT)).unwrap().runs,
            scheduled
        );
        assert_eq!(pages(&p, &q.limit(2), true), scheduled);
    }
}

#[test]
fn cursors_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    let all = populate(&p);
    p.append_batch(&[rec(T0, 1), rec(T0, 2)]).unwrap();
    let q = RunQuery::new().all_time().limit(4);
    let first = p.runs(&q).unwrap();
    assert_eq!(first.runs, all[..4]);
    let cursor = first.next.clone().unwrap();
    // The same query continues (a reopened store too).
    let second = p.runs(&q.clone().after(cursor.clone())).unwrap();
    assert_eq!(second.runs, all[4..8]);
    // Another query's filters: refused.
    for other in [
        RunQuery::new().all_time().flow("orders"),
        RunQuery::new().all_time().status(RunStatus::Failed),
        RunQuery::new().all_time().trigger(Trigger::Scheduler),
        RunQuery::new().all_time().job_id("run-001"),
    ] {
        assert!(
            matches!(
                p.runs(&other.after(cursor.clone())),
                Err(Error::CursorMismatch)
            ),
            "cursor accepted by another query"
        );
    }
    // A scheduled-tasks cursor is not a cursor of all runs.
    let sched = p
        .scheduled_tasks(&RunQuery::new().all_time().limit(1))
        .unwrap();
    let sc = sched.next.unwrap();
    assert!(matches!(
        p.runs(&q.clone().after(sc.clone())),
        Err(Error::CursorMismatch)
    ));
    assert!(p.scheduled_tasks(&q.clone().after(sc)).is_ok());

    // Garbage and altered text.
    let text = cursor.to_string();
    let mut altered = text.clone().into_bytes();
    let mid = altered.len() / 2;
    altered[mid] = if altered[mid] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let log_cursor = p
        .query(&Query::new().all_time().limit(1))
        .unwrap()
        .next
        .expect("a log cursor")
        .to_string();
    let bad = vec![
        String::new(),
        "garbage".to_string(),
        "!!!!".to_string(),
        text[..text.len() - 2].to_string(),
        format!("{text}AA"),
        altered,
        log_cursor,
    ];
    for s in bad {
        assert!(
            matches!(s.parse::<RunCursor>(), Err(Error::InvalidCursor { .. })),
            "{s:?} accepted"
        );
    }
    drop((p, store));
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    let again: RunCursor = text.parse().unwrap();
    assert_eq!(p.runs(&q.after(again)).unwrap().runs, all[4..8]);
}

#[test]
fn retention_drops_old_runs_and_their_journals() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    for job in ["old-running", "old-retrying", "old-done"] {
        p.start_run(&NewRun::new(job, "f", Trigger::Scheduler))
            .unwrap();
    }
    p.attempt_failed("old-retrying", 1, "x").unwrap();
    p.attempt_succeeded("old-done", 1).unwrap();
    // A run a day later, in another partition and journal file.
    clock.advance(secs(DAY));
    p.start_run(&NewRun::new("day-later", "f", Trigger::Event))
        .unwrap();
    let old_files = journal_files(&p);
    assert_eq!(old_files.len(), 2);

    clock.advance(secs(29 * DAY + 2 * 3600));
    // Past the horizon: gone from every read before retention runs.
    for job in ["old-running", "old-retrying", "old-done"] {
        assert_eq!(p.run(job).unwrap(), None);
        assert_unknown(&p.attempt_succeeded(job, 1).unwrap_err(), job);
        assert_unknown(&p.retry_manually(job).unwrap_err(), job);
    }
    assert!(p.due_retries(now(&clock)).unwrap().is_empty());
    let fresh = now(&clock);
    p.start_run(&NewRun::new("new", "f", Trigger::Event))
        .unwrap();
    let listed =
        |p: &Project| -> Vec<String> { all_runs(p).iter().map(|r| r.job_id.to_string()).collect() };
    assert_eq!(listed(&p), ["new", "day-later"]);
    assert_eq!(p.count_runs(&RunQuery::new().all_time()).unwrap().total, 2);
    assert!(
        p.runs(&RunQuery::new().preset(Preset::Last30Days))
            .unwrap()
            .runs
            .iter()
            .all(|r| r.trigger_time >= fresh.saturating_sub(secs(30 * DAY)))
    );

    p.enforce_retention().unwrap();
    assert!(!old_files[0].exists(), "the expired journal is deleted");
    assert!(
        old_files[1].exists(),
        "the journal within retention is kept"
    );
    assert_eq!(journal_files(&p).len(), 2);
    assert_eq!(listed(&p), ["new", "day-later"]);
    assert!(p.due_retries(now(&clock)).unwrap().is_empty());
    assert_eq!(p.count_runs(&RunQuery::new().all_time()).unwrap().total, 2);

    // Another day: the second file goes too.
    clock.advance(secs(DAY));
    p.enforce_retention().unwrap();
    assert!(!old_files[1].exists());
    assert_eq!(listed(&p), ["new"]);
    assert_eq!(journal_files(&p).len(), 1);
    drop((p, store));
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    assert_eq!(listed(&p), ["new"]);
    assert!(p.damage().is_empty());
}

// ---------------------------------------------------------------------
// 9. Read-only stores
// ---------------------------------------------------------------------

#[test]
fn a_read_only_store_follows_the_writers_runs() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let w = store.project("p").unwrap();
    // The reader opens before any run exists.
    let reader = options(&clock).open_read_only(dir.path()).unwrap();
    let r = reader.project("p").unwrap();
    assert!(all_runs(&r).is_empty());

    w.start_run(&NewRun::new("a", "f", Trigger::Scheduler))
        .unwrap();
    w.start_run(&NewRun::new("b", "f", Trigger::Event)).unwrap();
    w.sync().unwrap();
    assert_eq!(all_runs(&r), all_runs(&w));
    assert_eq!(r.run("a").unwrap(), w.run("a").unwrap());

    // Logs of a retried job, and the retry.
    w.append_batch(&[
        log(T0, Level::Error, "a", 1, 0),
        log(T0.saturating_add(secs(6)), Level::Info, "a", 2, 0),
    ])
    .unwrap();
    w.attempt_failed("a", 1, "x").unwrap();
    w.sync().unwrap();
    assert_eq!(run_of(&r, "a").status, RunStatus::Retrying);
    assert_eq!(r.job_logs("a").unwrap().len(), 2);
    clock.advance(secs(5));
    assert_eq!(w.due_retries(now(&clock)).unwrap().len(), 1);
    w.attempt_succeeded("a", 2).unwrap();
    w.sync().unwrap();
    assert_eq!(r.run("a").unwrap(), w.run("a").unwrap());
    assert_eq!(run_of(&r, "a").status, RunStatus::Successful);
    let logs = r.job_logs("a").unwrap();
    assert_eq!(logs.len(), 1, "the superseded attempt's log is hidden");
    assert_eq!(logs[0].record.attempt, 2);
    assert_eq!(r.job_logs_all("a").unwrap().len(), 2);
    assert_eq!(
        r.count(&Query::new().all_time()).unwrap().total,
        1,
        "counted without the superseded log"
    );

    // A run in another partition: a new journal file the reader did not know.
    w.start_run(
        &NewRun::new("c", "g", Trigger::Manual).triggered_at(T0.saturating_sub(secs(3 * 3600))),
    )
    .unwrap();
    w.sync().unwrap();
    assert_eq!(journal_files(&w).len(), 2);
    assert_eq!(all_runs(&r), all_runs(&w));
    let q = RunQuery::new().all_time();
    assert_eq!(r.count_runs(&q).unwrap(), w.count_runs(&q).unwrap());
    assert_eq!(
        r.scheduled_tasks(&q).unwrap().runs,
        w.scheduled_tasks(&q).unwrap().runs
    );

    // Every lifecycle call is refused, and changes nothing.
    let before = all_runs(&w);
    let len = journal_len(&w);
    let ro = |res: runlog::Result<()>, what: &str| {
        assert!(
            matches!(res, Err(Error::ReadOnly { .. })),
            "{what}: {res:?}"
        );
    };
    ro(
        r.start_run(&NewRun::new("d", "f", Trigger::Event))
            .map(drop),
        "start",
    );
    ro(r.attempt_succeeded("b", 1).map(drop), "succeed");
    ro(r.attempt_failed("b", 1, "x").map(drop), "fail");
    ro(r.retry_manually("b").map(drop), "retry manually");
    ro(r.due_retries(now(&clock)).map(drop), "due retries");
    assert_eq!(all_runs(&w), before);
    assert_eq!(all_runs(&r), before);
    assert_eq!(journal_len(&w), len);
    assert!(r.verify().unwrap().is_ok());
    assert_eq!(r.verify().unwrap().journals, 2);

    // The writer goes on; the reader keeps up.
    w.attempt_failed("b", 1, "x").unwrap();
    w.sync().unwrap();
    assert_eq!(run_of(&r, "b").status, RunStatus::Retrying);
}

/// A run is forgotten when its trigger partition passes the retention
/// horizon, but logs of its superseded attempt written in a later
/// partition are kept a while longer: they must stay hidden.
#[test]
fn superseded_logs_stay_hidden_after_their_run_expires() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    p.start_run(&NewRun::new("job", "f", Trigger::Event))
        .unwrap();
    p.append(&log(T0, Level::Error, "job", 1, 0)).unwrap();
    // Attempt 1 runs on past the end of the trigger's partition (23:00).
    clock.advance(secs(77 * 60));
    p.append(&log(now(&clock), Level::Error, "job", 1, 1))
        .unwrap();
    p.attempt_failed("job", 1, "x").unwrap();
    clock.advance(secs(5));
    assert_eq!(p.due_retries(now(&clock)).unwrap().len(), 1);
    p.append(&log(now(&clock), Level::Info, "job", 2, 0))
        .unwrap();
    p.attempt_succeeded("job", 2).unwrap();
    let attempts = |p: &Project| -> Vec<u32> {
        let mut v: Vec<u32> = p
            .query(&Query::new().all_time())
            .unwrap()
            .records
            .iter()
            .map(|s| s.record.attempt)
            .collect();
        v.extend(p.job_logs("job").unwrap().iter().map(|s| s.record.attempt));
        v.push(p.count(&Query::new().all_time()).unwrap().total as u32);
        v
    };
    // Visible: attempt 2's log (query, job_logs), and a count of 1.
    assert_eq!(attempts(&p), [2, 2, 1]);
    // 30 days later: the run's partition (22:00-23:00) is past the
    // horizon, the late attempt-1 log (23:30) and attempt 2's are not.
    clock.set(T0.saturating_add(secs(30 * DAY + 3600)));
    assert_eq!(p.run("job").unwrap(), None);
    assert_eq!(attempts(&p), [2, 2, 1], "before retention is enforced");
    p.enforce_retention().unwrap();
    assert_eq!(attempts(&p), [2, 2, 1], "after retention is enforced");
    drop((p, store));
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    assert_eq!(attempts(&p), [2, 2, 1], "after a reopen");
}

#[test]
fn due_retries_come_soonest_first() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    let policy = |s: u64| RetryPolicy {
        initial_delay: secs(s),
        ..RetryPolicy::default()
    };
    p.set_flow_retry_policy("slow", Some(policy(30))).unwrap();
    p.set_flow_retry_policy("fast", Some(policy(1))).unwrap();
    for (job, flow) in [("s", "slow"), ("d", "default"), ("f", "fast")] {
        p.start_run(&NewRun::new(job, flow, Trigger::Event))
            .unwrap();
    }
    // Failures in the order s, d, f; due in the order f (T0+4), d (T0+6), s (T0+30).
    p.attempt_failed("s", 1, "x").unwrap();
    clock.advance(secs(1));
    p.attempt_failed("d", 1, "x").unwrap();
    clock.advance(secs(2));
    p.attempt_failed("f", 1, "x").unwrap();
    let at = |s: u64| T0.saturating_add(secs(s));
    assert_eq!(run_of(&p, "f").next_retry, Some(at(4)));
    assert_eq!(run_of(&p, "d").next_retry, Some(at(6)));
    assert_eq!(run_of(&p, "s").next_retry, Some(at(30)));
    clock.set(at(40));
    let order: Vec<String> = p
        .due_retries(at(40))
        .unwrap()
        .into_iter()
        .map(|t| {
            assert_eq!(t.start, at(40));
            t.job_id.to_string()
        })
        .collect();
    assert_eq!(order, ["f", "d", "s"]);
}

/// Lifecycle calls racing appends, queries, counts and follows: no
/// deadlock, no superseded record ever shown as visible, and the end
/// state matches the model.
#[test]
fn lifecycle_races_log_reads() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    p.set_retry_policy(RetryPolicy::none()).unwrap();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let drivers: Vec<_> = (0..2u32)
        .map(|d| {
            let p = p.clone();
            thread::spawn(move || {
                for i in 0..40u32 {
                    let job = format!("d{d}-{i:02}");
                    let t = T0.saturating_sub(secs(u64::from(i)));
                    p.start_run(&NewRun::new(job.as_str(), "f", Trigger::Event))
                        .unwrap();
                    p.append_batch(&[
                        log(t, Level::Error, &job, 1, 0),
                        log(t, Level::Info, &job, 1, 1),
                    ])
                    .unwrap();
                    assert_eq!(
                        p.attempt_failed(&job, 1, "x").unwrap().status,
                        RunStatus::Failed
                    );
                    assert_eq!(p.retry_manually(&job).unwrap().attempt, 2);
                    p.append(&log(t, Level::Warn, &job, 2, 0)).unwrap();
                    p.attempt_succeeded(&job, 2).unwrap();
                    // A late log of the superseded attempt.
                    p.append(&log(t, Level::Debug, &job, 1, 2)).unwrap();
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|k| {
            let p = p.clone();
            let done = Arc::clone(&done);
            thread::spawn(move || {
                let mut follow = p.follow(&Query::new()).unwrap();
                let mut followed = Vec::new();
                let mut passes = 0;
                while !done.load(std::sync::atomic::Ordering::Acquire) || passes < 2 {
                    let page = p.query(&Query::new().all_time().limit(MAX_LIMIT)).unwrap();
                    assert!(page.records.iter().all(|s| !s.superseded));
                    let all = p
                        .query(
                            &Query::new()
                                .all_time()
                                .include_superseded(true)
                                .limit(MAX_LIMIT),
                        )
                        .unwrap();
                    // Only attempt-1 records are ever marked.
                    assert!(
                        all.records
                            .iter()
                            .all(|s| !s.superseded || s.record.attempt == 1)
                    );
                    let c = p
                        .count(&Query::new().all_time().level(Level::Warn))
                        .unwrap();
                    assert!(c.total <= 80);
                    if k == 0 {
                        let _ = p.job_logs(&format!("d0-{:02}", passes % 40)).unwrap();
                    }
                    followed.extend(follow.next_batch(Duration::ZERO).unwrap());
                    passes += 1;
                }
                followed.extend(follow.next_batch(Duration::ZERO).unwrap());
                followed
            })
        })
        .collect();
    for d in drivers {
        d.join().unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    for r in readers {
        let followed = r.join().unwrap();
        // A follower returns each record once; records it returned before
        // their attempt was superseded are not taken back, but the late
        // attempt-1 logs (written after the success) never show.
        let ids: HashSet<RecordId> = followed.iter().map(|s| s.id).collect();
        assert_eq!(ids.len(), followed.len());
        assert!(
            followed
                .iter()
                .all(|s| !(s.record.attempt == 1 && s.record.level == Level::Debug)),
            "a late superseded log was followed"
        );
        assert!(followed.iter().all(|s| !s.superseded));
    }
    let c = p.count(&Query::new().all_time()).unwrap();
    assert_eq!((c.total, c.level(Level::Warn)), (80, 80));
    let c = p
        .count(&Query::new().all_time().include_superseded(true))
        .unwrap();
    assert_eq!(c.total, 320);
    for d in 0..2 {
        for i in 0..40 {
            let job = format!("d{d}-{i:02}");
            assert_eq!(p.job_logs(&job).unwrap().len(), 1);
            let all = p.job_logs_all(&job).unwrap();
            assert_eq!(all.len(), 4);
            assert_eq!(all.iter().filter(|s| s.superseded).count(), 3);
        }
    }
}

#[test]
fn a_project_with_only_runs_applies_retention_to_them() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let store = open(dir.path(), &c);
    let p = store.project("p").unwrap();
    p.start_run(&NewRun::new("old", "f", Trigger::Event))
        .unwrap();
    let runs_dir = p.dir().join("runs");
    let files = |d: &Path| fs::read_dir(d).unwrap().count();
    assert_eq!(files(&runs_dir), 1);
    c.advance(Duration::from_secs(31 * DAY));
    // No log is ever appended: the next run event applies retention.
    p.start_run(&NewRun::new("new", "f", Trigger::Event))
        .unwrap();
    assert_eq!(files(&runs_dir), 1, "the expired journal is deleted");
    assert_eq!(p.run("old").unwrap(), None);
    // Its job ID is free again.
    p.start_run(&NewRun::new("old", "f", Trigger::Event))
        .unwrap();
}

#[test]
fn journal_file_handles_stay_capped() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let store = open(dir.path(), &c);
    let p = store.project("p").unwrap();
    let open_fds = || fs::read_dir("/proc/self/fd").unwrap().count();
    p.start_run(&NewRun::new("job-0", "f", Trigger::Event))
        .unwrap();
    let before = open_fds();
    // 100 runs, each in its own hourly partition: 100 journal files.
    for i in 1..=100u64 {
        c.advance(Duration::from_secs(3600));
        p.start_run(&NewRun::new(format!("job-{i}"), "f", Trigger::Event))
            .unwrap();
    }
    p.sync().unwrap();
    assert_eq!(fs::read_dir(p.dir().join("runs")).unwrap().count(), 101);
    // At most 16 journal handles stay open (other tests' threads may open
    // a few files meanwhile: allow some slack, far below 100).
    let grown = open_fds().saturating_sub(before);
    assert!(grown <= 24, "{grown} more file descriptors open");
    // Events still reach old partitions (their files are reopened).
    for i in 0..=100u64 {
        p.attempt_succeeded(&format!("job-{i}"), 1).unwrap();
    }
    assert!(open_fds().saturating_sub(before) <= 24);
    drop(p);
    drop(store);
    let store = open(dir.path(), &c);
    let p = store.project("p").unwrap();
    let ok = p
        .count_runs(&RunQuery::new().all_time().status(RunStatus::Successful))
        .unwrap();
    assert_eq!(ok.total, 101);
}

#[test]
fn a_reader_hides_superseded_records_the_writer_appends_later() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let store = options(&c)
        .retry_policy(RetryPolicy {
            initial_delay: Duration::ZERO,
            ..RetryPolicy::default()
        })
        .open(dir.path())
        .unwrap();
    let p = store.project("p").unwrap();
    p.start_run(&NewRun::new("job-1", "f", Trigger::Event))
        .unwrap();
    p.append(&LogRecord::new(
        T0,
        Level::Error,
        "job-1",
        "attempt 1 failed",
    ))
    .unwrap();
    p.attempt_failed("job-1", 1, "boom").unwrap();
    assert_eq!(p.due_retries(T0).unwrap().len(), 1);
    p.append(&LogRecord::new(T0, Level::Info, "job-1", "attempt 2 ok").attempt(2))
        .unwrap();
    p.attempt_succeeded("job-1", 2).unwrap();
    let reader = options(&c).open_read_only(dir.path()).unwrap();
    let r = reader.project("p").unwrap();
    let q = Query::new().all_time();
    let contents = |p: &Project| -> Vec<String> {
        p.query(&q)
            .unwrap()
            .records
            .iter()
            .map(|s| s.record.content.to_string())
            .collect()
    };
    assert_eq!(contents(&r), ["attempt 2 ok"]);
    // Attempt 1's late lines arrive after the reader computed its hidden set.
    p.append(&LogRecord::new(
        T0,
        Level::Warn,
        "job-1",
        "attempt 1 late cleanup",
    ))
    .unwrap();
    p.append(&LogRecord::new(T0, Level::Info, "job-2", "another job"))
        .unwrap();
    for who in [&p, &r] {
        let mut got = contents(who);
        got.sort();
        assert_eq!(got, ["another job", "attempt 2 ok"]);
        assert_eq!(who.count(&q).unwrap().total, 2);
        assert_eq!(who.job_logs("job-1").unwrap().len(), 1);
    }
}
