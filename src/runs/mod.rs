//! Runs: what happened to each job (execution) — its trigger, its
//! attempts, and its retry state — and the scheduled-task view of them.
//!
//! A runtime drives the lifecycle through [`Project`](crate::Project):
//! [`start_run`](crate::Project::start_run) records attempt 1;
//! [`attempt_succeeded`](crate::Project::attempt_succeeded) and
//! [`attempt_failed`](crate::Project::attempt_failed) end an attempt, and a
//! failure consults the [`RetryPolicy`]: the run becomes
//! [`RunStatus::Retrying`] with a due time, or [`RunStatus::Failed`] once
//! retries are exhausted. [`due_retries`](crate::Project::due_retries)
//! claims the retries due now (each exactly once, however many threads
//! ask); [`start_retry`](crate::Project::start_retry) starts a new
//! attempt of a failed run. runlog decides nothing else: it never runs a
//! job, and a run left `Running` by a crash stays `Running` until the
//! runtime says otherwise.
//!
//! When a retry succeeds, the earlier failed attempts are *superseded*:
//! the run counts as successful, and their logs are hidden from default
//! log queries, counts, job lookups and follows
//! ([`Query::include_superseded`](crate::Query::include_superseded) shows
//! them, marked).
//!
//! Every lifecycle event is appended to the project's run journal (see
//! [`journal`]) before it takes effect, with the same sync policy,
//! recovery and retention as logs.

pub mod journal;
pub(crate) mod ledger;
pub(crate) mod select;
pub(crate) mod status;
pub(crate) mod table;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::record::{MAX_CONTENT_BYTES, MAX_JOB_ID_BYTES, MAX_NAME_BYTES, Text};
use crate::time::Timestamp;

pub use select::{RunCounts, RunCursor, RunPage, RunQuery};
pub use status::{RunStatus, Trigger};

/// Longest error message an attempt keeps, in bytes (longer ones are cut
/// at a character boundary).
pub const MAX_ERROR_BYTES: usize = MAX_CONTENT_BYTES;

/// How an attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Still executing (or the process died while it was).
    Running,
    /// It succeeded.
    Succeeded,
    /// It failed (see [`Attempt::error`]).
    Failed,
}

/// One try of a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// 1 for the first run, then 2, 3, … (logs of the attempt carry it in
    /// [`LogRecord::attempt`](crate::LogRecord::attempt)).
    pub number: u32,
    /// When it started.
    #[serde(with = "crate::time::rfc3339")]
    pub start: Timestamp,
    /// When it ended, once it has.
    #[serde(with = "crate::time::rfc3339::option")]
    pub end: Option<Timestamp>,
    /// How it ended.
    pub outcome: Outcome,
    /// The failure's message.
    pub error: Option<String>,
    /// Started by [`start_retry`](crate::Project::start_retry).
    pub manual: bool,
    /// A failure that a later successful attempt superseded.
    pub superseded: bool,
}

/// Everything runlog knows about one job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// The job (execution) ID; logs of the job carry it.
    pub job_id: Text,
    /// Flow name.
    pub flow: Text,
    /// Environment.
    pub env: Text,
    /// Integration app.
    pub app: Text,
    /// App version.
    pub version: Text,
    /// What started it.
    pub trigger: Trigger,
    /// When it was triggered.
    #[serde(with = "crate::time::rfc3339")]
    pub trigger_time: Timestamp,
    /// When its last attempt ended, once the run is `Successful` or `Failed`.
    #[serde(with = "crate::time::rfc3339::option")]
    pub end_time: Option<Timestamp>,
    /// Where it stands.
    pub status: RunStatus,
    /// When the next retry is due (`Retrying` only).
    #[serde(with = "crate::time::rfc3339::option")]
    pub next_retry: Option<Timestamp>,
    /// The retry due is a manual one a person asked for
    /// ([`request_retry`](crate::Project::request_retry)); it starts as a
    /// manual attempt.
    #[serde(default)]
    pub retry_requested: bool,
    /// Its attempts, oldest first.
    pub attempts: Vec<Attempt>,
}

impl Run {
    /// The current (last) attempt's number.
    pub fn attempt(&self) -> u32 {
        self.attempts.last().map_or(0, |a| a.number)
    }

    /// Whether this is a scheduled task (triggered by the Scheduler).
    pub fn is_scheduled(&self) -> bool {
        self.trigger == Trigger::Scheduler
    }
}

/// A run to start: see [`Project::start_run`](crate::Project::start_run).
///
/// ```
/// use runlog::{NewRun, Trigger};
/// let run = NewRun::new("job-42", "sync-orders", Trigger::Scheduler)
///     .env("prod")
///     .app("shop")
///     .version("1.4.0");
/// # let _ = run;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRun {
    /// The job ID (unique in the project).
    pub job_id: Text,
    /// Flow name.
    pub flow: Text,
    /// Environment.
    pub env: Text,
    /// Integration app.
    pub app: Text,
    /// App version.
    pub version: Text,
    /// What started it.
    pub trigger: Trigger,
    /// When it was triggered; `None` means now (the store's clock).
    pub trigger_time: Option<Timestamp>,
}

