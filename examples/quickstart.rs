//! The README demo: write a realistic day of iPaaS logs, then query them
//! the way the console's running-logs page does.
//!
//! Run with `cargo run --release --example quickstart`.

use std::time::Duration;

use runlog::{
    Clock, Level, LogRecord, ManualClock, NewRun, Preset, Query, RunQuery, RunStatus, StoreOptions,
    Timestamp, Trigger,
};
use runlog_sample::{Config, Generator};

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

    // 8. Runs: the runtime records each job's run; a failed attempt is
    // retried by the policy (3 retries, 5 s × 2 by default), and a retry
    // that succeeds supersedes the failure and hides its logs.
    let now = clock.now();
    for (i, flow) in ["nightly-export", "sync-orders", "sync-orders"]
        .iter()
        .enumerate()
    {
        let job = format!("sched-{i}");
        logs.start_run(&NewRun::new(job.as_str(), *flow, Trigger::Scheduler).env("prod"))?;
        logs.append(&LogRecord::new(now, Level::Info, job.as_str(), "flow started").flow(*flow))?;
    }
    logs.attempt_succeeded("sched-0", 1)?;
    logs.append(
        &LogRecord::new(
            now,
            Level::Error,
            "sched-1",
            "POST /orders: 503 Service Unavailable",
        )
        .flow("sync-orders"),
    )?;
    let run = logs.attempt_failed("sched-1", 1, "POST /orders: 503")?;
    println!(
        "
run sched-1 after its first failure: {} (retry due {})",
        run.status,
        run.next_retry.map(|t| t.to_string()).unwrap_or_default()
    );
    clock.advance(Duration::from_secs(5));
    for ticket in logs.due_retries()? {
        // The runtime runs the flow again; its logs carry the new attempt.
        let r = LogRecord::new(
            clock.now(),
            Level::Info,
            ticket.job_id.as_str(),
            "orders synced",
        )
        .flow(ticket.flow.as_str())
        .attempt(ticket.attempt);
        logs.append(&r)?;
        logs.attempt_succeeded(&ticket.job_id, ticket.attempt)?;
    }
    let job = logs.job_logs("sched-1")?;
    let all = logs.job_logs_including_superseded("sched-1")?;
    println!(
        "sched-1 is now {}: {} logs shown, {} with the superseded attempt",
        logs.run("sched-1")?
            .map(|r| r.status.to_string())
            .unwrap_or_default(),
        job.len(),
        all.len()
    );
    println!("scheduled tasks of the last day:");
    for r in logs
        .scheduled_tasks(&RunQuery::new().preset(Preset::LastDay))?
        .runs
    {
        println!(
            "  {} {:<8} {:<16} {:<10} {} attempt(s)",
            r.trigger_time,
            r.job_id,
            r.flow,
            r.status,
            r.attempts.len()
        );
    }
    let counts = logs.count_runs(&RunQuery::new().preset(Preset::LastDay))?;
    println!(
        "runs of the last day: {} — {} running, {} successful, {} failed",
        counts.total,
        counts.status(RunStatus::Running),
        counts.status(RunStatus::Successful),
        counts.status(RunStatus::Failed)
    );

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
