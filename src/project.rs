//! A project: one isolated namespace of logs, with its own directory of
//! segments. [`Project`] is the handle users call.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use parking_lot::{Condvar, Mutex, RwLock};

use crate::error::Damage;
use crate::error::{Error, Result};
use crate::options::{StoreOptions, SyncPolicy};
use crate::presets::{self, SavedRange};
use crate::query::exec::{self, Collect, Key, MIN_ID, Owned, Source, Tally};
use crate::query::filter::{Filter, IndexRef};
use crate::query::follow::Follow;
use crate::query::jobs::{JobDirectory, job_hash};
use crate::query::superseded::Hidden;
use crate::query::view::{PageView, RecordView, ViewBuilder};
use crate::query::{Counts, Cursor, Page, Query};
use crate::record::Text;
use crate::record::{LogRecord, RecordId, SegmentId, StoredRecord};
use crate::runs::RetryPolicy;
use crate::runs::ledger::{Ledger, Replay};
use crate::segment::cuts::{CUTS_FILE, Cut, Cuts};
use crate::segment::format;
use crate::segment::reader::{SealedSegment, SegView};
use crate::segment::recovery::{self, Recovered, VerifyReport};
use crate::segment::writer::ActiveSegment;
use crate::segment::{ACTIVE_EXT, SEALED_EXT, parse_segment_name, segment_path};
use crate::store::StoreInner;
use crate::time::{RangeSpec, ResolvedRange, TimeRange, Timestamp, duration_micros};

/// The saved presets file of a project.
const PRESETS_FILE: &str = "presets";

/// How many times a reader reads the active segments again in one look
/// when the writer cut one back meanwhile.
const MAX_REREADS: u32 = 3;
/// Most cuts a reader keeps for its followers (see [`State::rewinds`]).
const MAX_REWINDS: usize = 4096;
/// Whether `name` is a segment's file with extension `ext` (`<segment>.<ext>`).
fn is_segment_file(name: &std::ffi::OsStr, ext: &str) -> bool {
    name.to_str()
        .and_then(|n| n.strip_suffix(&format!(".{ext}")))
        .is_some_and(|stem| {
            parse_segment_name(&format!("{stem}.{}", crate::segment::SEALED_EXT)).is_some()
        })
}

/// Whether `name` is an index file a seal left half-done (`<segment>.idx.tmp`).
fn is_stale_index_tmp(name: &std::ffi::OsStr) -> bool {
    is_segment_file(name, crate::segment::TMP_INDEX_EXT)
}

/// A follower's mark for a sealed segment it has read to the end.
const FOLLOWED: u32 = u32::MAX;
/// Most buckets a count may ask for.
const MAX_BUCKETS: i64 = 100_000;

/// A handle on one project of a [`Store`](crate::Store): cheap to clone,
/// `Send + Sync`; many threads may append and read at once.
#[derive(Clone, Debug)]
pub struct Project {
    pub(crate) inner: Arc<ProjectInner>,
    /// Keeps the store (its lock, its sync thread) alive while handles exist.
    pub(crate) _store: Arc<StoreInner>,
}

#[derive(Debug)]
pub(crate) struct ProjectInner {
    name: String,
    dir: PathBuf,
    pub(crate) opts: StoreOptions,
    /// Partition length in µs.
    pub(crate) partition_len: i64,
    pub(crate) read_only: bool,
    state: RwLock<State>,
    damage: Mutex<Vec<Damage>>,
    /// Bumped on every append, for followers to wait on.
    appended: Mutex<u64>,
    appended_cv: Condvar,
    /// Serializes changes to the saved presets file.
    presets: Mutex<()>,
    /// Which sealed segments hold which jobs.
    jobs: Mutex<JobDirectory>,
    /// Serializes syncs: a sync that finds nothing dirty because another
    /// is in flight must wait for it, or it would return before the data
    /// is durable (or miss the other's failure).
    syncing: Mutex<()>,
    /// The runs of the project (their journal and table).
    pub(crate) runs: Ledger,
    /// Records of superseded attempts, hidden from default queries.
    pub(crate) hidden: Mutex<Hidden>,
    /// Retry policies: the project's, and per flow.
    pub(crate) policies: RwLock<Policies>,
    /// Files in the project's directories that runlog did not make: left
    /// alone (never read, never deleted), reported by `foreign_files`.
    foreign: Mutex<std::collections::BTreeSet<PathBuf>>,
    /// The count and log of cuts of active segments and journals (see
    /// `segment::cuts`): a reader forgets what was cut when it moved.
    cuts: Cuts,
    /// Read-only stores: serializes looks at the writer's files.
    looking: Mutex<()>,
    /// Read-only stores: `State::cuts_seen`, readable while the state is
    /// locked.
    cuts_seen: AtomicU64,
}

/// Whether `name`, in a project's directory, is one of runlog's own
/// entries other than a segment: an index (finished or half-written), the
/// presets file (or its temporary), the run journal directory, the cut
/// log.
fn is_own_entry(name: &std::ffi::OsStr) -> bool {
    name == PRESETS_FILE
        || name == CUTS_FILE
        || name.to_str() == Some(&format!("{PRESETS_FILE}.tmp"))
        || name == crate::runs::journal::JOURNAL_DIR
        || is_segment_file(name, crate::segment::INDEX_EXT)
        || is_stale_index_tmp(name)
}

/// The retry policies of a project.
#[derive(Debug, Default)]
pub(crate) struct Policies {
    pub(crate) default: RetryPolicy,
    pub(crate) flows: HashMap<Text, RetryPolicy>,
}

#[derive(Debug, Default)]
struct State {
    segments: BTreeMap<SegmentId, Slot>,
    /// Set by a failed `fsync`: the writer refuses writes from then on.
    poisoned: Option<(PathBuf, String)>,
    /// When sealing or retention is next due (µs).
    next_check: i64,
    /// Read-only stores: the directory's mtime at the last listing, and when we listed.
    listed: Option<(SystemTime, SystemTime)>,
    /// Read-only stores: the cut count when the active segments were
    /// last read.
    cuts_seen: u64,
    /// Read-only stores: the segment cuts applied, as (segment, first
    /// ordinal cut), for followers to move back to (the last
    /// [`MAX_REWINDS`]); `rewinds_base` is the number of cuts dropped
    /// before the first one kept.
    rewinds: std::collections::VecDeque<(SegmentId, u32)>,
    rewinds_base: u64,
    /// Bumped whenever a segment is added, sealed or removed.
    epoch: u64,
}

#[derive(Debug)]
enum Slot {
    Active(Box<ActiveSegment>),
    Sealed {
        path: PathBuf,
        /// Mapped on first use; `None` if the file is corrupt.
        seg: OnceLock<Option<Arc<SealedSegment>>>,
    },
    /// A file that could not be opened; its ID stays taken.
    Damaged(PathBuf),
}

impl Slot {
    fn sealed(path: PathBuf) -> Slot {
        Slot::Sealed {
            path,
            seg: OnceLock::new(),
        }
    }

    fn path(&self) -> &Path {
        match self {
            Slot::Active(a) => &a.path,
            Slot::Sealed { path, .. } | Slot::Damaged(path) => path,
        }
    }
}

/// One segment file of a project, as listed by [`Project::segments`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    /// The segment's identity.
    pub id: SegmentId,
    /// The file.
    pub path: PathBuf,
    /// Whether it is sealed (immutable).
    pub sealed: bool,
    /// Whether it could not be opened (see [`Project::damage`]).
    pub damaged: bool,
    /// The partition's time range.
    pub partition: TimeRange,
}

