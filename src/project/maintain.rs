//! The writer's upkeep: sealing segments whose partition (plus grace) is
//! over, dropping what retention no longer keeps, scheduling the next
//! check, and verifying every file.
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::index;
use crate::record::SegmentId;
use crate::segment::recovery::{self, VerifyReport};
use crate::segment::{SEALED_EXT, segment_path};
use crate::time::{Timestamp, duration_micros};

use super::catalog::{Slot, State};
use super::core::Core;

impl Core {
    /// Seal what is due, apply retention, and schedule the next check.
    pub(super) fn maintain(&self, st: &mut State, now: Timestamp) -> Result<()> {
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
                    (newer || self.settings.seal_deadline(seg) <= now.as_micros()).then_some(*id)
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

    pub(super) fn next_deadline(&self, st: &State) -> i64 {
        let retention = duration_micros(self.settings.opts.retention);
        // The oldest run journal is dropped by the same rule.
        let journal = self.runs.ledger.first_partition().map_or(i64::MAX, |p| {
            self.settings.partition_range(p).1.saturating_add(retention)
        });
        st.segments
            .iter()
            .map(|(id, slot)| {
                let drop_at = self
                    .settings
                    .partition_range(id.partition)
                    .1
                    .saturating_add(retention);
                match slot {
                    Slot::Active(seg) => self.settings.seal_deadline(seg).min(drop_at),
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
            .settings
            .partition_range(p)
            .1
            .saturating_add(duration_micros(self.settings.opts.retention));
        if drop_at < self.catalog.state.read().next_check {
            let mut st = self.catalog.state.write();
            st.next_check = st.next_check.min(drop_at);
        }
    }

    /// Seal what is due and apply retention if the next check is due
    /// (appends do this themselves; run events call it).
    pub(crate) fn maintain_if_due(&self) -> Result<()> {
        if self.settings.read_only {
            return Ok(());
        }
        let now = self.settings.now();
        if now.as_micros() < self.catalog.state.read().next_check {
            return Ok(());
        }
        self.check_writable()?;
        let mut st = self.catalog.state.write();
        st.check_poisoned()?;
        if now.as_micros() >= st.next_check
            && let Err(e @ Error::Poisoned { .. }) = self.maintain(&mut st, now)
        {
            return Err(e);
        }
        Ok(())
    }

    pub(super) fn seal(&self, st: &mut State, id: SegmentId) -> Result<()> {
        let Some(Slot::Active(seg)) = st.segments.get_mut(&id) else {
            return Ok(());
        };
        match seg.seal(&self.settings.dir) {
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

    pub(super) fn apply_retention(&self, st: &mut State, now: Timestamp) -> Result<usize> {
        let horizon = self.settings.horizon(now).as_micros();
        let expired: Vec<SegmentId> = st
            .segments
            .keys()
            .filter(|id| self.settings.partition_range(id.partition).1 <= horizon)
            .copied()
            .collect();
        for id in &expired {
            if let Some(slot) = st.segments.remove(id) {
                let path = slot.path().to_path_buf();
                drop(slot);
                for path in [
                    path.clone(),
                    segment_path(&self.settings.dir, *id, crate::segment::INDEX_EXT),
                ] {
                    crate::fs::remove_if_exists(&path)?;
                }
            }
        }
        if !expired.is_empty() {
            st.epoch += 1;
            crate::fs::sync_dir(&self.settings.dir)?;
        }
        let first_kept = self.settings.first_kept_partition(now);
        let journals = self.runs.ledger.drop_before(first_kept)?;
        if !expired.is_empty() || journals > 0 {
            self.hidden
                .lock()
                .retain(|id| st.segments.contains_key(&id), first_kept);
        }
        Ok(expired.len())
    }

    pub(crate) fn seal_due(&self) -> Result<()> {
        if self.settings.read_only {
            return Err(self.settings.read_only_error());
        }
        let mut st = self.catalog.state.write();
        st.check_poisoned()?;
        self.maintain(&mut st, self.settings.now())
    }

    pub(crate) fn enforce_retention(&self) -> Result<usize> {
        if self.settings.read_only {
            return Err(self.settings.read_only_error());
        }
        let mut st = self.catalog.state.write();
        st.check_poisoned()?;
        let now = self.settings.now();
        let n = self.apply_retention(&mut st, now)?;
        st.next_check = st.next_check.min(self.next_deadline(&st));
        Ok(n)
    }

    pub(crate) fn verify(&self) -> Result<VerifyReport> {
        self.refresh()?;
        let files: Vec<(SegmentId, PathBuf, bool, Option<u64>)> = {
            let st = self.catalog.state.read();
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
            let mut one = recovery::verify_file(
                &path,
                id,
                self.settings.partition_len as u64,
                sealed,
                end,
                &mut |r| index::segment::verify(&path, id, r),
            );
            if !sealed && one.segments == 0 {
                // Sealed since the listing: check it under its new name.
                let sealed_path = segment_path(&self.settings.dir, id, SEALED_EXT);
                one = recovery::verify_file(
                    &sealed_path,
                    id,
                    self.settings.partition_len as u64,
                    true,
                    None,
                    &mut |r| index::segment::verify(&sealed_path, id, r),
                );
            }
            report.merge(one);
        }
        for (path, end) in self.runs.ledger.files() {
            report.journals += 1;
            report
                .problems
                .extend(crate::runs::ledger::verify_file(&path, end));
        }
        Ok(report)
    }
}
