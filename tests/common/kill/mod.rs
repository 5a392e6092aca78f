//! The kill test's harness, included by `tests/kill.rs` alone: what the
//! parent and its child processes agree on (the modes, the records and
//! preset operations that follow from sequence numbers, the store's
//! options, the ack file); the parent's loop of spawning, killing and
//! checking children ([`parent`]); its checks of the reopened store
//! against what the children acknowledged ([`check`]).
//!
//! The ack file, a line per event (times in µs, record IDs as
//! `partition.generation.ordinal`):
//!
//! ```text
//! open                           the store and project are open (recovered)
//! clock <t>                      written before the clock is set to t
//! try append <seq>@<t> ...       before append (one) or append_batch (more)
//! ack append <seq>@<id> ...      after it returned the IDs
//! try start <job> <t>            ack start <job>
//! try fail <job> <attempt>       ack fail <job> <attempt> <status>
//! try ok <job> <attempt>         ack ok <job> <attempt>
//! try claim                      before due_retries; then per ticket
//!                                `ack claim <job> <attempt>`, then `ack claimed`
//! try preset <j>                 ack preset <j> (preset operation j, see preset_op)
//! ack sync | ack seal | ack retention <n>
//! ```

mod check;
pub mod parent;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::rng::{Random, Rng};
use runlog::{
    Level, LogRecord, ManualClock, Preset, RecordId, RunStatus, SavedRange, SegmentId,
    StoreOptions, SyncPolicy, TimeRange, Timestamp,
};

pub use parent::run_mode;

/// Kills per mode unless `RUNLOG_KILL_ITERATIONS` says otherwise.
pub const ITERATIONS: usize = 12;

pub const PROJECT: &str = "kill";

// How the parent tells the child what to do.
pub const ENV_DIR: &str = "RUNLOG_KILL_CHILD_DIR";
pub const ENV_ACKS: &str = "RUNLOG_KILL_CHILD_ACKS";
pub const ENV_MODE: &str = "RUNLOG_KILL_CHILD_MODE";
pub const ENV_SYNC: &str = "RUNLOG_KILL_CHILD_SYNC";
pub const ENV_SEED: &str = "RUNLOG_KILL_CHILD_SEED";
pub const ENV_START: &str = "RUNLOG_KILL_CHILD_START";
pub const ENV_SEQ: &str = "RUNLOG_KILL_CHILD_SEQ";
pub const ENV_ITER: &str = "RUNLOG_KILL_CHILD_ITER";
pub const ENV_PRESET: &str = "RUNLOG_KILL_CHILD_PRESET";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Always,
    Periodic,
    Manual,
    Sealing,
    Retention,
    Presets,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Append,
    Batch,
    Start,
    Finish,
    Claim,
    Sync,
    Seal,
    Retention,
    Preset,
}

pub const OPS: [Op; 9] = [
    Op::Append,
    Op::Batch,
    Op::Start,
    Op::Finish,
    Op::Claim,
    Op::Sync,
    Op::Seal,
    Op::Retention,
    Op::Preset,
];

impl Mode {
    pub const ALL: [Mode; 6] = [
        Mode::Always,
        Mode::Periodic,
        Mode::Manual,
        Mode::Sealing,
        Mode::Retention,
        Mode::Presets,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Always => "always",
            Mode::Periodic => "periodic",
            Mode::Manual => "manual",
            Mode::Sealing => "sealing",
            Mode::Retention => "retention",
            Mode::Presets => "presets",
        }
    }

    pub fn parse(s: &str) -> Mode {
        Mode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .unwrap_or_else(|| panic!("unknown mode {s:?}"))
    }

    pub fn partition(self) -> Option<Duration> {
        matches!(self, Mode::Sealing | Mode::Retention).then(|| Duration::from_secs(60))
    }

    pub fn grace(self) -> Duration {
        match self {
            Mode::Sealing | Mode::Retention => Duration::from_secs(10),
            _ => Duration::from_secs(600),
        }
    }

    pub fn retention(self) -> Duration {
        match self {
            Mode::Retention => Duration::from_secs(3600),
            _ => Duration::from_secs(30 * 24 * 3600),
        }
    }

    /// How far the child's clock moves before each operation (ms).
    pub fn step_ms(self) -> (u64, u64) {
        match self {
            Mode::Sealing => (0, 12_000),
            Mode::Retention => (10_000, 60_000),
            _ => (0, 3_000),
        }
    }

    /// How far before "now" a record's time may be (ms): late records.
    pub fn late_ms(self) -> u64 {
        match self {
            Mode::Sealing => 20_000,
            Mode::Retention => 30_000,
            _ => 120_000,
        }
    }

    /// Weight of each of [`OPS`].
    pub fn weights(self) -> [u64; 9] {
        match self {
            // append batch start finish claim sync seal retention preset
            Mode::Always | Mode::Periodic => [6, 3, 2, 3, 1, 1, 0, 0, 0],
            Mode::Manual => [6, 3, 2, 3, 1, 2, 0, 0, 0],
            Mode::Sealing => [6, 3, 1, 1, 1, 1, 2, 0, 0],
            Mode::Retention => [5, 3, 2, 2, 1, 1, 1, 2, 0],
            Mode::Presets => [2, 0, 1, 1, 1, 0, 0, 0, 8],
        }
    }

    /// The sync policy of one child: fixed for the policy modes, drawn
    /// from the seed for the others.
    pub fn sync_policy(self, rng: &mut Rng) -> SyncPolicy {
        match self {
            Mode::Always => SyncPolicy::Always,
            Mode::Periodic => SyncPolicy::Periodic(Duration::from_millis(5)),
            Mode::Manual => SyncPolicy::Manual,
            _ => [
                SyncPolicy::Always,
                SyncPolicy::Periodic(Duration::from_millis(5)),
                SyncPolicy::Manual,
            ][rng.below(3) as usize],
        }
    }
}

