//! Run queries against a brute-force filter over 163 runs in every
//! combination of fields, statuses and triggers: each filter and preset,
//! paged through cursors (by their text form), counts per status,
//! scheduled tasks. Run cursors are checked: another query's filters and a
//! scheduled-tasks cursor are refused, altered text is invalid, and a
//! cursor keeps working after a reopen.

mod common;

use common::runs::*;
use common::*;
use runlog::{
    Error, MAX_LIMIT, NewRun, Preset, Project, Query, RetryPolicy, Run, RunCursor, RunQuery,
    RunStatus, TimeRange, Trigger,
};

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
            p.query_runs(&q).unwrap()
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
        let page = p.query_runs(&q.clone().limit(MAX_LIMIT)).unwrap();
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
        p.query_runs(&RunQuery::new().preset(Preset::Last15Minutes))
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
    let first = p.query_runs(&q).unwrap();
    assert_eq!(first.runs, all[..4]);
    let cursor = first.next.clone().unwrap();
    // The same query continues (a reopened store too).
    let second = p.query_runs(&q.clone().after(cursor.clone())).unwrap();
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
                p.query_runs(&other.after(cursor.clone())),
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
        p.query_runs(&q.clone().after(sc.clone())),
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
    assert_eq!(p.query_runs(&q.after(again)).unwrap().runs, all[4..8]);
}
