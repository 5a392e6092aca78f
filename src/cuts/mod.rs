//! A project's cut log: how a read-only store learns that the writer cut
//! bytes it may already have read off an active segment or a run journal.
//!
//! ## Why readers need it
//!
//! A batch is written to every segment it touches before any of it
//! counts. When a later write fails, or a sync under
//! [`SyncPolicy::Always`](crate::SyncPolicy::Always), the writer cuts the
//! earlier segments back, so an append stores all or nothing. A reader in
//! another process may have read the cut frames in between. Once the
//! writer appends again the file is as long as before, so its length
//! cannot tell the reader. A run journal cut back after a failed `fsync`
//! is the same case.
//!
//! ## What is recorded
//!
//! Three kinds of cut are recorded. Cutting whole frames off a file after
//! a failed write or sync. A cut made by recovery when the writer opens:
//! what it cuts off a damaged end may have been whole when a reader read
//! it. Removing a segment or journal file whose creation failed: the next
//! file of that ID has another salt. A torn frame, a seal block a batch
//! left, and a write that landed nothing cut nothing a reader could have
//! read, and are not recorded.
//!
//! ## Recording a cut
//!
//! A cut takes three steps. The writer appends an entry that numbers the
//! cut (one more than the last) and says what it cuts. It makes the cut.
//! Then it writes the number at the start of the file, the count. A
//! writer that crashes in between leaves an entry numbered past the
//! count. When an entry cannot be written, the writer cuts the log off the
//! file, keeping the count, before it makes the cut: nobody trusts a log
//! until it is started afresh.
//!
//! ## A writer opening the project
//!
//! A writer goes on with a log whose every entry is counted: every cut was
//! recorded, so readers keep what they read. It starts the log afresh,
//! with one cut of anything, when it finds an entry past the count (a
//! crash in the middle of a cut), or a log it cannot trust. That is no
//! log at all, a damaged header, a log cut off after a failed entry, or a
//! log of version 1, whose writers made a cut before logging it. An entry
//! torn by a crash was never counted, and its cut was never begun.
//!
//! ## A reader's look
//!
//! A reader reads the count before and after each look at the active
//! segments and the journals. When it differs from the last look's, the
//! reader reads the entries since ([`Cuts::since`]) and forgets only what
//! they cut. For a segment cut back, that is its frames from the offset
//! of the cut, and it reads on from there. For a segment removed, the
//! segment. For a journal cut, what it replayed of the journals, which it
//! replays from their start. When it cannot tell what was cut, it forgets
//! every active segment and journal and reads them all again. That
//! happens when an entry is missing or corrupt, when the log was started
//! afresh, when the count went back, and for a cut of anything.
//!
//! ## Followers
//!
//! The entries also tell a [`Follow`](crate::Follow) in a read-only store
//! which ordinals of a segment the writer cut, so that it delivers the
//! records written in their place (see
//! [`Store::open_read_only`](crate::Store::open_read_only)).
//!
//! ## Format
//!
//! All integers little-endian.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | count: the number of the last cut (`u64`; the whole file as runlog wrote it before the log) |
//! | 8 | 8 | magic `RLCUTLOG` |
//! | 16 | 2 | log version, 2 (a reader also reads version 1, of the same layout) |
//! | 18 | 2 | entry length, 44 |
//! | 20 | 4 | CRC32 of bytes 8..20 |
//! | 24 | 44 × n | entries, in the order of their cuts |
//!
//! An entry:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | the cut's number (`u64`) |
//! | 8 | 1 | kind: 0 anything (read everything again), 1 frames cut off a segment, 2 a segment file removed, 3 frames cut off a run journal (offset 0: the file was removed) |
//! | 9 | 3 | zero |
//! | 12 | 4 | partition (`u32`; kinds 1–3, else 0) |
//! | 16 | 4 | generation (`u32`; kinds 1–3, else 0) |
//! | 20 | 4 | kind 1: the first ordinal cut, the ordinal the next record gets (`u32`; else 0) |
//! | 24 | 8 | kinds 1–3: the file's salt (`u64`, from its header; else 0) |
//! | 32 | 8 | kinds 1 and 3: the length the file was cut back to (`u64`; else 0) |
//! | 40 | 4 | CRC32 of bytes 0..40 |
//!
//! A reader decodes entries up to the first that is short, fails its
//! checksum or breaks a rule above. The rest of the log is what a write
//! in progress or a crash left, or damage. Cuts without a valid entry are
//! read as cuts of anything. A log of another version is read as no log.
//! The writer starts the log afresh, a header and one entry, when it
//! opens the project and cannot trust the log, and when the log would
//! pass [`MAX_ENTRIES`] entries.
//!
//! ## Durability
//!
//! The file is not synced: only running processes read it, and after a
//! power loss every reader starts afresh. A reader on another host, over
//! a network file system, that outlives the writer's host could see a
//! stale log; that is not supported. A writer resumes the count it finds,
//! or the highest number in the log if higher, so the count never repeats
//! a value a running reader has seen. A reader that finds no file reads 0.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::codec::{u32_at, u64_at};
use crate::error::{Error, Result};
use crate::record::SegmentId;

