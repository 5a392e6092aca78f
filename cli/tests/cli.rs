//! The `runlog` command-line tool, run as a separate process against a
//! store this test process writes (and keeps open as its writer), its
//! answers checked against the library's own.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "../../tests/common/mod.rs"]
mod common;

use common::pages;
use runlog::{
    Clock, ExecutionBundle, ExportRow, Level, LogRecord, ManualClock, NewRun, Project, Query,
    RetryPolicy, Run, RunQuery, RunStatus, Store, StoreOptions, StoredRecord, SyncPolicy,
    SystemClock, TimeRange, Timestamp, Trigger,
};
use runlog_sample::Spread;

const PROJECT: &str = "shop";

/// A store with ~3,000 generated records over the last three hours (some
/// segments sealed) and four runs:
///
/// | job | trigger | status |
/// |---|---|---|
/// | `job-sched-ok` | scheduler | successful |
/// | `job-event-running` | event | running |
/// | `job-retried` | scheduler | successful at attempt 2 (attempt 1 failed, superseded) |
/// | `job-failed` | event | failed (no retries for its flow) |
struct Fixture {
    dir: tempfile::TempDir,
    /// The real time when the store was built (the writer's clock stays there).
    now: Timestamp,
    writer: Option<(Store, Project)>,
}

impl Fixture {
    fn new() -> Fixture {
        let now = SystemClock.now();
        let start = now.saturating_sub(Duration::from_secs(3 * 3600));
        let clock = ManualClock::new(start);
        let dir = tempfile::tempdir().unwrap();
        let store = StoreOptions::new()
            .clock(clock.clone())
            .sync_policy(SyncPolicy::Manual)
            .open(dir.path())
            .unwrap();
        let project = store.project(PROJECT).unwrap();

        // Generated traffic, the clock following it; nothing in the last two minutes.
        let cutoff = now.saturating_sub(Duration::from_secs(120));
        let mut spread = Spread::new(7, start, 3_000, Duration::from_secs(3 * 3600 - 15 * 60));
        for _ in 0..6 {
            let batch: Vec<LogRecord> = spread
                .batch(500)
                .into_iter()
                .filter(|r| r.time <= cutoff)
                .collect();
            if let Some(latest) = batch.iter().map(|r| r.time).max() {
                clock.set(latest.max(clock.now()));
            }
            project.append_batch(&batch).unwrap();
        }
        clock.set(now);
        project.seal_due().unwrap();

        // Runs, with their logs.
        let ago = |mins: u64| now.saturating_sub(Duration::from_secs(mins * 60));
        let log = |mins: u64, level: Level, job: &str, flow: &str, attempt: u32, content: &str| {
            LogRecord::new(ago(mins), level, job, content)
                .flow(flow)
                .component("HTTP")
                .action("request")
                .env("prod")
                .app("shop")
                .version("1.0")
                .attempt(attempt)
        };
        let new_run = |job: &str, flow: &str, trigger: Trigger, mins: u64| {
            NewRun::new(job, flow, trigger)
                .env("prod")
                .app("shop")
                .version("1.0")
                .triggered_at(ago(mins))
        };

        project
            .start_run(&new_run(
                "job-sched-ok",
                "nightly-export",
                Trigger::Scheduler,
                50,
            ))
            .unwrap();
        project
            .append_batch(&[
                log(
                    50,
                    Level::Info,
                    "job-sched-ok",
                    "nightly-export",
                    1,
                    "export started",
                ),
                log(
                    49,
                    Level::Debug,
                    "job-sched-ok",
                    "nightly-export",
                    1,
                    "wrote 120 rows",
                ),
                log(
                    48,
                    Level::Info,
                    "job-sched-ok",
                    "nightly-export",
                    1,
                    "export done",
                ),
            ])
            .unwrap();
        project.attempt_succeeded("job-sched-ok", 1).unwrap();

        project
            .start_run(&new_run("job-event-running", "webhook", Trigger::Event, 40))
            .unwrap();
        project
            .append_batch(&[
                log(
                    40,
                    Level::Info,
                    "job-event-running",
                    "webhook",
                    1,
                    "event received",
                ),
                log(
                    39,
                    Level::Warn,
                    "job-event-running",
                    "webhook",
                    1,
                    "slow consumer",
                ),
            ])
            .unwrap();

        project
            .start_run(&new_run(
                "job-retried",
                "sync-orders",
                Trigger::Scheduler,
                30,
            ))
            .unwrap();
        project
            .append_batch(&[
                log(
                    30,
                    Level::Info,
                    "job-retried",
                    "sync-orders",
                    1,
                    "sync started",
                ),
                log(
                    29,
                    Level::Error,
                    "job-retried",
                    "sync-orders",
                    1,
                    "POST /orders failed: timeout after 30000 ms",
                )
                .detail("{\"status\": 504, \"body\": \"gateway timeout\"}"),
            ])
            .unwrap();
        let run = project
            .attempt_failed("job-retried", 1, "timeout after 30000 ms")
            .unwrap();
        assert_eq!(run.status, RunStatus::Retrying);
        let tickets = project
            .due_retries(now.saturating_add(Duration::from_secs(10)))
            .unwrap();
        assert_eq!(tickets.len(), 1);
        assert_eq!(tickets[0].attempt, 2);
        project
            .append(&log(
                28,
                Level::Info,
                "job-retried",
                "sync-orders",
                2,
                "sync done on retry",
            ))
            .unwrap();
        project.attempt_succeeded("job-retried", 2).unwrap();

        project
            .set_flow_retry_policy("push-invoices", Some(RetryPolicy::none()))
            .unwrap();
        project
            .start_run(&new_run("job-failed", "push-invoices", Trigger::Event, 20))
            .unwrap();
        project
            .append(
                &log(
                    20,
                    Level::Error,
                    "job-failed",
                    "push-invoices",
                    1,
                    "invoices API: HTTP 503",
                )
                .detail("Service Unavailable\n  at push-invoices/HTTP"),
            )
            .unwrap();
        let run = project
            .attempt_failed("job-failed", 1, "HTTP 503 from invoices API")
            .unwrap();
        assert_eq!(run.status, RunStatus::Failed);
        project.sync().unwrap();

        Fixture {
            dir,
            now,
            writer: Some((store, project)),
        }
    }

