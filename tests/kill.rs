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
//!
//! The harness (modes, the parent's loop, its checks, the ack file's
//! lines) is in `tests/common/kill/`.

mod common;
#[path = "common/kill/mod.rs"]
mod harness;

use std::fs::OpenOptions;
use std::path::Path;
use std::time::{Duration, Instant};

use common::rng::{Random, Rng};
use harness::*;
use runlog::{LogRecord, MAX_LIMIT, ManualClock, NewRun, RunQuery, RunStatus, Timestamp, Trigger};

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
        let page = p.query_runs(&q).expect("list running runs");
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
                let tickets = p.due_retries_at(now).expect("due retries");
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
