//! The active segment: appends frames, keeps the per-record tables in
//! memory, syncs, and seals.

use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::cuts::{Cut, Cuts};
use crate::error::{Error, Result};
use crate::fs::{open_rw, sync_dir};
use crate::mmap::Map;
use crate::record::{LogRecord, SegmentId};
use crate::segment::format::{self, HEADER_LEN, MISSING, SegmentHeader};
use crate::segment::reader::{Bytes, SegView, Tables};
use crate::segment::scan::{self, ScannedFrame};
use crate::segment::seal::{self, SealTables};
use crate::segment::{ACTIVE_EXT, INDEX_EXT, SEALED_EXT, TMP_INDEX_EXT, segment_path};
use crate::time::Timestamp;

/// What reading a segment's file found, for whoever keeps more of its
/// records than their place and time (the index: see `index/segment.rs`).
pub(crate) enum Change<'a> {
    /// Records from this ordinal on were forgotten (read again later).
    Forgot(u32),
    /// A record read from the file, with its ordinal.
    Found(u32, &'a LogRecord),
}

/// A segment still being appended to (or, in a read-only store, one that
/// another process may still be appending to).
#[derive(Debug)]
pub(crate) struct ActiveSegment {
    pub(crate) id: SegmentId,
    pub(crate) path: PathBuf,
    /// Shared so a sync can run without the project's lock.
    file: Arc<File>,
    pub(crate) created: Timestamp,
    /// End of the last whole frame: where the next one is written.
    end: u64,
    times: Vec<i64>,
    /// Largest time among ordinals `0..=i`: bounds what lower ordinals hold.
    prefix_max: Vec<i64>,
    offsets: Vec<u32>,
    /// Ordinals sorted by time (then ordinal): rank → ordinal.
    order: Vec<u32>,
    /// Ordinals of late records appended but not yet merged into `order`
    /// (empty between appends).
    late: Vec<u32>,
    /// A map of the file's first `end` bytes (or fewer, if stale).
    map: Mutex<Option<Arc<Map>>>,
    /// Written since the last `fsync`.
    dirty: bool,
    /// The segment's checksum salt (from its header).
    salt: u64,
    /// Opened by a read-only store: another process writes the file.
    read_only: bool,
    /// The writer's cut log, where a cut of a whole frame of this file is
    /// recorded before it is made and counted after (`None` in a
    /// read-only store, which never cuts).
    cuts: Option<Cuts>,
}

impl ActiveSegment {
    /// Create segment `id` in `dir`: write and sync its header, sync the
    /// directory. Cuts of the file are recorded in `cuts`.
    pub(crate) fn create(
        dir: &Path,
        id: SegmentId,
        partition_len: u64,
        now: Timestamp,
        cuts: Cuts,
    ) -> Result<Self> {
        let path = segment_path(dir, id, ACTIVE_EXT);
        let file = open_rw(&path, true)?;
        let salt = format::new_salt();
        let header = format::encode_header(&SegmentHeader {
            layout: format::LAYOUT_FRAMES,
            partition: id.partition,
            generation: id.generation,
            partition_len,
            created: now,
            salt,
        });
        let written = file
            .write_all_at(&header, 0)
            .and_then(|()| file.sync_all())
            .map_err(Error::io("write header of", &path))
            .and_then(|()| sync_dir(dir));
        if let Err(e) = written {
            // A reader may have listed the file: removing it is a cut (the
            // next file of this ID gets another salt).
            let _ = cuts.cut(Cut::Removed { id, salt }, || {
                fs::remove_file(&path).map_err(Error::io("remove", &path))
            });
            return Err(e);
        }
        let mut seg = Self::from_parts(
            id,
            path,
            file,
            now,
            HEADER_LEN as u64,
            salt,
            false,
            &[],
            &[],
            0,
            &mut |_| {},
        );
        seg.cuts = Some(cuts);
        Ok(seg)
    }

    /// Record cuts of the file in `cuts` (a writer's segment found at open).
    pub(crate) fn set_cuts(&mut self, cuts: Cuts) {
        self.cuts = Some(cuts);
    }

