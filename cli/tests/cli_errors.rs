//! Bad arguments, a missing or foreign store, unknown projects, jobs and
//! records each give one line on stderr and the documented exit status;
//! two projects need `--project`; `--help` documents every flag, with
//! examples.
//!
//! The tool runs as a separate process against a store this test process
//! writes (and keeps open as its writer; see `fixture/mod.rs`), its
//! answers checked against the library's own.

#[path = "../../tests/common/mod.rs"]
mod common;
mod fixture;

use std::process::Command;

use fixture::*;

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
