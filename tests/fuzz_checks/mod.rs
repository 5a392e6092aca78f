//! The checks behind every fuzz target, shared by the fuzz crate
//! (`fuzz/fuzz_targets/*.rs`, which include this file with `#[path]`) and
//! by `tests/fuzz_corpus.rs`, which replays the committed corpus on stable
//! Rust. One function per target, each taking the raw fuzz input: a
//! corpus file means the same thing to the fuzzer and to the test.
//!
//! Each function must never panic on any input, except through one of its
//! assertions, which state properties the code must hold.
//!
//! # Salts
//!
//! Every frame checksum mixes in its segment's salt (header bytes 36..44).
//! The checks pick it as follows:
//!
//! - bytes read as a whole file (a header first): the salt in the header's
//!   bytes 36..44, whatever the rest of the header holds;
//! - bytes read as bare frames, with no header to carry a salt
//!   (`segment_decode` at offset 0): the constant [`FIXED_SALT`], which is
//!   also the salt of the header [`check_recovery`] puts before its input
//!   and of the hand-made seeds, so one seed's frames are valid both ways;
//! - files [`check_segment_roundtrip`] writes: [`roundtrip_salt`], a hash
//!   of the whole input. The salt stands for a secret the writer of a
//!   record's text does not know; a fixed one would not be secret from the
//!   fuzzer, whose comparison tracing copies a computed checksum into the
//!   input, and a frame forged inside a record's text with it would be a
//!   false alarm. Since the salt changes with every byte of the input, a
//!   checksum learnt that way never matches.
#![allow(dead_code)] // Each fuzz target uses one check.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use runlog::format::{
    self, DecodeError, FORMAT_VERSION, FRAME_HEAD_LEN, HEADER_LEN, LAYOUT_FRAMES, MAX_SUMMARY_LEN,
    MIN_FRAME_LEN, MISSING, SEAL_MARKER, Scan, SealTables, SegmentHeader, TRAILER_LEN, Trailer,
};
use runlog::journal::{self, Event, JournalHeader, JournalScan};
use runlog::{
    Cursor, Error, Level, LogRecord, MAX_CONTENT_BYTES, MAX_DETAIL_BYTES, MAX_JOB_ID_BYTES,
    MAX_NAME_BYTES, MAX_PRESET_NAME, ManualClock, NewRun, Project, Query, RecordId, Run, RunCursor,
    RunQuery, RunStatus, SavedRange, SegmentId, Store, StoreOptions, StoredRecord, SyncPolicy,
    TimeRange, Timestamp, Trigger,
};

/// Inputs longer than this are ignored: the scanner's resync is O(n²).
pub const MAX_INPUT: usize = 64 * 1024;

/// A target's check of one input.
pub type Check = fn(&[u8]);

/// A fuzz target: its name (= `fuzz/fuzz_targets/<name>.rs` =
/// `fuzz/corpus/<name>/`) and its check.
pub struct Target {
    pub name: &'static str,
    pub check: Check,
}

/// Every fuzz target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "segment_decode",
        check: check_segment_decode,
    },
    Target {
        name: "segment_roundtrip",
        check: check_segment_roundtrip,
    },
    Target {
        name: "recovery",
        check: check_recovery,
    },
    Target {
        name: "store_meta",
        check: check_store_meta,
    },
    Target {
        name: "index_file",
        check: check_index_file,
    },
    Target {
        name: "presets",
        check: check_presets,
    },
    Target {
        name: "cursor",
        check: check_cursor,
    },
    Target {
        name: "run_journal",
        check: check_run_journal,
    },
    Target {
        name: "cut_log",
        check: check_cut_log,
    },
];

/// The salt of bare frames (no header), of the header [`check_recovery`]
/// adds, and of the hand-made seeds.
pub const FIXED_SALT: u64 = 0x5EED_F0F0_C0DE_0001;

/// Where a header keeps the salt.
pub const SALT_AT: usize = 36;
const SUMMARY_MIN: usize = MIN_FRAME_LEN - FRAME_HEAD_LEN;
/// Offset of the flags byte in a summary (bit 0: has detail).
const SUMMARY_FLAGS: usize = 9;

fn u32_le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn u64_le(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}
fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// The salt named by the header bytes at the start of `b` (valid or not),
/// if `b` is long enough to hold it.
pub fn header_salt(b: &[u8]) -> Option<u64> {
    (b.len() >= SALT_AT + 8).then(|| u64_le(b, SALT_AT))
}

/// Salts that give every frame other checksums than `salt` does: each
/// differs from it in one bit, and CRC-32 tells apart any two inputs of the
/// same length that differ only within 32 consecutive bits. (Not just any
/// other salt: two salts are equivalent when the CRC state after them is
/// the same, so a salt holds 32 bits of secret, not 64.)
pub fn other_salts(salt: u64) -> [u64; 2] {
    [salt ^ 1, salt ^ (1 << 63)]
}

