//! The `cursor` target: a page cursor given by a user.

use super::*;

/// Length of a cursor's bytes (layout at the top of `src/query/cursor.rs`).
pub const CURSOR_LEN: usize = 49;
const CURSOR_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// URL-safe base64 without padding of `b` (a cursor's text form).
pub fn cursor_text(b: &[u8]) -> String {
    let mut s = String::new();
    for chunk in b.chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, &x| (acc << 8) | u32::from(x)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            s.push(CURSOR_ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    s
}

/// The bytes of a cursor's text, by the documented form: every character
/// from the alphabet, and the bits left over after the last whole byte
/// zero. `None` otherwise.
pub fn cursor_text_bytes(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = CURSOR_ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (acc == 0).then_some(out)
}

/// Whether `b` are the bytes of a valid cursor by the documented layout:
/// 49 bytes, CRC32 of bytes 0..45 at 45, version 1, range start not after
/// its end.
pub fn cursor_is_valid(b: &[u8]) -> bool {
    b.len() == CURSOR_LEN
        && crc32fast::hash(&b[..45]) == u32_le(b, 45)
        && b[0] == 1
        && u64_le(b, 9) as i64 <= u64_le(b, 17) as i64
}

/// `b` with the cursor checksum recomputed, when it is 49 bytes long.
pub fn fix_cursor_crc(b: &[u8]) -> Option<Vec<u8>> {
    (b.len() == CURSOR_LEN).then(|| {
        let mut f = b.to_vec();
        let crc = crc32fast::hash(&f[..45]);
        put_u32(&mut f, 45, crc);
        f
    })
}

/// What a cursor holds, read from its bytes by the documented layout.
#[derive(Clone, Copy, Debug)]
struct CursorFields {
    fingerprint: u64,
    range: TimeRange,
    key: (Timestamp, RecordId),
}

fn cursor_fields(b: &[u8]) -> CursorFields {
    CursorFields {
        fingerprint: u64_le(b, 1),
        range: TimeRange {
            from: Timestamp::from_micros(u64_le(b, 9) as i64),
            to: Timestamp::from_micros(u64_le(b, 17) as i64),
        },
        key: (
            Timestamp::from_micros(u64_le(b, 25) as i64),
            RecordId {
                segment: SegmentId {
                    partition: u32_le(b, 33),
                    generation: u32_le(b, 37),
                },
                ordinal: u32_le(b, 41),
            },
        ),
    }
}

/// The small store cursors are tried on: records in a sealed and an active
/// segment (ties in time included), made once per process.
pub struct CursorStore {
    _dir: tempfile::TempDir,
    pub project: Project,
    /// Every record, newest first (ties: highest ID first).
    pub records: Vec<StoredRecord>,
    /// The fingerprint of `Query::new()`'s filters (none).
    pub fingerprint: u64,
    /// The retention horizon of the store's clock.
    pub horizon: Timestamp,
    /// The cursors of every page of `Query::new().all_time().limit(2)`.
    pub page_cursors: Vec<Cursor>,
    /// Every run, newest first (ties: highest job ID first).
    pub runs: Vec<Run>,
    /// The fingerprint of `RunQuery::new()`'s filters (none).
    pub run_fingerprint: u64,
}

/// The clock of the cursor store (2023-11-14T22:13:20Z + 2 h).
pub const CURSOR_NOW: Timestamp = Timestamp::from_secs(1_700_000_000 + 7200);
/// Page size of the queries [`check_cursor`] makes.
const CURSOR_PAGE: usize = 3;

pub fn cursor_store() -> &'static CursorStore {
    static S: OnceLock<CursorStore> = OnceLock::new();
    S.get_or_init(|| {
        let dir = scratch();
        let t0 = Timestamp::from_secs(1_700_000_000);
        let clock = ManualClock::new(t0);
        let store = options(&clock).open(dir.path()).expect("cursor store");
        let project = store.project("p").expect("cursor project");
        let rec = |t: Timestamp, level: Level, job: &str, content: &str| {
            LogRecord::new(t, level, job, content).flow("sync")
        };
        project
            .append_batch(&[
                rec(t0, Level::Info, "job-1", "started"),
                rec(t0, Level::Error, "job-1", "failed"),
                rec(
                    Timestamp::from_secs(1_700_000_100),
                    Level::Warn,
                    "job-2",
                    "slow",
                ),
            ])
            .expect("append");
        clock.set(CURSOR_NOW);
        project.seal_due().expect("seal");
        let t1 = Timestamp::from_secs(1_700_000_000 + 7000);
        project
            .append_batch(&[
                rec(t1, Level::Info, "job-3", "a"),
                rec(t1, Level::Info, "job-3", "b"),
                rec(CURSOR_NOW, Level::Debug, "job-4", "c"),
            ])
            .expect("append");
        let records = collect(&project, 100);
        assert_eq!(records.len(), 6);
        let mut page_cursors = Vec::new();
        let mut q = Query::new().all_time().limit(2);
        while let Some(next) = project.query(&q).expect("page").next {
            page_cursors.push(next);
            q = Query::new().all_time().limit(2).after(next);
        }
        assert!(!page_cursors.is_empty());
        // The check's query has the same (no) filters and range: its
        // cursors get past the fingerprint.
        let after_first = Query::new()
            .all_time()
            .limit(CURSOR_PAGE)
            .after(page_cursors[0]);
        assert!(
            project
                .query(&after_first)
                .is_ok_and(|p| !p.records.is_empty())
        );
        let text = page_cursors[0].to_string();
        let fingerprint =
            cursor_fields(&cursor_text_bytes(&text).expect("cursor text")).fingerprint;
        let horizon =
            Timestamp::from_micros(CURSOR_NOW.as_micros() - RETENTION_SECS as i64 * 1_000_000);
        for (job, t) in [("job-1", t0), ("job-2", t0), ("job-3", t1)] {
            project
                .start_run(&NewRun::new(job, "sync", Trigger::Scheduler).triggered_at(t))
                .expect("start run");
        }
        let runs = project
            .query_runs(&RunQuery::new().all_time().limit(100))
            .expect("runs")
            .runs;
        let run_cursor = project
            .query_runs(&RunQuery::new().all_time().limit(1))
            .expect("runs")
            .next
            .expect("a run cursor");
        let run_fingerprint = u64_le(
            &cursor_text_bytes(&run_cursor.to_string()).expect("run cursor text"),
            1,
        );
        CursorStore {
            _dir: dir,
            project,
            records,
            fingerprint,
            horizon,
            page_cursors,
            runs,
            run_fingerprint,
        }
    })
}

