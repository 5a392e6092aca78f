//! Crashes and the run journal: a journal cut at every byte of its last
//! frames replays a prefix of the acknowledged events (the torn tail is
//! removed); events continue after a torn tail; a flipped byte loses its
//! event, and the later events of the same run, reported and skipped; a
//! damaged header sets the file aside. Runs and due retries survive a
//! restart without a sync, and a retry claimed before it is not handed out
//! again.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::runs::*;
use common::*;
use runlog::{
    Clock, ManualClock, NewRun, Outcome, Project, RetryPolicy, Run, RunStatus, SyncPolicy, Trigger,
};

const JOBS: [&str; 3] = ["j1", "j2", "j3"];

/// Record a fixed sequence of lifecycle events (synced each), returning
/// the journal file, the journal length after each event (the frame ends,
/// starting with the header end), and the runs after each event.
fn record_events(dir: &Path, clock: &ManualClock) -> (PathBuf, Vec<u64>, Vec<Vec<Option<Run>>>) {
    let store = options(clock)
        .sync_policy(SyncPolicy::Always)
        .open(dir)
        .unwrap();
    let p = store.project("p").unwrap();
    p.set_flow_retry_policy("once", Some(RetryPolicy::none()))
        .unwrap();
    let mut ends = vec![];
    let mut snaps = vec![states(&p, &JOBS)];
    let mut step = |p: &Project, ends: &mut Vec<u64>, f: &dyn Fn(&Project)| {
        f(p);
        if ends.is_empty() {
            ends.push(runlog::journal::HEADER_LEN as u64);
        }
        ends.push(journal_len(p));
        snaps.push(states(p, &JOBS));
    };
    let c = clock.clone();
    step(&p, &mut ends, &|p| {
        p.start_run(&NewRun::new("j1", "f", Trigger::Scheduler).env("prod"))
            .map(drop)
            .unwrap()
    });
    step(&p, &mut ends, &|p| {
        p.start_run(&NewRun::new("j2", "f", Trigger::Event))
            .map(drop)
            .unwrap()
    });
    step(&p, &mut ends, &|p| {
        p.attempt_failed("j1", 1, "first failure")
            .map(drop)
            .unwrap()
    });
    step(&p, &mut ends, &|p| {
        p.start_run(&NewRun::new("j3", "once", Trigger::Manual).app("erp"))
            .map(drop)
            .unwrap()
    });
    step(&p, &mut ends, &|p| {
        p.attempt_succeeded("j2", 1).map(drop).unwrap()
    });
    step(&p, &mut ends, &|p| {
        c.advance(secs(5));
        assert_eq!(p.due_retries_at(c.now()).unwrap().len(), 1);
    });
    step(&p, &mut ends, &|p| {
        p.attempt_failed("j3", 1, "no retries").map(drop).unwrap()
    });
    step(&p, &mut ends, &|p| p.start_retry("j3").map(drop).unwrap());
    step(&p, &mut ends, &|p| {
        p.attempt_failed("j1", 2, "second failure")
            .map(drop)
            .unwrap()
    });
    step(&p, &mut ends, &|p| {
        p.attempt_succeeded("j3", 2).map(drop).unwrap()
    });
    step(&p, &mut ends, &|p| {
        c.advance(secs(10));
        assert_eq!(p.due_retries_at(c.now()).unwrap().len(), 1);
    });
    step(&p, &mut ends, &|p| {
        p.attempt_succeeded("j1", 3).map(drop).unwrap()
    });
    let path = the_journal(&p);
    assert_eq!(fs::metadata(&path).unwrap().len(), *ends.last().unwrap());
    for w in ends.windows(2) {
        assert!(w[0] < w[1], "every event is one frame: {ends:?}");
    }
    drop((p, store));
    (path, ends, snaps)
}

fn reopen_states(dir: &Path, clock: &ManualClock) -> (Vec<Option<Run>>, Vec<runlog::Damage>) {
    let store = open(dir, clock);
    let p = store.project("p").unwrap();
    (states(&p, &JOBS), p.damage())
}

