//! Logs of superseded attempts (the attempts before a run's successful
//! one) are hidden from default queries, pages, counts, job lookups and
//! follows, and shown, marked, on request: checked against a model of
//! every record appended, in active and sealed segments, with late
//! records, after reopening and in a read-only store; with more superseded
//! jobs than the per-job lookup handles; and once the run itself has
//! expired while logs of its superseded attempt are still within
//! retention.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::runs::*;
use common::*;
use runlog::{
    Level, LogRecord, MAX_LIMIT, NewRun, Project, Query, RecordId, StoredRecord, TimeRange,
    Timestamp, Trigger,
};

/// Everything appended, to check the store's answers against.
struct Model {
    appended: Vec<(RecordId, LogRecord)>,
    /// Job → its successful attempt (records of lower attempts are hidden).
    superseding: BTreeMap<String, u32>,
}

impl Model {
    fn append(&mut self, p: &Project, records: &[LogRecord]) {
        let ids = p.append_batch(records).unwrap();
        self.appended
            .extend(ids.into_iter().zip(records.iter().cloned()));
    }

    fn hidden(&self, r: &LogRecord) -> bool {
        self.superseding
            .get(r.job_id.as_str())
            .is_some_and(|&a| r.attempt < a)
    }

    /// Newest first, as queries return them: (id, record, superseded).
    fn newest_first(&self, include: bool) -> Vec<(RecordId, LogRecord, bool)> {
        let mut v: Vec<_> = self
            .appended
            .iter()
            .filter(|(_, r)| include || !self.hidden(r))
            .map(|(id, r)| (*id, r.clone(), self.hidden(r)))
            .collect();
        v.sort_by_key(|(id, r, _)| std::cmp::Reverse((r.time, *id)));
        v
    }

    fn job(&self, job: &str, include: bool) -> Vec<(RecordId, LogRecord, bool)> {
        let mut v: Vec<_> = self
            .newest_first(include)
            .into_iter()
            .filter(|(_, r, _)| r.job_id == job)
            .collect();
        v.reverse();
        v
    }

    fn tally(&self, include: bool, keep: impl Fn(&LogRecord) -> bool) -> (u64, [u64; 4]) {
        let mut by = [0u64; 4];
        for (_, r, _) in self.newest_first(include) {
            if keep(&r) {
                by[r.level.code() as usize] += 1;
            }
        }
        (by.iter().sum(), by)
    }
}

fn triples(records: &[StoredRecord]) -> Vec<(RecordId, LogRecord, bool)> {
    records
        .iter()
        .map(|s| (s.id, s.record.clone(), s.superseded))
        .collect()
}

