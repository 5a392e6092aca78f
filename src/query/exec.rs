//! Running a filter over segments: newest-first pages (a k-way merge of
//! per-segment streams) and counts.

use std::borrow::Cow;
use std::collections::BinaryHeap;
use std::path::PathBuf;
use std::sync::Arc;

use roaring::RoaringBitmap;

use crate::error::Damage;
use crate::error::Result;
use crate::index::IndexField;
use crate::index::postings::Conj;
use crate::query::filter::{Cand, Filter, IndexRef};
use crate::query::view::{RecordView, ViewBuilder};
use crate::record::{Level, RecordId, SegmentId, StoredRecord};
use crate::segment::reader::SegView;
use crate::time::Timestamp;

/// The hidden records of one segment.
#[derive(Clone, Debug, Default)]
pub(crate) struct HiddenSet {
    /// Their ordinals, sorted.
    pub(crate) ords: Vec<u32>,
    /// Their level codes, in the order of `ords`.
    pub(crate) levels: Vec<u8>,
    /// How many there are of each level.
    pub(crate) by_level: [u64; 4],
    /// The segment's slots (ordinals) these were computed over.
    pub(crate) slots: u32,
    /// Their ranks (positions in time order), once the segment is sealed:
    /// subtracted from rank bitmaps when counting.
    pub(crate) ranks: Option<RoaringBitmap>,
}

/// A segment's hidden records, shared with the queries reading it.
pub(crate) type HiddenOrds = Arc<HiddenSet>;

/// The smallest record ID: `(t, MIN_ID)` sorts before every record of time `t`.
pub(crate) const MIN_ID: RecordId = RecordId {
    segment: SegmentId {
        partition: 0,
        generation: 0,
    },
    ordinal: 0,
};

/// A sort key: time (µs), then record ID.
pub(crate) type Key = (i64, RecordId);

/// One segment, ready to read and filter.
#[derive(Debug)]
pub(crate) struct Source<'a> {
    pub(crate) view: SegView<'a>,
    pub(crate) index: IndexRef<'a>,
    /// Ordinals of records of superseded attempts, if any.
    pub(crate) hidden: Option<HiddenOrds>,
}

impl Source<'_> {
    /// Whether ordinal `ord` holds a record of a superseded attempt.
    /// (`#[inline]`: on every query's hot path; see `format::u32_at`.)
    #[inline]
    pub(crate) fn is_hidden(&self, ord: u32) -> bool {
        self.hidden
            .as_ref()
            .is_some_and(|h| h.ords.binary_search(&ord).is_ok())
    }

    /// Read record `ord` in place and, if it matches `filter` (level,
    /// exact fields, text) and is shown (not of a superseded attempt, or
    /// marked as such when the filter includes those), return `f` of it:
    /// nothing is copied or allocated for a record that does not match.
    /// `scratch` holds a record whose strings are not plain text.
    pub(crate) fn matching<R>(
        &self,
        ord: u32,
        filter: &Filter,
        scratch: &mut ViewBuilder,
        f: impl FnOnce(&RecordView<'_>) -> R,
    ) -> Result<Option<R>> {
        let hidden = self.is_hidden(ord);
        if hidden && !filter.include_superseded {
            return Ok(None);
        }
        self.view.with_summary(ord, |id, s| {
            let view = scratch.read(id, &s, hidden)?;
            let matches = filter.confirm_with(view.level, |field| view.field(field));
            Some(matches.then(|| f(&view)))
        })
    }

    pub(crate) fn index_path(&self) -> PathBuf {
        self.view.path.with_extension(crate::segment::INDEX_EXT)
    }

    fn key(&self, ord: u32) -> Key {
        (
            self.view.time(ord),
            RecordId {
                segment: self.view.id,
                ordinal: ord,
            },
        )
    }
}

/// A segment's candidates in `[from, upper)`, newest first.
enum Stream<'a> {
    /// Every rank in `lo..hi`, going down.
    Ranks { lo: usize, hi: usize },
    /// Candidate ordinals of an active segment, newest first: ordinals
    /// are pulled going down into a heap until the heap's best key beats
    /// everything a lower ordinal can hold (by the prefix maximum of times).
    /// Records mostly arrive in time order, so this pulls about one ordinal
    /// per key.
    Heap {
        ords: Conj<'a>,
        /// The next candidate ordinal going down, not yet pulled.
        next: Option<u32>,
        heap: BinaryHeap<Key>,
        from: i64,
        upper: Key,
    },
    /// Ranks from a bitmap, going down (sealed segments).
    Bits(std::iter::Rev<roaring::bitmap::IntoIter>),
}