/// The salt of the segment [`check_segment_roundtrip`] writes for `data`:
/// FNV-1a of the whole input, then the splitmix64 finalizer.
pub fn roundtrip_salt(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

fn error_offset_in(e: &DecodeError, len: usize, what: &str) {
    if let DecodeError::Corrupt { offset, .. } = e {
        assert!(
            *offset <= len as u64,
            "{what}: error offset {offset} past the {len} bytes given: {e:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Checksum fix-up: lets the fuzzer reach the checks behind the CRCs.
// ---------------------------------------------------------------------------

/// Recompute every checksum of what looks like a segment file in place: the
/// header's, each frame's with the header's salt (walking frames from the
/// header while their lengths are in bounds), the seal block's and the
/// trailer's (when the trailer's lengths fit the file). Bytes that are not
/// checksums are left as they are (ordinals too).
pub fn fix_checksums(b: &mut [u8]) {
    if b.len() >= HEADER_LEN {
        let crc = crc32fast::hash(&b[..HEADER_LEN - 4]);
        put_u32(b, HEADER_LEN - 4, crc);
        let salt = u64_le(b, SALT_AT);
        fix_frame_checksums(b, HEADER_LEN, salt);
    }
    if b.len() >= HEADER_LEN + 4 + TRAILER_LEN {
        let t = b.len() - TRAILER_LEN;
        let block = u64_le(b, t + 8);
        let slots = u64::from(u32_le(b, t + 16));
        let live = u64::from(u32_le(b, t + 20));
        if block >= HEADER_LEN as u64
            && block.checked_add(4 + 12 * slots + 4 * live) == Some(t as u64)
        {
            let crc = crc32fast::hash(&b[block as usize..t]);
            put_u32(b, t + 40, crc);
        }
        let crc = crc32fast::hash(&b[t..t + 60]);
        put_u32(b, t + 60, crc);
    }
}

/// Recompute both checksums (with `salt`) of each frame from `b[at]` on,
/// while the frames' lengths are in bounds.
pub fn fix_frame_checksums(b: &mut [u8], mut at: usize, salt: u64) {
    while at + FRAME_HEAD_LEN <= b.len() {
        let s = u32_le(b, at) as usize;
        let d = u32_le(b, at + 4) as usize;
        if s == SEAL_MARKER as usize
            || !(SUMMARY_MIN..=MAX_SUMMARY_LEN).contains(&s)
            || d > MAX_DETAIL_BYTES
            || at + FRAME_HEAD_LEN + s + d > b.len()
        {
            break;
        }
        let summary_end = at + FRAME_HEAD_LEN + s;
        let mut h = crc32fast::Hasher::new();
        h.update(&salt.to_le_bytes());
        h.update(&b[summary_end..summary_end + d]);
        let detail_crc = h.finalize();
        put_u32(b, at + 12, detail_crc);
        let mut h = crc32fast::Hasher::new();
        h.update(&salt.to_le_bytes());
        h.update(&b[at..at + 16]);
        h.update(&b[at + FRAME_HEAD_LEN..summary_end]);
        let crc = h.finalize();
        put_u32(b, at + 16, crc);
        at = summary_end + d;
    }
}

// ---------------------------------------------------------------------------
// segment_decode: every pure decoder on arbitrary bytes.
// ---------------------------------------------------------------------------

/// Every decoder of `runlog::format` on `data`; again on `data` with its
/// checksums recomputed as a file ([`fix_checksums`], the header's salt);
/// and again with them recomputed as bare frames from byte 0
/// ([`fix_frame_checksums`], [`FIXED_SALT`]).
/// Whether the last 64 bytes of `b` are a valid trailer whose seal block
/// starts at file offset `at`.
pub fn trailer_points_at(b: &[u8], at: u64) -> bool {
    let Some(t) = b.len().checked_sub(64).map(|i| &b[i..]) else {
        return false;
    };
    t[..8] == *b"RLSEALED"
        && crc32fast::hash(&t[..60]) == u32_le(t, 60)
        && u64::from_le_bytes(t[8..16].try_into().unwrap()) == at
}

pub fn check_segment_decode(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    check_decoders(data);
    let mut as_file = data.to_vec();
    fix_checksums(&mut as_file);
    if as_file != data {
        check_decoders(&as_file);
    }
    let mut as_frames = data.to_vec();
    fix_frame_checksums(&mut as_frames, 0, FIXED_SALT);
    if as_frames != data && as_frames != as_file {
        check_decoders(&as_frames);
    }
}

/// The decoders on `b`, read both as bare frames ([`FIXED_SALT`]) and as a
/// file (frames after the header, with its salt).
fn check_decoders(b: &[u8]) {
    check_header(b);
    check_frame(b, FIXED_SALT);
    if let Some(salt) = header_salt(b)
        && b.len() >= HEADER_LEN
    {
        let frames = &b[HEADER_LEN..];
        check_frame(frames, salt);
        let scan = check_scan(frames, HEADER_LEN as u64, None, salt);
        // Ordinals must follow `after`, whatever it is.
        if let Some(first) = scan.frames.first() {
            check_scan(frames, HEADER_LEN as u64, Some(first.ordinal), salt);
        }
        // Frames of this salt are nothing under another one (the bytes may
        // hold other frames valid under it).
        if !scan.frames.is_empty() {
            for other in other_salts(salt) {
                let s = format::scan_frames(frames, HEADER_LEN as u64, None, other);
                for f in &s.frames {
                    assert!(
                        scan.frames.iter().all(|g| g.offset != f.offset),
                        "the frame at {} is valid with salt {salt:#x} and {other:#x}",
                        f.offset
                    );
                }
            }
        }
    }
    check_scan(b, 64, None, FIXED_SALT);
    check_scan(b, 0, Some(u32::MAX - 1), FIXED_SALT);
    check_trailer(b);
}

fn check_header(b: &[u8]) {
    match format::decode_header(b) {
        Ok(h) => {
            assert!(b.len() >= HEADER_LEN);
            assert_eq!(h.layout, LAYOUT_FRAMES);
            assert_ne!(h.partition_len, 0);
            assert_eq!(Some(h.salt), header_salt(b));
            assert_eq!(
                format::decode_header(&format::encode_header(&h)),
                Ok(h),
                "header does not survive a re-encode"
            );
        }
        Err(DecodeError::Version { found, .. }) => assert_ne!(found, FORMAT_VERSION),
        Err(e) => error_offset_in(&e, b.len(), "decode_header"),
    }
}

/// Whether a frame's detail may come back as a record's: UTF-8, and empty
/// unless the summary's flag says there is a detail.
fn detail_agrees(f: &format::Frame<'_>) -> bool {
    let flag = f.summary[SUMMARY_FLAGS] & 1 == 1;
    std::str::from_utf8(f.detail).is_ok() && (flag || f.detail.is_empty())
}

/// `parse_frame` at `b[0]` with `salt`, and the decoders of what it returns.
fn check_frame(b: &[u8], salt: u64) {
    match format::parse_frame(b, salt) {
        Ok(Some(f)) => {
            assert!(f.len() <= b.len(), "frame longer than the buffer");
            assert!(f.summary.len() >= SUMMARY_MIN && f.summary.len() <= MAX_SUMMARY_LEN);
            assert!(f.detail.len() <= MAX_DETAIL_BYTES);
            for other in other_salts(salt) {
                assert!(
                    format::parse_frame(b, other).is_err(),
                    "a frame of salt {salt:#x} parses with salt {other:#x}"
                );
            }
            let _ = f.time();
            let summary = format::decode_summary(f.summary);
            if let Err(e) = &summary {
                error_offset_in(e, f.summary.len(), "decode_summary");
            }
            // The borrowed decoders agree with it: the layout-only one
            // accepts whatever the checked one does, with the same strings,
            // and its section is exactly the nine length-prefixed strings.
            let raw = format::decode_summary_raw(f.summary);
            let borrowed = format::decode_summary_ref(f.summary);
            assert_eq!(
                borrowed.is_ok(),
                summary.is_ok(),
                "decode_summary_ref vs decode_summary"
            );
            if let Ok(raw) = &raw {
                let total: usize = raw.strings.iter().map(|s| 2 + s.len()).sum();
                assert_eq!(raw.section.len(), total, "section is the nine strings");
            }
            if let Ok(b) = &borrowed {
                let raw = raw
                    .as_ref()
                    .expect("decode_summary_ref passed, decode_summary_raw not");
                for (s, r) in b.strings.iter().zip(raw.strings) {
                    assert_eq!(s.as_bytes(), r);
                }
                let (s, has_detail) = summary.as_ref().expect("checked above");
                assert_eq!((&b.to_record(), b.has_detail), (s, *has_detail));
            }
            match format::decode_full(&f) {
                Ok(r) => {
                    assert!(f.check_detail().is_ok());
                    assert!(
                        detail_agrees(&f),
                        "decode_full returned a detail that is not UTF-8 or disagrees with its flag"
                    );
                    match r.validate() {
                        Ok(()) => {}
                        // The format holds any attempt: appends refuse 0
                        // (since d7c20fb), earlier writers could store it,
                        // and reads return it as stored.
                        Err(runlog::Error::InvalidArgument {
                            what: "attempt", ..
                        }) if r.attempt == 0 => {}
                        Err(e) => panic!("a decoded record is within the limits: {e:?}"),
                    }
                    let (s, has_detail) = summary.expect("decode_full passed, decode_summary not");
                    assert_eq!(has_detail, r.detail.is_some());
                    assert_eq!(
                        s,
                        LogRecord {
                            detail: None,
                            ..r.clone()
                        }
                    );
                    assert_eq!(r.time.as_micros(), f.time());
                    // Decoding is canonical: the record re-encodes to the
                    // same bytes, checksums (and so salt) included.
                    let mut out = Vec::new();
                    let n = format::encode_frame(&r, f.ordinal, salt, &mut out);
                    assert_eq!(n, f.len());
                    assert_eq!(format::frame_len(&r), f.len());
                    assert!(out == b[..f.len()], "decoded frame re-encodes differently");
                }
                Err(e) => error_offset_in(&e, f.len(), "decode_full"),
            }
        }
        Ok(None) => assert_eq!(u32_le(b, 0), SEAL_MARKER),
        Err(e) => error_offset_in(&e, b.len(), "parse_frame"),
    }
}

/// Whether `b` starts with a frame the scanner must take right after a
/// frame of ordinal `after` (or at the start, `None`), with no damage
/// between: valid under `salt`, whole, and of the next ordinal.
fn is_next_frame(b: &[u8], after: Option<u32>, salt: u64) -> bool {
    let expected = after.map_or(Some(0), |a| a.checked_add(1));
    matches!(
        format::parse_frame(b, salt),
        Ok(Some(f)) if Some(f.ordinal) == expected && format::decode_full(&f).is_ok()
    )
}

/// `scan_frames` and the invariants of what it returns.
fn check_scan(b: &[u8], base: u64, after: Option<u32>, salt: u64) -> Scan {
    let scan = format::scan_frames(b, base, after, salt);
    let limit = base + b.len() as u64;
    assert!(
        scan.end >= base && scan.end <= limit,
        "scan end {} outside [{base}, {limit}]",
        scan.end
    );
    let mut prev_ordinal = after;
    let mut prev_end = base;
    // Damage is reported exactly where the bytes after a valid frame (or
    // the start) fail, when a later valid frame follows.
    let mut damage_expected = Vec::new();
    for f in &scan.frames {
        assert!(f.offset >= prev_end, "frames overlap or go backwards");
        // The ordinal follows the previous one (the first is 0), skipping
        // no more ordinals than the damaged bytes between could hold.
        let expected = prev_ordinal
            .map_or(Some(0), |p| p.checked_add(1))
            .unwrap_or_else(|| panic!("a frame after ordinal {}", u32::MAX));
        assert!(
            f.ordinal >= expected,
            "ordinal {} after {prev_ordinal:?}",
            f.ordinal
        );
        let room = (f.offset - prev_end) as usize / MIN_FRAME_LEN;
        assert!(
            (f.ordinal - expected) as usize <= room,
            "ordinal {} after {prev_ordinal:?} at {}: {} missing ordinals in {} damaged bytes",
            f.ordinal,
            f.offset,
            f.ordinal - expected,
            f.offset - prev_end
        );
        if f.offset > prev_end {
            let at = (prev_end - base) as usize;
            assert!(
                !is_next_frame(&b[at..], prev_ordinal, salt),
                "a valid frame at {prev_end} skipped as damage"
            );
            damage_expected.push(prev_end);
        }
        let rel = (f.offset - base) as usize;
        let g = match format::parse_frame(&b[rel..], salt) {
            Ok(Some(g)) => g,
            other => panic!("scanned frame at {} does not re-parse: {other:?}", f.offset),
        };
        assert_eq!(g.ordinal, f.ordinal);
        assert_eq!(g.time(), f.time);
        assert!(
            g.check_detail().is_ok(),
            "scanned frame fails its detail CRC"
        );
        assert!(
            detail_agrees(&g),
            "scanned frame at {}: detail not UTF-8 or disagrees with its flag",
            f.offset
        );
        let r = format::decode_full(&g)
            .unwrap_or_else(|e| panic!("scanned frame at {} does not decode: {e:?}", f.offset));
        assert_eq!(r.time.as_micros(), f.time);
        prev_ordinal = Some(f.ordinal);
        prev_end = f.offset + g.len() as u64;
    }
    assert_eq!(
        scan.end, prev_end,
        "scan end is not the end of the last frame"
    );
    let damage_at: Vec<u64> = scan.damage.iter().map(|d| d.0).collect();
    assert_eq!(
        damage_at, damage_expected,
        "damage not reported exactly before the frames after a gap"
    );
    match scan.seal_at {
        Some(s) => {
            assert_eq!(s, scan.end, "seal marker not right after the last frame");
            assert_eq!(u32_le(b, (s - base) as usize), SEAL_MARKER);
            assert!(trailer_points_at(b, s), "seal reported without its trailer");
        }
        None => {
            if scan.end < limit {
                let at = (scan.end - base) as usize;
                assert!(
                    !is_next_frame(&b[at..], prev_ordinal, salt),
                    "scan stopped before a valid frame at {}",
                    scan.end
                );
                // A marker counts only with a trailer at the end of the
                // buffer pointing back at it (four 0xFF bytes elsewhere are
                // damage, never the end of the data).
                assert!(
                    b.len() - at < 4
                        || u32_le(b, at) != SEAL_MARKER
                        || !trailer_points_at(b, scan.end),
                    "seal marker at {} with its trailer not reported",
                    scan.end
                );
            }
        }
    }
    // Cutting the buffer at the end changes nothing before it.
    let cut = format::scan_frames(&b[..(scan.end - base) as usize], base, after, salt);
    assert_eq!(cut.frames, scan.frames, "scan of the valid prefix differs");
    // (The reasons may differ: a damaged frame cut short "ends inside a frame".)
    let offsets = |s: &Scan| s.damage.iter().map(|d| d.0).collect::<Vec<_>>();
    assert_eq!(
        offsets(&cut),
        offsets(&scan),
        "damage in the valid prefix differs"
    );
    assert_eq!(cut.end, scan.end);
    scan
}

fn check_trailer(b: &[u8]) {
    let t = match format::decode_trailer(b) {
        Ok(t) => t,
        Err(e) => return error_offset_in(&e, b.len(), "decode_trailer"),
    };
    assert!(t.live <= t.slots);
    assert!(t.block_offset >= HEADER_LEN as u64);
    assert_eq!(t.order_at() + 4 * t.live as usize, b.len() - TRAILER_LEN);
    assert_eq!(u32_le(b, t.block_offset as usize), SEAL_MARKER);
    match format::check_seal_block(b, &t) {
        Ok(()) => check_tables(b, &t),
        Err(e) => error_offset_in(&e, b.len(), "check_seal_block"),
    }
}

/// The tables of a seal block that passed `check_seal_block`.
fn tables_of(b: &[u8], t: &Trailer) -> (Vec<i64>, Vec<u32>, Vec<u32>) {
    let slots = t.slots as usize;
    let times = (0..slots)
        .map(|i| u64_le(b, t.times_at() + 8 * i) as i64)
        .collect();
    let offsets = (0..slots)
        .map(|i| u32_le(b, t.offsets_at() + 4 * i))
        .collect();
    let order = (0..t.live as usize)
        .map(|j| u32_le(b, t.order_at() + 4 * j))
        .collect();
    (times, offsets, order)
}

fn check_tables(b: &[u8], t: &Trailer) {
    let (times, offsets, order) = tables_of(b, t);
    let present = offsets.iter().filter(|&&o| o != MISSING).count();
    assert_eq!(present, t.live as usize);
    for &o in offsets.iter().filter(|&&o| o != MISSING) {
        assert!(o as usize >= HEADER_LEN && o as u64 + FRAME_HEAD_LEN as u64 <= t.block_offset);
    }
    for w in order.windows(2) {
        assert!((times[w[0] as usize], w[0]) < (times[w[1] as usize], w[1]));
    }
    for &o in &order {
        assert_ne!(offsets[o as usize], MISSING);
    }
    // The tables re-encode to the same block, and to the same trailer
    // (whose time bounds are free when the block is empty).
    let tables = SealTables {
        times: &times,
        offsets: &offsets,
        order: &order,
    };
    let mut again = b[..t.block_offset as usize].to_vec();
    again.extend(format::encode_seal(&tables, t.block_offset));
    assert_eq!(again.len(), b.len());
    assert!(
        again[..b.len() - TRAILER_LEN] == b[..b.len() - TRAILER_LEN],
        "seal block re-encodes differently"
    );
    let t2 = format::decode_trailer(&again).expect("re-encoded trailer decodes");
    if t.live > 0 {
        assert_eq!(t2, *t);
    } else {
        assert_eq!(
            (t2.block_offset, t2.slots, t2.live),
            (t.block_offset, t.slots, 0)
        );
    }
    format::check_seal_block(&again, &t2).expect("re-encoded seal block checks");
}

// ---------------------------------------------------------------------------
// segment_roundtrip: records written, then corrupted.
// ---------------------------------------------------------------------------

/// Reads values off the fuzz input; past its end every value is zero.
pub struct Input<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Input { data, at: 0 }
    }
    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.i64().to_le_bytes())
    }
    pub fn i64(&mut self) -> i64 {
        let mut b = [0u8; 8];
        b.iter_mut().for_each(|x| *x = self.u8());
        i64::from_le_bytes(b)
    }
    /// A u16 length (capped at `max` and at what is left), then that many
    /// bytes as text (invalid UTF-8 replaced), cut to `max` bytes.
    pub fn text(&mut self, max: usize) -> String {
        let left = self.data.len().saturating_sub(self.at);
        let len = usize::from(self.u16()).min(max).min(left.saturating_sub(2));
        let start = self.at.min(self.data.len());
        let bytes = &self.data[start..(start + len).min(self.data.len())];
        self.at += len;
        let mut s = String::from_utf8_lossy(bytes).into_owned();
        while s.len() > max {
            s.pop();
        }
        s
    }
}

/// Builds inputs for [`check_segment_roundtrip`] (for seeds).
#[derive(Default)]
pub struct RoundtripSeed {
    pub bytes: Vec<u8>,
}

impl RoundtripSeed {
    /// Start with `n` (1..=4) records whose ordinals start at `first` and
    /// whose seal block is written when `first < 1024` and `seal`.
    pub fn new(n: u8, first: u32, seal: bool) -> Self {
        let mut bytes = vec![n.wrapping_sub(1), u8::from(seal)];
        bytes.extend(first.to_le_bytes());
        RoundtripSeed { bytes }
    }
    fn text(&mut self, s: &str) {
        self.bytes.extend((s.len() as u16).to_le_bytes());
        self.bytes.extend(s.as_bytes());
    }
    /// Add a record.
    pub fn record(&mut self, r: &LogRecord) -> &mut Self {
        self.bytes.extend(r.time.as_micros().to_le_bytes());
        self.bytes.push(r.level.code());
        self.bytes.extend(r.attempt.to_le_bytes());
        for s in [
            &r.job_id,
            &r.flow,
            &r.component,
            &r.action,
            &r.category,
            &r.env,
            &r.app,
            &r.version,
            &r.content,
        ] {
            self.text(s);
        }
        match &r.detail {
            Some(d) => {
                self.bytes.push(1);
                self.text(d);
            }
            None => self.bytes.push(0),
        }
        self
    }
    /// After the records: put a frame forged with salt `guess` at the start
    /// of the last record's content (see [`forged_frame`]), with ordinal
    /// `first + n - 1 + step % 4` (saturating) and time `time`.
    pub fn forge(&mut self, guess: u64, step: u8, time: Timestamp) -> &mut Self {
        self.bytes[1] |= 2;
        self.bytes.extend(guess.to_le_bytes());
        self.bytes.push(step);
        self.bytes.extend(time.as_micros().to_le_bytes());
        self
    }
    /// Then the corruption: up to three bit flips at bit positions, and a
    /// cut at a byte position (or none).
    pub fn corrupt(&mut self, flips: &[u32], cut: Option<u32>) -> Vec<u8> {
        self.bytes
            .push(flips.len() as u8 | (u8::from(cut.is_some()) << 2));
        for f in flips {
            self.bytes.extend(f.to_le_bytes());
        }
        self.bytes.extend(cut.unwrap_or(0).to_le_bytes());
        self.bytes.clone()
    }
}

fn read_record(input: &mut Input<'_>) -> LogRecord {
    let time = Timestamp::from_micros(input.i64());
    let level = Level::ALL[usize::from(input.u8() % 4)];
    // Attempts are numbered from 1 (an attempt of 0 is refused by `validate`).
    let attempt = input.u32().max(1);
    let mut r = LogRecord::new(time, level, "", "").attempt(attempt);
    r.job_id = input.text(MAX_JOB_ID_BYTES).into();
    r.flow = input.text(MAX_NAME_BYTES).into();
    r.component = input.text(MAX_NAME_BYTES).into();
    r.action = input.text(MAX_NAME_BYTES).into();
    r.category = input.text(MAX_NAME_BYTES).into();
    r.env = input.text(MAX_NAME_BYTES).into();
    r.app = input.text(MAX_NAME_BYTES).into();
    r.version = input.text(MAX_NAME_BYTES).into();
    r.content = input.text(MAX_CONTENT_BYTES).into();
    if input.u8() & 1 == 1 {
        r.detail = Some(input.text(MAX_DETAIL_BYTES));
    }
    r
}

