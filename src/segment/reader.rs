//! Reading segments: sealed segments through whole-file maps, and one
//! read interface ([`SegView`]) over sealed and active segments alike.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::mmap::Map;
use crate::record::{RecordId, SegmentId, StoredRecord};
use crate::segment::format::{self, MISSING, i64_at, u32_at};
use crate::segment::seal::{self, Trailer};

/// A sealed, immutable segment, mapped whole.
#[derive(Debug)]
pub(crate) struct SealedSegment {
    pub(crate) id: SegmentId,
    pub(crate) path: PathBuf,
    map: Arc<Map>,
    trailer: Trailer,
    salt: u64,
}

impl SealedSegment {
    /// Map the sealed segment at `path` and check its header, trailer and
    /// tables (the tables once, here, so later reads can trust them).
    pub(crate) fn open(path: &Path, id: SegmentId, partition_len: u64) -> Result<SealedSegment> {
        let file = File::open(path).map_err(Error::io("open", path))?;
        let len = file.metadata().map_err(Error::io("stat", path))?.len();
        if len == 0 {
            return Err(Error::corrupt(path, 0, "empty segment file"));
        }
        let map = Map::open(&file, path, len)?;
        let header = format::decode_header(&map).map_err(|e| e.into_error(path))?;
        check_header(path, &header, id, partition_len)?;
        let trailer = seal::decode_trailer(&map).map_err(|e| e.into_error(path))?;
        seal::check_seal_block(&map, &trailer).map_err(|e| e.into_error(path))?;
        Ok(SealedSegment {
            id,
            path: path.to_path_buf(),
            map: Arc::new(map),
            trailer,
            salt: header.salt,
        })
    }

    /// A read view.
    pub(crate) fn view(&self) -> SegView<'_> {
        SegView {
            id: self.id,
            path: &self.path,
            salt: self.salt,
            seed: std::cell::OnceCell::new(),
            bytes: Bytes::Map(Arc::clone(&self.map)),
            tables: Tables::Disk(self.trailer),
        }
    }

    /// Number of records present.
    pub(crate) fn live(&self) -> u32 {
        self.trailer.live
    }

    /// Number of ordinal slots (highest ordinal + 1).
    pub(crate) fn slots(&self) -> u32 {
        self.trailer.slots
    }

    /// The checksum salt of the segment's frames.
    pub(crate) fn salt(&self) -> u64 {
        self.salt
    }

    /// Where the frames end.
    pub(crate) fn frames_end(&self) -> u64 {
        self.trailer.block_offset
    }
}

/// Check that a header names the segment its file name says, with the
/// store's partition length.
pub(crate) fn check_header(
    path: &Path,
    h: &format::SegmentHeader,
    id: SegmentId,
    partition_len: u64,
) -> Result<()> {
    if h.partition != id.partition || h.generation != id.generation {
        return Err(Error::corrupt(
            path,
            12,
            format!(
                "header names segment {}-{}, the file name {}-{}",
                h.partition, h.generation, id.partition, id.generation
            ),
        ));
    }
    if h.partition_len != partition_len {
        return Err(Error::corrupt(
            path,
            20,
            format!(
                "partition length {} µs, the store's is {partition_len} µs",
                h.partition_len
            ),
        ));
    }
    Ok(())
}

/// Per-record tables of a segment: in memory for an active segment, in the
/// mapped seal block for a sealed one.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Tables<'a> {
    /// An active segment's tables.
    Mem {
        times: &'a [i64],
        offsets: &'a [u32],
        order: &'a [u32],
        prefix_max: &'a [i64],
    },
    /// A sealed segment's tables, checked at open.
    Disk(Trailer),
}

/// Where a view reads frame bytes from.
#[derive(Clone, Debug)]
pub(crate) enum Bytes {
    /// A map: sealed segments, and the writer's own active segments.
    Map(Arc<Map>),
    /// Positioned reads: active segments of a read-only store, which the
    /// writing process may cut back after a failed write (a map of the cut
    /// bytes would fault).
    File(Arc<File>),
}

