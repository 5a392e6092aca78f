//! The stress test's harness, included by `tests/stress.rs` alone: the
//! memory probes (a counting allocator, which the test installs, and the
//! process RSS), the settings, the state the threads share and the model
//! of the runs they drive; the writer, reader and follower threads are in
//! [`writer`], [`reader`] and [`follower`].

mod follower;
mod reader;
mod writer;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::common::rng::{Random, Rng};
use runlog::{Clock, Level, LogRecord, ManualClock, Project, Timestamp};

pub use follower::{FollowLog, follow_batch};
pub use reader::{ReaderLog, reader};
pub use writer::writer;

// ---------------------------------------------------------------------------
// Memory: a counting allocator (live heap bytes) and the process RSS.

pub struct Counting;

pub static LIVE: AtomicUsize = AtomicUsize::new(0);

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

/// Resident pages of the process, and of them the anonymous ones (heap,
/// stacks), from `/proc/self/statm`.
pub fn rss_pages() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap();
    let f: Vec<u64> = s.split_whitespace().map(|x| x.parse().unwrap()).collect();
    (f[1], f[1].saturating_sub(f[2]))
}

#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// Simulated time since T0, hours.
    pub hours: f64,
    pub live: usize,
    pub rss: u64,
    pub anon: u64,
    pub segments: usize,
}

// ---------------------------------------------------------------------------
// Settings

pub const HOUR: u64 = 3600;
pub const DAY: u64 = 24 * HOUR;
pub const RETENTION: Duration = Duration::from_secs(DAY);
pub const PARTITION: Duration = Duration::from_secs(600);
/// Simulated time each writer batch moves the clock on. Records per
/// simulated day are therefore fixed (288 batches of ~13 records),
/// whatever the machine's speed, so memory at steady state can be
/// compared between points in time.
pub const STEP: Duration = Duration::from_secs(300);
/// The clock covers at least this much, whatever the wall time.
pub const MIN_DAYS: u64 = 3;
/// Memory is first sampled once retention has dropped segments for a
/// while (the store then holds one day of records, as at every later
/// sample), then every `SAMPLE_EVERY`.
pub const WARM_UP: Duration = Duration::from_secs(DAY + 2 * HOUR);
pub const SAMPLE_EVERY: Duration = Duration::from_secs(4 * HOUR);
/// Automatic retries of the default policy: a run has at most 4 attempts.
pub const MAX_ATTEMPTS: usize = 4;
pub const WRITERS: usize = 3;
/// Each reader starts a walk every this many writer batches.
pub const READ_PACE: u64 = 2;
pub const READERS: usize = 2;
pub const WORDS: [&str; 4] = ["timeout", "refused", "accepted", "retry"];

/// About how many records the writers append per simulated day (batches
/// of 12.5 records on average, plus runs' and retries' logs).
pub const RECORDS_PER_DAY: usize = (DAY / STEP.as_secs()) as usize * 14;

pub fn work_time() -> Duration {
    let secs = std::env::var("RUNLOG_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(secs)
}

pub fn horizon(now: Timestamp) -> Timestamp {
    now.saturating_sub(RETENTION)
}

// ---------------------------------------------------------------------------
// Shared state

/// What the runtime (the writers together) did to one run.
#[derive(Debug)]
pub struct JobModel {
    pub trigger: Timestamp,
    /// One per attempt: `None` while running, then whether it succeeded.
    pub outcomes: Vec<Option<bool>>,
    /// runlog refused an event as the run was past the horizon: its
    /// state is then not known here.
    pub uncertain: bool,
}

pub struct Shared {
    pub clock: ManualClock,
    pub project: Project,
    pub stop: AtomicBool,
    /// Writers' sequence numbers, for readers to pick jobs that exist.
    pub seqs: Vec<AtomicU64>,
    /// Every run still within retention, as the writers drove it. Each
    /// change is made here before the call that makes it in runlog, so a
    /// thread that sees runlog's state also sees the model's.
    pub runs: Mutex<HashMap<String, JobModel>>,
    /// Claimed retries: (job, attempt) → claiming thread.
    pub claims: Mutex<HashMap<(String, u32), usize>>,
    /// Writer batches so far, for readers to pace themselves by.
    pub batches: Mutex<u64>,
    pub batched: Condvar,
}

impl Shared {
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Wait until the writers have done `n` more batches (or stopped):
    /// readers keep pace with writers instead of taking the CPU from them.
    pub fn wait_batches(&self, n: u64) {
        let mut b = self.batches.lock().unwrap();
        let target = *b + n;
        while *b < target && !self.stop.load(Ordering::Relaxed) {
            b = self.batched.wait(b).unwrap();
        }
    }

    pub fn stop(&self) {
        let _b = self.batches.lock().unwrap();
        self.stop.store(true, Ordering::Relaxed);
        self.batched.notify_all();
    }
}

/// A writer's log record `i`, at `t`, of `job`'s `attempt`.
pub fn record(rng: &mut Rng, w: usize, i: u64, t: Timestamp, job: &str, attempt: u32) -> LogRecord {
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
