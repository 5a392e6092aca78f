//! A read-only store beside the writer: it follows the writer's runs (new
//! journal files included) and the logs of retried jobs, refuses every
//! lifecycle call without changing anything, and hides records of a
//! superseded attempt that the writer appends after it worked out what to
//! hide.

mod common;

use std::time::Duration;

use common::runs::*;
use common::*;
use runlog::{
    Error, Level, LogRecord, NewRun, Project, Query, RetryPolicy, RunQuery, RunStatus, Trigger,
};

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
    assert_eq!(w.due_retries_at(now(&clock)).unwrap().len(), 1);
    w.attempt_succeeded("a", 2).unwrap();
    w.sync().unwrap();
    assert_eq!(r.run("a").unwrap(), w.run("a").unwrap());
    assert_eq!(run_of(&r, "a").status, RunStatus::Successful);
    let logs = r.job_logs("a").unwrap();
    assert_eq!(logs.len(), 1, "the superseded attempt's log is hidden");
    assert_eq!(logs[0].record.attempt, 2);
    assert_eq!(r.job_logs_including_superseded("a").unwrap().len(), 2);
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
    ro(r.start_retry("b").map(drop), "retry manually");
    ro(r.due_retries_at(now(&clock)).map(drop), "due retries");
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
    assert_eq!(p.due_retries_at(T0).unwrap().len(), 1);
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
