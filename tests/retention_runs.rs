//! Retention and retries together: records and runs past the horizon are
//! absent from every read API (also while their segment still exists, and
//! after reopen); backoff timing, one claim per retry, a successful retry
//! hiding the failure, manual and requested retries.
mod common;

use common::{T0, options as opts, secs};
use runlog::*;
use std::time::Duration;

/// Retention 1 day, 1 h partitions. Records and runs at T0 - 1 day + 10 min
/// (partition start at -1d, so partially expired after advancing 20 min).
#[test]
fn q1_everything_past_horizon_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let c = ManualClock::new(T0);
    let s = opts(&c).retention(secs(86_400)).open(dir.path()).unwrap();
    let p = s.project("x").unwrap();
    // Partition-aligned base.
    let base = Timestamp::from_secs(1_700_000_000 / 3600 * 3600 + 600);
    c.set(base);
    let old = p
        .append(&LogRecord::new(base, Level::Error, "old-job", "old").detail("d"))
        .unwrap();
    p.start_run(&NewRun::new("old-job", "f", Trigger::Scheduler).env("prod"))
        .unwrap();
    p.attempt_failed("old-job", 1, "boom").unwrap();
    // later record in the same partition, stays
    let t_new = base.saturating_add(secs(1200));
    c.set(t_new);
    let newer = p
        .append(&LogRecord::new(t_new, Level::Info, "new-job", "new"))
        .unwrap();
    p.start_run(&NewRun::new("new-job", "f", Trigger::Scheduler).env("prod"))
        .unwrap();
    let mut fol = p.follow(&Query::new()).unwrap();
    // a record appended now, at the old time? Not allowed to be older than horizon later.
    // Advance so that `base` is past the horizon but t_new is not.
    c.set(base.saturating_add(secs(86_400 + 600)));
    assert!(p.get(old).unwrap().is_none());
    assert!(p.get(newer).unwrap().is_some());
    assert!(p.job_logs("old-job").unwrap().is_empty());
    assert!(
        p.job_logs_including_superseded("old-job")
            .unwrap()
            .is_empty()
    );
    assert!(p.run("old-job").unwrap().is_none());
    let all = RunQuery::new().all_time();
    let runs = p.query_runs(&all).unwrap().runs;
    assert_eq!(
        runs.iter()
            .map(|r| r.job_id.to_string())
            .collect::<Vec<_>>(),
        vec!["new-job"]
    );
    assert_eq!(p.scheduled_tasks(&all).unwrap().runs.len(), 1);
    assert_eq!(
        p.scheduled_tasks(&RunQuery::new().all_time().job_id("old-job"))
            .unwrap()
            .runs
            .len(),
        0
    );
    assert_eq!(p.count_runs(&all).unwrap().total, 1);
    assert!(p.due_retries_at(Timestamp::MAX).unwrap().is_empty());
    let st = p.stats().unwrap();
    assert_eq!(st.records, 1);
    assert_eq!(st.runs, 1);
    assert_eq!(st.oldest, Some(t_new));
    assert_eq!(st.newest, Some(t_new));
    assert_eq!(st.by_level, [0, 1, 0, 0]);
    let b = p.execution_bundle("old-job").unwrap();
    assert!(b.run.is_none() && b.logs.is_empty(), "{b:?}");
    let q = p.query(&Query::new().all_time()).unwrap();
    assert_eq!(q.records.len(), 1);
    assert_eq!(p.count(&Query::new().all_time()).unwrap().total, 1);
    assert_eq!(
        p.count(&Query::new().all_time().bucket(secs(3600)))
            .unwrap()
            .buckets
            .iter()
            .map(|b| b.1)
            .sum::<u64>(),
        1
    );
    let batch = fol.next_batch(Duration::ZERO).unwrap();
    assert!(batch.is_empty());
    let mut out = Vec::new();
    let n = p
        .export(
            &Query::new().all_time(),
            runlog::ExportOptions::new(ExportFormat::JsonLines).details(true),
            &mut out,
            |_| {},
        )
        .unwrap();
    assert_eq!(n.records, 1);
    // Attempting transitions on the expired run: unknown job.
    assert!(matches!(
        p.start_retry("old-job"),
        Err(Error::UnknownJob { .. })
    ));
    assert!(matches!(
        p.attempt_succeeded("old-job", 1),
        Err(Error::UnknownJob { .. }) | Err(Error::InvalidTransition { .. })
    ));
    // Reopen: same answers.
    drop(fol);
    drop(p);
    drop(s);
    let s = opts(&c).retention(secs(86_400)).open(dir.path()).unwrap();
    let p = s.project("x").unwrap();
    assert!(p.get(old).unwrap().is_none());
    assert!(p.run("old-job").unwrap().is_none());
    assert_eq!(p.stats().unwrap().records, 1);
    assert_eq!(p.stats().unwrap().runs, 1);
    // Retention deletes nothing inside the horizon.
    c.set(t_new.saturating_add(secs(86_400)));
    p.enforce_retention().unwrap();
    assert!(p.get(newer).unwrap().is_some());
    assert!(p.run("new-job").unwrap().is_some());
}

