//! A project's cut log: how a read-only store learns that the writer cut
//! bytes off an active segment or a run journal, bytes the reader may
//! already have read, and where.
//!
//! The writer appends a batch's frames to every segment the batch touches
//! before it makes any of them part of the store. If a later write (or,
//! under [`SyncPolicy::Always`](crate::SyncPolicy::Always), a sync) fails,
//! it cuts the earlier segments back: `append_batch` stores all or nothing.
//! A reader in another process may have read those frames in between, and
//! once the writer appends again the file is no shorter than what the
//! reader read, so its length cannot tell. The same holds for a run
//! journal cut back after its `fsync` failed.
//!
//! So every such cut of a whole frame (a torn frame or a seal block that
//! a batch left is no record to any reader, and a write that landed
//! nothing cuts nothing), every cut recovery makes when the writer opens
//! (what it cuts off a damaged end may have been a whole record or event
//! when a reader read it), and every removal of a segment or journal file
//! whose creation failed (the next file of that ID has another salt),
//! goes in three steps: the writer numbers the cut (one more than the
//! last) and appends an entry saying what it cuts to the log in the
//! project's `cuts` file; it makes the cut; then it writes the number at
//! the start of the file. The count moves after the cut and after its
//! entry, and a writer that crashes before the count leaves an entry
//! numbered past it. When an entry cannot be written, the writer cuts the
//! log off the file (keeping the count) before it makes the cut, so no one
//! trusts the log until it is started afresh.
//!
//! A writer opening the project goes on with a log whose every entry is
//! counted: every cut was recorded, so readers keep what they read. It
//! starts the log afresh with one cut, of anything, when it finds an entry
//! past the count (a crash in the middle of a cut, which may or may not
//! have been made), or a log it cannot trust to say so: none (no cut yet,
//! a damaged header, a log cut off after a failed entry, or a writer that
//! predates the log), or one of version 1, whose writers made a cut before
//! logging it. (An entry torn by a crash was never counted, and its cut
//! was never begun.)
//!
//! A reader reads the count before and after each look at the active
//! segments and the journals. When it differs from the count of the last
//! look (or moved during this one), the reader reads the entries of the
//! cuts since ([`Cuts::since`]) and forgets only what they cut: the
//! frames of a segment from the offset it was cut back to (the segment is
//! then read on from there), a segment file that was removed, or (a
//! journal was cut) what it replayed of the journals, which it replays
//! from their start (the run table is built event by event, so this stays
//! whole). When it cannot tell what was cut (an entry of one of those
//! cuts is missing or corrupt, the log was started afresh since, the
//! count went back, the entry is one of "anything", or the writer
//! predates the log and writes only the count), it forgets every active
//! segment and every journal and reads them again from their start, as
//! runlog did before the log. The entries also tell a
//! [`Follow`](crate::Follow) in a read-only store which ordinals of a
//! segment the writer cut, so that it delivers the records appended in
//! their place (see [`Store::open_read_only`](crate::Store::open_read_only)).
//!
//! # Format
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
//! checksum or breaks a rule above (the rest of the log is what a write
//! in progress or a crash left, or damage); cuts without a valid entry
//! are read as "anything". A log of another version is read as no log.
//! The writer starts the log afresh (header and one entry) when it opens
//! the project and cannot trust the log (above), and when the log would
//! pass [`MAX_ENTRIES`] entries.
//!
//! The file is not synced: only running processes read it, and after a
//! power loss every reader starts afresh (a reader on another host, over
//! a network file system, that outlives the writer's host could see a
//! stale log: not supported). A writer resumes the count it
//! finds (or the highest number in the log, if higher), so the count
//! never repeats a value a running reader has seen. A reader that finds
//! no file (no cut yet, or a writer that predates it) reads 0.

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
        let logged = crate::fs::fault("segment::cuts::log")
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
        crate::fs::fault("segment::cuts")
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
mod tests {
    use super::*;

