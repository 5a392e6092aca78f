//! Sorted, distinct `u32` lists: the postings of an active segment's index.
//!
//! Appending an ordinal is a push (ordinals arrive in order), which
//! keeps ingest cheap; queries intersect and merge the sorted lists
//! directly. Sealing turns them into roaring bitmaps.

use std::borrow::Cow;

use roaring::RoaringBitmap;

/// Sorted, distinct values. Up to [`INLINE_VALUES`] of them are stored
/// inline (no allocation, no pointer to chase): most terms of a segment
/// (IDs, numbers) occur only a few times.
#[derive(Clone, Debug)]
pub(crate) struct Postings(Repr);

/// Values kept inline before spilling to the heap.
const INLINE_VALUES: usize = 6;

#[derive(Clone, Debug)]
enum Repr {
    Inline {
        len: u32,
        values: [u32; INLINE_VALUES],
    },
    /// `last` repeats the last value (0 if none) so that adding compares
    /// against the entry's own cache line; only the write of the new value
    /// touches the list's tail, and a write does not stall on a miss.
    Heap { last: u32, values: Vec<u32> },
}

impl Default for Postings {
    fn default() -> Self {
        Postings(Repr::Inline {
            len: 0,
            values: [0; INLINE_VALUES],
        })
    }
}

impl PartialEq for Postings {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Postings {}

impl Postings {
    fn from_vec(values: Vec<u32>) -> Self {
        Postings(Repr::Heap {
            last: values.last().copied().unwrap_or(0),
            values,
        })
    }

    /// Add `x` (usually above every value present).
    #[inline]
    pub(crate) fn add(&mut self, x: u32) {
        // The common case first: a frequent term's next ordinal.
        if let Repr::Heap { last, values } = &mut self.0
            && !values.is_empty()
            && *last < x
        {
            values.push(x);
            *last = x;
            return;
        }
        self.add_other(x);
    }

    fn add_other(&mut self, x: u32) {
        match self.as_slice().last() {
            None => {}
            // A word repeated within one record.
            Some(&last) if last == x => return,
            Some(&last) if last > x => {
                if let Err(at) = self.as_slice().binary_search(&x) {
                    self.with_heap(|v| v.insert(at, x));
                }
                return;
            }
            Some(_) => {}
        }
        match &mut self.0 {
            Repr::Inline { len, values } if (*len as usize) < INLINE_VALUES => {
                values[*len as usize] = x;
                *len += 1;
            }
            _ => self.with_heap(|v| v.push(x)),
        }
    }

    /// Change the values as a `Vec` (moving them to the heap if inline).
    fn with_heap(&mut self, change: impl FnOnce(&mut Vec<u32>)) {
        if let Repr::Inline { len, values } = &self.0 {
            let mut v = Vec::with_capacity(INLINE_VALUES * 2);
            v.extend_from_slice(&values[..*len as usize]);
            *self = Postings::from_vec(v);
        }
        if let Repr::Heap { last, values } = &mut self.0 {
            change(values);
            *last = values.last().copied().unwrap_or(0);
        }
    }

