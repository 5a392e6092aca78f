//! How a store is opened: [`StoreOptions`] and the [`SyncPolicy`].

use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};

/// When appended records are made durable (`fsync`ed).
///
/// Every policy writes each `append`/`append_batch` to the operating system
/// before it returns, so **an acknowledged append survives a crash of the
/// process** under every policy. They differ in what survives a power loss
/// or kernel crash:
///
/// | policy | survives a process crash | survives a power loss |
/// |---|---|---|
/// | [`SyncPolicy::Always`] | every acknowledged append | every acknowledged append |
/// | [`SyncPolicy::Periodic`] (default, 1 s) | every acknowledged append | all but at most the last interval (plus the time one `fsync` takes) |
/// | [`SyncPolicy::Manual`] | every acknowledged append | what was appended before the last `sync()` or seal |
///
/// Under every policy, [`Project::sync`](crate::Project::sync) makes all
/// appended records survive a power loss before it returns, and sealing a
/// segment syncs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncPolicy {
    /// `fsync` before each append or batch returns (slowest).
    Always,
    /// A background thread `fsync`s written data every interval.
    Periodic(Duration),
    /// Only `sync()` and sealing `fsync`.
    Manual,
}

impl Default for SyncPolicy {
    fn default() -> Self {
        SyncPolicy::Periodic(Duration::from_secs(1))
    }
}

/// Options for opening a [`Store`](crate::Store); every setting has a default.
///
/// ```
/// use runlog::{ManualClock, StoreOptions, SyncPolicy, Timestamp};
/// use std::time::Duration;
/// # let dir = tempfile::tempdir()?;
/// let clock = ManualClock::new(Timestamp::from_secs(1_700_000_000));
/// let store = StoreOptions::new()
///     .retention(Duration::from_secs(7 * 24 * 3600))
///     .sync_policy(SyncPolicy::Manual)
///     .clock(clock)
///     .open(dir.path())?;
/// # drop(store);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct StoreOptions {
    pub(crate) partition: Duration,
    /// Whether `partition` was set by the caller (else a store's own is adopted).
    pub(crate) partition_given: bool,
    pub(crate) grace: Duration,
    pub(crate) retention: Duration,
    pub(crate) max_future_skew: Duration,
    pub(crate) sync: SyncPolicy,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) max_segment_bytes: u64,
    pub(crate) utc_offset: chrono::FixedOffset,
    pub(crate) retry_policy: crate::runs::RetryPolicy,
    /// Whether appends index records (see `StoreOptions::__without_index`, feature `__internal`).
    pub(crate) index_appends: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            partition: Duration::from_secs(3600),
            partition_given: false,
            grace: Duration::from_secs(600),
            retention: Duration::from_secs(30 * 24 * 3600),
            max_future_skew: Duration::from_secs(300),
            sync: SyncPolicy::default(),
            clock: Arc::new(SystemClock),
            max_segment_bytes: 1 << 30,
            utc_offset: chrono::Offset::fix(&chrono::Utc),
            retry_policy: crate::runs::RetryPolicy::default(),
            index_appends: true,
        }
    }
}

impl StoreOptions {
    /// The defaults: 1 h partitions, 10 min grace, 30 days retention, 5 min
    /// future skew, [`SyncPolicy::Periodic`] every second, the system clock,
    /// 1 GiB segments.
    pub fn new() -> Self {
        Self::default()
    }

    /// Length of a time partition (one segment file per partition); between
    /// 1 minute and 1 day, dividing a day evenly (default 1 hour). Fixed
    /// when the store is created: opening an existing store adopts its
    /// length, unless this was called with another one
    /// ([`Error::SettingMismatch`]; a read-only open adopts the store's
    /// length whatever was given). Other options are checked against the
    /// length adopted.
    #[must_use]
    pub fn partition(mut self, d: Duration) -> Self {
        self.partition = d;
        self.partition_given = true;
        self
    }

    /// How long after its partition ends a segment stays open for late records.
    #[must_use]
    pub fn grace(mut self, d: Duration) -> Self {
        self.grace = d;
        self
    }

    /// How long records are kept (default 30 days).
    #[must_use]
    pub fn retention(mut self, d: Duration) -> Self {
        self.retention = d;
        self
    }

    /// How far after "now" a record's time may be (default 5 minutes).
    #[must_use]
    pub fn max_future_skew(mut self, d: Duration) -> Self {
        self.max_future_skew = d;
        self
    }

    /// When appended data is `fsync`ed; see [`SyncPolicy`].
    #[must_use]
    pub fn sync_policy(mut self, p: SyncPolicy) -> Self {
        self.sync = p;
        self
    }

    /// The clock used for "now" (default: the system clock).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Appends skip the in-memory index: what is left is the storage
    /// engine alone (checks, partitioning, framing, checksums, the write),
    /// which `benches/append.rs` measures beside the whole append. Not
    /// part of the API: the segments of a store opened this way index no
    /// record, so its filtered queries, counts and job lookups find
    /// nothing. Only with the feature `__internal`.
    #[cfg(feature = "__internal")]
    #[doc(hidden)]
    #[must_use]
    pub fn __without_index(mut self) -> Self {
        self.index_appends = false;
        self
    }

    /// Largest size of one segment file before a partition rolls over to a
    /// new generation (default 1 GiB; between 1 MiB and 3 GiB).
    #[must_use]
    pub fn max_segment_bytes(mut self, bytes: u64) -> Self {
        self.max_segment_bytes = bytes;
        self
    }

    /// The time zone of calendar presets ("today", "this week", …) as a
    /// fixed offset from UTC (default: UTC).
    #[must_use]
    pub fn utc_offset(mut self, offset: chrono::FixedOffset) -> Self {
        self.utc_offset = offset;
        self
    }

    /// The retry policy of every project's runs (default:
    /// [`RetryPolicy::default`](crate::RetryPolicy::default)); a project
    /// can change it, and set one per flow, with
    /// [`Project::set_retry_policy`](crate::Project::set_retry_policy).
    #[must_use]
    pub fn retry_policy(mut self, policy: crate::runs::RetryPolicy) -> Self {
        self.retry_policy = policy;
        self
    }

    pub(crate) fn check(&self) -> Result<()> {
        let bad = |reason: String| {
            Err(Error::InvalidArgument {
                what: "store option",
                reason,
            })
        };
        let p = self.partition.as_secs();
        if self.partition.subsec_nanos() != 0 || !(60..=86_400).contains(&p) || 86_400 % p != 0 {
            return bad(format!(
                "partition length {:?} must be whole seconds between 1 minute and 1 day, dividing a day",
                self.partition
            ));
        }
        if self.retention < self.partition {
            return bad(format!(
                "retention {:?} is shorter than a partition {:?}",
                self.retention, self.partition
            ));
        }
        if let SyncPolicy::Periodic(d) = self.sync
            && d.is_zero()
        {
            return bad("periodic sync interval is zero; use SyncPolicy::Always".into());
        }
        self.retry_policy.validate()?;
        if !(1 << 20..=3 << 30).contains(&self.max_segment_bytes) {
            return bad(format!(
                "max segment size {} must be between 1 MiB and 3 GiB",
                self.max_segment_bytes
            ));
        }
        Ok(())
    }
}
