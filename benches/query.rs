//! The query engine on a month of generated logs: the console's queries
//! (job lookup, newest page, filters, text, counts) on the store a month
//! of records leaves.
//!
//! Run with `cargo bench --bench query` (1,000,000 records over 30 days);
//! set `RUNLOG_BENCH_RECORDS=10000000` for the 10-million-record store.
//! The store is built once per run (untimed), in a temporary directory,
//! with the `runlog_sample` generator, time-stretched so the records
//! cover exactly 30 days; the clock then stands at the newest record.
//!
//! Benchmarks (each returns at most 100 records):
//! - `job_lookup`: every log of one job (about 20 records), cycling through 64 jobs.
//! - `newest_30m`: the newest 100 of the last 30 minutes, no filter.
//! - `error_prod_7d`: the newest 100 with level = Error and env = prod over 7 days.
//! - `flow_warn_error_24h`: the newest 100 with flow = the busiest flow and
//!   level in {Warn, Error} over 24 hours.
//! - `word_30d`: the newest 100 whose content contains "timeout" over 30 days.
//! - `count_levels_24h`: counts per level over 24 hours.
//! - `count_word_24h`: counts per level of the records whose content contains
//!   "timeout" over 24 hours (each candidate's content is read to confirm).
//! - `open_720_sealed`: `Store::open` + `project()` of the store with every
//!   segment sealed (about 720).
//! - `ingest`: appending 100,000 records (batches of 1,000, every index,
//!   default sync policy) at the same record rate, into a fresh store.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use runlog::{
    Level, LogRecord, ManualClock, Preset, Project, Query, Store, StoreOptions, Timestamp,
};
use runlog_sample::{Generator, Spread};

const SEED: u64 = 7;
const DAYS: u64 = 30;

fn start() -> Timestamp {
    Timestamp::from_secs(1_764_028_800) // 2025-11-25T00:00:00Z
}

