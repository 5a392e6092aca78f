//! runlog against SQLite on the query benchmark's workload (the root
//! crate's `benches/query.rs`): the same month of generated records, the
//! same queries, side by side in one run.
//!
//! Run from `benches/sqlite-compare/` with `cargo bench` (1,000,000
//! records over 30 days); set `RUNLOG_BENCH_RECORDS=10000000` for ten
//! million. See README.md beside this file for the schema, the indexes and
//! where the two engines' semantics differ.
//!
//! The month is built once per run (untimed) into both engines, from one
//! stream of records of the `runlog_sample` generator (same seed, start,
//! time stretching and ~2-minute batches as `benches/query.rs`). Before
//! timing anything, every query is run on both engines and the results are
//! compared record by record (time, level, every text field, attempt,
//! whether a detail exists); the run stops at the first difference.
//!
//! Benchmarks, each `<name>/runlog` and `<name>/sqlite`:
//! - `job_lookup`: every log of one job, oldest first, cycling through 64 jobs.
//! - `newest_30m`: the newest 100 of the last 30 minutes, no filter.
//! - `error_prod_7d`: the newest 100 with level = Error and env = prod over 7 days.
//! - `flow_warn_error_24h`: the newest 100 with flow = the busiest flow and
//!   level in {Warn, Error} over 24 hours.
//! - `word_30d`: the newest 100 whose content contains "timeout" over 30
//!   days (SQLite: FTS5 trigram index, substring semantics like runlog's).
//! - `word_30d_time_index` (SQLite only, for reference): the same query
//!   with `INDEXED BY logs_time`, so SQLite walks time newest first and
//!   stops at 100 instead of sorting every match.
//! - `word_30d_prefix` (SQLite only, for reference): the same with an FTS5
//!   `unicode61` word index and `MATCH 'timeout*'` (word-prefix semantics).
//! - `count_levels_24h`: counts per level over 24 hours.
//! - `ingest_100k`: 100,000 records in batches (transactions) of 1,000
//!   into a fresh store / database, at the generator's default rate (one
//!   hour partition) and at the month's rate (runlog then seals a segment
//!   every hour of record time); plus, for reference, SQLite with a
//!   `unicode61` word index in place of the trigram one.

use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use runlog_sample::{Generator, Spread};
use runlog::{
    Level, LogRecord, ManualClock, Preset, Project, Query, Store, StoreOptions, Text, Timestamp,
};
use rusqlite::{Connection, params};

const SEED: u64 = 7;
const DAYS: u64 = 30;
const MINUTE: i64 = 60_000_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// runlog's default retention: reads never return an older record.
const RETENTION: i64 = 30 * DAY;

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
// SQLite: schema, ingest, queries.

/// WAL, `synchronous = NORMAL`: a commit survives a crash of the process
/// (like every acknowledged runlog append); the WAL is synced at
/// checkpoints, so a power loss may take the last commits (like runlog's
/// default `SyncPolicy::Periodic(1s)`).
const PRAGMAS: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
";

