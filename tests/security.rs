//! Security properties of a store (issue 6, item 5): what runlog creates is
//! private to its user (directories `0700`, files `0600`), nothing a caller
//! names (project, preset, cursor, record ID) reaches outside the store or
//! panics, an export writes only to the caller's writer, and files runlog
//! did not make are never deleted or read, only reported.
//!
//! Every test drives time with a `ManualClock`; nothing sleeps.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::rng::{Random, Rng};
use common::*;
use runlog::{
    Clock, Cursor, Error, ExportFormat, Level, NewRun, Preset, Project, Query, RecordId, RunCursor,
    RunQuery, SavedRange, SegmentId, Store, StoreOptions, SyncPolicy, TimeRange, Timestamp,
    Trigger,
};

const DAY: u64 = 86_400;

// ---------------------------------------------------------------------------
// Helpers

/// What a path is, for before/after comparisons (file contents included).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    Dir,
    File(Vec<u8>),
    Symlink(PathBuf),
    Other,
}

/// Every entry under `root` (not following symlinks), with file contents.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Node> {
    let mut out = BTreeMap::new();
    fn walk(p: &Path, out: &mut BTreeMap<PathBuf, Node>) {
        for e in fs::read_dir(p).unwrap() {
            let path = e.unwrap().path();
            let m = fs::symlink_metadata(&path).unwrap();
            let node = if m.is_dir() {
                walk(&path, out);
                Node::Dir
            } else if m.is_file() {
                Node::File(fs::read(&path).unwrap())
            } else if m.file_type().is_symlink() {
                Node::Symlink(fs::read_link(&path).unwrap())
            } else {
                Node::Other
            };
            out.insert(path, node);
        }
    }
    walk(root, &mut out);
    out
}

/// Every entry under `root`, with its metadata (not following symlinks).
fn tree(root: &Path) -> Vec<(PathBuf, fs::Metadata)> {
    let mut out = Vec::new();
    fn walk(p: &Path, out: &mut Vec<(PathBuf, fs::Metadata)>) {
        for e in fs::read_dir(p).unwrap() {
            let path = e.unwrap().path();
            let m = fs::symlink_metadata(&path).unwrap();
            let is_dir = m.is_dir();
            out.push((path.clone(), m));
            if is_dir {
                walk(&path, out);
            }
        }
    }
    walk(root, &mut out);
    out
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

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// URL-safe base64 without padding (the cursors' text form), written
/// independently of runlog's.
fn b64_encode(b: &[u8]) -> String {
    let mut s = String::new();
    let (mut acc, mut bits) = (0u32, 0);
    for &x in b {
        acc = (acc << 8) | u32::from(x);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            s.push(B64[((acc >> bits) & 63) as usize] as char);
        }
    }
    if bits > 0 {
        s.push(B64[((acc << (6 - bits)) & 63) as usize] as char);
    }
    s
}

fn b64_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = B64.iter().position(|&a| a == c).expect("base64") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// Draws for forged cursors.
impl Rng {
    /// An "interesting" i64: extremes, around the test's times, or random.
    fn time(&mut self) -> i64 {
        match self.below(6) {
            0 => i64::MIN,
            1 => i64::MAX,
            2 => 0,
            3 => T0.as_micros() + (self.below(1 << 36) as i64 - (1 << 35)),
            4 => -(self.below(1 << 40) as i64),
            _ => self.next() as i64,
        }
    }
}

/// A store with one project `p` holding `n` records over the last hours,
/// some sealed, and a few runs.
fn populated(dir: &Path, clock: &runlog::ManualClock, n: u64) -> (Store, Project) {
    // The clock ends 11 minutes after T0: the grace of every partition but
    // the current one (whose segments were created at T0) is over.
    let store = open(dir, clock);
    let p = store.project("p").unwrap();
    // Spread over the last three hours: sealed partitions and an active one.
    let step = 3 * 3600 / n;
    for i in 0..n {
        p.append(&rec(T0.saturating_sub(secs(3 * 3600 - i * step)), i))
            .unwrap();
    }
    clock.advance(secs(11 * 60));
    p.seal_due().unwrap();
    (store, p)
}

/// Every record of a page walk is strictly below the cursor's start, in
/// range and strictly ordered newest first; the walk ends.
fn walk_checked(p: &Project, q: &Query, start: Option<(Timestamp, RecordId)>) {
    let mut prev = start;
    let mut next_q = q.clone();
    for _ in 0..1000 {
        // The range of everything, clamped: it starts at the horizon.
        let horizon = p
            .resolve(&runlog::RangeSpec::Custom(TimeRange::all()))
            .unwrap()
            .range
            .from;
        let page = p.query(&next_q).unwrap();
        let range = page.range.range;
        for r in &page.records {
            let key = (r.record.time, r.id);
            assert!(prev.is_none_or(|prev| key < prev), "{key:?} after {prev:?}");
            assert!(range.contains(r.record.time), "{key:?} outside {range:?}");
            assert!(r.record.time >= horizon, "{key:?} is past the horizon");
            // The record is this project's own.
            assert_eq!(
                p.get(r.id).unwrap().map(|s| s.record.content),
                Some(r.record.content.clone())
            );
            prev = Some(key);
        }
        match page.next {
            Some(c) => next_q = q.clone().after(c),
            None => return,
        }
    }
    panic!("a page walk did not end");
}

