//! Fuzz bytes as a user's page cursor, as bytes and as text (and again with its checksum recomputed): no panic, decoding agrees with the documented form, and a cursor continued in a small store gives exactly the records of its range before it.
//!
//! The check lives in `tests/fuzz_checks/cursor.rs`, shared with
//! `tests/fuzz_corpus.rs`, which replays `fuzz/corpus/cursor/` in CI.
#![no_main]

#[path = "../../tests/fuzz_checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_cursor(data));