    /// The writer's project handle.
    fn project(&self) -> &Project {
        &self.writer.as_ref().expect("writer open").1
    }

    /// Close the writer (release the store's lock).
    fn close_writer(&mut self) {
        self.writer = None;
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A `Command` for the tool, the store given by `RUNLOG_STORE`.
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_runlog"));
        c.args(args)
            .env("RUNLOG_STORE", self.path())
            .env_remove("NO_COLOR");
        c
    }

    fn run(&self, args: &[&str]) -> Run_ {
        Run_::of(self.command(args).output().unwrap())
    }

    /// Run, expecting success.
    fn ok(&self, args: &[&str]) -> Run_ {
        let r = self.run(args);
        assert_eq!(r.code, 0, "runlog {args:?} failed: {}", r.stderr);
        r
    }
}

/// What a run of the tool printed.
struct Run_ {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run_ {
    fn of(o: Output) -> Run_ {
        Run_ {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8(o.stdout).unwrap(),
            stderr: String::from_utf8(o.stderr).unwrap(),
        }
    }

    fn rows(&self) -> Vec<ExportRow> {
        json_rows(&self.stdout)
    }

    /// The cursor printed as `next: --cursor C` (stdout or stderr).
    fn cursor(&self) -> Option<String> {
        self.stdout
            .lines()
            .chain(self.stderr.lines())
            .find_map(|l| l.strip_prefix("next: --cursor "))
            .map(str::to_owned)
    }

    /// Assert a failure with exactly one line on stderr.
    fn assert_one_line_error(&self, code: i32, what: &str) {
        assert_eq!(
            self.code, code,
            "{what}: exit status; stderr: {}",
            self.stderr
        );
        assert_eq!(
            self.stderr.lines().count(),
            1,
            "{what}: stderr should be one line: {:?}",
            self.stderr
        );
        assert!(
            self.stderr.starts_with("runlog: error: "),
            "{what}: {:?}",
            self.stderr
        );
    }
}

fn json_rows(text: &str) -> Vec<ExportRow> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn rows(records: &[StoredRecord]) -> Vec<ExportRow> {
    records.iter().map(ExportRow::new).collect()
}

fn job_ids(runs: &[Run]) -> Vec<String> {
    runs.iter().map(|r| r.job_id.to_string()).collect()
}

fn run_job_ids(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|l| serde_json::from_str::<Run>(l).unwrap().job_id.to_string())
        .collect()
}

