//! Which log records belong to superseded attempts (failures a later
//! successful retry made moot), per segment, so queries can hide them.
//!
//! The set of superseded jobs only grows (until retention). Each segment's
//! hidden ordinals are computed the first time a query touches the segment
//! after a change, and then only for the jobs superseded since its last
//! computation; appends of superseded attempts' records to an active
//! segment are added as they happen. A project with no retried job, or a
//! segment with none of their records, costs a query one map lookup.

use std::collections::HashMap;
use std::sync::Arc;

use roaring::RoaringBitmap;

use crate::error::Result;
use crate::index::IndexField;
use crate::query::exec::Source;
use crate::query::filter::{Cand, Filter, IndexRef};
use crate::record::{LogRecord, RecordId, SegmentId, Text};
use crate::segment::recovery::Damage;

/// The hidden records of one segment.
#[derive(Clone, Debug, Default)]
pub(crate) struct HiddenSet {
    /// Their ordinals, sorted.
    pub(crate) ords: Vec<u32>,
    /// Their level codes, in the order of `ords`.
    levels: Vec<u8>,
    /// How many there are of each level.
    pub(crate) by_level: [u64; 4],
    /// Their ranks (positions in time order), once the segment is sealed:
    /// subtracted from rank bitmaps when counting.
    pub(crate) ranks: Option<RoaringBitmap>,
}

/// A segment's hidden records, shared with the queries reading it.
pub(crate) type HiddenOrds = Arc<HiddenSet>;

#[derive(Debug, Default)]
pub(crate) struct Hidden {
    /// Job → its successful attempt (records of lower attempts are
    /// superseded), and the last journal partition recording that.
    jobs: HashMap<Text, (u32, u32)>,
    /// The jobs in the order they were superseded.
    log: Vec<(Text, u32)>,
    /// Per segment: how much of `log` it reflects, and its hidden ordinals.
    segs: HashMap<SegmentId, (usize, HiddenOrds)>,
}

impl Hidden {
    /// Records of `job_id` with an attempt below `attempt` are superseded,
    /// as recorded in journal partition `partition`.
    pub(crate) fn supersede(&mut self, job_id: Text, attempt: u32, partition: u32) {
        match self.jobs.get_mut(&job_id) {
            Some((a, p)) if *a >= attempt => *p = (*p).max(partition),
            _ => {
                self.jobs.insert(job_id.clone(), (attempt, partition));
                self.log.push((job_id, attempt));
            }
        }
    }

    /// Whether no job is superseded (queries then pay nothing).
    pub(crate) fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// The successful attempt of a superseding job.
    pub(crate) fn attempt_of(&self, job_id: &str) -> Option<u32> {
        self.jobs.get(job_id).map(|&(a, _)| a)
    }

    /// Whether `r` is a record of a superseded attempt.
    pub(crate) fn hides(&self, r: &LogRecord) -> bool {
        !self.jobs.is_empty() && self.attempt_of(&r.job_id).is_some_and(|a| r.attempt < a)
    }

    /// A record was appended to segment `id` as ordinal `ord`.
    pub(crate) fn appended(&mut self, id: SegmentId, ord: u32, r: &LogRecord) {
        if self.hides(r)
            && let Some((_, ords)) = self.segs.get_mut(&id)
        {
            let set = Arc::make_mut(ords);
            if set.ords.last().is_none_or(|&last| last < ord) {
                set.ords.push(ord);
                set.levels.push(r.level.code());
                set.by_level[usize::from(r.level.code())] += 1;
                set.ranks = None;
            }
        }
    }

    /// Forget segments that are gone, and jobs recorded superseded only
    /// in journal partitions before `first_kept` (dropped by retention).
    pub(crate) fn retain(&mut self, segment: impl Fn(SegmentId) -> bool, first_kept: u32) {
        self.segs.retain(|id, _| segment(*id));
        let before = self.jobs.len();
        self.jobs.retain(|_, (_, p)| *p >= first_kept);
        if self.jobs.len() != before {
            // Segments keep what they computed; their place in the log
            // moves to count only the entries kept.
            let mut kept_before = Vec::with_capacity(self.log.len() + 1);
            kept_before.push(0);
            for (j, _) in &self.log {
                let last = *kept_before.last().unwrap_or(&0);
                kept_before.push(last + usize::from(self.jobs.contains_key(j)));
            }
            for (version, _) in self.segs.values_mut() {
                *version = kept_before[*version];
            }
            let jobs = &self.jobs;
            self.log.retain(|(j, _)| jobs.contains_key(j));
        }
    }