    /// Keep only the values below `k` (a reader forgetting the records
    /// from ordinal `k` on, which the writer cut back).
    pub(crate) fn truncate(&mut self, k: u32) {
        let keep = self.as_slice().partition_point(|&x| x < k);
        match &mut self.0 {
            Repr::Inline { len, .. } => *len = keep as u32,
            Repr::Heap { last, values } => {
                values.truncate(keep);
                *last = values.last().copied().unwrap_or(0);
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn from_sorted(v: Vec<u32>) -> Self {
        Postings::from_vec(v)
    }

    pub(crate) fn as_slice(&self) -> &[u32] {
        match &self.0 {
            Repr::Inline { len, values } => &values[..*len as usize],
            Repr::Heap { values, .. } => values,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    #[cfg(test)]
    pub(crate) fn contains(&self, x: u32) -> bool {
        self.as_slice().binary_search(&x).is_ok()
    }

    /// Values in both lists: for each value of the shorter list, a
    /// galloping search forward in the longer one.
    pub(crate) fn and(&self, other: &Postings) -> Postings {
        let (small, large) = if self.len() <= other.len() {
            (self.as_slice(), other.as_slice())
        } else {
            (other.as_slice(), self.as_slice())
        };
        let mut out = Vec::with_capacity(small.len());
        let mut rest: &[u32] = large;
        for &x in small {
            // Gallop: find a bound past `x`, then search below it.
            let mut step = 1;
            while step < rest.len() && rest[step] < x {
                step *= 2;
            }
            let window = &rest[..rest.len().min(step + 1)];
            match window.binary_search(&x) {
                Ok(i) => {
                    out.push(x);
                    rest = &rest[i + 1..];
                }
                Err(i) => rest = &rest[i..],
            }
            if rest.is_empty() {
                break;
            }
        }
        Postings::from_vec(out)
    }

    /// Values in any of `lists`.
    pub(crate) fn union<'a>(lists: impl IntoIterator<Item = &'a Postings>) -> Postings {
        let lists: Vec<&[u32]> = lists.into_iter().map(Postings::as_slice).collect();
        Postings::from_vec(match lists[..] {
            [] => Vec::new(),
            [one] => one.to_vec(),
            // Two (such as Warn and Error): one linear merge.
            [a, b] => merge(a, b),
            _ => {
                let mut out: Vec<u32> = lists.concat();
                out.sort_unstable();
                out.dedup();
                out
            }
        })
    }

    /// As a roaring bitmap, with every value mapped through `map` (ranks).
    pub(crate) fn to_bitmap(&self, map: Option<&[u32]>) -> RoaringBitmap {
        match map {
            None => {
                RoaringBitmap::from_sorted_iter(self.as_slice().iter().copied()).unwrap_or_default()
            }
            Some(map) => {
                let mut mapped: Vec<u32> = self
                    .as_slice()
                    .iter()
                    .filter_map(|&x| map.get(x as usize).copied())
                    .collect();
                mapped.sort_unstable();
                RoaringBitmap::from_sorted_iter(mapped).unwrap_or_default()
            }
        }
    }
}

/// The values of two sorted, distinct lists, sorted and distinct.
fn merge(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        out.push(x.min(y));
        i += usize::from(x <= y);
        j += usize::from(y <= x);
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// The intersection of several postings, produced lazily from the
/// highest value down: work is proportional to what is consumed, which is
/// what a newest-first page needs.
#[derive(Clone, Debug)]
pub(crate) struct Conj<'a> {
    /// Sorted by length: the first drives, the others are probed.
    sets: Vec<Cow<'a, Postings>>,
    /// For each set, how many of its values remain (those below are unread).
    ends: Vec<usize>,
}

impl<'a> Conj<'a> {
    /// The intersection of `sets` (at least one).
    pub(crate) fn new(mut sets: Vec<Cow<'a, Postings>>) -> Conj<'a> {
        sets.sort_by_key(|s| s.len());
        let ends = sets.iter().map(|s| s.len()).collect();
        Conj { sets, ends }
    }

    /// The next value going down.
    pub(crate) fn next_desc(&mut self) -> Option<u32> {
        'driver: loop {
            let end = self.ends.first_mut()?;
            *end = end.checked_sub(1)?;
            let x = self.sets[0].as_slice()[*end];
            for k in 1..self.sets.len() {
                let list = &self.sets[k].as_slice()[..self.ends[k]];
                // Gallop down from the end, then search the window.
                let mut step = 1;
                while step < list.len() && list[list.len() - 1 - step] > x {
                    step *= 2;
                }
                let start = list.len().saturating_sub(step + 1);
                let below = start + list[start..].partition_point(|&v| v < x);
                let found = list.get(below) == Some(&x);
                self.ends[k] = below;
                if !found {
                    continue 'driver;
                }
            }
            return Some(x);
        }
    }

    /// Every remaining value, ascending.
    pub(crate) fn collect(mut self) -> Postings {
        let mut out = Vec::new();
        while let Some(x) = self.next_desc() {
            out.push(x);
        }
        out.reverse();
        Postings::from_vec(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn truncate_keeps_the_values_below() {
        for n in [0u32, 3, 6, 7, 40] {
            for k in 0..=n + 1 {
                let mut p = Postings::default();
                (0..n).for_each(|x| p.add(x * 2));
                p.truncate(k);
                let want: Vec<u32> = (0..n).map(|x| x * 2).filter(|&x| x < k).collect();
                assert_eq!(p.as_slice(), want, "n {n} k {k}");
                p.add(k.max(want.last().map_or(0, |l| l + 1)));
                assert_eq!(p.len(), want.len() + 1, "appends go on after a truncate");
            }
        }
    }

    proptest! {
        #[test]
        fn set_operations_match_btreeset(
            a in prop::collection::btree_set(0..2000u32, 0..300),
            b in prop::collection::btree_set(0..2000u32, 0..30),
            extra in prop::collection::vec(0..2000u32, 0..20),
        ) {
            let mut pa = Postings::default();
            for &x in &a { pa.add(x); }
            for &x in &extra { pa.add(x); }
            let mut sa = a.clone();
            sa.extend(&extra);
            prop_assert_eq!(pa.as_slice(), &sa.iter().copied().collect::<Vec<_>>()[..]);
            let pb = Postings::from_sorted(b.iter().copied().collect());
            let and: Vec<u32> = sa.intersection(&b).copied().collect();
            prop_assert_eq!(pa.and(&pb).as_slice().to_vec(), and.clone());
            prop_assert_eq!(pb.and(&pa).as_slice().to_vec(), and);
            let or: BTreeSet<u32> = sa.union(&b).copied().collect();
            prop_assert_eq!(Postings::union([&pa, &pb]).as_slice().to_vec(), or.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(Postings::union([&pb, &pa, &pb]).as_slice().to_vec(), or.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(Postings::union([&pb]), pb.clone());
            for x in 0..50 { prop_assert_eq!(pa.contains(x), sa.contains(&x)); }
            let c = Conj::new(vec![Cow::Borrowed(&pa), Cow::Borrowed(&pb), Cow::Owned(pa.clone())]);
            prop_assert_eq!(c.collect().as_slice().to_vec(), sa.intersection(&b).copied().collect::<Vec<_>>());
            prop_assert_eq!(pa.to_bitmap(None).iter().collect::<Vec<_>>(), sa.iter().copied().collect::<Vec<_>>());
        }
    }
}