#[test]
fn logs_pages_match_the_library() {
    let fx = Fixture::new();
    let p = fx.project();

    // First page, then the next one through the printed cursor.
    let first = fx.ok(&["logs", "--all", "--json", "--limit", "5"]);
    let q = Query::new().all_time().limit(5);
    let page = p.query(&q).unwrap();
    assert_eq!(first.rows(), rows(&page.records));
    let cursor = first.cursor().expect("a cursor on stderr");
    assert!(
        !first.stdout.contains("next:"),
        "JSON output holds only rows"
    );
    let second = fx.ok(&[
        "logs", "--all", "--json", "--limit", "5", "--cursor", &cursor,
    ]);
    let page2 = p.query(&q.clone().after(page.next.unwrap())).unwrap();
    assert_eq!(second.rows(), rows(&page2.records));

    // Filters and a custom range.
    let from = fx.now.saturating_sub(Duration::from_secs(2 * 3600));
    let to = fx.now.saturating_sub(Duration::from_secs(30 * 60));
    let (from_s, to_s) = (from.to_string(), to.to_string());
    let range = TimeRange::new(from, to).unwrap();
    let cases: Vec<(Vec<&str>, Query)> = vec![
        (
            vec!["--level", "error", "--env", "prod"],
            Query::new().level(Level::Error).env("prod"),
        ),
        (
            vec!["--level", "warn,error"],
            Query::new().levels(&[Level::Warn, Level::Error]),
        ),
        (
            vec!["--min-level", "warn"],
            Query::new().min_level(Level::Warn),
        ),
        (vec!["--grep", "TIMEOUT"], Query::new().text("timeout")),
        (
            vec![
                "--app",
                "shop",
                "--version",
                "1.0",
                "--component",
                "HTTP",
                "--action",
                "request",
            ],
            Query::new()
                .app("shop")
                .version("1.0")
                .component("HTTP")
                .action("request"),
        ),
    ];
    for (args, lib) in cases {
        let mut cli = vec![
            "logs", "--json", "--limit", "10000", "--from", &from_s, "--to", &to_s,
        ];
        cli.extend(&args);
        let got = fx.ok(&cli).rows();
        let want = pages(p, &lib.range(range), runlog::MAX_LIMIT);
        assert_eq!(got, rows(&want), "{args:?}");
    }

    // Presets (with the console's aliases) and --last cover the whole store.
    let everything = rows(&pages(p, &Query::new().all_time(), runlog::MAX_LIMIT));
    assert!(everything.len() > 2_000, "{}", everything.len());
    for args in [
        ["--preset", "last-day"],
        ["--preset", "last-7d"],
        ["--last", "6h"],
    ] {
        let mut cli = vec!["logs", "--json", "--limit", "10000"];
        cli.extend(args);
        assert_eq!(fx.ok(&cli).rows(), everything, "{args:?}");
    }

    // Calendar presets in another time zone agree with the library's.
    let plus2 = chrono::FixedOffset::east_opt(2 * 3600).unwrap();
    let reader = StoreOptions::new()
        .utc_offset(plus2)
        .open_read_only(fx.path())
        .unwrap()
        .project(PROJECT)
        .unwrap();
    let today = fx.ok(&[
        "logs",
        "--json",
        "--limit",
        "10000",
        "--preset",
        "today",
        "--utc-offset",
        "+02:00",
    ]);
    let want = pages(
        &reader,
        &Query::new().preset(runlog::Preset::Today),
        runlog::MAX_LIMIT,
    );
    assert_eq!(today.rows(), rows(&want));

    // Text: one line per record (with its ID), then the cursor; colour only when asked.
    let text = fx.ok(&["logs", "--all", "--limit", "3"]);
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", text.stdout);
    for (line, r) in lines[..3].iter().zip(&page.records) {
        assert!(
            line.contains(&r.id.to_string()) && line.contains(r.record.level.as_str()),
            "{line}"
        );
    }
    assert!(lines[3].starts_with("next: --cursor "));
    assert!(!text.stdout.contains('\x1b'), "plain when piped");
    let colored = fx.ok(&["logs", "--all", "--limit", "3", "--color", "always"]);
    assert!(colored.stdout.contains("\x1b["));
}

