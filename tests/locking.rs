//! One writer per store; read-only opens see what the writer flushed.

mod common;

use common::*;
use std::time::Duration;

use runlog::{Error, StoreOptions};

#[test]
fn a_second_writer_is_refused_with_the_lock_path() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    match options(&clock).open(dir.path()) {
        Err(Error::Locked { path, holder }) => {
            assert_eq!(path, dir.path().join("runlog.lock"));
            assert_eq!(holder, Some(std::process::id()));
            let msg = Error::Locked { path, holder }.to_string();
            assert!(
                msg.contains("runlog.lock") && msg.contains("read-only"),
                "{msg}"
            );
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(store);
    // Released on drop.
    let _again = open(dir.path(), &clock);
}

#[test]
fn the_lock_is_held_while_any_project_handle_lives() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let p = open(dir.path(), &clock).project("p").unwrap();
    assert!(matches!(
        options(&clock).open(dir.path()),
        Err(Error::Locked { .. })
    ));
    drop(p);
    let _ = open(dir.path(), &clock);
}

#[test]
fn read_only_sees_flushed_records_while_the_writer_writes() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let w = store.project("p").unwrap();
    w.append(&rec(T0.saturating_sub(secs(60)), 1)).unwrap();

    let reader = options(&clock).open_read_only(dir.path()).unwrap();
    assert!(reader.is_read_only());
    let r = reader.project("p").unwrap();
    assert_eq!(all(&r).len(), 1);

    // Not synced, only written to the OS: the reader sees it.
    let id2 = w.append(&rec(T0.saturating_sub(secs(30)), 2)).unwrap();
    let got = all(&r);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].id, id2);
    assert!(r.get(id2).unwrap().is_some());

    // Writes are refused on the reader.
    assert!(matches!(r.append(&rec(T0, 3)), Err(Error::ReadOnly { .. })));
    assert!(matches!(r.seal_due(), Err(Error::ReadOnly { .. })));

    // The writer seals (renames) the segment and starts another: still all there.
    clock.advance(secs(2 * 3600));
    let id3 = w.append(&rec(runlog::Clock::now(&clock), 3)).unwrap();
    assert!(w.segments().unwrap()[0].sealed);
    let got = all(&r);
    assert_eq!(got.iter().map(|s| s.id).collect::<Vec<_>>()[0], id3);
    assert_eq!(got.len(), 3);
    assert!(r.verify().unwrap().is_ok());
}

#[test]
fn read_only_open_of_a_missing_store_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        StoreOptions::new().open_read_only(dir.path().join("nope")),
        Err(Error::Io { .. })
    ));
    let clock = clock();
    drop(open(dir.path(), &clock));
    let ro = options(&clock).open_read_only(dir.path()).unwrap();
    assert!(ro.project("never-written").is_err());
}

#[test]
fn handles_are_send_sync_and_cheap_to_clone() {
    fn send_sync<T: Send + Sync + Clone>() {}
    send_sync::<runlog::Store>();
    send_sync::<runlog::Project>();
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), &clock());
    let a = store.project("p").unwrap();
    let b = store.project("p").unwrap();
    // Two handles of one project share its state.
    a.append(&rec(T0, 1)).unwrap();
    assert_eq!(all(&b).len(), 1);
}

#[test]
fn a_reader_survives_the_writer_cutting_back_a_failed_write() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let w = store.project("p").unwrap();
    let keep = w.append(&rec(T0.saturating_sub(secs(60)), 1)).unwrap();
    let wal = w.segments().unwrap()[0].path.clone();
    let kept_len = std::fs::metadata(&wal).unwrap().len();
    w.append(&rec(T0.saturating_sub(secs(30)), 2)).unwrap();
    let reader = options(&clock).open_read_only(dir.path()).unwrap();
    let r = reader.project("p").unwrap();
    assert_eq!(all(&r).len(), 2);
    // What the writer does when a later part of a batch fails: cut the
    // file back. The reader, which saw the cut frame, must neither fault
    // nor keep returning it.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&wal)
        .unwrap()
        .set_len(kept_len)
        .unwrap();
    let got = all(&r);
    assert_eq!(got.iter().map(|s| s.id).collect::<Vec<_>>(), [keep]);
    assert!(r.get(keep).unwrap().is_some());
}

/// The path of the project's only segment file.
fn only_segment(p: &runlog::Project) -> std::path::PathBuf {
    let segments = p.segments().unwrap();
    assert_eq!(segments.len(), 1, "{segments:?}");
    segments[0].path.clone()
}

/// Flip one bit of `path` at `at` (from the end when negative).
fn flip(path: &std::path::Path, at: i64) {
    let mut b = std::fs::read(path).unwrap();
    let at = if at < 0 { b.len() as i64 + at } else { at } as usize;
    b[at] ^= 0x01;
    std::fs::write(path, b).unwrap();
}

/// A store whose writer appended records 0..5 (`rec(T0, i)`, one
/// segment) and closed, beside a read-only reader that read them all and
/// whose follower (started before the appends) delivered them.
struct ReadThenClosed {
    dir: tempfile::TempDir,
    clock: runlog::ManualClock,
    reader: runlog::Project,
    follow: runlog::Follow,
    /// The segment's file.
    segment: std::path::PathBuf,
}

fn read_then_closed() -> ReadThenClosed {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    let reader = options(&clock)
        .open_read_only(dir.path())
        .unwrap()
        .project("p")
        .unwrap();
    let mut follow = reader.follow(&runlog::Query::new()).unwrap();
    p.append_batch(&(0..5).map(|i| rec(T0, i)).collect::<Vec<_>>())
        .unwrap();
    let all_time = runlog::Query::new().all_time();
    assert_eq!(reader.count(&all_time).unwrap().total, 5);
    assert_eq!(follow.next_batch(Duration::ZERO).unwrap().len(), 5);
    let segment = only_segment(&p);
    drop((p, store));
    ReadThenClosed {
        dir,
        clock,
        reader,
        follow,
        segment,
    }
}

