//! Injected I/O faults: a failed `fsync`, a short write on a full disk, a
//! failed rename or directory sync while sealing, a failed presets write.
//! Each test proves what the caller sees, that reads never return anything
//! half-written, and that the store recovers: without reopening once the
//! fault is gone (short writes, renames), or by reopening (a failed fsync
//! poisons the writer).
//!
//! Run with:
//!
//! ```text
//! cargo test --features failpoints --test failpoints
//! ```
//!
//! The failpoints (see `src/fs.rs` for the helpers; `return` fails with
//! EIO, `return(enospc)` with ENOSPC; a short write writes half its buffer
//! first, then fails with ENOSPC):
//!
//! | name | where | fault |
//! |---|---|---|
//! | `segment::append` | `ActiveSegment::write` | short write of the frames of an append |
//! | `segment::sync` | `ActiveSegment::sync` (`SyncPolicy::Always`), `ActiveSegment::take_dirty` (`Project::sync`) | failed `fsync` |
//! | `segment::seal::index` | `ActiveSegment::seal` | short write of the `.idx.tmp` index |
//! | `segment::seal::block` | `ActiveSegment::seal` | short write of the seal block |
//! | `segment::seal::sync` | `ActiveSegment::seal` | failed `fsync` of the index |
//! | `segment::seal::rename_index` | `ActiveSegment::seal` | failed rename `.idx.tmp` → `.idx` |
//! | `segment::seal::rename` | `ActiveSegment::seal` | failed rename `.wal` → `.seg` |
//! | `cuts` | `Cuts::record` (after an active segment or a run journal is cut back) | failed write of the cut count |
//! | `cuts::log` | `Cuts::record` | failed write of the cut's entry in the cut log |
//! | `project::looked` | `Core::search`, between a read-only look and the reads of a query | none: a place to `pause` |
//! | `journal::append` | `JournalFile::write` | short write of a run-journal frame |
//! | `journal::written` | `Ledger::write_event` (`Always`), between the write and the `fsync` | none: a place to `pause` |
//! | `journal::sync` | `Ledger::record` (`Always`), `Ledger::sync` (`Project::sync`) | failed `fsync` |
//! | `fs::sync_dir` | `fs::sync_dir` (every directory sync) | failed directory `fsync` |
//! | `fs::write_atomic::write` | `fs::write_atomic` (presets, store metadata, rebuilt indexes) | short write of the temporary file |
//! | `fs::write_atomic::rename` | `fs::write_atomic` | failed rename over the target |
//!
//! Failpoints are global to the process: every test holds a
//! [`FailScenario`], whose global lock runs the tests one at a time, and
//! which clears every failpoint when dropped (also when a test panics).
//! No test sleeps: the clock is a [`ManualClock`].

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use fail::FailScenario;
use runlog::{
    Error, Level, LogRecord, ManualClock, NewRun, Project, Query, RecordId, Run, RunQuery,
    SavedRange, Store, StoreOptions, SyncPolicy, Trigger,
};

/// A store with project `p`, and what it acknowledged.
struct Env {
    dir: tempfile::TempDir,
    clock: ManualClock,
    policy: SyncPolicy,
    store: Option<Store>,
    p: Option<Project>,
    /// Every record whose append returned `Ok`, with its ID.
    acked: Vec<(RecordId, LogRecord)>,
}

impl Env {
    fn new(policy: SyncPolicy) -> Env {
        let mut env = Env {
            dir: tempfile::tempdir().unwrap(),
            clock: clock(),
            policy,
            store: None,
            p: None,
            acked: Vec::new(),
        };
        env.reopen();
        env
    }

    fn p(&self) -> &Project {
        self.p.as_ref().unwrap()
    }

    /// Close the store (a crash, as far as the files go: nothing is
    /// written on close under these policies) and open it again.
    fn reopen(&mut self) {
        self.p = None;
        self.store = None;
        let store = StoreOptions::new()
            .clock(self.clock.clone())
            .sync_policy(self.policy)
            .open(self.dir.path())
            .unwrap();
        self.p = Some(store.project("p").unwrap());
        self.store = Some(store);
    }

