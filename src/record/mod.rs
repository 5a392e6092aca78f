//! The log record model: [`LogRecord`], [`Level`], [`RecordId`] and the
//! documented size limits of every field.

pub(crate) mod field;
mod text;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

use crate::time::Timestamp;

pub use field::{Field, MAX_CONTENT_BYTES, MAX_DETAIL_BYTES, MAX_JOB_ID_BYTES, MAX_NAME_BYTES};
pub use text::Text;

/// Severity of a log record, ordered `Debug < Info < Warn < Error`.
///
/// Machine formats (serde, exports, the CLI's JSON) name levels in lower
/// case ([`name`](Self::name)), like run statuses and triggers; consoles
/// show them in upper case ([`as_str`](Self::as_str), `Display`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum Level {
    /// Diagnostic detail.
    Debug = 0,
    /// Normal progress.
    #[default]
    Info = 1,
    /// Something unexpected that did not stop the job.
    Warn = 2,
    /// A failure.
    Error = 3,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 4] = [Level::Debug, Level::Info, Level::Warn, Level::Error];

    /// The level's one-byte code on disk.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The level with this on-disk code.
    pub const fn from_code(code: u8) -> Option<Level> {
        match code {
            0 => Some(Level::Debug),
            1 => Some(Level::Info),
            2 => Some(Level::Warn),
            3 => Some(Level::Error),
            _ => None,
        }
    }

    /// Lower-case name, as in serde, exports and JSON: `debug`, `info`,
    /// `warn`, `error`.
    pub const fn name(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }

    /// Upper-case name, as shown in consoles: `DEBUG`, `INFO`, `WARN`, `ERROR`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = Error;
    /// Case-insensitive: `debug`, `info`, `warn`/`warning`, `error`.
    fn from_str(s: &str) -> Result<Level> {
        match s.to_ascii_lowercase().as_str() {
            "debug" => Ok(Level::Debug),
            "info" => Ok(Level::Info),
            "warn" | "warning" => Ok(Level::Warn),
            "error" => Ok(Level::Error),
            _ => Err(Error::InvalidArgument {
                what: "level",
                reason: format!("unknown level {s:?}; expected debug, info, warn or error"),
            }),
        }
    }
}

/// One log line written by a flow execution.
///
/// Build one with [`LogRecord::new`] and the chained setters, or with a
/// struct literal over [`Default`].
///
/// ```
/// use runlog::{Level, LogRecord, Timestamp};
/// let r = LogRecord::new(Timestamp::from_secs(1_700_000_000), Level::Warn, "job-42", "retrying POST /orders")
///     .flow("sync-orders")
///     .component("HTTP")
///     .env("prod");
/// assert_eq!(r.attempt, 1);
/// assert!(r.validate().is_ok());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Running time: when the log was generated.
    pub time: Timestamp,
    /// Severity.
    pub level: Level,
    /// ID of the execution (job) that generated it.
    pub job_id: Text,
    /// Flow name.
    pub flow: Text,
    /// Component or connector that generated it.
    pub component: Text,
    /// Action performed when the log was generated.
    pub action: Text,
    /// Logger category, or the default output event.
    pub category: Text,
    /// Environment the app runs in (`test`, `prod`, …).
    pub env: Text,
    /// Integration app.
    pub app: Text,
    /// App version.
    pub version: Text,
    /// Which try of the job wrote it; 1 for the first run.
    pub attempt: u32,
    /// Summary shown in lists.
    pub content: Text,
    /// Full message data shown in the details view.
    pub detail: Option<String>,
}

impl Default for LogRecord {
    fn default() -> Self {
        LogRecord {
            time: Timestamp::from_micros(0),
            level: Level::Info,
            job_id: Text::default(),
            flow: Text::default(),
            component: Text::default(),
            action: Text::default(),
            category: Text::default(),
            env: Text::default(),
            app: Text::default(),
            version: Text::default(),
            attempt: 1,
            content: Text::default(),
            detail: None,
        }
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        $(
            $(#[$doc])*
            #[must_use]
            pub fn $name(mut self, value: impl Into<Text>) -> Self {
                self.$name = value.into();
                self
            }
        )*
    };
}

impl LogRecord {
    /// A record of attempt 1 with the given time, level, job and content; the other fields empty.
    pub fn new(
        time: Timestamp,
        level: Level,
        job_id: impl Into<Text>,
        content: impl Into<Text>,
    ) -> Self {
        LogRecord {
            time,
            level,
            job_id: job_id.into(),
            content: content.into(),
            ..LogRecord::default()
        }
    }

    setters! {
        /// Set `flow`.
        flow,
        /// Set `component`.
        component,
        /// Set `action`.
        action,
        /// Set `category`.
        category,
        /// Set `env`.
        env,
        /// Set `app`.
        app,
        /// Set `version`.
        version,
    }

    /// Set `attempt`.
    #[must_use]
    pub fn attempt(mut self, attempt: u32) -> Self {
        self.attempt = attempt;
        self
    }

    /// Set `detail`.
    #[must_use]
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// The eight name fields, then the content, in the order frames store
    /// them (`format::SUMMARY_FIELDS`): named directly, not through
    /// [`field`](Self::field)'s match, for the append path.
    #[inline]
    pub(crate) fn summary_strings(&self) -> [&Text; 9] {
        [
            &self.job_id,
            &self.flow,
            &self.component,
            &self.action,
            &self.category,
            &self.env,
            &self.app,
            &self.version,
            &self.content,
        ]
    }

