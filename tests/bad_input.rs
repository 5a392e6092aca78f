//! Bad input gets its typed error, and nothing is written.

mod common;

use std::fs;
use std::time::Duration;

use common::*;
use runlog::{Error, Field, LogRecord, StoreOptions, Timestamp};

fn store_bytes(dir: &std::path::Path) -> u64 {
    fn walk(p: &std::path::Path) -> u64 {
        fs::read_dir(p)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let m = e.metadata().unwrap();
                if m.is_dir() { walk(&e.path()) } else { m.len() }
            })
            .sum()
    }
    walk(dir)
}

#[test]
fn invalid_project_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), &clock());
    let long = "a".repeat(65);
    for name in [
        "",
        ".",
        "..",
        "a/b",
        "../etc",
        "a\0b",
        "a b",
        "ü",
        long.as_str(),
    ] {
        match store.project(name) {
            Err(Error::InvalidProjectName { name: n, .. }) => assert_eq!(n, name),
            other => panic!("{name:?}: expected InvalidProjectName, got {other:?}"),
        }
    }
    assert!(store.project(&"a".repeat(64)).is_ok());
    assert_eq!(store.projects().unwrap(), vec!["a".repeat(64)]);
}

#[test]
fn oversized_fields_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), &clock());
    let p = store.project("p").unwrap();
    p.append(&rec(T0, 0)).unwrap();
    let before = store_bytes(dir.path());
    let base = rec(T0, 1);
    let cases: Vec<(Field, LogRecord)> = vec![
        (
            Field::JobId,
            LogRecord {
                job_id: "j".repeat(129).into(),
                ..base.clone()
            },
        ),
        (Field::Flow, base.clone().flow("f".repeat(257))),
        (Field::Component, base.clone().component("c".repeat(257))),
        (Field::Action, base.clone().action("a".repeat(257))),
        (Field::Category, base.clone().category("c".repeat(257))),
        (Field::Env, base.clone().env("e".repeat(257))),
        (Field::App, base.clone().app("a".repeat(257))),
        (Field::Version, base.clone().version("v".repeat(257))),
        (
            Field::Content,
            LogRecord {
                content: "x".repeat(16 * 1024 + 1).into(),
                ..base.clone()
            },
        ),
        (
            Field::Detail,
            base.clone().detail("d".repeat(4 * 1024 * 1024 + 1)),
        ),
    ];
    for (field, r) in cases {
        match p.append(&r) {
            Err(Error::FieldTooLarge { field: f, len, max }) => {
                assert_eq!(f, field);
                assert_eq!(len, max + 1);
            }
            other => panic!("{field}: expected FieldTooLarge, got {other:?}"),
        }
        // A batch with one bad record writes none of the good ones.
        assert!(p.append_batch(&[rec(T0, 2), r, rec(T0, 3)]).is_err());
    }
    assert_eq!(store_bytes(dir.path()), before);
    assert_eq!(all(&p).len(), 1);
}

#[test]
fn records_past_the_horizon_or_too_far_ahead_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), &clock());
    let p = store.project("p").unwrap();
    let day = Duration::from_secs(86_400);
    let old = T0
        .saturating_sub(30 * day)
        .saturating_sub(Duration::from_micros(1));
    match p.append(&rec(old, 1)) {
        Err(Error::TooOld { time, horizon }) => {
            assert_eq!(time, old);
            assert_eq!(horizon, T0.saturating_sub(30 * day));
        }
        other => panic!("expected TooOld, got {other:?}"),
    }
    // Exactly at the horizon is kept.
    p.append(&rec(T0.saturating_sub(30 * day), 2)).unwrap();
    let ahead = T0.saturating_add(Duration::from_secs(301));
    assert!(
        matches!(p.append(&rec(ahead, 3)), Err(Error::TooFarInFuture { time, .. }) if time == ahead)
    );
    p.append(&rec(T0.saturating_add(Duration::from_secs(300)), 4))
        .unwrap();
    assert!(matches!(
        p.append_batch(&[rec(T0, 5), rec(old, 6)]),
        Err(Error::TooOld { .. })
    ));
    assert_eq!(all(&p).len(), 2);
}

#[test]
fn times_before_1970_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let clock = runlog::ManualClock::new(Timestamp::from_secs(10));
    let store = options(&clock).open(dir.path()).unwrap();
    let p = store.project("p").unwrap();
    assert!(matches!(
        p.append(&rec(Timestamp::from_secs(-5), 1)),
        Err(Error::TimeOutOfRange { .. })
    ));
    assert!(all(&p).is_empty());
}

#[test]
fn bad_options_and_ranges_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for opts in [
        StoreOptions::new().partition(Duration::from_secs(59)),
        StoreOptions::new().partition(Duration::from_secs(7 * 60)),
        StoreOptions::new().partition(Duration::from_millis(60_500)),
        StoreOptions::new().retention(Duration::from_secs(60)),
        StoreOptions::new().sync_policy(runlog::SyncPolicy::Periodic(Duration::ZERO)),
        StoreOptions::new().max_segment_bytes(10),
    ] {
        assert!(matches!(
            opts.open(dir.path()),
            Err(Error::InvalidArgument { .. })
        ));
    }
    assert!(matches!(
        runlog::TimeRange::new(T0, T0.saturating_sub(secs(1))),
        Err(Error::InvalidRange { .. })
    ));
}

