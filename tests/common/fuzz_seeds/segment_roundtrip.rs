//! Seeds of the `segment_roundtrip` target: records written and
//! corrupted (flips, cuts), with frames forged in their text; and the
//! reproducer of the fixed bug 3 (a frame inside a record's content).

use crate::fuzz_checks::{self, FIXED_SALT, RoundtripSeed};
use runlog::format::{self, HEADER_LEN};
use runlog::{Level, LogRecord, Timestamp};

use super::*;

/// The seeds of `segment_roundtrip`.
pub fn seeds() -> Seeds {
    let t = Timestamp::from_secs(1_700_000_000);
    // Bug 3: a record whose content holds a whole frame, all of it UTF-8,
    // checksummed with a guessed salt (0) as the writer of log text would
    // have to, then cut 1 byte short by a crash: the scanner's resync used
    // to return the frame inside as a record (unsalted checksums).
    let first = LogRecord::new(t, Level::Info, "job", "first");
    let forged = fuzz_checks::forged_frame(t, 1, 0).expect("a UTF-8 forged frame");
    let carrier = LogRecord::new(t, Level::Info, "job", format!("user input: {forged}!"));
    let written = HEADER_LEN + format::frame_len(&first) + format::frame_len(&carrier);
    // What `forge(0, 0, t)` makes of `rec(1)` as the second record.
    let mut forging = rec(1);
    forging.content = format!("{forged}{}", forging.content).into();
    let forge_written = HEADER_LEN + format::frame_len(&rec(0)) + format::frame_len(&forging);
    let segment_roundtrip = vec![
        (
            "one",
            RoundtripSeed::new(1, 0, false)
                .record(&LogRecord::new(
                    Timestamp::from_secs(1),
                    Level::Info,
                    "j",
                    "c",
                ))
                .corrupt(&[], None),
        ),
        (
            "sealed-flip",
            RoundtripSeed::new(3, 0, true)
                .record(&rec(0))
                .record(&rec(1))
                .record(&rec(2))
                .corrupt(&[8 * 200 + 3], None),
        ),
        (
            "sealed-cut",
            RoundtripSeed::new(4, 2, true)
                .record(&rec(3))
                .record(&rec(4))
                .record(&rec(5))
                .record(&rec(6))
                .corrupt(&[], Some(300)),
        ),
        (
            "high-ordinals-three-flips",
            RoundtripSeed::new(2, u32::MAX - 10, false)
                .record(&rec(7))
                .record(&LogRecord::new(Timestamp::MIN, Level::Error, "", "").attempt(u32::MAX))
                .corrupt(&[70 * 8, 71 * 8 + 1, 500], Some(1000)),
        ),
        (
            "long-fields",
            RoundtripSeed::new(1, 0, true)
                .record(
                    &LogRecord::new(
                        Timestamp::MAX,
                        Level::Debug,
                        "j".repeat(128),
                        "ü".repeat(1500),
                    )
                    .flow("f".repeat(256))
                    .detail("d".repeat(2000)),
                )
                .corrupt(&[8 * 100], None),
        ),
        (
            "forge-zero-salt-torn",
            RoundtripSeed::new(2, 0, false)
                .record(&rec(0))
                .record(&rec(1))
                .forge(0, 0, t)
                .corrupt(&[], Some(forge_written as u32 - 1)),
        ),
        (
            "forge-guess-sealed-flip",
            RoundtripSeed::new(3, 0, true)
                .record(&rec(0))
                .record(&rec(1))
                .record(&rec(2))
                .forge(FIXED_SALT, 1, t)
                .corrupt(&[8 * 700], None),
        ),
        (
            // The forged ordinal saturates at u32::MAX.
            "forge-last-ordinals",
            RoundtripSeed::new(4, u32::MAX, false)
                .record(&rec(0))
                .record(&rec(1))
                .record(&rec(2))
                .record(&rec(3))
                .forge(7, 3, t)
                .corrupt(&[], Some(400)),
        ),
        (
            "fixed-bug3-frame-inside-content",
            RoundtripSeed::new(2, 0, false)
                .record(&first)
                .record(&carrier)
                .corrupt(&[], Some(written as u32 - 1)),
        ),
    ];
    segment_roundtrip
}
