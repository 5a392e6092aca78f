//! Fuzz bytes as a sealed segment's index file (`.idx`), for the segment the seeds were made for and for the one its header names, and again with its checksums recomputed: no panic, and every lookup agrees with its posting.
//!
//! The check lives in `tests/fuzz_checks/index_file.rs`, shared with
//! `tests/fuzz_corpus.rs`, which replays `fuzz/corpus/index_file/` in CI.
#![no_main]

#[path = "../../tests/fuzz_checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_index_file(data));
