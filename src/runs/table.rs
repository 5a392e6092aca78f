//! The runs of a project in memory: the state machine every journal event
//! goes through (live or replayed), and per-partition bitmaps for queries.

use std::collections::{BTreeMap, BTreeSet};

use foldhash::HashMap;

use roaring::RoaringBitmap;

use crate::error::{Error, Result};
use crate::record::Text;
use crate::runs::journal::Event;
use crate::runs::{Attempt, Outcome, Run, RunStatus};
use crate::time::Timestamp;

/// The runs triggered in one partition of time, with their bitmaps
/// (over positions in `runs`, which never move).
#[derive(Debug, Default)]
pub(crate) struct Part {
    pub(crate) runs: Vec<Run>,
    /// Positions sorted by (trigger time, job ID).
    pub(crate) order: Vec<u32>,
    pub(crate) flows: HashMap<Text, RoaringBitmap>,
    pub(crate) envs: HashMap<Text, RoaringBitmap>,
    pub(crate) apps: HashMap<Text, RoaringBitmap>,
    pub(crate) versions: HashMap<Text, RoaringBitmap>,
    pub(crate) status: [RoaringBitmap; 4],
    pub(crate) trigger: [RoaringBitmap; 3],
}

impl Part {
    pub(crate) fn key(&self, pos: u32) -> (i64, &str) {
        let r = &self.runs[pos as usize];
        (r.trigger_time.as_micros(), &r.job_id)
    }

    fn insert(&mut self, run: Run) -> u32 {
        let pos = self.runs.len() as u32;
        let key = (run.trigger_time.as_micros(), run.job_id.as_str());
        // Runs mostly arrive in trigger order: usually an append.
        let at = match self.order.last() {
            Some(&last) if self.key(last) > key => {
                self.order.partition_point(|&p| self.key(p) < key)
            }
            _ => self.order.len(),
        };
        self.order.insert(at, pos);
        // `pos` is above every position in the part: each bitmap takes it
        // as an append (`try_push`), without the search of an `insert`.
        let add = |positions: &mut RoaringBitmap| {
            if positions.try_push(pos).is_err() {
                positions.insert(pos);
            }
        };
        for (map, value) in [
            (&mut self.flows, &run.flow),
            (&mut self.envs, &run.env),
            (&mut self.apps, &run.app),
            (&mut self.versions, &run.version),
        ] {
            // Most values are known: look up by `&str`, no key to clone.
            match map.get_mut(value.as_str()) {
                Some(positions) => add(positions),
                None => add(map.entry(value.clone()).or_default()),
            }
        }
        add(&mut self.status[run.status.code() as usize]);
        add(&mut self.trigger[run.trigger.code() as usize]);
        self.runs.push(run);
        pos
    }

    fn set_status(&mut self, pos: u32, status: RunStatus) {
        let run = &mut self.runs[pos as usize];
        self.status[run.status.code() as usize].remove(pos);
        run.status = status;
        self.status[status.code() as usize].insert(pos);
    }
}

/// A run that a successful attempt just made supersede its earlier failures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Superseding {
    pub(crate) job_id: Text,
    /// The successful attempt: logs of lower attempts are superseded.
    pub(crate) attempt: u32,
    /// The journal partition holding the fact: it holds while that
    /// partition is kept.
    pub(crate) partition: u32,
}

/// Every run of a project, by partition of trigger time.
#[derive(Debug, Default)]
pub(crate) struct RunTable {
    pub(crate) parts: BTreeMap<u32, Part>,
    /// Where each job's run is: (partition, position).
    jobs: HashMap<Text, (u32, u32)>,
    /// Retrying runs by due time: (due µs, partition, position).
    due: BTreeSet<(i64, u32, u32)>,
}

impl RunTable {
    pub(crate) fn get(&self, job_id: &str) -> Option<&Run> {
        let &(p, pos) = self.jobs.get(job_id)?;
        Some(&self.parts[&p].runs[pos as usize])
    }

    /// The partition of `job_id`'s run.
    pub(crate) fn partition_of(&self, job_id: &str) -> Option<u32> {
        self.jobs.get(job_id).map(|&(p, _)| p)
    }

    /// Whether `event` follows from the current state: the error a live
    /// call returns, or why a replayed event is skipped.
    pub(crate) fn check(&self, event: &Event) -> Result<()> {
        let job_id = event.job_id();
        let run = match (event, self.get(job_id)) {
            // A standalone fact about logs, valid whether or not the run is kept.
            (Event::Superseded { .. }, _) => return Ok(()),
            (Event::Start { .. }, None) => return Ok(()),
            (Event::Start { .. }, Some(_)) => {
                return Err(Error::JobExists {
                    job_id: job_id.to_string(),
                });
            }
            (_, None) => {
                return Err(Error::UnknownJob {
                    job_id: job_id.to_string(),
                });
            }
            (_, Some(run)) => run,
        };
        let current = run.attempt();
        let refuse = |action, reason: String| {
            Err(Error::InvalidTransition {
                job_id: job_id.to_string(),
                action,
                status: run.status,
                attempt: current,
                reason,
            })
        };
        let (action, wanted, number, expected) = match event {
            Event::Start { .. } | Event::Superseded { .. } => unreachable!("handled above"),
            // A requested manual retry waits as `Retrying`.
            Event::Attempt {
                attempt,
                manual: true,
                ..
            } => (
                "retry manually",
                if run.retry_requested {
                    RunStatus::Retrying
                } else {
                    RunStatus::Failed
                },
                *attempt,
                current.wrapping_add(1),
            ),
            Event::Attempt { .. } if run.retry_requested => {
                return refuse(
                    "start an automatic retry of",
                    "; the retry due was requested by hand".into(),
                );
            }
            Event::Attempt { attempt, .. } => (
                "start a retry of",
                RunStatus::Retrying,
                *attempt,
                current.wrapping_add(1),
            ),
            Event::RetryRequested { .. } => {
                ("request a retry of", RunStatus::Failed, current, current)
            }
            Event::Succeeded { attempt, .. } => ("succeed", RunStatus::Running, *attempt, current),
            Event::Failed { attempt, .. } => ("fail", RunStatus::Running, *attempt, current),
        };
        if run.status != wanted {
            return refuse(action, format!("; only a {wanted} run can"));
        }
        if number != expected {
            return refuse(
                action,
                format!("; attempt {number} is not attempt {expected}"),
            );
        }
        Ok(())
    }

