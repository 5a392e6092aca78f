//! Command-line arguments: the clap definitions of every subcommand and
//! the parsers of durations, presets, levels, times and UTC offsets.

use std::path::PathBuf;
use std::time::Duration;

use chrono::FixedOffset;
use clap::{Args, Parser, Subcommand, ValueEnum};
use runlog::{Cursor, Level, Preset, RecordId, RunCursor, RunStatus, Timestamp, Trigger};

const ABOUT: &str = "Read, search, follow and export the running logs and runs of a runlog store.";

const LONG_ABOUT: &str = "\
Read, search, follow and export the running logs and runs of a runlog store.

Every command opens the store read-only, so it is safe to run while a runtime
writes to it; only `retry` needs the writer (and fails while a runtime holds
the store's lock).

The store comes from --store or the RUNLOG_STORE environment variable; the
project from --project, or the store's only project if it has exactly one.";

const EXAMPLES: &str = "\
Examples:
  export RUNLOG_STORE=/var/lib/myruntime/logs
  runlog logs --project shop --last 15m --level error
  runlog logs --preset today --env prod --grep \"timeout\" --json
  runlog logs --min-level warn --follow
  runlog job job-7f3a
  runlog show 490032.0.17
  runlog runs --status failed --last 1d
  runlog runs --counts --preset last-7d
  runlog scheduled --flow sync-orders --preset today
  runlog retry job-7f3a
  runlog export --preset yesterday --level error --format csv --output errors.csv
  runlog export-job job-7f3a --output job-7f3a.json
  runlog stats
  runlog verify

Exit status: 0 on success, 1 on a runtime error (or problems found by
`verify`), 2 on a usage error.";

/// The `runlog` command line.
#[derive(Debug, Parser)]
#[command(
    name = "runlog",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXAMPLES,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand accepts.
#[derive(Debug, Args)]
pub struct Global {
    /// The store directory (e.g. --store /var/lib/myruntime/logs).
    #[arg(
        long,
        short = 's',
        env = "RUNLOG_STORE",
        global = true,
        value_name = "DIR",
        help_heading = "Store"
    )]
    pub store: Option<PathBuf>,

    /// The project (e.g. --project shop); default: the store's only project (stats and verify: every project).
    #[arg(
        long,
        short = 'p',
        global = true,
        value_name = "NAME",
        help_heading = "Store"
    )]
    pub project: Option<String>,

    /// Colour the output: auto (when stdout is a terminal and NO_COLOR is
    /// unset), always or never (e.g. --color never).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t = ColorMode::Auto,
        value_name = "WHEN",
        help_heading = "Output"
    )]
    pub color: ColorMode,

    /// The time zone for calendar presets (today, yesterday, this-week…)
    /// and for the times shown, as an offset from UTC (e.g. --utc-offset
    /// +02:00); default UTC.
    #[arg(
        long,
        global = true,
        value_parser = parse_offset,
        allow_hyphen_values = true,
        value_name = "±HH:MM",
        help_heading = "Store"
    )]
    pub utc_offset: Option<FixedOffset>,

    /// How long the store keeps records, as the runtime configured it
    /// (e.g. --retention 90d); reads return nothing older. Default 30d.
    #[arg(
        long,
        global = true,
        value_parser = parse_duration,
        value_name = "DURATION",
        help_heading = "Store"
    )]
    pub retention: Option<Duration>,
}

