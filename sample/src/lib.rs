//! A deterministic generator of realistic integration-runtime logs, for
//! runlog's examples, benchmarks and tests.
//!
//! [`Generator`] plays an iPaaS integration runtime: a catalogue of flows
//! (by default 300, with Zipf-like popularity) belonging to a few apps with
//! versions, running in `prod`, `test` and `staging`, built from
//! components and connectors (Scheduler, HTTP, Database, Logger, Kafka,
//! SFTP, Salesforce…). Flows run as **jobs**: each job has a unique job ID
//! (`job-` and 16 hex digits) and writes 5 to 40 records that share its
//! flow, app, version and env; several jobs run at once, so their records
//! interleave in time.
//!
//! What the records look like, by default:
//!
//! | property | value |
//! |---|---|
//! | levels | about 20 % `Debug`, 60 % `Info`, 12 % `Warn`, 8 % `Error` |
//! | `content` | 80 to 300 bytes of templated messages: URLs, HTTP status codes, durations, row counts, errors such as "connection refused", "timeout after 30000 ms", "401 Unauthorized" |
//! | `detail` | on about 10 % of records: a JSON-ish payload or a stack trace, a few hundred bytes to a few KB |
//! | time | non-decreasing from `start`, about 2,000 records per second of generated time, except about 1 % **late** records, 1 s to 4 min older than the generator's current time (so some land in the previous partition) |
//! | `attempt` | 1 for about 97 % of jobs, else 2 or 3 |
//!
//! The same seed and start give the same records, on every platform: the
//! generator uses its own small PRNG (splitmix64), no global state, no
//! clock. Every record passes [`LogRecord::validate`]. Generating costs a
//! few hundred nanoseconds per record, far less than storing it.
//!
//! ```
//! use runlog_sample::{Config, Generator};
//! use runlog::Timestamp;
//!
//! let start = Timestamp::from_secs(1_700_000_000);
//! let mut g = Generator::new(42, start);
//! let batch = g.batch(1_000);
//! assert!(batch.iter().all(|r| r.validate().is_ok()));
//! assert!(batch[0].job_id.starts_with("job-"));
//!
//! // Same seed, same start: the same records.
//! assert_eq!(Generator::new(42, start).batch(1_000), batch);
//!
//! // A smaller catalogue, no late records, as an iterator.
//! let cfg = Config::new().flows(10).late_fraction(0.0);
//! let times: Vec<_> = Generator::with_config(7, start, cfg).take(100).map(|r| r.time).collect();
//! assert!(times.windows(2).all(|w| w[0] <= w[1]));
//! ```

use std::time::Duration;

use runlog::{Level, LogRecord, Text, Timestamp};

/// Settings of a [`Generator`]; [`Config::new`] gives the defaults.
///
/// ```
/// use runlog_sample::Config;
/// let cfg = Config::new().flows(50).records_per_sec(10_000).late_fraction(0.05);
/// assert_eq!(cfg.flow_count(), 50);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    flows: usize,
    records_per_sec: u32,
    late_fraction: f64,
    max_late: Duration,
    detail_fraction: f64,
    concurrent_jobs: usize,
    /// `None`: the eight built-in apps with 2–4 versions each.
    apps: Option<(usize, usize)>,
    /// Weights of `prod`, `test` and `staging`, drawn once per job.
    envs: [u32; 3],
}

impl Default for Config {
    fn default() -> Self {
        Config {
            flows: 300,
            records_per_sec: 2_000,
            late_fraction: 0.01,
            max_late: Duration::from_secs(240),
            detail_fraction: 0.10,
            concurrent_jobs: 12,
            apps: None,
            envs: [7, 2, 1],
        }
    }
}

impl Config {
    /// The defaults: 300 flows, 2,000 records per second of generated
    /// time, 1 % late records up to 4 minutes late, 10 % of records with a
    /// detail, 12 jobs running at once.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of distinct flows (at least 1).
    #[must_use]
    pub fn flows(mut self, n: usize) -> Self {
        self.flows = n.max(1);
        self
    }

    /// Average records per second of generated time (at least 1); sets
    /// how fast record time advances.
    #[must_use]
    pub fn records_per_sec(mut self, n: u32) -> Self {
        self.records_per_sec = n.max(1);
        self
    }

    /// Fraction of records that arrive late (clamped to `0.0..=1.0`).
    #[must_use]
    pub fn late_fraction(mut self, f: f64) -> Self {
        self.late_fraction = clamp_fraction(f);
        self
    }

    /// Longest lateness: a late record's time is between 1 s and
    /// `1 s + max_late` before the generator's current time.
    #[must_use]
    pub fn max_late(mut self, d: Duration) -> Self {
        self.max_late = d;
        self
    }

    /// Fraction of records carrying a `detail` (clamped to `0.0..=1.0`).
    #[must_use]
    pub fn detail_fraction(mut self, f: f64) -> Self {
        self.detail_fraction = clamp_fraction(f);
        self
    }

    /// How many jobs run at once, interleaving their records (at least 1).
    #[must_use]
    pub fn concurrent_jobs(mut self, n: usize) -> Self {
        self.concurrent_jobs = n.max(1);
        self
    }

    /// `apps` apps (at least 1) with `versions` versions each (at least 1)
    /// instead of the eight built-in apps with 2 to 4 versions each. Flows
    /// are spread over the apps; a job runs its app's newest version 80 %
    /// of the time, another one otherwise.
    #[must_use]
    pub fn apps(mut self, apps: usize, versions: usize) -> Self {
        self.apps = Some((apps.max(1), versions.max(1)));
        self
    }

    /// The weights of the environments a job runs in (`prod`, `test`,
    /// `staging`; default 7, 2, 1). All zero counts as the default.
    #[must_use]
    pub fn envs(mut self, prod: u32, test: u32, staging: u32) -> Self {
        self.envs = if prod == 0 && test == 0 && staging == 0 {
            [7, 2, 1]
        } else {
            [prod, test, staging]
        };
        self
    }

    /// The month backfill: 200 flows over 20 apps of 3 versions each, jobs
    /// in `prod` 70 % and `test` 30 % of the time, 1 % of records up to 10
    /// minutes late; otherwise the defaults (levels, contents, details).
    /// With [`Spread`] over 30 days, the workload of `benches/month.rs`.
    ///
    /// ```
    /// use runlog_sample::{Config, Generator};
    /// use runlog::Timestamp;
    /// let mut g = Generator::with_config(7, Timestamp::from_secs(1_700_000_000), Config::month());
    /// let batch = g.batch(10_000);
    /// assert!(batch.iter().all(|r| r.env == "prod" || r.env == "test"));
    /// assert_eq!(g.app_names().count(), 20);
    /// ```
    pub fn month() -> Self {
        Config::new()
            .flows(200)
            .apps(20, 3)
            .envs(7, 3, 0)
            .late_fraction(0.01)
            .max_late(Duration::from_secs(600))
    }

