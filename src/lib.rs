//! # runlog
//!
//! An embedded store for the *running logs* of integration runtimes (iPaaS
//! apps, flows, jobs, connectors). A runtime links runlog in and appends a
//! [`LogRecord`] for every log line its flows write; operators find them
//! again by time and job.
//!
//! - **Storage**: per project, time-partitioned (default: one hour),
//!   append-only segment files. Every record is framed with its lengths and
//!   CRC32 checksums; a torn or corrupt record is detected, never returned.
//!   The byte layout is documented in `src/segment/format.rs`.
//! - **Sealing**: once its partition (plus a grace period for late records)
//!   is over, a segment gets its tables written and becomes immutable; it
//!   then opens without a scan of its records (a store open only lists
//!   segment files; a segment is mapped, and its tables checked once, on
//!   first use) and is read through a memory map.
//! - **Durability**: every acknowledged append survives a process crash;
//!   what survives a power loss is set by the [`SyncPolicy`];
//!   [`Project::sync`] makes everything appended so far durable.
//! - **Recovery**: opening after a crash scans only unsealed segments and
//!   cuts a torn tail back to the last whole record. Corrupt regions and
//!   files are reported ([`Project::damage`]) and skipped; the rest of the
//!   store keeps working. [`Project::verify`] checks every checksum.
//! - **Retention**: records are kept 30 days by default; whole segments are
//!   dropped once their partition is past the horizon, and reads never
//!   return a record older than it.
//! - **Queries**: [`Project::query`] returns a [`Page`] of owned records,
//!   newest first, with a cursor to the next; [`Project::query_view`]
//!   returns the same page as a [`PageView`], whose [`RecordView`]s borrow
//!   one buffer (no allocation per record: the cheaper way to render or
//!   stream a page). Also [`Project::count`] (per level and time bucket,
//!   from the indexes), [`Project::job_logs`] (and
//!   [`Project::job_logs_view`]), [`Project::get`] (one record with its
//!   detail) and [`Project::follow`] (auto refresh).
//! - **Runs**: a run record per job (trigger, attempts, retry state),
//!   driven by the runtime through [`Project::start_run`],
//!   [`Project::attempt_failed`] (the [`RetryPolicy`] decides: retry later
//!   or `Failed`), [`Project::due_retries`] (claims, each retry once),
//!   [`Project::attempt_succeeded`] and [`Project::start_retry`]. A
//!   successful retry supersedes the earlier failures: their logs are
//!   hidden from default queries ([`Query::include_superseded`] shows
//!   them). Runs and scheduled tasks are listed with [`Project::query_runs`] and
//!   [`Project::scheduled_tasks`]. The run journal's byte layout is
//!   documented in `src/runs/journal.rs`.
//! - **One writer**: a lock file keeps a second writing process out with
//!   [`Error::Locked`]; any number of processes may open the store
//!   read-only meanwhile ([`Store::open_read_only`]).
//!
//! runlog is not a general-purpose database, a log shipper, or a server.
//!
//! ## Limits
//!
//! | what | limit |
//! |---|---|
//! | `job_id` | [`MAX_JOB_ID_BYTES`] (128) bytes |
//! | `flow`, `component`, `action`, `category`, `env`, `app`, `version` | [`MAX_NAME_BYTES`] (256) bytes each |
//! | `content` | [`MAX_CONTENT_BYTES`] (16 KiB) |
//! | `detail` | [`MAX_DETAIL_BYTES`] (4 MiB) |
//! | project name | 1–64 bytes of `[A-Za-z0-9_.-]`, not `.`/`..` |
//! | record time | not older than the retention horizon (default 30 days), not more than the future skew (default 5 min) ahead |
//!
//! ## Example
//!
//! ```
//! use runlog::{Level, LogRecord, ManualClock, StoreOptions, TimeRange, Timestamp};
//! use std::time::Duration;
//!
//! # let dir = tempfile::tempdir()?;
//! let clock = ManualClock::new(Timestamp::from_secs(1_700_000_000));
//! let store = StoreOptions::new().clock(clock.clone()).open(dir.path())?;
//! let logs = store.project("shop")?;
//!
//! let now = Timestamp::from_secs(1_700_000_000);
//! logs.append_batch(&[
//!     LogRecord::new(now, Level::Info, "job-1", "flow started").flow("sync-orders").env("prod"),
//!     LogRecord::new(now.saturating_add(Duration::from_millis(5)), Level::Error, "job-1", "POST /orders: 503")
//!         .flow("sync-orders")
//!         .env("prod")
//!         .detail("{\"status\": 503}"),
//! ])?;
//!
//! // Newest first; listing leaves details out.
//! let records: Vec<_> = logs.scan(TimeRange::all()).collect::<Result<_, _>>()?;
//! assert_eq!(records[0].record.content, "POST /orders: 503");
//! assert!(records[0].has_detail && records[0].record.detail.is_none());
//!
//! // The details view.
//! let full = logs.get(records[0].id)?.unwrap();
//! assert_eq!(full.record.detail.as_deref(), Some("{\"status\": 503}"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod clock;
mod codec;
mod cuts;
mod error;
mod export;
mod fs;
mod index;
mod mmap;
mod options;
mod presets;
mod project;
mod query;
mod record;
mod runs;
mod segment;
mod simd;
mod store;
mod time;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{Damage, Error, Result};
pub use export::{
    EXPORT_PAGE, ExecutionBundle, ExportFormat, ExportOptions, ExportRow, ExportSummary,
};
pub use options::{StoreOptions, SyncPolicy};
pub use presets::{MAX_PRESET_NAME, SavedRange};
pub use project::{Follow, Project, ProjectStats, Records, SegmentInfo};
pub use query::view::{PageView, RecordView};
pub use query::{Counts, Cursor, DEFAULT_LIMIT, MAX_LIMIT, Page, Query};
pub use record::{
    Field, Level, LogRecord, MAX_CONTENT_BYTES, MAX_DETAIL_BYTES, MAX_JOB_ID_BYTES, MAX_NAME_BYTES,
    RecordId, SegmentId, StoredRecord, Text,
};
/// The run journal's codec; not part of the API (feature `__internal`).
#[cfg(feature = "__internal")]
#[doc(hidden)]
pub use runs::journal;
pub use runs::{
    Attempt, AttemptTicket, MAX_ERROR_BYTES, MAX_RETRY_DELAY, NewRun, Outcome, RetryPolicy, Run,
    RunCounts, RunCursor, RunPage, RunQuery, RunStatus, Trigger,
};
/// The segment file codec (frames, scanning, seal tables); not part of
/// the API (feature `__internal`).
#[cfg(feature = "__internal")]
#[doc(hidden)]
pub mod format {
    pub use crate::segment::format::*;
    pub use crate::segment::scan::*;
    pub use crate::segment::seal::*;
}
pub use segment::recovery::VerifyReport;
pub use store::{MAX_PROJECT_NAME, Store};
pub use time::{Preset, RangeSpec, ResolvedRange, TimeRange, Timestamp};