/// Every read path against the model.
#[track_caller]
fn check_logs(p: &Project, m: &Model, what: &str) {
    for include in [false, true] {
        let want = m.newest_first(include);
        let q = Query::new()
            .all_time()
            .limit(MAX_LIMIT)
            .include_superseded(include);
        let page = p.query(&q).unwrap();
        assert_eq!(
            triples(&page.records),
            want,
            "{what}: query include={include}"
        );
        // Small pages through cursors.
        let mut paged = Vec::new();
        let mut q = q.clone().limit(3);
        for _ in 0..1000 {
            let page = p.query(&q).unwrap();
            assert!(page.records.len() <= 3);
            paged.extend(triples(&page.records));
            match page.next {
                Some(c) => q = q.after(c),
                None => break,
            }
        }
        assert_eq!(paged, want, "{what}: paged include={include}");

        // Counts: all, per level, with a level filter, a job filter, a
        // text filter (which reads records), buckets.
        let base = Query::new().all_time().include_superseded(include);
        let c = p.count(&base).unwrap();
        let (total, by) = m.tally(include, |_| true);
        assert_eq!(
            (c.total, c.by_level),
            (total, by),
            "{what}: count include={include}"
        );
        let c = p.count(&base.clone().level(Level::Error)).unwrap();
        let (total, by) = m.tally(include, |r| r.level == Level::Error);
        assert_eq!(
            (c.total, c.by_level),
            (total, by),
            "{what}: count errors include={include}"
        );
        let c = p
            .count(&base.clone().levels(&[Level::Info, Level::Error]))
            .unwrap();
        let (total, by) = m.tally(include, |r| matches!(r.level, Level::Info | Level::Error));
        assert_eq!(
            (c.total, c.by_level),
            (total, by),
            "{what}: count info+errors include={include}"
        );
        for job in ["job-a", "job-b", "job-c", "job-d"] {
            let c = p.count(&base.clone().job_id(job)).unwrap();
            let (total, by) = m.tally(include, |r| r.job_id == job);
            assert_eq!(
                (c.total, c.by_level),
                (total, by),
                "{what}: count {job} include={include}"
            );
        }
        let c = p.count(&base.clone().text("job-a")).unwrap();
        let (total, by) = m.tally(include, |r| r.content.contains("job-a"));
        assert_eq!(
            (c.total, c.by_level),
            (total, by),
            "{what}: count text include={include}"
        );
        // Ranges cutting through segments (not whole-segment counts).
        let at = |s: i64| Timestamp::from_micros(T0.as_micros() + s * 1_000_000);
        for (from, to) in [(-48, 3), (-45, 7), (-10, 3601), (5, 7), (3500, 4000)] {
            let range = TimeRange::new(at(from), at(to)).unwrap();
            type LogPred = Box<dyn Fn(&LogRecord) -> bool>;
            let cases: [(Query, LogPred); 3] = [
                (Query::new().range(range), Box::new(|_| true)),
                (
                    Query::new().range(range).level(Level::Error),
                    Box::new(|r| r.level == Level::Error),
                ),
                (
                    Query::new().range(range).job_id("job-a"),
                    Box::new(|r| r.job_id == "job-a"),
                ),
            ];
            for (q, pred) in cases {
                let q = q.include_superseded(include);
                let c = p.count(&q).unwrap();
                let (total, by) = m.tally(include, |r| range.contains(r.time) && pred(r));
                assert_eq!((c.total, c.by_level), (total, by), "{what}: count {q:?}");
                let page = p.query(&q.clone().limit(MAX_LIMIT)).unwrap();
                assert_eq!(page.records.len() as u64, total, "{what}: query {q:?}");
                let view = p.query_view(&q.clone().limit(MAX_LIMIT)).unwrap();
                assert_eq!(view.to_records(), page.records, "{what}: view {q:?}");
            }
        }
        let c = p.count(&base.clone().bucket(secs(600))).unwrap();
        let (total, _) = m.tally(include, |_| true);
        assert_eq!(
            c.buckets.iter().map(|(_, n)| n).sum::<u64>(),
            total,
            "{what}: buckets include={include}"
        );
    }
    for job in ["job-a", "job-b", "job-c", "job-d"] {
        assert_eq!(
            triples(&p.job_logs(job).unwrap()),
            m.job(job, false),
            "{what}: job_logs {job}"
        );
        assert_eq!(
            p.job_logs_view(job).unwrap().to_records(),
            p.job_logs(job).unwrap(),
            "{what}: job_logs_view {job}"
        );
        assert_eq!(
            triples(&p.job_logs_including_superseded(job).unwrap()),
            m.job(job, true),
            "{what}: job_logs_including_superseded {job}"
        );
    }
    // The details view marks them too.
    for (id, r) in &m.appended {
        let got = p.get(*id).unwrap().unwrap();
        assert_eq!(got.superseded, m.hidden(r), "{what}: get {id}");
    }
}

