//! Kill tests: real process deaths, not simulated ones.
//!
//! A child process (this test binary, re-executed to run the ignored
//! `kill_child` test) writes logs, run events and saved presets into a
//! store, driving a [`ManualClock`] by hand from a seed, and reports every
//! acknowledged operation (after the call returned `Ok`) as a line of an
//! ack file opened with `O_APPEND` (one `write` per line). Before each
//! operation it also writes a `try` line, so the parent knows everything
//! that may be on disk. The parent SIGKILLs it at a random moment (5–80
//! ms after the spawn, or, for half the kills, after the child reported
//! the store open, so kills keep landing among operations as recovery
//! grows slower), reopens the store and checks what a process crash must
//! keep under every sync policy:
//!
//! - every acknowledged record is present, with its ID, and equal (record
//!   contents are derived from a sequence number); no record appears that
//!   the child never tried to write, none twice, none past the horizon;
//!   one seen once is never lost, one found absent never comes back;
//! - every acknowledged run event is reflected in its run (the state after
//!   the acknowledged events, or after the one in flight at the kill);
//! - `presets()` returns the acknowledged list or the one being written;
//! - `verify()` finds no problem, no segment is set aside, no `.idx.tmp`
//!   is left, index counts agree with the records;
//! - a second reopen gives exactly the same records, runs and presets;
//! - the store takes new appends and run events afterwards.
//!
//! The next child continues the same store, so it grows and recovers
//! again and again. One test per mode: the three sync policies; a sealing
//! mode (1-minute partitions, 10 s grace, a fast clock: seals all the
//! time); a retention mode (1-hour retention over 1-minute partitions:
//! segments and journals deleted while being killed); a presets mode.
//!
//! Environment:
//! - `RUNLOG_KILL_ITERATIONS`: kills per mode (default 12: about 1–4 s
//!   per mode, 5–7 s for the file, in a debug build on two cores); e.g.
//!   `RUNLOG_KILL_ITERATIONS=500 cargo test --release --test kill` for a
//!   long sweep (the stores grow with every kill, so checks slow down).
//! - `RUNLOG_KILL_SEED`: the seed (default: new each run). A failure
//!   prints the mode, seed and iteration, and keeps the store directory.
//!   Kill timing is not reproducible; the child's operations and clock are.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::T0;
use common::rng::{Random, Rng};
use runlog::{
    Level, LogRecord, MAX_LIMIT, ManualClock, NewRun, Outcome, Preset, Project, Query, RecordId,
    Run, RunQuery, RunStatus, SavedRange, SegmentId, StoreOptions, SyncPolicy, TimeRange,
    Timestamp, Trigger,
};

/// Kills per mode unless `RUNLOG_KILL_ITERATIONS` says otherwise.
const ITERATIONS: usize = 12;
const PROJECT: &str = "kill";

// How the parent tells the child what to do.
const ENV_DIR: &str = "RUNLOG_KILL_CHILD_DIR";
const ENV_ACKS: &str = "RUNLOG_KILL_CHILD_ACKS";
const ENV_MODE: &str = "RUNLOG_KILL_CHILD_MODE";
const ENV_SYNC: &str = "RUNLOG_KILL_CHILD_SYNC";
const ENV_SEED: &str = "RUNLOG_KILL_CHILD_SEED";
const ENV_START: &str = "RUNLOG_KILL_CHILD_START";
const ENV_SEQ: &str = "RUNLOG_KILL_CHILD_SEQ";
const ENV_ITER: &str = "RUNLOG_KILL_CHILD_ITER";
const ENV_PRESET: &str = "RUNLOG_KILL_CHILD_PRESET";

#[test]
fn kill_sync_always() {
    run_mode(Mode::Always);
}

#[test]
fn kill_sync_periodic() {
    run_mode(Mode::Periodic);
}

#[test]
fn kill_sync_manual() {
    run_mode(Mode::Manual);
}

#[test]
fn kill_while_sealing() {
    run_mode(Mode::Sealing);
}

#[test]
fn kill_while_enforcing_retention() {
    run_mode(Mode::Retention);
}

#[test]
fn kill_while_saving_presets() {
    run_mode(Mode::Presets);
}

// ---------------------------------------------------------------------------
// Modes, records, presets: what both processes agree on.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Always,
    Periodic,
    Manual,
    Sealing,
    Retention,
    Presets,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
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