/// Entry points for the fuzz targets and their corpus replay
/// (`fuzz/`, `tests/fuzz_corpus.rs`); not part of the API (feature
/// `__internal`).
#[cfg(feature = "__internal")]
#[doc(hidden)]
pub mod __fuzz {
    use crate::index::IndexField;
    use crate::index::disk::{self, IndexFile};
    use crate::index::memory::MemIndex;
    use crate::{LogRecord, SavedRange, SegmentId};

    /// Open `bytes` as the index file of segment `id` and run every kind of
    /// lookup on it. `Ok(true)`: accepted whole and every answer agrees
    /// with its posting; `Ok(false)`: refused (or partly refused) with an
    /// error; `Err`: an invariant broke.
    pub fn index_file(bytes: &[u8], id: SegmentId) -> Result<bool, String> {
        let Ok(ix) = IndexFile::open(bytes, id) else {
            return Ok(false);
        };
        let whole = ix.check_all().is_ok();
        for field in IndexField::ALL {
            let Ok(terms) = ix.terms(field) else {
                if whole {
                    return Err(format!("{field:?}: terms refused after check_all passed"));
                }
                continue;
            };
            for t in terms.iter().take(32) {
                match (ix.get(field, t), ix.cardinality(field, t)) {
                    (Ok(Some(bm)), Ok(n))
                        if bm.len() != n || bm.max().is_some_and(|m| m >= ix.ranks()) =>
                    {
                        return Err(format!(
                            "{field:?} {t:?}: bitmap disagrees with its posting"
                        ));
                    }
                    (Ok(Some(_)), Ok(_)) => {}
                    (Ok(None), _) => return Err(format!("{field:?} {t:?}: listed term not found")),
                    _ if whole => {
                        return Err(format!(
                            "{field:?} {t:?}: lookup failed after check_all passed"
                        ));
                    }
                    _ => {}
                }
            }
            for needle in [&b""[..], b"a", b"0", b"job"] {
                if let (Ok(bm), true) = (ix.containing(field, needle), whole)
                    && bm.max().is_some_and(|m| m >= ix.ranks())
                {
                    return Err(format!("{field:?}: substring bitmap beyond the ranks"));
                }
            }
        }
        Ok(whole)
    }

    /// The index file of `records` (ranks = ordinals) for segment `id`.
    pub fn encode_index(records: &[LogRecord], id: SegmentId) -> Vec<u8> {
        let mut mem = MemIndex::default();
        for (i, r) in records.iter().enumerate() {
            mem.add(i as u32, r);
        }
        disk::encode(&mem, None, id, records.len() as u32)
    }

    /// Decode `bytes` as a saved-presets file.
    pub fn presets(bytes: &[u8]) -> crate::Result<Vec<(String, SavedRange)>> {
        crate::presets::decode(std::path::Path::new("presets"), bytes)
    }

    /// The bytes of a saved-presets file.
    pub fn encode_presets(list: &[(String, SavedRange)]) -> Vec<u8> {
        crate::presets::encode(list)
    }

    /// Decode `bytes` as a project's `cuts` file: the count, each valid
    /// entry of the cut log (its number and its bytes as the writer would
    /// encode it), and where the valid entries end.
    pub fn cut_log(bytes: &[u8]) -> (u64, Vec<(u64, Vec<u8>)>, usize) {
        let log = crate::cuts::decode(bytes);
        let entries = log
            .entries
            .iter()
            .map(|(seq, cut)| (*seq, crate::cuts::encode_entry(*seq, cut).to_vec()))
            .collect();
        (log.count, entries, log.end)
    }

    /// How many cuts, numbered `seen + 1 ..= count`, a reader learns from
    /// the `cuts` file `bytes`; `None` when it cannot tell them all (it
    /// then reads every active segment and journal again).
    pub fn cuts_since(bytes: &[u8], seen: u64, count: u64) -> Option<usize> {
        let cuts = crate::cuts::since(bytes, seen, count);
        (!cuts.contains(&crate::cuts::Cut::Any)).then_some(cuts.len())
    }
}
