//! The checks behind every fuzz target, shared by the fuzz crate
//! (`fuzz/fuzz_targets/*.rs`, which include this file with `#[path]`) and
//! by `tests/fuzz_corpus.rs`, which replays the committed corpus on stable
//! Rust. One function per target, each taking the raw fuzz input: a
//! corpus file means the same thing to the fuzzer and to the test.
//!
//! Each target's check is in its own file, named like the target
//! (`segment_decode.rs`, `recovery.rs`, `cursor.rs`, …), and re-exported
//! here; this file holds what they share: the table of targets, the salts,
//! byte helpers, the checksum fix-ups and the scratch stores.
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

// What the checks use; each target's file takes it all with `use super::*`.
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

mod cursor;
mod cut_log;
mod index_file;
mod presets;
mod recovery;
mod run_journal;
mod segment_decode;
mod segment_roundtrip;
mod store_meta;

pub use cursor::*;
pub use cut_log::*;
pub use index_file::*;
pub use presets::*;
pub use recovery::*;
pub use run_journal::*;
pub use segment_decode::*;
pub use segment_roundtrip::*;
pub use store_meta::*;

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
// Scratch stores, for the checks that open a real one.
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
