//! A segment together with its index: the active segment with the
//! in-memory index its records are added to as they are committed, and
//! the sealed segment with its index file, mapped (or rebuilt from the
//! records when missing or corrupt) on first use. The segment layer knows
//! nothing of indexes; this is where the two meet.

use std::fs::{self, File};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::error::{Damage, Error, Result};
use crate::index::disk::{self as index_file, IndexFile};
use crate::index::memory::MemIndex;
use crate::mmap::Map;
use crate::record::{LogRecord, SegmentId};
use crate::segment::INDEX_EXT;
use crate::segment::reader::{SealedSegment, SegView};
use crate::segment::recovery::VerifyReport;
use crate::segment::writer::{ActiveSegment, Change};

/// An active segment and the in-memory index of its committed records.
#[derive(Debug)]
pub(crate) struct Active {
    seg: ActiveSegment,
    index: MemIndex,
    /// Whether records are indexed (not in a store opened with
    /// `StoreOptions::__without_index`).
    indexing: bool,
}

impl Active {
    /// A segment just created, with an empty index.
    pub(crate) fn new(seg: ActiveSegment, indexing: bool) -> Active {
        Active {
            seg,
            index: MemIndex::default(),
            indexing,
        }
    }

    /// A segment found at open: `recover` recovers it, handing each record
    /// it finds to the index.
    pub(crate) fn recover<T>(
        indexing: bool,
        recover: impl FnOnce(&mut dyn FnMut(Change<'_>)) -> Result<T>,
    ) -> Result<(T, MemIndex)> {
        let mut index = MemIndex::default();
        let found = recover(&mut |change| {
            if indexing {
                apply(&mut index, change);
            }
        })?;
        Ok((found, index))
    }

    /// A recovered segment and the index [`recover`](Self::recover) built.
    pub(crate) fn recovered(seg: ActiveSegment, index: MemIndex, indexing: bool) -> Active {
        Active {
            seg,
            index,
            indexing,
        }
    }

    /// The in-memory index (bitmaps over ordinals).
    pub(crate) fn index(&self) -> &MemIndex {
        &self.index
    }

    /// [`ActiveSegment::commit`], indexing the records committed.
    pub(crate) fn commit<'r, I>(&mut self, len: usize, frames: I)
    where
        I: Iterator<Item = (u32, &'r LogRecord)> + Clone,
    {
        if self.indexing {
            let first = self.seg.next_ordinal();
            for (k, (_, r)) in frames.clone().enumerate() {
                self.index.add(first + k as u32, r);
            }
        }
        self.seg.commit(len, frames);
    }

    /// [`ActiveSegment::refresh`], indexing what it read (and forgetting
    /// what it forgot).
    pub(crate) fn refresh(&mut self) -> Result<Vec<(u64, String)>> {
        let (index, indexing) = (&mut self.index, self.indexing);
        self.seg.refresh(&mut |change| {
            if indexing {
                apply(index, change);
            }
        })
    }

    /// [`ActiveSegment::trim`], forgetting the index entries of what it
    /// forgot.
    pub(crate) fn trim(&mut self, offset: u64, ordinal: u32) -> bool {
        let forgot = self.seg.trim(offset, ordinal);
        if forgot {
            self.index.truncate(self.seg.next_ordinal());
        }
        forgot
    }

    /// Seal the segment with its index written beside it (see
    /// [`ActiveSegment::seal`]).
    pub(crate) fn seal(&mut self, dir: &Path) -> Result<PathBuf> {
        let ranks = self.seg.len() as u32;
        let index = index_file::encode(
            &self.index,
            self.seg.rank_of().as_deref(),
            self.seg.id,
            ranks,
        );
        self.seg.seal(dir, &index)
    }
}

/// What reading a segment found, applied to its index.
fn apply(index: &mut MemIndex, change: Change<'_>) {
    match change {
        Change::Found(ord, r) => index.add(ord, r),
        Change::Forgot(from) => index.truncate(from),
    }
}

impl Deref for Active {
    type Target = ActiveSegment;
    fn deref(&self) -> &ActiveSegment {
        &self.seg
    }
}

impl DerefMut for Active {
    fn deref_mut(&mut self) -> &mut ActiveSegment {
        &mut self.seg
    }
}

/// The bytes of a sealed index: mapped from its file, or rebuilt in memory.
#[derive(Debug)]
pub(crate) enum IndexBytes {
    Mapped(Map),
    Rebuilt(Vec<u8>),
}

impl Deref for IndexBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            IndexBytes::Mapped(m) => m,
            IndexBytes::Rebuilt(v) => v,
        }
    }
}

