//! Runs: the cost of recording a run event next to that of appending a
//! log record, and the run queries on a month of runs.
//!
//! Run with `cargo bench --bench runs`; set `RUNLOG_BENCH_RUNS=N` for
//! another number of runs in the month (default 1,000,000; at least about
//! 100,000, so that the flow of `newest_100_scheduled_last7d_flow` has 100
//! scheduled runs in 7 days). Every store lives in a fresh temporary
//! directory, with `SyncPolicy::Manual` and a `ManualClock`.
//!
//! Groups:
//! - `run_event`: one event per iteration, into a fresh store per sample
//!   (its first record, or first run, written untimed: file creation).
//!   - `append_one_log_record`: `Project::append` of one generated record
//!     (`runlog_sample`, no late records), the baseline.
//!   - `record_run_event`: alternately `start_run` of a new job (a
//!     scheduled run of one of 50 flows, triggered 10 µs after the
//!     previous one) and `attempt_succeeded` of it.
//!
//!   The target: recording a run event costs no more than
//!   appending one log record.
//! - `scheduled_tasks_<N>`: a store of N runs triggered evenly over 30 days
//!   up to the clock's time (built untimed, by simulating a runtime: see
//!   [`build`]; in `/dev/shm` when there is one); the queries return at
//!   most 100 runs.
//!   - `newest_100_scheduled_last7d_flow`: `scheduled_tasks` of one flow
//!     over 7 days (target ≤ 50 µs).
//!   - `newest_100_runs_last7d`: `runs` over 7 days, no filter.
//!   - `count_runs_last7d_by_status`: `count_runs` over 7 days.
//!   - `reopen_<N>_runs`: `Store::open` + `project()` of that store, i.e.
//!     the replay of its run journal (10 samples).
//!   - `record_run_event_in_month`: `record_run_event` again, in that
//!     store (reopened): one journal file per hour of the month, where
//!     `run_event` has one.
//!
//! The log prints the build time, the journal's size, the statuses of the
//! runs and the process's resident memory (current and peak) before and
//! after building and after reopening.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use runlog::{
    LogRecord, ManualClock, NewRun, Preset, Project, RetryPolicy, RunQuery, RunStatus, Store,
    StoreOptions, SyncPolicy, Text, Timestamp, Trigger,
};
use runlog_sample::{Config, Generator};

const SEED: u64 = 0x0123_4567_89AB_CDEF;
const DAYS: i64 = 30;
const SEC: i64 = 1_000_000;
const HOUR: i64 = 3600 * SEC;
/// Flows of the month of runs, `flow-0` … `flow-49`.
const FLOWS: usize = 50;
const APPS: usize = 5;
/// The flow of `newest_100_scheduled_last7d_flow`.
const QUERY_FLOW: &str = "flow-7";

