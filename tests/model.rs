//! Model-based test: random sequences of appends, batches, clock moves,
//! seals, retention and reopens, checked after every step against a plain
//! in-memory model of what must be readable.
//!
//! Cases: `PROPTEST_CASES` (default 48).

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use proptest::prelude::*;
use runlog::{Error, LogRecord, ManualClock, RecordId, Store, StoreOptions, SyncPolicy, Timestamp};

const PARTITION: u64 = 60;
const RETENTION: u64 = 600;

#[derive(Clone, Debug)]
enum Op {
    /// A record `back` ms before now (may be past the horizon: refused).
    Append {
        back: u64,
        i: u64,
    },
    /// A batch; refused whole if any record is.
    Batch(Vec<(u64, u64)>),
    /// A record ahead of now (past the 5 min skew: refused).
    Ahead {
        ms: u64,
        i: u64,
    },
    Advance {
        ms: u64,
    },
    Seal,
    Retention,
    Sync,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let back = 0..(RETENTION + 60) * 1000;
    prop_oneof![
        6 => (back.clone(), any::<u64>()).prop_map(|(back, i)| Op::Append { back, i }),
        3 => prop::collection::vec((0..(RETENTION + 30) * 1000, any::<u64>()), 1..20).prop_map(Op::Batch),
        1 => (0..400_000u64, any::<u64>()).prop_map(|(ms, i)| Op::Ahead { ms, i }),
        3 => (0..200_000u64).prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::Seal),
        1 => Just(Op::Retention),
        1 => Just(Op::Sync),
        2 => Just(Op::Reopen),
    ]
}

fn opts(clock: &ManualClock) -> StoreOptions {
    StoreOptions::new()
        .clock(clock.clone())
        .sync_policy(SyncPolicy::Manual)
        .partition(Duration::from_secs(PARTITION))
        .grace(Duration::from_secs(30))
        .retention(Duration::from_secs(RETENTION))
}

struct Model {
    records: Vec<(RecordId, LogRecord)>,
}

impl Model {
    fn visible(&self, now: Timestamp) -> Vec<(RecordId, LogRecord)> {
        let horizon = now.saturating_sub(Duration::from_secs(RETENTION));
        let mut v: Vec<_> = self
            .records
            .iter()
            .filter(|(_, r)| r.time >= horizon)
            .cloned()
            .collect();
        v.sort_by_key(|(id, r)| std::cmp::Reverse((r.time, *id)));
        v
    }
}

fn check(
    store: &Store,
    clock: &ManualClock,
    model: &Model,
    step: usize,
) -> Result<(), TestCaseError> {
    let p = store.project("m").unwrap();
    let want = model.visible(runlog::Clock::now(clock));
    let got = all(&p);
    prop_assert_eq!(got.len(), want.len(), "step {}: count", step);
    for (g, (id, r)) in got.iter().zip(&want) {
        prop_assert_eq!(g.id, *id, "step {}", step);
        prop_assert_eq!(
            &g.record,
            &LogRecord {
                detail: None,
                ..r.clone()
            }
        );
        prop_assert_eq!(g.has_detail, r.detail.is_some());
    }
    // Details of a few records.
    for (id, r) in want.iter().step_by(7) {
        let full = p.get(*id).unwrap();
        prop_assert_eq!(full.map(|s| s.record), Some(r.clone()));
    }
    // Job lookups: every visible record of a job, oldest first.
    for job in want.iter().map(|(_, r)| r.job_id.clone()).take(3) {
        let got: Vec<RecordId> = p.job_logs(&job).unwrap().iter().map(|s| s.id).collect();
        let mut of_job: Vec<_> = want.iter().filter(|(_, r)| r.job_id == job).collect();
        of_job.sort_by_key(|(id, r)| (r.time, *id));
        prop_assert_eq!(
            got,
            of_job.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            "job {}",
            job
        );
    }
    prop_assert!(p.damage().is_empty(), "{:?}", p.damage());
    Ok(())
}

fn run(ops: Vec<Op>, dir: &Path) -> Result<(), TestCaseError> {
    let clock = ManualClock::new(T0);
    let mut store = opts(&clock).open(dir).unwrap();
    let mut model = Model {
        records: Vec::new(),
    };
    for (step, op) in ops.into_iter().enumerate() {
        let p = store.project("m").unwrap();
        let now = runlog::Clock::now(&clock);
        let horizon = now.saturating_sub(Duration::from_secs(RETENTION));
        match op {
            Op::Append { back, i } => {
                let r = rec(now.saturating_sub(Duration::from_millis(back)), i);
                match p.append(&r) {
                    Ok(id) => {
                        prop_assert!(r.time >= horizon);
                        model.records.push((id, r));
                    }
                    Err(Error::TooOld { .. }) => prop_assert!(r.time < horizon),
                    Err(e) => return Err(TestCaseError::fail(format!("append: {e}"))),
                }
            }
            Op::Batch(items) => {
                let rs: Vec<_> = items
                    .iter()
                    .map(|&(back, i)| rec(now.saturating_sub(Duration::from_millis(back)), i))
                    .collect();
                let all_ok = rs.iter().all(|r| r.time >= horizon);
                match p.append_batch(&rs) {
                    Ok(ids) => {
                        prop_assert!(all_ok);
                        prop_assert_eq!(ids.len(), rs.len());
                        model.records.extend(ids.into_iter().zip(rs));
                    }
                    Err(Error::TooOld { .. }) => prop_assert!(!all_ok),
                    Err(e) => return Err(TestCaseError::fail(format!("batch: {e}"))),
                }
            }
            Op::Ahead { ms, i } => {
                let r = rec(now.saturating_add(Duration::from_millis(ms)), i);
                match p.append(&r) {
                    Ok(id) => {
                        prop_assert!(ms <= 300_000);
                        model.records.push((id, r));
                    }
                    Err(Error::TooFarInFuture { .. }) => prop_assert!(ms > 300_000),
                    Err(e) => return Err(TestCaseError::fail(format!("ahead: {e}"))),
                }
            }
            Op::Advance { ms } => clock.advance(Duration::from_millis(ms)),
            Op::Seal => p.seal_due().unwrap(),
            Op::Retention => {
                p.enforce_retention().unwrap();
                for s in p.segments().unwrap() {
                    prop_assert!(s.partition.to > horizon, "expired segment kept: {:?}", s);
                }
            }
            Op::Sync => p.sync().unwrap(),
            Op::Reopen => {
                drop(p);
                drop(store);
                store = opts(&clock).open(dir).unwrap();
            }
        }
        // IDs are unique and name the record's partition.
        if let Some((id, r)) = model.records.last() {
            prop_assert_eq!(
                u64::from(id.segment.partition),
                (r.time.as_micros() as u64) / (PARTITION * 1_000_000)
            );
        }
        check(&store, &clock, &model, step)?;
    }
    let mut ids: Vec<_> = model.records.iter().map(|(id, _)| *id).collect();
    ids.sort();
    ids.dedup();
    prop_assert_eq!(ids.len(), model.records.len(), "duplicate record IDs");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(48),
        ..ProptestConfig::default()
    })]

    #[test]
    fn store_matches_model(ops in prop::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        run(ops, dir.path())?;
    }
}
