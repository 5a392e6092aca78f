//! The `index_file` target: a sealed segment's index (`*.idx`).

use super::*;

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
