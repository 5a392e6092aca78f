//! A project's cut counter: how a read-only store learns that the writer
//! cut bytes off an active segment, bytes the reader may already have read.
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
//! So after every such cut of a whole frame (a torn frame or a seal block
//! is no record to any reader, and a write that landed nothing cuts
//! nothing), and after removing a segment file whose creation failed (the
//! next file of that ID has another salt), the writer adds one to the
//! counter in the project's `cuts` file; and once more when it opens the
//! project (a writer that crashed between a cut and its count left it
//! uncounted). A reader reads the counter before and after each look at
//! the active segments and the journals. When it differs from the reading
//! of the last look, or moved during this one, the reader forgets the
//! active segments and what it read of the journals, lists the segments
//! again and reads them from their headers (up to three times in one
//! look; the third pass is kept, and the next look reads again). Bytes a
//! reader read before a cut are thus forgotten at its first look after
//! the count, which follows the cut; until then the reader shows them as
//! it showed the batch in flight.
//!
//! The file holds one little-endian `u64`. It is not synced: only running
//! processes read it, and after a power loss every reader starts afresh.
//! A writer resumes the count it finds, so the counter never repeats a
//! value a running reader has seen. A reader that finds no file (no cut
//! yet, or a writer that predates it) reads 0.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::{Error, Result};

/// The name of the counter's file in a project directory.
pub(crate) const CUTS_FILE: &str = "cuts";

/// A handle on a project's cut counter, cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Cuts(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    /// Writer: the open file and the last value written. Reader: the file
    /// once it exists (the writer may create it later).
    file: Mutex<Option<File>>,
    count: Mutex<u64>,
    writer: bool,
}

impl Cuts {
    /// The writer's counter in `dir`, created if missing, resuming its
    /// count, and counting once (for a cut a crashed writer did not count).
    pub(crate) fn open_writer(dir: &Path) -> Result<Cuts> {
        let path = dir.join(CUTS_FILE);
        let file = crate::fs::open_rw(&path, false)?;
        let count = read_count(&file).map_err(Error::io("read", &path))?;
        let cuts = Cuts(Arc::new(Inner {
            path,
            file: Mutex::new(Some(file)),
            count: Mutex::new(count),
            writer: true,
        }));
        cuts.bump()?;
        Ok(cuts)
    }

    /// A reader's view of the counter in `dir` (which may not exist yet).
    pub(crate) fn open_reader(dir: &Path) -> Cuts {
        Cuts(Arc::new(Inner {
            path: dir.join(CUTS_FILE),
            file: Mutex::new(None),
            count: Mutex::new(0),
            writer: false,
        }))
    }

    /// A counter kept in memory only, for segments used outside a project
    /// (tests).
    #[cfg(test)]
    pub(crate) fn detached() -> Cuts {
        Cuts(Arc::new(Inner {
            path: PathBuf::new(),
            file: Mutex::new(None),
            count: Mutex::new(0),
            writer: true,
        }))
    }

    /// Writer: count one more cut, just made. A failure to write the
    /// counter is returned (the cut stands: the writer's own file must not
    /// keep frames it refused), and a reader may then keep showing the
    /// cut frames until the next count or until it reopens.
    pub(crate) fn bump(&self) -> Result<()> {
        debug_assert!(self.0.writer, "a reader never cuts");
        let mut count = self.0.count.lock();
        *count += 1;
        match self.0.file.lock().as_ref() {
            Some(f) => crate::fs::fault("segment::cuts")
                .and_then(|()| f.write_all_at(&count.to_le_bytes(), 0))
                .map_err(Error::io("write", &self.0.path)),
            None => Ok(()),
        }
    }

    /// The counter as the file holds it now (0 if there is no file).
    pub(crate) fn read(&self) -> Result<u64> {
        if self.0.writer {
            return Ok(*self.0.count.lock());
        }
        let mut file = self.0.file.lock();
        if file.is_none() {
            match File::open(&self.0.path) {
                Ok(f) => *file = Some(f),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
                Err(e) => return Err(Error::io("open", &self.0.path)(e)),
            }
        }
        let f = file.as_ref().expect("opened above");
        read_count(f).map_err(Error::io("read", &self.0.path))
    }
}

/// The count in `file`: its first eight bytes, little-endian; a shorter
/// file (new, or torn by a crash while being created) counts as 0 plus
/// whatever whole value it holds, which is none.
fn read_count(file: &File) -> std::io::Result<u64> {
    let mut buf = [0u8; 8];
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], got as u64)? {
            0 => return Ok(0),
            n => got += n,
        }
    }
    Ok(u64::from_le_bytes(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writer_resumes_the_count_and_a_reader_follows_it() {
        let dir = tempfile::tempdir().unwrap();
        let reader = Cuts::open_reader(dir.path());
        assert_eq!(reader.read().unwrap(), 0, "no file yet");
        let w = Cuts::open_writer(dir.path()).unwrap();
        assert_eq!(reader.read().unwrap(), 1, "a writer counts once at open");
        w.bump().unwrap();
        w.bump().unwrap();
        assert_eq!((w.read().unwrap(), reader.read().unwrap()), (3, 3));
        drop(w);
        let w = Cuts::open_writer(dir.path()).unwrap();
        w.bump().unwrap();
        assert_eq!(reader.read().unwrap(), 5, "resumed, not restarted");
    }

    #[test]
    fn a_short_file_counts_as_zero() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CUTS_FILE), [7u8; 5]).unwrap();
        assert_eq!(Cuts::open_reader(dir.path()).read().unwrap(), 0);
        let w = Cuts::open_writer(dir.path()).unwrap();
        w.bump().unwrap();
        assert_eq!(Cuts::open_reader(dir.path()).read().unwrap(), 2);
    }
}
