//! Half-open time ranges, the console's range presets, and the text form
//! of instants. The instant itself, [`Timestamp`], is in `timestamp.rs`.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub(crate) mod timestamp;

pub use timestamp::Timestamp;
pub(crate) use timestamp::{duration_micros, rfc3339};

impl std::str::FromStr for Timestamp {
    type Err = Error;
    /// RFC 3339 (`2025-11-25T08:30:00Z`, any offset, up to nanoseconds,
    /// kept to microseconds), as [`Display`](fmt::Display) writes it.
    fn from_str(s: &str) -> Result<Timestamp> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| Timestamp::from(t.with_timezone(&Utc)))
            .map_err(|e| Error::InvalidArgument {
                what: "time",
                reason: format!("{s:?} is not an RFC 3339 time ({e}); e.g. 2025-11-25T08:30:00Z"),
            })
    }
}

/// A half-open range of instants, `[from, to)`.
///
/// ```
/// use runlog::{TimeRange, Timestamp};
/// let r = TimeRange::new(Timestamp::from_secs(10), Timestamp::from_secs(20))?;
/// assert!(r.contains(Timestamp::from_secs(10)));
/// assert!(!r.contains(Timestamp::from_secs(20)));
/// assert!(TimeRange::new(Timestamp::from_secs(20), Timestamp::from_secs(10)).is_err());
/// # Ok::<(), runlog::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimeRange {
    /// First instant in the range.
    pub from: Timestamp,
    /// First instant after the range.
    pub to: Timestamp,
}

impl TimeRange {
    /// `[from, to)`; `to` before `from` is [`Error::InvalidRange`].
    pub fn new(from: Timestamp, to: Timestamp) -> Result<Self> {
        if to < from {
            return Err(Error::InvalidRange { from, to });
        }
        Ok(TimeRange { from, to })
    }

    /// Every instant.
    pub const fn all() -> Self {
        TimeRange {
            from: Timestamp::MIN,
            to: Timestamp::MAX,
        }
    }

    /// Whether `t` lies in `[from, to)`.
    pub fn contains(&self, t: Timestamp) -> bool {
        self.from <= t && t < self.to
    }

    /// Whether the range holds no instant.
    pub fn is_empty(&self) -> bool {
        self.to <= self.from
    }
}

const MINUTE: i64 = 60 * 1_000_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// A named time range of the console's time picker, resolved against
/// "now" in the store's time zone (a fixed UTC offset; weeks start on
/// Monday).
///
/// "Last …" presets are `[now − d, now]`; calendar presets are whole local
/// days or weeks, up to now for the current one.
///
/// ```
/// use chrono::FixedOffset;
/// use runlog::{Preset, Timestamp};
/// // Wednesday 2023-11-15 10:30 UTC.
/// let now = Timestamp::from_secs(1_700_044_200);
/// let r = Preset::Yesterday.resolve(now, FixedOffset::east_opt(0).unwrap());
/// assert_eq!(r.from.to_string(), "2023-11-14T00:00:00.000Z");
/// assert_eq!(r.to.to_string(), "2023-11-15T00:00:00.000Z");
/// // In UTC+8 it is already 18:30, still Wednesday: this week starts Monday 00:00 local.
/// let r = Preset::ThisWeek.resolve(now, FixedOffset::east_opt(8 * 3600).unwrap());
/// assert_eq!(r.from.to_string(), "2023-11-12T16:00:00.000Z");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Preset {
    /// The last 5 minutes.
    Last5Minutes,
    /// The last 15 minutes.
    Last15Minutes,
    /// The last 30 minutes (the default range of a query).
    Last30Minutes,
    /// The last hour.
    LastHour,
    /// The last 6 hours.
    Last6Hours,
    /// The last 24 hours.
    LastDay,
    /// The last 3 days.
    Last3Days,
    /// The last 7 days.
    Last7Days,
    /// The last 30 days.
    Last30Days,
    /// Local midnight today until now.
    Today,
    /// The whole previous local day.
    Yesterday,
    /// The whole local day before yesterday.
    TwoDaysAgo,
    /// Local Monday 00:00 of this week until now.
    ThisWeek,
    /// The whole previous local Monday–Sunday week.
    LastWeek,
}

