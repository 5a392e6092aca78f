//! The byte layout of a segment file, and its pure encode/decode.
//!
//! Nothing here touches a file: every function takes or returns bytes, so
//! the format can be unit-tested, fuzzed and run under miri. All integers
//! are little-endian.
//!
//! # A segment file
//!
//! ```text
//! +--------+---------+---------+-----+---------+------------+---------+
//! | header | frame 0 | frame 1 | ... | frame n | seal block | trailer |
//! +--------+---------+---------+-----+---------+------------+---------+
//!  64 B                                          (sealed files only)
//! ```
//!
//! An *active* segment (`*.wal`) is a header followed by frames, appended
//! to. Sealing appends the seal block and the trailer, syncs, and renames
//! the file to `*.seg`; from then on it is never written again and is read
//! through a memory map, opened from its trailer without a scan of its
//! frames (its tables are checked once, on first use).
//!
//! ## Header (64 bytes)
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0  | 8 | magic `RUNLOGSG` |
//! | 8  | 2 | format version, `1` |
//! | 10 | 1 | layout: `0` = plain frames (other values reserved for a compressed block layout) |
//! | 11 | 1 | reserved, 0 |
//! | 12 | 4 | partition index (partition start = index × partition length) |
//! | 16 | 4 | generation within the partition |
//! | 20 | 8 | partition length, microseconds |
//! | 28 | 8 | creation time, microseconds since the epoch |
//! | 36 | 8 | salt: a random number mixed into every frame checksum |
//! | 44 | 16 | reserved, 0 |
//! | 60 | 4 | CRC32 of bytes 0..60 |
//!
//! ## Frame (20-byte head, then the body)
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0  | 4 | summary length `S` (`0xFFFF_FFFF` marks the seal block instead) |
//! | 4  | 4 | detail length `D` |
//! | 8  | 4 | ordinal: the record's number in this segment |
//! | 12 | 4 | CRC32 of the salt (8 bytes, LE) followed by the detail bytes |
//! | 16 | 4 | CRC32 of the salt, bytes 0..16, and the summary |
//! | 20 | S | summary (below) |
//! | 20+S | D | detail, UTF-8 |
//!
//! The head CRC covers the lengths, so a corrupt length is caught before it
//! is trusted; the detail has its own CRC so listing a record never reads
//! its detail. Both mix in the segment's salt, which never leaves the
//! store: a log line whose text spells out a frame cannot pass for one
//! when recovery looks for the next valid frame after damage. Ordinals
//! follow each other; a gap is accepted only where damaged bytes could
//! have held the missing frames (at least [`MIN_FRAME_LEN`] bytes each).
//!
//! ## Summary
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0  | 8 | time, microseconds since the epoch (i64) |
//! | 8  | 1 | level: 0 Debug, 1 Info, 2 Warn, 3 Error |
//! | 9  | 1 | flags: bit 0 = has detail; other bits 0 |
//! | 10 | 4 | attempt (from 1; 0 is read back as is: writers before appends checked it could store it) |
//! | 14 | … | nine strings, each a u16 length and UTF-8 bytes: job_id, flow, component, action, category, env, app, version, content |
//!
//! ## Seal block and trailer
//!
//! With `N` = slots (highest ordinal + 1) and `L` = frames present:
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0 | 4 | `0xFFFF_FFFF` marker |
//! | 4 | 8·N | time of each ordinal (i64; 0 for a missing ordinal) |
//! | 4+8N | 4·N | file offset of each ordinal's frame (`0xFFFF_FFFF` if missing) |
//! | 4+12N | 4·L | ordinals sorted by (time, ordinal) |
//!
//! Trailer (64 bytes, the end of the file):
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0  | 8 | magic `RLSEALED` |
//! | 8  | 8 | offset of the seal block (= end of the frames) |
//! | 16 | 4 | slots `N` |
//! | 20 | 4 | frames present `L` |
//! | 24 | 8 | smallest record time |
//! | 32 | 8 | largest record time |
//! | 40 | 4 | CRC32 of the seal block |
//! | 44 | 1 | layout, as in the header |
//! | 45 | 15 | reserved, 0 |
//! | 60 | 4 | CRC32 of bytes 0..60 |
//!
//! `seal.rs` encodes and checks them; `scan.rs` finds frames in a file.

