//! Run queries: what to look for ([`RunQuery`]), what comes back
//! ([`RunPage`], [`RunCounts`]), and how it is found in a [`RunTable`].

use std::fmt;
use std::str::FromStr;

use roaring::RoaringBitmap;

use crate::codec::{decode_b64, encode_b64};
use crate::codec::{i64_at, u32_at, u64_at};
use crate::error::{Error, Result};
use crate::query::fingerprint::RunFilters;
use crate::record::{MAX_JOB_ID_BYTES, Text};
use crate::runs::table::{Part, RunTable};
use crate::runs::{Run, RunStatus, Trigger};
use crate::time::{RangeSpec, ResolvedRange, TimeRange, Timestamp};

/// A search over a project's runs by trigger time, newest first; every
/// filter given must match.
///
/// ```
/// use runlog::{Preset, RunQuery, RunStatus};
/// let q = RunQuery::scheduled()
///     .preset(Preset::Last7Days)
///     .flow("sync-orders")
///     .status(RunStatus::Failed)
///     .limit(100);
/// # let _ = q;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunQuery {
    pub(crate) range: RangeSpec,
    pub(crate) flow: Option<String>,
    pub(crate) env: Option<String>,
    pub(crate) app: Option<String>,
    pub(crate) version: Option<String>,
    pub(crate) job_id: Option<String>,
    /// Bit per status code; 0: any.
    pub(crate) statuses: u8,
    /// Bit per trigger code; 0: any.
    pub(crate) triggers: u8,
    pub(crate) limit: usize,
    pub(crate) cursor: Option<RunCursor>,
}

impl Default for RunQuery {
    fn default() -> Self {
        RunQuery {
            range: RangeSpec::default(),
            flow: None,
            env: None,
            app: None,
            version: None,
            job_id: None,
            statuses: 0,
            triggers: 0,
            limit: crate::query::DEFAULT_LIMIT,
            cursor: None,
        }
    }
}

impl RunQuery {
    /// Every run triggered in the last 30 minutes, 100 to a page.
    pub fn new() -> Self {
        Self::default()
    }

    /// Scheduled tasks: runs triggered by the Scheduler.
    pub fn scheduled() -> Self {
        Self::new().trigger(Trigger::Scheduler)
    }

    crate::time::range_builders!("runs triggered", "every run the store keeps");

    /// Only runs of this flow.
    #[must_use]
    pub fn flow(mut self, flow: impl Into<String>) -> Self {
        self.flow = Some(flow.into());
        self
    }

    /// Only runs in this environment.
    #[must_use]
    pub fn env(mut self, env: impl Into<String>) -> Self {
        self.env = Some(env.into());
        self
    }

    /// Only runs of this app.
    #[must_use]
    pub fn app(mut self, app: impl Into<String>) -> Self {
        self.app = Some(app.into());
        self
    }

    /// Only runs of this app version.
    #[must_use]
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Only the run of this job.
    #[must_use]
    pub fn job_id(mut self, job_id: impl Into<String>) -> Self {
        self.job_id = Some(job_id.into());
        self
    }

    /// Also accept runs with this status (calling it again widens the set).
    #[must_use]
    pub fn status(mut self, status: RunStatus) -> Self {
        self.statuses |= 1 << status.code();
        self
    }

    /// Also accept runs with this trigger (calling it again widens the set).
    #[must_use]
    pub fn trigger(mut self, trigger: Trigger) -> Self {
        self.triggers |= 1 << trigger.code();
        self
    }