    /// The number of flows set.
    pub fn flow_count(&self) -> usize {
        self.flows
    }
}

fn clamp_fraction(f: f64) -> f64 {
    if f.is_nan() { 0.0 } else { f.clamp(0.0, 1.0) }
}

// ---------------------------------------------------------------------------
// PRNG: splitmix64. Tiny, fast, and the same on every platform.

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-shift.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64) * (1.0 / (1u64 << 53) as f64) < p
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }

    /// A duration in ms: mostly tens to hundreds, sometimes seconds.
    fn millis(&mut self) -> u64 {
        match self.below(10) {
            0 => self.range(1_000, 12_000),
            1..=3 => self.range(100, 999),
            _ => self.range(2, 99),
        }
    }
}

// ---------------------------------------------------------------------------
// Text helpers: cheap appends, no `format!` on the hot path.

fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or("0"));
}

fn push_hex(out: &mut String, n: u64, digits: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for k in (0..digits).rev() {
        out.push(char::from(HEX[((n >> (4 * k)) & 0xF) as usize]));
    }
}

macro_rules! put {
    ($out:expr; $($part:expr),* $(,)?) => {{
        $( Put::put($part, $out); )*
    }};
}

trait Put {
    fn put(self, out: &mut String);
}
impl Put for &str {
    fn put(self, out: &mut String) {
        out.push_str(self);
    }
}
impl Put for &String {
    fn put(self, out: &mut String) {
        out.push_str(self);
    }
}
impl Put for u64 {
    fn put(self, out: &mut String) {
        push_u64(out, self);
    }
}

// ---------------------------------------------------------------------------
// The catalogue: apps, flows, components.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Comp {
    Scheduler,
    HttpListener,
    HttpRequest,
    Database,
    Logger,
    Kafka,
    Sftp,
    Salesforce,
    Transform,
    Email,
}

impl Comp {
    const STEPS: [Comp; 8] = [
        Comp::HttpRequest,
        Comp::Database,
        Comp::Logger,
        Comp::Kafka,
        Comp::Sftp,
        Comp::Salesforce,
        Comp::Transform,
        Comp::Email,
    ];

    fn name(self) -> &'static str {
        match self {
            Comp::Scheduler => "Scheduler",
            Comp::HttpListener => "HTTP Listener",
            Comp::HttpRequest => "HTTP Request",
            Comp::Database => "Database",
            Comp::Logger => "Logger",
            Comp::Kafka => "Kafka",
            Comp::Sftp => "SFTP",
            Comp::Salesforce => "Salesforce",
            Comp::Transform => "Transform",
            Comp::Email => "Email",
        }
    }

    fn actions(self) -> &'static [&'static str] {
        match self {
            Comp::Scheduler => &["cron", "fixed-frequency"],
            Comp::HttpListener => &["receive", "respond"],
            Comp::HttpRequest => &["GET", "POST", "PUT", "PATCH", "DELETE"],
            Comp::Database => &["select", "insert", "update", "bulk-insert", "call"],
            Comp::Logger => &["log"],
            Comp::Kafka => &["publish", "consume", "commit"],
            Comp::Sftp => &["list", "read", "write", "move"],
            Comp::Salesforce => &["query", "create", "upsert", "bulk-upsert"],
            Comp::Transform => &["map", "validate", "split"],
            Comp::Email => &["send"],
        }
    }

    /// The default output event, used as the category of non-Logger records.
    fn event(self) -> &'static str {
        match self {
            Comp::Scheduler => "onTrigger",
            Comp::HttpListener => "onRequest",
            Comp::HttpRequest => "onResponse",
            Comp::Database => "onResult",
            Comp::Logger => "onLog",
            Comp::Kafka => "onMessage",
            Comp::Sftp => "onFile",
            Comp::Salesforce => "onResult",
            Comp::Transform => "onOutput",
            Comp::Email => "onSent",
        }
    }
}

const LOGGER_CATEGORIES: [&str; 6] = [
    "audit",
    "business",
    "payload-trace",
    "com.acme.integration",
    "metrics",
    "alerts",
];

const APPS: [&str; 8] = [
    "order-sync",
    "crm-bridge",
    "hr-onboarding",
    "finance-hub",
    "inventory-feed",
    "payments-gateway",
    "edi-partners",
    "marketing-leads",
];

const VERBS: [&str; 12] = [
    "sync",
    "import",
    "export",
    "publish",
    "reconcile",
    "enrich",
    "route",
    "archive",
    "notify",
    "validate",
    "replicate",
    "aggregate",
];

const NOUNS: [&str; 25] = [
    "orders",
    "invoices",
    "customers",
    "inventory",
    "shipments",
    "payments",
    "leads",
    "employees",
    "products",
    "refunds",
    "contracts",
    "tickets",
    "suppliers",
    "prices",
    "returns",
    "accounts",
    "opportunities",
    "timesheets",
    "expenses",
    "assets",
    "claims",
    "subscriptions",
    "vouchers",
    "quotes",
    "deliveries",
];

const HOSTS: [&str; 8] = [
    "api.shop.example.com",
    "erp.acme.internal",
    "billing.example.net",
    "acme.my.salesforce.example.com",
    "hr.workday.example.com",
    "edi.partner.example.org",
    "wms.acme.internal",
    "gateway.payments.example.com",
];

const DB_HOSTS: [&str; 4] = [
    "db-prod-1.acme.internal",
    "db-prod-3.acme.internal",
    "pg-erp.acme.internal",
    "mysql-legacy.acme.internal",
];

const SOBJECTS: [&str; 6] = ["Account", "Contact", "Opportunity", "Lead", "Order", "Case"];

const HTTP_ERRORS: [&str; 8] = [
    "connection refused",
    "timeout after 30000 ms",
    "401 Unauthorized",
    "503 Service Unavailable",
    "502 Bad Gateway",
    "connection reset by peer",
    "TLS handshake failed: certificate has expired",
    "500 Internal Server Error",
];