fn record_count() -> u64 {
    std::env::var("RUNLOG_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// `total` records spread over `DAYS` (see `runlog_sample::Spread`).
fn month(total: u64) -> Spread {
    Spread::new(SEED, start(), total, Duration::from_secs(DAYS * 86_400))
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    logs: Project,
    jobs: Vec<String>,
    busiest_flow: String,
}

fn build() -> Fixture {
    let total = record_count();
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start());
    let store = StoreOptions::new()
        .clock(clock.clone())
        .open(dir.path())
        .unwrap();
    let logs = store.project("bench").unwrap();
    let mut month = month(total);
    let mut flows: HashMap<String, u64> = HashMap::new();
    let mut jobs = Vec::new();
    let mut written = 0u64;
    let t = Instant::now();
    // Batches of about two minutes of records, as a runtime would write
    // them (larger batches at a low rate would span hours and turn on-time
    // records into late ones).
    let per_batch = ((total / (DAYS * 86_400)).max(1) * 120).clamp(50, 1_000) as usize;
    while written < total {
        let batch = month.batch(per_batch);
        let newest = batch.iter().map(|r| r.time).max().unwrap();
        clock.set(newest.max(runlog::Clock::now(&clock)));
        logs.append_batch(&batch).unwrap();
        for r in &batch {
            *flows.entry(r.flow.to_string()).or_default() += 1;
        }
        if jobs.len() < 64 && written >= jobs.len() as u64 * (total / 64) {
            jobs.push(batch[batch.len() / 2].job_id.to_string());
        }
        written += batch.len() as u64;
    }
    logs.sync().unwrap();
    let segments = logs.segments().unwrap();
    eprintln!(
        "built {written} records in {} segments ({} sealed) in {:.1?}",
        segments.len(),
        segments.iter().filter(|s| s.sealed).count(),
        t.elapsed()
    );
    let busiest_flow = flows.into_iter().max_by_key(|(_, n)| *n).unwrap().0;
    Fixture {
        _dir: dir,
        store,
        logs,
        jobs,
        busiest_flow,
    }
}

fn queries(c: &mut Criterion) {
    let f = build();
    let mut g = c.benchmark_group(format!("query_{}", record_count()));
    g.sample_size(50).measurement_time(Duration::from_secs(3));

    let mut i = 0;
    g.bench_function("job_lookup", |b| {
        b.iter(|| {
            i = (i + 1) % f.jobs.len();
            black_box(f.logs.job_logs(&f.jobs[i]).unwrap())
        })
    });
    // The same lookups as a `PageView` (strings in one buffer).
    g.bench_function("job_lookup_view", |b| {
        b.iter(|| {
            i = (i + 1) % f.jobs.len();
            black_box(f.logs.job_logs_view(&f.jobs[i]).unwrap())
        })
    });
    let cases = [
        ("newest_30m", Query::new().limit(100)),
        (
            "error_prod_7d",
            Query::new()
                .preset(Preset::Last7Days)
                .level(Level::Error)
                .env("prod")
                .limit(100),
        ),
        (
            "flow_warn_error_24h",
            Query::new()
                .preset(Preset::LastDay)
                .flow(f.busiest_flow.as_str())
                .levels(&[Level::Warn, Level::Error])
                .limit(100),
        ),
        (
            "word_30d",
            Query::new()
                .preset(Preset::Last30Days)
                .text("timeout")
                .limit(100),
        ),
    ];
    for (name, q) in &cases {
        let page = f.logs.query(q).unwrap();
        eprintln!("{name}: {} records per page", page.records.len());
        let view = f.logs.query_view(q).unwrap();
        assert_eq!(
            view.to_records(),
            page.records,
            "{name}: view and page differ"
        );
        g.bench_function(*name, |b| b.iter(|| black_box(f.logs.query(q).unwrap())));
        g.bench_function(format!("{name}_view"), |b| {
            b.iter(|| black_box(f.logs.query_view(q).unwrap()))
        });
    }
    g.bench_function("count_levels_24h", |b| {
        b.iter(|| black_box(f.logs.count(&Query::new().preset(Preset::LastDay)).unwrap()))
    });
    // Counts with a word: the candidates' contents are read to confirm it.
    let word_24h = Query::new().preset(Preset::LastDay).text("timeout");
    eprintln!(
        "count_word_24h: {} matches",
        f.logs.count(&word_24h).unwrap().total
    );
    g.bench_function("count_word_24h", |b| {
        b.iter(|| black_box(f.logs.count(&word_24h).unwrap()))
    });
    g.finish();

    // Seal everything, then reopen the month.
    let dir = f._dir.path().to_path_buf();
    drop(f.logs);
    drop(f.store);
    let end = start().saturating_add(Duration::from_secs(DAYS * 86_400));
    let clock = ManualClock::new(end.saturating_add(Duration::from_secs(2 * 3600)));
    {
        let store = StoreOptions::new().clock(clock.clone()).open(&dir).unwrap();
        let p = store.project("bench").unwrap();
        p.seal_due().unwrap();
        let segs = p.segments().unwrap();
        eprintln!(
            "sealed: {} of {} segments",
            segs.iter().filter(|s| s.sealed).count(),
            segs.len()
        );
    }
    let mut g = c.benchmark_group(format!("open_{}", record_count()));
    g.sample_size(30);
    g.bench_function("open_720_sealed", |b| {
        b.iter(|| {
            let store = StoreOptions::new().clock(clock.clone()).open(&dir).unwrap();
            black_box(store.project("bench").unwrap());
        })
    });
    g.finish();
}

/// Append 100,000 records in batches of 1,000 into a fresh store; the
/// clock follows the records.
fn ingest_run(batches: &[Vec<LogRecord>], iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(start());
        let store = StoreOptions::new()
            .clock(clock.clone())
            .open(dir.path())
            .unwrap();
        let p = store.project("bench").unwrap();
        let t = Instant::now();
        for batch in batches {
            clock.set(batch.iter().map(|r| r.time).max().unwrap());
            p.append_batch(batch).unwrap();
        }
        total += t.elapsed();
    }
    total
}

fn ingest(c: &mut Criterion) {
    let mut g = c.benchmark_group("ingest");
    g.sample_size(10).throughput(Throughput::Elements(100_000));
    // Per-record cost: 100,000 records of one partition (the generator's
    // default 2,000 records/s), every index, default sync policy; no seal.
    let mut generator = Generator::new(SEED, start());
    let burst: Vec<Vec<LogRecord>> = (0..100).map(|_| generator.batch(1_000)).collect();
    g.bench_function("indexed_100k_one_partition", |b| {
        b.iter_custom(|iters| ingest_run(&burst, iters))
    });
    // End to end at the month's rate: the same number of records spread
    // over days, so the appends also seal a segment every hour of record
    // time (index written, two files and the directory synced).
    let mut month = month(record_count());
    let spread: Vec<Vec<LogRecord>> = (0..100).map(|_| month.batch(1_000)).collect();
    let hours = (spread.last().unwrap().last().unwrap().time.as_micros() - start().as_micros())
        / 3_600_000_000;
    eprintln!("ingest at the month's rate: 100,000 records over {hours} hours");
    g.bench_function(
        format!("indexed_100k_at_{}_per_month", record_count()),
        |b| b.iter_custom(|iters| ingest_run(&spread, iters)),
    );
    g.finish();
}

criterion_group!(benches, queries, ingest);
criterion_main!(benches);
