//! The store: a directory of projects, its write lock, its settings file
//! and the background sync thread.
//!
//! ```text
//! <store>/
//!   runlog.meta          settings fixed at creation (format version, partition length)
//!   runlog.lock          held (flock) by the one writing process; holds its pid
//!   projects/<name>/     one directory per project: segment files
//! ```

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::codec::{u16_at, u32_at};
use crate::error::{Error, Result};
use crate::options::{StoreOptions, SyncPolicy};
use crate::project::Project;
use crate::project::core::{Core, KeepAlive};
use crate::segment::recovery::VerifyReport;

const META_FILE: &str = "runlog.meta";
const LOCK_FILE: &str = "runlog.lock";
const PROJECTS_DIR: &str = "projects";

/// Longest project name, in bytes.
pub const MAX_PROJECT_NAME: usize = 64;

/// `runlog.meta`: 32 bytes.
///
/// | offset | size | field |
/// |-------:|-----:|-------|
/// | 0  | 8 | magic `RUNLOGST` |
/// | 8  | 2 | format version |
/// | 10 | 2 | reserved, 0 |
/// | 12 | 4 | partition length, seconds |
/// | 16 | 12 | reserved, 0 |
/// | 28 | 4 | CRC32 of bytes 0..28 |
const META_MAGIC: [u8; 8] = *b"RUNLOGST";
/// The settings file format's version.
const META_VERSION: u16 = 1;
const META_LEN: usize = 32;

fn encode_meta(partition_secs: u32) -> [u8; META_LEN] {
    let mut b = [0u8; META_LEN];
    b[..8].copy_from_slice(&META_MAGIC);
    b[8..10].copy_from_slice(&META_VERSION.to_le_bytes());
    b[12..16].copy_from_slice(&partition_secs.to_le_bytes());
    let crc = crc32fast::hash(&b[..28]);
    b[28..].copy_from_slice(&crc.to_le_bytes());
    b
}

/// The partition length (seconds) stored in meta bytes.
fn decode_meta(path: &Path, b: &[u8]) -> Result<u32> {
    if b.len() != META_LEN || b[..8] != META_MAGIC {
        return Err(Error::corrupt(path, 0, "not a runlog store settings file"));
    }
    if crc32fast::hash(&b[..28]) != u32_at(b, 28) {
        return Err(Error::corrupt(path, 28, "settings checksum mismatch"));
    }
    Error::check_version(path, u16_at(b, 8), META_VERSION)?;
    let secs = u32_at(b, 12);
    if !(60..=86_400).contains(&secs) || 86_400 % secs != 0 {
        return Err(Error::corrupt(
            path,
            12,
            format!("partition length {secs} s is not a valid setting"),
        ));
    }
    Ok(secs)
}