impl Preset {
    /// Every preset, in picker order.
    pub const ALL: [Preset; 14] = [
        Preset::Last5Minutes,
        Preset::Last15Minutes,
        Preset::Last30Minutes,
        Preset::LastHour,
        Preset::Last6Hours,
        Preset::LastDay,
        Preset::Last3Days,
        Preset::Last7Days,
        Preset::Last30Days,
        Preset::Today,
        Preset::Yesterday,
        Preset::TwoDaysAgo,
        Preset::ThisWeek,
        Preset::LastWeek,
    ];

    /// The range at `now` for a time zone at `offset` from UTC (the same
    /// offset type as [`StoreOptions::utc_offset`](crate::StoreOptions::utc_offset)).
    pub fn resolve(self, now: Timestamp, offset: FixedOffset) -> TimeRange {
        let utc_offset_secs = offset.local_minus_utc();
        let n = now.as_micros();
        // `[now − d, now]` as a half-open range.
        let last = |d: i64| TimeRange {
            from: Timestamp(n.saturating_sub(d)),
            to: Timestamp(n.saturating_add(1)),
        };
        let off = i64::from(utc_offset_secs) * 1_000_000;
        let local = n.saturating_add(off);
        let midnight = local.div_euclid(DAY) * DAY - off;
        // Days since 1970-01-01 (a Thursday); Monday = 0.
        let weekday = (local.div_euclid(DAY) + 3).rem_euclid(7);
        let monday = midnight - weekday * DAY;
        let span = |from: i64, to: i64| TimeRange {
            from: Timestamp(from),
            to: Timestamp(to),
        };
        match self {
            Preset::Last5Minutes => last(5 * MINUTE),
            Preset::Last15Minutes => last(15 * MINUTE),
            Preset::Last30Minutes => last(30 * MINUTE),
            Preset::LastHour => last(HOUR),
            Preset::Last6Hours => last(6 * HOUR),
            Preset::LastDay => last(DAY),
            Preset::Last3Days => last(3 * DAY),
            Preset::Last7Days => last(7 * DAY),
            Preset::Last30Days => last(30 * DAY),
            Preset::Today => span(midnight, n.saturating_add(1)),
            Preset::Yesterday => span(midnight - DAY, midnight),
            Preset::TwoDaysAgo => span(midnight - 2 * DAY, midnight - DAY),
            Preset::ThisWeek => span(monday, n.saturating_add(1)),
            Preset::LastWeek => span(monday - 7 * DAY, monday),
        }
    }

    /// The preset's name as accepted by [`FromStr`](std::str::FromStr):
    /// `last-5m`, `last-15m`, `last-30m`, `last-1h`, `last-6h`, `last-1d`,
    /// `last-3d`, `last-7d`, `last-30d`, `today`, `yesterday`,
    /// `2-days-ago`, `this-week`, `last-week`.
    pub const fn name(self) -> &'static str {
        match self {
            Preset::Last5Minutes => "last-5m",
            Preset::Last15Minutes => "last-15m",
            Preset::Last30Minutes => "last-30m",
            Preset::LastHour => "last-1h",
            Preset::Last6Hours => "last-6h",
            Preset::LastDay => "last-1d",
            Preset::Last3Days => "last-3d",
            Preset::Last7Days => "last-7d",
            Preset::Last30Days => "last-30d",
            Preset::Today => "today",
            Preset::Yesterday => "yesterday",
            Preset::TwoDaysAgo => "2-days-ago",
            Preset::ThisWeek => "this-week",
            Preset::LastWeek => "last-week",
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Preset {
    type Err = Error;
    fn from_str(s: &str) -> Result<Preset> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| Error::InvalidArgument {
                what: "preset",
                reason: format!(
                    "unknown preset {s:?}; one of {}",
                    Preset::ALL.map(|p| p.name()).join(", ")
                ),
            })
    }
}

