//! A month backfill, as a new user would try runlog: what a runtime pays
//! in disk and in append time for a month of logs, and how the console's
//! queries hold up on the store it leaves.
//!
//! The workload: `N` records (1,000,000; `RUNLOG_MONTH_RECORDS=10000000`
//! for the long run) of `runlog_sample::Config::month()` (200 flows over 20
//! apps × 3 versions, jobs of 5–40 records in `prod` 70 % / `test` 30 %,
//! levels about 20/60/12/8 % Debug/Info/Warn/Error, contents of 80–300
//! bytes, 1 % of records up to 10 minutes late) spread evenly over the 30
//! days before "now" (less their first hour, so that late records stay
//! within retention), appended in time order from one thread in batches of
//! 1,000 with the default options (hourly partitions, 10-minute grace,
//! `SyncPolicy::Periodic(1 s)`). The clock follows the records (it stands
//! at each batch's newest record), as if the month were lived: each hour's
//! segment is sealed once its partition and the grace are over, and late
//! records for a sealed hour start a new generation of it.
//!
//! Groups (`month_<N>`):
//! - `ingest`: the whole backfill into a fresh store (throughput: `N`
//!   records). Before it, the store of one backfill is described on stderr:
//!   bytes per record on disk (every file of the store), raw field bytes per
//!   record, segments, partitions, segments per partition; and at every
//!   backfill, the process's memory during it: how much the anonymous
//!   memory grew over what the generated records take, and the
//!   file-backed (mapped) pages.
//! - `job_lookup_view`, `newest_30m_view`, `error_prod_7d_view`,
//!   `flow_warn_error_24h_view`, `word_30d_view`, `count_levels_24h`: the
//!   console's queries on that store (pages as `PageView`s, at most 100
//!   records).
//! - `open`: `Store::open` and `project()` of the month's store.
//! - `drop_oldest_day`: the clock moves a day on and retention drops the
//!   oldest day, on a copy of the store made before each run (untimed: the
//!   files of the oldest two days and every file that is not sealed are
//!   copied, the other sealed files hard-linked).
//!
//! `cargo bench --bench month`; the peers on the same workload are in
//! `benches/sqlite-compare` and `benches/tantivy-compare`.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use runlog::{
    Field, Level, LogRecord, ManualClock, Preset, Project, Query, StoreOptions, Timestamp,
};
use runlog_sample::{Config, Spread};

const SEED: u64 = 7;
const DAYS: u64 = 30;
const BATCH: usize = 1_000;

/// "Now": 2025-12-25T00:00:00Z; the records cover the 30 days before it.
fn now() -> Timestamp {
    Timestamp::from_secs(1_766_620_800)
}

/// The records' span: the 30 days before "now" less their first hour, so
/// that the first records, late ones included, are within retention.
fn span() -> Duration {
    Duration::from_secs(DAYS * 86_400 - 3_600)
}

fn record_count() -> u64 {
    std::env::var("RUNLOG_MONTH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// The backfill's batches, in append order.
fn batches(total: u64) -> Vec<Vec<LogRecord>> {
    let mut month = Spread::with_config(SEED, now() - span(), total, span(), Config::month());
    let mut out = Vec::with_capacity(total.div_ceil(BATCH as u64) as usize);
    let mut left = total;
    while left > 0 {
        let n = left.min(BATCH as u64) as usize;
        out.push(month.batch(n));
        left -= n as u64;
    }
    out
}

/// Append every batch into a fresh store in `dir`, the clock following
/// the records; returns the time the appends took (opening and the final
/// sync excluded).
fn backfill(dir: &Path, batches: &[Vec<LogRecord>]) -> Duration {
    let clock = ManualClock::new(now() - span());
    let store = StoreOptions::new().clock(clock.clone()).open(dir).unwrap();
    let p = store.project("bench").unwrap();
    let before = memory();
    let mut peak = before;
    let t = Instant::now();
    for (i, b) in batches.iter().enumerate() {
        let newest = b.iter().map(|r| r.time).max().unwrap();
        clock.set(newest.max(runlog::Clock::now(&clock)));
        p.append_batch(b).unwrap();
        if i % 100 == 99
            && let (Some(m), Some(p)) = (memory(), peak.as_mut())
        {
            *p = (p.0.max(m.0), p.1.max(m.1));
        }
    }
    let took = t.elapsed();
    if let (Some(b), Some(p)) = (before, peak) {
        eprintln!(
            "memory during the backfill (sampled every 100 batches): anonymous grew by at most \
             {} MiB over the {} MiB the generated records take; file-backed at most {} MiB",
            p.0.saturating_sub(b.0) / 1024,
            b.0 / 1024,
            p.1 / 1024
        );
    }
    p.sync().unwrap();
    took
}

/// Bytes of every file under `dir`.
fn bytes_under(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                bytes_under(&e.path())
            } else {
                m.len()
            }
        })
        .sum()
}

/// A copy of the store in `from` at `to` for retention to drop from:
/// sealed segments and indexes of partitions from `keep` on (which the
/// copy's writer never writes or drops) hard-linked, every other file
/// copied, so that what retention frees is the copy's own.
fn copy_store(from: &Path, to: &Path, keep: u32) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let name = e.file_name().to_string_lossy().into_owned();
        let partition: Option<u32> = name.split(['-', '.']).next().and_then(|p| p.parse().ok());
        if e.file_type().unwrap().is_dir() {
            copy_store(&src, &dst, keep);
        } else if name == "runlog.lock" {
            continue;
        } else if (name.ends_with(".seg") || name.ends_with(".idx"))
            && partition.is_some_and(|p| p >= keep)
        {
            fs::hard_link(&src, &dst).unwrap();
        } else {
            fs::copy(&src, &dst).unwrap();
        }
    }
}

