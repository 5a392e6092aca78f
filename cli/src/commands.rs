//! What each subcommand does: open the store (read-only but for `retry`),
//! pick the project, build the library's query, print the answer.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use runlog::{
    ExportFormat, ExportRow, Project, ProjectStats, Query, RangeSpec, RunQuery, Store,
    StoreOptions, SyncPolicy, TimeRange, Timestamp, Trigger,
};

use crate::Failure;
use crate::args::{
    Cli, ColorMode, Command, ExportArgs, ExportJobArgs, Global, JobArgs, LogFilters, LogsArgs,
    RetryArgs, RunFilters, ShowArgs, StatsArgs, TimeArgs,
};
use crate::output::{self, Style, json_line};

/// The file that makes a directory a runlog store.
const META_FILE: &str = "runlog.meta";
/// Default refresh interval of `logs --follow`.
const FOLLOW_INTERVAL: Duration = Duration::from_secs(2);
/// Retention the writer opened by `retry` applies: long enough never to
/// drop anything, since the runtime's own retention is not stored.
const RETRY_RETENTION: Duration = Duration::from_secs(100 * 365 * 86_400);

type Result<T, E = Failure> = std::result::Result<T, E>;

/// Run the parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let ctx = Ctx::new(cli.global);
    match cli.command {
        Command::Logs(a) => logs(&ctx, a),
        Command::Job(a) => job(&ctx, a),
        Command::Show(a) => show(&ctx, a),
        Command::Runs(a) => {
            let triggers: Vec<Trigger> = a.trigger.into_iter().map(Into::into).collect();
            runs(&ctx, a.filters, &triggers, false)
        }
        Command::Scheduled(a) => runs(&ctx, a.filters, &[], true),
        Command::Retry(a) => retry(&ctx, a),
        Command::Export(a) => export(&ctx, a),
        Command::ExportJob(a) => export_job(&ctx, a),
        Command::Stats(a) => stats(&ctx, a),
        Command::Verify(_) => verify(&ctx),
    }
}

/// The global options, resolved.
struct Ctx {
    global: Global,
    style: Style,
}

