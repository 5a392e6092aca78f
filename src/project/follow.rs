//! Following a query: records as they are appended ("auto refresh").

use std::collections::HashMap;
use std::time::{Duration, Instant};

use std::sync::Arc;

use super::catalog::Slot;
use super::core::{Core, KeepAlive};
use crate::error::{Damage, Result};
use crate::query::Query;
use crate::query::filter::Filter;
use crate::query::view::{RecordView, ViewBuilder};
use crate::record::{SegmentId, StoredRecord};

/// A follower's mark for a sealed segment it has read to the end.
const FOLLOWED: u32 = u32::MAX;

/// How often a read-only follower looks for another process's appends.
const POLL: Duration = Duration::from_millis(200);

/// The longest wait: `Instant` plus much more overflows (and panics).
const CENTURY: Duration = Duration::from_secs(100 * 365 * 86_400);

/// A handle returning the records matching a query's filters as they are
/// appended (the query's time range is not applied: every new record
/// counts). Made by [`Project::follow`](crate::Project::follow).
///
/// Each record is returned exactly once, including records that arrive
/// late or in a new segment; each batch is sorted oldest first.
///
/// In a read-only store, a record of a batch the writer then cut back
/// (the batch failed) may be returned before the cut, and is not taken
/// back; the records the writer appends in place of cut ones are returned
/// (see [`Store::open_read_only`](crate::Store::open_read_only) for the
/// rare exceptions).
///
/// Records of attempts already superseded by a successful retry when they
/// are read are left out (unless the query
/// [includes them](Query::include_superseded)); a record returned before
/// its attempt was superseded is not taken back.
///
/// ```
/// use runlog::{Level, LogRecord, Query, Store};
/// use std::time::Duration;
/// # let dir = tempfile::tempdir()?;
/// let logs = Store::open(dir.path())?.project("shop")?;
/// let mut errors = logs.follow(&Query::new().level(Level::Error))?;
/// let now = runlog::Timestamp::now();
/// logs.append(&LogRecord::new(now, Level::Info, "job-1", "fine"))?;
/// logs.append(&LogRecord::new(now, Level::Error, "job-1", "broken"))?;
/// let batch = errors.next_batch(Duration::from_secs(1))?;
/// assert_eq!(batch.len(), 1);
/// assert_eq!(batch[0].record.content, "broken");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Follow {
    core: Arc<Core>,
    /// Keeps the store alive while the follow exists.
    _store: KeepAlive,
    filter: Filter,
    seen: HashMap<SegmentId, u32>,
    /// The number of segment cuts the project had applied at the last
    /// look (read-only stores; see `Core::appended_since`).
    rewound: u64,
    interval: Option<Duration>,
    last_batch: Option<Instant>,
}

impl std::fmt::Debug for Follow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follow")
            .field("project", &self.core.settings.name)
            .field("filter", &self.filter)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl Follow {
    pub(crate) fn new(core: Arc<Core>, store: KeepAlive, q: &Query) -> Result<Follow> {
        let (seen, rewound) = core.watermarks()?;
        Ok(Follow {
            core,
            _store: store,
            filter: Filter::new(q),
            seen,
            rewound,
            interval: None,
            last_batch: None,
        })
    }

    /// Refresh at most once per `interval`: [`next_batch`](Self::next_batch)
    /// first waits until `interval` has passed since the previous batch,
    /// so records arrive in batches, as on a console's auto refresh.
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// The matching records appended since the previous call (or since
    /// the follow began), oldest first, waiting up to `timeout` for at
    /// least one. An empty batch means the timeout passed. A timeout or
    /// interval longer than a century counts as a century.
    pub fn next_batch(&mut self, timeout: Duration) -> Result<Vec<StoredRecord>> {
        let deadline = Instant::now() + timeout.min(CENTURY);
        if let (Some(every), Some(last)) = (self.interval, self.last_batch) {
            let due = (last + every.min(CENTURY)).min(deadline);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        let inner = &self.core;
        loop {
            // Read the generation first: an append after this point wakes the wait below.
            let generation = inner.append_generation();
            let batch = inner.appended_since(&mut self.seen, &mut self.rewound, &self.filter)?;
            let now = Instant::now();
            if !batch.is_empty() || now >= deadline {
                self.last_batch = Some(now);
                return Ok(batch);
            }
            let wait = deadline - now;
            if inner.settings.read_only {
                // Another process appends: nothing to wake us, so poll.
                std::thread::sleep(wait.min(POLL));
            } else {
                inner.wait_for_append(generation, wait);
            }
        }
    }
}

impl Core {
    /// Where a follower starts: the next ordinal of every active segment;
    /// [`FOLLOWED`] for sealed ones, which never change (not even mapped);
    /// and (read-only stores) the number of segment cuts applied so far.
    pub(crate) fn watermarks(&self) -> Result<(HashMap<SegmentId, u32>, u64)> {
        self.refresh()?;
        let st = self.catalog.state.read();
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
        let horizon = self.settings.horizon(self.settings.now());
        let st = self.catalog.state.read();
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
        let mut generation = self.catalog.appended.lock();
        if *generation == seen_generation && !timeout.is_zero() {
            self.catalog.appended_cv.wait_for(&mut generation, timeout);
        }
        *generation
    }

    pub(crate) fn append_generation(&self) -> u64 {
        *self.catalog.appended.lock()
    }
}
