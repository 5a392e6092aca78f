//! Append throughput, with the baselines that explain it, and the cost of
//! sealing and of reopening a month of sealed segments.
//!
//! Run with `cargo bench --bench append`; `BENCHMARKS.md` records and
//! interprets a run. Every store lives in a fresh temporary directory.
//!
//! Groups:
//! - `append`: `Project::append_batch` in batches of 1,000 generated
//!   records (see `runlog_sample`), default sync policy, clock set so the
//!   records are within retention.
//!   - `fresh_100k`: a new store per iteration, 100,000 records into it.
//!   - `fresh_100k_no_late`: the same without late records.
//!   - `engine_*`: the same appends with the in-memory index step skipped
//!     (`StoreOptions::__without_index`, hidden): the storage engine alone,
//!     checks, partitioning, framing, checksums and the write (targets:
//!     1.5 M records/s for the engine alone, 1 M with every index).
//!   - `steady_*`: one store per sample, first filled (untimed) with
//!     600,000 records, i.e. more than the 4 minutes of generated time
//!     within which late records arrive; each iteration then appends the
//!     next 100,000 records (the same window shifted forward in time). The
//!     periodic `fsync` runs meanwhile. Variants without late records and
//!     with `SyncPolicy::Manual` isolate those two costs.
//! - `baseline`: the floor under an append, for the same records: the
//!   hand-written frame encoder, postcard encoding, and plain
//!   `File::write_all` of already-encoded batches.
//! - `seal`: sealing one segment of 10,000 records.
//! - `open`: `Store::open` + `Store::project` of a store holding 30 days of
//!   hourly sealed segments (720 segments of 50 records).

use std::fs::File;
use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use runlog::{LogRecord, ManualClock, StoreOptions, SyncPolicy, TimeRange, Timestamp, format};
use runlog_sample::{Config, Generator};

/// Records per `append_batch` call.
const BATCH: usize = 1_000;
/// Records appended per timed iteration.
const WINDOW: usize = 100_000;
const SEED: u64 = 0x0123_4567_89AB_CDEF;
const HOUR: i64 = 3_600_000_000;

/// 2025-01-06T10:10:00Z: ten minutes into an hour, so a window of records
/// (50 s of generated time, late ones up to 4 min earlier) stays in one
/// partition.
fn start() -> Timestamp {
    Timestamp::from_secs(1_736_158_200)
}

fn max_time(records: &[LogRecord]) -> Timestamp {
    records
        .iter()
        .map(|r| r.time)
        .max()
        .unwrap_or(Timestamp::MIN)
}

/// A clock just after the newest record: every record is within retention
/// and none is in the future.
fn clock_for(records: &[LogRecord]) -> ManualClock {
    ManualClock::new(max_time(records).saturating_add(Duration::from_secs(1)))
}

fn append_all(project: &runlog::Project, records: &[LogRecord]) {
    for chunk in records.chunks(BATCH) {
        black_box(project.append_batch(chunk).expect("append"));
    }
}

/// A new store per iteration, opened with `options` (and the clock);
/// only the appends are timed. The store's first record is appended
/// before timing, so segment creation (two `fsync`s, once an hour in real
/// use) is not counted.
fn bench_fresh(c: &mut Criterion, name: &str, records: &[LogRecord], options: &StoreOptions) {
    let mut group = c.benchmark_group("append");
    group.throughput(Throughput::Elements(records.len() as u64));
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().expect("tempdir");
                let clock = clock_for(records);
                let store = options.clone().clock(clock).open(dir.path()).expect("open");
                let project = store.project("bench").expect("project");
                let mut first = records[0].clone();
                first.time = start();
                project.append(&first).expect("first append");
                let t = Instant::now();
                append_all(&project, records);
                total += t.elapsed();
                drop(project);
                drop(store);
            }
            total
        });
    });
    group.finish();
}

/// 2025-01-06T10:05:00Z: the `steady_*` runs have 55 minutes of one
/// partition to fill, and their late records (up to 4 min 1 s) stay in it.
fn steady_start() -> Timestamp {
    Timestamp::from_secs(1_736_157_900)
}

/// Windows appended (untimed) before timing starts in the `steady_*` runs.
const PREFILL_WINDOWS: u64 = 6;

/// One store per sample, opened with `options` (and the clock); it first
/// gets [`PREFILL_WINDOWS`] copies of `window`, then iteration `k`
/// appends `window` shifted forward in time once more, with the clock
/// just after its newest record.
fn bench_steady(c: &mut Criterion, name: &str, window: &[LogRecord], options: &StoreOptions) {
    let shift_us = {
        let span = max_time(window).as_micros() - steady_start().as_micros();
        (span / 1_000_000 + 2) * 1_000_000
    };
    let mut group = c.benchmark_group("append");
    group.throughput(Throughput::Elements(window.len() as u64));
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let dir = tempfile::tempdir().expect("tempdir");
            let clock = clock_for(window);
            let store = options
                .clone()
                .clock(clock.clone())
                .open(dir.path())
                .expect("open");
            let project = store.project("bench").expect("project");
            let mut records = window.to_vec();
            let mut total = Duration::ZERO;
            for k in 0..PREFILL_WINDOWS + iters {
                if k > 0 {
                    for r in &mut records {
                        r.time = Timestamp::from_micros(r.time.as_micros() + shift_us);
                    }
                }
                clock.set(max_time(&records).saturating_add(Duration::from_secs(1)));
                let t = Instant::now();
                append_all(&project, &records);
                if k >= PREFILL_WINDOWS {
                    total += t.elapsed();
                }
            }
            // Everything stayed in one hour, so in one segment.
            assert_eq!(project.segments().expect("segments").len(), 1);
            drop(project);
            drop(store);
            total
        });
    });
    group.finish();
}