#[test]
fn logs_of_superseded_attempts_are_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    let mut m = Model {
        appended: Vec::new(),
        superseding: BTreeMap::new(),
    };
    p.start_run(&NewRun::new("job-a", "orders", Trigger::Event))
        .unwrap();
    p.start_run(&NewRun::new("job-b", "orders", Trigger::Event))
        .unwrap();
    p.start_run(&NewRun::new("job-d", "orders", Trigger::Event))
        .unwrap();
    let mut follow = p.follow(&Query::new()).unwrap();
    let mut follow_errors = p.follow(&Query::new().level(Level::Error)).unwrap();
    let mut follow_all = p.follow(&Query::new().include_superseded(true)).unwrap();

    let t = |s: i64| Timestamp::from_micros(T0.as_micros() + s * 1_000_000);
    m.append(
        &p,
        &[
            log(t(-50), Level::Info, "job-a", 1, 0),
            log(t(-49), Level::Error, "job-a", 1, 1),
            log(t(-48), Level::Error, "job-a", 1, 2),
            log(t(-47), Level::Warn, "job-a", 1, 3),
            log(t(-46), Level::Error, "job-b", 1, 0),
            log(t(-45), Level::Info, "job-b", 1, 1),
            log(t(-44), Level::Error, "job-c", 1, 0),
            log(t(-43), Level::Debug, "job-c", 1, 1),
            log(t(-40), Level::Error, "job-d", 1, 0),
            log(t(-39), Level::Info, "job-d", 1, 1),
        ],
    );
    p.attempt_failed("job-a", 1, "500").unwrap();
    p.attempt_failed("job-b", 1, "500").unwrap();
    p.attempt_failed("job-d", 1, "500").unwrap();
    // Nothing is superseded yet: everything shows.
    check_logs(&p, &m, "before any success");

    clock.advance(secs(5));
    let tickets = p.due_retries_at(now(&clock)).unwrap();
    assert_eq!(tickets.len(), 3);
    assert!(tickets.iter().all(|t| t.attempt == 2));
    m.append(
        &p,
        &[
            log(t(1), Level::Info, "job-a", 2, 0),
            log(t(2), Level::Debug, "job-a", 2, 1),
            log(t(3), Level::Info, "job-a", 2, 2),
            log(t(4), Level::Warn, "job-b", 2, 0),
        ],
    );
    p.attempt_succeeded("job-a", 2).unwrap();
    m.superseding.insert("job-a".into(), 2);
    // job-b's retry is still running: its first attempt is not superseded.
    check_logs(&p, &m, "active segment");

    // Records of the superseded attempt written after the success.
    m.append(
        &p,
        &[
            log(t(6), Level::Error, "job-a", 1, 90),
            log(t(6), Level::Info, "job-a", 2, 90),
            log(t(7), Level::Error, "job-b", 1, 90),
        ],
    );
    m.append(&p, &[log(t(-10), Level::Error, "job-a", 1, 91)]);
    check_logs(&p, &m, "active segment, late records");

    // A second job superseded after the segment's hidden records were
    // worked out.
    p.attempt_succeeded("job-b", 2).unwrap();
    m.superseding.insert("job-b".into(), 2);
    check_logs(&p, &m, "active segment, a second job superseded");

    // Follows started before any of it.
    let want = |include: bool, level: Option<Level>| {
        let mut v = m.newest_first(include);
        v.retain(|(_, r, _)| level.is_none_or(|l| r.level == l));
        v.reverse();
        v
    };
    assert_eq!(
        triples(&follow.next_batch(Duration::ZERO).unwrap()),
        want(false, None)
    );
    assert_eq!(
        triples(&follow_errors.next_batch(Duration::ZERO).unwrap()),
        want(false, Some(Level::Error))
    );
    assert_eq!(
        triples(&follow_all.next_batch(Duration::ZERO).unwrap()),
        want(true, None)
    );

    // Seal the segment: same answers from the sealed file and its index.
    clock.set(T0.saturating_add(secs(3600)));
    p.seal_due().unwrap();
    let segs = p.segments().unwrap();
    assert_eq!(segs.len(), 1);
    assert!(segs[0].sealed, "{segs:?}");
    check_logs(&p, &m, "sealed segment");
    // job-d's retry was still running: a job superseded once the segment
    // is sealed.
    p.attempt_succeeded("job-d", 2).unwrap();
    m.superseding.insert("job-d".into(), 2);
    check_logs(&p, &m, "sealed segment, a job superseded after the seal");
    for f in [&mut follow, &mut follow_errors, &mut follow_all] {
        assert!(f.next_batch(Duration::ZERO).unwrap().is_empty());
    }

    // More records: a late one into the sealed partition (a new
    // generation) and some in a new partition, superseded ones included.
    let late_old = log(t(-5), Level::Error, "job-a", 1, 92);
    let fresh = now(&clock);
    let batch = [
        late_old.clone(),
        log(fresh, Level::Error, "job-a", 1, 93),
        log(fresh, Level::Warn, "job-a", 2, 93),
        log(fresh, Level::Error, "job-c", 1, 93),
    ];
    let start = m.appended.len();
    m.append(&p, &batch);
    assert_eq!(p.segments().unwrap().len(), 3);
    check_logs(&p, &m, "sealed and active segments");
    let new_ones: Vec<_> = {
        let mut v: Vec<_> = m.appended[start..]
            .iter()
            .map(|(id, r)| (*id, r.clone(), m.hidden(r)))
            .collect();
        v.sort_by_key(|(id, r, _)| (r.time, *id));
        v
    };
    let visible_new: Vec<_> = new_ones.iter().filter(|x| !x.2).cloned().collect();
    assert_eq!(
        triples(&follow.next_batch(Duration::ZERO).unwrap()),
        visible_new
    );
    assert_eq!(
        triples(&follow_errors.next_batch(Duration::ZERO).unwrap()),
        visible_new
            .iter()
            .filter(|x| x.1.level == Level::Error)
            .cloned()
            .collect::<Vec<_>>()
    );
    assert_eq!(
        triples(&follow_all.next_batch(Duration::ZERO).unwrap()),
        new_ones
    );

    // The hiding survives a reopen: runs are replayed from the journal.
    drop((follow, follow_errors, follow_all));
    drop((p, store));
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    check_logs(&p, &m, "after reopen");
    // And a read-only store agrees.
    let reader = options(&clock).open_read_only(dir.path()).unwrap();
    check_logs(&reader.project("p").unwrap(), &m, "read-only");

    // Seal everything and reopen again.
    clock.advance(secs(2 * 3600));
    p.seal_due().unwrap();
    assert!(p.segments().unwrap().iter().all(|s| s.sealed));
    check_logs(&p, &m, "all sealed");
    drop((p, store, reader));
    let store = open(dir.path(), &clock);
    check_logs(&store.project("p").unwrap(), &m, "all sealed, reopened");
}

