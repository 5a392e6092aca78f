//! The catalog of a project: its segments (active, sealed, damaged) by
//! ID, what its directory holds, and each segment as a source to read.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use parking_lot::{Condvar, Mutex, RwLock};

use crate::cuts::{CUTS_FILE, Cuts};
use crate::error::{Damage, Error, Result};
use crate::index::jobs::{JobDirectory, job_hash};
use crate::index::segment::{Active, Sealed};
use crate::query::exec::Source;
use crate::query::filter::IndexRef;
use crate::record::SegmentId;
use crate::segment::reader::{SealedSegment, SegView};
use crate::segment::recovery::{self, Recovered};
use crate::segment::{ACTIVE_EXT, SEALED_EXT, parse_segment_name, segment_path};
use crate::time::TimeRange;

use super::settings::{Reports, Settings};

/// Most cuts a reader keeps for its followers (see [`State::rewinds`]).
pub(crate) const MAX_REWINDS: usize = 4096;

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

/// Whether `name`, in a project's directory, is one of runlog's own
/// entries other than a segment: an index (finished or half-written), the
/// presets file (or its temporary), the run journal directory, the cut
/// log.
fn is_own_entry(name: &std::ffi::OsStr) -> bool {
    name == crate::presets::PRESETS_FILE
        || name == CUTS_FILE
        || name.to_str() == Some(&format!("{}.tmp", crate::presets::PRESETS_FILE))
        || name == crate::runs::journal::JOURNAL_DIR
        || is_segment_file(name, crate::segment::INDEX_EXT)
        || is_stale_index_tmp(name)
}

/// The segments of a project, and what readers derive from them.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    pub(crate) state: RwLock<State>,
    /// Which sealed segments hold which jobs.
    pub(crate) jobs: Mutex<JobDirectory>,
    /// Bumped on every append, for followers to wait on.
    pub(crate) appended: Mutex<u64>,
    pub(crate) appended_cv: Condvar,
}

impl Catalog {
    /// The segments that may hold records of the job with hash `hash`:
    /// sealed ones from the job directory (brought up to date first),
    /// every active one, and any sealed one whose index could not be read.
    pub(crate) fn job_segments(
        &self,
        st: &State,
        hash: u64,
        settings: &Settings,
        reports: &Reports,
    ) -> Vec<SegmentId> {
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
                }) = slot.source(*id, settings, reports, true)
                {
                    match ix.terms(crate::index::IndexField::JobId) {
                        Ok(terms) => added.push((*id, terms.iter().map(|t| job_hash(t)).collect())),
                        Err(e) => {
                            reports.note(Damage::from_error(view.path, &e.into_error(view.path)))
                        }
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
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) segments: BTreeMap<SegmentId, Slot>,
    /// Set by a failed `fsync`: the writer refuses writes from then on.
    pub(crate) poisoned: Option<(PathBuf, String)>,
    /// When sealing or retention is next due (µs).
    pub(crate) next_check: i64,
    /// Read-only stores: the directory's mtime at the last listing, and when we listed.
    pub(crate) listed: Option<(SystemTime, SystemTime)>,
    /// Read-only stores: the cut count when the active segments were
    /// last read.
    pub(crate) cuts_seen: u64,
    /// Read-only stores: the segment cuts applied, as (segment, first
    /// ordinal cut), for followers to move back to (the last
    /// [`MAX_REWINDS`]); `rewinds_base` is the number of cuts dropped
    /// before the first one kept.
    pub(crate) rewinds: std::collections::VecDeque<(SegmentId, u32)>,
    pub(crate) rewinds_base: u64,
    /// Bumped whenever a segment is added, sealed or removed.
    pub(crate) epoch: u64,
}