impl ProjectInner {
    /// Open the project in `dir`: recover its active segments, then seal
    /// what is due and apply retention (writers only).
    pub(crate) fn open(
        name: &str,
        dir: PathBuf,
        opts: StoreOptions,
        read_only: bool,
    ) -> Result<Self> {
        let partition_len = duration_micros(opts.partition);
        if !read_only {
            crate::fs::create_dir(&dir)?;
        }
        let cuts = if read_only {
            Cuts::open_reader(&dir)
        } else {
            Cuts::open_writer(&dir)?
        };
        let (runs, replay) = Ledger::open(
            &dir,
            read_only,
            opts.sync,
            partition_len,
            (!read_only).then(|| cuts.clone()),
        )?;
        let policies = RwLock::new(Policies {
            default: opts.retry_policy,
            flows: HashMap::new(),
        });
        let inner = ProjectInner {
            name: name.to_owned(),
            dir,
            opts,
            partition_len,
            read_only,
            state: RwLock::new(State::default()),
            damage: Mutex::new(Vec::new()),
            appended: Mutex::new(0),
            appended_cv: Condvar::new(),
            presets: Mutex::new(()),
            jobs: Mutex::new(JobDirectory::default()),
            syncing: Mutex::new(()),
            runs,
            hidden: Mutex::new(Hidden::default()),
            policies,
            foreign: Mutex::new(Default::default()),
            cuts,
            looking: Mutex::new(()),
            cuts_seen: AtomicU64::new(0),
        };
        inner.absorb(replay);
        if read_only {
            inner.refresh()?;
        } else {
            let mut st = inner.state.write();
            inner.list_dir(&mut st)?;
            // A seal or retention step that fails (a full disk, say) is
            // retried at the next check; the project opens regardless, and
            // a failed fsync has poisoned it for writes.
            let _ = inner.maintain(&mut st, inner.now());
        }
        Ok(inner)
    }

    /// Take in what replaying run events found.
    pub(crate) fn absorb(&self, replay: Replay) {
        if !replay.superseding.is_empty() {
            let mut hidden = self.hidden.lock();
            for s in replay.superseding {
                hidden.supersede(s.job_id, s.attempt, s.partition);
            }
        }
        replay.damage.into_iter().for_each(|d| self.note_damage(d));
        if !replay.foreign.is_empty() {
            self.foreign.lock().extend(replay.foreign);
        }
    }

    /// The first partition retention keeps at `now`.
    pub(crate) fn first_kept_partition(&self, now: Timestamp) -> u32 {
        let p = self.horizon(now).as_micros().div_euclid(self.partition_len);
        u32::try_from(p.max(0)).unwrap_or(u32::MAX)
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.opts.clock.now()
    }

    pub(crate) fn horizon(&self, now: Timestamp) -> Timestamp {
        now.saturating_sub(self.opts.retention)
    }

    /// The time range of partition `p`; saturates for a partition beyond
    /// the last representable one (never made by runlog, see `partition_of`).
    fn partition_range(&self, p: u32) -> (i64, i64) {
        let start = i64::from(p).saturating_mul(self.partition_len);
        (start, start.saturating_add(self.partition_len))
    }

    /// Whether partition `p` ends at a representable time.
    fn partition_fits(&self, p: u32) -> bool {
        (i64::from(p) + 1).checked_mul(self.partition_len).is_some()
    }

    pub(crate) fn partition_of(&self, t: Timestamp) -> Result<u32> {
        let p = t.as_micros().div_euclid(self.partition_len);
        u32::try_from(p)
            .ok()
            .filter(|&p| self.partition_fits(p))
            .ok_or(Error::TimeOutOfRange { time: t })
    }

    /// [`note_damage`](Self::note_damage) for damage found reading a
    /// record at an offset a look found earlier: in a read-only store,
    /// unless the cut count moved since the look (the bytes read may have
    /// been cut and written again: no damage; the next look reads them
    /// again, and a read then finds real damage again).
    pub(crate) fn note_read_damage(&self, d: Damage) {
        if !self.cut_since_look() {
            self.note_damage(d);
        }
    }

    /// Whether this is a read-only store whose writer cut something since
    /// the last look (or whose count cannot be read).
    fn cut_since_look(&self) -> bool {
        self.read_only
            && self
                .cuts
                .read()
                .map_or(true, |c| c != self.cuts_seen.load(Ordering::Acquire))
    }

    pub(crate) fn note_damage(&self, d: Damage) {
        let mut all = self.damage.lock();
        if !all.contains(&d) {
            all.push(d);
        }
    }

    /// Read the directory into `st` (writer: once, at open; reader: when it changed).
    fn list_dir(&self, st: &mut State) -> Result<()> {
        let entries = fs::read_dir(&self.dir).map_err(Error::io("read directory", &self.dir))?;
        let mut seen = BTreeMap::new();
        let mut stale_tmp = Vec::new();
        for entry in entries {
            let entry = entry.map_err(Error::io("read directory", &self.dir))?;
            let name = entry.file_name();
            if is_stale_index_tmp(&name) {
                // An index a crash interrupted before its rename: recovery
                // below moves it into place if its seal completed, else it
                // is removed then.
                stale_tmp.push(entry.path());
                continue;
            }
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            let Some((id, ext)) = name
                .to_str()
                .and_then(parse_segment_name)
                .filter(|(id, _)| is_file && self.partition_fits(id.partition))
            else {
                if !is_own_entry(&name) {
                    // Not ours: left alone, never deleted; reported.
                    self.foreign.lock().insert(entry.path());
                }
                continue;
            };
            let path = entry.path();
            // A `.seg` wins over a `.wal` of the same ID (the rename is atomic,
            // so both exist only if something outside runlog made them).
            if ext == ACTIVE_EXT && seen.contains_key(&id) {
                continue;
            }
            seen.insert(id, (path, ext == ACTIVE_EXT));
        }
        // Forget segments whose files are gone (retention in another
        // process). A listing racing a rename can miss an entry, so a
        // segment is forgotten only when neither of its files exists; one
        // found sealed meanwhile is picked up below.
        let dir = &self.dir;
        st.segments.retain(|id, _| {
            seen.contains_key(id)
                || segment_path(dir, *id, ACTIVE_EXT).exists()
                || segment_path(dir, *id, SEALED_EXT).exists()
        });
        for (id, slot) in st.segments.iter() {
            let sealed = segment_path(dir, *id, SEALED_EXT);
            if !seen.contains_key(id) && matches!(slot, Slot::Active(_)) && sealed.exists() {
                seen.insert(*id, (sealed, false));
            }
        }
        for (id, (path, active)) in seen {
            match st.segments.get(&id) {
                Some(Slot::Sealed { .. }) | Some(Slot::Damaged(_)) => continue,
                Some(Slot::Active(_)) if active => continue,
                _ => {}
            }
            let slot = if active {
                match recovery::recover_active(
                    &self.dir,
                    &path,
                    id,
                    self.partition_len as u64,
                    self.read_only,
                    (!self.read_only).then_some(&self.cuts),
                ) {
                    Ok(Recovered::Active(mut seg, damage)) => {
                        damage.into_iter().for_each(|d| self.note_damage(d));
                        if !self.opts.index_appends {
                            seg.skip_index();
                        }
                        Slot::Active(seg)
                    }
                    Ok(Recovered::Sealed(path)) => Slot::sealed(path),
                    Ok(Recovered::Empty) => continue,
                    // Renamed (sealed) or removed since the listing: the
                    // next listing sees what it became.
                    Err(Error::Io { source, .. })
                        if source.kind() == std::io::ErrorKind::NotFound =>
                    {
                        continue;
                    }
                    Err(e) => {
                        self.note_damage(Damage::from_error(&path, &e));
                        Slot::Damaged(path)
                    }
                }
            } else {
                Slot::sealed(path)
            };
            st.segments.insert(id, slot);
        }
        if !self.read_only {
            for tmp in stale_tmp {
                let _ = fs::remove_file(tmp);
            }
        }
        st.epoch += 1;
        Ok(())
    }