use crate::record::{
    Field, Level, LogRecord, MAX_CONTENT_BYTES, MAX_DETAIL_BYTES, MAX_JOB_ID_BYTES, MAX_NAME_BYTES,
    Text,
};
use crate::time::Timestamp;

pub use crate::codec::DecodeError;
pub(crate) use crate::codec::{i64_at, u16_at, u32_at, u64_at};

/// Magic number at the start of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"RUNLOGSG";
/// Magic number at the start of a sealed segment's trailer.
pub const TRAILER_MAGIC: [u8; 8] = *b"RLSEALED";
/// The on-disk format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// Layout code of plain (uncompressed) frames.
pub const LAYOUT_FRAMES: u8 = 0;

pub(crate) const H_MAGIC: usize = 0;
pub(crate) const H_VERSION: usize = H_MAGIC + 8;
pub(crate) const H_LAYOUT: usize = H_VERSION + 2;
pub(crate) const H_PARTITION: usize = H_LAYOUT + 2;
pub(crate) const H_GENERATION: usize = H_PARTITION + 4;
pub(crate) const H_PARTITION_LEN: usize = H_GENERATION + 4;
pub(crate) const H_CREATED: usize = H_PARTITION_LEN + 8;
pub(crate) const H_SALT: usize = H_CREATED + 8;
pub(crate) const H_CRC: usize = 60;
/// Length of the segment header.
pub const HEADER_LEN: usize = H_CRC + 4;

pub(crate) const F_SUMMARY_LEN: usize = 0;
pub(crate) const F_DETAIL_LEN: usize = F_SUMMARY_LEN + 4;
pub(crate) const F_ORDINAL: usize = F_DETAIL_LEN + 4;
pub(crate) const F_DETAIL_CRC: usize = F_ORDINAL + 4;
pub(crate) const F_HEAD_CRC: usize = F_DETAIL_CRC + 4;
/// Length of a frame's head.
pub const FRAME_HEAD_LEN: usize = F_HEAD_CRC + 4;
/// Value of the summary-length field that marks the seal block.
pub const SEAL_MARKER: u32 = u32::MAX;

pub(crate) const S_TIME: usize = 0;
pub(crate) const S_LEVEL: usize = S_TIME + 8;
pub(crate) const S_FLAGS: usize = S_LEVEL + 1;
pub(crate) const S_ATTEMPT: usize = S_FLAGS + 1;
pub(crate) const S_STRINGS: usize = S_ATTEMPT + 4;
const FLAG_HAS_DETAIL: u8 = 1;
/// The smallest possible frame: a head and a summary of empty strings.
pub const MIN_FRAME_LEN: usize = FRAME_HEAD_LEN + S_STRINGS + 9 * 2;
/// Longest summary a valid frame can hold.
pub const MAX_SUMMARY_LEN: usize =
    S_STRINGS + 9 * 2 + MAX_JOB_ID_BYTES + 7 * MAX_NAME_BYTES + MAX_CONTENT_BYTES;

pub(crate) const T_MAGIC: usize = 0;
pub(crate) const T_BLOCK_OFFSET: usize = T_MAGIC + 8;
pub(crate) const T_SLOTS: usize = T_BLOCK_OFFSET + 8;
pub(crate) const T_LIVE: usize = T_SLOTS + 4;
pub(crate) const T_MIN_TIME: usize = T_LIVE + 4;
pub(crate) const T_MAX_TIME: usize = T_MIN_TIME + 8;
pub(crate) const T_BLOCK_CRC: usize = T_MAX_TIME + 8;
pub(crate) const T_LAYOUT: usize = T_BLOCK_CRC + 4;
pub(crate) const T_CRC: usize = 60;
/// Length of a sealed segment's trailer.
pub const TRAILER_LEN: usize = T_CRC + 4;

/// Offset value of a missing ordinal in the seal block.
pub const MISSING: u32 = u32::MAX;

/// What a segment header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Layout code ([`LAYOUT_FRAMES`]).
    pub layout: u8,
    /// Partition index.
    pub partition: u32,
    /// Generation within the partition.
    pub generation: u32,
    /// Partition length in microseconds.
    pub partition_len: u64,
    /// When the segment was created.
    pub created: Timestamp,
    /// Mixed into every frame checksum of the segment.
    pub salt: u64,
}

