//! Fuzz bytes as a project's `cuts` file (the cut count, then the cut log; and again with its checksums recomputed): the decoder never panics, agrees with the documented layout and is canonical; a reader tells all the cuts between two counts or none; in a real store a reader that reads and follows it keeps showing exactly the stored records without damage, and a writer opens and appends.
//!
//! The check lives in `tests/fuzz_checks/cut_log.rs`, shared with
//! `tests/fuzz_corpus.rs`, which replays `fuzz/corpus/cut_log/` in CI.
#![no_main]

#[path = "../../tests/fuzz_checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_cut_log(data));
