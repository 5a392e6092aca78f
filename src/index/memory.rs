//! The index of an active segment, in memory, over record ordinals.

use crate::index::dict::{Dict, Key};
use crate::index::tokenizer::{MAX_WORD_BYTES, Prepared, for_each_word};
use crate::index::{FIELD_COUNT, IndexField, for_each_exact_term};
use crate::record::LogRecord;

/// The index of an active segment.
#[derive(Debug)]
pub(crate) struct MemIndex {
    dicts: [Dict; FIELD_COUNT],
    scratch: String,
    /// The content of the record being added, prepared.
    prepared: Prepared,
    /// The keys of its words, looked up once all are known.
    pending: Vec<Key<'static>>,
}

impl Default for MemIndex {
    fn default() -> Self {
        MemIndex {
            dicts: std::array::from_fn(|i| Dict::new(i == IndexField::Word.slot())),
            scratch: String::new(),
            prepared: Prepared::default(),
            pending: Vec::new(),
        }
    }
}

impl MemIndex {
    /// Index record `r` under ordinal `ord` (ordinals must mostly grow).
    pub(crate) fn add(&mut self, ord: u32, r: &LogRecord) {
        let dicts = &mut self.dicts;
        for_each_exact_term(r, |field, term| dicts[field.slot()].add(term, ord));
        let words = &mut dicts[IndexField::Word.slot()];
        if self.prepared.fill(r.content.as_bytes()) {
            // The common case: each word's key is read straight from the
            // lower-cased, padded copy.
            let bytes = self.prepared.bytes();
            // Every key first, each slot prefetched, then the lookups: the
            // slots of a record's rarer words (which miss the caches) load
            // at once instead of one after another.
            self.pending.clear();
            for (start, end) in self.prepared.words() {
                let len = end - start;
                match Key::from_padded_inline(bytes, start, len) {
                    Some(key) => {
                        words.prefetch(&key);
                        self.pending.push(key);
                    }
                    None if len <= MAX_WORD_BYTES => {
                        words.add_key(&Key::from_padded(bytes, start, len), ord);
                    }
                    None => words.add(&[], ord),
                }
            }
            for key in &self.pending {
                words.prefetch_entry(key);
            }
            for key in &self.pending {
                words.add_key(key, ord);
            }
        } else {
            for_each_word(&r.content, &mut self.scratch, |w| words.add(w, ord));
        }
    }

    /// The dictionary of `field`.
    pub(crate) fn dict(&self, field: IndexField) -> &Dict {
        &self.dicts[field.slot()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Level;
    use crate::time::Timestamp;

    #[test]
    fn indexes_every_field_and_word() {
        let mut ix = MemIndex::default();
        let r = |c: &str, l| {
            LogRecord::new(Timestamp::from_secs(1), l, "job-1", c)
                .flow("f")
                .env("prod")
        };
        ix.add(0, &r("Connection refused", Level::Error));
        ix.add(1, &r("connection ok ok", Level::Info));
        ix.add(
            2,
            &LogRecord::new(Timestamp::from_secs(1), Level::Info, "job-2", "timeout").env("test"),
        );
        let get = |f, t: &str| ix.dict(f).get(t.as_bytes()).map(|b| b.as_slice().to_vec());
        assert_eq!(get(IndexField::JobId, "job-1"), Some(vec![0, 1]));
        assert_eq!(get(IndexField::Env, "test"), Some(vec![2]));
        assert_eq!(get(IndexField::Flow, ""), Some(vec![2]));
        assert_eq!(get(IndexField::Word, "connection"), Some(vec![0, 1]));
        assert_eq!(get(IndexField::Word, "ok"), Some(vec![1]));
        assert_eq!(
            ix.dict(IndexField::Level)
                .get(&[Level::Error.code()])
                .map(|b| b.len()),
            Some(1)
        );
        let sub = |n: &str| {
            ix.dict(IndexField::Word)
                .containing(n.as_bytes())
                .as_slice()
                .to_vec()
        };
        assert_eq!(sub("nnect"), vec![0, 1]);
        assert_eq!(sub("out"), vec![2]);
        assert_eq!(
            sub("fusedconn"),
            Vec::<u32>::new(),
            "never across two terms"
        );
        assert_eq!(sub(""), Vec::<u32>::new());
        // "0" then "0042": the match "00" across the two must not hide the one inside "0042".
        let mut ix2 = MemIndex::default();
        ix2.add(
            0,
            &LogRecord::new(
                Timestamp::from_secs(1),
                Level::Info,
                "j",
                "exit code 0 0042",
            ),
        );
        assert_eq!(ix2.dict(IndexField::Word).containing(b"00").as_slice(), [0]);
        let exact_sub = ix.dict(IndexField::JobId).containing(b"job-");
        assert_eq!(exact_sub.len(), 3);
    }

    proptest::proptest! {
        /// The append path's word keys are the query path's: every word
        /// the query tokenizer finds in a content (mixed case, digits,
        /// words around the inline and indexed lengths, non-ASCII text)
        /// is a term of the index holding that record, and the index holds
        /// no other term.
        #[test]
        fn indexed_words_are_the_query_words(
            contents in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::sample::select(vec![
                        "Timeout", "ERR42", "a", "x".repeat(24).leak() as &str,
                        "Y".repeat(25).leak(), "z".repeat(32).leak(), "w".repeat(33).leak(),
                        " ", "-", "/", ": ", "Größe", "ÉTAT", "\u{1F600}", "0", "\t",
                    ]),
                    0..40,
                ),
                1..12,
            ),
        ) {
            let mut ix = MemIndex::default();
            let mut want: std::collections::BTreeMap<Vec<u8>, Vec<u32>> = Default::default();
            for (ord, pieces) in contents.iter().enumerate() {
                let content = pieces.concat();
                ix.add(ord as u32, &LogRecord::new(Timestamp::from_secs(1), Level::Info, "j", content.as_str()));
                for_each_word(&content, &mut String::new(), |w| {
                    let ords = want.entry(w.to_vec()).or_default();
                    if ords.last() != Some(&(ord as u32)) {
                        ords.push(ord as u32);
                    }
                });
            }
            let got: std::collections::BTreeMap<Vec<u8>, Vec<u32>> = ix
                .dict(IndexField::Word)
                .iter()
                .map(|(t, p)| (t.to_vec(), p.as_slice().to_vec()))
                .collect();
            proptest::prop_assert_eq!(got, want);
        }
    }
}