/// When to colour the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorMode {
    /// When stdout is a terminal (and NO_COLOR is unset).
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Search logs, newest first, a page at a time (or follow new ones).
    #[command(after_help = LOGS_EXAMPLES)]
    Logs(LogsArgs),
    /// Every log of one execution (job), oldest first.
    #[command(
        after_help = "Examples:\n  runlog job job-7f3a\n  runlog job job-7f3a --include-superseded --json"
    )]
    Job(JobArgs),
    /// One record with every field and its detail text.
    #[command(
        after_help = "Examples:\n  runlog show 490032.0.17\n  runlog show 490032.0.17 --json"
    )]
    Show(ShowArgs),
    /// List runs (jobs) newest first by trigger time, or count them per status.
    #[command(after_help = RUNS_EXAMPLES)]
    Runs(RunsArgs),
    /// List scheduled tasks: the runs the Scheduler triggered.
    #[command(after_help = SCHEDULED_EXAMPLES)]
    Scheduled(ScheduledArgs),
    /// Request a manual retry of a failed run: the runtime's next claim of
    /// due retries starts it as a manual attempt (needs the writer: fails
    /// while a runtime holds the store).
    #[command(after_help = "Examples:\n  runlog retry job-7f3a\n  runlog retry job-7f3a --json")]
    Retry(RetryArgs),
    /// Download every log matching the filters as JSON Lines or CSV.
    #[command(after_help = EXPORT_EXAMPLES)]
    Export(ExportArgs),
    /// Download one execution (its run and every log, with details) as JSON.
    #[command(
        after_help = "Examples:\n  runlog export-job job-7f3a --output job-7f3a.json\n  runlog export-job job-7f3a --output -"
    )]
    ExportJob(ExportJobArgs),
    /// What the store holds: segments, records, bytes, time span, levels, runs.
    #[command(after_help = "Examples:\n  runlog stats\n  runlog stats --project shop --json")]
    Stats(StatsArgs),
    /// Check every checksum of every segment, index and run journal; exit status 1 if any problem.
    #[command(after_help = "Examples:\n  runlog verify\n  runlog verify --project shop")]
    Verify(VerifyArgs),
}

const LOGS_EXAMPLES: &str = "\
Examples:
  runlog logs --last 15m --level error
  runlog logs --preset today --env prod --flow sync-orders --grep \"connection refused\"
  runlog logs --from 2025-11-25T08:00:00Z --to 2025-11-25T09:00:00Z --json
  runlog logs --all --job job-7f3a --limit 500
  runlog logs --last 1h --cursor AQ...   (the cursor printed at the end of the previous page)
  runlog logs --min-level warn --follow --interval 5s

Without a time option a search covers the last 30 minutes. A page ends with
`next: --cursor C` (on stderr with --json): repeat the command with that
option for the next page. --follow prints records as they are appended (not
those already stored) until Ctrl-C, --max-records or --timeout.";

const RUNS_EXAMPLES: &str = "\
Examples:
  runlog runs --last 6h
  runlog runs --status failed --status retrying --env prod --preset today
  runlog runs --trigger event --flow sync-orders --json
  runlog runs --counts --preset last-7d

Without a time option runs triggered in the last 30 minutes are listed.";

const SCHEDULED_EXAMPLES: &str = "\
Examples:
  runlog scheduled --preset today
  runlog scheduled --flow nightly-export --status failed --last 7d
  runlog scheduled --counts --preset this-week";

const EXPORT_EXAMPLES: &str = "\
Examples:
  runlog export --preset yesterday --format csv --output yesterday.csv
  runlog export --last 6h --level error --details --output errors.jsonl
  runlog export --all --job job-7f3a --output - | jq .content

The format defaults to csv for a file ending in .csv, else jsonl. A progress
bar is drawn on stderr when it is a terminal.";