/// A writer that closes and opens again cuts nothing, so a reader keeps
/// what it read: here it still counts a record damaged on disk since it
/// read it (a reader reading the segment again would skip it and report
/// damage), and it reads on from where it was.
#[test]
fn a_writer_reopening_makes_no_reader_read_again() {
    let ReadThenClosed {
        dir,
        clock,
        reader,
        segment,
        ..
    } = read_then_closed();
    let all_time = runlog::Query::new().all_time();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    flip(&segment, -5);
    p.append(&rec(T0, 5)).unwrap();
    assert_eq!(reader.count(&all_time).unwrap().total, 6);
    assert!(reader.damage().is_empty(), "{:?}", reader.damage());
    let fresh = options(&clock).open_read_only(dir.path()).unwrap();
    let fresh = fresh.project("p").unwrap();
    assert_eq!(
        fresh.count(&all_time).unwrap().total,
        5,
        "one record damaged"
    );
}

/// A writer whose recovery cuts a whole record off the end (damaged
/// after a reader's follower delivered it) records the cut: the follower
/// then delivers the records the writer appends in place of the cut one,
/// and the reader counts exactly what the writer has.
#[test]
fn a_follower_gets_the_records_written_in_place_of_one_a_recovery_cut() {
    let ReadThenClosed {
        dir,
        clock,
        reader,
        mut follow,
        segment,
    } = read_then_closed();
    let all_time = runlog::Query::new().all_time();

    // The last record's checksum no longer matches: the next writer's
    // recovery cuts it.
    flip(&segment, -5);
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    assert_eq!(p.count(&all_time).unwrap().total, 4);
    let ids = p.append_batch(&[rec(T0, 11), rec(T0, 12)]).unwrap();
    let got = follow.next_batch(Duration::ZERO).unwrap();
    let mut got: Vec<_> = got.into_iter().map(|d| (d.id, d.record)).collect();
    got.sort_by_key(|(id, _)| *id);
    assert_eq!(
        got,
        vec![(ids[0], rec(T0, 11)), (ids[1], rec(T0, 12))],
        "both records appended after the cut, once"
    );
    assert!(follow.next_batch(Duration::ZERO).unwrap().is_empty());
    assert_eq!(reader.count(&all_time).unwrap().total, 6);
}

/// The offset of the last frame of the segment file `path` (frames laid
/// end to end after the header, each its head plus its two lengths).
fn last_frame(path: &std::path::Path) -> usize {
    use runlog::format::{FRAME_HEAD_LEN, HEADER_LEN};
    let b = std::fs::read(path).unwrap();
    let u32_at = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize;
    let (mut at, mut last) = (HEADER_LEN, HEADER_LEN);
    while at + FRAME_HEAD_LEN <= b.len() {
        last = at;
        at += FRAME_HEAD_LEN + u32_at(at) + u32_at(at + 4);
    }
    assert_eq!(at, b.len(), "whole frames");
    last
}

/// A record whose length field was damaged after a reader read it (so
/// that the frame no longer looks whole) is cut by the next writer's
/// recovery, and the cut is recorded all the same: the reader forgets it,
/// shows exactly the writer's records, and reports no damage.
#[test]
fn a_recovery_cut_of_a_frame_whose_length_was_damaged_is_recorded() {
    let ReadThenClosed {
        dir,
        clock,
        reader,
        segment,
        ..
    } = read_then_closed();
    let all_time = runlog::Query::new().all_time();

    // The top byte of the last frame's detail length: it now claims more
    // bytes than the file holds.
    flip(&segment, last_frame(&segment) as i64 + 7);
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    assert_eq!(p.count(&all_time).unwrap().total, 4);
    let short = runlog::LogRecord::new(T0, runlog::Level::Info, "job-0", "x");
    p.append_batch(&[short, rec(T0, 12), rec(T0, 13)]).unwrap();
    let ids =
        |p: &runlog::Project| -> Vec<_> { all(p).into_iter().map(|s| (s.id, s.record)).collect() };
    assert_eq!(ids(&reader), ids(&p));
    assert!(reader.damage().is_empty(), "{:?}", reader.damage());
}

/// The same for a run journal: an event damaged after a reader replayed
/// it is cut by the next writer's recovery (a torn tail), recorded, and
/// the reader replays the journals again: it no longer shows the cut run,
/// shows the one started since, and reports no damage.
#[test]
fn a_recovery_cut_of_a_run_event_a_reader_replayed_is_recorded() {
    use runlog::{NewRun, Trigger};
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    let reader_store = options(&clock).open_read_only(dir.path()).unwrap();
    let reader = reader_store.project("p").unwrap();
    for job in ["job-a", "job-b"] {
        p.start_run(&NewRun::new(job, "flow", Trigger::Scheduler))
            .unwrap();
    }
    assert!(reader.run("job-b").unwrap().is_some());
    drop((p, store));

    let runs = dir.path().join("projects/p/runs");
    let journals: Vec<_> = std::fs::read_dir(&runs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(journals.len(), 1, "{journals:?}");
    flip(&journals[0], -3);
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    assert!(p.run("job-b").unwrap().is_none(), "recovery cut job-b");
    p.start_run(&NewRun::new("job-c", "flow", Trigger::Scheduler))
        .unwrap();
    assert!(reader.run("job-b").unwrap().is_none());
    assert!(reader.run("job-c").unwrap().is_some());
    assert!(reader.run("job-a").unwrap().is_some());
    assert!(reader.damage().is_empty(), "{:?}", reader.damage());
}
