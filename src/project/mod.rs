//! A project: one isolated namespace of logs and runs, with its own
//! directory. [`Project`] is the handle users call; it is a façade over
//! the files of this folder:
//!
//! | file | what it does |
//! |---|---|
//! | `settings.rs` | fixed settings, partition arithmetic, damage and foreign-file reports |
//! | `catalog.rs` | the segments by ID, the directory listing, a segment as a read source |
//! | `core.rs` | `Core`: the parts one project's handles share, and opening them |
//! | `write.rs` | appends (check, plan, write, commit) and syncs |
//! | `maintain.rs` | sealing, retention and its schedule, verify |
//! | `tail.rs` | a read-only store's look at what the writer did |
//! | `read.rs` | pages, counts, records by ID, job logs, ranges |
//! | `follow.rs` | [`Follow`]: records as they are appended |
//! | `presets.rs` | saved presets |
//! | `runs.rs` | the run journal, retry policies and the run lifecycle |
//!
//! ## Lock order
//!
//! A thread holding one of these locks takes another only if it comes
//! later in this list (each at most once), so no two threads can wait on
//! each other:
//!
//! 0. The store's map of open projects (held while a project is opened;
//!    `Store::sync`, the sync thread and the store's drop copy the map
//!    and release it before they touch a project).
//! 1. `Core::looking` (a reader's look) and `Core::syncing` (a sync);
//!    never both.
//! 2. `Core::presets` (a change of the presets file; nothing else is
//!    taken under it but the file system).
//! 3. `Catalog::state`, the segments (read or write).
//! 4. The run ledger's locks (`Ledger`: its `syncing` lock, then its
//!    state).
//! 5. `Core::hidden`, the superseded attempts, and `Runs::policies`, the
//!    retry policies (read by a failed attempt's event under the ledger's
//!    state; nothing is taken under either).
//! 6. `Catalog::jobs`, the job directory.
//! 7. The cut log's locks (`Cuts`: writer, then file).
//! 8. `Reports::damage` and `Reports::foreign`, and an active segment's
//!    map (leaves: nothing is taken under them).
//! 9. `Catalog::appended` (a leaf: bumped after every append's other locks
//!    are released).

mod catalog;
pub(crate) mod core;
mod follow;
mod maintain;
mod presets;
mod read;
mod runs;
mod settings;
mod tail;
mod write;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Damage, Error, Result};
use crate::presets::SavedRange;
use crate::query::exec::Owned;
use crate::query::filter::Filter;
use crate::query::view::PageView;
use crate::query::{Counts, Page, Query};
use crate::record::{LogRecord, RecordId, StoredRecord};
use crate::runs::{AttemptTicket, NewRun, RetryPolicy, Run, RunCounts, RunPage, RunQuery, Trigger};
use crate::segment::recovery::VerifyReport;
use crate::time::{RangeSpec, ResolvedRange, TimeRange, Timestamp};

use self::core::{Core, KeepAlive};
pub use catalog::SegmentInfo;
pub use follow::Follow;

/// A handle on one project of a [`Store`](crate::Store): cheap to clone,
/// `Send + Sync`; many threads may append and read at once.
#[derive(Clone)]
pub struct Project {
    pub(crate) core: Arc<Core>,
    store: KeepAlive,
}

impl std::fmt::Debug for Project {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Project")
            .field("name", &self.core.settings.name)
            .field("dir", &self.core.settings.dir)
            .field("read_only", &self.core.settings.read_only)
            .finish_non_exhaustive()
    }
}

impl Project {
    pub(crate) fn new(core: Arc<Core>, store: KeepAlive) -> Project {
        Project { core, store }
    }

    /// The project's name.
    pub fn name(&self) -> &str {
        &self.core.settings.name
    }

    /// The project's directory.
    pub fn dir(&self) -> &Path {
        &self.core.settings.dir
    }

