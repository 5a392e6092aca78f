//! Model-based test of runs: random sequences of run lifecycle calls
//! (start, succeed, fail, claim due retries, manual retries), log appends
//! of the jobs' attempts, clock moves, seals and reopens, checked after
//! every step against a plain in-memory model: the result of each call,
//! every job's run, the due tickets, the run listing and counts, and which
//! logs default queries, counts and job lookups show (superseded attempts
//! hidden, and shown flagged with `include_superseded`).
//!
//! Cases: `PROPTEST_CASES` (default 64), each 1–3 starts then 10–39
//! operations over 6 jobs and 2 flows (one with its own retry policy).

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use common::T0;
use proptest::prelude::*;
use runlog::{
    Attempt, AttemptTicket, Clock, Error, Level, LogRecord, MAX_LIMIT, ManualClock, NewRun,
    Outcome, Project, Query, RecordId, RetryPolicy, Run, RunQuery, RunStatus, Store, StoreOptions,
    StoredRecord, SyncPolicy, Text, Timestamp, Trigger,
};

const PARTITION: u64 = 60;
const GRACE: u64 = 30;
const JOBS: [&str; 6] = ["job-0", "job-1", "job-2", "job-3", "job-4", "job-5"];
/// The second flow has its own retry policy.
const FLOWS: [&str; 2] = ["sync-orders", "export-invoices"];

/// The project's policy: 2 retries, after 5 s, then 12 s (15 s capped).
fn default_policy() -> RetryPolicy {
    RetryPolicy {
        max_retries: 2,
        initial_delay: Duration::from_secs(5),
        multiplier: 3.0,
        max_delay: Duration::from_secs(12),
    }
}

/// `FLOWS[1]`'s policy: one retry, after 30 s.
fn flow_policy() -> RetryPolicy {
    RetryPolicy {
        max_retries: 1,
        initial_delay: Duration::from_secs(30),
        multiplier: 3.0,
        max_delay: Duration::from_secs(60),
    }
}

/// The model's own reading of the policies: (max retries, delay of retry k+1 in s).
fn model_policy(flow: &str, k: u32) -> (u32, u64) {
    let (max, initial, mult, cap): (u32, u64, u64, u64) = if flow == FLOWS[1] {
        (1, 30, 3, 60)
    } else {
        (2, 5, 3, 12)
    };
    let mut d = initial;
    for _ in 0..k {
        d = d.saturating_mul(mult).min(cap);
    }
    (max, d.min(cap))
}

/// The job a call is about, picked when the call is made: mostly one
/// whose run has the status the call needs, else one with a run (the
/// `i`-th of them, modulo their number), sometimes any.
#[derive(Clone, Copy, Debug)]
enum Target {
    Fit(usize),
    Known(usize),
    Any(usize),
}

fn target() -> impl Strategy<Value = Target> {
    let i = 0..JOBS.len();
    prop_oneof![
        8 => i.clone().prop_map(Target::Fit),
        1 => i.clone().prop_map(Target::Known),
        1 => i.prop_map(Target::Any),
    ]
}

/// An attempt number given to a call: the job's current one, or a fixed one.
#[derive(Clone, Copy, Debug)]
enum Att {
    Current,
    N(u32),
}

#[derive(Clone, Debug)]
enum Op {
    /// Start a run, triggered `back` s before now.
    Start {
        job: usize,
        flow: usize,
        trigger: usize,
        back: u64,
    },
    Succeed {
        job: Target,
        att: Att,
    },
    Fail {
        job: Target,
        att: Att,
    },
    /// `due_retries(now + ahead s)`; `None`: at the soonest due time.
    ClaimDue {
        ahead: Option<u64>,
    },
    ManualRetry {
        job: Target,
    },
    /// `request_retry`: a manual retry for `due_retries` to hand out.
    RequestRetry {
        job: Target,
    },
    /// A log of the job's attempt, `back_ms` before now.
    AppendLog {
        job: Target,
        att: Att,
        level: usize,
        back_ms: u64,
    },
    Advance {
        secs: u64,
    },
    Reopen,
    /// Move past the partition and its grace, and seal.
    SealDue,
}

fn att() -> impl Strategy<Value = Att> {
    prop_oneof![7 => Just(Att::Current), 1 => (1..=5u32).prop_map(Att::N)]
}