fn run_count() -> u64 {
    std::env::var("RUNLOG_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// 2025-01-06T10:10:00Z: ten minutes into an hour, so that the
/// `run_event` samples stay in one partition.
fn start() -> Timestamp {
    Timestamp::from_secs(1_736_158_200)
}

/// The clock of the month of runs: 2025-12-25T00:00:00Z.
fn month_end() -> Timestamp {
    Timestamp::from_secs(1_766_620_800)
}

fn options(clock: &ManualClock) -> StoreOptions {
    StoreOptions::new()
        .clock(clock.clone())
        .sync_policy(SyncPolicy::Manual)
}

/// splitmix64: the bench's deterministic "randomness".
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The key of job `i`: its ID's 16 hex digits.
fn job_key(i: u64) -> u64 {
    mix(i ^ SEED)
}

/// The ID of the job with key `key`, like the sample generator's: `job-`
/// and 16 hex digits.
fn key_job_id(key: u64) -> Text {
    use std::io::Write;
    // Formatted on the stack: 20 bytes, kept inline by `Text`.
    let mut buf = [0u8; 20];
    write!(&mut buf[..], "job-{key:016x}").unwrap();
    Text::from(std::str::from_utf8(&buf).unwrap())
}

/// The ID of job `i`.
fn job_id(i: u64) -> Text {
    key_job_id(job_key(i))
}

/// The metadata of runs: flows, each belonging to an app (with its
/// version); environments.
struct Catalogue {
    flows: Vec<Text>,
    apps: Vec<Text>,
    versions: Vec<Text>,
}

impl Catalogue {
    fn new() -> Self {
        Catalogue {
            flows: (0..FLOWS).map(|k| format!("flow-{k}").into()).collect(),
            apps: (0..APPS).map(|k| format!("app-{k}").into()).collect(),
            versions: (0..APPS).map(|k| format!("1.{k}.0").into()).collect(),
        }
    }

    /// The run of job `i`: flow, trigger, env, app chosen from a hash of `i`
    /// (about 1/3 of runs triggered by the Scheduler, 55 % by an event, 12 %
    /// by hand; 70 % prod, 20 % test, 10 % staging).
    fn new_run(&self, i: u64) -> NewRun {
        let h = mix(i);
        let f = (h % FLOWS as u64) as usize;
        let trigger = match (h >> 8) % 100 {
            0..33 => Trigger::Scheduler,
            33..88 => Trigger::Event,
            _ => Trigger::Manual,
        };
        let env = match (h >> 16) % 10 {
            0..7 => "prod",
            7..9 => "test",
            _ => "staging",
        };
        NewRun::new(job_id(i), self.flows[f].clone(), trigger)
            .env(env)
            .app(self.apps[f % APPS].clone())
            .version(self.versions[f % APPS].clone())
    }
}

/// Peak and current resident memory of this process (Linux), for the log.
fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l[name.len()..].trim().to_string())
            .unwrap_or_else(|| "?".into())
    };
    format!("RSS {}, peak {}", field("VmRSS:"), field("VmHWM:"))
}

// ---------------------------------------------------------------------------
// run_event
// ---------------------------------------------------------------------------

/// Record `iters` run events into `project`, timed: alternately
/// `start_run` of a new scheduled run and `attempt_succeeded` of it. The
/// runs are numbered from `*next` on (then `*next` moves past them); run
/// `k` is triggered at `from` + 10·`k` + 1 µs.
fn record_events(
    catalogue: &Catalogue,
    project: &Project,
    from: Timestamp,
    next: &mut u64,
    iters: u64,
) -> Duration {
    let first = *next;
    *next += iters.div_ceil(2);
    let runs: Vec<NewRun> = (first..*next)
        .map(|k| {
            let t = from.as_micros() + 1 + k as i64 * 10;
            let mut run = catalogue.new_run(k);
            // Not a job of the month of runs.
            run.job_id = job_id(!k);
            run.trigger = Trigger::Scheduler;
            run.triggered_at(Timestamp::from_micros(t))
        })
        .collect();
    let t = Instant::now();
    for i in 0..iters as usize {
        let run = &runs[i / 2];
        if i % 2 == 0 {
            black_box(project.start_run(run).expect("start_run"));
        } else {
            black_box(
                project
                    .attempt_succeeded(&run.job_id, 1)
                    .expect("succeeded"),
            );
        }
    }
    t.elapsed()
}

/// A fresh store for one sample, its clock at `clock`.
fn fresh(clock: Timestamp) -> (tempfile::TempDir, Store, Project) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = options(&ManualClock::new(clock))
        .open(dir.path())
        .expect("open");
    let project = store.project("bench").expect("project");
    (dir, store, project)
}