/// This process's resident memory from `/proc/self/status`, in KiB:
/// anonymous (heap) and file-backed (mapped pages the kernel may drop);
/// `None` off Linux.
fn memory() -> Option<(u64, u64)> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let kib = |key: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    Some((kib("RssAnon:")?, kib("RssFile:")?))
}

/// The raw bytes of a record's fields (what a plain text log would hold,
/// without separators or a timestamp).
fn raw_bytes(r: &LogRecord) -> usize {
    Field::ALL.iter().map(|&f| r.field(f).len()).sum()
}

fn month(c: &mut Criterion) {
    let total = record_count();
    let batches = batches(total);
    let raw: usize = batches.iter().flatten().map(raw_bytes).sum();

    // One backfill, described, then queried.
    let dir = tempfile::tempdir().unwrap();
    let took = backfill(dir.path(), &batches);
    let store = StoreOptions::new()
        .clock(ManualClock::new(now()))
        .open(dir.path())
        .unwrap();
    let logs: Project = store.project("bench").unwrap();
    let segments = logs.segments().unwrap();
    let partitions: BTreeSet<u32> = segments.iter().map(|s| s.id.partition).collect();
    let on_disk = bytes_under(dir.path());
    eprintln!(
        "month backfill of {total} records: {:.0} records/s; {:.1} bytes per record on disk \
         ({on_disk} bytes, every file), {:.1} raw field bytes per record; {} segments \
         ({} sealed, {} later generations) in {} partitions: {:.2} per partition",
        total as f64 / took.as_secs_f64(),
        on_disk as f64 / total as f64,
        raw as f64 / total as f64,
        segments.len(),
        segments.iter().filter(|s| s.sealed).count(),
        segments.iter().filter(|s| s.id.generation > 0).count(),
        partitions.len(),
        segments.len() as f64 / partitions.len() as f64,
    );

    let mut g = c.benchmark_group(format!("month_{total}"));
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(total));
    g.bench_function("ingest", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| backfill(tempfile::tempdir().unwrap().path(), &batches))
                .sum()
        })
    });
    g.finish();

    // The console's queries.
    let mut flows: HashMap<&str, u64> = HashMap::new();
    for r in batches.iter().flatten() {
        *flows.entry(r.flow.as_str()).or_default() += 1;
    }
    let busiest_flow = flows.into_iter().max_by_key(|(_, n)| *n).unwrap().0;
    let jobs: Vec<&str> = batches
        .iter()
        .step_by((batches.len() / 64).max(1))
        .map(|b| b[b.len() / 2].job_id.as_str())
        .collect();
    let mut g = c.benchmark_group(format!("month_{total}"));
    g.sample_size(50).measurement_time(Duration::from_secs(3));
    let mut i = 0;
    g.bench_function("job_lookup_view", |b| {
        b.iter(|| {
            i = (i + 1) % jobs.len();
            black_box(logs.job_logs_view(jobs[i]).unwrap())
        })
    });
    let pages = [
        ("newest_30m_view", Query::new().limit(100)),
        (
            "error_prod_7d_view",
            Query::new()
                .preset(Preset::Last7Days)
                .level(Level::Error)
                .env("prod")
                .limit(100),
        ),
        (
            "flow_warn_error_24h_view",
            Query::new()
                .preset(Preset::LastDay)
                .flow(busiest_flow)
                .levels(&[Level::Warn, Level::Error])
                .limit(100),
        ),
        (
            "word_30d_view",
            Query::new()
                .preset(Preset::Last30Days)
                .text("timeout")
                .limit(100),
        ),
    ];
    for (name, q) in &pages {
        let n = logs.query_view(q).unwrap().len();
        eprintln!("{name}: {n} records per page");
        g.bench_function(*name, |b| b.iter(|| black_box(logs.query_view(q).unwrap())));
    }
    let day = Query::new().preset(Preset::LastDay);
    g.bench_function("count_levels_24h", |b| {
        b.iter(|| black_box(logs.count(&day).unwrap()))
    });
    g.finish();
    drop(logs);
    drop(store);

    // Opening the month: the store and its project, as a console or the
    // runtime after a restart does.
    let mut g = c.benchmark_group(format!("month_{total}"));
    g.sample_size(20);
    g.bench_function("open", |b| {
        b.iter(|| {
            let store = StoreOptions::new()
                .clock(ManualClock::new(now()))
                .open(dir.path())
                .unwrap();
            black_box(store.project("bench").unwrap())
        })
    });
    g.finish();

    // Retention: a day later, the oldest day goes.
    let first_partition = *partitions.first().unwrap();
    let mut g = c.benchmark_group(format!("month_{total}"));
    g.sample_size(10);
    g.bench_function("drop_oldest_day", |b| {
        b.iter_batched(
            || {
                let copy = tempfile::tempdir().unwrap();
                copy_store(dir.path(), copy.path(), first_partition + 48);
                let clock = ManualClock::new(now());
                let store = StoreOptions::new()
                    .clock(clock.clone())
                    .open(copy.path())
                    .unwrap();
                let p = store.project("bench").unwrap();
                clock.advance(Duration::from_secs(86_400));
                (copy, store, p)
            },
            |(copy, store, p)| {
                let dropped = p.enforce_retention().unwrap();
                assert!(dropped >= 24, "dropped {dropped} segments");
                (copy, store, p)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, month);
criterion_main!(benches);
