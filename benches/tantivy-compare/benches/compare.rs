//! runlog against tantivy on the query benchmark's workload (the root
//! crate's `benches/query.rs`): the same month of generated records, the
//! same queries, side by side in one run.
//!
//! Run from `benches/tantivy-compare/` with `cargo bench` (1,000,000
//! records over 30 days); set `RUNLOG_BENCH_RECORDS` for another size. See
//! README.md beside this file for the schema, how each query is written
//! for tantivy and where the two engines' semantics differ.
//!
//! The month is built once per run (untimed) into both engines, from one
//! stream of records of the `runlog_sample` generator (same seed, start,
//! time stretching and ~2-minute batches as `benches/query.rs`); tantivy
//! commits every 1,000 records, with its default merge policy. Before
//! timing anything, every query is run on both engines and the results are
//! compared record by record (time, level, every text field, attempt,
//! whether a detail exists); the run stops at the first difference.
//!
//! Benchmarks, each `<name>/runlog` and `<name>/tantivy` (the index as the
//! merge policy left it) and `<name>/tantivy_1seg` (the same index
//! force-merged into one segment, for reference):
//! - `job_lookup`: every log of one job, oldest first, cycling through 64 jobs.
//! - `newest_30m`: the newest 100 of the last 30 minutes, no filter.
//! - `error_prod_7d`: the newest 100 with level = Error and env = prod over 7 days.
//! - `flow_warn_error_24h`: the newest 100 with flow = the busiest flow and
//!   level in {Warn, Error} over 24 hours.
//! - `word_30d`: the newest 100 whose content contains "timeout" over 30
//!   days (tantivy: a term query, whole-word semantics).
//! - `word_30d_regex` (tantivy only, for reference): the same with a
//!   `RegexQuery` `.*timeout.*` over the content's words, which gives
//!   runlog's substring semantics.
//! - `count_levels_24h`: counts per level over 24 hours (tantivy: a
//!   collector reading the level fast field of each match).
//! - `ingest_100k`: 100,000 records in batches of 1,000 into a fresh store
//!   / index, at the generator's default rate (one hour partition) and at
//!   the month's rate; tantivy committing after every batch, or once at
//!   the end. Both tantivy figures include waiting for its background
//!   merges to finish.

use std::cell::Cell;
use std::collections::HashMap;
use std::hint::black_box;
use std::ops::Bound;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use runlog_sample::{Generator, Spread};
use runlog::{
    Level, LogRecord, ManualClock, Preset, Project, Query as RQuery, Store, StoreOptions, Text,
    Timestamp,
};
use tantivy::collector::{Collector, Count, SegmentCollector, TopDocs};
use tantivy::columnar::ColumnValues;
use tantivy::query::{BooleanQuery, Occur, Query, RangeQuery, RegexQuery, TermQuery, TermSetQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TEXT, Value,
};
use tantivy::{
    DocAddress, DocId, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Score, Searcher,
    SegmentOrdinal, SegmentReader, TantivyDocument, Term,
};

const SEED: u64 = 7;
const DAYS: u64 = 30;
const MINUTE: i64 = 60_000_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// runlog's default retention: reads never return an older record.
const RETENTION: i64 = 30 * DAY;
/// The indexing heap of tantivy's one indexing thread (the figure of
/// tantivy's own examples; the minimum is 15 MB).
const HEAP: usize = 50_000_000;
/// Records per commit while building the month (as sqlite-compare's
/// transactions).
const COMMIT_EVERY: usize = 1_000;
/// Most records a job lookup may return from tantivy (a job writes 5 to 40
/// records per attempt, at most 3 attempts); the check asserts no lookup
/// comes near it.
const JOB_LIMIT: usize = 1_000;

fn start() -> Timestamp {
    Timestamp::from_secs(1_764_028_800) // 2025-11-25T00:00:00Z
}

