//! The index file of a sealed segment (`*.idx`): its byte layout, pure
//! encode/decode, and lookups over a memory map.
//!
//! Bitmaps hold *ranks* (positions in the segment's time order). All
//! integers little-endian.
//!
//! ```text
//! | header (32 B) | section × 10 | table (10 × 20 B) | trailer (16 B) |
//! ```
//!
//! Header:
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0  | 8 | magic `RUNLOGIX` |
//! | 8  | 2 | format version, `1` |
//! | 10 | 2 | reserved, 0 |
//! | 12 | 4 | partition of the segment |
//! | 16 | 4 | generation of the segment |
//! | 20 | 4 | number of ranks (records) in the segment |
//! | 24 | 4 | reserved, 0 |
//! | 28 | 4 | CRC32 of bytes 0..28 |
//!
//! A section (one per field, in the order job_id, flow, component, action,
//! category, env, app, version, level, word), with `N` terms sorted by
//! their bytes:
//!
//! | size | field |
//! |-----:|-------|
//! | 4 | `N` |
//! | 4·(N+1) | start of each term in the blob, then the blob's length |
//! | … | blob: the terms' bytes, concatenated |
//! | 12·N | per term: bitmap offset (in the bitmaps area), bitmap length, cardinality |
//! | … | bitmaps, in roaring's portable serialization |
//!
//! Table entry (one per section): section offset (u64), length (u64),
//! CRC32 of the section (u32). Trailer: table offset (u64), CRC32 of the
//! table (u32), magic `RLIX`. Sections are checked on first use, so a
//! query pays only for the fields it touches.

use std::sync::OnceLock;

use roaring::RoaringBitmap;

use crate::codec::{DecodeError, u16_at, u32_at, u64_at};
use crate::index::dict::substring_terms;
use crate::index::memory::MemIndex;
use crate::index::postings::Postings;
use crate::index::{FIELD_COUNT, IndexField};
use crate::record::SegmentId;

/// Magic number at the start of an index file.
pub const INDEX_MAGIC: [u8; 8] = *b"RUNLOGIX";
/// The index file format's version.
pub(crate) const INDEX_VERSION: u16 = 1;
const TRAILER_MAGIC: [u8; 4] = *b"RLIX";
const HEADER_LEN: usize = 32;
const ENTRY_LEN: usize = 20;
const TABLE_LEN: usize = ENTRY_LEN * FIELD_COUNT;
const TRAILER_LEN: usize = 16;
const POSTING_LEN: usize = 12;

fn corrupt(offset: usize, reason: impl Into<String>) -> DecodeError {
    DecodeError::Corrupt {
        offset: offset as u64,
        reason: reason.into(),
    }
}

/// Encode the index of a segment being sealed. `rank_of[ord]` is the rank
/// of each ordinal (`None`: ranks equal ordinals); `ranks` is the number of
/// records.
pub fn encode(mem: &MemIndex, rank_of: Option<&[u32]>, id: SegmentId, ranks: u32) -> Vec<u8> {
    let mut out = vec![0u8; HEADER_LEN];
    out[..8].copy_from_slice(&INDEX_MAGIC);
    out[8..10].copy_from_slice(&INDEX_VERSION.to_le_bytes());
    out[12..16].copy_from_slice(&id.partition.to_le_bytes());
    out[16..20].copy_from_slice(&id.generation.to_le_bytes());
    out[20..24].copy_from_slice(&ranks.to_le_bytes());
    let crc = crc32fast::hash(&out[..28]);
    out[28..32].copy_from_slice(&crc.to_le_bytes());

    let mut table = Vec::with_capacity(TABLE_LEN);
    for field in IndexField::ALL {
        let start = out.len();
        encode_section(mem, field, rank_of, &mut out);
        table.extend_from_slice(&(start as u64).to_le_bytes());
        table.extend_from_slice(&((out.len() - start) as u64).to_le_bytes());
        table.extend_from_slice(&crc32fast::hash(&out[start..]).to_le_bytes());
    }
    let table_at = out.len() as u64;
    let table_crc = crc32fast::hash(&table);
    out.extend_from_slice(&table);
    out.extend_from_slice(&table_at.to_le_bytes());
    out.extend_from_slice(&table_crc.to_le_bytes());
    out.extend_from_slice(&TRAILER_MAGIC);
    out
}

