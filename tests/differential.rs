//! Differential test: random records (late ones included) and random
//! filters; `Project::query` (every page), `query_view`, `count` and
//! `job_logs` against a brute-force filter over the appended records, on
//! active segments, after sealing some, after late records into sealed
//! partitions, and after sealing everything.

mod common;

use std::time::Duration;

use common::rng::{Random, XorShift};
use common::*;
use runlog::{Level, LogRecord, ManualClock, Project, Query, RecordId, StoreOptions, SyncPolicy};

const FIELD_VALUES: &[&str] = &[
    "",
    "a",
    "A",
    "prod",
    "Prod",
    "ünï",
    "x y",
    "job-1",
    "job-10",
    // Around the dictionary's 24-byte inline keys, and long names.
    "xxxxxxxxxxxxxxxxxxxxxxxx",
    "xxxxxxxxxxxxxxxxxxxxxxxxa",
    "xxxxxxxxxxxxxxxxxxxxxxxxb",
    "flow-with-a-rather-long-name-0123456789-0123456789-0123456789-0123456789-0123456789-0123456789-end",
    "flow-with-a-rather-long-name-0123456789-0123456789-0123456789-0123456789-0123456789-0123456789-enD",
    "xxxxxxxxxxxxxxxx\0",
    "xxxxxxxxxxxxxxxx",
];
const WORDS: &[&str] = &[
    "Timeout",
    "timeout",
    "ERR42",
    "a",
    "0",
    "0042",
    "Größe",
    "ÉTAT",
    "İstanbul",
    "naïve",
    "\u{1F600}",
    "ß",
    "STRASSE",
    "ﬁle",
    "Kelvin\u{212A}",
    // A capital sigma lower-cases by its neighbours (also across '.', ':').
    "ΟΔΟΣ",
    "Σ",
    "ΑΣ",
    "λόγος",
];
const SEPS: &[&str] = &[" ", "-", "/", ":", ".", "_", "\t", ", "];

fn word(rng: &mut XorShift) -> String {
    match rng.below(3) {
        0 => rng.pick(WORDS).to_string(),
        _ => {
            // Lengths around the inline (24) and indexed (32) limits.
            let len = *rng.pick(&[
                1usize, 2, 3, 7, 8, 9, 16, 23, 24, 25, 31, 32, 33, 34, 40, 64, 65,
            ]);
            let alpha: &[u8] = if rng.below(2) == 0 {
                b"abAB1"
            } else {
                b"xyzXYZ0123"
            };
            let mut s: String = (0..len).map(|_| *rng.pick(alpha) as char).collect();
            if rng.below(4) == 0 {
                s.push('é');
            }
            s
        }
    }
}

fn content(rng: &mut XorShift) -> String {
    let n = rng.below(8);
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            let sep: &&str = rng.pick(SEPS);
            s.push_str(sep);
        }
        s.push_str(&word(rng));
    }
    s
}

fn record(rng: &mut XorShift, t: runlog::Timestamp) -> LogRecord {
    let level = Level::ALL[rng.below(4) as usize];
    let job = format!("job-{}", rng.below(12));
    LogRecord::new(t, level, job, content(rng))
        .flow(*rng.pick(FIELD_VALUES))
        .component(*rng.pick(FIELD_VALUES))
        .env(*rng.pick(&["prod", "test", ""]))
        .app(*rng.pick(FIELD_VALUES))
}

#[derive(Debug, Clone)]
struct F {
    levels: Vec<Level>,
    flow: Option<String>,
    env: Option<String>,
    job: Option<String>,
    text: Option<String>,
}

fn substring(rng: &mut XorShift, s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.is_empty() {
        return "zz".into();
    }
    let a = rng.below(chars.len() as u64) as usize;
    let b = a + 1 + rng.below((chars.len() - a) as u64) as usize;
    let mut t: String = chars[a..b].iter().collect();
    if rng.below(2) == 0 {
        t = t.to_uppercase();
    }
    t
}