const DB_ERRORS: [&str; 5] = [
    "connection refused",
    "timeout after 30000 ms waiting for a pooled connection",
    "deadlock detected",
    "duplicate key value violates unique constraint",
    "relation does not exist",
];

const GENERIC_ERRORS: [&str; 6] = [
    "connection refused",
    "timeout after 30000 ms",
    "401 Unauthorized",
    "403 Forbidden",
    "connection reset by peer",
    "no route to host",
];

#[derive(Clone, Debug)]
struct App {
    name: String,
    versions: Vec<String>,
}

#[derive(Clone, Debug)]
struct Flow {
    name: String,
    entity: &'static str,
    app: usize,
    trigger: Comp,
    steps: Vec<Comp>,
    host: &'static str,
    db_host: &'static str,
    sobject: &'static str,
}

#[derive(Clone, Debug)]
struct Job {
    id: String,
    flow: usize,
    version: usize,
    env: &'static str,
    attempt: u32,
    total: u32,
    emitted: u32,
    started: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pos {
    Start,
    Middle,
    End,
}

/// A deterministic source of realistic log records; see the [module
/// documentation](self).
///
/// Also an endless [`Iterator`] of [`LogRecord`]s.
#[derive(Clone, Debug)]
pub struct Generator {
    rng: Rng,
    cfg: Config,
    apps: Vec<App>,
    flows: Vec<Flow>,
    /// Cumulative popularity of the flows, scaled to 2^53.
    flow_cdf: Vec<u64>,
    jobs: Vec<Job>,
    /// Current generated time, µs.
    now: i64,
    /// Mean gap between records, µs.
    gap: u64,
    max_late: u64,
    job_base: u64,
    jobs_started: u64,
    /// Reused buffer for building `content` and `detail`.
    scratch: String,
}

impl Generator {
    /// A generator with the default [`Config`], whose first record is at
    /// `start` (or, rarely, a late one a little before it).
    pub fn new(seed: u64, start: Timestamp) -> Self {
        Self::with_config(seed, start, Config::default())
    }

    /// A generator with the given settings.
    pub fn with_config(seed: u64, start: Timestamp, cfg: Config) -> Self {
        let mut rng = Rng(mix(seed ^ 0x5EED_0FF1_CE5E_ED00));
        let apps: Vec<App> = match cfg.apps {
            Some((count, per_app)) => (0..count)
                .map(|i| {
                    let base = APPS[i % APPS.len()];
                    let name = match i / APPS.len() {
                        0 => base.to_owned(),
                        round => format!("{base}-{}", round + 1),
                    };
                    let major = rng.range(1, 4);
                    let versions = (0..per_app)
                        .map(|minor| format!("{major}.{minor}.{}", rng.range(0, 9)))
                        .collect();
                    App { name, versions }
                })
                .collect(),
            None => APPS
                .iter()
                .map(|&name| {
                    let major = rng.range(1, 4);
                    let mut minor = rng.range(0, 6);
                    let n = rng.range(2, 4);
                    let versions = (0..n)
                        .map(|_| {
                            minor += rng.range(0, 2);
                            format!("{major}.{minor}.{}", rng.range(0, 9))
                        })
                        .collect();
                    App {
                        name: name.to_owned(),
                        versions,
                    }
                })
                .collect(),
        };

        // Flow names: verb-noun pairs in a seeded order, then numbered
        // rounds once the pairs run out.
        let pairs = VERBS.len() * NOUNS.len();
        let mut order: Vec<usize> = (0..pairs).collect();
        for i in (1..pairs).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
        let flows: Vec<Flow> = (0..cfg.flows)
            .map(|i| {
                let pair = order[i % pairs];
                let (verb, noun) = (VERBS[pair / NOUNS.len()], NOUNS[pair % NOUNS.len()]);
                let name = match i / pairs {
                    0 => format!("{verb}-{noun}"),
                    round => format!("{verb}-{noun}-{}", round + 1),
                };
                let trigger = match rng.below(20) {
                    0..=8 => Comp::Scheduler,
                    9..=13 => Comp::HttpListener,
                    14..=16 => Comp::Kafka,
                    _ => Comp::Sftp,
                };
                let mut steps = Vec::new();
                if rng.chance(0.75) {
                    steps.push(Comp::Logger);
                }
                let want = rng.range(2, 4) as usize;
                while steps.len() < want + usize::from(steps.first() == Some(&Comp::Logger)) {
                    let c = rng.pick(&Comp::STEPS);
                    if !steps.contains(&c) {
                        steps.push(c);
                    }
                }
                Flow {
                    name,
                    entity: noun,
                    app: rng.below(apps.len() as u64) as usize,
                    trigger,
                    steps,
                    host: rng.pick(&HOSTS),
                    db_host: rng.pick(&DB_HOSTS),
                    sobject: rng.pick(&SOBJECTS),
                }
            })
            .collect();

        // Zipf-like popularity: weight of the k-th flow is 1 / (k + 1).
        let total: f64 = (1..=flows.len()).map(|k| 1.0 / k as f64).sum();
        let scale = (1u64 << 53) as f64;
        let mut acc = 0.0;
        let mut flow_cdf: Vec<u64> = (1..=flows.len())
            .map(|k| {
                acc += 1.0 / k as f64;
                (acc / total * scale) as u64
            })
            .collect();
        if let Some(last) = flow_cdf.last_mut() {
            *last = 1u64 << 53;
        }

        let job_base = rng.next_u64();
        let mut g = Generator {
            rng,
            gap: (1_000_000 / u64::from(cfg.records_per_sec)).max(1),
            max_late: i64::try_from(cfg.max_late.as_micros())
                .unwrap_or(i64::MAX)
                .max(0) as u64,
            cfg,
            apps,
            flows,
            flow_cdf,
            jobs: Vec::new(),
            now: start.as_micros(),
            job_base,
            jobs_started: 0,
            scratch: String::with_capacity(8_192),
        };
        g.jobs = (0..g.cfg.concurrent_jobs).map(|_| g.new_job()).collect();
        g
    }

    /// The settings in use.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The generator's current time (`start` before the first record). It
    /// advances with every record; no record generated so far is later
    /// than it, and the record just generated is at it unless it was late.
    pub fn now(&self) -> Timestamp {
        Timestamp::from_micros(self.now)
    }

    /// The flow names, most popular first.
    pub fn flow_names(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.flows.iter().map(|f| f.name.as_str())
    }

    /// The app names.
    pub fn app_names(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.apps.iter().map(|a| a.name.as_str())
    }

