//! The query engine against a brute-force oracle: random stores, random
//! queries (any filter combination, any preset at any clock time), page by
//! page through cursors, with records arriving late and while paginating.
//!
//! Cases: `PROPTEST_CASES` (default 40).

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::T0;
use proptest::prelude::*;
use runlog::{
    Level, LogRecord, ManualClock, Preset, Project, Query, RecordId, StoreOptions, StoredRecord,
    SyncPolicy, TimeRange, Timestamp,
};

const FLOWS: [&str; 4] = ["sync-orders", "sync-stock", "notify", "billing"];
const ENVS: [&str; 3] = ["prod", "test", "staging"];
const WORDS: [&str; 11] = [
    "Timeout",
    "connection",
    "refused",
    "POST",
    "/orders",
    "503",
    "ok",
    "Größe",
    "orders",
    "db-01",
    "took",
];

#[derive(Clone, Debug)]
struct Spec {
    /// Seconds before the clock's time when appended.
    back: u64,
    level: u8,
    flow: u8,
    env: u8,
    job: u8,
    words: Vec<u8>,
    detail: bool,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0..7200u64,
        0..4u8,
        0..4u8,
        0..3u8,
        0..12u8,
        prop::collection::vec(0..11u8, 0..5),
        any::<bool>(),
    )
        .prop_map(|(back, level, flow, env, job, words, detail)| Spec {
            back,
            level,
            flow,
            env,
            job,
            words,
            detail,
        })
}

fn record(s: &Spec, now: Timestamp, n: usize) -> LogRecord {
    let content = s
        .words
        .iter()
        .map(|&w| WORDS[w as usize])
        .collect::<Vec<_>>()
        .join(" ");
    let mut r = LogRecord::new(
        now.saturating_sub(Duration::from_secs(s.back)),
        Level::from_code(s.level).unwrap(),
        format!("job-{}", s.job),
        format!("{content} #{n}"),
    )
    .flow(FLOWS[s.flow as usize])
    .env(ENVS[s.env as usize])
    .app("shop")
    .version(if s.job.is_multiple_of(2) {
        "1.0"
    } else {
        "1.1"
    })
    .component("HTTP")
    .action("call")
    .category("out");
    if s.detail {
        r = r.detail("payload");
    }
    r
}

/// Query words: whole words, pieces of words, and pieces spanning punctuation.
const PIECES: [&str; 12] = [
    "timeout", "CONN", "refused", "orders", "50", "Ok", "größe", "ÖSSE", "nope", "/ord", "b-0",
    "DB-01",
];

#[derive(Clone, Debug)]
struct QSpec {
    range: u8,
    levels: u8,
    min_level: Option<u8>,
    flow: Option<u8>,
    env: Option<u8>,
    job: Option<u8>,
    version: Option<bool>,
    text: Vec<u8>,
    limit: usize,
    offset_h: i32,
}

fn qspec() -> impl Strategy<Value = QSpec> {
    (
        0..18u8,
        0..16u8,
        prop::option::weighted(0.2, 0..4u8),
        prop::option::weighted(0.3, 0..4u8),
        prop::option::weighted(0.3, 0..3u8),
        prop::option::weighted(0.15, 0..12u8),
        prop::option::weighted(0.1, any::<bool>()),
        prop::collection::vec(0..12u8, 0..3),
        1..25usize,
        -12..14i32,
    )
        .prop_map(
            |(range, levels, min_level, flow, env, job, version, text, limit, offset_h)| QSpec {
                range,
                levels,
                min_level,
                flow,
                env,
                job,
                version,
                text,
                limit,
                offset_h,
            },
        )
}

/// The query, and the text words it searches (some are pieces of words).
fn query(q: &QSpec, now: Timestamp) -> Query {
    let mut query = match q.range {
        r @ 0..14 => Query::new().preset(Preset::ALL[r as usize]),
        14 => Query::new().all_time(),
        15 => Query::new().last(Duration::from_secs(1234)),
        16 => Query::new().range(
            TimeRange::new(
                now.saturating_sub(Duration::from_secs(5000)),
                now.saturating_sub(Duration::from_secs(1000)),
            )
            .unwrap(),
        ),
        _ => Query::new(),
    };
    for l in Level::ALL {
        if q.levels & (1 << l.code()) != 0 {
            query = query.level(l);
        }
    }
    if let Some(m) = q.min_level {
        query = query.min_level(Level::from_code(m).unwrap());
    }
    if let Some(f) = q.flow {
        query = query.flow(FLOWS[f as usize]);
    }
    if let Some(e) = q.env {
        query = query.env(ENVS[e as usize]);
    }
    if let Some(j) = q.job {
        query = query.job_id(format!("job-{j}"));
    }
    if let Some(v) = q.version {
        query = query.version(if v { "1.0" } else { "1.1" });
    }
    let pieces = PIECES;
    let text: Vec<&str> = q.text.iter().map(|&t| pieces[t as usize]).collect();
    query.text(&text.join(" ")).limit(q.limit)
}