fn run_event(c: &mut Criterion) {
    // 100,000 typical records (50 s of generated time); a sample that
    // needs more takes them again, each round a minute later.
    const WINDOW: usize = 100_000;
    let no_late = Config::new().late_fraction(0.0);
    let records = Generator::with_config(SEED, start(), no_late).batch(WINDOW);
    let newest = records.iter().map(|r| r.time).max().unwrap();
    assert!(newest.as_micros() < start().as_micros() + 60 * SEC);
    let catalogue = Catalogue::new();
    // Every record and run of a sample is in the partition of `start()`.
    let clock = Timestamp::from_micros(start().as_micros() + 45 * 60 * SEC);

    let mut g = c.benchmark_group("run_event");
    g.throughput(Throughput::Elements(1));
    g.bench_function("append_one_log_record", |b| {
        b.iter_custom(|iters| {
            let (_dir, store, project) = fresh(clock);
            let mut first = records[0].clone();
            first.time = start();
            project.append(&first).expect("first append");
            let batch: Vec<LogRecord> = (0..iters as usize)
                .map(|i| {
                    let mut r = records[i % WINDOW].clone();
                    let round = (i / WINDOW) as i64;
                    r.time = Timestamp::from_micros(r.time.as_micros() + round * 60 * SEC);
                    r
                })
                .collect();
            assert!(batch.iter().all(|r| r.time <= clock));
            let t = Instant::now();
            for r in &batch {
                black_box(project.append(r).expect("append"));
            }
            let elapsed = t.elapsed();
            drop(project);
            drop(store);
            elapsed
        });
    });
    g.bench_function("record_run_event", |b| {
        b.iter_custom(|iters| {
            let (_dir, store, project) = fresh(clock);
            // The journal file is created by the first run, untimed.
            let warm = NewRun::new("warm-up", "flow-0", Trigger::Scheduler).triggered_at(start());
            project.start_run(&warm).expect("first run");
            project.attempt_succeeded("warm-up", 1).expect("first run");
            let elapsed = record_events(&catalogue, &project, start(), &mut 0, iters);
            drop(project);
            drop(store);
            elapsed
        });
    });
    g.finish();
}

// ---------------------------------------------------------------------------
// scheduled_tasks
// ---------------------------------------------------------------------------

struct Month {
    dir: tempfile::TempDir,
    clock: ManualClock,
    store: Store,
    project: Project,
}

/// Whether attempt `attempt` of the job with key `key` (see [`job_key`])
/// fails: 8 % of first attempts, 40 % of retries.
fn fails(key: u64, attempt: u32) -> bool {
    let h = mix(key ^ u64::from(attempt)) % 100;
    h < if attempt == 1 { 8 } else { 40 }
}

/// How long attempt `attempt` of the job with key `key` takes: 1 s to 2 min.
fn duration(key: u64, attempt: u32) -> i64 {
    SEC + (mix(key ^ (u64::from(attempt) << 40)) % (119 * SEC as u64)) as i64
}

/// The retry policy of flows `flow-9`, `flow-19`, …: retries 1 h, 4 h,
/// 16 h, then 1 day apart (runs of theirs are `Retrying` for days).
const SLOW_RETRIES: RetryPolicy = RetryPolicy {
    max_retries: 5,
    initial_delay: Duration::from_secs(3600),
    multiplier: 4.0,
    max_delay: Duration::from_secs(86_400),
};

const ERRORS: [&str; 4] = [
    "connection refused",
    "timeout after 30000 ms",
    "401 Unauthorized",
    "HTTP 503 Service Unavailable from upstream",
];