    /// Read-only stores: pick up what the writer did since the last look.
    pub(crate) fn refresh(&self) -> Result<()> {
        if !self.read_only {
            return Ok(());
        }
        let first_kept = self.first_kept_partition(self.now());
        // The writer records every cut of an active segment or a journal
        // in the cut log before making it, and moves the count after (see
        // `segment::cuts`). What a look reads while the count stays what
        // it was at the last look is kept; when the count moved since, or
        // moves during the look, what the cuts since cut is forgotten
        // (everything, when the log cannot tell) and read again.
        // One look at a time: two at once could each rebuild the hidden
        // attempts from a different replay of the journals.
        let _looking = self.looking.lock();
        let seen = self.state.read().cuts_seen;
        let mut before = self.cuts.read()?;
        let mut cuts = self.cuts.since(seen, before)?;
        for pass in 1..=MAX_REREADS {
            let everything = cuts.contains(&Cut::Any);
            let journals = everything || cuts.iter().any(|c| matches!(c, Cut::Journal { .. }));
            let replay = self.runs.refresh(first_kept, journals)?;
            if replay.full {
                *self.hidden.lock() = Hidden::default();
            }
            self.absorb(replay);
            let mtime = fs::metadata(&self.dir)
                .and_then(|m| m.modified())
                .map_err(Error::io("stat", &self.dir))?;
            let mut st = self.state.write();
            if everything {
                self.reset_active(&mut st);
            } else {
                self.apply_cuts(&mut st, &cuts);
            }
            let relist = match st.listed {
                None => true,
                // Directory mtimes are coarse: a listing taken soon after a
                // change may have missed a second change with the same mtime.
                Some((seen, at)) => {
                    seen != mtime || at.duration_since(mtime).is_ok_and(|d| d.as_secs() < 2)
                }
            };
            if relist {
                let now = SystemTime::now();
                self.list_dir(&mut st)?;
                st.listed = Some((mtime, now));
            }
            let mut damage = Vec::new();
            for slot in st.segments.values_mut() {
                if let Slot::Active(seg) = slot {
                    for (offset, reason) in seg.refresh()? {
                        damage.push(Damage {
                            path: seg.path.clone(),
                            offset,
                            reason,
                        });
                    }
                }
            }
            let after = self.cuts.read()?;
            if after == before || pass == MAX_REREADS {
                // Kept: when the count moved during this last pass, what it
                // read may hold bytes cut meanwhile, as a look during a
                // batch in flight may; `cuts_seen` then stays behind, so
                // the next look forgets what those cuts cut.
                st.cuts_seen = before;
                self.cuts_seen.store(before, Ordering::Release);
                if after == before {
                    // (Damage in bytes that were then cut was no damage.)
                    damage.into_iter().for_each(|d| self.note_damage(d));
                }
                return Ok(());
            }
            cuts = self.cuts.since(before, after)?;
            before = after;
        }
        Ok(())
    }

    /// A reader: forget what `cuts` (of segments, none of anything) cut
    /// of the active segments read, and note them for followers.
    fn apply_cuts(&self, st: &mut State, cuts: &[Cut]) {
        for cut in cuts {
            let (id, salt, ordinal) = match *cut {
                Cut::Segment {
                    id, salt, ordinal, ..
                } => (id, salt, ordinal),
                Cut::Removed { id, salt } => (id, salt, 0),
                Cut::Any | Cut::Journal { .. } => continue,
            };
            let forgot = match (st.segments.get_mut(&id), cut) {
                (Some(Slot::Active(seg)), Cut::Segment { offset, .. }) if seg.salt() == salt => {
                    seg.trim(*offset, ordinal)
                }
                (Some(Slot::Active(seg)), Cut::Removed { .. }) if seg.salt() == salt => {
                    st.segments.remove(&id);
                    st.listed = None;
                    true
                }
                // Not read (or another file of that ID): nothing to forget.
                _ => false,
            };
            if forgot {
                self.hidden.lock().retain(|s| s != id, 0);
                st.epoch += 1;
            }
            // Followers may have passed the cut even if this reader has
            // read the segment again since.
            if st.rewinds.len() == MAX_REWINDS {
                st.rewinds.pop_front();
                st.rewinds_base += 1;
            }
            st.rewinds.push_back((id, ordinal));
        }
    }

    /// A reader: forget every active segment (the writer cut one back, or
    /// removed and made it again) and what was computed from it; the
    /// listing that follows reads them again from their headers.
    fn reset_active(&self, st: &mut State) {
        let active: Vec<SegmentId> = st
            .segments
            .iter()
            .filter(|(_, slot)| matches!(slot, Slot::Active(_)))
            .map(|(id, _)| *id)
            .collect();
        st.segments.retain(|id, _| !active.contains(id));
        self.hidden.lock().retain(|id| !active.contains(&id), 0);
        st.listed = None;
        st.epoch += 1;
    }

    fn seal_deadline(&self, seg: &ActiveSegment) -> i64 {
        let (_, end) = self.partition_range(seg.id.partition);
        end.max(seg.created.as_micros())
            .saturating_add(duration_micros(self.opts.grace))
    }

    /// Seal what is due, apply retention, and schedule the next check.
    fn maintain(&self, st: &mut State, now: Timestamp) -> Result<()> {
        let mut first_err = None;
        let due: Vec<SegmentId> = st
            .segments
            .iter()
            .filter_map(|(id, slot)| match slot {
                Slot::Active(seg) => {
                    let newer = st
                        .segments
                        .range(*id..)
                        .nth(1)
                        .is_some_and(|(next, _)| next.partition == id.partition);
                    (newer || self.seal_deadline(seg) <= now.as_micros()).then_some(*id)
                }
                _ => None,
            })
            .collect();
        for id in due {
            if let Err(e) = self.seal(st, id) {
                if matches!(e, Error::Poisoned { .. }) {
                    return Err(e);
                }
                first_err.get_or_insert(e);
            }
        }
        self.apply_retention(st, now)?;
        st.next_check = if first_err.is_some() {
            now.as_micros().saturating_add(1_000_000)
        } else {
            self.next_deadline(st)
        };
        first_err.map_or(Ok(()), Err)
    }

    fn next_deadline(&self, st: &State) -> i64 {
        let retention = duration_micros(self.opts.retention);
        // The oldest run journal is dropped by the same rule.
        let journal = self.runs.first_partition().map_or(i64::MAX, |p| {
            self.partition_range(p).1.saturating_add(retention)
        });
        st.segments
            .iter()
            .map(|(id, slot)| {
                let drop_at = self
                    .partition_range(id.partition)
                    .1
                    .saturating_add(retention);
                match slot {
                    Slot::Active(seg) => self.seal_deadline(seg).min(drop_at),
                    _ => drop_at,
                }
            })
            .min()
            .unwrap_or(i64::MAX)
            .min(journal)
    }

    /// Make sure retention runs when partition `p` (of a run journal)
    /// expires, even in a project without segments.
    pub(crate) fn schedule_drop(&self, p: u32) {
        let drop_at = self
            .partition_range(p)
            .1
            .saturating_add(duration_micros(self.opts.retention));
        if drop_at < self.state.read().next_check {
            let mut st = self.state.write();
            st.next_check = st.next_check.min(drop_at);
        }
    }

    /// Seal what is due and apply retention if the next check is due
    /// (appends do this themselves; run events call it).
    pub(crate) fn maintain_if_due(&self) -> Result<()> {
        if self.read_only {
            return Ok(());
        }
        let now = self.now();
        if now.as_micros() < self.state.read().next_check {
            return Ok(());
        }
        self.check_writable()?;
        let mut st = self.state.write();
        Self::check_poisoned(&st)?;
        if now.as_micros() >= st.next_check
            && let Err(e @ Error::Poisoned { .. }) = self.maintain(&mut st, now)
        {
            return Err(e);
        }
        Ok(())
    }