/// The oracle: does `r` match the query (apart from its range)?
fn matches(q: &QSpec, r: &LogRecord) -> bool {
    let pieces = PIECES;
    let mut levels = q.levels;
    if let Some(m) = q.min_level {
        levels = (m..4).fold(0, |acc, c| acc | (1 << c));
    }
    (levels == 0 || levels & (1 << r.level.code()) != 0)
        && q.flow.is_none_or(|f| r.flow == FLOWS[f as usize])
        && q.env.is_none_or(|e| r.env == ENVS[e as usize])
        && q.job.is_none_or(|j| r.job_id == format!("job-{j}"))
        && q.version
            .is_none_or(|v| r.version == if v { "1.0" } else { "1.1" })
        && q.text.iter().all(|&t| {
            r.content
                .to_lowercase()
                .contains(&pieces[t as usize].to_lowercase())
        })
}

fn opts(clock: &ManualClock, offset_h: i32) -> StoreOptions {
    StoreOptions::new()
        .clock(clock.clone())
        .sync_policy(SyncPolicy::Manual)
        .partition(Duration::from_secs(600))
        .grace(Duration::from_secs(60))
        .retention(Duration::from_secs(86_400))
        .utc_offset(chrono::FixedOffset::east_opt(offset_h * 3600).unwrap())
}

fn key(s: &StoredRecord) -> (Timestamp, RecordId) {
    (s.record.time, s.id)
}

struct World {
    clock: ManualClock,
    all: Vec<(RecordId, LogRecord)>,
}

impl World {
    fn visible(&self, range: TimeRange, q: &QSpec) -> Vec<(RecordId, LogRecord)> {
        let mut v: Vec<_> = self
            .all
            .iter()
            .filter(|(_, r)| range.contains(r.time) && matches(q, r))
            .cloned()
            .collect();
        v.sort_by_key(|(id, r)| std::cmp::Reverse((r.time, *id)));
        v
    }
}

/// Fill a store: appends in batches while the clock moves; seals; late records.
fn fill(p: &Project, world: &mut World, specs: &[Spec]) {
    for (n, chunk) in specs.chunks(7).enumerate() {
        let now = runlog::Clock::now(&world.clock);
        let batch: Vec<_> = chunk
            .iter()
            .enumerate()
            .map(|(k, s)| record(s, now, n * 7 + k))
            .collect();
        let ids = p.append_batch(&batch).unwrap();
        world.all.extend(ids.into_iter().zip(batch));
        world
            .clock
            .advance(Duration::from_secs(97 * (n as u64 % 5)));
        if n % 4 == 3 {
            p.seal_due().unwrap();
        }
    }
}

/// The page of `q`, checked to be what the page view of `q` holds.
fn same_as_view(p: &Project, q: &Query) -> Result<runlog::Page, TestCaseError> {
    let page = p.query(q).unwrap();
    let view = p.query_view(q).unwrap();
    prop_assert_eq!(&view.to_records(), &page.records);
    prop_assert_eq!(view.len(), page.records.len());
    prop_assert_eq!(view.next, page.next);
    prop_assert_eq!(view.range, Some(page.range));
    Ok(page)
}

