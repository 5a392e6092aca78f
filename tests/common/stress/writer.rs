//! Writer threads: batches of records (some late, some slightly ahead),
//! runs started, failed or succeeded, due retries claimed, and the logs
//! of each attempt; each writer moves the shared clock on.

use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::T0;
use crate::common::rng::{Random, Rng};
use runlog::{Error, LogRecord, NewRun, RecordId, RunStatus, Trigger};

use super::*;

#[derive(Default)]
pub struct WriterLog {
    /// Acknowledged records not yet past the horizon.
    pub acked: Vec<(RecordId, LogRecord)>,
    pub records: u64,
    pub runs: u64,
    pub claimed: u64,
}

/// End attempt `attempt` of `job`: the model first, then runlog.
pub fn end_attempt(s: &Shared, rng: &mut Rng, job: &str, attempt: u32) {
    let ok = rng.chance(2);
    {
        let mut runs = s.runs.lock().unwrap();
        let Some(m) = runs.get_mut(job) else {
            // Pruned: only once its trigger time is past the horizon.
            return;
        };
        assert_eq!(m.outcomes.len(), attempt as usize, "{job}");
        assert_eq!(
            m.outcomes[attempt as usize - 1],
            None,
            "{job} attempt {attempt}"
        );
        m.outcomes[attempt as usize - 1] = Some(ok);
    }
    let result = if ok {
        s.project.attempt_succeeded(job, attempt)
    } else {
        s.project.attempt_failed(job, attempt, "POST /orders: 503")
    };
    match result {
        Ok(run) => {
            let status = run.status;
            let want = match (ok, attempt as usize) {
                (true, _) => RunStatus::Successful,
                (false, n) if n < MAX_ATTEMPTS => RunStatus::Retrying,
                (false, _) => RunStatus::Failed,
            };
            assert_eq!(status, want, "{job} attempt {attempt}");
        }
        Err(Error::UnknownJob { .. }) => {
            let mut runs = s.runs.lock().unwrap();
            if let Some(m) = runs.get_mut(job) {
                assert!(
                    m.trigger < horizon(s.now()),
                    "{job}: unknown while within retention"
                );
                m.uncertain = true;
            }
        }
        Err(e) => panic!("{job} attempt {attempt}: {e}"),
    }
}

