//! Fuzz bytes as `runlog.meta` of a store holding records, opened read-only and for writing: no panic, and opens succeed exactly when the settings are valid.
//!
//! The check lives in `tests/fuzz_checks/store_meta.rs`, shared with
//! `tests/fuzz_corpus.rs`, which replays `fuzz/corpus/store_meta/` in CI.
#![no_main]

#[path = "../../tests/fuzz_checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_store_meta(data));
