//! The run lifecycle and run queries of a project: each call turns into
//! journal events (checked against the run's state, recorded, applied),
//! or reads the run table.

use std::cell::RefCell;
use std::collections::VecDeque;

use crate::error::{Error, Result};
use crate::project::{Project, ProjectInner};
use crate::record::Text;
use crate::runs::journal::Event;
use crate::runs::select::{self, RunCounts, RunCursor, RunPage, RunQuery};
use crate::runs::table::{RunTable, Superseding};
use crate::runs::{AttemptTicket, MAX_ERROR_BYTES, NewRun, RetryPolicy, Run, Trigger};
use crate::time::Timestamp;

impl ProjectInner {
    fn check_time(&self, t: Timestamp, now: Timestamp) -> Result<()> {
        let horizon = self.horizon(now);
        if t < horizon {
            return Err(Error::TooOld { time: t, horizon });
        }
        let limit = now.saturating_add(self.opts.max_future_skew);
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
    fn record_one(&self, job_id: &str, make: impl FnOnce(&Run) -> Event) -> Result<Run> {
        let mut make = Some(make);
        // Logs may be stamped up to the future skew ahead: the marker goes
        // to the partition of the latest of them.
        let now = self.now();
        let marker_partition = self
            .partition_of(now.saturating_add(self.opts.max_future_skew))
            .or_else(|_| self.partition_of(now))
            .ok();
        let marker: RefCell<Option<Superseding>> = RefCell::new(None);
        // The marker being written, until it is.
        let unwritten: RefCell<Option<(Event, u32)>> = RefCell::new(None);
        let mut out = None;
        self.maintain_if_due()?;
        self.check_writable()?;
        let result = self.runs.record(
            |table| {
                if let Some(make) = make.take() {
                    let run = self.visible(table, job_id)?;
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
                    self.hidden
                        .lock()
                        .supersede(s.job_id.clone(), s.attempt, s.partition);
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
                        self.hidden.lock().supersede(job_id.clone(), *attempt, p);
                    }
                    self.runs.defer(event, p);
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
    fn visible<'t>(&self, table: &'t RunTable, job_id: &str) -> Result<&'t Run> {
        let horizon = self.horizon(self.now());
        table
            .get(job_id)
            .filter(|r| r.trigger_time >= horizon)
            .ok_or_else(|| Error::UnknownJob {
                job_id: job_id.to_owned(),
            })
    }

    pub(crate) fn start_run(&self, new: &NewRun) -> Result<Run> {
        new.validate()?;
        let now = self.now();
        let trigger_time = new.trigger_time.unwrap_or(now);
        self.check_time(trigger_time, now)?;
        let partition = self.partition_of(trigger_time)?;
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
        self.maintain_if_due()?;
        self.check_writable()?;
        self.schedule_drop(partition);
        self.runs.record(
            |_| Ok(event.take().map(|e| (e, partition, ()))),
            |table, (), _| out = table.get(&new.job_id).cloned(),
        )?;
        out.ok_or_else(|| Error::UnknownJob {
            job_id: new.job_id.to_string(),
        })
    }

    pub(crate) fn attempt_succeeded(&self, job_id: &str, attempt: u32) -> Result<Run> {
        let now = self.now().as_micros();
        self.record_one(job_id, |run| Event::Succeeded {
            job_id: run.job_id.clone(),
            attempt,
            time: now,
        })
    }

    pub(crate) fn attempt_failed(&self, job_id: &str, attempt: u32, error: &str) -> Result<Run> {
        let now = self.now();
        let error = truncate(error, MAX_ERROR_BYTES).to_owned();
        self.record_one(job_id, |run| {
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

    pub(crate) fn due_retries(&self, at: Timestamp) -> Result<Vec<AttemptTicket>> {
        let start = self.now();
        let horizon = self.horizon(start);
        let mut pending: Option<VecDeque<(Text, u32, bool)>> = None;
        let mut tickets = Vec::new();
        self.maintain_if_due()?;
        self.check_writable()?;
        let result = self.runs.record(
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

    pub(crate) fn retry_manually(&self, job_id: &str) -> Result<AttemptTicket> {
        let now = self.now().as_micros();
        let run = self.record_one(job_id, |run| Event::Attempt {
            job_id: run.job_id.clone(),
            attempt: run.attempt().saturating_add(1),
            time: now,
            manual: true,
        })?;
        Ok(ticket(&run))
    }

    pub(crate) fn request_retry(&self, job_id: &str) -> Result<Run> {
        let now = self.now().as_micros();
        self.record_one(job_id, |run| Event::RetryRequested {
            job_id: run.job_id.clone(),
            time: now,
        })
    }

    pub(crate) fn run(&self, job_id: &str) -> Result<Option<Run>> {
        self.refresh()?;
        let runs = self.runs.read();
        Ok(self.visible(&runs.table, job_id).ok().cloned())
    }

    pub(crate) fn runs_page(&self, q: &RunQuery) -> Result<RunPage> {
        self.refresh()?;
        let fingerprint = q.fingerprint();
        let (resolved, upper) = match &q.cursor {
            Some(c) if c.fingerprint != fingerprint => return Err(Error::CursorMismatch),
            Some(c) => (
                crate::time::ResolvedRange::clamp(c.range, self.horizon(self.now())),
                Some((c.time.as_micros(), c.job_id.clone())),
            ),
            None => (self.resolve(&q.range)?, None),
        };
        let range = resolved.range;
        let upper = match &upper {
            Some((t, job)) if *t < range.to.as_micros() => (*t, job.as_str()),
            _ => (range.to.as_micros(), ""),
        };
        let runs = self.runs.read();
        let (runs, full) = select::page(
            &runs.table,
            q,
            range.from.as_micros(),
            upper,
            q.limit,
            self.partition_len,
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

    pub(crate) fn count_runs(&self, q: &RunQuery) -> Result<RunCounts> {
        self.refresh()?;
        let resolved = self.resolve(&q.range)?;
        let runs = self.runs.read();
        let by_status = select::count(
            &runs.table,
            q,
            resolved.range.from.as_micros(),
            resolved.range.to.as_micros(),
            self.partition_len,
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

/// Runs: the lifecycle a runtime drives, and the queries a console asks.
impl Project {
    /// Record a new run of a job, with attempt 1 running. Its logs should
    /// carry attempt 1.
    ///
    /// Refused, with nothing recorded: a job ID the project already has
    /// ([`Error::JobExists`]), a field over its limit, a trigger time
    /// older than the retention horizon or too far in the future.
    ///
    /// ```
    /// use runlog::{NewRun, RunStatus, Store, Trigger};
    /// # let dir = tempfile::tempdir()?;
    /// let project = Store::open(dir.path())?.project("shop")?;
    /// let run = project.start_run(&NewRun::new("job-1", "sync-orders", Trigger::Scheduler).env("prod"))?;
    /// assert_eq!(run.status, RunStatus::Running);
    /// // The attempt fails: the default policy schedules a retry in 5 s.
    /// let run = project.attempt_failed("job-1", 1, "connection refused")?;
    /// assert_eq!(run.status, RunStatus::Retrying);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start_run(&self, run: &NewRun) -> Result<Run> {
        self.inner.start_run(run)
    }

    /// Record that attempt `attempt` of `job_id` succeeded: the run becomes
    /// `Successful`, and earlier failed attempts are superseded (their
    /// logs hidden from default queries). Refused with
    /// [`Error::InvalidTransition`] unless the run is `Running` that
    /// attempt, and with [`Error::UnknownJob`] for an unknown job.
    pub fn attempt_succeeded(&self, job_id: &str, attempt: u32) -> Result<Run> {
        self.inner.attempt_succeeded(job_id, attempt)
    }

    /// Record that attempt `attempt` of `job_id` failed with `error` (cut
    /// to [`MAX_ERROR_BYTES`]). The flow's [`RetryPolicy`] decides: the run
    /// becomes `Retrying` with [`Run::next_retry`] set, or `Failed`.
    /// Refused like [`attempt_succeeded`](Self::attempt_succeeded).
    pub fn attempt_failed(&self, job_id: &str, attempt: u32, error: &str) -> Result<Run> {
        self.inner.attempt_failed(job_id, attempt, error)
    }

    /// Claim every retry due at `now` (soonest first): each run's next
    /// attempt is recorded as started and returned for the runtime to
    /// execute. A claim, not a peek: however many threads ask, each retry
    /// is returned once. If recording a claim fails (a full disk), the
    /// retries claimed before it are still returned; the rest stay due and
    /// the error is returned by a later call if it persists.
    pub fn due_retries(&self, now: Timestamp) -> Result<Vec<AttemptTicket>> {
        self.inner.due_retries(now)
    }

    /// Start a new, manual attempt of a `Failed` run and return it for the
    /// runtime to execute (automatic retries then start over); a run whose
    /// manual retry was [requested](Self::request_retry) and is due can be
    /// started this way too. Any other status is refused with
    /// [`Error::InvalidTransition`] naming it.
    pub fn retry_manually(&self, job_id: &str) -> Result<AttemptTicket> {
        self.inner.retry_manually(job_id)
    }

    /// Ask for a manual retry of a `Failed` run without executing it here:
    /// the run becomes `Retrying`, due now, with
    /// [`Run::retry_requested`] set, and the next
    /// [`due_retries`](Self::due_retries) hands it out as a manual attempt.
    /// For a console or tool that is not the runtime (the `runlog retry`
    /// command); a runtime retrying by hand itself uses
    /// [`retry_manually`](Self::retry_manually). Any other status is
    /// refused with [`Error::InvalidTransition`] naming it.
    pub fn request_retry(&self, job_id: &str) -> Result<Run> {
        self.inner.request_retry(job_id)
    }

    /// The run of `job_id`, if the project has it (within retention).
    pub fn run(&self, job_id: &str) -> Result<Option<Run>> {
        self.inner.run(job_id)
    }

    /// One page of runs matching `q`, newest first by trigger time, with a
    /// cursor for the next page.
    pub fn runs(&self, q: &RunQuery) -> Result<RunPage> {
        self.inner.runs_page(q)
    }

    /// Scheduled tasks: [`runs`](Self::runs) triggered by the Scheduler.
    ///
    /// ```
    /// use runlog::{NewRun, RunQuery, Store, Trigger};
    /// # let dir = tempfile::tempdir()?;
    /// let project = Store::open(dir.path())?.project("shop")?;
    /// project.start_run(&NewRun::new("job-1", "nightly-export", Trigger::Scheduler))?;
    /// project.start_run(&NewRun::new("job-2", "webhook", Trigger::Event))?;
    /// let page = project.scheduled_tasks(&RunQuery::new())?;
    /// assert_eq!(page.runs.len(), 1);
    /// assert_eq!(page.runs[0].job_id, "job-1");
    /// let logs = project.job_logs(&page.runs[0].job_id)?; // the task's logs
    /// # assert!(logs.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn scheduled_tasks(&self, q: &RunQuery) -> Result<RunPage> {
        let mut q = q.clone();
        q.triggers = 1 << Trigger::Scheduler.code();
        self.inner.runs_page(&q)
    }

    /// How many runs match `q`, per status.
    pub fn count_runs(&self, q: &RunQuery) -> Result<RunCounts> {
        self.inner.count_runs(q)
    }

    /// Set the project's retry policy (for flows without their own).
    /// Decisions already recorded keep their due times. Policies are
    /// configuration, not data: they are not stored, so a runtime sets
    /// them each time it opens the store.
    pub fn set_retry_policy(&self, policy: RetryPolicy) -> Result<()> {
        policy.validate()?;
        self.inner.policies.write().default = policy;
        Ok(())
    }

    /// Set the retry policy of one flow (`None`: back to the project's).
    pub fn set_flow_retry_policy(&self, flow: &str, policy: Option<RetryPolicy>) -> Result<()> {
        let mut p = self.inner.policies.write();
        match policy {
            Some(policy) => {
                policy.validate()?;
                p.flows.insert(flow.into(), policy);
            }
            None => {
                p.flows.remove(flow);
            }
        }
        Ok(())
    }

    /// The retry policy that applies to `flow`.
    pub fn retry_policy(&self, flow: &str) -> RetryPolicy {
        self.inner.retry_policy(flow)
    }
}
