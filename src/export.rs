//! Download: every record matching a query streamed to a writer as JSON
//! Lines or CSV, in bounded memory; and execution bundles (one job's run
//! and every log line in one JSON document).
//!
//! Both formats write one [`ExportRow`] per record, newest first (the
//! order of [`Project::query`](crate::Project::query)), with times in RFC
//! 3339. CSV has a header line with the field names; quoting follows RFC
//! 4180 (fields with commas, quotes or line breaks are quoted). An export
//! reads one page of at most [`EXPORT_PAGE`] records at a time, so its
//! memory does not grow with the result.

use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::project::Project;
use crate::query::Query;
use crate::query::exec::{Key, Owned};
use crate::query::filter::Filter;
use crate::record::{LogRecord, RecordId, StoredRecord};
use crate::runs::Run;

/// Records read per page during an export.
pub const EXPORT_PAGE: usize = 1_000;

/// The format of a download.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    /// One JSON object per line.
    JsonLines,
    /// Comma-separated values with a header line.
    Csv,
}

/// How to write a download: its format, and whether each record carries
/// its detail (read from disk one record at a time).
///
/// ```
/// use runlog::{ExportFormat, ExportOptions};
/// let plain: ExportOptions = ExportFormat::Csv.into();
/// assert!(!plain.details);
/// let full = ExportOptions::new(ExportFormat::JsonLines).details(true);
/// assert!(full.details);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ExportOptions {
    /// JSON Lines or CSV.
    pub format: ExportFormat,
    /// Whether each row carries the record's detail (default: no).
    pub details: bool,
}

impl ExportOptions {
    /// `format`, without details.
    pub fn new(format: ExportFormat) -> Self {
        ExportOptions {
            format,
            details: false,
        }
    }

    /// Whether each row carries the record's detail.
    #[must_use]
    pub fn details(mut self, details: bool) -> Self {
        self.details = details;
        self
    }
}

impl From<ExportFormat> for ExportOptions {
    fn from(format: ExportFormat) -> Self {
        ExportOptions::new(format)
    }
}

impl std::str::FromStr for ExportFormat {
    type Err = Error;
    /// `jsonl` (or `json`, `ndjson`) and `csv`.
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "jsonl" | "json" | "ndjson" => Ok(ExportFormat::JsonLines),
            "csv" => Ok(ExportFormat::Csv),
            _ => Err(Error::InvalidArgument {
                what: "export format",
                reason: format!("unknown format {s:?}; expected jsonl or csv"),
            }),
        }
    }
}

/// One exported log line: a line of JSON Lines, a row of CSV.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRow {
    /// The record ID (`partition.generation.ordinal`).
    pub id: String,
    /// RFC 3339 time.
    pub time: String,
    /// `debug`, `info`, `warn` or `error` ([`Level::name`](crate::Level::name)).
    pub level: String,
    /// Job ID.
    pub job_id: String,
    /// Flow.
    pub flow: String,
    /// Component or connector.
    pub component: String,
    /// Action.
    pub action: String,
    /// Category.
    pub category: String,
    /// Environment.
    pub env: String,
    /// App.
    pub app: String,
    /// App version.
    pub version: String,
    /// Attempt of the job that wrote it.
    pub attempt: u32,
    /// The summary.
    pub content: String,
    /// The details, when the export includes them and the record has them
    /// (CSV: an empty field for none).
    pub detail: Option<String>,
    /// Written by an attempt a successful retry superseded.
    pub superseded: bool,
}

impl ExportRow {
    /// The row of a stored record.
    pub fn new(r: &StoredRecord) -> ExportRow {
        let rec = &r.record;
        ExportRow {
            id: r.id.to_string(),
            time: rec.time.to_string(),
            level: rec.level.name().to_owned(),
            job_id: rec.job_id.to_string(),
            flow: rec.flow.to_string(),
            component: rec.component.to_string(),
            action: rec.action.to_string(),
            category: rec.category.to_string(),
            env: rec.env.to_string(),
            app: rec.app.to_string(),
            version: rec.version.to_string(),
            attempt: rec.attempt,
            content: rec.content.to_string(),
            detail: rec.detail.clone(),
            superseded: r.superseded,
        }
    }