/// A time range, shared by `logs`, `export`, `runs` and `scheduled`.
#[derive(Clone, Debug, Default, Args)]
pub struct TimeArgs {
    /// The last DURATION before now: 90s, 15m, 6h, 7d, 2w, 1h30m (e.g. --last 15m).
    #[arg(
        long,
        value_parser = parse_duration,
        value_name = "DURATION",
        conflicts_with_all = ["preset", "from", "to", "saved", "all"],
        help_heading = "Time range"
    )]
    pub last: Option<Duration>,

    /// A preset range: last-5m, last-15m, last-30m, last-hour (or last-1h),
    /// last-6h, last-day (or last-1d, last-24h), last-3d, last-7d, last-30d,
    /// today, yesterday, 2-days-ago, this-week, last-week (e.g. --preset today).
    #[arg(
        long,
        value_parser = parse_preset,
        value_name = "NAME",
        conflicts_with_all = ["from", "to", "saved", "all"],
        help_heading = "Time range"
    )]
    pub preset: Option<Preset>,

    /// Start of a custom range, RFC 3339 (e.g. --from 2025-11-25T08:00:00Z).
    #[arg(
        long,
        value_parser = parse_time,
        value_name = "TIME",
        conflicts_with_all = ["saved", "all"],
        help_heading = "Time range"
    )]
    pub from: Option<Timestamp>,

    /// End of a custom range (exclusive), RFC 3339 (e.g. --to 2025-11-25T09:00:00+01:00).
    #[arg(
        long,
        value_parser = parse_time,
        value_name = "TIME",
        conflicts_with_all = ["saved", "all"],
        help_heading = "Time range"
    )]
    pub to: Option<Timestamp>,

    /// A preset saved in the project, by name (e.g. --saved incident-42).
    #[arg(
        long,
        value_name = "NAME",
        conflicts_with = "all",
        help_heading = "Time range"
    )]
    pub saved: Option<String>,

    /// Everything the store keeps (e.g. --all).
    #[arg(long, help_heading = "Time range")]
    pub all: bool,
}

/// Filters on log records, shared by `logs` and `export`.
#[derive(Clone, Debug, Default, Args)]
pub struct LogFilters {
    /// Only this level; repeat or separate with commas for several (e.g. --level error,warn).
    #[arg(
        long,
        value_parser = parse_level,
        value_delimiter = ',',
        value_name = "LEVEL",
        conflicts_with = "min_level",
        help_heading = "Filters"
    )]
    pub level: Vec<Level>,

    /// This level and every more severe one (e.g. --min-level warn).
    #[arg(long, value_parser = parse_level, value_name = "LEVEL", help_heading = "Filters")]
    pub min_level: Option<Level>,

    /// Only this environment (e.g. --env prod).
    #[arg(long, value_name = "ENV", help_heading = "Filters")]
    pub env: Option<String>,

    /// Only this flow (e.g. --flow sync-orders).
    #[arg(long, value_name = "FLOW", help_heading = "Filters")]
    pub flow: Option<String>,

    /// Only this integration app (e.g. --app shop).
    #[arg(long, value_name = "APP", help_heading = "Filters")]
    pub app: Option<String>,

    /// Only this app version (e.g. --version 1.4.2).
    #[arg(
        long = "version",
        id = "app_version",
        value_name = "VERSION",
        help_heading = "Filters"
    )]
    pub app_version: Option<String>,

    /// Only this job (execution) ID (e.g. --job job-7f3a).
    #[arg(long, value_name = "ID", help_heading = "Filters")]
    pub job: Option<String>,

    /// Only this component or connector (e.g. --component HTTP).
    #[arg(long, value_name = "NAME", help_heading = "Filters")]
    pub component: Option<String>,

    /// Only this action (e.g. --action request).
    #[arg(long, value_name = "NAME", help_heading = "Filters")]
    pub action: Option<String>,

    /// Only this log category (e.g. --category output).
    #[arg(long, value_name = "NAME", help_heading = "Filters")]
    pub category: Option<String>,

    /// Every word must appear in the content, case-insensitively (e.g. --grep "connection refused").
    #[arg(long, value_name = "WORDS", help_heading = "Filters")]
    pub grep: Option<String>,

    /// Also show logs of failed attempts a successful retry superseded (e.g. --include-superseded).
    #[arg(long, help_heading = "Filters")]
    pub include_superseded: bool,
}

