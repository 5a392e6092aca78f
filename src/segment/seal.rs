//! The end of a sealed segment: its tables (the time and frame offset of
//! every ordinal, and the ordinals in time order) and the trailer that
//! points back at them. The byte layout is in `format.rs`; this encodes
//! and checks it, without touching a file.

use crate::codec::{DecodeError, i64_at, u32_at, u64_at};
use crate::segment::format::{
    FRAME_HEAD_LEN, HEADER_LEN, LAYOUT_FRAMES, MISSING, SEAL_MARKER, T_BLOCK_CRC, T_BLOCK_OFFSET,
    T_CRC, T_LAYOUT, T_LIVE, T_MAGIC, T_MAX_TIME, T_MIN_TIME, T_SLOTS, TRAILER_LEN, TRAILER_MAGIC,
};

/// The per-record tables of a segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SealTables<'a> {
    /// Time of each ordinal (0 for missing ones).
    pub times: &'a [i64],
    /// File offset of each ordinal's frame ([`MISSING`] for missing ones).
    pub offsets: &'a [u32],
    /// Present ordinals sorted by (time, ordinal).
    pub order: &'a [u32],
}

/// The seal block and trailer for `tables`, to be written at `block_offset`.
pub fn encode_seal(tables: &SealTables<'_>, block_offset: u64) -> Vec<u8> {
    let slots = tables.times.len();
    let mut out = Vec::with_capacity(4 + 12 * slots + 4 * tables.order.len() + TRAILER_LEN);
    out.extend_from_slice(&SEAL_MARKER.to_le_bytes());
    for t in tables.times {
        out.extend_from_slice(&t.to_le_bytes());
    }
    for o in tables.offsets {
        out.extend_from_slice(&o.to_le_bytes());
    }
    for o in tables.order {
        out.extend_from_slice(&o.to_le_bytes());
    }
    let block_crc = crc32fast::hash(&out);
    let (min, max) = time_bounds(tables);
    let mut t = [0u8; TRAILER_LEN];
    t[T_MAGIC..T_MAGIC + 8].copy_from_slice(&TRAILER_MAGIC);
    t[T_BLOCK_OFFSET..T_BLOCK_OFFSET + 8].copy_from_slice(&block_offset.to_le_bytes());
    t[T_SLOTS..T_SLOTS + 4].copy_from_slice(&(slots as u32).to_le_bytes());
    t[T_LIVE..T_LIVE + 4].copy_from_slice(&(tables.order.len() as u32).to_le_bytes());
    t[T_MIN_TIME..T_MIN_TIME + 8].copy_from_slice(&min.to_le_bytes());
    t[T_MAX_TIME..T_MAX_TIME + 8].copy_from_slice(&max.to_le_bytes());
    t[T_BLOCK_CRC..T_BLOCK_CRC + 4].copy_from_slice(&block_crc.to_le_bytes());
    t[T_LAYOUT] = LAYOUT_FRAMES;
    let crc = crc32fast::hash(&t[..T_CRC]);
    t[T_CRC..].copy_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&t);
    out
}

fn time_bounds(tables: &SealTables<'_>) -> (i64, i64) {
    match (tables.order.first(), tables.order.last()) {
        (Some(&a), Some(&b)) => (tables.times[a as usize], tables.times[b as usize]),
        _ => (0, 0),
    }
}

/// What a sealed segment's trailer says, checked against the file length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trailer {
    /// Offset of the seal block (end of the frames).
    pub block_offset: u64,
    /// Number of ordinal slots.
    pub slots: u32,
    /// Number of frames present.
    pub live: u32,
    /// Smallest record time (µs).
    pub min_time: i64,
    /// Largest record time (µs).
    pub max_time: i64,
    /// CRC32 of the seal block.
    pub block_crc: u32,
}

impl Trailer {
    /// Offset of the times table.
    pub fn times_at(&self) -> usize {
        self.block_offset as usize + 4
    }
    /// Offset of the frame-offsets table.
    pub fn offsets_at(&self) -> usize {
        self.times_at() + 8 * self.slots as usize
    }
    /// Offset of the time-order table.
    pub fn order_at(&self) -> usize {
        self.offsets_at() + 4 * self.slots as usize
    }
}

