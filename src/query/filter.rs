//! A query's filters, resolved against one segment's index into a set of
//! candidate records, and confirmed against each record read.

use std::hash::Hasher;
use std::path::Path;

use roaring::RoaringBitmap;

use crate::error::Result;
use crate::index::memory::MemIndex;
use crate::index::tokenizer::{MAX_WORD_BYTES, for_each_word, matches_all};
use crate::index::{FxHasher, IndexField};
use crate::query::Query;
use crate::record::{Field, Level, LogRecord};
use crate::segment::reader::SealedIndex;

/// The index of one segment, whichever kind it has.
#[derive(Clone, Copy, Debug)]
pub(crate) enum IndexRef<'a> {
    /// An active segment's: bitmaps over ordinals.
    Mem(&'a MemIndex),
    /// A sealed segment's: bitmaps over ranks.
    Disk(&'a SealedIndex),
    /// No usable index: every record is a candidate and is checked.
    Missing,
}

/// Candidate records of one segment.
#[derive(Clone, Debug)]
pub(crate) enum Cand {
    /// Every record.
    All,
    /// These ordinals (active) or ranks (sealed); may be empty.
    Some(RoaringBitmap),
}

/// A query's filters, ready to run.
#[derive(Clone, Debug, Default)]
pub(crate) struct Filter {
    exact: Vec<(Field, IndexField, String)>,
    /// Bit per level code.
    levels: u8,
    /// Lower-cased words that must appear in `content`.
    words: Vec<String>,
    /// Word pieces to narrow with the index: each must be a substring of some word of the content.
    pieces: Vec<String>,
}

impl Filter {
    pub(crate) fn new(q: &Query) -> Filter {
        let exact = q
            .exact
            .iter()
            .filter_map(|(f, v)| IndexField::of(*f).map(|i| (*f, i, v.clone())))
            .collect();
        let mut pieces = Vec::new();
        let mut buf = String::new();
        for w in &q.words {
            for_each_word(w, &mut buf, |p| {
                if p.len() <= MAX_WORD_BYTES && !pieces.iter().any(|x: &String| x == p) {
                    pieces.push(p.to_owned());
                }
            });
        }
        Filter {
            exact,
            levels: q.level_mask(),
            words: q.words.clone(),
            pieces,
        }
    }

    /// A filter matching every record.
    pub(crate) fn default_all() -> Filter {
        Filter::new(&Query::new())
    }

    /// A filter matching records of one job.
    pub(crate) fn job(job_id: &str) -> Filter {
        Filter::new(&Query::new().job_id(job_id))
    }

    /// Whether the filter has text to confirm (reading record bodies).
    pub(crate) fn has_words(&self) -> bool {
        !self.words.is_empty()
    }

    /// Whether every record matches.
    pub(crate) fn is_all(&self) -> bool {
        self.exact.is_empty() && self.levels == 0b1111 && self.words.is_empty()
    }

    /// Whether level `code` passes.
    pub(crate) fn wants_level(&self, code: u8) -> bool {
        self.levels & (1 << code) != 0
    }

    /// A stable hash of the filters (not the range), carried by cursors.
    pub(crate) fn fingerprint(&self) -> u64 {
        let mut h = FxHasher::default();
        for (f, _, v) in &self.exact {
            h.write(f.name().as_bytes());
            h.write_u8(0);
            h.write(v.as_bytes());
            h.write_u8(0);
        }
        h.write_u8(self.levels);
        for w in &self.words {
            h.write(w.as_bytes());
            h.write_u8(0);
        }
        h.finish()
    }

    /// Whether `r` matches every filter.
    pub(crate) fn confirm(&self, r: &LogRecord) -> bool {
        self.wants_level(r.level.code())
            && self.exact.iter().all(|(f, _, v)| r.field(*f) == v)
            && matches_all(&r.content, &self.words)
    }

    /// The candidates of a segment by its index (at `path`, for errors): a
    /// superset of the matches.
    pub(crate) fn candidates(&self, ix: IndexRef<'_>, path: &Path) -> Result<Cand> {
        if self.is_all() {
            return Ok(Cand::All);
        }
        match ix {
            IndexRef::Missing => Ok(Cand::All),
            IndexRef::Mem(m) => self.narrow(
                |f, t| Ok(m.dict(f).get(t).cloned()),
                |f, p| Ok(m.dict(f).containing(p)),
            ),
            IndexRef::Disk(d) => self.narrow(
                |f, t| d.get(f, t).map_err(|e| e.into_error(path)),
                |f, p| d.containing(f, p).map_err(|e| e.into_error(path)),
            ),
        }
    }

    fn narrow(
        &self,
        get: impl Fn(IndexField, &[u8]) -> Result<Option<RoaringBitmap>>,
        containing: impl Fn(IndexField, &[u8]) -> Result<RoaringBitmap>,
    ) -> Result<Cand> {
        let mut acc: Option<RoaringBitmap> = None;
        let mut and = |bm: RoaringBitmap| {
            acc = Some(match acc.take() {
                None => bm,
                Some(a) => a & bm,
            });
            acc.as_ref().is_some_and(|a| a.is_empty())
        };
        for (_, field, value) in &self.exact {
            let bm = get(*field, value.as_bytes())?.unwrap_or_default();
            if and(bm) {
                return Ok(Cand::Some(RoaringBitmap::new()));
            }
        }
        if self.levels != 0b1111 {
            let mut union = RoaringBitmap::new();
            for l in Level::ALL {
                if self.wants_level(l.code())
                    && let Some(bm) = get(IndexField::Level, &[l.code()])?
                {
                    union |= bm;
                }
            }
            if and(union) {
                return Ok(Cand::Some(RoaringBitmap::new()));
            }
        }
        for p in &self.pieces {
            if and(containing(IndexField::Word, p.as_bytes())?) {
                return Ok(Cand::Some(RoaringBitmap::new()));
            }
        }
        Ok(acc.map_or(Cand::All, Cand::Some))
    }
}
