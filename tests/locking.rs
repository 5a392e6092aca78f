//! One writer per store; read-only opens see what the writer flushed.

mod common;

use common::*;
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