/// The 64 header bytes for `h`.
pub fn encode_header(h: &SegmentHeader) -> [u8; HEADER_LEN] {
    let mut b = [0u8; HEADER_LEN];
    b[H_MAGIC..H_MAGIC + 8].copy_from_slice(&SEGMENT_MAGIC);
    b[H_VERSION..H_VERSION + 2].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    b[H_LAYOUT] = h.layout;
    b[H_PARTITION..H_PARTITION + 4].copy_from_slice(&h.partition.to_le_bytes());
    b[H_GENERATION..H_GENERATION + 4].copy_from_slice(&h.generation.to_le_bytes());
    b[H_PARTITION_LEN..H_PARTITION_LEN + 8].copy_from_slice(&h.partition_len.to_le_bytes());
    b[H_CREATED..H_CREATED + 8].copy_from_slice(&h.created.as_micros().to_le_bytes());
    b[H_SALT..H_SALT + 8].copy_from_slice(&h.salt.to_le_bytes());
    let crc = crc32fast::hash(&b[..H_CRC]);
    b[H_CRC..].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Decode and check a header from the first bytes of a segment file.
pub fn decode_header(b: &[u8]) -> Result<SegmentHeader, DecodeError> {
    if b.len() < HEADER_LEN {
        return Err(DecodeError::at(
            b.len(),
            format!("file ends inside the {HEADER_LEN}-byte header"),
        ));
    }
    if b[H_MAGIC..H_MAGIC + 8] != SEGMENT_MAGIC {
        return Err(DecodeError::at(
            0,
            "not a runlog segment (bad magic number)",
        ));
    }
    if crc32fast::hash(&b[..H_CRC]) != u32_at(b, H_CRC) {
        return Err(DecodeError::at(H_CRC, "header checksum mismatch"));
    }
    let version = u16_at(b, H_VERSION);
    if version != FORMAT_VERSION {
        return Err(DecodeError::Version {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let layout = b[H_LAYOUT];
    if layout != LAYOUT_FRAMES {
        return Err(DecodeError::at(
            H_LAYOUT,
            format!("unknown layout {layout}"),
        ));
    }
    let partition_len = u64_at(b, H_PARTITION_LEN);
    if partition_len == 0 {
        return Err(DecodeError::at(H_PARTITION_LEN, "partition length is zero"));
    }
    Ok(SegmentHeader {
        layout,
        partition: u32_at(b, H_PARTITION),
        generation: u32_at(b, H_GENERATION),
        partition_len,
        created: Timestamp::from_micros(i64_at(b, H_CREATED)),
        salt: u64_at(b, H_SALT),
    })
}

/// The length of the frame `encode_frame` writes for `r`.
pub fn frame_len(r: &LogRecord) -> usize {
    FRAME_HEAD_LEN
        + S_STRINGS
        + 9 * 2
        + r.summary_strings().iter().map(|s| s.len()).sum::<usize>()
        + r.detail.as_ref().map_or(0, |d| d.len())
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Lengths were checked by `LogRecord::validate`; every field fits a u16.
    let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&s.as_bytes()[..usize::from(len)]);
}

/// A fresh random salt for a new segment.
pub fn new_salt() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // std's RandomState is seeded from the OS's randomness.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.finish()
}

/// The checksum of `salt`'s 8 bytes, where every checksum of a segment
/// with that salt starts: a reader or writer of many frames computes it
/// once ([`parse_frame_seeded`], [`encode_frame_seeded`]).
pub(crate) fn salt_seed(salt: u64) -> u32 {
    crc32fast::hash(&salt.to_le_bytes())
}

fn detail_crc(seed: u32, detail: &[u8]) -> u32 {
    if detail.is_empty() {
        // Most records have no detail: the checksum of the salt alone.
        return seed;
    }
    let mut h = crc32fast::Hasher::new_with_initial(seed);
    h.update(detail);
    h.finalize()
}

/// Append the frame of `r` (already validated) with `ordinal` to `out`,
/// checksummed with the segment's `salt`; returns the frame's length.
#[cfg(any(test, feature = "__internal"))]
pub fn encode_frame(r: &LogRecord, ordinal: u32, salt: u64, out: &mut Vec<u8>) -> usize {
    encode_frame_seeded(r, ordinal, salt_seed(salt), out)
}

/// `encode_frame` given the salt's [`salt_seed`], which a writer of
/// many frames computes once.
#[inline]
pub(crate) fn encode_frame_seeded(
    r: &LogRecord,
    ordinal: u32,
    seed: u32,
    out: &mut Vec<u8>,
) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0u8; FRAME_HEAD_LEN]);
    let summary_start = out.len();
    out.extend_from_slice(&r.time.as_micros().to_le_bytes());
    out.push(r.level.code());
    out.push(if r.detail.is_some() {
        FLAG_HAS_DETAIL
    } else {
        0
    });
    out.extend_from_slice(&r.attempt.to_le_bytes());
    for s in r.summary_strings() {
        put_str(out, s);
    }
    let summary_len = (out.len() - summary_start) as u32;
    let detail = r.detail.as_deref().unwrap_or("").as_bytes();
    out.extend_from_slice(detail);
    let head = &mut out[start..summary_start];
    head[F_SUMMARY_LEN..F_SUMMARY_LEN + 4].copy_from_slice(&summary_len.to_le_bytes());
    head[F_DETAIL_LEN..F_DETAIL_LEN + 4].copy_from_slice(&(detail.len() as u32).to_le_bytes());
    head[F_ORDINAL..F_ORDINAL + 4].copy_from_slice(&ordinal.to_le_bytes());
    head[F_DETAIL_CRC..F_DETAIL_CRC + 4].copy_from_slice(&detail_crc(seed, detail).to_le_bytes());
    let mut h = crc32fast::Hasher::new_with_initial(seed);
    h.update(&out[start..start + F_HEAD_CRC]);
    h.update(&out[summary_start..summary_start + summary_len as usize]);
    let crc = h.finalize();
    out[start + F_HEAD_CRC..start + FRAME_HEAD_LEN].copy_from_slice(&crc.to_le_bytes());
    out.len() - start
}