    /// An active segment over an existing file whose valid frames (ending
    /// at `end`) were found by a scan of `bytes` (file bytes from offset
    /// `base`); each record is handed to `found`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_parts(
        id: SegmentId,
        path: PathBuf,
        file: File,
        created: Timestamp,
        end: u64,
        salt: u64,
        read_only: bool,
        frames: &[ScannedFrame],
        bytes: &[u8],
        base: u64,
        found: &mut dyn FnMut(Change<'_>),
    ) -> Self {
        let mut seg = ActiveSegment {
            id,
            path,
            file: Arc::new(file),
            created,
            end,
            times: Vec::new(),
            prefix_max: Vec::new(),
            offsets: Vec::new(),
            order: Vec::new(),
            late: Vec::new(),
            map: Mutex::new(None),
            dirty: false,
            salt,
            read_only,
            cuts: None,
        };
        seg.add_frames(frames, bytes, base, found);
        seg
    }

    /// Add scanned frames (ordinals increasing, after every present one) to
    /// the tables, handing each record to `found`. `bytes` holds the file
    /// from offset `base`.
    fn add_frames(
        &mut self,
        frames: &[ScannedFrame],
        bytes: &[u8],
        base: u64,
        found: &mut dyn FnMut(Change<'_>),
    ) {
        for f in frames {
            while self.offsets.len() < f.ordinal as usize {
                self.offsets.push(MISSING);
                self.times.push(0);
                self.prefix_max
                    .push(self.prefix_max.last().copied().unwrap_or(i64::MIN));
            }
            // The scan checked these frames whole, so they decode.
            let at = (f.offset - base) as usize;
            if let Ok(Some(frame)) = format::parse_frame(&bytes[at..], self.salt)
                && let Ok((record, _)) = format::decode_summary(frame.summary)
            {
                found(Change::Found(f.ordinal, &record));
            }
            self.push(f.offset as u32, f.time);
        }
        self.settle();
    }

    /// Add a record's offset and time; a record older than the newest
    /// waits in `late` until [`settle`](Self::settle) merges it into `order`.
    fn push(&mut self, offset: u32, time: i64) {
        let ord = self.offsets.len() as u32;
        self.offsets.push(offset);
        self.times.push(time);
        self.prefix_max
            .push(self.prefix_max.last().map_or(time, |&m| m.max(time)));
        // Every present ordinal is smaller than `ord`, so a record no older
        // than the last in `order` goes after it (pending late ones are
        // older still).
        let times = &self.times;
        if self.order.last().is_none_or(|&o| times[o as usize] <= time) {
            self.order.push(ord);
        } else {
            self.late.push(ord);
        }
    }

    /// Merge the late records of the last appends into `order` (sorted by
    /// time, then ordinal), moving the entries after the first one's place
    /// once, in runs, from the back: inserting each one by itself moved
    /// every newer entry each time, a fifth of the steady-state append
    /// time with 1 % of records up to four minutes late.
    fn settle(&mut self) {
        if self.late.is_empty() {
            return;
        }
        let times = &self.times;
        let key = |o: u32| (times[o as usize], o);
        self.late.sort_unstable_by_key(|&o| key(o));
        let order = &mut self.order;
        // Where each goes among the entries present (non-decreasing).
        let places: Vec<usize> = self
            .late
            .iter()
            .map(|&o| order.partition_point(|&x| key(x) < key(o)))
            .collect();
        let old_len = order.len();
        order.resize(old_len + self.late.len(), 0);
        let mut end = old_len;
        for (k, (&ord, &at)) in self.late.iter().zip(&places).enumerate().rev() {
            // Entries `at..end` move up by the k + 1 late ones at or below them.
            order.copy_within(at..end, at + k + 1);
            order[at + k] = ord;
            end = at;
        }
        self.late.clear();
    }

    /// The ordinal the next appended record gets.
    pub(crate) fn next_ordinal(&self) -> u32 {
        self.offsets.len() as u32
    }

    /// Bytes of valid data (header and whole frames).
    pub(crate) fn end(&self) -> u64 {
        self.end
    }

    /// Number of records present.
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether data was written since the last sync.
    pub(crate) fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Write encoded frames `buf` after the end, without making them part
    /// of the segment yet (see [`commit`](Self::commit) and
    /// [`abandon`](Self::abandon)). On error the file is cut back.
    pub(crate) fn write(&mut self, buf: &[u8]) -> Result<()> {
        if let Err(e) = crate::fs::write_all_at(&self.file, buf, self.end, "segment::append") {
            let _ = self.cut_back(false);
            return Err(Error::io("append to", &self.path)(e));
        }
        self.dirty = true;
        Ok(())
    }

    /// Make the frames written by [`write`](Self::write) part of the
    /// segment. `frames` gives each frame's offset within the written
    /// bytes and its record; ordinals run from [`next_ordinal`](Self::next_ordinal).
    pub(crate) fn commit<'r>(
        &mut self,
        len: usize,
        frames: impl Iterator<Item = (u32, &'r LogRecord)>,
    ) {
        let base = self.end as u32;
        for (rel, r) in frames {
            self.push(base + rel, r.time.as_micros());
        }
        self.settle();
        self.end += len as u64;
    }

    /// Cut off frames written by [`write`](Self::write) but not committed
    /// (a later part of the same batch failed elsewhere).
    pub(crate) fn abandon(&mut self) -> Result<()> {
        self.cut_back(false)
    }

    /// Cut the file back to `end`, recorded (see [`cuts`](crate::cuts))
    /// when a whole frame is cut, or with `always`: the cut log gets
    /// where (`end`, and the next ordinal) before the cut is made, so that
    /// a reader in another process that read a record there forgets it.
    /// Nothing past `end` is nothing to cut. A torn frame or a seal block
    /// that a batch left is no record to any reader; but what recovery
    /// cuts at open may have been a whole record when a reader read it
    /// and been damaged since, so recovery cuts with `always`.
    fn cut_back(&self, always: bool) -> Result<()> {
        let len = self
            .file
            .metadata()
            .map_err(Error::io("stat", &self.path))?
            .len();
        if len <= self.end {
            return Ok(());
        }
        let truncate = || {
            self.file
                .set_len(self.end)
                .map_err(Error::io("truncate", &self.path))
        };
        match &self.cuts {
            Some(cuts) if always || self.whole_frame_after_end(len) => cuts.cut(
                Cut::Segment {
                    id: self.id,
                    salt: self.salt,
                    offset: self.end,
                    ordinal: self.next_ordinal(),
                },
                truncate,
            ),
            _ => truncate(),
        }
    }

    /// Whether the `len`-byte file holds a whole frame from `end` (by the
    /// lengths in its head; when they cannot be read, assume it does).
    fn whole_frame_after_end(&self, len: u64) -> bool {
        let mut head = [0u8; 8];
        match crate::fs::read_up_to_at(&self.file, &mut head, self.end) {
            Ok(8) => {}
            _ => return true,
        }
        let summary = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let detail = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        summary != format::SEAL_MARKER
            && len - self.end
                >= format::FRAME_HEAD_LEN as u64 + u64::from(summary) + u64::from(detail)
    }

    /// Recovery: cut whatever follows the last valid frame, durably, and
    /// record the cut.
    pub(crate) fn cut_tail(&mut self) -> Result<()> {
        self.cut_back(true)?;
        self.file.sync_all().map_err(Error::io("sync", &self.path))
    }

    /// The checksum salt of the segment's frames.
    pub(crate) fn salt(&self) -> u64 {
        self.salt
    }

    /// The rank (position in time order) of each ordinal, or `None` when
    /// ranks equal ordinals (records appended in time order, no holes).
    pub(crate) fn rank_of(&self) -> Option<Vec<u32>> {
        let identity = self.order.len() == self.offsets.len()
            && self.order.iter().enumerate().all(|(i, &o)| i as u32 == o);
        if identity {
            return None;
        }
        let mut rank_of = vec![u32::MAX; self.offsets.len()];
        for (rank, &ord) in self.order.iter().enumerate() {
            rank_of[ord as usize] = rank as u32;
        }
        Some(rank_of)
    }

    /// For a sync outside the project's lock: the file, if anything was
    /// written since the last sync (which it then counts as done; a failed
    /// sync poisons the project, so nothing relies on the flag after).
    pub(crate) fn take_dirty(&mut self) -> Option<(Arc<File>, PathBuf)> {
        // The caller (`Project::sync`) syncs the handle itself: hand it one whose fsync fails.
        #[cfg(feature = "failpoints")]
        fail::fail_point!("segment::sync", self.dirty, |_| {
            self.dirty = false;
            Some((Arc::new(crate::fs::unsyncable()), self.path.clone()))
        });
        std::mem::take(&mut self.dirty).then(|| (Arc::clone(&self.file), self.path.clone()))
    }

    /// `fsync` the data if anything was written since the last sync.
    pub(crate) fn sync(&mut self) -> Result<()> {
        if self.dirty {
            crate::fs::fault("segment::sync")
                .and_then(|()| self.file.sync_data())
                .map_err(Error::io("sync", &self.path))?;
            self.dirty = false;
        }
        Ok(())
    }

    /// A read view of the valid frames (maps the newly written part first).
    pub(crate) fn view(&self) -> Result<SegView<'_>> {
        let fresh = if self.read_only {
            Bytes::File(Arc::clone(&self.file))
        } else {
            let mut map = self.map.lock();
            Bytes::Map(match &*map {
                Some(m) if m.len() as u64 >= self.end => Arc::clone(m),
                _ => {
                    let m = Arc::new(Map::open(&self.file, &self.path, self.end)?);
                    *map = Some(Arc::clone(&m));
                    m
                }
            })
        };
        Ok(SegView::new(
            self.id,
            &self.path,
            self.salt,
            fresh,
            Tables::Mem {
                times: &self.times,
                offsets: &self.offsets,
                order: &self.order,
                prefix_max: &self.prefix_max,
            },
        ))
    }