/// The name of the cut log's file in a project directory.
pub(crate) const CUTS_FILE: &str = "cuts";

/// Where the log starts (after the count).
const LOG_AT: usize = 8;
/// The log's magic number.
const MAGIC: &[u8; 8] = b"RLCUTLOG";
/// The log's version, which its writers write. Version 1 (whose writers
/// logged a cut after making it) has the same layout and is read the same.
const VERSION: u16 = 2;
/// Versions a reader reads.
const READABLE: [u16; 2] = [1, VERSION];
/// Bytes of the log's header (magic, version, entry length, CRC).
const HEADER_LEN: usize = 16;
/// Where the first entry starts.
const ENTRIES_AT: usize = LOG_AT + HEADER_LEN;
/// Bytes of one entry.
pub(crate) const ENTRY_LEN: usize = 44;
/// Most entries in the log; the writer then starts it afresh.
pub(crate) const MAX_ENTRIES: usize = 1024;

const KIND_ANY: u8 = 0;
const KIND_SEGMENT: u8 = 1;
const KIND_REMOVED: u8 = 2;
const KIND_JOURNAL: u8 = 3;

/// One cut, as the writer records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cut {
    /// Anything may have been cut: read every active segment and journal
    /// again.
    Any,
    /// Frames of active segment `id` (of checksum salt `salt`) from byte
    /// `offset` on, ordinals from `ordinal` on.
    Segment {
        id: SegmentId,
        salt: u64,
        offset: u64,
        ordinal: u32,
    },
    /// The file of segment `id` with salt `salt` was removed (its creation
    /// failed); the next file of that ID has another salt.
    Removed { id: SegmentId, salt: u64 },
    /// Frames of run journal `partition`/`generation` (salt `salt`) from
    /// byte `offset` on.
    Journal {
        partition: u32,
        generation: u32,
        salt: u64,
        offset: u64,
    },
}