impl State {
    /// Read the directory into the catalog (writer: once, at open; reader: when it changed).
    pub(crate) fn list(
        &mut self,
        settings: &Settings,
        reports: &Reports,
        cuts: &Cuts,
    ) -> Result<()> {
        let entries =
            fs::read_dir(&settings.dir).map_err(Error::io("read directory", &settings.dir))?;
        let mut seen = BTreeMap::new();
        let mut stale_tmp = Vec::new();
        for entry in entries {
            let entry = entry.map_err(Error::io("read directory", &settings.dir))?;
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
                .filter(|(id, _)| is_file && settings.partition_fits(id.partition))
            else {
                if !is_own_entry(&name) {
                    // Not ours: left alone, never deleted; reported.
                    reports.foreign.lock().insert(entry.path());
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
        let dir = &settings.dir;
        self.segments.retain(|id, _| {
            seen.contains_key(id)
                || segment_path(dir, *id, ACTIVE_EXT).exists()
                || segment_path(dir, *id, SEALED_EXT).exists()
        });
        for (id, slot) in self.segments.iter() {
            let sealed = segment_path(dir, *id, SEALED_EXT);
            if !seen.contains_key(id) && matches!(slot, Slot::Active(_)) && sealed.exists() {
                seen.insert(*id, (sealed, false));
            }
        }
        for (id, (path, active)) in seen {
            match self.segments.get(&id) {
                Some(Slot::Sealed { .. }) | Some(Slot::Damaged(_)) => continue,
                Some(Slot::Active(_)) if active => continue,
                _ => {}
            }
            let slot = if active {
                let indexing = settings.opts.index_appends;
                let recovered = Active::recover(indexing, |found| {
                    recovery::recover_active(
                        &settings.dir,
                        &path,
                        id,
                        settings.partition_len as u64,
                        settings.read_only,
                        (!settings.read_only).then_some(cuts),
                        found,
                    )
                });
                match recovered {
                    Ok((Recovered::Active(seg, damage), index)) => {
                        damage.into_iter().for_each(|d| reports.note(d));
                        Slot::Active(Box::new(Active::recovered(*seg, index, indexing)))
                    }
                    Ok((Recovered::Sealed(path), _)) => Slot::sealed(path),
                    Ok((Recovered::Empty, _)) => continue,
                    // Renamed (sealed) or removed since the listing: the
                    // next listing sees what it became.
                    Err(Error::Io { source, .. })
                        if source.kind() == std::io::ErrorKind::NotFound =>
                    {
                        continue;
                    }
                    Err(e) => {
                        reports.note(Damage::from_error(&path, &e));
                        Slot::Damaged(path)
                    }
                }
            } else {
                Slot::sealed(path)
            };
            self.segments.insert(id, slot);
        }
        if !settings.read_only {
            for tmp in stale_tmp {
                let _ = fs::remove_file(tmp);
            }
        }
        self.epoch += 1;
        Ok(())
    }

    /// [`Error::Poisoned`] once a failed `fsync` poisoned the writer.
    pub(crate) fn check_poisoned(&self) -> Result<()> {
        match &self.poisoned {
            Some((path, reason)) => Err(Error::Poisoned {
                path: path.clone(),
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }
}

pub(crate) fn active_mut(st: &mut State, id: SegmentId) -> &mut Active {
    match st.segments.get_mut(&id) {
        Some(Slot::Active(seg)) => seg,
        // `writable` just returned this ID as active, under the same lock.
        _ => unreachable!("segment {id:?} is not active"),
    }
}

#[derive(Debug)]
pub(crate) enum Slot {
    /// An active segment and its in-memory index.
    Active(Box<Active>),
    Sealed {
        path: PathBuf,
        /// Mapped (with its index) on first use; `None` if the file is
        /// corrupt.
        seg: OnceLock<Option<Arc<Sealed>>>,
    },
    /// A file that could not be opened; its ID stays taken.
    Damaged(PathBuf),
}

impl Slot {
    pub(crate) fn sealed(path: PathBuf) -> Slot {
        Slot::Sealed {
            path,
            seg: OnceLock::new(),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        match self {
            Slot::Active(a) => &a.path,
            Slot::Sealed { path, .. } | Slot::Damaged(path) => path,
        }
    }

    /// A view of the slot, mapping a sealed segment on first use.
    pub(crate) fn view(
        &self,
        id: SegmentId,
        settings: &Settings,
        reports: &Reports,
    ) -> Option<SegView<'_>> {
        self.source(id, settings, reports, false).map(|s| s.view)
    }

    /// The slot ready to read, with its index when `indexed` (a sealed
    /// segment and its index are mapped on first use).
    pub(crate) fn source(
        &self,
        id: SegmentId,
        settings: &Settings,
        reports: &Reports,
        indexed: bool,
    ) -> Option<Source<'_>> {
        match self {
            Slot::Active(seg) => match seg.view() {
                Ok(view) => Some(Source {
                    view,
                    index: IndexRef::Mem(seg.index()),
                    hidden: None,
                }),
                Err(e) => {
                    reports.note(Damage::from_error(&seg.path, &e));
                    None
                }
            },
            Slot::Sealed { path, seg } => {
                let loaded = seg.get_or_init(|| {
                    match SealedSegment::open(path, id, settings.partition_len as u64) {
                        Ok(s) => Some(Arc::new(Sealed::new(s))),
                        Err(e) => {
                            reports.note(Damage::from_error(path, &e));
                            None
                        }
                    }
                });
                let seg = loaded.as_ref()?;
                let index = if !indexed {
                    IndexRef::Missing
                } else {
                    match seg.index(!settings.read_only) {
                        Ok((ix, rebuilt)) => {
                            if let Some(d) = rebuilt {
                                reports.note(d.clone());
                            }
                            IndexRef::Disk(ix)
                        }
                        Err(d) => {
                            reports.note(d.clone());
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
}

/// One segment file of a project, as listed by [`Project::segments`](crate::Project::segments).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    /// The segment's identity.
    pub id: SegmentId,
    /// The file.
    pub path: PathBuf,
    /// Whether it is sealed (immutable).
    pub sealed: bool,
    /// Whether it could not be opened (see [`Project::damage`](crate::Project::damage)).
    pub damaged: bool,
    /// The partition's time range.
    pub partition: TimeRange,
}
