//! The run journal: the byte layout of its files, and the files themselves.
//!
//! A project's runs live in `runs/` inside the project directory, one
//! append-only file per partition of *trigger time* (the same partition
//! length as the logs), named `PPPPPPPPPP-GGGG.runs` like segments. Every
//! event of a run goes to the newest file of its run's partition, so
//! retention drops whole runs by deleting whole files. A file whose header
//! is unreadable is set aside (reported, left as it is until retention
//! deletes it with its partition) and the partition continues in the next
//! generation. All integers are little-endian.
//!
//! ## Header (32 bytes)
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0  | 8 | magic `RLRUNJNL` |
//! | 8  | 2 | format version, `1` |
//! | 10 | 2 | reserved, 0 |
//! | 12 | 4 | partition index |
//! | 16 | 4 | generation |
//! | 20 | 8 | salt: a random number mixed into every frame checksum |
//! | 28 | 4 | CRC32 of bytes 0..28 |
//!
//! ## Frame (12-byte head, then the event)
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0 | 4 | event length `N` (1 ..= [`MAX_EVENT_LEN`]) |
//! | 4 | 4 | sequence number: 0 for the file's first frame, then +1 |
//! | 8 | 4 | CRC32 of the salt (8 bytes), bytes 0..8, and the event |
//! | 12 | N | the event: [postcard](https://docs.rs/postcard) encoding of [`Event`] |
//!
//! Recovery reads frames in order. A frame that fails its checksum is
//! either a torn tail (no valid frame follows: the file is cut back to the
//! last valid frame) or damage (a valid frame with a later sequence number
//! follows, and the skipped bytes could hold the missing frames: the
//! damage is reported and skipped). The salt keeps an error message that
//! spells out a frame from passing for one. Events are then replayed in
//! order; one that does not follow from the state before it (its run is
//! unknown, its attempt is not the current one) is reported and skipped,
//! so no attempt is ever recorded twice.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::codec::{DecodeError, u16_at, u32_at, u64_at};
use crate::cuts::{Cut, Cuts};
use crate::error::{Error, Result};
use crate::record::Text;
use crate::runs::Trigger;

/// Magic number at the start of every run journal file.
pub const JOURNAL_MAGIC: [u8; 8] = *b"RLRUNJNL";
/// The journal format version this build writes and reads.
pub const JOURNAL_VERSION: u16 = 1;
/// Length of a journal file's header.
pub const HEADER_LEN: usize = 32;
/// Length of a frame's head.
pub const FRAME_HEAD_LEN: usize = 12;
/// Longest event a frame may hold.
pub const MAX_EVENT_LEN: usize = 64 * 1024;
/// File extension of journal files.
pub(crate) const JOURNAL_EXT: &str = "runs";
/// The directory of the journal inside a project's directory.
pub(crate) const JOURNAL_DIR: &str = "runs";
/// The smallest frame: a head and a one-byte event.
const MIN_FRAME_LEN: usize = FRAME_HEAD_LEN + 1;

/// One lifecycle event, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// A run started, with attempt 1.
    Start {
        /// Job ID.
        job_id: Text,
        /// Flow.
        flow: Text,
        /// Environment.
        env: Text,
        /// App.
        app: Text,
        /// App version.
        version: Text,
        /// What started it.
        trigger: Trigger,
        /// When it was triggered (µs).
        trigger_time: i64,
        /// When attempt 1 started (µs).
        time: i64,
    },
    /// A further attempt started: a claimed retry, or a manual one.
    Attempt {
        /// Job ID.
        job_id: Text,
        /// The new attempt's number.
        attempt: u32,
        /// When it started (µs).
        time: i64,
        /// Started by hand.
        manual: bool,
    },
    /// The current attempt succeeded.
    Succeeded {
        /// Job ID.
        job_id: Text,
        /// The attempt.
        attempt: u32,
        /// When (µs).
        time: i64,
    },
    /// The current attempt failed; the policy's decision is recorded with it.
    Failed {
        /// Job ID.
        job_id: Text,
        /// The attempt.
        attempt: u32,
        /// When (µs).
        time: i64,
        /// The failure's message.
        error: String,
        /// When a retry is due (µs); `None`: the run is `Failed`.
        retry_at: Option<i64>,
    },
    /// A run that started in an earlier partition succeeded at `attempt`:
    /// logs of lower attempts of the job stay hidden while this file is
    /// kept, even once the run's own partition has been dropped.
    Superseded {
        /// Job ID.
        job_id: Text,
        /// The successful attempt.
        attempt: u32,
    },
    /// A person asked for a manual retry of a failed run: it is due at
    /// `time`, for [`due_retries`](crate::Project::due_retries) to hand out.
    RetryRequested {
        /// Job ID.
        job_id: Text,
        /// When it was asked for, and is due (µs).
        time: i64,
    },
}