// ---------------------------------------------------------------------------
// Permissions

unsafe extern "C" {
    /// POSIX `umask(2)` (`mode_t` is `u32` on Linux); the standard library
    /// has no safe way to read or set it.
    fn umask(mask: u32) -> u32;
}

/// runlog asks for `0700`/`0600` explicitly when it creates a directory or
/// file; the kernel then applies the umask, which can only remove bits. So
/// the strongest check is with a umask of 0: every mode must be exactly
/// `0700`/`0600`, not merely narrowed by a strict umask. (A test binary is
/// one process; the umask is restored before returning, and the other tests
/// of this file do not depend on it.)
#[test]
fn directories_are_0700_and_files_0600_even_with_an_open_umask() {
    let old = unsafe { umask(0) };
    struct Restore(u32);
    impl Drop for Restore {
        fn drop(&mut self) {
            unsafe { umask(self.0) };
        }
    }
    let _restore = Restore(old);

    let tmp = tempfile::tempdir().unwrap();
    // runlog creates the store directory, and its missing parent, itself.
    let root = tmp.path().join("nested");
    let dir = root.join("store");
    let clock = clock();
    let opts = || {
        StoreOptions::new()
            .clock(clock.clone())
            .sync_policy(SyncPolicy::Always)
            .partition(Duration::from_secs(600))
            .retention(Duration::from_secs(DAY))
    };
    {
        let store = opts().open(&dir).unwrap();
        for name in ["shop", "billing"] {
            let p = store.project(name).unwrap();
            // A few partitions, some sealed by the clock moving on.
            for step in 0..6u64 {
                let now = clock.now();
                let batch: Vec<_> = (0..5).map(|i| rec(now, step * 10 + i)).collect();
                p.append_batch(&batch).unwrap();
                // Runs: start, fail, claim the retry, succeed; and a failed one.
                let job = format!("job-{step}");
                p.start_run(&NewRun::new(job.as_str(), "flow", Trigger::Scheduler))
                    .unwrap();
                p.attempt_failed(&job, 1, "boom").unwrap();
                clock.advance(secs(30));
                for t in p.due_retries(clock.now()).unwrap() {
                    p.attempt_succeeded(&t.job_id, t.attempt).unwrap();
                }
                clock.advance(secs(900));
                p.seal_due().unwrap();
            }
            p.save_preset("mine", SavedRange::Last(secs(3600))).unwrap();
            p.save_preset("other", SavedRange::Calendar(Preset::Today))
                .unwrap();
            assert!(p.delete_preset("other").unwrap());
            p.sync().unwrap();
            assert!(p.verify().unwrap().is_ok());
            p.stats().unwrap();
        }
        // A missing index is rebuilt (and written again) on first use.
        let p = store.project("shop").unwrap();
        let sealed = p
            .segments()
            .unwrap()
            .into_iter()
            .find(|s| s.sealed)
            .unwrap();
        fs::remove_file(sealed.path.with_extension("idx")).unwrap();
    }
    {
        let store = opts().open(&dir).unwrap();
        let p = store.project("shop").unwrap();
        let page = p
            .query(&Query::new().all_time().level(Level::Error).env("prod"))
            .unwrap();
        assert!(!page.records.is_empty());
        assert!(
            !p.damage().is_empty(),
            "the missing index was reported and rebuilt"
        );
        // A reader creates nothing with other modes either.
        let ro = StoreOptions::new()
            .clock(clock.clone())
            .open_read_only(&dir)
            .unwrap();
        let rp = ro.project("billing").unwrap();
        assert!(
            !rp.query(&Query::new().all_time())
                .unwrap()
                .records
                .is_empty()
        );
        // Retention drops the first segments and journals; writes continue.
        clock.set(T0.saturating_add(secs(DAY + 2400)));
        p.append(&rec(clock.now(), 99)).unwrap();
        p.enforce_retention().unwrap();
    }

    let entries = tree(&root);
    let mut bad = Vec::new();
    let mut kinds = BTreeSet::new();
    for (path, m) in &entries {
        let mode = m.permissions().mode() & 0o7777;
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let kind = if m.is_dir() {
            if mode != 0o700 {
                bad.push(format!("directory {} is {mode:o}", path.display()));
            }
            "dir"
        } else if m.is_file() {
            if mode != 0o600 {
                bad.push(format!("file {} is {mode:o}", path.display()));
            }
            "file"
        } else {
            bad.push(format!(
                "{} is neither a file nor a directory",
                path.display()
            ));
            "other"
        };
        let ext = name.rsplit_once('.').map_or(name.as_str(), |(_, e)| e);
        kinds.insert(format!("{kind}:{ext}"));
    }
    let root_mode = fs::metadata(&root).unwrap().permissions().mode() & 0o7777;
    assert_eq!(root_mode, 0o700, "the store's parent runlog created");
    let dir_mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o7777;
    assert_eq!(dir_mode, 0o700, "the store directory");
    assert!(bad.is_empty(), "{bad:#?}");
    // Not vacuous: every kind of file and directory runlog makes was seen.
    for want in [
        "dir:projects",
        "dir:shop",
        "dir:billing",
        "dir:runs",
        "file:meta",
        "file:lock",
        "file:wal",
        "file:seg",
        "file:idx",
        "file:runs",
        "file:presets",
    ] {
        assert!(kinds.contains(want), "no {want} in {kinds:?}");
    }
}