fn start() -> impl Strategy<Value = Op> {
    (
        0..JOBS.len(),
        0..FLOWS.len(),
        0..3usize,
        prop_oneof![3 => Just(0u64), 1 => 0..150u64],
    )
        .prop_map(|(job, flow, trigger, back)| Op::Start {
            job,
            flow,
            trigger,
            back,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => start(),
        3 => (target(), att()).prop_map(|(job, att)| Op::Succeed { job, att }),
        7 => (target(), att()).prop_map(|(job, att)| Op::Fail { job, att }),
        6 => prop_oneof![1 => Just(Some(0u64)), 3 => (0..40u64).prop_map(Some), 1 => Just(None)]
            .prop_map(|ahead| Op::ClaimDue { ahead }),
        2 => target().prop_map(|job| Op::ManualRetry { job }),
        1 => target().prop_map(|job| Op::RequestRetry { job }),
        6 => (target(), att(), 0..4usize, prop_oneof![3 => Just(0u64), 1 => 0..150_000u64])
            .prop_map(|(job, att, level, back_ms)| Op::AppendLog { job, att, level, back_ms }),
        3 => (0..400u64).prop_map(|secs| Op::Advance { secs }),
        1 => Just(Op::Reopen),
        1 => Just(Op::SealDue),
    ]
}

fn opts(clock: &ManualClock) -> StoreOptions {
    StoreOptions::new()
        .clock(clock.clone())
        .sync_policy(SyncPolicy::Manual)
        .partition(Duration::from_secs(PARTITION))
        .grace(Duration::from_secs(GRACE))
        .retry_policy(default_policy())
}

fn open(dir: &Path, clock: &ManualClock) -> Store {
    let store = opts(clock).open(dir).expect("open store");
    // Flow policies live in memory: set again after every open.
    store
        .project("m")
        .unwrap()
        .set_flow_retry_policy(FLOWS[1], Some(flow_policy()))
        .unwrap();
    store
}

/// What a call returned, as the model sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Res {
    Ok,
    UnknownJob,
    InvalidTransition,
    JobExists,
}

fn res<T>(r: &Result<T, Error>, what: &str) -> Result<Res, TestCaseError> {
    match r {
        Ok(_) => Ok(Res::Ok),
        Err(Error::UnknownJob { .. }) => Ok(Res::UnknownJob),
        Err(Error::InvalidTransition { .. }) => Ok(Res::InvalidTransition),
        Err(Error::JobExists { .. }) => Ok(Res::JobExists),
        Err(e) => Err(TestCaseError::fail(format!("{what}: unexpected error {e}"))),
    }
}

#[derive(Clone, Debug)]
struct MRun {
    flow: &'static str,
    trigger: Trigger,
    trigger_time: Timestamp,
    /// Order of the start among all starts (the run's position in its partition).
    seq: usize,
    status: RunStatus,
    next_retry: Option<Timestamp>,
    end_time: Option<Timestamp>,
    attempts: Vec<Attempt>,
    /// A manual retry was requested and is due.
    requested: bool,
}

impl MRun {
    fn current(&self) -> u32 {
        self.attempts.last().map_or(0, |a| a.number)
    }

    fn to_run(&self, job: &str) -> Run {
        Run {
            job_id: job.into(),
            flow: self.flow.into(),
            env: Text::default(),
            app: Text::default(),
            version: Text::default(),
            trigger: self.trigger,
            trigger_time: self.trigger_time,
            end_time: self.end_time,
            status: self.status,
            next_retry: self.next_retry,
            retry_requested: self.requested,
            attempts: self.attempts.clone(),
        }
    }

    /// The attempt whose logs are superseded below, if any.
    fn superseding(&self) -> Option<u32> {
        (self.status == RunStatus::Successful).then(|| self.current())
    }
}

fn running(r: &MRun) -> bool {
    r.status == RunStatus::Running
}

fn attempt(number: u32, start: Timestamp, manual: bool) -> Attempt {
    Attempt {
        number,
        start,
        end: None,
        outcome: Outcome::Running,
        error: None,
        manual,
        superseded: false,
    }
}

#[derive(Default)]
struct Model {
    runs: HashMap<&'static str, MRun>,
    logs: Vec<(RecordId, LogRecord)>,
    starts: usize,
}

