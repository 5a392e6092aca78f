//! Seeds of the `index_file` target: index files of no record, of
//! hand-made and generated records; cut short, flipped, zeroed checksums,
//! for another segment, of another version.

use crate::fuzz_checks::INDEX_SEGMENT;
use runlog::{LogRecord, SegmentId, Timestamp};

use super::*;

/// The seeds of `index_file`.
pub fn seeds() -> Seeds {
    // Index files: of no record, of hand-made records (details, ties,
    // every level), of generated ones; cut short, bytes flipped (their
    // checksums then fail, or are recomputed by the check), for another
    // segment, another version.
    let ix = |records: &[LogRecord]| runlog::__fuzz::encode_index(records, INDEX_SEGMENT);
    let hand: Vec<LogRecord> = (0..6).map(rec).collect();
    let generated = runlog_sample::Generator::new(7, Timestamp::from_secs(1_700_000_000)).batch(8);
    let ix_hand = ix(&hand);
    let ix_one = ix(&hand[..1]);
    let flip = |b: &[u8], at: usize, bit: u8| {
        let mut f = b.to_vec();
        f[at] ^= bit;
        f
    };
    let n = ix_hand.len();
    // Zeroed checksums: header, first section (table entry 0), table.
    let mut ix_zeroed = ix_hand.clone();
    let table_at = n - 16 - 200;
    for at in [28, table_at + 16, n - 8] {
        ix_zeroed[at..at + 4].fill(0);
    }
    // A term count past the section, checksums recomputed by the check.
    let mut ix_terms = flip(&ix_hand, 32 + 1, 0x10);
    ix_terms[28..32].fill(0);
    let ix_other = runlog::__fuzz::encode_index(
        &hand,
        SegmentId {
            partition: 9,
            generation: 0,
        },
    );
    let mut ix_v2 = ix_one.clone();
    ix_v2[8] = 2;
    ix_v2[28..32].fill(0);
    let index_file = vec![
        ("empty", vec![]),
        ("no-records", ix(&[])),
        ("one", ix_one.clone()),
        ("hand", ix_hand.clone()),
        ("generated", ix(&generated)),
        ("header-only", ix_hand[..32].to_vec()),
        ("cut-in-sections", ix_hand[..n / 2].to_vec()),
        ("cut-1", ix_hand[..n - 1].to_vec()),
        ("flip-header", flip(&ix_hand, 13, 1)),
        ("flip-section", flip(&ix_hand, 40, 0x20)),
        ("flip-table", flip(&ix_hand, table_at + 3, 1)),
        ("flip-trailer-magic", flip(&ix_hand, n - 1, 1)),
        ("zeroed-crcs", ix_zeroed),
        ("term-count-past-section", ix_terms),
        ("other-segment", ix_other),
        ("version-2", ix_v2),
    ];
    index_file
}
