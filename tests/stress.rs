//! Stress (issue 6, item 3): everything at once on one project, while a
//! shared `ManualClock` moves over several days with a one-day retention
//! and 10-minute partitions, so sealing and retention happen hundreds of
//! times:
//!
//! - writer threads append batches (some records late, into partitions
//!   already sealed; some slightly ahead) and drive runs: start, fail or
//!   succeed, claim due retries (any writer may claim any run's retry),
//!   and the retried attempt's logs;
//! - reader threads walk pages newest first through cursors, over random
//!   filters and time ranges, and list runs;
//! - a follower follows warnings and errors;
//! - a maintenance thread seals, enforces retention and samples memory.
//!
//! It checks: no cursor walk returns a record twice, pages are strictly
//! ordered newest first by (time, record ID) across page boundaries, match
//! their filters and range, and never return a record older than the
//! retention horizon; the follower returns each matching record at most
//! once, per segment in append order, and by the end every matching record
//! still within retention exactly once; every acknowledged record still
//! within retention at the end is found, byte for byte, and nothing else;
//! each due retry is claimed once across threads and every run ends in the
//! state its events imply; and memory stays bounded while old segments are
//! dropped.
//!
//! It runs for about 3 seconds of work (and at least until the clock has
//! covered `MIN_DAYS`); set `RUNLOG_STRESS_SECS` for a longer run, e.g.
//! `RUNLOG_STRESS_SECS=60 cargo test --release --test stress -- --nocapture`.
//! Nothing sleeps: threads wait only on each other.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::T0;
use common::rng::{Random, Rng};
use runlog::{
    Clock, Error, Level, LogRecord, ManualClock, NewRun, Preset, Project, Query, RecordId,
    RunQuery, RunStatus, SegmentId, StoreOptions, SyncPolicy, TimeRange, Timestamp, Trigger,
};

