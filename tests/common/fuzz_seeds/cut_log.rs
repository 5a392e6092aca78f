//! Seeds of the `cut_log` target: cut logs of every kind of entry, counts
//! ahead of and behind the log, flipped, of other versions, many entries.

use crate::fuzz_checks::{self, FIXED_SALT};
use runlog::format::HEADER_LEN;

use super::Seeds;

/// The seeds of `cut_log`.
pub fn seeds() -> Seeds {
    // Cut logs, read in the store_meta template, whose writer's open was
    // cut 1 (so cuts from 2 on are news to its reader) and whose active
    // segment is partition 472224, generation 0 (FIXED_SALT stands for its
    // salt: the check puts that in, and recomputes the checksums).
    use fuzz_checks::{cut_entry, cut_log_file};
    let active = (472_224, 0);
    let any = |seq| cut_entry(seq, 0, 0, 0, 0, 0, 0);
    let seg =
        |seq, ordinal, salt, offset| cut_entry(seq, 1, active.0, active.1, ordinal, salt, offset);
    let whole = seg(2, 0, FIXED_SALT, HEADER_LEN as u64);
    let cut_whole = cut_log_file(2, &[any(1), whole.clone()]);
    let mut flipped = cut_whole.clone();
    flipped[24 + 44 + 30] ^= 0x08;
    // A log of version 1 (read the same), and of version 3 (no log).
    let mut version_1 = cut_whole.clone();
    version_1[16] = 1;
    let mut version_3 = cut_whole.clone();
    version_3[16] = 3;
    let mut reserved = whole.clone();
    reserved[9] = 1;
    let many: Vec<Vec<u8>> = (1..=30u64)
        .map(|seq| match seq % 3 {
            0 => cut_entry(seq, 3, 472_224, 0, 0, 9, 32 + seq),
            1 => seg(seq, 0, FIXED_SALT, HEADER_LEN as u64),
            _ => seg(seq, seq as u32, 7, 1000 + seq),
        })
        .collect();
    let cut_log = vec![
        ("empty", vec![]),
        ("short-count", vec![5, 0, 0, 0, 0]),
        ("bare-count", 2u64.to_le_bytes().to_vec()),
        ("header-only", cut_log_file(1, &[])),
        ("writer-open", cut_log_file(1, &[any(1)])),
        ("segment-cut-whole", cut_whole.clone()),
        (
            "segment-cut-not-fitting",
            cut_log_file(2, &[any(1), seg(2, 5, FIXED_SALT, 1)]),
        ),
        (
            "segment-cut-other-salt",
            cut_log_file(2, &[any(1), seg(2, 0, 7, HEADER_LEN as u64)]),
        ),
        (
            "segment-removed",
            cut_log_file(
                2,
                &[
                    any(1),
                    cut_entry(2, 2, active.0, active.1, 0, FIXED_SALT, 0),
                ],
            ),
        ),
        (
            "journal-cut",
            cut_log_file(2, &[any(1), cut_entry(2, 3, 472_224, 0, 0, 9, 32)]),
        ),
        (
            "two-cuts",
            cut_log_file(
                3,
                &[
                    any(1),
                    whole.clone(),
                    seg(3, 0, FIXED_SALT, HEADER_LEN as u64),
                ],
            ),
        ),
        (
            "count-ahead-of-log",
            cut_log_file(3, &[any(1), whole.clone()]),
        ),
        (
            "count-behind-log",
            cut_log_file(1, &[any(1), whole.clone()]),
        ),
        (
            "count-max",
            cut_log_file(u64::MAX, &[seg(u64::MAX, 0, FIXED_SALT, HEADER_LEN as u64)]),
        ),
        ("flipped-entry", flipped),
        ("version-1", version_1),
        ("version-3", version_3),
        ("nonzero-reserved", cut_log_file(2, &[any(1), reserved])),
        (
            "any-with-fields",
            cut_log_file(2, &[any(1), cut_entry(2, 0, 5, 0, 0, 0, 0)]),
        ),
        (
            "unknown-kind",
            cut_log_file(2, &[any(1), cut_entry(2, 4, 472_224, 0, 0, 0, 0)]),
        ),
        ("many-entries", cut_log_file(30, &many)),
        (
            "garbage-tail",
            [&cut_whole[..], b"garbage after the entries"].concat(),
        ),
    ];
    cut_log
}
