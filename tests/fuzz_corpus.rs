//! Replays the committed fuzz corpus, `fuzz/corpus/<target>/*`, through the
//! checks the fuzz targets run (`tests/fuzz_checks/mod.rs`, shared with
//! `fuzz/fuzz_targets/*.rs`), on stable Rust without libFuzzer, so CI
//! keeps every input the fuzzer ever kept passing. A target whose corpus
//! directory is missing or empty fails.
//!
//! The corpus holds the fuzzer's inputs, the hand-made seeds (`seed-*`)
//! and the reproducers of bugs found by fuzzing and since fixed
//! (`fixed-*`, see `fuzz/regressions/README.md`); the last two are written
//! by this file and checked to be current.
//!
//! Ignored tests:
//! - `known_bug_reproducers`: inputs under `fuzz/regressions/<target>/`
//!   (bugs found by fuzzing, not yet fixed); it fails while any of them
//!   still fails its check. Once a bug is fixed, move its file into
//!   `fuzz/corpus/<target>/`.
//! - `write_seed_corpus`: rewrites the seeds and reproducers of every
//!   target.

mod fuzz_checks;

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use fuzz_checks::{FIXED_SALT, INDEX_SEGMENT, RoundtripSeed, TARGETS};
use runlog::format::{self, HEADER_LEN, MIN_FRAME_LEN, MISSING, SealTables, SegmentHeader};
use runlog::{
    Level, LogRecord, ManualClock, Preset, SavedRange, SegmentId, StoreOptions, SyncPolicy,
    TimeRange, Timestamp, Trigger,
};

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

fn options(clock: &ManualClock) -> StoreOptions {
    StoreOptions::new()
        .clock(clock.clone())
        .sync_policy(SyncPolicy::Manual)
}

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

// ---------------------------------------------------------------------------
// Seeds.
// ---------------------------------------------------------------------------

fn rec(i: u32) -> LogRecord {
    let t = Timestamp::from_secs(1000 + i64::from(i) * 7);
    let mut r = LogRecord::new(
        t,
        Level::ALL[i as usize % 4],
        format!("job-{}", i / 2),
        format!("step {i}: POST /orders/{i} -> 200"),
    )
    .flow("sync-orders")
    .component("HTTP")
    .action("request")
    .category("output")
    .env("prod")
    .app("shop")
    .version("1.0")
    .attempt(1 + i % 3);
    if i % 2 == 1 {
        r = r.detail(format!("{{\"i\": {i}, \"body\": \"héllo\"}}"));
    }
    r
}

/// The bytes runlog leaves where frames were lost: not a frame.
const DAMAGE: u8 = 0xAB;

/// A segment of partition 0 (the recovery header, [`FIXED_SALT`]) with
/// frames of `ordinals`; where ordinals skip some, damaged bytes come
/// first, as many as the skipped frames took at least (so the scanner
/// accepts the gap). The frames' offsets.
fn segment(ordinals: &[u32]) -> (Vec<u8>, Vec<u32>) {
    let mut b = fuzz_checks::recovery_header().to_vec();
    let mut offsets = Vec::new();
    let mut next = 0;
    for &o in ordinals {
        let skipped = o.saturating_sub(next) as usize;
        b.extend(std::iter::repeat_n(DAMAGE, skipped * MIN_FRAME_LEN));
        offsets.push(b.len() as u32);
        format::encode_frame(&rec(o), o, FIXED_SALT, &mut b);
        next = o + 1;
    }
    (b, offsets)
}

/// Frames of `ordinals` back to back (salt [`FIXED_SALT`]), nothing between.
fn frames(ordinals: &[u32]) -> Vec<u8> {
    let mut b = Vec::new();
    for &o in ordinals {
        format::encode_frame(&rec(o), o, FIXED_SALT, &mut b);
    }
    b
}

/// `segment(ordinals)`, sealed.
fn sealed(ordinals: &[u32]) -> Vec<u8> {
    let (mut b, offsets) = segment(ordinals);
    let slots = ordinals.iter().max().map_or(0, |m| *m as usize + 1);
    let mut times = vec![0i64; slots];
    let mut offs = vec![MISSING; slots];
    for (k, &o) in ordinals.iter().enumerate() {
        times[o as usize] = rec(o).time.as_micros();
        offs[o as usize] = offsets[k];
    }
    let mut order = ordinals.to_vec();
    order.sort_by_key(|&o| (times[o as usize], o));
    let block = b.len() as u64;
    b.extend(format::encode_seal(
        &SealTables {
            times: &times,
            offsets: &offs,
            order: &order,
        },
        block,
    ));
    b
}

