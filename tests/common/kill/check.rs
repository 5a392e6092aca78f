//! The parent's checks of a store reopened after a kill: files as recovery
//! leaves them, indexes agreeing with the records, and records, runs and
//! presets against what the children acknowledged; then a little more
//! written.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::time::Duration;

use super::parent::{Expect, Pending, RunState, Stats};
use super::*;
use runlog::{
    Level, LogRecord, MAX_LIMIT, ManualClock, NewRun, Outcome, Project, Query, RecordId, Run,
    RunQuery, RunStatus, SavedRange, SyncPolicy, TimeRange, Timestamp, Trigger,
};

/// Everything one open of the store returns.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub records: Vec<(RecordId, LogRecord)>,
    pub runs: BTreeMap<String, Run>,
    pub presets: Vec<(String, SavedRange)>,
}

pub fn snapshot(p: &Project) -> Result<Snapshot, String> {
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
        let page = p.query_runs(&q).map_err(|e| format!("runs: {e}"))?;
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
pub fn check_recovered_files(p: &Project, stats: &mut Stats) -> Result<(), String> {
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
pub fn check_indexes(p: &Project, snap: &Snapshot, stats: &mut Stats) -> Result<(), String> {
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
pub fn check_model(
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
pub fn check_and_extend(
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