    /// Append one record; returns its ID once the record is written to the
    /// operating system (and synced, under [`SyncPolicy::Always`](crate::SyncPolicy::Always)).
    ///
    /// Refused, with nothing written: a field over its limit
    /// ([`Error::FieldTooLarge`]), an attempt of 0 ([`Error::InvalidArgument`]:
    /// attempts are numbered from 1), a time older than the retention
    /// horizon ([`Error::TooOld`]) or too far in the future
    /// ([`Error::TooFarInFuture`]).
    pub fn append(&self, record: &LogRecord) -> Result<RecordId> {
        let ids = self.core.append_batch(std::slice::from_ref(record))?;
        ids.into_iter()
            .next()
            .ok_or_else(|| Error::InvalidArgument {
                what: "append",
                reason: "no record written".into(),
            })
    }

    /// Append records in one write per segment; all or nothing: if any
    /// record is refused or a write fails, none is stored. Returns the IDs
    /// in the order given.
    pub fn append_batch(&self, records: &[LogRecord]) -> Result<Vec<RecordId>> {
        self.core.append_batch(records)
    }

    /// Make everything appended so far survive a power loss.
    pub fn sync(&self) -> Result<()> {
        self.core.sync()
    }

    /// One record with its detail, by ID; `None` if the project has no
    /// such record (or it is past the retention horizon).
    pub fn get(&self, id: RecordId) -> Result<Option<StoredRecord>> {
        self.core.get(id)
    }

    /// Every record in `range`, newest first (ties by [`RecordId`],
    /// highest first), without details. The iterator reads in pages and
    /// holds no lock between them; records appended meanwhile that sort
    /// below the last one returned are included.
    pub fn scan(&self, range: TimeRange) -> Records {
        Records {
            project: self.clone(),
            range,
            before: None,
            buf: Vec::new(),
            done: false,
        }
    }

    /// Seal every segment whose partition (plus grace) is over, and apply
    /// retention. Appends do this by themselves when due; call it when
    /// no appends come, e.g. from a timer.
    pub fn seal_due(&self) -> Result<()> {
        self.core.seal_due()
    }

    /// Delete every segment whose whole partition is older than the
    /// retention horizon; returns how many were deleted.
    pub fn enforce_retention(&self) -> Result<usize> {
        self.core.enforce_retention()
    }

    /// Check every checksum of every segment, index and run journal file.
    pub fn verify(&self) -> Result<VerifyReport> {
        self.core.verify()
    }

    /// The project's segment files.
    pub fn segments(&self) -> Result<Vec<SegmentInfo>> {
        self.core.segments()
    }