/// A user's cursor: `data` as cursor bytes (`Cursor::from_bytes`), and as
/// cursor text (`str::parse`, `data` read as lossy UTF-8); then each again
/// with the checksum recomputed. Never panics; decoding agrees with the
/// documented layout and base64 form; a decoded cursor's text parses back
/// to it; and each cursor decoded, continued in a small store, gives
/// exactly the records of its range before its position (or
/// `CursorMismatch`, exactly when its filters are not the query's).
pub fn check_cursor(data: &[u8]) {
    if data.len() > 4 * 1024 {
        return;
    }
    let mut decoded = Vec::new();
    decoded.extend(check_cursor_bytes(data));
    if let Some(fixed) = fix_cursor_crc(data).filter(|f| f != data) {
        decoded.extend(check_cursor_bytes(&fixed));
    }
    let text = String::from_utf8_lossy(data);
    decoded.extend(check_cursor_text(&text));
    if let Some(fixed) = cursor_text_bytes(&text)
        .and_then(|b| fix_cursor_crc(&b))
        .map(|b| cursor_text(&b))
        .filter(|t| *t != text)
    {
        decoded.extend(check_cursor_text(&fixed));
    }
    for (cursor, fields) in decoded {
        check_cursor_query(cursor, fields);
    }
    // The same bytes and text as a run cursor.
    let mut runs = Vec::new();
    runs.extend(check_run_cursor_bytes(data));
    if let Some(fixed) = fix_run_cursor_crc(data).filter(|f| f != data) {
        runs.extend(check_run_cursor_bytes(&fixed));
    }
    if let Some(b) = cursor_text_bytes(&text) {
        let parsed = text.parse::<RunCursor>();
        match (&parsed, run_cursor_is_valid(&b)) {
            (Ok(c), true) => assert_eq!(c.to_string(), text, "run cursor text is not canonical"),
            (Err(Error::InvalidCursor { .. }), false) => {}
            (other, valid) => panic!("run cursor text {text:?} (valid bytes: {valid}): {other:?}"),
        }
        runs.extend(parsed.ok().map(|c| (c, b)));
    } else {
        assert!(
            matches!(text.parse::<RunCursor>(), Err(Error::InvalidCursor { .. })),
            "non-base64 run cursor text accepted"
        );
    }
    for (cursor, bytes) in runs {
        check_run_cursor_query(cursor, &bytes);
    }
}

