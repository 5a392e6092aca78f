//! The `segment_decode` target: every pure decoder of `runlog::format` on arbitrary bytes.

use super::*;

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
pub(super) fn check_decoders(b: &[u8]) {
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
pub(super) fn tables_of(b: &[u8], t: &Trailer) -> (Vec<i64>, Vec<u32>, Vec<u32>) {
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