    fn seal(&self, st: &mut State, id: SegmentId) -> Result<()> {
        let Some(Slot::Active(seg)) = st.segments.get_mut(&id) else {
            return Ok(());
        };
        match seg.seal(&self.dir) {
            Ok(path) => {
                st.segments.insert(id, Slot::sealed(path));
                st.epoch += 1;
                Ok(())
            }
            Err(e) => {
                if let Error::Poisoned { path, reason } = &e {
                    st.poisoned = Some((path.clone(), reason.clone()));
                }
                Err(e)
            }
        }
    }

    fn apply_retention(&self, st: &mut State, now: Timestamp) -> Result<usize> {
        let horizon = self.horizon(now).as_micros();
        let expired: Vec<SegmentId> = st
            .segments
            .keys()
            .filter(|id| self.partition_range(id.partition).1 <= horizon)
            .copied()
            .collect();
        for id in &expired {
            if let Some(slot) = st.segments.remove(id) {
                let path = slot.path().to_path_buf();
                drop(slot);
                for path in [
                    path.clone(),
                    segment_path(&self.dir, *id, crate::segment::INDEX_EXT),
                ] {
                    crate::fs::remove_if_exists(&path)?;
                }
            }
        }
        if !expired.is_empty() {
            st.epoch += 1;
            crate::fs::sync_dir(&self.dir)?;
        }
        let first_kept = self.first_kept_partition(now);
        let journals = self.runs.drop_before(first_kept)?;
        if !expired.is_empty() || journals > 0 {
            self.hidden
                .lock()
                .retain(|id| st.segments.contains_key(&id), first_kept);
        }
        Ok(expired.len())
    }

    /// The writable segment of partition `p`, created if needed.
    fn writable(&self, st: &mut State, p: u32, now: Timestamp) -> Result<SegmentId> {
        let last = st
            .segments
            .range(
                SegmentId {
                    partition: p,
                    generation: 0,
                }..=SegmentId {
                    partition: p,
                    generation: u32::MAX,
                },
            )
            .next_back();
        match last {
            Some((id, Slot::Active(_))) => Ok(*id),
            Some((id, _)) => self.roll(st, *id, now),
            None => self.create_active(
                st,
                SegmentId {
                    partition: p,
                    generation: 0,
                },
                now,
            ),
        }
    }

    /// Start the generation after `id` (the last of its partition), which is
    /// full or sealed; a full one is sealed at the next check.
    fn roll(&self, st: &mut State, id: SegmentId, now: Timestamp) -> Result<SegmentId> {
        let generation = id
            .generation
            .checked_add(1)
            .ok_or_else(|| Error::InvalidArgument {
                what: "record",
                reason: format!("partition {} has no generation left", id.partition),
            })?;
        let next = self.create_active(
            st,
            SegmentId {
                partition: id.partition,
                generation,
            },
            now,
        )?;
        st.next_check = st.next_check.min(now.as_micros());
        Ok(next)
    }

    fn create_active(&self, st: &mut State, id: SegmentId, now: Timestamp) -> Result<SegmentId> {
        let mut seg = ActiveSegment::create(
            &self.dir,
            id,
            self.partition_len as u64,
            now,
            self.cuts.clone(),
        )?;
        if !self.opts.index_appends {
            seg.skip_index();
        }
        st.next_check = st.next_check.min(self.seal_deadline(&seg));
        st.segments.insert(id, Slot::Active(Box::new(seg)));
        st.epoch += 1;
        Ok(id)
    }

    fn active_mut(st: &mut State, id: SegmentId) -> &mut ActiveSegment {
        match st.segments.get_mut(&id) {
            Some(Slot::Active(seg)) => seg,
            // `writable` just returned this ID as active, under the same lock.
            _ => unreachable!("segment {id:?} is not active"),
        }
    }

    pub(crate) fn append_batch(&self, records: &[LogRecord]) -> Result<Vec<RecordId>> {
        if self.read_only {
            return Err(Error::ReadOnly {
                path: self.dir.clone(),
            });
        }
        let now = self.now();
        let horizon = self.horizon(now);
        let limit = now.saturating_add(self.opts.max_future_skew);
        let mut partitions = Vec::with_capacity(records.len());
        let mut lens = Vec::with_capacity(records.len());
        // Bytes of frames still to encode, per partition.
        let mut left: Vec<(u32, u64)> = Vec::new();
        let bytes_left =
            |left: &[(u32, u64)], p: u32| left.iter().find(|(q, _)| *q == p).map_or(0, |&(_, b)| b);
        for r in records {
            r.validate()?;
            if r.time < horizon {
                return Err(Error::TooOld {
                    time: r.time,
                    horizon,
                });
            }
            if r.time > limit {
                return Err(Error::TooFarInFuture {
                    time: r.time,
                    limit,
                });
            }
            let p = self.partition_of(r.time)?;
            partitions.push(p);
            let len = format::frame_len(r) as u64;
            lens.push(len);
            match left.iter_mut().find(|(q, _)| *q == p) {
                Some((_, bytes)) => *bytes += len,
                None => left.push((p, len)),
            }
        }
        if let Some(e) = self.runs.poisoned() {
            return Err(e);
        }
        let mut st = self.state.write();
        if let Some((path, reason)) = &st.poisoned {
            return Err(Error::Poisoned {
                path: path.clone(),
                reason: reason.clone(),
            });
        }
        if now.as_micros() >= st.next_check {
            // Sealing and retention are retried at the next check; the
            // append itself does not depend on them, unless the writer is poisoned.
            if let Err(e @ Error::Poisoned { .. }) = self.maintain(&mut st, now) {
                return Err(e);
            }
        }

        // Plan: encode each record into the buffer of its segment.
        let mut plans: Vec<Plan> = Vec::new();
        let mut ids = Vec::with_capacity(records.len());
        let max_bytes = self.opts.max_segment_bytes;
        for (k, (r, &p)) in records.iter().zip(&partitions).enumerate() {
            let len = lens[k];
            let i = match plans.iter().rposition(|pl| pl.id.partition == p) {
                Some(i) if plans[i].end_before + plans[i].buf.len() as u64 + len <= max_bytes => i,
                found => {
                    let id = match found {
                        Some(i) => self.roll(&mut st, plans[i].id, now)?,
                        None => {
                            let id = self.writable(&mut st, p, now)?;
                            let seg = Self::active_mut(&mut st, id);
                            if seg.len() > 0 && seg.end() + len > max_bytes {
                                self.roll(&mut st, id, now)?
                            } else {
                                id
                            }
                        }
                    };
                    let seg = Self::active_mut(&mut st, id);
                    plans.push(Plan {
                        id,
                        seed: format::salt_seed(seg.salt()),
                        end_before: seg.end(),
                        first_ordinal: seg.next_ordinal(),
                        // Sized for the rest of the partition's records,
                        // so encoding does not copy the buffer as it grows.
                        buf: Vec::with_capacity(
                            bytes_left(&left, p).min(max_bytes.saturating_sub(seg.end())) as usize,
                        ),
                        frames: Vec::new(),
                    });
                    plans.len() - 1
                }
            };
            if let Some((_, bytes)) = left.iter_mut().find(|(q, _)| *q == p) {
                *bytes -= len;
            }
            let plan = &mut plans[i];
            let ordinal = plan.first_ordinal + plan.frames.len() as u32;
            let rel = plan.buf.len() as u32;
            format::encode_frame_seeded(r, ordinal, plan.seed, &mut plan.buf);
            plan.frames.push((rel, k));
            ids.push(RecordId {
                segment: plan.id,
                ordinal,
            });
        }

        // Write every segment's frames, then (under `Always`) sync them,
        // then make them visible: all or nothing.
        let mut failed = None;
        for plan in &plans {
            if let Err(e) = Self::active_mut(&mut st, plan.id).write(&plan.buf) {
                failed = Some(e);
                break;
            }
        }
        if failed.is_none() && self.opts.sync == SyncPolicy::Always {
            for plan in &plans {
                if let Err(e) = Self::active_mut(&mut st, plan.id).sync() {
                    failed = Some(self.poison(&mut st, e));
                    break;
                }
            }
        }
        if let Some(e) = failed {
            for plan in &plans {
                let _ = Self::active_mut(&mut st, plan.id).abandon();
            }
            return Err(e);
        }
        for plan in &plans {
            let frames = plan.frames.iter().map(|&(rel, i)| (rel, &records[i]));
            Self::active_mut(&mut st, plan.id).commit(plan.buf.len(), frames);
        }
        let mut hidden = self.hidden.lock();
        if !hidden.is_empty() {
            for plan in &plans {
                for (k, &(_, i)) in plan.frames.iter().enumerate() {
                    hidden.appended(plan.id, plan.first_ordinal + k as u32, &records[i]);
                }
            }
        }
        drop(hidden);
        drop(st);
        *self.appended.lock() += 1;
        self.appended_cv.notify_all();
        Ok(ids)
    }