/// Whether `b` is a run cursor by its documented layout: `R`, fingerprint,
/// range (from ≤ to), time, job ID length and UTF-8 bytes (≤ 128), CRC32.
fn run_cursor_is_valid(b: &[u8]) -> bool {
    b.len() >= 38
        && b.len() == 38 + usize::from(b[33])
        && crc32fast::hash(&b[..b.len() - 4]) == u32_le(b, b.len() - 4)
        && b[0] == b'R'
        && usize::from(b[33]) <= MAX_JOB_ID_BYTES
        && std::str::from_utf8(&b[34..b.len() - 4]).is_ok()
        && u64_le(b, 9) as i64 <= u64_le(b, 17) as i64
}

/// `b` with the run-cursor checksum recomputed, when its length fits.
fn fix_run_cursor_crc(b: &[u8]) -> Option<Vec<u8>> {
    (b.len() >= 38 && b.len() == 38 + usize::from(b[33])).then(|| {
        let mut f = b.to_vec();
        let n = f.len() - 4;
        let crc = crc32fast::hash(&f[..n]);
        put_u32(&mut f, n, crc);
        f
    })
}

fn check_run_cursor_bytes(b: &[u8]) -> Option<(RunCursor, Vec<u8>)> {
    match RunCursor::from_bytes(b) {
        Ok(c) => {
            assert!(run_cursor_is_valid(b), "invalid run cursor bytes decoded");
            let text = c.to_string();
            assert_eq!(cursor_text_bytes(&text).as_deref(), Some(b));
            assert_eq!(text.parse::<RunCursor>().ok(), Some(c.clone()));
            Some((c, b.to_vec()))
        }
        Err(Error::InvalidCursor { .. }) => {
            assert!(!run_cursor_is_valid(b), "valid run cursor bytes refused");
            None
        }
        Err(e) => panic!("run cursor bytes: unexpected error {e}"),
    }
}

/// A decoded run cursor continued in the cursor store: `CursorMismatch`
/// exactly for other filters, else pages of the store's runs strictly
/// below its position and inside its range (from the horizon).
fn check_run_cursor_query(cursor: RunCursor, b: &[u8]) {
    let s = cursor_store();
    let q = RunQuery::new().all_time().limit(2);
    let got = s.project.query_runs(&q.clone().after(cursor));
    if u64_le(b, 1) != s.run_fingerprint {
        assert!(
            matches!(got, Err(Error::CursorMismatch)),
            "a run cursor of other filters: {got:?}"
        );
        return;
    }
    let page = got.expect("runs after a run cursor");
    let from = (u64_le(b, 9) as i64).max(s.horizon.as_micros());
    let to = u64_le(b, 17) as i64;
    let key = (
        u64_le(b, 25) as i64,
        std::str::from_utf8(&b[34..b.len() - 4]).unwrap(),
    );
    let expected: Vec<&str> = s
        .runs
        .iter()
        .filter(|r| {
            let t = r.trigger_time.as_micros();
            t >= from && t < to && (t, r.job_id.as_str()) < key
        })
        .take(2)
        .map(|r| r.job_id.as_str())
        .collect();
    let listed: Vec<&str> = page.runs.iter().map(|r| r.job_id.as_str()).collect();
    assert_eq!(listed, expected, "runs after a run cursor");
}