/// The bytes of a frame of ordinal `ordinal` checksummed with `salt`, that
/// are valid UTF-8 (so that they fit in a record's text as they are):
/// an `ERROR` record of job `admin` saying `FORGED: payment approved`.
/// Its detail (none, then `approved <k>`) is varied until the detail
/// checksum is UTF-8, and its attempt (0 to 127) until the head checksum
/// is. `None` if that fails, or if bytes other than the checksums (time,
/// ordinal) are not UTF-8.
pub fn forged_frame(time: Timestamp, ordinal: u32, salt: u64) -> Option<String> {
    let mut out = Vec::new();
    for variant in 0..64 {
        let detail = (variant > 0).then(|| format!("approved {variant}"));
        for attempt in 0..128 {
            out.clear();
            let mut forged =
                LogRecord::new(time, Level::Error, "admin", "FORGED: payment approved")
                    .attempt(attempt);
            forged.detail = detail.clone();
            format::encode_frame(&forged, ordinal, salt, &mut out);
            if let Ok(s) = std::str::from_utf8(&out) {
                return Some(s.to_owned());
            }
            let mut plain = out.clone();
            plain[12..20].fill(b' ');
            if std::str::from_utf8(&plain).is_err() {
                return None; // Not the checksums' fault.
            }
            if std::str::from_utf8(&out[12..16]).is_err() {
                break; // The detail checksum: another detail.
            }
        }
    }
    None
}

/// Build 1–4 records from `data` (fields clamped to their limits), write
/// them as a segment (header with the salt [`roundtrip_salt`]`(data)`,
/// frames, optionally seal block and trailer), check that every decoder
/// gives them back and that nothing decodes under another salt, then
/// corrupt the bytes (up to three bit flips and a cut, at positions the
/// input picks) and check that no decoder returns anything that was not
/// written: each either fails or returns the original.
///
/// At most three flipped bits: a CRC-32 detects every such error in the
/// messages written here, so a different record coming back is a bug.
///
/// Input: byte 0 = number of records − 1 (mod 4); byte 1 = flags (bit 0:
/// seal, bit 1: forge); u32 first ordinal; the records (see
/// [`RoundtripSeed::record`]); when forging, a u64 salt guess, a u8 step
/// and an i64 time: the last record's content then starts with a whole
/// frame checksummed with the guessed salt ([`forged_frame`]) — the text
/// an outside party could log, not knowing the segment's salt; then a
/// corruption byte (bits 0–1: flips, bit 2: cut), u32 bit positions and a
/// u32 cut position.
pub fn check_segment_roundtrip(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    let salt = roundtrip_salt(data);
    let mut input = Input::new(data);
    let n = 1 + usize::from(input.u8() % 4);
    let flags = input.u8();
    let seal = flags & 1 == 1;
    let first = input.u32().min(u32::MAX - 4);
    let mut records: Vec<LogRecord> = (0..n).map(|_| read_record(&mut input)).collect();
    if flags & 2 != 0 {
        let guess = input.u64();
        let ordinal = first.saturating_add(n as u32 - 1 + u32::from(input.u8() % 4));
        let time = Timestamp::from_micros(input.i64());
        // (A guess equivalent to the salt, one in 2^32, would be a right
        // guess, not a bug: the CRC state after the salt is all that counts.)
        let right = crc32fast::hash(&guess.to_le_bytes()) == crc32fast::hash(&salt.to_le_bytes());
        if let Some(forged) = forged_frame(time, ordinal, guess).filter(|_| !right) {
            let last = records.last_mut().unwrap();
            let mut content = forged;
            content.push_str(&last.content);
            while content.len() > MAX_CONTENT_BYTES {
                content.pop();
            }
            last.content = content.into();
        }
    }

    let header = SegmentHeader {
        layout: LAYOUT_FRAMES,
        partition: 0,
        generation: 0,
        partition_len: 3_600_000_000,
        created: Timestamp::from_secs(1800),
        salt,
    };
    let mut buf = format::encode_header(&header).to_vec();
    let mut offsets = Vec::new();
    for (i, r) in records.iter().enumerate() {
        r.validate().expect("clamped record is valid");
        offsets.push(buf.len());
        let len = format::encode_frame(r, first + i as u32, salt, &mut buf);
        assert_eq!(len, format::frame_len(r));
    }
    let frames_end = buf.len();

    // Everything written decodes to what was written, and only with its salt.
    assert_eq!(format::decode_header(&buf), Ok(header));
    for (i, r) in records.iter().enumerate() {
        let f = format::parse_frame(&buf[offsets[i]..], salt)
            .unwrap()
            .unwrap();
        assert_eq!(f.ordinal, first + i as u32);
        assert_eq!(format::decode_full(&f).as_ref(), Ok(r));
        let (s, has_detail) = format::decode_summary(f.summary).unwrap();
        assert_eq!(has_detail, r.detail.is_some());
        assert_eq!(s.content, r.content);
        for other in other_salts(salt) {
            assert!(
                format::parse_frame(&buf[offsets[i]..], other).is_err(),
                "frame {i} parses under salt {other:#x}"
            );
        }
    }
    // Ordinals from `first`: the frames follow a frame of ordinal
    // `first - 1` (as when a reader catches up with a writer).
    let after = first.checked_sub(1);
    let scan = format::scan_frames(&buf[HEADER_LEN..], HEADER_LEN as u64, after, salt);
    assert!(scan.damage.is_empty() && scan.seal_at.is_none());
    assert_eq!(scan.end, frames_end as u64);
    assert_eq!(
        scan.frames
            .iter()
            .map(|f| (f.offset as usize, f.ordinal, f.time))
            .collect::<Vec<_>>(),
        records
            .iter()
            .enumerate()
            .map(|(i, r)| (offsets[i], first + i as u32, r.time.as_micros()))
            .collect::<Vec<_>>()
    );
    // At the start of a file the first ordinal must be 0.
    let fresh = format::scan_frames(&buf[HEADER_LEN..], HEADER_LEN as u64, None, salt);
    if first == 0 {
        assert_eq!(fresh, scan);
    } else {
        assert!(
            fresh.frames.iter().all(|f| f.offset != HEADER_LEN as u64),
            "a file's first frame has ordinal {first}, and the scan took it"
        );
    }
    let mut trailer = None;
    if seal && first < 1024 {
        let slots = first as usize + n;
        let mut times = vec![0i64; slots];
        let mut offs = vec![MISSING; slots];
        for (i, r) in records.iter().enumerate() {
            times[first as usize + i] = r.time.as_micros();
            offs[first as usize + i] = offsets[i] as u32;
        }
        let mut order: Vec<u32> = (first..first + n as u32).collect();
        order.sort_by_key(|&o| (times[o as usize], o));
        let tables = SealTables {
            times: &times,
            offsets: &offs,
            order: &order,
        };
        buf.extend(format::encode_seal(&tables, frames_end as u64));
        let t = format::decode_trailer(&buf).expect("written trailer decodes");
        format::check_seal_block(&buf, &t).expect("written seal block checks");
        assert_eq!(
            (t.block_offset, t.slots, t.live),
            (frames_end as u64, slots as u32, n as u32)
        );
        assert_eq!(
            tables_of(&buf, &t),
            (times.clone(), offs.clone(), order.clone())
        );
        let scan = format::scan_frames(&buf[HEADER_LEN..], HEADER_LEN as u64, after, salt);
        assert_eq!(scan.seal_at, Some(frames_end as u64));
        trailer = Some(t);
    }
    // Corrupt: up to three bit flips, then maybe a cut.
    let mode = input.u8();
    let mut bad = buf.clone();
    for _ in 0..(mode & 3) {
        let bit = input.u32() as usize % (bad.len() * 8);
        bad[bit / 8] ^= 1 << (bit % 8);
    }
    let cut = input.u32() as usize;
    if mode & 4 != 0 {
        bad.truncate(cut % (bad.len() + 1));
    }
    check_decoders(&bad);

    // Frames at the offsets written: the original or an error.
    if let Ok(h) = format::decode_header(&bad) {
        assert_eq!(h, header, "a corrupt header decoded to something else");
    }
    for (i, r) in records.iter().enumerate() {
        let Some(at) = bad.get(offsets[i]..) else {
            continue;
        };
        if let Ok(Some(f)) = format::parse_frame(at, salt) {
            assert_eq!(f.ordinal, first + i as u32, "corrupt frame {i} parsed");
            if let Ok((s, has_detail)) = format::decode_summary(f.summary) {
                assert_eq!(
                    (s, has_detail),
                    (
                        LogRecord {
                            detail: None,
                            ..r.clone()
                        },
                        r.detail.is_some()
                    ),
                    "corrupt summary {i} decoded to something else"
                );
            }
            if let Ok(got) = format::decode_full(&f) {
                assert_eq!(&got, r, "corrupt frame {i} decoded to something else");
            }
        }
    }
    // The scanner: every frame it returns is one that was written, intact
    // (in particular, never a frame forged inside a record's text).
    let scan = format::scan_frames(
        bad.get(HEADER_LEN..).unwrap_or_default(),
        HEADER_LEN as u64,
        after,
        salt,
    );
    for f in &scan.frames {
        let i = offsets
            .iter()
            .position(|&o| o as u64 == f.offset)
            .unwrap_or_else(|| {
                panic!(
                    "scan of corrupt bytes returned a frame at {} where none was written \
                     (ordinal {}, time {})",
                    f.offset, f.ordinal, f.time
                )
            });
        assert_eq!(f.ordinal, first + i as u32);
        assert_eq!(f.time, records[i].time.as_micros());
        let frame = format::parse_frame(&bad[offsets[i]..], salt)
            .unwrap()
            .unwrap();
        assert_eq!(format::decode_full(&frame).as_ref(), Ok(&records[i]));
    }
    // The seal block and trailer: the original or an error.
    if let (Some(t), Ok(t2)) = (trailer, format::decode_trailer(&bad))
        && format::check_seal_block(&bad, &t2).is_ok()
    {
        assert_eq!(t2, t, "corrupt trailer decoded to something else");
        assert_eq!(
            tables_of(&bad, &t2),
            tables_of(&buf, &t),
            "corrupt seal tables decoded to something else"
        );
    }
    // Under another salt the file written holds no frame at all (its
    // salt is secret to the input, so no text in it can be one).
    for other in other_salts(salt) {
        let s = format::scan_frames(&buf[HEADER_LEN..], HEADER_LEN as u64, None, other);
        assert!(
            s.frames.is_empty(),
            "frames found under salt {other:#x}: {:?}",
            s.frames
        );
    }
}

// ---------------------------------------------------------------------------
// recovery: a segment file of fuzz bytes in a real store.
// ---------------------------------------------------------------------------

/// Where the scratch stores go: memory when the machine has it.
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(d) = tempfile::Builder::new()
            .prefix("runlog-fuzz")
            .tempdir_in(shm)
    {
        return d;
    }
    tempfile::Builder::new()
        .prefix("runlog-fuzz")
        .tempdir()
        .expect("temp dir")
}

/// The recovery tests' clock: inside partition 0 (1970-01-01T00:30Z), so
/// a segment of partition 0 is current and not yet due for sealing.
pub const RECOVERY_NOW: Timestamp = Timestamp::from_secs(1800);
/// The retention horizon at [`RECOVERY_NOW`]: older records are not listed.
pub const RECOVERY_HORIZON: i64 = RECOVERY_NOW.as_micros() - RETENTION_SECS as i64 * 1_000_000;
/// The header [`check_recovery`] puts before the fuzz bytes in modes 1 and
/// 3 (partition 0 of 1 h, salt [`FIXED_SALT`]).
pub fn recovery_header() -> [u8; HEADER_LEN] {
    format::encode_header(&SegmentHeader {
        layout: LAYOUT_FRAMES,
        partition: 0,
        generation: 0,
        partition_len: 3_600_000_000,
        created: RECOVERY_NOW,
        salt: FIXED_SALT,
    })
}

/// The first partition past the last one whose end a 1 h partition length
/// can represent (i64 microseconds): its files are not runlog's.
pub const FIRST_FOREIGN_PARTITION: u32 = (i64::MAX / 3_600_000_000) as u32;

/// How long the checks' stores keep records.
pub const RETENTION_SECS: u64 = 30 * 86_400;

fn options(clock: &ManualClock) -> StoreOptions {
    StoreOptions::new()
        .clock(clock.clone())
        .sync_policy(SyncPolicy::Manual)
        .retention(std::time::Duration::from_secs(RETENTION_SECS))
}

/// Every record of `p`, newest first; fails if the scan errs or returns
/// more than `bound` records (it must end).
fn collect(p: &Project, bound: usize) -> Vec<StoredRecord> {
    let mut it = p.scan(TimeRange::all());
    let mut out = Vec::new();
    for r in it.by_ref().take(bound) {
        out.push(r.expect("scan item"));
    }
    assert!(
        it.next().is_none(),
        "scan returned more than {bound} records (every record takes {MIN_FRAME_LEN} bytes)"
    );
    out
}

