//! The job directory: which sealed segments hold a job's records.
//!
//! A job lookup must not open every segment of the month. The directory
//! keeps, in memory, a sorted list of (hash of job ID, segment) for the
//! sealed segments, built from their indexes on the first lookup and
//! brought up to date on later ones (new seals, retention). Active
//! segments are asked directly. Nothing is written to disk: the segment
//! indexes are the source of truth, and opening a store stays constant
//! time.

use std::collections::HashSet;
use std::hash::Hasher;

use crate::index::FxHasher;
use crate::record::SegmentId;

/// The 64-bit hash under which a job ID is filed.
pub(crate) fn job_hash(job_id: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(job_id);
    h.finish()
}

/// Sorted (hash, segment) pairs of the sealed segments covered so far.
#[derive(Debug, Default)]
pub(crate) struct JobDirectory {
    entries: Vec<(u64, SegmentId)>,
    covered: HashSet<SegmentId>,
    /// The project's segment epoch when the directory was last brought up to date.
    pub(crate) epoch: Option<u64>,
    /// Segments every lookup reads: active ones, and sealed ones not filed.
    pub(crate) always: Vec<SegmentId>,
}

impl JobDirectory {
    /// Whether `id` is filed already.
    pub(crate) fn covers(&self, id: SegmentId) -> bool {
        self.covered.contains(&id)
    }

    /// File the jobs of sealed segments, and forget segments that are gone.
    pub(crate) fn update(
        &mut self,
        added: Vec<(SegmentId, Vec<u64>)>,
        present: impl Fn(SegmentId) -> bool,
    ) {
        let before = self.covered.len();
        self.covered.retain(|id| present(*id));
        if self.covered.len() != before {
            self.entries.retain(|(_, id)| present(*id));
        }
        if added.is_empty() {
            return;
        }
        for (id, hashes) in added {
            self.covered.insert(id);
            self.entries.extend(hashes.into_iter().map(|h| (h, id)));
        }
        self.entries.sort_unstable();
        self.entries.dedup();
    }

    /// The segments filed under `hash` (a hash collision may add a
    /// segment without the job; callers check the index).
    pub(crate) fn segments(&self, hash: u64) -> impl Iterator<Item = SegmentId> + '_ {
        let from = self.entries.partition_point(|(h, _)| *h < hash);
        self.entries[from..]
            .iter()
            .take_while(move |(h, _)| *h == hash)
            .map(|(_, id)| *id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(p: u32) -> SegmentId {
        SegmentId {
            partition: p,
            generation: 0,
        }
    }

    #[test]
    fn files_and_forgets() {
        let mut d = JobDirectory::default();
        let (a, b) = (job_hash(b"job-a"), job_hash(b"job-b"));
        d.update(vec![(seg(1), vec![a, b]), (seg(2), vec![a])], |_| true);
        assert_eq!(d.segments(a).collect::<Vec<_>>(), [seg(1), seg(2)]);
        assert_eq!(d.segments(b).collect::<Vec<_>>(), [seg(1)]);
        assert!(d.covers(seg(2)));
        d.update(Vec::new(), |id| id != seg(1));
        assert_eq!(d.segments(a).collect::<Vec<_>>(), [seg(2)]);
        assert_eq!(d.segments(b).count(), 0);
        assert!(!d.covers(seg(1)));
    }
}