    /// The value of a text field (`detail` reads as empty when absent).
    pub fn field(&self, field: Field) -> &str {
        match field {
            Field::JobId => &self.job_id,
            Field::Flow => &self.flow,
            Field::Component => &self.component,
            Field::Action => &self.action,
            Field::Category => &self.category,
            Field::Env => &self.env,
            Field::App => &self.app,
            Field::Version => &self.version,
            Field::Content => &self.content,
            Field::Detail => self.detail.as_deref().unwrap_or(""),
        }
    }

    /// Check every field against its size limit; [`Error::FieldTooLarge`] names the first one over.
    pub fn validate(&self) -> Result<()> {
        if self.attempt == 0 {
            return Err(Error::InvalidArgument {
                what: "attempt",
                reason: "attempts are numbered from 1".into(),
            });
        }
        for field in Field::ALL {
            let len = self.field(field).len();
            if len > field.max_bytes() {
                return Err(Error::FieldTooLarge {
                    field,
                    len,
                    max: field.max_bytes(),
                });
            }
        }
        Ok(())
    }
}

/// Identifies one segment file: its time partition and its generation
/// within that partition (a partition gets a new generation when a record
/// arrives after the partition was sealed, or when a segment fills up).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SegmentId {
    /// Index of the time partition: partition start = index × partition length.
    pub partition: u32,
    /// Generation within the partition, from 0.
    pub generation: u32,
}

/// The stable identity of a stored record, for its whole life.
///
/// It orders records the way runlog breaks ties between records of the
/// same time: by segment, then by the order of appending. Its text form is
/// `partition.generation.ordinal`.
///
/// ```
/// use runlog::RecordId;
/// let id: RecordId = "472222.0.17".parse()?;
/// assert_eq!(id.to_string(), "472222.0.17");
/// assert!("nonsense".parse::<RecordId>().is_err());
/// # Ok::<(), runlog::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RecordId {
    /// The segment holding the record.
    pub segment: SegmentId,
    /// Position of the record in its segment, from 0.
    pub ordinal: u32,
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}",
            self.segment.partition, self.segment.generation, self.ordinal
        )
    }
}

impl FromStr for RecordId {
    type Err = Error;
    fn from_str(s: &str) -> Result<RecordId> {
        let bad = || Error::InvalidArgument {
            what: "record id",
            reason: format!("{s:?} is not of the form partition.generation.ordinal"),
        };
        let mut parts = s.split('.');
        let mut next = || -> Result<u32> {
            let p = parts.next().ok_or_else(bad)?;
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            p.parse().map_err(|_| bad())
        };
        let (partition, generation, ordinal) = (next()?, next()?, next()?);
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(RecordId {
            segment: SegmentId {
                partition,
                generation,
            },
            ordinal,
        })
    }
}

/// A record as read back from the store, with its identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRecord {
    /// Where the record lives; pass it to `Project::get` for the details.
    pub id: RecordId,
    /// The record. Listing reads leave `detail` as `None`; see `has_detail`.
    pub record: LogRecord,
    /// Whether the stored record has a `detail` (read it with `Project::get`).
    pub has_detail: bool,
    /// Whether the record was written by a failed attempt that a later
    /// successful retry superseded (such records appear only in queries
    /// with [`Query::include_superseded`](crate::Query::include_superseded)).
    #[serde(default)]
    pub superseded: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_order_and_parse() {
        assert!(Level::Debug < Level::Info && Level::Warn < Level::Error);
        for l in Level::ALL {
            assert_eq!(Level::from_code(l.code()), Some(l));
            assert_eq!(l.as_str().parse::<Level>().unwrap(), l);
        }
        assert_eq!(Level::from_code(4), None);
        assert!("fatal".parse::<Level>().is_err());
    }

    #[test]
    fn oversized_fields_are_named() {
        let mut r = LogRecord::new(Timestamp::from_secs(1), Level::Info, "j", "c");
        r.env = "e".repeat(MAX_NAME_BYTES + 1).into();
        match r.validate() {
            Err(Error::FieldTooLarge { field, len, max }) => {
                assert_eq!(
                    (field, len, max),
                    (Field::Env, MAX_NAME_BYTES + 1, MAX_NAME_BYTES)
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        r.env = "e".repeat(MAX_NAME_BYTES).into();
        assert!(r.validate().is_ok());
        r.detail = Some("d".repeat(MAX_DETAIL_BYTES + 1));
        assert!(matches!(
            r.validate(),
            Err(Error::FieldTooLarge {
                field: Field::Detail,
                ..
            })
        ));
    }

    #[test]
    fn record_id_text_round_trip() {
        let id = RecordId {
            segment: SegmentId {
                partition: u32::MAX,
                generation: 3,
            },
            ordinal: 9,
        };
        assert_eq!(id.to_string().parse::<RecordId>().unwrap(), id);
        for bad in [
            "",
            "1.2",
            "1.2.3.4",
            "1.-2.3",
            "a.b.c",
            "1.2.99999999999",
            "+1.2.3",
        ] {
            assert!(bad.parse::<RecordId>().is_err(), "{bad}");
        }
    }
}