#[test]
fn a_changed_partition_length_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path(), &clock()));
    match StoreOptions::new()
        .partition(Duration::from_secs(60))
        .open(dir.path())
    {
        Err(Error::SettingMismatch {
            setting,
            stored,
            given,
            ..
        }) => {
            assert_eq!(
                (setting, stored.as_str(), given.as_str()),
                ("partition length", "3600s", "60s")
            );
        }
        other => panic!("expected SettingMismatch, got {other:?}"),
    }
    // A reader adopts the stored setting.
    let reader = StoreOptions::new()
        .partition(Duration::from_secs(60))
        .open_read_only(dir.path())
        .unwrap();
    assert_eq!(reader.partition(), Duration::from_secs(3600));
    drop(reader);
    // So does a writer that did not ask for a length.
    let dir = tempfile::tempdir().unwrap();
    drop(
        StoreOptions::new()
            .partition(Duration::from_secs(600))
            .open(dir.path())
            .unwrap(),
    );
    let writer = StoreOptions::new().open(dir.path()).unwrap();
    assert_eq!(writer.partition(), Duration::from_secs(600));
}

#[test]
fn a_wrong_format_version_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path(), &clock()));
    let meta = dir.path().join("runlog.meta");
    let mut b = fs::read(&meta).unwrap();
    b[8] = 7;
    let crc = crc32(&b[..28]);
    b[28..].copy_from_slice(&crc.to_le_bytes());
    fs::write(&meta, &b).unwrap();
    assert!(matches!(
        StoreOptions::new().open(dir.path()),
        Err(Error::UnsupportedVersion {
            found: 7,
            supported: 1,
            ..
        })
    ));

    // A segment of another version is reported and set aside, not read.
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let wal = {
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        p.append(&rec(T0, 1)).unwrap();
        p.segments().unwrap()[0].path.clone()
    };
    let mut b = fs::read(&wal).unwrap();
    b[8] = 2;
    let crc = crc32(&b[..60]);
    b[60..64].copy_from_slice(&crc.to_le_bytes());
    fs::write(&wal, &b).unwrap();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    assert!(all(&p).is_empty());
    let damage = p.damage();
    assert_eq!(damage.len(), 1);
    assert!(
        damage[0].reason.contains("format version 2"),
        "{}",
        damage[0].reason
    );
}

fn crc32(b: &[u8]) -> u32 {
    // Bitwise CRC-32 (IEEE), so the test does not share the code under test.
    let mut crc = !0u32;
    for &byte in b {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn bad_record_ids_are_refused_or_absent() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), &clock());
    let p = store.project("p").unwrap();
    let id = p.append(&rec(T0, 1)).unwrap();
    assert!("1.2".parse::<runlog::RecordId>().is_err());
    let mut other = id;
    other.ordinal = 999;
    assert_eq!(p.get(other).unwrap(), None);
    other.segment.partition += 1;
    assert_eq!(p.get(other).unwrap(), None);
}

#[test]
fn an_invalid_stored_partition_length_is_corrupt_not_adopted() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path(), &clock()));
    let meta = dir.path().join("runlog.meta");
    let mut b = fs::read(&meta).unwrap();
    for secs in [0u32, 7, 4_294_967_295] {
        b[12..16].copy_from_slice(&secs.to_le_bytes());
        let crc = crc32(&b[..28]);
        b[28..].copy_from_slice(&crc.to_le_bytes());
        fs::write(&meta, &b).unwrap();
        for result in [
            StoreOptions::new().open_read_only(dir.path()),
            StoreOptions::new().open(dir.path()),
        ] {
            assert!(
                matches!(result, Err(Error::Corrupt { offset: 12, .. })),
                "{secs}"
            );
        }
    }
}

#[test]
fn a_segment_name_beyond_the_last_partition_is_foreign_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let project_dir = {
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        p.append(&rec(T0, 1)).unwrap();
        p.dir().to_path_buf()
    };
    let odd = project_dir.join("4294967295-0000.seg");
    fs::write(&odd, b"not ours").unwrap();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    assert_eq!(all(&p).len(), 1);
    p.enforce_retention().unwrap();
    assert!(
        odd.exists(),
        "retention must not delete a file it does not own"
    );
    // Appends at the end of time are refused, not overflowed.
    let end = runlog::ManualClock::new(Timestamp::MAX);
    let far = tempfile::tempdir().unwrap();
    let s = options(&end).open(far.path()).unwrap();
    let q = s.project("p").unwrap();
    assert!(matches!(
        q.append(&rec(Timestamp::from_micros(i64::MAX - 1), 1)),
        Err(Error::TimeOutOfRange { .. })
    ));
}

/// Reopening adopts the store's partition length before checking the
/// other options against it: a retention valid for the store's 1-minute
/// partitions is not refused against the 1-hour default, for a writer or
/// a reader.
#[test]
fn reopening_checks_options_against_the_stores_partition() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let opts = || options(&clock).retention(secs(120));
    drop(opts().partition(secs(60)).open(dir.path()).unwrap());
    let store = opts().open(dir.path()).unwrap();
    assert_eq!(store.partition(), secs(60));
    drop(store);
    let reader = opts().open_read_only(dir.path()).unwrap();
    assert_eq!(reader.partition(), secs(60));
    // Still refused where it is wrong for the store's own length.
    assert!(matches!(
        options(&clock).retention(secs(30)).open(dir.path()),
        Err(runlog::Error::InvalidArgument { .. })
    ));
}

#[test]
fn a_reader_asking_for_a_project_the_store_lacks_gets_unknown_project() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let writer = open(dir.path(), &c);
    writer.project("shop").unwrap();
    let reader = options(&c).open_read_only(dir.path()).unwrap();
    assert!(reader.project("shop").is_ok());
    match reader.project("billing") {
        Err(Error::UnknownProject { name, store }) => {
            assert_eq!(name, "billing");
            assert_eq!(store, dir.path());
        }
        other => panic!("expected UnknownProject, got {other:?}"),
    }
    assert_eq!(reader.projects().unwrap(), vec!["shop".to_string()]);
    assert!(!dir.path().join("projects").join("billing").exists());
}