pub fn sync_name(p: SyncPolicy) -> &'static str {
    match p {
        SyncPolicy::Always => "always",
        SyncPolicy::Periodic(_) => "periodic",
        SyncPolicy::Manual => "manual",
    }
}

pub fn parse_sync(s: &str) -> SyncPolicy {
    match s {
        "always" => SyncPolicy::Always,
        "periodic" => SyncPolicy::Periodic(Duration::from_millis(5)),
        "manual" => SyncPolicy::Manual,
        _ => panic!("unknown sync policy {s:?}"),
    }
}

/// Open the store for writing. While one test's thread spawns a child, the
/// forked process holds copies of every descriptor of this process until
/// it execs (they are close-on-exec), so a store another thread has just
/// closed can look locked for a moment: retry for a while.
pub fn open_store(opts: StoreOptions, dir: &Path) -> runlog::Result<runlog::Store> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match opts.clone().open(dir) {
            Err(runlog::Error::Locked { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            other => return other,
        }
    }
}

pub fn options(mode: Mode, clock: &ManualClock, sync: SyncPolicy) -> StoreOptions {
    let o = crate::common::options(clock)
        .sync_policy(sync)
        .grace(mode.grace())
        .retention(mode.retention());
    match mode.partition() {
        Some(p) => o.partition(p),
        None => o,
    }
}

/// Record `seq` at time `t`: everything but the time follows from `seq`.
pub fn record(seq: u64, t: Timestamp) -> LogRecord {
    let mut r = LogRecord::new(
        t,
        Level::ALL[(seq % 4) as usize],
        format!("log-{}", seq / 10),
        format!("seq {seq}: POST /orders/{seq} -> {}", 200 + seq % 7),
    )
    .flow(format!("flow-{}", seq % 5))
    .component("HTTP")
    .action("request")
    .env(if seq.is_multiple_of(3) {
        "test"
    } else {
        "prod"
    })
    .app("shop")
    .version("1.0");
    if seq.is_multiple_of(97) {
        // A large frame now and then: a longer write to be killed in.
        r = r.detail(format!(
            "{{\"seq\": {seq}, \"body\": \"{}\"}}",
            "y".repeat(96 * 1024)
        ));
    } else if seq.is_multiple_of(4) {
        r = r.detail(format!(
            "{{\"seq\": {seq}, \"body\": \"{}\"}}",
            "x".repeat((seq % 500) as usize)
        ));
    }
    r
}

/// The sequence number in a record's content, if it is one of ours.
pub fn seq_of(r: &LogRecord) -> Option<u64> {
    r.content
        .strip_prefix("seq ")?
        .split(':')
        .next()?
        .parse()
        .ok()
}

/// Preset operation `j`: every 7th deletes, the others save (replacing a
/// name used 150 operations earlier), with ranges that grow with `j`.
pub enum PresetOp {
    Save(String, SavedRange),
    Delete(String),
}

pub fn preset_name(j: u64) -> String {
    format!(
        "range-{:03}-{}",
        j % 150,
        "n".repeat((j % 150 % 40) as usize)
    )
}

pub fn preset_op(j: u64) -> PresetOp {
    if j % 7 == 6 {
        return PresetOp::Delete(preset_name(j.saturating_sub(3)));
    }
    let range = match j % 3 {
        0 => SavedRange::Last(Duration::from_secs(60 * (j + 1))),
        1 => SavedRange::Absolute(
            TimeRange::new(
                Timestamp::from_secs(1_600_000_000 + j as i64),
                Timestamp::from_secs(1_600_000_000 + 2 * j as i64 + 1),
            )
            .expect("range"),
        ),
        _ => SavedRange::Calendar(Preset::ALL[(j % Preset::ALL.len() as u64) as usize]),
    };
    PresetOp::Save(preset_name(j), range)
}

/// The saved presets after operations `0..k`.
pub fn presets_after(k: u64) -> Vec<(String, SavedRange)> {
    let mut all = BTreeMap::new();
    for j in 0..k {
        match preset_op(j) {
            PresetOp::Save(name, range) => {
                all.insert(name, range);
            }
            PresetOp::Delete(name) => {
                all.remove(&name);
            }
        }
    }
    all.into_iter().collect()
}

/// The operation a child does next.
impl Rng {
    pub fn pick(&mut self, weights: [u64; 9]) -> Op {
        let mut x = self.below(weights.iter().sum());
        for (op, w) in OPS.into_iter().zip(weights) {
            if x < w {
                return op;
            }
            x -= w;
        }
        unreachable!("weights sum")
    }
}

pub fn fmt_id(id: RecordId) -> String {
    id.to_string()
}

pub fn parse_id(s: &str) -> Option<RecordId> {
    let mut it = s.split('.').map(|n| n.parse::<u32>().ok());
    let (p, g, o) = (it.next()??, it.next()??, it.next()??);
    Some(RecordId {
        segment: SegmentId {
            partition: p,
            generation: g,
        },
        ordinal: o,
    })
}

pub fn parse_status(s: &str) -> Option<RunStatus> {
    RunStatus::ALL.into_iter().find(|st| st.as_str() == s)
}

/// The ack file: one `write` per line, `O_APPEND`.
pub struct Acks(pub fs::File);

impl Acks {
    pub fn line(&mut self, s: impl AsRef<str>) {
        let mut s = s.as_ref().to_owned();
        s.push('\n');
        self.0.write_all(s.as_bytes()).expect("write ack line");
    }
}