const OPS: [Op; 9] = [
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
    const ALL: [Mode; 6] = [
        Mode::Always,
        Mode::Periodic,
        Mode::Manual,
        Mode::Sealing,
        Mode::Retention,
        Mode::Presets,
    ];

    fn name(self) -> &'static str {
        match self {
            Mode::Always => "always",
            Mode::Periodic => "periodic",
            Mode::Manual => "manual",
            Mode::Sealing => "sealing",
            Mode::Retention => "retention",
            Mode::Presets => "presets",
        }
    }

    fn parse(s: &str) -> Mode {
        Mode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .unwrap_or_else(|| panic!("unknown mode {s:?}"))
    }

    fn partition(self) -> Option<Duration> {
        matches!(self, Mode::Sealing | Mode::Retention).then(|| Duration::from_secs(60))
    }

    fn grace(self) -> Duration {
        match self {
            Mode::Sealing | Mode::Retention => Duration::from_secs(10),
            _ => Duration::from_secs(600),
        }
    }

    fn retention(self) -> Duration {
        match self {
            Mode::Retention => Duration::from_secs(3600),
            _ => Duration::from_secs(30 * 24 * 3600),
        }
    }

    /// How far the child's clock moves before each operation (ms).
    fn step_ms(self) -> (u64, u64) {
        match self {
            Mode::Sealing => (0, 12_000),
            Mode::Retention => (10_000, 60_000),
            _ => (0, 3_000),
        }
    }

    /// How far before "now" a record's time may be (ms): late records.
    fn late_ms(self) -> u64 {
        match self {
            Mode::Sealing => 20_000,
            Mode::Retention => 30_000,
            _ => 120_000,
        }
    }

    /// Weight of each of [`OPS`].
    fn weights(self) -> [u64; 9] {
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
    fn sync_policy(self, rng: &mut Rng) -> SyncPolicy {
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

fn sync_name(p: SyncPolicy) -> &'static str {
    match p {
        SyncPolicy::Always => "always",
        SyncPolicy::Periodic(_) => "periodic",
        SyncPolicy::Manual => "manual",
    }
}

fn parse_sync(s: &str) -> SyncPolicy {
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
fn open_store(opts: StoreOptions, dir: &Path) -> runlog::Result<runlog::Store> {
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

fn options(mode: Mode, clock: &ManualClock, sync: SyncPolicy) -> StoreOptions {
    let o = StoreOptions::new()
        .clock(clock.clone())
        .sync_policy(sync)
        .grace(mode.grace())
        .retention(mode.retention());
    match mode.partition() {
        Some(p) => o.partition(p),
        None => o,
    }
}

/// Record `seq` at time `t`: everything but the time follows from `seq`.
fn record(seq: u64, t: Timestamp) -> LogRecord {
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
fn seq_of(r: &LogRecord) -> Option<u64> {
    r.content
        .strip_prefix("seq ")?
        .split(':')
        .next()?
        .parse()
        .ok()
}

/// Preset operation `j`: every 7th deletes, the others save (replacing a
/// name used 150 operations earlier), with ranges that grow with `j`.
enum PresetOp {
    Save(String, SavedRange),
    Delete(String),
}

fn preset_name(j: u64) -> String {
    format!(
        "range-{:03}-{}",
        j % 150,
        "n".repeat((j % 150 % 40) as usize)
    )
}

fn preset_op(j: u64) -> PresetOp {
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
fn presets_after(k: u64) -> Vec<(String, SavedRange)> {
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
    fn pick(&mut self, weights: [u64; 9]) -> Op {
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

fn fmt_id(id: RecordId) -> String {
    id.to_string()
}

fn parse_id(s: &str) -> Option<RecordId> {
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

fn parse_status(s: &str) -> Option<RunStatus> {
    RunStatus::ALL.into_iter().find(|st| st.as_str() == s)
}

// ---------------------------------------------------------------------------
// The child.
//
// Its ack file, a line per event (times in µs, record IDs as
// `partition.generation.ordinal`):
//
//   open                           the store and project are open (recovered)
//   clock <t>                      written before the clock is set to t
//   try append <seq>@<t> ...       before append (one) or append_batch (more)
//   ack append <seq>@<id> ...      after it returned the IDs
//   try start <job> <t>            ack start <job>
//   try fail <job> <attempt>       ack fail <job> <attempt> <status>
//   try ok <job> <attempt>         ack ok <job> <attempt>
//   try claim                      before due_retries; then per ticket
//                                  `ack claim <job> <attempt>`, then `ack claimed`
//   try preset <j>                 ack preset <j> (preset operation j, see preset_op)
//   ack sync | ack seal | ack retention <n>

/// The ack file: one `write` per line, `O_APPEND`.
struct Acks(fs::File);

impl Acks {
    fn line(&mut self, s: impl AsRef<str>) {
        let mut s = s.as_ref().to_owned();
        s.push('\n');
        self.0.write_all(s.as_bytes()).expect("write ack line");
    }
}

/// Run by the parent as a child process; returns at once when run by hand.
#[test]
#[ignore = "the child process of the kill tests (does nothing on its own)"]
fn kill_child() {
    let Ok(dir) = std::env::var(ENV_DIR) else {
        return;
    };
    let env = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"));
    let num = |k: &str| -> u64 {
        env(k)
            .parse()
            .unwrap_or_else(|_| panic!("{k} not a number"))
    };
    let mode = Mode::parse(&env(ENV_MODE));
    let sync = parse_sync(&env(ENV_SYNC));
    let mut rng = Rng::new(num(ENV_SEED));
    let mut now = Timestamp::from_micros(num(ENV_START) as i64);
    let mut seq = num(ENV_SEQ);
    let iter = num(ENV_ITER);
    let mut preset_k = num(ENV_PRESET);
    let mut acks = Acks(
        OpenOptions::new()
            .append(true)
            .create(true)
            .open(env(ENV_ACKS))
            .expect("open ack file"),
    );

    let clock = ManualClock::new(now);
    let store = open_store(options(mode, &clock, sync), Path::new(&dir)).expect("open store");
    let p = store.project(PROJECT).expect("open project");
    acks.line("open");

    // Runs a previous child left running: this one finishes them.
    let mut running: Vec<(String, u32, Timestamp)> = Vec::new();
    let mut q = RunQuery::new()
        .all_time()
        .status(RunStatus::Running)
        .limit(MAX_LIMIT);
    loop {
        let page = p.runs(&q).expect("list running runs");
        running.extend(
            page.runs
                .iter()
                .map(|r| (r.job_id.to_string(), r.attempt(), r.trigger_time)),
        );
        match page.next {
            Some(c) => q = q.after(c),
            None => break,
        }
    }

    let began = Instant::now();
    let mut jobs = 0u64;
    // Bounded, should the parent die without killing it.
    while began.elapsed() < Duration::from_secs(30) {
        let (lo, hi) = mode.step_ms();
        let step = rng.range(lo, hi);
        if step > 0 {
            now = now.saturating_add(Duration::from_millis(step));
            acks.line(format!("clock {}", now.as_micros()));
            clock.set(now);
        }
        let horizon = now.saturating_sub(mode.retention());
        running.retain(|(_, _, t)| *t >= horizon);
        match rng.pick(mode.weights()) {
            op @ (Op::Append | Op::Batch) => {
                let n = if op == Op::Batch { rng.range(2, 8) } else { 1 };
                let batch: Vec<(u64, LogRecord)> = (0..n)
                    .map(|_| {
                        seq += 1;
                        let late = Duration::from_millis(rng.range(0, mode.late_ms()));
                        (seq - 1, record(seq - 1, now.saturating_sub(late)))
                    })
                    .collect();
                let tried: Vec<String> = batch
                    .iter()
                    .map(|(s, r)| format!("{s}@{}", r.time.as_micros()))
                    .collect();
                acks.line(format!("try append {}", tried.join(" ")));
                let ids = if n == 1 {
                    vec![p.append(&batch[0].1).expect("append")]
                } else {
                    let records: Vec<LogRecord> = batch.iter().map(|(_, r)| r.clone()).collect();
                    p.append_batch(&records).expect("append batch")
                };
                let acked: Vec<String> = batch
                    .iter()
                    .zip(&ids)
                    .map(|((s, _), id)| format!("{s}@{}", fmt_id(*id)))
                    .collect();
                acks.line(format!("ack append {}", acked.join(" ")));
            }
            Op::Start => {
                let job = format!("run-{iter}-{jobs}");
                jobs += 1;
                acks.line(format!("try start {job} {}", now.as_micros()));
                let trigger = [Trigger::Scheduler, Trigger::Event][rng.below(2) as usize];
                let run = p
                    .start_run(
                        &NewRun::new(job.as_str(), format!("flow-{}", jobs % 3), trigger)
                            .env("prod")
                            .triggered_at(now),
                    )
                    .expect("start run");
                assert_eq!(run.status, RunStatus::Running);
                acks.line(format!("ack start {job}"));
                running.push((job, 1, now));
            }
            Op::Finish => {
                if running.is_empty() {
                    continue;
                }
                let (job, attempt, _) =
                    running.swap_remove(rng.below(running.len() as u64) as usize);
                if rng.below(10) < 6 {
                    acks.line(format!("try fail {job} {attempt}"));
                    let run = p
                        .attempt_failed(&job, attempt, "POST /orders: 503")
                        .expect("attempt failed");
                    acks.line(format!("ack fail {job} {attempt} {}", run.status));
                } else {
                    acks.line(format!("try ok {job} {attempt}"));
                    p.attempt_succeeded(&job, attempt)
                        .expect("attempt succeeded");
                    acks.line(format!("ack ok {job} {attempt}"));
                }
            }
            Op::Claim => {
                acks.line("try claim");
                let tickets = p.due_retries(now).expect("due retries");
                for t in tickets {
                    acks.line(format!("ack claim {} {}", t.job_id, t.attempt));
                    running.push((t.job_id.to_string(), t.attempt, t.trigger_time));
                }
                acks.line("ack claimed");
            }
            Op::Sync => {
                p.sync().expect("sync");
                acks.line("ack sync");
            }
            Op::Seal => {
                p.seal_due().expect("seal due");
                acks.line("ack seal");
            }
            Op::Retention => {
                let n = p.enforce_retention().expect("enforce retention");
                acks.line(format!("ack retention {n}"));
            }
            Op::Preset => {
                let j = preset_k;
                acks.line(format!("try preset {j}"));
                match preset_op(j) {
                    PresetOp::Save(name, range) => {
                        p.save_preset(&name, range).expect("save preset")
                    }
                    PresetOp::Delete(name) => {
                        p.delete_preset(&name).expect("delete preset");
                    }
                }
                acks.line(format!("ack preset {j}"));
                preset_k += 1;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The parent: what must hold, across iterations.

/// A run as the tests compare it: status, attempts (number, outcome), trigger time.
#[derive(Clone, Debug, PartialEq, Eq)]
struct RunState {
    status: RunStatus,
    attempts: Vec<(u32, Outcome)>,
    trigger: Timestamp,
}

impl RunState {
    fn of(run: &Run) -> RunState {
        RunState {
            status: run.status,
            attempts: run.attempts.iter().map(|a| (a.number, a.outcome)).collect(),
            trigger: run.trigger_time,
        }
    }

    fn started(trigger: Timestamp) -> RunState {
        RunState {
            status: RunStatus::Running,
            attempts: vec![(1, Outcome::Running)],
            trigger,
        }
    }

    fn running(&self, attempt: u32) -> bool {
        self.status == RunStatus::Running
            && self.attempts.last() == Some(&(attempt, Outcome::Running))
    }

    /// Attempt `attempt` ended with `outcome`, the run now `status`.
    fn ended(&self, attempt: u32, outcome: Outcome, status: RunStatus) -> Option<RunState> {
        if !self.running(attempt) {
            return None;
        }
        let mut s = self.clone();
        *s.attempts.last_mut()? = (attempt, outcome);
        s.status = status;
        Some(s)
    }

    /// The next retry claimed.
    fn claimed(&self) -> Option<RunState> {
        let &(last, outcome) = self.attempts.last()?;
        if self.status != RunStatus::Retrying || outcome != Outcome::Failed {
            return None;
        }
        let mut s = self.clone();
        s.attempts.push((last + 1, Outcome::Running));
        s.status = RunStatus::Running;
        Some(s)
    }
}

/// The operation in flight when the child died (a `try` without its `ack`).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pending {
    Append(Vec<u64>),
    Start(String, Timestamp),
    Fail(String, u32),
    Ok(String, u32),
    /// `due_retries`: any retrying run may have been claimed.
    Claim,
    Preset(u64),
}

#[derive(Debug)]
struct Expect {
    /// The latest time either process set its clock to.
    clock: Timestamp,
    next_seq: u64,
    /// Every record either process tried to write: its time.
    tried: BTreeMap<u64, Timestamp>,
    /// Records acknowledged, or seen after a reopen: they must stay (until
    /// past the horizon).
    known: BTreeMap<u64, RecordId>,
    /// Records tried and found absent after a reopen, or past the
    /// horizon: they must never appear.
    absent: BTreeSet<u64>,
    /// Every run the store must hold (until past the horizon).
    runs: BTreeMap<String, RunState>,
    /// Preset operations done.
    preset_k: u64,
}

/// Totals over a mode's iterations, printed at the end.
#[derive(Debug, Default)]
struct Stats {
    acked_records: u64,
    acked_run_events: u64,
    acked_presets: u64,
    syncs: u64,
    seals: u64,
    kills_before_open: u64,
    kills_in_flight: u64,
    unacked_kept: u64,
    /// Batches in flight found partly written: how much, across how many partitions.
    partial_batches: Vec<String>,
    /// What recovery and reads reported in `damage()`, by file type and reason.
    damage: BTreeMap<String, u64>,
    expired: u64,
    expired_runs: u64,
    max_sealed: usize,
    max_records: usize,
}

/// Kills the child if the parent panics before it did.
struct KillOnDrop(Option<Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn env_num(key: &str) -> Option<u64> {
    std::env::var(key).ok().map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{key}={v:?} is not a number"))
    })
}

fn run_mode(mode: Mode) {
    let iterations = env_num("RUNLOG_KILL_ITERATIONS").map_or(ITERATIONS, |n| n as usize);
    let seed = env_num("RUNLOG_KILL_SEED").unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Rng::new(nanos ^ u64::from(std::process::id())).next()
    });
    let work = tempfile::tempdir().expect("tempdir");
    let mut rng = Rng::new(seed ^ (mode as u64 + 1).wrapping_mul(0x1000_0000_01B3));
    let mut ex = Expect {
        clock: T0,
        next_seq: 0,
        tried: BTreeMap::new(),
        known: BTreeMap::new(),
        absent: BTreeSet::new(),
        runs: BTreeMap::new(),
        preset_k: 0,
    };
    let mut stats = Stats::default();
    let started = Instant::now();
    for i in 0..iterations {
        if let Err(msg) = iteration(mode, work.path(), i, &mut rng, &mut ex, &mut stats) {
            let kept = work.keep();
            panic!(
                "kill test {}, seed {seed} (RUNLOG_KILL_SEED={seed}), iteration {i}: {msg}\n\
                 store and ack files kept in {}",
                mode.name(),
                kept.display()
            );
        }
    }
    eprintln!(
        "kill test {}: seed {seed}, {iterations} kills in {:.2?}: {stats:?}",
        mode.name(),
        started.elapsed()
    );
}

fn output_text(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// One kill: spawn, wait, kill, then check and extend the store.
fn iteration(
    mode: Mode,
    work: &Path,
    i: usize,
    rng: &mut Rng,
    ex: &mut Expect,
    stats: &mut Stats,
) -> Result<(), String> {
    let dir = work.join("store");
    let acks_path = work.join(format!("acks-{i:04}.log"));
    let sync = mode.sync_policy(rng);
    let child_seed = rng.next();
    let delay = Duration::from_millis(rng.range(5, 80));
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let child = Command::new(exe)
        .args([
            "--ignored",
            "--exact",
            "kill_child",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(ENV_DIR, &dir)
        .env(ENV_ACKS, &acks_path)
        .env(ENV_MODE, mode.name())
        .env(ENV_SYNC, sync_name(sync))
        .env(ENV_SEED, child_seed.to_string())
        .env(ENV_START, ex.clock.as_micros().to_string())
        .env(ENV_SEQ, ex.next_seq.to_string())
        .env(ENV_ITER, i.to_string())
        .env(ENV_PRESET, ex.preset_k.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn the child: {e}"))?;
    let mut guard = KillOnDrop(Some(child));
    // Half the kills count the delay from the spawn (some land in the
    // child's recovery), half from the child's report that the store is
    // open (recovery takes longer as the store grows).
    let from_open = rng.below(2) == 0;
    if from_open {
        let deadline = Instant::now() + Duration::from_secs(20);
        let opened = |path: &Path| fs::read_to_string(path).is_ok_and(|t| t.starts_with("open\n"));
        while !opened(&acks_path) && Instant::now() < deadline {
            let exited = guard
                .0
                .as_mut()
                .map(|c| matches!(c.try_wait(), Ok(Some(_))));
            if exited == Some(true) {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    std::thread::sleep(delay);
    let mut child = guard.0.take().expect("child");
    if let Ok(Some(status)) = child.try_wait() {
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        return Err(format!(
            "the child exited by itself ({status}) before the kill\n{}",
            output_text(&out)
        ));
    }
    // SIGKILL on Unix.
    child.kill().map_err(|e| format!("kill: {e}"))?;
    let out = child
        .wait_with_output()
        .map_err(|e| format!("wait for the child: {e}"))?;
    use std::os::unix::process::ExitStatusExt;
    if out.status.signal() != Some(9) {
        return Err(format!(
            "the child ended with {} instead of SIGKILL\n{}",
            out.status,
            output_text(&out)
        ));
    }

    let text = fs::read_to_string(&acks_path).unwrap_or_default();
    let pending = apply_acks(&text, ex, stats)?;
    if pending.is_some() {
        stats.kills_in_flight += 1;
    }
    let ctx = format!(
        "sync {}, killed {delay:?} after the {}, in flight: {pending:?}, last ack lines:\n  {}",
        sync_name(sync),
        if from_open { "store was open" } else { "spawn" },
        text.lines()
            .rev()
            .take(6)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n  ")
    );
    check_and_extend(mode, &dir, i, pending.as_ref(), ex, stats).map_err(|e| format!("{e}\n{ctx}"))
}

/// Apply the child's acknowledgements to the model; returns what was in flight.
fn apply_acks(text: &str, ex: &mut Expect, stats: &mut Stats) -> Result<Option<Pending>, String> {
    let mut pending: Option<Pending> = None;
    let mut opened = false;
    // A last line without its newline was never reported.
    let whole = match text.rfind('\n') {
        Some(end) => &text[..=end],
        None => "",
    };
    for line in whole.lines() {
        let bad = || format!("bad ack line {line:?}");
        let w: Vec<&str> = line.split(' ').collect();
        let num = |k: usize| -> Result<u64, String> {
            w.get(k).and_then(|s| s.parse().ok()).ok_or_else(bad)
        };
        let job = |k: usize| -> Result<String, String> {
            w.get(k).map(|s| s.to_string()).ok_or_else(bad)
        };
        match (w[0], w.get(1).copied().unwrap_or("")) {
            ("open", _) => opened = true,
            ("clock", _) => ex.clock = ex.clock.max(Timestamp::from_micros(num(1)? as i64)),
            ("try", "append") => {
                let mut seqs = Vec::new();
                for item in &w[2..] {
                    let (s, t) = item.split_once('@').ok_or_else(bad)?;
                    let s: u64 = s.parse().map_err(|_| bad())?;
                    let t: i64 = t.parse().map_err(|_| bad())?;
                    if ex.tried.insert(s, Timestamp::from_micros(t)).is_some() {
                        return Err(format!("the child reused seq {s}: {line:?}"));
                    }
                    ex.next_seq = ex.next_seq.max(s + 1);
                    seqs.push(s);
                }
                pending = Some(Pending::Append(seqs));
            }
            ("ack", "append") => {
                for item in &w[2..] {
                    let (s, id) = item.split_once('@').ok_or_else(bad)?;
                    let s: u64 = s.parse().map_err(|_| bad())?;
                    let id = parse_id(id).ok_or_else(bad)?;
                    if !matches!(&pending, Some(Pending::Append(v)) if v.contains(&s)) {
                        return Err(format!("ack without its try: {line:?}"));
                    }
                    ex.known.insert(s, id);
                    stats.acked_records += 1;
                }
                pending = None;
            }
            ("try", "start") => {
                pending = Some(Pending::Start(
                    job(2)?,
                    Timestamp::from_micros(num(3)? as i64),
                ));
            }
            ("ack", "start") => {
                let Some(Pending::Start(j, t)) = pending.take() else {
                    return Err(format!("ack without its try: {line:?}"));
                };
                if ex.runs.insert(j.clone(), RunState::started(t)).is_some() {
                    return Err(format!("run {j} started twice"));
                }
                stats.acked_run_events += 1;
            }
            ("try", "fail") => pending = Some(Pending::Fail(job(2)?, num(3)? as u32)),
            ("try", "ok") => pending = Some(Pending::Ok(job(2)?, num(3)? as u32)),
            ("ack", "fail") | ("ack", "ok") => {
                let (j, a) = (job(2)?, num(3)? as u32);
                let next = match (pending.take(), w[1]) {
                    (Some(Pending::Fail(pj, pa)), "fail")
                        if (pj.as_str(), pa) == (j.as_str(), a) =>
                    {
                        let status = w.get(4).and_then(|s| parse_status(s)).ok_or_else(bad)?;
                        ex.runs
                            .get(&j)
                            .and_then(|s| s.ended(a, Outcome::Failed, status))
                    }
                    (Some(Pending::Ok(pj, pa)), "ok") if (pj.as_str(), pa) == (j.as_str(), a) => ex
                        .runs
                        .get(&j)
                        .and_then(|s| s.ended(a, Outcome::Succeeded, RunStatus::Successful)),
                    _ => return Err(format!("ack without its try: {line:?}")),
                };
                let Some(next) = next else {
                    return Err(format!(
                        "the store acknowledged {line:?}, which does not follow from the run as \
                         the parent last saw it: {:?}",
                        ex.runs.get(&j)
                    ));
                };
                ex.runs.insert(j, next);
                stats.acked_run_events += 1;
            }
            ("try", "claim") => pending = Some(Pending::Claim),
            ("ack", "claim") => {
                let (j, a) = (job(2)?, num(3)? as u32);
                if pending != Some(Pending::Claim) {
                    return Err(format!("ack without its try: {line:?}"));
                }
                let next = ex.runs.get(&j).and_then(RunState::claimed);
                match next {
                    Some(s) if s.attempts.last() == Some(&(a, Outcome::Running)) => {
                        ex.runs.insert(j, s);
                    }
                    _ => {
                        return Err(format!(
                            "the store claimed attempt {a} of {j}, which does not follow from \
                             the run as the parent last saw it: {:?}",
                            ex.runs.get(&j)
                        ));
                    }
                }
                stats.acked_run_events += 1;
            }
            ("ack", "claimed") => pending = None,
            ("ack", "sync") => stats.syncs += 1,
            ("ack", "seal") => stats.seals += 1,
            ("ack", "retention") => {}
            ("try", "preset") => {
                let j = num(2)?;
                if j != ex.preset_k {
                    return Err(format!("preset operation {j}, expected {}", ex.preset_k));
                }
                pending = Some(Pending::Preset(j));
            }
            ("ack", "preset") => {
                if pending != Some(Pending::Preset(num(2)?)) {
                    return Err(format!("ack without its try: {line:?}"));
                }
                ex.preset_k += 1;
                stats.acked_presets += 1;
                pending = None;
            }
            _ => return Err(bad()),
        }
    }
    if !opened {
        stats.kills_before_open += 1;
    }
    Ok(pending)
}

/// Everything one open of the store returns.
#[derive(Debug, PartialEq)]
struct Snapshot {
    records: Vec<(RecordId, LogRecord)>,
    runs: BTreeMap<String, Run>,
    presets: Vec<(String, SavedRange)>,
}

fn snapshot(p: &Project) -> Result<Snapshot, String> {
    let mut records = Vec::new();
    for s in p.scan(TimeRange::all()) {
        let s = s.map_err(|e| format!("scan: {e}"))?;
        let full = p
            .get(s.id)
            .map_err(|e| format!("get {}: {e}", s.id))?
            .ok_or_else(|| format!("record {} listed but not found", s.id))?;
        if full.record.detail.is_some() != s.has_detail {
            return Err(format!("record {}: has_detail disagrees with get", s.id));
        }
        records.push((s.id, full.record));
    }
    let mut runs = BTreeMap::new();
    let mut q = RunQuery::new().all_time().limit(MAX_LIMIT);
    loop {
        let page = p.runs(&q).map_err(|e| format!("runs: {e}"))?;
        for r in page.runs {
            if let Some(dup) = runs.insert(r.job_id.to_string(), r) {
                return Err(format!("run {} listed twice", dup.job_id));
            }
        }
        match page.next {
            Some(c) => q = q.after(c),
            None => break,
        }
    }
    let presets = p
        .presets()
        .map_err(|e| format!("presets() failed after a kill: {e}"))?;
    Ok(Snapshot {
        records,
        runs,
        presets,
    })
}

/// Checks of the files right after recovery, before any read could
/// rebuild something.
fn check_recovered_files(p: &Project, stats: &mut Stats) -> Result<(), String> {
    // A kill must leave nothing verify would call a problem (a seal cut
    // short is completed or undone, with its index).
    let report = p.verify().map_err(|e| format!("verify: {e}"))?;
    if !report.is_ok() {
        return Err(format!("verify found problems: {:?}", report.problems));
    }
    let segments = p.segments().map_err(|e| format!("segments: {e}"))?;
    if let Some(bad) = segments.iter().find(|s| s.damaged) {
        return Err(format!("segment set aside after a kill: {bad:?}"));
    }
    stats.max_sealed = stats
        .max_sealed
        .max(segments.iter().filter(|s| s.sealed).count());
    let mut stems = BTreeMap::new();
    for entry in fs::read_dir(p.dir()).map_err(|e| e.to_string())? {
        let name = entry.map_err(|e| e.to_string())?.file_name();
        let name = name.to_string_lossy().into_owned();
        if name.ends_with(".idx.tmp") {
            return Err(format!("a stale {name} is left after the reopen"));
        }
        if let Some((stem, ext)) = name.split_once('.')
            && (ext == "wal" || ext == "seg")
            && let Some(other) = stems.insert(stem.to_owned(), ext.to_owned())
        {
            return Err(format!("{stem} is both .{other} and .{ext}"));
        }
    }
    Ok(())
}

/// The indexes (sealed ones from disk, maybe rebuilt) agree with the records.
fn check_indexes(p: &Project, snap: &Snapshot, stats: &mut Stats) -> Result<(), String> {
    stats.max_records = stats.max_records.max(snap.records.len());
    let counts = p
        .count(&Query::new().all_time().include_superseded(true))
        .map_err(|e| format!("count: {e}"))?;
    let mut by_level = [0u64; 4];
    for (_, r) in &snap.records {
        by_level[r.level.code() as usize] += 1;
    }
    if counts.total != snap.records.len() as u64 || counts.by_level != by_level {
        return Err(format!(
            "index counts {:?} (total {}) disagree with the {} records read {by_level:?}",
            counts.by_level,
            counts.total,
            snap.records.len()
        ));
    }
    let errors = p
        .query(&Query::new().all_time().level(Level::Error).limit(MAX_LIMIT))
        .map_err(|e| format!("query: {e}"))?;
    let want: Vec<RecordId> = snap
        .records
        .iter()
        .filter(|(_, r)| r.level == Level::Error)
        .map(|(id, _)| *id)
        .take(MAX_LIMIT)
        .collect();
    let got: Vec<RecordId> = errors.records.iter().map(|s| s.id).collect();
    if got != want {
        return Err(format!(
            "an indexed query (level = error) returned {} records, the scan has {}",
            got.len(),
            want.len()
        ));
    }
    if let Some((_, r)) = snap.records.first() {
        // Oldest first, across segments, through the job directory.
        let got: Vec<RecordId> = p
            .job_logs(&r.job_id)
            .map_err(|e| format!("job_logs: {e}"))?
            .iter()
            .map(|s| s.id)
            .collect();
        let mut want: Vec<(Timestamp, RecordId)> = snap
            .records
            .iter()
            .filter(|(_, x)| x.job_id == r.job_id)
            .map(|(id, x)| (x.time, *id))
            .collect();
        want.sort();
        let want: Vec<RecordId> = want.into_iter().map(|(_, id)| id).collect();
        if got != want {
            return Err(format!(
                "job_logs({}) returned {got:?}, the scan has {want:?}",
                r.job_id
            ));
        }
    }
    Ok(())
}

/// Check the records, runs and presets of `snap` against the model, then
/// adopt what was in flight and is now known.
fn check_model(
    mode: Mode,
    p: &Project,
    snap: &Snapshot,
    pending: Option<&Pending>,
    ex: &mut Expect,
    stats: &mut Stats,
) -> Result<(), String> {
    let horizon = ex.clock.saturating_sub(mode.retention());

    // Records: each one the child tried, equal, once, within the horizon.
    let mut seen: BTreeMap<u64, RecordId> = BTreeMap::new();
    for (id, r) in &snap.records {
        let seq = seq_of(r).ok_or_else(|| format!("record {id} was never written: {r:?}"))?;
        let t = *ex
            .tried
            .get(&seq)
            .ok_or_else(|| format!("record {id} has seq {seq}, never tried: {r:?}"))?;
        if *r != record(seq, t) {
            return Err(format!(
                "record {id} (seq {seq}) differs from what was written:\n got {r:?}\nwant {:?}",
                record(seq, t)
            ));
        }
        if let Some(other) = seen.insert(seq, *id) {
            return Err(format!("seq {seq} stored twice: {other} and {id}"));
        }
        if r.time < horizon {
            return Err(format!(
                "record {id} (seq {seq}) at {} is older than the horizon {horizon}",
                r.time
            ));
        }
        if ex.absent.contains(&seq) {
            return Err(format!(
                "record {id} (seq {seq}) came back after a reopen found it absent or expired"
            ));
        }
        if let Some(k) = ex.known.get(&seq)
            && k != id
        {
            return Err(format!("seq {seq} was acknowledged as {k}, found as {id}"));
        }
    }
    let mut expired = Vec::new();
    for (&seq, &id) in &ex.known {
        let t = ex.tried[&seq];
        if t >= horizon {
            if !seen.contains_key(&seq) {
                return Err(format!(
                    "record {id} (seq {seq}, time {t}) was acknowledged (or seen after an \
                     earlier reopen) and is lost; horizon {horizon}"
                ));
            }
        } else {
            match p.get(id) {
                Ok(None) => expired.push(seq),
                other => {
                    return Err(format!(
                        "record {id} (seq {seq}) past the horizon: get returned {other:?}"
                    ));
                }
            }
        }
    }
    stats.expired += expired.len() as u64;
    for seq in expired {
        ex.known.remove(&seq);
        ex.absent.insert(seq);
    }
    // What was tried and not acknowledged is now either kept or gone for good.
    if let Some(Pending::Append(seqs)) = pending {
        let kept = seqs.iter().filter(|s| seen.contains_key(s)).count();
        stats.unacked_kept += kept as u64;
        if kept != 0 && kept != seqs.len() {
            // Not a documented guarantee for a crash ("all or nothing"
            // speaks of refusals and failed writes); reported in the stats.
            let part = mode
                .partition()
                .unwrap_or(Duration::from_secs(3600))
                .as_micros() as i64;
            let parts: BTreeSet<i64> = seqs
                .iter()
                .map(|s| ex.tried[s].as_micros() / part)
                .collect();
            stats.partial_batches.push(format!(
                "{kept} of {} kept, {} partition(s)",
                seqs.len(),
                parts.len()
            ));
        }
    }
    let unsettled: Vec<u64> = ex
        .tried
        .keys()
        .filter(|s| !ex.known.contains_key(s) && !ex.absent.contains(s))
        .copied()
        .collect();
    for seq in unsettled {
        match seen.get(&seq) {
            Some(id) => {
                ex.known.insert(seq, *id);
            }
            None => {
                ex.absent.insert(seq);
            }
        }
    }

    // Runs: each one the model holds (within the horizon), in the state
    // after its acknowledged events or after the one in flight.
    let mut jobs: BTreeSet<&String> = ex.runs.keys().collect();
    jobs.extend(snap.runs.keys());
    let mut adopt = BTreeMap::new();
    for job in jobs {
        let got = snap.runs.get(job);
        let model = ex.runs.get(job);
        let mut candidates: Vec<Option<RunState>> = Vec::new();
        match model {
            Some(m) if m.trigger < horizon => candidates.push(None),
            Some(m) => {
                candidates.push(Some(m.clone()));
                match pending {
                    Some(Pending::Fail(j, a)) if j == job => {
                        for st in [RunStatus::Retrying, RunStatus::Failed] {
                            candidates.push(m.ended(*a, Outcome::Failed, st));
                        }
                    }
                    Some(Pending::Ok(j, a)) if j == job => {
                        candidates.push(m.ended(*a, Outcome::Succeeded, RunStatus::Successful));
                    }
                    Some(Pending::Claim) => candidates.push(m.claimed()),
                    _ => {}
                }
                candidates.retain(Option::is_some);
            }
            None => match pending {
                Some(Pending::Start(j, t)) if j == job => {
                    candidates.push(None);
                    candidates.push(Some(RunState::started(*t)));
                }
                _ => {
                    return Err(format!("run {job} was never started: {got:?}"));
                }
            },
        }
        let state = got.map(RunState::of);
        if !candidates.contains(&state) {
            return Err(format!(
                "run {job}: found {state:?}, expected one of {candidates:?} (horizon {horizon})\n\
                 full run: {got:?}"
            ));
        }
        if let Some(run) = got {
            if run.status == RunStatus::Successful
                && run
                    .attempts
                    .iter()
                    .any(|a| a.outcome == Outcome::Failed && !a.superseded)
            {
                return Err(format!(
                    "run {job} succeeded but a failure is not superseded: {run:?}"
                ));
            }
            let one = p.run(job).map_err(|e| format!("run({job}): {e}"))?;
            if one.as_ref() != Some(run) {
                return Err(format!("run({job}) = {one:?}, runs() listed {run:?}"));
            }
        } else if model.is_some_and(|m| m.trigger < horizon) {
            let one = p.run(job).map_err(|e| format!("run({job}): {e}"))?;
            if one.is_some() {
                return Err(format!(
                    "run {job} past the horizon is still returned: {one:?}"
                ));
            }
        }
        adopt.insert(job.clone(), state);
    }
    for (job, state) in adopt {
        if state.is_none() && ex.runs.contains_key(&job) {
            stats.expired_runs += 1;
        }
        match state {
            Some(s) => {
                ex.runs.insert(job, s);
            }
            None => {
                ex.runs.remove(&job);
            }
        }
    }

    // Presets: the acknowledged list, or the one being written.
    let mut k_candidates = vec![ex.preset_k];
    if let Some(Pending::Preset(j)) = pending {
        k_candidates.push(j + 1);
    }
    match k_candidates
        .iter()
        .find(|&&k| presets_after(k) == snap.presets)
    {
        Some(&k) => ex.preset_k = k,
        None => {
            return Err(format!(
                "presets after a kill are neither the acknowledged list ({} operations) nor \
                 the one being written: {:?}",
                ex.preset_k, snap.presets
            ));
        }
    }
    Ok(())
}

/// Reopen twice, check everything, then write a little more.
fn check_and_extend(
    mode: Mode,
    dir: &Path,
    i: usize,
    pending: Option<&Pending>,
    ex: &mut Expect,
    stats: &mut Stats,
) -> Result<(), String> {
    let clock = ManualClock::new(ex.clock);
    let first = {
        let store = open_store(options(mode, &clock, SyncPolicy::Manual), dir)
            .map_err(|e| format!("reopen after the kill: {e}"))?;
        let p = store
            .project(PROJECT)
            .map_err(|e| format!("reopen the project after the kill: {e}"))?;
        check_recovered_files(&p, stats)?;
        let snap = snapshot(&p)?;
        check_indexes(&p, &snap, stats)?;
        let dir = p.dir().display().to_string();
        for d in p.damage() {
            let file = d
                .path
                .extension()
                .map_or(String::new(), |e| e.to_string_lossy().into_owned());
            let reason = d.reason.replace(&dir, "<project>");
            *stats
                .damage
                .entry(format!(".{file}: {reason}"))
                .or_default() += 1;
        }
        snap
    };
    let store = open_store(options(mode, &clock, SyncPolicy::Manual), dir)
        .map_err(|e| format!("second reopen: {e}"))?;
    let p = store
        .project(PROJECT)
        .map_err(|e| format!("second reopen of the project: {e}"))?;
    let second = snapshot(&p)?;
    if first != second {
        let diff = |a: &Snapshot, b: &Snapshot| {
            format!(
                "records {} vs {}, runs {} vs {}, presets {} vs {}",
                a.records.len(),
                b.records.len(),
                a.runs.len(),
                b.runs.len(),
                a.presets.len(),
                b.presets.len()
            )
        };
        return Err(format!(
            "a second reopen read something else: {}",
            diff(&first, &second)
        ));
    }
    check_model(mode, &p, &second, pending, ex, stats)?;

    // The store takes new records and run events.
    let seq = ex.next_seq;
    ex.next_seq += 1;
    ex.tried.insert(seq, ex.clock);
    let r = record(seq, ex.clock);
    let id = p
        .append(&r)
        .map_err(|e| format!("append after the reopen: {e}"))?;
    ex.known.insert(seq, id);
    match p.get(id) {
        Ok(Some(s)) if s.record == r => {}
        other => return Err(format!("record appended after the reopen reads {other:?}")),
    }
    let job = format!("parent-{i}");
    p.start_run(&NewRun::new(job.as_str(), "flow-parent", Trigger::Event).triggered_at(ex.clock))
        .map_err(|e| format!("start a run after the reopen: {e}"))?;
    let run = p
        .attempt_failed(&job, 1, "parent: 500")
        .map_err(|e| format!("fail an attempt after the reopen: {e}"))?;
    let want = RunState::started(ex.clock)
        .ended(1, Outcome::Failed, RunStatus::Retrying)
        .expect("running");
    if RunState::of(&run) != want {
        return Err(format!("run started after the reopen: {run:?}"));
    }
    ex.runs.insert(job, want);
    p.sync()
        .map_err(|e| format!("sync after the reopen: {e}"))?;
    Ok(())
}
