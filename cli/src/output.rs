//! How things look: record and run lines, the details view, counts and
//! stats, in colour on a terminal and plain otherwise; JSON helpers.

use std::fmt::Write as _;
use std::io::{self, Write};

use chrono::FixedOffset;
use runlog::{Level, Outcome, ProjectStats, Run, RunStatus, StoredRecord, Timestamp};

const RESET: &str = "\x1b[0m";
const BOLD_RED: &str = "\x1b[1;31m";
const YELLOW: &str = "\x1b[33m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";

/// Output settings: colour, and the offset times are shown in.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub color: bool,
    pub offset: Option<FixedOffset>,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }

    /// A time in RFC 3339 to the millisecond (so lines align), in the
    /// chosen offset (UTC by default).
    pub fn time(&self, t: Timestamp) -> String {
        self.format_time(t, "%.3f")
    }

    /// A time in RFC 3339 to the microsecond, for the details view.
    pub fn full_time(&self, t: Timestamp) -> String {
        self.format_time(t, "%.6f")
    }

    fn format_time(&self, t: Timestamp, fraction: &str) -> String {
        let Some(dt) = t.to_datetime() else {
            return t.to_string();
        };
        match self.offset {
            Some(off) => dt
                .with_timezone(&off)
                .format(&format!("%Y-%m-%dT%H:%M:%S{fraction}%:z"))
                .to_string(),
            None => dt
                .format(&format!("%Y-%m-%dT%H:%M:%S{fraction}Z"))
                .to_string(),
        }
    }

    /// A level, padded to five columns, coloured by severity.
    pub fn level(&self, l: Level) -> String {
        let code = match l {
            Level::Error => BOLD_RED,
            Level::Warn => YELLOW,
            Level::Info => GREEN,
            Level::Debug => DIM,
        };
        self.paint(code, &format!("{:<5}", l.as_str()))
    }

    /// A run status, padded, coloured.
    pub fn status(&self, s: RunStatus) -> String {
        let code = match s {
            RunStatus::Failed => BOLD_RED,
            RunStatus::Retrying => YELLOW,
            RunStatus::Successful => GREEN,
            RunStatus::Running => CYAN,
        };
        self.paint(code, &format!("{:<10}", s.as_str()))
    }

    /// One record as a line:
    /// `TIME LEVEL ID JOB FLOW/COMPONENT: CONTENT [+detail] [attempt N] [superseded]`.
    pub fn record_line(&self, r: &StoredRecord) -> String {
        let rec = &r.record;
        let mut line = format!(
            "{} {} {} {}",
            self.paint(DIM, &self.time(rec.time)),
            self.level(rec.level),
            self.paint(DIM, &r.id.to_string()),
            self.paint(BOLD, or_dash(&rec.job_id)),
        );
        let mut source = rec.flow.to_string();
        if !rec.component.is_empty() {
            if !source.is_empty() {
                source.push('/');
            }
            source.push_str(&rec.component);
        }
        if !source.is_empty() {
            let _ = write!(line, " {}", self.paint(CYAN, &source));
        }
        let _ = write!(line, ": {}", one_line(&rec.content));
        let mut tags = Vec::new();
        if r.has_detail || rec.detail.is_some() {
            tags.push("+detail".to_owned());
        }
        if rec.attempt != 1 {
            tags.push(format!("attempt {}", rec.attempt));
        }
        if r.superseded {
            tags.push("superseded".to_owned());
        }
        if !tags.is_empty() {
            let _ = write!(
                line,
                " {}",
                self.paint(DIM, &format!("[{}]", tags.join(", ")))
            );
        }
        if r.superseded && self.color {
            // Dim the whole line: it belongs to an attempt that was retried.
            line = format!(
                "{DIM}{}{RESET}",
                line.replace(RESET, &format!("{RESET}{DIM}"))
            );
        }
        line
    }

    /// Every field of a record, then its detail text.
    pub fn details(&self, r: &StoredRecord) -> String {
        let rec = &r.record;
        let mut out = String::new();
        let mut field = |name: &str, value: &str| {
            let _ = writeln!(
                out,
                "{} {}",
                self.paint(BOLD, &format!("{name:<11}")),
                value
            );
        };
        field("id", &r.id.to_string());
        field("time", &self.full_time(rec.time));
        field("level", &self.level(rec.level));
        field("job_id", &rec.job_id);
        field("flow", &rec.flow);
        field("component", &rec.component);
        field("action", &rec.action);
        field("category", &rec.category);
        field("env", &rec.env);
        field("app", &rec.app);
        field("version", &rec.version);
        field("attempt", &rec.attempt.to_string());
        field("superseded", if r.superseded { "yes" } else { "no" });
        field("content", &rec.content);
        match &rec.detail {
            Some(d) => {
                let _ = writeln!(out, "{}", self.paint(BOLD, "detail"));
                out.push_str(d);
                if !d.ends_with('\n') {
                    out.push('\n');
                }
            }
            None => {
                let _ = writeln!(out, "{} (none)", self.paint(BOLD, "detail     "));
            }
        }
        out
    }

    /// One run as a line:
    /// `TRIGGER_TIME STATUS JOB FLOW TRIGGER env=… app=…@… attempt N [next retry …] [error: …]`.
    pub fn run_line(&self, run: &Run) -> String {
        let mut line = format!(
            "{} {} {} {} {}",
            self.paint(DIM, &self.time(run.trigger_time)),
            self.status(run.status),
            self.paint(BOLD, or_dash(&run.job_id)),
            self.paint(CYAN, or_dash(&run.flow)),
            run.trigger,
        );
        if !run.env.is_empty() {
            let _ = write!(line, " env={}", run.env);
        }
        if !run.app.is_empty() || !run.version.is_empty() {
            let _ = write!(line, " app={}@{}", or_dash(&run.app), or_dash(&run.version));
        }
        let _ = write!(line, " attempt {}", run.attempt());
        if let Some(due) = run.next_retry {
            let _ = write!(line, " next retry {}", self.time(due));
        }
        if let Some(end) = run.end_time {
            let _ = write!(line, " ended {}", self.time(end));
        }
        let last_error = run
            .attempts
            .iter()
            .rev()
            .find(|a| a.outcome == Outcome::Failed)
            .and_then(|a| a.error.as_deref());
        if matches!(run.status, RunStatus::Failed | RunStatus::Retrying)
            && let Some(e) = last_error
        {
            let _ = write!(
                line,
                " {}",
                self.paint(DIM, &format!("error: {}", one_line(e)))
            );
        }
        line
    }

    /// A project's stats, as an indented block.
    pub fn stats(&self, name: &str, s: &ProjectStats) -> String {
        let mut out = format!("{}\n", self.paint(BOLD, &format!("project {name}")));
        let mut field = |k: &str, v: String| {
            let _ = writeln!(out, "  {k:<9} {v}");
        };
        field(
            "segments",
            format!(
                "{} ({} sealed, {} damaged)",
                s.segments, s.sealed, s.damaged
            ),
        );
        field("records", s.records.to_string());
        field("bytes", format!("{} ({})", s.bytes, human_bytes(s.bytes)));
        field("oldest", s.oldest.map_or("-".into(), |t| self.time(t)));
        field("newest", s.newest.map_or("-".into(), |t| self.time(t)));
        field(
            "levels",
            Level::ALL
                .iter()
                .map(|l| format!("{} {}", l.as_str(), s.by_level[l.code() as usize]))
                .collect::<Vec<_>>()
                .join(", "),
        );
        field(
            "runs",
            format!(
                "{} ({})",
                s.runs,
                RunStatus::ALL
                    .iter()
                    .map(|st| format!("{} {}", st.as_str(), s.runs_by_status[st.code() as usize]))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        out
    }
}

/// `-` for an empty field.
fn or_dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

/// Text on one line: line breaks and other control characters become spaces.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Bytes in KiB, MiB, GiB.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Per-level counts as a JSON object.
pub fn levels_json(by_level: &[u64; 4]) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for l in Level::ALL {
        m.insert(l.name().to_owned(), by_level[l.code() as usize].into());
    }
    m.into()
}

/// Per-status counts as a JSON object.
pub fn statuses_json(by_status: &[u64; 4]) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for s in RunStatus::ALL {
        m.insert(s.as_str().to_owned(), by_status[s.code() as usize].into());
    }
    m.into()
}

/// A project's stats as JSON.
pub fn stats_json(name: &str, s: &ProjectStats) -> serde_json::Value {
    serde_json::json!({
        "project": name,
        "segments": s.segments,
        "sealed": s.sealed,
        "damaged": s.damaged,
        "records": s.records,
        "bytes": s.bytes,
        "oldest": s.oldest.map(|t| t.to_string()),
        "newest": s.newest.map(|t| t.to_string()),
        "levels": levels_json(&s.by_level),
        "runs": s.runs,
        "runs_by_status": statuses_json(&s.runs_by_status),
    })
}

/// Write `value` as one line of JSON.
pub fn json_line(out: &mut impl Write, value: &impl serde::Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_and_lines() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(one_line("a\nb\tc"), "a b c");
    }
}