// ---------------------------------------------------------------------------
// Names given by callers

#[test]
fn no_project_name_reaches_outside_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let clock = clock();
    let store = open(&dir, &clock);
    drop(store.project("ok").unwrap());
    let before = snapshot(tmp.path());

    let long = "a".repeat(65);
    let huge = "a".repeat(1 << 20);
    let deep = "../".repeat(40) + "etc";
    let refused: Vec<&str> = vec![
        "",
        ".",
        "..",
        "../x",
        "../../x",
        deep.as_str(),
        "./x",
        "x/..",
        "a/b",
        "a/",
        "/",
        "/abs",
        "/tmp/x",
        "a\\b",
        "..\\x",
        "a\0b",
        "\0",
        "..\0",
        "ok\0/../../x",
        "é",
        "日本語",
        "ａｂｃ",
        "．．",
        "a\u{2215}b",
        "\u{202e}cba",
        "a b",
        " ",
        "a\n",
        "\t",
        "~",
        "~root",
        "$HOME",
        "a%2fb",
        "*",
        "a?",
        "a:b",
        long.as_str(),
        huge.as_str(),
    ];
    let ro = StoreOptions::new()
        .clock(clock.clone())
        .open_read_only(&dir)
        .unwrap();
    for name in &refused {
        for s in [&store, &ro] {
            match s.project(name) {
                Err(Error::InvalidProjectName { name: n, .. }) => assert_eq!(&n, name),
                other => panic!(
                    "{:?}: expected InvalidProjectName, got {other:?}",
                    &name[..name.len().min(40)]
                ),
            }
        }
    }
    assert_eq!(
        snapshot(tmp.path()),
        before,
        "a refused name created something"
    );
    assert_eq!(store.projects().unwrap(), ["ok"]);

    // Names of only `[A-Za-z0-9_.-]` other than `.`/`..` are accepted by
    // design, leading dots and dashes included; each is a directory
    // directly inside `projects/`, and nothing else changes.
    let x64 = "x".repeat(64);
    let odd = [
        ".hidden",
        "...",
        "....",
        ".-",
        "-rf",
        "a..b",
        "_",
        x64.as_str(),
    ];
    for name in odd {
        let p = store.project(name).unwrap();
        p.append(&rec(T0, 1)).unwrap();
        let real = fs::canonicalize(p.dir()).unwrap();
        assert_eq!(
            real.parent().unwrap(),
            fs::canonicalize(dir.join("projects")).unwrap(),
            "{name}"
        );
        assert_eq!(real.file_name().unwrap(), name);
    }
    let after = snapshot(tmp.path());
    let projects = dir.join("projects");
    for path in after.keys().filter(|p| !before.contains_key(*p)) {
        let top = path
            .strip_prefix(&projects)
            .expect("new entries only under projects/");
        let first = top.components().next().unwrap().as_os_str();
        assert!(odd.iter().any(|n| first == *n), "{}", path.display());
    }
    for (path, node) in &before {
        assert_eq!(after.get(path), Some(node), "{} changed", path.display());
    }
}

#[test]
fn preset_names_are_data_never_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let clock = clock();
    let store = open(&dir, &clock);
    let p = store.project("p").unwrap();
    p.append(&rec(T0, 1)).unwrap();
    let project_dir = p.dir().to_path_buf();
    let presets_file = project_dir.join("presets");
    let before = snapshot(tmp.path());

    let max = "x".repeat(runlog::MAX_PRESET_NAME);
    let accepted: Vec<&str> = vec![
        "../x",
        "../../../../../../tmp/runlog-evil",
        "a/b",
        "/abs/path",
        "a\\b",
        ".",
        "..",
        "presets",
        "presets.tmp",
        "runs",
        "0000000001-0000.seg",
        "runlog.lock",
        "日本語",
        " spaced out ",
        "%2e%2e%2f",
        max.as_str(),
    ];
    for (i, name) in accepted.iter().enumerate() {
        let range = if i % 2 == 0 {
            SavedRange::Last(secs(3600 + i as u64))
        } else {
            SavedRange::Calendar(Preset::Today)
        };
        p.save_preset(name, range).unwrap();
    }
    let too_long = "x".repeat(runlog::MAX_PRESET_NAME + 1);
    let too_long_utf8 = "é".repeat(runlog::MAX_PRESET_NAME / 2 + 1);
    let huge = "../".repeat(1 << 18);
    for name in [
        "",
        "a\0b",
        "\0",
        "../\0x",
        "a\nb",
        "\r",
        "\u{7f}",
        "\u{85}",
        too_long.as_str(),
        too_long_utf8.as_str(),
        huge.as_str(),
    ] {
        match p.save_preset(name, SavedRange::Last(secs(60))) {
            Err(Error::InvalidArgument {
                what: "preset name",
                ..
            }) => {}
            other => panic!(
                "{:?}: expected a refused name, got {other:?}",
                &name[..name.len().min(40)]
            ),
        }
    }

    // Only the presets file is new; nothing else anywhere changed.
    let after = snapshot(tmp.path());
    let added: Vec<_> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    assert_eq!(added, [&presets_file]);
    for (path, node) in &before {
        assert_eq!(after.get(path), Some(node), "{} changed", path.display());
    }
    // The file holds them all and stays valid, also after a reopen.
    let mut want: Vec<String> = accepted.iter().map(|s| s.to_string()).collect();
    want.sort();
    let names = |p: &Project| {
        p.presets()
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&p), want);
    assert!(runlog::__fuzz::presets(&fs::read(&presets_file).unwrap()).is_ok());
    // They resolve by name; a path-like name that was never saved is only unknown.
    let page = p.query(&Query::new().saved("../x")).unwrap();
    assert_eq!(page.records.len(), 1);
    assert!(matches!(
        p.query(&Query::new().saved("../../etc/passwd")),
        Err(Error::UnknownPreset { .. })
    ));
    assert!(p.delete_preset("../x").unwrap());
    assert!(!p.delete_preset("../x").unwrap());
    assert!(!p.delete_preset("../../../../etc/passwd").unwrap());
    drop((p, store));
    let store = open(&dir, &clock);
    let p = store.project("p").unwrap();
    want.retain(|n| n != "../x");
    assert_eq!(names(&p), want);
    let final_tree = snapshot(tmp.path());
    assert_eq!(
        final_tree.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
}

