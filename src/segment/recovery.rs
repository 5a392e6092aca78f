//! Opening active segments after a crash (torn tails, interrupted seals)
//! and verifying every checksum of a segment.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::cuts::Cuts;
pub use crate::error::Damage;
use crate::error::{Error, Result};
use crate::fs::sync_dir;
use crate::mmap::Map;
use crate::record::SegmentId;
use crate::segment::format::{self, DecodeError, HEADER_LEN};
use crate::segment::reader::{SealedSegment, check_header};
use crate::segment::writer::{ActiveSegment, Change};
use crate::segment::{SEALED_EXT, segment_path};
use crate::segment::{scan, seal};

/// What opening an active segment file found.
#[derive(Debug)]
pub(crate) enum Recovered {
    /// The segment, ready for appends (or reads), and damage skipped inside it.
    Active(Box<ActiveSegment>, Vec<Damage>),
    /// The file held a complete seal (a crash hit between sealing and the
    /// rename); it has been renamed to its sealed path.
    Sealed(PathBuf),
    /// The file ended inside its header (a crash right after creating it,
    /// before any record); it was removed (writer) or skipped (read-only).
    Empty,
}

/// Open the active segment at `path`. A writer (`read_only == false`)
/// truncates a torn tail and completes an interrupted seal; a reader
/// changes nothing. Errors mean the file is unusable (bad header).
pub(crate) fn recover_active(
    dir: &Path,
    path: &Path,
    id: SegmentId,
    partition_len: u64,
    read_only: bool,
    cuts: Option<&Cuts>,
    found: &mut dyn FnMut(Change<'_>),
) -> Result<Recovered> {
    let file = if read_only {
        File::open(path)
    } else {
        fs::OpenOptions::new().read(true).write(true).open(path)
    }
    .map_err(Error::io("open", path))?;
    let len = file.metadata().map_err(Error::io("stat", path))?.len();
    if len < HEADER_LEN as u64 {
        // The header is written and synced before any record, so no record
        // was ever acknowledged in this file.
        if !read_only {
            fs::remove_file(path).map_err(Error::io("remove", path))?;
            sync_dir(dir)?;
        }
        return Ok(Recovered::Empty);
    }
    // A writer holds the lock, so nobody else changes the file: map it. A
    // reader copies it, as the writer may still truncate a torn tail.
    let bytes: Box<dyn std::ops::Deref<Target = [u8]>> = if read_only {
        let mut buf = vec![0u8; len as usize];
        // The writer may cut the file meanwhile: scan what is there.
        let got = crate::fs::read_up_to_at(&file, &mut buf, 0).map_err(Error::io("read", path))?;
        buf.truncate(got);
        if got < HEADER_LEN {
            return Ok(Recovered::Empty);
        }
        Box::new(buf)
    } else {
        Box::new(Map::open(&file, path, len)?)
    };
    let header = format::decode_header(&bytes).map_err(|e| e.into_error(path))?;
    check_header(path, &header, id, partition_len)?;
    let scan = scan::scan_frames(&bytes[HEADER_LEN..], HEADER_LEN as u64, None, header.salt);
    let damage = scan
        .damage
        .iter()
        .map(|(offset, reason)| Damage {
            path: path.to_path_buf(),
            offset: *offset,
            reason: reason.clone(),
        })
        .collect();
    if let Some(seal_at) = scan.seal_at {
        let complete = seal::decode_trailer(&bytes)
            .and_then(|t| seal::check_seal_block(&bytes, &t).map(|()| t))
            .is_ok_and(|t| t.block_offset == seal_at && t.live as usize == scan.frames.len());
        if complete && !read_only {
            drop(bytes);
            // The index was written and synced before the seal block: a
            // crash before its rename left it whole under its temporary name.
            let tmp_index = segment_path(dir, id, crate::segment::TMP_INDEX_EXT);
            if tmp_index.exists() {
                let index = segment_path(dir, id, crate::segment::INDEX_EXT);
                fs::rename(&tmp_index, &index).map_err(Error::io("rename", &tmp_index))?;
            }
            let sealed = segment_path(dir, id, SEALED_EXT);
            fs::rename(path, &sealed).map_err(Error::io("rename", path))?;
            sync_dir(dir)?;
            return Ok(Recovered::Sealed(sealed));
        }
    }
    let mut seg = ActiveSegment::from_parts(
        id,
        path.to_path_buf(),
        file,
        header.created,
        scan.end,
        header.salt,
        read_only,
        &scan.frames,
        &bytes,
        0,
        found,
    );
    if let Some(cuts) = cuts {
        seg.set_cuts(cuts.clone());
    }
    // Cut the torn tail only once nothing maps it.
    drop(bytes);
    if !read_only && scan.end < len {
        seg.cut_tail()?;
    }
    Ok(Recovered::Active(Box::new(seg), damage))
}

/// What [`verify`](crate::Project::verify) found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Segment files checked.
    pub segments: usize,
    /// Run journal files checked.
    pub journals: usize,
    /// Records whose every checksum passed.
    pub records: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Every problem found; empty when the data is intact.
    pub problems: Vec<Damage>,
}