/// A frame located in a buffer, with its head checksum verified.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// The record's ordinal.
    pub ordinal: u32,
    /// Summary bytes.
    pub summary: &'a [u8],
    /// Detail bytes (not yet checked; see [`Frame::check_detail`]).
    pub detail: &'a [u8],
    detail_crc: u32,
    salt: u64,
}

impl Frame<'_> {
    /// Whole frame length in bytes.
    #[allow(clippy::len_without_is_empty)] // A frame is never empty.
    pub fn len(&self) -> usize {
        FRAME_HEAD_LEN + self.summary.len() + self.detail.len()
    }

    /// The record time, read from the summary.
    pub fn time(&self) -> i64 {
        i64_at(self.summary, S_TIME)
    }

    /// Verify the detail checksum.
    pub fn check_detail(&self) -> Result<(), DecodeError> {
        if detail_crc(salt_seed(self.salt), self.detail) == self.detail_crc {
            Ok(())
        } else {
            Err(DecodeError::at(
                FRAME_HEAD_LEN + self.summary.len(),
                "detail checksum mismatch",
            ))
        }
    }
}

/// Parse the frame starting at `b[0]` of a segment with `salt`, checking
/// the head checksum and the lengths (not the detail checksum).
/// `Ok(None)` means `b` starts with the seal marker.
pub fn parse_frame(b: &[u8], salt: u64) -> Result<Option<Frame<'_>>, DecodeError> {
    parse_frame_seeded(b, salt, salt_seed(salt))
}