impl Bytes {
    /// The mapped bytes (empty for positioned reads, which have no tables on disk).
    fn slice(&self) -> &[u8] {
        match self {
            Bytes::Map(m) => m,
            Bytes::File(_) => &[],
        }
    }

    /// The bytes of the frame at `off` (at least the whole frame when valid).
    fn frame(&self, off: usize, path: &Path) -> Result<std::borrow::Cow<'_, [u8]>> {
        let beyond = || Error::corrupt(path, off as u64, "frame offset beyond the end of the file");
        match self {
            Bytes::Map(m) => m
                .get(off..)
                .map(std::borrow::Cow::Borrowed)
                .ok_or_else(beyond),
            Bytes::File(f) => {
                use std::os::unix::fs::FileExt;
                let mut head = [0u8; format::FRAME_HEAD_LEN];
                f.read_exact_at(&mut head, off as u64)
                    .map_err(|_| beyond())?;
                let want = format::FRAME_HEAD_LEN
                    + (u32_at(&head, 0) as usize).min(format::MAX_SUMMARY_LEN)
                    + (u32_at(&head, 4) as usize).min(crate::record::MAX_DETAIL_BYTES);
                let mut buf = vec![0u8; want];
                let n = f
                    .read_at(&mut buf, off as u64)
                    .map_err(Error::io("read", path))?;
                buf.truncate(n);
                Ok(std::borrow::Cow::Owned(buf))
            }
        }
    }
}

/// A read-only view of one segment, sealed or active, valid while the
/// project state it came from is borrowed.
#[derive(Debug)]
pub(crate) struct SegView<'a> {
    pub(crate) id: SegmentId,
    pub(crate) path: &'a Path,
    salt: u64,
    /// `format::salt_seed(salt)`, computed at the first frame read.
    seed: std::cell::OnceCell<u32>,
    bytes: Bytes,
    tables: Tables<'a>,
}

impl<'a> SegView<'a> {
    pub(crate) fn new(
        id: SegmentId,
        path: &'a Path,
        salt: u64,
        bytes: Bytes,
        tables: Tables<'a>,
    ) -> Self {
        SegView {
            id,
            path,
            salt,
            seed: std::cell::OnceCell::new(),
            bytes,
            tables,
        }
    }

    /// Number of records present.
    pub(crate) fn len(&self) -> usize {
        match self.tables {
            Tables::Mem { order, .. } => order.len(),
            Tables::Disk(t) => t.live as usize,
        }
    }

    /// Number of ordinal slots (the next ordinal of an active segment).
    pub(crate) fn slots(&self) -> u32 {
        match self.tables {
            Tables::Mem { offsets, .. } => offsets.len() as u32,
            Tables::Disk(t) => t.slots,
        }
    }

    /// The largest time among ordinals `0..=ord` (active segments only).
    pub(crate) fn prefix_max(&self, ord: u32) -> Option<i64> {
        match self.tables {
            Tables::Mem { prefix_max, .. } => prefix_max.get(ord as usize).copied(),
            Tables::Disk(_) => None,
        }
    }

    /// The ordinal at position `i` of the time order (`i < len()`).
    pub(crate) fn order(&self, i: usize) -> u32 {
        match self.tables {
            Tables::Mem { order, .. } => order[i],
            Tables::Disk(t) => u32_at(self.bytes.slice(), t.order_at() + 4 * i),
        }
    }

    /// The time of ordinal `ord`, which came from [`SegView::order`].
    pub(crate) fn time(&self, ord: u32) -> i64 {
        match self.tables {
            Tables::Mem { times, .. } => times[ord as usize],
            Tables::Disk(t) => i64_at(self.bytes.slice(), t.times_at() + 8 * ord as usize),
        }
    }