impl VerifyReport {
    /// Whether no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    pub(crate) fn merge(&mut self, other: VerifyReport) {
        self.segments += other.segments;
        self.journals += other.journals;
        self.records += other.records;
        self.bytes += other.bytes;
        self.problems.extend(other.problems);
    }
}

/// Check every checksum of the segment file at `path` (active or sealed,
/// by `sealed`). Reads the file; changes nothing.
/// An active file is checked up to `known_end` (where the writer or the
/// reader last saw whole frames), so an append in progress is not taken
/// for a torn tail. A file gone meanwhile (sealed under its new name, or
/// dropped by retention) is skipped. A sealed file whose frames and tables
/// could be checked is then handed to `companions`, which checks the files
/// kept beside it (its index).
pub(crate) fn verify_file(
    path: &Path,
    id: SegmentId,
    partition_len: u64,
    sealed: bool,
    known_end: Option<u64>,
    companions: &mut dyn FnMut(&mut VerifyReport),
) -> VerifyReport {
    let mut report = VerifyReport {
        segments: 1,
        ..VerifyReport::default()
    };
    let problem = |report: &mut VerifyReport, e: DecodeError| {
        report
            .problems
            .push(Damage::from_error(path, &e.into_error(path)));
    };
    let bytes = match fs::read(path) {
        Ok(mut b) => {
            if let Some(end) = known_end.filter(|&e| (e as usize) < b.len()) {
                b.truncate(end as usize);
            }
            b
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return VerifyReport::default(),
        Err(e) => {
            report
                .problems
                .push(Damage::from_error(path, &Error::io("read", path)(e)));
            return report;
        }
    };
    report.bytes = bytes.len() as u64;
    let (frames_end, salt) = if sealed {
        match SealedSegment::open(path, id, partition_len) {
            Ok(s) => (s.frames_end() as usize, s.salt()),
            Err(e) => {
                report.problems.push(Damage::from_error(path, &e));
                return report;
            }
        }
    } else {
        match format::decode_header(&bytes) {
            Ok(h) => {
                if let Err(e) = check_header(path, &h, id, partition_len) {
                    report.problems.push(Damage::from_error(path, &e));
                }
                (bytes.len(), h.salt)
            }
            Err(e) => {
                problem(&mut report, e);
                return report;
            }
        }
    };
    let scan = scan::scan_frames(
        &bytes[HEADER_LEN..frames_end],
        HEADER_LEN as u64,
        None,
        salt,
    );
    report.records = scan.frames.len() as u64;
    for (offset, reason) in scan.damage {
        report.problems.push(Damage {
            path: path.to_path_buf(),
            offset,
            reason,
        });
    }
    let tail_ok = if sealed {
        scan.end == frames_end as u64
    } else {
        // An active file may end in an interrupted seal block; anything
        // else after the last frame is a torn tail.
        scan.end == frames_end as u64 || scan.seal_at == Some(scan.end)
    };
    if !tail_ok {
        report.problems.push(Damage {
            path: path.to_path_buf(),
            offset: scan.end,
            reason: "bytes after the last valid frame (torn or corrupt tail)".into(),
        });
    }
    if sealed {
        verify_tables(path, &bytes, &scan.frames, &mut report);
        companions(&mut report);
    }
    report
}

/// Check that a sealed segment's tables agree with the frames found by a scan.
fn verify_tables(
    path: &Path,
    bytes: &[u8],
    frames: &[scan::ScannedFrame],
    report: &mut VerifyReport,
) {
    let Ok(t) = seal::decode_trailer(bytes) else {
        return;
    };
    // A frame lost to damage was reported already; the rest must agree.
    let counted = frames.len() == t.live as usize || !report.problems.is_empty();
    let agree = counted
        && frames.iter().all(|f| {
            f.ordinal < t.slots
                && crate::codec::u32_at(bytes, t.offsets_at() + 4 * f.ordinal as usize) as u64
                    == f.offset
                && crate::codec::i64_at(bytes, t.times_at() + 8 * f.ordinal as usize) == f.time
        });
    if !agree {
        report.problems.push(Damage {
            path: path.to_path_buf(),
            offset: t.block_offset,
            reason: "seal tables disagree with the frames".into(),
        });
    }
}
