//! What every part of a project reads and none changes: where it lives,
//! its options, how its time is cut into partitions; and the reports of
//! what it found along the way (damage, foreign files).

use std::collections::BTreeSet;
use std::path::PathBuf;

use parking_lot::Mutex;

use crate::error::{Damage, Error, Result};
use crate::options::StoreOptions;
use crate::segment::writer::ActiveSegment;
use crate::time::{Timestamp, duration_micros};

/// A project's fixed settings and the time arithmetic built on them.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) name: String,
    pub(crate) dir: PathBuf,
    pub(crate) opts: StoreOptions,
    /// Partition length in µs.
    pub(crate) partition_len: i64,
    /// A read-only store: every write is refused, and every read first
    /// looks at what the writer (another process) did.
    pub(crate) read_only: bool,
}

impl Settings {
    pub(crate) fn new(name: &str, dir: PathBuf, opts: StoreOptions, read_only: bool) -> Settings {
        Settings {
            name: name.to_owned(),
            dir,
            partition_len: duration_micros(opts.partition),
            opts,
            read_only,
        }
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.opts.clock.now()
    }

    /// The oldest time retention keeps at `now`.
    pub(crate) fn horizon(&self, now: Timestamp) -> Timestamp {
        now.saturating_sub(self.opts.retention)
    }

    /// The first partition retention keeps at `now`.
    pub(crate) fn first_kept_partition(&self, now: Timestamp) -> u32 {
        let p = self.horizon(now).as_micros().div_euclid(self.partition_len);
        u32::try_from(p.max(0)).unwrap_or(u32::MAX)
    }

    /// The time range of partition `p`; saturates for a partition beyond
    /// the last representable one (never made by runlog, see `partition_of`).
    pub(crate) fn partition_range(&self, p: u32) -> (i64, i64) {
        let start = i64::from(p).saturating_mul(self.partition_len);
        (start, start.saturating_add(self.partition_len))
    }

    /// Whether partition `p` ends at a representable time.
    pub(crate) fn partition_fits(&self, p: u32) -> bool {
        (i64::from(p) + 1).checked_mul(self.partition_len).is_some()
    }

    /// The partition of time `t`.
    pub(crate) fn partition_of(&self, t: Timestamp) -> Result<u32> {
        let p = t.as_micros().div_euclid(self.partition_len);
        u32::try_from(p)
            .ok()
            .filter(|&p| self.partition_fits(p))
            .ok_or(Error::TimeOutOfRange { time: t })
    }

    /// When `seg` is due to be sealed (µs): its partition's end (or its
    /// creation, if later) plus the grace for late records.
    pub(crate) fn seal_deadline(&self, seg: &ActiveSegment) -> i64 {
        let (_, end) = self.partition_range(seg.id.partition);
        end.max(seg.created.as_micros())
            .saturating_add(duration_micros(self.opts.grace))
    }

    /// The saved presets file.
    pub(crate) fn presets_path(&self) -> PathBuf {
        self.dir.join(crate::presets::PRESETS_FILE)
    }

    /// A write refused because the store is read-only.
    pub(crate) fn read_only_error(&self) -> Error {
        Error::ReadOnly {
            path: self.dir.clone(),
        }
    }
}

/// What a project found that the operator should hear about.
#[derive(Debug, Default)]
pub(crate) struct Reports {
    /// Corrupt regions skipped and files set aside, each once.
    pub(crate) damage: Mutex<Vec<Damage>>,
    /// Files in the project's directories that runlog did not make: left
    /// alone (never read, never deleted), reported by `foreign_files`.
    pub(crate) foreign: Mutex<BTreeSet<PathBuf>>,
}

impl Reports {
    /// Report `d` (once).
    pub(crate) fn note(&self, d: Damage) {
        let mut all = self.damage.lock();
        if !all.contains(&d) {
            all.push(d);
        }
    }
}