fn check_cursor_bytes(b: &[u8]) -> Option<(Cursor, CursorFields)> {
    match Cursor::from_bytes(b) {
        Ok(c) => {
            assert!(cursor_is_valid(b), "invalid cursor bytes decoded");
            let text = c.to_string();
            assert_eq!(
                cursor_text_bytes(&text).as_deref(),
                Some(b),
                "a cursor's text holds other bytes than it was decoded from"
            );
            match text.parse::<Cursor>() {
                Ok(again) => assert_eq!(again, c, "a cursor's text parses to another cursor"),
                Err(e) => panic!("a cursor's text {text:?} does not parse: {e}"),
            }
            Some((c, cursor_fields(b)))
        }
        Err(Error::InvalidCursor { .. }) => {
            assert!(!cursor_is_valid(b), "valid cursor bytes refused");
            None
        }
        Err(e) => panic!("Cursor::from_bytes: unexpected error {e}"),
    }
}

fn check_cursor_text(s: &str) -> Option<(Cursor, CursorFields)> {
    let bytes = cursor_text_bytes(s).filter(|b| cursor_is_valid(b));
    match s.parse::<Cursor>() {
        Ok(c) => {
            let b = bytes.unwrap_or_else(|| panic!("invalid cursor text {s:?} parsed"));
            assert_eq!(c.to_string(), s, "cursor text is not canonical");
            assert_eq!(Cursor::from_bytes(&b).ok(), Some(c));
            Some((c, cursor_fields(&b)))
        }
        Err(Error::InvalidCursor { .. }) => {
            assert!(bytes.is_none(), "valid cursor text {s:?} refused");
            None
        }
        Err(e) => panic!("parse::<Cursor>: unexpected error {e}"),
    }
}

/// Continue `Query::new().all_time()` after `cursor` in the
/// [`cursor_store`], page by page ([`CURSOR_PAGE`] records):
/// `CursorMismatch` exactly when its filters or range are another query's; otherwise the pages hold, newest first,
/// exactly the records in its range (from the retention horizon on) that
/// sort before its position, and each next cursor keeps the filters and
/// the range.
fn check_cursor_query(cursor: Cursor, f: CursorFields) {
    let s = cursor_store();
    let q = Query::new().all_time().limit(CURSOR_PAGE);
    let first = s.project.query(&q.clone().after(cursor));
    if f.fingerprint != s.fingerprint {
        assert!(
            matches!(first, Err(Error::CursorMismatch)),
            "a cursor of other filters: {first:?}"
        );
        return;
    }
    let from = f.range.from.max(s.horizon);
    let expected: Vec<RecordId> = s
        .records
        .iter()
        .filter(|r| {
            r.record.time >= from && r.record.time < f.range.to && (r.record.time, r.id) < f.key
        })
        .map(|r| r.id)
        .collect();
    let mut got = Vec::new();
    let mut page = first;
    for _ in 0..=s.records.len() {
        let p = match page {
            Ok(p) => p,
            Err(Error::InvalidCursor { .. }) => return,
            Err(e) => panic!("query after a cursor: {e}"),
        };
        assert!(p.records.len() <= CURSOR_PAGE);
        got.extend(p.records.iter().map(|r| r.id));
        let Some(next) = p.next else {
            assert_eq!(
                got, expected,
                "the pages after cursor {f:?} hold other records than its range before it"
            );
            return;
        };
        let text = next.to_string();
        let nf = cursor_fields(&cursor_text_bytes(&text).expect("next cursor's text"));
        assert_eq!(
            nf.fingerprint, f.fingerprint,
            "next cursor of other filters"
        );
        assert_eq!(
            (nf.range.from, nf.range.to),
            (from, f.range.to.max(s.horizon)),
            "next cursor of another range"
        );
        page = s.project.query(&q.clone().after(next));
    }
    panic!("more pages than records after cursor {f:?}");
}