// ---------------------------------------------------------------------------
// Cursors and record IDs given by callers

/// The bytes of a cursor (its text form decoded).
fn cursor_bytes(c: &Cursor) -> Vec<u8> {
    let b = b64_decode(&c.to_string());
    assert_eq!(b.len(), 49);
    b
}

/// A cursor's bytes with a fresh checksum, as text.
fn forge(mut b: Vec<u8>) -> String {
    let n = b.len() - 4;
    let crc = crc32(&b[..n]);
    b[n..].copy_from_slice(&crc.to_le_bytes());
    b64_encode(&b)
}

#[test]
fn forged_and_foreign_log_cursors_give_typed_errors_or_valid_pages() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let clock = clock();
    let (store, a) = populated(&dir, &clock, 40);
    let b = store.project("b").unwrap();
    for i in 0..25 {
        b.append(&rec(T0.saturating_sub(secs(7200 - i * 100)), 1000 + i))
            .unwrap();
    }
    let q = Query::new().all_time().limit(3);
    let first = a.query(&q).unwrap();
    let cursor = first.next.unwrap();
    let real = cursor_bytes(&cursor);
    let before = snapshot(tmp.path());

    // Garbage text.
    let mut rng = Rng(7);
    let mut garbage: Vec<String> = [
        "",
        "A",
        "====",
        "../../etc/passwd",
        "%00",
        "\0",
        "日本語",
        &"A".repeat(66),
        &"A".repeat(101),
        &"_".repeat(10_000),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let text = cursor.to_string();
    garbage.push(text[..text.len() - 1].to_string());
    garbage.push(format!("{text}A"));
    garbage.push(format!("{text}="));
    garbage.push(text.to_uppercase());
    for _ in 0..2000 {
        let len = rng.below(120) as usize;
        let s: String = match rng.below(3) {
            0 => (0..len)
                .map(|_| B64[rng.below(64) as usize] as char)
                .collect(),
            1 => String::from_utf8_lossy(&rng.bytes(len)).into_owned(),
            _ => {
                // The real cursor with a few characters changed.
                let mut t = text.clone().into_bytes();
                for _ in 0..=rng.below(3) {
                    let i = rng.below(t.len() as u64) as usize;
                    t[i] = B64[rng.below(64) as usize];
                }
                String::from_utf8(t).unwrap()
            }
        };
        if s != text {
            garbage.push(s);
        }
    }
    for s in garbage.iter().filter(|s| **s != text) {
        match s.parse::<Cursor>() {
            Err(Error::InvalidCursor { .. }) => {}
            other => panic!("{s:?}: expected InvalidCursor, got {other:?}"),
        }
    }
    // Raw bytes of every length, valid checksum or not: a typed error or a cursor.
    for len in 0..100 {
        for _ in 0..20 {
            let mut bytes = rng.bytes(len);
            if len == 49 {
                bytes[0] = 1;
                let crc = crc32(&bytes[..45]);
                bytes[45..].copy_from_slice(&crc.to_le_bytes());
            }
            match Cursor::from_bytes(&bytes) {
                Ok(_) => assert_eq!(len, 49),
                Err(Error::InvalidCursor { .. }) => {}
                Err(e) => panic!("{e:?}"),
            }
        }
    }

    // Another query's filters: refused, by queries and exports alike.
    for other in [
        q.clone().level(Level::Error),
        q.clone().env("prod"),
        q.clone().text("POST"),
        q.clone().include_superseded(true),
    ] {
        assert!(matches!(
            a.query(&other.clone().after(cursor)),
            Err(Error::CursorMismatch)
        ));
        assert!(matches!(
            a.export(
                &other.after(cursor),
                ExportFormat::JsonLines,
                true,
                Vec::new(),
                |_| {}
            ),
            Err(Error::CursorMismatch)
        ));
    }
    // Another project's cursor for the same query: a valid page of this
    // project (the cursor is a position in time, not a handle on a file).
    let last = first.records.last().unwrap();
    walk_checked(
        &b,
        &q.clone().after(cursor),
        Some((last.record.time, last.id)),
    );

    // Well-formed forgeries: a wrong version or an inverted range is a typed
    // error; any other position (segments that do not exist, extreme times
    // and ordinals) is a valid, possibly empty, page of this project.
    let field = |b: &mut Vec<u8>, at: usize, v: &[u8]| b[at..at + v.len()].copy_from_slice(v);
    let mut bad_version = real.clone();
    bad_version[0] = 2;
    let mut inverted = real.clone();
    field(&mut inverted, 9, &10i64.to_le_bytes());
    field(&mut inverted, 17, &9i64.to_le_bytes());
    for bytes in [bad_version, inverted] {
        assert!(matches!(
            forge(bytes).parse::<Cursor>(),
            Err(Error::InvalidCursor { .. })
        ));
    }
    let mut tried = 0;
    for i in 0..3000 {
        let mut bytes = real.clone();
        if i % 5 == 0 {
            // Any fingerprint: usually another query's.
            let fp = rng.next().to_le_bytes();
            field(&mut bytes, 1, &fp);
        }
        let (mut from, mut to) = (rng.time(), rng.time());
        if from > to {
            std::mem::swap(&mut from, &mut to);
        }
        field(&mut bytes, 9, &from.to_le_bytes());
        field(&mut bytes, 17, &to.to_le_bytes());
        let t = rng.time();
        field(&mut bytes, 25, &t.to_le_bytes());
        let segs = a.segments().unwrap();
        let (partition, generation) = match rng.below(4) {
            0 => (u32::MAX, u32::MAX),
            1 => (rng.next() as u32, rng.next() as u32),
            2 => {
                let s = segs[rng.below(segs.len() as u64) as usize].id;
                (s.partition, s.generation)
            }
            _ => (0, 0),
        };
        field(&mut bytes, 33, &partition.to_le_bytes());
        field(&mut bytes, 37, &generation.to_le_bytes());
        let ordinal = [0, 1, u32::MAX, rng.next() as u32][rng.below(4) as usize];
        field(&mut bytes, 41, &ordinal.to_le_bytes());
        let c: Cursor = forge(bytes).parse().unwrap();
        let p = if i % 2 == 0 { &a } else { &b };
        let id = RecordId {
            segment: SegmentId {
                partition,
                generation,
            },
            ordinal,
        };
        match p.query(&q.clone().after(c)) {
            Ok(_) => {
                tried += 1;
                if i % 10 == 0 {
                    walk_checked(
                        p,
                        &q.clone().after(c),
                        Some((Timestamp::from_micros(t), id)),
                    );
                }
            }
            Err(Error::CursorMismatch) => assert_eq!(i % 5, 0),
            Err(e) => panic!("{e:?}"),
        }
        let mut sink = Vec::new();
        match p.export(
            &q.clone().after(c),
            ExportFormat::Csv,
            true,
            &mut sink,
            |_| {},
        ) {
            Ok(_) | Err(Error::CursorMismatch) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert!(tried > 2000);
    assert_eq!(
        snapshot(tmp.path()),
        before,
        "reading with forged cursors changed the store"
    );
}

#[test]
fn forged_and_foreign_run_cursors_give_typed_errors_or_valid_pages() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let clock = clock();
    let store = open(&dir, &clock);
    let a = store.project("a").unwrap();
    let b = store.project("b").unwrap();
    for (p, n) in [(&a, 30u64), (&b, 12)] {
        for i in 0..n {
            let t = T0.saturating_sub(secs(5000 - i * 100));
            p.start_run(
                &NewRun::new(format!("job-{i}"), "flow", Trigger::Scheduler).triggered_at(t),
            )
            .unwrap();
        }
    }
    let q = RunQuery::new().all_time().limit(4);
    let first = a.runs(&q).unwrap();
    let cursor = first.next.clone().unwrap();
    let text = cursor.to_string();
    let real = b64_decode(&text);
    let before = snapshot(tmp.path());

    let mut rng = Rng(11);
    let mut garbage: Vec<String> = [
        "",
        "R",
        "../x",
        "\0",
        &"A".repeat(241),
        &"A".repeat(5000),
        "日本",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    garbage.push(text[..text.len() - 1].to_string());
    garbage.push(format!("{text}AA"));
    for _ in 0..2000 {
        let len = rng.below(250) as usize;
        garbage.push(if rng.below(2) == 0 {
            (0..len)
                .map(|_| B64[rng.below(64) as usize] as char)
                .collect()
        } else {
            String::from_utf8_lossy(&rng.bytes(len)).into_owned()
        });
    }
    for s in &garbage {
        match s.parse::<RunCursor>() {
            Err(Error::InvalidCursor { .. }) => {}
            other => panic!("{s:?}: expected InvalidCursor, got {other:?}"),
        }
    }
    for len in 0..200 {
        let mut bytes = rng.bytes(len);
        if len >= 38 {
            bytes[0] = b'R';
            bytes[33] = (len - 38) as u8;
            let n = len - 4;
            let crc = crc32(&bytes[..n]);
            bytes[n..].copy_from_slice(&crc.to_le_bytes());
        }
        match RunCursor::from_bytes(&bytes) {
            Ok(_) | Err(Error::InvalidCursor { .. }) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    // Another query's filters; another project's cursor.
    for other in [
        q.clone().flow("flow"),
        q.clone().status(runlog::RunStatus::Failed),
    ] {
        assert!(matches!(
            a.runs(&other.after(cursor.clone())),
            Err(Error::CursorMismatch)
        ));
    }
    let page = b.runs(&q.clone().after(cursor.clone())).unwrap();
    let last = first.runs.last().unwrap();
    for r in &page.runs {
        assert!((r.trigger_time, r.job_id.as_str()) < (last.trigger_time, last.job_id.as_str()));
        assert_eq!(b.run(&r.job_id).unwrap().as_ref(), Some(r));
    }

    // Forgeries: wrong kind, a long or non-UTF-8 job ID, an inverted range:
    // typed errors. Any other position: a valid page.
    let head = &real[..34];
    let with_job = |job: &[u8], tweak: &dyn Fn(&mut Vec<u8>)| {
        let mut b = head.to_vec();
        b[33] = job.len() as u8;
        b.extend_from_slice(job);
        tweak(&mut b);
        b.extend_from_slice(&[0; 4]);
        forge(b)
    };
    for bad in [
        with_job(b"job-1", &|b| b[0] = b'C'),
        with_job(&[b'j'; 129], &|_| {}),
        with_job(&[0xff, 0xfe], &|_| {}),
        with_job(b"job-1", &|b| {
            b[9..17].copy_from_slice(&5i64.to_le_bytes());
            b[17..25].copy_from_slice(&4i64.to_le_bytes());
        }),
    ] {
        assert!(
            matches!(bad.parse::<RunCursor>(), Err(Error::InvalidCursor { .. })),
            "{bad}"
        );
    }
    for i in 0..500 {
        let job: Vec<u8> = match i % 4 {
            0 => Vec::new(),
            1 => b"../../etc/passwd".to_vec(),
            2 => "\u{10ffff}".repeat(32).into_bytes(),
            _ => format!("job-{}", rng.below(40)).into_bytes(),
        };
        let (mut from, mut to) = (rng.time(), rng.time());
        if from > to {
            std::mem::swap(&mut from, &mut to);
        }
        let t = rng.time();
        let c: RunCursor = with_job(&job, &|b| {
            b[9..17].copy_from_slice(&from.to_le_bytes());
            b[17..25].copy_from_slice(&to.to_le_bytes());
            b[25..33].copy_from_slice(&t.to_le_bytes());
        })
        .parse()
        .unwrap();
        let p = if i % 2 == 0 { &a } else { &b };
        let page = p.runs(&q.clone().after(c)).unwrap();
        let job = String::from_utf8(job).unwrap();
        for r in &page.runs {
            assert!((r.trigger_time.as_micros(), r.job_id.as_str()) < (t, job.as_str()));
            assert!(r.trigger_time.as_micros() >= from && r.trigger_time.as_micros() < to);
        }
    }
    assert_eq!(snapshot(tmp.path()), before);
}

#[test]
fn record_ids_of_nothing_are_absent_never_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let clock = clock();
    let (store, p) = populated(&dir, &clock, 40);
    let segs = p.segments().unwrap();
    assert!(
        segs.iter().any(|s| s.sealed) && segs.iter().any(|s| !s.sealed),
        "{segs:#?}"
    );
    let before = snapshot(tmp.path());
    let mut ids = Vec::new();
    for s in &segs {
        // Ordinals just past the end, far past it, at the end of u32.
        let n = all(&p).iter().filter(|r| r.id.segment == s.id).count() as u32;
        for ordinal in [n, n + 1, 1 << 20, u32::MAX - 1, u32::MAX] {
            ids.push(RecordId {
                segment: s.id,
                ordinal,
            });
        }
        for generation in [s.id.generation + 1, u32::MAX] {
            ids.push(RecordId {
                segment: SegmentId { generation, ..s.id },
                ordinal: 0,
            });
        }
    }
    let mut rng = Rng(3);
    for _ in 0..2000 {
        ids.push(RecordId {
            segment: SegmentId {
                partition: [0, 1, u32::MAX, rng.next() as u32][rng.below(4) as usize],
                generation: [0, u32::MAX, rng.next() as u32][rng.below(3) as usize],
            },
            ordinal: [0, u32::MAX, rng.next() as u32][rng.below(3) as usize],
        });
    }
    for id in &ids {
        assert_eq!(p.get(*id).unwrap(), None, "{id}");
        // Also through the text form a console or the CLI would pass on.
        assert_eq!(
            p.get(id.to_string().parse().unwrap()).unwrap(),
            None,
            "{id}"
        );
    }
    // Every real ID still answers; then, once retention dropped them, none.
    let real: Vec<_> = all(&p).into_iter().map(|r| r.id).collect();
    assert_eq!(real.len(), 40);
    for id in &real {
        assert!(p.get(*id).unwrap().is_some());
    }
    assert_eq!(snapshot(tmp.path()), before);
    clock.advance(secs(31 * DAY));
    for id in &real {
        assert_eq!(p.get(*id).unwrap(), None, "{id} is past the horizon");
    }
    p.enforce_retention().unwrap();
    for id in real.iter().chain(&ids) {
        assert_eq!(p.get(*id).unwrap(), None, "{id}");
    }
    // A read-only store answers the same.
    drop((p, store));
    let ro = StoreOptions::new()
        .clock(clock.clone())
        .open_read_only(&dir)
        .unwrap();
    let p = ro.project("p").unwrap();
    for id in real.iter().chain(&ids) {
        assert_eq!(p.get(*id).unwrap(), None, "{id}");
    }
}

// ---------------------------------------------------------------------------
// Export

#[test]
fn an_export_writes_only_to_the_callers_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let out_dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let (_store, p) = populated(&dir, &clock, 60);
    p.start_run(&NewRun::new("job-1", "flow-1", Trigger::Event))
        .unwrap();
    let before = snapshot(tmp.path());

    let mut total = 0;
    for format in [ExportFormat::JsonLines, ExportFormat::Csv] {
        for details in [false, true] {
            let q = Query::new().all_time();
            let mut mem = Vec::new();
            let n = p.export(&q, format, details, &mut mem, |_| {}).unwrap();
            assert_eq!(n.records, 60);
            let path = out_dir.path().join(format!("out-{format:?}-{details}"));
            let file = fs::File::create(&path).unwrap();
            p.export(&q, format, details, file, |_| {}).unwrap();
            assert_eq!(fs::read(&path).unwrap(), mem);
            total += 1;
        }
    }
    let mut bundle = Vec::new();
    p.export_execution("job-1", &mut bundle).unwrap();
    assert!(!bundle.is_empty());
    // The store and everything beside it are byte for byte as before; the
    // destination holds only the caller's files.
    assert_eq!(snapshot(tmp.path()), before);
    assert_eq!(snapshot(out_dir.path()).len(), total);
}

// ---------------------------------------------------------------------------
// Foreign files

/// Options of the foreign-file tests: short partitions and retention, so
/// the clock passes the horizon quickly.
fn short_options(clock: &runlog::ManualClock) -> StoreOptions {
    StoreOptions::new()
        .clock(clock.clone())
        .sync_policy(SyncPolicy::Manual)
        .partition(Duration::from_secs(600))
        .retention(Duration::from_secs(DAY))
}

/// A store at `dir` with project `p`: records and runs over several hours
/// (sealed segments, journals) and a preset. Returns the partition of now.
fn store_with_history(dir: &Path, clock: &runlog::ManualClock) -> u32 {
    let store = short_options(clock).open(dir).unwrap();
    let p = store.project("p").unwrap();
    for i in 0..20 {
        p.append(&rec(clock.now(), i)).unwrap();
        p.start_run(&NewRun::new(format!("job-{i}"), "f", Trigger::Event))
            .unwrap();
        clock.advance(secs(1200));
    }
    p.save_preset("mine", SavedRange::Last(secs(60))).unwrap();
    assert!(p.segments().unwrap().iter().any(|s| s.sealed));
    assert!(store.foreign_files().unwrap().is_empty());
    assert!(p.foreign_files().is_empty());
    (clock.now().as_micros() / 600_000_000) as u32
}

/// Plant `files` (distinct contents) and `dirs` (each with a file inside);
/// returns what was planted.
fn plant(files: &[PathBuf], dirs: &[PathBuf]) -> BTreeMap<PathBuf, Node> {
    let mut planted = BTreeMap::new();
    for (i, f) in files.iter().enumerate() {
        let bytes = format!("operator's file {i}").into_bytes();
        fs::write(f, &bytes).unwrap();
        planted.insert(f.clone(), Node::File(bytes));
    }
    for d in dirs {
        fs::create_dir(d).unwrap();
        fs::write(d.join("inside"), "kept").unwrap();
        planted.insert(d.clone(), Node::Dir);
        planted.insert(d.join("inside"), Node::File(b"kept".to_vec()));
    }
    planted
}

/// Open the store, read, then move the clock past retention three times
/// with appends, runs, seals and retention, and reopen; after each step
/// every planted entry must be as planted. Returns the problems found
/// (failed maintenance calls, damage, what `foreign_files` reports).
fn exercise_retention(
    dir: &Path,
    clock: &runlog::ManualClock,
    planted: &BTreeMap<PathBuf, Node>,
) -> (Vec<String>, BTreeSet<PathBuf>) {
    let mut problems = Vec::new();
    let check = |when: &str, problems: &mut Vec<String>| {
        let now = snapshot(dir);
        for (path, node) in planted {
            if now.get(path) != Some(node) {
                problems.push(format!("{when}: {} changed or is gone", path.display()));
            }
        }
    };
    let store = short_options(clock).open(dir).unwrap();
    let p = store.project("p").unwrap();
    check("open", &mut problems);
    // Reads work and return only runlog's records.
    let records = all(&p);
    assert!(!records.is_empty());
    assert!(
        records
            .iter()
            .all(|r| r.record.content.starts_with("step "))
    );
    for round in 0..3 {
        clock.advance(secs(DAY + 3600));
        p.append(&rec(clock.now(), 100 + round)).unwrap();
        p.start_run(&NewRun::new(format!("late-{round}"), "f", Trigger::Event))
            .unwrap();
        if let Err(e) = p.seal_due() {
            problems.push(format!("seal_due (round {round}): {e}"));
        }
        if let Err(e) = p.enforce_retention() {
            problems.push(format!("enforce_retention (round {round}): {e}"));
        }
        check(&format!("retention (round {round})"), &mut problems);
        // Only the newest record is within retention.
        assert_eq!(all(&p).len(), 1);
    }
    drop((p, store));
    // Reopening (recovery, retention at open) keeps them too.
    let store = short_options(clock).open(dir).unwrap();
    let p = store.project("p").unwrap();
    if let Err(e) = p.enforce_retention() {
        problems.push(format!("enforce_retention after reopen: {e}"));
    }
    check("reopen", &mut problems);
    assert_eq!(all(&p).len(), 1);
    // Never read: nothing reported as a damaged segment or journal.
    for d in p.damage() {
        problems.push(format!(
            "reported as damage: {} ({})",
            d.path.display(),
            d.reason
        ));
    }
    for s in p.segments().unwrap().iter().filter(|s| s.damaged) {
        problems.push(format!("listed as a damaged segment: {}", s.path.display()));
    }
    let reported = p
        .foreign_files()
        .into_iter()
        .chain(store.foreign_files().unwrap())
        .collect();
    (problems, reported)
}

/// Files an operator (or another tool) left in runlog's directories, many
/// named like runlog's own files of another kind or format, and
/// directories: never deleted, changed or read, through retention and
/// reopening; each is reported as a warning by `Store::foreign_files` /
/// `Project::foreign_files`.
#[test]
fn foreign_files_are_reported_never_deleted_never_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let clock = clock();
    let now_partition = store_with_history(&dir, &clock);
    let expired = now_partition - 200; // 2000 minutes ago: past the horizon
    let project_dir = dir.join("projects").join("p");
    let runs_dir = project_dir.join("runs");
    let files: Vec<PathBuf> = vec![
        dir.join("notes.txt"),
        dir.join("runlog.meta.bak"),
        dir.join("runlog.lock.old"),
        dir.join("projects").join("README"),
        dir.join("projects").join("not a project!"),
        project_dir.join("notes.txt"),
        project_dir.join("0000000001-0000.wal.bak"),
        project_dir.join(format!("{expired:010}-0000.seg.old")),
        project_dir.join(format!("{expired:010}-0000.wal~")),
        project_dir.join(format!("{expired:010}-0000.idx.bak")),
        project_dir.join(format!("{expired:010}-0000.SEG")),
        project_dir.join("presets.bak"),
        project_dir.join(".hidden"),
        runs_dir.join("notes.txt"),
        runs_dir.join(format!("{expired:010}-0000.runs.bak")),
        runs_dir.join(format!("{expired:010}-00.runs")),
        runs_dir.join("0000000001-0000.journal"),
    ];
    let dirs: Vec<PathBuf> = vec![
        dir.join("backup"),
        project_dir.join("archive"),
        project_dir.join(format!("{expired:010}-0000.seg.d")),
        runs_dir.join("old"),
    ];
    let planted = plant(&files, &dirs);
    let (problems, reported) = exercise_retention(&dir, &clock, &planted);
    assert!(problems.is_empty(), "{problems:#?}");
    let wanted: BTreeSet<PathBuf> = files.iter().chain(&dirs).cloned().collect();
    let missing: Vec<_> = wanted.difference(&reported).collect();
    let extra: Vec<_> = reported.difference(&wanted).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "not reported: {missing:#?}\nreported but not foreign: {extra:#?}"
    );
}

