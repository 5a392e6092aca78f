//! Index persistence: sealed indexes answer like the in-memory ones,
//! survive reopen, and a missing or corrupt index file is detected,
//! reported, rebuilt from the records, and rewritten.

mod common;

use std::fs;

use common::*;
use runlog::{Level, Query, Store};

fn fill(store: &Store, clock: &runlog::ManualClock) -> Vec<Query> {
    let p = store.project("p").unwrap();
    for h in 0..3u64 {
        let now = runlog::Clock::now(clock);
        let batch: Vec<_> = (0..50)
            .map(|i| rec(now.saturating_sub(secs(3000 - i * 10)), h * 100 + i))
            .collect();
        p.append_batch(&batch).unwrap();
        clock.advance(secs(3600));
    }
    vec![
        Query::new().all_time().level(Level::Error),
        Query::new().all_time().env("prod").flow("flow-2"),
        Query::new().all_time().text("POST /orders/1"),
        Query::new().all_time().job_id("job-3"),
        Query::new().all_time().min_level(Level::Warn).text("flow"),
    ]
}

fn answers(store: &Store, queries: &[Query]) -> Vec<Vec<runlog::RecordId>> {
    let p = store.project("p").unwrap();
    queries
        .iter()
        .map(|q| {
            p.query(&q.clone().limit(1000))
                .unwrap()
                .records
                .iter()
                .map(|s| s.id)
                .collect()
        })
        .collect()
}

#[test]
fn sealed_indexes_answer_like_memory_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let queries = fill(&store, &clock);
    let active = answers(&store, &queries);
    assert!(active.iter().all(|a| !a.is_empty()), "{active:?}");
    store.project("p").unwrap().seal_due().unwrap();
    let segs = store.project("p").unwrap().segments().unwrap();
    assert!(
        segs.iter()
            .all(|s| s.sealed && s.path.with_extension("idx").exists())
    );
    assert_eq!(answers(&store, &queries), active);
    drop(store);
    let store = open(dir.path(), &clock);
    assert_eq!(answers(&store, &queries), active);
    assert!(store.project("p").unwrap().verify().unwrap().is_ok());
}

#[test]
fn a_corrupt_or_missing_index_is_reported_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let (queries, want, idx_files) = {
        let store = open(dir.path(), &clock);
        let queries = fill(&store, &clock);
        let p = store.project("p").unwrap();
        p.seal_due().unwrap();
        let want = answers(&store, &queries);
        let idx: Vec<_> = p
            .segments()
            .unwrap()
            .iter()
            .map(|s| s.path.with_extension("idx"))
            .collect();
        (queries, want, idx)
    };
    let pristine = fs::read(&idx_files[0]).unwrap();
    // Flip a byte in the middle (a section), and remove another index.
    let mut bad = pristine.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x20;
    fs::write(&idx_files[0], &bad).unwrap();
    fs::remove_file(&idx_files[1]).unwrap();
    {
        // A read-only store rebuilds them in memory only (it may not
        // write), and answers the same.
        let ro = runlog::StoreOptions::new()
            .clock(clock.clone())
            .open_read_only(dir.path())
            .unwrap();
        assert_eq!(answers(&ro, &queries), want);
        assert!(!ro.project("p").unwrap().damage().is_empty());
    }
    {
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        let report = p.verify().unwrap();
        assert_eq!(report.problems.len(), 2, "{:?}", report.problems);
        assert_eq!(answers(&store, &queries), want);
        let damage = p.damage();
        let paths: Vec<_> = damage.iter().map(|d| d.path.clone()).collect();
        assert!(
            paths.contains(&idx_files[0]) && paths.contains(&idx_files[1]),
            "{damage:?}"
        );
    }
    // Rebuilt and rewritten: the next open finds intact indexes.
    assert!(idx_files[1].exists());
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    assert!(p.verify().unwrap().is_ok());
    assert_eq!(answers(&store, &queries), want);
    assert!(p.damage().is_empty());
}
