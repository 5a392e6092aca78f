//! Queries: what to look for ([`Query`]), and what comes back ([`Page`],
//! [`Counts`]).

pub(crate) mod cursor;
pub(crate) mod exec;
pub(crate) mod filter;
pub(crate) mod fingerprint;
pub(crate) mod superseded;
pub(crate) mod view;

use std::time::Duration;

use crate::record::{Field, Level, StoredRecord};
use crate::time::{RangeSpec, ResolvedRange, Timestamp};

pub use cursor::Cursor;

/// Default number of records in a page.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest page a query may ask for.
pub const MAX_LIMIT: usize = 10_000;

/// A search over a project's logs: a time range and any filters, all of
/// which must match.
///
/// ```
/// use runlog::{Level, Preset, Query};
/// let q = Query::new()
///     .preset(Preset::Last7Days)
///     .level(Level::Error)
///     .env("prod")
///     .flow("sync-orders")
///     .text("connection refused")
///     .limit(100);
/// # let _ = q;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub(crate) range: RangeSpec,
    /// Bit `i` set: level with code `i` wanted. 0 or 0b1111: any level.
    pub(crate) levels: u8,
    /// Equality filters, one per field, sorted by field.
    pub(crate) exact: Vec<(Field, String)>,
    /// Lower-cased words that must all appear in `content`.
    pub(crate) words: Vec<String>,
    pub(crate) limit: usize,
    pub(crate) cursor: Option<Cursor>,
    pub(crate) bucket: Option<Duration>,
    pub(crate) include_superseded: bool,
}

impl Default for Query {
    fn default() -> Self {
        Query {
            range: RangeSpec::default(),
            levels: 0,
            exact: Vec::new(),
            words: Vec::new(),
            limit: DEFAULT_LIMIT,
            cursor: None,
            bucket: None,
            include_superseded: false,
        }
    }
}

macro_rules! field_filters {
    ($($(#[$doc:meta])* $name:ident => $field:expr),* $(,)?) => {
        $(
            $(#[$doc])*
            #[must_use]
            pub fn $name(self, value: impl Into<String>) -> Self {
                self.field($field, value)
            }
        )*
    };
}

impl Query {
    /// Every record of the last 30 minutes, 100 to a page.
    pub fn new() -> Self {
        Self::default()
    }

    crate::time::range_builders!("records", "every record the store keeps");

    /// Also accept records of `level` (calling it again widens the set).
    #[must_use]
    pub fn level(mut self, level: Level) -> Self {
        self.levels |= 1 << level.code();
        self
    }

    /// Accept exactly these levels.
    #[must_use]
    pub fn levels(mut self, levels: &[Level]) -> Self {
        self.levels = levels.iter().fold(0, |m, l| m | (1 << l.code()));
        self
    }

    /// Accept `level` and every more severe one ("at least Warn").
    #[must_use]
    pub fn min_level(mut self, level: Level) -> Self {
        self.levels = Level::ALL
            .iter()
            .filter(|l| **l >= level)
            .fold(0, |m, l| m | (1 << l.code()));
        self
    }

    /// Require `field` to equal `value` exactly (replacing an earlier
    /// filter on the same field). `content` and `detail` are not filtered
    /// this way: use [`text`](Self::text) for content.
    #[must_use]
    pub fn field(mut self, field: Field, value: impl Into<String>) -> Self {
        if matches!(field, Field::Content | Field::Detail) {
            return self;
        }
        self.exact.retain(|(f, _)| *f != field);
        self.exact.push((field, value.into()));
        self.exact.sort_by_key(|(f, _)| *f as u8);
        self
    }

    field_filters! {
        /// Only records of this app.
        app => Field::App,
        /// Only records of this app version.
        version => Field::Version,
        /// Only records of this flow.
        flow => Field::Flow,
        /// Only records of this environment.
        env => Field::Env,
        /// Only records of this job (execution).
        job_id => Field::JobId,
        /// Only records of this component or connector.
        component => Field::Component,
        /// Only records of this action.
        action => Field::Action,
        /// Only records of this log category.
        category => Field::Category,
    }

    /// Require every whitespace-separated word of `text` to appear in the
    /// content, case-insensitively, as a substring (like a search box).
    #[must_use]
    pub fn text(mut self, text: &str) -> Self {
        for w in text.split_whitespace() {
            let w = crate::index::tokenizer::fold_case(w);
            if !self.words.contains(&w) {
                self.words.push(w);
            }
        }
        self.words.sort();
        self
    }

    /// At most `n` records per page (1 to [`MAX_LIMIT`]; default 100).
    #[must_use]
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = n.clamp(1, MAX_LIMIT);
        self
    }

    /// Continue after the page that returned `cursor`.
    #[must_use]
    pub fn after(mut self, cursor: Cursor) -> Self {
        self.cursor = Some(cursor);
        self
    }

    /// For [`Project::count`](crate::Project::count): also count matches
    /// per time bucket of this length.
    #[must_use]
    pub fn bucket(mut self, d: Duration) -> Self {
        self.bucket = Some(d);
        self
    }

    /// Also return (or count, or follow) the logs of failed attempts that a
    /// successful retry superseded, marked with
    /// [`StoredRecord::superseded`]; by default they are hidden.
    #[must_use]
    pub fn include_superseded(mut self, yes: bool) -> Self {
        self.include_superseded = yes;
        self
    }

    pub(crate) fn level_mask(&self) -> u8 {
        if self.levels == 0 {
            0b1111
        } else {
            self.levels
        }
    }
}

/// One page of results, newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// The records, newest first (ties by record ID, highest first), without details.
    pub records: Vec<StoredRecord>,
    /// Where to continue, if more records may follow.
    pub next: Option<Cursor>,
    /// The range searched, and whether it was clamped to the retention horizon.
    pub range: ResolvedRange,
}

/// Counts of the records matching a query.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// All matches.
    pub total: u64,
    /// Matches per level, indexed by [`Level::code`].
    pub by_level: [u64; 4],
    /// Matches per bucket (when [`Query::bucket`] was set): each bucket's
    /// start and count, oldest first, covering the whole range.
    pub buckets: Vec<(Timestamp, u64)>,
    /// The range counted, and whether it was clamped to the retention horizon.
    pub range: Option<ResolvedRange>,
}

impl Counts {
    /// Matches of `level`.
    pub fn level(&self, level: Level) -> u64 {
        self.by_level[level.code() as usize]
    }
}
