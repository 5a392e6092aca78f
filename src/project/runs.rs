//! The runs of a project: the run journal (the [`Ledger`]) and the retry
//! policies, and the lifecycle a runtime drives through them. Each call
//! turns into journal events (checked against the run's state, recorded,
//! applied), or reads the run table. What the lifecycle needs of the
//! project around it (its clock and partitions, upkeep before a write, a
//! reader's look, hiding superseded logs) comes through [`RunHost`].

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

use parking_lot::RwLock;

use crate::error::{Error, Result};
use crate::record::Text;
use crate::runs::journal::Event;
use crate::runs::ledger::Ledger;
use crate::runs::select::{self, RunCounts, RunCursor, RunPage, RunQuery};
use crate::runs::table::{RunTable, Superseding};
use crate::runs::{AttemptTicket, MAX_ERROR_BYTES, NewRun, RetryPolicy, Run};
use crate::time::{RangeSpec, ResolvedRange, Timestamp};

use super::settings::Settings;

/// What the run lifecycle needs of the project it belongs to.
pub(crate) trait RunHost {
    /// The project's settings: clock, retention, partitions.
    fn settings(&self) -> &Settings;
    /// Seal and apply retention if due, then refuse if the log or the run
    /// writer is poisoned.
    fn before_write(&self) -> Result<()>;
    /// Make sure retention runs when journal partition `p` expires.
    fn schedule_drop(&self, p: u32);
    /// A read-only store: look at what the writer did.
    fn refresh(&self) -> Result<()>;
    /// The range `spec` covers now, clamped to retention.
    fn resolve(&self, spec: &RangeSpec) -> Result<ResolvedRange>;
    /// Hide the logs of `job_id`'s attempts before `attempt` (recorded in
    /// journal partition `partition`).
    fn supersede(&self, job_id: Text, attempt: u32, partition: u32);
}

/// The retry policies of a project: its own, and per flow.
#[derive(Debug, Default)]
pub(crate) struct Policies {
    pub(crate) default: RetryPolicy,
    pub(crate) flows: HashMap<Text, RetryPolicy>,
}

/// A project's runs: the journal and table, and the retry policies.
#[derive(Debug)]
pub(crate) struct Runs {
    pub(crate) ledger: Ledger,
    pub(crate) policies: RwLock<Policies>,
}

impl Runs {
    pub(crate) fn new(ledger: Ledger, default: RetryPolicy) -> Runs {
        Runs {
            ledger,
            policies: RwLock::new(Policies {
                default,
                flows: HashMap::new(),
            }),
        }
    }

    fn check_time(&self, host: &dyn RunHost, t: Timestamp, now: Timestamp) -> Result<()> {
        let horizon = host.settings().horizon(now);
        if t < horizon {
            return Err(Error::TooOld { time: t, horizon });
        }
        let limit = now.saturating_add(host.settings().opts.max_future_skew);
        if t > limit {
            return Err(Error::TooFarInFuture { time: t, limit });
        }
        Ok(())
    }

    /// Record one event about an existing run (built from it by `make`),
    /// and return the run as it then is. If the event makes the run
    /// supersede earlier attempts and the run started in an earlier
    /// partition, an [`Event::Superseded`] marker also goes to the current
    /// partition (in the same critical section), so its logs stay hidden as
    /// long as logs written until now are kept.
    fn record_one(
        &self,
        host: &dyn RunHost,
        job_id: &str,
        make: impl FnOnce(&Run) -> Event,
    ) -> Result<Run> {
        let mut make = Some(make);
        // Logs may be stamped up to the future skew ahead: the marker goes
        // to the partition of the latest of them.
        let now = host.settings().now();
        let marker_partition = host
            .settings()
            .partition_of(now.saturating_add(host.settings().opts.max_future_skew))
            .or_else(|_| host.settings().partition_of(now))
            .ok();
        let marker: RefCell<Option<Superseding>> = RefCell::new(None);
        // The marker being written, until it is.
        let unwritten: RefCell<Option<(Event, u32)>> = RefCell::new(None);
        let mut out = None;
        host.before_write()?;
        let result = self.ledger.record(
            |table| {
                if let Some(make) = make.take() {
                    let run = self.visible(host, table, job_id)?;
                    let p = table.partition_of(job_id).unwrap_or_default();
                    return Ok(Some((make(run), p, false)));
                }
                Ok(marker.borrow_mut().take().and_then(|s| {
                    let p = marker_partition.filter(|&p| p > s.partition)?;
                    let event = Event::Superseded {
                        job_id: s.job_id,
                        attempt: s.attempt,
                    };
                    *unwritten.borrow_mut() = Some((event.clone(), p));
                    Some((event, p, true))
                }))
            },
            |table, is_marker, superseding| {
                if is_marker {
                    *unwritten.borrow_mut() = None;
                }
                if let Some(s) = superseding {
                    host.supersede(s.job_id.clone(), s.attempt, s.partition);
                    *marker.borrow_mut() = Some(s);
                }
                if out.is_none() {
                    out = table.get(job_id).cloned();
                }
            },
        );
        match result {
            // The event itself is recorded: a marker that failed is
            // written later (by the next event or sync).
            Err(_) if out.is_some() => {
                if let Some((event, p)) = unwritten.into_inner() {
                    if let Event::Superseded { job_id, attempt } = &event {
                        host.supersede(job_id.clone(), *attempt, p);
                    }
                    self.ledger.defer(event, p);
                }
            }
            Err(e) => return Err(e),
            Ok(()) => {}
        }
        out.ok_or_else(|| Error::UnknownJob {
            job_id: job_id.to_owned(),
        })
    }