impl Model {
    /// The job `t` picks for a call: `Fit` takes the first of `prefer`
    /// that some run passes.
    fn job(&self, t: Target, prefer: &[&dyn Fn(&MRun) -> bool]) -> &'static str {
        let pick = |keep: &dyn Fn(&MRun) -> bool, i: usize| {
            let mut jobs: Vec<_> = self
                .runs
                .iter()
                .filter(|(_, r)| keep(r))
                .map(|(j, _)| *j)
                .collect();
            jobs.sort_unstable();
            (!jobs.is_empty()).then(|| jobs[i % jobs.len()])
        };
        match t {
            Target::Fit(i) => prefer
                .iter()
                .find_map(|keep| pick(*keep, i))
                .or_else(|| pick(&|_| true, i))
                .unwrap_or(JOBS[i]),
            Target::Known(i) => pick(&|_| true, i).unwrap_or(JOBS[i]),
            Target::Any(i) => JOBS[i],
        }
    }

    fn current(&self, job: &str, att: Att) -> u32 {
        match att {
            Att::N(n) => n,
            Att::Current => self.runs.get(job).map_or(1, MRun::current),
        }
    }

    /// The result an event about `job` gets: it must be a `want` run at
    /// attempt `number` (`None`: any attempt).
    fn check(&self, job: &str, want: RunStatus, number: Option<u32>) -> Res {
        match self.runs.get(job) {
            None => Res::UnknownJob,
            Some(r) if r.status != want => Res::InvalidTransition,
            Some(r) if number.is_some_and(|n| n != r.current()) => Res::InvalidTransition,
            Some(_) => Res::Ok,
        }
    }

    fn hidden(&self, r: &LogRecord) -> bool {
        self.runs
            .get(r.job_id.as_str())
            .and_then(MRun::superseding)
            .is_some_and(|s| r.attempt < s)
    }

    /// (id, record, superseded) of every log, newest first.
    fn logs(&self, include_superseded: bool) -> Vec<(RecordId, LogRecord, bool)> {
        let mut v: Vec<_> = self
            .logs
            .iter()
            .map(|(id, r)| (*id, r.clone(), self.hidden(r)))
            .filter(|(_, _, h)| include_superseded || !h)
            .collect();
        v.sort_by_key(|(id, r, _)| std::cmp::Reverse((r.time, *id)));
        v
    }

    /// Retrying runs due at `at`, in the order the store claims them.
    fn due(&self, at: Timestamp) -> Vec<(&'static str, u32, bool)> {
        let mut v: Vec<_> = self
            .runs
            .iter()
            .filter_map(|(job, r)| {
                let due = r.next_retry.filter(|&d| d <= at)?;
                let p = r
                    .trigger_time
                    .as_micros()
                    .div_euclid(PARTITION as i64 * 1_000_000);
                Some(((due, p, r.seq), (*job, r.current() + 1, r.requested)))
            })
            .collect();
        v.sort_by_key(|(k, _)| *k);
        v.into_iter().map(|(_, j)| j).collect()
    }
}

fn same_records(
    got: &[StoredRecord],
    want: &[(RecordId, LogRecord, bool)],
    what: &str,
) -> Result<(), TestCaseError> {
    let g: Vec<_> = got
        .iter()
        .map(|s| (s.id, s.record.attempt, s.superseded))
        .collect();
    let w: Vec<_> = want.iter().map(|(id, r, h)| (*id, r.attempt, *h)).collect();
    prop_assert_eq!(g, w, "{}: (id, attempt, superseded)", what);
    for (s, (_, r, _)) in got.iter().zip(want) {
        prop_assert_eq!(&s.record, r, "{}", what);
        prop_assert!(!s.has_detail);
    }
    Ok(())
}

/// Every job's run, the run listing and the run counts.
fn check_runs(p: &Project, model: &Model, step: usize) -> Result<(), TestCaseError> {
    for job in JOBS {
        let got = p.run(job).unwrap();
        let want = model.runs.get(job).map(|r| r.to_run(job));
        prop_assert_eq!(got, want, "step {}: run of {}", step, job);
    }
    let page = p
        .query_runs(&RunQuery::new().all_time().limit(MAX_LIMIT))
        .unwrap();
    let mut want: Vec<_> = model.runs.iter().map(|(j, r)| r.to_run(j)).collect();
    want.sort_by(|a, b| (b.trigger_time, &b.job_id).cmp(&(a.trigger_time, &a.job_id)));
    prop_assert_eq!(&page.runs, &want, "step {}: run listing", step);
    prop_assert!(page.next.is_none());
    let counts = p.count_runs(&RunQuery::new().all_time()).unwrap();
    let mut by_status = [0u64; 4];
    for r in model.runs.values() {
        by_status[r.status.code() as usize] += 1;
    }
    prop_assert_eq!(counts.by_status, by_status, "step {}: run counts", step);
    prop_assert_eq!(counts.total, model.runs.len() as u64);
    Ok(())
}

