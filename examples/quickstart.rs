//! The README demo: write a realistic day of iPaaS logs, then query them
//! the way the console's running-logs page does.
//!
//! Run with `cargo run --release --example quickstart`.

use std::time::Duration;

use runlog::sample::{Config, Generator};
use runlog::{Level, ManualClock, Preset, Query, StoreOptions, Timestamp};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    // A store whose clock we drive, so a day of logs takes a second to write.
    let day_start = Timestamp::from_secs(1_764_028_800); // 2025-11-25T00:00:00Z
    let clock = ManualClock::new(day_start);
    let store = StoreOptions::new().clock(clock.clone()).open(dir.path())?;
    let logs = store.project("acme-shop")?;

    // 1. Write a day of logs: ~3 records a second from 300 flows.
    let mut generator = Generator::with_config(42, day_start, Config::new().records_per_sec(3));
    let end = day_start.saturating_add(Duration::from_secs(24 * 3600));
    let mut written = 0;
    while generator.now() < end {
        let batch = generator.batch(1_000);
        clock.set(generator.now());
        logs.append_batch(&batch)?;
        written += batch.len();
    }
    logs.sync()?;
    let segments = logs.segments()?;
    println!(
        "wrote {written} records into {} segments ({} sealed) in {}",
        segments.len(),
        segments.iter().filter(|s| s.sealed).count(),
        dir.path().display()
    );

    // 2. The console's default view: the newest logs of the last 30 minutes.
    let page = logs.query(&Query::new().limit(5))?;
    println!("\nnewest 5 of the last 30 minutes:");
    for r in &page.records {
        print_line(r);
    }

    // 3. A filtered search: errors in prod over the last day, containing "timeout".
    let q = Query::new()
        .preset(Preset::LastDay)
        .level(Level::Error)
        .env("prod")
        .text("timeout")
        .limit(5);
    let errors = logs.query(&q)?;
    println!("\nprod errors mentioning \"timeout\" in the last day (first page):");
    for r in &errors.records {
        print_line(r);
    }
    if let Some(cursor) = errors.next {
        let more = logs.query(&q.clone().after(cursor))?;
        println!("  … next page: {} more", more.records.len());
    }

    // 4. Job lookup: every log of the execution behind the first error.
    if let Some(first) = errors.records.first() {
        let job = logs.job_logs(&first.record.job_id)?;
        println!(
            "\njob {} ({} logs, oldest first):",
            first.record.job_id,
            job.len()
        );
        for r in job.iter().take(8) {
            print_line(r);
        }
        // 5. Details of one record, read only on demand.
        let shown = job.iter().find(|r| r.has_detail).unwrap_or(first);
        let full = logs.get(shown.id)?.expect("the record exists");
        let detail = full.record.detail.as_deref().unwrap_or("(no detail)");
        println!(
            "\ndetails of {}: {}",
            shown.id,
            detail.chars().take(300).collect::<String>()
        );
    }

    // 6. Counts per level and per 4-hour bucket, from the indexes alone.
    let counts = logs.count(
        &Query::new()
            .preset(Preset::LastDay)
            .bucket(Duration::from_secs(4 * 3600)),
    )?;
    println!(
        "\nlast day: {} logs — {} debug, {} info, {} warn, {} error",
        counts.total,
        counts.level(Level::Debug),
        counts.level(Level::Info),
        counts.level(Level::Warn),
        counts.level(Level::Error)
    );
    let widest = counts.buckets.iter().map(|b| b.1).max().unwrap_or(1).max(1);
    for (start, n) in &counts.buckets {
        println!(
            "  {start}  {:>6}  {}",
            n,
            "#".repeat((n * 40 / widest) as usize)
        );
    }

    // 7. Follow (auto refresh): new warnings and errors as they are appended.
    let mut follow = logs.follow(&Query::new().min_level(Level::Warn))?;
    let more = generator.batch(200);
    clock.set(generator.now());
    logs.append_batch(&more)?;
    let batch = follow.next_batch(Duration::from_secs(1))?;
    println!(
        "\nfollowing warnings and errors: {} new of 200 appended",
        batch.len()
    );
    for r in batch.iter().take(3) {
        print_line(r);
    }

    let report = logs.verify()?;
    println!(
        "\nverify: {} segments, {} records, {} problems",
        report.segments,
        report.records,
        report.problems.len()
    );
    Ok(())
}

fn print_line(r: &runlog::StoredRecord) {
    let rec = &r.record;
    let content: String = rec.content.chars().take(70).collect();
    println!(
        "  {} {:<5} {:<22} {:<24} {:<10} {:<5} {}",
        rec.time, rec.level, rec.job_id, rec.flow, rec.component, rec.env, content
    );
}
