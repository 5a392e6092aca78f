//! Replays the committed fuzz corpus, `fuzz/corpus/<target>/*`, through the
//! checks the fuzz targets run (`tests/fuzz_checks/mod.rs`, shared with
//! `fuzz/fuzz_targets/*.rs`), on stable Rust without libFuzzer, so CI
//! keeps every input the fuzzer ever kept passing. A target whose corpus
//! directory is missing or empty fails.
//!
//! The corpus holds the fuzzer's inputs, the hand-made seeds (`seed-*`)
//! and the reproducers of bugs found by fuzzing and since fixed
//! (`fixed-*`, see `fuzz/regressions/README.md`); the last two are made
//! by `tests/common/fuzz_seeds/` (one file per target), written by this
//! file and checked to be current.
//!
//! Ignored tests:
//! - `known_bug_reproducers`: inputs under `fuzz/regressions/<target>/`
//!   (bugs found by fuzzing, not yet fixed); it fails while any of them
//!   still fails its check. Once a bug is fixed, move its file into
//!   `fuzz/corpus/<target>/`.
//! - `write_seed_corpus`: rewrites the seeds and reproducers of every
//!   target.

mod common;
mod fuzz_checks;
#[path = "common/fuzz_seeds/mod.rs"]
mod seeds;

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use common::options;
use fuzz_checks::{FIXED_SALT, TARGETS};
use runlog::format;
use runlog::{Level, LogRecord, ManualClock, TimeRange, Timestamp};
use seeds::seed_files;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn check_of(target: &str) -> fuzz_checks::Check {
    TARGETS
        .iter()
        .find(|t| t.name == target)
        .unwrap_or_else(|| panic!("no check for target {target}"))
        .check
}

/// Run `target`'s check on every file of `dir`; the number of files and
/// the failures (file: message).
fn replay(target: &str, dir: &Path) -> (usize, Vec<String>) {
    let check = check_of(target);
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let mut failures = Vec::new();
    for file in &files {
        let data = fs::read(file).unwrap();
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(&data))) {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{}: {msg}", file.display()));
        }
    }
    (files.len(), failures)
}

