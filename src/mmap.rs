//! Read-only memory maps: with the SSE2 text classification of
//! `simd.rs`, the only `unsafe` code in runlog.

#![allow(unsafe_code)]

use std::fs::File;
use std::ops::Deref;
use std::path::Path;

use crate::error::{Error, Result};

/// A read-only map of the first `len` bytes of a file, bytes that runlog
/// never changes again.
#[derive(Debug)]
pub(crate) struct Map {
    map: memmap2::Mmap,
}

impl Map {
    /// Map the first `len` bytes of `file` (at `path`, for errors) read-only.
    ///
    /// Callers map only bytes that runlog has finished writing and will
    /// never rewrite or truncate:
    /// - a sealed segment, whole: it is immutable once renamed into place,
    ///   and retention only unlinks it, which leaves existing maps valid;
    /// - the valid prefix of an active segment, mapped only by the process
    ///   that writes it: appends only write past it, and the only
    ///   truncations (recovery of a torn tail, undoing a failed write or
    ///   seal) cut bytes after it. Read-only stores, which another process
    ///   may truncate under, read active segments with positioned reads.
    pub(crate) fn open(file: &File, path: &Path, len: u64) -> Result<Map> {
        let file_len = file.metadata().map_err(Error::io("stat", path))?.len();
        if len == 0 || len > file_len {
            return Err(Error::corrupt(
                path,
                file_len,
                format!("cannot map {len} bytes of a {file_len}-byte file"),
            ));
        }
        let len =
            usize::try_from(len).map_err(|_| Error::corrupt(path, 0, "file too large to map"))?;
        // SAFETY: the mapped range is non-empty, lies within the file (both
        // checked above), and holds bytes runlog never writes or truncates
        // again (see the rules above), so the slice we hand out cannot
        // change or vanish under us through runlog. Another program
        // truncating the file would break this; store directories are
        // private (0700) to keep others out.
        let map = unsafe { memmap2::MmapOptions::new().len(len).map(file) }
            .map_err(Error::io("mmap", path))?;
        Ok(Map { map })
    }
}

impl Deref for Map {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.map
    }
}