/// A frame of `r` with checksums valid under [`FIXED_SALT`] after `edit`
/// changed its bytes (lengths kept).
fn edited_frame(r: &LogRecord, ordinal: u32, edit: impl FnOnce(&mut [u8])) -> Vec<u8> {
    let mut b = Vec::new();
    format::encode_frame(r, ordinal, FIXED_SALT, &mut b);
    edit(&mut b);
    fuzz_checks::fix_frame_checksums(&mut b, 0, FIXED_SALT);
    b
}

/// A torn active segment: a record, then a record whose content holds a
/// whole frame forged with salt `guess` (ordinal 1, as the torn record's;
/// all of it UTF-8), cut 1 byte short.
fn forged_in_content(guess: u64) -> Vec<u8> {
    let t = Timestamp::from_secs(1000);
    let forged = fuzz_checks::forged_frame(t, 1, guess).expect("a UTF-8 forged frame");
    let carrier = LogRecord::new(t, Level::Info, "job", format!("user input: {forged}!"));
    let mut b = fuzz_checks::recovery_header().to_vec();
    format::encode_frame(&rec(0), 0, FIXED_SALT, &mut b);
    format::encode_frame(&carrier, 1, FIXED_SALT, &mut b);
    b.pop();
    b
}

/// A settings file: magic, `version`, partition of `secs`, good CRC.
fn meta(version: u16, secs: u32) -> Vec<u8> {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(b"RUNLOGST");
    b[8..10].copy_from_slice(&version.to_le_bytes());
    b[12..16].copy_from_slice(&secs.to_le_bytes());
    let crc = crc32fast::hash(&b[..28]);
    b[28..].copy_from_slice(&crc.to_le_bytes());
    b.to_vec()
}

