//! Helpers of the run tests (`runs_*.rs`): the run journal's files, run
//! lookups, checks of refused calls, logs of an attempt.

use std::fs;
use std::path::PathBuf;

use runlog::{
    Clock, Error, Level, LogRecord, MAX_LIMIT, ManualClock, Project, Run, RunQuery, RunStatus,
    Timestamp,
};

pub fn now(clock: &ManualClock) -> Timestamp {
    clock.now()
}

/// The project's run journal files, sorted.
pub fn journal_files(p: &Project) -> Vec<PathBuf> {
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
pub fn journal_len(p: &Project) -> u64 {
    journal_files(p)
        .iter()
        .map(|f| fs::metadata(f).unwrap().len())
        .sum()
}

/// The one journal file of the project.
pub fn the_journal(p: &Project) -> PathBuf {
    let files = journal_files(p);
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

/// Every run the project keeps, newest first.
pub fn all_runs(p: &Project) -> Vec<Run> {
    let page = p
        .query_runs(&RunQuery::new().all_time().limit(MAX_LIMIT))
        .unwrap();
    assert!(page.next.is_none());
    page.runs
}

pub fn run_of(p: &Project, job: &str) -> Run {
    p.run(job)
        .unwrap()
        .unwrap_or_else(|| panic!("no run {job}"))
}

pub fn states(p: &Project, jobs: &[&str]) -> Vec<Option<Run>> {
    jobs.iter().map(|j| p.run(j).unwrap()).collect()
}

/// Call `f`, which must be refused; check that neither the run of `job`,
/// nor any run, nor the journal changed. Returns the error.
#[track_caller]
pub fn refused<T: std::fmt::Debug>(
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
pub fn assert_transition(
    err: &Error,
    want_action: &str,
    want_status: RunStatus,
    want_attempt: u32,
) {
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
pub fn assert_unknown(err: &Error, job: &str) {
    assert!(
        matches!(err, Error::UnknownJob { job_id } if job_id == job),
        "expected UnknownJob({job}), got {err:?}"
    );
}

pub fn log(t: Timestamp, level: Level, job: &str, attempt: u32, n: u32) -> LogRecord {
    LogRecord::new(t, level, job, format!("{job} attempt {attempt} line {n}"))
        .flow("orders")
        .env("prod")
        .component("HTTP")
        .attempt(attempt)
}