/// One row per record. `detail` is last, so reading the listing columns
/// never touches it (it may spill to overflow pages).
const SCHEMA: &str = "
CREATE TABLE logs (
    id        INTEGER PRIMARY KEY,   -- rowid: insertion order
    time      INTEGER NOT NULL,      -- microseconds since the Unix epoch
    level     INTEGER NOT NULL,      -- 0 Debug, 1 Info, 2 Warn, 3 Error
    job_id    TEXT NOT NULL,
    flow      TEXT NOT NULL,
    component TEXT NOT NULL,
    action    TEXT NOT NULL,
    category  TEXT NOT NULL,
    env       TEXT NOT NULL,
    app       TEXT NOT NULL,
    version   TEXT NOT NULL,
    attempt   INTEGER NOT NULL,
    content   TEXT NOT NULL,
    detail    TEXT                   -- NULL: no detail
);
-- Every index ends in time (and, implicitly, the rowid), so an equality on
-- its first column plus a time range reads newest first without sorting.
CREATE INDEX logs_time      ON logs(time);
CREATE INDEX logs_job       ON logs(job_id, time);
CREATE INDEX logs_flow      ON logs(flow, time);
CREATE INDEX logs_level     ON logs(level, time);
CREATE INDEX logs_env       ON logs(env, time);
CREATE INDEX logs_app       ON logs(app, time);
CREATE INDEX logs_version   ON logs(version, time);
CREATE INDEX logs_component ON logs(component, time);
CREATE INDEX logs_action    ON logs(action, time);
CREATE INDEX logs_category  ON logs(category, time);
-- Substring search on content: an external-content FTS5 table (the text
-- stays in `logs` only) with the trigram tokenizer ({TOKENIZER} is
-- `trigram` but in the reference ingest variant), kept up to date by a
-- trigger in the inserting transaction.
CREATE VIRTUAL TABLE logs_fts USING fts5(
    content, content = 'logs', content_rowid = 'id', tokenize = '{TOKENIZER}'
);
CREATE TRIGGER logs_fts_insert AFTER INSERT ON logs BEGIN
    INSERT INTO logs_fts(rowid, content) VALUES (new.id, new.content);
END;
";

/// For reference only (query fixture, not the ingest benchmark): a word
/// index as most FTS5 setups have, `unicode61` words, searched by prefix.
const WORD_FTS: &str = "
CREATE VIRTUAL TABLE logs_words USING fts5(
    content, content = 'logs', content_rowid = 'id', tokenize = 'unicode61'
);
INSERT INTO logs_words(logs_words) VALUES ('rebuild');
";

const INSERT: &str = "INSERT INTO logs
    (time, level, job_id, flow, component, action, category, env, app, version, attempt, content, detail)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";

/// The listing columns: every field but `detail`, and whether it is there.
const COLS: &str = "id, time, level, job_id, flow, component, action, category, env, app, version, \
                    attempt, content, detail IS NOT NULL";

/// Extra statements run on every connection after `PRAGMAS`, from the
/// environment (e.g. `PRAGMA mmap_size = 4294967296;`); none by default.
fn extra_pragmas() -> String {
    std::env::var("SQLITE_COMPARE_PRAGMAS").unwrap_or_default()
}

fn sqlite_open(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(PRAGMAS).unwrap();
    conn.execute_batch(&extra_pragmas()).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    conn
}

/// A fresh database with `SCHEMA`, its FTS5 table on content using
/// `tokenizer` (`trigram` for the comparison; `unicode61` for reference).
fn sqlite_create(path: &Path, tokenizer: &str) -> Connection {
    let conn = sqlite_open(path);
    conn.execute_batch(&SCHEMA.replace("{TOKENIZER}", tokenizer))
        .unwrap();
    conn
}

/// Insert `rows` in one transaction, with the cached prepared statement.
fn sqlite_insert(conn: &Connection, rows: &[LogRecord]) {
    conn.execute_batch("BEGIN").unwrap();
    {
        let mut ins = conn.prepare_cached(INSERT).unwrap();
        for r in rows {
            ins.execute(params![
                r.time.as_micros(),
                r.level.code(),
                r.job_id.as_str(),
                r.flow.as_str(),
                r.component.as_str(),
                r.action.as_str(),
                r.category.as_str(),
                r.env.as_str(),
                r.app.as_str(),
                r.version.as_str(),
                r.attempt,
                r.content.as_str(),
                r.detail.as_deref(),
            ])
            .unwrap();
        }
    }
    conn.execute_batch("COMMIT").unwrap();
}

/// A row as a listing returns it: the record without its detail.
#[derive(Debug)]
struct Row {
    id: i64,
    record: LogRecord,
    has_detail: bool,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let text = |i: usize| -> rusqlite::Result<Text> { Ok(Text::from(r.get_ref(i)?.as_str()?)) };
    Ok(Row {
        id: r.get(0)?,
        record: LogRecord {
            time: Timestamp::from_micros(r.get(1)?),
            level: Level::from_code(r.get(2)?).unwrap(),
            job_id: text(3)?,
            flow: text(4)?,
            component: text(5)?,
            action: text(6)?,
            category: text(7)?,
            env: text(8)?,
            app: text(9)?,
            version: text(10)?,
            attempt: r.get(11)?,
            content: text(12)?,
            detail: None,
        },
        has_detail: r.get(13)?,
    })
}