#[test]
fn job_show_and_superseded_attempts() {
    let fx = Fixture::new();
    let p = fx.project();

    let job = fx.ok(&["job", "job-retried", "--json"]);
    let want = p.job_logs("job-retried").unwrap();
    assert_eq!(job.rows(), rows(&want));
    assert_eq!(want.len(), 1, "attempt 1 is superseded");
    let all = fx.ok(&["job", "job-retried", "--json", "--include-superseded"]);
    let want_all = p.job_logs_all("job-retried").unwrap();
    assert_eq!(all.rows(), rows(&want_all));
    assert_eq!(
        all.rows()
            .iter()
            .map(|r| (r.attempt, r.superseded))
            .collect::<Vec<_>>(),
        vec![(1, true), (1, true), (2, false)]
    );
    let text = fx.ok(&[
        "job",
        "job-retried",
        "--include-superseded",
        "--color",
        "never",
    ]);
    assert_eq!(text.stdout.lines().count(), 3);
    assert!(text.stdout.lines().next().unwrap().contains("superseded"));

    // Details of the failed attempt's error record.
    let id = want_all.iter().find(|r| r.has_detail).unwrap().id;
    let full = p.get(id).unwrap().unwrap();
    let show = fx.ok(&["show", &id.to_string(), "--color", "never"]);
    for field in [
        "id",
        "time",
        "level",
        "job_id",
        "flow",
        "component",
        "action",
        "category",
        "env",
        "app",
        "version",
        "attempt",
        "superseded",
        "content",
        "detail",
    ] {
        assert!(
            show.stdout.lines().any(|l| l.starts_with(field)),
            "{field} missing from {}",
            show.stdout
        );
    }
    assert!(
        show.stdout
            .contains("{\"status\": 504, \"body\": \"gateway timeout\"}")
    );
    assert!(
        show.stdout
            .contains("POST /orders failed: timeout after 30000 ms")
    );
    let json: ExportRow =
        serde_json::from_str(&fx.ok(&["show", &id.to_string(), "--json"]).stdout).unwrap();
    assert_eq!(json, ExportRow::new(&full));
    assert!(json.detail.is_some());
}

#[test]
fn runs_scheduled_counts() {
    let fx = Fixture::new();
    let p = fx.project();
    let all = RunQuery::new().all_time();

    let runs = fx.ok(&["runs", "--all", "--json"]);
    assert_eq!(
        run_job_ids(&runs.stdout),
        job_ids(&p.runs(&all).unwrap().runs)
    );
    assert_eq!(
        run_job_ids(&runs.stdout),
        [
            "job-failed",
            "job-retried",
            "job-event-running",
            "job-sched-ok"
        ]
    );

    let scheduled = fx.ok(&["scheduled", "--last", "2h", "--json"]);
    assert_eq!(
        run_job_ids(&scheduled.stdout),
        ["job-retried", "job-sched-ok"]
    );
    assert_eq!(
        run_job_ids(&scheduled.stdout),
        job_ids(&p.scheduled_tasks(&all).unwrap().runs)
    );

    let failed = fx.ok(&["runs", "--all", "--status", "failed", "--json"]);
    assert_eq!(run_job_ids(&failed.stdout), ["job-failed"]);
    let events = fx.ok(&["runs", "--all", "--trigger", "event", "--json"]);
    assert_eq!(
        run_job_ids(&events.stdout),
        ["job-failed", "job-event-running"]
    );
    let flow = fx.ok(&[
        "runs",
        "--all",
        "--flow",
        "webhook",
        "--status",
        "running,retrying",
        "--json",
    ]);
    assert_eq!(run_job_ids(&flow.stdout), ["job-event-running"]);

    // Paging through the printed cursor.
    let first = fx.ok(&["runs", "--all", "--limit", "3", "--json"]);
    assert_eq!(run_job_ids(&first.stdout).len(), 3);
    let cursor = first.cursor().expect("cursor");
    let rest = fx.ok(&[
        "runs", "--all", "--limit", "3", "--json", "--cursor", &cursor,
    ]);
    assert_eq!(run_job_ids(&rest.stdout), ["job-sched-ok"]);

    // Counts per status.
    let counts = p.count_runs(&all).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&fx.ok(&["runs", "--counts", "--all", "--json"]).stdout).unwrap();
    for s in RunStatus::ALL {
        assert_eq!(json[s.as_str()], counts.status(s), "{s}");
    }
    assert_eq!(json["total"], 4);
    assert_eq!(
        (
            counts.status(RunStatus::Successful),
            counts.status(RunStatus::Failed)
        ),
        (2, 1)
    );
    let text = fx.ok(&["runs", "--counts", "--all"]);
    assert!(
        text.stdout
            .lines()
            .any(|l| l.split_whitespace().eq(["successful", "2"]))
    );
    assert!(
        text.stdout
            .lines()
            .any(|l| l.split_whitespace().eq(["total", "4"]))
    );
    let sched: serde_json::Value =
        serde_json::from_str(&fx.ok(&["scheduled", "--counts", "--all", "--json"]).stdout).unwrap();
    assert_eq!(
        (sched["total"].as_u64(), sched["successful"].as_u64()),
        (Some(2), Some(2))
    );

    // Text lines carry the status and the last error.
    let text = fx.ok(&["runs", "--all", "--color", "never"]);
    let failed_line = text
        .stdout
        .lines()
        .find(|l| l.contains("job-failed"))
        .unwrap();
    assert!(failed_line.contains("failed") && failed_line.contains("HTTP 503 from invoices API"));
}