/// The bytes of entry `seq` recording `cut`.
pub(crate) fn encode_entry(seq: u64, cut: &Cut) -> [u8; ENTRY_LEN] {
    let (kind, partition, generation, ordinal, salt, offset) = match *cut {
        Cut::Any => (KIND_ANY, 0, 0, 0, 0, 0),
        Cut::Segment {
            id,
            salt,
            offset,
            ordinal,
        } => (
            KIND_SEGMENT,
            id.partition,
            id.generation,
            ordinal,
            salt,
            offset,
        ),
        Cut::Removed { id, salt } => (KIND_REMOVED, id.partition, id.generation, 0, salt, 0),
        Cut::Journal {
            partition,
            generation,
            salt,
            offset,
        } => (KIND_JOURNAL, partition, generation, 0, salt, offset),
    };
    let mut b = [0u8; ENTRY_LEN];
    b[0..8].copy_from_slice(&seq.to_le_bytes());
    b[8] = kind;
    b[12..16].copy_from_slice(&partition.to_le_bytes());
    b[16..20].copy_from_slice(&generation.to_le_bytes());
    b[20..24].copy_from_slice(&ordinal.to_le_bytes());
    b[24..32].copy_from_slice(&salt.to_le_bytes());
    b[32..40].copy_from_slice(&offset.to_le_bytes());
    let crc = crc32fast::hash(&b[..40]);
    b[40..44].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Entry `b` (exactly [`ENTRY_LEN`] bytes): its number and cut, or `None`
/// if it breaks a rule of the format.
pub(crate) fn decode_entry(b: &[u8]) -> Option<(u64, Cut)> {
    if b.len() != ENTRY_LEN || crc32fast::hash(&b[..40]) != u32_at(b, 40) || b[9..12] != [0; 3] {
        return None;
    }
    let seq = u64_at(b, 0);
    let (partition, generation, ordinal) = (u32_at(b, 12), u32_at(b, 16), u32_at(b, 20));
    let (salt, offset) = (u64_at(b, 24), u64_at(b, 32));
    let id = SegmentId {
        partition,
        generation,
    };
    let cut = match b[8] {
        KIND_ANY if (partition, generation, ordinal, salt, offset) == (0, 0, 0, 0, 0) => Cut::Any,
        KIND_SEGMENT => Cut::Segment {
            id,
            salt,
            offset,
            ordinal,
        },
        KIND_REMOVED if (ordinal, offset) == (0, 0) => Cut::Removed { id, salt },
        KIND_JOURNAL if ordinal == 0 => Cut::Journal {
            partition,
            generation,
            salt,
            offset,
        },
        _ => return None,
    };
    Some((seq, cut))
}

/// The log's header (file bytes 8..24).
fn encode_header() -> [u8; HEADER_LEN] {
    encode_header_of(VERSION)
}

/// The header of a log of `version`.
fn encode_header_of(version: u16) -> [u8; HEADER_LEN] {
    let mut b = [0u8; HEADER_LEN];
    b[0..8].copy_from_slice(MAGIC);
    b[8..10].copy_from_slice(&version.to_le_bytes());
    b[10..12].copy_from_slice(&(ENTRY_LEN as u16).to_le_bytes());
    let crc = crc32fast::hash(&b[..12]);
    b[12..16].copy_from_slice(&crc.to_le_bytes());
    b
}

/// What a `cuts` file holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Decoded {
    /// The count (0 for a file shorter than 8 bytes).
    pub(crate) count: u64,
    /// The valid entries from the start of the log, in order, with their
    /// numbers (none if the file has no log of a version read).
    pub(crate) entries: Vec<(u64, Cut)>,
    /// Where the valid entries end (8 if there is no valid header).
    pub(crate) end: usize,
    /// The log's version (`None` if there is no valid header).
    pub(crate) version: Option<u16>,
}

/// Decode a `cuts` file. Never fails: what cannot be read is no entry.
pub(crate) fn decode(b: &[u8]) -> Decoded {
    let count = b.get(..LOG_AT).map_or(0, |c| u64_at(c, 0));
    let mut out = Decoded {
        count,
        entries: Vec::new(),
        end: LOG_AT,
        version: None,
    };
    let header = b.get(LOG_AT..ENTRIES_AT);
    let Some(version) = READABLE
        .into_iter()
        .find(|&v| header == Some(&encode_header_of(v)[..]))
    else {
        return out;
    };
    out.version = Some(version);
    out.end = ENTRIES_AT;
    for e in b[ENTRIES_AT..].chunks_exact(ENTRY_LEN).take(MAX_ENTRIES) {
        match decode_entry(e) {
            Some(entry) => {
                out.entries.push(entry);
                out.end += ENTRY_LEN;
            }
            None => break,
        }
    }
    out
}

/// The cuts numbered `seen + 1 ..= count` according to the file `bytes`,
/// in order; `[Cut::Any]` when they cannot all be told, empty when
/// `count == seen`.
pub(crate) fn since(bytes: &[u8], seen: u64, count: u64) -> Vec<Cut> {
    if count == seen {
        return Vec::new();
    }
    let unknown = vec![Cut::Any];
    let Some(n) = count.checked_sub(seen).filter(|&n| n <= MAX_ENTRIES as u64) else {
        // The count went back (the file was replaced), or too many to tell.
        return unknown;
    };
    let log = decode(bytes);
    let Some(first) = log.entries.iter().position(|&(s, _)| s == seen + 1) else {
        return unknown;
    };
    let cuts: Vec<Cut> = log.entries[first..]
        .iter()
        .take(n as usize)
        .enumerate()
        .map_while(|(i, &(s, cut))| (s == seen + 1 + i as u64).then_some(cut))
        .collect();
    if cuts.len() as u64 != n || cuts.contains(&Cut::Any) {
        return unknown;
    }
    cuts
}