impl Event {
    /// The job the event is about.
    pub fn job_id(&self) -> &Text {
        match self {
            Event::Start { job_id, .. }
            | Event::Attempt { job_id, .. }
            | Event::Succeeded { job_id, .. }
            | Event::Failed { job_id, .. }
            | Event::Superseded { job_id, .. }
            | Event::RetryRequested { job_id, .. } => job_id,
        }
    }
}

/// What a journal header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JournalHeader {
    /// Partition of trigger time.
    pub partition: u32,
    /// Generation within the partition.
    pub generation: u32,
    /// Mixed into every frame checksum.
    pub salt: u64,
}

/// The header bytes for `h`.
pub fn encode_header(h: &JournalHeader) -> [u8; HEADER_LEN] {
    let mut b = [0u8; HEADER_LEN];
    b[0..8].copy_from_slice(&JOURNAL_MAGIC);
    b[8..10].copy_from_slice(&JOURNAL_VERSION.to_le_bytes());
    b[12..16].copy_from_slice(&h.partition.to_le_bytes());
    b[16..20].copy_from_slice(&h.generation.to_le_bytes());
    b[20..28].copy_from_slice(&h.salt.to_le_bytes());
    let crc = crc32fast::hash(&b[..28]);
    b[28..32].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Decode a header (the first [`HEADER_LEN`] bytes of `b`).
pub fn decode_header(b: &[u8]) -> Result<JournalHeader, DecodeError> {
    let corrupt = |offset: u64, reason: &str| DecodeError::Corrupt {
        offset,
        reason: reason.into(),
    };
    if b.len() < HEADER_LEN {
        return Err(corrupt(b.len() as u64, "file ends inside the header"));
    }
    if b[0..8] != JOURNAL_MAGIC {
        return Err(corrupt(0, "not a runlog run journal (bad magic)"));
    }
    if crc32fast::hash(&b[..28]) != u32_at(b, 28) {
        return Err(corrupt(28, "header checksum mismatch"));
    }
    let version = u16_at(b, 8);
    if version != JOURNAL_VERSION {
        return Err(DecodeError::Version {
            found: version,
            supported: JOURNAL_VERSION,
        });
    }
    if u16_at(b, 10) != 0 {
        return Err(corrupt(10, "reserved header bytes are not zero"));
    }
    Ok(JournalHeader {
        partition: u32_at(b, 12),
        generation: u32_at(b, 16),
        salt: u64_at(b, 20),
    })
}

fn frame_crc(salt: u64, head: &[u8], event: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&salt.to_le_bytes());
    h.update(head);
    h.update(event);
    h.finalize()
}

/// Append the frame of `event` with sequence number `seq` to `out`.
pub fn encode_frame(event: &Event, seq: u32, salt: u64, out: &mut Vec<u8>) -> Result<()> {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEAD_LEN]);
    let res = postcard::to_extend(event, std::mem::take(out));
    *out = res.map_err(|e| Error::InvalidArgument {
        what: "run event",
        reason: e.to_string(),
    })?;
    let len = out.len() - start - FRAME_HEAD_LEN;
    if len > MAX_EVENT_LEN {
        out.truncate(start);
        return Err(Error::InvalidArgument {
            what: "run event",
            reason: format!("{len} bytes encoded, over the limit of {MAX_EVENT_LEN}"),
        });
    }
    out[start..start + 4].copy_from_slice(&(len as u32).to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&seq.to_le_bytes());
    let crc = frame_crc(salt, &out[start..start + 8], &out[start + FRAME_HEAD_LEN..]);
    out[start + 8..start + 12].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// The frame at the start of `b`, if a whole valid one is there with a
/// sequence number in `seqs`: its sequence number, its event, and its
/// length. The cheap checks (length, sequence number) come before the
/// checksum, so looking for a frame in damaged bytes rarely computes one
/// (bytes crafted to carry plausible sequence numbers still cost a
/// checksum per offset: about 130 ms per MiB).
fn parse_frame(
    b: &[u8],
    salt: u64,
    seqs: std::ops::RangeInclusive<u32>,
) -> Option<(u32, Event, usize)> {
    if b.len() < FRAME_HEAD_LEN {
        return None;
    }
    let len = u32_at(b, 0) as usize;
    if len == 0 || len > MAX_EVENT_LEN || b.len() - FRAME_HEAD_LEN < len {
        return None;
    }
    if !seqs.contains(&u32_at(b, 4)) {
        return None;
    }
    let body = &b[FRAME_HEAD_LEN..FRAME_HEAD_LEN + len];
    if frame_crc(salt, &b[..8], body) != u32_at(b, 8) {
        return None;
    }
    let (event, rest) = postcard::take_from_bytes::<Event>(body).ok()?;
    rest.is_empty()
        .then_some((u32_at(b, 4), event, FRAME_HEAD_LEN + len))
}

