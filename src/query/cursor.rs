//! Opaque page cursors: where a page ended, for which filter and range.
//!
//! Text form: URL-safe base64 (no padding) of 49 bytes:
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0  | 1 | version, `1` |
//! | 1  | 8 | fingerprint of the query's filters and range (as given: a preset, not its resolution) |
//! | 9  | 8 | range start (µs) |
//! | 17 | 8 | range end (µs) |
//! | 25 | 8 | time of the last record returned (µs) |
//! | 33 | 4 | its partition |
//! | 37 | 4 | its generation |
//! | 41 | 4 | its ordinal |
//! | 45 | 4 | CRC32 of bytes 0..45 |
//!
//! Run cursors ([`RunCursor`](crate::RunCursor)) are laid out in
//! `src/runs/select.rs`; they carry a fingerprint too.
//!
//! # Fingerprints
//!
//! A cursor's fingerprint is the FNV-1a 64 hash (offset basis
//! `0xcbf29ce484222325`, prime `0x100000001b3`: for each byte,
//! `h = (h ^ byte) * prime` modulo 2⁶⁴) of the query's filters and range
//! written into bytes as below. The encoding is explicit, so the
//! fingerprint does not change with the compiler, the standard library or
//! the declaration order of runlog's types (no derived `Hash`, no `std`
//! hasher); the golden tests in `src/query/fingerprint/` pin it.
//!
//! Integers are little-endian. A *string* is its length in bytes (u64),
//! then its UTF-8 bytes; a *count* is a u64. Lengths and counts keep
//! split points apart: words `["ab", "c"]` and `["a", "bc"]` differ.
//!
//! A log query (taken by [`Project::query`](crate::Project::query),
//! [`Project::query_view`](crate::Project::query_view) and
//! [`Project::export`](crate::Project::export)):
//!
//! | size | field |
//! |-----:|-------|
//! | 1 | `L` (`0x4C`) |
//! | 1 | encoding version, `1` |
//! | … | the range, below |
//! | 1 | levels wanted, a bit each: debug `0x1`, info `0x2`, warn `0x4`, error `0x8`; no level filter is `0xF` |
//! | 1 | `1` if superseded attempts are included, else `0` |
//! | 8 | count of equality filters, then for each, ordered by field name (bytewise): the field name (`action`, `app`, `category`, `component`, `env`, `flow`, `job_id`, `version`) as a string, the value as a string |
//! | 8 | count of text words, then each lower-cased word as a string, ordered bytewise, without duplicates |
//!
//! A run query ([`Project::query_runs`](crate::Project::query_runs),
//! [`Project::scheduled_tasks`](crate::Project::scheduled_tasks)):
//!
//! | size | field |
//! |-----:|-------|
//! | 1 | `R` (`0x52`) |
//! | 1 | encoding version, `1` |
//! | … | the range, below |
//! | … | five optional filters in this order: flow, env, app, version, job ID; each `0` if absent, else `1` and the value as a string |
//! | 1 | statuses wanted, a bit each: running `0x1`, retrying `0x2`, successful `0x4`, failed `0x8`; `0` for no status filter |
//! | 1 | triggers wanted, a bit each: scheduler `0x1`, event `0x2`, manual `0x4`; `0` for no trigger filter |
//!
//! The range, as given (a preset by name, not its resolution: the cursor of
//! "last 30 minutes" keeps working as time moves):
//!
//! | tag (1 byte) | then |
//! |---:|------|
//! | `1` preset | its name as a string (`last-30m`, `today`, …: [`Preset::name`](crate::Preset::name)) |
//! | `2` last `d` | whole seconds of `d` (u64), then its nanoseconds past them (u32) |
//! | `3` custom | start, then end (i64 µs each) |
//! | `4` saved preset | its name as a string |
//!
//! Equality filters and words are sets (the order they were given in
//! does not matter), hence the canonical order. The limit, the cursor
//! itself and count buckets are not part of a query's fingerprint.
//!
//! Changes: earlier builds hashed the filters with an internal hasher and
//! the range through its derived `Hash`. A cursor they issued is refused
//! with [`Error::CursorMismatch`] (a typed error, once: the query's first
//! page, asked again, gives cursors of this encoding).

use std::fmt;
use std::str::FromStr;