/// The files of a directory and their bytes (but the cut counter).
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| {
                    let e = e.unwrap();
                    let name = e.file_name().to_string_lossy().into_owned();
                    (name, fs::read(e.path()).unwrap_or_default())
                })
                // The cut counter moves at every writer open, by design
                // (`cuts`): it holds no data.
                .filter(|(name, _)| name != "cuts")
                .collect()
        })
        .unwrap_or_default()
}

/// Records listed by a scan: sorted newest first, no duplicate; and any
/// record `get` returns is the one listed, with a detail exactly when the
/// listing says so (a detail that is not UTF-8 or disagrees with its flag
/// is an error, never a record). With `readable`, `get` must return every
/// record.
fn check_listed_records(p: &Project, records: &[StoredRecord], readable: bool) {
    for w in records.windows(2) {
        assert!(
            (w[0].record.time, w[0].id) > (w[1].record.time, w[1].id),
            "records out of order: {:?} before {:?}",
            (w[0].record.time, w[0].id),
            (w[1].record.time, w[1].id)
        );
    }
    for r in records {
        let full = match p.get(r.id) {
            Ok(Some(full)) => full,
            Err(e) if readable => panic!("get({}) of a listed record: {e}", r.id),
            Ok(None) if readable => panic!("get({}) of a listed record: none", r.id),
            Err(_) | Ok(None) => continue,
        };
        assert_eq!(full.id, r.id);
        assert_eq!(
            full.has_detail,
            full.record.detail.is_some(),
            "get({}): has_detail disagrees with the detail",
            r.id
        );
        assert_eq!(
            full.has_detail, r.has_detail,
            "get({}) and the listing disagree on the detail flag",
            r.id
        );
        assert_eq!(
            LogRecord {
                detail: None,
                ..full.record.clone()
            },
            r.record
        );
    }
}

/// Records scanned from an active file of `len` bytes: ordinal `k` sits at
/// or after byte 64 + 52·k (ordinals follow each other, skipping only as
/// many as damaged bytes could hold), so it ends by 64 + 52·(k + 1).
fn check_ordinals_fit(records: &[StoredRecord], len: usize) {
    for r in records {
        assert!(
            HEADER_LEN + (r.id.ordinal as usize + 1) * MIN_FRAME_LEN <= len,
            "record {} in a {len}-byte file: no frame of that ordinal fits",
            r.id
        );
    }
}

/// A segment file made of the fuzz input in a real store, opened
/// read-only, then by a writer (recovery), again (idempotent), sealed, and
/// again. Never panics; what the store returns must agree across opens.
///
/// The first byte picks the file: bit 0 = put a valid header for
/// partition 0 before the rest of the input ([`recovery_header`]); bit 1 =
/// name it `0000000000-0000.seg` (sealed) rather than `.wal` (active);
/// bit 2 = recompute its checksums ([`fix_checksums`], with the salt of
/// its header bytes). Bits 4–7 all set: name it for a partition past the
/// last representable one instead (bit 3: `u32::MAX`, else
/// [`FIRST_FOREIGN_PARTITION`]); the store must leave it alone.
pub fn check_recovery(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    let (mode, body) = data.split_first().map_or((0, &[][..]), |(m, b)| (*m, b));
    let mut file = if mode & 1 == 1 {
        let mut f = recovery_header().to_vec();
        f.extend_from_slice(body);
        f
    } else {
        body.to_vec()
    };
    if mode & 4 != 0 {
        fix_checksums(&mut file);
    }
    let ext = if mode & 2 != 0 { "seg" } else { "wal" };
    if mode & 0xF0 == 0xF0 {
        let partition = if mode & 8 != 0 {
            u32::MAX
        } else {
            FIRST_FOREIGN_PARTITION
        };
        run_foreign(&file, &format!("{partition:010}-0000.{ext}"));
    } else {
        run_recovery(&file, &format!("0000000000-0000.{ext}"));
    }
}

/// A file named for a partition no timestamp reaches: not the store's, so
/// never listed, never changed, never deleted (retention included).
fn run_foreign(file: &[u8], name: &str) {
    let tmp = scratch();
    let dir = tmp.path();
    let clock = ManualClock::new(RECOVERY_NOW);
    {
        let store = options(&clock).open(dir).expect("create store");
        store.project("p").expect("create project");
    }
    let pdir = dir.join("projects").join("p");
    fs::write(pdir.join(name), file).expect("write segment");
    let before = snapshot(&pdir);
    {
        let store = options(&clock).open_read_only(dir).expect("open read-only");
        let p = store.project("p").expect("open project read-only");
        assert!(collect(&p, 1).is_empty(), "{name}: records listed");
        assert!(p.segments().expect("segments").is_empty());
    }
    for now in [RECOVERY_NOW, Timestamp::MAX] {
        clock.set(now);
        let store = options(&clock).open(dir).expect("open writer");
        let p = store.project("p").expect("open project");
        assert!(collect(&p, 1).is_empty(), "{name}: records listed");
        assert!(p.segments().expect("segments").is_empty());
        let report = p.verify().expect("verify");
        assert!(report.is_ok(), "{name}: {report:?}");
        let _ = p.seal_due();
        assert!(p.damage().is_empty(), "{name}: {:?}", p.damage());
    }
    assert!(
        snapshot(&pdir) == before,
        "{name}: the store changed its files"
    );
}

/// The frames `scan_frames` finds in `file` with its header's salt, when
/// the store takes the header for `0000000000-0000` (partition 0,
/// generation 0, 1 h partitions).
fn scan_as_store(file: &[u8]) -> Option<Vec<format::ScannedFrame>> {
    let h = format::decode_header(file).ok()?;
    (h.partition == 0 && h.generation == 0 && h.partition_len == 3_600_000_000)
        .then(|| format::scan_frames(&file[HEADER_LEN..], HEADER_LEN as u64, None, h.salt).frames)
}

fn run_recovery(file: &[u8], name: &str) {
    let tmp = scratch();
    let dir = tmp.path();
    let clock = ManualClock::new(RECOVERY_NOW);
    {
        let store = options(&clock).open(dir).expect("create store");
        store.project("p").expect("create project");
    }
    let pdir = dir.join("projects").join("p");
    fs::write(pdir.join(name), file).expect("write segment");
    let bound = file.len() / MIN_FRAME_LEN + 1;
    let active = name.ends_with(".wal");

    // A reader changes nothing. Of an active file it lists what a scan
    // finds: whole frames of valid ordinals, each readable.
    let read_only = {
        let store = options(&clock).open_read_only(dir).expect("open read-only");
        let p = store.project("p").expect("open project read-only");
        let records = collect(&p, bound);
        check_listed_records(&p, &records, active);
        if active {
            check_ordinals_fit(&records, file.len());
            if let Some(frames) = scan_as_store(file) {
                let mut listed: Vec<(u32, i64)> = records
                    .iter()
                    .map(|r| (r.id.ordinal, r.record.time.as_micros()))
                    .collect();
                listed.sort_unstable();
                // (The scan lists records in [horizon, Timestamp::MAX).)
                let scanned: Vec<(u32, i64)> = frames
                    .iter()
                    .filter(|f| (RECOVERY_HORIZON..Timestamp::MAX.as_micros()).contains(&f.time))
                    .map(|f| (f.ordinal, f.time))
                    .collect();
                assert_eq!(
                    listed, scanned,
                    "the reader lists other records than a scan with the header's salt finds"
                );
            }
        }
        let _ = p.verify().expect("verify read-only");
        let _ = p.segments().expect("segments");
        let _ = p.damage();
        records
    };
    assert_eq!(
        fs::read(pdir.join(name)).ok().as_deref(),
        Some(file),
        "a read-only open changed the file"
    );

    // The writer recovers.
    let (first, clean) = {
        let store = options(&clock).open(dir).expect("open writer");
        let p = store.project("p").expect("open project");
        let records = collect(&p, bound);
        let report = p.verify().expect("verify");
        let clean = report.is_ok();
        // Still active (not renamed after a complete seal): the writer
        // scanned the same bytes as the reader.
        let still_active = active && pdir.join(name).exists();
        check_listed_records(&p, &records, clean || still_active);
        if clean || still_active {
            check_ordinals_fit(&records, file.len());
            assert_eq!(read_only, records, "reader and writer disagree");
        }
        if clean {
            assert!(
                p.damage().is_empty(),
                "clean verify, yet damage: {:?}",
                p.damage()
            );
        }
        let _ = p.segments().expect("segments");
        (records, clean)
    };
    let after_first = snapshot(&pdir);

    // Recovery is idempotent: the same records, the same files.
    {
        let store = options(&clock).open(dir).expect("reopen writer");
        let p = store.project("p").expect("reopen project");
        assert_eq!(collect(&p, bound), first, "records differ after a reopen");
        if clean {
            assert!(p.verify().expect("verify").is_ok(), "clean, then not");
        }
    }
    assert!(
        snapshot(&pdir) == after_first,
        "a second recovery changed the files"
    );

    // Sealing keeps every record (and a clean segment clean).
    {
        let store = options(&clock).open(dir).expect("reopen writer");
        let p = store.project("p").expect("reopen project");
        clock.set(Timestamp::from_secs(3 * 3600));
        let _ = p.seal_due();
        clock.set(RECOVERY_NOW);
        let records = collect(&p, bound);
        assert_eq!(records, first, "records differ after sealing");
        check_listed_records(&p, &records, clean);
        if clean {
            assert!(
                p.verify().expect("verify").is_ok(),
                "clean, then not after sealing"
            );
        }
        // A seal block holds 12 bytes per ordinal: no more ordinals than
        // frames could fit in the file.
        for s in p.segments().expect("segments") {
            if s.sealed
                && let Ok(m) = fs::metadata(&s.path)
            {
                let slots = file.len() / MIN_FRAME_LEN + 1;
                let most = (file.len() + 4 + 16 * slots + TRAILER_LEN) as u64;
                assert!(
                    m.len() <= most,
                    "sealing a {}-byte file made a {}-byte segment",
                    file.len(),
                    m.len()
                );
            }
        }
    }
    {
        let store = options(&clock).open(dir).expect("reopen writer");
        let p = store.project("p").expect("reopen project");
        assert_eq!(
            collect(&p, bound),
            first,
            "records differ after sealing and reopening"
        );
    }
}

// ---------------------------------------------------------------------------
// store_meta: the settings file.
// ---------------------------------------------------------------------------

/// The store [`check_store_meta`] starts from, made once: two projects'
/// worth of records in a sealed and an active segment.
struct MetaTemplate {
    dir: tempfile::TempDir,
    meta: Vec<u8>,
    records: Vec<StoredRecord>,
}

/// The clock of the store_meta template (2023-11-14T22:13:20Z + 2 h).
pub const META_NOW: Timestamp = Timestamp::from_secs(1_700_000_000 + 7200);

fn meta_template() -> &'static MetaTemplate {
    static T: OnceLock<MetaTemplate> = OnceLock::new();
    T.get_or_init(|| {
        let dir = scratch();
        let clock = ManualClock::new(Timestamp::from_secs(1_700_000_000));
        let records = {
            let store = options(&clock).open(dir.path()).expect("template store");
            let p = store.project("p").expect("template project");
            let t0 = Timestamp::from_secs(1_700_000_000);
            p.append_batch(&[
                LogRecord::new(t0, Level::Info, "job-1", "started").flow("f"),
                LogRecord::new(t0, Level::Error, "job-1", "failed").detail("{\"x\": 1}"),
            ])
            .expect("append");
            clock.set(META_NOW);
            p.seal_due().expect("seal");
            p.append(&LogRecord::new(META_NOW, Level::Warn, "job-2", "retry"))
                .expect("append");
            collect(&p, 100)
        };
        assert_eq!(records.len(), 3);
        let meta = fs::read(dir.path().join("runlog.meta")).expect("meta");
        MetaTemplate { dir, meta, records }
    })
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest: PathBuf = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else if e.file_name() != "runlog.lock" {
            // (Not `fs::copy`: its copy_file_range may fail with EINTR.)
            fs::write(&dest, fs::read(e.path()).unwrap()).unwrap();
        }
    }
}

/// Whether a partition length (seconds) is a setting runlog accepts:
/// 1 minute to 1 day, dividing a day.
pub fn partition_is_valid(secs: u32) -> bool {
    (60..=86_400).contains(&secs) && 86_400 % secs == 0
}

/// Whether `b` is laid out as a settings file of this build: 32 bytes,
/// magic `RUNLOGST`, CRC32 of bytes 0..28 (any version, any partition).
fn meta_is_intact(b: &[u8]) -> bool {
    b.len() == 32 && &b[..8] == b"RUNLOGST" && crc32fast::hash(&b[..28]) == u32_le(b, 28)
}

/// Whether `b` is a settings file this build reads, by its documented
/// layout: intact ([`meta_is_intact`]), version 1, and a valid partition
/// length ([`partition_is_valid`]).
pub fn meta_is_valid(b: &[u8]) -> bool {
    meta_is_intact(b)
        && u16::from_le_bytes([b[8], b[9]]) == FORMAT_VERSION
        && partition_is_valid(u32_le(b, 12))
}

/// The error opening a store with the settings file `meta` must give, when
/// it is not valid: an unsupported version when that is its only fault
/// (the version is checked before the partition length), else corrupt.
fn check_meta_error(meta: &[u8], e: &Error, who: &str) {
    let version_only =
        meta_is_intact(meta) && u16::from_le_bytes([meta[8], meta[9]]) != FORMAT_VERSION;
    match e {
        Error::UnsupportedVersion { .. } if version_only => {}
        Error::Corrupt { .. } if !version_only => {}
        _ => panic!("{who}: unexpected error for invalid settings: {e}"),
    }
}

