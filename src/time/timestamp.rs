//! The instant runlog keeps time in: whole microseconds since the Unix
//! epoch, UTC. That is finer than the millisecond precision the product
//! needs, fits an `i64` for ±292,000 years, and orders and compares
//! without allocation. Conversions to and from [`chrono::DateTime<Utc>`]
//! are provided for callers. Parsing text into a [`Timestamp`] lives with
//! the rest of the user-facing time text, in the parent module.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A UTC instant: whole microseconds since 1970-01-01T00:00:00Z.
///
/// ```
/// use runlog::Timestamp;
/// let t = Timestamp::from_millis(1_700_000_000_123);
/// assert_eq!(t.as_micros(), 1_700_000_000_123_000);
/// assert_eq!(t.to_string(), "2023-11-14T22:13:20.123Z");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(pub(super) i64);

impl Timestamp {
    /// The earliest representable instant.
    pub const MIN: Timestamp = Timestamp(i64::MIN);
    /// The latest representable instant.
    pub const MAX: Timestamp = Timestamp(i64::MAX);

    /// The operating system's wall clock now. A store reads its time from
    /// its [`Clock`](crate::Clock) instead, so that tests can set it.
    pub fn now() -> Self {
        use std::time::{SystemTime, UNIX_EPOCH};
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp(duration_micros(d)),
            Err(e) => Timestamp(-duration_micros(e.duration())),
        }
    }

    /// From microseconds since the Unix epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Timestamp(micros)
    }

    /// From milliseconds since the Unix epoch (saturating at the ends of the range).
    pub const fn from_millis(millis: i64) -> Self {
        Timestamp(millis.saturating_mul(1_000))
    }

    /// From whole seconds since the Unix epoch (saturating at the ends of the range).
    pub const fn from_secs(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(1_000_000))
    }

    /// Microseconds since the Unix epoch.
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// Milliseconds since the Unix epoch, rounded towards negative infinity.
    pub const fn as_millis(self) -> i64 {
        self.0.div_euclid(1_000)
    }

    /// This instant moved forward by `d` (saturating).
    pub fn saturating_add(self, d: Duration) -> Self {
        Timestamp(self.0.saturating_add(duration_micros(d)))
    }

    /// This instant moved back by `d` (saturating).
    pub fn saturating_sub(self, d: Duration) -> Self {
        Timestamp(self.0.saturating_sub(duration_micros(d)))
    }

    /// As a chrono UTC date-time (`None` outside chrono's range).
    pub fn to_datetime(self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_micros(self.0)
    }
}

/// `t + d`: [`saturating_add`](Timestamp::saturating_add).
///
/// ```
/// use runlog::Timestamp;
/// use std::time::Duration;
/// let t = Timestamp::from_secs(10);
/// assert_eq!(t + Duration::from_secs(5), Timestamp::from_secs(15));
/// assert_eq!(t - Duration::from_millis(500), Timestamp::from_millis(9_500));
/// assert_eq!(Timestamp::MAX + Duration::from_secs(1), Timestamp::MAX);
/// ```
impl std::ops::Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, d: Duration) -> Timestamp {
        self.saturating_add(d)
    }
}

/// `t - d`: [`saturating_sub`](Timestamp::saturating_sub).
impl std::ops::Sub<Duration> for Timestamp {
    type Output = Timestamp;
    fn sub(self, d: Duration) -> Timestamp {
        self.saturating_sub(d)
    }
}

impl std::ops::AddAssign<Duration> for Timestamp {
    fn add_assign(&mut self, d: Duration) {
        *self = self.saturating_add(d);
    }
}

impl std::ops::SubAssign<Duration> for Timestamp {
    fn sub_assign(&mut self, d: Duration) {
        *self = self.saturating_sub(d);
    }
}

impl From<DateTime<Utc>> for Timestamp {
    /// Truncates to whole microseconds.
    fn from(t: DateTime<Utc>) -> Self {
        Timestamp(t.timestamp_micros())
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 with millisecond precision (microseconds when they are not zero).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_datetime() {
            Some(t) if self.0 % 1_000 == 0 => {
                write!(f, "{}", t.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
            }
            Some(t) => write!(f, "{}", t.format("%Y-%m-%dT%H:%M:%S%.6fZ")),
            None => write!(f, "@{}us", self.0),
        }
    }
}

/// Serde helpers writing a [`Timestamp`] as RFC 3339 text (for exports).
pub(crate) mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    use super::Timestamp;

    pub(crate) fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(t)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(D::Error::custom)
    }

    /// The same for `Option<Timestamp>` (`null` for `None`).
    pub(crate) mod option {
        use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

        use super::Timestamp;

        pub(crate) fn serialize<S: Serializer>(
            t: &Option<Timestamp>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.collect_str(t),
                None => s.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Timestamp>, D::Error> {
            let text = <Option<std::borrow::Cow<'de, str>>>::deserialize(d)?;
            text.map(|t| t.parse().map_err(D::Error::custom))
                .transpose()
        }
    }
}

/// A duration as whole microseconds, saturating at `i64::MAX`.
pub(crate) fn duration_micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}
