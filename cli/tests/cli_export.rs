//! `runlog export` and `export-job`: JSON Lines and CSV files (by
//! extension or `--format`, to a file or stdout, with details and filters)
//! parse back to the records the library's query returns; an execution
//! bundle equals the library's.
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
use runlog::{ExecutionBundle, ExportRow, Level, Query, RunStatus, TimeRange};

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