    /// The record ID and record the row was made from.
    pub fn to_record(&self) -> Result<(RecordId, LogRecord)> {
        let rec = LogRecord {
            time: self.time.parse()?,
            level: self.level.parse()?,
            job_id: self.job_id.as_str().into(),
            flow: self.flow.as_str().into(),
            component: self.component.as_str().into(),
            action: self.action.as_str().into(),
            category: self.category.as_str().into(),
            env: self.env.as_str().into(),
            app: self.app.as_str().into(),
            version: self.version.as_str().into(),
            attempt: self.attempt,
            content: self.content.as_str().into(),
            detail: self.detail.clone(),
        };
        Ok((self.id.parse()?, rec))
    }
}

/// How an export went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Records written.
    pub records: u64,
}

/// One job's whole story: its run (if the project has one) with every
/// attempt, and every log line of every attempt, oldest first, with
/// details; lines of superseded attempts are included and marked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionBundle {
    /// The job.
    pub job_id: String,
    /// Its run record.
    pub run: Option<Run>,
    /// Every log line, oldest first.
    pub logs: Vec<ExportRow>,
}

fn write_err(e: impl Into<std::io::Error>) -> Error {
    Error::Export { source: e.into() }
}

/// Writes rows in one format.
enum Sink<W: Write> {
    Json(W),
    Csv(Box<csv::Writer<W>>),
}

/// The CSV header line: [`ExportRow`]'s fields, in order (a test checks
/// it against the header `csv` derives from the struct). Written by
/// [`Sink::new`] itself, so that an export matching nothing still has it.
const CSV_HEADER: [&str; 15] = [
    "id",
    "time",
    "level",
    "job_id",
    "flow",
    "component",
    "action",
    "category",
    "env",
    "app",
    "version",
    "attempt",
    "content",
    "detail",
    "superseded",
];

impl<W: Write> Sink<W> {
    fn new(format: ExportFormat, out: W) -> Result<Self> {
        Ok(match format {
            ExportFormat::JsonLines => Sink::Json(out),
            ExportFormat::Csv => {
                let mut w = csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(out);
                w.write_record(CSV_HEADER).map_err(write_err)?;
                Sink::Csv(Box::new(w))
            }
        })
    }

    fn row(&mut self, row: &ExportRow) -> Result<()> {
        match self {
            Sink::Json(w) => {
                serde_json::to_writer(&mut *w, row).map_err(write_err)?;
                w.write_all(b"\n").map_err(write_err)
            }
            Sink::Csv(w) => w.serialize(row).map_err(write_err),
        }
    }

    fn finish(self) -> Result<()> {
        match self {
            Sink::Json(mut w) => w.flush().map_err(write_err),
            Sink::Csv(mut w) => w.flush().map_err(write_err),
        }
    }
}