fn append(c: &mut Criterion) {
    let defaults = StoreOptions::new();
    // The storage engine alone: the same appends with
    // the in-memory index step skipped.
    let engine = StoreOptions::new().__without_index();
    let records = Generator::new(SEED, start()).batch(WINDOW);
    assert!(max_time(&records).as_micros() / HOUR == start().as_micros() / HOUR);
    bench_fresh(c, "fresh_100k", &records, &defaults);
    bench_fresh(c, "engine_fresh_100k", &records, &engine);
    let no_late = Config::new().late_fraction(0.0);
    let records = Generator::with_config(SEED, start(), no_late.clone()).batch(WINDOW);
    bench_fresh(c, "fresh_100k_no_late", &records, &defaults);

    let records = Generator::new(SEED, steady_start()).batch(WINDOW);
    bench_steady(c, "steady_periodic_1s", &records, &defaults);
    bench_steady(c, "engine_steady_periodic_1s", &records, &engine);
    let manual = StoreOptions::new().sync_policy(SyncPolicy::Manual);
    bench_steady(c, "steady_manual", &records, &manual);
    let records = Generator::with_config(SEED, steady_start(), no_late).batch(WINDOW);
    bench_steady(c, "steady_periodic_1s_no_late", &records, &defaults);
}

fn baseline(c: &mut Criterion) {
    let records = Generator::new(SEED, start()).batch(WINDOW);
    let frames: Vec<Vec<u8>> = records
        .chunks(BATCH)
        .map(|chunk| {
            let mut buf = Vec::new();
            for (i, r) in chunk.iter().enumerate() {
                format::encode_frame(r, i as u32, 0x5a17, &mut buf);
            }
            buf
        })
        .collect();
    let encoded: usize = frames.iter().map(Vec::len).sum();
    println!(
        "workload: {WINDOW} records, {} bytes encoded ({} bytes/record), {} with detail",
        encoded,
        encoded / WINDOW,
        records.iter().filter(|r| r.detail.is_some()).count()
    );

    let mut group = c.benchmark_group("baseline");
    group.throughput(Throughput::Elements(BATCH as u64));
    let batch = &records[..BATCH];
    group.bench_function("encode_frame_1k", |b| {
        let mut buf = Vec::with_capacity(1 << 20);
        b.iter(|| {
            buf.clear();
            for (i, r) in batch.iter().enumerate() {
                format::encode_frame(r, i as u32, 0x5a17, &mut buf);
            }
            black_box(buf.len())
        });
    });
    group.bench_function("validate_and_frame_len_1k", |b| {
        b.iter(|| {
            let mut n = 0;
            for r in batch {
                r.validate().expect("valid");
                n += format::frame_len(r);
            }
            black_box(n)
        });
    });
    group.bench_function("postcard_to_extend_1k", |b| {
        let mut buf = Vec::with_capacity(1 << 20);
        b.iter(|| {
            buf.clear();
            for r in batch {
                buf = postcard::to_extend(r, std::mem::take(&mut buf)).expect("postcard");
            }
            black_box(buf.len())
        });
    });
    group.bench_function("postcard_to_extend_with_crc32_1k", |b| {
        // Postcard plus the checksum every frame needs: the same work as
        // `encode_frame` but for the summary/detail split.
        let mut buf = Vec::with_capacity(1 << 20);
        b.iter(|| {
            buf.clear();
            let mut crcs = 0u32;
            for r in batch {
                let at = buf.len();
                buf = postcard::to_extend(r, std::mem::take(&mut buf)).expect("postcard");
                crcs ^= crc32fast::hash(&buf[at..]);
            }
            black_box((buf.len(), crcs))
        });
    });
    group.bench_function("crc32_of_encoded_1k", |b| {
        // What the two checksums in `encode_frame` cost at least.
        let bytes = &frames[0];
        b.iter(|| black_box(crc32fast::hash(bytes)));
    });
    group.bench_function("postcard_to_slice_1k", |b| {
        let mut buf = vec![0u8; 8 << 20];
        b.iter(|| {
            let mut at = 0;
            for r in batch {
                at += postcard::to_slice(r, &mut buf[at..])
                    .expect("postcard")
                    .len();
            }
            black_box(at)
        });
    });
    group.bench_function("postcard_to_allocvec_1k", |b| {
        b.iter(|| {
            let mut n = 0;
            for r in batch {
                n += postcard::to_allocvec(r).expect("postcard").len();
            }
            black_box(n)
        });
    });

    // The same 100,000 records' bytes, written batch by batch.
    group.throughput(Throughput::Elements(WINDOW as u64));
    group.bench_function("write_all_100k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().expect("tempdir");
                let mut file = File::create(dir.path().join("log")).expect("create");
                let t = Instant::now();
                for bytes in &frames {
                    file.write_all(bytes).expect("write");
                }
                total += t.elapsed();
            }
            total
        });
    });
    group.bench_function("encode_and_write_all_100k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut buf = Vec::with_capacity(1 << 20);
            for _ in 0..iters {
                let dir = tempfile::tempdir().expect("tempdir");
                let mut file = File::create(dir.path().join("log")).expect("create");
                let t = Instant::now();
                for chunk in records.chunks(BATCH) {
                    buf.clear();
                    for (i, r) in chunk.iter().enumerate() {
                        format::encode_frame(r, i as u32, 0x5a17, &mut buf);
                    }
                    file.write_all(&buf).expect("write");
                }
                total += t.elapsed();
            }
            total
        });
    });
    group.bench_function("generate_100k", |b| {
        // The sample generator itself, for reference: it runs outside every
        // timed loop above.
        b.iter_custom(|iters| {
            let mut g = Generator::new(SEED, start());
            let t = Instant::now();
            for _ in 0..iters {
                for _ in 0..WINDOW {
                    black_box(g.next_record());
                }
            }
            t.elapsed()
        });
    });
    group.finish();
}

