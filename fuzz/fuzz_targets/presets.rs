//! Fuzz bytes as a project's saved-presets file (and again with its checksum recomputed): no panic, only intact files decode, and what decodes re-encodes to the same bytes.
//!
//! The check lives in `tests/fuzz_checks/presets.rs`, shared with
//! `tests/fuzz_corpus.rs`, which replays `fuzz/corpus/presets/` in CI.
#![no_main]

#[path = "../../tests/fuzz_checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_presets(data));
