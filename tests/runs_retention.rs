//! Retention of runs: runs past the horizon are gone from every read
//! before retention is enforced, and their journal files deleted when it
//! is (also in a project with no logs, where the next run event enforces
//! it); the job ID of a forgotten run can be used again. One journal file
//! per partition, and only a few of them kept open.

mod common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use common::runs::*;
use common::*;
use runlog::{NewRun, Preset, Project, RunQuery, RunStatus, Trigger};

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
        assert_unknown(&p.start_retry(job).unwrap_err(), job);
    }
    assert!(p.due_retries_at(now(&clock)).unwrap().is_empty());
    let fresh = now(&clock);
    p.start_run(&NewRun::new("new", "f", Trigger::Event))
        .unwrap();
    let listed =
        |p: &Project| -> Vec<String> { all_runs(p).iter().map(|r| r.job_id.to_string()).collect() };
    assert_eq!(listed(&p), ["new", "day-later"]);
    assert_eq!(p.count_runs(&RunQuery::new().all_time()).unwrap().total, 2);
    assert!(
        p.query_runs(&RunQuery::new().preset(Preset::Last30Days))
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
    assert!(p.due_retries_at(now(&clock)).unwrap().is_empty());
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
