//! The follower: warnings and errors, each at most once, in append order
//! per segment.

use std::collections::HashMap;
use std::time::Duration;

use runlog::{Level, RecordId, SegmentId, Timestamp};

use super::*;

#[derive(Default)]
pub struct FollowLog {
    /// Every record returned, with its time (pruned past the horizon).
    pub seen: HashMap<RecordId, Timestamp>,
    /// Highest ordinal returned per segment, by earlier batches.
    pub last: HashMap<SegmentId, u32>,
    pub total: u64,
    pub batches: u64,
}

pub fn follow_batch(
    s: &Shared,
    f: &mut runlog::Follow,
    log: &mut FollowLog,
    timeout: Duration,
) -> usize {
    let before = s.now();
    let batch = f.next_batch(timeout).unwrap();
    for w in batch.windows(2) {
        assert!((w[0].record.time, w[0].id) < (w[1].record.time, w[1].id));
    }
    let mut first_in_batch: HashMap<SegmentId, u32> = HashMap::new();
    for r in &batch {
        assert!(r.record.level >= Level::Warn);
        assert!(
            r.record.time >= horizon(before),
            "followed {} at {} is older than the horizon {}",
            r.id,
            r.record.time,
            horizon(before)
        );
        assert!(
            log.seen.insert(r.id, r.record.time).is_none(),
            "{} followed twice",
            r.id
        );
        let lo = first_in_batch.entry(r.id.segment).or_insert(r.id.ordinal);
        *lo = (*lo).min(r.id.ordinal);
    }
    // Per segment, a batch continues after everything earlier batches returned.
    for (seg, lo) in &first_in_batch {
        if let Some(prev) = log.last.get(seg) {
            assert!(
                lo > prev,
                "segment {seg:?}: ordinal {lo} followed after {prev}"
            );
        }
    }
    for r in &batch {
        let e = log.last.entry(r.id.segment).or_insert(r.id.ordinal);
        *e = (*e).max(r.id.ordinal);
    }
    log.total += batch.len() as u64;
    log.batches += 1;
    if log.batches.is_multiple_of(64) {
        // Records past this horizon can never be returned again (it would
        // fail the check above): forget them.
        let h = horizon(before);
        log.seen.retain(|_, t| *t >= h);
        log.last.retain(|seg, _| {
            i64::from(seg.partition + 1) * PARTITION.as_micros() as i64 > h.as_micros()
        });
    }
    batch.len()
}