    /// The next `n` records.
    pub fn batch(&mut self, n: usize) -> Vec<LogRecord> {
        (0..n).map(|_| self.next_record()).collect()
    }

    fn new_job(&mut self) -> Job {
        let u = self.rng.next_u64() >> 11;
        let flow = self.flow_cdf.partition_point(|&c| c <= u);
        let flow = flow.min(self.flows.len() - 1);
        let versions = self.apps[self.flows[flow].app].versions.len();
        let version = if self.rng.chance(0.8) {
            versions - 1
        } else {
            self.rng.below(versions as u64) as usize
        };
        let [prod, test, staging] = self.cfg.envs.map(u64::from);
        let draw = self.rng.below(prod + test + staging);
        let env = if draw < prod {
            "prod"
        } else if draw < prod + test {
            "test"
        } else {
            "staging"
        };
        let attempt = match self.rng.below(1000) {
            0..=969 => 1,
            970..=994 => 2,
            _ => 3,
        };
        // `mix` is a bijection, so job IDs never repeat within a generator.
        let mut id = String::with_capacity(20);
        id.push_str("job-");
        push_hex(
            &mut id,
            mix(self.job_base.wrapping_add(self.jobs_started)),
            16,
        );
        self.jobs_started += 1;
        Job {
            id,
            flow,
            version,
            env,
            attempt,
            total: self.rng.range(5, 40) as u32,
            emitted: 0,
            started: 0,
        }
    }

    /// The next record.
    pub fn next_record(&mut self) -> LogRecord {
        self.now += self.rng.below(2 * self.gap + 1) as i64;
        let slot = self.rng.below(self.jobs.len() as u64) as usize;
        let time = if self.rng.chance(self.cfg.late_fraction) {
            let late = 1_000_000 + self.rng.below(self.max_late + 1);
            self.now.saturating_sub(late as i64)
        } else {
            self.now
        };
        let level = match self.rng.below(100) {
            0..=19 => Level::Debug,
            20..=79 => Level::Info,
            80..=91 => Level::Warn,
            _ => Level::Error,
        };

        let job = &mut self.jobs[slot];
        let pos = if job.emitted == 0 {
            job.started = time;
            Pos::Start
        } else if job.emitted + 1 >= job.total {
            Pos::End
        } else {
            Pos::Middle
        };
        job.emitted += 1;
        let job = &self.jobs[slot];
        let flow = &self.flows[job.flow];
        let app = &self.apps[flow.app];
        let rng = &mut self.rng;

        let comp = match pos {
            Pos::Start => flow.trigger,
            // The end record comes from the flow itself, reported by its last step.
            Pos::End => *flow.steps.last().unwrap_or(&flow.trigger),
            Pos::Middle => {
                if flow.steps[0] == Comp::Logger && rng.chance(0.3) {
                    Comp::Logger
                } else {
                    rng.pick(&flow.steps)
                }
            }
        };
        let action = rng.pick(comp.actions());
        let category = if comp == Comp::Logger {
            rng.pick(&LOGGER_CATEGORIES)
        } else if level == Level::Error {
            "onError"
        } else {
            comp.event()
        };

        // Written into a reused buffer, then copied out at its exact size:
        // cheaper than growing a fresh string, and no slack in memory.
        let scratch = &mut self.scratch;
        scratch.clear();
        let elapsed_ms = ((time - job.started).max(0) / 1_000) as u64;
        write_content(
            scratch, rng, flow, job, comp, action, level, pos, elapsed_ms,
        );
        let content = Text::from(scratch.as_str());
        let detail = rng.chance(self.cfg.detail_fraction).then(|| {
            scratch.clear();
            write_detail(scratch, rng, flow, job, comp, action, level);
            scratch.as_str().to_owned()
        });

        let record = LogRecord {
            time: Timestamp::from_micros(time),
            level,
            job_id: job.id.as_str().into(),
            flow: flow.name.as_str().into(),
            component: comp.name().into(),
            action: action.into(),
            category: category.into(),
            env: job.env.into(),
            app: app.name.as_str().into(),
            version: app.versions[job.version].as_str().into(),
            attempt: job.attempt,
            content,
            detail,
        };
        if pos == Pos::End {
            self.jobs[slot] = self.new_job();
        }
        record
    }
}

/// A fixed number of generated records spread evenly over a time span
/// (say, a month), for building realistic stores: records are generated
/// at a whole-number rate, then stretched in time to fill the span.
///
/// ```
/// use runlog::Timestamp;
/// use runlog_sample::Spread;
/// use std::time::Duration;
/// let start = Timestamp::from_secs(1_700_000_000);
/// let mut month = Spread::new(7, start, 10_000, Duration::from_secs(30 * 86_400));
/// let batch = month.batch(100);
/// assert_eq!(batch.len(), 100);
/// assert!(batch.iter().all(|r| r.time >= start.saturating_sub(Duration::from_secs(3600))));
/// ```
#[derive(Debug)]
pub struct Spread {
    generator: Generator,
    start: Timestamp,
    stretch: f64,
}

impl Spread {
    /// `total` records from seed `seed`, starting at `start`, over `span`.
    pub fn new(seed: u64, start: Timestamp, total: u64, span: Duration) -> Spread {
        let secs = span.as_secs().max(1);
        let rate = (total / secs).clamp(1, u64::from(u32::MAX)) as u32;
        let generated = total as f64 / f64::from(rate);
        Spread {
            generator: Generator::with_config(seed, start, Config::new().records_per_sec(rate)),
            start,
            stretch: secs as f64 / generated,
        }
    }

    /// Like [`new`](Self::new) with the settings of `cfg` (its record rate
    /// is set for the span), whose lateness is kept in the span's time: a
    /// record of [`Config::month`] is at most 10 minutes late once
    /// stretched.
    ///
    /// ```
    /// use runlog::Timestamp;
    /// use runlog_sample::{Config, Spread};
    /// use std::time::Duration;
    /// let start = Timestamp::from_secs(1_700_000_000);
    /// let month = Duration::from_secs(30 * 86_400);
    /// let mut s = Spread::with_config(7, start, 100_000, month, Config::month());
    /// let records = s.batch(100_000);
    /// let last = records.iter().map(|r| r.time).max().unwrap();
    /// assert!(last > start + Duration::from_secs(29 * 86_400) && last <= start + month);
    /// ```
    pub fn with_config(
        seed: u64,
        start: Timestamp,
        total: u64,
        span: Duration,
        cfg: Config,
    ) -> Spread {
        let secs = span.as_secs().max(1);
        let rate = (total / secs).clamp(1, u64::from(u32::MAX)) as u32;
        let generated = total as f64 / f64::from(rate);
        let stretch = secs as f64 / generated;
        let max_late = cfg.max_late.div_f64(stretch);
        Spread {
            generator: Generator::with_config(
                seed,
                start,
                cfg.records_per_sec(rate).max_late(max_late),
            ),
            start,
            stretch,
        }
    }