/// Decode the trailer at the end of a whole sealed file `b`, checking its
/// checksum and that the block it describes fits exactly before it. Does
/// not read the block itself (constant time).
pub fn decode_trailer(b: &[u8]) -> Result<Trailer, DecodeError> {
    if b.len() < HEADER_LEN + 4 + TRAILER_LEN {
        return Err(DecodeError::at(
            b.len(),
            "file too short for a sealed segment",
        ));
    }
    let at = b.len() - TRAILER_LEN;
    let t = &b[at..];
    if t[T_MAGIC..T_MAGIC + 8] != TRAILER_MAGIC {
        return Err(DecodeError::at(at, "missing trailer (bad magic number)"));
    }
    if crc32fast::hash(&t[..T_CRC]) != u32_at(t, T_CRC) {
        return Err(DecodeError::at(at + T_CRC, "trailer checksum mismatch"));
    }
    if t[T_LAYOUT] != LAYOUT_FRAMES {
        return Err(DecodeError::at(
            at + T_LAYOUT,
            format!("unknown layout {}", t[T_LAYOUT]),
        ));
    }
    let trailer = Trailer {
        block_offset: u64_at(t, T_BLOCK_OFFSET),
        slots: u32_at(t, T_SLOTS),
        live: u32_at(t, T_LIVE),
        min_time: i64_at(t, T_MIN_TIME),
        max_time: i64_at(t, T_MAX_TIME),
        block_crc: u32_at(t, T_BLOCK_CRC),
    };
    let block_len = 4 + 12 * u64::from(trailer.slots) + 4 * u64::from(trailer.live);
    if trailer.live > trailer.slots
        || trailer.block_offset < HEADER_LEN as u64
        || trailer.block_offset.checked_add(block_len) != Some(at as u64)
    {
        return Err(DecodeError::at(
            at,
            "trailer does not match the file length",
        ));
    }
    if u32_at(b, trailer.block_offset as usize) != SEAL_MARKER {
        return Err(DecodeError::at(
            trailer.block_offset as usize,
            "missing seal marker",
        ));
    }
    Ok(trailer)
}

/// Check the seal block of a whole sealed file `b` against its trailer:
/// the checksum, that offsets point inside the frames, and that the order
/// table is a sorted permutation of the present ordinals.
pub fn check_seal_block(b: &[u8], t: &Trailer) -> Result<(), DecodeError> {
    let start = t.block_offset as usize;
    let end = b.len() - TRAILER_LEN;
    if crc32fast::hash(&b[start..end]) != t.block_crc {
        return Err(DecodeError::at(start, "seal block checksum mismatch"));
    }
    let slots = t.slots as usize;
    let mut present = 0usize;
    for i in 0..slots {
        let off = u32_at(b, t.offsets_at() + 4 * i);
        if off != MISSING {
            present += 1;
            if (off as usize) < HEADER_LEN || off as u64 + FRAME_HEAD_LEN as u64 > t.block_offset {
                return Err(DecodeError::at(
                    t.offsets_at() + 4 * i,
                    "frame offset out of bounds",
                ));
            }
        }
    }
    if present != t.live as usize {
        return Err(DecodeError::at(
            t.offsets_at(),
            "offset table disagrees with the trailer",
        ));
    }
    let mut prev: Option<(i64, u32)> = None;
    for j in 0..t.live as usize {
        let ord = u32_at(b, t.order_at() + 4 * j);
        let bad = || {
            DecodeError::at(
                t.order_at() + 4 * j,
                "order table is not a sorted permutation",
            )
        };
        if ord as usize >= slots || u32_at(b, t.offsets_at() + 4 * ord as usize) == MISSING {
            return Err(bad());
        }
        let key = (i64_at(b, t.times_at() + 8 * ord as usize), ord);
        if prev.is_some_and(|p| p >= key) {
            return Err(bad());
        }
        prev = Some(key);
    }
    if let Some((last, _)) = prev {
        let first = i64_at(b, t.times_at() + 8 * u32_at(b, t.order_at()) as usize);
        if first != t.min_time || last != t.max_time {
            return Err(DecodeError::at(
                b.len() - TRAILER_LEN,
                "trailer time bounds disagree with the tables",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Level, LogRecord};
    use crate::segment::format::{SegmentHeader, encode_frame, encode_header};
    use crate::time::Timestamp;

    const SALT: u64 = 0x1234_5678_9abc_def0;

    #[test]
    fn seal_round_trip_and_checks() {
        let mut file = encode_header(&SegmentHeader {
            layout: LAYOUT_FRAMES,
            partition: 1,
            generation: 0,
            partition_len: 10,
            created: Timestamp::from_micros(0),
            salt: SALT,
        })
        .to_vec();
        let (mut times, mut offsets) = (Vec::new(), Vec::new());
        for (i, t) in [30i64, 10, 20].into_iter().enumerate() {
            offsets.push(file.len() as u32);
            times.push(t);
            encode_frame(
                &LogRecord::new(Timestamp::from_micros(t), Level::Info, "j", "c"),
                i as u32,
                SALT,
                &mut file,
            );
        }
        let tables = SealTables {
            times: &times,
            offsets: &offsets,
            order: &[1, 2, 0],
        };
        let block = file.len() as u64;
        file.extend(encode_seal(&tables, block));
        let t = decode_trailer(&file).unwrap();
        assert_eq!(
            (t.slots, t.live, t.min_time, t.max_time, t.block_offset),
            (3, 3, 10, 30, block)
        );
        check_seal_block(&file, &t).unwrap();

        let mut bad_order = file.clone();
        let at = t.order_at();
        bad_order[at] = 0; // order becomes [0, 2, 0]
        assert!(check_seal_block(&bad_order, &t).is_err());
        let mut flipped = file.clone();
        let last = flipped.len() - 10;
        flipped[last] ^= 1;
        assert!(decode_trailer(&flipped).is_err());
        assert!(decode_trailer(&file[..file.len() - 1]).is_err());
    }
}
