//! Segments: one file per time partition (and generation), append-only
//! while active, immutable and memory-mapped once sealed.
//!
//! File names: `PPPPPPPPPP-GGGG.wal` while active, `PPPPPPPPPP-GGGG.seg`
//! once sealed, where `P` is the partition index and `G` the generation,
//! in decimal.

pub mod format;
pub(crate) mod reader;
pub(crate) mod recovery;
pub(crate) mod scan;
pub(crate) mod seal;
pub(crate) mod writer;

use std::path::{Path, PathBuf};

use crate::record::SegmentId;

/// Extension of an active segment.
pub(crate) const ACTIVE_EXT: &str = "wal";
/// Extension of a sealed segment.
pub(crate) const SEALED_EXT: &str = "seg";
/// Extension of a sealed segment's index.
pub(crate) const INDEX_EXT: &str = "idx";
/// Extension of an index being written (removed at open if a crash left it).
pub(crate) const TMP_INDEX_EXT: &str = "idx.tmp";

/// The path of segment `id` in `dir` with extension `ext`.
pub(crate) fn segment_path(dir: &Path, id: SegmentId, ext: &str) -> PathBuf {
    dir.join(format!("{:010}-{:04}.{ext}", id.partition, id.generation))
}

/// The segment id and extension named by a file name, if it is one of ours.
pub(crate) fn parse_segment_name(name: &str) -> Option<(SegmentId, &str)> {
    let (stem, ext) = name.rsplit_once('.')?;
    if ext != ACTIVE_EXT && ext != SEALED_EXT {
        return None;
    }
    let (p, g) = stem.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(p) || !digits(g) {
        return None;
    }
    let id = SegmentId {
        partition: p.parse().ok()?,
        generation: g.parse().ok()?,
    };
    // Only the name runlog writes for that ID (no other zero padding).
    if format!("{:010}-{:04}", id.partition, id.generation) != stem {
        return None;
    }
    Some((
        id,
        if ext == ACTIVE_EXT {
            ACTIVE_EXT
        } else {
            SEALED_EXT
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let id = SegmentId {
            partition: 472_222,
            generation: 3,
        };
        let p = segment_path(Path::new("/x"), id, ACTIVE_EXT);
        assert_eq!(p, Path::new("/x/0000472222-0003.wal"));
        let name = p.file_name().unwrap().to_str().unwrap();
        assert_eq!(parse_segment_name(name), Some((id, ACTIVE_EXT)));
        for bad in [
            "x.wal",
            "1-2.txt",
            "1-.seg",
            "-1.seg",
            "1-2-3.seg",
            "99999999999-0.seg",
            "1-2.seg.tmp",
            "0000472222-00.seg",
            "0000472222-00003.wal",
            "00000472222-0003.wal",
            "472222-0003.seg",
        ] {
            assert_eq!(parse_segment_name(bad), None, "{bad}");
        }
    }
}