/// What a scan of a journal file's frames found.
#[derive(Debug, Default)]
pub struct JournalScan {
    /// Valid events in order, each with its frame's offset.
    pub events: Vec<(u64, Event)>,
    /// End of the last valid frame: where the next one goes.
    pub end: u64,
    /// The next sequence number.
    pub next_seq: u32,
    /// Damaged regions skipped (offset, reason).
    pub damage: Vec<(u64, String)>,
    /// Whether bytes after `end` are not a valid frame (a torn tail).
    pub torn: bool,
}

/// Scan the frames of a journal file (`b` is the whole file, header
/// included; `salt` from its header). Never panics, whatever the bytes.
pub fn scan(b: &[u8], salt: u64) -> JournalScan {
    scan_from(b, HEADER_LEN, 0, salt)
}

/// [`scan`] starting at offset `at`, expecting sequence number `seq`.
pub(crate) fn scan_from(b: &[u8], mut at: usize, mut seq: u32, salt: u64) -> JournalScan {
    let mut out = JournalScan::default();
    while at < b.len() {
        match parse_frame(&b[at..], salt, seq..=seq) {
            Some((_, event, len)) => {
                out.events.push((at as u64, event));
                at += len;
                seq = seq.wrapping_add(1);
            }
            _ => {
                // Damage, or a torn tail: look for the next frame that can
                // follow (a later sequence number, with room for the missing
                // frames in the skipped bytes).
                let found = (at + 1..b.len()).find_map(|p| {
                    let skipped = u32::try_from((p - at) / MIN_FRAME_LEN).unwrap_or(u32::MAX);
                    parse_frame(&b[p..], salt, seq..=seq.saturating_add(skipped))
                        .map(|(s, event, len)| (p, s, event, len))
                });
                match found {
                    Some((p, s, event, len)) => {
                        out.damage
                            .push((at as u64, "invalid frame (checksum or length)".into()));
                        out.events.push((p as u64, event));
                        at = p + len;
                        seq = s.wrapping_add(1);
                    }
                    None => {
                        out.torn = true;
                        break;
                    }
                }
            }
        }
    }
    out.end = at.min(b.len()) as u64;
    out.next_seq = seq;
    out
}

/// One journal file.
#[derive(Debug)]
pub(crate) struct JournalFile {
    pub(crate) path: PathBuf,
    pub(crate) header: JournalHeader,
    /// Open handle, if any (closed when many files are open).
    pub(crate) file: Option<Arc<File>>,
    /// End of the valid frames.
    pub(crate) end: u64,
    pub(crate) next_seq: u32,
    /// Written since the last sync.
    pub(crate) dirty: bool,
    /// When the file was last written or read (a counter, for closing the
    /// least recently used handle).
    pub(crate) used: u64,
}

impl JournalFile {
    /// Create a new, empty journal file (header synced, directory synced).
    /// If that fails, the file is removed, a cut recorded in `cuts` (a
    /// reader may have read its header, and the next file of this
    /// generation has another salt).
    pub(crate) fn create(
        dir: &Path,
        header: JournalHeader,
        cuts: Option<&Cuts>,
    ) -> Result<JournalFile> {
        let path = journal_path(dir, header.partition, header.generation);
        let file = crate::fs::open_rw(&path, true)?;
        let bytes = encode_header(&header);
        let written = file
            .write_all_at(&bytes, 0)
            .and_then(|()| file.sync_all())
            .map_err(Error::io("write header of", &path))
            .and_then(|()| crate::fs::sync_dir(dir));
        if let Err(e) = written {
            // Left behind, the file would make every later create of this
            // generation fail (`create_new`); it holds no event.
            let remove = || std::fs::remove_file(&path).map_err(Error::io("remove", &path));
            let _ = match cuts {
                Some(cuts) => cuts.cut(
                    Cut::Journal {
                        partition: header.partition,
                        generation: header.generation,
                        salt: header.salt,
                        offset: 0,
                    },
                    remove,
                ),
                None => remove(),
            };
            return Err(e);
        }
        Ok(JournalFile {
            path,
            header,
            file: Some(Arc::new(file)),
            end: HEADER_LEN as u64,
            next_seq: 0,
            dirty: false,
            used: 0,
        })
    }

    /// The open handle, opened if it was closed.
    pub(crate) fn handle(&mut self, read_only: bool) -> Result<Arc<File>> {
        if let Some(f) = &self.file {
            return Ok(Arc::clone(f));
        }
        let f = if read_only {
            File::open(&self.path).map_err(Error::io("open", &self.path))?
        } else {
            crate::fs::open_rw(&self.path, false)?
        };
        let f = Arc::new(f);
        self.file = Some(Arc::clone(&f));
        Ok(f)
    }

