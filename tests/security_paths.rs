//! Names and destinations given by callers never reach outside the store:
//! project names that could be paths are refused (and create nothing),
//! the accepted ones are directories directly in `projects/`; preset names
//! are data, never paths (only the presets file changes); an export
//! writes only to the caller's writer. Time is a `ManualClock`; nothing
//! sleeps.

mod common;

use std::fs;

use common::files::*;
use common::*;
use runlog::{Error, ExportFormat, NewRun, Preset, Project, Query, SavedRange, Trigger};

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
    let ro = read_only(&dir, &clock);
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
            let n = p
                .export(
                    &q,
                    runlog::ExportOptions::new(format).details(details),
                    &mut mem,
                    |_| {},
                )
                .unwrap();
            assert_eq!(n.records, 60);
            let path = out_dir.path().join(format!("out-{format:?}-{details}"));
            let file = fs::File::create(&path).unwrap();
            p.export(
                &q,
                runlog::ExportOptions::new(format).details(details),
                file,
                |_| {},
            )
            .unwrap();
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
