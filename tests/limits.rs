//! Limits: every documented field/preset/run limit accepted at the limit, refused above it; NUL; big details in small segments.
mod common;

use common::{T0, options as opts, secs};
use runlog::*;
use std::time::Duration;

#[test]
fn p3_field_limits_exact() {
    let dir = tempfile::tempdir().unwrap();
    let c = ManualClock::new(T0);
    let s = opts(&c).open(dir.path()).unwrap();
    let p = s.project("x").unwrap();
    let mut r = LogRecord::new(
        T0,
        Level::Info,
        "j".repeat(MAX_JOB_ID_BYTES),
        "c".repeat(MAX_CONTENT_BYTES),
    )
    .flow("f".repeat(MAX_NAME_BYTES))
    .component("f".repeat(MAX_NAME_BYTES))
    .action("f".repeat(MAX_NAME_BYTES))
    .category("f".repeat(MAX_NAME_BYTES))
    .env("f".repeat(MAX_NAME_BYTES))
    .app("f".repeat(MAX_NAME_BYTES))
    .version("f".repeat(MAX_NAME_BYTES))
    .detail("d".repeat(MAX_DETAIL_BYTES));
    let id = p.append(&r).unwrap();
    let got = p.get(id).unwrap().unwrap();
    assert_eq!(got.record, r);
    // multibyte: 4-byte char x 32 = 128 bytes
    r.job_id = "😀".repeat(32).into();
    p.append(&r).unwrap();
    r.job_id = "😀".repeat(33).into();
    match p.append(&r) {
        Err(Error::FieldTooLarge {
            field: Field::JobId,
            ..
        }) => {}
        o => panic!("{o:?}"),
    }
    p.seal_due().unwrap();
    c.advance(secs(7200));
    p.seal_due().unwrap();
    drop(p);
    drop(s);
    let s = opts(&c).open(dir.path()).unwrap();
    let p = s.project("x").unwrap();
    let got = p.get(id).unwrap().unwrap();
    assert_eq!(got.record.detail.as_ref().unwrap().len(), MAX_DETAIL_BYTES);
    assert!(p.damage().is_empty(), "{:?}", p.damage());
}

#[test]
fn p3b_big_detail_small_segments() {
    let dir = tempfile::tempdir().unwrap();
    let c = ManualClock::new(T0);
    let s = opts(&c)
        .max_segment_bytes(1 << 20)
        .open(dir.path())
        .unwrap();
    let p = s.project("x").unwrap();
    let r = LogRecord::new(T0, Level::Info, "j", "c").detail("d".repeat(MAX_DETAIL_BYTES));
    let a = p.append(&r).unwrap();
    let b = p.append(&r).unwrap();
    let batch = p.append_batch(&[r.clone(), r.clone()]).unwrap();
    c.advance(secs(7200));
    p.seal_due().unwrap();
    drop(p);
    drop(s);
    let s = opts(&c)
        .max_segment_bytes(1 << 20)
        .open(dir.path())
        .unwrap();
    let p = s.project("x").unwrap();
    for id in [a, b, batch[0], batch[1]] {
        let g = p.get(id).unwrap().unwrap();
        assert_eq!(g.record.detail.unwrap().len(), MAX_DETAIL_BYTES);
    }
    assert!(p.damage().is_empty(), "{:?}", p.damage());
    assert!(p.verify().unwrap().problems.is_empty());
}

#[test]
fn p4_nul_in_fields() {
    let dir = tempfile::tempdir().unwrap();
    let c = ManualClock::new(T0);
    let s = opts(&c).open(dir.path()).unwrap();
    let p = s.project("x").unwrap();
    p.append(&LogRecord::new(T0, Level::Info, "a", "one").flow("a"))
        .unwrap();
    p.append(&LogRecord::new(T0, Level::Info, "a\0", "two").flow("a\0"))
        .unwrap();
    p.append(&LogRecord::new(T0, Level::Info, "a\0\0", "three").flow("a\0\0"))
        .unwrap();
    let check = |p: &Project| {
        for (v, n) in [("a", "one"), ("a\0", "two"), ("a\0\0", "three")] {
            let q = p.query(&Query::new().all_time().flow(v)).unwrap();
            assert_eq!(
                q.records
                    .iter()
                    .map(|r| r.record.content.to_string())
                    .collect::<Vec<_>>(),
                vec![n.to_string()],
                "flow {v:?}"
            );
            let j = p.job_logs(v).unwrap();
            assert_eq!(j.len(), 1, "job {v:?}");
            assert_eq!(
                p.count(&Query::new().all_time().job_id(v)).unwrap().total,
                1
            );
        }
    };
    check(&p);
    c.advance(secs(7200));
    p.seal_due().unwrap();
    check(&p);
}

