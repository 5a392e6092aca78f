//! Sorted, distinct `u32` lists: the postings of an active segment's index.
//!
//! Appending an ordinal is a `Vec::push` (ordinals arrive in order), which
//! keeps ingest cheap; queries intersect and merge the sorted lists
//! directly. Sealing turns them into roaring bitmaps.

use std::borrow::Cow;

use roaring::RoaringBitmap;

/// Sorted, distinct values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Postings(Vec<u32>);

impl Postings {
    /// Add `x` (usually above every value present).
    pub(crate) fn add(&mut self, x: u32) {
        match self.0.last() {
            Some(&last) if last >= x => {
                if let Err(at) = self.0.binary_search(&x) {
                    self.0.insert(at, x);
                }
            }
            _ => self.0.push(x),
        }
    }

    #[cfg(test)]
    pub(crate) fn from_sorted(v: Vec<u32>) -> Self {
        Postings(v)
    }

    pub(crate) fn as_slice(&self) -> &[u32] {
        &self.0
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn contains(&self, x: u32) -> bool {
        self.0.binary_search(&x).is_ok()
    }

    /// Values in both lists: for each value of the shorter list, a
    /// galloping search forward in the longer one.
    pub(crate) fn and(&self, other: &Postings) -> Postings {
        let (small, large) = if self.len() <= other.len() {
            (&self.0, &other.0)
        } else {
            (&other.0, &self.0)
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
        Postings(out)
    }

    /// Values in any of `lists`.
    pub(crate) fn union<'a>(lists: impl IntoIterator<Item = &'a Postings>) -> Postings {
        let mut out: Vec<u32> = Vec::new();
        let mut n = 0;
        for l in lists {
            out.extend_from_slice(&l.0);
            n += 1;
        }
        if n > 1 {
            out.sort_unstable();
            out.dedup();
        }
        Postings(out)
    }

    /// As a roaring bitmap, with every value mapped through `map` (ranks).
    pub(crate) fn to_bitmap(&self, map: Option<&[u32]>) -> RoaringBitmap {
        match map {
            None => RoaringBitmap::from_sorted_iter(self.0.iter().copied()).unwrap_or_default(),
            Some(map) => {
                let mut mapped: Vec<u32> = self
                    .0
                    .iter()
                    .filter_map(|&x| map.get(x as usize).copied())
                    .collect();
                mapped.sort_unstable();
                RoaringBitmap::from_sorted_iter(mapped).unwrap_or_default()
            }
        }
    }
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
            let x = self.sets[0].0[*end];
            for k in 1..self.sets.len() {
                let list = &self.sets[k].0[..self.ends[k]];
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
        Postings(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

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
            for x in 0..50 { prop_assert_eq!(pa.contains(x), sa.contains(&x)); }
            let c = Conj::new(vec![Cow::Borrowed(&pa), Cow::Borrowed(&pb), Cow::Owned(pa.clone())]);
            prop_assert_eq!(c.collect().as_slice().to_vec(), sa.intersection(&b).copied().collect::<Vec<_>>());
            prop_assert_eq!(pa.to_bitmap(None).iter().collect::<Vec<_>>(), sa.iter().copied().collect::<Vec<_>>());
        }
    }
}