fn sqlite_rows(conn: &Connection, sql: &str, args: &[&dyn rusqlite::ToSql]) -> Vec<Row> {
    let mut st = conn.prepare_cached(sql).unwrap();
    st.query_map(args, row)
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn sqlite_count(conn: &Connection, sql: &str, args: &[&dyn rusqlite::ToSql]) -> u64 {
    let mut st = conn.prepare_cached(sql).unwrap();
    st.query_row(args, |r| r.get::<_, i64>(0)).unwrap() as u64
}

/// The SQL of one paged query: `filter` (on `logs`, with ?1 = from and ?2 =
/// to, inclusive), newest first, 100 to a page; and the count of all matches.
struct Sql {
    page: String,
    count: String,
    args: Vec<Box<dyn rusqlite::ToSql>>,
}

impl Sql {
    fn new(filter: &str, from: i64, to: i64, more: Vec<Box<dyn rusqlite::ToSql>>) -> Sql {
        let mut args: Vec<Box<dyn rusqlite::ToSql>> = vec![Box::new(from), Box::new(to)];
        args.extend(more);
        Sql {
            page: format!(
                "SELECT {COLS} FROM logs WHERE time >= ?1 AND time <= ?2 AND {filter} \
                 ORDER BY time DESC, id DESC LIMIT 100"
            ),
            count: format!(
                "SELECT count(*) FROM logs WHERE time >= ?1 AND time <= ?2 AND {filter}"
            ),
            args,
        }
    }

    fn args(&self) -> Vec<&dyn rusqlite::ToSql> {
        self.args.iter().map(|a| a.as_ref()).collect()
    }
}

// ---------------------------------------------------------------------------
// The month in both engines.

struct Fixture {
    _dir: tempfile::TempDir,
    _store: Store,
    logs: Project,
    db: Connection,
    jobs: Vec<String>,
    busiest_flow: String,
    now: i64,
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
    let db = sqlite_create(&dir.path().join("logs.sqlite"), "trigram");
    let mut month = month(total);
    let mut flows: HashMap<String, u64> = HashMap::new();
    let mut jobs = Vec::new();
    let mut written = 0u64;
    let (mut t_runlog, mut t_sqlite) = (Duration::ZERO, Duration::ZERO);
    // Batches of about two minutes of records, as a runtime would write
    // them (as in benches/query.rs); SQLite gets transactions of 1,000 rows.
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
        if pending.len() >= 1_000 || written >= total {
            let t = Instant::now();
            for chunk in pending.chunks(1_000) {
                sqlite_insert(&db, chunk);
            }
            t_sqlite += t.elapsed();
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
    db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    t_sqlite += t.elapsed();
    eprintln!("sqlite: {written} records in {t_sqlite:.1?} of transactions");
    // What a DBA would do once: statistics for the planner.
    let t = Instant::now();
    db.execute_batch("ANALYZE;").unwrap();
    eprintln!("sqlite: ANALYZE in {:.1?}", t.elapsed());
    let sqlite_bytes = du(&dir.path().join("logs.sqlite"));
    let t = Instant::now();
    db.execute_batch(WORD_FTS).unwrap();
    db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    eprintln!(
        "sqlite: unicode61 word index (reference only) built in {:.1?}",
        t.elapsed()
    );
    eprintln!(
        "disk: runlog {} MiB, sqlite {} MiB (+ {} MiB for the reference word index)",
        du(&dir.path().join("runlog")) >> 20,
        sqlite_bytes >> 20,
        (du(&dir.path().join("logs.sqlite")) - sqlite_bytes) >> 20
    );
    let now: i64 = db
        .query_row("SELECT max(time) FROM logs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        now,
        runlog::Clock::now(&clock).as_micros(),
        "\"now\" differs"
    );
    let busiest_flow = flows.into_iter().max_by_key(|(_, n)| *n).unwrap().0;
    Fixture {
        _dir: dir,
        _store: store,
        logs,
        db,
        jobs,
        busiest_flow,
        now,
    }
}

/// Bytes of the files under `path` (or of the file `path` and its `-wal`).
fn du(path: &Path) -> u64 {
    if path.is_file() {
        let wal = path.with_extension("sqlite-wal");
        return path.metadata().unwrap().len() + wal.metadata().map(|m| m.len()).unwrap_or(0);
    }
    std::fs::read_dir(path)
        .map(|rd| rd.flatten().map(|e| du(&e.path())).sum())
        .unwrap_or(0)
}

/// Panic, with both sides, unless the engines returned the same records.
fn same(what: &str, runlog: &[runlog::StoredRecord], sqlite: &[Row]) {
    let show = |r: &LogRecord| format!("{} {:?} {} {:?}", r.time, r.level, r.job_id, r.content);
    assert_eq!(
        runlog.len(),
        sqlite.len(),
        "{what}: runlog returned {} records, SQLite {}",
        runlog.len(),
        sqlite.len()
    );
    for (i, (a, b)) in runlog.iter().zip(sqlite).enumerate() {
        assert!(
            a.record == b.record && a.has_detail == b.has_detail,
            "{what}: record {i} differs:\n  runlog {} ({}, detail {})\n  sqlite {} (rowid {}, detail {})",
            show(&a.record),
            a.id,
            a.has_detail,
            show(&b.record),
            b.id,
            b.has_detail
        );
    }
}

fn plan(conn: &Connection, sql: &str, args: &[&dyn rusqlite::ToSql]) -> String {
    let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let rows: Vec<String> = st
        .query_map(args, |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    rows.join("; ")
}

// ---------------------------------------------------------------------------
// The benchmarks.

fn queries(c: &mut Criterion) {
    let f = build();
    let now = f.now;
    let horizon = now - RETENTION;
    let last = |d: i64| (now - d).max(horizon);

    // Job lookup: every log of the job within the retention, oldest first.
    let job_sql =
        format!("SELECT {COLS} FROM logs WHERE job_id = ?1 AND time >= ?2 ORDER BY time, id");
    let mut job_records = 0;
    for job in &f.jobs {
        let a = f.logs.job_logs(job).unwrap();
        let b = sqlite_rows(&f.db, &job_sql, params![job, horizon]);
        same(&format!("job_lookup {job}"), &a, &b);
        job_records += a.len();
    }
    eprintln!(
        "job_lookup: {job_records} records in {} jobs, same in both; plan: {}",
        f.jobs.len(),
        plan(&f.db, &job_sql, params![f.jobs[1], horizon])
    );

    let flow = f.busiest_flow.as_str();
    let cases: Vec<(&str, Query, Sql)> = vec![
        (
            "newest_30m",
            Query::new().limit(100),
            Sql::new("1", last(30 * MINUTE), now, vec![]),
        ),
        (
            "error_prod_7d",
            Query::new()
                .preset(Preset::Last7Days)
                .level(Level::Error)
                .env("prod")
                .limit(100),
            Sql::new(
                "level = 3 AND env = ?3",
                last(7 * DAY),
                now,
                vec![Box::new("prod")],
            ),
        ),
        (
            "flow_warn_error_24h",
            Query::new()
                .preset(Preset::LastDay)
                .flow(flow)
                .levels(&[Level::Warn, Level::Error])
                .limit(100),
            Sql::new(
                "flow = ?3 AND level IN (2, 3)",
                last(DAY),
                now,
                vec![Box::new(flow.to_string())],
            ),
        ),
        (
            "word_30d",
            Query::new()
                .preset(Preset::Last30Days)
                .text("timeout")
                .limit(100),
            Sql::new(
                "id IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH ?3)",
                last(30 * DAY),
                now,
                vec![Box::new("\"timeout\"")],
            ),
        ),
    ];
    eprintln!("busiest flow: {flow}");
    for (name, q, sql) in &cases {
        let page = f.logs.query(q).unwrap();
        let rows = sqlite_rows(&f.db, &sql.page, &sql.args());
        same(name, &page.records, &rows);
        let n_runlog = f.logs.count(q).unwrap().total;
        let n_sqlite = sqlite_count(&f.db, &sql.count, &sql.args());
        assert_eq!(
            n_runlog, n_sqlite,
            "{name}: runlog counts {n_runlog} matches, SQLite {n_sqlite}"
        );
        // The next two pages too, by runlog's cursor and SQLite's keyset.
        let (mut cursor, mut tail) = (page.next, rows.last().map(|r| (r.record.time, r.id)));
        for k in 2..=3 {
            let (Some(c), Some((t, id))) = (cursor, tail) else {
                break;
            };
            let page = f.logs.query(&q.clone().after(c)).unwrap();
            let keyset = sql.page.replace(
                "ORDER BY",
                &format!("AND (time, id) < ({}, {id}) ORDER BY", t.as_micros()),
            );
            let rows = sqlite_rows(&f.db, &keyset, &sql.args());
            same(&format!("{name} page {k}"), &page.records, &rows);
            cursor = page.next;
            tail = rows.last().map(|r| (r.record.time, r.id));
        }
        eprintln!(
            "{name}: {} records per page, {n_runlog} matches in all, same in both; plan: {}",
            page.records.len(),
            plan(&f.db, &sql.page, &sql.args())
        );
    }

    // The word search written so that SQLite walks the time index newest
    // first (as runlog does) instead of sorting every match: the FTS
    // matches become an in-memory rowid set, probed per index entry.
    let word = &cases[3].2;
    let word_by_time = Sql {
        page: word
            .page
            .replace("FROM logs WHERE", "FROM logs INDEXED BY logs_time WHERE"),
        count: word.count.clone(),
        args: vec![
            Box::new(last(30 * DAY)),
            Box::new(now),
            Box::new("\"timeout\""),
        ],
    };
    same(
        "word_30d (time index)",
        &f.logs.query(&cases[3].1).unwrap().records,
        &sqlite_rows(&f.db, &word_by_time.page, &word_by_time.args()),
    );
    eprintln!(
        "word_30d_time_index (SQLite only): same records; plan: {}",
        plan(&f.db, &word_by_time.page, &word_by_time.args())
    );

    // Word search with a word index, for reference: prefix semantics.
    let prefix = Sql::new(
        "id IN (SELECT rowid FROM logs_words WHERE logs_words MATCH ?3)",
        last(30 * DAY),
        now,
        vec![Box::new("timeout*")],
    );
    let n_prefix = sqlite_count(&f.db, &prefix.count, &prefix.args());
    let n_substring = f.logs.count(&cases[3].1).unwrap().total;
    eprintln!(
        "word_30d_prefix (SQLite only): {n_prefix} matches for 'timeout*' (words), \
         {n_substring} for the substring \"timeout\"; plan: {}",
        plan(&f.db, &prefix.page, &prefix.args())
    );
    if n_prefix != n_substring {
        let missed: Vec<String> = {
            let sql = "SELECT content FROM logs WHERE time >= ?1 AND time <= ?2 \
                       AND id IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH '\"timeout\"') \
                       AND id NOT IN (SELECT rowid FROM logs_words WHERE logs_words MATCH 'timeout*') \
                       LIMIT 3";
            let mut st = f.db.prepare(sql).unwrap();
            st.query_map(params![last(30 * DAY), now], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        eprintln!("  substring matches the word index misses, e.g.: {missed:?}");
    }

    // Counts per level over 24 hours.
    let count_sql =
        "SELECT level, count(*) FROM logs WHERE time >= ?1 AND time <= ?2 GROUP BY level";
    let count_sqlite = |from: i64| -> [u64; 4] {
        let mut st = f.db.prepare_cached(count_sql).unwrap();
        let mut out = [0u64; 4];
        let mut rows = st.query(params![from, now]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            out[r.get::<_, i64>(0).unwrap() as usize] = r.get::<_, i64>(1).unwrap() as u64;
        }
        out
    };
    let count_q = Query::new().preset(Preset::LastDay);
    let a = f.logs.count(&count_q).unwrap().by_level;
    let b = count_sqlite(last(DAY));
    assert_eq!(a, b, "count_levels_24h: runlog {a:?}, SQLite {b:?}");
    eprintln!(
        "count_levels_24h: {a:?}, same in both; plan: {}",
        plan(&f.db, count_sql, params![last(DAY), now])
    );

    // Timing.
    let mut g = c.benchmark_group(format!("compare_{}", record_count()));
    g.sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));

    let mut i = 0;
    g.bench_function(BenchmarkId::new("job_lookup", "runlog"), |b| {
        b.iter(|| {
            i = (i + 1) % f.jobs.len();
            black_box(f.logs.job_logs(&f.jobs[i]).unwrap())
        })
    });
    let mut i = 0;
    g.bench_function(BenchmarkId::new("job_lookup", "sqlite"), |b| {
        b.iter(|| {
            i = (i + 1) % f.jobs.len();
            black_box(sqlite_rows(&f.db, &job_sql, params![f.jobs[i], horizon]))
        })
    });
    for (name, q, sql) in &cases {
        g.bench_function(BenchmarkId::new(*name, "runlog"), |b| {
            b.iter(|| black_box(f.logs.query(q).unwrap()))
        });
        let args = sql.args();
        g.bench_function(BenchmarkId::new(*name, "sqlite"), |b| {
            b.iter(|| black_box(sqlite_rows(&f.db, &sql.page, &args)))
        });
    }
    let args = word_by_time.args();
    g.bench_function(BenchmarkId::new("word_30d_time_index", "sqlite"), |b| {
        b.iter(|| black_box(sqlite_rows(&f.db, &word_by_time.page, &args)))
    });
    let args = prefix.args();
    g.bench_function(BenchmarkId::new("word_30d_prefix", "sqlite"), |b| {
        b.iter(|| black_box(sqlite_rows(&f.db, &prefix.page, &args)))
    });
    g.bench_function(BenchmarkId::new("count_levels_24h", "runlog"), |b| {
        b.iter(|| black_box(f.logs.count(&count_q).unwrap()))
    });
    g.bench_function(BenchmarkId::new("count_levels_24h", "sqlite"), |b| {
        b.iter(|| black_box(count_sqlite(last(DAY))))
    });
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

/// Insert the batches, a transaction each, into a fresh SQLite database.
/// Creating the schema is not timed.
fn ingest_sqlite(batches: &[Vec<LogRecord>], tokenizer: &str, iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let dir = tempfile::tempdir().unwrap();
        let db = sqlite_create(&dir.path().join("logs.sqlite"), tokenizer);
        let t = Instant::now();
        for batch in batches {
            sqlite_insert(&db, batch);
        }
        total += t.elapsed();
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
        g.bench_function(BenchmarkId::new(name, "sqlite"), |b| {
            b.iter_custom(|iters| ingest_sqlite(batches, "trigram", iters))
        });
    }
    // For reference: the same schema with a word index (unicode61) in
    // place of the trigram one.
    g.bench_function(BenchmarkId::new("one_partition", "sqlite_unicode61"), |b| {
        b.iter_custom(|iters| ingest_sqlite(&burst, "unicode61", iters))
    });
    g.finish();
}

fn sqlite_version(_: &mut Criterion) {
    let db = Connection::open_in_memory().unwrap();
    let v: String = db
        .query_row("SELECT sqlite_version()", [], |r| r.get(0))
        .unwrap();
    let fts5: bool = db
        .query_row("SELECT sqlite_compileoption_used('ENABLE_FTS5')", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(fts5, "this SQLite has no FTS5");
    eprintln!("SQLite {v} (bundled), FTS5 compiled in");
    let extra = extra_pragmas();
    if !extra.is_empty() {
        eprintln!("SQLite extra statements on every connection: {extra}");
    }
}

criterion_group!(benches, sqlite_version, queries, ingest);
criterion_main!(benches);
