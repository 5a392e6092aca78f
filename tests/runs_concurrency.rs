//! Runs under concurrent calls: threads claiming due retries get each one
//! exactly once; starts, manual retries and success or failure reports
//! racing on the same jobs are each decided once; lifecycle calls racing
//! appends, queries, counts and follows never deadlock and never show a
//! superseded record as visible.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use common::runs::*;
use common::*;
use runlog::{
    Error, Level, MAX_LIMIT, NewRun, Project, Query, RecordId, RetryPolicy, RunStatus, Trigger,
};

#[test]
fn concurrent_claims_hand_out_each_retry_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    let n = 200u64;
    let job = |i: u64| format!("job-{i:03}");
    // Failures 100 ms apart: retries come due over 20 s.
    for i in 0..n {
        p.start_run(&NewRun::new(job(i), "f", Trigger::Event))
            .unwrap();
    }
    for i in 0..n {
        clock.set(T0.saturating_add(Duration::from_millis(100 * i)));
        p.attempt_failed(&job(i), 1, "x").unwrap();
    }
    let first_due = T0.saturating_add(secs(5));
    let threads = 4;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|w| {
            let p = p.clone();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                let mut got = Vec::new();
                // Each thread sweeps "now" forward in its own steps.
                for k in 0..=(30 + w as u64) {
                    let at =
                        first_due.saturating_add(Duration::from_millis(k * (700 + 50 * w as u64)));
                    got.extend(p.due_retries_at(at).unwrap());
                }
                got.extend(
                    p.due_retries_at(first_due.saturating_add(secs(60)))
                        .unwrap(),
                );
                got
            })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut total = 0;
    for h in handles {
        for t in h.join().unwrap() {
            total += 1;
            assert_eq!(t.attempt, 2);
            assert!(!t.manual);
            assert!(
                seen.insert(t.job_id.to_string()),
                "{} claimed twice",
                t.job_id
            );
        }
    }
    assert_eq!(total, n as usize);
    assert_eq!(seen, (0..n).map(job).collect::<HashSet<_>>());
    let check = |p: &Project| {
        for i in 0..n {
            let r = run_of(p, &job(i));
            assert_eq!(
                (r.status, r.attempt(), r.attempts.len()),
                (RunStatus::Running, 2, 2)
            );
        }
        assert!(
            p.due_retries_at(T0.saturating_add(secs(DAY)))
                .unwrap()
                .is_empty()
        );
    };
    check(&p);
    drop((p, store));
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    check(&p);
    assert!(p.damage().is_empty(), "{:?}", p.damage());
}