/// Check a project name: 1 to 64 bytes of `[A-Za-z0-9_.-]`, not `.` or `..`.
pub(crate) fn validate_project_name(name: &str) -> Result<()> {
    let bad = |reason| {
        Err(Error::InvalidProjectName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > MAX_PROJECT_NAME {
        return bad("longer than 64 bytes");
    }
    if name == "." || name == ".." {
        return bad("`.` and `..` are not names");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
    {
        return bad("only A-Z, a-z, 0-9, `_`, `.` and `-` are allowed");
    }
    Ok(())
}

/// An open store: a directory holding any number of projects.
///
/// ```
/// use runlog::{Level, LogRecord, Store, TimeRange};
/// # let dir = tempfile::tempdir()?;
/// let store = Store::open(dir.path())?;
/// let project = store.project("shop")?;
/// let now = runlog::Timestamp::now();
/// let id = project.append(&LogRecord::new(now, Level::Info, "job-1", "flow started"))?;
/// let newest = project.scan(TimeRange::all()).next().unwrap()?;
/// assert_eq!(newest.id, id);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Store {
    inner: Arc<StoreInner>,
}

/// Shared by the store and its sync thread.
#[derive(Debug, Default)]
struct Shared {
    projects: Mutex<HashMap<String, Arc<Core>>>,
    stop: Mutex<bool>,
    wake: Condvar,
}

#[derive(Debug)]
pub(crate) struct StoreInner {
    dir: PathBuf,
    opts: StoreOptions,
    read_only: bool,
    shared: Arc<Shared>,
    syncer: Option<JoinHandle<()>>,
    /// Held (locked) for the store's life by a writer.
    _lock: Option<File>,
}

/// Opening a store with these options (the builder's last step; see
/// [`StoreOptions`]).
impl StoreOptions {
    /// Open (creating if needed) the store in `dir` for writing.
    pub fn open(self, dir: impl AsRef<Path>) -> Result<Store> {
        Store::open_with(dir.as_ref(), self, false)
    }

    /// Open the existing store in `dir` read-only; works while another process writes it.
    pub fn open_read_only(self, dir: impl AsRef<Path>) -> Result<Store> {
        Store::open_with(dir.as_ref(), self, true)
    }
}

impl Store {
    /// What keeps this store alive while a project handle exists.
    fn keep_alive(&self) -> KeepAlive {
        Arc::clone(&self.inner) as KeepAlive
    }

    /// Open (creating if needed) the store in `dir` for writing, with default options.
    pub fn open(dir: impl AsRef<Path>) -> Result<Store> {
        StoreOptions::new().open(dir)
    }

    /// Open the existing store in `dir` read-only, with default options.
    /// Works while another process writes it: each read sees every record
    /// the writer had written to the OS before the read began.
    ///
    /// A read may also see records of an `append_batch` still in progress,
    /// or a run event whose `fsync` is still in progress. Should that batch
    /// fail (it stores all or nothing) or that `fsync` fail, the writer
    /// cuts them back, and the next read no longer shows them: the writer
    /// records every cut in the project's `cuts` file (which segment or
    /// journal, and from which byte and record on) and then moves a count
    /// there; a reader that sees the count move forgets what was cut and
    /// reads on from there (a cut journal: it replays the journals again).
    /// The same holds for what a writer's recovery cuts off a damaged end
    /// of a segment or a journal when it opens. A writer that opens and
    /// cuts nothing moves no count (unless the log cannot tell: see
    /// below), so readers keep what they read.
    /// A read racing a cut may miss records, but reports no damage for
    /// bytes cut since its look.
    ///
    /// A [`Follow`](crate::Follow) that already delivered such a record
    /// cannot take it back. It counts a segment's records by position, and
    /// the writer appends its next records at the positions cut: the
    /// follow moves back to the first position cut and delivers those
    /// records, each once. It may deliver a record twice in two rare
    /// cases: a look during which the count moved at each of its three
    /// reads (the count keeps moving while every write fails), and a cut
    /// the writer could not make (the file could not be truncated, so the
    /// refused records are read again until the writer writes over them).
    /// When a reader
    /// cannot tell what was cut (a writer crashed in the middle of a cut,
    /// or could not write a cut's entry, or predates the cut log, or an
    /// earlier version's writer opened since, or the log is corrupt), it
    /// reads every active segment and journal again, and a
    /// follow may then miss the records written in place of cut ones, as
    /// it does after more than 4096 cuts between two of its looks.
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<Store> {
        StoreOptions::new().open_read_only(dir)
    }

    pub(crate) fn open_with(dir: &Path, mut opts: StoreOptions, read_only: bool) -> Result<Store> {
        let meta_path = dir.join(META_FILE);
        // An existing store fixes the partition length: adopt it before the
        // options are checked against it (retention ≥ a partition). The
        // file is written once, when the store is created, so reading it
        // before taking the lock is safe; it is read again under the lock.
        if (read_only || !opts.partition_given)
            && let Ok(bytes) = fs::read(&meta_path)
        {
            let stored = decode_meta(&meta_path, &bytes)?;
            opts.partition = Duration::from_secs(u64::from(stored));
        }
        // Checked before anything is created: bad options leave no trace.
        opts.check()?;
        let lock = if read_only {
            None
        } else {
            crate::fs::create_dir(&dir.join(PROJECTS_DIR))?;
            Some(take_lock(&dir.join(LOCK_FILE))?)
        };
        let partition_secs = opts.partition.as_secs() as u32;
        match fs::read(&meta_path) {
            Ok(bytes) => {
                let stored = decode_meta(&meta_path, &bytes)?;
                if stored != partition_secs {
                    if read_only || !opts.partition_given {
                        // Adopt the store's setting.
                        opts.partition = Duration::from_secs(u64::from(stored));
                        opts.check()?;
                    } else {
                        return Err(Error::SettingMismatch {
                            path: dir.to_path_buf(),
                            setting: "partition length",
                            stored: format!("{stored}s"),
                            given: format!("{partition_secs}s"),
                        });
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !read_only => {
                crate::fs::write_atomic(&meta_path, &encode_meta(partition_secs))?;
            }
            Err(e) => return Err(Error::io("read", &meta_path)(e)),
        }
        let shared = Arc::new(Shared::default());
        let syncer = match (read_only, opts.sync) {
            (false, SyncPolicy::Periodic(every)) => Some(spawn_syncer(Arc::clone(&shared), every)?),
            _ => None,
        };
        Ok(Store {
            inner: Arc::new(StoreInner {
                dir: dir.to_path_buf(),
                opts,
                read_only,
                shared,
                syncer,
                _lock: lock,
            }),
        })
    }

    /// The store's partition length (fixed when it was created).
    pub fn partition(&self) -> Duration {
        self.inner.opts.partition
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Whether the store was opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.inner.read_only
    }

    /// The handle of project `name`, opening (and, for a writer, creating
    /// and recovering) it on first use. Names are 1–64 bytes of
    /// `[A-Za-z0-9_.-]`, not `.` or `..`, so a name never reaches outside
    /// the store.
    pub fn project(&self, name: &str) -> Result<Project> {
        validate_project_name(name)?;
        let mut projects = self.inner.shared.projects.lock();
        if let Some(p) = projects.get(name) {
            return Ok(Project::new(Arc::clone(p), self.keep_alive()));
        }
        let dir = self.inner.dir.join(PROJECTS_DIR).join(name);
        if self.inner.read_only && !dir.is_dir() {
            return Err(Error::UnknownProject {
                name: name.to_owned(),
                store: self.inner.dir.clone(),
            });
        }
        let inner = Arc::new(Core::open(
            name,
            dir,
            self.inner.opts.clone(),
            self.inner.read_only,
        )?);
        projects.insert(name.to_owned(), Arc::clone(&inner));
        Ok(Project::new(inner, self.keep_alive()))
    }

    /// Names of the projects in the store, sorted.
    pub fn projects(&self) -> Result<Vec<String>> {
        let dir = self.inner.dir.join(PROJECTS_DIR);
        let mut names = Vec::new();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(names),
            Err(e) => return Err(Error::io("read directory", &dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(Error::io("read directory", &dir))?;
            if let Some(name) = entry.file_name().to_str()
                && validate_project_name(name).is_ok()
                && entry.path().is_dir()
            {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// Entries of the store directory and of its `projects` directory that
    /// runlog did not make (a warning for the operator; projects report
    /// their own with [`Project::foreign_files`]). runlog never reads,
    /// changes or deletes them.
    pub fn foreign_files(&self) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        let list = |dir: &Path| -> Result<Vec<fs::DirEntry>> {
            match fs::read_dir(dir) {
                Ok(entries) => entries
                    .collect::<std::io::Result<Vec<_>>>()
                    .map_err(Error::io("read directory", dir)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
                Err(e) => Err(Error::io("read directory", dir)(e)),
            }
        };
        for entry in list(&self.inner.dir)? {
            let name = entry.file_name();
            let own = [META_FILE, LOCK_FILE, PROJECTS_DIR]
                .iter()
                .any(|n| name == *n || name == format!("{n}.tmp").as_str());
            if !own {
                out.push(entry.path());
            }
        }
        for entry in list(&self.inner.dir.join(PROJECTS_DIR))? {
            let ok = entry
                .file_name()
                .to_str()
                .is_some_and(|n| validate_project_name(n).is_ok())
                && entry.path().is_dir();
            if !ok {
                out.push(entry.path());
            }
        }
        out.sort();
        Ok(out)
    }

    /// Make everything appended to any open project survive a power loss.
    pub fn sync(&self) -> Result<()> {
        let projects: Vec<_> = self
            .inner
            .shared
            .projects
            .lock()
            .values()
            .cloned()
            .collect();
        projects.iter().try_for_each(|p| p.sync())
    }

    /// Check every checksum of every project.
    pub fn verify(&self) -> Result<VerifyReport> {
        let mut report = VerifyReport::default();
        for name in self.projects()? {
            report.merge(self.project(&name)?.verify()?);
        }
        Ok(report)
    }
}

/// Lock `path` for writing, or say who holds it.
fn take_lock(path: &Path) -> Result<File> {
    let mut file = crate::fs::open_rw(path, false)?;
    match file.try_lock() {
        Ok(()) => {
            // The pid is for the error message of the next would-be writer.
            let pid = std::process::id().to_string();
            let _ = file
                .set_len(0)
                .and_then(|()| file.rewind())
                .and_then(|()| file.write_all(pid.as_bytes()));
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            Err(Error::Locked {
                path: path.to_path_buf(),
                holder: text.trim().parse().ok(),
            })
        }
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io("lock", path)(e)),
    }
}

fn spawn_syncer(shared: Arc<Shared>, every: Duration) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("runlog-sync".into())
        .spawn(move || {
            let mut stop = shared.stop.lock();
            while !*stop {
                shared.wake.wait_for(&mut stop, every);
                if *stop {
                    break;
                }
                drop(stop);
                let projects: Vec<_> = shared.projects.lock().values().cloned().collect();
                for p in projects.iter().filter(|p| p.is_dirty()) {
                    // A failure poisons the project, which reports it to the
                    // next append or sync; nothing else to do here.
                    let _ = p.sync();
                }
                stop = shared.stop.lock();
            }
        })
        .map_err(|e| Error::io("spawn sync thread for", PathBuf::new())(e))
}

impl Drop for StoreInner {
    fn drop(&mut self) {
        *self.shared.stop.lock() = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.syncer.take() {
            let _ = t.join();
        }
        if let SyncPolicy::Periodic(_) = self.opts.sync {
            // Closing cleanly makes everything durable, as if the interval had passed.
            let projects: Vec<_> = self.shared.projects.lock().values().cloned().collect();
            for p in projects {
                let _ = p.sync();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names() {
        for ok in ["a", "shop-prod", "A.b_c-9", &"x".repeat(64)] {
            assert!(validate_project_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a\\b",
            "a\0b",
            "é",
            " a",
            &"x".repeat(65),
            "../x",
        ] {
            assert!(
                matches!(
                    validate_project_name(bad),
                    Err(Error::InvalidProjectName { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn meta_round_trip_and_checks() {
        let p = Path::new("m");
        let b = encode_meta(3600);
        assert_eq!(decode_meta(p, &b).unwrap(), 3600);
        let mut v = b;
        v[8] = 9;
        let crc = crc32fast::hash(&v[..28]);
        v[28..].copy_from_slice(&crc.to_le_bytes());
        assert!(matches!(
            decode_meta(p, &v),
            Err(Error::UnsupportedVersion {
                found: 9,
                supported: 1,
                ..
            })
        ));
        let mut c = b;
        c[13] ^= 1;
        assert!(matches!(
            decode_meta(p, &c),
            Err(Error::Corrupt { offset: 28, .. })
        ));
        assert!(matches!(
            decode_meta(p, b"hello"),
            Err(Error::Corrupt { offset: 0, .. })
        ));
    }
}
