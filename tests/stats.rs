//! Stats, exports, execution bundles, bucket counts and follows agree with queries (superseded attempts, sealing, reopen, retention).
mod common;

use common::{T0, options as opts, pages, secs};
use runlog::*;
use std::time::Duration;

#[test]
fn s1_stats_and_exports_match_queries() {
    let dir = tempfile::tempdir().unwrap();
    let c = ManualClock::new(T0);
    let s = opts(&c)
        .partition(secs(600))
        .grace(secs(60))
        .retention(secs(3 * 3600))
        .open(dir.path())
        .unwrap();
    let p = s.project("x").unwrap();
    let mut n = 0u64;
    for j in 0..40u64 {
        let job = format!("job-{j}");
        p.start_run(&NewRun::new(
            job.clone(),
            "f",
            if j % 2 == 0 {
                Trigger::Scheduler
            } else {
                Trigger::Event
            },
        ))
        .unwrap();
        for k in 0..3 {
            p.append(
                &LogRecord::new(
                    c.now(),
                    Level::ALL[(k + j as usize) % 4],
                    job.clone(),
                    format!("a1 {k}"),
                )
                .detail("x"),
            )
            .unwrap();
            n += 1;
        }
        if j % 3 != 0 {
            p.attempt_failed(&job, 1, "e").unwrap();
            c.advance(secs(5));
            for t in p.due_retries_at(c.now()).unwrap() {
                for k in 0..2 {
                    p.append(
                        &LogRecord::new(c.now(), Level::Info, t.job_id.clone(), format!("a2 {k}"))
                            .attempt(t.attempt),
                    )
                    .unwrap();
                    n += 1;
                }
                if j % 3 == 1 {
                    p.attempt_succeeded(&t.job_id, t.attempt).unwrap();
                } else {
                    p.attempt_failed(&t.job_id, t.attempt, "e2").unwrap();
                }
            }
        } else {
            p.attempt_succeeded(&job, 1).unwrap();
        }
        c.advance(secs(97));
    }
    let check = |p: &Project, n_all: u64| {
        let all = pages(p, &Query::new().all_time().include_superseded(true), 7);
        let vis = pages(p, &Query::new().all_time(), 7);
        let st = p.stats().unwrap();
        assert_eq!(
            st.records,
            all.len() as u64,
            "stats.records vs include_superseded query"
        );
        assert_eq!(st.records, n_all);
        let mut lv = [0u64; 4];
        for r in &all {
            lv[r.record.level.code() as usize] += 1;
        }
        assert_eq!(st.by_level, lv);
        assert_eq!(st.newest, all.first().map(|r| r.record.time));
        assert_eq!(st.oldest, all.last().map(|r| r.record.time));
        let cnt = p.count(&Query::new().all_time()).unwrap();
        assert_eq!(cnt.total, vis.len() as u64);
        let mut lv = [0u64; 4];
        for r in &vis {
            lv[r.record.level.code() as usize] += 1;
        }
        assert_eq!(cnt.by_level, lv);
        let runs = p
            .query_runs(&RunQuery::new().all_time().limit(10_000))
            .unwrap()
            .runs;
        assert_eq!(st.runs, runs.len() as u64);
        let mut bs = [0u64; 4];
        for r in &runs {
            bs[r.status.code() as usize] += 1;
        }
        assert_eq!(st.runs_by_status, bs);
        let segs = p.segments().unwrap();
        assert_eq!(st.segments, segs.len());
        let mut out = Vec::new();
        let e = p
            .export(
                &Query::new().all_time(),
                runlog::ExportOptions::new(ExportFormat::JsonLines).details(true),
                &mut out,
                |_| {},
            )
            .unwrap();
        assert_eq!(e.records, vis.len() as u64);
        let rows: Vec<ExportRow> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        for (row, r) in rows.iter().zip(&vis) {
            assert_eq!(row.id, r.id.to_string());
            assert!(!row.superseded);
        }
        for r in &runs {
            let b = p.execution_bundle(&r.job_id).unwrap();
            let all_logs = p.job_logs_including_superseded(&r.job_id).unwrap();
            assert_eq!(b.logs.len(), all_logs.len());
            for (row, l) in b.logs.iter().zip(&all_logs) {
                assert_eq!(row.id, l.id.to_string());
                assert_eq!(row.superseded, l.superseded, "{}", row.id);
                let g = p.get(l.id).unwrap().unwrap();
                assert_eq!(row.detail, g.record.detail);
                assert_eq!(g.superseded, l.superseded);
            }
            let vis_job: Vec<_> = vis.iter().filter(|x| x.record.job_id == r.job_id).collect();
            assert_eq!(
                p.job_logs(&r.job_id).unwrap().len(),
                vis_job.len(),
                "job {}",
                r.job_id
            );
            assert_eq!(b.run.as_ref(), Some(r));
        }
        let sched = p
            .scheduled_tasks(&RunQuery::new().all_time().limit(10_000))
            .unwrap()
            .runs;
        assert_eq!(
            sched.len(),
            runs.iter()
                .filter(|r| r.trigger == Trigger::Scheduler)
                .count()
        );
    };
    check(&p, n);
    p.seal_due().unwrap();
    check(&p, n);
    drop(p);
    drop(s);
    let s = opts(&c).retention(secs(3 * 3600)).open(dir.path()).unwrap();
    let p = s.project("x").unwrap();
    check(&p, n);
    // advance so part is past retention
    c.advance(secs(3 * 3600 - 40 * 97 + 1800));
    p.seal_due().unwrap();
    let all = pages(&p, &Query::new().all_time().include_superseded(true), 7);
    check(&p, all.len() as u64);
    assert!(all.len() as u64 > 0 && (all.len() as u64) < n);
}