    /// The hidden ordinals of `src` (which must carry its index when one
    /// exists), brought up to date; `None` when there are none.
    pub(crate) fn of(
        &mut self,
        src: &Source<'_>,
        note: &dyn Fn(Damage),
    ) -> Result<Option<HiddenOrds>> {
        if self.jobs.is_empty() {
            return Ok(None);
        }
        let id = src.view.id;
        let now = self.log.len();
        let sealed = matches!(src.index, IndexRef::Disk(_));
        let (from, mut ords) = match self.segs.get_mut(&id) {
            Some((v, set)) if *v == now => {
                if set.ords.is_empty() {
                    return Ok(None);
                }
                if sealed && set.ranks.is_none() {
                    Arc::make_mut(set).ranks = Some(ranks_of(src, &set.ords));
                }
                return Ok(Some(Arc::clone(set)));
            }
            Some((v, set)) => (
                Some(*v),
                set.ords
                    .iter()
                    .copied()
                    .zip(set.levels.iter().copied())
                    .collect(),
            ),
            None => (None, Vec::new()),
        };
        match from {
            Some(v) => {
                for (job, attempt) in &self.log[v..] {
                    job_ords(src, job, *attempt, &mut ords, note)?;
                }
            }
            None => self.full(src, &mut ords, note)?,
        }
        ords.sort_unstable();
        ords.dedup_by_key(|(ord, _)| *ord);
        let (ords, levels): (Vec<u32>, Vec<u8>) = ords.into_iter().unzip();
        let mut by_level = [0; 4];
        for &l in &levels {
            by_level[usize::from(l & 3)] += 1;
        }
        let ranks = (sealed && !ords.is_empty()).then(|| ranks_of(src, &ords));
        let set = Arc::new(HiddenSet {
            ords,
            levels,
            by_level,
            ranks,
        });
        self.segs.insert(id, (now, Arc::clone(&set)));
        Ok((!set.ords.is_empty()).then_some(set))
    }

    /// Every hidden ordinal of `src`, from its job terms or from the
    /// superseded jobs, whichever are fewer.
    fn full(
        &self,
        src: &Source<'_>,
        out: &mut Vec<(u32, u8)>,
        note: &dyn Fn(Damage),
    ) -> Result<()> {
        let terms: Option<Vec<Text>> = match src.index {
            _ if self.jobs.len() <= 64 => None,
            IndexRef::Mem(m) => Some(
                m.dict(IndexField::JobId)
                    .iter()
                    .filter_map(|(t, _)| std::str::from_utf8(t).ok().map(Text::from))
                    .collect(),
            ),
            IndexRef::Disk(d) => d.terms(IndexField::JobId).ok().map(|ts| {
                ts.iter()
                    .filter_map(|t| std::str::from_utf8(t).ok().map(Text::from))
                    .collect()
            }),
            IndexRef::Missing => {
                // No index: read every record.
                let v = &src.view;
                for ord in 0..v.slots() {
                    if v.offset(ord).is_none() {
                        continue;
                    }
                    match v.read(ord, false) {
                        Ok(rec) if self.hides(&rec.record) => {
                            out.push((ord, rec.record.level.code()))
                        }
                        Ok(_) => {}
                        Err(e) => note(Damage::from_error(v.path, &e)),
                    }
                }
                return Ok(());
            }
        };
        match terms {
            Some(terms) => {
                for t in terms {
                    if let Some(&(a, _)) = self.jobs.get(&t) {
                        job_ords(src, &t, a, out, note)?;
                    }
                }
            }
            None => {
                for (job, &(a, _)) in &self.jobs {
                    job_ords(src, job, a, out, note)?;
                }
            }
        }
        Ok(())
    }
}

/// Ordinals of `src` holding records of `job` with an attempt below `attempt`.
fn job_ords(
    src: &Source<'_>,
    job: &str,
    attempt: u32,
    out: &mut Vec<(u32, u8)>,
    note: &dyn Fn(Damage),
) -> Result<()> {
    let v = &src.view;
    let ords: Vec<u32> = match Filter::job(job).candidates(src.index, &src.index_path())? {
        Cand::All => (0..v.slots()).filter(|&o| v.offset(o).is_some()).collect(),
        Cand::Ranks(ranks) => ranks.iter().map(|r| v.order(r as usize)).collect(),
        Cand::Ords(conj) => conj.collect().as_slice().to_vec(),
    };
    for ord in ords {
        match v.read(ord, false) {
            Ok(rec) if rec.record.job_id == job && rec.record.attempt < attempt => {
                out.push((ord, rec.record.level.code()))
            }
            Ok(_) => {}
            Err(e) => note(Damage::from_error(v.path, &e)),
        }
    }
    Ok(())
}

/// The ranks (positions in time order) of ordinals `ords` of `src`.
fn ranks_of(src: &Source<'_>, ords: &[u32]) -> RoaringBitmap {
    let v = &src.view;
    ords.iter()
        .filter(|&&ord| v.offset(ord).is_some())
        .map(|&ord| {
            let id = RecordId {
                segment: v.id,
                ordinal: ord,
            };
            v.position_below(v.time(ord), id) as u32
        })
        .collect()
}
