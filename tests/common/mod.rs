//! Helpers shared by the scenario tests: each test file has `mod common;`
//! (`cli/tests/*.rs` include this file by its path).
//!
//! - this file: the tests' clock and time, store options and opens, a
//!   populated store, records, and reads;
//! - [`rng`]: the seeded generators;
//! - [`runs`]: run-journal files, run lookups, refused-call checks;
//! - [`files`]: directory snapshots.
//!
//! The harnesses of one scenario or group live here too but are included
//! only by their test files (`#[path = "common/…"] mod …;`), so the other
//! tests neither compile them nor get the failpoints feature or a global
//! allocator: `failpoints.rs` (the failpoint tests and `reader_cuts.rs`),
//! `kill/` (`kill.rs`), `stress/` (`stress.rs`) and `fuzz_seeds/`
//! (`fuzz_corpus.rs`).
#![allow(dead_code)] // Each test file uses some of it.

pub mod files;
pub mod rng;
pub mod runs;

use std::path::Path;
use std::time::Duration;

use runlog::{
    Level, LogRecord, ManualClock, Project, Query, RecordId, Store, StoreOptions, StoredRecord,
    SyncPolicy, TimeRange, Timestamp,
};

/// Seconds in a day.
pub const DAY: u64 = 86_400;

/// 2023-11-14T22:13:20Z, a Tuesday: the tests' "now" unless they move it.
pub const T0: Timestamp = Timestamp::from_secs(1_700_000_000);

pub fn clock() -> ManualClock {
    ManualClock::new(T0)
}

pub fn options(clock: &ManualClock) -> StoreOptions {
    StoreOptions::new()
        .clock(clock.clone())
        .sync_policy(SyncPolicy::Manual)
}

pub fn open(dir: &Path, clock: &ManualClock) -> Store {
    options(clock).open(dir).expect("open store")
}

/// A read-only open of the store at `dir` with `clock` (and the default
/// options otherwise).
pub fn read_only(dir: &Path, clock: &ManualClock) -> Store {
    StoreOptions::new()
        .clock(clock.clone())
        .open_read_only(dir)
        .expect("open the store read-only")
}

/// A small, distinct record `i` at time `t`.
pub fn rec(t: Timestamp, i: u64) -> LogRecord {
    let level = Level::ALL[(i % 4) as usize];
    let mut r = LogRecord::new(
        t,
        level,
        format!("job-{}", i / 7),
        format!("step {i} of the flow: POST /orders/{i} -> 200"),
    )
    .flow(format!("flow-{}", i % 5))
    .component("HTTP")
    .action("request")
    .category("output")
    .env(if i.is_multiple_of(3) { "test" } else { "prod" })
    .app("shop")
    .version("1.0");
    if i.is_multiple_of(5) {
        r = r.detail(format!(
            "{{\"i\": {i}, \"body\": \"{}\"}}",
            "x".repeat((i % 40) as usize)
        ));
    }
    r
}

/// A store with one project `p` holding `n` records spread over the three
/// hours before T0, then the clock moved 11 minutes on and what is due
/// sealed: the partitions before T0's are sealed, T0's is active.
pub fn populated(dir: &Path, clock: &ManualClock, n: u64) -> (Store, Project) {
    // The clock ends 11 minutes after T0: the grace of every partition but
    // the current one (whose segments were created at T0) is over.
    let store = open(dir, clock);
    let p = store.project("p").unwrap();
    // Spread over the last three hours: sealed partitions and an active one.
    let step = 3 * 3600 / n;
    for i in 0..n {
        p.append(&rec(T0.saturating_sub(secs(3 * 3600 - i * step)), i))
            .unwrap();
    }
    clock.advance(secs(11 * 60));
    p.seal_due().unwrap();
    (store, p)
}

/// Everything the project returns, newest first.
pub fn all(p: &Project) -> Vec<StoredRecord> {
    p.scan(TimeRange::all())
        .collect::<Result<Vec<_>, _>>()
        .expect("scan")
}

/// Every record matching `q`, newest first, through the library's pages
/// of `per_page` records (cursor to cursor).
pub fn pages(p: &Project, q: &Query, per_page: usize) -> Vec<StoredRecord> {
    let mut out = Vec::new();
    let mut q = q.clone().limit(per_page);
    loop {
        let page = p.query(&q).expect("page");
        out.extend(page.records);
        match page.next {
            Some(c) => q = q.after(c),
            None => return out,
        }
    }
}

/// The IDs of `job`'s records among `recs`, oldest first (the order of a
/// job lookup), as a brute force computes them.
pub fn job_log_ids(recs: &[(RecordId, LogRecord)], job: &str) -> Vec<RecordId> {
    let mut want: Vec<&(RecordId, LogRecord)> = recs
        .iter()
        .filter(|(_, r)| r.job_id.as_str() == job)
        .collect();
    want.sort_by_key(|(id, r)| (r.time, *id));
    want.iter().map(|(id, _)| *id).collect()
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}