/// `runlog logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub time: TimeArgs,
    #[command(flatten)]
    pub filters: LogFilters,

    /// Records per page, 1 to 10000 (e.g. --limit 20); default 100.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000), value_name = "N")]
    pub limit: Option<u64>,

    /// Continue after a previous page, with the same filters (e.g. --cursor AQ…).
    #[arg(long, value_parser = parse_cursor, value_name = "CURSOR", conflicts_with = "follow")]
    pub cursor: Option<Cursor>,

    /// JSON Lines output, one record per line (e.g. --json).
    #[arg(long)]
    pub json: bool,

    /// Print new matching records as they are appended, until Ctrl-C (e.g. --follow).
    #[arg(long, short = 'f', help_heading = "Follow")]
    pub follow: bool,

    /// With --follow: refresh at most this often (e.g. --interval 5s); default 2s.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", requires = "follow", help_heading = "Follow")]
    pub interval: Option<Duration>,

    /// With --follow: stop after printing N records (e.g. --max-records 100).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..), value_name = "N", requires = "follow", help_heading = "Follow")]
    pub max_records: Option<u64>,

    /// With --follow: stop after this long (e.g. --timeout 10m).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", requires = "follow", help_heading = "Follow")]
    pub timeout: Option<Duration>,
}

/// `runlog job`.
#[derive(Debug, Args)]
pub struct JobArgs {
    /// The job (execution) ID (e.g. job-7f3a).
    #[arg(value_name = "JOB_ID")]
    pub job_id: String,
    /// Also show logs of superseded attempts, marked (e.g. --include-superseded).
    #[arg(long)]
    pub include_superseded: bool,
    /// JSON Lines output (e.g. --json).
    #[arg(long)]
    pub json: bool,
}

/// `runlog show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The record ID, partition.generation.ordinal, as `logs` prints it (e.g. 490032.0.17).
    #[arg(value_name = "RECORD_ID", value_parser = parse_record_id)]
    pub id: RecordId,
    /// One JSON object (e.g. --json).
    #[arg(long)]
    pub json: bool,
}

/// A run status, as given on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    /// An attempt is executing.
    Running,
    /// Failed; a retry (automatic, or requested by hand) is due.
    Retrying,
    /// Succeeded.
    Successful,
    /// Failed; no automatic retry left.
    Failed,
}

impl From<StatusArg> for RunStatus {
    fn from(s: StatusArg) -> RunStatus {
        match s {
            StatusArg::Running => RunStatus::Running,
            StatusArg::Retrying => RunStatus::Retrying,
            StatusArg::Successful => RunStatus::Successful,
            StatusArg::Failed => RunStatus::Failed,
        }
    }
}

/// A run trigger, as given on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TriggerArg {
    /// The Scheduler.
    Scheduler,
    /// An event or API call.
    Event,
    /// By hand.
    Manual,
}

impl From<TriggerArg> for Trigger {
    fn from(t: TriggerArg) -> Trigger {
        match t {
            TriggerArg::Scheduler => Trigger::Scheduler,
            TriggerArg::Event => Trigger::Event,
            TriggerArg::Manual => Trigger::Manual,
        }
    }
}

/// Filters on runs, shared by `runs` and `scheduled`.
#[derive(Debug, Args)]
pub struct RunFilters {
    #[command(flatten)]
    pub time: TimeArgs,

    /// Only this app (e.g. --app shop).
    #[arg(long, value_name = "APP", help_heading = "Filters")]
    pub app: Option<String>,

    /// Only this app version (e.g. --version 1.4.2).
    #[arg(
        long = "version",
        id = "app_version",
        value_name = "VERSION",
        help_heading = "Filters"
    )]
    pub app_version: Option<String>,

    /// Only this flow (e.g. --flow sync-orders).
    #[arg(long, value_name = "FLOW", help_heading = "Filters")]
    pub flow: Option<String>,

    /// Only this environment (e.g. --env prod).
    #[arg(long, value_name = "ENV", help_heading = "Filters")]
    pub env: Option<String>,

    /// Only the run of this job (e.g. --job job-7f3a).
    #[arg(long, value_name = "ID", help_heading = "Filters")]
    pub job: Option<String>,

    /// Only this status; repeat or separate with commas for several (e.g. --status failed,retrying).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        value_name = "STATUS",
        help_heading = "Filters"
    )]
    pub status: Vec<StatusArg>,

    /// Runs per page, 1 to 10000 (e.g. --limit 20); default 100.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000), value_name = "N")]
    pub limit: Option<u64>,

    /// Continue after a previous page, with the same filters (e.g. --cursor Ug…).
    #[arg(long, value_parser = parse_run_cursor, value_name = "CURSOR", conflicts_with = "counts")]
    pub cursor: Option<RunCursor>,

    /// Print how many runs match, per status, instead of listing them (e.g. --counts).
    #[arg(long)]
    pub counts: bool,

    /// JSON output: one run per line, or one object of counts (e.g. --json).
    #[arg(long)]
    pub json: bool,
}