#[test]
fn concurrent_lifecycle_calls_are_decided_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    p.set_flow_retry_policy("f", Some(RetryPolicy::none()))
        .unwrap();
    for i in 0..20 {
        p.start_run(&NewRun::new(format!("failed-{i}"), "f", Trigger::Event))
            .unwrap();
        p.attempt_failed(&format!("failed-{i}"), 1, "x").unwrap();
    }
    let threads = 4;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|w| {
            let p = p.clone();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                let mut started = Vec::new();
                let mut manual = Vec::new();
                let mut ended = Vec::new();
                for i in 0..20 {
                    // The same new job from every thread: one start wins.
                    match p.start_run(&NewRun::new(format!("new-{i}"), "g", Trigger::Event)) {
                        Ok(_) => started.push(i),
                        Err(Error::JobExists { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                    // The same manual retry from every thread: one wins.
                    match p.start_retry(&format!("failed-{i}")) {
                        Ok(t) => {
                            assert_eq!(t.attempt, 2);
                            manual.push(i);
                        }
                        Err(Error::InvalidTransition { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                    // Success and failure reports racing: one wins.
                    let job = format!("new-{i}");
                    let r = if w % 2 == 0 {
                        p.attempt_succeeded(&job, 1)
                    } else {
                        p.attempt_failed(&job, 1, "x")
                    };
                    match r {
                        Ok(_) => ended.push(i),
                        Err(Error::InvalidTransition { .. } | Error::UnknownJob { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
                (started, manual, ended)
            })
        })
        .collect();
    let (mut started, mut manual, mut ended) = (Vec::new(), Vec::new(), Vec::new());
    for h in handles {
        let (s, m, e) = h.join().unwrap();
        started.extend(s);
        manual.extend(m);
        ended.extend(e);
    }
    for v in [&mut started, &mut manual, &mut ended] {
        v.sort_unstable();
        assert_eq!(*v, (0..20).collect::<Vec<_>>());
    }
    for i in 0..20 {
        let r = run_of(&p, &format!("new-{i}"));
        assert_eq!(r.attempts.len(), 1);
        assert_ne!(r.status, RunStatus::Running);
        let r = run_of(&p, &format!("failed-{i}"));
        assert_eq!((r.status, r.attempts.len()), (RunStatus::Running, 2));
    }
}

/// Lifecycle calls racing appends, queries, counts and follows: no
/// deadlock, no superseded record ever shown as visible, and the end
/// state matches the model.
#[test]
fn lifecycle_races_log_reads() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    p.set_retry_policy(RetryPolicy::none()).unwrap();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let drivers: Vec<_> = (0..2u32)
        .map(|d| {
            let p = p.clone();
            thread::spawn(move || {
                for i in 0..40u32 {
                    let job = format!("d{d}-{i:02}");
                    let t = T0.saturating_sub(secs(u64::from(i)));
                    p.start_run(&NewRun::new(job.as_str(), "f", Trigger::Event))
                        .unwrap();
                    p.append_batch(&[
                        log(t, Level::Error, &job, 1, 0),
                        log(t, Level::Info, &job, 1, 1),
                    ])
                    .unwrap();
                    assert_eq!(
                        p.attempt_failed(&job, 1, "x").unwrap().status,
                        RunStatus::Failed
                    );
                    assert_eq!(p.start_retry(&job).unwrap().attempt, 2);
                    p.append(&log(t, Level::Warn, &job, 2, 0)).unwrap();
                    p.attempt_succeeded(&job, 2).unwrap();
                    // A late log of the superseded attempt.
                    p.append(&log(t, Level::Debug, &job, 1, 2)).unwrap();
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|k| {
            let p = p.clone();
            let done = Arc::clone(&done);
            thread::spawn(move || {
                let mut follow = p.follow(&Query::new()).unwrap();
                let mut followed = Vec::new();
                let mut passes = 0;
                while !done.load(std::sync::atomic::Ordering::Acquire) || passes < 2 {
                    let page = p.query(&Query::new().all_time().limit(MAX_LIMIT)).unwrap();
                    assert!(page.records.iter().all(|s| !s.superseded));
                    let all = p
                        .query(
                            &Query::new()
                                .all_time()
                                .include_superseded(true)
                                .limit(MAX_LIMIT),
                        )
                        .unwrap();
                    // Only attempt-1 records are ever marked.
                    assert!(
                        all.records
                            .iter()
                            .all(|s| !s.superseded || s.record.attempt == 1)
                    );
                    let c = p
                        .count(&Query::new().all_time().level(Level::Warn))
                        .unwrap();
                    assert!(c.total <= 80);
                    if k == 0 {
                        let _ = p.job_logs(&format!("d0-{:02}", passes % 40)).unwrap();
                    }
                    followed.extend(follow.next_batch(Duration::ZERO).unwrap());
                    passes += 1;
                }
                followed.extend(follow.next_batch(Duration::ZERO).unwrap());
                followed
            })
        })
        .collect();
    for d in drivers {
        d.join().unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    for r in readers {
        let followed = r.join().unwrap();
        // A follower returns each record once; records it returned before
        // their attempt was superseded are not taken back, but the late
        // attempt-1 logs (written after the success) never show.
        let ids: HashSet<RecordId> = followed.iter().map(|s| s.id).collect();
        assert_eq!(ids.len(), followed.len());
        assert!(
            followed
                .iter()
                .all(|s| !(s.record.attempt == 1 && s.record.level == Level::Debug)),
            "a late superseded log was followed"
        );
        assert!(followed.iter().all(|s| !s.superseded));
    }
    let c = p.count(&Query::new().all_time()).unwrap();
    assert_eq!((c.total, c.level(Level::Warn)), (80, 80));
    let c = p
        .count(&Query::new().all_time().include_superseded(true))
        .unwrap();
    assert_eq!(c.total, 320);
    for d in 0..2 {
        for i in 0..40 {
            let job = format!("d{d}-{i:02}");
            assert_eq!(p.job_logs(&job).unwrap().len(), 1);
            let all = p.job_logs_including_superseded(&job).unwrap();
            assert_eq!(all.len(), 4);
            assert_eq!(all.iter().filter(|s| s.superseded).count(), 3);
        }
    }
}