impl NewRun {
    /// A run of `flow` for job `job_id`, triggered now; other fields empty.
    pub fn new(job_id: impl Into<Text>, flow: impl Into<Text>, trigger: Trigger) -> Self {
        NewRun {
            job_id: job_id.into(),
            flow: flow.into(),
            env: Text::default(),
            app: Text::default(),
            version: Text::default(),
            trigger,
            trigger_time: None,
        }
    }

    /// Set the environment.
    #[must_use]
    pub fn env(mut self, env: impl Into<Text>) -> Self {
        self.env = env.into();
        self
    }

    /// Set the app.
    #[must_use]
    pub fn app(mut self, app: impl Into<Text>) -> Self {
        self.app = app.into();
        self
    }

    /// Set the app version.
    #[must_use]
    pub fn version(mut self, version: impl Into<Text>) -> Self {
        self.version = version.into();
        self
    }

    /// Set the trigger time (default: now).
    #[must_use]
    pub fn triggered_at(mut self, t: Timestamp) -> Self {
        self.trigger_time = Some(t);
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        use crate::record::Field;
        let check = |field: Field, s: &str, max: usize| {
            if s.len() > max {
                Err(Error::FieldTooLarge {
                    field,
                    len: s.len(),
                    max,
                })
            } else {
                Ok(())
            }
        };
        if self.job_id.is_empty() {
            return Err(Error::InvalidArgument {
                what: "job ID",
                reason: "a run needs a non-empty job ID".into(),
            });
        }
        check(Field::JobId, &self.job_id, MAX_JOB_ID_BYTES)?;
        check(Field::Flow, &self.flow, MAX_NAME_BYTES)?;
        check(Field::Env, &self.env, MAX_NAME_BYTES)?;
        check(Field::App, &self.app, MAX_NAME_BYTES)?;
        check(Field::Version, &self.version, MAX_NAME_BYTES)
    }
}

/// What the runtime needs to execute an attempt: returned by
/// [`due_retries`](crate::Project::due_retries) and
/// [`start_retry`](crate::Project::start_retry). Logs the attempt
/// writes should carry `attempt` in
/// [`LogRecord::attempt`](crate::LogRecord::attempt).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptTicket {
    /// The job.
    pub job_id: Text,
    /// The attempt to run.
    pub attempt: u32,
    /// Whether a person asked for it.
    pub manual: bool,
    /// Flow to run.
    pub flow: Text,
    /// Environment.
    pub env: Text,
    /// Integration app.
    pub app: Text,
    /// App version.
    pub version: Text,
    /// What first started the run.
    pub trigger: Trigger,
    /// When the run was triggered.
    #[serde(with = "crate::time::rfc3339")]
    pub trigger_time: Timestamp,
    /// When the attempt was recorded as started.
    #[serde(with = "crate::time::rfc3339")]
    pub start: Timestamp,
}

/// Longest delay a [`RetryPolicy`] may set (a year).
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(365 * 86_400);

/// How failed attempts are retried automatically.
///
/// After a failure, if fewer than `max_retries` automatic retries have
/// followed the run's first attempt (or its latest manual retry), the run
/// becomes [`RunStatus::Retrying`], due after
/// `min(initial_delay × multiplierᵏ, max_delay)` where `k` is the number of
/// automatic retries made so far; otherwise it becomes
/// [`RunStatus::Failed`]. The defaults: 3 retries, 5 s, × 2, capped at 5 minutes
/// (due 5 s, 10 s, then 20 s after each failure).
///
/// ```
/// use std::time::Duration;
/// use runlog::RetryPolicy;
/// let p = RetryPolicy::default();
/// assert_eq!(p.delay(0), Duration::from_secs(5));
/// assert_eq!(p.delay(2), Duration::from_secs(20));
/// assert_eq!(p.delay(30), Duration::from_secs(300));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Automatic retries after a first (or manual) attempt; 0 disables them.
    pub max_retries: u32,
    /// Delay before the first retry.
    pub initial_delay: Duration,
    /// Factor applied to the delay for each further retry (at least 1).
    pub multiplier: f64,
    /// Longest delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            initial_delay: Duration::from_secs(5),
            multiplier: 2.0,
            max_delay: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// No automatic retries: a failure makes the run `Failed`.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// The delay before retry number `k + 1` (`k` retries made so far).
    pub fn delay(&self, k: u32) -> Duration {
        let factor = self.multiplier.max(1.0).powi(k.min(1024) as i32);
        let secs = self.initial_delay.as_secs_f64() * factor;
        if !secs.is_finite() || secs >= self.max_delay.as_secs_f64() {
            self.max_delay
        } else {
            Duration::from_secs_f64(secs)
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if !self.multiplier.is_finite() || self.multiplier < 1.0 {
            return Err(Error::InvalidArgument {
                what: "retry policy",
                reason: format!("multiplier {} must be a finite number ≥ 1", self.multiplier),
            });
        }
        if self.max_delay > MAX_RETRY_DELAY {
            return Err(Error::InvalidArgument {
                what: "retry policy",
                reason: format!(
                    "longest delay {:?} is over the limit of {:?}",
                    self.max_delay, MAX_RETRY_DELAY
                ),
            });
        }
        if self.initial_delay > self.max_delay {
            return Err(Error::InvalidArgument {
                what: "retry policy",
                reason: format!(
                    "initial delay {:?} is longer than the cap {:?}",
                    self.initial_delay, self.max_delay
                ),
            });
        }
        Ok(())
    }
}
