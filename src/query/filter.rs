//! A query's filters, resolved against one segment's index into a set of
//! candidate records, and confirmed against each record read.

use std::borrow::Cow;
use std::path::Path;

use roaring::RoaringBitmap;

use crate::codec::DecodeError;
use crate::error::Result;
use crate::index::IndexField;
use crate::index::memory::MemIndex;
use crate::index::postings::{Conj, Postings};
use crate::index::segment::SealedIndex;
use crate::index::tokenizer::{MAX_WORD_BYTES, for_each_word, matches_all, sigma_spellings};
use crate::query::{Query, fingerprint};
use crate::record::{Field, Level};
use crate::segment::INDEX_EXT;
use crate::time::RangeSpec;

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
pub(crate) enum Cand<'a> {
    /// Every record.
    All,
    /// These ranks (sealed segments); may be empty.
    Ranks(RoaringBitmap),
    /// These ordinals (active segments), produced lazily from the top.
    Ords(Conj<'a>),
}

/// A query's filters, ready to run.
#[derive(Clone, Debug, Default)]
pub(crate) struct Filter {
    exact: Vec<(Field, IndexField, String)>,
    /// Bit per level code.
    levels: u8,
    /// Lower-cased words that must appear in `content`.
    words: Vec<String>,
    /// Word pieces to narrow with the index: each must be a substring of
    /// some word of the content, under one of its spellings
    /// ([`sigma_spellings`]; none: the piece narrows nothing).
    pieces: Vec<Vec<String>>,
    /// Show records of superseded attempts (marked) instead of hiding them.
    pub(crate) include_superseded: bool,
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
                let p = String::from_utf8_lossy(p).into_owned();
                if !p.is_empty() && p.len() <= MAX_WORD_BYTES {
                    let spellings = sigma_spellings(&p);
                    if !spellings.is_empty() && !pieces.contains(&spellings) {
                        pieces.push(spellings);
                    }
                }
            });
        }
        Filter {
            exact,
            levels: q.level_mask(),
            words: q.words.clone(),
            pieces,
            include_superseded: q.include_superseded,
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

    /// The fingerprint of the filters and of `range` as given, carried by
    /// cursors (its encoding is documented in [`cursor`](super::cursor)).
    pub(crate) fn fingerprint(&self, range: &RangeSpec) -> u64 {
        fingerprint::logs(
            range,
            self.levels,
            self.include_superseded,
            self.exact.iter().map(|(f, _, v)| (*f, v.as_str())),
            &self.words,
        )
    }

    /// Whether the record with `level` and the string fields `field`
    /// gives matches every filter (reading only the fields filtered on).
    pub(crate) fn confirm_with<'r>(&self, level: Level, field: impl Fn(Field) -> &'r str) -> bool {
        self.wants_level(level.code())
            && self.exact.iter().all(|(f, _, v)| field(*f) == v)
            && matches_all(field(Field::Content), &self.words)
    }

    /// The candidates of the segment at `segment` by its index: a
    /// superset of the matches (exactly the matches when the filter has
    /// no words and the result is not `All`: field and level terms are
    /// whole values).
    pub(crate) fn candidates<'a>(&self, ix: IndexRef<'a>, segment: &Path) -> Result<Cand<'a>> {
        if self.is_all() {
            return Ok(Cand::All);
        }
        // Errors name the index file (its path is built only for them).
        let at = |e: DecodeError| e.into_error(&segment.with_extension(INDEX_EXT));
        Ok(match ix {
            IndexRef::Missing => Cand::All,
            IndexRef::Mem(m) => self.conj(m).map_or(Cand::All, Cand::Ords),
            IndexRef::Disk(d) => self
                .narrow(
                    |f, t| d.get(f, t).map_err(at),
                    |f, p| d.containing(f, p).map_err(at),
                )?
                .map_or(Cand::All, Cand::Ranks),
        })
    }

    /// The lazy intersection of every filter's postings in an active
    /// segment; `None` for "all". Borrows what it can.
    fn conj<'a>(&self, m: &'a MemIndex) -> Option<Conj<'a>> {
        let empty = || Some(Conj::new(vec![Cow::Owned(Postings::default())]));
        let mut sets: Vec<Cow<'a, Postings>> = Vec::new();
        for (_, field, value) in &self.exact {
            match m.dict(*field).get(value.as_bytes()) {
                Some(p) => sets.push(Cow::Borrowed(p)),
                None => return empty(),
            }
        }
        if self.levels != 0b1111 {
            let dict = m.dict(IndexField::Level);
            let wanted: Vec<&'a Postings> = Level::ALL
                .iter()
                .filter(|l| self.wants_level(l.code()))
                .filter_map(|l| dict.get(&[l.code()]))
                .collect();
            match wanted.as_slice() {
                [] => return empty(),
                [one] => sets.push(Cow::Borrowed(*one)),
                many => sets.push(Cow::Owned(Postings::union(many.iter().copied()))),
            }
        }
        // A piece may also sit inside a word too long to index: records
        // holding one are filed under the empty word.
        let words = m.dict(IndexField::Word);
        for spellings in &self.pieces {
            let mut found: Vec<Postings> = spellings
                .iter()
                .map(|p| words.containing(p.as_bytes()))
                .collect();
            let set = match (found.len(), words.get(b"")) {
                (1, None) => found.pop().unwrap_or_default(),
                _ => Postings::union(found.iter().chain(words.get(b""))),
            };
            sets.push(Cow::Owned(set));
        }
        (!sets.is_empty()).then(|| Conj::new(sets))
    }

    /// The intersection of every filter's bitmap in a sealed segment;
    /// `None` for "all". Starts from the smallest.
    fn narrow(
        &self,
        get: impl Fn(IndexField, &[u8]) -> Result<Option<RoaringBitmap>>,
        containing: impl Fn(IndexField, &[u8]) -> Result<RoaringBitmap>,
    ) -> Result<Option<RoaringBitmap>> {
        let mut sets: Vec<RoaringBitmap> = Vec::new();
        for (_, field, value) in &self.exact {
            match get(*field, value.as_bytes())? {
                Some(set) => sets.push(set),
                None => return Ok(Some(RoaringBitmap::new())),
            }
        }
        if self.levels != 0b1111 {
            let mut union = RoaringBitmap::new();
            for l in Level::ALL {
                if self.wants_level(l.code())
                    && let Some(set) = get(IndexField::Level, &[l.code()])?
                {
                    union |= set;
                }
            }
            sets.push(union);
        }
        let long = get(IndexField::Word, b"")?;
        for spellings in &self.pieces {
            let mut set = RoaringBitmap::new();
            for (k, p) in spellings.iter().enumerate() {
                let found = containing(IndexField::Word, p.as_bytes())?;
                if k == 0 {
                    set = found;
                } else {
                    set |= found;
                }
            }
            if let Some(long) = &long {
                set |= long;
            }
            sets.push(set);
        }
        sets.sort_by_key(|s| s.len());
        let mut sets = sets.into_iter();
        let Some(mut acc) = sets.next() else {
            return Ok(None);
        };
        for set in sets {
            if acc.is_empty() {
                break;
            }
            acc &= set;
        }
        Ok(Some(acc))
    }
}