/// What queries, counts and job lookups show of the logs.
fn check_logs(p: &Project, model: &Model, step: usize) -> Result<(), TestCaseError> {
    for include in [false, true] {
        let want = model.logs(include);
        let q = Query::new()
            .all_time()
            .limit(MAX_LIMIT)
            .include_superseded(include);
        let page = p.query(&q).unwrap();
        same_records(
            &page.records,
            &want,
            &format!("step {step}: query (include_superseded {include})"),
        )?;
        prop_assert!(page.next.is_none());
        let counts = p.count(&q).unwrap();
        let mut by_level = [0u64; 4];
        for (_, r, _) in &want {
            by_level[r.level.code() as usize] += 1;
        }
        prop_assert_eq!(
            counts.total,
            want.len() as u64,
            "step {}: count (include_superseded {})",
            step,
            include
        );
        prop_assert_eq!(counts.by_level, by_level, "step {}: count by level", step);
        // Small pages, through cursors.
        let mut paged = Vec::new();
        let mut q = q.clone().limit(3);
        loop {
            let page = p.query(&q).unwrap();
            prop_assert!(page.records.len() <= 3);
            paged.extend(page.records);
            match page.next {
                Some(c) => q = q.after(c),
                None => break,
            }
            prop_assert!(paged.len() <= want.len(), "step {}: pages run on", step);
        }
        same_records(
            &paged,
            &want,
            &format!("step {step}: pages of 3 (include_superseded {include})"),
        )?;
        // At least Warn: a level filter.
        let warn: Vec<_> = want
            .iter()
            .filter(|(_, r, _)| r.level >= Level::Warn)
            .cloned()
            .collect();
        let q = Query::new()
            .all_time()
            .limit(MAX_LIMIT)
            .include_superseded(include)
            .min_level(Level::Warn);
        same_records(
            &p.query(&q).unwrap().records,
            &warn,
            &format!("step {step}: query at least Warn (include_superseded {include})"),
        )?;
        prop_assert_eq!(p.count(&q).unwrap().total, warn.len() as u64);
        for job in JOBS {
            let of_job: Vec<_> = want
                .iter()
                .filter(|(_, r, _)| r.job_id == job)
                .cloned()
                .collect();
            // A job filter (index), and a text filter (record bodies).
            let q = Query::new()
                .all_time()
                .limit(MAX_LIMIT)
                .include_superseded(include);
            for (how, q) in [("job_id", q.clone().job_id(job)), ("text", q.text(job))] {
                same_records(
                    &p.query(&q).unwrap().records,
                    &of_job,
                    &format!("step {step}: query by {how} {job} (include_superseded {include})"),
                )?;
                prop_assert_eq!(
                    p.count(&q).unwrap().total,
                    of_job.len() as u64,
                    "step {}: count by {} {} (include_superseded {})",
                    step,
                    how,
                    job,
                    include
                );
            }
            // Oldest first.
            let mut of_job = of_job;
            of_job.reverse();
            let got = if include {
                p.job_logs_including_superseded(job).unwrap()
            } else {
                p.job_logs(job).unwrap()
            };
            same_records(
                &got,
                &of_job,
                &format!("step {step}: job logs of {job} (include_superseded {include})"),
            )?;
        }
    }
    prop_assert!(p.damage().is_empty(), "{:?}", p.damage());
    Ok(())
}

fn check_ticket(
    t: &AttemptTicket,
    model: &Model,
    now: Timestamp,
    manual: bool,
) -> Result<(), TestCaseError> {
    let r = &model.runs[t.job_id.as_str()];
    prop_assert_eq!(t.attempt, r.current());
    prop_assert_eq!(t.manual, manual);
    prop_assert_eq!(t.flow.as_str(), r.flow);
    prop_assert_eq!(t.trigger, r.trigger);
    prop_assert_eq!(t.trigger_time, r.trigger_time);
    prop_assert_eq!(t.start, now);
    prop_assert!(t.env.is_empty() && t.app.is_empty() && t.version.is_empty());
    Ok(())
}

