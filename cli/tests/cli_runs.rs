//! `runlog runs`, `scheduled` and `retry`: run listings by status,
//! trigger and flow, paged through the printed cursor, counts per status,
//! the last error on text lines; a requested retry needs the writer's lock
//! and a failed run, and the runtime then claims it as a manual attempt.
//!
//! The tool runs as a separate process against a store this test process
//! writes (and keeps open as its writer; see `fixture/mod.rs`), its
//! answers checked against the library's own.

#[path = "../../tests/common/mod.rs"]
mod common;
mod fixture;

use fixture::*;
use runlog::{Run, RunQuery, RunStatus, Store};

#[test]
fn runs_scheduled_counts() {
    let fx = Fixture::new();
    let p = fx.project();
    let all = RunQuery::new().all_time();

    let runs = fx.ok(&["runs", "--all", "--json"]);
    assert_eq!(
        run_job_ids(&runs.stdout),
        job_ids(&p.query_runs(&all).unwrap().runs)
    );
    assert_eq!(
        run_job_ids(&runs.stdout),
        [
            "job-failed",
            "job-retried",
            "job-event-running",
            "job-sched-ok"
        ]
    );

    let scheduled = fx.ok(&["scheduled", "--last", "2h", "--json"]);
    assert_eq!(
        run_job_ids(&scheduled.stdout),
        ["job-retried", "job-sched-ok"]
    );
    assert_eq!(
        run_job_ids(&scheduled.stdout),
        job_ids(&p.scheduled_tasks(&all).unwrap().runs)
    );

    let failed = fx.ok(&["runs", "--all", "--status", "failed", "--json"]);
    assert_eq!(run_job_ids(&failed.stdout), ["job-failed"]);
    let events = fx.ok(&["runs", "--all", "--trigger", "event", "--json"]);
    assert_eq!(
        run_job_ids(&events.stdout),
        ["job-failed", "job-event-running"]
    );
    let flow = fx.ok(&[
        "runs",
        "--all",
        "--flow",
        "webhook",
        "--status",
        "running,retrying",
        "--json",
    ]);
    assert_eq!(run_job_ids(&flow.stdout), ["job-event-running"]);

    // Paging through the printed cursor.
    let first = fx.ok(&["runs", "--all", "--limit", "3", "--json"]);
    assert_eq!(run_job_ids(&first.stdout).len(), 3);
    let cursor = first.cursor().expect("cursor");
    let rest = fx.ok(&[
        "runs", "--all", "--limit", "3", "--json", "--cursor", &cursor,
    ]);
    assert_eq!(run_job_ids(&rest.stdout), ["job-sched-ok"]);

    // Counts per status.
    let counts = p.count_runs(&all).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&fx.ok(&["runs", "--counts", "--all", "--json"]).stdout).unwrap();
    for s in RunStatus::ALL {
        assert_eq!(json[s.as_str()], counts.status(s), "{s}");
    }
    assert_eq!(json["total"], 4);
    assert_eq!(
        (
            counts.status(RunStatus::Successful),
            counts.status(RunStatus::Failed)
        ),
        (2, 1)
    );
    let text = fx.ok(&["runs", "--counts", "--all"]);
    assert!(
        text.stdout
            .lines()
            .any(|l| l.split_whitespace().eq(["successful", "2"]))
    );
    assert!(
        text.stdout
            .lines()
            .any(|l| l.split_whitespace().eq(["total", "4"]))
    );
    let sched: serde_json::Value =
        serde_json::from_str(&fx.ok(&["scheduled", "--counts", "--all", "--json"]).stdout).unwrap();
    assert_eq!(
        (sched["total"].as_u64(), sched["successful"].as_u64()),
        (Some(2), Some(2))
    );

    // Text lines carry the status and the last error.
    let text = fx.ok(&["runs", "--all", "--color", "never"]);
    let failed_line = text
        .stdout
        .lines()
        .find(|l| l.contains("job-failed"))
        .unwrap();
    assert!(failed_line.contains("failed") && failed_line.contains("HTTP 503 from invoices API"));
}

#[test]
fn retry_needs_the_writer_and_a_failed_run() {
    let mut fx = Fixture::new();

    // The test process holds the writer's lock: the library's Locked error.
    let locked = fx.run(&["retry", "job-failed"]);
    locked.assert_one_line_error(1, "retry while locked");
    assert!(locked.stderr.contains("locked"), "{}", locked.stderr);

    fx.close_writer();
    let r = fx.ok(&["retry", "job-failed", "--json"]);
    let run: Run = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(
        (run.job_id.as_str(), run.status, run.retry_requested),
        ("job-failed", RunStatus::Retrying, true)
    );
    let text = fx.run(&["retry", "job-failed"]);
    text.assert_one_line_error(1, "a second request");
    assert!(text.stderr.contains("retrying"), "{}", text.stderr);

    let not_failed = fx.run(&["retry", "job-sched-ok"]);
    not_failed.assert_one_line_error(1, "retry of a successful run");
    assert!(
        not_failed.stderr.contains("successful"),
        "{}",
        not_failed.stderr
    );
    fx.run(&["retry", "job-nope"])
        .assert_one_line_error(1, "retry of an unknown job");

    // The runtime, back, claims the requested retry as a manual attempt.
    let store = Store::open(fx.path()).unwrap();
    let p = store.project(PROJECT).unwrap();
    let tickets = p
        .due_retries_at(runlog::Clock::now(&runlog::SystemClock))
        .unwrap();
    let mine: Vec<_> = tickets
        .iter()
        .filter(|t| t.job_id == "job-failed")
        .map(|t| (t.attempt, t.manual, t.flow.as_str()))
        .collect();
    assert_eq!(mine, [(2, true, "push-invoices")]);
    let run = p.run("job-failed").unwrap().unwrap();
    assert_eq!((run.status, run.attempt()), (RunStatus::Running, 2));
    assert!(run.attempts[1].manual && !run.retry_requested);
    drop(p);
    drop(store);
    let running = fx.ok(&["runs", "--all", "--status", "running", "--json"]);
    assert!(
        run_job_ids(&running.stdout).contains(&"job-failed".to_string()),
        "{}",
        running.stdout
    );
}