    fn check_poisoned(st: &State) -> Result<()> {
        match &st.poisoned {
            Some((path, reason)) => Err(Error::Poisoned {
                path: path.clone(),
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    fn poison(&self, st: &mut State, e: Error) -> Error {
        let (path, reason) = match &e {
            Error::Io { path, source, .. } => (path.clone(), source.to_string()),
            other => (self.dir.clone(), other.to_string()),
        };
        st.poisoned = Some((path.clone(), reason.clone()));
        Error::Poisoned { path, reason }
    }

    /// `fsync` every active segment with unsynced data.
    pub(crate) fn sync(&self) -> Result<()> {
        if self.read_only {
            return Ok(());
        }
        // The journal and the segments are synced whatever happens to the
        // other; either's failure is returned (and refuses further writes
        // of both kinds: see `check_writable`).
        let runs = self.runs.sync();
        let logs = self.sync_segments();
        runs.and(logs)
    }

    /// Refuse writes (logs or run events) once either writer is poisoned.
    pub(crate) fn check_writable(&self) -> Result<()> {
        Self::check_poisoned(&self.state.read())?;
        self.runs.poisoned().map_or(Ok(()), Err)
    }

    fn sync_segments(&self) -> Result<()> {
        // Take the files under the lock, sync them without it: an fsync
        // can take tens of milliseconds, and appends should not wait.
        let _one_at_a_time = self.syncing.lock();
        let files: Vec<_> = {
            let mut st = self.state.write();
            if let Some((path, reason)) = &st.poisoned {
                return Err(Error::Poisoned {
                    path: path.clone(),
                    reason: reason.clone(),
                });
            }
            st.segments
                .values_mut()
                .filter_map(|slot| match slot {
                    Slot::Active(seg) => seg.take_dirty(),
                    _ => None,
                })
                .collect()
        };
        for (file, path) in files {
            if let Err(e) = file.sync_data() {
                let mut st = self.state.write();
                return Err(self.poison(&mut st, Error::io("sync", path)(e)));
            }
        }
        // A sync that failed while this one waited has poisoned the project.
        match &self.state.read().poisoned {
            Some((path, reason)) => Err(Error::Poisoned {
                path: path.clone(),
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Whether any active segment has unsynced data (cheap; for the sync thread).
    pub(crate) fn is_dirty(&self) -> bool {
        self.runs.is_dirty()
            || self
                .state
                .read()
                .segments
                .values()
                .any(|s| matches!(s, Slot::Active(seg) if seg.is_dirty()))
    }

    /// A view of `slot`, mapping a sealed segment on first use.
    fn view<'s>(&self, id: SegmentId, slot: &'s Slot) -> Option<SegView<'s>> {
        self.source(id, slot, false).map(|s| s.view)
    }

    /// `slot` ready to read, with its index when `indexed` (a sealed
    /// segment and its index are mapped on first use).
    fn source<'s>(&self, id: SegmentId, slot: &'s Slot, indexed: bool) -> Option<Source<'s>> {
        match slot {
            Slot::Active(seg) => match seg.view() {
                Ok(view) => Some(Source {
                    view,
                    index: IndexRef::Mem(seg.index()),
                    hidden: None,
                }),
                Err(e) => {
                    self.note_damage(Damage::from_error(&seg.path, &e));
                    None
                }
            },
            Slot::Sealed { path, seg } => {
                let loaded = seg.get_or_init(|| {
                    match SealedSegment::open(path, id, self.partition_len as u64) {
                        Ok(s) => Some(Arc::new(s)),
                        Err(e) => {
                            self.note_damage(Damage::from_error(path, &e));
                            None
                        }
                    }
                });
                let seg = loaded.as_ref()?;
                let index = if !indexed {
                    IndexRef::Missing
                } else {
                    match seg.index(!self.read_only) {
                        Ok((ix, rebuilt)) => {
                            if let Some(d) = rebuilt {
                                self.note_damage(d.clone());
                            }
                            IndexRef::Disk(ix)
                        }
                        Err(d) => {
                            self.note_damage(d.clone());
                            IndexRef::Missing
                        }
                    }
                };
                Some(Source {
                    view: seg.view(),
                    index,
                    hidden: None,
                })
            }
            Slot::Damaged(_) => None,
        }
    }

    /// [`source`](Self::source) with the ordinals of its records of
    /// superseded attempts attached (its index is then read to find them).
    fn source_hiding<'s>(
        &self,
        id: SegmentId,
        slot: &'s Slot,
        indexed: bool,
    ) -> Option<Source<'s>> {
        let mut hidden = self.hidden.lock();
        if hidden.is_empty() {
            drop(hidden);
            return self.source(id, slot, indexed);
        }
        let mut src = self.source(id, slot, true)?;
        let note = |d| self.note_read_damage(d);
        match hidden.of(&src, self.read_only, &note) {
            Ok(h) => src.hidden = h,
            Err(e) => self.note_read_damage(Damage::from_error(src.view.path, &e)),
        }
        Some(src)
    }

    /// Matches of `filter` in `range` sorting below `upper`, newest first,
    /// appended to `out` until it holds `limit`. Returns whether it filled up
    /// (more may follow).
    pub(crate) fn search(
        &self,
        filter: &Filter,
        range: TimeRange,
        upper: Option<Key>,
        limit: usize,
        out: &mut dyn Collect,
    ) -> Result<bool> {
        self.refresh()?;
        // Tests pause here, between a look and the reads it allows.
        let _ = crate::fs::fault("project::looked");
        let from = range.from.max(self.horizon(self.now())).as_micros();
        let mut upper = upper.map_or((range.to.as_micros(), MIN_ID), |u| {
            u.min((range.to.as_micros(), MIN_ID))
        });
        let note = |d| self.note_read_damage(d);
        let st = self.state.read();
        let mut slots = st.segments.iter().rev().peekable();
        while let Some((id, slot)) = slots.next() {
            let (start, end) = self.partition_range(id.partition);
            let mut group = vec![(*id, slot)];
            while let Some((next, s)) = slots.next_if(|(next, _)| next.partition == id.partition) {
                group.push((*next, s));
            }
            if start > upper.0 {
                continue;
            }
            if end <= from {
                break;
            }
            let sources: Vec<Source<'_>> = group
                .iter()
                .filter_map(|(id, s)| self.source_hiding(*id, s, !filter.is_all()))
                .collect();
            if exec::collect_group(&sources, filter, from, &mut upper, limit, out, &note)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Count the matches of `filter` in `range`.
    pub(crate) fn count(&self, filter: &Filter, range: TimeRange, tally: &mut Tally) -> Result<()> {
        self.refresh()?;
        let (from, to) = (range.from.as_micros(), range.to.as_micros());
        let note = |d| self.note_read_damage(d);
        let st = self.state.read();
        for (id, slot) in &st.segments {
            let (start, end) = self.partition_range(id.partition);
            if end <= from || start >= to {
                continue;
            }
            if let Some(src) = self.source_hiding(*id, slot, true) {
                exec::count_source(&src, filter, from, to, tally, &note)?;
            }
        }
        Ok(())
    }

    pub(crate) fn get(&self, id: RecordId) -> Result<Option<StoredRecord>> {
        // A read-only store reads again after a look when the writer cut
        // the bytes read meanwhile (see `note_read_damage`).
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.refresh()?;
            let horizon = self.horizon(self.now());
            let st = self.state.read();
            let Some(slot) = st.segments.get(&id.segment) else {
                return Ok(None);
            };
            let Some(view) = self.view(id.segment, slot) else {
                return Ok(None);
            };
            if view.offset(id.ordinal).is_none() {
                return Ok(None);
            }
            let mut rec = match view.read(id.ordinal, true) {
                Ok(rec) => rec,
                Err(_) if attempt < MAX_REREADS && self.cut_since_look() => continue,
                Err(e) => return Err(e),
            };
            rec.superseded = self.hidden.lock().hides(&rec.record);
            return Ok((rec.record.time >= horizon).then_some(rec));
        }
    }

    pub(crate) fn seal_due(&self) -> Result<()> {
        if self.read_only {
            return Err(Error::ReadOnly {
                path: self.dir.clone(),
            });
        }
        let mut st = self.state.write();
        Self::check_poisoned(&st)?;
        self.maintain(&mut st, self.now())
    }

    pub(crate) fn enforce_retention(&self) -> Result<usize> {
        if self.read_only {
            return Err(Error::ReadOnly {
                path: self.dir.clone(),
            });
        }
        let mut st = self.state.write();
        Self::check_poisoned(&st)?;
        let now = self.now();
        let n = self.apply_retention(&mut st, now)?;
        st.next_check = st.next_check.min(self.next_deadline(&st));
        Ok(n)
    }

    pub(crate) fn verify(&self) -> Result<VerifyReport> {
        self.refresh()?;
        let files: Vec<(SegmentId, PathBuf, bool, Option<u64>)> = {
            let st = self.state.read();
            st.segments
                .iter()
                .map(|(id, slot)| match slot {
                    Slot::Active(seg) => (*id, seg.path.clone(), false, Some(seg.end())),
                    other => (*id, other.path().to_path_buf(), true, None),
                })
                .collect()
        };
        let mut report = VerifyReport::default();
        for (id, path, sealed, end) in files {
            let mut one = recovery::verify_file(&path, id, self.partition_len as u64, sealed, end);
            if !sealed && one.segments == 0 {
                // Sealed since the listing: check it under its new name.
                let sealed_path = segment_path(&self.dir, id, SEALED_EXT);
                one =
                    recovery::verify_file(&sealed_path, id, self.partition_len as u64, true, None);
            }
            report.merge(one);
        }
        for (path, end) in self.runs.files() {
            report.journals += 1;
            report
                .problems
                .extend(crate::runs::ledger::verify_file(&path, end));
        }
        Ok(report)
    }

    /// Resolve a range spec against now, clamped to the retention horizon.
    pub(crate) fn resolve(&self, spec: &RangeSpec) -> Result<ResolvedRange> {
        spec.check()?;
        let now = self.now();
        let range = match spec.resolve_plain(now, self.opts.utc_offset_secs) {
            Some(r) => r,
            None => {
                let RangeSpec::Saved(name) = spec else {
                    unreachable!("only saved presets need the project")
                };
                let saved = presets::load(&self.presets_path())?;
                let (_, range) = saved
                    .into_iter()
                    .find(|(n, _)| n == name)
                    .ok_or_else(|| Error::UnknownPreset { name: name.clone() })?;
                range
                    .spec()
                    .resolve_plain(now, self.opts.utc_offset_secs)
                    .unwrap_or(TimeRange::all())
            }
        };
        Ok(ResolvedRange::clamp(range, self.horizon(now)))
    }

    fn presets_path(&self) -> PathBuf {
        self.dir.join(PRESETS_FILE)
    }

    pub(crate) fn query(&self, q: &Query) -> Result<Page> {
        let mut out = Owned::with_capacity(q.limit.min(1024));
        let (next, range) = self.query_into(q, &mut out)?;
        Ok(Page {
            records: out.records,
            next,
            range,
        })
    }

    pub(crate) fn query_view(&self, q: &Query) -> Result<PageView> {
        let mut out = ViewBuilder::with_capacity(q.limit.min(1024));
        let (next, range) = self.query_into(q, &mut out)?;
        Ok(out.finish(next, Some(range)))
    }

    /// One page of `q` into `out`: the cursor to the next, and the range.
    fn query_into(
        &self,
        q: &Query,
        out: &mut dyn Collect,
    ) -> Result<(Option<Cursor>, ResolvedRange)> {
        let filter = Filter::new(q);
        let fingerprint = filter.fingerprint(&q.range);
        let (resolved, upper) = match q.cursor {
            Some(c) if c.fingerprint != fingerprint => return Err(Error::CursorMismatch),
            Some(c) => (
                ResolvedRange::clamp(c.range, self.horizon(self.now())),
                Some((c.time.as_micros(), c.id)),
            ),
            None => (self.resolve(&q.range)?, None),
        };
        let full = self.search(&filter, resolved.range, upper, q.limit, out)?;
        let next = match (full, out.last_key()) {
            (true, Some((time, id))) => Some(Cursor {
                fingerprint,
                range: resolved.range,
                time,
                id,
            }),
            _ => None,
        };
        Ok((next, resolved))
    }

    pub(crate) fn count_query(&self, q: &Query) -> Result<Counts> {
        let filter = Filter::new(q);
        let resolved = self.resolve(&q.range)?;
        let range = resolved.range;
        let mut tally = Tally {
            by_level: [0; 4],
            buckets: None,
        };
        if let Some(width) = q.bucket {
            let width = duration_micros(width);
            // An open end stops at the latest time a record may have.
            let limit = self
                .now()
                .saturating_add(self.opts.max_future_skew)
                .as_micros()
                .saturating_add(1);
            let (from, to) = (range.from.as_micros(), range.to.as_micros().min(limit));
            let bad = |n: String| Error::InvalidArgument {
                what: "bucket",
                reason: format!(
                    "{n} buckets of {width} µs: at most {MAX_BUCKETS} buckets of at least 1 µs"
                ),
            };
            if width <= 0 {
                return Err(bad("0".into()));
            }
            let first = from.div_euclid(width).saturating_mul(width);
            let span = i128::from(to) - i128::from(first);
            let n = if to > from {
                (span + i128::from(width) - 1) / i128::from(width)
            } else {
                0
            };
            if n > i128::from(MAX_BUCKETS) {
                return Err(bad(n.to_string()));
            }
            tally.buckets = Some((first, width, vec![0; n as usize]));
        }
        self.count(&filter, range, &mut tally)?;
        Ok(Counts {
            total: tally.by_level.iter().sum(),
            by_level: tally.by_level,
            buckets: tally
                .buckets
                .map(|(first, width, counts)| {
                    counts
                        .into_iter()
                        .enumerate()
                        .map(|(i, c)| (Timestamp::from_micros(first + i as i64 * width), c))
                        .collect()
                })
                .unwrap_or_default(),
            range: Some(resolved),
        })
    }

    pub(crate) fn job_logs(
        &self,
        job_id: &str,
        include_superseded: bool,
    ) -> Result<Vec<StoredRecord>> {
        let mut out = Owned::with_capacity(32);
        self.job_logs_into(job_id, include_superseded, &mut out)?;
        Ok(out.records)
    }

    pub(crate) fn job_logs_view(&self, job_id: &str, include_superseded: bool) -> Result<PageView> {
        let mut out = ViewBuilder::with_capacity(32);
        self.job_logs_into(job_id, include_superseded, &mut out)?;
        Ok(out.finish(None, None))
    }

    fn job_logs_into(
        &self,
        job_id: &str,
        include_superseded: bool,
        out: &mut dyn Collect,
    ) -> Result<()> {
        self.refresh()?;
        let from = self.horizon(self.now()).as_micros();
        let filter = Filter::job(job_id);
        let note = |d| self.note_read_damage(d);
        let st = self.state.read();
        let candidates = self.job_segments(&st, job_hash(job_id.as_bytes()));
        // Newest segment first, each newest record first: usually the
        // whole list comes out newest first, and one reverse sorts it.
        for id in candidates.into_iter().rev() {
            let Some(slot) = st.segments.get(&id) else {
                continue;
            };
            if let Some(src) = self.source(id, slot, true) {
                let mut upper = (i64::MAX, MIN_ID);
                exec::collect_group(&[src], &filter, from, &mut upper, usize::MAX, out, &note)?;
            }
        }
        out.oldest_first();
        drop(st);
        if let Some(ok) = self.hidden.lock().attempt_of(job_id) {
            out.supersede_before(ok, include_superseded);
        }
        Ok(())
    }

    /// The segments that may hold records of the job with hash `hash`:
    /// sealed ones from the job directory (brought up to date first),
    /// every active one, and any sealed one whose index could not be read.
    fn job_segments(&self, st: &State, hash: u64) -> Vec<SegmentId> {
        let mut dir = self.jobs.lock();
        if dir.epoch != Some(st.epoch) {
            let mut added = Vec::new();
            for (id, slot) in &st.segments {
                if !matches!(slot, Slot::Sealed { .. }) || dir.covers(*id) {
                    continue;
                }
                if let Some(Source {
                    index: IndexRef::Disk(ix),
                    view,
                    ..
                }) = self.source(*id, slot, true)
                {
                    match ix.terms(crate::index::IndexField::JobId) {
                        Ok(terms) => added.push((*id, terms.iter().map(|t| job_hash(t)).collect())),
                        Err(e) => self
                            .note_damage(Damage::from_error(view.path, &e.into_error(view.path))),
                    }
                }
            }
            dir.update(added, |id| st.segments.contains_key(&id));
            dir.always = st
                .segments
                .iter()
                .filter(|(id, slot)| !matches!(slot, Slot::Sealed { .. }) || !dir.covers(**id))
                .map(|(id, _)| *id)
                .collect();
            dir.epoch = Some(st.epoch);
        }
        let mut ids: Vec<SegmentId> = dir
            .segments(hash)
            .chain(dir.always.iter().copied())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    pub(crate) fn save_preset(&self, name: &str, range: SavedRange) -> Result<()> {
        if self.read_only {
            return Err(Error::ReadOnly {
                path: self.dir.clone(),
            });
        }
        presets::validate_name(name)?;
        if let SavedRange::Last(d) = &range
            && d.is_zero()
        {
            return Err(Error::InvalidArgument {
                what: "preset",
                reason: "an empty relative range".into(),
            });
        }
        // The presets file refuses an inverted range as corrupt, so one
        // stored would make every preset unreadable.
        range.spec().check()?;
        let _guard = self.presets.lock();
        let mut all = presets::load(&self.presets_path())?;
        all.retain(|(n, _)| n != name);
        if all.len() >= presets::MAX_PRESETS {
            return Err(Error::InvalidArgument {
                what: "preset",
                reason: format!("a project keeps at most {} presets", presets::MAX_PRESETS),
            });
        }
        all.push((name.to_owned(), range));
        all.sort_by(|a, b| a.0.cmp(&b.0));
        presets::store(&self.presets_path(), &all)
    }

    pub(crate) fn delete_preset(&self, name: &str) -> Result<bool> {
        if self.read_only {
            return Err(Error::ReadOnly {
                path: self.dir.clone(),
            });
        }
        let _guard = self.presets.lock();
        let mut all = presets::load(&self.presets_path())?;
        let before = all.len();
        all.retain(|(n, _)| n != name);
        if all.len() == before {
            return Ok(false);
        }
        presets::store(&self.presets_path(), &all)?;
        Ok(true)
    }

    pub(crate) fn presets(&self) -> Result<Vec<(String, SavedRange)>> {
        presets::load(&self.presets_path())
    }

    /// Where a follower starts: the next ordinal of every active segment;
    /// [`FOLLOWED`] for sealed ones, which never change (not even mapped);
    /// and (read-only stores) the number of segment cuts applied so far.
    pub(crate) fn watermarks(&self) -> Result<(HashMap<SegmentId, u32>, u64)> {
        self.refresh()?;
        let st = self.state.read();
        let marks = st
            .segments
            .iter()
            .map(|(id, slot)| match slot {
                Slot::Active(seg) => (*id, seg.next_ordinal()),
                _ => (*id, FOLLOWED),
            })
            .collect();
        Ok((marks, st.rewinds_base + st.rewinds.len() as u64))
    }

    /// Records matching `filter` appended since `seen` (moved forward),
    /// oldest first. In a read-only store, `seen` first moves back to the
    /// first ordinal of each cut applied since cut number `rewound` (then
    /// moved to the number applied now): the records written in place of
    /// the cut ones are delivered.
    pub(crate) fn appended_since(
        &self,
        seen: &mut HashMap<SegmentId, u32>,
        rewound: &mut u64,
        filter: &Filter,
    ) -> Result<Vec<StoredRecord>> {
        self.refresh()?;
        let horizon = self.horizon(self.now());
        let st = self.state.read();
        // Cuts dropped before the follower saw them (more than
        // MAX_REWINDS since its last look) cannot move it back.
        let kept = usize::try_from(rewound.saturating_sub(st.rewinds_base)).unwrap_or(usize::MAX);
        for &(id, first_cut) in st.rewinds.iter().skip(kept) {
            if let Some(at) = seen.get_mut(&id)
                && *at != FOLLOWED
                && *at > first_cut
            {
                *at = first_cut;
            }
        }
        *rewound = st.rewinds_base + st.rewinds.len() as u64;
        let mut out = Vec::new();
        let mut scratch = ViewBuilder::default();
        for (id, slot) in &st.segments {
            let from = seen.get(id).copied().unwrap_or(0);
            if from == FOLLOWED || matches!(slot, Slot::Active(seg) if seg.next_ordinal() == from) {
                continue;
            }
            let Some(src) = self.source_hiding(*id, slot, false) else {
                continue;
            };
            let view = &src.view;
            let to = view.slots();
            for ord in from..to {
                if view.offset(ord).is_none() {
                    continue;
                }
                // Only matches are copied out.
                let within = |r: &RecordView<'_>| (r.time >= horizon).then(|| r.to_stored());
                match src.matching(ord, filter, &mut scratch, within) {
                    Ok(Some(Some(rec))) => out.push(rec),
                    Ok(_) => {}
                    Err(e) => self.note_read_damage(Damage::from_error(view.path, &e)),
                }
            }
            let sealed = !matches!(slot, Slot::Active(_));
            seen.insert(*id, if sealed { FOLLOWED } else { to });
        }
        seen.retain(|id, _| st.segments.contains_key(id));
        out.sort_by_key(|r| (r.record.time, r.id));
        Ok(out)
    }

    /// Wait until an append happens after `seen_generation`, or `timeout`.
    /// Returns the current generation.
    pub(crate) fn wait_for_append(
        &self,
        seen_generation: u64,
        timeout: std::time::Duration,
    ) -> u64 {
        let mut generation = self.appended.lock();
        if *generation == seen_generation && !timeout.is_zero() {
            self.appended_cv.wait_for(&mut generation, timeout);
        }
        *generation
    }

    pub(crate) fn append_generation(&self) -> u64 {
        *self.appended.lock()
    }

    pub(crate) fn is_read_only(&self) -> bool {
        self.read_only
    }

    pub(crate) fn segments(&self) -> Result<Vec<SegmentInfo>> {
        self.refresh()?;
        let st = self.state.read();
        Ok(st
            .segments
            .iter()
            .map(|(id, slot)| {
                let (start, end) = self.partition_range(id.partition);
                SegmentInfo {
                    id: *id,
                    path: slot.path().to_path_buf(),
                    sealed: matches!(slot, Slot::Sealed { .. }),
                    damaged: match slot {
                        Slot::Damaged(_) => true,
                        Slot::Sealed { seg, .. } => matches!(seg.get(), Some(None)),
                        Slot::Active(_) => false,
                    },
                    partition: TimeRange {
                        from: Timestamp::from_micros(start),
                        to: Timestamp::from_micros(end),
                    },
                }
            })
            .collect())
    }
}

impl ProjectInner {
    /// The oldest record time within the retention horizon, if any.
    fn oldest(&self) -> Result<Option<Timestamp>> {
        self.refresh()?;
        let horizon = self.horizon(self.now()).as_micros();
        let st = self.state.read();
        let mut oldest: Option<i64> = None;
        for (id, slot) in &st.segments {
            if oldest.is_some_and(|o| o < self.partition_range(id.partition).0) {
                break;
            }
            if let Some(view) = self.view(*id, slot) {
                let lo = view.position_below(horizon, exec::MIN_ID);
                if lo < view.len() {
                    let t = view.time(view.order(lo));
                    oldest = Some(oldest.map_or(t, |o| o.min(t)));
                }
            }
        }
        Ok(oldest.map(Timestamp::from_micros))
    }

    /// Bytes of every file of the project (segments, indexes, journals, presets).
    fn bytes(&self) -> u64 {
        let size_of_dir = |dir: &Path| -> u64 {
            fs::read_dir(dir)
                .map(|entries| {
                    entries
                        .filter_map(|e| e.ok()?.metadata().ok())
                        .filter(|m| m.is_file())
                        .map(|m| m.len())
                        .sum()
                })
                .unwrap_or(0)
        };
        size_of_dir(&self.dir) + size_of_dir(&self.dir.join(crate::runs::journal::JOURNAL_DIR))
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

/// One segment's share of a batch: its encoded frames, and for each the
/// offset in `buf` and the index of its record in the batch.
struct Plan {
    id: SegmentId,
    /// The segment's [`format::salt_seed`].
    seed: u32,
    end_before: u64,
    first_ordinal: u32,
    buf: Vec<u8>,
    frames: Vec<(u32, usize)>,
}

impl Project {
    /// The project's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The project's directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Append one record; returns its ID once the record is written to the
    /// operating system (and synced, under [`SyncPolicy::Always`]).
    ///
    /// Refused, with nothing written: a field over its limit
    /// ([`Error::FieldTooLarge`]), an attempt of 0 ([`Error::InvalidArgument`]:
    /// attempts are numbered from 1), a time older than the retention
    /// horizon ([`Error::TooOld`]) or too far in the future
    /// ([`Error::TooFarInFuture`]).
    pub fn append(&self, record: &LogRecord) -> Result<RecordId> {
        let ids = self.inner.append_batch(std::slice::from_ref(record))?;
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
        self.inner.append_batch(records)
    }

    /// Make everything appended so far survive a power loss.
    pub fn sync(&self) -> Result<()> {
        self.inner.sync()
    }

    /// One record with its detail, by ID; `None` if the project has no
    /// such record (or it is past the retention horizon).
    pub fn get(&self, id: RecordId) -> Result<Option<StoredRecord>> {
        self.inner.get(id)
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
        self.inner.seal_due()
    }

    /// Delete every segment whose whole partition is older than the
    /// retention horizon; returns how many were deleted.
    pub fn enforce_retention(&self) -> Result<usize> {
        self.inner.enforce_retention()
    }

    /// Check every checksum of every segment, index and run journal file.
    pub fn verify(&self) -> Result<VerifyReport> {
        self.inner.verify()
    }

    /// The project's segment files.
    pub fn segments(&self) -> Result<Vec<SegmentInfo>> {
        self.inner.segments()
    }

    /// One page of records matching `q`, newest first, with a cursor
    /// for the next page. Pages never read details.
    ///
    /// ```
    /// use runlog::{Level, LogRecord, Query, Store};
    /// # let dir = tempfile::tempdir()?;
    /// let logs = Store::open(dir.path())?.project("shop")?;
    /// let now = runlog::Clock::now(&runlog::SystemClock);
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
        self.inner.query(q)
    }

    /// [`query`](Self::query) as a [`PageView`]: the same records (newest
    /// first), cursor and range, with the records' strings in one buffer
    /// instead of one allocation each; the cheaper way to render or
    /// stream a page.
    pub fn query_view(&self, q: &Query) -> Result<PageView> {
        self.inner.query_view(q)
    }

    /// How many records match `q`: in total, per level, and per time bucket
    /// when [`Query::bucket`] is set. Without a text filter this reads
    /// only indexes, never record bodies.
    pub fn count(&self, q: &Query) -> Result<Counts> {
        self.inner.count_query(q)
    }

    /// Every log of one execution, oldest first, across segments; logs of
    /// attempts a successful retry superseded are left out (see
    /// [`job_logs_all`](Self::job_logs_all)). To get a run's logs:
    /// `project.job_logs(&run.job_id)`.
    pub fn job_logs(&self, job_id: &str) -> Result<Vec<StoredRecord>> {
        self.inner.job_logs(job_id, false)
    }

    /// Every log of one execution, oldest first, superseded attempts
    /// included and marked ([`StoredRecord::superseded`]).
    pub fn job_logs_all(&self, job_id: &str) -> Result<Vec<StoredRecord>> {
        self.inner.job_logs(job_id, true)
    }

    /// [`job_logs`](Self::job_logs) as a [`PageView`]: the same records
    /// (oldest first, superseded attempts left out), their strings in one
    /// buffer instead of one allocation each (the page has no cursor or
    /// range).
    pub fn job_logs_view(&self, job_id: &str) -> Result<PageView> {
        self.inner.job_logs_view(job_id, false)
    }

    /// The range a [`RangeSpec`] covers now, clamped to the retention horizon.
    pub fn resolve(&self, spec: &RangeSpec) -> Result<ResolvedRange> {
        self.inner.resolve(spec)
    }

    /// Save (or replace) a named time range, usable with [`Query::saved`];
    /// it persists across restarts.
    pub fn save_preset(&self, name: &str, range: SavedRange) -> Result<()> {
        self.inner.save_preset(name, range)
    }

    /// Delete a saved preset; returns whether it existed.
    pub fn delete_preset(&self, name: &str) -> Result<bool> {
        self.inner.delete_preset(name)
    }

    /// The saved presets, sorted by name.
    pub fn presets(&self) -> Result<Vec<(String, SavedRange)>> {
        self.inner.presets()
    }

    /// Follow the records matching `q`'s filters as they are appended
    /// (auto refresh); see [`Follow`].
    pub fn follow(&self, q: &Query) -> Result<Follow> {
        Follow::new(self.clone(), q)
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
        let runs = self.count_runs(&crate::RunQuery::new().all_time())?;
        Ok(ProjectStats {
            segments: segments.len(),
            sealed: segments.iter().filter(|s| s.sealed).count(),
            damaged: segments.iter().filter(|s| s.damaged).count(),
            records: counts.total,
            by_level: counts.by_level,
            bytes: self.inner.bytes(),
            oldest: self.inner.oldest()?,
            newest,
            runs: runs.total,
            runs_by_status: runs.by_status,
        })
    }

    /// Files and directories in the project's directories that runlog did
    /// not make (found when it listed them): a warning for the operator.
    /// runlog never reads, changes or deletes them (retention included).
    pub fn foreign_files(&self) -> Vec<PathBuf> {
        self.inner.foreign.lock().iter().cloned().collect()
    }

    /// Problems found so far (by recovery or reads): corrupt regions that
    /// were skipped and files set aside. Reads never return their data.
    pub fn damage(&self) -> Vec<Damage> {
        self.inner.damage.lock().clone()
    }
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
                .inner
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
