//! The append path: check every record, plan which segment each goes to
//! (encoding its frame), write every segment's frames, then commit them
//! (all or nothing); and syncing what was written.

use crate::error::{Error, Result};
use crate::index::segment::Active;
use crate::options::SyncPolicy;
use crate::record::{LogRecord, RecordId, SegmentId};
use crate::segment::format;
use crate::segment::writer::ActiveSegment;
use crate::time::Timestamp;

use super::catalog::{Slot, State, active_mut};
use super::core::Core;

impl Core {
    /// The writable segment of partition `p`, created if needed.
    pub(super) fn writable(&self, st: &mut State, p: u32, now: Timestamp) -> Result<SegmentId> {
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
    pub(super) fn roll(&self, st: &mut State, id: SegmentId, now: Timestamp) -> Result<SegmentId> {
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

    pub(super) fn create_active(
        &self,
        st: &mut State,
        id: SegmentId,
        now: Timestamp,
    ) -> Result<SegmentId> {
        let seg = ActiveSegment::create(
            &self.settings.dir,
            id,
            self.settings.partition_len as u64,
            now,
            self.cuts.clone(),
        )?;
        let seg = Active::new(seg, self.settings.opts.index_appends);
        st.next_check = st.next_check.min(self.settings.seal_deadline(&seg));
        st.segments.insert(id, Slot::Active(Box::new(seg)));
        st.epoch += 1;
        Ok(id)
    }

    pub(crate) fn append_batch(&self, records: &[LogRecord]) -> Result<Vec<RecordId>> {
        if self.settings.read_only {
            return Err(self.settings.read_only_error());
        }
        let now = self.settings.now();
        let horizon = self.settings.horizon(now);
        let limit = now.saturating_add(self.settings.opts.max_future_skew);
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
            let p = self.settings.partition_of(r.time)?;
            partitions.push(p);
            let len = format::frame_len(r) as u64;
            lens.push(len);
            match left.iter_mut().find(|(q, _)| *q == p) {
                Some((_, bytes)) => *bytes += len,
                None => left.push((p, len)),
            }
        }
        if let Some(e) = self.runs.ledger.poisoned() {
            return Err(e);
        }
        let mut st = self.catalog.state.write();
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
        let max_bytes = self.settings.opts.max_segment_bytes;
        for (k, (r, &p)) in records.iter().zip(&partitions).enumerate() {
            let len = lens[k];
            let i = match plans.iter().rposition(|pl| pl.id.partition == p) {
                Some(i) if plans[i].end_before + plans[i].buf.len() as u64 + len <= max_bytes => i,
                found => {
                    let id = match found {
                        Some(i) => self.roll(&mut st, plans[i].id, now)?,
                        None => {
                            let id = self.writable(&mut st, p, now)?;
                            let seg = active_mut(&mut st, id);
                            if seg.len() > 0 && seg.end() + len > max_bytes {
                                self.roll(&mut st, id, now)?
                            } else {
                                id
                            }
                        }
                    };
                    let seg = active_mut(&mut st, id);
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
            if let Err(e) = active_mut(&mut st, plan.id).write(&plan.buf) {
                failed = Some(e);
                break;
            }
        }
        if failed.is_none() && self.settings.opts.sync == SyncPolicy::Always {
            for plan in &plans {
                if let Err(e) = active_mut(&mut st, plan.id).sync() {
                    failed = Some(self.poison(&mut st, e));
                    break;
                }
            }
        }
        if let Some(e) = failed {
            for plan in &plans {
                let _ = active_mut(&mut st, plan.id).abandon();
            }
            return Err(e);
        }
        for plan in &plans {
            let frames = plan.frames.iter().map(|&(rel, i)| (rel, &records[i]));
            active_mut(&mut st, plan.id).commit(plan.buf.len(), frames);
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
        *self.catalog.appended.lock() += 1;
        self.catalog.appended_cv.notify_all();
        Ok(ids)
    }

    pub(super) fn poison(&self, st: &mut State, e: Error) -> Error {
        let (path, reason) = match &e {
            Error::Io { path, source, .. } => (path.clone(), source.to_string()),
            other => (self.settings.dir.clone(), other.to_string()),
        };
        st.poisoned = Some((path.clone(), reason.clone()));
        Error::Poisoned { path, reason }
    }

    /// `fsync` every active segment with unsynced data.
    pub(crate) fn sync(&self) -> Result<()> {
        if self.settings.read_only {
            return Ok(());
        }
        // The journal and the segments are synced whatever happens to the
        // other; either's failure is returned (and refuses further writes
        // of both kinds: see `check_writable`).
        let runs = self.runs.ledger.sync();
        let logs = self.sync_segments();
        runs.and(logs)
    }

    pub(super) fn sync_segments(&self) -> Result<()> {
        // Take the files under the lock, sync them without it: an fsync
        // can take tens of milliseconds, and appends should not wait.
        let _one_at_a_time = self.syncing.lock();
        let files: Vec<_> = {
            let mut st = self.catalog.state.write();
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
                let mut st = self.catalog.state.write();
                return Err(self.poison(&mut st, Error::io("sync", path)(e)));
            }
        }
        // A sync that failed while this one waited has poisoned the project.
        match &self.catalog.state.read().poisoned {
            Some((path, reason)) => Err(Error::Poisoned {
                path: path.clone(),
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }
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
