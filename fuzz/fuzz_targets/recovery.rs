//! A segment file of fuzz bytes in a real store: read-only open, recovery, reopen, seal, reopen; no panic, and the same records every time.
//!
//! The check lives in `tests/fuzz_checks/recovery.rs`, shared with
//! `tests/fuzz_corpus.rs`, which replays `fuzz/corpus/recovery/` in CI.
#![no_main]

#[path = "../../tests/fuzz_checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_recovery(data));