#[test]
fn p5_presets_limits() {
    let dir = tempfile::tempdir().unwrap();
    let c = ManualClock::new(T0);
    let s = opts(&c).open(dir.path()).unwrap();
    let p = s.project("x").unwrap();
    p.save_preset(&"é".repeat(32), SavedRange::Last(secs(60)))
        .unwrap();
    assert!(
        p.save_preset(&("é".repeat(32) + "a"), SavedRange::Last(secs(60)))
            .is_err()
    );
    assert!(p.save_preset("a\0", SavedRange::Last(secs(60))).is_err());
    for i in 1..1000 {
        p.save_preset(&format!("p{i}"), SavedRange::Last(secs(60)))
            .unwrap();
    }
    assert_eq!(p.presets().unwrap().len(), 1000);
    p.save_preset("p5", SavedRange::Last(secs(120))).unwrap();
    assert!(p.save_preset("new", SavedRange::Last(secs(60))).is_err());
    p.save_preset("huge", SavedRange::Last(Duration::MAX)).err();
    drop(p);
    drop(s);
    let s = opts(&c).open(dir.path()).unwrap();
    let p = s.project("x").unwrap();
    assert_eq!(p.presets().unwrap().len(), 1000);
}

#[test]
fn p5b_preset_huge_last() {
    let dir = tempfile::tempdir().unwrap();
    let c = ManualClock::new(T0);
    let s = opts(&c).open(dir.path()).unwrap();
    let p = s.project("x").unwrap();
    p.save_preset("huge", SavedRange::Last(Duration::MAX))
        .unwrap();
    p.save_preset("nanos", SavedRange::Last(Duration::new(5, 999_999_999)))
        .unwrap();
    assert_eq!(p.presets().unwrap().len(), 2);
    p.query(&Query::new().saved("huge")).unwrap();
}

#[test]
fn p6_run_fields_limits() {
    let dir = tempfile::tempdir().unwrap();
    let c = ManualClock::new(T0);
    let s = opts(&c).open(dir.path()).unwrap();
    let p = s.project("x").unwrap();
    for i in 0..5 {
        let job = format!("{i}{}", "j".repeat(MAX_JOB_ID_BYTES - 1));
        p.start_run(
            &NewRun::new(job, "f".repeat(MAX_NAME_BYTES), Trigger::Scheduler)
                .env("e".repeat(MAX_NAME_BYTES))
                .app("a".repeat(MAX_NAME_BYTES))
                .version("v".repeat(MAX_NAME_BYTES)),
        )
        .unwrap();
    }
    let mut q = RunQuery::new().limit(2);
    let mut n = 0;
    loop {
        let page = p.scheduled_tasks(&q).unwrap();
        n += page.runs.len();
        match page.next {
            Some(cur) => {
                let cur: RunCursor = cur.to_string().parse().unwrap();
                q = RunQuery::new().limit(2).after(cur)
            }
            None => break,
        }
    }
    assert_eq!(n, 5);
    match p.start_run(&NewRun::new("j", "f", Trigger::Event).env("e".repeat(MAX_NAME_BYTES + 1))) {
        Err(Error::FieldTooLarge {
            field: Field::Env, ..
        }) => {}
        o => panic!("{o:?}"),
    }
    let job = "x".repeat(MAX_JOB_ID_BYTES);
    p.start_run(&NewRun::new(job.clone(), "f", Trigger::Event))
        .unwrap();
    p.attempt_failed(&job, 1, &"é".repeat(MAX_ERROR_BYTES))
        .unwrap();
    drop(p);
    drop(s);
    let s = opts(&c).open(dir.path()).unwrap();
    let p = s.project("x").unwrap();
    assert!(p.damage().is_empty(), "{:?}", p.damage());
    assert_eq!(p.run(&job).unwrap().unwrap().status, RunStatus::Retrying);
}