/// `data` as `runlog.meta` of a store holding records (and again with its
/// checksum recomputed when it is 32 bytes long); then opening it
/// read-only (with a manual and with the system clock) and for writing.
/// Never panics; opens succeed exactly when the file is valid (writers:
/// and names the store's partition length), failing as corrupt (or of an
/// unsupported version) otherwise; a reader of a valid file can list,
/// read and verify.
pub fn check_store_meta(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    let template = meta_template();
    let mut variants = vec![data.to_vec()];
    if data.len() == 32 {
        let mut fixed = data.to_vec();
        let crc = crc32fast::hash(&fixed[..28]);
        put_u32(&mut fixed, 28, crc);
        if fixed != data {
            variants.push(fixed);
        }
    }
    for meta in variants {
        let tmp = scratch();
        let dir = tmp.path();
        copy_tree(template.dir.path(), dir);
        fs::write(dir.join("runlog.meta"), &meta).unwrap();
        let valid = meta_is_valid(&meta);
        let same_partition = valid && u32_le(&meta, 12) == u32_le(&template.meta, 12);
        let clock = ManualClock::new(META_NOW);

        match options(&clock).open_read_only(dir) {
            Ok(store) => {
                assert!(valid, "a reader opened a store with invalid settings");
                assert_eq!(store.projects().expect("projects"), ["p"]);
                let p = store.project("p").expect("project");
                let records = collect(&p, 100);
                let report = p.verify().expect("verify");
                let _ = p.segments().expect("segments");
                if same_partition {
                    assert!(report.is_ok(), "{report:?}");
                    assert_eq!(records, template.records);
                    check_listed_records(&p, &records, true);
                } else {
                    check_listed_records(&p, &records, false);
                }
            }
            Err(e) => {
                assert!(!valid, "a reader refused valid settings: {e}");
                check_meta_error(&meta, &e, "reader");
            }
        }
        match Store::open_read_only(dir) {
            Ok(store) => {
                assert!(valid);
                if let Ok(p) = store.project("p") {
                    let _ = collect(&p, 100);
                }
            }
            Err(e) => {
                assert!(!valid, "a reader refused valid settings: {e}");
                check_meta_error(&meta, &e, "reader (system clock)");
            }
        }
        // A writer that names no partition length adopts the store's...
        match options(&clock).open(dir) {
            Ok(_) => assert!(valid, "a writer opened a store with invalid settings"),
            Err(e) => {
                assert!(!valid, "a writer refused valid settings: {e}");
                check_meta_error(&meta, &e, "writer");
            }
        }
        // ...one that names another is refused.
        match options(&clock)
            .partition(std::time::Duration::from_secs(3600))
            .open(dir)
        {
            Ok(_) => assert!(same_partition, "a writer opened with other settings"),
            Err(e) if valid => {
                assert!(!same_partition, "a writer refused its own settings: {e}");
                assert!(
                    matches!(e, Error::SettingMismatch { .. }),
                    "writer, other valid settings: {e}"
                );
            }
            Err(e) => check_meta_error(&meta, &e, "writer"),
        }
        assert_eq!(
            fs::read(dir.join("runlog.meta")).unwrap(),
            meta,
            "opening changed the settings file"
        );
    }
}

// ---------------------------------------------------------------------------
// index_file: a sealed segment's index (`*.idx`).
// ---------------------------------------------------------------------------

/// The segment the hand-made index seeds are encoded for (and the one
/// [`check_index_file`] first opens its input as).
pub const INDEX_SEGMENT: SegmentId = SegmentId {
    partition: 472_222,
    generation: 1,
};
/// Lengths of an index file's header, table entry, table and trailer
/// (layout at the top of `src/index/disk.rs`).
const IX_HEADER: usize = 32;
const IX_ENTRY: usize = 20;
const IX_SECTIONS: usize = 10;
const IX_TABLE: usize = IX_ENTRY * IX_SECTIONS;
const IX_TRAILER: usize = 16;

/// The segment an index file's header bytes 12..20 name (valid or not).
pub fn index_header_segment(b: &[u8]) -> Option<SegmentId> {
    (b.len() >= 20).then(|| SegmentId {
        partition: u32_le(b, 12),
        generation: u32_le(b, 16),
    })
}

/// Recompute every checksum of what looks like an index file in place:
/// the header's (bytes 0..28, at 28); when the trailer's table offset
/// leaves room for the table just before the trailer, each section's
/// (in its table entry, when the entry's bounds lie before the table) and
/// the table's (in the trailer). Nothing else changes.
pub fn fix_index_checksums(b: &mut [u8]) {
    if b.len() >= IX_HEADER {
        let crc = crc32fast::hash(&b[..28]);
        put_u32(b, 28, crc);
    }
    if b.len() < IX_HEADER + IX_TABLE + IX_TRAILER {
        return;
    }
    let trailer = b.len() - IX_TRAILER;
    let table_at = trailer - IX_TABLE;
    if u64_le(b, trailer) != table_at as u64 {
        return;
    }
    for i in 0..IX_SECTIONS {
        let e = table_at + i * IX_ENTRY;
        let (off, len) = (u64_le(b, e), u64_le(b, e + 8));
        if let Some(end) = off.checked_add(len)
            && end <= table_at as u64
        {
            let crc = crc32fast::hash(&b[off as usize..end as usize]);
            put_u32(b, e + 16, crc);
        }
    }
    let crc = crc32fast::hash(&b[table_at..trailer]);
    put_u32(b, trailer + 8, crc);
}

/// `b` as the index of `id` through `runlog::__fuzz::index_file`, which
/// runs every lookup: never a panic, never a broken invariant (`Err`).
/// Accepted whole only with its magic, version 1, and `id` in its header.
fn check_index_as(b: &[u8], id: SegmentId) {
    match runlog::__fuzz::index_file(b, id) {
        Ok(true) => {
            assert_eq!(&b[..8], b"RUNLOGIX", "accepted without its magic");
            assert_eq!(u16::from_le_bytes([b[8], b[9]]), FORMAT_VERSION);
            assert_eq!(
                index_header_segment(b),
                Some(id),
                "accepted for another segment"
            );
            assert_eq!(
                &b[b.len() - 4..],
                b"RLIX",
                "accepted without its trailer magic"
            );
        }
        Ok(false) => {}
        Err(e) => panic!("index of {id:?} ({} bytes): {e}", b.len()),
    }
}

/// `data` as the index file of [`INDEX_SEGMENT`] and of the segment its
/// header names; then with its checksums recomputed
/// ([`fix_index_checksums`]) as the index of the segment its header names.
pub fn check_index_file(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    check_index_as(data, INDEX_SEGMENT);
    let named = index_header_segment(data);
    if let Some(id) = named.filter(|&id| id != INDEX_SEGMENT) {
        check_index_as(data, id);
    }
    let mut fixed = data.to_vec();
    fix_index_checksums(&mut fixed);
    if fixed != data
        && let Some(id) = named
    {
        check_index_as(&fixed, id);
    }
}

// ---------------------------------------------------------------------------
// presets: a project's saved-presets file.
// ---------------------------------------------------------------------------

/// Length of a presets file's head (layout at the top of `src/presets.rs`).
pub const PRESETS_HEAD: usize = 20;
/// Most presets a project keeps (`runlog::presets::MAX_PRESETS`, not
/// exported).
pub const MAX_PRESETS: usize = 1_000;

/// `b` with the payload checksum (bytes 16..20) recomputed over `b[20..]`,
/// if it is long enough to hold a head.
pub fn fix_presets_crc(b: &[u8]) -> Option<Vec<u8>> {
    (b.len() >= PRESETS_HEAD).then(|| {
        let mut f = b.to_vec();
        let crc = crc32fast::hash(&f[PRESETS_HEAD..]);
        put_u32(&mut f, 16, crc);
        f
    })
}

/// Whether a preset name is one runlog accepts: 1 to
/// [`MAX_PRESET_NAME`] bytes, no control characters.
pub fn preset_name_is_valid(n: &str) -> bool {
    !n.is_empty() && n.len() <= MAX_PRESET_NAME && !n.chars().any(char::is_control)
}

/// `data` as a presets file, and again with its checksum recomputed
/// ([`fix_presets_crc`]).
pub fn check_presets(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    check_presets_file(data);
    if let Some(fixed) = fix_presets_crc(data).filter(|f| f != data) {
        check_presets_file(&fixed);
    }
}

/// Decoding never panics. It succeeds only for an intact file (magic,
/// version 1, reserved bytes 0, payload length and checksum right), with
/// at most [`MAX_PRESETS`] valid names and ranges that are not inverted;
/// and what it decodes encodes back to exactly `b` (the format is
/// canonical). It fails as unsupported exactly when the magic is right and
/// the version is not 1, else as corrupt.
fn check_presets_file(b: &[u8]) {
    let magic = b.len() >= PRESETS_HEAD && &b[..8] == b"RLPRESET";
    let version = magic.then(|| u16::from_le_bytes([b[8], b[9]]));
    match runlog::__fuzz::presets(b) {
        Ok(list) => {
            assert_eq!(version, Some(FORMAT_VERSION), "decoded another version");
            assert_eq!(&b[10..12], [0, 0], "decoded with reserved bytes set");
            assert_eq!(u32_le(b, 12) as usize, b.len() - PRESETS_HEAD);
            assert_eq!(u32_le(b, 16), crc32fast::hash(&b[PRESETS_HEAD..]));
            assert!(list.len() <= MAX_PRESETS, "{} presets", list.len());
            for (name, range) in &list {
                assert!(preset_name_is_valid(name), "invalid name {name:?} decoded");
                if let SavedRange::Absolute(r) = range {
                    assert!(
                        r.from <= r.to,
                        "preset {name:?}: inverted range {r:?} decoded"
                    );
                }
            }
            let again = runlog::__fuzz::encode_presets(&list);
            assert!(
                again == b,
                "decoded presets re-encode differently ({} bytes, then {}): {list:?}",
                b.len(),
                again.len()
            );
        }
        Err(Error::UnsupportedVersion { found, .. }) => {
            assert!(magic, "unsupported version without the magic");
            assert_eq!(version, Some(found));
            assert_ne!(found, FORMAT_VERSION);
        }
        Err(Error::Corrupt { .. }) => {
            assert!(
                !magic || version == Some(FORMAT_VERSION),
                "version {version:?}: corrupt rather than unsupported"
            );
        }
        Err(e) => panic!("presets: unexpected error {e}"),
    }
}

// ---------------------------------------------------------------------------
// cursor: a page cursor given by a user.
// ---------------------------------------------------------------------------