fn record_count() -> u64 {
    std::env::var("RUNLOG_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// `total` records spread over `DAYS` (see `runlog_sample::Spread`).
fn month(total: u64) -> Spread {
    Spread::new(SEED, start(), total, Duration::from_secs(DAYS * 86_400))
}

// ---------------------------------------------------------------------------
// tantivy: schema, ingest, queries.

/// The schema's fields.
#[derive(Clone, Copy)]
struct Fields {
    /// Microseconds since the Unix epoch: range queries and sorting, both
    /// through the fast field.
    time: Field,
    /// `Level::code`: 0 Debug, 1 Info, 2 Warn, 3 Error.
    level: Field,
    job_id: Field,
    flow: Field,
    component: Field,
    action: Field,
    category: Field,
    env: Field,
    app: Field,
    version: Field,
    attempt: Field,
    content: Field,
    /// Stored only, and only when the record has one.
    detail: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let f = Fields {
        time: b.add_i64_field("time", FAST | STORED),
        level: b.add_u64_field("level", INDEXED | FAST | STORED),
        job_id: b.add_text_field("job_id", STRING | STORED),
        flow: b.add_text_field("flow", STRING | STORED),
        component: b.add_text_field("component", STRING | STORED),
        action: b.add_text_field("action", STRING | STORED),
        category: b.add_text_field("category", STRING | STORED),
        env: b.add_text_field("env", STRING | STORED),
        app: b.add_text_field("app", STRING | STORED),
        version: b.add_text_field("version", STRING | STORED),
        attempt: b.add_u64_field("attempt", STORED),
        content: b.add_text_field("content", TEXT | STORED),
        detail: b.add_text_field("detail", STORED),
    };
    (b.build(), f)
}

/// A fresh index in `path` (default settings: LZ4 doc store, 16 KiB blocks).
fn tantivy_create(path: &Path) -> (Index, Fields) {
    std::fs::create_dir_all(path).unwrap();
    let (schema, f) = schema();
    (Index::create_in_dir(path, schema).unwrap(), f)
}

/// One indexing thread with a `HEAP` budget; merge policy and merge
/// threads as tantivy sets them by default.
fn tantivy_writer(index: &Index) -> IndexWriter {
    index.writer_with_num_threads(1, HEAP).unwrap()
}

fn to_doc(f: &Fields, r: &LogRecord) -> TantivyDocument {
    let mut d = TantivyDocument::new();
    d.add_i64(f.time, r.time.as_micros());
    d.add_u64(f.level, u64::from(r.level.code()));
    d.add_text(f.job_id, &r.job_id);
    d.add_text(f.flow, &r.flow);
    d.add_text(f.component, &r.component);
    d.add_text(f.action, &r.action);
    d.add_text(f.category, &r.category);
    d.add_text(f.env, &r.env);
    d.add_text(f.app, &r.app);
    d.add_text(f.version, &r.version);
    d.add_u64(f.attempt, u64::from(r.attempt));
    d.add_text(f.content, &r.content);
    if let Some(detail) = &r.detail {
        d.add_text(f.detail, detail);
    }
    d
}

/// A hit as a listing returns it: the record without its detail.
#[derive(Debug)]
struct Row {
    addr: DocAddress,
    record: LogRecord,
    has_detail: bool,
}

/// The sort key of every listing: time (ties: ascending `DocAddress`).
type Key = Option<i64>;

fn by_time(order: Order) -> impl Collector<Fruit = Vec<(Key, DocAddress)>> + use<> {
    by_time_page(order, 100, 0)
}

fn by_time_page(
    order: Order,
    limit: usize,
    offset: usize,
) -> impl Collector<Fruit = Vec<(Key, DocAddress)>> + use<> {
    TopDocs::with_limit(limit)
        .and_offset(offset)
        .order_by_fast_field::<i64>("time", order)
}

/// The stored documents of `hits`, as listing rows.
fn rows(s: &Searcher, f: &Fields, hits: Vec<(Key, DocAddress)>) -> Vec<Row> {
    hits.into_iter()
        .map(|(_, addr)| {
            let d: TantivyDocument = s.doc(addr).unwrap();
            let text = |field| Text::from(d.get_first(field).and_then(|v| v.as_str()).unwrap());
            let num = |field| d.get_first(field).and_then(|v| v.as_u64()).unwrap();
            Row {
                addr,
                record: LogRecord {
                    time: Timestamp::from_micros(
                        d.get_first(f.time).and_then(|v| v.as_i64()).unwrap(),
                    ),
                    level: Level::from_code(num(f.level) as u8).unwrap(),
                    job_id: text(f.job_id),
                    flow: text(f.flow),
                    component: text(f.component),
                    action: text(f.action),
                    category: text(f.category),
                    env: text(f.env),
                    app: text(f.app),
                    version: text(f.version),
                    attempt: num(f.attempt) as u32,
                    content: text(f.content),
                    detail: None,
                },
                has_detail: d.get_first(f.detail).is_some(),
            }
        })
        .collect()
}

/// The newest `limit` matches of `q` after skipping `offset`.
fn tantivy_page(s: &Searcher, f: &Fields, q: &dyn Query, limit: usize, offset: usize) -> Vec<Row> {
    rows(
        s,
        f,
        s.search(q, &by_time_page(Order::Desc, limit, offset))
            .unwrap(),
    )
}

/// The newest 100 matches of `q`: what the benchmarks time.
fn tantivy_newest(s: &Searcher, f: &Fields, q: &dyn Query) -> Vec<Row> {
    rows(s, f, s.search(q, &by_time(Order::Desc)).unwrap())
}

/// Every log of a job within the retention, oldest first.
fn tantivy_job(s: &Searcher, f: &Fields, q: &dyn Query) -> Vec<Row> {
    let hits = s
        .search(q, &by_time_page(Order::Asc, JOB_LIMIT, 0))
        .unwrap();
    rows(s, f, hits)
}

fn time_range(f: &Fields, from: Bound<i64>, to: Bound<i64>) -> Box<dyn Query> {
    let term = |b: Bound<i64>| b.map(|t| Term::from_field_i64(f.time, t));
    Box::new(RangeQuery::new(term(from), term(to)))
}

fn term(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    ))
}