// ---------------------------------------------------------------------------
// Memory: a counting allocator (live heap bytes) and the process RSS.

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counter is only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(new_size, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Resident pages of the process, and of them the anonymous ones (heap,
/// stacks), from `/proc/self/statm`.
fn rss_pages() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap();
    let f: Vec<u64> = s.split_whitespace().map(|x| x.parse().unwrap()).collect();
    (f[1], f[1].saturating_sub(f[2]))
}

#[derive(Clone, Copy, Debug)]
struct Sample {
    /// Simulated time since T0, hours.
    hours: f64,
    live: usize,
    rss: u64,
    anon: u64,
    segments: usize,
}

// ---------------------------------------------------------------------------
// Settings

const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;
const RETENTION: Duration = Duration::from_secs(DAY);
const PARTITION: Duration = Duration::from_secs(600);
/// Simulated time each writer batch moves the clock on. Records per
/// simulated day are therefore fixed (288 batches of ~13 records),
/// whatever the machine's speed, so memory at steady state can be
/// compared between points in time.
const STEP: Duration = Duration::from_secs(300);
/// The clock covers at least this much, whatever the wall time.
const MIN_DAYS: u64 = 3;
/// Memory is first sampled once retention has dropped segments for a
/// while (the store then holds one day of records, as at every later
/// sample), then every `SAMPLE_EVERY`.
const WARM_UP: Duration = Duration::from_secs(DAY + 2 * HOUR);
const SAMPLE_EVERY: Duration = Duration::from_secs(4 * HOUR);
/// Automatic retries of the default policy: a run has at most 4 attempts.
const MAX_ATTEMPTS: usize = 4;
const WRITERS: usize = 3;
/// Each reader starts a walk every this many writer batches.
const READ_PACE: u64 = 2;
const READERS: usize = 2;
const WORDS: [&str; 4] = ["timeout", "refused", "accepted", "retry"];

/// About how many records the writers append per simulated day (batches
/// of 12.5 records on average, plus runs' and retries' logs).
const RECORDS_PER_DAY: usize = (DAY / STEP.as_secs()) as usize * 14;

fn work_time() -> Duration {
    let secs = std::env::var("RUNLOG_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(secs)
}

fn horizon(now: Timestamp) -> Timestamp {
    now.saturating_sub(RETENTION)
}

// ---------------------------------------------------------------------------
// Shared state

/// What the runtime (the writers together) did to one run.
#[derive(Debug)]
struct JobModel {
    trigger: Timestamp,
    /// One per attempt: `None` while running, then whether it succeeded.
    outcomes: Vec<Option<bool>>,
    /// runlog refused an event as the run was past the horizon: its
    /// state is then not known here.
    uncertain: bool,
}

struct Shared {
    clock: ManualClock,
    project: Project,
    stop: AtomicBool,
    /// Writers' sequence numbers, for readers to pick jobs that exist.
    seqs: Vec<AtomicU64>,
    /// Every run still within retention, as the writers drove it. Each
    /// change is made here before the call that makes it in runlog, so a
    /// thread that sees runlog's state also sees the model's.
    runs: Mutex<HashMap<String, JobModel>>,
    /// Claimed retries: (job, attempt) → claiming thread.
    claims: Mutex<HashMap<(String, u32), usize>>,
    /// Writer batches so far, for readers to pace themselves by.
    batches: Mutex<u64>,
    batched: Condvar,
}

impl Shared {
    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Wait until the writers have done `n` more batches (or stopped):
    /// readers keep pace with writers instead of taking the CPU from them.
    fn wait_batches(&self, n: u64) {
        let mut b = self.batches.lock().unwrap();
        let target = *b + n;
        while *b < target && !self.stop.load(Ordering::Relaxed) {
            b = self.batched.wait(b).unwrap();
        }
    }

    fn stop(&self) {
        let _b = self.batches.lock().unwrap();
        self.stop.store(true, Ordering::Relaxed);
        self.batched.notify_all();
    }
}

/// A writer's log record `i`, at `t`, of `job`'s `attempt`.
fn record(rng: &mut Rng, w: usize, i: u64, t: Timestamp, job: &str, attempt: u32) -> LogRecord {
    let level = Level::ALL[rng.below(4) as usize];
    let word = WORDS[rng.below(WORDS.len() as u64) as usize];
    let mut r = LogRecord::new(t, level, job, format!("w{w} #{i} POST /orders/{i}: {word}"))
        .flow(format!("flow-{}", i % 5))
        .component("HTTP")
        .action("request")
        .env(if i.is_multiple_of(3) { "test" } else { "prod" })
        .app("shop")
        .version("1.0")
        .attempt(attempt);
    if rng.chance(8) {
        r = r.detail(format!(
            "{{\"w\": {w}, \"i\": {i}, \"pad\": \"{}\"}}",
            "x".repeat((i % 64) as usize)
        ));
    }
    r
}

// ---------------------------------------------------------------------------
// Writers

#[derive(Default)]
struct WriterLog {
    /// Acknowledged records not yet past the horizon.
    acked: Vec<(RecordId, LogRecord)>,
    records: u64,
    runs: u64,
    claimed: u64,
}

/// End attempt `attempt` of `job`: the model first, then runlog.
fn end_attempt(s: &Shared, rng: &mut Rng, job: &str, attempt: u32) {
    let ok = rng.chance(2);
    {
        let mut runs = s.runs.lock().unwrap();
        let Some(m) = runs.get_mut(job) else {
            // Pruned: only once its trigger time is past the horizon.
            return;
        };
        assert_eq!(m.outcomes.len(), attempt as usize, "{job}");
        assert_eq!(
            m.outcomes[attempt as usize - 1],
            None,
            "{job} attempt {attempt}"
        );
        m.outcomes[attempt as usize - 1] = Some(ok);
    }
    let result = if ok {
        s.project.attempt_succeeded(job, attempt)
    } else {
        s.project.attempt_failed(job, attempt, "POST /orders: 503")
    };
    match result {
        Ok(run) => {
            let status = run.status;
            let want = match (ok, attempt as usize) {
                (true, _) => RunStatus::Successful,
                (false, n) if n < MAX_ATTEMPTS => RunStatus::Retrying,
                (false, _) => RunStatus::Failed,
            };
            assert_eq!(status, want, "{job} attempt {attempt}");
        }
        Err(Error::UnknownJob { .. }) => {
            let mut runs = s.runs.lock().unwrap();
            if let Some(m) = runs.get_mut(job) {
                assert!(
                    m.trigger < horizon(s.now()),
                    "{job}: unknown while within retention"
                );
                m.uncertain = true;
            }
        }
        Err(e) => panic!("{job} attempt {attempt}: {e}"),
    }
}

fn writer(s: &Shared, w: usize, ticks: mpsc::Sender<()>, deadline: Instant) -> WriterLog {
    let mut rng = Rng(0x5EED + w as u64);
    // Room for what stays within retention, allocated once: a Vec that
    // doubles would add jitter to the memory samples.
    let mut log = WriterLog {
        acked: Vec::with_capacity(2 * RECORDS_PER_DAY / WRITERS + 64 * 40),
        ..WriterLog::default()
    };
    let min_end = T0.saturating_add(Duration::from_secs(MIN_DAYS * DAY));
    let cap = deadline + work_time() * 4 + Duration::from_secs(20);
    let mut i = 0u64;
    let mut k = 0u64;
    let mut iteration = 0u64;
    loop {
        let now = s.now();
        let wall = Instant::now();
        if (wall >= deadline && now >= min_end) || s.stop.load(Ordering::Relaxed) {
            break;
        }
        assert!(
            wall < cap,
            "the clock reached only {:.1} days",
            (now.as_micros() - T0.as_micros()) as f64 / 86_400e6
        );
        iteration += 1;

        // A batch of ordinary logs: most recent, some late (into sealed
        // partitions), a few slightly ahead of the clock.
        let n = 1 + rng.below(24);
        let mut batch = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let t = match rng.below(200) {
                // Past its partition's grace: into a new generation.
                0 => now.saturating_sub(rng.secs(40 * 60)),
                // Late, but mostly within the grace period.
                1..=20 => now.saturating_sub(rng.secs(15 * 60)),
                21..=30 => now.saturating_add(rng.secs(60)),
                _ => now.saturating_sub(rng.secs(5)),
            };
            let job = format!("w{w}-j{}", i / 16);
            batch.push(record(&mut rng, w, i, t, &job, 1));
            i += 1;
        }
        s.seqs[w].store(i, Ordering::Relaxed);
        let ids = if batch.len() == 1 {
            vec![s.project.append(&batch[0]).unwrap()]
        } else {
            s.project.append_batch(&batch).unwrap()
        };
        log.records += ids.len() as u64;
        log.acked.extend(ids.into_iter().zip(batch));

        // Sometimes a new run: its first attempt logs, then ends.
        if rng.chance(3) {
            let job = format!("w{w}-r{k}");
            k += 1;
            s.runs.lock().unwrap().insert(
                job.clone(),
                JobModel {
                    trigger: now,
                    outcomes: vec![None],
                    uncertain: false,
                },
            );
            let trigger =
                [Trigger::Scheduler, Trigger::Event, Trigger::Manual][rng.below(3) as usize];
            let run = s
                .project
                .start_run(&NewRun::new(job.as_str(), "flow-r", trigger).env("prod"))
                .unwrap();
            s.runs.lock().unwrap().get_mut(&job).unwrap().trigger = run.trigger_time;
            log.runs += 1;
            let t = s.now();
            let recs: Vec<_> = (0..2)
                .map(|_| {
                    i += 1;
                    record(&mut rng, w, i, t, &job, 1)
                })
                .collect();
            let ids = s.project.append_batch(&recs).unwrap();
            log.acked.extend(ids.into_iter().zip(recs));
            end_attempt(s, &mut rng, &job, 1);
        }

        // Claim whatever retries are due (any writer's runs): each is
        // handed to one thread only; run it, log it, end it.
        for ticket in s.project.due_retries(s.now()).unwrap() {
            let job = ticket.job_id.to_string();
            let key = (job.clone(), ticket.attempt);
            if let Some(other) = s.claims.lock().unwrap().insert(key, w) {
                panic!(
                    "{job} attempt {} claimed by writers {other} and {w}",
                    ticket.attempt
                );
            }
            {
                let mut runs = s.runs.lock().unwrap();
                match runs.get_mut(&job) {
                    Some(m) => {
                        assert_eq!(m.outcomes.len() + 1, ticket.attempt as usize, "{job}");
                        assert_eq!(
                            m.outcomes.last(),
                            Some(&Some(false)),
                            "{job}: claimed but not failed"
                        );
                        m.outcomes.push(None);
                    }
                    None => assert!(
                        ticket.trigger_time < horizon(s.now()),
                        "{job}: unknown claim"
                    ),
                }
            }
            log.claimed += 1;
            let t = s.now();
            i += 1;
            let r = record(&mut rng, w, i, t, &job, ticket.attempt);
            let id = s.project.append(&r).unwrap();
            log.acked.push((id, r));
            end_attempt(s, &mut rng, &job, ticket.attempt);
        }

        s.clock.advance(STEP);
        *s.batches.lock().unwrap() += 1;
        s.batched.notify_all();
        if iteration.is_multiple_of(4) {
            let _ = ticks.send(());
        }
        if iteration.is_multiple_of(64) {
            // What is past the horizon can never be asked for again.
            let h = horizon(s.now());
            log.acked.retain(|(_, r)| r.time >= h);
            if w == 0 {
                // Runs past the horizon, and their claims. A run's logs
                // can be up to a few batches newer than it, and whether
                // they are superseded is checked at the end: keep runs an
                // hour longer.
                let mut runs = s.runs.lock().unwrap();
                let keep = h.saturating_sub(Duration::from_secs(HOUR));
                runs.retain(|_, m| m.trigger >= keep);
                s.claims
                    .lock()
                    .unwrap()
                    .retain(|(job, _), _| runs.contains_key(job));
            }
        }
    }
    s.stop();
    log
}

// ---------------------------------------------------------------------------
// Readers

/// The filters of a reader's query, kept to check what comes back.
#[derive(Clone, Debug)]
struct Spec {
    levels: Vec<Level>,
    env: Option<&'static str>,
    flow: Option<String>,
    job: Option<String>,
    word: Option<&'static str>,
    include_superseded: bool,
}

impl Spec {
    fn random(rng: &mut Rng, s: &Shared) -> Spec {
        let levels = Level::ALL.into_iter().filter(|_| rng.chance(2)).collect();
        let env = rng
            .chance(3)
            .then(|| ["prod", "test"][rng.below(2) as usize]);
        let flow = rng.chance(4).then(|| format!("flow-{}", rng.below(5)));
        let job = rng.chance(6).then(|| {
            let w = rng.below(WRITERS as u64) as usize;
            let latest = s.seqs[w].load(Ordering::Relaxed) / 16;
            format!("w{w}-j{}", latest.saturating_sub(rng.below(200)))
        });
        let word = rng
            .chance(4)
            .then(|| WORDS[rng.below(WORDS.len() as u64) as usize]);
        Spec {
            levels,
            env,
            flow,
            job,
            word,
            include_superseded: rng.chance(2),
        }
    }

    fn query(&self) -> Query {
        let mut q = Query::new()
            .levels(&self.levels)
            .include_superseded(self.include_superseded);
        if let Some(e) = self.env {
            q = q.env(e);
        }
        if let Some(f) = &self.flow {
            q = q.flow(f.as_str());
        }
        if let Some(j) = &self.job {
            q = q.job_id(j.as_str());
        }
        if let Some(w) = self.word {
            q = q.text(&w.to_uppercase());
        }
        q
    }

    fn matches(&self, r: &LogRecord) -> bool {
        (self.levels.is_empty() || self.levels.contains(&r.level))
            && self.env.is_none_or(|e| r.env == e)
            && self.flow.as_deref().is_none_or(|f| r.flow == f)
            && self.job.as_deref().is_none_or(|j| r.job_id == j)
            && self.word.is_none_or(|w| r.content.contains(w))
    }
}

#[derive(Default, Debug)]
struct ReaderLog {
    walks: u64,
    pages: u64,
    records: u64,
    run_pages: u64,
}

fn reader(s: &Shared, id: usize) -> ReaderLog {
    let mut rng = Rng(0xBEEF + id as u64);
    let mut log = ReaderLog::default();
    while !s.stop.load(Ordering::Relaxed) {
        s.wait_batches(READ_PACE);
        if rng.chance(5) {
            run_walk(s, &mut rng, &mut log);
            continue;
        }
        let spec = Spec::random(&mut rng, s);
        let now = s.now();
        // A custom range around now, a relative one, a preset, or everything.
        let custom = match rng.below(4) {
            0 => {
                let to = now
                    .saturating_sub(rng.secs(30 * HOUR))
                    .saturating_add(Duration::from_secs(2 * HOUR));
                let from = to.saturating_sub(rng.secs(12 * HOUR));
                Some(TimeRange::new(from, to).unwrap())
            }
            _ => None,
        };
        let mut q = spec.query();
        q = match (custom, rng.below(4)) {
            (Some(r), _) => q.range(r),
            (None, 0) => q.last(rng.secs(40 * HOUR) + Duration::from_secs(1)),
            (None, 1) => q.preset(
                [
                    Preset::LastHour,
                    Preset::Last6Hours,
                    Preset::LastDay,
                    Preset::Last3Days,
                    Preset::Today,
                    Preset::Yesterday,
                ][rng.below(6) as usize],
            ),
            (None, _) => q.all_time(),
        };
        q = q.limit(1 + rng.below(100) as usize);

        // One walk: strictly newest first across pages, no repeats, all in
        // range, matching, never past the horizon.
        let mut seen: HashSet<RecordId> = HashSet::new();
        let mut prev: Option<(Timestamp, RecordId)> = None;
        let mut walk_range: Option<TimeRange> = None;
        let mut next = q.clone();
        for _ in 0..10 {
            let before = s.now();
            let page = s.project.query(&next).unwrap();
            log.pages += 1;
            let range = *walk_range.get_or_insert(page.range.range);
            if let Some(c) = custom {
                // Clamped to the horizon at most.
                assert!(range.from >= c.from);
                assert_eq!(range.to, c.to.max(range.from));
            }
            for r in &page.records {
                let key = (r.record.time, r.id);
                assert!(
                    prev.is_none_or(|p| key < p),
                    "{key:?} after {prev:?} in one walk of {spec:?}"
                );
                prev = Some(key);
                assert!(seen.insert(r.id), "{} returned twice in one walk", r.id);
                assert!(
                    r.record.time >= horizon(before),
                    "{} at {} is older than the horizon {} (clock {before} before the query)",
                    r.id,
                    r.record.time,
                    horizon(before)
                );
                assert!(range.contains(r.record.time), "{} outside {range:?}", r.id);
                assert!(spec.matches(&r.record), "{r:?} does not match {spec:?}");
                assert!(
                    spec.include_superseded || !r.superseded,
                    "{} is superseded",
                    r.id
                );
                assert!(r.record.detail.is_none());
            }
            log.records += page.records.len() as u64;
            // The details view of one of them.
            if let Some(r) = page.records.first()
                && rng.chance(4)
            {
                match s.project.get(r.id).unwrap() {
                    Some(full) => {
                        assert_eq!(full.record.content, r.record.content);
                        assert_eq!(full.has_detail, full.record.detail.is_some());
                    }
                    None => assert!(r.record.time < horizon(s.now()), "{} vanished", r.id),
                }
            }
            match page.next {
                Some(c) => next = q.clone().after(c),
                None => break,
            }
        }
        log.walks += 1;
    }
    log
}

/// Runs newest first by (trigger time, job), through cursors.
fn run_walk(s: &Shared, rng: &mut Rng, log: &mut ReaderLog) {
    let mut q = RunQuery::new().limit(1 + rng.below(50) as usize);
    q = match rng.below(3) {
        0 => q.all_time(),
        1 => q.preset(Preset::LastDay),
        _ => q.last(Duration::from_secs(6 * HOUR)),
    };
    let status = rng.chance(2).then(|| RunStatus::ALL[rng.below(4) as usize]);
    if let Some(st) = status {
        q = q.status(st);
    }
    let mut prev: Option<(Timestamp, String)> = None;
    let mut next = q.clone();
    for _ in 0..10 {
        let before = s.now();
        let page = s.project.runs(&next).unwrap();
        log.run_pages += 1;
        for r in &page.runs {
            let key = (r.trigger_time, r.job_id.to_string());
            assert!(
                prev.as_ref().is_none_or(|p| key < *p),
                "{key:?} after {prev:?}"
            );
            assert!(r.trigger_time >= horizon(before));
            if let Some(st) = status {
                assert_eq!(r.status, st);
            }
            prev = Some(key);
        }
        match page.next {
            Some(c) => next = q.clone().after(c),
            None => break,
        }
    }
}

// ---------------------------------------------------------------------------
// Follower

#[derive(Default)]
struct FollowLog {
    /// Every record returned, with its time (pruned past the horizon).
    seen: HashMap<RecordId, Timestamp>,
    /// Highest ordinal returned per segment, by earlier batches.
    last: HashMap<SegmentId, u32>,
    total: u64,
    batches: u64,
}

fn follow_batch(
    s: &Shared,
    f: &mut runlog::Follow,
    log: &mut FollowLog,
    timeout: Duration,
) -> usize {
    let before = s.now();
    let batch = f.next_batch(timeout).unwrap();
    for w in batch.windows(2) {
        assert!((w[0].record.time, w[0].id) < (w[1].record.time, w[1].id));
    }
    let mut first_in_batch: HashMap<SegmentId, u32> = HashMap::new();
    for r in &batch {
        assert!(r.record.level >= Level::Warn);
        assert!(
            r.record.time >= horizon(before),
            "followed {} at {} is older than the horizon {}",
            r.id,
            r.record.time,
            horizon(before)
        );
        assert!(
            log.seen.insert(r.id, r.record.time).is_none(),
            "{} followed twice",
            r.id
        );
        let lo = first_in_batch.entry(r.id.segment).or_insert(r.id.ordinal);
        *lo = (*lo).min(r.id.ordinal);
    }
    // Per segment, a batch continues after everything earlier batches returned.
    for (seg, lo) in &first_in_batch {
        if let Some(prev) = log.last.get(seg) {
            assert!(
                lo > prev,
                "segment {seg:?}: ordinal {lo} followed after {prev}"
            );
        }
    }
    for r in &batch {
        let e = log.last.entry(r.id.segment).or_insert(r.id.ordinal);
        *e = (*e).max(r.id.ordinal);
    }
    log.total += batch.len() as u64;
    log.batches += 1;
    if log.batches.is_multiple_of(64) {
        // Records past this horizon can never be returned again (it would
        // fail the check above): forget them.
        let h = horizon(before);
        log.seen.retain(|_, t| *t >= h);
        log.last.retain(|seg, _| {
            i64::from(seg.partition + 1) * PARTITION.as_micros() as i64 > h.as_micros()
        });
    }
    batch.len()
}

// ---------------------------------------------------------------------------

#[test]
fn everything_at_once_over_several_days() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let opts = || {
        StoreOptions::new()
            .clock(clock.clone())
            .sync_policy(SyncPolicy::Manual)
            .partition(PARTITION)
            .retention(RETENTION)
    };
    let store = opts().open(dir.path()).unwrap();
    let project = store.project("p").unwrap();
    let shared = Arc::new(Shared {
        clock: clock.clone(),
        project: project.clone(),
        stop: AtomicBool::new(false),
        seqs: (0..WRITERS).map(|_| AtomicU64::new(0)).collect(),
        runs: Mutex::new(HashMap::with_capacity(RECORDS_PER_DAY / 10)),
        claims: Mutex::new(HashMap::with_capacity(RECORDS_PER_DAY / 10)),
        batches: Mutex::new(0),
        batched: Condvar::new(),
    });
    let follow_q = Query::new().min_level(Level::Warn).include_superseded(true);
    let mut follower = project.follow(&follow_q).unwrap();
    let deadline = Instant::now() + work_time();

    let (tick_tx, tick_rx) = mpsc::channel::<()>();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let s = Arc::clone(&shared);
            let tx = tick_tx.clone();
            thread::spawn(move || writer(&s, w, tx, deadline))
        })
        .collect();
    drop(tick_tx);
    let readers: Vec<_> = (0..READERS)
        .map(|r| {
            let s = Arc::clone(&shared);
            thread::spawn(move || reader(&s, r))
        })
        .collect();
    let follow_thread = {
        let s = Arc::clone(&shared);
        thread::spawn(move || {
            let mut log = FollowLog {
                seen: HashMap::with_capacity(RECORDS_PER_DAY * 2),
                last: HashMap::with_capacity(2048),
                ..FollowLog::default()
            };
            while !s.stop.load(Ordering::Relaxed) {
                follow_batch(&s, &mut follower, &mut log, Duration::from_millis(50));
            }
            (follower, log)
        })
    };
    // Maintenance: sealing and retention as a runtime's timer would, and
    // memory samples at fixed points of simulated time.
    let maintenance = {
        let s = Arc::clone(&shared);
        thread::spawn(move || {
            let mut samples = Vec::with_capacity(2048);
            let mut next_sample = T0.saturating_add(WARM_UP);
            // Segments made so far: counted, not kept (a set of every ID
            // would grow with the days and show in the memory samples).
            let mut current: HashSet<SegmentId> = HashSet::new();
            let mut made = 0usize;
            let mut baseline = None;
            let mut ticks = 0;
            while tick_rx.recv().is_ok() {
                ticks += 1;
                if ticks == 4 {
                    // Every thread has started and made its buffers; the
                    // store holds an hour or so of records.
                    baseline = Some(LIVE.load(Ordering::Relaxed));
                }
                s.project.seal_due().unwrap();
                s.project.enforce_retention().unwrap();
                let ids: HashSet<SegmentId> = s
                    .project
                    .segments()
                    .unwrap()
                    .into_iter()
                    .map(|s| s.id)
                    .collect();
                made += ids.difference(&current).count();
                current = ids;
                let now = s.now();
                if now >= next_sample {
                    let (rss, anon) = rss_pages();
                    samples.push(Sample {
                        hours: (now.as_micros() - T0.as_micros()) as f64 / 3_600e6,
                        live: LIVE.load(Ordering::Relaxed),
                        rss,
                        anon,
                        segments: s.project.segments().unwrap().len(),
                    });
                    next_sample = next_sample.saturating_add(SAMPLE_EVERY);
                }
            }
            (samples, made, baseline.unwrap())
        })
    };

    let mut logs = Vec::new();
    for w in writers {
        logs.push(w.join().unwrap());
    }
    let reader_logs: Vec<_> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    let (mut follower, mut follow_log) = follow_thread.join().unwrap();
    let (samples, segments_seen, baseline) = maintenance.join().unwrap();
    let work = started.elapsed();

    // ---- Runs: claim what is still due, then check every run's state.
    let end = clock.now();
    let h_end = horizon(end);
    for ticket in project.due_retries(end).unwrap() {
        let job = ticket.job_id.to_string();
        assert!(
            shared
                .claims
                .lock()
                .unwrap()
                .insert((job.clone(), ticket.attempt), usize::MAX)
                .is_none(),
            "{job} attempt {} claimed twice",
            ticket.attempt
        );
        let mut runs = shared.runs.lock().unwrap();
        let m = runs.get_mut(&job).unwrap();
        assert_eq!(m.outcomes.len() + 1, ticket.attempt as usize);
        m.outcomes.push(Some(true));
        drop(runs);
        project.attempt_succeeded(&job, ticket.attempt).unwrap();
    }
    let runs = shared.runs.lock().unwrap();
    let claims = shared.claims.lock().unwrap();
    let mut visible_runs = 0;
    let mut successful_attempt: HashMap<&str, u32> = HashMap::new();
    for (job, m) in runs.iter() {
        let run = project.run(job).unwrap();
        if m.trigger < h_end {
            assert!(run.is_none(), "{job} is past the horizon");
            continue;
        }
        visible_runs += 1;
        let run = run.unwrap_or_else(|| panic!("{job} is missing"));
        assert_eq!(run.trigger_time, m.trigger);
        let n = m.outcomes.len();
        assert_eq!(run.attempts.len(), n, "{job}: {run:?} vs {m:?}");
        for (k, (a, want)) in run.attempts.iter().zip(&m.outcomes).enumerate() {
            assert_eq!(a.number as usize, k + 1, "{job}");
            let want = want.unwrap_or_else(|| panic!("{job} attempt {} never ended", k + 1));
            let outcome = if want {
                runlog::Outcome::Succeeded
            } else {
                runlog::Outcome::Failed
            };
            assert_eq!(a.outcome, outcome, "{job} attempt {}", k + 1);
            if k > 0 {
                assert!(
                    claims.contains_key(&(job.clone(), k as u32 + 1)),
                    "{job} attempt {} was never claimed",
                    k + 1
                );
            }
        }
        let last_ok = m.outcomes[n - 1] == Some(true);
        let want = match (last_ok, n) {
            (true, _) => RunStatus::Successful,
            (false, n) if n < MAX_ATTEMPTS => RunStatus::Retrying,
            (false, _) => RunStatus::Failed,
        };
        assert_eq!(run.status, want, "{job}: {run:?}");
        if want == RunStatus::Retrying {
            assert!(
                run.next_retry.unwrap() > end,
                "{job}: a due retry was left unclaimed"
            );
        }
        if last_ok {
            for a in &run.attempts[..n - 1] {
                assert!(
                    a.superseded,
                    "{job} attempt {} should be superseded",
                    a.number
                );
            }
        }
    }
    // A successful retry supersedes the earlier attempts' logs, also once
    // the run itself is past the horizon while logs of it are not.
    for (job, m) in runs.iter() {
        if let Some(Some(true)) = m.outcomes.last()
            && !m.uncertain
        {
            successful_attempt.insert(job, m.outcomes.len() as u32);
        }
    }
    let counted = project.count_runs(&RunQuery::new().all_time()).unwrap();
    assert_eq!(counted.total, visible_runs);

    // ---- Logs: every acknowledged record still within retention, once,
    // byte for byte; nothing else.
    let mut expected: HashMap<RecordId, LogRecord> = HashMap::new();
    let mut total_records = 0;
    for log in &logs {
        total_records += log.records;
        for (id, r) in &log.acked {
            if r.time >= h_end {
                assert!(
                    expected.insert(*id, r.clone()).is_none(),
                    "ID {id} handed out twice"
                );
            }
        }
    }
    let all_q = Query::new().all_time().include_superseded(true).limit(2000);
    let mut found = 0;
    let mut prev: Option<(Timestamp, RecordId)> = None;
    let mut next = all_q.clone();
    loop {
        let page = project.query(&next).unwrap();
        for r in &page.records {
            let key = (r.record.time, r.id);
            assert!(prev.is_none_or(|p| key < p));
            prev = Some(key);
            let want = expected.get(&r.id).unwrap_or_else(|| {
                panic!(
                    "{} at {} was never acknowledged (or is past the horizon)",
                    r.id, r.record.time
                )
            });
            assert_eq!(
                r.record,
                LogRecord {
                    detail: None,
                    ..want.clone()
                },
                "{}",
                r.id
            );
            assert_eq!(r.has_detail, want.detail.is_some());
            let job = r.record.job_id.as_str();
            if job.contains("-r") {
                let m = runs
                    .get(job)
                    .unwrap_or_else(|| panic!("{job} left the model too early"));
                if !m.uncertain {
                    let superseded = successful_attempt
                        .get(job)
                        .is_some_and(|&ok| r.record.attempt < ok);
                    assert_eq!(r.superseded, superseded, "{} of {job}: {m:?}", r.id);
                }
            } else {
                assert!(!r.superseded, "{}", r.id);
            }
            if found % 17 == 0 {
                assert_eq!(project.get(r.id).unwrap().unwrap().record, *want);
            }
            found += 1;
        }
        match page.next {
            Some(c) => next = all_q.clone().after(c),
            None => break,
        }
    }
    assert_eq!(
        found,
        expected.len(),
        "acknowledged records within retention were lost"
    );
    assert!(project.damage().is_empty(), "{:#?}", project.damage());

    // ---- The follower: drain what is left; by now it has returned every
    // matching record still within retention, exactly once.
    while follow_batch(&shared, &mut follower, &mut follow_log, Duration::ZERO) > 0 {}
    let followed: HashSet<RecordId> = follow_log
        .seen
        .iter()
        .filter(|(_, t)| **t >= h_end)
        .map(|(id, _)| *id)
        .collect();
    let want_followed: HashSet<RecordId> = expected
        .iter()
        .filter(|(_, r)| r.level >= Level::Warn)
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(followed.len(), want_followed.len());
    assert_eq!(followed, want_followed);

    // ---- Memory. Each sample is taken at a point of simulated time past
    // the warm-up, when the store holds one day of records (a fixed number
    // per simulated day, see STEP): runlog's live set (active segments and
    // their in-memory indexes, the tables and job directory of a day of
    // sealed segments, the run table, superseded attempts) and this test's
    // (writers' acknowledged records, the follower's seen set, the run
    // model, all allocated up front) are then the same at every sample, up
    // to the randomness of batch sizes, late records and runs, and to
    // what other threads hold at that instant: in practice the samples
    // stay within ±100 KiB of each other. A leak of anything per record,
    // segment or run instead grows steadily, so the test compares the mean
    // of the last third of the samples with that of the first third (in
    // the default run about 36 simulated hours, ~5,500 records, apart).
    // The allowance is an eighth of the heap that depends on the data (the
    // first third's mean less the baseline taken before there was any)
    // plus 64 KiB: about 160 KiB, which a leak of 30-odd bytes per record
    // already exceeds in the default run; a longer RUNLOG_STRESS_SECS run
    // catches any leak at all. A single sample may also not exceed the
    // first third's mean by more than half the data-dependent heap.
    assert!(samples.len() >= 6, "too few memory samples: {samples:?}");
    let third = samples.len() / 3;
    let mean = |s: &[Sample]| s.iter().map(|s| s.live).sum::<usize>() / s.len();
    let early = mean(&samples[..third]);
    let late = mean(&samples[samples.len() - third..]);
    let data = early.saturating_sub(baseline);
    assert!(
        late <= early + data / 8 + (64 << 10),
        "the live heap grew from {early} to {late} bytes, over {data} bytes that depend on \
         the data (baseline {baseline}): {samples:#?}"
    );
    let max_live = samples.iter().map(|s| s.live).max().unwrap();
    assert!(
        max_live <= early + data / 2,
        "a spike of {max_live} bytes: {samples:#?}"
    );
    let first = samples[0];
    // Segment files: a day of partitions and late generations each time.
    let max_segments = samples.iter().map(|s| s.segments).max().unwrap();
    assert!(
        max_segments as f64 <= first.segments as f64 * 1.25,
        "segments grew: {samples:#?}"
    );
    // RSS counts the same data, the pages of the mapped sealed segments (a
    // day of them each time), and the memory the allocator keeps after
    // frees: its per-thread arenas settle 10-20 % above the first sample
    // within a few simulated hours and stay there. 1.5× leaves room for
    // that, not for growth without bound.
    let max_rss = samples.iter().map(|s| s.rss).max().unwrap();
    assert!(
        max_rss as f64 <= first.rss as f64 * 1.5,
        "RSS grew: {samples:#?}"
    );

    let days = (end.as_micros() - T0.as_micros()) as f64 / 86_400e6;
    let segments_left = project.segments().unwrap().len();
    let readers_total = reader_logs.iter().fold(ReaderLog::default(), |mut a, r| {
        a.walks += r.walks;
        a.pages += r.pages;
        a.records += r.records;
        a.run_pages += r.run_pages;
        a
    });
    eprintln!(
        "stress: {work:.2?} of work, {days:.1} simulated days, {} batches, {total_records} records \
         ({} within retention at the end), {} runs ({visible_runs} within retention), {} retries claimed, \
         {segments_seen} segments seen, {} left; readers: {readers_total:?}; follower: {} records in {} batches",
        *shared.batches.lock().unwrap(),
        expected.len(),
        logs.iter().map(|l| l.runs).sum::<u64>(),
        logs.iter().map(|l| l.claimed).sum::<u64>(),
        segments_left,
        follow_log.total,
        follow_log.batches,
    );
    eprintln!(
        "  baseline live heap {:.2} MiB",
        baseline as f64 / (1 << 20) as f64
    );
    for s in &samples {
        eprintln!(
            "  {:6.1} h: live heap {:6.2} MiB, RSS {:6} pages (anon {:6}), {} segments",
            s.hours,
            s.live as f64 / (1 << 20) as f64,
            s.rss,
            s.anon,
            s.segments
        );
    }

    // ---- And the same after reopening the store.
    let want_records = expected.len() as u64;
    drop(successful_attempt);
    drop((runs, claims));
    drop((follower, shared, project, store));
    let store = opts().open(dir.path()).unwrap();
    let project = store.project("p").unwrap();
    let all = Query::new().all_time().include_superseded(true);
    assert_eq!(project.count(&all).unwrap().total, want_records);
    let counted = project.count_runs(&RunQuery::new().all_time()).unwrap();
    assert_eq!(counted.total, visible_runs);
    assert!(project.damage().is_empty(), "{:#?}", project.damage());
}