    /// Apply `event` (which [`check`](Self::check) accepted) to the run of
    /// partition `partition` (for a start: the trigger time's partition).
    pub(crate) fn apply(&mut self, event: Event, partition: u32) -> Option<Superseding> {
        if let Event::Start {
            job_id,
            flow,
            env,
            app,
            version,
            trigger,
            trigger_time,
            time,
        } = event
        {
            let run = Run {
                job_id: job_id.clone(),
                flow,
                env,
                app,
                version,
                trigger,
                trigger_time: Timestamp::from_micros(trigger_time),
                end_time: None,
                status: RunStatus::Running,
                next_retry: None,
                retry_requested: false,
                attempts: vec![Attempt {
                    number: 1,
                    start: Timestamp::from_micros(time),
                    end: None,
                    outcome: Outcome::Running,
                    error: None,
                    manual: false,
                    superseded: false,
                }],
            };
            let pos = self.parts.entry(partition).or_default().insert(run);
            self.jobs.insert(job_id, (partition, pos));
            return None;
        }
        if let Event::Superseded { job_id, attempt } = event {
            return Some(Superseding {
                job_id,
                attempt,
                partition,
            });
        }
        let &(p, pos) = self.jobs.get(event.job_id())?;
        let part = self.parts.get_mut(&p)?;
        let run = &mut part.runs[pos as usize];
        match event {
            Event::Start { .. } | Event::Superseded { .. } => None,
            Event::RetryRequested { time, .. } => {
                run.next_retry = Some(Timestamp::from_micros(time));
                run.retry_requested = true;
                run.end_time = None;
                self.due.insert((time, p, pos));
                part.set_status(pos, RunStatus::Retrying);
                None
            }
            Event::Attempt {
                attempt,
                time,
                manual,
                ..
            } => {
                if let Some(due) = run.next_retry.take() {
                    self.due.remove(&(due.as_micros(), p, pos));
                }
                run.retry_requested = false;
                run.end_time = None;
                run.attempts.push(Attempt {
                    number: attempt,
                    start: Timestamp::from_micros(time),
                    end: None,
                    outcome: Outcome::Running,
                    error: None,
                    manual,
                    superseded: false,
                });
                part.set_status(pos, RunStatus::Running);
                None
            }
            Event::Succeeded { job_id, time, .. } => {
                let t = Timestamp::from_micros(time);
                let mut superseding = None;
                for a in &mut run.attempts {
                    if a.outcome == Outcome::Failed {
                        a.superseded = true;
                    }
                }
                if let Some(a) = run.attempts.last_mut() {
                    a.outcome = Outcome::Succeeded;
                    a.end = Some(t);
                    if a.number > 1 {
                        superseding = Some(Superseding {
                            job_id,
                            attempt: a.number,
                            partition: p,
                        });
                    }
                }
                run.end_time = Some(t);
                part.set_status(pos, RunStatus::Successful);
                superseding
            }
            Event::Failed {
                time,
                error,
                retry_at,
                ..
            } => {
                let t = Timestamp::from_micros(time);
                if let Some(a) = run.attempts.last_mut() {
                    a.outcome = Outcome::Failed;
                    a.end = Some(t);
                    a.error = Some(error);
                }
                match retry_at {
                    Some(due) => {
                        run.next_retry = Some(Timestamp::from_micros(due));
                        self.due.insert((due, p, pos));
                        part.set_status(pos, RunStatus::Retrying);
                    }
                    None => {
                        run.end_time = Some(t);
                        part.set_status(pos, RunStatus::Failed);
                    }
                }
                None
            }
        }
    }

    /// Runs whose retry is due at `now`, soonest first: (job ID, attempt
    /// to start, whether it is a requested manual one).
    pub(crate) fn due(&self, now: Timestamp) -> Vec<(Text, u32, bool)> {
        self.due
            .range(..=(now.as_micros(), u32::MAX, u32::MAX))
            .map(|&(_, p, pos)| {
                let r = &self.parts[&p].runs[pos as usize];
                (r.job_id.clone(), r.attempt() + 1, r.retry_requested)
            })
            .collect()
    }

    /// Forget every run of the partitions before `first_kept`; returns the
    /// partitions dropped.
    pub(crate) fn drop_before(&mut self, first_kept: u32) -> Vec<u32> {
        let kept = self.parts.split_off(&first_kept);
        let dropped = std::mem::replace(&mut self.parts, kept);
        for part in dropped.values() {
            for r in &part.runs {
                self.jobs.remove(&r.job_id);
            }
        }
        self.due.retain(|&(_, p, _)| p >= first_kept);
        dropped.into_keys().collect()
    }
}