impl<'a> Stream<'a> {
    fn new(src: &Source<'a>, filter: &Filter, from: i64, upper: Key) -> Result<Stream<'a>> {
        let v = &src.view;
        let hi = v.position_below(upper.0, upper.1);
        let lo = v.position_below(from, MIN_ID);
        if lo >= hi {
            return Ok(Stream::Ranks { lo: 0, hi: 0 });
        }
        let cand = filter.candidates(src.index, src.view.path)?;
        Ok(match (cand, src.index) {
            (Cand::All, _) => Stream::Ranks { lo, hi },
            (Cand::Ranks(mut ranks), _) => {
                ranks.remove_range(hi as u32..);
                ranks.remove_range(..lo as u32);
                Stream::Bits(ranks.into_iter().rev())
            }
            (Cand::Ords(mut ords), _) => Stream::Heap {
                next: ords.next_desc(),
                ords,
                heap: BinaryHeap::new(),
                from,
                upper,
            },
        })
    }

    fn next(&mut self, src: &Source<'_>) -> Option<Key> {
        match self {
            Stream::Ranks { lo, hi } => {
                if *hi <= *lo {
                    return None;
                }
                *hi -= 1;
                Some(src.key(src.view.order(*hi)))
            }
            Stream::Heap {
                ords,
                next,
                heap,
                from,
                upper,
            } => loop {
                let below = *next;
                let ceiling = below.and_then(|o| src.view.prefix_max(o));
                // Lower ordinals hold times <= `c` and smaller IDs, so the
                // heap's best is next once its time reaches `c`.
                let best = heap.peek().map(|k| k.0);
                match ceiling {
                    None => return heap.pop(),
                    Some(c) if c < *from || best.is_some_and(|b| b >= c) => return heap.pop(),
                    Some(_) => {}
                }
                *next = ords.next_desc();
                if let Some(o) = below {
                    let key = src.key(o);
                    if key.0 >= *from && key < *upper {
                        heap.push(key);
                    }
                }
            },
            Stream::Bits(it) => it.next().map(|rank| src.key(src.view.order(rank as usize))),
        }
    }
}

/// Where a search puts the records it finds.
pub(crate) trait Collect {
    /// Read record `ord` of `src` and keep it if it matches `filter`,
    /// marking it if it is hidden as superseded ([`collect_group`] offers
    /// hidden records only when the filter includes them). Returns
    /// whether it was kept.
    /// `confirm` is false when the candidates were exactly the matches.
    fn offer(&mut self, src: &Source<'_>, ord: u32, filter: &Filter, confirm: bool)
    -> Result<bool>;

    /// Number of records kept.
    fn count(&self) -> usize;

    /// The key of the last record kept.
    fn last_key(&self) -> Option<(Timestamp, RecordId)>;

    /// Order the records oldest first (ties by ID), knowing that they
    /// were collected segment by segment, newest first: usually one
    /// reverse does it.
    fn oldest_first(&mut self);

    /// Mark records of attempts before `ok` superseded; drop them unless `keep`.
    fn supersede_before(&mut self, ok: u32, keep: bool);
}

/// Owned records, read through a [`ViewBuilder`] (whose one or two UTF-8
/// checks per record are cheaper than one per string) and copied out.
#[derive(Debug, Default)]
pub(crate) struct Owned {
    pub(crate) records: Vec<StoredRecord>,
    scratch: ViewBuilder,
}

impl Owned {
    pub(crate) fn with_capacity(records: usize) -> Self {
        Owned {
            records: Vec::with_capacity(records),
            scratch: ViewBuilder::default(),
        }
    }
}

impl Collect for Owned {
    fn offer(
        &mut self,
        src: &Source<'_>,
        ord: u32,
        filter: &Filter,
        confirm: bool,
    ) -> Result<bool> {
        let (records, scratch) = (&mut self.records, &mut self.scratch);
        src.view.with_summary(ord, |id, s| {
            let hidden = src.is_hidden(ord);
            let view = scratch.read(id, &s, hidden)?;
            let keep = (!confirm || filter.confirm_with(view.level, |f| view.field(f)))
                && (!hidden || filter.include_superseded);
            if keep {
                records.push(view.to_stored());
            }
            Some(keep)
        })
    }

