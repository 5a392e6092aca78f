//! The hand-made files of the fuzz corpus (seeds, and reproducers of bugs
//! found by fuzzing and fixed), one file per target like
//! `tests/fuzz_checks/`. `tests/fuzz_corpus.rs` alone includes this
//! module: it checks that the corpus holds them, and rewrites them on
//! request.

mod cursor;
mod cut_log;
mod index_file;
mod presets;
mod run_journal;
mod segment_roundtrip;
mod segments;
mod store_meta;

use runlog::{Level, LogRecord, Timestamp};

/// A target's hand-made files: (name without the `seed-` prefix, bytes).
pub type Seeds = Vec<(&'static str, Vec<u8>)>;

/// Every hand-made corpus file: (target, file name, bytes). Seeds are
/// named `seed-*`; reproducers of fixed bugs `fixed-*`.
pub fn seed_files() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut add = |target: &'static str, files: Vec<(&str, Vec<u8>)>| {
        for (name, bytes) in files {
            assert!(bytes.len() < 8 * 1024, "seed {name} too big");
            let name = if name.starts_with("fixed-") {
                name.to_string()
            } else {
                format!("seed-{name}")
            };
            out.push((target, name, bytes));
        }
    };
    let (segment_decode, recovery) = segments::segment_decode_and_recovery();
    add("segment_decode", segment_decode);
    add("recovery", recovery);
    add("segment_roundtrip", segment_roundtrip::seeds());
    add("store_meta", store_meta::seeds());
    add("index_file", index_file::seeds());
    add("presets", presets::seeds());
    add("cursor", cursor::seeds());
    add("run_journal", run_journal::seeds());
    add("cut_log", cut_log::seeds());
    out
}

/// Record `i` of the hand-made files: every field set, 7 s after record
/// `i - 1`, a detail on odd ones.
pub fn rec(i: u32) -> LogRecord {
    let t = Timestamp::from_secs(1000 + i64::from(i) * 7);
    let mut r = LogRecord::new(
        t,
        Level::ALL[i as usize % 4],
        format!("job-{}", i / 2),
        format!("step {i}: POST /orders/{i} -> 200"),
    )
    .flow("sync-orders")
    .component("HTTP")
    .action("request")
    .category("output")
    .env("prod")
    .app("shop")
    .version("1.0")
    .attempt(1 + i % 3);
    if i % 2 == 1 {
        r = r.detail(format!("{{\"i\": {i}, \"body\": \"héllo\"}}"));
    }
    r
}

/// The bytes runlog leaves where frames were lost: not a frame.
pub const DAMAGE: u8 = 0xAB;
