//! Seeds of the `run_journal` target: run journals of runs in every state
//! through every kind of event, cut short, flipped, out of order, of other
//! salts, files and versions, with a gap after damage, zeroed checksums,
//! times at the ends of time.

use crate::fuzz_checks::{self, FIXED_SALT};
use runlog::Trigger;

use super::*;

/// The seeds of `run_journal`.
pub fn seeds() -> Seeds {
    // Run journals (file 0000000000-0000.runs, clock at 00:30): runs in
    // every state through every kind of event; cut short, a byte flipped
    // in a frame and in the header, events that do not follow, frames of
    // another salt, a header naming another file or of another version,
    // a sequence gap after damage, checksums zeroed (recomputed by the
    // check), times at the ends of time.
    let ev = JournalEvents::default;
    let lifecycle = ev()
        // job-1: fails, retried automatically, succeeds.
        .start("job-1", Trigger::Scheduler, 1000)
        .failed("job-1", 1, Some(1010))
        .attempt("job-1", 2, false)
        .succeeded("job-1", 2)
        // job-2: fails for good, retried by hand, fails again with a
        // retry due now.
        .start("job-2", Trigger::Event, 1100)
        .failed("job-2", 1, None)
        .attempt("job-2", 2, true)
        .failed("job-2", 2, Some(1700))
        // job-3: still running; job-4: succeeded at once.
        .start("job-3", Trigger::Manual, 1200)
        .start("job-4", Trigger::Scheduler, 1300)
        .succeeded("job-4", 1);
    let (valid, offsets) = lifecycle.file(&fuzz_checks::journal_header());
    let mut flipped = valid.clone();
    flipped[offsets[2] as usize + 14] ^= 0x40;
    let mut flipped_header = valid.clone();
    flipped_header[13] ^= 1;
    let mut zeroed = valid.clone();
    for &o in &offsets {
        zeroed[o as usize + 8..o as usize + 12].fill(0);
    }
    let other_file = runlog::journal::encode_header(&runlog::journal::JournalHeader {
        partition: 5,
        generation: 0,
        salt: FIXED_SALT,
    });
    let mut version_2 = fuzz_checks::journal_header();
    version_2[8] = 2;
    let crc = crc32fast::hash(&version_2[..28]);
    version_2[28..].copy_from_slice(&crc.to_le_bytes());
    let mut other_salt = fuzz_checks::journal_header().to_vec();
    runlog::journal::encode_frame(&lifecycle.events[0], 0, FIXED_SALT ^ 1, &mut other_salt)
        .unwrap();
    let not_following = ev()
        .succeeded("nobody", 1)
        .start("job-1", Trigger::Event, 1000)
        .start("job-1", Trigger::Manual, 1001)
        .failed("job-1", 2, None)
        .attempt("job-1", 2, false)
        .succeeded("job-1", 1)
        .attempt("job-1", 2, true)
        .failed("job-1", 1, None)
        .failed("job-1", 1, None)
        .attempt("job-1", 3, true)
        .attempt("job-1", 2, false)
        .attempt("job-1", 2, true)
        .file(&fuzz_checks::journal_header())
        .0;
    // Frames 0 and 1, damaged bytes that could hold two, then frame 4.
    let (gap, _) = lifecycle.file_with_gap(2, 2);
    // (Trigger times stay in the file's partition, the first hour.)
    let ends = ev()
        .start("first", Trigger::Event, 0)
        .failed("first", 1, Some(i64::MIN))
        .start("last", Trigger::Scheduler, 3599)
        .failed("last", 1, Some(i64::MAX / 1_000_000))
        .start("", Trigger::Manual, 1800)
        .file(&fuzz_checks::journal_header())
        .0;
    let run_journal = vec![
        ("empty", vec![]),
        ("short-header", valid[..20].to_vec()),
        ("header-only", fuzz_checks::journal_header().to_vec()),
        ("lifecycle", valid.clone()),
        ("cut-in-frame", valid[..valid.len() - 5].to_vec()),
        ("cut-in-head", valid[..offsets[3] as usize + 6].to_vec()),
        ("flipped-frame", flipped),
        ("flipped-header", flipped_header),
        ("zeroed-crcs", zeroed),
        ("other-file", [&other_file[..], &valid[32..]].concat()),
        ("version-2", [&version_2[..], &valid[32..]].concat()),
        ("other-salt", other_salt),
        ("not-following", not_following),
        ("gap-after-damage", gap),
        ("ends-of-time", ends),
        ("garbage-tail", [&valid[..], b"\x07\0\0\0garbage"].concat()),
    ];
    run_journal
}

