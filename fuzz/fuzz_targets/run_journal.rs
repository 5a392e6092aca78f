//! Fuzz bytes as a run journal file (and again with its checksums recomputed): the header decoder and the frame scanner never panic and keep their invariants; in a real store, readers and writers list exactly the runs its events make, recover it, and can verify it.
//!
//! The check lives in `tests/fuzz_checks/run_journal.rs`, shared with
//! `tests/fuzz_corpus.rs`, which replays `fuzz/corpus/run_journal/` in CI.
#![no_main]

#[path = "../../tests/fuzz_checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_run_journal(data));