    /// One page of records matching `q`, newest first, with a cursor
    /// for the next page. Pages never read details.
    ///
    /// ```
    /// use runlog::{Level, LogRecord, Query, Store};
    /// # let dir = tempfile::tempdir()?;
    /// let logs = Store::open(dir.path())?.project("shop")?;
    /// let now = runlog::Timestamp::now();
    /// for i in 0..5 {
    ///     logs.append(&LogRecord::new(now, Level::Error, "job-1", format!("timeout #{i}")).env("prod"))?;
    /// }
    /// let q = Query::new().level(Level::Error).env("prod").text("TIMEOUT").limit(3);
    /// let first = logs.query(&q)?;
    /// assert_eq!(first.records.len(), 3);
    /// let second = logs.query(&q.clone().after(first.next.unwrap()))?;
    /// assert_eq!(second.records.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn query(&self, q: &Query) -> Result<Page> {
        self.core.query(q)
    }

    /// [`query`](Self::query) as a [`PageView`]: the same records (newest
    /// first), cursor and range, with the records' strings in one buffer
    /// instead of one allocation each; the cheaper way to render or
    /// stream a page.
    pub fn query_view(&self, q: &Query) -> Result<PageView> {
        self.core.query_view(q)
    }

    /// How many records match `q`: in total, per level, and per time bucket
    /// when [`Query::bucket`] is set. Without a text filter this reads
    /// only indexes, never record bodies.
    pub fn count(&self, q: &Query) -> Result<Counts> {
        self.core.count_query(q)
    }

    /// Every log of one execution, oldest first, across segments; logs of
    /// attempts a successful retry superseded are left out (see
    /// [`job_logs_including_superseded`](Self::job_logs_including_superseded)). To get a run's logs:
    /// `project.job_logs(&run.job_id)`.
    pub fn job_logs(&self, job_id: &str) -> Result<Vec<StoredRecord>> {
        self.core.job_logs(job_id, false)
    }

    /// Every log of one execution, oldest first, superseded attempts
    /// included and marked ([`StoredRecord::superseded`]).
    pub fn job_logs_including_superseded(&self, job_id: &str) -> Result<Vec<StoredRecord>> {
        self.core.job_logs(job_id, true)
    }

    /// [`job_logs`](Self::job_logs) as a [`PageView`]: the same records
    /// (oldest first, superseded attempts left out), their strings in one
    /// buffer instead of one allocation each (the page has no cursor or
    /// range).
    pub fn job_logs_view(&self, job_id: &str) -> Result<PageView> {
        self.core.job_logs_view(job_id, false)
    }

    /// The range a [`RangeSpec`] covers now, clamped to the retention horizon.
    pub fn resolve(&self, spec: &RangeSpec) -> Result<ResolvedRange> {
        self.core.resolve(spec)
    }

    /// Save (or replace) a named time range, usable with [`Query::saved`];
    /// it persists across restarts.
    pub fn save_preset(&self, name: &str, range: SavedRange) -> Result<()> {
        self.core.save_preset(name, range)
    }

    /// Delete a saved preset; returns whether it existed.
    pub fn delete_preset(&self, name: &str) -> Result<bool> {
        self.core.delete_preset(name)
    }

    /// The saved presets, sorted by name.
    pub fn presets(&self) -> Result<Vec<(String, SavedRange)>> {
        self.core.presets()
    }

    /// Follow the records matching `q`'s filters as they are appended
    /// (auto refresh); see [`Follow`].
    pub fn follow(&self, q: &Query) -> Result<Follow> {
        Follow::new(Arc::clone(&self.core), Arc::clone(&self.store), q)
    }

    /// What the project holds: files, records per level, time span, runs
    /// per status. Counts come from the indexes; nothing is scanned.
    pub fn stats(&self) -> Result<ProjectStats> {
        let segments = self.segments()?;
        let all = Query::new().all_time().include_superseded(true);
        let counts = self.count(&all)?;
        let newest = self
            .query(&all.clone().limit(1))?
            .records
            .first()
            .map(|r| r.record.time);
        let runs = self.count_runs(&RunQuery::new().all_time())?;
        Ok(ProjectStats {
            segments: segments.len(),
            sealed: segments.iter().filter(|s| s.sealed).count(),
            damaged: segments.iter().filter(|s| s.damaged).count(),
            records: counts.total,
            by_level: counts.by_level,
            bytes: self.core.bytes(),
            oldest: self.core.oldest()?,
            newest,
            runs: runs.total,
            runs_by_status: runs.by_status,
        })
    }

    /// Files and directories in the project's directories that runlog did
    /// not make (found when it listed them): a warning for the operator.
    /// runlog never reads, changes or deletes them (retention included).
    pub fn foreign_files(&self) -> Vec<PathBuf> {
        self.core.reports.foreign.lock().iter().cloned().collect()
    }

    /// Problems found so far (by recovery or reads): corrupt regions that
    /// were skipped and files set aside. Reads never return their data.
    pub fn damage(&self) -> Vec<Damage> {
        self.core.reports.damage.lock().clone()
    }
}