fn level_term(f: &Fields, level: Level) -> Term {
    Term::from_field_u64(f.level, u64::from(level.code()))
}

/// `[from, to]` and every one of `filters`.
fn and_range(f: &Fields, from: i64, to: i64, filters: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    let mut clauses = vec![(
        Occur::Must,
        time_range(f, Bound::Included(from), Bound::Included(to)),
    )];
    clauses.extend(filters.into_iter().map(|q| (Occur::Must, q)));
    if clauses.len() == 1 {
        clauses.pop().unwrap().1
    } else {
        Box::new(BooleanQuery::new(clauses))
    }
}

/// Matches per level code, from the `level` fast field of each match.
struct LevelCounts;

struct SegmentLevelCounts {
    level: std::sync::Arc<dyn ColumnValues<u64>>,
    counts: [u64; 4],
}

impl Collector for LevelCounts {
    type Fruit = [u64; 4];
    type Child = SegmentLevelCounts;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<SegmentLevelCounts> {
        Ok(SegmentLevelCounts {
            level: segment.fast_fields().u64("level")?.first_or_default_col(0),
            counts: [0; 4],
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<[u64; 4]>) -> tantivy::Result<[u64; 4]> {
        let mut out = [0; 4];
        for c in fruits {
            for (o, n) in out.iter_mut().zip(c) {
                *o += n;
            }
        }
        Ok(out)
    }
}

impl SegmentCollector for SegmentLevelCounts {
    type Fruit = [u64; 4];

    fn collect(&mut self, doc: DocId, _: Score) {
        self.counts[self.level.get_val(doc) as usize] += 1;
    }

    fn harvest(self) -> [u64; 4] {
        self.counts
    }
}

// ---------------------------------------------------------------------------
// The month in both engines.

struct Fixture {
    dir: tempfile::TempDir,
    _store: Store,
    logs: Project,
    index: Index,
    reader: IndexReader,
    f: Fields,
    jobs: Vec<String>,
    busiest_flow: String,
    now: i64,
}

/// Add `rows` and commit.
fn tantivy_commit(w: &mut IndexWriter, f: &Fields, rows: &[LogRecord]) {
    for r in rows {
        w.add_document(to_doc(f, r)).unwrap();
    }
    w.commit().unwrap();
}

fn build() -> Fixture {
    let total = record_count();
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(start());
    let store = StoreOptions::new()
        .clock(clock.clone())
        .open(dir.path().join("runlog"))
        .unwrap();
    let logs = store.project("bench").unwrap();
    let (index, f) = tantivy_create(&dir.path().join("tantivy"));
    let mut writer = tantivy_writer(&index);
    let mut month = month(total);
    let mut flows: HashMap<String, u64> = HashMap::new();
    let mut jobs = Vec::new();
    let mut written = 0u64;
    let (mut t_runlog, mut t_tantivy) = (Duration::ZERO, Duration::ZERO);
    // Batches of about two minutes of records, as a runtime would write
    // them (as in benches/query.rs); tantivy commits every 1,000 records.
    let per_batch = ((total / (DAYS * 86_400)).max(1) * 120).clamp(50, 1_000) as usize;
    let mut pending: Vec<LogRecord> = Vec::with_capacity(2_000);
    while written < total {
        let batch = month.batch(per_batch);
        let newest = batch.iter().map(|r| r.time).max().unwrap();
        let t = Instant::now();
        clock.set(newest.max(runlog::Clock::now(&clock)));
        logs.append_batch(&batch).unwrap();
        t_runlog += t.elapsed();
        for r in &batch {
            *flows.entry(r.flow.to_string()).or_default() += 1;
        }
        if jobs.len() < 64 && written >= jobs.len() as u64 * (total / 64) {
            jobs.push(batch[batch.len() / 2].job_id.to_string());
        }
        written += batch.len() as u64;
        pending.extend(batch);
        if pending.len() >= COMMIT_EVERY || written >= total {
            let t = Instant::now();
            for chunk in pending.chunks(COMMIT_EVERY) {
                tantivy_commit(&mut writer, &f, chunk);
            }
            t_tantivy += t.elapsed();
            pending.clear();
        }
    }
    let t = Instant::now();
    logs.sync().unwrap();
    t_runlog += t.elapsed();
    let segments = logs.segments().unwrap();
    eprintln!(
        "runlog: {written} records in {} segments ({} sealed) in {t_runlog:.1?} of appends",
        segments.len(),
        segments.iter().filter(|s| s.sealed).count(),
    );
    let t = Instant::now();
    writer.wait_merging_threads().unwrap();
    let t_merges = t.elapsed();
    // Drop the files of merged-away segments before measuring the disk.
    tantivy_writer(&index)
        .garbage_collect_files()
        .wait()
        .unwrap();
    let reader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()
        .unwrap();
    let searcher = reader.searcher();
    eprintln!(
        "tantivy: {written} records in {t_tantivy:.1?} of adds and commits ({} commits), \
         then {t_merges:.1?} waiting for merges; {} segments of {:?} documents",
        written.div_ceil(COMMIT_EVERY as u64),
        searcher.segment_readers().len(),
        searcher
            .segment_readers()
            .iter()
            .map(|s| s.num_docs())
            .collect::<Vec<_>>()
    );
    eprintln!(
        "disk: runlog {} MiB, tantivy {} MiB ({})",
        du(&dir.path().join("runlog")) >> 20,
        du(&dir.path().join("tantivy")) >> 20,
        du_by_extension(&dir.path().join("tantivy"))
    );
    let now = runlog::Clock::now(&clock).as_micros();
    let newest = searcher
        .search(
            &time_range(&f, Bound::Unbounded, Bound::Included(i64::MAX)),
            &by_time_page(Order::Desc, 1, 0),
        )
        .unwrap();
    assert_eq!(newest[0].0, Some(now), "\"now\" differs");
    assert_eq!(searcher.num_docs(), written, "tantivy lost documents");
    let busiest_flow = flows.into_iter().max_by_key(|(_, n)| *n).unwrap().0;
    Fixture {
        dir,
        _store: store,
        logs,
        index,
        reader,
        f,
        jobs,
        busiest_flow,
        now,
    }
}

/// Bytes of the files under `path`.
fn du(path: &Path) -> u64 {
    if path.is_file() {
        return path.metadata().unwrap().len();
    }
    std::fs::read_dir(path)
        .map(|rd| rd.flatten().map(|e| du(&e.path())).sum())
        .unwrap_or(0)
}

/// The files of a tantivy index by extension (`store`: stored documents,
/// `idx`: postings, `pos`: positions, `term`: term dictionaries, `fast`:
/// fast fields, …), in MiB, largest first.
fn du_by_extension(path: &Path) -> String {
    let mut by: HashMap<String, u64> = HashMap::new();
    for e in std::fs::read_dir(path).unwrap().flatten() {
        let p = e.path();
        let ext = p.extension().and_then(|x| x.to_str()).unwrap_or("");
        *by.entry(ext.to_string()).or_default() += p.metadata().unwrap().len();
    }
    let mut by: Vec<_> = by.into_iter().collect();
    by.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    by.iter()
        .map(|(ext, n)| format!("{ext} {:.1}", *n as f64 / (1 << 20) as f64))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Panic, with both sides, unless the engines returned the same records.
fn same(what: &str, runlog: &[runlog::StoredRecord], tantivy: &[Row]) {
    let show = |r: &LogRecord| format!("{} {:?} {} {:?}", r.time, r.level, r.job_id, r.content);
    assert_eq!(
        runlog.len(),
        tantivy.len(),
        "{what}: runlog returned {} records, tantivy {}",
        runlog.len(),
        tantivy.len()
    );
    for (i, (a, b)) in runlog.iter().zip(tantivy).enumerate() {
        assert!(
            a.record == b.record && a.has_detail == b.has_detail,
            "{what}: record {i} differs:\n  runlog  {} ({}, detail {})\n  tantivy {} ({:?}, detail {})",
            show(&a.record),
            a.id,
            a.has_detail,
            show(&b.record),
            b.addr,
            b.has_detail
        );
    }
}

/// Every match of `q` in runlog, newest first, page by page.
fn runlog_all(logs: &Project, q: &RQuery) -> Vec<runlog::StoredRecord> {
    let q = q.clone().limit(runlog::MAX_LIMIT);
    let mut page = logs.query(&q).unwrap();
    let mut out = std::mem::take(&mut page.records);
    while let Some(c) = page.next {
        page = logs.query(&q.clone().after(c)).unwrap();
        out.append(&mut page.records);
    }
    out
}

/// Whether `content` has `word` as a whole word the way tantivy's default
/// tokenizer cuts and lower-cases it (runs of alphanumeric characters).
fn has_word(content: &str, word: &str) -> bool {
    content
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| w.len() < 40 && w.to_lowercase() == word)
}

// ---------------------------------------------------------------------------
// The benchmarks.

/// One query in both engines.
struct Case {
    name: &'static str,
    runlog: RQuery,
    tantivy: Box<dyn Query>,
}

/// Check every listing query on both engines against `searcher`: all the
/// job lookups, and pages 1 to 3 and the match count of every case.
fn check(fx: &Fixture, searcher: &Searcher, cases: &[Case], jobs: &[Box<dyn Query>], label: &str) {
    let f = &fx.f;
    let mut job_records = 0;
    for (job, q) in fx.jobs.iter().zip(jobs) {
        let a = fx.logs.job_logs(job).unwrap();
        let b = tantivy_job(searcher, f, q.as_ref());
        assert!(b.len() < JOB_LIMIT / 2, "job {job}: {} records", b.len());
        same(&format!("{label} job_lookup {job}"), &a, &b);
        job_records += a.len();
    }
    eprintln!(
        "{label} job_lookup: {job_records} records in {} jobs, same in both",
        fx.jobs.len()
    );
    for c in cases {
        let q = c.tantivy.as_ref();
        let n_runlog = fx.logs.count(&c.runlog).unwrap().total;
        let n_tantivy = searcher.search(q, &Count).unwrap() as u64;
        let page = fx.logs.query(&c.runlog).unwrap();
        if c.name == "word_30d" {
            // Whole word (tantivy) against substring (runlog): every match
            // of each, compared after keeping runlog's matches that hold
            // the whole word.
            let words: Vec<_> = runlog_all(&fx.logs, &c.runlog)
                .into_iter()
                .filter(|r| has_word(&r.record.content, "timeout"))
                .collect();
            let all = tantivy_page(searcher, f, q, n_tantivy.max(1) as usize, 0);
            same(&format!("{label} {} (whole words)", c.name), &words, &all);
            eprintln!(
                "{label} {}: runlog {n_runlog} matches (substring), tantivy {n_tantivy} \
                 (whole word); tantivy's are exactly runlog's holding the whole word",
                c.name
            );
            if n_runlog != n_tantivy {
                continue;
            }
        } else {
            assert_eq!(
                n_runlog, n_tantivy,
                "{label} {}: runlog counts {n_runlog} matches, tantivy {n_tantivy}",
                c.name
            );
        }
        // Pages 1 to 3: runlog's cursor against tantivy's offset.
        let mut page = page;
        for k in 0..3 {
            let rows = tantivy_page(searcher, f, q, 100, 100 * k);
            same(
                &format!("{label} {} page {}", c.name, k + 1),
                &page.records,
                &rows,
            );
            match page.next {
                Some(cur) => page = fx.logs.query(&c.runlog.clone().after(cur)).unwrap(),
                None => break,
            }
        }
        eprintln!(
            "{label} {}: {} records per page, {n_runlog} matches in all, same in both",
            c.name,
            fx.logs.query(&c.runlog).unwrap().records.len()
        );
    }
}

fn queries(c: &mut Criterion) {
    let fx = build();
    let f = fx.f;
    let now = fx.now;
    let horizon = now - RETENTION;
    let last = |d: i64| (now - d).max(horizon);

    // Job lookup: every log of the job within the retention, oldest first.
    let job_queries: Vec<Box<dyn Query>> = fx
        .jobs
        .iter()
        .map(|job| -> Box<dyn Query> {
            Box::new(BooleanQuery::new(vec![
                (Occur::Must, term(f.job_id, job)),
                (
                    Occur::Must,
                    time_range(&f, Bound::Included(horizon), Bound::Unbounded),
                ),
            ]))
        })
        .collect();
    let flow = fx.busiest_flow.as_str();
    eprintln!("busiest flow: {flow}");
    let word = || -> Box<dyn Query> {
        Box::new(TermQuery::new(
            Term::from_field_text(f.content, "timeout"),
            IndexRecordOption::Basic,
        ))
    };
    let cases = vec![
        Case {
            name: "newest_30m",
            runlog: RQuery::new().limit(100),
            tantivy: and_range(&f, last(30 * MINUTE), now, vec![]),
        },
        Case {
            name: "error_prod_7d",
            runlog: RQuery::new()
                .preset(Preset::Last7Days)
                .level(Level::Error)
                .env("prod")
                .limit(100),
            tantivy: and_range(
                &f,
                last(7 * DAY),
                now,
                vec![
                    Box::new(TermQuery::new(
                        level_term(&f, Level::Error),
                        IndexRecordOption::Basic,
                    )),
                    term(f.env, "prod"),
                ],
            ),
        },
        Case {
            name: "flow_warn_error_24h",
            runlog: RQuery::new()
                .preset(Preset::LastDay)
                .flow(flow)
                .levels(&[Level::Warn, Level::Error])
                .limit(100),
            tantivy: and_range(
                &f,
                last(DAY),
                now,
                vec![
                    term(f.flow, flow),
                    Box::new(TermSetQuery::new([
                        level_term(&f, Level::Warn),
                        level_term(&f, Level::Error),
                    ])),
                ],
            ),
        },
        Case {
            name: "word_30d",
            runlog: RQuery::new()
                .preset(Preset::Last30Days)
                .text("timeout")
                .limit(100),
            tantivy: and_range(&f, last(30 * DAY), now, vec![word()]),
        },
        Case {
            name: "word_30d_regex",
            runlog: RQuery::new()
                .preset(Preset::Last30Days)
                .text("timeout")
                .limit(100),
            tantivy: and_range(
                &f,
                last(30 * DAY),
                now,
                vec![Box::new(
                    RegexQuery::from_pattern(".*timeout.*", f.content).unwrap(),
                )],
            ),
        },
    ];

    // Counts per level over 24 hours.
    let count_q = RQuery::new().preset(Preset::LastDay);
    let count_t = time_range(&f, Bound::Included(last(DAY)), Bound::Included(now));
    let check_counts = |searcher: &Searcher, label: &str| {
        let a = fx.logs.count(&count_q).unwrap().by_level;
        let b = searcher.search(count_t.as_ref(), &LevelCounts).unwrap();
        assert_eq!(
            a, b,
            "{label} count_levels_24h: runlog {a:?}, tantivy {b:?}"
        );
        eprintln!("{label} count_levels_24h: {a:?}, same in both");
    };

    let searcher = fx.reader.searcher();
    check(&fx, &searcher, &cases, &job_queries, "tantivy");
    check_counts(&searcher, "tantivy");

    let mut g = c.benchmark_group(format!("compare_{}", record_count()));
    g.sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));