    /// In a read-only store: read frames another process appended since
    /// the last look, handing each record (and what was forgotten) to
    /// `found`. Returns damage found in the new bytes.
    pub(crate) fn refresh(
        &mut self,
        found: &mut dyn FnMut(Change<'_>),
    ) -> Result<Vec<(u64, String)>> {
        let len = self
            .file
            .metadata()
            .map_err(Error::io("stat", &self.path))?
            .len();
        if len < self.end {
            // The writer cut back frames of a failed write that this
            // reader had already seen: start over from the header.
            self.reset();
            found(Change::Forgot(0));
        }
        if len <= self.end {
            return Ok(Vec::new());
        }
        let mut buf = vec![0u8; (len - self.end) as usize];
        // The writer may cut the file meanwhile: scan what is there (the
        // caller checks the cut count afterwards).
        let got = crate::fs::read_up_to_at(&self.file, &mut buf, self.end)
            .map_err(Error::io("read", &self.path))?;
        buf.truncate(got);
        let last = self.offsets.len().checked_sub(1).map(|o| o as u32);
        let scan = scan::scan_frames(&buf, self.end, last, self.salt);
        self.add_frames(&scan.frames, &buf, self.end, found);
        self.end = scan.end;
        Ok(scan.damage)
    }

    /// In a read-only store: forget the frames from byte `offset` and
    /// ordinal `ordinal` on, which the writer cut back (see
    /// [`cuts`](crate::cuts)), so that the next
    /// [`refresh`](Self::refresh) reads on from there. Returns whether
    /// anything read was forgotten. Should what was read not fit the cut
    /// (no frame boundary there), every frame is forgotten.
    pub(crate) fn trim(&mut self, offset: u64, ordinal: u32) -> bool {
        let k = ordinal as usize;
        if self.end <= offset && self.offsets.len() <= k {
            // Nothing read from there on.
            return false;
        }
        let fits = k <= self.offsets.len()
            && offset >= HEADER_LEN as u64
            && offset <= self.end
            && self.offsets[..k]
                .iter()
                .rfind(|&&o| o != MISSING)
                .is_none_or(|&o| u64::from(o) < offset)
            && self
                .offsets
                .get(k)
                .is_none_or(|&o| o != MISSING && u64::from(o) == offset);
        if !fits {
            self.reset();
            return true;
        }
        self.offsets.truncate(k);
        self.times.truncate(k);
        self.prefix_max.truncate(k);
        self.order.retain(|&o| o < ordinal);
        self.late.clear();
        *self.map.get_mut() = None;
        self.end = offset;
        true
    }

    /// In a read-only store: forget every frame read, so that the next
    /// [`refresh`](Self::refresh) reads the segment again from its header.
    fn reset(&mut self) {
        self.offsets.clear();
        self.times.clear();
        self.order.clear();
        self.late.clear();
        self.prefix_max.clear();
        *self.map.get_mut() = None;
        self.end = HEADER_LEN as u64;
    }

    /// Seal: append the seal block and trailer, write `index` (the bytes of
    /// the segment's index file, opaque here) beside the segment, sync
    /// both, rename them into place, sync the directory. Returns the sealed
    /// path; the segment must not be appended to afterwards. On failure before the rename the file is cut
    /// back and stays active. A failed `fsync` is [`Error::Poisoned`].
    pub(crate) fn seal(&mut self, dir: &Path, index: &[u8]) -> Result<PathBuf> {
        // Write the index beside the segment under a temporary name and the
        // seal block at the end of the segment; sync both; rename both into
        // place; sync the directory once. Whichever renames a crash keeps,
        // recovery copes: a `.wal` with a whole seal block is sealed at
        // open, and a `.seg` without its `.idx` gets it rebuilt.
        let index_path = segment_path(dir, self.id, INDEX_EXT);
        let index_tmp = index_path.with_extension(TMP_INDEX_EXT);
        let block = seal::encode_seal(
            &SealTables {
                times: &self.times,
                offsets: &self.offsets,
                order: &self.order,
            },
            self.end,
        );
        let undo = |seg: &mut Self| {
            let _ = fs::remove_file(&index_tmp);
            let _ = seg.cut_back(false);
        };
        let written = open_rw(&index_tmp, false).and_then(|f| {
            f.set_len(0)
                .and_then(|()| crate::fs::write_all_at(&f, index, 0, "segment::seal::index"))
                .map_err(Error::io("write", &index_tmp))?;
            crate::fs::write_all_at(&self.file, &block, self.end, "segment::seal::block")
                .map_err(Error::io("write seal block of", &self.path))?;
            Ok(f)
        });
        let index_file = match written {
            Ok(f) => f,
            Err(e) => {
                undo(self);
                return Err(e);
            }
        };
        let synced =
            match crate::fs::fault("segment::seal::sync").and_then(|()| index_file.sync_all()) {
                Err(e) => Err((index_tmp.clone(), e)),
                Ok(()) => self.file.sync_all().map_err(|e| (self.path.clone(), e)),
            };
        if let Err((path, e)) = synced {
            undo(self);
            return Err(Error::Poisoned {
                path,
                reason: e.to_string(),
            });
        }
        self.dirty = false;
        let sealed = segment_path(dir, self.id, SEALED_EXT);
        if let Err(e) = crate::fs::fault("segment::seal::rename_index")
            .and_then(|()| fs::rename(&index_tmp, &index_path))
            .map_err(Error::io("rename", &index_tmp))
            .and_then(|()| {
                crate::fs::fault("segment::seal::rename")
                    .and_then(|()| fs::rename(&self.path, &sealed))
                    .map_err(Error::io("rename", &self.path))
            })
        {
            undo(self);
            return Err(e);
        }
        // Should the directory sync fail, the renames may be lost on power
        // loss; recovery handles either outcome (see above).
        let _ = sync_dir(dir);
        Ok(sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// After every batch, `order` is every ordinal sorted by (time,
        /// ordinal), whatever mix of on-time and late records came.
        #[test]
        fn late_records_merge_into_time_order(
            batches in prop::collection::vec(prop::collection::vec(0..50i64, 0..40), 1..8),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let id = SegmentId { partition: 1, generation: 0 };
            let mut seg =
                ActiveSegment::create(dir.path(), id, 3_600_000_000, Timestamp::from_secs(0), Cuts::detached()).unwrap();
            let mut n = 0u32;
            for batch in &batches {
                for &t in batch {
                    seg.push(n * 10, t);
                    n += 1;
                }
                seg.settle();
                let mut want: Vec<u32> = (0..n).collect();
                want.sort_by_key(|&o| (seg.times[o as usize], o));
                prop_assert_eq!(&seg.order, &want);
                prop_assert!(seg.late.is_empty());
            }
        }
    }
}