/// Run journal events for seeds: every time in seconds (the attempts'
/// times are the trigger time plus a few seconds).
#[derive(Default)]
pub struct JournalEvents {
    events: Vec<runlog::journal::Event>,
    at: i64,
}

impl JournalEvents {
    fn push(mut self, e: runlog::journal::Event) -> Self {
        self.events.push(e);
        self
    }

    fn start(mut self, job: &str, trigger: Trigger, secs: i64) -> Self {
        self.at = secs.saturating_mul(1_000_000);
        self.push(runlog::journal::Event::Start {
            job_id: job.into(),
            flow: format!("flow-{}", job.len()).into(),
            env: "prod".into(),
            app: "shop".into(),
            version: "1.0".into(),
            trigger,
            trigger_time: secs.saturating_mul(1_000_000),
            time: secs.saturating_mul(1_000_000).saturating_add(1),
        })
    }

    fn next(&mut self) -> i64 {
        self.at = self.at.saturating_add(1_000_000);
        self.at
    }

    fn attempt(mut self, job: &str, attempt: u32, manual: bool) -> Self {
        let time = self.next();
        self.push(runlog::journal::Event::Attempt {
            job_id: job.into(),
            attempt,
            time,
            manual,
        })
    }

    fn succeeded(mut self, job: &str, attempt: u32) -> Self {
        let time = self.next();
        self.push(runlog::journal::Event::Succeeded {
            job_id: job.into(),
            attempt,
            time,
        })
    }

    /// `retry_at` in seconds (`i64::MIN`: as it is, in µs).
    fn failed(mut self, job: &str, attempt: u32, retry_at: Option<i64>) -> Self {
        let time = self.next();
        self.push(runlog::journal::Event::Failed {
            job_id: job.into(),
            attempt,
            time,
            error: format!("connection refused (attempt {attempt})"),
            retry_at: retry_at.map(|s| if s == i64::MIN { s } else { s * 1_000_000 }),
        })
    }

    /// The journal file: `header`, then the events' frames (salt
    /// [`FIXED_SALT`]); and the frames' offsets.
    fn file(&self, header: &[u8]) -> (Vec<u8>, Vec<u64>) {
        let mut b = header.to_vec();
        let mut offsets = Vec::new();
        for (i, e) in self.events.iter().enumerate() {
            offsets.push(b.len() as u64);
            runlog::journal::encode_frame(e, i as u32, FIXED_SALT, &mut b).unwrap();
        }
        (b, offsets)
    }

    /// Like [`file`](Self::file), but frames `skip` .. `skip + n` replaced
    /// by damaged bytes, as many as `n` frames take at least.
    fn file_with_gap(&self, skip: usize, n: usize) -> (Vec<u8>, Vec<u64>) {
        let mut b = fuzz_checks::journal_header().to_vec();
        let mut offsets = Vec::new();
        for (i, e) in self.events.iter().enumerate() {
            if (skip..skip + n).contains(&i) {
                if i == skip {
                    b.extend(std::iter::repeat_n(DAMAGE, n * (12 + 1)));
                }
                continue;
            }
            offsets.push(b.len() as u64);
            runlog::journal::encode_frame(e, i as u32, FIXED_SALT, &mut b).unwrap();
        }
        (b, offsets)
    }
}