#[test]
fn export_files_parse_back_to_the_query() {
    let fx = Fixture::new();
    let p = fx.project();
    let out = tempfile::tempdir().unwrap();
    let from = fx.now.saturating_sub(Duration::from_secs(150 * 60));
    let to = fx.now.saturating_sub(Duration::from_secs(10 * 60));
    let (from_s, to_s) = (from.to_string(), to.to_string());
    let range = TimeRange::new(from, to).unwrap();
    let want = pages(p, &Query::new().range(range), runlog::MAX_LIMIT);
    assert!(want.len() > 1_000);

    let jsonl = out.path().join("logs.jsonl");
    let r = fx.ok(&[
        "export",
        "--from",
        &from_s,
        "--to",
        &to_s,
        "--output",
        jsonl.to_str().unwrap(),
    ]);
    assert!(
        r.stderr
            .contains(&format!("exported {} records", want.len())),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains('\x1b'),
        "no progress bar when stderr is not a terminal"
    );
    let got = json_rows(&std::fs::read_to_string(&jsonl).unwrap());
    assert_eq!(got, rows(&want));

    // CSV by extension, with details and a filter.
    let csv_path = out.path().join("errors.csv");
    fx.ok(&[
        "export",
        "--from",
        &from_s,
        "--to",
        &to_s,
        "--level",
        "error",
        "--details",
        "--output",
        csv_path.to_str().unwrap(),
    ]);
    let got: Vec<ExportRow> = csv::Reader::from_path(&csv_path)
        .unwrap()
        .deserialize()
        .collect::<Result<_, _>>()
        .unwrap();
    let errors = pages(
        p,
        &Query::new().range(range).level(Level::Error),
        runlog::MAX_LIMIT,
    );
    let want_rows: Vec<ExportRow> = errors
        .iter()
        .map(|r| {
            if r.has_detail {
                ExportRow::new(&p.get(r.id).unwrap().unwrap())
            } else {
                ExportRow::new(r)
            }
        })
        .collect();
    assert_eq!(got, want_rows);
    assert!(got.iter().any(|r| r.detail.is_some()));

    // --format wins over the extension; `-` is stdout.
    let r = fx.ok(&[
        "export",
        "--from",
        &from_s,
        "--to",
        &to_s,
        "--format",
        "csv",
        "--job",
        "job-retried",
        "--output",
        "-",
    ]);
    assert!(r.stdout.starts_with("id,time,level,"), "{}", r.stdout);

    // The execution bundle.
    let bundle_path = out.path().join("job.json");
    fx.ok(&[
        "export-job",
        "job-retried",
        "--output",
        bundle_path.to_str().unwrap(),
    ]);
    let bundle: ExecutionBundle =
        serde_json::from_str(&std::fs::read_to_string(&bundle_path).unwrap()).unwrap();
    assert_eq!(bundle, p.execution_bundle("job-retried").unwrap());
    assert_eq!(bundle.logs.len(), 3);
    assert_eq!(bundle.run.unwrap().status, RunStatus::Successful);
    fx.run(&[
        "export-job",
        "job-nope",
        "--output",
        bundle_path.to_str().unwrap(),
    ])
    .assert_one_line_error(1, "export-job of an unknown job");
}

