//! Files runlog did not make, in any of its directories: files named like
//! runlog's own of another kind or format, directories named exactly like
//! a segment or journal, segment names not in runlog's canonical form.
//! Through reads, sealing, retention past their partitions and reopening,
//! they are never deleted, changed or read (no damage reported), never
//! shadow runlog's own segments, and each is reported by
//! `foreign_files()`. Time is a `ManualClock`; nothing sleeps.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::files::*;
use common::*;
use runlog::{Clock, NewRun, SavedRange, StoreOptions, Trigger};

/// Options of the foreign-file tests: short partitions and retention, so
/// the clock passes the horizon quickly.
fn short_options(clock: &runlog::ManualClock) -> StoreOptions {
    options(clock)
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
