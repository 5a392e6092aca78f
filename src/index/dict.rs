//! One field's dictionary in an active segment's index: term → postings.
//!
//! This is the append path's hottest structure: every record adds about
//! 25 terms (9 fields and ~16 words of content), and most of a term's
//! cost used to be cache misses (a `HashMap` bucket, then the postings'
//! `Vec` header, then its tail), since a segment's dictionary outgrows
//! the CPU caches within seconds. The layout here keeps a term to one or
//! two cache lines:
//!
//! - `slots` is an open-addressed (linear probing) table of 8-byte words,
//!   `(tag << 32) | (id + 1)`, `0` when empty. A probe compares the 32-bit
//!   tag before touching any entry, so a new term touches no entry at all
//!   and an existing one touches exactly one.
//! - `entries` holds one 64-byte, line-aligned [`Entry`] per term, in the
//!   order terms were first seen (their IDs): the key (inline up to 24
//!   bytes, longer keys in `long`) and the postings, whose first six
//!   ordinals live inline — most terms (IDs, numbers) never need more,
//!   so they cost no allocation and no second cache line.
//! - For words, `blob` concatenates the terms in ID order, so a substring
//!   search runs one `memmem` over it instead of visiting every entry.

use crate::index::postings::Postings;

/// Keys up to this many bytes are stored in their entry.
const INLINE: usize = 24;

// `Key::from_padded` reads `INLINE` bytes from a word's start.
const _: () = assert!(crate::index::tokenizer::PAD >= INLINE);

/// Largest share of `slots` in use, as `MAX_LOAD_NUM / MAX_LOAD_DEN`.
const MAX_LOAD_NUM: usize = 3;
const MAX_LOAD_DEN: usize = 4;

/// One term: its key and postings, in one cache line.
#[derive(Debug)]
#[repr(align(64))]
struct Entry {
    /// The key's bytes, zero-padded; for a longer key, its offset in `long`
    /// (little-endian, first four bytes).
    key: [u8; INLINE],
    /// The key's length in bytes.
    len: u32,
    postings: Postings,
}

/// A term prepared for probing: its bytes zero-padded to `INLINE` as
/// three little-endian words, and its hash. A term longer than `INLINE`
/// keeps its bytes. Built from a term with loads only ([`Key::new`]:
/// copying a term into a buffer just before reading it back as words
/// stalled on store forwarding), or from a whole prepared text written
/// well before its words are read ([`Key::from_padded`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Key<'a> {
    words: [u64; 3],
    len: usize,
    hash: u64,
    /// The bytes of a term longer than `INLINE`; empty otherwise.
    long: &'a [u8],
}

impl<'a> Key<'a> {
    #[inline]
    pub(crate) fn new(term: &'a [u8]) -> Self {
        Key::inline(term).unwrap_or_else(|| Key {
            words: [0; 3],
            len: term.len(),
            hash: hash_long(term),
            long: term,
        })
    }

    /// The key of `term` if it fits inline (borrowing nothing).
    #[inline]
    fn inline(term: &[u8]) -> Option<Key<'static>> {
        (term.len() <= INLINE).then(|| {
            let words = padded_words(term);
            Key {
                words,
                len: term.len(),
                hash: hash_words(&words, term.len()),
                long: &[],
            }
        })
    }

    /// The key of the `len` bytes at `at` in `padded`, which must hold
    /// at least [`INLINE`] bytes from `at` (such as a
    /// [`Prepared`](crate::index::tokenizer::Prepared) text's bytes). A
    /// short key is three whole loads masked to its length, with no
    /// branch on the length: word lengths vary from one word to the next,
    /// and a branch on them is mispredicted often.
    #[inline(always)]
    pub(crate) fn from_padded(padded: &'a [u8], at: usize, len: usize) -> Key<'a> {
        if len > INLINE {
            return Key::new(&padded[at..at + len]);
        }
        // Always there after a `Prepared` text; if not, the slower way.
        let Some(window) = padded.get(at..).and_then(<[u8]>::first_chunk::<INLINE>) else {
            return Key::new(&padded[at..at + len]);
        };
        let masks = &KEY_MASKS[len];
        let word = |k: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&window[8 * k..8 * k + 8]);
            u64::from_le_bytes(w) & masks[k]
        };
        let words = [word(0), word(1), word(2)];
        Key {
            words,
            len,
            hash: hash_words(&words, len),
            long: &[],
        }
    }

    /// [`from_padded`](Self::from_padded) for a key that fits inline
    /// (`None` if `len` is over [`INLINE`]), borrowing nothing.
    #[inline(always)]
    pub(crate) fn from_padded_inline(padded: &[u8], at: usize, len: usize) -> Option<Key<'static>> {
        if len > INLINE {
            return None;
        }
        let key = Key::from_padded(padded, at, len);
        Some(Key {
            words: key.words,
            len,
            hash: key.hash,
            long: &[],
        })
    }

    fn tag(&self) -> u64 {
        self.hash >> 32
    }

    fn is_inline(&self) -> bool {
        self.len <= INLINE
    }
}