use crate::codec::{decode_b64, encode_b64, i64_at, u32_at, u64_at};
use crate::error::{Error, Result};
use crate::record::{RecordId, SegmentId};
use crate::time::{TimeRange, Timestamp};

const LEN: usize = 49;
const VERSION: u8 = 1;

/// Where a page of results ended: pass it to
/// [`Query::after`](crate::Query::after) for the next page.
///
/// A cursor stays valid while records keep arriving and across restarts;
/// once retention has dropped what it pointed into, the next page is
/// simply empty. It carries a fingerprint of its query's filters and time
/// range, so using it with another query (other filters or another range;
/// another limit is fine) is refused with [`Error::CursorMismatch`]. The
/// range is kept as the first page resolved it: "last 30 minutes" pages
/// through the same 30 minutes however long the paging takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub(crate) fingerprint: u64,
    pub(crate) range: TimeRange,
    pub(crate) time: Timestamp,
    pub(crate) id: RecordId,
}

impl Cursor {
    fn to_bytes(self) -> [u8; LEN] {
        let mut b = [0u8; LEN];
        b[0] = VERSION;
        b[1..9].copy_from_slice(&self.fingerprint.to_le_bytes());
        b[9..17].copy_from_slice(&self.range.from.as_micros().to_le_bytes());
        b[17..25].copy_from_slice(&self.range.to.as_micros().to_le_bytes());
        b[25..33].copy_from_slice(&self.time.as_micros().to_le_bytes());
        b[33..37].copy_from_slice(&self.id.segment.partition.to_le_bytes());
        b[37..41].copy_from_slice(&self.id.segment.generation.to_le_bytes());
        b[41..45].copy_from_slice(&self.id.ordinal.to_le_bytes());
        let crc = crc32fast::hash(&b[..45]);
        b[45..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decode a cursor's bytes.
    pub fn from_bytes(b: &[u8]) -> Result<Cursor> {
        let bad = |reason: &str| Error::InvalidCursor {
            reason: reason.to_string(),
        };
        if b.len() != LEN {
            return Err(bad("wrong length"));
        }
        if crc32fast::hash(&b[..45]) != u32_at(b, 45) {
            return Err(bad("checksum mismatch (truncated or altered)"));
        }
        if b[0] != VERSION {
            return Err(bad("unknown cursor version"));
        }
        let range = TimeRange::new(
            Timestamp::from_micros(i64_at(b, 9)),
            Timestamp::from_micros(i64_at(b, 17)),
        )
        .map_err(|_| bad("inverted range"))?;
        Ok(Cursor {
            fingerprint: u64_at(b, 1),
            range,
            time: Timestamp::from_micros(i64_at(b, 25)),
            id: RecordId {
                segment: SegmentId {
                    partition: u32_at(b, 33),
                    generation: u32_at(b, 37),
                },
                ordinal: u32_at(b, 41),
            },
        })
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode_b64(&self.to_bytes()))
    }
}

impl FromStr for Cursor {
    type Err = Error;
    fn from_str(s: &str) -> Result<Cursor> {
        let bytes = decode_b64(s, 100).ok_or_else(|| Error::InvalidCursor {
            reason: "not a runlog cursor".into(),
        })?;
        Cursor::from_bytes(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip_and_rejects() {
        let c = Cursor {
            fingerprint: 0xdead_beef_0123_4567,
            range: TimeRange::new(Timestamp::from_secs(1), Timestamp::from_secs(9)).unwrap(),
            time: Timestamp::from_micros(5_000_123),
            id: RecordId {
                segment: SegmentId {
                    partition: 7,
                    generation: 1,
                },
                ordinal: 42,
            },
        };
        let s = c.to_string();
        assert_eq!(s.len(), 66);
        assert_eq!(s.parse::<Cursor>().unwrap(), c);
        for bad in ["", "abc", "!!!!", &s[..65], &format!("{s}A")] {
            assert!(
                matches!(bad.parse::<Cursor>(), Err(Error::InvalidCursor { .. })),
                "{bad}"
            );
        }
        // A changed character is caught by the checksum.
        let mut altered = s.clone().into_bytes();
        altered[10] = if altered[10] == b'A' { b'B' } else { b'A' };
        assert!(
            String::from_utf8(altered)
                .unwrap()
                .parse::<Cursor>()
                .is_err()
        );
    }
}