/// Which time range a query covers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RangeSpec {
    /// A preset, resolved at query time.
    Preset(Preset),
    /// The last `d` before now, `[now − d, now]`.
    Last(Duration),
    /// A fixed range.
    Custom(TimeRange),
    /// A saved preset of the project, by name.
    Saved(String),
}

impl Default for RangeSpec {
    fn default() -> Self {
        RangeSpec::Preset(Preset::Last30Minutes)
    }
}

impl RangeSpec {
    /// [`Error::InvalidRange`] for a custom range that ends before it
    /// starts (its fields are public, so [`TimeRange::new`] may have been
    /// bypassed).
    pub(crate) fn check(&self) -> Result<()> {
        match self {
            RangeSpec::Custom(r) => TimeRange::new(r.from, r.to).map(|_| ()),
            _ => Ok(()),
        }
    }

    /// Resolve a range that does not name a saved preset; `None` for `Saved`.
    pub(crate) fn resolve_plain(&self, now: Timestamp, offset: FixedOffset) -> Option<TimeRange> {
        match self {
            RangeSpec::Preset(p) => Some(p.resolve(now, offset)),
            RangeSpec::Last(d) => Some(TimeRange {
                from: now.saturating_sub(*d),
                to: now.saturating_add(Duration::from_micros(1)),
            }),
            RangeSpec::Custom(r) => Some(*r),
            RangeSpec::Saved(_) => None,
        }
    }
}

/// A query's time range after resolution against "now".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedRange {
    /// The range searched.
    pub range: TimeRange,
    /// Whether the start was moved up to the retention horizon.
    pub clamped: bool,
}

impl ResolvedRange {
    /// Clamp `range` to start no earlier than `horizon`.
    pub(crate) fn clamp(range: TimeRange, horizon: Timestamp) -> Self {
        if range.from < horizon {
            ResolvedRange {
                range: TimeRange {
                    from: horizon,
                    to: range.to.max(horizon),
                },
                clamped: true,
            }
        } else {
            ResolvedRange {
                range,
                clamped: false,
            }
        }
    }
}