/// Runs: the lifecycle a runtime drives, and the queries a console asks.
impl Project {
    /// Record a new run of a job, with attempt 1 running. Its logs should
    /// carry attempt 1.
    ///
    /// Refused, with nothing recorded: a job ID the project already has
    /// ([`Error::JobExists`]), a field over its limit, a trigger time
    /// older than the retention horizon or too far in the future.
    ///
    /// ```
    /// use runlog::{NewRun, RunStatus, Store, Trigger};
    /// # let dir = tempfile::tempdir()?;
    /// let project = Store::open(dir.path())?.project("shop")?;
    /// let run = project.start_run(&NewRun::new("job-1", "sync-orders", Trigger::Scheduler).env("prod"))?;
    /// assert_eq!(run.status, RunStatus::Running);
    /// // The attempt fails: the default policy schedules a retry in 5 s.
    /// let run = project.attempt_failed("job-1", 1, "connection refused")?;
    /// assert_eq!(run.status, RunStatus::Retrying);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start_run(&self, run: &NewRun) -> Result<Run> {
        self.core.runs.start_run(&*self.core, run)
    }

    /// Record that attempt `attempt` of `job_id` succeeded: the run becomes
    /// `Successful`, and earlier failed attempts are superseded (their
    /// logs hidden from default queries). Refused with
    /// [`Error::InvalidTransition`] unless the run is `Running` that
    /// attempt, and with [`Error::UnknownJob`] for an unknown job.
    pub fn attempt_succeeded(&self, job_id: &str, attempt: u32) -> Result<Run> {
        self.core
            .runs
            .attempt_succeeded(&*self.core, job_id, attempt)
    }

    /// Record that attempt `attempt` of `job_id` failed with `error` (cut
    /// to [`MAX_ERROR_BYTES`](crate::MAX_ERROR_BYTES)). The flow's [`RetryPolicy`] decides: the run
    /// becomes `Retrying` with [`Run::next_retry`] set, or `Failed`.
    /// Refused like [`attempt_succeeded`](Self::attempt_succeeded).
    pub fn attempt_failed(&self, job_id: &str, attempt: u32, error: &str) -> Result<Run> {
        self.core
            .runs
            .attempt_failed(&*self.core, job_id, attempt, error)
    }

    /// Claim every retry due now, by the store's clock (soonest first):
    /// each run's next attempt is recorded as started and returned for the
    /// runtime to execute. A claim, not a peek: however many threads ask,
    /// each retry is returned once. If recording a claim fails (a full
    /// disk), the retries claimed before it are still returned; the rest
    /// stay due and the error is returned by a later call if it persists.
    pub fn due_retries(&self) -> Result<Vec<AttemptTicket>> {
        self.due_retries_at(self.core.settings.now())
    }

    /// [`due_retries`](Self::due_retries) as of `at` instead of now: the
    /// retries due at or before `at`, recorded as started now.
    pub fn due_retries_at(&self, at: Timestamp) -> Result<Vec<AttemptTicket>> {
        self.core.runs.due_retries(&*self.core, at)
    }

    /// Start a new, manual attempt of a `Failed` run and return it for the
    /// runtime to execute (automatic retries then start over); a run whose
    /// manual retry was [requested](Self::request_retry) and is due can be
    /// started this way too. Any other status is refused with
    /// [`Error::InvalidTransition`] naming it.
    pub fn start_retry(&self, job_id: &str) -> Result<AttemptTicket> {
        self.core.runs.start_retry(&*self.core, job_id)
    }

    /// Ask for a manual retry of a `Failed` run without executing it here:
    /// the run becomes `Retrying`, due now, with
    /// [`Run::retry_requested`] set, and the next
    /// [`due_retries`](Self::due_retries) hands it out as a manual attempt.
    /// For a console or tool that is not the runtime (the `runlog retry`
    /// command); a runtime retrying by hand itself uses
    /// [`start_retry`](Self::start_retry). Any other status is
    /// refused with [`Error::InvalidTransition`] naming it.
    pub fn request_retry(&self, job_id: &str) -> Result<Run> {
        self.core.runs.request_retry(&*self.core, job_id)
    }

    /// The run of `job_id`, if the project has it (within retention).
    pub fn run(&self, job_id: &str) -> Result<Option<Run>> {
        self.core.runs.run(&*self.core, job_id)
    }

    /// One page of runs matching `q`, newest first by trigger time, with a
    /// cursor for the next page.
    pub fn query_runs(&self, q: &RunQuery) -> Result<RunPage> {
        self.core.runs.runs_page(&*self.core, q)
    }

    /// Scheduled tasks: [`query_runs`](Self::query_runs) triggered by the Scheduler.
    ///
    /// ```
    /// use runlog::{NewRun, RunQuery, Store, Trigger};
    /// # let dir = tempfile::tempdir()?;
    /// let project = Store::open(dir.path())?.project("shop")?;
    /// project.start_run(&NewRun::new("job-1", "nightly-export", Trigger::Scheduler))?;
    /// project.start_run(&NewRun::new("job-2", "webhook", Trigger::Event))?;
    /// let page = project.scheduled_tasks(&RunQuery::new())?;
    /// assert_eq!(page.runs.len(), 1);
    /// assert_eq!(page.runs[0].job_id, "job-1");
    /// let logs = project.job_logs(&page.runs[0].job_id)?; // the task's logs
    /// # assert!(logs.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn scheduled_tasks(&self, q: &RunQuery) -> Result<RunPage> {
        let mut q = q.clone();
        q.triggers = 1 << Trigger::Scheduler.code();
        self.core.runs.runs_page(&*self.core, &q)
    }

    /// How many runs match `q`, per status.
    pub fn count_runs(&self, q: &RunQuery) -> Result<RunCounts> {
        self.core.runs.count_runs(&*self.core, q)
    }

    /// Set the project's retry policy (for flows without their own).
    /// Decisions already recorded keep their due times. Policies are
    /// configuration, not data: they are not stored, so a runtime sets
    /// them each time it opens the store.
    pub fn set_retry_policy(&self, policy: RetryPolicy) -> Result<()> {
        policy.validate()?;
        self.core.runs.policies.write().default = policy;
        Ok(())
    }

    /// Set the retry policy of one flow (`None`: back to the project's).
    pub fn set_flow_retry_policy(&self, flow: &str, policy: Option<RetryPolicy>) -> Result<()> {
        let mut p = self.core.runs.policies.write();
        match policy {
            Some(policy) => {
                policy.validate()?;
                p.flows.insert(flow.into(), policy);
            }
            None => {
                p.flows.remove(flow);
            }
        }
        Ok(())
    }

    /// The retry policy that applies to `flow`.
    pub fn retry_policy(&self, flow: &str) -> RetryPolicy {
        self.core.runs.retry_policy(flow)
    }
}