/// `total` runs triggered evenly over the 30 days up to [`month_end`], in
/// a fresh store: the clock follows a simulated runtime, which starts each
/// run at its trigger time, ends each attempt 1 s to 2 min later (8 % of
/// first attempts fail, 40 % of retries), and claims due retries every 30
/// s. Retry policies: the default (3 retries, 5 s, 10 s, 20 s) but for
/// `flow-4`, `flow-14`, … (none: a failure is final) and `flow-9`,
/// `flow-19`, … ([`SLOW_RETRIES`]). Attempts still running at the end stay
/// `Running`.
fn build(total: u64) -> Month {
    let dir = month_dir();
    let end = month_end().as_micros();
    let span = DAYS * 24 * HOUR;
    let first = end - span;
    let clock = ManualClock::new(Timestamp::from_micros(first));
    let store = options(&clock).open(dir.path()).expect("open");
    let project = store.project("bench").expect("project");
    let catalogue = Catalogue::new();
    for (k, flow) in catalogue.flows.iter().enumerate() {
        let policy = match k % 10 {
            4 => RetryPolicy::none(),
            9 => SLOW_RETRIES,
            _ => continue,
        };
        project
            .set_flow_retry_policy(flow, Some(policy))
            .expect("policy");
    }
    let claim_every = 30 * SEC;
    let mut next_claim = first + claim_every;
    // Attempts under way: (end µs, job key, attempt), soonest first.
    let mut pending: BinaryHeap<Reverse<(i64, u64, u32)>> = BinaryHeap::new();
    let mut events = 0u64;
    let t = Instant::now();

    let finish = |now: i64, key: u64, attempt: u32| {
        let job = key_job_id(key);
        if fails(key, attempt) {
            let error = ERRORS[(key % ERRORS.len() as u64) as usize];
            project
                .attempt_failed(&job, attempt, error)
                .unwrap_or_else(|e| panic!("fail {job} attempt {attempt} at {now}: {e}"));
        } else {
            project
                .attempt_succeeded(&job, attempt)
                .unwrap_or_else(|e| panic!("succeed {job} attempt {attempt} at {now}: {e}"));
        }
    };

    for i in 0..total {
        let trigger = first + ((i128::from(i) + 1) * i128::from(span) / i128::from(total)) as i64;
        // What happens before this run is triggered, in time order.
        loop {
            let ends = pending.peek().map(|Reverse((t, ..))| *t);
            match (ends, next_claim) {
                (Some(te), c) if te <= trigger && te <= c => {
                    let Reverse((te, key, attempt)) = pending.pop().unwrap();
                    clock.set(Timestamp::from_micros(te));
                    finish(te, key, attempt);
                    events += 1;
                }
                (_, c) if c <= trigger => {
                    let now = Timestamp::from_micros(c);
                    clock.set(now);
                    for ticket in project.due_retries_at(now).expect("due_retries") {
                        let key = u64::from_str_radix(&ticket.job_id[4..], 16).unwrap();
                        pending.push(Reverse((
                            c + duration(key, ticket.attempt),
                            key,
                            ticket.attempt,
                        )));
                        events += 1;
                    }
                    next_claim += claim_every;
                }
                _ => break,
            }
        }
        clock.set(Timestamp::from_micros(trigger));
        project.start_run(&catalogue.new_run(i)).expect("start_run");
        events += 1;
        let key = job_key(i);
        pending.push(Reverse((trigger + duration(key, 1), key, 1)));
    }
    // Attempts that end by the end of the month end; the rest keep running.
    while let Some(&Reverse((te, key, attempt))) = pending.peek()
        && te <= end
    {
        pending.pop();
        clock.set(Timestamp::from_micros(te));
        finish(te, key, attempt);
        events += 1;
    }
    clock.set(month_end());
    project.sync().expect("sync");
    let built = t.elapsed();
    let counts = project
        .count_runs(&RunQuery::new().all_time())
        .expect("count");
    let journal: u64 = walk_size(dir.path());
    eprintln!(
        "built {total} runs ({events} events) in {built:.2?} ({:.2} µs/event); \
         journal {:.1} MB; {}",
        built.as_secs_f64() * 1e6 / events as f64,
        journal as f64 / 1e6,
        memory(),
    );
    eprintln!(
        "statuses (all time): {}",
        RunStatus::ALL
            .iter()
            .map(|s| format!("{s} {}", counts.status(*s)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Month {
        dir,
        clock,
        store,
        project,
    }
}

/// The directory of the month of runs: in memory (`/dev/shm`) when the
/// machine has it, since creating each hour's journal file costs two
/// `fsync`s (half the build time on a disk); else a temporary directory.
fn month_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(d) = tempfile::Builder::new()
            .prefix("runlog-bench")
            .tempdir_in(shm)
    {
        return d;
    }
    tempfile::tempdir().expect("tempdir")
}

/// Bytes of the files under `dir`.
fn walk_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => walk_size(&e.path()),
                    _ => e.metadata().map_or(0, |m| m.len()),
                })
                .sum()
        })
        .unwrap_or(0)
}

