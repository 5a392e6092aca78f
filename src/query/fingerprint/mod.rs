//! Cursor fingerprints: a query's filters and range written field by
//! field into bytes, then hashed with FNV-1a 64.
//!
//! The encoding is documented byte for byte in the [cursor
//! module](super::cursor) (section "Fingerprints"); this module is its only
//! implementation. Nothing here depends on derived `Hash` impls, on `std`'s
//! hashers or on the declaration order of any type, so a fingerprint stays
//! the same across compiler versions and across releases of runlog that do
//! not change the documented encoding. The golden tests below pin it.

use crate::record::{Field, Level};
use crate::runs::status::{RunStatus, Trigger};
use crate::time::RangeSpec;

/// First byte of a log query's encoding (a log cursor is taken by log
/// queries and exports).
const LOGS: u8 = b'L';
/// First byte of a run query's encoding.
const RUNS: u8 = b'R';
/// Second byte of both encodings; a new encoding gets a new version.
const ENCODING_VERSION: u8 = 1;

/// Range tags.
const RANGE_PRESET: u8 = 1;
const RANGE_LAST: u8 = 2;
const RANGE_CUSTOM: u8 = 3;
const RANGE_SAVED: u8 = 4;

/// FNV-1a 64 offset basis.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64 prime.
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Where encoded bytes go: a hash, or (in tests) a buffer.
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// FNV-1a 64 over every byte put, in order.
struct Fnv1a(u64);

impl Sink for Fnv1a {
    fn put(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(FNV_PRIME);
        }
    }
}

/// FNV-1a 64 of `bytes`.
#[cfg(test)]
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h = Fnv1a(FNV_OFFSET);
    h.put(bytes);
    h.0
}

/// The fingerprint of a log query: FNV-1a 64 of [`encode_logs`].
pub(crate) fn logs<'a>(
    range: &RangeSpec,
    levels: u8,
    include_superseded: bool,
    exact: impl IntoIterator<Item = (Field, &'a str)>,
    words: &[String],
) -> u64 {
    let mut h = Fnv1a(FNV_OFFSET);
    encode_logs(&mut h, range, levels, include_superseded, exact, words);
    h.0
}

/// What a run query's fingerprint covers, borrowed from the query.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunFilters<'a> {
    pub(crate) range: &'a RangeSpec,
    /// The name filters: flow, env, app, version, job ID, in that order.
    pub(crate) names: [Option<&'a str>; 5],
    /// The mask of wanted status codes.
    pub(crate) statuses: u8,
    /// The mask of wanted trigger codes.
    pub(crate) triggers: u8,
}

/// The fingerprint of a run query's filters and range: FNV-1a 64 of [`encode_runs`].
pub(crate) fn runs(q: &RunFilters<'_>) -> u64 {
    let mut h = Fnv1a(FNV_OFFSET);
    encode_runs(&mut h, q);
    h.0
}

/// A log query's filters and range as documented: `levels` is the mask of
/// wanted level codes (`0b1111` when any level is), `exact` the equality
/// filters (at most one per field), `words` the lower-cased words (a set).
pub(crate) fn encode_logs<'a>(
    out: &mut impl Sink,
    range: &RangeSpec,
    levels: u8,
    include_superseded: bool,
    exact: impl IntoIterator<Item = (Field, &'a str)>,
    words: &[String],
) {
    out.put(&[LOGS, ENCODING_VERSION]);
    encode_range(out, range);
    let mask = Level::ALL
        .into_iter()
        .filter(|l| levels & (1 << l.code()) != 0)
        .fold(0u8, |m, l| m | 1 << level_bit(l));
    out.put(&[mask, u8::from(include_superseded)]);
    // Sets: in a canonical order, whatever order they were given in.
    let mut exact: Vec<(&str, &str)> = exact.into_iter().map(|(f, v)| (f.name(), v)).collect();
    exact.sort_unstable();
    exact.dedup();
    count(out, exact.len());
    for (name, value) in exact {
        string(out, name);
        string(out, value);
    }
    let mut words: Vec<&str> = words.iter().map(String::as_str).collect();
    words.sort_unstable();
    words.dedup();
    count(out, words.len());
    for w in words {
        string(out, w);
    }
}

/// A run query's filters and range as documented.
pub(crate) fn encode_runs(out: &mut impl Sink, q: &RunFilters<'_>) {
    out.put(&[RUNS, ENCODING_VERSION]);
    encode_range(out, q.range);
    for f in q.names {
        match f {
            None => out.put(&[0]),
            Some(v) => {
                out.put(&[1]);
                string(out, v);
            }
        }
    }
    let statuses = RunStatus::ALL
        .into_iter()
        .filter(|s| q.statuses & (1 << s.code()) != 0)
        .fold(0u8, |m, s| m | 1 << status_bit(s));
    let triggers = Trigger::ALL
        .into_iter()
        .filter(|t| q.triggers & (1 << t.code()) != 0)
        .fold(0u8, |m, t| m | 1 << trigger_bit(t));
    out.put(&[statuses, triggers]);
}

/// The range as given (a preset by name, not its resolution: a relative
/// preset's cursor keeps working as time moves).
fn encode_range(out: &mut impl Sink, range: &RangeSpec) {
    match range {
        RangeSpec::Preset(p) => {
            out.put(&[RANGE_PRESET]);
            string(out, p.name());
        }
        RangeSpec::Last(d) => {
            out.put(&[RANGE_LAST]);
            out.put(&d.as_secs().to_le_bytes());
            out.put(&d.subsec_nanos().to_le_bytes());
        }
        RangeSpec::Custom(r) => {
            out.put(&[RANGE_CUSTOM]);
            out.put(&r.from.as_micros().to_le_bytes());
            out.put(&r.to.as_micros().to_le_bytes());
        }
        RangeSpec::Saved(name) => {
            out.put(&[RANGE_SAVED]);
            string(out, name);
        }
    }
}

/// A count of items, as a u64.
fn count(out: &mut impl Sink, n: usize) {
    out.put(&(n as u64).to_le_bytes());
}

/// A string: its length in bytes as a u64, then its UTF-8 bytes.
fn string(out: &mut impl Sink, s: &str) {
    count(out, s.len());
    out.put(s.as_bytes());
}

// The bits of the documented masks, spelled out rather than taken from the
// enums' representations.

fn level_bit(l: Level) -> u8 {
    match l {
        Level::Debug => 0,
        Level::Info => 1,
        Level::Warn => 2,
        Level::Error => 3,
    }
}

fn status_bit(s: RunStatus) -> u8 {
    match s {
        RunStatus::Running => 0,
        RunStatus::Retrying => 1,
        RunStatus::Successful => 2,
        RunStatus::Failed => 3,
    }
}

fn trigger_bit(t: Trigger) -> u8 {
    match t {
        Trigger::Scheduler => 0,
        Trigger::Event => 1,
        Trigger::Manual => 2,
    }
}

#[cfg(test)]
mod tests;