    let mut i = 0;
    g.bench_function(BenchmarkId::new("job_lookup", "runlog"), |b| {
        b.iter(|| {
            i = (i + 1) % fx.jobs.len();
            black_box(fx.logs.job_logs(&fx.jobs[i]).unwrap())
        })
    });
    // The tantivy benchmarks, against `searcher` (one per run of them).
    let bench_tantivy = |g: &mut criterion::BenchmarkGroup<'_, _>, s: &Searcher, engine: &str| {
        let mut i = 0;
        g.bench_function(BenchmarkId::new("job_lookup", engine), |b| {
            b.iter(|| {
                i = (i + 1) % job_queries.len();
                black_box(tantivy_job(s, &f, job_queries[i].as_ref()))
            })
        });
        for c in &cases {
            g.bench_function(BenchmarkId::new(c.name, engine), |b| {
                b.iter(|| black_box(tantivy_newest(s, &f, c.tantivy.as_ref())))
            });
        }
        g.bench_function(BenchmarkId::new("count_levels_24h", engine), |b| {
            b.iter(|| black_box(s.search(count_t.as_ref(), &LevelCounts).unwrap()))
        });
    };
    bench_tantivy(&mut g, &searcher, "tantivy");
    // Where tantivy's time goes: the same searches without reading the
    // stored documents (the hits' sort keys and addresses only).
    let mut i = 0;
    g.bench_function(BenchmarkId::new("job_lookup", "tantivy_hits"), |b| {
        b.iter(|| {
            i = (i + 1) % job_queries.len();
            black_box(
                searcher
                    .search(
                        job_queries[i].as_ref(),
                        &by_time_page(Order::Asc, JOB_LIMIT, 0),
                    )
                    .unwrap(),
            )
        })
    });
    for c in &cases {
        g.bench_function(BenchmarkId::new(c.name, "tantivy_hits"), |b| {
            b.iter(|| {
                black_box(
                    searcher
                        .search(c.tantivy.as_ref(), &by_time(Order::Desc))
                        .unwrap(),
                )
            })
        });
    }
    for c in cases.iter().filter(|c| c.name != "word_30d_regex") {
        g.bench_function(BenchmarkId::new(c.name, "runlog"), |b| {
            b.iter(|| black_box(fx.logs.query(&c.runlog).unwrap()))
        });
    }
    g.bench_function(BenchmarkId::new("count_levels_24h", "runlog"), |b| {
        b.iter(|| black_box(fx.logs.count(&count_q).unwrap()))
    });

    // For reference: the same index force-merged into one segment.
    drop(searcher);
    let t = Instant::now();
    let mut w = tantivy_writer(&fx.index);
    let ids = fx.index.searchable_segment_ids().unwrap();
    w.merge(&ids).wait().unwrap();
    w.wait_merging_threads().unwrap();
    tantivy_writer(&fx.index)
        .garbage_collect_files()
        .wait()
        .unwrap();
    fx.reader.reload().unwrap();
    let searcher = fx.reader.searcher();
    eprintln!(
        "tantivy: {} segments merged into {} in {:.1?}; disk {} MiB ({})",
        ids.len(),
        searcher.segment_readers().len(),
        t.elapsed(),
        du(&fx.dir.path().join("tantivy")) >> 20,
        du_by_extension(&fx.dir.path().join("tantivy"))
    );
    check(&fx, &searcher, &cases, &job_queries, "tantivy_1seg");
    check_counts(&searcher, "tantivy_1seg");
    bench_tantivy(&mut g, &searcher, "tantivy_1seg");
    g.finish();
}

