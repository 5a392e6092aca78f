//! Faults while sealing a segment whose partition is over: a short write
//! of the index or the seal block, or a failed rename, leaves the segment
//! active, whole and readable, and sealing is retried (by the next
//! maintenance or by reopening); a failed directory sync after the
//! renames leaves the seal standing; a failed `fsync` of the index
//! poisons the writer until a reopen, which seals. Without any failpoint
//! configured, nothing fails.
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
use runlog::{SavedRange, SyncPolicy};

/// A store with records in one segment whose partition (and grace) is
/// over, so that `seal_due` seals it.
fn due_for_sealing() -> Env {
    let mut env = Env::new(SyncPolicy::Manual);
    for i in 0..20 {
        env.append_ok(i);
    }
    env.clock.advance(secs(3600));
    env
}

#[test]
fn short_index_or_seal_block_write_while_sealing_is_retried() {
    for name in ["segment::seal::index", "segment::seal::block"] {
        let _fp = FailScenario::setup();
        let mut env = due_for_sealing();
        let (wal, _) = env.the_segment();
        let before = len(&wal);
        let files = env.files();

        cfg(name, "return(enospc)");
        for _ in 0..2 {
            let e = env.p().seal_due().unwrap_err();
            assert_eq!(os_error(&e), Some(ENOSPC), "{name}: {e:?}");
            // Still active and whole: no seal block, no index left behind.
            assert_eq!(env.the_segment(), (wal.clone(), false), "{name}");
            assert_eq!(len(&wal), before, "{name}");
            assert_eq!(env.files(), files, "{name}");
            env.check();
        }
        // A late record still goes to the active segment.
        env.append(&[rec(T0, 100)]).unwrap();

        // Space is back: the next maintenance seals it.
        fail::remove(name);
        env.p().seal_due().unwrap();
        let (seg, sealed) = env.the_segment();
        assert!(sealed && seg.extension().unwrap() == "seg", "{name}");
        env.check();

        env.reopen();
        assert!(env.the_segment().1, "{name}");
        env.check();
    }
}

#[test]
fn failed_rename_while_sealing_is_retried() {
    for name in ["segment::seal::rename_index", "segment::seal::rename"] {
        for retry_by_reopening in [false, true] {
            let _fp = FailScenario::setup();
            let mut env = due_for_sealing();
            let (wal, _) = env.the_segment();
            let before = len(&wal);

            cfg(name, "return");
            let e = env.p().seal_due().unwrap_err();
            assert_eq!(os_error(&e), Some(EIO), "{name}: {e:?}");
            assert_eq!(env.the_segment(), (wal.clone(), false), "{name}");
            assert_eq!(len(&wal), before, "{name}: the seal block was cut off");
            assert!(
                !env.files().iter().any(|f| f.ends_with(".tmp")),
                "{name}: {:?}",
                env.files()
            );
            env.check();
            env.append(&[rec(T0, 100)]).unwrap();
            env.check();
            fail::remove(name);

            if retry_by_reopening {
                // Opening seals what is due.
                env.reopen();
            } else {
                env.p().seal_due().unwrap();
            }
            assert!(env.the_segment().1, "{name}");
            env.check();
            env.reopen();
            assert!(env.the_segment().1, "{name}");
            env.check();
        }
    }
}

#[test]
fn failed_directory_sync_after_sealing_renames() {
    let _fp = FailScenario::setup();
    let mut env = due_for_sealing();

    // The renames are done and the data synced before the directory sync:
    // the seal stands (should a power loss undo a rename, recovery
    // completes the seal or rebuilds the index).
    cfg("fs::sync_dir", "return");
    env.p().seal_due().unwrap();
    fail::remove("fs::sync_dir");
    let (seg, sealed) = env.the_segment();
    assert!(sealed && seg.extension().unwrap() == "seg");
    env.check();

    env.reopen();
    assert!(env.the_segment().1);
    env.check();
    env.append_ok(50);
    env.check();
}

#[test]
fn failed_fsync_while_sealing_poisons_until_reopen() {
    let _fp = FailScenario::setup();
    let mut env = due_for_sealing();
    let (wal, _) = env.the_segment();

    cfg("segment::seal::sync", "return");
    let e = env.p().seal_due().unwrap_err();
    fail::remove("segment::seal::sync");
    let tmp_index = wal.with_extension("idx.tmp");
    assert_poisoned(&e, &tmp_index);
    assert_eq!(env.the_segment(), (wal.clone(), false));
    assert!(!tmp_index.exists());
    assert_poisoned(&env.append(&[rec(T0, 100)]).unwrap_err(), &tmp_index);
    assert_poisoned(&env.p().seal_due().unwrap_err(), &tmp_index);
    env.check();

    // Opening seals what is due.
    env.reopen();
    assert!(env.the_segment().1);
    env.check();
    env.append_ok(50);
    env.check();
}

/// Without any failpoint configured, nothing fails (the helpers are plain
/// calls).
#[test]
fn nothing_fails_without_a_configured_failpoint() {
    let _fp = FailScenario::setup();
    let mut env = due_for_sealing();
    env.p().start_run(&new_run("job-1")).unwrap();
    env.p().sync().unwrap();
    env.p().seal_due().unwrap();
    env.p()
        .save_preset("hour", SavedRange::Last(secs(3600)))
        .unwrap();
    env.check();
    env.reopen();
    assert!(env.the_segment().1);
    assert_eq!(all_runs(env.p()).len(), 1);
    env.check();
}
