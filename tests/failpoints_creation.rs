//! A failed directory sync while creating a file or a directory: a new
//! run journal whose creation failed is not left in the way, and creating
//! it again works; opening a new project fails (typed), and works once the
//! fault is gone.
//!
//! Needs the `failpoints` feature (`cargo test --all-features`); the
//! failpoints, and how each test holds them, are listed in
//! `tests/common/failpoints.rs`. No test sleeps: the clock is a
//! `ManualClock`.

mod common;
#[path = "common/failpoints.rs"]
mod failpoints;

use common::*;
use fail::FailScenario;
use failpoints::*;
use runlog::SyncPolicy;

#[test]
fn failed_journal_creation_is_retried() {
    let _fp = FailScenario::setup();
    let mut env = Env::new(SyncPolicy::Always);
    env.p().start_run(&new_run("job-1")).unwrap();
    let journal = the_journal(env.p());
    // A run of the previous partition needs a new journal file, whose
    // directory sync fails: the half-created file must not stay in the way.
    let earlier = new_run("job-0").triggered_at(T0.saturating_sub(secs(3600)));
    cfg("fs::sync_dir", "return");
    for _ in 0..2 {
        let e = env.p().start_run(&earlier).unwrap_err();
        assert_eq!(os_error(&e), Some(EIO), "{e:?}");
    }
    fail::remove("fs::sync_dir");
    assert_eq!(all_runs(env.p()).len(), 1);
    assert_eq!(the_journal(env.p()), journal);
    env.p().start_run(&earlier).unwrap();
    assert_eq!(all_runs(env.p()).len(), 2);
    env.check();
    env.reopen();
    assert_eq!(all_runs(env.p()).len(), 2);
    env.check();
}

/// A new project's directory entry is synced into its parent; when that
/// sync fails, opening the project fails (typed), and opening it again
/// once the fault is gone works.
#[test]
fn failed_directory_sync_while_creating_a_project() {
    let _fp = FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    cfg("fs::sync_dir", "return");
    let e = store.project("fresh").unwrap_err();
    assert_eq!(os_error(&e), Some(EIO), "{e:?}");
    fail::remove("fs::sync_dir");
    let p = store.project("fresh").unwrap();
    p.append(&rec(T0, 1)).unwrap();
    assert_eq!(all(&p).len(), 1);
}