fn scheduled_tasks(c: &mut Criterion) {
    let total = run_count();
    eprintln!("before building: {}", memory());
    let m = build(total);
    let flow_query = RunQuery::new()
        .preset(Preset::Last7Days)
        .flow(QUERY_FLOW)
        .limit(100);
    let all_query = RunQuery::new().preset(Preset::Last7Days).limit(100);
    let page = m.project.scheduled_tasks(&flow_query).expect("query");
    assert_eq!(
        page.runs.len(),
        100,
        "{QUERY_FLOW} has fewer than 100 scheduled runs in 7 days: set RUNLOG_BENCH_RUNS higher"
    );
    assert!(
        page.runs
            .iter()
            .all(|r| r.flow == QUERY_FLOW && r.trigger == Trigger::Scheduler)
    );
    assert_eq!(
        m.project.query_runs(&all_query).expect("query").runs.len(),
        100
    );
    let week = m
        .project
        .count_runs(&RunQuery::new().preset(Preset::Last7Days))
        .expect("count");
    eprintln!(
        "last 7 days: {} runs; the page of {QUERY_FLOW} reaches back {:.1} h",
        week.total,
        (month_end().as_micros() - page.runs[99].trigger_time.as_micros()) as f64 / HOUR as f64
    );

    let mut g = c.benchmark_group(format!("scheduled_tasks_{total}"));
    g.bench_function("newest_100_scheduled_last7d_flow", |b| {
        b.iter(|| black_box(m.project.scheduled_tasks(&flow_query).unwrap()))
    });
    g.bench_function("newest_100_runs_last7d", |b| {
        b.iter(|| black_box(m.project.query_runs(&all_query).unwrap()))
    });
    g.bench_function("count_runs_last7d_by_status", |b| {
        b.iter(|| {
            black_box(
                m.project
                    .count_runs(&RunQuery::new().preset(Preset::Last7Days))
                    .unwrap(),
            )
        })
    });

    // Reopen: the journal replayed.
    let Month {
        dir,
        clock,
        store,
        project,
    } = m;
    drop(project);
    drop(store);
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(10));
    g.bench_function(format!("reopen_{total}_runs"), |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                let store = options(&clock).open(dir.path()).expect("reopen");
                let project = store.project("bench").expect("reopen project");
                elapsed += t.elapsed();
                black_box(&project);
                drop(project);
                drop(store);
            }
            elapsed
        })
    });
    let store = options(&clock).open(dir.path()).expect("reopen");
    let project = store.project("bench").expect("reopen project");
    eprintln!("reopened: {}", memory());
    let again = project
        .count_runs(&RunQuery::new().preset(Preset::Last7Days))
        .expect("count");
    assert_eq!(again.by_status, week.by_status, "reopened, other runs");
    assert!(project.damage().is_empty(), "{:?}", project.damage());

    // One event in a store of a month of runs (one journal file per
    // hour): runs triggered from the end of the month on, the clock half
    // an hour later.
    let catalogue = Catalogue::new();
    let mut next = 0;
    clock.set(Timestamp::from_micros(month_end().as_micros() + HOUR / 2));
    project
        .start_run(&NewRun::new("warm-up", "flow-0", Trigger::Scheduler).triggered_at(month_end()))
        .expect("first run of the hour");
    g.sample_size(100)
        .sampling_mode(SamplingMode::Auto)
        .measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(1));
    g.bench_function("record_run_event_in_month", |b| {
        b.iter_custom(|iters| record_events(&catalogue, &project, month_end(), &mut next, iters))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = run_event, scheduled_tasks
}
criterion_main!(benches);