    /// Write `buf` (whole frames) at the end; on error the file is cut back.
    pub(crate) fn write(&mut self, buf: &[u8]) -> Result<()> {
        let f = self.handle(false)?;
        if let Err(e) = crate::fs::write_all_at(&f, buf, self.end, "journal::append") {
            let _ = f.set_len(self.end);
            return Err(Error::io("append to", &self.path)(e));
        }
        self.dirty = true;
        Ok(())
    }

    /// Take the written frames as part of the file.
    pub(crate) fn commit(&mut self, len: usize, frames: u32) {
        self.end += len as u64;
        self.next_seq = self.next_seq.wrapping_add(frames);
    }
}

/// The path of the journal file of `partition`, `generation` in `dir`.
pub(crate) fn journal_path(dir: &Path, partition: u32, generation: u32) -> PathBuf {
    dir.join(format!("{partition:010}-{generation:04}.{JOURNAL_EXT}"))
}

/// `(partition, generation)` of a journal file name.
pub(crate) fn parse_journal_name(name: &str) -> Option<(u32, u32)> {
    let stem = name.strip_suffix(&format!(".{JOURNAL_EXT}"))?;
    let (p, g) = stem.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if !digits(p) || !digits(g) {
        return None;
    }
    let id: (u32, u32) = (p.parse().ok()?, g.parse().ok()?);
    // Only the name runlog writes for that ID (no other zero padding).
    (format!("{:010}-{:04}", id.0, id.1) == stem).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(i: u32) -> Event {
        Event::Failed {
            job_id: format!("job-{i}").into(),
            attempt: i,
            time: i64::from(i) * 1000,
            error: "x".repeat(i as usize),
            retry_at: Some(5),
        }
    }

    fn file(n: u32, salt: u64) -> Vec<u8> {
        let mut b = encode_header(&JournalHeader {
            partition: 3,
            generation: 1,
            salt,
        })
        .to_vec();
        for i in 0..n {
            encode_frame(&ev(i), i, salt, &mut b).unwrap();
        }
        b
    }

    #[test]
    fn header_round_trip_and_every_flip_caught() {
        let h = JournalHeader {
            partition: 7,
            generation: 2,
            salt: 99,
        };
        let b = encode_header(&h);
        assert_eq!(decode_header(&b).unwrap(), h);
        for i in 0..HEADER_LEN * 8 {
            let mut c = b;
            c[i / 8] ^= 1 << (i % 8);
            assert!(decode_header(&c).is_err(), "bit {i}");
        }
    }

    #[test]
    fn frames_round_trip() {
        let b = file(20, 42);
        let s = scan(&b, 42);
        assert_eq!(s.events.len(), 20);
        assert!(s.damage.is_empty() && !s.torn);
        assert_eq!((s.end, s.next_seq), (b.len() as u64, 20));
        for (i, (_, e)) in s.events.iter().enumerate() {
            assert_eq!(*e, ev(i as u32));
        }
        // Another salt reads nothing.
        assert!(scan(&b, 43).events.is_empty());
    }

    #[test]
    fn every_cut_is_a_prefix() {
        let b = file(6, 1);
        let full = scan(&b, 1);
        for cut in HEADER_LEN..b.len() {
            let s = scan(&b[..cut], 1);
            let n = s.events.len();
            assert_eq!(&full.events[..n], &s.events[..], "cut {cut}");
            assert!(s.damage.is_empty(), "cut {cut}");
            let end = full.events.get(n).map_or(b.len() as u64, |e| e.0);
            assert_eq!(s.end, end, "cut {cut}");
        }
    }

    #[test]
    fn damage_in_the_middle_is_skipped_and_reported() {
        let b = file(6, 1);
        let full = scan(&b, 1);
        let at = full.events[2].0 as usize + 14;
        let mut c = b.clone();
        c[at] ^= 0x40;
        let s = scan(&c, 1);
        assert_eq!(s.events.len(), 5);
        assert_eq!(s.damage.len(), 1);
        assert_eq!(s.damage[0].0, full.events[2].0);
        assert!(!s.torn);
    }

    #[test]
    fn names() {
        let p = journal_path(Path::new("/x"), 12, 3);
        assert_eq!(
            parse_journal_name(p.file_name().unwrap().to_str().unwrap()),
            Some((12, 3))
        );
        for bad in [
            "0000000012-0003.seg",
            "12-3.runs",
            "000000001a-0003.runs",
            "x",
        ] {
            assert_eq!(parse_journal_name(bad), None, "{bad}");
        }
    }
}
