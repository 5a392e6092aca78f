//! How late records affect append throughput as an active segment grows.
//!
//! Not a criterion benchmark: it appends a few million generated records
//! (`runlog_sample`) into one segment, in batches of 1,000, and prints the
//! throughput of every 500,000, with and without late records, at the
//! generator's default rate (2,000 records per second of generated time)
//! and at ten times that. A late record is up to 4 minutes older than the
//! newest one, so it lands behind every record appended within those 4
//! minutes; the faster records arrive, the more records that is.
//!
//! Run with `cargo bench --bench late_records`. `RUNLOG_LATE_RECORDS`
//! sets the records per run (default 2,000,000). The stores use
//! `SyncPolicy::Manual` and one-day partitions, so neither `fsync` nor an
//! hour rollover is measured: only the append path.

use std::time::{Duration, Instant};

use runlog::{ManualClock, StoreOptions, SyncPolicy, Timestamp};
use runlog_sample::{Config, Generator};

const BATCH: usize = 1_000;
const REPORT_EVERY: usize = 500_000;

fn run(late_fraction: f64, records_per_sec: u32, total: usize) {
    // 2025-01-06T00:05:00Z: late records stay in the same day.
    let start = Timestamp::from_secs(1_736_121_900);
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(start);
    let store = StoreOptions::new()
        .clock(clock.clone())
        .sync_policy(SyncPolicy::Manual)
        .partition(Duration::from_secs(86_400))
        .open(dir.path())
        .expect("open");
    let project = store.project("bench").expect("project");
    let cfg = Config::new()
        .late_fraction(late_fraction)
        .records_per_sec(records_per_sec);
    let mut generator = Generator::with_config(1, start, cfg);
    let mut line = format!(
        "late {:>4.1}%, {:>6} records/s of generated time:",
        late_fraction * 100.0,
        records_per_sec
    );
    let (mut timed, mut done) = (Duration::ZERO, 0);
    while done < total {
        let batch = generator.batch(BATCH);
        clock.set(generator.now().saturating_add(Duration::from_secs(1)));
        let t = Instant::now();
        project.append_batch(&batch).expect("append");
        timed += t.elapsed();
        done += BATCH;
        if done % REPORT_EVERY == 0 {
            let rate = REPORT_EVERY as f64 / timed.as_secs_f64() / 1e6;
            line.push_str(&format!(" {rate:.2}"));
            timed = Duration::ZERO;
        }
    }
    assert_eq!(project.segments().expect("segments").len(), 1);
    println!(
        "{line}  (M records/s per {}k appended)",
        REPORT_EVERY / 1_000
    );
}

fn main() {
    let total = std::env::var("RUNLOG_LATE_RECORDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000);
    for records_per_sec in [2_000, 20_000] {
        for late in [0.0, 0.01] {
            run(late, records_per_sec, total);
        }
    }
}
