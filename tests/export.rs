//! Download: JSON Lines and CSV exports read back into the same records
//! (fields with commas, quotes, line breaks, unicode), in bounded memory;
//! execution bundles.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{T0, clock, open, rec};
use runlog::{
    Clock, ExecutionBundle, ExportFormat, ExportRow, Level, LogRecord, NewRun, Query, RetryPolicy,
    Trigger,
};

/// Counts heap bytes in use, and the peak since the last reset.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Records whose every text field is hard to quote.
fn tricky() -> Vec<LogRecord> {
    let texts = [
        "plain",
        "comma, inside",
        "\"quoted\" and \"\"doubled\"\"",
        "line\nbreak and\r\ncarriage return",
        "unicode: 日本語 · emoji 🚀 · ümlaut · Ωμέγα",
        "",
        " leading and trailing spaces ",
        "tab\there; semicolon; \\backslash\\",
        "=1+2 (looks like a formula)",
    ];
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut r = LogRecord::new(
                T0.saturating_add(Duration::from_millis(i as u64)),
                Level::ALL[i % 4],
                format!("job,{i}\"x"),
                *t,
            )
            .flow(*t)
            .component(format!("c{t}"))
            .action(*t)
            .category(*t)
            .env(*t)
            .app(*t)
            .version(*t)
            .attempt(i as u32 + 1);
            if i % 2 == 0 {
                r = r.detail(format!("{{\"text\": {t:?}}}\n{t}"));
            }
            r
        })
        .collect()
}

fn export(p: &runlog::Project, q: &Query, format: ExportFormat, details: bool) -> Vec<u8> {
    let mut out = Vec::new();
    p.export(
        q,
        runlog::ExportOptions::new(format).details(details),
        &mut out,
        |_| {},
    )
    .unwrap();
    out
}

fn rows_of(bytes: &[u8], format: ExportFormat) -> Vec<ExportRow> {
    match format {
        ExportFormat::JsonLines => std::str::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        ExportFormat::Csv => csv::Reader::from_reader(bytes)
            .deserialize()
            .collect::<Result<_, _>>()
            .unwrap(),
    }
}

#[test]
fn round_trip_json_lines_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let store = open(dir.path(), &c);
    let p = store.project("p").unwrap();
    let written = tricky();
    let ids = p.append_batch(&written).unwrap();
    let q = Query::new().all_time();
    let page = p.query(&q.clone().limit(100)).unwrap().records;
    for format in [ExportFormat::JsonLines, ExportFormat::Csv] {
        for details in [false, true] {
            let bytes = export(&p, &q, format, details);
            let rows = rows_of(&bytes, format);
            assert_eq!(rows.len(), written.len(), "{format:?}");
            // Newest first, like a query page.
            let got: Vec<RecordIdAndRecord> = rows.iter().map(|r| r.to_record().unwrap()).collect();
            for ((id, back), shown) in got.iter().zip(&page) {
                assert_eq!(*id, shown.id);
                let k = ids.iter().position(|i| i == id).unwrap();
                let mut want = written[k].clone();
                if !details {
                    want.detail = None;
                }
                // CSV cannot tell an empty detail from none; none here is empty.
                assert_eq!(*back, want, "{format:?} details={details}");
            }
        }
    }
    // Filters apply; the page limit does not.
    let bytes = export(
        &p,
        &Query::new().all_time().level(Level::Error).limit(1),
        ExportFormat::Csv,
        false,
    );
    let rows = rows_of(&bytes, ExportFormat::Csv);
    let errors = written.iter().filter(|r| r.level == Level::Error).count();
    assert!(errors > 1);
    assert_eq!(rows.len(), errors);
    assert!(rows.iter().all(|r| r.level == "error"));
}

type RecordIdAndRecord = (runlog::RecordId, LogRecord);