#[test]
fn q2_retry_machine() {
    let dir = tempfile::tempdir().unwrap();
    let c = ManualClock::new(T0);
    let s = opts(&c).open(dir.path()).unwrap();
    let p = s.project("x").unwrap();
    p.start_run(&NewRun::new("j", "f", Trigger::Scheduler))
        .unwrap();
    p.append(&LogRecord::new(c.now(), Level::Error, "j", "a1 failed"))
        .unwrap();
    let r = p.attempt_failed("j", 1, "e1").unwrap();
    assert_eq!(r.status, RunStatus::Retrying);
    assert_eq!(r.next_retry, Some(T0.saturating_add(secs(5))));
    assert!(matches!(
        p.start_retry("j"),
        Err(Error::InvalidTransition { .. })
    ));
    assert!(matches!(
        p.request_retry("j"),
        Err(Error::InvalidTransition { .. })
    ));
    assert!(p.due_retries_at(c.now()).unwrap().is_empty());
    c.advance(secs(5));
    let t = p.due_retries_at(c.now()).unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].attempt, 2);
    assert!(p.due_retries_at(c.now()).unwrap().is_empty());
    p.append(&LogRecord::new(c.now(), Level::Info, "j", "a2 ok").attempt(2))
        .unwrap();
    let r = p.attempt_succeeded("j", 2).unwrap();
    assert_eq!(r.status, RunStatus::Successful);
    assert!(r.attempts[0].superseded);
    let cnt = p.count_runs(&RunQuery::new().all_time()).unwrap();
    assert_eq!(cnt.status(RunStatus::Failed), 0);
    assert_eq!(cnt.status(RunStatus::Successful), 1);
    let q = p.query(&Query::new().all_time()).unwrap();
    assert_eq!(q.records.len(), 1);
    assert_eq!(p.count(&Query::new().all_time()).unwrap().total, 1);
    assert_eq!(
        p.count(&Query::new().all_time().level(Level::Error))
            .unwrap()
            .total,
        0
    );
    assert_eq!(
        p.query(&Query::new().all_time().include_superseded(true))
            .unwrap()
            .records
            .len(),
        2
    );
    assert_eq!(p.job_logs("j").unwrap().len(), 1);
    let b = p.execution_bundle("j").unwrap();
    assert_eq!(b.logs.len(), 2);
    assert_eq!(b.logs.iter().filter(|l| l.superseded).count(), 1);
    let st = p.stats().unwrap();
    assert_eq!(st.records, 2);
    assert_eq!(st.runs_by_status[RunStatus::Successful.code() as usize], 1);
    assert!(matches!(
        p.start_retry("j"),
        Err(Error::InvalidTransition { .. })
    ));
    // Reopen
    drop(p);
    drop(s);
    let s = opts(&c).open(dir.path()).unwrap();
    let p = s.project("x").unwrap();
    assert_eq!(p.query(&Query::new().all_time()).unwrap().records.len(), 1);
    assert_eq!(p.run("j").unwrap().unwrap().status, RunStatus::Successful);
}

#[test]
fn q3_exhaust_then_manual_then_requested() {
    let dir = tempfile::tempdir().unwrap();
    let c = ManualClock::new(T0);
    let s = opts(&c)
        .retry_policy(RetryPolicy {
            max_retries: 2,
            initial_delay: secs(10),
            multiplier: 3.0,
            max_delay: secs(20),
        })
        .open(dir.path())
        .unwrap();
    let p = s.project("x").unwrap();
    p.start_run(&NewRun::new("j", "f", Trigger::Event)).unwrap();
    let r = p.attempt_failed("j", 1, "e").unwrap();
    assert_eq!(r.next_retry, Some(c.now().saturating_add(secs(10))));
    c.advance(secs(10));
    assert_eq!(p.due_retries_at(c.now()).unwrap()[0].attempt, 2);
    let r = p.attempt_failed("j", 2, "e").unwrap();
    assert_eq!(r.next_retry, Some(c.now().saturating_add(secs(20))));
    c.advance(secs(20));
    assert_eq!(p.due_retries_at(c.now()).unwrap()[0].attempt, 3);
    let r = p.attempt_failed("j", 3, "e").unwrap();
    assert_eq!(r.status, RunStatus::Failed);
    let t = p.start_retry("j").unwrap();
    assert_eq!((t.attempt, t.manual), (4, true));
    let r = p.attempt_failed("j", 4, "e").unwrap();
    assert_eq!(r.status, RunStatus::Retrying);
    assert_eq!(r.next_retry, Some(c.now().saturating_add(secs(10))));
    c.advance(secs(10));
    p.due_retries_at(c.now()).unwrap();
    p.attempt_failed("j", 5, "e").unwrap();
    c.advance(secs(20));
    p.due_retries_at(c.now()).unwrap();
    assert_eq!(
        p.attempt_failed("j", 6, "e").unwrap().status,
        RunStatus::Failed
    );
    let r = p.request_retry("j").unwrap();
    assert_eq!(r.status, RunStatus::Retrying);
    drop(p);
    drop(s);
    let s = opts(&c).open(dir.path()).unwrap();
    let p = s.project("x").unwrap();
    let t = p.due_retries_at(c.now()).unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].attempt, t[0].manual), (7, true));
    p.append(&LogRecord::new(c.now(), Level::Info, "j", "ok").attempt(7))
        .unwrap();
    let r = p.attempt_succeeded("j", 7).unwrap();
    assert!(r.attempts[..6].iter().all(|a| a.superseded));
}
