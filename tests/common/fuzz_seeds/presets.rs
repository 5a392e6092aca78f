//! Seeds of the `presets` target: presets files empty, of every kind of
//! range and every calendar preset, names at the limits; cut short,
//! altered, of another version.

use runlog::{Preset, SavedRange, TimeRange, Timestamp};

use super::Seeds;

/// The seeds of `presets`.
pub fn seeds() -> Seeds {
    // Presets files: empty, one of each kind of range, every calendar
    // preset, names at the limits; cut short, altered, of another version.
    let enc = runlog::__fuzz::encode_presets;
    let named = |n: &str, r: SavedRange| (n.to_string(), r);
    let abs = |a: i64, b: i64| {
        SavedRange::Absolute(
            TimeRange::new(Timestamp::from_micros(a), Timestamp::from_micros(b)).unwrap(),
        )
    };
    let three = enc(&[
        named("a", SavedRange::Last(std::time::Duration::from_secs(7200))),
        named("b", SavedRange::Calendar(Preset::Yesterday)),
        named("c", abs(1_000_000, 2_000_000)),
    ]);
    let calendar: Vec<(String, SavedRange)> = Preset::ALL
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("p{i:02}"), SavedRange::Calendar(p)))
        .collect();
    let edges = enc(&[
        named(
            &"n".repeat(runlog::MAX_PRESET_NAME),
            abs(i64::MIN, i64::MAX),
        ),
        named(
            "späť ünïcode",
            SavedRange::Last(std::time::Duration::new(u64::MAX, 999_999_999)),
        ),
        named("zero", abs(0, 0)),
        named("µs", SavedRange::Last(std::time::Duration::from_nanos(1))),
    ]);
    let with_head = |b: &[u8], at: usize, v: &[u8]| {
        let mut f = b.to_vec();
        f[at..at + v.len()].copy_from_slice(v);
        f
    };
    let presets = vec![
        ("empty-file", vec![]),
        ("none", enc(&[])),
        ("three", three.clone()),
        ("calendar", enc(&calendar)),
        ("edges", edges.clone()),
        ("head-only", three[..20].to_vec()),
        ("cut-1", three[..three.len() - 1].to_vec()),
        ("bad-crc", with_head(&three, 16, &[0, 0, 0, 0])),
        ("flip-payload", with_head(&three, 22, b"A")),
        ("version-2", with_head(&three, 8, &[2, 0])),
        ("reserved-set", with_head(&three, 10, &[1, 0])),
        ("long-length", with_head(&three, 12, &[0xff, 0xff, 0, 0])),
    ];
    presets
}