/// [`parse_frame`] with `seed` = [`salt_seed`]`(salt)`, computed once by
/// the caller. Inlined: a frame returned through memory stalled the
/// loads reading it back (perf).
#[inline(always)]
pub(crate) fn parse_frame_seeded(
    b: &[u8],
    salt: u64,
    seed: u32,
) -> Result<Option<Frame<'_>>, DecodeError> {
    if b.len() < 4 {
        return Err(DecodeError::at(b.len(), "file ends inside a frame head"));
    }
    let summary_len = u32_at(b, F_SUMMARY_LEN);
    if summary_len == SEAL_MARKER {
        return Ok(None);
    }
    if b.len() < FRAME_HEAD_LEN {
        return Err(DecodeError::at(b.len(), "file ends inside a frame head"));
    }
    let summary_len = summary_len as usize;
    let detail_len = u32_at(b, F_DETAIL_LEN) as usize;
    if !(S_STRINGS + 18..=MAX_SUMMARY_LEN).contains(&summary_len) {
        return Err(DecodeError::at(
            F_SUMMARY_LEN,
            format!("summary length {summary_len} out of bounds"),
        ));
    }
    if detail_len > MAX_DETAIL_BYTES {
        return Err(DecodeError::at(
            F_DETAIL_LEN,
            format!("detail length {detail_len} out of bounds"),
        ));
    }
    let summary_end = FRAME_HEAD_LEN + summary_len;
    if b.len() < summary_end + detail_len {
        return Err(DecodeError::at(b.len(), "file ends inside a frame"));
    }
    let summary = &b[FRAME_HEAD_LEN..summary_end];
    let mut h = crc32fast::Hasher::new_with_initial(seed);
    h.update(&b[..F_HEAD_CRC]);
    h.update(summary);
    if h.finalize() != u32_at(b, F_HEAD_CRC) {
        return Err(DecodeError::at(F_HEAD_CRC, "frame checksum mismatch"));
    }
    Ok(Some(Frame {
        ordinal: u32_at(b, F_ORDINAL),
        summary,
        detail: &b[summary_end..summary_end + detail_len],
        detail_crc: u32_at(b, F_DETAIL_CRC),
        salt,
    }))
}

/// A summary decoded without copying: its strings borrow the frame's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SummaryRef<'a> {
    /// The record time.
    pub time: Timestamp,
    /// The record level.
    pub level: Level,
    /// The attempt that wrote the record.
    pub attempt: u32,
    /// Whether the stored record has a detail.
    pub has_detail: bool,
    /// `job_id`, `flow`, `component`, `action`, `category`, `env`, `app`,
    /// `version` and `content`, in this order (see [`SUMMARY_FIELDS`]).
    pub strings: [&'a str; 9],
}

/// The record fields of [`SummaryRef::strings`], in order.
pub const SUMMARY_FIELDS: [Field; 9] = [
    Field::JobId,
    Field::Flow,
    Field::Component,
    Field::Action,
    Field::Category,
    Field::Env,
    Field::App,
    Field::Version,
    Field::Content,
];

impl SummaryRef<'_> {
    /// The record, owned (`detail` left `None`).
    pub fn to_record(&self) -> LogRecord {
        let s = &self.strings;
        LogRecord {
            time: self.time,
            level: self.level,
            attempt: self.attempt,
            job_id: Text::from(s[0]),
            flow: Text::from(s[1]),
            component: Text::from(s[2]),
            action: Text::from(s[3]),
            category: Text::from(s[4]),
            env: Text::from(s[5]),
            app: Text::from(s[6]),
            version: Text::from(s[7]),
            content: Text::from(s[8]),
            detail: None,
        }
    }
}

/// A summary whose strings are not yet checked to be UTF-8: what
/// [`decode_summary_raw`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SummaryRaw<'a> {
    /// The record time.
    pub time: Timestamp,
    /// The record level.
    pub level: Level,
    /// The attempt that wrote the record.
    pub attempt: u32,
    /// Whether the stored record has a detail.
    pub has_detail: bool,
    /// The bytes of the strings of [`SUMMARY_FIELDS`], in order.
    pub strings: [&'a [u8]; 9],
    /// The summary's whole string section: each string after its 2-byte
    /// little-endian length, one after the other (the `strings` borrow
    /// from it). The lengths are binary: the section as a whole is not
    /// text even when every string is. A caller checking several strings
    /// with one UTF-8 check must cover only lengths whose two bytes are
    /// ASCII (strings under 128 bytes), or replace the lengths with ASCII
    /// bytes in a copy; page views do the first, and the second for
    /// records with a job ID or name of 128 bytes or more.
    pub section: &'a [u8],
}