/// Every hand-made corpus file: (target, file name, bytes). Seeds are
/// named `seed-*`; reproducers of fixed bugs `fixed-*`.
fn seed_files() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut add = |target: &'static str, files: Vec<(&str, Vec<u8>)>| {
        for (name, bytes) in files {
            assert!(bytes.len() < 8 * 1024, "seed {name} too big");
            let name = if name.starts_with("fixed-") {
                name.to_string()
            } else {
                format!("seed-{name}")
            };
            out.push((target, name, bytes));
        }
    };
    let header = fuzz_checks::recovery_header();
    let (active, offsets) = segment(&[0, 1, 2, 3]);
    let torn = active[..active.len() - 5].to_vec();
    let mut damaged = active.clone();
    damaged[offsets[2] as usize + 30] ^= 0x40;
    let mut garbage = active.clone();
    garbage.extend(b"\x07\0\0\0garbage after the frames");
    let sealed4 = sealed(&[0, 1, 2, 3]);
    let gaps = sealed(&[0, 2, 5]);
    let (gap_after_damage, _) = segment(&[0, 3, 4]);
    let empty_seal = sealed(&[]);
    let interrupted = sealed4[..sealed4.len() - 10].to_vec();
    let mut bad_trailer = sealed4.clone();
    let n = bad_trailer.len();
    bad_trailer[n - 30] ^= 1;
    let lone = active[HEADER_LEN..offsets[1] as usize].to_vec();
    let other_header = format::encode_header(&SegmentHeader {
        layout: 0,
        partition: 7,
        generation: 3,
        partition_len: 60_000_000,
        created: Timestamp::from_secs(1_700_000_000),
        salt: 0,
    });
    let with_header = |frames: &[u8]| {
        let mut b = header.to_vec();
        b.extend_from_slice(frames);
        b
    };
    // Ordinals that skip with no damage to hold the missing frames: the
    // scan stops at the skip (ordinal 9 after 0), or refuses a first frame
    // other than 0.
    let gap_no_damage = with_header(&frames(&[0, 9, 10]));
    let late_start = with_header(&frames(&[3, 4]));
    // Frames checksummed with another salt than the header's.
    let mut other_salt = header.to_vec();
    format::encode_frame(&rec(0), 0, FIXED_SALT ^ 1, &mut other_salt);
    format::encode_frame(&rec(1), 1, 0, &mut other_salt);
    // Valid checksums, invalid details: not UTF-8 (flag set), and detail
    // bytes without the flag.
    let not_utf8 = with_header(
        &[
            frames(&[0]),
            edited_frame(&rec(1).detail("xyz"), 1, |b| *b.last_mut().unwrap() = 0xff),
        ]
        .concat(),
    );
    let no_flag = with_header(
        &[
            frames(&[0]),
            edited_frame(&rec(2).detail("xyz"), 1, |b| b[20 + 9] = 0),
            frames(&[2]),
        ]
        .concat(),
    );
    // Checksums zeroed: the fuzz checks recompute them (a frame with an
    // ordinal gap and no damage, a non-UTF-8 detail, then a seal marker).
    let mut zeroed = with_header(&frames(&[0, 9]));
    let mut odd_detail = Vec::new();
    format::encode_frame(&rec(10).detail("xyz"), 10, FIXED_SALT, &mut odd_detail);
    let last = odd_detail.len() - 1;
    odd_detail[last] = 0xff;
    zeroed.extend(odd_detail);
    zeroed.extend(u32::MAX.to_le_bytes());
    for at in [60usize, 64 + 12, 64 + 16] {
        zeroed[at..at + 4].fill(0);
    }
    let forged_zero = forged_in_content(0);

    add(
        "segment_decode",
        vec![
            ("empty", vec![]),
            ("header", header.to_vec()),
            ("header-other", other_header.to_vec()),
            ("active", active.clone()),
            ("torn", torn.clone()),
            ("damaged", damaged.clone()),
            ("garbage-tail", garbage.clone()),
            ("sealed", sealed4.clone()),
            ("sealed-gaps", gaps.clone()),
            ("sealed-empty", empty_seal.clone()),
            ("interrupted-seal", interrupted.clone()),
            ("bad-trailer", bad_trailer.clone()),
            ("lone-frame", lone.clone()),
            ("bare-frames", frames(&[0, 1, 2])),
            ("gap-after-damage", gap_after_damage.clone()),
            ("gap-no-damage", gap_no_damage.clone()),
            ("late-start", late_start.clone()),
            ("other-salt", other_salt.clone()),
            ("detail-not-utf8", not_utf8.clone()),
            ("detail-without-flag", no_flag.clone()),
            ("zeroed-crcs", zeroed.clone()),
            ("forged-in-content", forged_zero.clone()),
        ],
    );

    let with_mode = |mode: u8, b: &[u8]| {
        let mut v = vec![mode];
        v.extend_from_slice(b);
        v
    };
    let body = |b: &[u8]| b[HEADER_LEN..].to_vec();
    // Bug 1: a frame (valid checksums) whose ordinal no file of its length
    // could reach; recovery sized its tables by it (12 MB sealed from a
    // 117-byte file; ordinals near u32::MAX aborted). Now not a frame.
    let mut huge = Vec::new();
    format::encode_frame(
        &LogRecord::new(Timestamp::from_secs(1000), Level::Info, "", ""),
        1_000_000,
        FIXED_SALT,
        &mut huge,
    );
    let mut huge_after_damage = vec![DAMAGE; 100];
    huge_after_damage.extend(&huge);
    add(
        "recovery",
        vec![
            ("empty", vec![]),
            ("wal-header-only", with_mode(0, &header)),
            ("wal-cut-header", with_mode(0, &active[..40])),
            ("wal-active", with_mode(0, &active)),
            ("wal-torn", with_mode(1, &body(&torn))),
            ("wal-damaged", with_mode(1, &body(&damaged))),
            ("wal-garbage-tail", with_mode(1, &body(&garbage))),
            ("wal-complete-seal", with_mode(0, &sealed4)),
            ("wal-interrupted-seal", with_mode(1, &body(&interrupted))),
            ("wal-other-header", with_mode(0, &other_header)),
            (
                "wal-gap-after-damage",
                with_mode(1, &body(&gap_after_damage)),
            ),
            ("wal-gap-no-damage", with_mode(0, &gap_no_damage)),
            ("wal-late-start", with_mode(1, &body(&late_start))),
            ("wal-other-salt", with_mode(0, &other_salt)),
            ("wal-detail-not-utf8", with_mode(0, &not_utf8)),
            ("wal-detail-without-flag", with_mode(1, &body(&no_flag))),
            ("wal-fixed-crcs", with_mode(5, &body(&zeroed))),
            ("wal-forged-in-content", with_mode(0, &forged_zero)),
            (
                "wal-huge-ordinal-after-damage",
                with_mode(1, &huge_after_damage),
            ),
            ("seg-sealed", with_mode(2, &sealed4)),
            ("seg-gaps", with_mode(3, &body(&gaps))),
            ("seg-empty-seal", with_mode(2, &empty_seal)),
            ("seg-bad-trailer", with_mode(2, &bad_trailer)),
            ("seg-unsealed", with_mode(2, &active)),
            ("seg-detail-not-utf8", with_mode(6, &not_utf8)),
            ("foreign-seg", with_mode(0xF2, &sealed4)),
            ("foreign-wal-u32-max", with_mode(0xF8, &active)),
            ("fixed-bug1-impossible-ordinal", with_mode(1, &huge)),
        ],
    );

    let t = Timestamp::from_secs(1_700_000_000);
    // Bug 3: a record whose content holds a whole frame, all of it UTF-8,
    // checksummed with a guessed salt (0) as the writer of log text would
    // have to, then cut 1 byte short by a crash: the scanner's resync used
    // to return the frame inside as a record (unsalted checksums).
    let first = LogRecord::new(t, Level::Info, "job", "first");
    let forged = fuzz_checks::forged_frame(t, 1, 0).expect("a UTF-8 forged frame");
    let carrier = LogRecord::new(t, Level::Info, "job", format!("user input: {forged}!"));
    let written = HEADER_LEN + format::frame_len(&first) + format::frame_len(&carrier);
    // What `forge(0, 0, t)` makes of `rec(1)` as the second record.
    let mut forging = rec(1);
    forging.content = format!("{forged}{}", forging.content).into();
    let forge_written = HEADER_LEN + format::frame_len(&rec(0)) + format::frame_len(&forging);
    add(
        "segment_roundtrip",
        vec![
            (
                "one",
                RoundtripSeed::new(1, 0, false)
                    .record(&LogRecord::new(
                        Timestamp::from_secs(1),
                        Level::Info,
                        "j",
                        "c",
                    ))
                    .corrupt(&[], None),
            ),
            (
                "sealed-flip",
                RoundtripSeed::new(3, 0, true)
                    .record(&rec(0))
                    .record(&rec(1))
                    .record(&rec(2))
                    .corrupt(&[8 * 200 + 3], None),
            ),
            (
                "sealed-cut",
                RoundtripSeed::new(4, 2, true)
                    .record(&rec(3))
                    .record(&rec(4))
                    .record(&rec(5))
                    .record(&rec(6))
                    .corrupt(&[], Some(300)),
            ),
            (
                "high-ordinals-three-flips",
                RoundtripSeed::new(2, u32::MAX - 10, false)
                    .record(&rec(7))
                    .record(&LogRecord::new(Timestamp::MIN, Level::Error, "", "").attempt(u32::MAX))
                    .corrupt(&[70 * 8, 71 * 8 + 1, 500], Some(1000)),
            ),
            (
                "long-fields",
                RoundtripSeed::new(1, 0, true)
                    .record(
                        &LogRecord::new(
                            Timestamp::MAX,
                            Level::Debug,
                            "j".repeat(128),
                            "ü".repeat(1500),
                        )
                        .flow("f".repeat(256))
                        .detail("d".repeat(2000)),
                    )
                    .corrupt(&[8 * 100], None),
            ),
            (
                "forge-zero-salt-torn",
                RoundtripSeed::new(2, 0, false)
                    .record(&rec(0))
                    .record(&rec(1))
                    .forge(0, 0, t)
                    .corrupt(&[], Some(forge_written as u32 - 1)),
            ),
            (
                "forge-guess-sealed-flip",
                RoundtripSeed::new(3, 0, true)
                    .record(&rec(0))
                    .record(&rec(1))
                    .record(&rec(2))
                    .forge(FIXED_SALT, 1, t)
                    .corrupt(&[8 * 700], None),
            ),
            (
                // The forged ordinal saturates at u32::MAX.
                "forge-last-ordinals",
                RoundtripSeed::new(4, u32::MAX, false)
                    .record(&rec(0))
                    .record(&rec(1))
                    .record(&rec(2))
                    .record(&rec(3))
                    .forge(7, 3, t)
                    .corrupt(&[], Some(400)),
            ),
            (
                "fixed-bug3-frame-inside-content",
                RoundtripSeed::new(2, 0, false)
                    .record(&first)
                    .record(&carrier)
                    .corrupt(&[], Some(written as u32 - 1)),
            ),
        ],
    );

    // Settings files: valid (1 h partitions, like the store; other valid
    // lengths), invalid lengths, other versions (valid checksums), and
    // malformed.
    let mut bad_crc = meta(1, 3600);
    bad_crc[29] ^= 1;
    let mut long = meta(1, 3600);
    long.push(0);
    add(
        "store_meta",
        vec![
            ("valid", meta(1, 3600)),
            ("partition-1-day", meta(1, 86_400)),
            ("partition-1-min", meta(1, 60)),
            ("partition-2h", meta(1, 7200)),
            ("partition-zero", meta(1, 0)),
            ("partition-7s", meta(1, 7)),
            ("partition-59s", meta(1, 59)),
            ("partition-3601s", meta(1, 3601)),
            ("partition-2-days", meta(1, 2 * 86_400)),
            ("partition-2-pow-30", meta(1, 1 << 30)),
            ("version-2", meta(2, 3600)),
            ("version-2-partition-zero", meta(2, 0)),
            ("bad-crc", bad_crc),
            ("empty", vec![]),
            ("short", meta(1, 3600)[..31].to_vec()),
            ("long", long),
            ("segment-magic", b"RUNLOGSG\x01\0\0\0\x10\x0e\0\0".to_vec()),
            // Bug 2: a reader adopted any stored partition length and
            // multiplied with it unchecked.
            ("fixed-bug2-partition-u32-max", meta(1, u32::MAX)),
        ],
    );

    // Index files: of no record, of hand-made records (details, ties,
    // every level), of generated ones; cut short, bytes flipped (their
    // checksums then fail, or are recomputed by the check), for another
    // segment, another version.
    let ix = |records: &[LogRecord]| runlog::__fuzz::encode_index(records, INDEX_SEGMENT);
    let hand: Vec<LogRecord> = (0..6).map(rec).collect();
    let generated = runlog_sample::Generator::new(7, Timestamp::from_secs(1_700_000_000)).batch(8);
    let ix_hand = ix(&hand);
    let ix_one = ix(&hand[..1]);
    let flip = |b: &[u8], at: usize, bit: u8| {
        let mut f = b.to_vec();
        f[at] ^= bit;
        f
    };
    let n = ix_hand.len();
    // Zeroed checksums: header, first section (table entry 0), table.
    let mut ix_zeroed = ix_hand.clone();
    let table_at = n - 16 - 200;
    for at in [28, table_at + 16, n - 8] {
        ix_zeroed[at..at + 4].fill(0);
    }
    // A term count past the section, checksums recomputed by the check.
    let mut ix_terms = flip(&ix_hand, 32 + 1, 0x10);
    ix_terms[28..32].fill(0);
    let ix_other = runlog::__fuzz::encode_index(
        &hand,
        SegmentId {
            partition: 9,
            generation: 0,
        },
    );
    let mut ix_v2 = ix_one.clone();
    ix_v2[8] = 2;
    ix_v2[28..32].fill(0);
    add(
        "index_file",
        vec![
            ("empty", vec![]),
            ("no-records", ix(&[])),
            ("one", ix_one.clone()),
            ("hand", ix_hand.clone()),
            ("generated", ix(&generated)),
            ("header-only", ix_hand[..32].to_vec()),
            ("cut-in-sections", ix_hand[..n / 2].to_vec()),
            ("cut-1", ix_hand[..n - 1].to_vec()),
            ("flip-header", flip(&ix_hand, 13, 1)),
            ("flip-section", flip(&ix_hand, 40, 0x20)),
            ("flip-table", flip(&ix_hand, table_at + 3, 1)),
            ("flip-trailer-magic", flip(&ix_hand, n - 1, 1)),
            ("zeroed-crcs", ix_zeroed),
            ("term-count-past-section", ix_terms),
            ("other-segment", ix_other),
            ("version-2", ix_v2),
        ],
    );

    // Presets files: empty, one of each kind of range, every calendar
    // preset, names at the limits; cut short, altered, of another version.
    let enc = runlog::__fuzz::encode_presets;
    let named = |n: &str, r: SavedRange| (n.to_string(), r);
    let abs = |a: i64, b: i64| {
        SavedRange::Absolute(
            TimeRange::new(Timestamp::from_micros(a), Timestamp::from_micros(b)).unwrap(),
        )
    };
    let three = enc(&[
        named("a", SavedRange::Last(std::time::Duration::from_secs(7200))),
        named("b", SavedRange::Calendar(Preset::Yesterday)),
        named("c", abs(1_000_000, 2_000_000)),
    ]);
    let calendar: Vec<(String, SavedRange)> = [
        Preset::Last5Minutes,
        Preset::Last15Minutes,
        Preset::Last30Minutes,
        Preset::LastHour,
        Preset::Last6Hours,
        Preset::LastDay,
        Preset::Last3Days,
        Preset::Last7Days,
        Preset::Last30Days,
        Preset::Today,
        Preset::Yesterday,
        Preset::TwoDaysAgo,
        Preset::ThisWeek,
        Preset::LastWeek,
    ]
    .into_iter()
    .enumerate()
    .map(|(i, p)| (format!("p{i:02}"), SavedRange::Calendar(p)))
    .collect();
    let edges = enc(&[
        named(
            &"n".repeat(runlog::MAX_PRESET_NAME),
            abs(i64::MIN, i64::MAX),
        ),
        named(
            "späť ünïcode",
            SavedRange::Last(std::time::Duration::new(u64::MAX, 999_999_999)),
        ),
        named("zero", abs(0, 0)),
        named("µs", SavedRange::Last(std::time::Duration::from_nanos(1))),
    ]);
    let with_head = |b: &[u8], at: usize, v: &[u8]| {
        let mut f = b.to_vec();
        f[at..at + v.len()].copy_from_slice(v);
        f
    };
    add(
        "presets",
        vec![
            ("empty-file", vec![]),
            ("none", enc(&[])),
            ("three", three.clone()),
            ("calendar", enc(&calendar)),
            ("edges", edges.clone()),
            ("head-only", three[..20].to_vec()),
            ("cut-1", three[..three.len() - 1].to_vec()),
            ("bad-crc", with_head(&three, 16, &[0, 0, 0, 0])),
            ("flip-payload", with_head(&three, 22, b"A")),
            ("version-2", with_head(&three, 8, &[2, 0])),
            ("reserved-set", with_head(&three, 10, &[1, 0])),
            ("long-length", with_head(&three, 12, &[0xff, 0xff, 0, 0])),
        ],
    );

    // Cursors: the page cursors of a real query of the small store (text
    // and bytes; their filters are the check's query's), and altered:
    // other filters, inverted or wide ranges, a position at the end of
    // time; cut short, another version, a non-canonical last character.
    let store = fuzz_checks::cursor_store();
    let cursor_bytes =
        |i: usize| fuzz_checks::cursor_text_bytes(&store.page_cursors[i].to_string()).unwrap();
    let fixed = |mut b: Vec<u8>, at: usize, v: &[u8]| {
        b[at..at + v.len()].copy_from_slice(v);
        fuzz_checks::fix_cursor_crc(&b).unwrap()
    };
    let text = |b: &[u8]| fuzz_checks::cursor_text(b).into_bytes();
    let first = cursor_bytes(0);
    let last = cursor_bytes(store.page_cursors.len() - 1);
    let all = fixed(
        first.clone(),
        9,
        &[&i64::MIN.to_le_bytes()[..], &i64::MAX.to_le_bytes()].concat(),
    );
    let end = fixed(
        all.clone(),
        25,
        &[&i64::MAX.to_le_bytes()[..], &[0xff; 12]].concat(),
    );
    let run_first = store
        .project
        .runs(&runlog::RunQuery::new().all_time().limit(1))
        .unwrap()
        .next
        .unwrap();
    let run_bytes = fuzz_checks::cursor_text_bytes(&run_first.to_string()).unwrap();
    let mut odd_text = text(&first);
    *odd_text.last_mut().unwrap() += 1;
    add(
        "cursor",
        vec![
            ("empty", vec![]),
            ("page-1-text", text(&first)),
            ("page-1-bytes", first.clone()),
            ("last-page-text", text(&last)),
            ("last-page-bytes", last.clone()),
            ("other-filters", text(&fixed(first.clone(), 1, &[0x42]))),
            (
                "inverted-range",
                fixed(first.clone(), 17, &i64::MIN.to_le_bytes()),
            ),
            ("all-time", text(&all)),
            ("end-of-time-bytes", end.clone()),
            ("bad-crc", {
                let mut b = first.clone();
                b[46] ^= 1;
                b
            }),
            ("version-2", fixed(first.clone(), 0, &[2])),
            ("text-cut", text(&first)[..65].to_vec()),
            ("text-noncanonical-tail", odd_text),
            ("text-other-chars", b"AAAA+/==".to_vec()),
            ("run-cursor-text", run_first.to_string().into_bytes()),
            ("run-cursor-bytes", run_bytes.clone()),
            ("run-cursor-long-job", {
                // A 128-byte job ID: the longest a run cursor holds.
                let mut b = run_bytes[..34].to_vec();
                b[33] = 128;
                b.extend(std::iter::repeat_n(b'j', 128));
                b.extend([0; 4]);
                let n = b.len() - 4;
                let crc = crc32fast::hash(&b[..n]);
                b[n..].copy_from_slice(&crc.to_le_bytes());
                b
            }),
        ],
    );

    // Run journals (file 0000000000-0000.runs, clock at 00:30): runs in
    // every state through every kind of event; cut short, a byte flipped
    // in a frame and in the header, events that do not follow, frames of
    // another salt, a header naming another file or of another version,
    // a sequence gap after damage, checksums zeroed (recomputed by the
    // check), times at the ends of time.
    let ev = JournalEvents::default;
    let lifecycle = ev()
        // job-1: fails, retried automatically, succeeds.
        .start("job-1", Trigger::Scheduler, 1000)
        .failed("job-1", 1, Some(1010))
        .attempt("job-1", 2, false)
        .succeeded("job-1", 2)
        // job-2: fails for good, retried by hand, fails again with a
        // retry due now.
        .start("job-2", Trigger::Event, 1100)
        .failed("job-2", 1, None)
        .attempt("job-2", 2, true)
        .failed("job-2", 2, Some(1700))
        // job-3: still running; job-4: succeeded at once.
        .start("job-3", Trigger::Manual, 1200)
        .start("job-4", Trigger::Scheduler, 1300)
        .succeeded("job-4", 1);
    let (valid, offsets) = lifecycle.file(&fuzz_checks::journal_header());
    let mut flipped = valid.clone();
    flipped[offsets[2] as usize + 14] ^= 0x40;
    let mut flipped_header = valid.clone();
    flipped_header[13] ^= 1;
    let mut zeroed = valid.clone();
    for &o in &offsets {
        zeroed[o as usize + 8..o as usize + 12].fill(0);
    }
    let other_file = runlog::journal::encode_header(&runlog::journal::JournalHeader {
        partition: 5,
        generation: 0,
        salt: FIXED_SALT,
    });
    let mut version_2 = fuzz_checks::journal_header();
    version_2[8] = 2;
    let crc = crc32fast::hash(&version_2[..28]);
    version_2[28..].copy_from_slice(&crc.to_le_bytes());
    let mut other_salt = fuzz_checks::journal_header().to_vec();
    runlog::journal::encode_frame(&lifecycle.events[0], 0, FIXED_SALT ^ 1, &mut other_salt)
        .unwrap();
    let not_following = ev()
        .succeeded("nobody", 1)
        .start("job-1", Trigger::Event, 1000)
        .start("job-1", Trigger::Manual, 1001)
        .failed("job-1", 2, None)
        .attempt("job-1", 2, false)
        .succeeded("job-1", 1)
        .attempt("job-1", 2, true)
        .failed("job-1", 1, None)
        .failed("job-1", 1, None)
        .attempt("job-1", 3, true)
        .attempt("job-1", 2, false)
        .attempt("job-1", 2, true)
        .file(&fuzz_checks::journal_header())
        .0;
    // Frames 0 and 1, damaged bytes that could hold two, then frame 4.
    let (gap, _) = lifecycle.file_with_gap(2, 2);
    // (Trigger times stay in the file's partition, the first hour.)
    let ends = ev()
        .start("first", Trigger::Event, 0)
        .failed("first", 1, Some(i64::MIN))
        .start("last", Trigger::Scheduler, 3599)
        .failed("last", 1, Some(i64::MAX / 1_000_000))
        .start("", Trigger::Manual, 1800)
        .file(&fuzz_checks::journal_header())
        .0;
    add(
        "run_journal",
        vec![
            ("empty", vec![]),
            ("short-header", valid[..20].to_vec()),
            ("header-only", fuzz_checks::journal_header().to_vec()),
            ("lifecycle", valid.clone()),
            ("cut-in-frame", valid[..valid.len() - 5].to_vec()),
            ("cut-in-head", valid[..offsets[3] as usize + 6].to_vec()),
            ("flipped-frame", flipped),
            ("flipped-header", flipped_header),
            ("zeroed-crcs", zeroed),
            ("other-file", [&other_file[..], &valid[32..]].concat()),
            ("version-2", [&version_2[..], &valid[32..]].concat()),
            ("other-salt", other_salt),
            ("not-following", not_following),
            ("gap-after-damage", gap),
            ("ends-of-time", ends),
            ("garbage-tail", [&valid[..], b"\x07\0\0\0garbage"].concat()),
        ],
    );

    // Cut logs, read in the store_meta template, whose writer's open was
    // cut 1 (so cuts from 2 on are news to its reader) and whose active
    // segment is partition 472224, generation 0 (FIXED_SALT stands for its
    // salt: the check puts that in, and recomputes the checksums).
    use fuzz_checks::{cut_entry, cut_log_file};
    let active = (472_224, 0);
    let any = |seq| cut_entry(seq, 0, 0, 0, 0, 0, 0);
    let seg =
        |seq, ordinal, salt, offset| cut_entry(seq, 1, active.0, active.1, ordinal, salt, offset);
    let whole = seg(2, 0, FIXED_SALT, HEADER_LEN as u64);
    let cut_whole = cut_log_file(2, &[any(1), whole.clone()]);
    let mut flipped = cut_whole.clone();
    flipped[24 + 44 + 30] ^= 0x08;
    // A log of version 1 (read the same), and of version 3 (no log).
    let mut version_1 = cut_whole.clone();
    version_1[16] = 1;
    let mut version_3 = cut_whole.clone();
    version_3[16] = 3;
    let mut reserved = whole.clone();
    reserved[9] = 1;
    let many: Vec<Vec<u8>> = (1..=30u64)
        .map(|seq| match seq % 3 {
            0 => cut_entry(seq, 3, 472_224, 0, 0, 9, 32 + seq),
            1 => seg(seq, 0, FIXED_SALT, HEADER_LEN as u64),
            _ => seg(seq, seq as u32, 7, 1000 + seq),
        })
        .collect();
    add(
        "cut_log",
        vec![
            ("empty", vec![]),
            ("short-count", vec![5, 0, 0, 0, 0]),
            ("bare-count", 2u64.to_le_bytes().to_vec()),
            ("header-only", cut_log_file(1, &[])),
            ("writer-open", cut_log_file(1, &[any(1)])),
            ("segment-cut-whole", cut_whole.clone()),
            (
                "segment-cut-not-fitting",
                cut_log_file(2, &[any(1), seg(2, 5, FIXED_SALT, 1)]),
            ),
            (
                "segment-cut-other-salt",
                cut_log_file(2, &[any(1), seg(2, 0, 7, HEADER_LEN as u64)]),
            ),
            (
                "segment-removed",
                cut_log_file(
                    2,
                    &[
                        any(1),
                        cut_entry(2, 2, active.0, active.1, 0, FIXED_SALT, 0),
                    ],
                ),
            ),
            (
                "journal-cut",
                cut_log_file(2, &[any(1), cut_entry(2, 3, 472_224, 0, 0, 9, 32)]),
            ),
            (
                "two-cuts",
                cut_log_file(
                    3,
                    &[
                        any(1),
                        whole.clone(),
                        seg(3, 0, FIXED_SALT, HEADER_LEN as u64),
                    ],
                ),
            ),
            (
                "count-ahead-of-log",
                cut_log_file(3, &[any(1), whole.clone()]),
            ),
            (
                "count-behind-log",
                cut_log_file(1, &[any(1), whole.clone()]),
            ),
            (
                "count-max",
                cut_log_file(u64::MAX, &[seg(u64::MAX, 0, FIXED_SALT, HEADER_LEN as u64)]),
            ),
            ("flipped-entry", flipped),
            ("version-1", version_1),
            ("version-3", version_3),
            ("nonzero-reserved", cut_log_file(2, &[any(1), reserved])),
            (
                "any-with-fields",
                cut_log_file(2, &[any(1), cut_entry(2, 0, 5, 0, 0, 0, 0)]),
            ),
            (
                "unknown-kind",
                cut_log_file(2, &[any(1), cut_entry(2, 4, 472_224, 0, 0, 0, 0)]),
            ),
            ("many-entries", cut_log_file(30, &many)),
            (
                "garbage-tail",
                [&cut_whole[..], b"garbage after the entries"].concat(),
            ),
        ],
    );
    out
}

