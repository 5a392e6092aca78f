//! Reader threads: page walks newest first through cursors over random
//! filters and ranges, checked as they go, and run listings.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::common::rng::{Random, Rng};
use runlog::{
    Level, LogRecord, Preset, Query, RecordId, RunQuery, RunStatus, TimeRange, Timestamp,
};

use super::*;

/// The filters of a reader's query, kept to check what comes back.
#[derive(Clone, Debug)]
pub struct Spec {
    pub levels: Vec<Level>,
    pub env: Option<&'static str>,
    pub flow: Option<String>,
    pub job: Option<String>,
    pub word: Option<&'static str>,
    pub include_superseded: bool,
}

impl Spec {
    pub fn random(rng: &mut Rng, s: &Shared) -> Spec {
        let levels = Level::ALL.into_iter().filter(|_| rng.chance(2)).collect();
        let env = rng
            .chance(3)
            .then(|| ["prod", "test"][rng.below(2) as usize]);
        let flow = rng.chance(4).then(|| format!("flow-{}", rng.below(5)));
        let job = rng.chance(6).then(|| {
            let w = rng.below(WRITERS as u64) as usize;
            let latest = s.seqs[w].load(Ordering::Relaxed) / 16;
            format!("w{w}-j{}", latest.saturating_sub(rng.below(200)))
        });
        let word = rng
            .chance(4)
            .then(|| WORDS[rng.below(WORDS.len() as u64) as usize]);
        Spec {
            levels,
            env,
            flow,
            job,
            word,
            include_superseded: rng.chance(2),
        }
    }

    pub fn query(&self) -> Query {
        let mut q = Query::new()
            .levels(&self.levels)
            .include_superseded(self.include_superseded);
        if let Some(e) = self.env {
            q = q.env(e);
        }
        if let Some(f) = &self.flow {
            q = q.flow(f.as_str());
        }
        if let Some(j) = &self.job {
            q = q.job_id(j.as_str());
        }
        if let Some(w) = self.word {
            q = q.text(&w.to_uppercase());
        }
        q
    }

    pub fn matches(&self, r: &LogRecord) -> bool {
        (self.levels.is_empty() || self.levels.contains(&r.level))
            && self.env.is_none_or(|e| r.env == e)
            && self.flow.as_deref().is_none_or(|f| r.flow == f)
            && self.job.as_deref().is_none_or(|j| r.job_id == j)
            && self.word.is_none_or(|w| r.content.contains(w))
    }
}

#[derive(Default, Debug)]
pub struct ReaderLog {
    pub walks: u64,
    pub pages: u64,
    pub records: u64,
    pub run_pages: u64,
}

pub fn reader(s: &Shared, id: usize) -> ReaderLog {
    let mut rng = Rng(0xBEEF + id as u64);
    let mut log = ReaderLog::default();
    while !s.stop.load(Ordering::Relaxed) {
        s.wait_batches(READ_PACE);
        if rng.chance(5) {
            run_walk(s, &mut rng, &mut log);
            continue;
        }
        let spec = Spec::random(&mut rng, s);
        let now = s.now();
        // A custom range around now, a relative one, a preset, or everything.
        let custom = match rng.below(4) {
            0 => {
                let to = now
                    .saturating_sub(rng.secs(30 * HOUR))
                    .saturating_add(Duration::from_secs(2 * HOUR));
                let from = to.saturating_sub(rng.secs(12 * HOUR));
                Some(TimeRange::new(from, to).unwrap())
            }
            _ => None,
        };
        let mut q = spec.query();
        q = match (custom, rng.below(4)) {
            (Some(r), _) => q.range(r),
            (None, 0) => q.last(rng.secs(40 * HOUR) + Duration::from_secs(1)),
            (None, 1) => q.preset(
                [
                    Preset::LastHour,
                    Preset::Last6Hours,
                    Preset::LastDay,
                    Preset::Last3Days,
                    Preset::Today,
                    Preset::Yesterday,
                ][rng.below(6) as usize],
            ),
            (None, _) => q.all_time(),
        };
        q = q.limit(1 + rng.below(100) as usize);

        // One walk: strictly newest first across pages, no repeats, all in
        // range, matching, never past the horizon.
        let mut seen: HashSet<RecordId> = HashSet::new();
        let mut prev: Option<(Timestamp, RecordId)> = None;
        let mut walk_range: Option<TimeRange> = None;
        let mut next = q.clone();
        for _ in 0..10 {
            let before = s.now();
            let page = s.project.query(&next).unwrap();
            log.pages += 1;
            let range = *walk_range.get_or_insert(page.range.range);
            if let Some(c) = custom {
                // Clamped to the horizon at most.
                assert!(range.from >= c.from);
                assert_eq!(range.to, c.to.max(range.from));
            }
            for r in &page.records {
                let key = (r.record.time, r.id);
                assert!(
                    prev.is_none_or(|p| key < p),
                    "{key:?} after {prev:?} in one walk of {spec:?}"
                );
                prev = Some(key);
                assert!(seen.insert(r.id), "{} returned twice in one walk", r.id);
                assert!(
                    r.record.time >= horizon(before),
                    "{} at {} is older than the horizon {} (clock {before} before the query)",
                    r.id,
                    r.record.time,
                    horizon(before)
                );
                assert!(range.contains(r.record.time), "{} outside {range:?}", r.id);
                assert!(spec.matches(&r.record), "{r:?} does not match {spec:?}");
                assert!(
                    spec.include_superseded || !r.superseded,
                    "{} is superseded",
                    r.id
                );
                assert!(r.record.detail.is_none());
            }
            log.records += page.records.len() as u64;
            // The details view of one of them.
            if let Some(r) = page.records.first()
                && rng.chance(4)
            {
                match s.project.get(r.id).unwrap() {
                    Some(full) => {
                        assert_eq!(full.record.content, r.record.content);
                        assert_eq!(full.has_detail, full.record.detail.is_some());
                    }
                    None => assert!(r.record.time < horizon(s.now()), "{} vanished", r.id),
                }
            }
            match page.next {
                Some(c) => next = q.clone().after(c),
                None => break,
            }
        }
        log.walks += 1;
    }
    log
}

/// Runs newest first by (trigger time, job), through cursors.
pub fn run_walk(s: &Shared, rng: &mut Rng, log: &mut ReaderLog) {
    let mut q = RunQuery::new().limit(1 + rng.below(50) as usize);
    q = match rng.below(3) {
        0 => q.all_time(),
        1 => q.preset(Preset::LastDay),
        _ => q.last(Duration::from_secs(6 * HOUR)),
    };
    let status = rng.chance(2).then(|| RunStatus::ALL[rng.below(4) as usize]);
    if let Some(st) = status {
        q = q.status(st);
    }
    let mut prev: Option<(Timestamp, String)> = None;
    let mut next = q.clone();
    for _ in 0..10 {
        let before = s.now();
        let page = s.project.query_runs(&next).unwrap();
        log.run_pages += 1;
        for r in &page.runs {
            let key = (r.trigger_time, r.job_id.to_string());
            assert!(
                prev.as_ref().is_none_or(|p| key < *p),
                "{key:?} after {prev:?}"
            );
            assert!(r.trigger_time >= horizon(before));
            if let Some(st) = status {
                assert_eq!(r.status, st);
            }
            prev = Some(key);
        }
        match page.next {
            Some(c) => next = q.clone().after(c),
            None => break,
        }
    }
}