    fn count(&self) -> usize {
        self.records.len()
    }

    fn last_key(&self) -> Option<(Timestamp, RecordId)> {
        self.records.last().map(|r| (r.record.time, r.id))
    }

    fn oldest_first(&mut self) {
        let records = &mut self.records;
        records.reverse();
        if !records.is_sorted_by_key(|r| (r.record.time, r.id)) {
            // Late records in another generation of a partition.
            records.sort_unstable_by_key(|r| (r.record.time, r.id));
        }
    }

    fn supersede_before(&mut self, ok: u32, keep: bool) {
        for r in &mut self.records {
            r.superseded = r.record.attempt < ok;
        }
        if !keep {
            self.records.retain(|r| !r.superseded);
        }
    }
}

/// Records copied into one buffer.
impl Collect for ViewBuilder {
    fn offer(
        &mut self,
        src: &Source<'_>,
        ord: u32,
        filter: &Filter,
        confirm: bool,
    ) -> Result<bool> {
        src.view.with_summary(ord, |id, s| {
            if !self.push(id, &s, src.is_hidden(ord)) {
                return None;
            }
            let keep = !confirm || self.last_matches(filter);
            if !keep {
                self.pop();
            }
            Some(keep)
        })
    }

    fn count(&self) -> usize {
        self.len()
    }

    fn last_key(&self) -> Option<(Timestamp, RecordId)> {
        ViewBuilder::last_key(self)
    }

    fn oldest_first(&mut self) {
        ViewBuilder::oldest_first(self);
    }