#[test]
fn every_cut_of_the_last_frames_replays_a_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let (path, ends, snaps) = record_events(dir.path(), &clock);
    let original = fs::read(&path).unwrap();
    assert_eq!(ends.len(), 13);
    assert_eq!(snaps.len(), 13);
    // Every byte within the last four frames, and every frame boundary.
    let mut cuts: Vec<u64> = (ends[ends.len() - 5]..=original.len() as u64).collect();
    cuts.extend(&ends[..ends.len() - 5]);
    for cut in cuts {
        fs::write(&path, &original[..cut as usize]).unwrap();
        let whole = ends.iter().filter(|&&e| e <= cut).count() - 1;
        for round in 0..2 {
            let (got, damage) = reopen_states(dir.path(), &clock);
            assert_eq!(got, snaps[whole], "cut at byte {cut}, reopen {round}");
            assert!(damage.is_empty(), "cut at {cut}: {damage:?}");
            assert_eq!(
                fs::metadata(&path).unwrap().len(),
                ends[whole],
                "cut at {cut}: the torn tail is removed"
            );
        }
    }
    fs::write(&path, &original).unwrap();
}

#[test]
fn events_continue_after_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let (path, ends, snaps) = record_events(dir.path(), &clock);
    let original = fs::read(&path).unwrap();
    // Cut inside the frame of event 10 ("j3 attempt 2 succeeded").
    let cut = ends[9] + 5;
    fs::write(&path, &original[..cut as usize]).unwrap();
    {
        // A reader sees the whole events and leaves the file alone.
        let reader = options(&clock).open_read_only(dir.path()).unwrap();
        let r = reader.project("p").unwrap();
        assert_eq!(states(&r, &JOBS), snaps[9]);
        assert_eq!(fs::metadata(&path).unwrap().len(), cut);
    }
    {
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        assert_eq!(states(&p, &JOBS), snaps[9]);
        // The lost success is reported again, and more is recorded.
        p.attempt_succeeded("j3", 2).unwrap();
        p.start_run(&NewRun::new("j4", "f", Trigger::Event))
            .unwrap();
        p.attempt_failed("j4", 1, "x").unwrap();
        let t = p
            .due_retries_at(now(&clock).saturating_add(secs(60)))
            .unwrap();
        let mut claimed: Vec<_> = t
            .iter()
            .map(|t| (t.job_id.to_string(), t.attempt))
            .collect();
        claimed.sort();
        assert_eq!(claimed, [("j1".to_string(), 3), ("j4".to_string(), 2)]);
    }
    for _ in 0..2 {
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        assert!(p.damage().is_empty(), "{:?}", p.damage());
        assert_eq!(run_of(&p, "j3").status, RunStatus::Successful);
        assert!(run_of(&p, "j3").attempts[0].superseded);
        assert_eq!(run_of(&p, "j1").attempt(), 3);
        assert_eq!(run_of(&p, "j4").attempt(), 2);
        assert_eq!(run_of(&p, "j2"), snaps[9][1].clone().unwrap());
        assert!(p.verify().unwrap().is_ok());
    }
}

