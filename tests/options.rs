//! Store options: extreme but valid durations do not panic; invalid ones are typed errors that create nothing.
mod common;

use common::{T0, options as opts, secs};
use runlog::*;
use std::time::Duration;

fn exercise(o: StoreOptions, c: &ManualClock) {
    let dir = tempfile::tempdir().unwrap();
    let s = o.open(dir.path()).unwrap();
    let p = s.project("x").unwrap();
    p.append(&LogRecord::new(c.now(), Level::Info, "j", "c"))
        .unwrap();
    p.start_run(&NewRun::new("j", "f", Trigger::Scheduler))
        .unwrap();
    p.attempt_failed("j", 1, "e").unwrap();
    c.advance(secs(3600 * 3));
    p.due_retries_at(c.now()).unwrap();
    p.attempt_succeeded("j", 2).unwrap();
    p.seal_due().unwrap();
    p.enforce_retention().unwrap();
    p.query(&Query::new().all_time()).unwrap();
    p.count(&Query::new().all_time()).unwrap();
    p.count(&Query::new().last(secs(3600)).bucket(secs(60)))
        .unwrap();
    p.stats().unwrap();
    p.query_runs(&RunQuery::new().all_time()).unwrap();
    p.job_logs("j").unwrap();
}

#[test]
fn o1_grace_max() {
    let c = ManualClock::new(T0);
    exercise(opts(&c).grace(Duration::MAX), &c);
}
#[test]
fn o2_skew_max() {
    let c = ManualClock::new(T0);
    exercise(opts(&c).max_future_skew(Duration::MAX), &c);
}
#[test]
fn o3_retention_max() {
    let c = ManualClock::new(T0);
    exercise(opts(&c).retention(Duration::MAX), &c);
}
#[test]
fn o4_periodic_max() {
    let c = ManualClock::new(T0);
    exercise(
        opts(&c).sync_policy(SyncPolicy::Periodic(Duration::MAX)),
        &c,
    );
}
#[test]
fn o5_grace_longer_than_retention() {
    let c = ManualClock::new(T0);
    let dir = tempfile::tempdir().unwrap();
    let s = opts(&c)
        .partition(secs(60))
        .retention(secs(60))
        .grace(secs(7200))
        .open(dir.path())
        .unwrap();
    let p = s.project("x").unwrap();
    let id = p
        .append(&LogRecord::new(c.now(), Level::Info, "j", "c"))
        .unwrap();
    c.advance(secs(30));
    p.seal_due().unwrap();
    assert!(p.get(id).unwrap().is_some());
    c.advance(secs(200));
    p.seal_due().unwrap();
    assert!(p.get(id).unwrap().is_none());
    assert!(p.segments().unwrap().is_empty());
}
#[test]
fn o6_zero_everything() {
    let c = ManualClock::new(T0);
    exercise(
        opts(&c)
            .grace(Duration::ZERO)
            .max_future_skew(Duration::ZERO)
            .retry_policy(RetryPolicy {
                max_retries: 1,
                initial_delay: Duration::ZERO,
                multiplier: 1.0,
                max_delay: Duration::ZERO,
            }),
        &c,
    );
}

#[test]
fn o8_invalid_options_typed() {
    let c = ManualClock::new(T0);
    let dir = tempfile::tempdir().unwrap();
    for o in [
        opts(&c).partition(secs(59)),
        opts(&c).partition(secs(86_401)),
        opts(&c).partition(Duration::from_millis(60_500)),
        opts(&c).partition(secs(7 * 60)),
        opts(&c).partition(secs(3600)).retention(secs(3599)),
        opts(&c).retention(Duration::ZERO),
        opts(&c).sync_policy(SyncPolicy::Periodic(Duration::ZERO)),
        opts(&c).max_segment_bytes(0),
        opts(&c).max_segment_bytes((3 << 30) + 1),
        opts(&c).retry_policy(RetryPolicy {
            multiplier: f64::NAN,
            ..RetryPolicy::default()
        }),
        opts(&c).retry_policy(RetryPolicy {
            multiplier: 0.5,
            ..RetryPolicy::default()
        }),
        opts(&c).retry_policy(RetryPolicy {
            max_delay: MAX_RETRY_DELAY + secs(1),
            ..RetryPolicy::default()
        }),
        opts(&c).retry_policy(RetryPolicy {
            initial_delay: secs(301),
            ..RetryPolicy::default()
        }),
    ] {
        match o.open(dir.path()) {
            Err(Error::InvalidArgument { .. }) => {}
            r => panic!("{r:?}"),
        }
    }
    // and nothing was created
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}

/// The hidden `__without_index` (the engine-only append benches) skips
/// the index and nothing else: every record is stored and read back
/// whole, by a scan and by ID, also after a reopen, while a filtered
/// query finds none of them (and finds them all in a store opened
/// without it).
#[test]
fn without_index_stores_every_record_and_indexes_none() {
    let c = common::clock();
    let records: Vec<LogRecord> = (0..40).map(|i| common::rec(T0, i)).collect();
    let prod = Query::new().all_time().env("prod");
    let want_prod = records.iter().filter(|r| r.env == "prod").count();
    for index in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let o = if index {
            opts(&c)
        } else {
            opts(&c).__without_index()
        };
        let s = o.clone().open(dir.path()).unwrap();
        let p = s.project("x").unwrap();
        let ids = p.append_batch(&records).unwrap();
        let stored = common::all(&p);
        assert_eq!(stored.len(), records.len());
        for (id, r) in ids.iter().zip(&records) {
            assert_eq!(&p.get(*id).unwrap().expect("stored").record, r);
        }
        let found = p.count(&prod).unwrap().total;
        assert_eq!(found, if index { want_prod as u64 } else { 0 });
        drop(p);
        drop(s);
        let p = o.open(dir.path()).unwrap().project("x").unwrap();
        assert_eq!(common::all(&p).len(), records.len());
    }
}