fn filter(rng: &mut XorShift, recs: &[(RecordId, LogRecord)]) -> F {
    let mut f = F {
        levels: vec![],
        flow: None,
        env: None,
        job: None,
        text: None,
    };
    if rng.below(3) == 0 {
        f.levels = Level::ALL
            .iter()
            .copied()
            .filter(|_| rng.below(2) == 0)
            .collect();
    }
    if rng.below(4) == 0 {
        f.flow = Some(rng.pick(FIELD_VALUES).to_string());
    }
    if rng.below(4) == 0 {
        f.env = Some(rng.pick(&["prod", "test", "", "PROD"]).to_string());
    }
    if rng.below(4) == 0 {
        f.job = Some(format!("job-{}", rng.below(13)));
    }
    if rng.below(3) != 0 && !recs.is_empty() {
        let r = &rng.pick(recs).1;
        let mut t = substring(rng, &r.content);
        if rng.below(3) == 0 {
            let r2 = &rng.pick(recs).1;
            t.push(' ');
            t.push_str(&substring(rng, &r2.content));
        }
        f.text = Some(t);
    }
    f
}

fn query(f: &F) -> Query {
    let mut q = Query::new().all_time().limit(7);
    if !f.levels.is_empty() {
        q = q.levels(&f.levels);
    }
    if let Some(v) = &f.flow {
        q = q.flow(v.clone());
    }
    if let Some(v) = &f.env {
        q = q.env(v.clone());
    }
    if let Some(v) = &f.job {
        q = q.job_id(v.clone());
    }
    if let Some(t) = &f.text {
        q = q.text(t);
    }
    q
}

fn matches(f: &F, r: &LogRecord) -> bool {
    (f.levels.is_empty() || f.levels.contains(&r.level))
        && f.flow.as_deref().is_none_or(|v| r.flow.as_str() == v)
        && f.env.as_deref().is_none_or(|v| r.env.as_str() == v)
        && f.job.as_deref().is_none_or(|v| r.job_id.as_str() == v)
        && f.text.as_deref().is_none_or(|t| {
            // Case-insensitive, the two lower-case sigmas being one letter.
            let fold = |s: &str| s.to_lowercase().replace('ς', "σ");
            let c = fold(&r.content);
            t.split_whitespace().all(|w| c.contains(&fold(w)))
        })
}

fn check(p: &Project, recs: &[(RecordId, LogRecord)], rng: &mut XorShift, stage: &str) {
    for _ in 0..40 {
        let f = filter(rng, recs);
        let mut want: Vec<&(RecordId, LogRecord)> =
            recs.iter().filter(|(_, r)| matches(&f, r)).collect();
        want.sort_by_key(|(id, r)| std::cmp::Reverse((r.time, *id)));
        let want_ids: Vec<RecordId> = want.iter().map(|(id, _)| *id).collect();
        let q = query(&f);
        let mut got = Vec::new();
        let mut got_view = Vec::new();
        let mut page = p.query(&q).unwrap();
        let mut view = p.query_view(&q).unwrap();
        loop {
            got.extend(page.records.iter().map(|r| r.id));
            got_view.extend(view.iter().map(|r| r.id));
            assert_eq!(
                page.next, view.next,
                "{stage}: cursor of query and query_view, {f:?}"
            );
            match page.next {
                Some(c) => {
                    page = p.query(&q.clone().after(c)).unwrap();
                    view = p.query_view(&q.clone().after(c)).unwrap();
                }
                None => break,
            }
        }
        let missing: Vec<_> = want
            .iter()
            .filter(|(id, _)| !got.contains(id))
            .map(|(_, r)| (&r.content, r.level, &r.flow, &r.env))
            .collect();
        assert_eq!(got, want_ids, "{stage}: query {f:?}\nmissing: {missing:?}");
        assert_eq!(got_view, want_ids, "{stage}: query_view {f:?}");
        let counts = p.count(&q).unwrap();
        assert_eq!(counts.total, want.len() as u64, "{stage}: count {f:?}");
        for l in Level::ALL {
            assert_eq!(
                counts.level(l),
                want.iter().filter(|(_, r)| r.level == l).count() as u64,
                "{stage}: count {l:?} {f:?}"
            );
        }
    }
    // Counts per time bucket over a bounded range, against the model.
    for _ in 0..10 {
        let f = filter(rng, recs);
        let now = recs.iter().map(|(_, r)| r.time).max().unwrap();
        let from = runlog::Timestamp::from_micros(now.as_micros() - rng.below(700_000_000) as i64);
        let to =
            runlog::Timestamp::from_micros(from.as_micros() + 1 + rng.below(400_000_000) as i64);
        let width =
            Duration::from_micros(*rng.pick(&[1_000_000u64, 7_000_000, 60_000_000, 333_333]));
        let mut q = query(&f)
            .range(runlog::TimeRange::new(from, to).unwrap())
            .bucket(width);
        q = q.limit(7);
        let counts = p.count(&q).unwrap();
        let w = width.as_micros() as i64;
        let inr: Vec<&LogRecord> = recs
            .iter()
            .map(|(_, r)| r)
            .filter(|r| r.time >= from && r.time < to && matches(&f, r))
            .collect();
        assert_eq!(
            counts.total,
            inr.len() as u64,
            "{stage}: bucket total {f:?}"
        );
        for (start, n) in &counts.buckets {
            let want = inr
                .iter()
                .filter(|r| r.time.as_micros().div_euclid(w) * w == start.as_micros())
                .count() as u64;
            assert_eq!(*n, want, "{stage}: bucket {start:?} {f:?} width {width:?}");
        }
        assert_eq!(
            counts.buckets.iter().map(|b| b.1).sum::<u64>(),
            inr.len() as u64,
            "{stage}: bucket sum"
        );
    }
    for j in 0..13 {
        let job = format!("job-{j}");
        let want = job_log_ids(recs, &job);
        let got: Vec<RecordId> = p.job_logs(&job).unwrap().iter().map(|r| r.id).collect();
        assert_eq!(got, want, "{stage}: job_logs {job}");
        let got: Vec<RecordId> = p
            .job_logs_view(&job)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(got, want, "{stage}: job_logs_view {job}");
    }
}

