//! Reading a project: pages of matches newest first, counts, one record by
//! ID, one job's logs, and the range a query covers. Every read of a
//! read-only store first looks at what the writer did (see `tail.rs`).
use std::fs;
use std::path::Path;

use crate::error::{Damage, Error, Result};
use crate::index::jobs::job_hash;
use crate::presets::{self};
use crate::query::exec::{self, Collect, Key, MIN_ID, Owned, Source, Tally};
use crate::query::filter::Filter;
use crate::query::view::{PageView, ViewBuilder};
use crate::query::{Counts, Cursor, Page, Query};
use crate::record::{RecordId, SegmentId, StoredRecord};
use crate::time::{RangeSpec, ResolvedRange, TimeRange, Timestamp, duration_micros};

use super::catalog::{SegmentInfo, Slot};
use super::core::Core;
use super::tail::MAX_REREADS;

/// Most buckets a count may ask for.
const MAX_BUCKETS: i64 = 100_000;

impl Core {
    /// [`Slot::source`](super::catalog::Slot::source) with the ordinals of its records of
    /// superseded attempts attached (its index is then read to find them).
    pub(super) fn source_hiding<'s>(
        &self,
        id: SegmentId,
        slot: &'s Slot,
        indexed: bool,
    ) -> Option<Source<'s>> {
        let mut hidden = self.hidden.lock();
        if hidden.is_empty() {
            drop(hidden);
            return slot.source(id, &self.settings, &self.reports, indexed);
        }
        let mut src = slot.source(id, &self.settings, &self.reports, true)?;
        let note = |d| self.note_read_damage(d);
        match hidden.of(&src, self.settings.read_only, &note) {
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
        let from = range
            .from
            .max(self.settings.horizon(self.settings.now()))
            .as_micros();
        let mut upper = upper.map_or((range.to.as_micros(), MIN_ID), |u| {
            u.min((range.to.as_micros(), MIN_ID))
        });
        let note = |d| self.note_read_damage(d);
        let st = self.catalog.state.read();
        let mut slots = st.segments.iter().rev().peekable();
        while let Some((id, slot)) = slots.next() {
            let (start, end) = self.settings.partition_range(id.partition);
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
        let st = self.catalog.state.read();
        for (id, slot) in &st.segments {
            let (start, end) = self.settings.partition_range(id.partition);
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
            let horizon = self.settings.horizon(self.settings.now());
            let st = self.catalog.state.read();
            let Some(slot) = st.segments.get(&id.segment) else {
                return Ok(None);
            };
            let Some(view) = slot.view(id.segment, &self.settings, &self.reports) else {
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

    /// Resolve a range spec against now, clamped to the retention horizon.
    pub(crate) fn resolve(&self, spec: &RangeSpec) -> Result<ResolvedRange> {
        spec.check()?;
        let now = self.settings.now();
        let range = match spec.resolve_plain(now, self.settings.opts.utc_offset) {
            Some(r) => r,
            None => {
                let RangeSpec::Saved(name) = spec else {
                    unreachable!("only saved presets need the project")
                };
                let saved = presets::load(&self.settings.presets_path())?;
                let (_, range) = saved
                    .into_iter()
                    .find(|(n, _)| n == name)
                    .ok_or_else(|| Error::UnknownPreset { name: name.clone() })?;
                range
                    .spec()
                    .resolve_plain(now, self.settings.opts.utc_offset)
                    .unwrap_or(TimeRange::all())
            }
        };
        Ok(ResolvedRange::clamp(range, self.settings.horizon(now)))
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
    pub(super) fn query_into(
        &self,
        q: &Query,
        out: &mut dyn Collect,
    ) -> Result<(Option<Cursor>, ResolvedRange)> {
        let filter = Filter::new(q);
        let fingerprint = filter.fingerprint(&q.range);
        let (resolved, upper) = match q.cursor {
            Some(c) if c.fingerprint != fingerprint => return Err(Error::CursorMismatch),
            Some(c) => (
                ResolvedRange::clamp(c.range, self.settings.horizon(self.settings.now())),
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
                .settings
                .now()
                .saturating_add(self.settings.opts.max_future_skew)
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

    pub(super) fn job_logs_into(
        &self,
        job_id: &str,
        include_superseded: bool,
        out: &mut dyn Collect,
    ) -> Result<()> {
        self.refresh()?;
        let from = self.settings.horizon(self.settings.now()).as_micros();
        let filter = Filter::job(job_id);
        let note = |d| self.note_read_damage(d);
        let st = self.catalog.state.read();
        let candidates = self.catalog.job_segments(
            &st,
            job_hash(job_id.as_bytes()),
            &self.settings,
            &self.reports,
        );
        // Newest segment first, each newest record first: usually the
        // whole list comes out newest first, and one reverse sorts it.
        for id in candidates.into_iter().rev() {
            let Some(slot) = st.segments.get(&id) else {
                continue;
            };
            if let Some(src) = slot.source(id, &self.settings, &self.reports, true) {
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

    pub(crate) fn segments(&self) -> Result<Vec<SegmentInfo>> {
        self.refresh()?;
        let st = self.catalog.state.read();
        Ok(st
            .segments
            .iter()
            .map(|(id, slot)| {
                let (start, end) = self.settings.partition_range(id.partition);
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

    /// The oldest record time within the retention horizon, if any.
    pub(super) fn oldest(&self) -> Result<Option<Timestamp>> {
        self.refresh()?;
        let horizon = self.settings.horizon(self.settings.now()).as_micros();
        let st = self.catalog.state.read();
        let mut oldest: Option<i64> = None;
        for (id, slot) in &st.segments {
            if oldest.is_some_and(|o| o < self.settings.partition_range(id.partition).0) {
                break;
            }
            if let Some(view) = slot.view(*id, &self.settings, &self.reports) {
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
    pub(super) fn bytes(&self) -> u64 {
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
        size_of_dir(&self.settings.dir)
            + size_of_dir(&self.settings.dir.join(crate::runs::journal::JOURNAL_DIR))
    }
}
