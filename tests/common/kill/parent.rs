//! The parent: one child per iteration, killed at a random moment, then
//! the store checked and extended; what must hold across iterations.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::check::check_and_extend;
use super::*;
use crate::common::T0;
use crate::common::rng::{Random, Rng};
use runlog::{Outcome, RecordId, Run, RunStatus, Timestamp};

/// A run as the tests compare it: status, attempts (number, outcome), trigger time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunState {
    pub status: RunStatus,
    pub attempts: Vec<(u32, Outcome)>,
    pub trigger: Timestamp,
}

impl RunState {
    pub fn of(run: &Run) -> RunState {
        RunState {
            status: run.status,
            attempts: run.attempts.iter().map(|a| (a.number, a.outcome)).collect(),
            trigger: run.trigger_time,
        }
    }

    pub fn started(trigger: Timestamp) -> RunState {
        RunState {
            status: RunStatus::Running,
            attempts: vec![(1, Outcome::Running)],
            trigger,
        }
    }

    pub fn running(&self, attempt: u32) -> bool {
        self.status == RunStatus::Running
            && self.attempts.last() == Some(&(attempt, Outcome::Running))
    }

    /// Attempt `attempt` ended with `outcome`, the run now `status`.
    pub fn ended(&self, attempt: u32, outcome: Outcome, status: RunStatus) -> Option<RunState> {
        if !self.running(attempt) {
            return None;
        }
        let mut s = self.clone();
        *s.attempts.last_mut()? = (attempt, outcome);
        s.status = status;
        Some(s)
    }

    /// The next retry claimed.
    pub fn claimed(&self) -> Option<RunState> {
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
pub enum Pending {
    Append(Vec<u64>),
    Start(String, Timestamp),
    Fail(String, u32),
    Ok(String, u32),
    /// `due_retries`: any retrying run may have been claimed.
    Claim,
    Preset(u64),
}

#[derive(Debug)]
pub struct Expect {
    /// The latest time either process set its clock to.
    pub clock: Timestamp,
    pub next_seq: u64,
    /// Every record either process tried to write: its time.
    pub tried: BTreeMap<u64, Timestamp>,
    /// Records acknowledged, or seen after a reopen: they must stay (until
    /// past the horizon).
    pub known: BTreeMap<u64, RecordId>,
    /// Records tried and found absent after a reopen, or past the
    /// horizon: they must never appear.
    pub absent: BTreeSet<u64>,
    /// Every run the store must hold (until past the horizon).
    pub runs: BTreeMap<String, RunState>,
    /// Preset operations done.
    pub preset_k: u64,
}

/// Totals over a mode's iterations, printed at the end.
#[derive(Debug, Default)]
pub struct Stats {
    pub acked_records: u64,
    pub acked_run_events: u64,
    pub acked_presets: u64,
    pub syncs: u64,
    pub seals: u64,
    pub kills_before_open: u64,
    pub kills_in_flight: u64,
    pub unacked_kept: u64,
    /// Batches in flight found partly written: how much, across how many partitions.
    pub partial_batches: Vec<String>,
    /// What recovery and reads reported in `damage()`, by file type and reason.
    pub damage: BTreeMap<String, u64>,
    pub expired: u64,
    pub expired_runs: u64,
    pub max_sealed: usize,
    pub max_records: usize,
}

/// Kills the child if the parent panics before it did.
pub struct KillOnDrop(Option<Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn env_num(key: &str) -> Option<u64> {
    std::env::var(key).ok().map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{key}={v:?} is not a number"))
    })
}

pub fn run_mode(mode: Mode) {
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

pub fn output_text(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// One kill: spawn, wait, kill, then check and extend the store.
pub fn iteration(
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
pub fn apply_acks(
    text: &str,
    ex: &mut Expect,
    stats: &mut Stats,
) -> Result<Option<Pending>, String> {
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