impl Project {
    /// Write every record matching `q` (its range and filters; its limit
    /// is ignored, and a cursor continues after it) to `out`, newest first,
    /// as `opts` says: a format alone, or [`ExportOptions`] with details.
    /// `progress` is called with the number of records written so far
    /// after each page and at the end. Memory stays bounded: records are
    /// read a page at a time. Records appended meanwhile that sort below
    /// the last one written are included.
    ///
    /// ```
    /// use runlog::{ExportFormat, ExportOptions, Level, LogRecord, Query, Store};
    /// # let dir = tempfile::tempdir()?;
    /// let logs = Store::open(dir.path())?.project("shop")?;
    /// let now = runlog::Timestamp::now();
    /// logs.append(&LogRecord::new(now, Level::Error, "job-1", "a \"quoted\", comma"))?;
    /// let mut csv = Vec::new();
    /// let done = logs.export(&Query::new(), ExportFormat::Csv, &mut csv, |_| {})?;
    /// assert_eq!(done.records, 1);
    /// assert!(String::from_utf8(csv)?.contains("\"a \"\"quoted\"\", comma\""));
    /// // With each record's detail, as JSON Lines.
    /// let mut json = Vec::new();
    /// let opts = ExportOptions::new(ExportFormat::JsonLines).details(true);
    /// logs.export(&Query::new(), opts, &mut json, |_| {})?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn export(
        &self,
        q: &Query,
        opts: impl Into<ExportOptions>,
        out: impl Write,
        mut progress: impl FnMut(u64),
    ) -> Result<ExportSummary> {
        let ExportOptions { format, details } = opts.into();
        let inner = &self.core;
        let filter = Filter::new(q);
        let (range, mut upper): (_, Option<Key>) = match q.cursor {
            Some(c) if c.fingerprint != filter.fingerprint(&q.range) => {
                return Err(Error::CursorMismatch);
            }
            Some(c) => (c.range, Some((c.time.as_micros(), c.id))),
            None => (inner.resolve(&q.range)?.range, None),
        };
        let mut sink = Sink::new(format, out)?;
        let mut written = 0u64;
        let mut page = Owned::with_capacity(EXPORT_PAGE);
        loop {
            page.records.clear();
            let full = inner.search(&filter, range, upper, EXPORT_PAGE, &mut page)?;
            for r in &page.records {
                let row = if details && r.has_detail {
                    match inner.get(r.id)? {
                        Some(mut full) => {
                            full.superseded = r.superseded;
                            ExportRow::new(&full)
                        }
                        // Dropped by retention meanwhile.
                        None => continue,
                    }
                } else {
                    ExportRow::new(r)
                };
                sink.row(&row)?;
                written += 1;
            }
            progress(written);
            match (full, page.records.last()) {
                (true, Some(last)) => upper = Some((last.record.time.as_micros(), last.id)),
                _ => break,
            }
        }
        sink.finish()?;
        Ok(ExportSummary { records: written })
    }

    /// One job's run, attempts and every log line (superseded attempts
    /// included and marked, details included); see [`ExecutionBundle`].
    pub fn execution_bundle(&self, job_id: &str) -> Result<ExecutionBundle> {
        let run = self.run(job_id)?;
        let mut logs = Vec::new();
        for r in self.job_logs_including_superseded(job_id)? {
            let row = match (r.has_detail, self.get(r.id)?) {
                (true, Some(mut full)) => {
                    full.superseded = r.superseded;
                    ExportRow::new(&full)
                }
                _ => ExportRow::new(&r),
            };
            logs.push(row);
        }
        Ok(ExecutionBundle {
            job_id: job_id.to_owned(),
            run,
            logs,
        })
    }

    /// Write [`execution_bundle`](Self::execution_bundle) as one JSON
    /// document (pretty-printed).
    pub fn export_execution(&self, job_id: &str, mut out: impl Write) -> Result<()> {
        let bundle = self.execution_bundle(job_id)?;
        serde_json::to_writer_pretty(&mut out, &bundle).map_err(write_err)?;
        out.write_all(b"\n").map_err(write_err)?;
        out.flush().map_err(write_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `CSV_HEADER` is the header `csv` derives from `ExportRow`.
    #[test]
    fn csv_header_names_the_row_fields_in_order() {
        let row = ExportRow {
            id: "1.0.0".into(),
            time: "t".into(),
            level: "info".into(),
            job_id: String::new(),
            flow: String::new(),
            component: String::new(),
            action: String::new(),
            category: String::new(),
            env: String::new(),
            app: String::new(),
            version: String::new(),
            attempt: 1,
            content: String::new(),
            detail: None,
            superseded: false,
        };
        let mut w = csv::Writer::from_writer(Vec::new());
        w.serialize(&row).unwrap();
        let out = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert_eq!(out.lines().next(), Some(CSV_HEADER.join(",").as_str()));
    }

    #[test]
    fn an_empty_csv_export_is_its_header() {
        let mut out = Vec::new();
        Sink::new(ExportFormat::Csv, &mut out)
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), CSV_HEADER.join(",") + "\n");
        let mut out = Vec::new();
        Sink::new(ExportFormat::JsonLines, &mut out)
            .unwrap()
            .finish()
            .unwrap();
        assert!(out.is_empty());
    }
}
