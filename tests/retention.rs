//! Retention drops whole expired segments and reads never return a record
//! past the horizon; foreign files are left alone.

mod common;

use std::fs;
use std::time::Duration;

use common::*;
use runlog::{TimeRange, Timestamp};

const DAY: u64 = 86_400;

#[test]
fn expired_segments_are_dropped_and_hidden_before_that() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    // One record an hour for 30 days, oldest first.
    let start = T0;
    for h in 0..(30 * 24) {
        let t = runlog::Clock::now(&clock);
        p.append(&rec(t, h)).unwrap();
        clock.advance(secs(3600));
    }
    p.seal_due().unwrap();
    let foreign = p.dir().join("notes.txt");
    fs::write(&foreign, "operator notes").unwrap();
    assert_eq!(p.segments().unwrap().len(), 720);
    assert_eq!(all(&p).len(), 720);

    // 36 more hours: the first 36 hours are past the horizon.
    clock.advance(secs(36 * 3600 - 3600));
    let now = runlog::Clock::now(&clock);
    let horizon = now.saturating_sub(secs(30 * DAY));
    let visible = all(&p);
    assert!(visible.iter().all(|s| s.record.time >= horizon));
    assert_eq!(visible.len(), 720 - 35);
    // Before enforcement the files are still there, but never read.
    assert_eq!(p.segments().unwrap().len(), 720);
    let dropped = p.enforce_retention().unwrap();
    assert_eq!(dropped, 35);
    let segs = p.segments().unwrap();
    assert_eq!(segs.len(), 720 - 35);
    assert!(segs.iter().all(|s| s.partition.to > horizon));
    assert!(foreign.exists(), "foreign files are never deleted");
    assert_eq!(all(&p).len(), 720 - 35);
    assert!(
        p.scan(TimeRange::new(start, horizon).unwrap())
            .next()
            .is_none()
    );
}

#[test]
fn retention_runs_on_open_and_on_append() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    {
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        p.append(&rec(T0, 1)).unwrap();
    }
    clock.advance(Duration::from_secs(31 * DAY));
    {
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        assert!(p.segments().unwrap().is_empty(), "dropped at open");
        p.append(&rec(runlog::Clock::now(&clock), 2)).unwrap();
        clock.advance(Duration::from_secs(31 * DAY));
        p.append(&rec(runlog::Clock::now(&clock), 3)).unwrap();
        // The append sealed the old segment and dropped it.
        assert_eq!(p.segments().unwrap().len(), 1);
        assert_eq!(all(&p).len(), 1);
    }
}

#[test]
fn get_never_returns_a_record_past_the_horizon() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    let id = p.append(&rec(T0.saturating_sub(secs(10)), 1)).unwrap();
    clock.set(Timestamp::from_micros(
        T0.as_micros() + (30 * DAY as i64) * 1_000_000 - 5_000_000,
    ));
    assert!(p.get(id).unwrap().is_none());
    assert!(all(&p).is_empty());
}

#[test]
fn foreign_files_are_reported_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    {
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        p.append(&rec(T0, 1)).unwrap();
        p.start_run(&runlog::NewRun::new("job-1", "f", runlog::Trigger::Event))
            .unwrap();
        p.save_preset("mine", runlog::SavedRange::Last(secs(60)))
            .unwrap();
        // runlog's own files are not foreign.
        assert!(p.foreign_files().is_empty());
        assert!(store.foreign_files().unwrap().is_empty());
    }
    let project_dir = dir.path().join("projects").join("p");
    let planted = [
        dir.path().join("README.txt"),
        dir.path().join("projects").join("not a project!"),
        project_dir.join("notes.txt"),
        project_dir.join("0000000001-0000.wal.bak"),
        project_dir.join("runs").join("copy.runs.old"),
    ];
    for f in &planted {
        fs::write(f, "operator's file").unwrap();
    }
    fs::create_dir(project_dir.join("0000472222-0000.seg.d")).unwrap();
    clock.advance(secs(40 * DAY));
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    p.enforce_retention().unwrap();
    let mut want: Vec<_> = planted[2..].to_vec();
    want.push(project_dir.join("0000472222-0000.seg.d"));
    want.sort();
    assert_eq!(p.foreign_files(), want);
    assert_eq!(store.foreign_files().unwrap(), planted[..2].to_vec());
    for f in &planted {
        assert_eq!(fs::read(f).unwrap(), b"operator's file", "{}", f.display());
    }
    assert!(project_dir.join("0000472222-0000.seg.d").is_dir());
}