/// A sealed segment's index, checked.
pub(crate) type SealedIndex = IndexFile<IndexBytes>;

/// A sealed segment and its index, loaded on first use.
#[derive(Debug)]
pub(crate) struct Sealed {
    seg: SealedSegment,
    /// Loaded on first use; with the damage that made a rebuild necessary.
    index: OnceLock<Result<(SealedIndex, Option<Damage>), Damage>>,
}

impl Sealed {
    pub(crate) fn new(seg: SealedSegment) -> Sealed {
        Sealed {
            seg,
            index: OnceLock::new(),
        }
    }

    /// A read view of the segment.
    pub(crate) fn view(&self) -> SegView<'_> {
        self.seg.view()
    }

    /// The segment's index, mapped and checked on first use. A missing or
    /// corrupt index file is rebuilt from the records (and, when
    /// `rewrite`, written back); the damage found is returned beside it.
    pub(crate) fn index(&self, rewrite: bool) -> Result<(&SealedIndex, Option<&Damage>), &Damage> {
        let loaded = self.index.get_or_init(|| {
            let path = self.seg.path.with_extension(INDEX_EXT);
            match self.load(&path) {
                Ok(ix) => Ok((ix, None)),
                Err(e) => {
                    let damage = Damage::from_error(&path, &e);
                    let rebuilt = self
                        .rebuild(&path, rewrite)
                        .map_err(|e| Damage::from_error(&self.seg.path, &e))?;
                    Ok((rebuilt, Some(damage)))
                }
            }
        });
        match loaded {
            Ok((ix, damage)) => Ok((ix, damage.as_ref())),
            Err(d) => Err(d),
        }
    }

    fn load(&self, path: &Path) -> Result<SealedIndex> {
        let file = File::open(path).map_err(Error::io("open", path))?;
        let len = file.metadata().map_err(Error::io("stat", path))?.len();
        let map = Map::open(&file, path, len)?;
        let ix = IndexFile::open(IndexBytes::Mapped(map), self.seg.id)
            .map_err(|e| e.into_error(path))?;
        ix.check_sections().map_err(|e| e.into_error(path))?;
        if ix.ranks() != self.seg.live() {
            return Err(Error::corrupt(
                path,
                20,
                "index covers another number of records",
            ));
        }
        Ok(ix)
    }

    /// Re-index the records of the segment.
    fn rebuild(&self, path: &Path, rewrite: bool) -> Result<SealedIndex> {
        let view = self.seg.view();
        let mut mem = MemIndex::default();
        let mut rank_of = vec![u32::MAX; self.seg.slots() as usize];
        for rank in 0..view.len() {
            let ord = view.order(rank);
            rank_of[ord as usize] = rank as u32;
            let rec = view.read(ord, false)?;
            mem.add(ord, &rec.record);
        }
        let bytes = index_file::encode(&mem, Some(&rank_of), self.seg.id, self.seg.live());
        if rewrite {
            crate::fs::write_atomic(path, &bytes)?;
        }
        IndexFile::open(IndexBytes::Rebuilt(bytes), self.seg.id).map_err(|e| e.into_error(path))
    }
}

/// Check the index file of the sealed segment at `path`: every section
/// and bitmap.
pub(crate) fn verify(path: &Path, id: SegmentId, report: &mut VerifyReport) {
    let ix_path = path.with_extension(INDEX_EXT);
    let checked = fs::read(&ix_path)
        .map_err(|e| Error::io("read", &ix_path)(e))
        .and_then(|b| {
            report.bytes += b.len() as u64;
            let ix = IndexFile::open(b, id).map_err(|e| e.into_error(&ix_path))?;
            ix.check_all().map_err(|e| e.into_error(&ix_path))
        });
    if let Err(e) = checked {
        report.problems.push(Damage::from_error(&ix_path, &e));
    }
}
