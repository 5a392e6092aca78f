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

use crate::error::Damage;
use crate::error::Result;
use crate::index::IndexField;
use crate::query::exec::{HiddenOrds, HiddenSet, Source};
use crate::query::filter::{Cand, Filter, IndexRef};
use crate::record::{LogRecord, RecordId, SegmentId, Text};

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
    /// exists), brought up to date; `None` when there are none. A reader
    /// (`follow_growth`) also looks at the records another process appended
    /// since the last call; a writer learns of its own through `appended`.
    pub(crate) fn of(
        &mut self,
        src: &Source<'_>,
        follow_growth: bool,
        note: &dyn Fn(Damage),
    ) -> Result<Option<HiddenOrds>> {
        if self.jobs.is_empty() {
            return Ok(None);
        }
        let id = src.view.id;
        let now = self.log.len();
        let sealed = matches!(src.index, IndexRef::Disk(_));
        let slots = src.view.slots();
        let entry = self.segs.get(&id).cloned();
        let mut added = Vec::new();
        match &entry {
            Some((v, set)) => {
                // Only the jobs superseded since, and (a reader) the new records.
                for (job, attempt) in &self.log[*v..] {
                    job_ords(src, job, *attempt, &mut added, note)?;
                }
                if follow_growth && slots > set.slots {
                    let v = &src.view;
                    for ord in set.slots..slots {
                        if v.offset(ord).is_none() {
                            continue;
                        }
                        match v.read(ord, false) {
                            Ok(rec) if self.hides(&rec.record) => {
                                added.push((ord, rec.record.level.code()))
                            }
                            Ok(_) => {}
                            Err(e) => note(Damage::from_error(v.path, &e)),
                        }
                    }
                }
            }
            None => self.full(src, &mut added, note)?,
        }
        let up_to_date = |set: &HiddenSet| {
            (!follow_growth || set.slots >= slots)
                && (!sealed || set.ords.is_empty() || set.ranks.is_some())
        };
        let mut set = match entry {
            Some((v, set)) if v == now && added.is_empty() && up_to_date(&set) => {
                return Ok((!set.ords.is_empty()).then_some(set));
            }
            Some((_, set)) => set,
            None => Arc::new(HiddenSet::default()),
        };
        if !added.is_empty() {
            let s = Arc::make_mut(&mut set);
            let mut pairs: Vec<(u32, u8)> = s
                .ords
                .iter()
                .copied()
                .zip(s.levels.iter().copied())
                .collect();
            pairs.extend(added);
            pairs.sort_unstable();
            pairs.dedup_by_key(|(ord, _)| *ord);
            (s.ords, s.levels) = pairs.into_iter().unzip();
            s.by_level = [0; 4];
            for &l in &s.levels {
                s.by_level[usize::from(l & 3)] += 1;
            }
            s.ranks = None;
        }
        if !up_to_date(&set) {
            let s = Arc::make_mut(&mut set);
            s.slots = s.slots.max(slots);
            if sealed && s.ranks.is_none() && !s.ords.is_empty() {
                s.ranks = Some(ranks_of(src, &s.ords));
            }
        }
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
    let ords: Vec<u32> = match Filter::job(job).candidates(src.index, src.view.path)? {
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
