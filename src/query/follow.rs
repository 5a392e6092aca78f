//! Following a query: records as they are appended ("auto refresh").

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::project::Project;
use crate::query::Query;
use crate::query::filter::Filter;
use crate::record::{SegmentId, StoredRecord};

/// How often a read-only follower looks for another process's appends.
const POLL: Duration = Duration::from_millis(200);

/// The longest wait: `Instant` plus much more overflows (and panics).
const CENTURY: Duration = Duration::from_secs(100 * 365 * 86_400);

/// A handle returning the records matching a query's filters as they are
/// appended (the query's time range is not applied: every new record
/// counts). Made by [`Project::follow`].
///
/// Each record is returned exactly once, including records that arrive
/// late or in a new segment; each batch is sorted oldest first.
///
/// In a read-only store, a record of a batch the writer then cut back
/// (the batch failed) may be returned before the cut, and is not taken
/// back; the records the writer appends in place of cut ones are returned
/// (see [`Store::open_read_only`](crate::Store::open_read_only) for the
/// rare exceptions).
///
/// Records of attempts already superseded by a successful retry when they
/// are read are left out (unless the query
/// [includes them](Query::include_superseded)); a record returned before
/// its attempt was superseded is not taken back.
///
/// ```
/// use runlog::{Level, LogRecord, Query, Store};
/// use std::time::Duration;
/// # let dir = tempfile::tempdir()?;
/// let logs = Store::open(dir.path())?.project("shop")?;
/// let mut errors = logs.follow(&Query::new().level(Level::Error))?;
/// let now = runlog::Clock::now(&runlog::SystemClock);
/// logs.append(&LogRecord::new(now, Level::Info, "job-1", "fine"))?;
/// logs.append(&LogRecord::new(now, Level::Error, "job-1", "broken"))?;
/// let batch = errors.next_batch(Duration::from_secs(1))?;
/// assert_eq!(batch.len(), 1);
/// assert_eq!(batch[0].record.content, "broken");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Follow {
    project: Project,
    filter: Filter,
    seen: HashMap<SegmentId, u32>,
    /// The number of segment cuts the project had applied at the last
    /// look (read-only stores; see `ProjectInner::appended_since`).
    rewound: u64,
    interval: Option<Duration>,
    last_batch: Option<Instant>,
}

impl Follow {
    pub(crate) fn new(project: Project, q: &Query) -> Result<Follow> {
        let (seen, rewound) = project.inner.watermarks()?;
        Ok(Follow {
            project,
            filter: Filter::new(q),
            seen,
            rewound,
            interval: None,
            last_batch: None,
        })
    }

    /// Refresh at most once per `interval`: [`next_batch`](Self::next_batch)
    /// first waits until `interval` has passed since the previous batch,
    /// so records arrive in batches, as on a console's auto refresh.
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// The matching records appended since the previous call (or since
    /// the follow began), oldest first, waiting up to `timeout` for at
    /// least one. An empty batch means the timeout passed. A timeout or
    /// interval longer than a century counts as a century.
    pub fn next_batch(&mut self, timeout: Duration) -> Result<Vec<StoredRecord>> {
        let deadline = Instant::now() + timeout.min(CENTURY);
        if let (Some(every), Some(last)) = (self.interval, self.last_batch) {
            let due = (last + every.min(CENTURY)).min(deadline);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        let inner = &self.project.inner;
        loop {
            // Read the generation first: an append after this point wakes the wait below.
            let generation = inner.append_generation();
            let batch = inner.appended_since(&mut self.seen, &mut self.rewound, &self.filter)?;
            let now = Instant::now();
            if !batch.is_empty() || now >= deadline {
                self.last_batch = Some(now);
                return Ok(batch);
            }
            let wait = deadline - now;
            if inner.is_read_only() {
                // Another process appends: nothing to wake us, so poll.
                std::thread::sleep(wait.min(POLL));
            } else {
                inner.wait_for_append(generation, wait);
            }
        }
    }
}