fn run(ops: Vec<Op>, dir: &Path) -> Result<(), TestCaseError> {
    let clock = ManualClock::new(T0);
    let mut store = open(dir, &clock);
    let mut model = Model::default();
    for (step, op) in ops.into_iter().enumerate() {
        let p = store.project("m").unwrap();
        let now = clock.now();
        match op {
            Op::Start {
                job,
                flow,
                trigger,
                back,
            } => {
                let job = JOBS[job];
                let trigger = Trigger::ALL[trigger];
                let trigger_time = now.saturating_sub(Duration::from_secs(back));
                let mut new = NewRun::new(job, FLOWS[flow], trigger);
                if back > 0 {
                    new = new.triggered_at(trigger_time);
                }
                let got = p.start_run(&new);
                let want = if model.runs.contains_key(job) {
                    Res::JobExists
                } else {
                    model.runs.insert(
                        job,
                        MRun {
                            flow: FLOWS[flow],
                            trigger,
                            trigger_time,
                            seq: model.starts,
                            status: RunStatus::Running,
                            next_retry: None,
                            end_time: None,
                            attempts: vec![attempt(1, now, false)],
                            requested: false,
                        },
                    );
                    model.starts += 1;
                    Res::Ok
                };
                prop_assert_eq!(res(&got, "start")?, want, "step {}: start {}", step, job);
                if let Ok(run) = got {
                    prop_assert_eq!(run, model.runs[job].to_run(job));
                }
            }
            Op::Succeed { job, att } => {
                // Successes of retries are the interesting ones.
                let job = model.job(job, &[&|r| running(r) && r.current() > 1, &running]);
                let n = model.current(job, att);
                let got = p.attempt_succeeded(job, n);
                let want = model.check(job, RunStatus::Running, Some(n));
                if want == Res::Ok {
                    let r = model.runs.get_mut(job).unwrap();
                    for a in &mut r.attempts {
                        if a.outcome == Outcome::Failed {
                            a.superseded = true;
                        }
                    }
                    let last = r.attempts.last_mut().unwrap();
                    last.outcome = Outcome::Succeeded;
                    last.end = Some(now);
                    r.end_time = Some(now);
                    r.status = RunStatus::Successful;
                }
                prop_assert_eq!(
                    res(&got, "succeed")?,
                    want,
                    "step {}: succeed {} attempt {}",
                    step,
                    job,
                    n
                );
                if let Ok(run) = got {
                    prop_assert_eq!(run, model.runs[job].to_run(job));
                }
            }
            Op::Fail { job, att } => {
                let job = model.job(job, &[&running]);
                let n = model.current(job, att);
                let error = format!("failure at step {step}");
                let got = p.attempt_failed(job, n, &error);
                let want = model.check(job, RunStatus::Running, Some(n));
                if want == Res::Ok {
                    let r = model.runs.get_mut(job).unwrap();
                    let chain_start = r
                        .attempts
                        .iter()
                        .rev()
                        .find(|a| a.manual)
                        .map_or(1, |a| a.number);
                    let k = r.current() - chain_start;
                    let (max, delay) = model_policy(r.flow, k);
                    let last = r.attempts.last_mut().unwrap();
                    last.outcome = Outcome::Failed;
                    last.end = Some(now);
                    last.error = Some(error);
                    if k < max {
                        r.status = RunStatus::Retrying;
                        r.next_retry = Some(now.saturating_add(Duration::from_secs(delay)));
                    } else {
                        r.status = RunStatus::Failed;
                        r.end_time = Some(now);
                    }
                }
                prop_assert_eq!(
                    res(&got, "fail")?,
                    want,
                    "step {}: fail {} attempt {}",
                    step,
                    job,
                    n
                );
                if let Ok(run) = got {
                    prop_assert_eq!(run, model.runs[job].to_run(job));
                }
            }
            Op::ClaimDue { ahead } => {
                let at = match ahead {
                    Some(s) => now.saturating_add(Duration::from_secs(s)),
                    None => model
                        .runs
                        .values()
                        .filter_map(|r| r.next_retry)
                        .min()
                        .unwrap_or(now),
                };
                let want = model.due(at);
                let tickets = p.due_retries_at(at).unwrap();
                for &(job, n, manual) in &want {
                    let r = model.runs.get_mut(job).unwrap();
                    r.next_retry = None;
                    r.end_time = None;
                    r.status = RunStatus::Running;
                    r.requested = false;
                    r.attempts.push(attempt(n, now, manual));
                }
                let got: Vec<_> = tickets
                    .iter()
                    .map(|t| (t.job_id.as_str(), t.attempt, t.manual))
                    .collect();
                prop_assert_eq!(&got, &want, "step {}: due tickets at {:?}", step, at);
                for (t, w) in tickets.iter().zip(&want) {
                    check_ticket(t, &model, now, w.2)?;
                }
                // A claim, not a peek: nothing is due twice.
                prop_assert!(p.due_retries_at(at).unwrap().is_empty());
            }
            Op::ManualRetry { job } => {
                let job = model.job(job, &[&|r| r.status == RunStatus::Failed]);
                let got = p.start_retry(job);
                // A requested retry may also be started by hand at once.
                let want = match model.runs.get(job) {
                    Some(r) if r.requested && r.status == RunStatus::Retrying => Res::Ok,
                    _ => model.check(job, RunStatus::Failed, None),
                };
                if want == Res::Ok {
                    let r = model.runs.get_mut(job).unwrap();
                    let n = r.current() + 1;
                    r.attempts.push(attempt(n, now, true));
                    r.end_time = None;
                    r.next_retry = None;
                    r.requested = false;
                    r.status = RunStatus::Running;
                }
                prop_assert_eq!(
                    res(&got, "retry manually")?,
                    want,
                    "step {}: retry {} manually",
                    step,
                    job
                );
                if let Ok(t) = &got {
                    check_ticket(t, &model, now, true)?;
                }
            }
            Op::RequestRetry { job } => {
                let job = model.job(job, &[&|r| r.status == RunStatus::Failed]);
                let got = p.request_retry(job);
                let want = model.check(job, RunStatus::Failed, None);
                if want == Res::Ok {
                    let r = model.runs.get_mut(job).unwrap();
                    r.status = RunStatus::Retrying;
                    r.next_retry = Some(now);
                    r.end_time = None;
                    r.requested = true;
                }
                prop_assert_eq!(
                    res(&got, "request a retry")?,
                    want,
                    "step {}: request a retry of {}",
                    step,
                    job
                );
                if let Ok(run) = got {
                    prop_assert_eq!(run, model.runs[job].to_run(job));
                }
            }
            Op::AppendLog {
                job,
                att,
                level,
                back_ms,
            } => {
                let job = model.job(job, &[&running]);
                let mut r = LogRecord::new(
                    now.saturating_sub(Duration::from_millis(back_ms)),
                    Level::ALL[level],
                    job,
                    format!("step {step} of {job}"),
                );
                r.attempt = model.current(job, att);
                if let Some(run) = model.runs.get(job) {
                    r.flow = run.flow.into();
                }
                let id = p.append(&r).unwrap();
                model.logs.push((id, r));
            }
            Op::Advance { secs } => clock.advance(Duration::from_secs(secs)),
            Op::Reopen => {
                p.sync().unwrap();
                drop(p);
                drop(store);
                store = open(dir, &clock);
            }
            Op::SealDue => {
                clock.advance(Duration::from_secs(PARTITION + GRACE));
                p.seal_due().unwrap();
            }
        }
        let p = store.project("m").unwrap();
        check_runs(&p, &model, step)?;
        check_logs(&p, &model, step)?;
    }
    // And once more from a fresh open.
    store.project("m").unwrap().sync().unwrap();
    drop(store);
    let store = open(dir, &clock);
    let p = store.project("m").unwrap();
    check_runs(&p, &model, usize::MAX)?;
    check_logs(&p, &model, usize::MAX)?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64),
        ..ProptestConfig::default()
    })]

    #[test]
    fn runs_match_model(
        starts in prop::collection::vec(start(), 1..=3),
        ops in prop::collection::vec(op(), 10..40),
    ) {
        let dir = tempfile::tempdir().unwrap();
        run(starts.into_iter().chain(ops).collect(), dir.path())?;
    }
}
