//! Every decoder of `runlog::format` on arbitrary bytes, as bare frames and as a file (and again with their checksums recomputed, salt included): no panic, and the invariants of what they return.
//!
//! The check lives in `tests/fuzz_checks/segment_decode.rs`, shared with
//! `tests/fuzz_corpus.rs`, which replays `fuzz/corpus/segment_decode/` in CI.
#![no_main]

#[path = "../../tests/fuzz_checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_segment_decode(data));
