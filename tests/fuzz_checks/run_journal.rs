//! The `run_journal` target: a run journal file (`runs/*.runs`).

use super::*;

/// Most runs a page of [`check_run_journal`]'s listings holds: more than a
/// journal of [`MAX_INPUT`] bytes can start (every frame takes at least
/// 13 bytes), so one page lists them all.
const JOURNAL_PAGE: usize = runlog::MAX_LIMIT;

/// The header of the journal file [`check_run_journal`] places: partition
/// 0, generation 0 (its name, `0000000000-0000.runs`), salt [`FIXED_SALT`].
pub fn journal_header() -> [u8; journal::HEADER_LEN] {
    journal::encode_header(&JournalHeader {
        partition: 0,
        generation: 0,
        salt: FIXED_SALT,
    })
}

/// Recompute the checksums of what looks like a journal file in place: the
/// header's (bytes 28..32), then each frame's with the salt of the header
/// bytes 20..28, walking frames from the header while their lengths are in
/// bounds.
pub fn fix_journal_checksums(b: &mut [u8]) {
    if b.len() < journal::HEADER_LEN {
        return;
    }
    let crc = crc32fast::hash(&b[..28]);
    put_u32(b, 28, crc);
    let salt = u64_le(b, 20);
    let mut at = journal::HEADER_LEN;
    while at + journal::FRAME_HEAD_LEN <= b.len() {
        let n = u32_le(b, at) as usize;
        let end = at + journal::FRAME_HEAD_LEN + n;
        if n == 0 || n > journal::MAX_EVENT_LEN || end > b.len() {
            break;
        }
        put_u32(b, at + 8, journal_frame_crc(salt, &b[at..end]));
        at = end;
    }
}

/// The checksum the frame `frame` (head and event) should carry under `salt`.
fn journal_frame_crc(salt: u64, frame: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&salt.to_le_bytes());
    h.update(&frame[..8]);
    h.update(&frame[journal::FRAME_HEAD_LEN..]);
    h.finalize()
}

/// Fuzz bytes as a run journal file: the header decoder and the frame
/// scanner on the bytes, then the file placed in a real store; again with
/// its checksums recomputed ([`fix_journal_checksums`]).
pub fn check_run_journal(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    check_run_journal_file(data);
    let mut fixed = data.to_vec();
    fix_journal_checksums(&mut fixed);
    if fixed != data {
        check_run_journal_file(&fixed);
    }
}

fn check_run_journal_file(b: &[u8]) {
    let header = journal::decode_header(b);
    match &header {
        Ok(h) => assert_eq!(
            journal::encode_header(h)[..],
            b[..journal::HEADER_LEN],
            "a header decoded from other bytes than it encodes to"
        ),
        Err(e) => error_offset_in(e, b.len(), "journal header"),
    }
    let salt = header.as_ref().map_or(FIXED_SALT, |h| h.salt);
    let scan = check_journal_scan(b, salt);
    run_journal_in_store(b, header.ok(), &scan);
}