#[test]
fn stats_and_verify() {
    let mut fx = Fixture::new();
    let p = fx.project();
    let stats = p.stats().unwrap();
    assert!(stats.sealed >= 1, "{stats:?}");
    let json: serde_json::Value =
        serde_json::from_str(&fx.ok(&["stats", "--json"]).stdout).unwrap();
    let got = &json["projects"][0];
    assert_eq!(got["project"], PROJECT);
    assert_eq!(got["segments"], stats.segments);
    assert_eq!(got["sealed"], stats.sealed);
    assert_eq!(got["records"], stats.records);
    assert_eq!(got["bytes"], stats.bytes);
    assert_eq!(got["oldest"], stats.oldest.unwrap().to_string());
    assert_eq!(got["newest"], stats.newest.unwrap().to_string());
    for l in Level::ALL {
        assert_eq!(
            got["levels"][l.as_str().to_ascii_lowercase()],
            stats.by_level[l.code() as usize]
        );
    }
    assert_eq!(got["runs"], 4);
    assert_eq!(got["runs_by_status"]["failed"], 1);
    assert_eq!(json["total"]["projects"], 1);
    assert_eq!(json["total"]["records"], stats.records);
    let text = fx.ok(&["stats"]);
    assert!(
        text.stdout
            .contains(&format!("records   {}", stats.records)),
        "{}",
        text.stdout
    );

    // Verify: clean, then a flipped byte in a sealed segment.
    let v = fx.ok(&["verify"]);
    assert!(v.stdout.contains(": ok"), "{}", v.stdout);
    let sealed = p
        .segments()
        .unwrap()
        .into_iter()
        .find(|s| s.sealed)
        .unwrap()
        .path;
    fx.close_writer();
    let mut bytes = std::fs::read(&sealed).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0x40;
    std::fs::write(&sealed, bytes).unwrap();
    let bad = fx.run(&["verify"]);
    bad.assert_one_line_error(1, "verify after corruption");
    assert!(bad.stderr.contains("verify found"), "{}", bad.stderr);
    assert!(
        bad.stdout.contains("problem:")
            && bad
                .stdout
                .contains(sealed.file_name().unwrap().to_str().unwrap()),
        "{}",
        bad.stdout
    );
}

#[test]
fn retry_needs_the_writer_and_a_failed_run() {
    let mut fx = Fixture::new();

    // The test process holds the writer's lock: the library's Locked error.
    let locked = fx.run(&["retry", "job-failed"]);
    locked.assert_one_line_error(1, "retry while locked");
    assert!(locked.stderr.contains("locked"), "{}", locked.stderr);

    fx.close_writer();
    let r = fx.ok(&["retry", "job-failed", "--json"]);
    let run: Run = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(
        (run.job_id.as_str(), run.status, run.retry_requested),
        ("job-failed", RunStatus::Retrying, true)
    );
    let text = fx.run(&["retry", "job-failed"]);
    text.assert_one_line_error(1, "a second request");
    assert!(text.stderr.contains("retrying"), "{}", text.stderr);

    let not_failed = fx.run(&["retry", "job-sched-ok"]);
    not_failed.assert_one_line_error(1, "retry of a successful run");
    assert!(
        not_failed.stderr.contains("successful"),
        "{}",
        not_failed.stderr
    );
    fx.run(&["retry", "job-nope"])
        .assert_one_line_error(1, "retry of an unknown job");

    // The runtime, back, claims the requested retry as a manual attempt.
    let store = Store::open(fx.path()).unwrap();
    let p = store.project(PROJECT).unwrap();
    let tickets = p
        .due_retries(runlog::Clock::now(&runlog::SystemClock))
        .unwrap();
    let mine: Vec<_> = tickets
        .iter()
        .filter(|t| t.job_id == "job-failed")
        .map(|t| (t.attempt, t.manual, t.flow.as_str()))
        .collect();
    assert_eq!(mine, [(2, true, "push-invoices")]);
    let run = p.run("job-failed").unwrap().unwrap();
    assert_eq!((run.status, run.attempt()), (RunStatus::Running, 2));
    assert!(run.attempts[1].manual && !run.retry_requested);
    drop(p);
    drop(store);
    let running = fx.ok(&["runs", "--all", "--status", "running", "--json"]);
    assert!(
        run_job_ids(&running.stdout).contains(&"job-failed".to_string()),
        "{}",
        running.stdout
    );
}

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