/// Run journal events for seeds: every time in seconds (the attempts'
/// times are the trigger time plus a few seconds).
#[derive(Default)]
struct JournalEvents {
    events: Vec<runlog::journal::Event>,
    at: i64,
}

impl JournalEvents {
    fn push(mut self, e: runlog::journal::Event) -> Self {
        self.events.push(e);
        self
    }

    fn start(mut self, job: &str, trigger: Trigger, secs: i64) -> Self {
        self.at = secs.saturating_mul(1_000_000);
        self.push(runlog::journal::Event::Start {
            job_id: job.into(),
            flow: format!("flow-{}", job.len()).into(),
            env: "prod".into(),
            app: "shop".into(),
            version: "1.0".into(),
            trigger,
            trigger_time: secs.saturating_mul(1_000_000),
            time: secs.saturating_mul(1_000_000).saturating_add(1),
        })
    }

    fn next(&mut self) -> i64 {
        self.at = self.at.saturating_add(1_000_000);
        self.at
    }

    fn attempt(mut self, job: &str, attempt: u32, manual: bool) -> Self {
        let time = self.next();
        self.push(runlog::journal::Event::Attempt {
            job_id: job.into(),
            attempt,
            time,
            manual,
        })
    }

    fn succeeded(mut self, job: &str, attempt: u32) -> Self {
        let time = self.next();
        self.push(runlog::journal::Event::Succeeded {
            job_id: job.into(),
            attempt,
            time,
        })
    }