#[test]
fn a_flipped_byte_is_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let (path, ends, snaps) = record_events(dir.path(), &clock);
    let original = fs::read(&path).unwrap();
    let last = snaps.last().unwrap().clone();

    // The intact journal verifies clean.
    {
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        let report = p.verify().unwrap();
        assert!(report.is_ok(), "{report:?}");
        assert_eq!(report.journals, 1);
    }

    // The frame at ends[4] is event 5, "j2 succeeded", and nothing follows
    // it for j2: losing it leaves j2 running, and the others as they ended.
    for within in [0u64, 3, 5, 9, 13, 16] {
        let mut bytes = original.clone();
        let at = (ends[4] + within) as usize;
        assert!(at < ends[5] as usize);
        bytes[at] ^= 0x41;
        fs::write(&path, &bytes).unwrap();
        for round in 0..2 {
            let (got, damage) = reopen_states(dir.path(), &clock);
            let want = vec![last[0].clone(), snaps[2][1].clone(), last[2].clone()];
            assert_eq!(got, want, "byte {within}, reopen {round}");
            assert_eq!(damage.len(), 1, "byte {within}: {damage:?}");
            assert_eq!((&damage[0].path, damage[0].offset), (&path, ends[4]));
        }
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        let report = p.verify().unwrap();
        assert!(
            report.problems.iter().any(|d| d.path == path),
            "byte {within}: {report:?}"
        );
        // The store still takes events, and they survive a reopen (at the
        // original time, so the run ends up exactly as before).
        let later = now(&clock);
        clock.set(T0);
        p.attempt_succeeded("j2", 1).unwrap();
        clock.set(later);
        drop((p, store));
        let (got, damage) = reopen_states(dir.path(), &clock);
        assert_eq!(got, last, "byte {within}: after recording again");
        assert_eq!(damage.len(), 1, "{damage:?}");
        fs::write(&path, &original).unwrap();
    }

    // The frame at ends[2] is event 3, "j1 attempt 1 failed": j1's later
    // events no longer follow and are skipped (reported), never applied
    // twice or out of order.
    let mut bytes = original.clone();
    bytes[(ends[2] + 14) as usize] ^= 0x08;
    fs::write(&path, &bytes).unwrap();
    for _ in 0..2 {
        let (got, damage) = reopen_states(dir.path(), &clock);
        assert_eq!(
            got,
            vec![snaps[1][0].clone(), last[1].clone(), last[2].clone()]
        );
        assert!(damage.iter().all(|d| d.path == path), "{damage:?}");
        assert_eq!(damage[0].offset, ends[2], "{damage:?}");
        // The damaged frame, and j1's four later events.
        assert_eq!(damage.len(), 5, "{damage:?}");
    }
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    assert!(!p.verify().unwrap().is_ok());
    drop((p, store));

    // Garbage in place of the header: the file is set aside and reported,
    // nothing panics, and new runs go to a new file.
    let mut bytes = original.clone();
    bytes[3] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    assert_eq!(states(&p, &JOBS), vec![None, None, None]);
    assert!(
        p.damage().iter().any(|d| d.path == path),
        "{:?}",
        p.damage()
    );
    p.start_run(&NewRun::new("j9", "f", Trigger::Event))
        .unwrap();
    assert_eq!(journal_files(&p).len(), 2);
    assert_eq!(
        fs::read(&path).unwrap(),
        bytes,
        "a set-aside file is kept as is"
    );
    assert!(!p.verify().unwrap().is_ok());
    drop((p, store));
    let store = open(dir.path(), &clock);
    assert!(store.project("p").unwrap().run("j9").unwrap().is_some());
}

#[test]
fn runs_and_retries_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let before = {
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        for job in ["running", "retrying", "claimed"] {
            p.start_run(&NewRun::new(job, "f", Trigger::Event)).unwrap();
        }
        p.attempt_failed("claimed", 1, "x").unwrap();
        clock.advance(secs(5));
        let t = p.due_retries_at(now(&clock)).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].job_id, "claimed");
        p.attempt_failed("retrying", 1, "x").unwrap();
        // The process dies without a sync: each event was written to the OS.
        states(&p, &["running", "retrying", "claimed"])
    };
    let due = T0.saturating_add(secs(10));
    assert_eq!(before[1].as_ref().unwrap().next_retry, Some(due));
    {
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        assert_eq!(states(&p, &["running", "retrying", "claimed"]), before);
        let r = run_of(&p, "running");
        assert_eq!(
            (r.status, r.attempts[0].outcome),
            (RunStatus::Running, Outcome::Running)
        );
        // Not due yet, and the retry claimed before the crash is not handed out again.
        assert!(p.due_retries_at(now(&clock)).unwrap().is_empty());
    }
    clock.set(due);
    let claimed = {
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        let t = p.due_retries_at(due).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!((t[0].job_id.as_str(), t[0].attempt), ("retrying", 2));
        assert!(p.due_retries_at(due).unwrap().is_empty());
        run_of(&p, "retrying")
    };
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    assert_eq!(run_of(&p, "retrying"), claimed);
    assert!(
        p.due_retries_at(due.saturating_add(secs(DAY)))
            .unwrap()
            .is_empty()
    );
    assert_eq!(run_of(&p, "claimed").attempt(), 2);
    assert_eq!(run_of(&p, "running").status, RunStatus::Running);
}