/// Decode a summary's layout (every length and bound checked) without
/// checking that its strings are UTF-8; [`decode_summary_ref`] checks
/// each. Layout errors are reported before any UTF-8 error.
#[inline(always)]
pub fn decode_summary_raw(s: &[u8]) -> Result<SummaryRaw<'_>, DecodeError> {
    if s.len() < S_STRINGS {
        return Err(DecodeError::at(s.len(), "summary too short"));
    }
    let level = Level::from_code(s[S_LEVEL])
        .ok_or_else(|| DecodeError::at(S_LEVEL, format!("unknown level code {}", s[S_LEVEL])))?;
    let flags = s[S_FLAGS];
    if flags & !FLAG_HAS_DETAIL != 0 {
        return Err(DecodeError::at(
            S_FLAGS,
            format!("unknown flags {flags:#x}"),
        ));
    }
    let mut at = S_STRINGS;
    let mut strings: [&[u8]; 9] = [&[]; 9];
    for (slot, field) in strings.iter_mut().zip(SUMMARY_FIELDS) {
        let max = field.max_bytes();
        if s.len() < at + 2 {
            return Err(DecodeError::at(at, "summary ends inside a string length"));
        }
        let len = usize::from(u16_at(s, at));
        if len > max || s.len() < at + 2 + len {
            return Err(DecodeError::at(
                at,
                format!("string length {len} out of bounds"),
            ));
        }
        *slot = &s[at + 2..at + 2 + len];
        at += 2 + len;
    }
    if at != s.len() {
        return Err(DecodeError::at(at, "trailing bytes after the summary"));
    }
    Ok(SummaryRaw {
        time: Timestamp::from_micros(i64_at(s, S_TIME)),
        level,
        attempt: u32_at(s, S_ATTEMPT),
        has_detail: flags & FLAG_HAS_DETAIL != 0,
        strings,
        section: &s[S_STRINGS..],
    })
}

/// Decode a summary without copying its strings.
pub fn decode_summary_ref(s: &[u8]) -> Result<SummaryRef<'_>, DecodeError> {
    let raw = decode_summary_raw(s)?;
    let mut strings = [""; 9];
    for (slot, bytes) in strings.iter_mut().zip(raw.strings) {
        *slot = std::str::from_utf8(bytes).map_err(|_| {
            // Where the string starts in `s` (it borrows from `s`).
            let at = bytes.as_ptr() as usize - s.as_ptr() as usize;
            DecodeError::at(at, "string is not UTF-8")
        })?;
    }
    Ok(SummaryRef {
        time: raw.time,
        level: raw.level,
        attempt: raw.attempt,
        has_detail: raw.has_detail,
        strings,
    })
}

/// Decode a summary into a record (`detail` left `None`) and whether the
/// stored record has a detail.
pub fn decode_summary(s: &[u8]) -> Result<(LogRecord, bool), DecodeError> {
    decode_summary_ref(s).map(|r| (r.to_record(), r.has_detail))
}

