//! Seeds of the `segment_decode` and `recovery` targets: segment files
//! active, torn, damaged, sealed, cut short, with gaps, other salts, bad
//! details, zeroed checksums, a frame forged inside a record's text; and
//! the reproducer of the fixed bug 1 (an ordinal no file could reach).

use crate::fuzz_checks::{self, FIXED_SALT};
use runlog::format::{self, HEADER_LEN, MIN_FRAME_LEN, MISSING, SealTables, SegmentHeader};
use runlog::{Level, LogRecord, Timestamp};

use super::*;

/// A segment of partition 0 (the recovery header, [`FIXED_SALT`]) with
/// frames of `ordinals`; where ordinals skip some, damaged bytes come
/// first, as many as the skipped frames took at least (so the scanner
/// accepts the gap). The frames' offsets.
pub fn segment(ordinals: &[u32]) -> (Vec<u8>, Vec<u32>) {
    let mut b = fuzz_checks::recovery_header().to_vec();
    let mut offsets = Vec::new();
    let mut next = 0;
    for &o in ordinals {
        let skipped = o.saturating_sub(next) as usize;
        b.extend(std::iter::repeat_n(DAMAGE, skipped * MIN_FRAME_LEN));
        offsets.push(b.len() as u32);
        format::encode_frame(&rec(o), o, FIXED_SALT, &mut b);
        next = o + 1;
    }
    (b, offsets)
}

/// Frames of `ordinals` back to back (salt [`FIXED_SALT`]), nothing between.
pub fn frames(ordinals: &[u32]) -> Vec<u8> {
    let mut b = Vec::new();
    for &o in ordinals {
        format::encode_frame(&rec(o), o, FIXED_SALT, &mut b);
    }
    b
}

/// `segment(ordinals)`, sealed.
pub fn sealed(ordinals: &[u32]) -> Vec<u8> {
    let (mut b, offsets) = segment(ordinals);
    let slots = ordinals.iter().max().map_or(0, |m| *m as usize + 1);
    let mut times = vec![0i64; slots];
    let mut offs = vec![MISSING; slots];
    for (k, &o) in ordinals.iter().enumerate() {
        times[o as usize] = rec(o).time.as_micros();
        offs[o as usize] = offsets[k];
    }
    let mut order = ordinals.to_vec();
    order.sort_by_key(|&o| (times[o as usize], o));
    let block = b.len() as u64;
    b.extend(format::encode_seal(
        &SealTables {
            times: &times,
            offsets: &offs,
            order: &order,
        },
        block,
    ));
    b
}

/// A frame of `r` with checksums valid under [`FIXED_SALT`] after `edit`
/// changed its bytes (lengths kept).
pub fn edited_frame(r: &LogRecord, ordinal: u32, edit: impl FnOnce(&mut [u8])) -> Vec<u8> {
    let mut b = Vec::new();
    format::encode_frame(r, ordinal, FIXED_SALT, &mut b);
    edit(&mut b);
    fuzz_checks::fix_frame_checksums(&mut b, 0, FIXED_SALT);
    b
}

/// A torn active segment: a record, then a record whose content holds a
/// whole frame forged with salt `guess` (ordinal 1, as the torn record's;
/// all of it UTF-8), cut 1 byte short.
pub fn forged_in_content(guess: u64) -> Vec<u8> {
    let t = Timestamp::from_secs(1000);
    let forged = fuzz_checks::forged_frame(t, 1, guess).expect("a UTF-8 forged frame");
    let carrier = LogRecord::new(t, Level::Info, "job", format!("user input: {forged}!"));
    let mut b = fuzz_checks::recovery_header().to_vec();
    format::encode_frame(&rec(0), 0, FIXED_SALT, &mut b);
    format::encode_frame(&carrier, 1, FIXED_SALT, &mut b);
    b.pop();
    b
}

