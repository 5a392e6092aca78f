//! The run lifecycle under the default retry policy: a run started and
//! succeeded; failures retried with backoff (5 s, 10 s, 20 s) until the
//! policy is exhausted, each due retry handed out once, as the ticket of
//! the next attempt; due retries handed out soonest first. Every test
//! moves the injected clock; none sleeps.

mod common;

use common::runs::*;
use common::*;
use runlog::{
    Attempt, AttemptTicket, NewRun, Outcome, RetryPolicy, Run, RunQuery, RunStatus, Timestamp,
    Trigger,
};

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
        p.due_retries_at(T0.saturating_add(secs(DAY)))
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
        assert!(p.due_retries_at(failed_at).unwrap().is_empty());
        assert!(p.due_retries_at(before_due).unwrap().is_empty());
        assert_eq!(p.run("job-1").unwrap().as_ref(), Some(&run));

        // Due: exactly one ticket, for the next attempt.
        clock.set(due);
        let tickets = p.due_retries_at(due).unwrap();
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
        assert!(p.due_retries_at(due).unwrap().is_empty(), "claimed once");
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
        p.due_retries_at(end.saturating_add(secs(DAY)))
            .unwrap()
            .is_empty()
    );
    let c = p.count_runs(&RunQuery::new()).unwrap();
    assert_eq!((c.total, c.status(RunStatus::Failed)), (1, 1));
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
        .due_retries_at(at(40))
        .unwrap()
        .into_iter()
        .map(|t| {
            assert_eq!(t.start, at(40));
            t.job_id.to_string()
        })
        .collect();
    assert_eq!(order, ["f", "d", "s"]);
}