    /// The run of `job_id`, unless unknown or past the retention horizon.
    fn visible<'t>(
        &self,
        host: &dyn RunHost,
        table: &'t RunTable,
        job_id: &str,
    ) -> Result<&'t Run> {
        let horizon = host.settings().horizon(host.settings().now());
        table
            .get(job_id)
            .filter(|r| r.trigger_time >= horizon)
            .ok_or_else(|| Error::UnknownJob {
                job_id: job_id.to_owned(),
            })
    }

    pub(crate) fn start_run(&self, host: &dyn RunHost, new: &NewRun) -> Result<Run> {
        new.validate()?;
        let now = host.settings().now();
        let trigger_time = new.trigger_time.unwrap_or(now);
        self.check_time(host, trigger_time, now)?;
        let partition = host.settings().partition_of(trigger_time)?;
        let mut event = Some(Event::Start {
            job_id: new.job_id.clone(),
            flow: new.flow.clone(),
            env: new.env.clone(),
            app: new.app.clone(),
            version: new.version.clone(),
            trigger: new.trigger,
            trigger_time: trigger_time.as_micros(),
            time: now.as_micros(),
        });
        let mut out = None;
        host.before_write()?;
        host.schedule_drop(partition);
        self.ledger.record(
            |_| Ok(event.take().map(|e| (e, partition, ()))),
            |table, (), _| out = table.get(&new.job_id).cloned(),
        )?;
        out.ok_or_else(|| Error::UnknownJob {
            job_id: new.job_id.to_string(),
        })
    }

    pub(crate) fn attempt_succeeded(
        &self,
        host: &dyn RunHost,
        job_id: &str,
        attempt: u32,
    ) -> Result<Run> {
        let now = host.settings().now().as_micros();
        self.record_one(host, job_id, |run| Event::Succeeded {
            job_id: run.job_id.clone(),
            attempt,
            time: now,
        })
    }

    pub(crate) fn attempt_failed(
        &self,
        host: &dyn RunHost,
        job_id: &str,
        attempt: u32,
        error: &str,
    ) -> Result<Run> {
        let now = host.settings().now();
        let error = truncate(error, MAX_ERROR_BYTES).to_owned();
        self.record_one(host, job_id, |run| {
            let policy = self.retry_policy(&run.flow);
            // Automatic retries since the first attempt or the last manual one.
            let chain_start = run
                .attempts
                .iter()
                .rposition(|a| a.manual)
                .map_or(1, |i| run.attempts[i].number);
            let retries = run.attempt().saturating_sub(chain_start);
            let retry_at = (retries < policy.max_retries)
                .then(|| now.saturating_add(policy.delay(retries)).as_micros());
            Event::Failed {
                job_id: run.job_id.clone(),
                attempt,
                time: now.as_micros(),
                error,
                retry_at,
            }
        })
    }

    pub(crate) fn due_retries(
        &self,
        host: &dyn RunHost,
        at: Timestamp,
    ) -> Result<Vec<AttemptTicket>> {
        let start = host.settings().now();
        let horizon = host.settings().horizon(start);
        let mut pending: Option<VecDeque<(Text, u32, bool)>> = None;
        let mut tickets = Vec::new();
        host.before_write()?;
        let result = self.ledger.record(
            |table| {
                let queue = pending.get_or_insert_with(|| table.due(at).into());
                while let Some((job_id, attempt, manual)) = queue.pop_front() {
                    let Some(run) = table.get(&job_id) else {
                        continue;
                    };
                    if run.trigger_time < horizon {
                        continue;
                    }
                    let p = table.partition_of(&job_id).unwrap_or_default();
                    let event = Event::Attempt {
                        job_id: job_id.clone(),
                        attempt,
                        time: start.as_micros(),
                        manual,
                    };
                    return Ok(Some((event, p, job_id)));
                }
                Ok(None)
            },
            |table, job_id, _| {
                if let Some(run) = table.get(&job_id) {
                    tickets.push(ticket(run));
                }
            },
        );
        match result {
            // Retries claimed before the failure are recorded as started:
            // they must reach the caller, or nobody would run them. The
            // error comes back on the next call if it persists.
            Err(_) if !tickets.is_empty() => Ok(tickets),
            Err(e) => Err(e),
            Ok(()) => Ok(tickets),
        }
    }

    pub(crate) fn start_retry(&self, host: &dyn RunHost, job_id: &str) -> Result<AttemptTicket> {
        let now = host.settings().now().as_micros();
        let run = self.record_one(host, job_id, |run| Event::Attempt {
            job_id: run.job_id.clone(),
            attempt: run.attempt().saturating_add(1),
            time: now,
            manual: true,
        })?;
        Ok(ticket(&run))
    }

    pub(crate) fn request_retry(&self, host: &dyn RunHost, job_id: &str) -> Result<Run> {
        let now = host.settings().now().as_micros();
        self.record_one(host, job_id, |run| Event::RetryRequested {
            job_id: run.job_id.clone(),
            time: now,
        })
    }

    pub(crate) fn run(&self, host: &dyn RunHost, job_id: &str) -> Result<Option<Run>> {
        host.refresh()?;
        let runs = self.ledger.read();
        Ok(self.visible(host, &runs.table, job_id).ok().cloned())
    }

    pub(crate) fn runs_page(&self, host: &dyn RunHost, q: &RunQuery) -> Result<RunPage> {
        host.refresh()?;
        let fingerprint = q.fingerprint();
        let (resolved, upper) = match &q.cursor {
            Some(c) if c.fingerprint != fingerprint => return Err(Error::CursorMismatch),
            Some(c) => (
                crate::time::ResolvedRange::clamp(
                    c.range,
                    host.settings().horizon(host.settings().now()),
                ),
                Some((c.time.as_micros(), c.job_id.clone())),
            ),
            None => (host.resolve(&q.range)?, None),
        };
        let range = resolved.range;
        let upper = match &upper {
            Some((t, job)) if *t < range.to.as_micros() => (*t, job.as_str()),
            _ => (range.to.as_micros(), ""),
        };
        let runs = self.ledger.read();
        let (runs, full) = select::page(
            &runs.table,
            q,
            range.from.as_micros(),
            upper,
            q.limit,
            host.settings().partition_len,
        );
        let next = match (full, runs.last()) {
            (true, Some(last)) => Some(RunCursor {
                fingerprint,
                range,
                time: last.trigger_time,
                job_id: last.job_id.clone(),
            }),
            _ => None,
        };
        Ok(RunPage {
            runs,
            next,
            range: resolved,
        })
    }

    pub(crate) fn count_runs(&self, host: &dyn RunHost, q: &RunQuery) -> Result<RunCounts> {
        host.refresh()?;
        let resolved = host.resolve(&q.range)?;
        let runs = self.ledger.read();
        let by_status = select::count(
            &runs.table,
            q,
            resolved.range.from.as_micros(),
            resolved.range.to.as_micros(),
            host.settings().partition_len,
        );
        Ok(RunCounts {
            total: by_status.iter().sum(),
            by_status,
            range: Some(resolved),
        })
    }

    /// The retry policy of `flow`.
    pub(crate) fn retry_policy(&self, flow: &str) -> RetryPolicy {
        let p = self.policies.read();
        p.flows.get(flow).copied().unwrap_or(p.default)
    }
}

fn ticket(run: &Run) -> AttemptTicket {
    let last = run.attempts.last();
    AttemptTicket {
        job_id: run.job_id.clone(),
        attempt: run.attempt(),
        manual: last.is_some_and(|a| a.manual),
        flow: run.flow.clone(),
        env: run.env.clone(),
        app: run.app.clone(),
        version: run.version.clone(),
        trigger: run.trigger,
        trigger_time: run.trigger_time,
        start: last.map_or(run.trigger_time, |a| a.start),
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