    /// Log `cut` as made (nothing to cut in these tests).
    fn log(w: &Cuts, cut: Cut) {
        w.cut(cut, || Ok(())).unwrap();
    }

    fn seg(ordinal: u32) -> Cut {
        Cut::Segment {
            id: SegmentId {
                partition: 7,
                generation: 1,
            },
            salt: 99,
            offset: 1000 + u64::from(ordinal),
            ordinal,
        }
    }

    #[test]
    fn a_writer_resumes_the_count_and_a_reader_follows_it() {
        let dir = tempfile::tempdir().unwrap();
        let reader = Cuts::open_reader(dir.path());
        assert_eq!(reader.read().unwrap(), 0, "no file yet");
        let w = Cuts::open_writer(dir.path()).unwrap();
        assert_eq!(reader.read().unwrap(), 1, "a writer counts once at open");
        assert_eq!(reader.since(0, 1).unwrap(), [Cut::Any]);
        log(&w, seg(3));
        log(&w, seg(5));
        assert_eq!((w.read().unwrap(), reader.read().unwrap()), (3, 3));
        assert_eq!(reader.since(1, 3).unwrap(), [seg(3), seg(5)]);
        assert_eq!(reader.since(2, 3).unwrap(), [seg(5)]);
        assert_eq!(
            reader.since(0, 3).unwrap(),
            [Cut::Any],
            "cut 1 is of anything"
        );
        assert_eq!(reader.since(3, 3).unwrap(), []);
        assert_eq!(
            reader.since(4, 3).unwrap(),
            [Cut::Any],
            "the count went back"
        );
        drop(w);
        // A log whose every cut was counted: the next writer goes on with
        // it, and readers lose nothing.
        let w = Cuts::open_writer(dir.path()).unwrap();
        assert_eq!(reader.read().unwrap(), 3, "no cut at open");
        log(&w, seg(8));
        assert_eq!(reader.read().unwrap(), 4, "resumed, not restarted");
        assert_eq!(reader.since(1, 4).unwrap(), [seg(3), seg(5), seg(8)]);
    }

