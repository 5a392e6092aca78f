//! Segments with missing ordinals (a damaged record skipped at recovery),
//! with late records, before and after sealing: queries, counts, job
//! logs and follow agree with the records that survived.

mod common;

use std::time::Duration;

use common::*;
use runlog::{Level, LogRecord, ManualClock, Project, Query, RecordId, StoreOptions, SyncPolicy};

/// Which records a query must return.
type Predicate = Box<dyn Fn(&LogRecord) -> bool>;

fn opts(clock: &ManualClock) -> StoreOptions {
    StoreOptions::new()
        .clock(clock.clone())
        .sync_policy(SyncPolicy::Manual)
        .partition(Duration::from_secs(3600))
        .grace(Duration::from_secs(10))
}

fn rec(i: u64, t: runlog::Timestamp) -> LogRecord {
    LogRecord::new(
        t,
        Level::ALL[(i % 4) as usize],
        format!("job-{}", i % 3),
        format!("marker{i:04}x body"),
    )
    .flow(format!("f{}", i % 2))
}

fn at(base: runlog::Timestamp, secs: i64) -> runlog::Timestamp {
    runlog::Timestamp::from_micros(base.as_micros() + secs * 1_000_000)
}

fn check(p: &Project, recs: &[(RecordId, LogRecord)], stage: &str) {
    let filters: Vec<(Query, Predicate)> = vec![
        (Query::new().all_time(), Box::new(|_| true)),
        (
            Query::new().all_time().flow("f1"),
            Box::new(|r| r.flow.as_str() == "f1"),
        ),
        (
            Query::new().all_time().min_level(Level::Warn),
            Box::new(|r| r.level >= Level::Warn),
        ),
        (Query::new().all_time().text("BODY"), Box::new(|_| true)),
        (
            Query::new().all_time().text("marker00").job_id("job-1"),
            Box::new(|r| r.content.starts_with("marker00") && r.job_id.as_str() == "job-1"),
        ),
    ];
    for (q, f) in &filters {
        let mut want: Vec<&(RecordId, LogRecord)> = recs.iter().filter(|(_, r)| f(r)).collect();
        want.sort_by_key(|(id, r)| std::cmp::Reverse((r.time, *id)));
        let want: Vec<RecordId> = want.iter().map(|(id, _)| *id).collect();
        let mut got = Vec::new();
        let mut q2 = q.clone().limit(4);
        loop {
            let page = p.query(&q2).unwrap();
            got.extend(page.records.iter().map(|r| r.id));
            match page.next {
                Some(c) => q2 = q.clone().limit(4).after(c),
                None => break,
            }
        }
        assert_eq!(got, want, "{stage}: {q:?}");
        assert_eq!(
            p.count(q).unwrap().total,
            want.len() as u64,
            "{stage}: count {q:?}"
        );
    }
    for j in 0..3 {
        let job = format!("job-{j}");
        let want = job_log_ids(recs, &job);
        let got: Vec<RecordId> = p.job_logs(&job).unwrap().iter().map(|r| r.id).collect();
        assert_eq!(got, want, "{stage}: job {job}");
    }
    for (id, r) in recs {
        assert_eq!(
            p.get(*id).unwrap().map(|s| s.record.content),
            Some(r.content.clone()),
            "{stage}: get"
        );
    }
}

#[test]
fn holes_and_late_records() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    // Partition of T0: [T0 - (T0 mod 3600), ...); use times in the last 20 minutes.
    let base = T0.saturating_sub(Duration::from_secs(1200));
    let mut recs: Vec<(RecordId, LogRecord)> = Vec::new();
    {
        let store = opts(&clock).open(dir.path()).unwrap();
        let p = store.project("p").unwrap();
        for i in 0..40u64 {
            // Every fifth record late by a few minutes.
            let t = at(base, i as i64 * 10 - if i % 5 == 4 { 200 } else { 0 });
            let r = rec(i, t);
            let id = p.append(&r).unwrap();
            recs.push((id, r));
        }
        p.sync().unwrap();
    }
    // Damage records 7, 8 and 24 (one late) in the active files.
    let pdir = dir.path().join("projects").join("p");
    let pdir = if pdir.is_dir() {
        pdir
    } else {
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|d| d.join("p").is_dir())
            .unwrap()
            .join("p")
    };
    let wals: Vec<_> = std::fs::read_dir(&pdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    assert!(!wals.is_empty());
    for k in [7u64, 8, 24] {
        let needle = format!("marker{k:04}x");
        let mut hit = false;
        for wal in &wals {
            let mut bytes = std::fs::read(wal).unwrap();
            if let Some(at) = bytes
                .windows(needle.len())
                .position(|w| w == needle.as_bytes())
            {
                bytes[at + 3] ^= 0x01;
                std::fs::write(wal, &bytes).unwrap();
                hit = true;
            }
        }
        assert!(hit);
        recs.retain(|(_, r)| r.content.as_str() != format!("{needle} body"));
    }
    let store = opts(&clock).open(dir.path()).unwrap();
    let p = store.project("p").unwrap();
    assert!(!p.damage().is_empty(), "damage reported");
    check(&p, &recs, "recovered, active");
    let mut follow = p.follow(&Query::new()).unwrap();
    let mut followed = Vec::new();
    for i in 40..60u64 {
        let t = at(base, i as i64 * 10 - if i % 3 == 0 { 300 } else { 0 });
        let r = rec(i, t);
        let id = p.append(&r).unwrap();
        recs.push((id, r));
        followed.push(id);
    }
    check(&p, &recs, "appended after recovery");
    clock.advance(Duration::from_secs(3 * 3600));
    p.seal_due().unwrap();
    assert!(p.segments().unwrap().iter().all(|s| s.sealed));
    check(&p, &recs, "sealed");
    let got: Vec<RecordId> = follow
        .next_batch(Duration::ZERO)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    let mut got_sorted = got.clone();
    got_sorted.sort();
    followed.sort();
    assert_eq!(got_sorted, followed, "follow across the seal");
    drop(follow);
    drop(p);
    drop(store);
    let store = opts(&clock).open(dir.path()).unwrap();
    let p = store.project("p").unwrap();
    check(&p, &recs, "sealed, reopened");
    // Rebuilt index (index file removed) gives the same answers.
    drop(p);
    drop(store);
    for e in std::fs::read_dir(&pdir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|e| e == "idx") {
            std::fs::remove_file(path).unwrap();
        }
    }
    let store = opts(&clock).open(dir.path()).unwrap();
    let p = store.project("p").unwrap();
    check(&p, &recs, "index rebuilt");
}