/// Decode a whole frame (both checksums) into a record with its detail.
pub fn decode_full(frame: &Frame<'_>) -> Result<LogRecord, DecodeError> {
    frame.check_detail()?;
    let (mut record, has_detail) =
        decode_summary(frame.summary).map_err(|e| e.shifted(FRAME_HEAD_LEN as u64))?;
    if has_detail {
        let text = std::str::from_utf8(frame.detail).map_err(|_| {
            DecodeError::at(FRAME_HEAD_LEN + frame.summary.len(), "detail is not UTF-8")
        })?;
        record.detail = Some(text.to_owned());
    } else if !frame.detail.is_empty() {
        return Err(DecodeError::at(
            F_DETAIL_LEN,
            "detail bytes without the detail flag",
        ));
    }
    Ok(record)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const SALT: u64 = 0x1234_5678_9abc_def0;

    #[test]
    fn summary_strings_follow_summary_fields() {
        let r = record(3);
        let strings: Vec<&str> = r.summary_strings().iter().map(|s| s.as_str()).collect();
        let by_field: Vec<&str> = SUMMARY_FIELDS.iter().map(|&f| r.field(f)).collect();
        assert_eq!(strings, by_field);
        assert_eq!(
            strings
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len(),
            9
        );
    }

    /// A record with every field set, distinct by `i` (shared by the
    /// tests of `scan.rs`).
    pub(crate) fn record(i: i64) -> LogRecord {
        LogRecord::new(
            Timestamp::from_micros(1_000 + i),
            Level::Warn,
            format!("job-{i}"),
            "héllo wörld",
        )
        .flow("f")
        .component("HTTP")
        .action("POST")
        .category("out")
        .env("prod")
        .app("shop")
        .version("v2")
        .attempt(2)
    }

    #[test]
    fn header_round_trip_and_checks() {
        let h = SegmentHeader {
            layout: LAYOUT_FRAMES,
            partition: 7,
            generation: 2,
            partition_len: 3_600_000_000,
            created: Timestamp::from_secs(99),
            salt: 0x5eed,
        };
        let b = encode_header(&h);
        assert_eq!(&b[..8], b"RUNLOGSG");
        assert_eq!(decode_header(&b), Ok(h));

        let mut bad = b;
        bad[0] = b'X';
        assert_eq!(
            decode_header(&bad),
            Err(DecodeError::Corrupt {
                offset: 0,
                reason: "not a runlog segment (bad magic number)".into()
            })
        );
        let mut v2 = b;
        v2[H_VERSION] = 2;
        let crc = crc32fast::hash(&v2[..H_CRC]);
        v2[H_CRC..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            decode_header(&v2),
            Err(DecodeError::Version {
                found: 2,
                supported: FORMAT_VERSION
            })
        );
        let mut flipped = b;
        flipped[13] ^= 1;
        assert!(matches!(
            decode_header(&flipped),
            Err(DecodeError::Corrupt { offset: 60, .. })
        ));
        assert!(matches!(
            decode_header(&b[..63]),
            Err(DecodeError::Corrupt { offset: 63, .. })
        ));
    }

    #[test]
    fn frame_round_trip_with_and_without_detail() {
        for r in [
            record(1),
            record(2).detail("{\"body\": \"x\"}"),
            record(3).detail(""),
        ] {
            let mut buf = Vec::new();
            let n = encode_frame(&r, 5, SALT, &mut buf);
            assert_eq!((n, frame_len(&r)), (buf.len(), buf.len()));
            let f = parse_frame(&buf, SALT).unwrap().unwrap();
            assert_eq!((f.ordinal, f.len(), f.time()), (5, n, r.time.as_micros()));
            let (summary, has_detail) = decode_summary(f.summary).unwrap();
            assert_eq!(has_detail, r.detail.is_some());
            assert_eq!(
                summary,
                LogRecord {
                    detail: None,
                    ..r.clone()
                }
            );
            assert_eq!(decode_full(&f).unwrap(), r);
        }
    }

    #[test]
    fn every_flipped_bit_is_detected() {
        let mut buf = Vec::new();
        encode_frame(&record(1).detail("details"), 0, SALT, &mut buf);
        for i in 0..buf.len() {
            for bit in 0..8 {
                let mut b = buf.clone();
                b[i] ^= 1 << bit;
                let ok = matches!(parse_frame(&b, SALT), Ok(Some(f)) if decode_full(&f).is_ok());
                assert!(!ok, "flip of bit {bit} of byte {i} went unnoticed");
            }
        }
    }

    #[test]
    fn a_frame_of_another_salt_is_corrupt() {
        let mut buf = Vec::new();
        encode_frame(&record(0), 0, SALT, &mut buf);
        assert!(parse_frame(&buf, SALT + 1).is_err());
        assert!(parse_frame_seeded(&buf, SALT, salt_seed(SALT + 1)).is_err());
    }

    #[test]
    fn the_salt_seed_continues_the_checksum_of_salt_and_bytes() {
        // Lengths that take each of crc32fast's code paths (short, one
        // fold, fold by four, the wide loops).
        for len in [0, 5, 39, 200, 300, 5_000, 20_000] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let mut whole = SALT.to_le_bytes().to_vec();
            whole.extend_from_slice(&bytes);
            let mut h = crc32fast::Hasher::new_with_initial(salt_seed(SALT));
            h.update(&bytes);
            assert_eq!(h.finalize(), crc32fast::hash(&whole), "{len} bytes");
        }
        let mut buf = Vec::new();
        encode_frame(&record(0), 0, SALT, &mut buf);
        let f = parse_frame_seeded(&buf, SALT, salt_seed(SALT))
            .unwrap()
            .unwrap();
        assert_eq!(decode_full(&f).unwrap(), record(0));
    }
}
