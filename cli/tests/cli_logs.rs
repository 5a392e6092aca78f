//! `runlog logs`, `job` and `show`: pages through the printed cursor,
//! filters, ranges, presets and `--last` (also at another UTC offset),
//! text lines and colour; a retried job's logs with and without its
//! superseded attempt; every field of a record's details, as text and
//! JSON.
//!
//! The tool runs as a separate process against a store this test process
//! writes (and keeps open as its writer; see `fixture/mod.rs`), its
//! answers checked against the library's own.

#[path = "../../tests/common/mod.rs"]
mod common;
mod fixture;

use std::time::Duration;

use common::pages;
use fixture::*;
use runlog::{ExportRow, Level, Query, StoreOptions, TimeRange};

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
    let want_all = p.job_logs_including_superseded("job-retried").unwrap();
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