/// Length of a cursor's bytes (layout at the top of `src/query/cursor.rs`).
pub const CURSOR_LEN: usize = 49;
const CURSOR_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// URL-safe base64 without padding of `b` (a cursor's text form).
pub fn cursor_text(b: &[u8]) -> String {
    let mut s = String::new();
    for chunk in b.chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, &x| (acc << 8) | u32::from(x)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            s.push(CURSOR_ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    s
}

/// The bytes of a cursor's text, by the documented form: every character
/// from the alphabet, and the bits left over after the last whole byte
/// zero. `None` otherwise.
pub fn cursor_text_bytes(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = CURSOR_ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (acc == 0).then_some(out)
}

/// Whether `b` are the bytes of a valid cursor by the documented layout:
/// 49 bytes, CRC32 of bytes 0..45 at 45, version 1, range start not after
/// its end.
pub fn cursor_is_valid(b: &[u8]) -> bool {
    b.len() == CURSOR_LEN
        && crc32fast::hash(&b[..45]) == u32_le(b, 45)
        && b[0] == 1
        && u64_le(b, 9) as i64 <= u64_le(b, 17) as i64
}

/// `b` with the cursor checksum recomputed, when it is 49 bytes long.
pub fn fix_cursor_crc(b: &[u8]) -> Option<Vec<u8>> {
    (b.len() == CURSOR_LEN).then(|| {
        let mut f = b.to_vec();
        let crc = crc32fast::hash(&f[..45]);
        put_u32(&mut f, 45, crc);
        f
    })
}

/// What a cursor holds, read from its bytes by the documented layout.
#[derive(Clone, Copy, Debug)]
struct CursorFields {
    fingerprint: u64,
    range: TimeRange,
    key: (Timestamp, RecordId),
}

fn cursor_fields(b: &[u8]) -> CursorFields {
    CursorFields {
        fingerprint: u64_le(b, 1),
        range: TimeRange {
            from: Timestamp::from_micros(u64_le(b, 9) as i64),
            to: Timestamp::from_micros(u64_le(b, 17) as i64),
        },
        key: (
            Timestamp::from_micros(u64_le(b, 25) as i64),
            RecordId {
                segment: SegmentId {
                    partition: u32_le(b, 33),
                    generation: u32_le(b, 37),
                },
                ordinal: u32_le(b, 41),
            },
        ),
    }
}

/// The small store cursors are tried on: records in a sealed and an active
/// segment (ties in time included), made once per process.
pub struct CursorStore {
    _dir: tempfile::TempDir,
    pub project: Project,
    /// Every record, newest first (ties: highest ID first).
    pub records: Vec<StoredRecord>,
    /// The fingerprint of `Query::new()`'s filters (none).
    pub fingerprint: u64,
    /// The retention horizon of the store's clock.
    pub horizon: Timestamp,
    /// The cursors of every page of `Query::new().all_time().limit(2)`.
    pub page_cursors: Vec<Cursor>,
    /// Every run, newest first (ties: highest job ID first).
    pub runs: Vec<Run>,
    /// The fingerprint of `RunQuery::new()`'s filters (none).
    pub run_fingerprint: u64,
}

/// The clock of the cursor store (2023-11-14T22:13:20Z + 2 h).
pub const CURSOR_NOW: Timestamp = Timestamp::from_secs(1_700_000_000 + 7200);
/// Page size of the queries [`check_cursor`] makes.
const CURSOR_PAGE: usize = 3;

pub fn cursor_store() -> &'static CursorStore {
    static S: OnceLock<CursorStore> = OnceLock::new();
    S.get_or_init(|| {
        let dir = scratch();
        let t0 = Timestamp::from_secs(1_700_000_000);
        let clock = ManualClock::new(t0);
        let store = options(&clock).open(dir.path()).expect("cursor store");
        let project = store.project("p").expect("cursor project");
        let rec = |t: Timestamp, level: Level, job: &str, content: &str| {
            LogRecord::new(t, level, job, content).flow("sync")
        };
        project
            .append_batch(&[
                rec(t0, Level::Info, "job-1", "started"),
                rec(t0, Level::Error, "job-1", "failed"),
                rec(
                    Timestamp::from_secs(1_700_000_100),
                    Level::Warn,
                    "job-2",
                    "slow",
                ),
            ])
            .expect("append");
        clock.set(CURSOR_NOW);
        project.seal_due().expect("seal");
        let t1 = Timestamp::from_secs(1_700_000_000 + 7000);
        project
            .append_batch(&[
                rec(t1, Level::Info, "job-3", "a"),
                rec(t1, Level::Info, "job-3", "b"),
                rec(CURSOR_NOW, Level::Debug, "job-4", "c"),
            ])
            .expect("append");
        let records = collect(&project, 100);
        assert_eq!(records.len(), 6);
        let mut page_cursors = Vec::new();
        let mut q = Query::new().all_time().limit(2);
        while let Some(next) = project.query(&q).expect("page").next {
            page_cursors.push(next);
            q = Query::new().all_time().limit(2).after(next);
        }
        assert!(!page_cursors.is_empty());
        // The check's query has the same (no) filters and range: its
        // cursors get past the fingerprint.
        let after_first = Query::new()
            .all_time()
            .limit(CURSOR_PAGE)
            .after(page_cursors[0]);
        assert!(
            project
                .query(&after_first)
                .is_ok_and(|p| !p.records.is_empty())
        );
        let text = page_cursors[0].to_string();
        let fingerprint =
            cursor_fields(&cursor_text_bytes(&text).expect("cursor text")).fingerprint;
        let horizon =
            Timestamp::from_micros(CURSOR_NOW.as_micros() - RETENTION_SECS as i64 * 1_000_000);
        for (job, t) in [("job-1", t0), ("job-2", t0), ("job-3", t1)] {
            project
                .start_run(&NewRun::new(job, "sync", Trigger::Scheduler).triggered_at(t))
                .expect("start run");
        }
        let runs = project
            .runs(&RunQuery::new().all_time().limit(100))
            .expect("runs")
            .runs;
        let run_cursor = project
            .runs(&RunQuery::new().all_time().limit(1))
            .expect("runs")
            .next
            .expect("a run cursor");
        let run_fingerprint = u64_le(
            &cursor_text_bytes(&run_cursor.to_string()).expect("run cursor text"),
            1,
        );
        CursorStore {
            _dir: dir,
            project,
            records,
            fingerprint,
            horizon,
            page_cursors,
            runs,
            run_fingerprint,
        }
    })
}

/// A user's cursor: `data` as cursor bytes (`Cursor::from_bytes`), and as
/// cursor text (`str::parse`, `data` read as lossy UTF-8); then each again
/// with the checksum recomputed. Never panics; decoding agrees with the
/// documented layout and base64 form; a decoded cursor's text parses back
/// to it; and each cursor decoded, continued in a small store, gives
/// exactly the records of its range before its position (or
/// `CursorMismatch`, exactly when its filters are not the query's).
pub fn check_cursor(data: &[u8]) {
    if data.len() > 4 * 1024 {
        return;
    }
    let mut decoded = Vec::new();
    decoded.extend(check_cursor_bytes(data));
    if let Some(fixed) = fix_cursor_crc(data).filter(|f| f != data) {
        decoded.extend(check_cursor_bytes(&fixed));
    }
    let text = String::from_utf8_lossy(data);
    decoded.extend(check_cursor_text(&text));
    if let Some(fixed) = cursor_text_bytes(&text)
        .and_then(|b| fix_cursor_crc(&b))
        .map(|b| cursor_text(&b))
        .filter(|t| *t != text)
    {
        decoded.extend(check_cursor_text(&fixed));
    }
    for (cursor, fields) in decoded {
        check_cursor_query(cursor, fields);
    }
    // The same bytes and text as a run cursor.
    let mut runs = Vec::new();
    runs.extend(check_run_cursor_bytes(data));
    if let Some(fixed) = fix_run_cursor_crc(data).filter(|f| f != data) {
        runs.extend(check_run_cursor_bytes(&fixed));
    }
    if let Some(b) = cursor_text_bytes(&text) {
        let parsed = text.parse::<RunCursor>();
        match (&parsed, run_cursor_is_valid(&b)) {
            (Ok(c), true) => assert_eq!(c.to_string(), text, "run cursor text is not canonical"),
            (Err(Error::InvalidCursor { .. }), false) => {}
            (other, valid) => panic!("run cursor text {text:?} (valid bytes: {valid}): {other:?}"),
        }
        runs.extend(parsed.ok().map(|c| (c, b)));
    } else {
        assert!(
            matches!(text.parse::<RunCursor>(), Err(Error::InvalidCursor { .. })),
            "non-base64 run cursor text accepted"
        );
    }
    for (cursor, bytes) in runs {
        check_run_cursor_query(cursor, &bytes);
    }
}

/// Whether `b` is a run cursor by its documented layout: `R`, fingerprint,
/// range (from ≤ to), time, job ID length and UTF-8 bytes (≤ 128), CRC32.
fn run_cursor_is_valid(b: &[u8]) -> bool {
    b.len() >= 38
        && b.len() == 38 + usize::from(b[33])
        && crc32fast::hash(&b[..b.len() - 4]) == u32_le(b, b.len() - 4)
        && b[0] == b'R'
        && usize::from(b[33]) <= MAX_JOB_ID_BYTES
        && std::str::from_utf8(&b[34..b.len() - 4]).is_ok()
        && u64_le(b, 9) as i64 <= u64_le(b, 17) as i64
}

/// `b` with the run-cursor checksum recomputed, when its length fits.
fn fix_run_cursor_crc(b: &[u8]) -> Option<Vec<u8>> {
    (b.len() >= 38 && b.len() == 38 + usize::from(b[33])).then(|| {
        let mut f = b.to_vec();
        let n = f.len() - 4;
        let crc = crc32fast::hash(&f[..n]);
        put_u32(&mut f, n, crc);
        f
    })
}

fn check_run_cursor_bytes(b: &[u8]) -> Option<(RunCursor, Vec<u8>)> {
    match RunCursor::from_bytes(b) {
        Ok(c) => {
            assert!(run_cursor_is_valid(b), "invalid run cursor bytes decoded");
            let text = c.to_string();
            assert_eq!(cursor_text_bytes(&text).as_deref(), Some(b));
            assert_eq!(text.parse::<RunCursor>().ok(), Some(c.clone()));
            Some((c, b.to_vec()))
        }
        Err(Error::InvalidCursor { .. }) => {
            assert!(!run_cursor_is_valid(b), "valid run cursor bytes refused");
            None
        }
        Err(e) => panic!("run cursor bytes: unexpected error {e}"),
    }
}

/// A decoded run cursor continued in the cursor store: `CursorMismatch`
/// exactly for other filters, else pages of the store's runs strictly
/// below its position and inside its range (from the horizon).
fn check_run_cursor_query(cursor: RunCursor, b: &[u8]) {
    let s = cursor_store();
    let q = RunQuery::new().all_time().limit(2);
    let got = s.project.runs(&q.clone().after(cursor));
    if u64_le(b, 1) != s.run_fingerprint {
        assert!(
            matches!(got, Err(Error::CursorMismatch)),
            "a run cursor of other filters: {got:?}"
        );
        return;
    }
    let page = got.expect("runs after a run cursor");
    let from = (u64_le(b, 9) as i64).max(s.horizon.as_micros());
    let to = u64_le(b, 17) as i64;
    let key = (
        u64_le(b, 25) as i64,
        std::str::from_utf8(&b[34..b.len() - 4]).unwrap(),
    );
    let expected: Vec<&str> = s
        .runs
        .iter()
        .filter(|r| {
            let t = r.trigger_time.as_micros();
            t >= from && t < to && (t, r.job_id.as_str()) < key
        })
        .take(2)
        .map(|r| r.job_id.as_str())
        .collect();
    let listed: Vec<&str> = page.runs.iter().map(|r| r.job_id.as_str()).collect();
    assert_eq!(listed, expected, "runs after a run cursor");
}

fn check_cursor_bytes(b: &[u8]) -> Option<(Cursor, CursorFields)> {
    match Cursor::from_bytes(b) {
        Ok(c) => {
            assert!(cursor_is_valid(b), "invalid cursor bytes decoded");
            let text = c.to_string();
            assert_eq!(
                cursor_text_bytes(&text).as_deref(),
                Some(b),
                "a cursor's text holds other bytes than it was decoded from"
            );
            match text.parse::<Cursor>() {
                Ok(again) => assert_eq!(again, c, "a cursor's text parses to another cursor"),
                Err(e) => panic!("a cursor's text {text:?} does not parse: {e}"),
            }
            Some((c, cursor_fields(b)))
        }
        Err(Error::InvalidCursor { .. }) => {
            assert!(!cursor_is_valid(b), "valid cursor bytes refused");
            None
        }
        Err(e) => panic!("Cursor::from_bytes: unexpected error {e}"),
    }
}

fn check_cursor_text(s: &str) -> Option<(Cursor, CursorFields)> {
    let bytes = cursor_text_bytes(s).filter(|b| cursor_is_valid(b));
    match s.parse::<Cursor>() {
        Ok(c) => {
            let b = bytes.unwrap_or_else(|| panic!("invalid cursor text {s:?} parsed"));
            assert_eq!(c.to_string(), s, "cursor text is not canonical");
            assert_eq!(Cursor::from_bytes(&b).ok(), Some(c));
            Some((c, cursor_fields(&b)))
        }
        Err(Error::InvalidCursor { .. }) => {
            assert!(bytes.is_none(), "valid cursor text {s:?} refused");
            None
        }
        Err(e) => panic!("parse::<Cursor>: unexpected error {e}"),
    }
}

/// Continue `Query::new().all_time()` after `cursor` in the
/// [`cursor_store`], page by page ([`CURSOR_PAGE`] records):
/// `CursorMismatch` exactly when its filters or range are another query's; otherwise the pages hold, newest first,
/// exactly the records in its range (from the retention horizon on) that
/// sort before its position, and each next cursor keeps the filters and
/// the range.
fn check_cursor_query(cursor: Cursor, f: CursorFields) {
    let s = cursor_store();
    let q = Query::new().all_time().limit(CURSOR_PAGE);
    let first = s.project.query(&q.clone().after(cursor));
    if f.fingerprint != s.fingerprint {
        assert!(
            matches!(first, Err(Error::CursorMismatch)),
            "a cursor of other filters: {first:?}"
        );
        return;
    }
    let from = f.range.from.max(s.horizon);
    let expected: Vec<RecordId> = s
        .records
        .iter()
        .filter(|r| {
            r.record.time >= from && r.record.time < f.range.to && (r.record.time, r.id) < f.key
        })
        .map(|r| r.id)
        .collect();
    let mut got = Vec::new();
    let mut page = first;
    for _ in 0..=s.records.len() {
        let p = match page {
            Ok(p) => p,
            Err(Error::InvalidCursor { .. }) => return,
            Err(e) => panic!("query after a cursor: {e}"),
        };
        assert!(p.records.len() <= CURSOR_PAGE);
        got.extend(p.records.iter().map(|r| r.id));
        let Some(next) = p.next else {
            assert_eq!(
                got, expected,
                "the pages after cursor {f:?} hold other records than its range before it"
            );
            return;
        };
        let text = next.to_string();
        let nf = cursor_fields(&cursor_text_bytes(&text).expect("next cursor's text"));
        assert_eq!(
            nf.fingerprint, f.fingerprint,
            "next cursor of other filters"
        );
        assert_eq!(
            (nf.range.from, nf.range.to),
            (from, f.range.to.max(s.horizon)),
            "next cursor of another range"
        );
        page = s.project.query(&q.clone().after(next));
    }
    panic!("more pages than records after cursor {f:?}");
}

// ---------------------------------------------------------------------------
// run_journal: a run journal file (`runs/*.runs`).
// ---------------------------------------------------------------------------

/// Most runs a page of [`check_run_journal`]'s listings holds: more than a
/// journal of [`MAX_INPUT`] bytes can start (every frame takes at least
/// 13 bytes), so one page lists them all.
const JOURNAL_PAGE: usize = runlog::MAX_LIMIT;

/// The header of the journal file [`check_run_journal`] places: partition
/// 0, generation 0 (its name, `0000000000-0000.runs`), salt [`FIXED_SALT`].
pub fn journal_header() -> [u8; journal::HEADER_LEN] {
    journal::encode_header(&JournalHeader {
        partition: 0,
        generation: 0,
        salt: FIXED_SALT,
    })
}

