//! Manual retries: a run that used up its automatic retries is retried by
//! hand (the ticket of a manual attempt, handed out once); automatic
//! retries start over if that attempt fails, and a success supersedes
//! every failed attempt. With no automatic retries, a run can be retried
//! by hand again and again.

mod common;

use common::runs::*;
use common::*;
use runlog::{
    AttemptTicket, ManualClock, NewRun, Outcome, Project, RetryPolicy, RunStatus, Trigger,
};

/// Fail `job` through the default policy until it is Failed (4 attempts).
fn exhaust(p: &Project, clock: &ManualClock, job: &str) {
    for attempt in 1..=4 {
        let run = p.attempt_failed(job, attempt, "down").unwrap();
        if attempt < 4 {
            clock.set(run.next_retry.unwrap());
            let t = p.due_retries_at(now(clock)).unwrap();
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
    let ticket = p.start_retry("job").unwrap();
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
        &p.start_retry("job").unwrap_err(),
        "retry manually",
        RunStatus::Running,
        5,
    );
    assert!(
        p.due_retries_at(at.saturating_add(secs(DAY)))
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
    let t = p.due_retries_at(now(&clock)).unwrap();
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
    let t = p.start_retry("job").unwrap();
    assert_eq!((t.attempt, t.manual), (2, true));
    // The manual attempt fails too: with no retries, Failed again, and it
    // can be retried by hand again.
    assert_eq!(
        p.attempt_failed("job", 2, "y").unwrap().status,
        RunStatus::Failed
    );
    let t = p.start_retry("job").unwrap();
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
