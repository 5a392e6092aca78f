//! What hiding superseded attempts costs log queries.
//!
//! Run with `cargo bench --bench superseded`.
//!
//! Three stores hold the same day of generated logs (about 260,000
//! records at 3 a second, 24 sealed hourly segments and an active one) and
//! differ only in their runs:
//! - `none`: no runs at all;
//! - `far`: 2,000 jobs of the day's first 12 hours failed once and
//!   succeeded on retry, so the logs of their attempt 1 are superseded
//!   (about 10 % of the records of those hours);
//! - `near`: the same for 2,000 jobs of the day's last 6 hours.
//!
//! Queries (after a warm-up that computes the hidden sets):
//! - `newest_30m`: the newest 100 of the last 30 minutes (touches no
//!   retried job in `far`);
//! - `errors_day`: the newest 100 errors of the last day;
//! - `count_day`: counts per level over the last day.
//!
//! `far` against `none` is the cost for queries that touch no retried job;
//! `near` against `none` the cost where they do.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use runlog::{
    Clock, Level, ManualClock, NewRun, Preset, Project, Query, RetryPolicy, Store, StoreOptions,
    SyncPolicy, Timestamp, Trigger,
};
use runlog_sample::{Config, Generator};

const RETRIED: usize = 2_000;

struct Fixture {
    _dir: tempfile::TempDir,
    _store: Store,
    logs: Project,
}

fn start() -> Timestamp {
    Timestamp::from_secs(1_764_028_800) // 2025-11-25T00:00:00Z
}

/// A day of logs; then `RETRIED` jobs whose first record falls in
/// `[from_h, to_h)` hours get a run that fails once and succeeds on retry.
fn build(retried_hours: Option<(u64, u64)>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start());
    let store = StoreOptions::new()
        .clock(clock.clone())
        .sync_policy(SyncPolicy::Manual)
        .retry_policy(RetryPolicy {
            initial_delay: Duration::ZERO,
            ..RetryPolicy::default()
        })
        .open(dir.path())
        .unwrap();
    let logs = store.project("bench").unwrap();
    let mut generator = Generator::with_config(11, start(), Config::new().records_per_sec(3));
    let end = start().saturating_add(Duration::from_secs(24 * 3600));
    // Each job's first record time.
    let mut first_seen: BTreeMap<String, Timestamp> = BTreeMap::new();
    while generator.now() < end {
        let batch = generator.batch(500);
        for r in &batch {
            first_seen.entry(r.job_id.to_string()).or_insert(r.time);
        }
        clock.set(generator.now());
        logs.append_batch(&batch).unwrap();
    }
    clock.advance(Duration::from_secs(11 * 60)); // seal the last full hour too
    logs.seal_due().unwrap();
    if let Some((from_h, to_h)) = retried_hours {
        let lo = start().saturating_add(Duration::from_secs(from_h * 3600));
        let hi = start().saturating_add(Duration::from_secs(to_h * 3600));
        let jobs: Vec<(&String, &Timestamp)> = first_seen
            .iter()
            .filter(|(_, t)| **t >= lo && **t < hi)
            .take(RETRIED)
            .collect();
        assert_eq!(jobs.len(), RETRIED, "not enough jobs in the window");
        for (job, t) in jobs {
            logs.start_run(&NewRun::new(job.as_str(), "f", Trigger::Event).triggered_at(*t))
                .unwrap();
            logs.attempt_failed(job, 1, "boom").unwrap();
        }
        let tickets = logs.due_retries_at(clock.now()).unwrap();
        assert_eq!(tickets.len(), RETRIED);
        for t in tickets {
            logs.attempt_succeeded(&t.job_id, t.attempt).unwrap();
        }
    }
    Fixture {
        _dir: dir,
        _store: store,
        logs,
    }
}

fn queries() -> [(&'static str, Query); 2] {
    [
        ("newest_30m", Query::new().limit(100)),
        (
            "errors_day",
            Query::new()
                .preset(Preset::LastDay)
                .level(Level::Error)
                .limit(100),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let fixtures = [
        ("none", build(None)),
        ("far", build(Some((0, 12)))),
        ("near", build(Some((18, 24)))),
    ];
    let count_q = Query::new().preset(Preset::LastDay);
    let base = fixtures[0].1.logs.count(&count_q).unwrap();
    for (name, f) in &fixtures[1..] {
        // Warm up (hidden sets computed) and check that records are hidden.
        let n = f.logs.count(&count_q).unwrap();
        assert!(n.total < base.total, "{name}: nothing hidden");
        let all = f
            .logs
            .count(&count_q.clone().include_superseded(true))
            .unwrap();
        assert_eq!(all.total, base.total, "{name}");
    }
    let mut g = c.benchmark_group("superseded");
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
    for (qname, q) in queries() {
        for (name, f) in &fixtures {
            assert_eq!(
                f.logs.query(&q).unwrap().records.len(),
                100,
                "{qname}/{name}"
            );
            g.bench_function(format!("{qname}/{name}"), |b| {
                b.iter(|| black_box(f.logs.query(&q).unwrap()))
            });
        }
    }
    for (name, f) in &fixtures {
        g.bench_function(format!("count_day/{name}"), |b| {
            b.iter(|| black_box(f.logs.count(&count_q).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
