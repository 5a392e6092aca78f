//! Finding the frames of a segment file: every whole frame in order, the
//! damaged regions skipped, and where a torn tail or a seal begins. Pure
//! functions of bytes, like the format itself (see `format.rs`), used by
//! recovery and by a reader following an active segment.

use crate::codec::{DecodeError, u32_at, u64_at};
use crate::segment::format::{
    F_DETAIL_LEN, F_ORDINAL, FRAME_HEAD_LEN, Frame, MIN_FRAME_LEN, T_BLOCK_OFFSET, T_CRC, T_MAGIC,
    TRAILER_LEN, TRAILER_MAGIC, decode_summary, parse_frame,
};

/// A frame found by [`scan_frames`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScannedFrame {
    /// Offset of the frame in the scanned buffer (plus the `base` given).
    pub offset: u64,
    /// The record's ordinal.
    pub ordinal: u32,
    /// The record time (µs).
    pub time: i64,
}

/// What [`scan_frames`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// Every whole, checksum-valid frame, in file order.
    pub frames: Vec<ScannedFrame>,
    /// End of the last valid frame: where the next frame belongs.
    pub end: u64,
    /// Runs of bad bytes with valid frames after them: `(offset, reason)`.
    pub damage: Vec<(u64, String)>,
    /// Offset of a seal marker found after the last frame, if any.
    pub seal_at: Option<u64>,
}

/// Scan frames from `b[0]` (the byte after the header, at file offset
/// `base`) of a segment with `salt`. `after` is the ordinal of the frame
/// before `b[0]` (`None` at the start of a file).
///
/// A frame that fails its checks ends the valid data, unless a valid frame
/// follows later (a damaged region, reported in `damage` and skipped).
/// Bytes after the last valid frame are a torn tail: `end` says where it
/// starts. Never panics, whatever `b` holds.
pub fn scan_frames(b: &[u8], base: u64, mut after: Option<u32>, salt: u64) -> Scan {
    let mut scan = Scan {
        end: base,
        ..Scan::default()
    };
    let mut at = 0usize;
    // Where the bytes since the last valid frame begin.
    let mut gap_start = 0usize;
    while at < b.len() {
        let parsed = match parse_whole(&b[at..], after, (at - gap_start) / MIN_FRAME_LEN, salt) {
            // A seal marker counts only with its trailer at the very end;
            // four 0xFF bytes elsewhere (erased flash, damage) are damage.
            Ok(None) if !seal_follows(&b[at..], base + at as u64) => {
                Err(DecodeError::at(0, "seal marker without a seal"))
            }
            other => other,
        };
        match parsed {
            Ok(Some(f)) => {
                scan.frames.push(ScannedFrame {
                    offset: base + at as u64,
                    ordinal: f.ordinal,
                    time: f.time(),
                });
                after = Some(f.ordinal);
                at += f.len();
                gap_start = at;
                scan.end = base + at as u64;
            }
            Ok(None) => {
                scan.seal_at = Some(base + at as u64);
                return scan;
            }
            Err(err) => {
                // Look for a later valid frame: if there is one, the bytes
                // between are damage; if not, they are a torn tail.
                let resume = (at + 1..b.len()).find(|&i| {
                    matches!(
                        parse_whole(&b[i..], after, (i - gap_start) / MIN_FRAME_LEN, salt),
                        Ok(Some(_))
                    )
                });
                match resume {
                    Some(i) => {
                        let reason = match err.shifted(at as u64) {
                            DecodeError::Corrupt { reason, .. } => reason,
                            DecodeError::Version { found, .. } => format!("version {found}"),
                        };
                        scan.damage.push((base + at as u64, reason));
                        at = i;
                    }
                    None => return scan,
                }
            }
        }
    }
    scan
}

/// Whether `b` (starting with a seal marker at file offset `at`) runs to
/// the end of the file as a seal block and a trailer pointing back at it.
fn seal_follows(b: &[u8], at: u64) -> bool {
    let Some(t_at) = b.len().checked_sub(TRAILER_LEN) else {
        return false;
    };
    let t = &b[t_at..];
    t[T_MAGIC..T_MAGIC + 8] == TRAILER_MAGIC
        && crc32fast::hash(&t[..T_CRC]) == u32_at(t, T_CRC)
        && u64_at(t, T_BLOCK_OFFSET) == at
}

