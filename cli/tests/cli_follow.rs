//! Reads follow a live writer: records and runs the writer appended (not
//! synced) are shown by the tool's read-only open; `logs --follow` prints
//! the matching records appended after it started and stops at
//! `--max-records`, or at `--timeout` when nothing comes.
//!
//! The tool runs as a separate process against a store this test process
//! writes (and keeps open as its writer; see `fixture/mod.rs`), its
//! answers checked against the library's own.

#[path = "../../tests/common/mod.rs"]
mod common;
mod fixture;

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::time::{Duration, Instant};

use fixture::*;
use runlog::{Clock, Level, LogRecord, NewRun, SystemClock, Trigger};

#[test]
fn reads_follow_a_live_writer() {
    let fx = Fixture::new();
    let p = fx.project();

    // Appended (not synced) by the writer in this process: seen by the tool's read-only open.
    let now = SystemClock.now();
    let ids = p
        .append_batch(&[
            LogRecord::new(now, Level::Error, "job-live", "live error one").flow("live"),
            LogRecord::new(now, Level::Info, "job-live", "live info").flow("live"),
        ])
        .unwrap();
    p.start_run(&NewRun::new("job-live", "live", Trigger::Event))
        .unwrap();
    let logs = fx.ok(&["logs", "--last", "10m", "--flow", "live", "--json"]);
    let got: Vec<String> = logs.rows().into_iter().map(|r| r.id).collect();
    let mut want: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    want.reverse();
    assert_eq!(got, want);
    let runs = fx.ok(&["runs", "--last", "1h", "--trigger", "event", "--json"]);
    assert_eq!(run_job_ids(&runs.stdout)[0], "job-live");

    // --follow prints records appended after it starts.
    let mut child = fx
        .command(&[
            "logs",
            "--follow",
            "--level",
            "error",
            "--max-records",
            "3",
            "--timeout",
            "20s",
            "--interval",
            "100ms",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut ready = String::new();
    stderr.read_line(&mut ready).unwrap();
    assert!(ready.starts_with("following"), "{ready}");
    let started = Instant::now();

    let t = SystemClock.now();
    let batch: Vec<LogRecord> = (0..6)
        .map(|i| {
            let level = if i % 2 == 0 {
                Level::Error
            } else {
                Level::Info
            };
            LogRecord::new(t, level, "job-follow", format!("followed #{i}")).flow("live")
        })
        .collect();
    let ids = p.append_batch(&batch).unwrap();
    p.sync().unwrap();

    let status = child.wait().unwrap();
    assert!(status.success());
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "stopped at --max-records, not --timeout"
    );
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let got: Vec<String> = json_rows(&out).into_iter().map(|r| r.id).collect();
    let want: Vec<String> = [0, 2, 4].iter().map(|&i| ids[i].to_string()).collect();
    assert_eq!(got, want);
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(rest.is_empty(), "{rest}");

    // --timeout stops a follow that sees nothing.
    let quiet = fx.ok(&[
        "logs",
        "--follow",
        "--flow",
        "nothing-here",
        "--timeout",
        "300ms",
    ]);
    assert!(quiet.stdout.is_empty());
}