/// The seeds of `segment_decode` and of `recovery`, made of the same files.
pub fn segment_decode_and_recovery() -> (Seeds, Seeds) {
    let header = fuzz_checks::recovery_header();
    let (active, offsets) = segment(&[0, 1, 2, 3]);
    let torn = active[..active.len() - 5].to_vec();
    let mut damaged = active.clone();
    damaged[offsets[2] as usize + 30] ^= 0x40;
    let mut garbage = active.clone();
    garbage.extend(b"\x07\0\0\0garbage after the frames");
    let sealed4 = sealed(&[0, 1, 2, 3]);
    let gaps = sealed(&[0, 2, 5]);
    let (gap_after_damage, _) = segment(&[0, 3, 4]);
    let empty_seal = sealed(&[]);
    let interrupted = sealed4[..sealed4.len() - 10].to_vec();
    let mut bad_trailer = sealed4.clone();
    let n = bad_trailer.len();
    bad_trailer[n - 30] ^= 1;
    let lone = active[HEADER_LEN..offsets[1] as usize].to_vec();
    let other_header = format::encode_header(&SegmentHeader {
        layout: 0,
        partition: 7,
        generation: 3,
        partition_len: 60_000_000,
        created: Timestamp::from_secs(1_700_000_000),
        salt: 0,
    });
    let with_header = |frames: &[u8]| {
        let mut b = header.to_vec();
        b.extend_from_slice(frames);
        b
    };
    // Ordinals that skip with no damage to hold the missing frames: the
    // scan stops at the skip (ordinal 9 after 0), or refuses a first frame
    // other than 0.
    let gap_no_damage = with_header(&frames(&[0, 9, 10]));
    let late_start = with_header(&frames(&[3, 4]));
    // Frames checksummed with another salt than the header's.
    let mut other_salt = header.to_vec();
    format::encode_frame(&rec(0), 0, FIXED_SALT ^ 1, &mut other_salt);
    format::encode_frame(&rec(1), 1, 0, &mut other_salt);
    // Valid checksums, invalid details: not UTF-8 (flag set), and detail
    // bytes without the flag.
    let not_utf8 = with_header(
        &[
            frames(&[0]),
            edited_frame(&rec(1).detail("xyz"), 1, |b| *b.last_mut().unwrap() = 0xff),
        ]
        .concat(),
    );
    let no_flag = with_header(
        &[
            frames(&[0]),
            edited_frame(&rec(2).detail("xyz"), 1, |b| b[20 + 9] = 0),
            frames(&[2]),
        ]
        .concat(),
    );
    // Checksums zeroed: the fuzz checks recompute them (a frame with an
    // ordinal gap and no damage, a non-UTF-8 detail, then a seal marker).
    let mut zeroed = with_header(&frames(&[0, 9]));
    let mut odd_detail = Vec::new();
    format::encode_frame(&rec(10).detail("xyz"), 10, FIXED_SALT, &mut odd_detail);
    let last = odd_detail.len() - 1;
    odd_detail[last] = 0xff;
    zeroed.extend(odd_detail);
    zeroed.extend(u32::MAX.to_le_bytes());
    for at in [60usize, 64 + 12, 64 + 16] {
        zeroed[at..at + 4].fill(0);
    }
    let forged_zero = forged_in_content(0);

    let segment_decode = vec![
        ("empty", vec![]),
        ("header", header.to_vec()),
        ("header-other", other_header.to_vec()),
        ("active", active.clone()),
        ("torn", torn.clone()),
        ("damaged", damaged.clone()),
        ("garbage-tail", garbage.clone()),
        ("sealed", sealed4.clone()),
        ("sealed-gaps", gaps.clone()),
        ("sealed-empty", empty_seal.clone()),
        ("interrupted-seal", interrupted.clone()),
        ("bad-trailer", bad_trailer.clone()),
        ("lone-frame", lone.clone()),
        ("bare-frames", frames(&[0, 1, 2])),
        ("gap-after-damage", gap_after_damage.clone()),
        ("gap-no-damage", gap_no_damage.clone()),
        ("late-start", late_start.clone()),
        ("other-salt", other_salt.clone()),
        ("detail-not-utf8", not_utf8.clone()),
        ("detail-without-flag", no_flag.clone()),
        ("zeroed-crcs", zeroed.clone()),
        ("forged-in-content", forged_zero.clone()),
    ];

    let with_mode = |mode: u8, b: &[u8]| {
        let mut v = vec![mode];
        v.extend_from_slice(b);
        v
    };
    let body = |b: &[u8]| b[HEADER_LEN..].to_vec();
    // Bug 1: a frame (valid checksums) whose ordinal no file of its length
    // could reach; recovery sized its tables by it (12 MB sealed from a
    // 117-byte file; ordinals near u32::MAX aborted). Now not a frame.
    let mut huge = Vec::new();
    format::encode_frame(
        &LogRecord::new(Timestamp::from_secs(1000), Level::Info, "", ""),
        1_000_000,
        FIXED_SALT,
        &mut huge,
    );
    let mut huge_after_damage = vec![DAMAGE; 100];
    huge_after_damage.extend(&huge);
    let recovery = vec![
        ("empty", vec![]),
        ("wal-header-only", with_mode(0, &header)),
        ("wal-cut-header", with_mode(0, &active[..40])),
        ("wal-active", with_mode(0, &active)),
        ("wal-torn", with_mode(1, &body(&torn))),
        ("wal-damaged", with_mode(1, &body(&damaged))),
        ("wal-garbage-tail", with_mode(1, &body(&garbage))),
        ("wal-complete-seal", with_mode(0, &sealed4)),
        ("wal-interrupted-seal", with_mode(1, &body(&interrupted))),
        ("wal-other-header", with_mode(0, &other_header)),
        (
            "wal-gap-after-damage",
            with_mode(1, &body(&gap_after_damage)),
        ),
        ("wal-gap-no-damage", with_mode(0, &gap_no_damage)),
        ("wal-late-start", with_mode(1, &body(&late_start))),
        ("wal-other-salt", with_mode(0, &other_salt)),
        ("wal-detail-not-utf8", with_mode(0, &not_utf8)),
        ("wal-detail-without-flag", with_mode(1, &body(&no_flag))),
        ("wal-fixed-crcs", with_mode(5, &body(&zeroed))),
        ("wal-forged-in-content", with_mode(0, &forged_zero)),
        (
            "wal-huge-ordinal-after-damage",
            with_mode(1, &huge_after_damage),
        ),
        ("seg-sealed", with_mode(2, &sealed4)),
        ("seg-gaps", with_mode(3, &body(&gaps))),
        ("seg-empty-seal", with_mode(2, &empty_seal)),
        ("seg-bad-trailer", with_mode(2, &bad_trailer)),
        ("seg-unsealed", with_mode(2, &active)),
        ("seg-detail-not-utf8", with_mode(6, &not_utf8)),
        ("foreign-seg", with_mode(0xF2, &sealed4)),
        ("foreign-wal-u32-max", with_mode(0xF8, &active)),
        ("fixed-bug1-impossible-ordinal", with_mode(1, &huge)),
    ];
    (segment_decode, recovery)
}