impl Ctx {
    fn new(global: Global) -> Ctx {
        let color = match global.color {
            ColorMode::Always => true,
            ColorMode::Never => false,
            ColorMode::Auto => {
                io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        };
        let style = Style {
            color,
            offset: global.utc_offset,
        };
        Ctx { global, style }
    }

    /// The store directory, checked to be a store.
    fn store_dir(&self) -> Result<PathBuf> {
        let dir =
            self.global.store.clone().ok_or_else(|| {
                Failure::usage("no store given: use --store DIR or set RUNLOG_STORE")
            })?;
        if !dir.exists() {
            return Err(Failure::runtime(format!(
                "store directory {} does not exist",
                dir.display()
            )));
        }
        if !dir.is_dir() {
            return Err(Failure::runtime(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        if !dir.join(META_FILE).is_file() {
            return Err(Failure::runtime(format!(
                "{} is not a runlog store (it has no {META_FILE})",
                dir.display()
            )));
        }
        Ok(dir)
    }

    fn options(&self) -> StoreOptions {
        let mut opts = StoreOptions::new();
        if let Some(off) = self.global.utc_offset {
            opts = opts.utc_offset(off);
        }
        if let Some(r) = self.global.retention {
            opts = opts.retention(r);
        }
        opts
    }

    /// The store, read-only: safe while a runtime writes.
    fn open_read_only(&self) -> Result<Store> {
        let dir = self.store_dir()?;
        Ok(self.options().open_read_only(&dir)?)
    }

    /// The store as its writer (for `retry`): fails with the library's
    /// `Locked` error while a runtime holds it. The partition length is
    /// taken from the store; retention is never applied.
    fn open_writer(&self) -> Result<Store> {
        let dir = self.store_dir()?;
        let opts = self
            .options()
            .retention(RETRY_RETENTION)
            .sync_policy(SyncPolicy::Always);
        // A writer adopts the store's partition length.
        Ok(opts.open(&dir)?)
    }

    /// The project named by --project, or the store's only one.
    fn project(&self, store: &Store) -> Result<Project> {
        let names = store.projects()?;
        let dir = store.dir().display();
        let name = match &self.global.project {
            Some(p) if names.contains(p) => p.clone(),
            Some(p) => {
                return Err(Failure::runtime(format!(
                    "no project {p:?} in store {dir} (projects: {})",
                    list_or_none(&names)
                )));
            }
            None => match names.as_slice() {
                [only] => only.clone(),
                [] => return Err(Failure::runtime(format!("store {dir} has no projects"))),
                many => {
                    return Err(Failure::usage(format!(
                        "store {dir} has {} projects ({}): choose one with --project",
                        many.len(),
                        many.join(", ")
                    )));
                }
            },
        };
        Ok(store.project(&name)?)
    }

    /// The projects for `stats` and `verify`: --project's, or all.
    fn projects(&self, store: &Store) -> Result<Vec<Project>> {
        if self.global.project.is_some() {
            return Ok(vec![self.project(store)?]);
        }
        store
            .projects()?
            .iter()
            .map(|n| store.project(n).map_err(Failure::from))
            .collect()
    }
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// The range the time options ask for; `None`: the library's default.
fn range_spec(t: &TimeArgs) -> Result<Option<RangeSpec>> {
    Ok(Some(if let Some(d) = t.last {
        RangeSpec::Last(d)
    } else if let Some(p) = t.preset {
        RangeSpec::Preset(p)
    } else if let Some(name) = &t.saved {
        RangeSpec::Saved(name.clone())
    } else if t.all {
        RangeSpec::Custom(TimeRange::all())
    } else if t.from.is_some() || t.to.is_some() {
        let from = t.from.unwrap_or(Timestamp::MIN);
        let to = t.to.unwrap_or(Timestamp::MAX);
        let range = TimeRange::new(from, to)
            .map_err(|_| Failure::usage(format!("--to {to} is before --from {from}")))?;
        RangeSpec::Custom(range)
    } else {
        return Ok(None);
    }))
}

/// The log query of the time options and filters.
fn log_query(time: &TimeArgs, f: &LogFilters) -> Result<Query> {
    let mut q = Query::new();
    q = match range_spec(time)? {
        Some(RangeSpec::Last(d)) => q.last(d),
        Some(RangeSpec::Preset(p)) => q.preset(p),
        Some(RangeSpec::Custom(r)) => q.range(r),
        Some(RangeSpec::Saved(n)) => q.saved(n),
        None => q,
    };
    if !f.level.is_empty() {
        q = q.levels(&f.level);
    }
    if let Some(l) = f.min_level {
        q = q.min_level(l);
    }
    let fields = [
        (&f.env, Query::env as fn(Query, String) -> Query),
        (&f.flow, Query::flow),
        (&f.app, Query::app),
        (&f.app_version, Query::version),
        (&f.job, Query::job_id),
        (&f.component, Query::component),
        (&f.action, Query::action),
        (&f.category, Query::category),
    ];
    for (value, set) in fields {
        if let Some(v) = value {
            q = set(q, v.clone());
        }
    }
    if let Some(words) = &f.grep {
        q = q.text(words);
    }
    Ok(q.include_superseded(f.include_superseded))
}

/// The run query of the time options and filters.
fn run_query(f: &RunFilters) -> Result<RunQuery> {
    let mut q = RunQuery::new();
    q = match range_spec(&f.time)? {
        Some(RangeSpec::Last(d)) => q.last(d),
        Some(RangeSpec::Preset(p)) => q.preset(p),
        Some(RangeSpec::Custom(r)) => q.range(r),
        Some(RangeSpec::Saved(n)) => q.saved(n),
        None => q,
    };
    let fields = [
        (&f.app, RunQuery::app as fn(RunQuery, String) -> RunQuery),
        (&f.app_version, RunQuery::version),
        (&f.flow, RunQuery::flow),
        (&f.env, RunQuery::env),
        (&f.job, RunQuery::job_id),
    ];
    for (value, set) in fields {
        if let Some(v) = value {
            q = set(q, v.clone());
        }
    }
    for s in &f.status {
        q = q.status((*s).into());
    }
    if let Some(n) = f.limit {
        q = q.limit(n as usize);
    }
    if let Some(c) = &f.cursor {
        q = q.after(c.clone());
    }
    Ok(q)
}

fn stdout() -> BufWriter<io::StdoutLock<'static>> {
    BufWriter::new(io::stdout().lock())
}

/// Print where the next page starts: a last line of the listing, or on
/// stderr when stdout carries JSON.
fn print_next(
    out: &mut impl Write,
    next: Option<impl std::fmt::Display>,
    json: bool,
) -> Result<()> {
    if let Some(c) = next {
        if json {
            out.flush()?;
            eprintln!("next: --cursor {c}");
        } else {
            writeln!(out, "next: --cursor {c}")?;
        }
    }
    Ok(())
}

fn logs(ctx: &Ctx, a: LogsArgs) -> Result<ExitCode> {
    let mut q = log_query(&a.time, &a.filters)?;
    if let Some(n) = a.limit {
        q = q.limit(n as usize);
    }
    if let Some(c) = a.cursor {
        q = q.after(c);
    }
    let store = ctx.open_read_only()?;
    let project = ctx.project(&store)?;
    if a.follow {
        return follow(ctx, &project, &q, &a);
    }
    let page = project.query(&q)?;
    let mut out = stdout();
    for r in &page.records {
        if a.json {
            json_line(&mut out, &ExportRow::new(r))?;
        } else {
            writeln!(out, "{}", ctx.style.record_line(r))?;
        }
    }
    if page.records.is_empty() {
        out.flush()?;
        let r = page.range.range;
        eprintln!(
            "no matching records from {} to {}",
            show_bound(ctx, r.from),
            show_bound(ctx, r.to)
        );
    }
    print_next(&mut out, page.next, a.json)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn show_bound(ctx: &Ctx, t: Timestamp) -> String {
    match t {
        Timestamp::MIN => "the beginning".into(),
        Timestamp::MAX => "the end".into(),
        t => ctx.style.time(t),
    }
}

/// `logs --follow`: new matching records until Ctrl-C, --max-records or --timeout.
fn follow(ctx: &Ctx, project: &Project, q: &Query, a: &LogsArgs) -> Result<ExitCode> {
    let mut f = project
        .follow(q)?
        .interval(a.interval.unwrap_or(FOLLOW_INTERVAL));
    eprintln!(
        "following new records of project {} (Ctrl-C to stop)",
        project.name()
    );
    let deadline = a.timeout.map(|t| Instant::now() + t);
    let mut printed = 0u64;
    let mut out = stdout();
    loop {
        let wait = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => left,
                _ => break,
            },
            None => Duration::from_secs(60),
        };
        for r in f.next_batch(wait)? {
            if a.max_records.is_some_and(|m| printed >= m) {
                break;
            }
            if a.json {
                json_line(&mut out, &ExportRow::new(&r))?;
            } else {
                writeln!(out, "{}", ctx.style.record_line(&r))?;
            }
            printed += 1;
        }
        out.flush()?;
        if a.max_records.is_some_and(|m| printed >= m) {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn job(ctx: &Ctx, a: JobArgs) -> Result<ExitCode> {
    let store = ctx.open_read_only()?;
    let project = ctx.project(&store)?;
    let records = if a.include_superseded {
        project.job_logs_including_superseded(&a.job_id)?
    } else {
        project.job_logs(&a.job_id)?
    };
    if records.is_empty() && project.run(&a.job_id)?.is_none() {
        return Err(Failure::runtime(format!(
            "no logs or run for job {:?} in project {}",
            a.job_id,
            project.name()
        )));
    }
    let mut out = stdout();
    for r in &records {
        if a.json {
            json_line(&mut out, &ExportRow::new(r))?;
        } else {
            writeln!(out, "{}", ctx.style.record_line(r))?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn show(ctx: &Ctx, a: ShowArgs) -> Result<ExitCode> {
    let store = ctx.open_read_only()?;
    let project = ctx.project(&store)?;
    let Some(r) = project.get(a.id)? else {
        return Err(Failure::runtime(format!(
            "no record {} in project {} (or it is past the retention horizon)",
            a.id,
            project.name()
        )));
    };
    let mut out = stdout();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &ExportRow::new(&r)).map_err(io::Error::other)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", ctx.style.details(&r))?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn runs(ctx: &Ctx, f: RunFilters, triggers: &[Trigger], scheduled: bool) -> Result<ExitCode> {
    let mut q = run_query(&f)?;
    for t in triggers {
        q = q.trigger(*t);
    }
    let store = ctx.open_read_only()?;
    let project = ctx.project(&store)?;
    let mut out = stdout();
    if f.counts {
        if scheduled {
            q = q.trigger(Trigger::Scheduler);
        }
        let counts = project.count_runs(&q)?;
        if f.json {
            let mut v = output::statuses_json(&counts.by_status);
            v["total"] = counts.total.into();
            json_line(&mut out, &v)?;
        } else {
            for s in runlog::RunStatus::ALL {
                writeln!(out, "{:<10} {}", s.as_str(), counts.status(s))?;
            }
            writeln!(out, "{:<10} {}", "total", counts.total)?;
        }
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let page = if scheduled {
        project.scheduled_tasks(&q)?
    } else {
        project.query_runs(&q)?
    };
    for run in &page.runs {
        if f.json {
            json_line(&mut out, run)?;
        } else {
            writeln!(out, "{}", ctx.style.run_line(run))?;
        }
    }
    if page.runs.is_empty() {
        out.flush()?;
        let r = page.range.range;
        eprintln!(
            "no matching runs triggered from {} to {}",
            show_bound(ctx, r.from),
            show_bound(ctx, r.to)
        );
    }
    print_next(&mut out, page.next, f.json)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn retry(ctx: &Ctx, a: RetryArgs) -> Result<ExitCode> {
    let store = ctx.open_writer()?;
    let project = ctx.project(&store)?;
    let run = project.request_retry(&a.job_id)?;
    project.sync()?;
    let mut out = stdout();
    if a.json {
        json_line(&mut out, &run)?;
    } else {
        writeln!(
            out,
            "requested a manual retry of job {}: the runtime's next claim of due retries starts it as attempt {} (manual)",
            run.job_id,
            run.attempt() + 1
        )?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Write to `path` (`-`: stdout) with `write`; a file left half-written by
/// a failure is removed.
fn write_output<T>(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<T>) -> Result<T> {
    if path == Path::new("-") {
        let mut out = PipeWatch {
            inner: stdout(),
            broken: false,
        };
        let result = write(&mut out).and_then(|v| {
            out.flush()?;
            Ok(v)
        });
        if out.broken {
            // The reader went away (`| head`); the library reports it as an export error.
            return Err(io::Error::from(io::ErrorKind::BrokenPipe).into());
        }
        return result;
    }
    let file = File::create(path)
        .map_err(|e| Failure::runtime(format!("cannot create {}: {e}", path.display())))?;
    let mut out = BufWriter::new(file);
    let result = write(&mut out).and_then(|v| {
        out.flush()
            .and_then(|()| out.get_ref().sync_all())
            .map_err(|e| Failure::runtime(format!("writing {}: {e}", path.display())))?;
        Ok(v)
    });
    if result.is_err() {
        drop(out);
        let _ = std::fs::remove_file(path);
    }
    result
}

/// A writer noting whether its reader went away, which the library's
/// export errors do not tell.
struct PipeWatch<W: Write> {
    inner: W,
    broken: bool,
}

impl<W: Write> PipeWatch<W> {
    fn note<T>(&mut self, r: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &r
            && e.kind() == io::ErrorKind::BrokenPipe
        {
            self.broken = true;
        }
        r
    }
}

impl<W: Write> Write for PipeWatch<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let r = self.inner.write(buf);
        self.note(r)
    }

    fn flush(&mut self) -> io::Result<()> {
        let r = self.inner.flush();
        self.note(r)
    }
}

fn export(ctx: &Ctx, a: ExportArgs) -> Result<ExitCode> {
    let q = log_query(&a.time, &a.filters)?;
    let format = a.format.unwrap_or_else(|| {
        let csv = a
            .output
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        if csv {
            ExportFormat::Csv
        } else {
            ExportFormat::JsonLines
        }
    });
    let store = ctx.open_read_only()?;
    let project = ctx.project(&store)?;
    let bar = if io::stderr().is_terminal() {
        let total = project.count(&q)?.total;
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(total),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} records ({eta})",
        ) {
            bar.set_style(style);
        }
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let summary = write_output(&a.output, |out| {
        Ok(project.export(
            &q,
            runlog::ExportOptions::new(format).details(a.details),
            out,
            |n| bar.set_position(n),
        )?)
    });
    bar.finish_and_clear();
    let summary = summary?;
    if a.output != Path::new("-") {
        eprintln!(
            "exported {} records to {}",
            summary.records,
            a.output.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn export_job(ctx: &Ctx, a: ExportJobArgs) -> Result<ExitCode> {
    let store = ctx.open_read_only()?;
    let project = ctx.project(&store)?;
    let bundle = project.execution_bundle(&a.job_id)?;
    if bundle.run.is_none() && bundle.logs.is_empty() {
        return Err(Failure::runtime(format!(
            "no logs or run for job {:?} in project {}",
            a.job_id,
            project.name()
        )));
    }
    write_output(&a.output, |out| {
        serde_json::to_writer_pretty(&mut *out, &bundle).map_err(io::Error::other)?;
        writeln!(out)?;
        Ok(())
    })?;
    if a.output != Path::new("-") {
        eprintln!(
            "wrote job {} ({} logs) to {}",
            a.job_id,
            bundle.logs.len(),
            a.output.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn stats(ctx: &Ctx, a: StatsArgs) -> Result<ExitCode> {
    let store = ctx.open_read_only()?;
    let projects = ctx.projects(&store)?;
    let mut all = Vec::new();
    let mut total = ProjectStats::default();
    for p in &projects {
        let s = p.stats()?;
        total.segments += s.segments;
        total.sealed += s.sealed;
        total.damaged += s.damaged;
        total.records += s.records;
        total.bytes += s.bytes;
        total.runs += s.runs;
        for i in 0..4 {
            total.by_level[i] += s.by_level[i];
            total.runs_by_status[i] += s.runs_by_status[i];
        }
        total.oldest = match (total.oldest, s.oldest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        total.newest = total.newest.max(s.newest);
        all.push((p.name().to_owned(), s));
    }
    let mut out = stdout();
    if a.json {
        let mut total_json = output::stats_json("", &total);
        if let Some(m) = total_json.as_object_mut() {
            m.remove("project");
            m.insert("projects".into(), all.len().into());
        }
        let v = serde_json::json!({
            "store": store.dir().display().to_string(),
            "projects": all.iter().map(|(n, s)| output::stats_json(n, s)).collect::<Vec<_>>(),
            "total": total_json,
        });
        serde_json::to_writer_pretty(&mut out, &v).map_err(io::Error::other)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "store {}: {} project{}",
            store.dir().display(),
            all.len(),
            if all.len() == 1 { "" } else { "s" }
        )?;
        for (name, s) in &all {
            write!(out, "{}", ctx.style.stats(name, s))?;
        }
        if all.len() > 1 {
            write!(out, "{}", ctx.style.stats("(all)", &total))?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn verify(ctx: &Ctx) -> Result<ExitCode> {
    let store = ctx.open_read_only()?;
    let projects = ctx.projects(&store)?;
    let mut out = stdout();
    if projects.is_empty() {
        writeln!(out, "store {} has no projects", store.dir().display())?;
    }
    let mut problems = 0usize;
    for p in &projects {
        let report = p.verify()?;
        let mut found = report.problems.clone();
        for d in p.damage() {
            if !found.contains(&d) {
                found.push(d);
            }
        }
        writeln!(
            out,
            "project {}: {} segments, {} journals, {} records, {} checked: {}",
            p.name(),
            report.segments,
            report.journals,
            report.records,
            output::human_bytes(report.bytes),
            if found.is_empty() {
                "ok".to_owned()
            } else {
                format!(
                    "{} problem{}",
                    found.len(),
                    if found.len() == 1 { "" } else { "s" }
                )
            }
        )?;
        for d in &found {
            writeln!(out, "  problem: {d}")?;
        }
        problems += found.len();
    }
    out.flush()?;
    if problems > 0 {
        return Err(Failure::runtime(format!(
            "verify found {problems} problem{}",
            if problems == 1 { "" } else { "s" }
        )));
    }
    Ok(ExitCode::SUCCESS)
}