    /// Append `records` in one batch; remember them if acknowledged.
    fn append(&mut self, records: &[LogRecord]) -> runlog::Result<()> {
        let ids = self.p().append_batch(records)?;
        self.acked
            .extend(ids.into_iter().zip(records.iter().cloned()));
        Ok(())
    }

    /// Append record `i` (below 600) at `T0 - 600 s + i s`, in the
    /// partition of `T0`, which must succeed.
    fn append_ok(&mut self, i: u64) {
        let r = rec(T0.saturating_sub(secs(600)).saturating_add(secs(i)), i);
        self.append(&[r]).unwrap();
    }

    /// Reads return exactly the acknowledged records (with details),
    /// through a scan, a query, a count and an indexed query, and
    /// `verify` finds nothing wrong.
    fn check(&self) {
        let p = self.p();
        let mut read: Vec<(RecordId, LogRecord)> = all(p)
            .into_iter()
            .map(|s| (s.id, p.get(s.id).unwrap().expect("listed record").record))
            .collect();
        read.sort_by_key(|(id, _)| *id);
        let mut want = self.acked.clone();
        want.sort_by_key(|(id, _)| *id);
        assert_eq!(read, want);
        let q = Query::new().all_time().limit(1000);
        assert_eq!(p.query(&q).unwrap().records.len(), want.len());
        assert_eq!(p.count(&q).unwrap().total, want.len() as u64);
        let errors = want.iter().filter(|(_, r)| r.level == Level::Error).count();
        let q = q.level(Level::Error);
        assert_eq!(p.query(&q).unwrap().records.len(), errors);
        assert_eq!(p.count(&q).unwrap().total, errors as u64);
        let report = p.verify().unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert!(p.damage().is_empty(), "{:?}", p.damage());
    }

    /// The project's one segment: its path and whether it is sealed.
    fn the_segment(&self) -> (PathBuf, bool) {
        let segs = self.p().segments().unwrap();
        assert_eq!(segs.len(), 1, "{segs:?}");
        (segs[0].path.clone(), segs[0].sealed)
    }