/// Scan `b` with `salt`: no panic, and the scan's invariants. Events come
/// in file order, each a whole frame (length 1 to `MAX_EVENT_LEN`, the
/// checksum of `salt`) from the header's end on, whose event encodes back
/// to a frame that scans as the same event; they follow each other, with
/// sequence numbers 0, 1, …, except where damage is reported: exactly
/// where a gap starts, before a frame whose sequence number skips no more
/// than the gap's bytes could hold (13 bytes a frame). `end` is the end of
/// the last event's frame (the header's end without events), within the
/// input; the tail after it is torn exactly when it is not empty;
/// `next_seq` follows the last event. Scanning `b[..end]` gives the same,
/// without a torn tail.
fn check_journal_scan(b: &[u8], salt: u64) -> JournalScan {
    let s = journal::scan(b, salt);
    let head = journal::HEADER_LEN as u64;
    if b.len() < journal::HEADER_LEN {
        // (`end` is then `HEADER_LEN`, past the input: not checked.)
        assert!(
            s.events.is_empty() && s.damage.is_empty() && !s.torn,
            "a scan of {} bytes, shorter than a header, found {s:?}",
            b.len()
        );
        return s;
    }
    let len = b.len() as u64;
    let mut prev_end = head;
    let mut seq = 0u32;
    let mut gaps = Vec::new();
    for (offset, event) in &s.events {
        assert!(
            *offset >= prev_end,
            "event at {offset} before the end of the previous frame ({prev_end})"
        );
        let at = *offset as usize;
        assert!(
            at + journal::FRAME_HEAD_LEN <= b.len(),
            "event at {at}: no head"
        );
        let n = u32_le(b, at) as usize;
        let found = u32_le(b, at + 4);
        assert!(
            (1..=journal::MAX_EVENT_LEN).contains(&n),
            "event at {at}: length {n}"
        );
        let end = at + journal::FRAME_HEAD_LEN + n;
        assert!(end <= b.len(), "event at {at} ends past the input");
        assert_eq!(
            u32_le(b, at + 8),
            journal_frame_crc(salt, &b[at..end]),
            "event at {at}: checksum of another salt"
        );
        if *offset > prev_end {
            gaps.push(prev_end);
            let room = (*offset - prev_end) as usize / (journal::FRAME_HEAD_LEN + 1);
            assert!(
                found >= seq && (found - seq) as usize <= room,
                "event at {at}: sequence number {found} after {seq} and {} damaged bytes",
                *offset - prev_end
            );
        } else {
            assert_eq!(found, seq, "event at {at}: sequence number");
        }
        let mut one = journal_header().to_vec();
        journal::encode_frame(event, 0, FIXED_SALT, &mut one)
            .unwrap_or_else(|e| panic!("event at {at} does not encode: {e}"));
        let again = journal::scan(&one, FIXED_SALT);
        assert!(
            again.events.len() == 1 && again.events[0].1 == *event && !again.torn,
            "event at {at} does not encode back to itself: {event:?}"
        );
        seq = found.wrapping_add(1);
        prev_end = end as u64;
    }
    let reported: Vec<u64> = s.damage.iter().map(|d| d.0).collect();
    assert_eq!(reported, gaps, "damage reported elsewhere than the gaps");
    assert_eq!(s.end, prev_end, "end is not the end of the last frame");
    assert!(s.end <= len, "end {} past the input ({len})", s.end);
    assert_eq!(s.torn, s.end < len, "torn, yet nothing after the end");
    assert_eq!(s.next_seq, seq, "next sequence number");

    let p = journal::scan(&b[..s.end as usize], salt);
    assert_eq!(p.events, s.events, "the valid prefix scans to other events");
    assert_eq!(p.damage, s.damage, "the valid prefix scans to other damage");
    assert!(!p.torn, "the valid prefix has a torn tail");
    assert_eq!((p.end, p.next_seq), (s.end, s.next_seq));
    s
}

/// A run as the journal's events make it, by the documented rules: a
/// start makes a run (unless its job has one), an event about an unknown
/// job or not following from the run's state is skipped.
#[derive(Clone, Debug)]
struct ModelRun {
    start: Event,
    status: RunStatus,
    attempt: u32,
    attempts: usize,
    next_retry: Option<i64>,
    /// A manual retry was requested and is due.
    requested: bool,
}

/// The runs the events `events` make, by job ID.
fn model_runs(events: &[(u64, Event)]) -> BTreeMap<String, ModelRun> {
    let mut runs: BTreeMap<String, ModelRun> = BTreeMap::new();
    for (_, e) in events {
        let job = e.job_id().to_string();
        match (e, runs.get_mut(&job)) {
            // A run belongs in the file of its trigger time's partition
            // (the file is partition 0 of an hour); others are skipped.
            (Event::Start { trigger_time, .. }, None)
                if !(0..3_600_000_000).contains(trigger_time) => {}
            (Event::Start { .. }, None) => {
                runs.insert(
                    job,
                    ModelRun {
                        start: e.clone(),
                        status: RunStatus::Running,
                        attempt: 1,
                        attempts: 1,
                        next_retry: None,
                        requested: false,
                    },
                );
            }
            (
                Event::Attempt {
                    attempt, manual, ..
                },
                Some(r),
            ) => {
                // A manual attempt follows a failure or a requested retry;
                // an automatic one a retry that was not requested.
                let fits = match (manual, r.requested) {
                    (true, true) | (false, false) => r.status == RunStatus::Retrying,
                    (true, false) => r.status == RunStatus::Failed,
                    (false, true) => false,
                };
                if fits && *attempt == r.attempt.wrapping_add(1) {
                    r.status = RunStatus::Running;
                    r.attempt = *attempt;
                    r.attempts += 1;
                    r.next_retry = None;
                    r.requested = false;
                }
            }
            (Event::RetryRequested { time, .. }, Some(r)) if r.status == RunStatus::Failed => {
                r.status = RunStatus::Retrying;
                r.next_retry = Some(*time);
                r.requested = true;
            }
            (Event::Succeeded { attempt, .. }, Some(r))
                if r.status == RunStatus::Running && *attempt == r.attempt =>
            {
                r.status = RunStatus::Successful;
            }
            (
                Event::Failed {
                    attempt, retry_at, ..
                },
                Some(r),
            ) if r.status == RunStatus::Running && *attempt == r.attempt => {
                r.status = if retry_at.is_some() {
                    RunStatus::Retrying
                } else {
                    RunStatus::Failed
                };
                r.next_retry = *retry_at;
            }
            _ => {}
        }
    }
    runs
}

