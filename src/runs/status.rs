//! Where a run stands and what started it: the plain values that run
//! records, queries and errors name.

use serde::{Deserialize, Serialize};

/// What started a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// The Scheduler component (a scheduled task).
    Scheduler,
    /// An event or an API call.
    Event,
    /// A person, by hand.
    Manual,
}

impl Trigger {
    /// Every trigger, in code order.
    pub const ALL: [Trigger; 3] = [Trigger::Scheduler, Trigger::Event, Trigger::Manual];

    pub(crate) fn code(self) -> u8 {
        self as u8
    }

    /// Lower-case name: `scheduler`, `event`, `manual`.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Scheduler => "scheduler",
            Trigger::Event => "event",
            Trigger::Manual => "manual",
        }
    }
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// An attempt is executing.
    Running,
    /// The last attempt failed and a retry is due at [`Run::next_retry`](crate::Run::next_retry).
    Retrying,
    /// An attempt succeeded (earlier failures are superseded).
    Successful,
    /// The last attempt failed and no automatic retry is left; it can be
    /// retried by hand.
    Failed,
}

impl RunStatus {
    /// Every status, in code order.
    pub const ALL: [RunStatus; 4] = [
        RunStatus::Running,
        RunStatus::Retrying,
        RunStatus::Successful,
        RunStatus::Failed,
    ];

    /// Index of the status in [`RunCounts::by_status`](crate::RunCounts::by_status).
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Lower-case name: `running`, `retrying`, `successful`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Retrying => "retrying",
            RunStatus::Successful => "successful",
            RunStatus::Failed => "failed",
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