#[test]
fn export_pages_through_everything_and_reports_progress() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let store = open(dir.path(), &c);
    let p = store.project("p").unwrap();
    let n = 2_500u64;
    let batch: Vec<LogRecord> = (0..n)
        .map(|i| rec(T0.saturating_sub(Duration::from_secs(n - i)), i))
        .collect();
    p.append_batch(&batch).unwrap();
    let mut calls = Vec::new();
    let mut out = Vec::new();
    let summary = p
        .export(
            &Query::new().all_time(),
            ExportFormat::JsonLines,
            &mut out,
            |k| calls.push(k),
        )
        .unwrap();
    assert_eq!(summary.records, n);
    assert_eq!(calls.last(), Some(&n));
    assert!(calls.windows(2).all(|w| w[0] < w[1]), "{calls:?}");
    assert!(
        calls.len() >= 3,
        "one call per page of {}",
        runlog::EXPORT_PAGE
    );
    let rows = rows_of(&out, ExportFormat::JsonLines);
    let all = common::all(&p);
    assert_eq!(rows, all.iter().map(ExportRow::new).collect::<Vec<_>>());
    // A cursor from a query page continues the export after it.
    let q = Query::new().all_time().limit(100);
    let first = p.query(&q).unwrap();
    let mut rest = Vec::new();
    p.export(
        &q.clone().after(first.next.unwrap()),
        ExportFormat::Csv,
        &mut rest,
        |_| {},
    )
    .unwrap();
    let rest = rows_of(&rest, ExportFormat::Csv);
    assert_eq!(rest.len() as u64, n - 100);
    assert_eq!(rest[0], ExportRow::new(&all[100]));
    // A cursor of another query is refused.
    let other = Query::new().all_time().level(Level::Error);
    assert!(matches!(
        p.export(
            &other.after(first.next.unwrap()),
            ExportFormat::Csv,
            Vec::new(),
            |_| {}
        ),
        Err(runlog::Error::CursorMismatch)
    ));
}

/// A writer that counts bytes and keeps none.
struct CountingSink(u64);

impl Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_large_export_stays_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let store = open(dir.path(), &c);
    let p = store.project("p").unwrap();
    // 30,000 records of about 1.4 KiB (content and detail): some 40 MiB of
    // output with details, over several segments.
    let n = 30_000u64;
    let pad = "x".repeat(400);
    for chunk in (0..n).collect::<Vec<_>>().chunks(5_000) {
        let batch: Vec<LogRecord> = chunk
            .iter()
            .map(|&i| {
                let t = T0.saturating_sub(Duration::from_millis((n - i) * 100));
                LogRecord::new(
                    t,
                    Level::Info,
                    format!("job-{}", i / 20),
                    format!("{i} {pad}"),
                )
                .detail(format!("{i} {pad}{pad}"))
            })
            .collect();
        p.append_batch(&batch).unwrap();
    }
    for format in [ExportFormat::JsonLines, ExportFormat::Csv] {
        let mut sink = CountingSink(0);
        let base = IN_USE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let summary = p
            .export(
                &Query::new().all_time(),
                runlog::ExportOptions::new(format).details(true),
                &mut sink,
                |_| {},
            )
            .unwrap();
        let growth = PEAK.load(Ordering::Relaxed).saturating_sub(base);
        assert_eq!(summary.records, n);
        assert!(sink.0 > 32 << 20, "{format:?}: only {} bytes", sink.0);
        // One page of summaries (about 1,000 × 0.6 KiB) and buffers: far
        // below the output size.
        assert!(
            growth < 8 << 20,
            "{format:?}: heap grew by {growth} bytes for {} bytes of output",
            sink.0
        );
    }
}

#[test]
fn execution_bundle_has_the_run_and_every_line() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let store = common::options(&c)
        .retry_policy(RetryPolicy {
            initial_delay: Duration::from_secs(1),
            ..RetryPolicy::default()
        })
        .open(dir.path())
        .unwrap();
    let p = store.project("p").unwrap();
    p.start_run(&NewRun::new("job-1", "sync, \"orders\"", Trigger::Scheduler).env("prod"))
        .unwrap();
    p.append(&LogRecord::new(
        c.now(),
        Level::Info,
        "job-1",
        "attempt 1 starts",
    ))
    .unwrap();
    p.append(
        &LogRecord::new(c.now(), Level::Error, "job-1", "timeout")
            .detail("{\"status\": 504}\nline two"),
    )
    .unwrap();
    p.attempt_failed("job-1", 1, "timeout, giving up").unwrap();
    c.advance(Duration::from_secs(1));
    let t = p.due_retries_at(c.now()).unwrap();
    assert_eq!(t.len(), 1);
    p.append(&LogRecord::new(c.now(), Level::Info, "job-1", "done ✓").attempt(2))
        .unwrap();
    p.attempt_succeeded("job-1", 2).unwrap();
    p.append(&LogRecord::new(c.now(), Level::Info, "job-2", "other job"))
        .unwrap();

    let mut out = Vec::new();
    p.export_execution("job-1", &mut out).unwrap();
    let bundle: ExecutionBundle = serde_json::from_slice(&out).unwrap();
    assert_eq!(bundle, p.execution_bundle("job-1").unwrap());
    assert_eq!(bundle.job_id, "job-1");
    let run = bundle.run.as_ref().unwrap();
    assert_eq!(run, &p.run("job-1").unwrap().unwrap());
    assert_eq!(run.attempts.len(), 2);
    assert!(run.attempts[0].superseded);
    let lines: Vec<(&str, bool, Option<&str>)> = bundle
        .logs
        .iter()
        .map(|r| (r.content.as_str(), r.superseded, r.detail.as_deref()))
        .collect();
    assert_eq!(
        lines,
        [
            ("attempt 1 starts", true, None),
            ("timeout", true, Some("{\"status\": 504}\nline two")),
            ("done ✓", false, None),
        ]
    );
    // The default export of the project hides the superseded lines.
    let rows = rows_of(
        &export(&p, &Query::new().all_time(), ExportFormat::JsonLines, false),
        ExportFormat::JsonLines,
    );
    assert_eq!(rows.len(), 2);
    let all = rows_of(
        &export(
            &p,
            &Query::new().all_time().include_superseded(true),
            ExportFormat::JsonLines,
            false,
        ),
        ExportFormat::JsonLines,
    );
    assert_eq!(all.iter().filter(|r| r.superseded).count(), 2);
    // An unknown job: no run, no lines.
    let none = p.execution_bundle("nope").unwrap();
    assert!(none.run.is_none() && none.logs.is_empty());
}