/// Whether a run triggered at `t` (µs) is listed by an all-time query at
/// [`RECOVERY_NOW`]: from the retention horizon to the end of time.
fn listed_at_recovery(t: i64) -> bool {
    (RECOVERY_HORIZON..i64::MAX).contains(&t)
}

/// Every run of `p` by an all-time query (one page): newest first, each
/// the one `run()` returns, and as many per status as `count_runs` says
/// (a disagreement is added to `late`, for the caller to fail on once its
/// other checks passed).
fn list_runs(p: &Project, late: &mut Vec<String>) -> Vec<Run> {
    let page = p
        .query_runs(&RunQuery::new().all_time().limit(JOURNAL_PAGE))
        .expect("runs");
    assert!(page.next.is_none(), "more than one page of runs");
    for w in page.runs.windows(2) {
        assert!(
            (w[0].trigger_time, &w[0].job_id) > (w[1].trigger_time, &w[1].job_id),
            "runs out of order"
        );
    }
    let counts = p
        .count_runs(&RunQuery::new().all_time())
        .expect("count_runs");
    let listed = RunStatus::ALL.map(|s| page.runs.iter().filter(|r| r.status == s).count() as u64);
    if counts.by_status != listed || counts.total != page.runs.len() as u64 {
        late.push(format!(
            "count_runs of all time: {} runs, by status {:?}; listed: {}, by status {listed:?}",
            counts.total,
            counts.by_status,
            page.runs.len()
        ));
    }
    for r in &page.runs {
        assert_eq!(
            p.run(&r.job_id).expect("run").as_ref(),
            Some(r),
            "run({}) and the listing disagree",
            r.job_id
        );
    }
    let scheduled = p
        .scheduled_tasks(&RunQuery::new().all_time().limit(JOURNAL_PAGE))
        .expect("scheduled_tasks");
    let expected: Vec<&Run> = page.runs.iter().filter(|r| r.is_scheduled()).collect();
    assert_eq!(
        scheduled.runs.iter().collect::<Vec<_>>(),
        expected,
        "scheduled tasks"
    );
    page.runs
}

/// The listing `runs` agrees with the model of the scanned events.
fn check_runs_model(runs: &[Run], model: &BTreeMap<String, ModelRun>, who: &str) {
    let expected: Vec<&String> = model
        .iter()
        .filter(|(_, m)| match &m.start {
            Event::Start { trigger_time, .. } => listed_at_recovery(*trigger_time),
            _ => false,
        })
        .map(|(job, _)| job)
        .collect();
    let mut listed: Vec<&str> = runs.iter().map(|r| r.job_id.as_str()).collect();
    listed.sort_unstable();
    assert_eq!(listed, expected, "{who}: other runs than the events start");
    for r in runs {
        let m = &model[r.job_id.as_str()];
        let Event::Start {
            flow,
            env,
            app,
            version,
            trigger,
            trigger_time,
            time,
            ..
        } = &m.start
        else {
            unreachable!()
        };
        assert_eq!(
            (
                &r.flow,
                &r.env,
                &r.app,
                &r.version,
                r.trigger,
                r.trigger_time.as_micros()
            ),
            (flow, env, app, version, *trigger, *trigger_time),
            "{who}: run {} is not its start event",
            r.job_id
        );
        assert_eq!(r.attempts[0].start.as_micros(), *time);
        assert_eq!(
            (r.status, r.attempt(), r.attempts.len()),
            (m.status, m.attempt, m.attempts),
            "{who}: run {} does not follow its events",
            r.job_id
        );
        assert_eq!(
            r.next_retry.map(|t| t.as_micros()),
            m.next_retry,
            "{who}: run {}: next retry",
            r.job_id
        );
    }
}