    /// Names of the files in the project directory, sorted.
    fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.p().dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

fn cfg(name: &str, actions: &str) {
    fail::cfg(name, actions).unwrap();
}

/// The OS error under an [`Error::Io`].
fn os_error(e: &Error) -> Option<i32> {
    match e {
        Error::Io { source, .. } => source.raw_os_error(),
        _ => None,
    }
}

const EIO: i32 = 5;
const ENOSPC: i32 = 28;

/// `e` is [`Error::Poisoned`] naming `path`, and says so.
fn assert_poisoned(e: &Error, path: &Path) {
    match e {
        Error::Poisoned { path: p, .. } => assert_eq!(p, path, "{e}"),
        other => panic!("expected Poisoned naming {}, got {other:?}", path.display()),
    }
    let msg = e.to_string();
    assert!(
        msg.contains(&path.display().to_string()) && msg.contains("reopen the store"),
        "{msg}"
    );
}

fn len(path: &Path) -> u64 {
    fs::metadata(path).unwrap().len()
}

fn new_run(job: &str) -> NewRun {
    NewRun::new(job, "sync-orders", Trigger::Event).env("prod")
}

fn all_runs(p: &Project) -> Vec<Run> {
    p.runs(&RunQuery::new().all_time().limit(1000))
        .unwrap()
        .runs
}

/// The project's one run-journal file.
fn the_journal(p: &Project) -> PathBuf {
    let files: Vec<PathBuf> = fs::read_dir(p.dir().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|f| f.extension().is_some_and(|x| x == "runs"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

// 1. A failed fsync poisons the writer until the store is reopened.

#[test]
fn failed_segment_fsync_under_always_poisons_until_reopen() {
    let _fp = FailScenario::setup();
    let mut env = Env::new(SyncPolicy::Always);
    env.append_ok(0);
    env.append_ok(1);
    let (seg, _) = env.the_segment();
    let before = len(&seg);

    cfg("segment::sync", "return");
    let e = env.append(&[rec(T0, 2)]).unwrap_err();
    assert_poisoned(&e, &seg);
    // The unsynced frames were cut off, not acknowledged.
    assert_eq!(len(&seg), before);
    fail::remove("segment::sync");

    // Writes stay refused, with the same error; reads keep working.
    for _ in 0..2 {
        assert_poisoned(&env.append(&[rec(T0, 3)]).unwrap_err(), &seg);
    }
    assert_poisoned(&env.p().sync().unwrap_err(), &seg);
    assert_poisoned(&env.p().seal_due().unwrap_err(), &seg);
    env.check();

    env.reopen();
    env.check();
    env.append_ok(4);
    env.check();
}

#[test]
fn failed_segment_fsync_in_project_sync_poisons_until_reopen() {
    let _fp = FailScenario::setup();
    let mut env = Env::new(SyncPolicy::Manual);
    for i in 0..5 {
        env.append_ok(i);
    }
    let (seg, _) = env.the_segment();

    cfg("segment::sync", "return");
    assert_poisoned(&env.p().sync().unwrap_err(), &seg);
    fail::remove("segment::sync");

    assert_poisoned(&env.append(&[rec(T0, 5)]).unwrap_err(), &seg);
    assert_poisoned(&env.p().sync().unwrap_err(), &seg);
    // Acknowledged appends are all readable.
    env.check();

    env.reopen();
    env.check();
    env.append_ok(6);
    env.p().sync().unwrap();
    env.check();
}

#[test]
fn failed_journal_fsync_under_always_poisons_run_events_until_reopen() {
    let _fp = FailScenario::setup();
    let mut env = Env::new(SyncPolicy::Always);
    env.p().start_run(&new_run("job-1")).unwrap();
    let journal = the_journal(env.p());
    let before = len(&journal);

    cfg("journal::sync", "return");
    assert_poisoned(&env.p().start_run(&new_run("job-2")).unwrap_err(), &journal);
    assert_eq!(len(&journal), before, "the unsynced event was cut off");
    fail::remove("journal::sync");

    assert_poisoned(&env.p().start_run(&new_run("job-3")).unwrap_err(), &journal);
    assert_poisoned(
        &env.p().attempt_failed("job-1", 1, "boom").unwrap_err(),
        &journal,
    );
    assert_poisoned(&env.p().sync().unwrap_err(), &journal);
    // Reads keep working: only the acknowledged run is there.
    let runs = all_runs(env.p());
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].job_id.as_str(), "job-1");
    assert!(env.p().run("job-2").unwrap().is_none());

    env.reopen();
    assert_eq!(all_runs(env.p()), runs);
    env.p().start_run(&new_run("job-2")).unwrap();
    env.p().attempt_succeeded("job-1", 1).unwrap();
    assert_eq!(all_runs(env.p()).len(), 2);
    env.check();
}

#[test]
fn failed_journal_fsync_in_project_sync_poisons_run_events_until_reopen() {
    let _fp = FailScenario::setup();
    let mut env = Env::new(SyncPolicy::Manual);
    env.p().start_run(&new_run("job-1")).unwrap();
    env.p().start_run(&new_run("job-2")).unwrap();
    let journal = the_journal(env.p());

    cfg("journal::sync", "return");
    assert_poisoned(&env.p().sync().unwrap_err(), &journal);
    fail::remove("journal::sync");

    assert_poisoned(&env.p().start_run(&new_run("job-3")).unwrap_err(), &journal);
    assert_poisoned(
        &env.p().attempt_succeeded("job-1", 1).unwrap_err(),
        &journal,
    );
    assert_poisoned(&env.p().sync().unwrap_err(), &journal);
    let runs = all_runs(env.p());
    assert_eq!(runs.len(), 2);

    env.reopen();
    assert_eq!(all_runs(env.p()), runs);
    env.p().attempt_succeeded("job-1", 1).unwrap();
    env.p().sync().unwrap();
    env.check();
}

#[test]
fn a_poisoned_writer_refuses_both_logs_and_run_events() {
    // The journal's failed sync refuses log appends too.
    {
        let _fp = FailScenario::setup();
        let mut env = Env::new(SyncPolicy::Manual);
        env.p().start_run(&new_run("job-1")).unwrap();
        env.append_ok(1);
        let journal = the_journal(env.p());
        cfg("journal::sync", "return");
        assert_poisoned(&env.p().sync().unwrap_err(), &journal);
        fail::remove("journal::sync");
        let r = rec(T0, 2);
        assert_poisoned(&env.p().append(&r).unwrap_err(), &journal);
        env.reopen();
        env.check();
        env.p().start_run(&new_run("job-2")).unwrap();
    }
    // A segment's failed sync refuses run events too.
    {
        let _fp = FailScenario::setup();
        let mut env = Env::new(SyncPolicy::Manual);
        env.append_ok(1);
        env.p().start_run(&new_run("job-1")).unwrap();
        let (segment, _) = env.the_segment();
        cfg("segment::sync", "return");
        assert_poisoned(&env.p().sync().unwrap_err(), &segment);
        fail::remove("segment::sync");
        assert_poisoned(&env.p().start_run(&new_run("job-2")).unwrap_err(), &segment);
        assert_poisoned(
            &env.p().attempt_succeeded("job-1", 1).unwrap_err(),
            &segment,
        );
        assert!(env.p().due_retries(T0).is_err());
        env.reopen();
        env.p().attempt_succeeded("job-1", 1).unwrap();
        env.check();
    }
}

#[test]
fn claims_recorded_before_a_failed_claim_are_returned() {
    let _fp = FailScenario::setup();
    let env = Env::new(SyncPolicy::Manual);
    for job in ["job-a", "job-b"] {
        env.p().start_run(&new_run(job)).unwrap();
        env.p().attempt_failed(job, 1, "boom").unwrap();
    }
    env.clock.advance(secs(60));
    let now = runlog::Clock::now(&env.clock);
    // The first claim is written, the second hits a full disk.
    cfg("journal::append", "1*off->return(enospc)");
    let first = env.p().due_retries(now).unwrap();
    fail::remove("journal::append");
    assert_eq!(first.len(), 1, "{first:?}");
    let second = env.p().due_retries(now).unwrap();
    assert_eq!(second.len(), 1, "{second:?}");
    assert_ne!(first[0].job_id, second[0].job_id);
    assert!(env.p().due_retries(now).unwrap().is_empty());
    // With every claim failing, the call fails and nothing is claimed.
    env.p().start_run(&new_run("job-c")).unwrap();
    env.p().attempt_failed("job-c", 1, "boom").unwrap();
    env.clock.advance(secs(60));
    let now = runlog::Clock::now(&env.clock);
    cfg("journal::append", "return(enospc)");
    assert!(env.p().due_retries(now).is_err());
    fail::remove("journal::append");
    assert_eq!(env.p().due_retries(now).unwrap().len(), 1);
}

// 2. A short write on a full disk: an error, nothing half-written, and
// the store works again as soon as there is space.

#[test]
fn short_segment_write_leaves_nothing_half_written() {
    let _fp = FailScenario::setup();
    let mut env = Env::new(SyncPolicy::Manual);
    for i in 0..3 {
        env.append_ok(i);
    }
    let (seg, _) = env.the_segment();
    let before = len(&seg);

    cfg("segment::append", "return(enospc)");
    let batch: Vec<LogRecord> = (3..6).map(|i| rec(T0, i)).collect();
    for _ in 0..2 {
        let e = env.append(&batch).unwrap_err();
        assert_eq!(os_error(&e), Some(ENOSPC), "{e:?}");
        assert_eq!(len(&seg), before, "the half-written frames were cut off");
        env.check();
    }
    // A batch over two segments: the first write succeeds, the second
    // fails, and neither is kept.
    cfg("segment::append", "1*off->return(enospc)");
    let split = [rec(T0, 6), rec(T0.saturating_sub(secs(3600)), 7)];
    let e = env.append(&split).unwrap_err();
    assert_eq!(os_error(&e), Some(ENOSPC), "{e:?}");
    assert_eq!(len(&seg), before);
    env.check();

    // Space is back: no reopen needed.
    fail::remove("segment::append");
    env.append(&batch).unwrap();
    env.append(&split).unwrap();
    env.append_ok(8);
    env.check();
    env.p().sync().unwrap();

    env.reopen();
    env.check();
}

#[test]
fn short_journal_write_leaves_nothing_half_written() {
    let _fp = FailScenario::setup();
    let mut env = Env::new(SyncPolicy::Always);
    env.p().start_run(&new_run("job-1")).unwrap();
    let journal = the_journal(env.p());
    let before = len(&journal);

    cfg("journal::append", "return(enospc)");
    let e = env.p().start_run(&new_run("job-2")).unwrap_err();
    assert_eq!(os_error(&e), Some(ENOSPC), "{e:?}");
    let e = env.p().attempt_failed("job-1", 1, "timeout").unwrap_err();
    assert_eq!(os_error(&e), Some(ENOSPC), "{e:?}");
    assert_eq!(len(&journal), before, "the half-written frame was cut off");
    assert!(env.p().run("job-2").unwrap().is_none());
    assert_eq!(all_runs(env.p()).len(), 1);
    env.check();

    // Space is back: no reopen needed, and the frames follow on.
    fail::remove("journal::append");
    env.p().start_run(&new_run("job-2")).unwrap();
    env.p().attempt_failed("job-1", 1, "timeout").unwrap();
    let runs = all_runs(env.p());
    assert_eq!(runs.len(), 2);
    env.check();

    env.reopen();
    assert_eq!(all_runs(env.p()), runs);
    env.check();
}

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

// 3. A failed rename or directory sync while sealing.

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

// 4. A failed presets write keeps the previous presets.

#[test]
fn failed_presets_write_keeps_the_previous_list() {
    let _fp = FailScenario::setup();
    let mut env = Env::new(SyncPolicy::Manual);
    let hour = SavedRange::Last(secs(3600));
    let day = SavedRange::Last(secs(86_400));
    env.p().save_preset("hour", hour.clone()).unwrap();
    let previous = vec![("hour".to_string(), hour.clone())];

    for (name, errno) in [
        ("fs::write_atomic::write", ENOSPC),
        ("fs::write_atomic::rename", EIO),
    ] {
        cfg(name, "return");
        let e = env.p().save_preset("day", day.clone()).unwrap_err();
        assert_eq!(os_error(&e), Some(errno), "{name}: {e:?}");
        let e = env.p().save_preset("hour", day.clone()).unwrap_err();
        assert_eq!(os_error(&e), Some(errno), "{name}: {e:?}");
        let e = env.p().delete_preset("hour").unwrap_err();
        assert_eq!(os_error(&e), Some(errno), "{name}: {e:?}");
        fail::remove(name);
        assert_eq!(env.p().presets().unwrap(), previous, "{name}");
        assert!(env.p().query(&Query::new().saved("hour")).is_ok());
        assert!(matches!(
            env.p().query(&Query::new().saved("day")),
            Err(Error::UnknownPreset { .. })
        ));
    }
    env.reopen();
    assert_eq!(env.p().presets().unwrap(), previous);

    env.p().save_preset("day", day.clone()).unwrap();
    let both = vec![("day".to_string(), day), ("hour".to_string(), hour)];
    assert_eq!(env.p().presets().unwrap(), both);
    env.reopen();
    assert_eq!(env.p().presets().unwrap(), both);
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

/// Options of the superseded-marker tests: retries due at once, a day of
/// retention.
fn marker_options(clock: &ManualClock, policy: SyncPolicy) -> StoreOptions {
    StoreOptions::new()
        .clock(clock.clone())
        .sync_policy(policy)
        .retention(secs(86_400))
        .retry_policy(runlog::RetryPolicy {
            initial_delay: std::time::Duration::ZERO,
            ..runlog::RetryPolicy::default()
        })
}

/// Job-1 fails, its retry is claimed, and at 23:50 (T0 is 22:13, in
/// partition P; 23:50 is in P + 1) it logs a late line of attempt 1
/// (`late_log`) and succeeds at attempt 2, while the write of its
/// superseded marker (for P + 1) hits a full disk: the success is
/// recorded, the marker deferred.
fn succeed_with_a_failed_marker(p: &Project, clock: &ManualClock, late_log: bool) {
    p.start_run(&new_run("job-1")).unwrap();
    p.attempt_failed("job-1", 1, "boom").unwrap();
    p.due_retries(T0).unwrap();
    clock.advance(secs(5_800));
    if late_log {
        let now = runlog::Clock::now(clock);
        p.append(&LogRecord::new(
            now,
            Level::Warn,
            "job-1",
            "attempt 1, late",
        ))
        .unwrap();
    }
    cfg("journal::append", "1*off->return(enospc)");
    p.attempt_succeeded("job-1", 2).unwrap();
    fail::remove("journal::append");
}

#[test]
fn a_superseded_marker_whose_write_failed_is_written_later() {
    let _fp = FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    {
        let store = marker_options(&clock, SyncPolicy::Manual)
            .open(dir.path())
            .unwrap();
        let p = store.project("p").unwrap();
        succeed_with_a_failed_marker(&p, &clock, true);
        assert!(p.job_logs("job-1").unwrap().is_empty());
        // The next event writes it.
        p.start_run(&new_run("job-2")).unwrap();
        p.sync().unwrap();
    }
    // A day later P is past retention (the run is gone), P + 1 is not.
    clock.advance(secs(86_400 - 1_200));
    let store = marker_options(&clock, SyncPolicy::Manual)
        .open(dir.path())
        .unwrap();
    let p = store.project("p").unwrap();
    p.enforce_retention().unwrap();
    assert_eq!(p.run("job-1").unwrap(), None);
    let all = p.job_logs_all("job-1").unwrap();
    assert_eq!(all.len(), 1, "the late line is within retention");
    assert!(all[0].superseded);
    assert!(p.job_logs("job-1").unwrap().is_empty(), "still hidden");
}

/// As `a_superseded_marker_whose_write_failed_is_written_later`, without a
/// reopen: the deferred marker is in effect in memory from the start.
#[test]
fn a_deferred_marker_is_in_effect_in_memory_at_once() {
    let _fp = FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let opts = || marker_options(&clock, SyncPolicy::Manual);
    let store = opts().open(dir.path()).unwrap();
    let p = store.project("p").unwrap();
    succeed_with_a_failed_marker(&p, &clock, true);
    assert!(p.job_logs("job-1").unwrap().is_empty());
    // The next event writes the deferred marker to disk.
    p.start_run(&new_run("job-2")).unwrap();
    p.sync().unwrap();
    // A day later: the run's partition is past retention, the marker's is not.
    clock.advance(secs(86_400 - 1_200));
    p.enforce_retention().unwrap();
    assert_eq!(p.run("job-1").unwrap(), None);
    let q = runlog::Query::new().all_time();
    assert!(
        p.job_logs("job-1").unwrap().is_empty(),
        "the late line shows in session"
    );
    assert_eq!(
        p.query(&q).unwrap().records.len(),
        0,
        "the late line shows in session"
    );
    drop(p);
    drop(store);
    // Memory agreed with what the journal says.
    let store = opts().open(dir.path()).unwrap();
    let p = store.project("p").unwrap();
    assert!(p.job_logs("job-1").unwrap().is_empty());
    assert_eq!(p.query(&q).unwrap().records.len(), 0);
}

/// A run event on a poisoned project is refused before it seals or drops
/// anything, like an append.
#[test]
fn a_run_event_on_a_poisoned_writer_seals_nothing() {
    let _fp = FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = StoreOptions::new()
        .clock(clock.clone())
        .sync_policy(SyncPolicy::Always)
        .open(dir.path())
        .unwrap();
    let p = store.project("p").unwrap();
    p.append(&rec(T0, 1)).unwrap();
    fail::cfg("segment::sync", "1*return").unwrap();
    let e = p.append(&rec(T0, 2)).unwrap_err();
    assert!(matches!(e, Error::Poisoned { .. }), "{e:?}");
    fail::remove("segment::sync");
    // Past the partition and its grace: the segment is due for sealing.
    clock.advance(secs(7_200));
    let e = p.append(&rec(runlog::Clock::now(&clock), 3)).unwrap_err();
    assert!(matches!(e, Error::Poisoned { .. }), "{e:?}");
    let sealed_after_append = p.segments().unwrap().iter().any(|s| s.sealed);
    assert!(
        !sealed_after_append,
        "an append on a poisoned writer seals nothing"
    );
    let e = p.start_run(&new_run("job-1")).unwrap_err();
    assert!(matches!(e, Error::Poisoned { .. }), "{e:?}");
    let segs = p.segments().unwrap();
    assert!(
        !segs.iter().any(|s| s.sealed),
        "a refused run event sealed a segment of a poisoned writer"
    );
}

/// When writing a deferred marker poisons the journal (a failed fsync
/// under Always), the event of the same call is refused, not acknowledged.
#[test]
fn no_event_is_acknowledged_once_a_deferred_write_poisoned() {
    let _fp = FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = marker_options(&clock, SyncPolicy::Always)
        .open(dir.path())
        .unwrap();
    let p = store.project("p").unwrap();
    succeed_with_a_failed_marker(&p, &clock, false);
    cfg("journal::sync", "1*return");
    let r = p.start_run(&new_run("job-2"));
    fail::remove("journal::sync");
    let again = p.start_run(&new_run("job-3"));
    assert!(
        r.is_err(),
        "start_run returned Ok though its call poisoned the writer (next call: {again:?})"
    );
}

#[test]
fn sync_reports_a_marker_still_deferred() {
    let _fp = FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = marker_options(&clock, SyncPolicy::Manual)
        .open(dir.path())
        .unwrap();
    let p = store.project("p").unwrap();
    succeed_with_a_failed_marker(&p, &clock, false);
    // The disk stays full: the marker cannot be written, and sync says so.
    cfg("journal::append", "return(enospc)");
    let r = p.sync();
    fail::remove("journal::append");
    assert!(
        r.is_err(),
        "sync returned Ok although the superseded marker is not on disk"
    );
    // With space back, it is written.
    p.sync().unwrap();
}

/// A reader in another store handle that read the frames of a batch the
/// writer then cut back (a later segment's write failed: all or nothing)
/// forgets them, even once the writer has appended more bytes than it cut
/// (so the file is no shorter than what the reader read). The writer
/// records each cut in the project's `cuts` file after making it.
#[test]
fn a_reader_forgets_frames_the_writer_cut_back() {
    let _fp = FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    let hour = secs(3600);
    let at = move |h: u32| T0.saturating_sub(hour * h);
    let r = |t, level, content: &str| LogRecord::new(t, level, "job-1", content);
    // One acknowledged record per partition, so every segment exists.
    p.append_batch(&[
        r(at(3), Level::Info, "first  record"),
        r(at(2), Level::Info, "second record"),
        r(at(1), Level::Info, "third  record"),
    ])
    .unwrap();
    let first = p
        .segments()
        .unwrap()
        .into_iter()
        .find(|s| s.partition.from <= at(3) && at(3) < s.partition.to)
        .unwrap()
        .path;
    let len_before = len(&first);
    let reader_store = options(&clock).open_read_only(dir.path()).unwrap();
    let reader = reader_store.project("p").unwrap();
    let errors = Query::new().all_time().level(Level::Error);
    assert_eq!(reader.count(&errors).unwrap().total, 0);

    // The first segment's write goes through, the second waits; the
    // reader looks while the batch is in flight, then the write fails.
    cfg("segment::append", "1*off->pause");
    let writer = {
        let p = p.clone();
        std::thread::spawn(move || {
            p.append_batch(&[
                r(at(3), Level::Error, "alpha  record"),
                r(at(3), Level::Error, "alpha  record"),
                r(at(2), Level::Info, "beta   record"),
                r(at(1), Level::Info, "gamma  record"),
            ])
        })
    };
    while len(&first) == len_before {
        std::thread::yield_now();
    }
    let seen = reader.count(&errors).unwrap().total;
    assert_eq!(seen, 2, "the reader read the in-flight frames");
    cfg("segment::append", "return");
    assert!(writer.join().unwrap().is_err(), "the batch fails");
    fail::remove("segment::append");
    assert_eq!(len(&first), len_before, "cut back");

    // The writer carries on with more bytes than it cut.
    p.append_batch(&[
        r(at(3), Level::Info, "delta  record"),
        r(at(3), Level::Info, "delta  record"),
        r(at(3), Level::Info, "delta  record"),
    ])
    .unwrap();
    assert!(len(&first) > len_before + 100);
    let all_time = Query::new().all_time();
    for (who, q) in [("writer", &p), ("reader", &reader)] {
        assert_eq!(q.count(&errors).unwrap().total, 0, "{who}");
        assert_eq!(q.count(&all_time).unwrap().total, 6, "{who}");
        let alpha = q.query(&Query::new().all_time().text("alpha")).unwrap();
        assert!(alpha.records.is_empty(), "{who}");
        let delta = q.query(&Query::new().all_time().text("delta")).unwrap();
        assert_eq!(delta.records.len(), 3, "{who}");
        assert!(
            delta
                .records
                .iter()
                .all(|s| s.record.content == "delta  record")
        );
    }
    assert!(reader.damage().is_empty(), "{:?}", reader.damage());
}

/// When the cut count cannot be written, the writer still cuts the
/// abandoned frames and reports the append's own error; it goes on
/// appending (the count matters to live readers only).
#[test]
fn a_failed_cut_count_still_cuts() {
    let _fp = FailScenario::setup();
    let mut env = Env::new(SyncPolicy::Manual);
    env.append_ok(0);
    let (seg, _) = env.the_segment();
    let before = len(&seg);
    cfg("cuts", "return");
    cfg("segment::append", "1*off->return(enospc)");
    let split = [rec(T0, 1), rec(T0.saturating_sub(secs(3600)), 2)];
    let e = env.append(&split).unwrap_err();
    assert_eq!(os_error(&e), Some(ENOSPC), "{e:?}");
    assert_eq!(len(&seg), before, "cut back regardless");
    env.check();
    fail::remove("segment::append");
    fail::remove("cuts");
    env.append(&split).unwrap();
    env.check();
    env.reopen();
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

/// The same for the run journal: a reader that replayed an event whose
/// `fsync` then failed (the writer cuts it back and is poisoned) forgets
/// it, and after the writer reopens and records another event at the same
/// place, the reader shows that one, with no damage.
#[test]
fn a_reader_forgets_a_run_event_the_writer_cut_back() {
    let _fp = FailScenario::setup();
    let mut env = Env::new(SyncPolicy::Always);
    env.p().start_run(&new_run("job-1")).unwrap();
    let journal = the_journal(env.p());
    let before = len(&journal);
    let reader_store = options(&env.clock).open_read_only(env.dir.path()).unwrap();
    let reader = reader_store.project("p").unwrap();
    let jobs = |p: &Project| -> Vec<String> {
        let mut v: Vec<String> = all_runs(p).iter().map(|r| r.job_id.to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(jobs(&reader), ["job-1"]);

    cfg("journal::sync", "return");
    cfg("journal::written", "pause");
    let writer = {
        let p = env.p().clone();
        std::thread::spawn(move || p.start_run(&new_run("job-2")))
    };
    while len(&journal) == before {
        std::thread::yield_now();
    }
    assert_eq!(jobs(&reader), ["job-1", "job-2"], "replayed while written");
    cfg("journal::written", "off");
    assert_poisoned(&writer.join().unwrap().unwrap_err(), &journal);
    assert_eq!(len(&journal), before, "cut back");
    assert_eq!(jobs(&reader), ["job-1"], "forgotten once cut");
    fail::remove("journal::sync");
    fail::remove("journal::written");

    env.reopen();
    env.p().start_run(&new_run("job-3")).unwrap();
    assert_eq!(jobs(env.p()), ["job-1", "job-3"]);
    assert_eq!(jobs(&reader), ["job-1", "job-3"]);
    assert!(reader.damage().is_empty(), "{:?}", reader.damage());
}