    /// At most `n` runs per page (1 to [`MAX_LIMIT`](crate::query::MAX_LIMIT); default 100).
    #[must_use]
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = n.clamp(1, crate::query::MAX_LIMIT);
        self
    }

    /// Continue after the page that returned `cursor`.
    #[must_use]
    pub fn after(mut self, cursor: RunCursor) -> Self {
        self.cursor = Some(cursor);
        self
    }

    fn wants_status(&self, s: RunStatus) -> bool {
        self.statuses == 0 || self.statuses & (1 << s.code()) != 0
    }

    fn wants_trigger(&self, t: Trigger) -> bool {
        self.triggers == 0 || self.triggers & (1 << t.code()) != 0
    }

    /// Whether `run` passes every filter (not the range).
    pub(crate) fn matches(&self, run: &Run) -> bool {
        let eq = |want: &Option<String>, have: &Text| want.as_deref().is_none_or(|w| w == have);
        eq(&self.flow, &run.flow)
            && eq(&self.env, &run.env)
            && eq(&self.app, &run.app)
            && eq(&self.version, &run.version)
            && eq(&self.job_id, &run.job_id)
            && self.wants_status(run.status)
            && self.wants_trigger(run.trigger)
    }

    /// The fingerprint of the filters and the range as given, carried by
    /// cursors (its encoding is documented in [`cursor`](crate::query::cursor)).
    pub(crate) fn fingerprint(&self) -> u64 {
        crate::query::fingerprint::runs(&self.filters())
    }

    /// What the fingerprint covers.
    pub(crate) fn filters(&self) -> RunFilters<'_> {
        RunFilters {
            range: &self.range,
            names: [
                self.flow.as_deref(),
                self.env.as_deref(),
                self.app.as_deref(),
                self.version.as_deref(),
                self.job_id.as_deref(),
            ],
            statuses: self.statuses,
            triggers: self.triggers,
        }
    }

    /// The candidates of `part` by its bitmaps; `None`: every run.
    /// Statuses are left to the caller (counts split by them).
    fn candidates(&self, part: &Part) -> Option<RoaringBitmap> {
        let mut sets: Vec<&RoaringBitmap> = Vec::new();
        let empty = Some(RoaringBitmap::new());
        for (want, map) in [
            (&self.flow, &part.flows),
            (&self.env, &part.envs),
            (&self.app, &part.apps),
            (&self.version, &part.versions),
        ] {
            if let Some(v) = want {
                match map.get(v.as_str()) {
                    Some(bm) => sets.push(bm),
                    None => return empty,
                }
            }
        }
        let mut triggers = None;
        if self.triggers != 0 && self.triggers != 0b111 {
            let mut u = RoaringBitmap::new();
            for t in Trigger::ALL {
                if self.wants_trigger(t) {
                    u |= &part.trigger[t.code() as usize];
                }
            }
            triggers = Some(u);
        }
        if let Some(t) = &triggers {
            sets.push(t);
        }
        sets.sort_by_key(|s| s.len());
        let (first, rest) = sets.split_first()?;
        let mut acc = (*first).clone();
        for s in rest {
            if acc.is_empty() {
                break;
            }
            acc &= *s;
        }
        Some(acc)
    }

    fn status_filter(&self, part: &Part, cand: Option<RoaringBitmap>) -> Option<RoaringBitmap> {
        if self.statuses == 0 || self.statuses == 0b1111 {
            return cand;
        }
        let mut u = RoaringBitmap::new();
        for s in RunStatus::ALL {
            if self.wants_status(s) {
                u |= &part.status[s.code() as usize];
            }
        }
        Some(match cand {
            Some(c) => c & u,
            None => u,
        })
    }
}

/// One page of runs, newest first by trigger time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunPage {
    /// The runs, newest first (ties by job ID, highest first).
    pub runs: Vec<Run>,
    /// Where to continue, if more runs may follow.
    pub next: Option<RunCursor>,
    /// The range searched, and whether it was clamped to the retention horizon.
    pub range: ResolvedRange,
}

/// How many runs match a [`RunQuery`], per status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunCounts {
    /// All matches.
    pub total: u64,
    /// Matches per status, indexed by [`RunStatus::code`].
    pub by_status: [u64; 4],
    /// The range counted, and whether it was clamped.
    pub range: Option<ResolvedRange>,
}

impl RunCounts {
    /// Matches with `status`.
    pub fn status(&self, status: RunStatus) -> u64 {
        self.by_status[status.code() as usize]
    }
}

/// Where a page of runs ended: pass it to [`RunQuery::after`]. Valid
/// across restarts; refused ([`Error::CursorMismatch`]) with another
/// query's filters or range.
///
/// Text form: URL-safe base64 of: `R` (1 byte), fingerprint of the filters
/// and range (8; its encoding is documented in `src/query/cursor.rs`),
/// range start and end (8 + 8, µs), the last run's trigger time (8) and
/// job ID (1-byte length, then the bytes), CRC32 of all before (4).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RunCursor {
    pub(crate) fingerprint: u64,
    pub(crate) range: TimeRange,
    pub(crate) time: Timestamp,
    pub(crate) job_id: Text,
}

const CURSOR_KIND: u8 = b'R';

impl RunCursor {
    fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(34 + self.job_id.len() + 4);
        b.push(CURSOR_KIND);
        b.extend_from_slice(&self.fingerprint.to_le_bytes());
        b.extend_from_slice(&self.range.from.as_micros().to_le_bytes());
        b.extend_from_slice(&self.range.to.as_micros().to_le_bytes());
        b.extend_from_slice(&self.time.as_micros().to_le_bytes());
        b.push(self.job_id.len() as u8);
        b.extend_from_slice(self.job_id.as_bytes());
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decode a run cursor's bytes.
    pub fn from_bytes(b: &[u8]) -> Result<RunCursor> {
        let bad = |reason: &str| Error::InvalidCursor {
            reason: reason.to_string(),
        };
        if b.len() < 34 + 4 || b.len() != 34 + usize::from(b[33]) + 4 {
            return Err(bad("wrong length"));
        }
        let n = b.len() - 4;
        if crc32fast::hash(&b[..n]) != u32_at(b, n) {
            return Err(bad("checksum mismatch (truncated or altered)"));
        }
        if b[0] != CURSOR_KIND {
            return Err(bad("not a run cursor"));
        }
        let job = std::str::from_utf8(&b[34..n]).map_err(|_| bad("job ID is not UTF-8"))?;
        if job.len() > MAX_JOB_ID_BYTES {
            return Err(bad("job ID too long"));
        }
        let range = TimeRange::new(
            Timestamp::from_micros(i64_at(b, 9)),
            Timestamp::from_micros(i64_at(b, 17)),
        )
        .map_err(|_| bad("inverted range"))?;
        Ok(RunCursor {
            fingerprint: u64_at(b, 1),
            range,
            time: Timestamp::from_micros(i64_at(b, 25)),
            job_id: job.into(),
        })
    }
}