/// The file in a real store as `projects/p/runs/0000000000-0000.runs`:
/// a reader changes nothing; a writer removes a file shorter than a
/// header, sets aside (keeps as it is) one whose header does not decode
/// or names another file, else cuts its torn tail. Both list exactly the
/// runs the scanned events make (by the documented rules, within
/// retention), and can verify. A writer then claims the due retries and
/// starts a run; a reopen lists the same runs and changes no file.
fn run_journal_in_store(file: &[u8], header: Option<JournalHeader>, scan: &JournalScan) {
    let mut late = Vec::new();
    let tmp = scratch();
    let dir = tmp.path();
    let clock = ManualClock::new(RECOVERY_NOW);
    {
        let store = options(&clock).open(dir).expect("create store");
        store.project("p").expect("create project");
    }
    let runs_dir = dir.join("projects").join("p").join("runs");
    fs::create_dir_all(&runs_dir).expect("runs dir");
    let path = runs_dir.join("0000000000-0000.runs");
    fs::write(&path, file).expect("write journal");
    // Whether the store reads the file's frames: a whole header naming it.
    let readable = header.is_some_and(|h| (h.partition, h.generation) == (0, 0));
    let model = if readable {
        model_runs(&scan.events)
    } else {
        BTreeMap::new()
    };

    {
        let store = options(&clock).open_read_only(dir).expect("open read-only");
        let p = store.project("p").expect("open project read-only");
        let runs = list_runs(&p, &mut late);
        check_runs_model(&runs, &model, "reader");
        let _ = p.verify().expect("verify read-only");
        let _ = p.damage();
    }
    assert_eq!(
        fs::read(&path).ok().as_deref(),
        Some(file),
        "a read-only open changed the journal"
    );

    let after_claims = {
        let store = options(&clock).open(dir).expect("open writer");
        let p = store.project("p").expect("open project");
        let runs = list_runs(&p, &mut late);
        check_runs_model(&runs, &model, "writer");
        let report = p.verify().expect("verify");
        let on_disk = fs::read(&path).ok();
        if file.len() < journal::HEADER_LEN {
            assert!(on_disk.is_none(), "a journal shorter than a header kept");
        } else if readable {
            assert_eq!(
                on_disk.as_deref(),
                Some(&file[..scan.end as usize]),
                "recovery did not cut the journal to its valid frames"
            );
            if scan.damage.is_empty() {
                assert!(report.is_ok(), "a clean journal verifies with {report:?}");
            } else {
                assert!(!report.is_ok(), "damage not reported by verify");
                assert!(!p.damage().is_empty(), "damage not reported");
            }
        } else {
            assert_eq!(
                on_disk.as_deref(),
                Some(file),
                "a set-aside journal changed"
            );
            assert!(!p.damage().is_empty(), "a set-aside journal not reported");
            if header.is_none() {
                assert!(!report.is_ok(), "a journal without a header verifies");
            }
        }

        // Claim the due retries and start a run: recorded after the
        // recovered frames.
        // (Retries of runs triggered before the retention horizon are not
        // claimed; those of runs triggered at the end of time, never
        // listed, are.)
        let due: Vec<&str> = model
            .iter()
            .filter(|(_, m)| m.status == RunStatus::Retrying)
            .filter(|(_, m)| m.next_retry.is_some_and(|t| t <= RECOVERY_NOW.as_micros()))
            .filter(|(_, m)| {
                matches!(m.start, Event::Start { trigger_time, .. } if trigger_time >= RECOVERY_HORIZON)
            })
            .map(|(job, _)| job.as_str())
            .collect();
        let tickets = p.due_retries_at(RECOVERY_NOW).expect("due_retries");
        let mut claimed: Vec<&str> = tickets.iter().map(|t| t.job_id.as_str()).collect();
        claimed.sort_unstable();
        assert_eq!(claimed, due, "claimed other retries than the due ones");
        for t in &tickets {
            let run = p.run(&t.job_id).expect("run");
            if let Some(run) = run {
                assert_eq!((run.status, run.attempt()), (RunStatus::Running, t.attempt));
            }
        }
        let new = NewRun::new("fuzz-check", "f", Trigger::Scheduler);
        match p.start_run(&new) {
            Ok(r) => assert!(!model.contains_key("fuzz-check"), "started twice: {r:?}"),
            Err(Error::JobExists { .. }) => assert!(model.contains_key("fuzz-check")),
            Err(e) => panic!("start_run: {e}"),
        }
        p.sync().expect("sync");
        list_runs(&p, &mut late)
    };
    let files = snapshot(&runs_dir);
    {
        let store = options(&clock).open(dir).expect("reopen writer");
        let p = store.project("p").expect("reopen project");
        assert_eq!(
            list_runs(&p, &mut late),
            after_claims,
            "other runs after a reopen"
        );
        let _ = p.verify().expect("verify");
    }
    assert!(
        snapshot(&runs_dir) == files,
        "a reopen changed the journal files"
    );
    assert!(late.is_empty(), "{}", late.join("\n"));
}
