//! The failpoint tests' store and checks (`failpoints_*.rs`, and
//! `reader_cuts.rs`), included by those files only: they need the
//! `failpoints` feature (`cargo test --all-features`, or
//! `cargo test --features failpoints --test 'failpoints_*'`).
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
#![allow(dead_code)] // Each test file uses some of them.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::*;
use runlog::{
    Error, Level, LogRecord, ManualClock, NewRun, Project, Query, RecordId, Run, RunQuery, Store,
    SyncPolicy, Trigger,
};

/// A store with project `p`, and what it acknowledged.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub clock: ManualClock,
    pub policy: SyncPolicy,
    pub store: Option<Store>,
    pub p: Option<Project>,
    /// Every record whose append returned `Ok`, with its ID.
    pub acked: Vec<(RecordId, LogRecord)>,
}

impl Env {
    pub fn new(policy: SyncPolicy) -> Env {
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

    pub fn p(&self) -> &Project {
        self.p.as_ref().unwrap()
    }

    /// Close the store (a crash, as far as the files go: nothing is
    /// written on close under these policies) and open it again.
    pub fn reopen(&mut self) {
        self.p = None;
        self.store = None;
        let store = options(&self.clock)
            .sync_policy(self.policy)
            .open(self.dir.path())
            .unwrap();
        self.p = Some(store.project("p").unwrap());
        self.store = Some(store);
    }

    /// Append `records` in one batch; remember them if acknowledged.
    pub fn append(&mut self, records: &[LogRecord]) -> runlog::Result<()> {
        let ids = self.p().append_batch(records)?;
        self.acked
            .extend(ids.into_iter().zip(records.iter().cloned()));
        Ok(())
    }

    /// Append record `i` (below 600) at `T0 - 600 s + i s`, in the
    /// partition of `T0`, which must succeed.
    pub fn append_ok(&mut self, i: u64) {
        let r = rec(T0.saturating_sub(secs(600)).saturating_add(secs(i)), i);
        self.append(&[r]).unwrap();
    }

    /// Reads return exactly the acknowledged records (with details),
    /// through a scan, a query, a count and an indexed query, and
    /// `verify` finds nothing wrong.
    pub fn check(&self) {
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
    pub fn the_segment(&self) -> (PathBuf, bool) {
        let segs = self.p().segments().unwrap();
        assert_eq!(segs.len(), 1, "{segs:?}");
        (segs[0].path.clone(), segs[0].sealed)
    }

    /// Names of the files in the project directory, sorted.
    pub fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.p().dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

pub fn cfg(name: &str, actions: &str) {
    fail::cfg(name, actions).unwrap();
}

/// The OS error under an [`Error::Io`].
pub fn os_error(e: &Error) -> Option<i32> {
    match e {
        Error::Io { source, .. } => source.raw_os_error(),
        _ => None,
    }
}

pub const EIO: i32 = 5;

pub const ENOSPC: i32 = 28;

/// `e` is [`Error::Poisoned`] naming `path`, and says so.
pub fn assert_poisoned(e: &Error, path: &Path) {
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

pub fn len(path: &Path) -> u64 {
    fs::metadata(path).unwrap().len()
}

pub fn new_run(job: &str) -> NewRun {
    NewRun::new(job, "sync-orders", Trigger::Event).env("prod")
}

pub fn all_runs(p: &Project) -> Vec<Run> {
    p.query_runs(&RunQuery::new().all_time().limit(1000))
        .unwrap()
        .runs
}

/// The project's one run-journal file.
pub fn the_journal(p: &Project) -> PathBuf {
    let files: Vec<PathBuf> = fs::read_dir(p.dir().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|f| f.extension().is_some_and(|x| x == "runs"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

/// A store with records in one segment whose partition (and grace) is
/// over, so that `seal_due` seals it.
pub fn due_for_sealing() -> Env {
    let mut env = Env::new(SyncPolicy::Manual);
    for i in 0..20 {
        env.append_ok(i);
    }
    env.clock.advance(secs(3600));
    env
}