/// A handle on a project's cut log, cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Cuts(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    /// Writer: the open file. Reader: the file once it exists (the writer
    /// may create it later).
    file: Mutex<Option<File>>,
    /// Writer: the last cut's number and where the log's next entry goes.
    writer: Option<Mutex<WriterState>>,
}

#[derive(Debug)]
struct WriterState {
    count: u64,
    log_end: usize,
}

impl Cuts {
    /// The writer's cut log in `dir`, created if missing, resuming its
    /// count and its log. When the log cannot say that every cut was
    /// recorded, the log is started afresh with a cut of anything: a
    /// writer that crashed in the middle of a cut left an entry numbered
    /// past the count; a log of version 1 (its writer logged a cut after
    /// making it, so a crash in between left it unrecorded), a bare count
    /// or a damaged header cannot tell.
    pub(crate) fn open_writer(dir: &Path) -> Result<Cuts> {
        let path = dir.join(CUTS_FILE);
        let file = crate::fs::open_rw(&path, false)?;
        let bytes = read_all(&file).map_err(Error::io("read", &path))?;
        let log = decode(&bytes);
        let count = log
            .entries
            .iter()
            .map(|&(s, _)| s)
            .fold(log.count, u64::max);
        let whole = log.version == Some(VERSION) && count == log.count;
        let cuts = Cuts(Arc::new(Inner {
            path,
            file: Mutex::new(Some(file)),
            writer: Some(Mutex::new(WriterState {
                count,
                // Full, if not whole: the first entry starts the log afresh.
                log_end: if whole {
                    log.end
                } else {
                    ENTRIES_AT + MAX_ENTRIES * ENTRY_LEN
                },
            })),
        }));
        if !whole {
            cuts.cut(Cut::Any, || Ok(()))?;
        }
        Ok(cuts)
    }

    /// A reader's view of the cut log in `dir` (which may not exist yet).
    pub(crate) fn open_reader(dir: &Path) -> Cuts {
        Cuts(Arc::new(Inner {
            path: dir.join(CUTS_FILE),
            file: Mutex::new(None),
            writer: None,
        }))
    }

    /// A log kept in memory only, for segments used outside a project
    /// (tests).
    #[cfg(test)]
    pub(crate) fn detached() -> Cuts {
        Cuts(Arc::new(Inner {
            path: PathBuf::new(),
            file: Mutex::new(None),
            writer: Some(Mutex::new(WriterState {
                count: 0,
                log_end: ENTRIES_AT,
            })),
        }))
    }

    /// Writer: make `cut` with `make` (which cuts the file back or removes
    /// it) so that readers learn of it: the cut's entry first, then
    /// `make`, then the count. A writer that crashes before the count
    /// leaves an entry numbered past it, which the next writer finds
    /// ([`open_writer`](Self::open_writer)).
    ///
    /// The count moves even if `make` fails: the writer's next write goes
    /// where the cut began, so readers must forget what they read from
    /// there (they may read the refused frames again until that write,
    /// and a follower deliver them twice). `make`'s error comes first; then
    /// a failure to write the entry or the count (the cut stands: the
    /// writer's own file must not keep frames it refused). When the entry
    /// could not be written, the log is cut off first ([`drop_log`](Self::drop_log)):
    /// a reader then reads everything again at its next look, and so does
    /// every reader once the next writer opens. When only the count could
    /// not be written, a reader may keep showing the cut frames until the
    /// next count, until the next writer opens (it finds the entry past the
    /// count), or until it reopens.
    pub(crate) fn cut(&self, cut: Cut, make: impl FnOnce() -> Result<()>) -> Result<()> {
        let Some(writer) = &self.0.writer else {
            debug_assert!(false, "a reader never cuts");
            return make();
        };
        // One cut at a time (segments and journals cut under their own
        // locks): the count must not pass a cut still being made.
        let mut w = writer.lock();
        let logged = self.log_entry(&mut w, &cut);
        if logged.is_err() {
            self.drop_log(&mut w);
        }
        let made = make();
        made.and(logged).and(self.write_count(&w))
    }

