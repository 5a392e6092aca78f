//! Records written as a segment (secret salt) decode back to themselves, and only under that salt; after up to three flipped bits and a cut, every decoder returns the original or an error, never a frame forged inside a record's text.
//!
//! The check lives in `tests/fuzz_checks/segment_roundtrip.rs`, shared with
//! `tests/fuzz_corpus.rs`, which replays `fuzz/corpus/segment_roundtrip/` in CI.
#![no_main]

#[path = "../../tests/fuzz_checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_segment_roundtrip(data));