/// `runlog runs`.
#[derive(Debug, Args)]
pub struct RunsArgs {
    #[command(flatten)]
    pub filters: RunFilters,

    /// Only runs started by this trigger; repeat or separate with commas (e.g. --trigger scheduler).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        value_name = "TRIGGER",
        help_heading = "Filters"
    )]
    pub trigger: Vec<TriggerArg>,
}

/// `runlog scheduled`.
#[derive(Debug, Args)]
pub struct ScheduledArgs {
    #[command(flatten)]
    pub filters: RunFilters,
}

/// `runlog retry`.
#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The job ID of a failed run (e.g. job-7f3a).
    #[arg(value_name = "JOB_ID")]
    pub job_id: String,
    /// Print the run as JSON (e.g. --json).
    #[arg(long)]
    pub json: bool,
}

/// `runlog export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub time: TimeArgs,
    #[command(flatten)]
    pub filters: LogFilters,

    /// jsonl or csv (e.g. --format csv); default from the output's extension, else jsonl.
    #[arg(long, value_parser = parse_format, value_name = "FORMAT")]
    pub format: Option<runlog::ExportFormat>,

    /// The file to write, `-` for stdout (e.g. --output errors.csv).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,

    /// Include each record's detail text (e.g. --details).
    #[arg(long)]
    pub details: bool,
}

/// `runlog export-job`.
#[derive(Debug, Args)]
pub struct ExportJobArgs {
    /// The job (execution) ID (e.g. job-7f3a).
    #[arg(value_name = "JOB_ID")]
    pub job_id: String,
    /// The file to write, `-` for stdout (e.g. --output job-7f3a.json).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
}

/// `runlog stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// JSON output (e.g. --json).
    #[arg(long)]
    pub json: bool,
}

/// `runlog verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {}

// ---- value parsers: each error is one line, shown after clap's "invalid value … for …:" ----

/// Preset names beyond the library's own, as the console names them.
const PRESET_ALIASES: [(&str, Preset); 4] = [
    ("last-hour", Preset::LastHour),
    ("last-day", Preset::LastDay),
    ("last-24h", Preset::LastDay),
    ("last-30-minutes", Preset::Last30Minutes),
];

/// Every preset name accepted, for errors and help.
pub fn preset_names() -> String {
    let own: Vec<&str> = Preset::ALL.iter().map(|p| p.name()).collect();
    let aliases: Vec<&str> = PRESET_ALIASES.iter().map(|(n, _)| *n).collect();
    format!("{} (or {})", own.join(", "), aliases.join(", "))
}

/// A preset name (`today`, `last-15m`, `last-hour`…).
pub fn parse_preset(s: &str) -> Result<Preset, String> {
    if let Some((_, p)) = PRESET_ALIASES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(s))
    {
        return Ok(*p);
    }
    s.parse::<Preset>()
        .map_err(|_| format!("unknown preset; valid names: {}", preset_names()))
}

/// A duration: one or more `<number><unit>` with units ms, s, m, h, d, w
/// (`90s`, `15m`, `1h30m`, `7d`); more than zero.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || "expected a duration such as 90s, 15m, 6h, 7d or 1h30m".to_string();
    let text = s.trim();
    if text.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let secs_per: u64 = match unit.to_ascii_lowercase().as_str() {
            "ms" => {
                total = total.saturating_add(Duration::from_millis(n));
                continue;
            }
            "s" | "sec" | "secs" => 1,
            "m" | "min" | "mins" => 60,
            "h" | "hr" | "hrs" => 3_600,
            "d" | "day" | "days" => 86_400,
            "w" | "week" | "weeks" => 7 * 86_400,
            _ => return Err(bad()),
        };
        let secs = n
            .checked_mul(secs_per)
            .ok_or_else(|| "duration too long".to_string())?;
        total = total.saturating_add(Duration::from_secs(secs));
    }
    if total.is_zero() {
        return Err("the duration must be more than zero".into());
    }
    // Longer than a century is certainly a typo, and overflows time arithmetic.
    if total > Duration::from_secs(100 * 365 * 86_400) {
        return Err("duration too long".into());
    }
    Ok(total)
}

