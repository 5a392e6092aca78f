//! Lifecycle calls that do not fit the run's state are refused with a
//! typed error and change nothing (neither the run, nor any other, nor the
//! journal, also after a reopen): succeeding or failing a run that is not
//! running, or with another attempt number; retrying by hand a run that
//! did not fail; unknown jobs; a job ID already used; fields over their
//! limits; trigger times past the retention horizon or too far ahead. A
//! refused first run leaves no journal; an error message over the limit
//! is cut at a character boundary.

mod common;

use common::runs::*;
use common::*;
use runlog::{
    Error, Field, MAX_ERROR_BYTES, MAX_JOB_ID_BYTES, MAX_NAME_BYTES, NewRun, RetryPolicy,
    RunStatus, Trigger,
};

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
    assert_eq!(p.due_retries_at(now(&clock)).unwrap().len(), 2);
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
        let e = refused(&p, job, || p.start_retry(job));
        assert_transition(&e, "retry manually", status, attempt);
    }

    // Unknown jobs.
    for job in ["nope", "", "RUNNING"] {
        assert_unknown(&refused(&p, job, || p.attempt_succeeded(job, 1)), job);
        assert_unknown(&refused(&p, job, || p.attempt_failed(job, 1, "x")), job);
        assert_unknown(&refused(&p, job, || p.start_retry(job)), job);
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