fn run(specs: Vec<Spec>, late: Vec<Spec>, queries: Vec<QSpec>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut world = World {
        clock: clock.clone(),
        all: Vec::new(),
    };
    let offset_h = queries.first().map_or(0, |q| q.offset_h);
    let mut store = opts(&clock, offset_h).open(dir.path()).unwrap();
    let mut p = store.project("q").unwrap();
    fill(&p, &mut world, &specs);

    for (qi, q) in queries.iter().enumerate() {
        let now = runlog::Clock::now(&clock);
        let query = query(q, now);
        let before: HashSet<RecordId> = world.all.iter().map(|(id, _)| *id).collect();
        let first = same_as_view(&p, &query)?;
        let range = first.range.range;
        // Page through; append late records (and new ones) while paginating.
        let mut got: Vec<StoredRecord> = first.records.clone();
        let mut expected_extra: Vec<(RecordId, LogRecord)> = Vec::new();
        let mut cursor = first.next;
        let mut late_iter = late.iter();
        let mut pages = 0;
        while let Some(c) = cursor {
            if let (Some(s), Some(last)) = (late_iter.next(), got.last()) {
                let r = record(s, now, 10_000 + pages);
                let id = p.append(&r).unwrap();
                let below = (r.time, id) < key(last);
                if below && range.contains(r.time) && matches(q, &r) {
                    expected_extra.push((id, r.clone()));
                }
                world.all.push((id, r));
            }
            if pages == 1 && qi % 2 == 1 {
                // A restart in the middle: the cursor stays valid.
                drop(p);
                drop(store);
                store = opts(&clock, offset_h).open(dir.path()).unwrap();
                p = store.project("q").unwrap();
            }
            let page = same_as_view(&p, &query.clone().after(c))?;
            prop_assert!(page.records.len() <= q.limit);
            got.extend(page.records);
            cursor = page.next;
            pages += 1;
            prop_assert!(pages < 10_000);
        }
        // Strictly decreasing: no repeats, nothing out of order.
        for w in got.windows(2) {
            prop_assert!(
                key(&w[0]) > key(&w[1]),
                "query {}: order {:?} then {:?}",
                qi,
                key(&w[0]),
                key(&w[1])
            );
        }
        // What was there at the first page, plus what arrived below the cursor.
        let want: Vec<(RecordId, LogRecord)> = world
            .visible(range, q)
            .into_iter()
            .filter(|(id, _)| before.contains(id) || expected_extra.iter().any(|(e, _)| e == id))
            .collect();
        let got_ids: Vec<(RecordId, LogRecord)> =
            got.iter().map(|s| (s.id, s.record.clone())).collect();
        let want_nodetail: Vec<(RecordId, LogRecord)> = want
            .into_iter()
            .map(|(id, r)| (id, LogRecord { detail: None, ..r }))
            .collect();
        prop_assert_eq!(got_ids.len(), want_nodetail.len(), "query {}: {:?}", qi, q);
        prop_assert_eq!(got_ids, want_nodetail);

        // Counts agree with the oracle over the same range.
        let counts = p
            .count(&query.clone().range(range).bucket(Duration::from_secs(1800)))
            .unwrap();
        let oracle = world.visible(range, q);
        prop_assert_eq!(counts.total, oracle.len() as u64, "count of query {}", qi);
        for l in Level::ALL {
            prop_assert_eq!(
                counts.level(l),
                oracle.iter().filter(|(_, r)| r.level == l).count() as u64
            );
        }
        prop_assert_eq!(
            counts.buckets.iter().map(|b| b.1).sum::<u64>(),
            counts.total
        );
        for (i, (start, n)) in counts.buckets.iter().enumerate() {
            let end = counts.buckets.get(i + 1).map_or(Timestamp::MAX, |b| b.0);
            let want = oracle
                .iter()
                .filter(|(_, r)| r.time >= *start && r.time < end)
                .count() as u64;
            prop_assert_eq!(*n, want, "bucket {}", i);
        }
        world.clock.advance(Duration::from_secs(13));
    }

    // Job lookup: every record of a job, oldest first.
    for j in 0..12u8 {
        let job = format!("job-{j}");
        let logs = p.job_logs(&job).unwrap();
        prop_assert_eq!(&p.job_logs_view(&job).unwrap().to_records(), &logs);
        let got: Vec<RecordId> = logs.iter().map(|s| s.id).collect();
        let horizon = runlog::Clock::now(&clock).saturating_sub(Duration::from_secs(86_400));
        let mut want: Vec<_> = world
            .all
            .iter()
            .filter(|(_, r)| r.job_id == job && r.time >= horizon)
            .collect();
        want.sort_by_key(|(id, r)| (r.time, *id));
        prop_assert_eq!(got, want.iter().map(|(id, _)| *id).collect::<Vec<_>>());
    }
    prop_assert!(p.damage().is_empty());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(40),
        ..ProptestConfig::default()
    })]

    #[test]
    fn queries_match_the_oracle(
        specs in prop::collection::vec(spec(), 0..160),
        late in prop::collection::vec(spec(), 0..6),
        queries in prop::collection::vec(qspec(), 1..8),
    ) {
        run(specs, late, queries)?;
    }
}