    /// The entry is written before the cut is made, the count after.
    #[test]
    fn a_cut_is_logged_before_it_is_made_and_counted_after() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CUTS_FILE);
        let w = Cuts::open_writer(dir.path()).unwrap();
        let mut seen = None;
        w.cut(seg(2), || {
            let log = decode(&std::fs::read(&path).unwrap());
            seen = Some((log.count, log.entries.last().copied()));
            Err(Error::corrupt(&path, 0, "the cut failed"))
        })
        .expect_err("the cut's own error comes back");
        assert_eq!(seen, Some((1, Some((2, seg(2))))));
        assert_eq!(
            decode(&std::fs::read(&path).unwrap()).count,
            2,
            "counted even so"
        );
    }

    /// A log whose every entry is counted is resumed even with garbage
    /// after its entries (a write in progress when the writer stopped):
    /// the next entry goes over it.
    #[test]
    fn a_writer_resumes_a_log_with_garbage_after_its_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CUTS_FILE);
        let w = Cuts::open_writer(dir.path()).unwrap();
        log(&w, seg(1));
        drop(w);
        let mut b = std::fs::read(&path).unwrap();
        b.extend_from_slice(&[0xa5; 30]);
        std::fs::write(&path, &b).unwrap();
        let w = Cuts::open_writer(dir.path()).unwrap();
        assert_eq!(w.read().unwrap(), 2, "no cut at open");
        log(&w, seg(2));
        let reader = Cuts::open_reader(dir.path());
        assert_eq!(reader.since(1, 3).unwrap(), [seg(1), seg(2)]);
    }

    /// A full log is resumed too; the next cut starts it afresh.
    #[test]
    fn a_full_log_is_resumed_and_started_afresh_at_the_next_cut() {
        let dir = tempfile::tempdir().unwrap();
        let w = Cuts::open_writer(dir.path()).unwrap();
        for i in 1..MAX_ENTRIES as u32 {
            log(&w, seg(i));
        }
        let count = w.read().unwrap();
        assert_eq!(count, MAX_ENTRIES as u64);
        drop(w);
        let reader = Cuts::open_reader(dir.path());
        let w = Cuts::open_writer(dir.path()).unwrap();
        assert_eq!(reader.read().unwrap(), count, "no cut at open");
        assert_eq!(
            reader.since(count - 1, count).unwrap(),
            [seg(count as u32 - 1)]
        );
        log(&w, seg(7));
        assert_eq!(reader.since(count, count + 1).unwrap(), [seg(7)]);
        assert_eq!(
            reader.since(count - 1, count + 1).unwrap(),
            [Cut::Any],
            "afresh"
        );
    }

    /// After an entry could not be written, the log is cut off the file
    /// (the count kept): readers whose count moves read everything again,
    /// and so does the next writer's open, even if the cut's own count
    /// was never written.
    #[test]
    fn a_log_that_lost_an_entry_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let w = Cuts::open_writer(dir.path()).unwrap();
        log(&w, seg(1));
        // As `cut` does when the entry of cut 3 cannot be written: the
        // count of cut 3 is not written either (a crash).
        {
            let mut state = w.0.writer.as_ref().unwrap().lock();
            state.count += 1;
            w.drop_log(&mut state);
        }
        let b = std::fs::read(dir.path().join(CUTS_FILE)).unwrap();
        assert_eq!(b, 2u64.to_le_bytes(), "the count alone");
        drop(w);
        let reader = Cuts::open_reader(dir.path());
        let w = Cuts::open_writer(dir.path()).unwrap();
        assert_eq!(reader.since(2, w.read().unwrap()).unwrap(), [Cut::Any]);
        log(&w, seg(5));
        let count = w.read().unwrap();
        assert_eq!(reader.since(count - 1, count).unwrap(), [seg(5)], "afresh");
    }

    /// A log of version 1 (a writer that logged a cut after making it)
    /// reads the same; the next writer cannot tell whether a crash left a
    /// cut unlogged, so it starts afresh with a cut of anything.
    #[test]
    fn a_version_1_log_is_read_and_a_writer_starts_it_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = 2u64.to_le_bytes().to_vec();
        b.extend_from_slice(&encode_header_of(1));
        b.extend_from_slice(&encode_entry(1, &Cut::Any));
        b.extend_from_slice(&encode_entry(2, &seg(6)));
        std::fs::write(dir.path().join(CUTS_FILE), &b).unwrap();
        let reader = Cuts::open_reader(dir.path());
        assert_eq!(reader.since(1, 2).unwrap(), [seg(6)]);
        let w = Cuts::open_writer(dir.path()).unwrap();
        assert_eq!(reader.read().unwrap(), 3);
        assert_eq!(reader.since(2, 3).unwrap(), [Cut::Any]);
        log(&w, seg(7));
        assert_eq!(reader.since(3, 4).unwrap(), [seg(7)]);
        let log = decode(&std::fs::read(dir.path().join(CUTS_FILE)).unwrap());
        assert_eq!(log.version, Some(VERSION), "afresh, in this version");
    }

    #[test]
    fn a_short_file_counts_as_zero() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CUTS_FILE), [7u8; 5]).unwrap();
        assert_eq!(Cuts::open_reader(dir.path()).read().unwrap(), 0);
        let w = Cuts::open_writer(dir.path()).unwrap();
        log(&w, seg(0));
        assert_eq!(Cuts::open_reader(dir.path()).read().unwrap(), 2);
    }

    /// A `cuts` file of a writer that predates the log (a bare count):
    /// a reader cannot tell what was cut; a writer resumes the count.
    #[test]
    fn a_bare_count_is_read_as_cuts_of_anything() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CUTS_FILE), 41u64.to_le_bytes()).unwrap();
        let reader = Cuts::open_reader(dir.path());
        assert_eq!(reader.read().unwrap(), 41);
        assert_eq!(reader.since(40, 41).unwrap(), [Cut::Any]);
        let w = Cuts::open_writer(dir.path()).unwrap();
        log(&w, seg(2));
        assert_eq!(reader.read().unwrap(), 43);
        assert_eq!(reader.since(42, 43).unwrap(), [seg(2)]);
    }

    /// A writer that crashed after an entry but before its count: the
    /// next one numbers on from the entry, never reusing its number.
    #[test]
    fn a_writer_numbers_on_from_an_uncounted_entry() {
        let dir = tempfile::tempdir().unwrap();
        let w = Cuts::open_writer(dir.path()).unwrap();
        log(&w, seg(1));
        drop(w);
        let path = dir.path().join(CUTS_FILE);
        let mut b = std::fs::read(&path).unwrap();
        b[..8].copy_from_slice(&1u64.to_le_bytes());
        std::fs::write(&path, &b).unwrap();
        let w = Cuts::open_writer(dir.path()).unwrap();
        assert_eq!(w.read().unwrap(), 3);
        assert_eq!(
            Cuts::open_reader(dir.path()).since(1, 3).unwrap(),
            [Cut::Any],
            "a cut that may be half made: read everything again"
        );
    }

    #[test]
    fn every_cut_and_flip_of_the_log_falls_back_to_anything() {
        let dir = tempfile::tempdir().unwrap();
        let w = Cuts::open_writer(dir.path()).unwrap();
        let cuts = [
            seg(4),
            Cut::Removed {
                id: SegmentId {
                    partition: 3,
                    generation: 0,
                },
                salt: 5,
            },
            Cut::Journal {
                partition: 2,
                generation: 9,
                salt: 6,
                offset: 77,
            },
        ];
        for c in cuts {
            log(&w, c);
        }
        let b = std::fs::read(dir.path().join(CUTS_FILE)).unwrap();
        assert_eq!(b.len(), ENTRIES_AT + 4 * ENTRY_LEN);
        assert_eq!(since(&b, 1, 4), cuts);
        for cut in 0..b.len() {
            let got = since(&b[..cut], 1, 4);
            assert_eq!(got, [Cut::Any], "cut at {cut}");
        }
        for at in LOG_AT..b.len() {
            for bit in [0x01, 0x80] {
                let mut f = b.clone();
                f[at] ^= bit;
                let got = since(&f, 1, 4);
                let ok = got == cuts;
                assert!(ok || got == [Cut::Any], "flip at {at}: {got:?}");
                assert!(!ok, "flip at {at} went unnoticed");
            }
        }
    }

    #[test]
    fn a_full_log_starts_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let w = Cuts::open_writer(dir.path()).unwrap();
        for i in 0..MAX_ENTRIES as u32 + 10 {
            log(&w, seg(i));
        }
        let b = std::fs::read(dir.path().join(CUTS_FILE)).unwrap();
        assert!(b.len() <= ENTRIES_AT + MAX_ENTRIES * ENTRY_LEN);
        let count = w.read().unwrap();
        assert_eq!(since(&b, count - 1, count), [seg(MAX_ENTRIES as u32 + 9)]);
        assert_eq!(since(&b, 1, count), [Cut::Any]);
    }

    #[test]
    fn entries_round_trip() {
        for c in [
            Cut::Any,
            seg(u32::MAX),
            Cut::Removed {
                id: SegmentId {
                    partition: u32::MAX,
                    generation: 2,
                },
                salt: u64::MAX,
            },
            Cut::Journal {
                partition: 1,
                generation: 0,
                salt: 3,
                offset: u64::MAX,
            },
        ] {
            assert_eq!(decode_entry(&encode_entry(17, &c)), Some((17, c)));
        }
    }
}
