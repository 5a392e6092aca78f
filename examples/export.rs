//! Download: every error of the last day as JSON Lines and as CSV (not
//! just one page), with progress, and one job's execution bundle.
//!
//! Run with `cargo run --release --example export`.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter};
use std::time::Duration;

use runlog::{
    Clock, ExportFormat, Level, ManualClock, NewRun, Preset, Query, StoreOptions, Timestamp,
    Trigger,
};
use runlog_sample::{Config, Generator};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let start = Timestamp::from_secs(1_764_028_800); // 2025-11-25T00:00:00Z
    let clock = ManualClock::new(start);
    let store = StoreOptions::new().clock(clock.clone()).open(dir.path())?;
    let logs = store.project("acme-shop")?;

    // A day of logs at 2 records a second.
    let mut generator = Generator::with_config(3, start, Config::new().records_per_sec(2));
    let end = start.saturating_add(Duration::from_secs(24 * 3600));
    while generator.now() < end {
        let batch = generator.batch(1_000);
        clock.set(generator.now());
        logs.append_batch(&batch)?;
    }

    let errors = Query::new().preset(Preset::LastDay).level(Level::Error);
    let total = logs.count(&errors)?.total;
    for (format, name) in [
        (ExportFormat::JsonLines, "errors.jsonl"),
        (ExportFormat::Csv, "errors.csv"),
    ] {
        let path = dir.path().join(name);
        let out = BufWriter::new(File::create(&path)?);
        let mut last_shown = 0;
        let summary = logs.export(
            &errors,
            runlog::ExportOptions::new(format).details(true),
            out,
            |written| {
                // A progress line every 25 %.
                if written * 4 / total.max(1) > last_shown {
                    last_shown = written * 4 / total.max(1);
                    println!("  {name}: {written} of {total}");
                }
            },
        )?;
        let size = std::fs::metadata(&path)?.len();
        println!(
            "{name}: {} records, {} KiB; first line:",
            summary.records,
            size / 1024
        );
        if let Some(line) = BufReader::new(File::open(&path)?).lines().next() {
            let line = line?;
            println!("  {}", line.chars().take(160).collect::<String>());
        }
    }

    // One execution, with its run: an execution bundle.
    let job = logs
        .query(&errors.clone().limit(1))?
        .records
        .first()
        .map(|r| r.record.job_id.clone())
        .ok_or("no error in the generated day")?;
    logs.start_run(&NewRun::new(
        job.as_str(),
        "sync-orders",
        Trigger::Scheduler,
    ))?;
    logs.attempt_failed(&job, 1, "POST /orders: 503")?;
    clock.set(clock.now().saturating_add(Duration::from_secs(5)));
    let bundle_path = dir.path().join("bundle.json");
    logs.export_execution(&job, BufWriter::new(File::create(&bundle_path)?))?;
    let bundle = logs.execution_bundle(&job)?;
    println!(
        "\nexecution bundle of {job}: run {}, {} log lines, {} bytes of JSON",
        bundle.run.map(|r| r.status.to_string()).unwrap_or_default(),
        bundle.logs.len(),
        std::fs::metadata(&bundle_path)?.len()
    );
    Ok(())
}