    /// `retry_at` in seconds (`i64::MIN`: as it is, in µs).
    fn failed(mut self, job: &str, attempt: u32, retry_at: Option<i64>) -> Self {
        let time = self.next();
        self.push(runlog::journal::Event::Failed {
            job_id: job.into(),
            attempt,
            time,
            error: format!("connection refused (attempt {attempt})"),
            retry_at: retry_at.map(|s| if s == i64::MIN { s } else { s * 1_000_000 }),
        })
    }

    /// The journal file: `header`, then the events' frames (salt
    /// [`FIXED_SALT`]); and the frames' offsets.
    fn file(&self, header: &[u8]) -> (Vec<u8>, Vec<u64>) {
        let mut b = header.to_vec();
        let mut offsets = Vec::new();
        for (i, e) in self.events.iter().enumerate() {
            offsets.push(b.len() as u64);
            runlog::journal::encode_frame(e, i as u32, FIXED_SALT, &mut b).unwrap();
        }
        (b, offsets)
    }

    /// Like [`file`](Self::file), but frames `skip` .. `skip + n` replaced
    /// by damaged bytes, as many as `n` frames take at least.
    fn file_with_gap(&self, skip: usize, n: usize) -> (Vec<u8>, Vec<u64>) {
        let mut b = fuzz_checks::journal_header().to_vec();
        let mut offsets = Vec::new();
        for (i, e) in self.events.iter().enumerate() {
            if (skip..skip + n).contains(&i) {
                if i == skip {
                    b.extend(std::iter::repeat_n(DAMAGE, n * (12 + 1)));
                }
                continue;
            }
            offsets.push(b.len() as u64);
            runlog::journal::encode_frame(e, i as u32, FIXED_SALT, &mut b).unwrap();
        }
        (b, offsets)
    }
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