/// A whole valid frame at `b[0]`: both checksums, a decodable summary, a
/// detail that agrees with its flag, and an ordinal that follows `after`
/// by at most `max_gap` missing ones.
fn parse_whole(
    b: &[u8],
    after: Option<u32>,
    max_gap: usize,
    salt: u64,
) -> Result<Option<Frame<'_>>, DecodeError> {
    let Some(f) = parse_frame(b, salt)? else {
        return Ok(None);
    };
    f.check_detail()?;
    let expected = after.map_or(Some(0), |a| a.checked_add(1));
    let fits = expected.is_some_and(|e| f.ordinal >= e && (f.ordinal - e) as usize <= max_gap);
    if !fits {
        return Err(DecodeError::at(F_ORDINAL, "ordinal out of sequence"));
    }
    let (_, has_detail) =
        decode_summary(f.summary).map_err(|e| e.shifted(FRAME_HEAD_LEN as u64))?;
    if (!has_detail && !f.detail.is_empty()) || std::str::from_utf8(f.detail).is_err() {
        return Err(DecodeError::at(
            F_DETAIL_LEN,
            "detail disagrees with its flag or is not UTF-8",
        ));
    }
    Ok(Some(f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::LogRecord;
    use crate::segment::format::encode_frame;
    use crate::segment::format::tests::record;

    const SALT: u64 = 0x1234_5678_9abc_def0;

    #[test]
    fn scan_stops_at_torn_tail_and_skips_damage() {
        let mut buf = Vec::new();
        let mut offsets = Vec::new();
        for i in 0..5 {
            offsets.push(buf.len());
            encode_frame(&record(i), i as u32, SALT, &mut buf);
        }
        let whole = scan_frames(&buf, 64, None, SALT);
        assert_eq!(whole.frames.len(), 5);
        assert_eq!(whole.end, 64 + buf.len() as u64);
        assert!(whole.damage.is_empty());

        // A torn tail: the last frame cut short.
        let torn = scan_frames(&buf[..buf.len() - 3], 64, None, SALT);
        assert_eq!(torn.frames.len(), 4);
        assert_eq!(torn.end, 64 + offsets[4] as u64);

        // Damage in frame 2: frames 0, 1, 3, 4 survive, the damage is reported.
        let mut damaged = buf.clone();
        damaged[offsets[2] + 30] ^= 0xff;
        let s = scan_frames(&damaged, 64, None, SALT);
        let ords: Vec<u32> = s.frames.iter().map(|f| f.ordinal).collect();
        assert_eq!(ords, [0, 1, 3, 4]);
        assert_eq!(s.damage.len(), 1);
        assert_eq!(s.damage[0].0, 64 + offsets[2] as u64);
        assert_eq!(s.end, 64 + buf.len() as u64);
    }

    #[test]
    fn a_frame_spelled_out_in_a_record_is_not_taken_for_one() {
        // A record whose content holds a whole frame encoded without the
        // segment's salt (what a writer of log text could produce).
        let mut fake = Vec::new();
        encode_frame(&record(9).component("FORGED"), 1, 0, &mut fake);
        let content = String::from_utf8_lossy(&fake).into_owned();
        let mut buf = Vec::new();
        encode_frame(&record(0), 0, SALT, &mut buf);
        let host = LogRecord {
            content: content.as_str().into(),
            ..record(1)
        };
        let host_at = buf.len();
        encode_frame(&host, 1, SALT, &mut buf);
        // The host record is torn: only the first record may come back.
        for cut in host_at + 1..buf.len() {
            let s = scan_frames(&buf[..cut], 64, None, SALT);
            assert_eq!(s.frames.len(), 1, "cut at {cut}");
        }
    }

    #[test]
    fn ordinals_must_follow_unless_damage_could_hold_the_missing_ones() {
        let mut buf = Vec::new();
        encode_frame(&record(0), 0, SALT, &mut buf);
        // Directly after ordinal 0, ordinal 5 is impossible.
        encode_frame(&record(1), 5, SALT, &mut buf);
        let s = scan_frames(&buf, 64, None, SALT);
        assert_eq!(s.frames.len(), 1);
        // A first frame with a huge ordinal is refused outright.
        let mut huge = Vec::new();
        encode_frame(&record(0), 1_000_000, SALT, &mut huge);
        assert!(scan_frames(&huge, 64, None, SALT).frames.is_empty());
        // After two frames' worth of damage, a gap of two is fine.
        let mut ok = Vec::new();
        encode_frame(&record(0), 0, SALT, &mut ok);
        ok.extend(std::iter::repeat_n(0xAB, 2 * MIN_FRAME_LEN));
        encode_frame(&record(3), 3, SALT, &mut ok);
        let s = scan_frames(&ok, 64, None, SALT);
        assert_eq!(
            s.frames.iter().map(|f| f.ordinal).collect::<Vec<_>>(),
            [0, 3]
        );
        assert_eq!(s.damage.len(), 1);
    }
    #[test]
    fn a_seal_marker_without_a_trailer_is_damage_not_the_end() {
        let mut buf = Vec::new();
        let mut offsets = Vec::new();
        for i in 0..5 {
            offsets.push(buf.len());
            encode_frame(&record(i), i as u32, SALT, &mut buf);
        }
        // Erased-flash bytes over the start of frame 2.
        buf[offsets[2]..offsets[2] + 4].copy_from_slice(&[0xFF; 4]);
        let s = scan_frames(&buf, 64, None, SALT);
        assert_eq!(s.seal_at, None);
        assert_eq!(
            s.frames.iter().map(|f| f.ordinal).collect::<Vec<_>>(),
            [0, 1, 3, 4]
        );
        assert_eq!(s.damage.len(), 1);
        assert_eq!(s.end, 64 + buf.len() as u64);
    }
}