/// More superseded jobs than the per-job lookup handles (over 64): hidden
/// records are then found from the segment's job terms.
#[test]
fn many_superseded_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    let n = 70u32;
    let job = |i: u32| format!("job-{i:03}");
    let t = |s: u64| T0.saturating_sub(secs(600)).saturating_add(secs(s));
    for i in 0..n {
        p.start_run(&NewRun::new(job(i), "orders", Trigger::Event))
            .unwrap();
    }
    let mut records = Vec::new();
    for i in 0..n {
        records.push(
            LogRecord::new(t(u64::from(i)), Level::Error, job(i), "first try failed").attempt(1),
        );
        records
            .push(LogRecord::new(t(u64::from(i)), Level::Info, job(i), "second try ok").attempt(2));
        records.push(LogRecord::new(
            t(u64::from(i)),
            Level::Warn,
            format!("other-{i}"),
            "bystander",
        ));
    }
    p.append_batch(&records).unwrap();
    for i in 0..n {
        p.attempt_failed(&job(i), 1, "x").unwrap();
    }
    clock.advance(secs(5));
    assert_eq!(p.due_retries_at(now(&clock)).unwrap().len(), n as usize);
    for i in 0..n {
        p.attempt_succeeded(&job(i), 2).unwrap();
    }
    let check = |p: &Project, what: &str| {
        let q = Query::new().all_time();
        let c = p.count(&q).unwrap();
        assert_eq!(c.total, 2 * u64::from(n), "{what}");
        assert_eq!(c.level(Level::Error), 0, "{what}");
        assert_eq!(c.level(Level::Info), u64::from(n), "{what}");
        assert_eq!(c.level(Level::Warn), u64::from(n), "{what}");
        let c = p.count(&q.clone().include_superseded(true)).unwrap();
        assert_eq!(c.total, 3 * u64::from(n), "{what}");
        let page = p.query(&q.clone().limit(MAX_LIMIT)).unwrap();
        assert_eq!(page.records.len(), 2 * n as usize, "{what}");
        assert!(page.records.iter().all(|s| s.record.attempt == 1
            && s.record.level == Level::Warn
            || s.record.attempt == 2));
        let page = p
            .query(
                &q.clone()
                    .level(Level::Error)
                    .include_superseded(true)
                    .limit(MAX_LIMIT),
            )
            .unwrap();
        assert_eq!(page.records.len(), n as usize, "{what}");
        assert!(page.records.iter().all(|s| s.superseded), "{what}");
        assert_eq!(p.job_logs(&job(7)).unwrap().len(), 1, "{what}");
        assert_eq!(
            p.job_logs_including_superseded(&job(7)).unwrap().len(),
            2,
            "{what}"
        );
    };
    check(&p, "active");
    clock.advance(secs(2 * 3600));
    p.seal_due().unwrap();
    assert!(p.segments().unwrap().iter().all(|s| s.sealed));
    check(&p, "sealed");
    drop((p, store));
    let store = open(dir.path(), &clock);
    check(&store.project("p").unwrap(), "reopened");
}

