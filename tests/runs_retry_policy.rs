//! Retry policies: a flow's own policy overrides the project's (no
//! retries, other delays, a cap on the delay), a decision already recorded
//! keeps its due time when the policy changes, and invalid policies are
//! refused without changing anything.

mod common;

use common::runs::*;
use common::*;
use runlog::{Error, NewRun, RetryPolicy, RunStatus, Trigger};

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
    let tickets = p.due_retries_at(now(&clock)).unwrap();
    assert_eq!(tickets.len(), 1);
    assert_eq!((tickets[0].job_id.as_str(), tickets[0].attempt), ("a", 2));
    let a = p.attempt_failed("a", 2, "again").unwrap();
    assert_eq!(a.status, RunStatus::Failed, "one retry only");

    // A decision already recorded keeps its due time when the policy changes.
    p.set_retry_policy(RetryPolicy::none()).unwrap();
    assert_eq!(run_of(&p, "c").next_retry, Some(T0.saturating_add(secs(7))));
    clock.set(T0.saturating_add(secs(7)));
    let t = p.due_retries_at(now(&clock)).unwrap();
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
    assert_eq!(p.due_retries_at(now(&clock)).unwrap().len(), 1);
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