#[test]
fn bad_arguments_give_one_line() {
    let fx = Fixture::new();
    let cases: &[(&[&str], i32, &str)] = &[
        (&["logs", "--bogus"], 2, "--bogus"),
        (&["logs", "--limt", "5"], 2, "--limit"),
        (&["logs", "--last", "5x"], 2, "duration"),
        (&["logs", "--last", "0m"], 2, "more than zero"),
        (
            &["logs", "--level", "fatal"],
            2,
            "debug, info, warn or error",
        ),
        (&["logs", "--preset", "last-2m"], 2, "this-week"),
        (&["logs", "--from", "yesterday"], 2, "RFC 3339"),
        (
            &[
                "logs",
                "--from",
                "2025-01-02T00:00:00Z",
                "--to",
                "2025-01-01T00:00:00Z",
            ],
            2,
            "before",
        ),
        (
            &["logs", "--last", "5m", "--preset", "today"],
            2,
            "cannot be used with",
        ),
        (&["logs", "--cursor", "garbage"], 2, "cursor"),
        (&["logs", "--max-records", "3"], 2, "--follow"),
        (&["logs", "--utc-offset", "+25:00"], 2, "offset"),
        (&["logs", "--utc-offset", "+a€"], 2, "offset"),
        (&["runs", "--status", "weird"], 2, "successful"),
        (&["show", "nonsense"], 2, "partition.generation.ordinal"),
        (&["export", "--all"], 2, "--output"),
        (&["frobnicate"], 2, "frobnicate"),
        (
            &["--store", "/nonexistent/runlog-store", "logs"],
            1,
            "does not exist",
        ),
        (&["--project", "nope", "logs"], 1, "no project"),
        (&["job", "job-nope"], 1, "job-nope"),
        (&["show", "1.0.0"], 1, "no record"),
        (&["logs", "--saved", "nope"], 1, "nope"),
    ];
    for (args, code, needle) in cases {
        let r = fx.run(args);
        r.assert_one_line_error(*code, &format!("{args:?}"));
        assert!(
            r.stderr.contains(needle),
            "{args:?}: {:?} lacks {needle:?}",
            r.stderr
        );
    }

    // No store at all.
    let r = Run_::of(
        Command::new(env!("CARGO_BIN_EXE_runlog"))
            .args(["logs"])
            .env_remove("RUNLOG_STORE")
            .output()
            .unwrap(),
    );
    r.assert_one_line_error(2, "no store");
    assert!(r.stderr.contains("RUNLOG_STORE"));

    // A directory that is not a store.
    let empty = tempfile::tempdir().unwrap();
    let r = fx.run(&["--store", empty.path().to_str().unwrap(), "logs"]);
    r.assert_one_line_error(1, "not a store");

    // Two projects: --project is needed, and given it works.
    fx.writer.as_ref().unwrap().0.project("billing").unwrap();
    let r = fx.run(&["logs", "--all"]);
    r.assert_one_line_error(2, "two projects");
    assert!(
        r.stderr.contains("billing") && r.stderr.contains("--project"),
        "{}",
        r.stderr
    );
    fx.ok(&["logs", "--all", "--project", "shop", "--limit", "1"]);
    let json: serde_json::Value =
        serde_json::from_str(&fx.ok(&["stats", "--json"]).stdout).unwrap();
    assert_eq!(json["total"]["projects"], 2);

    // Help documents every flag, with examples.
    let help = fx.ok(&["logs", "--help"]);
    for flag in [
        "--store",
        "--project",
        "--last",
        "--preset",
        "--from",
        "--to",
        "--saved",
        "--all",
        "--level",
        "--min-level",
        "--env",
        "--flow",
        "--app",
        "--version",
        "--job",
        "--component",
        "--action",
        "--category",
        "--grep",
        "--limit",
        "--cursor",
        "--include-superseded",
        "--json",
        "--follow",
        "--interval",
        "--max-records",
        "--timeout",
        "--color",
        "--utc-offset",
        "Examples:",
    ] {
        assert!(help.stdout.contains(flag), "logs --help lacks {flag}");
    }
    assert!(fx.ok(&["--help"]).stdout.contains("runlog export-job"));
}