/// The time-range methods of a query builder with a `range: RangeSpec`
/// field (log queries and run queries share them); `$what` names what the
/// range selects and `$all` what an unlimited query returns, for the docs.
macro_rules! range_builders {
    ($what:literal, $all:literal) => {
        #[doc = concat!("Only ", $what, " in a preset range (default: [`Preset::Last30Minutes`](crate::Preset::Last30Minutes)).")]
        #[must_use]
        pub fn preset(mut self, preset: crate::time::Preset) -> Self {
            self.range = crate::time::RangeSpec::Preset(preset);
            self
        }

        #[doc = concat!("Only ", $what, " in the last `d` before now.")]
        #[must_use]
        pub fn last(mut self, d: std::time::Duration) -> Self {
            self.range = crate::time::RangeSpec::Last(d);
            self
        }

        #[doc = concat!("Only ", $what, " in a fixed range (see [`TimeRange::new`](crate::TimeRange::new)).")]
        #[must_use]
        pub fn range(mut self, range: crate::time::TimeRange) -> Self {
            self.range = crate::time::RangeSpec::Custom(range);
            self
        }

        #[doc = concat!("No time limit: ", $all, ".")]
        #[must_use]
        pub fn all_time(self) -> Self {
            self.range(crate::time::TimeRange::all())
        }

        #[doc = concat!("Only ", $what, " in a saved preset's range ([`Project::save_preset`](crate::Project::save_preset)).")]
        #[must_use]
        pub fn saved(mut self, name: impl Into<String>) -> Self {
            self.range = crate::time::RangeSpec::Saved(name.into());
            self
        }
    };
}
pub(crate) use range_builders;

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::from(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
    }

    fn hours(h: i32) -> FixedOffset {
        FixedOffset::east_opt(h * 3600).unwrap()
    }

    fn check(p: Preset, now: &str, off_h: i32, from: &str, to: &str) {
        let r = p.resolve(ts(now), hours(off_h));
        assert_eq!(
            (r.from, r.to),
            (ts(from), ts(to)),
            "{p} at {now} UTC{off_h:+}"
        );
    }

    #[test]
    fn last_presets_include_now() {
        let now = ts("2024-03-10T12:00:00Z");
        let r = Preset::Last15Minutes.resolve(now, hours(0));
        assert_eq!(r.from, ts("2024-03-10T11:45:00Z"));
        assert!(r.contains(now));
        assert!(!r.contains(now.saturating_add(Duration::from_micros(1))));
        assert_eq!(
            Preset::Last30Days.resolve(now, hours(5)).from,
            ts("2024-02-09T12:00:00Z")
        );
    }

    #[test]
    fn calendar_presets_around_midnight_and_offsets() {
        // Just after local midnight in UTC+8 (still the previous day in UTC).
        check(
            Preset::Today,
            "2024-01-01T16:00:00Z",
            8,
            "2024-01-01T16:00:00Z",
            "2024-01-01T16:00:00.000001Z",
        );
        check(
            Preset::Yesterday,
            "2024-01-01T16:00:00Z",
            8,
            "2023-12-31T16:00:00Z",
            "2024-01-01T16:00:00Z",
        );
        // Just before local midnight: still "today".
        check(
            Preset::Today,
            "2024-01-01T15:59:59.999999Z",
            8,
            "2023-12-31T16:00:00Z",
            "2024-01-01T16:00:00Z",
        );
        // Negative offset, across a year end.
        check(
            Preset::Yesterday,
            "2024-01-01T03:00:00Z",
            -5,
            "2023-12-30T05:00:00Z",
            "2023-12-31T05:00:00Z",
        );
        check(
            Preset::TwoDaysAgo,
            "2024-03-01T00:30:00Z",
            0,
            "2024-02-28T00:00:00Z",
            "2024-02-29T00:00:00Z",
        );
    }

    #[test]
    fn weeks_start_on_monday() {
        // 2024-01-01 is a Monday.
        check(
            Preset::ThisWeek,
            "2024-01-01T00:00:00Z",
            0,
            "2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00.000001Z",
        );
        check(
            Preset::LastWeek,
            "2024-01-01T00:00:00Z",
            0,
            "2023-12-25T00:00:00Z",
            "2024-01-01T00:00:00Z",
        );
        // Sunday 23:59 UTC is Monday 07:59 in UTC+8: a new week there.
        check(
            Preset::ThisWeek,
            "2024-01-07T23:59:00Z",
            8,
            "2024-01-07T16:00:00Z",
            "2024-01-07T23:59:00.000001Z",
        );
        check(
            Preset::ThisWeek,
            "2024-01-07T23:59:00Z",
            0,
            "2024-01-01T00:00:00Z",
            "2024-01-07T23:59:00.000001Z",
        );
        // Monday 02:00 UTC is still Sunday in UTC-5.
        check(
            Preset::LastWeek,
            "2024-01-08T02:00:00Z",
            -5,
            "2023-12-25T05:00:00Z",
            "2024-01-01T05:00:00Z",
        );
    }

    #[test]
    fn names_round_trip_and_clamping() {
        for p in Preset::ALL {
            assert_eq!(p.name().parse::<Preset>().unwrap(), p);
        }
        assert!("last-2m".parse::<Preset>().is_err());
        let r = TimeRange::new(Timestamp(0), Timestamp(100)).unwrap();
        assert_eq!(
            ResolvedRange::clamp(r, Timestamp(40)),
            ResolvedRange {
                range: TimeRange::new(Timestamp(40), Timestamp(100)).unwrap(),
                clamped: true
            }
        );
        assert!(!ResolvedRange::clamp(r, Timestamp(0)).clamped);
        assert_eq!(
            ResolvedRange::clamp(r, Timestamp(500)).range,
            TimeRange::new(Timestamp(500), Timestamp(500)).unwrap()
        );
    }
}
