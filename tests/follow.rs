//! Follow: with concurrent writers, a follower sees each matching record
//! exactly once, each batch in order, also across a segment roll.

mod common;

use std::collections::HashSet;
use std::thread;
use std::time::Duration;

use common::*;
use runlog::{Level, Query, RecordId};

#[test]
fn follower_sees_every_match_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    p.append(&rec(T0, 0)).unwrap(); // before the follow: not returned
    let mut follow = p.follow(&Query::new().min_level(Level::Warn)).unwrap();

    let writers: Vec<_> = (0..3u64)
        .map(|w| {
            let p = p.clone();
            thread::spawn(move || {
                let mut ids = Vec::new();
                for i in 0..200u64 {
                    let n = w * 1000 + i;
                    let r = rec(T0.saturating_sub(secs(i % 50)), n);
                    let id = p.append(&r).unwrap();
                    if r.level >= Level::Warn {
                        ids.push(id);
                    }
                }
                ids
            })
        })
        .collect();
    let mut want: HashSet<RecordId> = HashSet::new();
    for w in writers {
        want.extend(w.join().unwrap());
    }
    // A segment roll: the clock moves past the partition and its grace.
    clock.advance(secs(3 * 3600));
    let late = p.append(&rec(runlog::Clock::now(&clock), 3)).unwrap(); // level Error (3 % 4)
    want.insert(late);

    let mut seen = HashSet::new();
    while seen.len() < want.len() {
        let batch = follow.next_batch(Duration::from_secs(5)).unwrap();
        assert!(
            !batch.is_empty(),
            "timed out with {} of {}",
            seen.len(),
            want.len()
        );
        for w in batch.windows(2) {
            assert!((w[0].record.time, w[0].id) < (w[1].record.time, w[1].id));
        }
        for s in batch {
            assert!(s.record.level >= Level::Warn);
            assert!(seen.insert(s.id), "{} returned twice", s.id);
        }
    }
    assert_eq!(seen, want);
    assert!(p.segments().unwrap().iter().any(|s| s.sealed));
    // Nothing more.
    assert!(follow.next_batch(Duration::ZERO).unwrap().is_empty());
}

#[test]
fn a_follower_returns_records_appended_from_another_thread() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    let mut follow = p.follow(&Query::new()).unwrap();
    let writer = {
        let p = p.clone();
        thread::spawn(move || p.append(&rec(T0, 7)).unwrap())
    };
    let id = writer.join().unwrap();
    let batch = follow.next_batch(Duration::from_secs(10)).unwrap();
    assert_eq!(batch.iter().map(|s| s.id).collect::<Vec<_>>(), [id]);
}

/// A timeout or interval too long to add to an `Instant` waits no longer
/// than needed and does not panic.
#[test]
fn huge_timeouts_and_intervals_do_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    let mut f = p.follow(&Query::new()).unwrap();
    p.append(&rec(T0, 1)).unwrap();
    assert_eq!(f.next_batch(Duration::MAX).unwrap().len(), 1);
    let mut f = p.follow(&Query::new()).unwrap().interval(Duration::MAX);
    assert!(f.next_batch(Duration::ZERO).unwrap().is_empty());
    assert!(f.next_batch(Duration::ZERO).unwrap().is_empty());
}