/// Recompute the checksums of what looks like a journal file in place: the
/// header's (bytes 28..32), then each frame's with the salt of the header
/// bytes 20..28, walking frames from the header while their lengths are in
/// bounds.
pub fn fix_journal_checksums(b: &mut [u8]) {
    if b.len() < journal::HEADER_LEN {
        return;
    }
    let crc = crc32fast::hash(&b[..28]);
    put_u32(b, 28, crc);
    let salt = u64_le(b, 20);
    let mut at = journal::HEADER_LEN;
    while at + journal::FRAME_HEAD_LEN <= b.len() {
        let n = u32_le(b, at) as usize;
        let end = at + journal::FRAME_HEAD_LEN + n;
        if n == 0 || n > journal::MAX_EVENT_LEN || end > b.len() {
            break;
        }
        put_u32(b, at + 8, journal_frame_crc(salt, &b[at..end]));
        at = end;
    }
}

/// The checksum the frame `frame` (head and event) should carry under `salt`.
fn journal_frame_crc(salt: u64, frame: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&salt.to_le_bytes());
    h.update(&frame[..8]);
    h.update(&frame[journal::FRAME_HEAD_LEN..]);
    h.finalize()
}

/// Fuzz bytes as a run journal file: the header decoder and the frame
/// scanner on the bytes, then the file placed in a real store; again with
/// its checksums recomputed ([`fix_journal_checksums`]).
pub fn check_run_journal(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    check_run_journal_file(data);
    let mut fixed = data.to_vec();
    fix_journal_checksums(&mut fixed);
    if fixed != data {
        check_run_journal_file(&fixed);
    }
}

fn check_run_journal_file(b: &[u8]) {
    let header = journal::decode_header(b);
    match &header {
        Ok(h) => assert_eq!(
            journal::encode_header(h)[..],
            b[..journal::HEADER_LEN],
            "a header decoded from other bytes than it encodes to"
        ),
        Err(e) => error_offset_in(e, b.len(), "journal header"),
    }
    let salt = header.as_ref().map_or(FIXED_SALT, |h| h.salt);
    let scan = check_journal_scan(b, salt);
    run_journal_in_store(b, header.ok(), &scan);
}

/// Scan `b` with `salt`: no panic, and the scan's invariants. Events come
/// in file order, each a whole frame (length 1 to `MAX_EVENT_LEN`, the
/// checksum of `salt`) from the header's end on, whose event encodes back
/// to a frame that scans as the same event; they follow each other, with
/// sequence numbers 0, 1, …, except where damage is reported: exactly
/// where a gap starts, before a frame whose sequence number skips no more
/// than the gap's bytes could hold (13 bytes a frame). `end` is the end of
/// the last event's frame (the header's end without events), within the
/// input; the tail after it is torn exactly when it is not empty;
/// `next_seq` follows the last event. Scanning `b[..end]` gives the same,
/// without a torn tail.
fn check_journal_scan(b: &[u8], salt: u64) -> JournalScan {
    let s = journal::scan(b, salt);
    let head = journal::HEADER_LEN as u64;
    if b.len() < journal::HEADER_LEN {
        // (`end` is then `HEADER_LEN`, past the input: not checked.)
        assert!(
            s.events.is_empty() && s.damage.is_empty() && !s.torn,
            "a scan of {} bytes, shorter than a header, found {s:?}",
            b.len()
        );
        return s;
    }
    let len = b.len() as u64;
    let mut prev_end = head;
    let mut seq = 0u32;
    let mut gaps = Vec::new();
    for (offset, event) in &s.events {
        assert!(
            *offset >= prev_end,
            "event at {offset} before the end of the previous frame ({prev_end})"
        );
        let at = *offset as usize;
        assert!(
            at + journal::FRAME_HEAD_LEN <= b.len(),
            "event at {at}: no head"
        );
        let n = u32_le(b, at) as usize;
        let found = u32_le(b, at + 4);
        assert!(
            (1..=journal::MAX_EVENT_LEN).contains(&n),
            "event at {at}: length {n}"
        );
        let end = at + journal::FRAME_HEAD_LEN + n;
        assert!(end <= b.len(), "event at {at} ends past the input");
        assert_eq!(
            u32_le(b, at + 8),
            journal_frame_crc(salt, &b[at..end]),
            "event at {at}: checksum of another salt"
        );
        if *offset > prev_end {
            gaps.push(prev_end);
            let room = (*offset - prev_end) as usize / (journal::FRAME_HEAD_LEN + 1);
            assert!(
                found >= seq && (found - seq) as usize <= room,
                "event at {at}: sequence number {found} after {seq} and {} damaged bytes",
                *offset - prev_end
            );
        } else {
            assert_eq!(found, seq, "event at {at}: sequence number");
        }
        let mut one = journal_header().to_vec();
        journal::encode_frame(event, 0, FIXED_SALT, &mut one)
            .unwrap_or_else(|e| panic!("event at {at} does not encode: {e}"));
        let again = journal::scan(&one, FIXED_SALT);
        assert!(
            again.events.len() == 1 && again.events[0].1 == *event && !again.torn,
            "event at {at} does not encode back to itself: {event:?}"
        );
        seq = found.wrapping_add(1);
        prev_end = end as u64;
    }
    let reported: Vec<u64> = s.damage.iter().map(|d| d.0).collect();
    assert_eq!(reported, gaps, "damage reported elsewhere than the gaps");
    assert_eq!(s.end, prev_end, "end is not the end of the last frame");
    assert!(s.end <= len, "end {} past the input ({len})", s.end);
    assert_eq!(s.torn, s.end < len, "torn, yet nothing after the end");
    assert_eq!(s.next_seq, seq, "next sequence number");

    let p = journal::scan(&b[..s.end as usize], salt);
    assert_eq!(p.events, s.events, "the valid prefix scans to other events");
    assert_eq!(p.damage, s.damage, "the valid prefix scans to other damage");
    assert!(!p.torn, "the valid prefix has a torn tail");
    assert_eq!((p.end, p.next_seq), (s.end, s.next_seq));
    s
}

/// A run as the journal's events make it, by the documented rules: a
/// start makes a run (unless its job has one), an event about an unknown
/// job or not following from the run's state is skipped.
#[derive(Clone, Debug)]
struct ModelRun {
    start: Event,
    status: RunStatus,
    attempt: u32,
    attempts: usize,
    next_retry: Option<i64>,
    /// A manual retry was requested and is due.
    requested: bool,
}

/// The runs the events `events` make, by job ID.
fn model_runs(events: &[(u64, Event)]) -> BTreeMap<String, ModelRun> {
    let mut runs: BTreeMap<String, ModelRun> = BTreeMap::new();
    for (_, e) in events {
        let job = e.job_id().to_string();
        match (e, runs.get_mut(&job)) {
            // A run belongs in the file of its trigger time's partition
            // (the file is partition 0 of an hour); others are skipped.
            (Event::Start { trigger_time, .. }, None)
                if !(0..3_600_000_000).contains(trigger_time) => {}
            (Event::Start { .. }, None) => {
                runs.insert(
                    job,
                    ModelRun {
                        start: e.clone(),
                        status: RunStatus::Running,
                        attempt: 1,
                        attempts: 1,
                        next_retry: None,
                        requested: false,
                    },
                );
            }
            (
                Event::Attempt {
                    attempt, manual, ..
                },
                Some(r),
            ) => {
                // A manual attempt follows a failure or a requested retry;
                // an automatic one a retry that was not requested.
                let fits = match (manual, r.requested) {
                    (true, true) | (false, false) => r.status == RunStatus::Retrying,
                    (true, false) => r.status == RunStatus::Failed,
                    (false, true) => false,
                };
                if fits && *attempt == r.attempt.wrapping_add(1) {
                    r.status = RunStatus::Running;
                    r.attempt = *attempt;
                    r.attempts += 1;
                    r.next_retry = None;
                    r.requested = false;
                }
            }
            (Event::RetryRequested { time, .. }, Some(r)) if r.status == RunStatus::Failed => {
                r.status = RunStatus::Retrying;
                r.next_retry = Some(*time);
                r.requested = true;
            }
            (Event::Succeeded { attempt, .. }, Some(r))
                if r.status == RunStatus::Running && *attempt == r.attempt =>
            {
                r.status = RunStatus::Successful;
            }
            (
                Event::Failed {
                    attempt, retry_at, ..
                },
                Some(r),
            ) if r.status == RunStatus::Running && *attempt == r.attempt => {
                r.status = if retry_at.is_some() {
                    RunStatus::Retrying
                } else {
                    RunStatus::Failed
                };
                r.next_retry = *retry_at;
            }
            _ => {}
        }
    }
    runs
}

/// Whether a run triggered at `t` (µs) is listed by an all-time query at
/// [`RECOVERY_NOW`]: from the retention horizon to the end of time.
fn listed_at_recovery(t: i64) -> bool {
    (RECOVERY_HORIZON..i64::MAX).contains(&t)
}

/// Every run of `p` by an all-time query (one page): newest first, each
/// the one `run()` returns, and as many per status as `count_runs` says
/// (a disagreement is added to `late`, for the caller to fail on once its
/// other checks passed).
fn list_runs(p: &Project, late: &mut Vec<String>) -> Vec<Run> {
    let page = p
        .runs(&RunQuery::new().all_time().limit(JOURNAL_PAGE))
        .expect("runs");
    assert!(page.next.is_none(), "more than one page of runs");
    for w in page.runs.windows(2) {
        assert!(
            (w[0].trigger_time, &w[0].job_id) > (w[1].trigger_time, &w[1].job_id),
            "runs out of order"
        );
    }
    let counts = p
        .count_runs(&RunQuery::new().all_time())
        .expect("count_runs");
    let listed = RunStatus::ALL.map(|s| page.runs.iter().filter(|r| r.status == s).count() as u64);
    if counts.by_status != listed || counts.total != page.runs.len() as u64 {
        late.push(format!(
            "count_runs of all time: {} runs, by status {:?}; listed: {}, by status {listed:?}",
            counts.total,
            counts.by_status,
            page.runs.len()
        ));
    }
    for r in &page.runs {
        assert_eq!(
            p.run(&r.job_id).expect("run").as_ref(),
            Some(r),
            "run({}) and the listing disagree",
            r.job_id
        );
    }
    let scheduled = p
        .scheduled_tasks(&RunQuery::new().all_time().limit(JOURNAL_PAGE))
        .expect("scheduled_tasks");
    let expected: Vec<&Run> = page.runs.iter().filter(|r| r.is_scheduled()).collect();
    assert_eq!(
        scheduled.runs.iter().collect::<Vec<_>>(),
        expected,
        "scheduled tasks"
    );
    page.runs
}

/// The listing `runs` agrees with the model of the scanned events.
fn check_runs_model(runs: &[Run], model: &BTreeMap<String, ModelRun>, who: &str) {
    let expected: Vec<&String> = model
        .iter()
        .filter(|(_, m)| match &m.start {
            Event::Start { trigger_time, .. } => listed_at_recovery(*trigger_time),
            _ => false,
        })
        .map(|(job, _)| job)
        .collect();
    let mut listed: Vec<&str> = runs.iter().map(|r| r.job_id.as_str()).collect();
    listed.sort_unstable();
    assert_eq!(listed, expected, "{who}: other runs than the events start");
    for r in runs {
        let m = &model[r.job_id.as_str()];
        let Event::Start {
            flow,
            env,
            app,
            version,
            trigger,
            trigger_time,
            time,
            ..
        } = &m.start
        else {
            unreachable!()
        };
        assert_eq!(
            (
                &r.flow,
                &r.env,
                &r.app,
                &r.version,
                r.trigger,
                r.trigger_time.as_micros()
            ),
            (flow, env, app, version, *trigger, *trigger_time),
            "{who}: run {} is not its start event",
            r.job_id
        );
        assert_eq!(r.attempts[0].start.as_micros(), *time);
        assert_eq!(
            (r.status, r.attempt(), r.attempts.len()),
            (m.status, m.attempt, m.attempts),
            "{who}: run {} does not follow its events",
            r.job_id
        );
        assert_eq!(
            r.next_retry.map(|t| t.as_micros()),
            m.next_retry,
            "{who}: run {}: next retry",
            r.job_id
        );
    }
}

