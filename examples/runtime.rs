//! An integration runtime in miniature, on the real clock: a scheduler
//! fires runs, an event source triggers others, worker threads execute
//! them (writing logs, failing now and then), a dispatcher claims due
//! retries, and an operator follows the errors as they happen. At the end
//! it shows what the console would: runs per status, scheduled tasks,
//! a failed run retried by hand, and how superseded failures are hidden.
//!
//! Run with `cargo run --release --example runtime` (about 3 seconds).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use runlog::{
    AttemptTicket, Level, LogRecord, NewRun, Project, Query, RetryPolicy, RunQuery, RunStatus,
    StoreOptions, Timestamp, Trigger,
};

const FLOWS: [&str; 4] = [
    "sync-orders",
    "nightly-export",
    "invoice-mailer",
    "crm-import",
];
const RUN_FOR: Duration = Duration::from_secs(2);

/// A small deterministic random number generator (xorshift).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = StoreOptions::new()
        // Fast retries, so the demo shows a few within seconds.
        .retry_policy(RetryPolicy {
            max_retries: 2,
            initial_delay: Duration::from_millis(100),
            multiplier: 2.0,
            max_delay: Duration::from_secs(1),
        })
        .open(dir.path())?;
    let project = store.project("acme")?;
    let stop = Arc::new(AtomicBool::new(false));
    let (work_tx, work_rx) = mpsc::channel::<AttemptTicket>();
    let work_rx = Arc::new(Mutex::new(work_rx));
    let started = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();

    // The operator: follows errors (auto refresh) and prints the first few.
    let follower = {
        let project = project.clone();
        let stop = Arc::clone(&stop);
        thread::spawn(move || -> runlog::Result<u64> {
            let mut errors = project.follow(&Query::new().level(Level::Error))?;
            let mut seen = 0;
            while !stop.load(Ordering::Relaxed) {
                for r in errors.next_batch(Duration::from_millis(100))? {
                    if seen < 5 {
                        println!(
                            "  [follow] {} {} {} (attempt {}): {}",
                            r.record.time,
                            r.record.level,
                            r.record.job_id,
                            r.record.attempt,
                            r.record.content
                        );
                    }
                    seen += 1;
                }
            }
            Ok(seen)
        })
    };

    // Triggers: the scheduler every 40 ms, events at random.
    for (trigger, every, seed) in [
        (Trigger::Scheduler, Duration::from_millis(40), 1u64),
        (Trigger::Event, Duration::from_millis(25), 2),
    ] {
        let project = project.clone();
        let stop = Arc::clone(&stop);
        let work_tx = work_tx.clone();
        let started = Arc::clone(&started);
        threads.push(thread::spawn(move || -> runlog::Result<()> {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed);
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let flow = FLOWS[rng.below(FLOWS.len() as u64) as usize];
                let job_id = format!("{}-{n:04}", trigger.as_str());
                let run = project.start_run(
                    &NewRun::new(job_id.as_str(), flow, trigger)
                        .env("prod")
                        .app("shop")
                        .version("2.1.0"),
                )?;
                started.fetch_add(1, Ordering::Relaxed);
                let ticket = AttemptTicket {
                    job_id: run.job_id,
                    attempt: 1,
                    manual: false,
                    flow: run.flow,
                    env: run.env,
                    app: run.app,
                    version: run.version,
                    trigger: run.trigger,
                    trigger_time: run.trigger_time,
                    start: run.trigger_time,
                };
                if work_tx.send(ticket).is_err() {
                    break;
                }
                n += 1;
                thread::sleep(every);
            }
            Ok(())
        }));
    }

    // The retry dispatcher: claims due retries (each exactly once) and
    // hands them to the workers.
    {
        let project = project.clone();
        let stop = Arc::clone(&stop);
        let work_tx = work_tx.clone();
        threads.push(thread::spawn(move || -> runlog::Result<()> {
            while !stop.load(Ordering::Relaxed) {
                for ticket in project.due_retries()? {
                    let _ = work_tx.send(ticket);
                }
                thread::sleep(Duration::from_millis(20));
            }
            Ok(())
        }));
    }
    drop(work_tx);

    // Workers: run each attempt, writing its logs; about a third fail.
    for w in 0..4u64 {
        let project = project.clone();
        let work_rx = Arc::clone(&work_rx);
        threads.push(thread::spawn(move || -> runlog::Result<()> {
            let mut rng = Rng(0xD1B5_4A32_D192_ED03 ^ (w + 10));
            loop {
                let ticket = match work_rx.lock().map(|rx| rx.recv()) {
                    Ok(Ok(t)) => t,
                    _ => return Ok(()),
                };
                execute(&project, &ticket, &mut rng)?;
            }
        }));
    }

    thread::sleep(RUN_FOR);
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("thread panicked")?;
    }
    let errors_followed = follower.join().expect("follower panicked")?;
    project.sync()?;

    let counts = project.count_runs(&RunQuery::new())?;
    println!(
        "\n{} runs started: {} successful, {} failed, {} retrying, {} running; {} errors followed live",
        started.load(Ordering::Relaxed),
        counts.status(RunStatus::Successful),
        counts.status(RunStatus::Failed),
        counts.status(RunStatus::Retrying),
        counts.status(RunStatus::Running),
        errors_followed
    );

    println!("\nnewest scheduled tasks:");
    for run in project.scheduled_tasks(&RunQuery::new().limit(5))?.runs {
        println!(
            "  {} {} {:<15} {:<10} attempts {}",
            run.trigger_time,
            run.job_id,
            run.flow,
            run.status,
            run.attempts.len()
        );
    }

    // A run that succeeded on a retry: its failed attempt is superseded.
    let retried = project
        .query_runs(&RunQuery::new().status(RunStatus::Successful).limit(1_000))?
        .runs
        .into_iter()
        .find(|r| r.attempts.len() > 1);
    if let Some(run) = retried {
        let shown = project.job_logs(&run.job_id)?;
        let all = project.job_logs_including_superseded(&run.job_id)?;
        println!(
            "\n{} succeeded at attempt {}: {} log lines shown, {} more from superseded attempts",
            run.job_id,
            run.attempt(),
            shown.len(),
            all.len() - shown.len()
        );
    }

    // A failed run, retried by hand.
    let failed = project.query_runs(&RunQuery::new().status(RunStatus::Failed).limit(1))?;
    if let Some(run) = failed.runs.first() {
        let ticket = project.start_retry(&run.job_id)?;
        println!(
            "\n{} had failed {} times; retried by hand as attempt {}",
            run.job_id,
            run.attempts.len(),
            ticket.attempt
        );
        project.append(
            &LogRecord::new(
                Timestamp::now(),
                Level::Info,
                ticket.job_id.as_str(),
                "manual retry",
            )
            .flow(ticket.flow.as_str())
            .attempt(ticket.attempt),
        )?;
        let run = project.attempt_succeeded(&ticket.job_id, ticket.attempt)?;
        println!(
            "  now {} (earlier failures superseded: {})",
            run.status,
            run.attempts.iter().filter(|a| a.superseded).count()
        );
    }
    Ok(())
}

