//! The `store_meta` target: the settings file.

use super::*;

/// The store [`check_store_meta`] starts from, made once: two projects'
/// worth of records in a sealed and an active segment.
pub(super) struct MetaTemplate {
    pub(super) dir: tempfile::TempDir,
    pub(super) meta: Vec<u8>,
    pub(super) records: Vec<StoredRecord>,
}

/// The clock of the store_meta template (2023-11-14T22:13:20Z + 2 h).
pub const META_NOW: Timestamp = Timestamp::from_secs(1_700_000_000 + 7200);

pub(super) fn meta_template() -> &'static MetaTemplate {
    static T: OnceLock<MetaTemplate> = OnceLock::new();
    T.get_or_init(|| {
        let dir = scratch();
        let clock = ManualClock::new(Timestamp::from_secs(1_700_000_000));
        let records = {
            let store = options(&clock).open(dir.path()).expect("template store");
            let p = store.project("p").expect("template project");
            let t0 = Timestamp::from_secs(1_700_000_000);
            p.append_batch(&[
                LogRecord::new(t0, Level::Info, "job-1", "started").flow("f"),
                LogRecord::new(t0, Level::Error, "job-1", "failed").detail("{\"x\": 1}"),
            ])
            .expect("append");
            clock.set(META_NOW);
            p.seal_due().expect("seal");
            p.append(&LogRecord::new(META_NOW, Level::Warn, "job-2", "retry"))
                .expect("append");
            collect(&p, 100)
        };
        assert_eq!(records.len(), 3);
        let meta = fs::read(dir.path().join("runlog.meta")).expect("meta");
        MetaTemplate { dir, meta, records }
    })
}

pub(super) fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest: PathBuf = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else if e.file_name() != "runlog.lock" {
            // (Not `fs::copy`: its copy_file_range may fail with EINTR.)
            fs::write(&dest, fs::read(e.path()).unwrap()).unwrap();
        }
    }
}

/// Whether a partition length (seconds) is a setting runlog accepts:
/// 1 minute to 1 day, dividing a day.
pub fn partition_is_valid(secs: u32) -> bool {
    (60..=86_400).contains(&secs) && 86_400 % secs == 0
}

/// Whether `b` is laid out as a settings file of this build: 32 bytes,
/// magic `RUNLOGST`, CRC32 of bytes 0..28 (any version, any partition).
fn meta_is_intact(b: &[u8]) -> bool {
    b.len() == 32 && &b[..8] == b"RUNLOGST" && crc32fast::hash(&b[..28]) == u32_le(b, 28)
}

/// Whether `b` is a settings file this build reads, by its documented
/// layout: intact ([`meta_is_intact`]), version 1, and a valid partition
/// length ([`partition_is_valid`]).
pub fn meta_is_valid(b: &[u8]) -> bool {
    meta_is_intact(b)
        && u16::from_le_bytes([b[8], b[9]]) == FORMAT_VERSION
        && partition_is_valid(u32_le(b, 12))
}

/// The error opening a store with the settings file `meta` must give, when
/// it is not valid: an unsupported version when that is its only fault
/// (the version is checked before the partition length), else corrupt.
fn check_meta_error(meta: &[u8], e: &Error, who: &str) {
    let version_only =
        meta_is_intact(meta) && u16::from_le_bytes([meta[8], meta[9]]) != FORMAT_VERSION;
    match e {
        Error::UnsupportedVersion { .. } if version_only => {}
        Error::Corrupt { .. } if !version_only => {}
        _ => panic!("{who}: unexpected error for invalid settings: {e}"),
    }
}

/// `data` as `runlog.meta` of a store holding records (and again with its
/// checksum recomputed when it is 32 bytes long); then opening it
/// read-only (with a manual and with the system clock) and for writing.
/// Never panics; opens succeed exactly when the file is valid (writers:
/// and names the store's partition length), failing as corrupt (or of an
/// unsupported version) otherwise; a reader of a valid file can list,
/// read and verify.
pub fn check_store_meta(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    let template = meta_template();
    let mut variants = vec![data.to_vec()];
    if data.len() == 32 {
        let mut fixed = data.to_vec();
        let crc = crc32fast::hash(&fixed[..28]);
        put_u32(&mut fixed, 28, crc);
        if fixed != data {
            variants.push(fixed);
        }
    }
    for meta in variants {
        let tmp = scratch();
        let dir = tmp.path();
        copy_tree(template.dir.path(), dir);
        fs::write(dir.join("runlog.meta"), &meta).unwrap();
        let valid = meta_is_valid(&meta);
        let same_partition = valid && u32_le(&meta, 12) == u32_le(&template.meta, 12);
        let clock = ManualClock::new(META_NOW);

        match options(&clock).open_read_only(dir) {
            Ok(store) => {
                assert!(valid, "a reader opened a store with invalid settings");
                assert_eq!(store.projects().expect("projects"), ["p"]);
                let p = store.project("p").expect("project");
                let records = collect(&p, 100);
                let report = p.verify().expect("verify");
                let _ = p.segments().expect("segments");
                if same_partition {
                    assert!(report.is_ok(), "{report:?}");
                    assert_eq!(records, template.records);
                    check_listed_records(&p, &records, true);
                } else {
                    check_listed_records(&p, &records, false);
                }
            }
            Err(e) => {
                assert!(!valid, "a reader refused valid settings: {e}");
                check_meta_error(&meta, &e, "reader");
            }
        }
        match Store::open_read_only(dir) {
            Ok(store) => {
                assert!(valid);
                if let Ok(p) = store.project("p") {
                    let _ = collect(&p, 100);
                }
            }
            Err(e) => {
                assert!(!valid, "a reader refused valid settings: {e}");
                check_meta_error(&meta, &e, "reader (system clock)");
            }
        }
        // A writer that names no partition length adopts the store's...
        match options(&clock).open(dir) {
            Ok(_) => assert!(valid, "a writer opened a store with invalid settings"),
            Err(e) => {
                assert!(!valid, "a writer refused valid settings: {e}");
                check_meta_error(&meta, &e, "writer");
            }
        }
        // ...one that names another is refused.
        match options(&clock)
            .partition(std::time::Duration::from_secs(3600))
            .open(dir)
        {
            Ok(_) => assert!(same_partition, "a writer opened with other settings"),
            Err(e) if valid => {
                assert!(!same_partition, "a writer refused its own settings: {e}");
                assert!(
                    matches!(e, Error::SettingMismatch { .. }),
                    "writer, other valid settings: {e}"
                );
            }
            Err(e) => check_meta_error(&meta, &e, "writer"),
        }
        assert_eq!(
            fs::read(dir.join("runlog.meta")).unwrap(),
            meta,
            "opening changed the settings file"
        );
    }
}