/// A run is forgotten when its trigger partition passes the retention
/// horizon, but logs of its superseded attempt written in a later
/// partition are kept a while longer: they must stay hidden.
#[test]
fn superseded_logs_stay_hidden_after_their_run_expires() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    p.start_run(&NewRun::new("job", "f", Trigger::Event))
        .unwrap();
    p.append(&log(T0, Level::Error, "job", 1, 0)).unwrap();
    // Attempt 1 runs on past the end of the trigger's partition (23:00).
    clock.advance(secs(77 * 60));
    p.append(&log(now(&clock), Level::Error, "job", 1, 1))
        .unwrap();
    p.attempt_failed("job", 1, "x").unwrap();
    clock.advance(secs(5));
    assert_eq!(p.due_retries_at(now(&clock)).unwrap().len(), 1);
    p.append(&log(now(&clock), Level::Info, "job", 2, 0))
        .unwrap();
    p.attempt_succeeded("job", 2).unwrap();
    let attempts = |p: &Project| -> Vec<u32> {
        let mut v: Vec<u32> = p
            .query(&Query::new().all_time())
            .unwrap()
            .records
            .iter()
            .map(|s| s.record.attempt)
            .collect();
        v.extend(p.job_logs("job").unwrap().iter().map(|s| s.record.attempt));
        v.push(p.count(&Query::new().all_time()).unwrap().total as u32);
        v
    };
    // Visible: attempt 2's log (query, job_logs), and a count of 1.
    assert_eq!(attempts(&p), [2, 2, 1]);
    // 30 days later: the run's partition (22:00-23:00) is past the
    // horizon, the late attempt-1 log (23:30) and attempt 2's are not.
    clock.set(T0.saturating_add(secs(30 * DAY + 3600)));
    assert_eq!(p.run("job").unwrap(), None);
    assert_eq!(attempts(&p), [2, 2, 1], "before retention is enforced");
    p.enforce_retention().unwrap();
    assert_eq!(attempts(&p), [2, 2, 1], "after retention is enforced");
    drop((p, store));
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    assert_eq!(attempts(&p), [2, 2, 1], "after a reopen");
}