    /// The next `n` records, times stretched to the span.
    pub fn batch(&mut self, n: usize) -> Vec<LogRecord> {
        let base = self.start.as_micros();
        let mut batch = self.generator.batch(n);
        for r in &mut batch {
            let t = base + ((r.time.as_micros() - base) as f64 * self.stretch) as i64;
            r.time = Timestamp::from_micros(t);
        }
        batch
    }
}

impl Iterator for Generator {
    type Item = LogRecord;

    /// Never `None`: the generator is endless.
    fn next(&mut self) -> Option<LogRecord> {
        Some(self.next_record())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

/// Shortest and longest `content`, in bytes.
const CONTENT_MIN: usize = 80;
const CONTENT_MAX: usize = 300;

fn push_url(out: &mut String, rng: &mut Rng, flow: &Flow, with_id: bool) {
    put!(out; "https://", flow.host, "/api/v", rng.range(1, 3), "/", flow.entity);
    if with_id {
        put!(out; "/", rng.range(10_000, 9_999_999));
    }
}

/// A plausible date as `yyyymmdd`, for file names.
fn date(rng: &mut Rng) -> u64 {
    rng.range(2024, 2025) * 10_000 + rng.range(1, 12) * 100 + rng.range(1, 28)
}

fn push_error(out: &mut String, rng: &mut Rng, errors: &[&str]) {
    out.push_str(rng.pick(errors));
}

#[allow(clippy::too_many_arguments)]
fn write_content(
    out: &mut String,
    rng: &mut Rng,
    flow: &Flow,
    job: &Job,
    comp: Comp,
    action: &str,
    level: Level,
    pos: Pos,
    elapsed_ms: u64,
) {
    let e = flow.entity;
    match pos {
        Pos::Start => match level {
            Level::Debug => {
                put!(out; "Trigger fired for flow ", &flow.name, ": ");
                match comp {
                    Comp::Scheduler => {
                        put!(out; "cron '0 */", rng.range(1, 30), " * * * *' matched, tick ", rng.range(1, 99_999))
                    }
                    Comp::HttpListener => {
                        put!(out; "received POST /api/v1/", e, " from 10.", rng.below(256), ".", rng.below(256), ".", rng.range(1, 254), " (", rng.range(200, 90_000), " bytes)")
                    }
                    Comp::Kafka => {
                        put!(out; "polled ", rng.range(1, 500), " messages from topic ", e, "-events partition ", rng.below(12), " offset ", rng.range(1_000, 99_999_999))
                    }
                    _ => put!(out; "found ", rng.range(1, 12), " new files in /inbound/", e),
                }
            }
            Level::Info => {
                put!(out; "Flow ", &flow.name, " started by ", comp.name(), " (attempt ", u64::from(job.attempt), ", env ", job.env, ")");
            }
            Level::Warn => {
                put!(out; "Flow ", &flow.name, " started ", rng.millis(), " ms after its scheduled time; the previous run was still active");
            }
            Level::Error => {
                put!(out; "Trigger of flow ", &flow.name, " reported an error: ");
                push_error(out, rng, &GENERIC_ERRORS);
                out.push_str("; continuing with the input received");
            }
        },
        Pos::End => match level {
            Level::Debug | Level::Info => {
                put!(out; "Flow ", &flow.name, " completed successfully in ", elapsed_ms, " ms; ", rng.range(1, 5_000), " ", e, " processed, ", rng.below(20), " skipped");
            }
            Level::Warn => {
                put!(out; "Flow ", &flow.name, " completed with ", rng.range(1, 9), " warnings in ", elapsed_ms, " ms; ", rng.range(1, 5_000), " ", e, " processed");
            }
            Level::Error => {
                put!(out; "Flow ", &flow.name, " failed after ", elapsed_ms, " ms at step ", comp.name(), " (", action, "): ");
                push_error(out, rng, &GENERIC_ERRORS);
            }
        },
        Pos::Middle => write_step(out, rng, flow, comp, action, level),
    }
    // Context that consoles show with the message; pads short messages.
    if out.len() < CONTENT_MIN || rng.chance(0.5) {
        put!(out; " [job ", &job.id, ", ", &flow.name, "]");
    }
    while out.len() < CONTENT_MIN {
        out.push_str(" correlationId=");
        push_hex(out, rng.next_u64(), 16);
    }
    if out.len() > CONTENT_MAX {
        // Everything written is ASCII, so any byte index is a char boundary.
        out.truncate(CONTENT_MAX);
    }
}

fn write_step(
    out: &mut String,
    rng: &mut Rng,
    flow: &Flow,
    comp: Comp,
    action: &str,
    level: Level,
) {
    let e = flow.entity;
    match (comp, level) {
        (Comp::HttpRequest, Level::Debug) => {
            put!(out; "Sending ", action, " ");
            push_url(out, rng, flow, false);
            put!(out; "?page=", rng.range(1, 40), "&limit=100 with headers Content-Type=application/json, X-Correlation-Id=");
            push_hex(out, rng.next_u64(), 16);
        }
        (Comp::HttpRequest, Level::Info) => {
            put!(out; action, " ");
            push_url(out, rng, flow, true);
            let status = rng.pick(&["200 OK", "200 OK", "201 Created", "204 No Content"]);
            put!(out; " -> ", status, " in ", rng.millis(), " ms (", rng.range(0, 250_000), " bytes)");
        }
        (Comp::HttpRequest, Level::Warn) => {
            put!(out; action, " ");
            push_url(out, rng, flow, false);
            if rng.chance(0.5) {
                put!(out; " returned 429 Too Many Requests; retrying in ", rng.range(1, 30) * 1_000, " ms (retry ", rng.range(1, 3), " of 3)");
            } else {
                put!(out; " took ", rng.range(5_001, 29_000), " ms (slow-response threshold 5000 ms)");
            }
        }
        (Comp::HttpRequest, Level::Error) => {
            put!(out; action, " ");
            push_url(out, rng, flow, true);
            out.push_str(" failed: ");
            push_error(out, rng, &HTTP_ERRORS);
        }
        (Comp::HttpListener, Level::Debug) => {
            put!(out; "Request headers: Content-Type=application/json, Content-Length=", rng.range(100, 500_000), ", User-Agent=partner-client/", rng.range(1, 9), ".", rng.below(20));
        }
        (Comp::HttpListener, Level::Info) => {
            put!(out; "Responded ", rng.pick(&["200 OK", "202 Accepted"]), " to POST /api/v1/", e, " in ", rng.millis(), " ms");
        }
        (Comp::HttpListener, Level::Warn) => {
            put!(out; "Request body for /api/v1/", e, " is ", rng.range(8_000_000, 10_400_000), " bytes, close to the 10485760-byte limit");
        }
        (Comp::HttpListener, Level::Error) => {
            put!(out; "Rejected request to /api/v1/", e, ": ", rng.pick(&["401 Unauthorized (invalid API key)", "400 Bad Request: missing field 'id'", "415 Unsupported Media Type", "413 Payload Too Large"]));
        }
        (Comp::Database, Level::Debug) => {
            let sql = match action {
                "select" => "SELECT id, status, updated_at FROM ",
                "insert" | "bulk-insert" => "INSERT INTO ",
                "update" => "UPDATE ",
                _ => "CALL refresh_",
            };
            put!(out; "Executing ", sql, e, if action == "select" { " WHERE updated_at > ? LIMIT 500" } else { " (batch of 500)" }, " on jdbc:postgresql://", flow.db_host, ":5432/", e);
        }
        (Comp::Database, Level::Info) => {
            put!(out; action, " on ", e, if action == "select" { " returned " } else { " affected " }, rng.range(0, 20_000), " rows in ", rng.millis(), " ms");
        }
        (Comp::Database, Level::Warn) => {
            put!(out; "Slow query: ", rng.range(2_000, 25_000), " ms for ", action, " on ", e, " (", rng.range(1, 50_000), " rows); consider an index on updated_at");
        }
        (Comp::Database, Level::Error) => {
            put!(out; action, " on ", e, " at ", flow.db_host, " failed: ");
            push_error(out, rng, &DB_ERRORS);
        }
        (Comp::Logger, lvl) => {
            let id = rng.range(10_000, 9_999_999);
            match (lvl, rng.below(2)) {
                (Level::Debug, 0) => {
                    put!(out; "Payload of ", e, " ", id, ": ", rng.range(1, 200), " items, ", rng.range(200, 90_000), " bytes")
                }
                (Level::Debug, _) => {
                    put!(out; "Mapped ", rng.range(1, 500), " ", e, " to the ERP format using mapping v", rng.range(1, 12))
                }
                (Level::Info, 0) => {
                    put!(out; "Processing ", e, " batch ", rng.range(1, 40), " of 40: ", rng.range(1, 1_000), " items")
                }
                (Level::Info, _) => {
                    put!(out; "Record ", id, " of ", e, " written to the target system")
                }
                (Level::Warn, 0) => {
                    put!(out; "Record ", id, " of ", e, " has no billing address; using the default")
                }
                (Level::Warn, _) => {
                    put!(out; rng.range(1, 30), " ", e, " had a null 'currency'; defaulted to USD")
                }
                (Level::Error, 0) => {
                    put!(out; "Validation failed for ", e, " ", id, ": field 'email' is empty")
                }
                (Level::Error, _) => {
                    put!(out; "Giving up on ", e, " ", id, " after 3 attempts: ", rng.pick(&GENERIC_ERRORS))
                }
            }
        }
        (Comp::Kafka, Level::Debug) => {
            put!(out; "Consumer group ", &flow.name, "-cg assigned partitions [0-", rng.range(1, 11), "] of topic ", e, "-events");
        }
        (Comp::Kafka, Level::Info) => {
            put!(out; if action == "consume" { "Consumed " } else { "Published " }, rng.range(1, 500), " messages on topic ", e, "-events (partition ", rng.below(12), ", offset ", rng.range(1_000, 99_999_999), ") in ", rng.millis(), " ms");
        }
        (Comp::Kafka, Level::Warn) => {
            put!(out; "Consumer lag on ", e, "-events is ", rng.range(1_000, 500_000), " messages (partition ", rng.below(12), ")");
        }
        (Comp::Kafka, Level::Error) => {
            put!(out; "Failed to ", action, " on topic ", e, "-events: ", rng.pick(&["timeout after 30000 ms", "NOT_LEADER_FOR_PARTITION", "connection refused", "RecordTooLargeException"]));
        }
        (Comp::Sftp, Level::Debug) => {
            put!(out; "Listing sftp://", flow.host, "/inbound/", e, ": ", rng.range(0, 40), " entries");
        }
        (Comp::Sftp, Level::Info) => {
            put!(out; if action == "write" { "Uploaded /outbound/" } else { "Downloaded /inbound/" }, e, "/", e, "_", date(rng), "_", rng.range(1, 999), ".csv (", rng.range(100, 9_000_000), " bytes) in ", rng.millis(), " ms");
        }
        (Comp::Sftp, Level::Warn) => {
            put!(out; "File /inbound/", e, "/", e, "_", date(rng), ".csv is empty; skipping");
        }
        (Comp::Sftp, Level::Error) => {
            put!(out; "SFTP ", flow.host, ":22 ", action, " failed: ", rng.pick(&["Auth fail for user integration", "No such file", "connection refused", "timeout after 30000 ms", "Permission denied"]));
        }
        (Comp::Salesforce, Level::Debug) => {
            put!(out; "SOQL: SELECT Id, Name, LastModifiedDate FROM ", flow.sobject, " WHERE LastModifiedDate > LAST_N_DAYS:", rng.range(1, 30), " LIMIT 2000");
        }
        (Comp::Salesforce, Level::Info) => {
            let (a, b) = (rng.range(0, 500), rng.range(0, 500));
            put!(out; "Salesforce ", action, " of ", a + b, " ", flow.sobject, " records (created ", a, ", updated ", b, ") in ", rng.millis(), " ms");
        }
        (Comp::Salesforce, Level::Warn) => {
            put!(out; "Salesforce API usage at ", rng.range(80, 99), "% of the daily limit (", rng.range(80_000, 99_000), " of 100000 requests)");
        }
        (Comp::Salesforce, Level::Error) => {
            put!(out; "Salesforce ", action, " on ", flow.sobject, " failed: ", rng.pick(&["INVALID_SESSION_ID: Session expired or invalid", "401 Unauthorized", "REQUEST_LIMIT_EXCEEDED", "UNABLE_TO_LOCK_ROW", "timeout after 30000 ms"]));
        }
        (Comp::Transform, Level::Debug) => {
            put!(out; "Mapping script ", e, "-to-erp.dw v", rng.range(1, 20), " loaded (", rng.range(20, 900), " lines)");
        }
        (Comp::Transform, Level::Info) => {
            put!(out; "Transformed ", rng.range(1, 5_000), " ", e, " in ", rng.millis(), " ms (", action, ")");
        }
        (Comp::Transform, Level::Warn) => {
            put!(out; rng.range(1, 50), " of ", rng.range(50, 5_000), " ", e, " failed schema validation and were sent to the dead-letter queue");
        }
        (Comp::Transform, Level::Error) => {
            put!(out; "Transform failed: unable to coerce 'N/A' to Number at line ", rng.range(1, 400), ", column ", rng.range(1, 80));
        }
        (Comp::Email, Level::Debug) => {
            put!(out; "Rendering template ", e, "-summary.html with ", rng.range(1, 200), " rows");
        }
        (Comp::Email, Level::Info) => {
            put!(out; "Sent notification to ops-team@acme.example (", rng.range(1, 12), " recipients) in ", rng.millis(), " ms");
        }
        (Comp::Email, Level::Warn) => {
            put!(out; "SMTP server responded 451 temporary failure; retry queued in ", rng.range(1, 10) * 60, " s");
        }
        (Comp::Email, Level::Error) => {
            put!(out; "SMTP error sending to ops-team@acme.example: ", rng.pick(&GENERIC_ERRORS), " (smtp.acme.example:587)");
        }
        (Comp::Scheduler, _) => {
            put!(out; "Scheduler tick ", rng.range(1, 99_999), " for ", &flow.name, "; next run in ", rng.range(1, 60), " min");
        }
    }
}

fn write_detail(
    out: &mut String,
    rng: &mut Rng,
    flow: &Flow,
    job: &Job,
    comp: Comp,
    action: &str,
    level: Level,
) {
    let items = rng.range(2, 50);
    if level == Level::Error && rng.chance(0.6) {
        // A stack trace.
        let (class, msg) = match comp {
            Comp::Database => (
                "java.sql.SQLTransientConnectionException",
                "connection refused",
            ),
            Comp::Salesforce => (
                "com.acme.connector.salesforce.ApiException",
                "401 Unauthorized",
            ),
            _ => ("java.net.SocketTimeoutException", "timeout after 30000 ms"),
        };
        put!(out; class, ": ", msg, "\n");
        let frames = [
            "com.acme.runtime.connector.ConnectorExecutor.execute(ConnectorExecutor.java:",
            "com.acme.runtime.flow.StepRunner.run(StepRunner.java:",
            "com.acme.runtime.flow.FlowEngine.dispatch(FlowEngine.java:",
            "java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:",
        ];
        for k in 0..items.min(30) {
            put!(out; "\tat ", frames[(k % 4) as usize], rng.range(20, 1_200), ")\n");
        }
        put!(out; "Caused by: ", msg, " (job ", &job.id, ", flow ", &flow.name, ")");
        return;
    }
    put!(out; "{\"job\":\"", &job.id, "\",\"flow\":\"", &flow.name, "\",\"component\":\"", comp.name(), "\",\"action\":\"", action, "\",");
    match comp {
        Comp::HttpRequest | Comp::HttpListener => {
            put!(out; "\"request\":{\"method\":\"POST\",\"url\":\"");
            push_url(out, rng, flow, false);
            put!(out; "\",\"headers\":{\"Content-Type\":\"application/json\",\"X-Correlation-Id\":\"");
            push_hex(out, rng.next_u64(), 16);
            let status: u64 = if level == Level::Error { 503 } else { 200 };
            put!(out; "\"}},\"response\":{\"status\":", status, ",\"elapsedMs\":", rng.millis(), ",\"body\":");
        }
        _ => put!(out; "\"rows\":"),
    }
    out.push('[');
    for k in 0..items {
        if k > 0 {
            out.push(',');
        }
        put!(out; "{\"id\":", rng.range(10_000, 9_999_999), ",\"sku\":\"SKU-", rng.range(10_000, 99_999), "\",\"qty\":", rng.range(1, 40), ",\"status\":\"", rng.pick(&["NEW", "SHIPPED", "PENDING", "CANCELLED"]), "\"}");
    }
    out.push(']');
    if matches!(comp, Comp::HttpRequest | Comp::HttpListener) {
        out.push('}');
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;

    const START: i64 = 1_700_000_000; // 2023-11-14T22:13:20Z

    fn start() -> Timestamp {
        Timestamp::from_secs(START)
    }

    #[test]
    fn the_month_config_has_its_catalogue_envs_and_lateness() {
        let mut g = Generator::with_config(11, start(), Config::month());
        let records = g.batch(200_000);
        let apps: HashSet<&str> = records.iter().map(|r| r.app.as_str()).collect();
        assert_eq!(apps.len(), 20);
        let versions: HashSet<(&str, &str)> = records
            .iter()
            .map(|r| (r.app.as_str(), r.version.as_str()))
            .collect();
        assert!(
            versions.len() <= 60 && versions.len() > 40,
            "{}",
            versions.len()
        );
        let flows: HashSet<&str> = records.iter().map(|r| r.flow.as_str()).collect();
        assert!(flows.len() <= 200 && flows.len() > 100, "{}", flows.len());
        // Env is drawn per job: count jobs, not records.
        let mut env_of: HashMap<&str, &str> = HashMap::new();
        for r in &records {
            env_of.insert(r.job_id.as_str(), r.env.as_str());
        }
        let prod = env_of.values().filter(|e| **e == "prod").count() as f64;
        let share = prod / env_of.len() as f64;
        assert!((0.65..0.75).contains(&share), "{share}");
        assert!(env_of.values().all(|e| *e == "prod" || *e == "test"));
        // Late records: about 1 %, none more than 10 minutes and a second late.
        let mut newest = Timestamp::MIN;
        let mut late = 0;
        for r in &records {
            if r.time < newest {
                late += 1;
                assert!(newest.as_micros() - r.time.as_micros() <= 601_000_000);
            }
            newest = newest.max(r.time);
        }
        let late_share = f64::from(late) / records.len() as f64;
        assert!((0.005..0.02).contains(&late_share), "{late_share}");
    }

    #[test]
    fn deterministic() {
        let a = Generator::new(1, start()).batch(20_000);
        let b = Generator::new(1, start()).batch(20_000);
        assert_eq!(a, b);
        let c = Generator::new(2, start()).batch(1_000);
        assert_ne!(a[..1_000], c[..]);
        let d: Vec<_> = Generator::new(1, start()).take(1_000).collect();
        assert_eq!(a[..1_000], d[..]);
    }

    #[test]
    fn all_valid_and_sized() {
        let mut details = 0;
        for r in Generator::new(3, start()).take(100_000) {
            r.validate().unwrap();
            assert!(
                (CONTENT_MIN..=CONTENT_MAX).contains(&r.content.len()),
                "{} bytes: {}",
                r.content.len(),
                r.content
            );
            if let Some(d) = &r.detail {
                details += 1;
                assert!((150..=8_192).contains(&d.len()), "{} bytes", d.len());
            }
            assert!(!r.flow.is_empty() && !r.app.is_empty() && !r.version.is_empty());
            assert!(["prod", "test", "staging"].contains(&r.env.as_str()));
            assert!((1..=3).contains(&r.attempt));
        }
        let frac = f64::from(details) / 100_000.0;
        assert!((0.085..0.115).contains(&frac), "detail fraction {frac}");
    }

    #[test]
    fn level_distribution() {
        let mut counts = [0u32; 4];
        for r in Generator::new(4, start()).take(100_000) {
            counts[r.level.code() as usize] += 1;
        }
        for (n, want) in counts.iter().zip([0.20, 0.60, 0.12, 0.08]) {
            let got = f64::from(*n) / 100_000.0;
            assert!((got - want).abs() < 0.01, "{counts:?}");
        }
    }

    #[test]
    fn jobs_are_coherent_and_sized() {
        let mut g = Generator::new(5, start());
        let records = g.batch(100_000);
        let unfinished: Vec<String> = g.jobs.iter().map(|j| j.id.clone()).collect();
        let mut jobs: HashMap<&str, Vec<&LogRecord>> = HashMap::new();
        for r in &records {
            assert_eq!(r.job_id.len(), 20);
            assert!(r.job_id.starts_with("job-"));
            assert!(r.job_id[4..].bytes().all(|b| b.is_ascii_hexdigit()));
            jobs.entry(&r.job_id).or_default().push(r);
        }
        assert!(jobs.len() > 3_000, "{} jobs", jobs.len());
        for (id, rs) in &jobs {
            let n = rs.len();
            if unfinished.iter().any(|u| u == id) {
                assert!(n < 40, "{id}: {n}");
            } else {
                assert!((5..=40).contains(&n), "{id}: {n} records");
            }
            let f = rs[0];
            for r in rs {
                assert_eq!(
                    (&r.flow, &r.app, &r.version, &r.env, r.attempt),
                    (&f.flow, &f.app, &f.version, &f.env, f.attempt)
                );
            }
        }
        // Jobs interleave.
        let switches = records
            .windows(2)
            .filter(|w| w[0].job_id != w[1].job_id)
            .count();
        assert!(switches > 50_000, "{switches}");
        // Skewed popularity: the top flow has far more jobs than the median one.
        let mut per_flow: HashMap<&str, u32> = HashMap::new();
        for rs in jobs.values() {
            *per_flow.entry(&rs[0].flow).or_default() += 1;
        }
        let mut counts: Vec<u32> = per_flow.values().copied().collect();
        counts.sort_unstable();
        assert!(counts.len() > 200, "{} flows used", counts.len());
        assert!(counts[counts.len() - 1] > 10 * counts[counts.len() / 2]);
        // Attempts: mostly 1.
        let firsts = jobs.values().filter(|rs| rs[0].attempt == 1).count();
        assert!(firsts as f64 / jobs.len() as f64 > 0.95);
    }

    #[test]
    fn late_fraction_and_order() {
        let mut g = Generator::new(6, start());
        let mut max = Timestamp::MIN;
        let mut late = 0;
        for r in g.by_ref().take(100_000) {
            if r.time < max {
                late += 1;
                let behind = max.as_micros() - r.time.as_micros();
                assert!(behind <= 241_000_000, "{behind} µs late");
            }
            max = max.max(r.time);
        }
        let frac = f64::from(late) / 100_000.0;
        assert!((0.008..0.012).contains(&frac), "late fraction {frac}");
        assert!(g.now() >= max && g.now().as_micros() - max.as_micros() < 241_000_000);
        // About 2,000 records per second of generated time.
        let secs = (max.as_micros() - START * 1_000_000) as f64 / 1e6;
        assert!((45.0..55.0).contains(&secs), "{secs} s");

        let none = Generator::with_config(6, start(), Config::new().late_fraction(0.0));
        let times: Vec<_> = none.take(10_000).map(|r| r.time).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn late_records_reach_the_previous_hour() {
        // Start a minute before an hour boundary; after it, some records
        // must still belong to the previous hour.
        let hour = 3_600_000_000;
        let boundary = (START * 1_000_000).div_euclid(hour) * hour + hour;
        let mut g = Generator::new(7, Timestamp::from_micros(boundary - 60_000_000));
        let mut crossing = 0;
        for _ in 0..600_000 {
            let r = g.next_record();
            if g.now >= boundary + 1_000_000 && r.time.as_micros() < boundary {
                crossing += 1;
            }
        }
        assert!(g.now > boundary + 120_000_000);
        assert!(crossing > 10, "{crossing}");
    }

    #[test]
    fn catalogue() {
        let g = Generator::new(8, start());
        assert_eq!(g.flow_names().len(), 300);
        let mut names: Vec<&str> = g.flow_names().collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 300);
        assert_eq!(g.app_names().len(), APPS.len());
        let big = Generator::with_config(8, start(), Config::new().flows(700));
        let mut names: Vec<&str> = big.flow_names().collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 700);
        let tiny = Generator::with_config(8, start(), Config::new().flows(0).concurrent_jobs(0));
        assert_eq!(tiny.take(100).count(), 100);
    }

    #[test]
    fn many_components_actions_and_categories() {
        let mut comps = HashMap::new();
        let mut cats = HashMap::new();
        for r in Generator::new(9, start()).take(50_000) {
            *comps.entry(r.component).or_insert(0u32) += 1;
            *cats.entry(r.category).or_insert(0u32) += 1;
        }
        assert!(comps.len() >= 9, "{comps:?}");
        assert!(cats.len() >= 12, "{cats:?}");
        assert!(comps["Logger"] > 2_500, "{comps:?}");
    }
}