#[test]
fn f1_follow_and_buckets_hide_superseded() {
    let dir = tempfile::tempdir().unwrap();
    let c = ManualClock::new(T0);
    let s = opts(&c)
        .partition(secs(600))
        .grace(secs(0))
        .retry_policy(RetryPolicy {
            max_retries: 1,
            ..RetryPolicy::default()
        })
        .open(dir.path())
        .unwrap();
    let p = s.project("x").unwrap();
    let mut fol = p.follow(&Query::new()).unwrap();
    let mut fol_all = p.follow(&Query::new().include_superseded(true)).unwrap();
    for j in 0..20u64 {
        let job = format!("job-{j}");
        p.start_run(&NewRun::new(job.clone(), "f", Trigger::Scheduler))
            .unwrap();
        p.append(&LogRecord::new(c.now(), Level::Error, job.clone(), "a1"))
            .unwrap();
        p.attempt_failed(&job, 1, "e").unwrap();
        c.advance(secs(200));
        let t = p.due_retries_at(c.now()).unwrap();
        assert_eq!(t.len(), 1);
        p.append(&LogRecord::new(c.now(), Level::Info, job.clone(), "a2").attempt(2))
            .unwrap();
        if j % 2 == 0 {
            p.attempt_succeeded(&job, 2).unwrap();
        } else {
            p.attempt_failed(&job, 2, "e").unwrap();
        }
        c.advance(secs(100));
    }
    let b = fol.next_batch(Duration::ZERO).unwrap();
    let b_all = fol_all.next_batch(Duration::ZERO).unwrap();
    assert_eq!(b_all.len(), 40);
    assert_eq!(b.len(), 30, "follow shows superseded");
    for inc in [false, true] {
        for sealed in [false, true] {
            if sealed {
                c.advance(secs(1200));
                p.seal_due().unwrap();
            }
            let q = Query::new().all_time().include_superseded(inc);
            let recs = p.query(&q.clone().limit(10_000)).unwrap().records;
            let cnt = p.count(&q.clone().bucket(secs(450))).unwrap();
            assert_eq!(cnt.total, recs.len() as u64);
            assert_eq!(recs.len(), if inc { 40 } else { 30 });
            for (start, n) in &cnt.buckets {
                let end = start.saturating_add(secs(450));
                let m = recs
                    .iter()
                    .filter(|r| r.record.time >= *start && r.record.time < end)
                    .count() as u64;
                assert_eq!(*n, m, "bucket {start} inc={inc} sealed={sealed}");
            }
            let e = p.count(&q.clone().level(Level::Error)).unwrap().total;
            assert_eq!(e, if inc { 20 } else { 10 });
        }
    }
}