/// Execute one attempt: write its logs (carrying its attempt number),
/// then report the outcome.
fn execute(project: &Project, t: &AttemptTicket, rng: &mut Rng) -> runlog::Result<()> {
    let log = |level, content: String| {
        LogRecord::new(Timestamp::now(), level, t.job_id.as_str(), content)
            .flow(t.flow.as_str())
            .env(t.env.as_str())
            .app(t.app.as_str())
            .version(t.version.as_str())
            .attempt(t.attempt)
    };
    let mut batch = vec![log(
        Level::Info,
        format!("flow {} started (attempt {})", t.flow, t.attempt),
    )];
    let rows = rng.below(500);
    batch.push(log(Level::Debug, format!("fetched {rows} rows")));
    thread::sleep(Duration::from_millis(rng.below(5)));
    let fails = rng.below(3) == 0;
    if fails {
        batch.push(
            log(
                Level::Error,
                "POST https://api.example.com/orders: 503 Service Unavailable".into(),
            )
            .component("HTTP")
            .detail("{\"status\": 503, \"retry_after\": 1}"),
        );
    } else {
        batch.push(log(Level::Info, format!("wrote {rows} rows")));
    }
    project.append_batch(&batch)?;
    if fails {
        project.attempt_failed(&t.job_id, t.attempt, "POST /orders: 503")?;
    } else {
        project.attempt_succeeded(&t.job_id, t.attempt)?;
    }
    Ok(())
}
