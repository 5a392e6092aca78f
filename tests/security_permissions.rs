//! What runlog creates is private to its user: with the umask opened to
//! 0, every directory of a store (its parent runlog created included) is
//! `0700` and every file `0600`, through writes, runs, presets, sealing,
//! an index rebuilt, a read-only open and retention; every kind of file
//! and directory runlog makes is seen. Time is a `ManualClock`; nothing
//! sleeps.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use runlog::{Clock, Level, NewRun, Preset, Query, SavedRange, SyncPolicy, Trigger};

unsafe extern "C" {
    /// POSIX `umask(2)` (`mode_t` is `u32` on Linux); the standard library
    /// has no safe way to read or set it.
    fn umask(mask: u32) -> u32;
}

/// Every entry under `root`, with its metadata (not following symlinks).
fn tree(root: &Path) -> Vec<(PathBuf, fs::Metadata)> {
    let mut out = Vec::new();
    fn walk(p: &Path, out: &mut Vec<(PathBuf, fs::Metadata)>) {
        for e in fs::read_dir(p).unwrap() {
            let path = e.unwrap().path();
            let m = fs::symlink_metadata(&path).unwrap();
            let is_dir = m.is_dir();
            out.push((path.clone(), m));
            if is_dir {
                walk(&path, out);
            }
        }
    }
    walk(root, &mut out);
    out
}

/// runlog asks for `0700`/`0600` explicitly when it creates a directory or
/// file; the kernel then applies the umask, which can only remove bits. So
/// the strongest check is with a umask of 0: every mode must be exactly
/// `0700`/`0600`, not merely narrowed by a strict umask. (The umask is
/// the process's; the test is alone in its binary, and restores it before
/// returning.)
#[test]
fn directories_are_0700_and_files_0600_even_with_an_open_umask() {
    let old = unsafe { umask(0) };
    struct Restore(u32);
    impl Drop for Restore {
        fn drop(&mut self) {
            unsafe { umask(self.0) };
        }
    }
    let _restore = Restore(old);

    let tmp = tempfile::tempdir().unwrap();
    // runlog creates the store directory, and its missing parent, itself.
    let root = tmp.path().join("nested");
    let dir = root.join("store");
    let clock = clock();
    let opts = || {
        options(&clock)
            .sync_policy(SyncPolicy::Always)
            .partition(Duration::from_secs(600))
            .retention(Duration::from_secs(DAY))
    };
    {
        let store = opts().open(&dir).unwrap();
        for name in ["shop", "billing"] {
            let p = store.project(name).unwrap();
            // A few partitions, some sealed by the clock moving on.
            for step in 0..6u64 {
                let now = clock.now();
                let batch: Vec<_> = (0..5).map(|i| rec(now, step * 10 + i)).collect();
                p.append_batch(&batch).unwrap();
                // Runs: start, fail, claim the retry, succeed; and a failed one.
                let job = format!("job-{step}");
                p.start_run(&NewRun::new(job.as_str(), "flow", Trigger::Scheduler))
                    .unwrap();
                p.attempt_failed(&job, 1, "boom").unwrap();
                clock.advance(secs(30));
                for t in p.due_retries_at(clock.now()).unwrap() {
                    p.attempt_succeeded(&t.job_id, t.attempt).unwrap();
                }
                clock.advance(secs(900));
                p.seal_due().unwrap();
            }
            p.save_preset("mine", SavedRange::Last(secs(3600))).unwrap();
            p.save_preset("other", SavedRange::Calendar(Preset::Today))
                .unwrap();
            assert!(p.delete_preset("other").unwrap());
            p.sync().unwrap();
            assert!(p.verify().unwrap().is_ok());
            p.stats().unwrap();
        }
        // A missing index is rebuilt (and written again) on first use.
        let p = store.project("shop").unwrap();
        let sealed = p
            .segments()
            .unwrap()
            .into_iter()
            .find(|s| s.sealed)
            .unwrap();
        fs::remove_file(sealed.path.with_extension("idx")).unwrap();
    }
    {
        let store = opts().open(&dir).unwrap();
        let p = store.project("shop").unwrap();
        let page = p
            .query(&Query::new().all_time().level(Level::Error).env("prod"))
            .unwrap();
        assert!(!page.records.is_empty());
        assert!(
            !p.damage().is_empty(),
            "the missing index was reported and rebuilt"
        );
        // A reader creates nothing with other modes either.
        let ro = read_only(&dir, &clock);
        let rp = ro.project("billing").unwrap();
        assert!(
            !rp.query(&Query::new().all_time())
                .unwrap()
                .records
                .is_empty()
        );
        // Retention drops the first segments and journals; writes continue.
        clock.set(T0.saturating_add(secs(DAY + 2400)));
        p.append(&rec(clock.now(), 99)).unwrap();
        p.enforce_retention().unwrap();
    }

    let entries = tree(&root);
    let mut bad = Vec::new();
    let mut kinds = BTreeSet::new();
    for (path, m) in &entries {
        let mode = m.permissions().mode() & 0o7777;
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let kind = if m.is_dir() {
            if mode != 0o700 {
                bad.push(format!("directory {} is {mode:o}", path.display()));
            }
            "dir"
        } else if m.is_file() {
            if mode != 0o600 {
                bad.push(format!("file {} is {mode:o}", path.display()));
            }
            "file"
        } else {
            bad.push(format!(
                "{} is neither a file nor a directory",
                path.display()
            ));
            "other"
        };
        let ext = name.rsplit_once('.').map_or(name.as_str(), |(_, e)| e);
        kinds.insert(format!("{kind}:{ext}"));
    }
    let root_mode = fs::metadata(&root).unwrap().permissions().mode() & 0o7777;
    assert_eq!(root_mode, 0o700, "the store's parent runlog created");
    let dir_mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o7777;
    assert_eq!(dir_mode, 0o700, "the store directory");
    assert!(bad.is_empty(), "{bad:#?}");
    // Not vacuous: every kind of file and directory runlog makes was seen.
    for want in [
        "dir:projects",
        "dir:shop",
        "dir:billing",
        "dir:runs",
        "file:meta",
        "file:lock",
        "file:wal",
        "file:seg",
        "file:idx",
        "file:runs",
        "file:presets",
    ] {
        assert!(kinds.contains(want), "no {want} in {kinds:?}");
    }
}
