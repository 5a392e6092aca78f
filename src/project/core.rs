//! What one project's parts share: [`Core`], built once when the project
//! is opened and held by every handle. Each job done on it lives in a
//! file of its own: `write.rs` (appends, syncs), `maintain.rs` (seals,
//! retention, verify), `tail.rs` (a read-only store's look at the
//! writer), `read.rs` (queries, counts, job logs), `follow.rs`,
//! `presets.rs`; the runs are a part of their own (`runs.rs`).

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;

use parking_lot::Mutex;

use crate::cuts::Cuts;
use crate::error::Result;
use crate::options::StoreOptions;
use crate::query::superseded::Hidden;
use crate::record::Text;
use crate::runs::ledger::{Ledger, Replay};
use crate::time::{RangeSpec, ResolvedRange};

use super::catalog::{Catalog, Slot};
use super::runs::{RunHost, Runs};
use super::settings::{Reports, Settings};

/// What keeps the store (its lock, its sync thread) alive while handles
/// of its projects (and their follows) exist.
pub(crate) type KeepAlive = std::sync::Arc<dyn std::any::Any + Send + Sync>;

/// The shared internals of one project. The locks it holds are taken in
/// the order written at the top of `project/mod.rs`.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) settings: Settings,
    pub(crate) reports: Reports,
    /// The segments.
    pub(crate) catalog: Catalog,
    /// The runs: journal, table and retry policies.
    pub(crate) runs: Runs,
    /// Records of superseded attempts, hidden from default queries.
    pub(crate) hidden: Mutex<Hidden>,
    /// The count and log of cuts of active segments and journals (see
    /// `cuts`): a reader forgets what was cut when it moved.
    pub(crate) cuts: Cuts,
    /// Serializes syncs: a sync that finds nothing dirty because another
    /// is in flight must wait for it, or it would return before the data
    /// is durable (or miss the other's failure).
    pub(crate) syncing: Mutex<()>,
    /// Serializes changes to the saved presets file.
    pub(crate) presets: Mutex<()>,
    /// Read-only stores: serializes looks at the writer's files.
    pub(crate) looking: Mutex<()>,
    /// Read-only stores: `State::cuts_seen`, readable while the state is
    /// locked.
    pub(crate) cuts_seen: AtomicU64,
}

impl Core {
    /// Open the project in `dir`: recover its active segments, then seal
    /// what is due and apply retention (writers only).
    pub(crate) fn open(
        name: &str,
        dir: PathBuf,
        opts: StoreOptions,
        read_only: bool,
    ) -> Result<Self> {
        let settings = Settings::new(name, dir, opts, read_only);
        if !read_only {
            crate::fs::create_dir(&settings.dir)?;
        }
        let cuts = if read_only {
            Cuts::open_reader(&settings.dir)
        } else {
            Cuts::open_writer(&settings.dir)?
        };
        let (ledger, replay) = Ledger::open(
            &settings.dir,
            read_only,
            settings.opts.sync == crate::options::SyncPolicy::Always,
            settings.partition_len,
            (!read_only).then(|| cuts.clone()),
        )?;
        let runs = Runs::new(ledger, settings.opts.retry_policy);
        let core = Core {
            settings,
            reports: Reports::default(),
            catalog: Catalog::default(),
            runs,
            hidden: Mutex::new(Hidden::default()),
            cuts,
            syncing: Mutex::new(()),
            presets: Mutex::new(()),
            looking: Mutex::new(()),
            cuts_seen: AtomicU64::new(0),
        };
        core.absorb(replay);
        if read_only {
            core.refresh()?;
        } else {
            let mut st = core.catalog.state.write();
            st.list(&core.settings, &core.reports, &core.cuts)?;
            // A seal or retention step that fails (a full disk, say) is
            // retried at the next check; the project opens regardless, and
            // a failed fsync has poisoned it for writes.
            let _ = core.maintain(&mut st, core.settings.now());
        }
        Ok(core)
    }

    /// Take in what replaying run events found.
    pub(crate) fn absorb(&self, replay: Replay) {
        if !replay.superseding.is_empty() {
            let mut hidden = self.hidden.lock();
            for s in replay.superseding {
                hidden.supersede(s.job_id, s.attempt, s.partition);
            }
        }
        replay.damage.into_iter().for_each(|d| self.reports.note(d));
        if !replay.foreign.is_empty() {
            self.reports.foreign.lock().extend(replay.foreign);
        }
    }

    /// Refuse writes (logs or run events) once either writer is poisoned.
    pub(crate) fn check_writable(&self) -> Result<()> {
        self.catalog.state.read().check_poisoned()?;
        self.runs.ledger.poisoned().map_or(Ok(()), Err)
    }

    /// Whether any active segment or journal has unsynced data (cheap; for
    /// the sync thread).
    pub(crate) fn is_dirty(&self) -> bool {
        self.runs.ledger.is_dirty()
            || self
                .catalog
                .state
                .read()
                .segments
                .values()
                .any(|s| matches!(s, Slot::Active(seg) if seg.is_dirty()))
    }
}

impl RunHost for Core {
    fn settings(&self) -> &Settings {
        &self.settings
    }

    fn before_write(&self) -> Result<()> {
        self.maintain_if_due()?;
        self.check_writable()
    }

    fn schedule_drop(&self, p: u32) {
        Core::schedule_drop(self, p);
    }

    fn refresh(&self) -> Result<()> {
        Core::refresh(self)
    }

    fn resolve(&self, spec: &RangeSpec) -> Result<ResolvedRange> {
        Core::resolve(self, spec)
    }

    fn supersede(&self, job_id: Text, attempt: u32, partition: u32) {
        self.hidden.lock().supersede(job_id, attempt, partition);
    }
}