    fn supersede_before(&mut self, ok: u32, keep: bool) {
        ViewBuilder::supersede_before(self, ok, keep);
    }
}

/// Collect matches of `filter` from one partition's segments (`group`),
/// newest first, with keys in `[from, *upper)`, into `out` until it holds
/// `limit`. Moves `upper` down past what was read. Returns whether `out`
/// is full. Unreadable records are skipped and passed to `note`.
pub(crate) fn collect_group(
    group: &[Source<'_>],
    filter: &Filter,
    from: i64,
    upper: &mut Key,
    limit: usize,
    out: &mut dyn Collect,
    note: &dyn Fn(Damage),
) -> Result<bool> {
    let mut streams = Vec::with_capacity(group.len());
    let mut heads = Vec::with_capacity(group.len());
    // Whether a segment's records must be checked against the filter: not
    // when its index gave exactly the matches (field and level terms are
    // whole values; words only narrow).
    let mut confirm = Vec::with_capacity(group.len());
    for src in group {
        let mut s = Stream::new(src, filter, from, *upper)?;
        heads.push(s.next(src));
        confirm.push(filter.has_words() || (!filter.is_all() && matches!(s, Stream::Ranks { .. })));
        streams.push(s);
    }
    loop {
        let Some((k, key)) = heads
            .iter()
            .enumerate()
            .filter_map(|(k, h)| h.map(|h| (k, h)))
            .max_by_key(|(_, h)| *h)
        else {
            return Ok(false);
        };
        heads[k] = streams[k].next(&group[k]);
        *upper = key;
        let src = &group[k];
        if !filter.include_superseded && src.is_hidden(key.1.ordinal) {
            continue;
        }
        match out.offer(src, key.1.ordinal, filter, confirm[k]) {
            Ok(true) if out.count() >= limit => return Ok(true),
            Ok(_) => {}
            Err(e) => note(Damage::from_error(src.view.path, &e)),
        }
    }
}

/// Running totals of a count.
#[derive(Debug)]
pub(crate) struct Tally {
    pub(crate) by_level: [u64; 4],
    /// Start of the first bucket and bucket width (µs), with the counts.
    pub(crate) buckets: Option<(i64, i64, Vec<u64>)>,
}

impl Tally {
    fn add(&mut self, level: u8, time: i64, n: u64) {
        self.by_level[level as usize] += n;
        if let Some((start, width, counts)) = &mut self.buckets {
            let i = ((time - *start) / *width) as usize;
            if let Some(c) = counts.get_mut(i) {
                *c += n;
            }
        }
    }
}

/// Count the matches of `filter` with times in `[from, to)` in one
/// segment, leaving out records of superseded attempts unless the filter
/// includes them.
pub(crate) fn count_source(
    src: &Source<'_>,
    filter: &Filter,
    from: i64,
    to: i64,
    tally: &mut Tally,
    note: &dyn Fn(Damage),
) -> Result<()> {
    let v = &src.view;
    let lo = v.position_below(from, MIN_ID);
    let hi = v.position_below(to, MIN_ID);
    if lo >= hi {
        return Ok(());
    }
    // Hidden records (superseded attempts) to leave out, as ranks of a
    // sealed segment or ordinals of an active one.
    let hidden = src.hidden.as_deref().filter(|_| !filter.include_superseded);
    match src.index {
        IndexRef::Disk(ix) if !filter.has_words() => {
            let cand = filter.candidates(src.index, src.view.path)?;
            let hidden_ranks = hidden.and_then(|h| h.ranks.as_ref());
            let whole = lo == 0 && hi == v.len();
            for l in Level::ALL {
                let code = l.code();
                if !filter.wants_level(code) {
                    continue;
                }
                let err = |e: crate::segment::format::DecodeError| e.into_error(&src.index_path());
                let n = match &cand {
                    Cand::All if whole && tally.buckets.is_none() => {
                        let hidden_n = hidden.map_or(0, |h| h.by_level[usize::from(code)]);
                        ix.cardinality(IndexField::Level, &[code])
                            .map_err(err)?
                            .saturating_sub(hidden_n)
                    }
                    cand => {
                        let mut bm = ix
                            .get(IndexField::Level, &[code])
                            .map_err(err)?
                            .unwrap_or_default();
                        if let Cand::Ranks(c) = cand {
                            bm &= c;
                        }
                        if let Some(h) = hidden_ranks {
                            bm -= h;
                        }
                        if let Some((start, width, counts)) = &mut tally.buckets {
                            // Bucket edges as ranks: records are in time order.
                            for (i, c) in counts.iter_mut().enumerate() {
                                let b0 = (*start + i as i64 * *width).max(from);
                                let b1 = (*start + (i as i64 + 1) * *width).min(to);
                                if b1 <= b0 {
                                    continue;
                                }
                                let r0 = v.position_below(b0, MIN_ID).max(lo);
                                let r1 = v.position_below(b1, MIN_ID).min(hi);
                                if r0 < r1 {
                                    *c += bm.range_cardinality(r0 as u32..r1 as u32);
                                }
                            }
                        }
                        bm.range_cardinality(lo as u32..hi as u32)
                    }
                };
                tally.by_level[code as usize] += n;
            }
            Ok(())
        }
        IndexRef::Mem(ix) if !filter.has_words() => {
            let cand = match filter.candidates(src.index, src.view.path)? {
                Cand::Ords(c) => Some(c.collect()),
                _ => None,
            };
            for l in Level::ALL {
                let code = l.code();
                if !filter.wants_level(code) {
                    continue;
                }
                let Some(level_bm) = ix.dict(IndexField::Level).get(&[code]) else {
                    continue;
                };
                let ords = match &cand {
                    Some(c) => Cow::Owned(level_bm.and(c)),
                    None => Cow::Borrowed(level_bm),
                };
                for &ord in ords.as_slice() {
                    if hidden.is_some_and(|h| h.ords.binary_search(&ord).is_ok()) {
                        continue;
                    }
                    let t = src.view.time(ord);
                    if t >= from && t < to {
                        tally.add(code, t, 1);
                    }
                }
            }
            Ok(())
        }
        // Text to confirm, or no index: read the candidates.
        _ => {
            let mut stream = Stream::new(src, filter, from, (to, MIN_ID))?;
            let mut scratch = ViewBuilder::default();
            while let Some((_, id)) = stream.next(src) {
                let level_time = |r: &RecordView<'_>| (r.level.code(), r.time.as_micros());
                match src.matching(id.ordinal, filter, &mut scratch, level_time) {
                    Ok(Some((level, time))) => tally.add(level, time, 1),
                    Ok(None) => {}
                    Err(e) => note(Damage::from_error(v.path, &e)),
                }
            }
            Ok(())
        }
    }
}