#[test]
fn stats_describe_the_project() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let store = open(dir.path(), &c);
    let p = store.project("p").unwrap();
    let empty = p.stats().unwrap();
    assert_eq!((empty.records, empty.oldest, empty.newest), (0, None, None));
    let recs: Vec<LogRecord> = (0..50u64)
        .map(|i| rec(T0.saturating_sub(Duration::from_secs(3 * 3600 - i * 60)), i))
        .collect();
    p.append_batch(&recs).unwrap();
    p.start_run(&NewRun::new("r", "f", Trigger::Event)).unwrap();
    let s = p.stats().unwrap();
    assert_eq!(s.records, 50);
    let mut by_level = [0u64; 4];
    for r in &recs {
        by_level[r.level.code() as usize] += 1;
    }
    assert_eq!(s.by_level, by_level);
    assert_eq!(s.oldest, recs.iter().map(|r| r.time).min());
    assert_eq!(s.newest, recs.iter().map(|r| r.time).max());
    assert_eq!(s.segments, p.segments().unwrap().len());
    assert!(s.segments >= 2);
    assert_eq!((s.runs, s.runs_by_status[0]), (1, 1));
    assert!(s.bytes > 50 * 40);
}

/// A CSV export that matches nothing is its header line alone (readers
/// of the file still see the columns); JSON Lines is empty.
#[test]
fn an_export_matching_nothing_is_a_header_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    p.append(&rec(T0, 1)).unwrap();
    let none = Query::new().all_time().env("nowhere");
    let mut csv = Vec::new();
    let summary = p
        .export(&none, ExportFormat::Csv, &mut csv, |_| {})
        .unwrap();
    assert_eq!(summary.records, 0);
    let text = String::from_utf8(csv).unwrap();
    assert_eq!(text.lines().count(), 1, "{text:?}");
    assert!(text.starts_with("id,time,level,job_id,"), "{text:?}");
    let mut json = Vec::new();
    p.export(&none, ExportFormat::JsonLines, &mut json, |_| {})
        .unwrap();
    assert!(json.is_empty());
}

/// Levels, run statuses, triggers and outcomes have one spelling in every
/// machine format: lower case, in serde (records, runs) and in exports.
#[test]
fn enums_are_lower_case_in_every_machine_format() {
    use runlog::{Outcome, RunStatus, Trigger};
    for l in Level::ALL {
        let json = serde_json::to_string(&l).unwrap();
        assert_eq!(json, format!("\"{}\"", l.name()));
        assert_eq!(l.name(), l.as_str().to_ascii_lowercase());
        assert_eq!(serde_json::from_str::<Level>(&json).unwrap(), l);
    }
    for s in RunStatus::ALL {
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            format!("\"{}\"", s.as_str())
        );
    }
    for t in Trigger::ALL {
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            format!("\"{}\"", t.as_str())
        );
    }
    for (o, name) in [
        (Outcome::Running, "running"),
        (Outcome::Succeeded, "succeeded"),
        (Outcome::Failed, "failed"),
    ] {
        assert_eq!(serde_json::to_string(&o).unwrap(), format!("\"{name}\""));
    }
    let r = LogRecord::new(T0, Level::Warn, "j", "c");
    let v: serde_json::Value = serde_json::to_value(&r).unwrap();
    assert_eq!(v["level"], "warn");
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let p = open(dir.path(), &c).project("p").unwrap();
    p.append(&LogRecord::new(T0, Level::Warn, "j", "c"))
        .unwrap();
    let mut out = Vec::new();
    p.export(
        &Query::new().all_time(),
        ExportFormat::JsonLines,
        &mut out,
        |_| {},
    )
    .unwrap();
    let row: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(row["level"], "warn");
}
