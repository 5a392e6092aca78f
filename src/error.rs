//! The one error type of runlog, and [`Damage`], the report of a corrupt
//! region or file that reads skipped.

use std::io;
use std::path::{Path, PathBuf};

use crate::record::field::Field;
use crate::runs::status::RunStatus;
use crate::time::timestamp::Timestamp;

/// `Result` with runlog's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, with what a person needs to act on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system call failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What runlog was doing (`open`, `write`, `sync`, `rename`, …).
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// Another process (or another `Store` in this one) holds the write lock.
    #[error(
        "store is locked by another writer{}: {path} (open it read-only, or stop the other writer)",
        holder.map(|pid| format!(" (pid {pid})")).unwrap_or_default()
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// Process ID written by the holder, when readable.
        holder: Option<u32>,
    },

    /// A write was attempted on a store opened with `Store::open_read_only`.
    #[error("{path} is open read-only")]
    ReadOnly {
        /// The directory that refused the write: the project's, or its
        /// run journal's.
        path: PathBuf,
    },

    /// An earlier `fsync` failed, so the OS may have dropped written data;
    /// the writer refuses further writes. Reopen the store to recover.
    #[error(
        "writer is poisoned after a failed sync of {path}: {reason}; reopen the store to recover"
    )]
    Poisoned {
        /// The file whose sync failed.
        path: PathBuf,
        /// The original error.
        reason: String,
    },

    /// A project name that is empty, too long, `.`/`..`, or has a character
    /// outside `[A-Za-z0-9_.-]`.
    #[error("invalid project name {name:?}: {reason}")]
    InvalidProjectName {
        /// The name given.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },

    /// A read-only store has no project of this name (a writer creates
    /// projects on first use; a reader never does).
    #[error("no project {name:?} in the store at {}", store.display())]
    UnknownProject {
        /// The name asked for.
        name: String,
        /// The store's directory.
        store: PathBuf,
    },

    /// A record field is over its documented limit; nothing was written.
    #[error("field {field} is {len} bytes, over its limit of {max}")]
    FieldTooLarge {
        /// The field.
        field: Field,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// A record is older than the retention horizon; nothing was written.
    #[error("record time {time} is older than the retention horizon {horizon}")]
    TooOld {
        /// The record's time.
        time: Timestamp,
        /// The oldest time the store keeps.
        horizon: Timestamp,
    },

    /// A record is further in the future than the allowed clock skew; nothing was written.
    #[error("record time {time} is after {limit} (now plus the allowed future skew)")]
    TooFarInFuture {
        /// The record's time.
        time: Timestamp,
        /// The latest time accepted now.
        limit: Timestamp,
    },

    /// A time outside what the store can partition (before 1970, or after the last partition).
    #[error("time {time} is outside the range runlog can store")]
    TimeOutOfRange {
        /// The time given.
        time: Timestamp,
    },

    /// A time range whose end is before its start.
    #[error("invalid time range: to ({to}) is before from ({from})")]
    InvalidRange {
        /// Start given.
        from: Timestamp,
        /// End given.
        to: Timestamp,
    },

    /// An argument that is not valid (bad option value, unparsable ID, …).
    #[error("invalid {what}: {reason}")]
    InvalidArgument {
        /// What was invalid.
        what: &'static str,
        /// Why.
        reason: String,
    },

    /// A file's bytes are not what runlog wrote: a failed checksum, a bad
    /// length, a truncated structure.
    #[error("corrupt {path} at byte {offset}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Byte offset of the first bad byte found.
        offset: u64,
        /// What was wrong.
        reason: String,
    },

    /// A file written by a different on-disk format version.
    #[error(
        "{path} has format version {found}; this runlog reads version {supported} (upgrade runlog or migrate the store)"
    )]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// Version found in the file.
        found: u16,
        /// Version this build reads.
        supported: u16,
    },

    /// The store was created with other fixed settings than those given now.
    #[error(
        "store {path} was created with {setting} = {stored}, but {given} was given; fixed settings cannot change"
    )]
    SettingMismatch {
        /// The store directory.
        path: PathBuf,
        /// The setting.
        setting: &'static str,
        /// Its value in the store.
        stored: String,
        /// The value given to `open`.
        given: String,
    },

    /// A cursor string that runlog did not make (or that was altered).
    #[error("invalid cursor: {reason}")]
    InvalidCursor {
        /// What was wrong.
        reason: String,
    },

    /// A cursor used with a query other than the one that made it.
    #[error("cursor belongs to another query (different filters); start again without it")]
    CursorMismatch,

    /// [`Project::start_run`](crate::Project::start_run) with a job ID
    /// the project already has a run for; nothing changed. Job IDs must be
    /// unique while their runs are kept: a run past the retention horizon
    /// still holds its ID until retention drops its whole partition.
    #[error("job {job_id:?} already has a run")]
    JobExists {
        /// The job ID given.
        job_id: String,
    },

    /// No run has this job ID (never started, or past retention).
    #[error("no run for job {job_id:?}")]
    UnknownJob {
        /// The job ID given.
        job_id: String,
    },

    /// A lifecycle call that does not fit where the run stands (succeed a
    /// run that is not running, retry by hand a run that has not failed,
    /// report an attempt that is not the current one); nothing changed.
    #[error("cannot {action} job {job_id:?}: its run is {status} at attempt {attempt}{reason}")]
    InvalidTransition {
        /// The job.
        job_id: String,
        /// What was asked (`succeed`, `fail`, `retry manually`, …).
        action: &'static str,
        /// The run's status.
        status: RunStatus,
        /// Its current attempt.
        attempt: u32,
        /// More detail, empty or starting with `"; "`.
        reason: String,
    },

    /// Writing an export to its destination failed (nothing is wrong
    /// with the store).
    #[error("export failed: {source}")]
    Export {
        /// What went wrong (`source.kind()` tells a broken pipe or a full
        /// disk from the rest).
        #[source]
        source: io::Error,
    },

    /// A query named a saved preset the project does not have.
    #[error("no saved preset named {name:?}")]
    UnknownPreset {
        /// The name given.
        name: String,
    },
}

impl Error {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { op, path, source }
    }

    /// [`Error::UnsupportedVersion`] unless `found` is `supported`, the
    /// version of that file's format this build reads.
    pub(crate) fn check_version(path: &std::path::Path, found: u16, supported: u16) -> Result<()> {
        if found == supported {
            return Ok(());
        }
        Err(Error::UnsupportedVersion {
            path: path.to_path_buf(),
            found,
            supported,
        })
    }

    pub(crate) fn corrupt(
        path: impl Into<PathBuf>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Error {
        Error::Corrupt {
            path: path.into(),
            offset,
            reason: reason.into(),
        }
    }
}

/// A problem found in a file: where, and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    /// The file.
    pub path: PathBuf,
    /// Byte offset of the first bad byte.
    pub offset: u64,
    /// What was wrong.
    pub reason: String,
}

impl Damage {
    pub(crate) fn from_error(path: &Path, e: &Error) -> Damage {
        match e {
            Error::Corrupt {
                path,
                offset,
                reason,
            } => Damage {
                path: path.clone(),
                offset: *offset,
                reason: reason.clone(),
            },
            other => Damage {
                path: path.to_path_buf(),
                offset: 0,
                reason: other.to_string(),
            },
        }
    }
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at byte {}: {}",
            self.path.display(),
            self.offset,
            self.reason
        )
    }
}