fn replay_corpus(target: &str) {
    let dir = fuzz_dir().join("corpus").join(target);
    assert!(dir.is_dir(), "corpus {} is missing", dir.display());
    let (n, failures) = replay(target, &dir);
    assert!(n > 0, "corpus {} is empty", dir.display());
    assert!(
        failures.is_empty(),
        "{} of {n} corpus inputs of {target} fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn segment_decode_corpus() {
    replay_corpus("segment_decode");
}

#[test]
fn segment_roundtrip_corpus() {
    replay_corpus("segment_roundtrip");
}

#[test]
fn recovery_corpus() {
    replay_corpus("recovery");
}

#[test]
fn store_meta_corpus() {
    replay_corpus("store_meta");
}

#[test]
fn index_file_corpus() {
    replay_corpus("index_file");
}

#[test]
fn presets_corpus() {
    replay_corpus("presets");
}

#[test]
fn cursor_corpus() {
    replay_corpus("cursor");
}

#[test]
fn run_journal_corpus() {
    replay_corpus("run_journal");
}

#[test]
fn cut_log_corpus() {
    replay_corpus("cut_log");
}

/// Every fuzz target has a check here and a corpus (and the other way round).
#[test]
fn every_fuzz_target_is_replayed() {
    let mut targets: Vec<String> = fs::read_dir(fuzz_dir().join("fuzz_targets"))
        .expect("fuzz/fuzz_targets")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    targets.sort();
    let mut checked: Vec<String> = TARGETS.iter().map(|t| t.name.to_string()).collect();
    checked.sort();
    assert_eq!(targets, checked);
    let manifest = fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    for t in &targets {
        assert!(
            manifest.contains(&format!("name = \"{t}\"")),
            "{t} missing from fuzz/Cargo.toml"
        );
        assert!(
            fuzz_dir().join("corpus").join(t).is_dir(),
            "no corpus for {t}"
        );
    }
}

/// The seeds and reproducers in the corpus are what [`seed_files`] makes
/// now (run `write_seed_corpus` after a format change).
#[test]
fn seeds_are_current() {
    let mut stale = Vec::new();
    for (target, name, bytes) in seed_files() {
        let path = fuzz_dir().join("corpus").join(target).join(&name);
        if fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "missing or stale, run `cargo test --test fuzz_corpus -- --ignored write_seed_corpus`:\n{}",
        stale.join("\n")
    );
}

/// Inputs of bugs found by fuzzing and not fixed yet: each still fails.
/// Run with `cargo test --test fuzz_corpus -- --ignored known_bug`.
#[test]
#[ignore = "known bugs, see fuzz/regressions/README.md"]
fn known_bug_reproducers() {
    let mut all = Vec::new();
    for t in TARGETS {
        let dir = fuzz_dir().join("regressions").join(t.name);
        if dir.is_dir() {
            all.extend(replay(t.name, &dir).1);
        }
    }
    assert!(all.is_empty(), "still failing:\n{}", all.join("\n"));
}

// ---------------------------------------------------------------------------
// The fixed bugs through the public API (what was checked by hand before).
// ---------------------------------------------------------------------------

/// Bug 3: a record whose text holds a whole frame (checksummed with a
/// guessed salt), torn by a crash: at every cut, readers and recovery see
/// only the record before it, before and after sealing.
#[test]
fn forged_frame_in_a_record_is_not_served() {
    let t = Timestamp::from_secs(1_700_000_000);
    let clock = ManualClock::new(t);
    for guess in [0, FIXED_SALT] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let first = LogRecord::new(t, Level::Info, "job", "first");
        let forged = fuzz_checks::forged_frame(t, 1, guess).expect("a UTF-8 forged frame");
        let carrier = LogRecord::new(t, Level::Info, "job", format!("user input: {forged}!"));
        let wal = {
            let store = options(&clock).open(dir).unwrap();
            let p = store.project("p").unwrap();
            p.append(&first).unwrap();
            p.append(&carrier).unwrap();
            p.sync().unwrap();
            let segs = p.segments().unwrap();
            assert_eq!(segs.len(), 1);
            segs[0].path.clone()
        };
        let whole = fs::read(&wal).unwrap();
        let carrier_at = whole.len() - format::frame_len(&carrier);
        // The file holds the forged frame, valid under the guessed salt.
        let forged_at = whole
            .windows(forged.len())
            .position(|w| w == forged.as_bytes())
            .expect("the forged frame in the file");
        assert!(forged_at > carrier_at);
        assert!(matches!(
            format::parse_frame(&whole[forged_at..], guess),
            Ok(Some(f)) if f.ordinal == 1 && format::decode_full(&f).is_ok()
        ));
        let only_first = |p: &runlog::Project, what: &str| {
            let got: Vec<String> = p
                .scan(TimeRange::all())
                .map(|r| r.unwrap().record.content.to_string())
                .collect();
            assert_eq!(got, ["first"], "{what}");
        };
        for cut in carrier_at + 1..whole.len() {
            fs::write(&wal, &whole[..cut]).unwrap();
            let store = options(&clock).open_read_only(dir).unwrap();
            only_first(
                &store.project("p").unwrap(),
                &format!("salt {guess:#x}, cut {cut}"),
            );
        }
        // Recovery (cut 3 bytes short), then sealing.
        fs::write(&wal, &whole[..whole.len() - 3]).unwrap();
        let store = options(&clock).open(dir).unwrap();
        let p = store.project("p").unwrap();
        only_first(&p, "after recovery");
        clock.set(Timestamp::from_secs(1_700_000_000 + 3 * 3600));
        p.seal_due().unwrap();
        clock.set(t);
        only_first(&p, "after sealing");
        drop(p);
        drop(store);
        let store = options(&clock).open(dir).unwrap();
        only_first(&store.project("p").unwrap(), "after sealing and reopening");
    }
}

/// Bug 2, the ways in the fuzz targets do not cover: a clock at the end of
/// time and a record at `i64::MAX - 1` µs, whose partition would end past
/// it. No panic (overflow checks are on in tests); the record is refused.
#[test]
fn partition_arithmetic_at_the_end_of_time() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(Timestamp::MAX);
    let store = options(&clock).open(tmp.path()).unwrap();
    let p = store.project("p").unwrap();
    let late = LogRecord::new(Timestamp::from_micros(i64::MAX - 1), Level::Info, "j", "c");
    let r = p.append(&late);
    assert!(
        matches!(r, Err(runlog::Error::TimeOutOfRange { .. })),
        "{r:?}"
    );
    p.seal_due().unwrap();
    assert_eq!(p.scan(TimeRange::all()).count(), 0);
    let _ = p.segments().unwrap();
}

/// Rewrite the hand-made corpus files of every target (seeds and the
/// reproducers of fixed bugs):
/// `cargo test --test fuzz_corpus -- --ignored write_seed_corpus`.
#[test]
#[ignore = "writes files under fuzz/corpus"]
fn write_seed_corpus() {
    for (target, name, bytes) in seed_files() {
        let dir = fuzz_dir().join("corpus").join(target);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(name), bytes).unwrap();
    }
}