/// A level: debug, info, warn (warning), error; any case.
pub fn parse_level(s: &str) -> Result<Level, String> {
    s.parse::<Level>()
        .map_err(|_| "expected debug, info, warn or error".to_string())
}

/// An RFC 3339 time.
pub fn parse_time(s: &str) -> Result<Timestamp, String> {
    s.parse::<Timestamp>().map_err(|_| {
        "expected an RFC 3339 time such as 2025-11-25T08:30:00Z or 2025-11-25T10:30:00+02:00"
            .to_string()
    })
}

/// A UTC offset: `Z`, `UTC`, `+02:00`, `-0530`, `+2`.
pub fn parse_offset(s: &str) -> Result<FixedOffset, String> {
    let bad = || "expected an offset from UTC such as +02:00, -05:30 or Z".to_string();
    let t = s.trim();
    if t.eq_ignore_ascii_case("z") || t.eq_ignore_ascii_case("utc") {
        return FixedOffset::east_opt(0).ok_or_else(bad);
    }
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1, &t[1..]),
        Some(b'-') => (-1, &t[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h, m),
        // `+0530`: split between the hours and the minutes (ASCII only:
        // byte 2 of anything else may fall inside a character).
        None if rest.len() == 4 && rest.is_ascii() => rest.split_at(2),
        None => (rest, "0"),
    };
    let all_digits =
        |x: &str| !x.is_empty() && x.len() <= 2 && x.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(h) || !all_digits(m) {
        return Err(bad());
    }
    let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 {
        return Err(bad());
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60)).ok_or_else(bad)
}

/// A record ID, `partition.generation.ordinal`.
pub fn parse_record_id(s: &str) -> Result<RecordId, String> {
    s.parse::<RecordId>()
        .map_err(|_| "expected a record ID partition.generation.ordinal, e.g. 490032.0.17".into())
}

/// A log page cursor.
pub fn parse_cursor(s: &str) -> Result<Cursor, String> {
    s.parse::<Cursor>().map_err(|e| e.to_string())
}

/// A run page cursor.
pub fn parse_run_cursor(s: &str) -> Result<RunCursor, String> {
    s.parse::<RunCursor>().map_err(|e| e.to_string())
}

/// An export format.
pub fn parse_format(s: &str) -> Result<runlog::ExportFormat, String> {
    s.parse::<runlog::ExportFormat>()
        .map_err(|_| "expected jsonl or csv".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("6h"), Ok(Duration::from_secs(6 * 3600)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        for bad in [
            "",
            "5",
            "5x",
            "m",
            "0s",
            "-5m",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn offsets() {
        let secs = |s| parse_offset(s).map(|o| o.local_minus_utc());
        assert_eq!(secs("+02:00"), Ok(7200));
        assert_eq!(secs("-05:30"), Ok(-19_800));
        assert_eq!(secs("+0530"), Ok(19_800));
        assert_eq!(secs("+2"), Ok(7200));
        assert_eq!(secs("Z"), Ok(0));
        // "+a€", "-€0": four bytes after the sign, byte 2 inside a character.
        for bad in ["2", "+25:00", "+02:60", "+a", "", "+a€", "-€0", "+€€"] {
            assert!(parse_offset(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn presets_and_aliases() {
        for p in Preset::ALL {
            assert_eq!(parse_preset(p.name()), Ok(p));
        }
        assert_eq!(parse_preset("last-hour"), Ok(Preset::LastHour));
        assert_eq!(parse_preset("LAST-DAY"), Ok(Preset::LastDay));
        let err = parse_preset("last-2m").unwrap_err();
        assert!(err.contains("this-week") && !err.contains('\n'), "{err}");
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