/// Append the batches into a fresh runlog store; the clock follows the
/// records. Opening is not timed.
fn ingest_runlog(batches: &[Vec<LogRecord>], iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(start());
        let store = StoreOptions::new()
            .clock(clock.clone())
            .open(dir.path())
            .unwrap();
        let p = store.project("bench").unwrap();
        let t = Instant::now();
        for batch in batches {
            clock.set(batch.iter().map(|r| r.time).max().unwrap());
            p.append_batch(batch).unwrap();
        }
        total += t.elapsed();
    }
    total
}

/// Where tantivy's ingest time goes, summed over every iteration run
/// (warm-up included): until the last commit returned, and in all.
#[derive(Default)]
struct Split {
    iters: Cell<u64>,
    committed: Cell<Duration>,
    total: Cell<Duration>,
}

/// Add the batches into a fresh tantivy index, committing after every
/// batch or once at the end, then wait for the merges the commits
/// started. Creating the index and the writer is not timed.
fn ingest_tantivy(
    batches: &[Vec<LogRecord>],
    commit_each: bool,
    iters: u64,
    split: &Split,
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let dir = tempfile::tempdir().unwrap();
        let (index, f) = tantivy_create(dir.path());
        let mut w = tantivy_writer(&index);
        let t = Instant::now();
        for batch in batches {
            for r in batch {
                w.add_document(to_doc(&f, r)).unwrap();
            }
            if commit_each {
                w.commit().unwrap();
            }
        }
        if !commit_each {
            w.commit().unwrap();
        }
        let committed = t.elapsed();
        w.wait_merging_threads().unwrap();
        let elapsed = t.elapsed();
        total += elapsed;
        split.iters.set(split.iters.get() + 1);
        split.committed.set(split.committed.get() + committed);
        split.total.set(split.total.get() + elapsed);
    }
    total
}