fn encode_section(mem: &MemIndex, field: IndexField, rank_of: Option<&[u32]>, out: &mut Vec<u8>) {
    let dict = mem.dict(field);
    let mut terms: Vec<(&[u8], &Postings)> = dict.iter().filter(|(_, p)| !p.is_empty()).collect();
    terms.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.extend_from_slice(&(terms.len() as u32).to_le_bytes());
    let mut at = 0u32;
    for (t, _) in &terms {
        out.extend_from_slice(&at.to_le_bytes());
        at += t.len() as u32;
    }
    out.extend_from_slice(&at.to_le_bytes());
    for (t, _) in &terms {
        out.extend_from_slice(t);
    }
    let mut bitmaps = Vec::new();
    let mut postings = Vec::with_capacity(terms.len() * POSTING_LEN);
    for (_, list) in &terms {
        let mut bm = list.to_bitmap(rank_of);
        bm.optimize();
        let before = bitmaps.len();
        // Writing into a Vec cannot fail.
        let _ = bm.serialize_into(&mut bitmaps);
        postings.extend_from_slice(&(before as u32).to_le_bytes());
        postings.extend_from_slice(&((bitmaps.len() - before) as u32).to_le_bytes());
        postings.extend_from_slice(&(bm.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(&postings);
    out.extend_from_slice(&bitmaps);
}

/// Where the parts of one checked section are, relative to the file.
#[derive(Clone, Copy, Debug)]
struct Section {
    terms: usize,
    starts_at: usize,
    blob_at: usize,
    blob_len: usize,
    postings_at: usize,
    bitmaps_at: usize,
}

/// A checked index file over bytes `B` (a map, in practice).
#[derive(Debug)]
pub struct IndexFile<B> {
    bytes: B,
    ranks: u32,
    table: [(usize, usize, u32); FIELD_COUNT],
    sections: [OnceLock<Result<Section, DecodeError>>; FIELD_COUNT],
}

impl<B: std::ops::Deref<Target = [u8]>> IndexFile<B> {
    /// Check the header, table and trailer of an index for segment `id`
    /// (constant time; sections are checked on first use).
    pub fn open(bytes: B, id: SegmentId) -> Result<Self, DecodeError> {
        let b = &*bytes;
        if b.len() < HEADER_LEN + TABLE_LEN + TRAILER_LEN {
            return Err(corrupt(b.len(), "index file too short"));
        }
        if b[..8] != INDEX_MAGIC {
            return Err(corrupt(0, "not a runlog index (bad magic number)"));
        }
        if crc32fast::hash(&b[..28]) != u32_at(b, 28) {
            return Err(corrupt(28, "index header checksum mismatch"));
        }
        let version = u16_at(b, 8);
        if version != INDEX_VERSION {
            return Err(DecodeError::Version {
                found: version,
                supported: INDEX_VERSION,
            });
        }
        if u32_at(b, 12) != id.partition || u32_at(b, 16) != id.generation {
            return Err(corrupt(12, "index belongs to another segment"));
        }
        let trailer = b.len() - TRAILER_LEN;
        if b[trailer + 12..] != TRAILER_MAGIC {
            return Err(corrupt(trailer + 12, "index trailer magic missing"));
        }
        let table_at = u64_at(b, trailer);
        if table_at != (trailer - TABLE_LEN) as u64 {
            return Err(corrupt(
                trailer,
                "index table offset does not match the file length",
            ));
        }
        let table_at = table_at as usize;
        if crc32fast::hash(&b[table_at..trailer]) != u32_at(b, trailer + 8) {
            return Err(corrupt(table_at, "index table checksum mismatch"));
        }
        let mut table = [(0usize, 0usize, 0u32); FIELD_COUNT];
        let mut expect = HEADER_LEN;
        for (i, entry) in table.iter_mut().enumerate() {
            let e = table_at + i * ENTRY_LEN;
            let (off, len) = (u64_at(b, e), u64_at(b, e + 8));
            if off != expect as u64 || len > (table_at - expect) as u64 {
                return Err(corrupt(e, "index section out of place"));
            }
            *entry = (off as usize, len as usize, u32_at(b, e + 16));
            expect += len as usize;
        }
        if expect != table_at {
            return Err(corrupt(table_at, "index sections do not fill the file"));
        }
        let ranks = u32_at(b, 20);
        Ok(IndexFile {
            bytes,
            ranks,
            table,
            sections: std::array::from_fn(|_| OnceLock::new()),
        })
    }

    fn section(&self, field: IndexField) -> Result<Section, DecodeError> {
        self.sections[field.slot()]
            .get_or_init(|| check_section(&self.bytes, self.table[field.slot()]))
            .clone()
    }

    fn term(&self, s: &Section, i: usize) -> &[u8] {
        let b = &*self.bytes;
        let from = u32_at(b, s.starts_at + 4 * i) as usize;
        let to = u32_at(b, s.starts_at + 4 * (i + 1)) as usize;
        &b[s.blob_at + from..s.blob_at + to]
    }

    fn find(&self, s: &Section, term: &[u8]) -> Option<usize> {
        let (mut lo, mut hi) = (0, s.terms);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.term(s, mid).cmp(term) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    fn bitmap(&self, s: &Section, i: usize) -> Result<RoaringBitmap, DecodeError> {
        let b = &*self.bytes;
        let p = s.postings_at + POSTING_LEN * i;
        let (off, len) = (u32_at(b, p) as usize, u32_at(b, p + 4) as usize);
        let at = s.bitmaps_at + off;
        let bm = RoaringBitmap::deserialize_from(&b[at..at + len])
            .map_err(|e| corrupt(at, format!("bad bitmap: {e}")))?;
        if bm.len() != u64::from(u32_at(b, p + 8)) || bm.max().is_some_and(|m| m >= self.ranks) {
            return Err(corrupt(at, "bitmap disagrees with its posting"));
        }
        Ok(bm)
    }

    /// Every term of `field`, in order.
    pub(crate) fn terms(&self, field: IndexField) -> Result<Vec<&[u8]>, DecodeError> {
        let s = self.section(field)?;
        Ok((0..s.terms).map(|i| self.term(&s, i)).collect())
    }

    /// Number of records (ranks) the index covers.
    pub fn ranks(&self) -> u32 {
        self.ranks
    }

    /// The bitmap of ranks holding `term` in `field`.
    pub(crate) fn get(
        &self,
        field: IndexField,
        term: &[u8],
    ) -> Result<Option<RoaringBitmap>, DecodeError> {
        let s = self.section(field)?;
        self.find(&s, term).map(|i| self.bitmap(&s, i)).transpose()
    }

    /// How many records hold `term` in `field`, without reading the bitmap.
    pub(crate) fn cardinality(&self, field: IndexField, term: &[u8]) -> Result<u64, DecodeError> {
        let s = self.section(field)?;
        Ok(self.find(&s, term).map_or(0, |i| {
            u64::from(u32_at(&self.bytes, s.postings_at + POSTING_LEN * i + 8))
        }))
    }

    /// Union of the bitmaps of every term of `field` containing `needle`.
    pub(crate) fn containing(
        &self,
        field: IndexField,
        needle: &[u8],
    ) -> Result<RoaringBitmap, DecodeError> {
        let s = self.section(field)?;
        let b = &*self.bytes;
        let blob = &b[s.blob_at..s.blob_at + s.blob_len];
        // The starts table as u32s (small: one per term).
        let starts: Vec<u32> = (0..=s.terms)
            .map(|i| u32_at(b, s.starts_at + 4 * i))
            .collect();
        let mut out = RoaringBitmap::new();
        for i in substring_terms(blob, &starts, needle) {
            out |= self.bitmap(&s, i)?;
        }
        Ok(out)
    }

    /// Check every section's checksum and structure (not the bitmaps).
    pub fn check_sections(&self) -> Result<(), DecodeError> {
        IndexField::ALL
            .iter()
            .try_for_each(|&f| self.section(f).map(|_| ()))
    }

    /// Check every section and decode every bitmap (for `verify`).
    pub fn check_all(&self) -> Result<(), DecodeError> {
        for field in IndexField::ALL {
            let s = self.section(field)?;
            for i in 0..s.terms {
                self.bitmap(&s, i)?;
            }
        }
        Ok(())
    }
}

fn check_section(b: &[u8], (off, len, crc): (usize, usize, u32)) -> Result<Section, DecodeError> {
    let sec = &b[off..off + len];
    if crc32fast::hash(sec) != crc {
        return Err(corrupt(off, "index section checksum mismatch"));
    }
    let bad = |at: usize, why: &str| corrupt(off + at, why.to_string());
    if sec.len() < 4 {
        return Err(bad(0, "section too short"));
    }
    let terms = u32_at(sec, 0) as usize;
    let starts_at = 4usize;
    let blob_at = terms
        .checked_add(1)
        .and_then(|n| n.checked_mul(4))
        .and_then(|n| n.checked_add(starts_at))
        .filter(|&n| n <= sec.len())
        .ok_or_else(|| bad(0, "term count out of bounds"))?;
    let blob_len = u32_at(sec, blob_at - 4) as usize;
    let postings_at = blob_at
        .checked_add(blob_len)
        .filter(|&n| n <= sec.len())
        .ok_or_else(|| bad(blob_at - 4, "term blob out of bounds"))?;
    let bitmaps_at = postings_at
        .checked_add(terms * POSTING_LEN)
        .filter(|&n| n <= sec.len())
        .ok_or_else(|| bad(postings_at, "postings out of bounds"))?;
    let bitmaps_len = sec.len() - bitmaps_at;
    let mut prev: Option<&[u8]> = None;
    for i in 0..terms {
        let (from, to) = (
            u32_at(sec, starts_at + 4 * i) as usize,
            u32_at(sec, starts_at + 4 * i + 4) as usize,
        );
        if from > to || to > blob_len {
            return Err(bad(starts_at + 4 * i, "term bounds out of order"));
        }
        let term = &sec[blob_at + from..blob_at + to];
        if prev.is_some_and(|p| p >= term) {
            return Err(bad(blob_at + from, "terms not sorted"));
        }
        prev = Some(term);
        let p = postings_at + POSTING_LEN * i;
        let (boff, blen) = (u32_at(sec, p) as usize, u32_at(sec, p + 4) as usize);
        if boff.checked_add(blen).is_none_or(|end| end > bitmaps_len) {
            return Err(bad(p, "bitmap out of bounds"));
        }
    }
    if terms == 0 && u32_at(sec, starts_at) != 0 {
        return Err(bad(starts_at, "empty dictionary with a blob"));
    }
    Ok(Section {
        terms,
        starts_at: off + starts_at,
        blob_at: off + blob_at,
        blob_len,
        postings_at: off + postings_at,
        bitmaps_at: off + bitmaps_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Level, LogRecord};
    use crate::time::Timestamp;

    fn sample() -> MemIndex {
        let mut ix = MemIndex::default();
        for (i, (job, content, level)) in [
            ("job-b", "GET /orders 200", Level::Info),
            ("job-a", "connection refused", Level::Error),
            ("job-b", "retry connection", Level::Warn),
        ]
        .into_iter()
        .enumerate()
        {
            ix.add(
                i as u32,
                &LogRecord::new(Timestamp::from_secs(1), level, job, content).env("prod"),
            );
        }
        ix
    }

    const ID: SegmentId = SegmentId {
        partition: 9,
        generation: 1,
    };

    #[test]
    fn round_trip_with_ranks() {
        let ix = sample();
        // Time order is 2, 0, 1: rank_of[ord].
        let bytes = encode(&ix, Some(&[1, 2, 0]), ID, 3);
        let f = IndexFile::open(bytes, ID).unwrap();
        let get = |field, t: &str| {
            f.get(field, t.as_bytes())
                .unwrap()
                .map(|b| b.iter().collect::<Vec<_>>())
        };
        assert_eq!(get(IndexField::JobId, "job-b"), Some(vec![0, 1]));
        assert_eq!(get(IndexField::JobId, "job-a"), Some(vec![2]));
        assert_eq!(get(IndexField::JobId, "job-c"), None);
        assert_eq!(get(IndexField::Env, "prod"), Some(vec![0, 1, 2]));
        assert_eq!(
            f.cardinality(IndexField::Level, &[Level::Error.code()])
                .unwrap(),
            1
        );
        assert_eq!(
            f.cardinality(IndexField::Level, &[Level::Debug.code()])
                .unwrap(),
            0
        );
        let sub: Vec<u32> = f
            .containing(IndexField::Word, b"onnect")
            .unwrap()
            .iter()
            .collect();
        assert_eq!(sub, vec![0, 2]);
        f.check_all().unwrap();
    }

    #[test]
    fn every_flipped_byte_is_detected_or_harmless() {
        let bytes = encode(&sample(), None, ID, 3);
        let good = IndexFile::open(bytes.clone(), ID).unwrap();
        let want = good.get(IndexField::JobId, b"job-b").unwrap();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            let Ok(f) = IndexFile::open(b, ID) else {
                continue;
            };
            // Opened: the flip is inside a section, caught on first use.
            assert!(f.check_all().is_err(), "flip at {i} went unnoticed");
            if let Ok(Some(bm)) = f.get(IndexField::JobId, b"job-b") {
                assert_eq!(Some(bm), want, "flip at {i} changed an answer");
            }
        }
    }

    #[test]
    fn wrong_segment_and_version_are_refused() {
        let bytes = encode(&sample(), None, ID, 3);
        let other = SegmentId {
            partition: 9,
            generation: 2,
        };
        assert!(matches!(
            IndexFile::open(bytes.clone(), other),
            Err(DecodeError::Corrupt { offset: 12, .. })
        ));
        let mut v = bytes.clone();
        v[8] = 5;
        let crc = crc32fast::hash(&v[..28]);
        v[28..32].copy_from_slice(&crc.to_le_bytes());
        assert!(matches!(
            IndexFile::open(v, ID),
            Err(DecodeError::Version {
                found: 5,
                supported: INDEX_VERSION
            })
        ));
        assert!(IndexFile::open(&bytes[..bytes.len() - 1], ID).is_err());
    }
}