/// Directories named exactly like a segment or journal file (an expired
/// one, the current partition's, one at partition 1) can never be runlog's
/// files: they must be left alone and reported like any foreign entry,
/// and must not make sealing or retention fail.
#[test]
fn directories_named_like_segments_are_foreign_not_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let clock = clock();
    let now_partition = store_with_history(&dir, &clock);
    let expired = now_partition - 200;
    let project_dir = dir.join("projects").join("p");
    let runs_dir = project_dir.join("runs");
    let dirs: Vec<PathBuf> = vec![
        project_dir.join("0000000001-0000.wal"),
        project_dir.join(format!("{expired:010}-0000.seg")),
        project_dir.join(format!("{now_partition:010}-0000.seg")),
        runs_dir.join(format!("{expired:010}-0000.runs")),
    ];
    let planted = plant(&[], &dirs);
    let (mut problems, reported) = exercise_retention(&dir, &clock, &planted);
    for d in &dirs {
        if !reported.contains(d) {
            problems.push(format!("not reported as foreign: {}", d.display()));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Files named like a segment but not as runlog names them (runlog always
/// writes 10 digits of partition and 4 of generation, and its journal
/// names are only accepted in that form): another tool's files. They must
/// be kept, reported as foreign, and never shadow runlog's own segment of
/// the same partition and generation.
#[test]
fn non_canonical_segment_names_are_foreign() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let clock = clock();
    let now_partition = store_with_history(&dir, &clock);
    let expired = now_partition - 200;
    let project_dir = dir.join("projects").join("p");
    // A sealed segment of runlog's own, still within retention.
    let own = {
        let store = short_options(&clock).open(&dir).unwrap();
        let p = store.project("p").unwrap();
        let s = p
            .segments()
            .unwrap()
            .into_iter()
            .find(|s| s.sealed)
            .unwrap();
        s.id
    };
    let files: Vec<PathBuf> = vec![
        project_dir.join(format!("{expired:010}-00.seg")),
        project_dir.join(format!("{expired}-0.wal")),
        project_dir.join(format!("{expired:012}-0000.seg")),
        project_dir.join(format!("{:010}-00.seg", own.partition)),
    ];
    let planted = plant(&files, &[]);
    let mut problems = Vec::new();
    {
        let store = short_options(&clock).open(&dir).unwrap();
        let records = all(&store.project("p").unwrap()).len();
        if records != 20 {
            problems.push(format!("{records} of runlog's 20 records are readable"));
        }
    }
    let (more, reported) = exercise_retention(&dir, &clock, &planted);
    problems.extend(more);
    for f in &files {
        if !reported.contains(f) {
            problems.push(format!("not reported as foreign: {}", f.display()));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