fn ingest(c: &mut Criterion) {
    let mut g = c.benchmark_group("ingest_100k");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Elements(100_000));
    // 100,000 records of one partition (the generator's default 2,000
    // records/s).
    let mut generator = Generator::new(SEED, start());
    let burst: Vec<Vec<LogRecord>> = (0..100).map(|_| generator.batch(1_000)).collect();
    // The same number at the month's rate: runlog also seals a segment
    // every hour of record time.
    let mut month = month(record_count());
    let spread: Vec<Vec<LogRecord>> = (0..100).map(|_| month.batch(1_000)).collect();
    let hours = (spread.last().unwrap().last().unwrap().time.as_micros() - start().as_micros())
        / 3_600_000_000;
    eprintln!("ingest at the month's rate: 100,000 records over {hours} hours");
    let month_name = format!("at_{}_per_month", record_count());
    for (name, batches) in [("one_partition", &burst), (month_name.as_str(), &spread)] {
        g.bench_function(BenchmarkId::new(name, "runlog"), |b| {
            b.iter_custom(|iters| ingest_runlog(batches, iters))
        });
        for (engine, commit_each) in [("tantivy_commit_each", true), ("tantivy_commit_end", false)]
        {
            let split = Split::default();
            g.bench_function(BenchmarkId::new(name, engine), |b| {
                b.iter_custom(|iters| ingest_tantivy(batches, commit_each, iters, &split))
            });
            let n = split.iters.get().max(1) as u32;
            eprintln!(
                "{name}/{engine}: {} iterations; mean {:.1?} until the last commit returned, \
                 {:.1?} with the merges",
                split.iters.get(),
                split.committed.get() / n,
                split.total.get() / n
            );
        }
    }
    g.finish();
}

fn versions(_: &mut Criterion) {
    eprintln!(
        "tantivy {} (index format {}), one indexing thread, {} MB heap",
        tantivy::version_string(),
        tantivy::INDEX_FORMAT_VERSION,
        HEAP / 1_000_000
    );
}

criterion_group!(benches, versions, queries, ingest);
criterion_main!(benches);
