//! Per-segment inverted indexes: for each indexed field, a dictionary of
//! values (terms), each with a roaring bitmap of the records holding it.
//!
//! An active segment keeps a [`MemIndex`](memory::MemIndex) whose bitmaps
//! hold record *ordinals*. Sealing writes an [`IndexFile`](disk::IndexFile)
//! beside the segment (`*.idx`) whose bitmaps hold *ranks*: positions in
//! the segment's time order, so iterating a bitmap backwards walks its
//! records newest first.

pub(crate) mod dict;
pub(crate) mod disk;
pub(crate) mod jobs;
pub(crate) mod memory;
pub(crate) mod postings;
pub(crate) mod segment;
pub mod tokenizer;

use crate::record::Field;
#[cfg(test)]
use crate::record::LogRecord;

/// The indexed dimensions of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum IndexField {
    JobId = 0,
    Flow,
    Component,
    Action,
    Category,
    Env,
    App,
    Version,
    /// Terms are the one-byte level codes.
    Level,
    /// Terms are the words of `content`.
    Word,
}

/// Number of indexed dimensions.
pub(crate) const FIELD_COUNT: usize = 10;

impl IndexField {
    pub(crate) const ALL: [IndexField; FIELD_COUNT] = [
        IndexField::JobId,
        IndexField::Flow,
        IndexField::Component,
        IndexField::Action,
        IndexField::Category,
        IndexField::Env,
        IndexField::App,
        IndexField::Version,
        IndexField::Level,
        IndexField::Word,
    ];

    /// The eight text fields matched by equality, with their record fields.
    pub(crate) const EXACT: [(IndexField, Field); 8] = [
        (IndexField::JobId, Field::JobId),
        (IndexField::Flow, Field::Flow),
        (IndexField::Component, Field::Component),
        (IndexField::Action, Field::Action),
        (IndexField::Category, Field::Category),
        (IndexField::Env, Field::Env),
        (IndexField::App, Field::App),
        (IndexField::Version, Field::Version),
    ];

    /// The index dimension of a record field matched by equality.
    pub(crate) fn of(field: Field) -> Option<IndexField> {
        Self::EXACT
            .iter()
            .find(|(_, f)| *f == field)
            .map(|(i, _)| *i)
    }

    pub(crate) fn slot(self) -> usize {
        self as usize
    }
}

/// Call `f(field, term)` for every exact-match term of `r` (not words):
/// the reference that tests check [`MemIndex::add`](memory::MemIndex::add)'s
/// faster path against.
#[cfg(test)]
pub(crate) fn for_each_exact_term(r: &LogRecord, mut f: impl FnMut(IndexField, &[u8])) {
    // The eight names lead the summary strings, in `EXACT` order.
    for ((field, rf), term) in IndexField::EXACT.into_iter().zip(r.summary_strings()) {
        debug_assert_eq!(term.as_str(), r.field(rf), "EXACT and the list above agree");
        f(field, term.as_bytes());
    }
    f(IndexField::Level, &[r.level.code()]);
}

/// A small, fast, non-cryptographic hasher for term dictionaries (keys are
/// our own field values; flooding is not a concern for an embedded store
/// whose writer is the application itself).
#[derive(Clone, Copy, Default)]
pub(crate) struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Level;
    use crate::time::Timestamp;

    #[test]
    fn exact_terms_are_every_field_once_then_the_level() {
        let r = LogRecord::new(Timestamp::from_secs(1), Level::Warn, "job", "content")
            .flow("flow")
            .component("component")
            .action("action")
            .category("category")
            .env("env")
            .app("app")
            .version("version");
        let mut seen = Vec::new();
        for_each_exact_term(&r, |field, term| seen.push((field, term.to_vec())));
        let mut want: Vec<(IndexField, Vec<u8>)> = IndexField::EXACT
            .iter()
            .map(|&(field, rf)| (field, r.field(rf).as_bytes().to_vec()))
            .collect();
        want.push((IndexField::Level, vec![Level::Warn.code()]));
        assert_eq!(seen, want);
    }
}