    /// The frame offset of `ord`, if the segment holds it (any `ord`).
    pub(crate) fn offset(&self, ord: u32) -> Option<u32> {
        let off = match self.tables {
            Tables::Mem { offsets, .. } => *offsets.get(ord as usize)?,
            Tables::Disk(t) => {
                if ord >= t.slots {
                    return None;
                }
                u32_at(self.bytes.slice(), t.offsets_at() + 4 * ord as usize)
            }
        };
        (off != MISSING).then_some(off)
    }

    /// The first position in the time order whose key is not below
    /// `(time, id)`: every record before it sorts strictly below the key.
    pub(crate) fn position_below(&self, time: i64, id: RecordId) -> usize {
        let (mut lo, mut hi) = (0usize, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let ord = self.order(mid);
            let key = (
                self.time(ord),
                RecordId {
                    segment: self.id,
                    ordinal: ord,
                },
            );
            if key < (time, id) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Call `f` with record `ord`'s summary, decoded in place (checksum
    /// and layout checked, nothing copied, strings not yet checked to be
    /// UTF-8). `f` returns `None` if they are not.
    pub(crate) fn with_summary<R>(
        &self,
        ord: u32,
        f: impl FnOnce(RecordId, format::SummaryRaw<'_>) -> Option<R>,
    ) -> Result<R> {
        self.with_frame(ord, |id, frame, shift| {
            let at = |e: format::DecodeError| shift(e.shifted(format::FRAME_HEAD_LEN as u64));
            let summary = format::decode_summary_raw(frame.summary).map_err(at)?;
            match f(id, summary) {
                Some(r) => Ok(r),
                // Name the string that is not UTF-8.
                None => Err(at(format::decode_summary_ref(frame.summary)
                    .err()
                    .unwrap_or_else(|| {
                        format::DecodeError::at(0, "a string is not UTF-8")
                    }))),
            }
        })
    }

    /// Read record `ord`: summary only, or with its detail.
    #[inline]
    pub(crate) fn read(&self, ord: u32, with_detail: bool) -> Result<StoredRecord> {
        self.with_frame(ord, |id, frame, shift| {
            if !with_detail {
                let s = format::decode_summary_ref(frame.summary)
                    .map_err(|e| shift(e.shifted(format::FRAME_HEAD_LEN as u64)))?;
                return Ok(StoredRecord {
                    id,
                    record: s.to_record(),
                    has_detail: s.has_detail,
                    superseded: false,
                });
            }
            let record = format::decode_full(&frame).map_err(shift)?;
            let has_detail = record.detail.is_some();
            Ok(StoredRecord {
                id,
                record,
                has_detail,
                superseded: false,
            })
        })
    }

    /// Call `f` with record `ord`'s frame (head checksum checked), its ID
    /// and a function placing a decode error in the file.
    #[inline(always)]
    fn with_frame<R>(
        &self,
        ord: u32,
        f: impl FnOnce(RecordId, format::Frame<'_>, &dyn Fn(format::DecodeError) -> Error) -> Result<R>,
    ) -> Result<R> {
        let off = self
            .offset(ord)
            .ok_or_else(|| Error::corrupt(self.path, 0, format!("no frame for ordinal {ord}")))?
            as usize;
        let path = self.path;
        let bytes = self.bytes.frame(off, path)?;
        let bytes = &bytes[..];
        let shift = |e: format::DecodeError| e.shifted(off as u64).into_error(path);
        let seed = *self.seed.get_or_init(|| format::salt_seed(self.salt));
        let frame = format::parse_frame_seeded(bytes, self.salt, seed)
            .map_err(shift)?
            .ok_or_else(|| {
                Error::corrupt(path, off as u64, "seal marker where a frame was expected")
            })?;
        if frame.ordinal != ord {
            return Err(Error::corrupt(
                path,
                off as u64 + 8,
                format!("frame holds ordinal {}, expected {ord}", frame.ordinal),
            ));
        }
        let id = RecordId {
            segment: self.id,
            ordinal: ord,
        };
        f(id, frame, &shift)
    }
}