fn seal(c: &mut Criterion) {
    const N: usize = 10_000;
    let records = Generator::new(SEED, start()).batch(N);
    let mut group = c.benchmark_group("seal");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("segment_10k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().expect("tempdir");
                let clock = clock_for(&records);
                let store = StoreOptions::new()
                    .clock(clock.clone())
                    .open(dir.path())
                    .expect("open");
                let project = store.project("bench").expect("project");
                append_all(&project, &records);
                project.sync().expect("sync");
                // Past the partition's end and its 10-minute grace.
                let end = (start().as_micros() / HOUR + 1) * HOUR;
                clock.set(Timestamp::from_micros(end + 11 * 60_000_000));
                let t = Instant::now();
                project.seal_due().expect("seal");
                total += t.elapsed();
                assert!(project.segments().expect("segments")[0].sealed);
            }
            total
        });
    });
    group.finish();
}

/// 30 days of hourly segments, 50 records each, all sealed; returns the
/// directory and a clock at which none has expired.
fn month_of_sealed_segments() -> (tempfile::TempDir, ManualClock) {
    const HOURS: i64 = 720;
    const PER_HOUR: usize = 50;
    let t0 = (start().as_micros() / HOUR - HOURS) * HOUR;
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(Timestamp::from_micros(t0));
    let built = Instant::now();
    {
        let store = StoreOptions::new()
            .clock(clock.clone())
            .open(dir.path())
            .expect("open");
        let project = store.project("bench").expect("project");
        let mut g = Generator::new(SEED, Timestamp::from_micros(t0));
        for h in 0..HOURS {
            let hour = t0 + h * HOUR;
            let mut records = g.batch(PER_HOUR);
            for (i, r) in records.iter_mut().enumerate() {
                r.time = Timestamp::from_micros(hour + i as i64 * (HOUR / PER_HOUR as i64));
            }
            clock.set(Timestamp::from_micros(hour + 59 * 60_000_000));
            project.append_batch(&records).expect("append");
            clock.set(Timestamp::from_micros(hour + HOUR + 11 * 60_000_000));
            project.seal_due().expect("seal");
        }
        let segments = project.segments().expect("segments");
        assert_eq!(segments.len(), HOURS as usize);
        assert!(segments.iter().all(|s| s.sealed));
    }
    println!(
        "built {HOURS} sealed hourly segments of {PER_HOUR} records in {:.2?}",
        built.elapsed()
    );
    (dir, clock)
}

fn open(c: &mut Criterion) {
    let (dir, clock) = month_of_sealed_segments();
    let mut group = c.benchmark_group("open");
    group.bench_function("store_and_project_720_sealed", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                let store = StoreOptions::new()
                    .clock(clock.clone())
                    .open(dir.path())
                    .expect("open");
                let project = store.project("bench").expect("project");
                total += t.elapsed();
                black_box(&project);
                drop(project);
                drop(store);
            }
            total
        });
    });
    group.bench_function("store_project_and_first_page_720_sealed", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                let store = StoreOptions::new()
                    .clock(clock.clone())
                    .open(dir.path())
                    .expect("open");
                let project = store.project("bench").expect("project");
                let n = project.scan(TimeRange::all()).take(100).count();
                total += t.elapsed();
                assert_eq!(n, 100);
                drop(project);
                drop(store);
            }
            total
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = append, baseline, seal, open
}
criterion_main!(benches);
