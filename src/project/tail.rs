//! A read-only store's look at the writer's files: what changed since the
//! last look (segments listed, active segments read further, run journals
//! replayed), and what the writer cut back meanwhile, forgotten.
//!
//! The writer records every cut of an active segment or a journal in the
//! cut log before making it, and moves the count after (see
//! `cuts`). What a look reads while the count stays what it was
//! at the last look is kept; when the count moved since, or moves during
//! the look, what the cuts since cut is forgotten (everything, when the
//! log cannot tell) and read again.
use std::fs;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use crate::cuts::Cut;
use crate::error::{Damage, Error, Result};
use crate::query::superseded::Hidden;
use crate::record::SegmentId;

use super::catalog::{MAX_REWINDS, Slot, State};
use super::core::Core;

/// How many times a reader reads the active segments again in one look
/// when the writer cut one back meanwhile.
pub(super) const MAX_REREADS: u32 = 3;

impl Core {
    /// Read-only stores: pick up what the writer did since the last look.
    pub(crate) fn refresh(&self) -> Result<()> {
        if !self.settings.read_only {
            return Ok(());
        }
        let first_kept = self.settings.first_kept_partition(self.settings.now());
        // The writer records every cut of an active segment or a journal
        // in the cut log before making it, and moves the count after (see
        // `cuts`). What a look reads while the count stays what
        // it was at the last look is kept; when the count moved since, or
        // moves during the look, what the cuts since cut is forgotten
        // (everything, when the log cannot tell) and read again.
        // One look at a time: two at once could each rebuild the hidden
        // attempts from a different replay of the journals.
        let _looking = self.looking.lock();
        let seen = self.catalog.state.read().cuts_seen;
        let mut before = self.cuts.read()?;
        let mut cuts = self.cuts.since(seen, before)?;
        for pass in 1..=MAX_REREADS {
            let everything = cuts.contains(&Cut::Any);
            let journals = everything || cuts.iter().any(|c| matches!(c, Cut::Journal { .. }));
            let replay = self.runs.ledger.refresh(first_kept, journals)?;
            if replay.full {
                *self.hidden.lock() = Hidden::default();
            }
            self.absorb(replay);
            let mtime = fs::metadata(&self.settings.dir)
                .and_then(|m| m.modified())
                .map_err(Error::io("stat", &self.settings.dir))?;
            let mut st = self.catalog.state.write();
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
                st.list(&self.settings, &self.reports, &self.cuts)?;
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
                    damage.into_iter().for_each(|d| self.reports.note(d));
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
    pub(super) fn apply_cuts(&self, st: &mut State, cuts: &[Cut]) {
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
    pub(super) fn reset_active(&self, st: &mut State) {
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

    /// Whether this is a read-only store whose writer cut something since
    /// the last look (or whose count cannot be read).
    pub(super) fn cut_since_look(&self) -> bool {
        self.settings.read_only
            && self
                .cuts
                .read()
                .map_or(true, |c| c != self.cuts_seen.load(Ordering::Acquire))
    }

    /// [`Reports::note`](super::settings::Reports::note) for damage found reading a
    /// record at an offset a look found earlier: in a read-only store,
    /// unless the cut count moved since the look (the bytes read may have
    /// been cut and written again: no damage; the next look reads them
    /// again, and a read then finds real damage again).
    pub(crate) fn note_read_damage(&self, d: Damage) {
        if !self.cut_since_look() {
            self.reports.note(d);
        }
    }
}