/// `KEY_MASKS[n]` keeps the first `n` bytes of three little-endian words.
const KEY_MASKS: [[u64; 3]; INLINE + 1] = {
    let mut m = [[0u64; 3]; INLINE + 1];
    let mut n = 0;
    while n <= INLINE {
        let mut k = 0;
        while k < 3 {
            let bytes = if n >= 8 * (k + 1) {
                8
            } else {
                n.saturating_sub(8 * k)
            };
            m[n][k] = if bytes == 8 {
                u64::MAX
            } else {
                (1u64 << (8 * bytes)) - 1
            };
            k += 1;
        }
        n += 1;
    }
    m
};

fn load8(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

fn load4(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u64::from(u32::from_le_bytes(w))
}

/// `term` (at most `INLINE` bytes) zero-padded, as three words: whole
/// 8-byte loads where the term allows (the last one overlapping and
/// shifted), so the only branches are on the length's range.
#[inline]
fn padded_words(t: &[u8]) -> [u64; 3] {
    let n = t.len();
    debug_assert!(n <= INLINE);
    if n >= 8 {
        let last = load8(t, n - 8);
        match n {
            8 => [last, 0, 0],
            9..=16 => [load8(t, 0), last >> (8 * (16 - n)), 0],
            _ => [load8(t, 0), load8(t, 8), last >> (8 * (24 - n))],
        }
    } else if n >= 4 {
        // Two 4-byte loads, overlapping (the shared bytes are equal, so OR).
        [load4(t, 0) | (load4(t, n - 4) << (8 * (n - 4))), 0, 0]
    } else if n > 0 {
        let b = |i: usize| u64::from(t[i]) << (8 * i);
        [b(0) | b(n / 2) | b(n - 1), 0, 0]
    } else {
        [0; 3]
    }
}

fn words_of(key: &[u8; INLINE]) -> [u64; 3] {
    [load8(key, 0), load8(key, 8), load8(key, 16)]
}

/// The high and low halves of a 128-bit product, folded together: the
/// mixing step of the foldhash/wyhash family.
#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

const SEEDS: [u64; 4] = [
    0x243f_6a88_85a3_08d3,
    0x1319_8a2e_0370_7344,
    0xa409_3822_299f_31d0,
    0x082e_fa98_ec4e_6c89,
];

/// Hash of a key of `len <= INLINE` bytes, given as padded words: one
/// 128-bit multiplication of the first two words, after the third (bytes
/// 17 to 24, which few terms have) is spread by an odd multiplier into the
/// first and the length into the second. Multiplying matters: XORed in
/// unmixed (an earlier version rotated it), the third word cancelled
/// against the second, and sequential IDs of 17 to 24 bytes shared a few
/// thousand hashes between them.
#[inline]
fn hash_words(w: &[u64; 3], len: usize) -> u64 {
    fold(
        w[0] ^ w[2].wrapping_mul(SEEDS[3]) ^ SEEDS[0],
        w[1] ^ (len as u64).wrapping_mul(SEEDS[2]) ^ SEEDS[1],
    )
}

/// Hash of a key longer than `INLINE` bytes.
fn hash_long(term: &[u8]) -> u64 {
    let mut h = (term.len() as u64) ^ SEEDS[3];
    for chunk in term.chunks(16) {
        let w = padded_words(chunk);
        h = fold(w[0] ^ SEEDS[0] ^ h, w[1] ^ SEEDS[1]);
    }
    fold(h, SEEDS[2])
}

/// One field's dictionary.
#[derive(Debug)]
pub(crate) struct Dict {
    slots: Vec<u64>,
    entries: Vec<Entry>,
    /// Bytes of keys longer than `INLINE`.
    long: Vec<u8>,
    /// For substring search (words only): terms in ID order, concatenated.
    blob: Vec<u8>,
    /// Start of each term in `blob`, plus the end.
    starts: Vec<u32>,
    substrings: bool,
}

impl Dict {
    /// An empty dictionary; `substrings` keeps the concatenation that
    /// [`containing`](Self::containing) searches (for words).
    pub(crate) fn new(substrings: bool) -> Self {
        Dict {
            slots: vec![0; 16],
            entries: Vec::new(),
            long: Vec::new(),
            blob: Vec::new(),
            starts: vec![0],
            substrings,
        }
    }

    fn key<'s>(&'s self, e: &'s Entry) -> &'s [u8] {
        let len = e.len as usize;
        if len <= INLINE {
            &e.key[..len]
        } else {
            let at = u32::from_le_bytes([e.key[0], e.key[1], e.key[2], e.key[3]]) as usize;
            &self.long[at..at + len]
        }
    }

    /// The ID of `key`'s term (`Ok`), or the empty slot where it would
    /// go (`Err`).
    #[inline(always)]
    fn find(&self, key: &Key) -> Result<u32, usize> {
        let mask = self.slots.len() - 1;
        let tag = key.tag();
        let mut i = key.hash as usize & mask;
        loop {
            let s = self.slots[i];
            if s == 0 {
                return Err(i);
            }
            if s >> 32 == tag {
                let id = (s as u32).wrapping_sub(1);
                let e = &self.entries[id as usize];
                let same = e.len as usize == key.len
                    && if key.is_inline() {
                        load8(&e.key, 0) == key.words[0]
                            && load8(&e.key, 8) == key.words[1]
                            && load8(&e.key, 16) == key.words[2]
                    } else {
                        self.key(e) == key.long
                    };
                if same {
                    return Ok(id);
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// Start bringing in the slot where a lookup of `key` begins, for
    /// an [`add_key`](Self::add_key) a little later.
    #[inline(always)]
    pub(crate) fn prefetch(&self, key: &Key) {
        crate::simd::prefetch(&self.slots[key.hash as usize & (self.slots.len() - 1)]);
    }

    /// Start bringing in the entry that the slot of `key` (prefetched by
    /// [`prefetch`](Self::prefetch) earlier) names, if its tag matches.
    #[inline(always)]
    pub(crate) fn prefetch_entry(&self, key: &Key) {
        let s = self.slots[key.hash as usize & (self.slots.len() - 1)];
        if s != 0
            && s >> 32 == key.tag()
            && let Some(e) = self.entries.get((s as u32).wrapping_sub(1) as usize)
        {
            crate::simd::prefetch(e);
        }
    }

    /// Add `ord` to term `id`'s postings if that term is `term`, without
    /// a lookup (the caller remembers which term a value had last time);
    /// `false`, and nothing added, if it is not or there is no such term.
    #[inline]
    pub(crate) fn add_if_term(&mut self, id: u32, term: &[u8], ord: u32) -> bool {
        let same = self
            .entries
            .get(id as usize)
            .is_some_and(|e| e.len as usize == term.len() && self.key(e) == term);
        if same {
            self.entries[id as usize].postings.add(ord);
        }
        same
    }

    /// Add ordinal `ord` to the postings of `term`; returns the term's ID.
    pub(crate) fn add(&mut self, term: &[u8], ord: u32) -> u32 {
        self.add_key(&Key::new(term), ord)
    }

    /// Add ordinal `ord` to the postings of `key`'s term; returns the
    /// term's ID.
    #[inline(always)]
    pub(crate) fn add_key(&mut self, key: &Key, ord: u32) -> u32 {
        match self.find(key) {
            Ok(id) => {
                self.entries[id as usize].postings.add(ord);
                id
            }
            Err(slot) => self.insert(*key, slot, ord),
        }
    }

    /// Add a new term at `slot` (its empty slot) with `ord`; returns its ID.
    #[cold]
    fn insert(&mut self, key: Key, mut slot: usize, ord: u32) -> u32 {
        let id = self.entries.len() as u32;
        if (self.entries.len() + 1) * MAX_LOAD_DEN > self.slots.len() * MAX_LOAD_NUM {
            self.grow();
            match self.find(&key) {
                Err(s) => slot = s,
                // Not possible (the term was absent before growing), but
                // adding to it would then be right.
                Ok(id) => {
                    self.entries[id as usize].postings.add(ord);
                    return id;
                }
            }
        }
        let mut stored = [0u8; INLINE];
        if key.is_inline() {
            for (chunk, w) in stored.chunks_exact_mut(8).zip(key.words) {
                chunk.copy_from_slice(&w.to_le_bytes());
            }
        } else {
            stored[..4].copy_from_slice(&(self.long.len() as u32).to_le_bytes());
            self.long.extend_from_slice(key.long);
        }
        if self.substrings {
            let term = if key.is_inline() {
                &stored[..key.len]
            } else {
                key.long
            };
            self.blob.extend_from_slice(term);
            self.starts.push(self.blob.len() as u32);
        }
        let mut postings = Postings::default();
        postings.add(ord);
        self.entries.push(Entry {
            key: stored,
            len: key.len as u32,
            postings,
        });
        self.slots[slot] = (key.tag() << 32) | u64::from(id + 1);
        id
    }

    /// Double the slots and re-place every entry (entries do not move).
    fn grow(&mut self) {
        let mut slots = vec![0u64; self.slots.len() * 2];
        let mask = slots.len() - 1;
        for (id, e) in self.entries.iter().enumerate() {
            let len = e.len as usize;
            let hash = if len <= INLINE {
                hash_words(&words_of(&e.key), len)
            } else {
                hash_long(self.key(e))
            };
            let mut i = hash as usize & mask;
            while slots[i] != 0 {
                i = (i + 1) & mask;
            }
            slots[i] = ((hash >> 32) << 32) | (id as u64 + 1);
        }
        self.slots = slots;
    }

    /// Forget ordinals from `k` on (a reader: the writer cut them back).
    /// Terms left with no ordinal stay, with empty postings (an index
    /// written from this one leaves them out).
    pub(crate) fn truncate(&mut self, k: u32) {
        for e in &mut self.entries {
            e.postings.truncate(k);
        }
    }

    /// The postings of `term`.
    pub(crate) fn get(&self, term: &[u8]) -> Option<&Postings> {
        let id = self.find(&Key::new(term)).ok()?;
        Some(&self.entries[id as usize].postings)
    }

    /// Union of the postings of every term containing `needle`.
    pub(crate) fn containing(&self, needle: &[u8]) -> Postings {
        if self.substrings {
            let ids: Vec<usize> = substring_terms(&self.blob, &self.starts, needle).collect();
            Postings::union(ids.into_iter().map(|id| &self.entries[id].postings))
        } else {
            Postings::union(
                self.entries
                    .iter()
                    .filter(|e| memchr::memmem::find(self.key(e), needle).is_some())
                    .map(|e| &e.postings),
            )
        }
    }

    /// Every term with its postings, in the order terms were first added.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], &Postings)> {
        self.entries.iter().map(|e| (self.key(e), &e.postings))
    }

    /// Number of distinct terms.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// IDs of the terms of a concatenated dictionary (`blob`, with term
/// boundaries `starts`) that contain `needle`, ascending, each once.
pub(crate) fn substring_terms<'a>(
    blob: &'a [u8],
    starts: &'a [u32],
    needle: &'a [u8],
) -> impl Iterator<Item = usize> + 'a {
    let finder = memchr::memmem::Finder::new(needle);
    let mut at = 0usize;
    let mut last = usize::MAX;
    std::iter::from_fn(move || {
        if needle.is_empty() {
            return None;
        }
        // Every occurrence, overlapping ones included: a match spanning two
        // terms must not hide one that starts inside it.
        while let Some(p) = blob.get(at..).and_then(|rest| finder.find(rest)) {
            let pos = at + p;
            at = pos + 1;
            // The term holding `pos`: the last start <= pos.
            let Some(id) = starts
                .partition_point(|&s| s as usize <= pos)
                .checked_sub(1)
            else {
                continue;
            };
            let Some(&end) = starts.get(id + 1) else {
                continue;
            };
            if pos + needle.len() > end as usize || id == last {
                continue; // Spans two terms, or already counted.
            }
            last = id;
            return Some(id);
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn an_entry_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Entry>(), 64);
        assert_eq!(std::mem::align_of::<Entry>(), 64);
    }

    #[test]
    fn padded_words_are_the_zero_padded_bytes() {
        let bytes: Vec<u8> = (1..=40).collect();
        for start in 0..8 {
            for n in 0..=INLINE {
                let term = &bytes[start..start + n];
                let mut padded = [0u8; INLINE];
                padded[..n].copy_from_slice(term);
                assert_eq!(padded_words(term), words_of(&padded), "{n} bytes");
            }
        }
        for n in INLINE + 1..40 {
            let term = &bytes[..n];
            let mut flipped = term.to_vec();
            flipped[n - 1] ^= 1;
            assert_ne!(hash_long(term), hash_long(&flipped), "the last byte counts");
        }
    }

    #[test]
    fn padded_keys_equal_plain_keys() {
        let bytes: Vec<u8> = (1..=80).collect();
        for at in 0..8 {
            for len in 0..=40 {
                let term = &bytes[at..at + len];
                let (a, b) = (Key::from_padded(&bytes, at, len), Key::new(term));
                assert_eq!(
                    (a.words, a.len, a.hash, a.long),
                    (b.words, b.len, b.hash, b.long)
                );
            }
        }
        let mut d = Dict::new(true);
        d.add_key(&Key::from_padded(b"xtimeout42abcdefghijklmnopq", 1, 9), 0);
        d.add(b"timeout42", 1);
        assert_eq!(d.get(b"timeout42").unwrap().as_slice(), [0, 1]);
        assert_eq!(d.len(), 1);
    }

    /// Structured keys (sequential IDs, timestamps) of every inline
    /// length get distinct hashes: a shared hash costs a probe per key.
    #[test]
    fn sequential_keys_get_distinct_hashes() {
        for (name, key) in [
            (
                "job-%016d",
                &(|i: u64| format!("job-{i:016}")) as &dyn Fn(u64) -> String,
            ),
            ("req%017d", &|i| format!("req{i:017}")),
            ("%019d", &|i| {
                format!("{}", 1_700_000_000_000_000_000 + i * 1_000_003)
            }),
            ("id-%d", &|i| format!("id-{i}")),
            ("%024d", &|i| format!("{i:024}")),
        ] {
            let hashes: std::collections::HashSet<u64> = (0..100_000)
                .map(|i| Key::new(key(i).as_bytes()).hash)
                .collect();
            assert_eq!(hashes.len(), 100_000, "{name}");
        }
    }

    #[test]
    fn short_long_and_empty_keys() {
        let mut d = Dict::new(true);
        let long = [b'x'; 100];
        let edge = [b'y'; INLINE];
        let over = [b'y'; INLINE + 1];
        for (ord, t) in [&b""[..], b"a", &long, &edge, &over, b"a", &long]
            .into_iter()
            .enumerate()
        {
            d.add(t, ord as u32);
        }
        assert_eq!(d.len(), 5);
        let get = |t: &[u8]| d.get(t).map(|p| p.as_slice().to_vec());
        assert_eq!(get(b""), Some(vec![0]));
        assert_eq!(get(b"a"), Some(vec![1, 5]));
        assert_eq!(get(&long), Some(vec![2, 6]));
        assert_eq!(get(&edge), Some(vec![3]));
        assert_eq!(get(&over), Some(vec![4]));
        assert_eq!(get(b"a\0"), None, "padding is not part of the key");
        assert_eq!(get(&long[..99]), None);
        let terms: Vec<Vec<u8>> = d.iter().map(|(t, _)| t.to_vec()).collect();
        assert_eq!(
            terms,
            [&b""[..], b"a", &long, &edge, &over].map(|t| t.to_vec())
        );
    }

    proptest! {
        /// Against a `BTreeMap` of sorted sets, through several growths,
        /// with keys around the inline limit and many shared prefixes.
        #[test]
        fn matches_a_map(
            adds in prop::collection::vec(
                prop::collection::vec(prop::sample::select(vec![b'a', b'b', 0u8]), 0..40),
                0..600,
            ),
            probes in prop::collection::vec(prop::collection::vec(prop::sample::select(vec![b'a', b'b']), 0..40), 0..20),
        ) {
            let mut d = Dict::new(true);
            let mut model: BTreeMap<Vec<u8>, std::collections::BTreeSet<u32>> = BTreeMap::new();
            for (ord, term) in adds.iter().enumerate() {
                d.add(term, ord as u32);
                model.entry(term.clone()).or_default().insert(ord as u32);
            }
            prop_assert_eq!(d.len(), model.len());
            for (term, ords) in &model {
                let got = d.get(term).map(|p| p.as_slice().to_vec());
                prop_assert_eq!(got, Some(ords.iter().copied().collect::<Vec<_>>()));
            }
            for p in &probes {
                prop_assert_eq!(d.get(p).is_some(), model.contains_key(p));
            }
            let mut seen: Vec<Vec<u8>> = d.iter().map(|(t, _)| t.to_vec()).collect();
            seen.sort();
            prop_assert_eq!(seen, model.keys().cloned().collect::<Vec<_>>());
        }
    }
}