pub fn writer(s: &Shared, w: usize, ticks: mpsc::Sender<()>, deadline: Instant) -> WriterLog {
    let mut rng = Rng(0x5EED + w as u64);
    // Room for what stays within retention, allocated once: a Vec that
    // doubles would add jitter to the memory samples.
    let mut log = WriterLog {
        acked: Vec::with_capacity(2 * RECORDS_PER_DAY / WRITERS + 64 * 40),
        ..WriterLog::default()
    };
    let min_end = T0.saturating_add(Duration::from_secs(MIN_DAYS * DAY));
    let cap = deadline + work_time() * 4 + Duration::from_secs(20);
    let mut i = 0u64;
    let mut k = 0u64;
    let mut iteration = 0u64;
    loop {
        let now = s.now();
        let wall = Instant::now();
        if (wall >= deadline && now >= min_end) || s.stop.load(Ordering::Relaxed) {
            break;
        }
        assert!(
            wall < cap,
            "the clock reached only {:.1} days",
            (now.as_micros() - T0.as_micros()) as f64 / 86_400e6
        );
        iteration += 1;

        // A batch of ordinary logs: most recent, some late (into sealed
        // partitions), a few slightly ahead of the clock.
        let n = 1 + rng.below(24);
        let mut batch = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let t = match rng.below(200) {
                // Past its partition's grace: into a new generation.
                0 => now.saturating_sub(rng.secs(40 * 60)),
                // Late, but mostly within the grace period.
                1..=20 => now.saturating_sub(rng.secs(15 * 60)),
                21..=30 => now.saturating_add(rng.secs(60)),
                _ => now.saturating_sub(rng.secs(5)),
            };
            let job = format!("w{w}-j{}", i / 16);
            batch.push(record(&mut rng, w, i, t, &job, 1));
            i += 1;
        }
        s.seqs[w].store(i, Ordering::Relaxed);
        let ids = if batch.len() == 1 {
            vec![s.project.append(&batch[0]).unwrap()]
        } else {
            s.project.append_batch(&batch).unwrap()
        };
        log.records += ids.len() as u64;
        log.acked.extend(ids.into_iter().zip(batch));

        // Sometimes a new run: its first attempt logs, then ends.
        if rng.chance(3) {
            let job = format!("w{w}-r{k}");
            k += 1;
            s.runs.lock().unwrap().insert(
                job.clone(),
                JobModel {
                    trigger: now,
                    outcomes: vec![None],
                    uncertain: false,
                },
            );
            let trigger =
                [Trigger::Scheduler, Trigger::Event, Trigger::Manual][rng.below(3) as usize];
            let run = s
                .project
                .start_run(&NewRun::new(job.as_str(), "flow-r", trigger).env("prod"))
                .unwrap();
            s.runs.lock().unwrap().get_mut(&job).unwrap().trigger = run.trigger_time;
            log.runs += 1;
            let t = s.now();
            let recs: Vec<_> = (0..2)
                .map(|_| {
                    i += 1;
                    record(&mut rng, w, i, t, &job, 1)
                })
                .collect();
            let ids = s.project.append_batch(&recs).unwrap();
            log.acked.extend(ids.into_iter().zip(recs));
            end_attempt(s, &mut rng, &job, 1);
        }

        // Claim whatever retries are due (any writer's runs): each is
        // handed to one thread only; run it, log it, end it.
        for ticket in s.project.due_retries_at(s.now()).unwrap() {
            let job = ticket.job_id.to_string();
            let key = (job.clone(), ticket.attempt);
            if let Some(other) = s.claims.lock().unwrap().insert(key, w) {
                panic!(
                    "{job} attempt {} claimed by writers {other} and {w}",
                    ticket.attempt
                );
            }
            {
                let mut runs = s.runs.lock().unwrap();
                match runs.get_mut(&job) {
                    Some(m) => {
                        assert_eq!(m.outcomes.len() + 1, ticket.attempt as usize, "{job}");
                        assert_eq!(
                            m.outcomes.last(),
                            Some(&Some(false)),
                            "{job}: claimed but not failed"
                        );
                        m.outcomes.push(None);
                    }
                    None => assert!(
                        ticket.trigger_time < horizon(s.now()),
                        "{job}: unknown claim"
                    ),
                }
            }
            log.claimed += 1;
            let t = s.now();
            i += 1;
            let r = record(&mut rng, w, i, t, &job, ticket.attempt);
            let id = s.project.append(&r).unwrap();
            log.acked.push((id, r));
            end_attempt(s, &mut rng, &job, ticket.attempt);
        }

        s.clock.advance(STEP);
        *s.batches.lock().unwrap() += 1;
        s.batched.notify_all();
        if iteration.is_multiple_of(4) {
            let _ = ticks.send(());
        }
        if iteration.is_multiple_of(64) {
            // What is past the horizon can never be asked for again.
            let h = horizon(s.now());
            log.acked.retain(|(_, r)| r.time >= h);
            if w == 0 {
                // Runs past the horizon, and their claims. A run's logs
                // can be up to a few batches newer than it, and whether
                // they are superseded is checked at the end: keep runs an
                // hour longer.
                let mut runs = s.runs.lock().unwrap();
                let keep = h.saturating_sub(Duration::from_secs(HOUR));
                runs.retain(|_, m| m.trigger >= keep);
                s.claims
                    .lock()
                    .unwrap()
                    .retain(|(job, _), _| runs.contains_key(job));
            }
        }
    }
    s.stop();
    log
}