/// The file in a real store as `projects/p/runs/0000000000-0000.runs`:
/// a reader changes nothing; a writer removes a file shorter than a
/// header, sets aside (keeps as it is) one whose header does not decode
/// or names another file, else cuts its torn tail. Both list exactly the
/// runs the scanned events make (by the documented rules, within
/// retention), and can verify. A writer then claims the due retries and
/// starts a run; a reopen lists the same runs and changes no file.
fn run_journal_in_store(file: &[u8], header: Option<JournalHeader>, scan: &JournalScan) {
    let mut late = Vec::new();
    let tmp = scratch();
    let dir = tmp.path();
    let clock = ManualClock::new(RECOVERY_NOW);
    {
        let store = options(&clock).open(dir).expect("create store");
        store.project("p").expect("create project");
    }
    let runs_dir = dir.join("projects").join("p").join("runs");
    fs::create_dir_all(&runs_dir).expect("runs dir");
    let path = runs_dir.join("0000000000-0000.runs");
    fs::write(&path, file).expect("write journal");
    // Whether the store reads the file's frames: a whole header naming it.
    let readable = header.is_some_and(|h| (h.partition, h.generation) == (0, 0));
    let model = if readable {
        model_runs(&scan.events)
    } else {
        BTreeMap::new()
    };

    {
        let store = options(&clock).open_read_only(dir).expect("open read-only");
        let p = store.project("p").expect("open project read-only");
        let runs = list_runs(&p, &mut late);
        check_runs_model(&runs, &model, "reader");
        let _ = p.verify().expect("verify read-only");
        let _ = p.damage();
    }
    assert_eq!(
        fs::read(&path).ok().as_deref(),
        Some(file),
        "a read-only open changed the journal"
    );

    let after_claims = {
        let store = options(&clock).open(dir).expect("open writer");
        let p = store.project("p").expect("open project");
        let runs = list_runs(&p, &mut late);
        check_runs_model(&runs, &model, "writer");
        let report = p.verify().expect("verify");
        let on_disk = fs::read(&path).ok();
        if file.len() < journal::HEADER_LEN {
            assert!(on_disk.is_none(), "a journal shorter than a header kept");
        } else if readable {
            assert_eq!(
                on_disk.as_deref(),
                Some(&file[..scan.end as usize]),
                "recovery did not cut the journal to its valid frames"
            );
            if scan.damage.is_empty() {
                assert!(report.is_ok(), "a clean journal verifies with {report:?}");
            } else {
                assert!(!report.is_ok(), "damage not reported by verify");
                assert!(!p.damage().is_empty(), "damage not reported");
            }
        } else {
            assert_eq!(
                on_disk.as_deref(),
                Some(file),
                "a set-aside journal changed"
            );
            assert!(!p.damage().is_empty(), "a set-aside journal not reported");
            if header.is_none() {
                assert!(!report.is_ok(), "a journal without a header verifies");
            }
        }

        // Claim the due retries and start a run: recorded after the
        // recovered frames.
        // (Retries of runs triggered before the retention horizon are not
        // claimed; those of runs triggered at the end of time, never
        // listed, are.)
        let due: Vec<&str> = model
            .iter()
            .filter(|(_, m)| m.status == RunStatus::Retrying)
            .filter(|(_, m)| m.next_retry.is_some_and(|t| t <= RECOVERY_NOW.as_micros()))
            .filter(|(_, m)| {
                matches!(m.start, Event::Start { trigger_time, .. } if trigger_time >= RECOVERY_HORIZON)
            })
            .map(|(job, _)| job.as_str())
            .collect();
        let tickets = p.due_retries(RECOVERY_NOW).expect("due_retries");
        let mut claimed: Vec<&str> = tickets.iter().map(|t| t.job_id.as_str()).collect();
        claimed.sort_unstable();
        assert_eq!(claimed, due, "claimed other retries than the due ones");
        for t in &tickets {
            let run = p.run(&t.job_id).expect("run");
            if let Some(run) = run {
                assert_eq!((run.status, run.attempt()), (RunStatus::Running, t.attempt));
            }
        }
        let new = NewRun::new("fuzz-check", "f", Trigger::Scheduler);
        match p.start_run(&new) {
            Ok(r) => assert!(!model.contains_key("fuzz-check"), "started twice: {r:?}"),
            Err(Error::JobExists { .. }) => assert!(model.contains_key("fuzz-check")),
            Err(e) => panic!("start_run: {e}"),
        }
        p.sync().expect("sync");
        list_runs(&p, &mut late)
    };
    let files = snapshot(&runs_dir);
    {
        let store = options(&clock).open(dir).expect("reopen writer");
        let p = store.project("p").expect("reopen project");
        assert_eq!(
            list_runs(&p, &mut late),
            after_claims,
            "other runs after a reopen"
        );
        let _ = p.verify().expect("verify");
    }
    assert!(
        snapshot(&runs_dir) == files,
        "a reopen changed the journal files"
    );
    assert!(late.is_empty(), "{}", late.join("\n"));
}

// ---------------------------------------------------------------------------
// cut_log: a project's `cuts` file (the cut count, then the cut log).
// ---------------------------------------------------------------------------

/// Where the cut log's header starts, where its entries start, and an
/// entry's length (see `src/cuts/mod.rs`).
pub const CUT_LOG_AT: usize = 8;
pub const CUT_ENTRIES_AT: usize = 24;
pub const CUT_ENTRY_LEN: usize = 44;

/// An entry of the cut log, laid out by the documented table.
pub fn cut_entry(
    seq: u64,
    kind: u8,
    partition: u32,
    generation: u32,
    ordinal: u32,
    salt: u64,
    offset: u64,
) -> Vec<u8> {
    let mut b = Vec::with_capacity(CUT_ENTRY_LEN);
    b.extend_from_slice(&seq.to_le_bytes());
    b.extend_from_slice(&[kind, 0, 0, 0]);
    b.extend_from_slice(&partition.to_le_bytes());
    b.extend_from_slice(&generation.to_le_bytes());
    b.extend_from_slice(&ordinal.to_le_bytes());
    b.extend_from_slice(&salt.to_le_bytes());
    b.extend_from_slice(&offset.to_le_bytes());
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

/// A `cuts` file: the count, the log's header (version 2), the entries.
pub fn cut_log_file(count: u64, entries: &[Vec<u8>]) -> Vec<u8> {
    let mut b = count.to_le_bytes().to_vec();
    b.extend_from_slice(b"RLCUTLOG");
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&(CUT_ENTRY_LEN as u16).to_le_bytes());
    let crc = crc32fast::hash(&b[CUT_LOG_AT..]);
    b.extend_from_slice(&crc.to_le_bytes());
    for e in entries {
        b.extend_from_slice(e);
    }
    b
}

/// `b` with the checksums of the log's header and of every whole entry
/// recomputed, and every entry salt of [`FIXED_SALT`] made `salt`.
fn fix_cut_log(b: &[u8], salt: u64) -> Vec<u8> {
    let mut f = b.to_vec();
    if f.len() >= CUT_ENTRIES_AT {
        let crc = crc32fast::hash(&f[CUT_LOG_AT..CUT_ENTRIES_AT - 4]);
        put_u32(&mut f, CUT_ENTRIES_AT - 4, crc);
    }
    if f.len() > CUT_ENTRIES_AT {
        for e in f[CUT_ENTRIES_AT..].chunks_exact_mut(CUT_ENTRY_LEN) {
            if u64_le(e, 24) == FIXED_SALT {
                e[24..32].copy_from_slice(&salt.to_le_bytes());
            }
            let crc = crc32fast::hash(&e[..40]);
            put_u32(e, 40, crc);
        }
    }
    f
}

/// The decoder of the `cuts` file agrees with the documented layout and
/// re-encodes what it accepts to the same bytes; what a reader learns of
/// the cuts between two counts is all of them or none (then it reads
/// everything again), never a panic.
fn check_cut_log_decode(b: &[u8]) {
    let (count, entries, end) = runlog::__fuzz::cut_log(b);
    assert_eq!(count, if b.len() >= 8 { u64_le(b, 0) } else { 0 });
    let has_log = b.len() >= CUT_ENTRIES_AT
        && &b[CUT_LOG_AT..CUT_LOG_AT + 8] == b"RLCUTLOG"
        // Version 1 or 2 (the same layout), then the entry length.
        && [1, 2].map(|v| v | ((CUT_ENTRY_LEN as u32) << 16)).contains(&u32_le(b, 16))
        && crc32fast::hash(&b[CUT_LOG_AT..CUT_ENTRIES_AT - 4]) == u32_le(b, CUT_ENTRIES_AT - 4);
    if !has_log {
        assert_eq!(
            (entries.len(), end),
            (0, CUT_LOG_AT),
            "a log without its header"
        );
    } else {
        assert_eq!(end, CUT_ENTRIES_AT + CUT_ENTRY_LEN * entries.len());
        assert!(end <= b.len());
    }
    for (i, (seq, bytes)) in entries.iter().enumerate() {
        let at = CUT_ENTRIES_AT + CUT_ENTRY_LEN * i;
        let e = &b[at..at + CUT_ENTRY_LEN];
        assert_eq!(e, &bytes[..], "entry {i} is not canonical");
        assert_eq!(*seq, u64_le(e, 0));
        assert!(
            e[8] <= 3 && e[9..12] == [0, 0, 0],
            "entry {i}: kind or zeros"
        );
        assert_eq!(
            crc32fast::hash(&e[..40]),
            u32_le(e, 40),
            "entry {i}: checksum"
        );
    }
    // Whatever follows the valid entries does not decode as the next one.
    if has_log && end + CUT_ENTRY_LEN <= b.len() && entries.len() < 1024 {
        let next = &b[end..end + CUT_ENTRY_LEN];
        assert!(
            crc32fast::hash(&next[..40]) != u32_le(next, 40)
                || next[8] > 3
                || next[9..12] != [0, 0, 0]
                || match next[8] {
                    0 => next[12..40] != [0; 28],
                    2 => u32_le(next, 20) != 0 || u64_le(next, 32) != 0,
                    3 => u32_le(next, 20) != 0,
                    _ => false,
                },
            "a valid entry was left out"
        );
    }
    let mut probes = vec![
        (0, 0),
        (0, 1),
        (0, u64::MAX),
        (u64::MAX, 0),
        (u64::MAX, u64::MAX),
        (count, count),
        (count.wrapping_sub(1), count),
        (count.wrapping_sub(2), count),
    ];
    for (seq, _) in entries.iter().take(8) {
        probes.extend([
            (seq.wrapping_sub(1), *seq),
            (seq.wrapping_sub(1), count),
            (*seq, count),
        ]);
    }
    for (seen, c) in probes {
        match runlog::__fuzz::cuts_since(b, seen, c) {
            Some(n) => {
                assert_eq!(Some(n as u64), c.checked_sub(seen), "{seen}..{c}");
                // Each of the cuts has its entry, in order, none "anything".
                if n > 0 {
                    let first = entries
                        .iter()
                        .position(|(s, _)| *s == seen + 1)
                        .expect("the first cut's entry");
                    for (k, (s, e)) in entries[first..first + n].iter().enumerate() {
                        assert_eq!(*s, seen + 1 + k as u64);
                        assert_ne!(e[8], 0, "a cut of anything, told apart");
                    }
                }
            }
            None => assert_ne!(seen, c, "no cut to tell"),
        }
    }
}

/// The `cuts` file `b` written into a store a reader has read and follows
/// (the template of `store_meta`: a sealed and an active segment): the
/// reader still shows exactly the store's records, reports no damage, and
/// its follower delivers nothing that is not stored; a writer opens,
/// appends, and the reader and its follower see the new record; a second
/// writer opens too.
fn check_cut_log_store(b: &[u8]) {
    let template = meta_template();
    let tmp = scratch();
    let dir = tmp.path();
    copy_tree(template.dir.path(), dir);
    let clock = ManualClock::new(META_NOW);
    let reader_store = options(&clock).open_read_only(dir).expect("reader");
    let reader = reader_store.project("p").expect("reader project");
    let mut follow = reader.follow(&Query::new()).expect("follow");
    assert_eq!(collect(&reader, 100), template.records);
    fs::write(dir.join("projects/p/cuts"), b).unwrap();

    let stored = |r: &StoredRecord, records: &[StoredRecord]| {
        records.iter().any(|s| s.id == r.id && s.record == r.record)
    };
    assert_eq!(
        collect(&reader, 100),
        template.records,
        "reader, after the log changed"
    );
    for r in follow
        .next_batch(std::time::Duration::ZERO)
        .expect("follow")
    {
        assert!(
            stored(&r, &template.records),
            "delivered what is not stored: {r:?}"
        );
    }
    assert!(reader.damage().is_empty(), "{:?}", reader.damage());
    {
        let store = options(&clock).open(dir).expect("writer");
        let p = store.project("p").expect("writer project");
        let id = p
            .append(&LogRecord::new(
                META_NOW,
                Level::Info,
                "job-3",
                "after the log",
            ))
            .expect("append");
        let records = collect(&p, 100);
        assert_eq!(records.len(), template.records.len() + 1);
        assert_eq!(collect(&reader, 100), records, "reader, after an append");
        let mut delivered = follow
            .next_batch(std::time::Duration::ZERO)
            .expect("follow");
        delivered.extend(
            follow
                .next_batch(std::time::Duration::ZERO)
                .expect("follow"),
        );
        assert!(
            delivered.iter().any(|r| r.id == id),
            "the new record not delivered"
        );
        for r in &delivered {
            assert!(stored(r, &records), "delivered what is not stored: {r:?}");
        }
        assert!(reader.damage().is_empty(), "{:?}", reader.damage());
    }
    let store = options(&clock).open(dir).expect("second writer");
    let p = store.project("p").expect("second writer project");
    assert_eq!(collect(&p, 100).len(), template.records.len() + 1);
}

/// The salt of the template's active segment (header bytes 36..44).
fn template_active_salt() -> u64 {
    static SALT: OnceLock<u64> = OnceLock::new();
    *SALT.get_or_init(|| {
        let dir = meta_template().dir.path().join("projects/p");
        let wal = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "wal"))
            .expect("the template's active segment");
        u64_le(&fs::read(wal).unwrap(), SALT_AT)
    })
}

/// `data` as a project's `cuts` file (then again with its checksums
/// recomputed and [`FIXED_SALT`] made the salt of the template's active
/// segment, so that seeds can name it): see [`check_cut_log_decode`] and
/// [`check_cut_log_store`].
pub fn check_cut_log(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    let mut variants = vec![data.to_vec()];
    let fixed = fix_cut_log(data, template_active_salt());
    if fixed != data {
        variants.push(fixed);
    }
    for b in variants {
        check_cut_log_decode(&b);
        check_cut_log_store(&b);
    }
}