/// What a project holds: see [`Project::stats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProjectStats {
    /// Segment files.
    pub segments: usize,
    /// Of which sealed.
    pub sealed: usize,
    /// Of which could not be opened (see [`Project::damage`]).
    pub damaged: usize,
    /// Records within the retention horizon (superseded ones included).
    pub records: u64,
    /// Those records per level, indexed by [`Level::code`](crate::Level::code).
    pub by_level: [u64; 4],
    /// Bytes of every file of the project.
    pub bytes: u64,
    /// The oldest record's time.
    pub oldest: Option<Timestamp>,
    /// The newest record's time.
    pub newest: Option<Timestamp>,
    /// Runs within the retention horizon.
    pub runs: u64,
    /// Those runs per status, indexed by [`RunStatus::code`](crate::RunStatus::code).
    pub runs_by_status: [u64; 4],
}

/// Iterator over records newest first; see [`Project::scan`].
#[derive(Debug)]
pub struct Records {
    project: Project,
    range: TimeRange,
    before: Option<(Timestamp, RecordId)>,
    /// The current page, reversed (so `pop` gives the next record).
    buf: Vec<StoredRecord>,
    done: bool,
}

impl Iterator for Records {
    type Item = Result<StoredRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() && !self.done {
            let mut out = Owned::with_capacity(512);
            let before = self.before.map(|(t, id)| (t.as_micros(), id));
            let all = Filter::default_all();
            let found = self
                .project
                .core
                .search(&all, self.range, before, 512, &mut out);
            let mut page = out.records;
            match found {
                Ok(full) => self.done = !full,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
            if let Some(last) = page.last() {
                self.before = Some((last.record.time, last.id));
            } else {
                self.done = true;
            }
            page.reverse();
            self.buf = page;
        }
        self.buf.pop().map(Ok)
    }
}