fn run(seed: u64) {
    let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let store = StoreOptions::new()
        .clock(clock.clone())
        .sync_policy(SyncPolicy::Manual)
        .partition(Duration::from_secs(60))
        .grace(Duration::from_secs(10))
        .open(dir.path())
        .unwrap();
    let p = store.project("p").unwrap();
    let mut recs: Vec<(RecordId, LogRecord)> = Vec::new();
    let append = |p: &Project,
                  clock: &ManualClock,
                  rng: &mut XorShift,
                  n: usize,
                  back: u64,
                  recs: &mut Vec<(RecordId, LogRecord)>| {
        let now = clock.now();
        let batch: Vec<LogRecord> = (0..n)
            .map(|_| {
                // ms back from now, mostly in order, some late.
                let t = now.saturating_sub(Duration::from_millis(rng.below(back)));
                record(rng, t)
            })
            .collect();
        let ids = if rng.below(2) == 0 {
            p.append_batch(&batch).unwrap()
        } else {
            batch.iter().map(|r| p.append(r).unwrap()).collect()
        };
        recs.extend(ids.into_iter().zip(batch));
    };
    use runlog::Clock;
    append(&p, &clock, &mut rng, 120, 240_000, &mut recs);
    check(&p, &recs, &mut rng, &format!("seed {seed} active"));
    clock.advance(Duration::from_secs(150));
    p.seal_due().unwrap();
    check(&p, &recs, &mut rng, &format!("seed {seed} partly sealed"));
    // Late records, many into sealed partitions.
    append(&p, &clock, &mut rng, 120, 400_000, &mut recs);
    check(&p, &recs, &mut rng, &format!("seed {seed} late"));
    clock.advance(Duration::from_secs(600));
    p.seal_due().unwrap();
    check(&p, &recs, &mut rng, &format!("seed {seed} all sealed"));
    drop(p);
    drop(store);
    let store = StoreOptions::new()
        .clock(clock.clone())
        .partition(Duration::from_secs(60))
        .grace(Duration::from_secs(10))
        .open(dir.path())
        .unwrap();
    let p = store.project("p").unwrap();
    check(&p, &recs, &mut rng, &format!("seed {seed} reopened"));
}

#[test]
fn differential() {
    let seeds: u64 = std::env::var("DIFFERENTIAL_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    for seed in 1..=seeds {
        run(seed);
    }
}