impl fmt::Display for RunCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode_b64(&self.to_bytes()))
    }
}

impl FromStr for RunCursor {
    type Err = Error;
    fn from_str(s: &str) -> Result<RunCursor> {
        let bytes = decode_b64(s, 240).ok_or_else(|| Error::InvalidCursor {
            reason: "not a runlog run cursor".into(),
        })?;
        RunCursor::from_bytes(&bytes)
    }
}

/// A sort key: trigger time (µs), then job ID.
type Key<'a> = (i64, &'a str);

/// The runs matching `q` triggered in `[from, upper)` (by key), newest first, at most `limit`.
/// Returns them and whether the page filled up.
pub(crate) fn page(
    table: &RunTable,
    q: &RunQuery,
    from: i64,
    upper: (i64, &str),
    limit: usize,
    partition_len: i64,
) -> (Vec<Run>, bool) {
    let mut out = Vec::new();
    if let Some(job) = &q.job_id {
        if let Some(r) = table.get(job)
            && q.matches(r)
            && r.trigger_time.as_micros() >= from
            && (r.trigger_time.as_micros(), r.job_id.as_str()) < upper
        {
            out.push(r.clone());
        }
        let full = out.len() >= limit;
        return (out, full);
    }
    for (&p, part) in table.parts.iter().rev() {
        let start = i64::from(p).saturating_mul(partition_len);
        let end = start.saturating_add(partition_len);
        if start > upper.0 {
            continue;
        }
        if end <= from {
            break;
        }
        let cand = q.status_filter(part, q.candidates(part));
        let hi = part.order.partition_point(|&pos| part.key(pos) < upper);
        let want = limit - out.len();
        match &cand {
            // Few candidates: sort them.
            Some(c) if (c.len() as usize) * 8 < hi => {
                let mut keys: Vec<(Key<'_>, u32)> = c
                    .iter()
                    .map(|pos| (part.key(pos), pos))
                    .filter(|(k, _)| *k < upper && k.0 >= from)
                    .collect();
                keys.sort_unstable_by(|a, b| b.cmp(a));
                out.extend(
                    keys.iter()
                        .take(want)
                        .map(|(_, pos)| part.runs[*pos as usize].clone()),
                );
            }
            // Many: walk the time order down.
            _ => {
                for &pos in part.order[..hi].iter().rev() {
                    if part.key(pos).0 < from {
                        break;
                    }
                    if cand.as_ref().is_none_or(|c| c.contains(pos)) {
                        out.push(part.runs[pos as usize].clone());
                        if out.len() >= limit {
                            break;
                        }
                    }
                }
            }
        }
        if out.len() >= limit {
            return (out, true);
        }
    }
    (out, false)
}

/// Count the runs matching `q` triggered in `[from, to)`, per status.
pub(crate) fn count(
    table: &RunTable,
    q: &RunQuery,
    from: i64,
    to: i64,
    partition_len: i64,
) -> [u64; 4] {
    let mut by = [0u64; 4];
    if let Some(job) = &q.job_id {
        if let Some(r) = table.get(job)
            && q.matches(r)
            && (from..to).contains(&r.trigger_time.as_micros())
        {
            by[r.status.code() as usize] += 1;
        }
        return by;
    }
    for (&p, part) in &table.parts {
        let start = i64::from(p).saturating_mul(partition_len);
        let end = start.saturating_add(partition_len);
        if end <= from || start >= to {
            continue;
        }
        let cand = q.candidates(part);
        let whole = start >= from && end <= to;
        for s in RunStatus::ALL {
            if !q.wants_status(s) {
                continue;
            }
            let bm = &part.status[s.code() as usize];
            by[s.code() as usize] += match (&cand, whole) {
                (None, true) => bm.len(),
                (Some(c), true) => c.intersection_len(bm),
                (c, false) => {
                    let set = match c {
                        Some(c) => c & bm,
                        None => bm.clone(),
                    };
                    set.iter()
                        .filter(|&pos| (from..to).contains(&part.key(pos).0))
                        .count() as u64
                }
            };
        }
    }
    by
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_text_round_trip_and_rejects() {
        let c = RunCursor {
            fingerprint: 7,
            range: TimeRange::new(Timestamp::from_secs(1), Timestamp::from_secs(9)).unwrap(),
            time: Timestamp::from_secs(5),
            job_id: "job-ü-1".into(),
        };
        let s = c.to_string();
        assert_eq!(s.parse::<RunCursor>().unwrap(), c);
        let log_cursor_like = "A".repeat(66);
        for bad in [
            "",
            "abc",
            &s[..s.len() - 1],
            &format!("{s}A"),
            &log_cursor_like,
        ] {
            assert!(
                matches!(bad.parse::<RunCursor>(), Err(Error::InvalidCursor { .. })),
                "{bad}"
            );
        }
    }
}