    /// Writer, after an entry could not be written: cut the log off the
    /// file (keeping the count), so that until it is started afresh no one
    /// trusts it: a reader whose count moves reads everything again, and
    /// the next writer to open records a cut of anything, even if this one
    /// crashes before its count (its cut would otherwise go unrecorded).
    /// Best effort: shrinking a file needs no space, but may fail too.
    fn drop_log(&self, w: &mut WriterState) {
        if let Some(f) = self.0.file.lock().as_ref() {
            let _ = f.set_len(LOG_AT as u64);
        }
        // Full: the next entry starts the log afresh.
        w.log_end = ENTRIES_AT + MAX_ENTRIES * ENTRY_LEN;
    }

    /// Writer: append the entry of the next cut, `cut`, to the log (or
    /// start the log afresh with it), numbering it.
    fn log_entry(&self, w: &mut WriterState, cut: &Cut) -> Result<()> {
        // (A count at the end of `u64` goes round: it still moves.)
        w.count = w.count.wrapping_add(1);
        let file = self.0.file.lock();
        let Some(f) = file.as_ref() else {
            return Ok(());
        };
        let entry = encode_entry(w.count, cut);
        let afresh = w.log_end + ENTRY_LEN > ENTRIES_AT + MAX_ENTRIES * ENTRY_LEN;
        let logged = crate::fs::fault("cuts::log")
            .and_then(|()| {
                if afresh {
                    // Afresh: header and this entry, then nothing after.
                    let mut b = Vec::with_capacity(HEADER_LEN + ENTRY_LEN);
                    b.extend_from_slice(&encode_header());
                    b.extend_from_slice(&entry);
                    f.write_all_at(&b, LOG_AT as u64)
                        .and_then(|()| f.set_len((ENTRIES_AT + ENTRY_LEN) as u64))
                } else {
                    f.write_all_at(&entry, w.log_end as u64)
                }
            })
            .map_err(Error::io("write", &self.0.path));
        if logged.is_ok() {
            w.log_end = if afresh { ENTRIES_AT } else { w.log_end } + ENTRY_LEN;
        }
        logged
    }

    /// Writer: write the count (the number of the last cut logged).
    fn write_count(&self, w: &WriterState) -> Result<()> {
        let file = self.0.file.lock();
        let Some(f) = file.as_ref() else {
            return Ok(());
        };
        crate::fs::fault("cuts")
            .and_then(|()| f.write_all_at(&w.count.to_le_bytes(), 0))
            .map_err(Error::io("write", &self.0.path))
    }

    /// The count as the file holds it now (0 if there is no file).
    pub(crate) fn read(&self) -> Result<u64> {
        if let Some(w) = &self.0.writer {
            return Ok(w.lock().count);
        }
        let file = self.reader_file()?;
        let Some(f) = file.as_ref() else {
            return Ok(0);
        };
        let mut buf = [0u8; 8];
        let got =
            crate::fs::read_up_to_at(f, &mut buf, 0).map_err(Error::io("read", &self.0.path))?;
        Ok(if got == buf.len() {
            u64::from_le_bytes(buf)
        } else {
            0
        })
    }

    /// Reader: the cuts numbered `seen + 1 ..= count` (see [`since`]).
    pub(crate) fn since(&self, seen: u64, count: u64) -> Result<Vec<Cut>> {
        if seen == count {
            return Ok(Vec::new());
        }
        let file = self.reader_file()?;
        let bytes = match file.as_ref() {
            Some(f) => read_all(f).map_err(Error::io("read", &self.0.path))?,
            None => Vec::new(),
        };
        Ok(since(&bytes, seen, count))
    }

    /// Reader: the file, opened once it exists.
    fn reader_file(&self) -> Result<parking_lot::MutexGuard<'_, Option<File>>> {
        let mut file = self.0.file.lock();
        if file.is_none() {
            match File::open(&self.0.path) {
                Ok(f) => *file = Some(f),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("open", &self.0.path)(e)),
            }
        }
        Ok(file)
    }
}

/// The whole file, up to the longest log (more is no log of this version).
fn read_all(file: &File) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; ENTRIES_AT + MAX_ENTRIES * ENTRY_LEN];
    let got = crate::fs::read_up_to_at(file, &mut buf, 0)?;
    buf.truncate(got);
    Ok(buf)
}

#[cfg(test)]
mod tests;
