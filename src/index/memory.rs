//! The index of an active segment, in memory, over record ordinals.

use crate::index::dict::{Dict, Key};
use crate::index::tokenizer::{MAX_WORD_BYTES, Prepared, for_each_word};
use crate::index::{FIELD_COUNT, IndexField};
use crate::record::LogRecord;

/// The fields whose terms a job's records share, in `MemIndex::companions` order.
const COMPANIONS: [IndexField; 4] = [
    IndexField::Flow,
    IndexField::Env,
    IndexField::App,
    IndexField::Version,
];

/// No term ID: no dictionary holds `u32::MAX` terms (ordinals are `u32`).
const NONE: u32 = u32::MAX;

/// The index of an active segment.
#[derive(Debug)]
pub(crate) struct MemIndex {
    dicts: [Dict; FIELD_COUNT],
    scratch: String,
    /// The content of the record being added, prepared.
    prepared: Prepared,
    /// The keys of its words, looked up once all are known.
    pending: Vec<Key<'static>>,
    /// For each job ID term (by ID), the IDs of the [`COMPANIONS`] terms
    /// of the job's last record ([`NONE`] before its first). A job is one
    /// run of one flow of one app version in one environment, so its next
    /// record almost always has the same four values, and checking that a
    /// remembered term is the record's value is one comparison where a
    /// lookup hashes and probes. A value that differs is looked up as
    /// usual and remembered instead: this only saves work, the postings
    /// are the same either way.
    companions: Vec<[u32; 4]>,
    /// The term ID of each level code ([`NONE`] before its first record).
    levels: [u32; 4],
}

impl Default for MemIndex {
    fn default() -> Self {
        MemIndex {
            dicts: std::array::from_fn(|i| Dict::new(i == IndexField::Word.slot())),
            scratch: String::new(),
            prepared: Prepared::default(),
            companions: Vec::new(),
            levels: [NONE; 4],
            pending: Vec::new(),
        }
    }
}

impl MemIndex {
    /// Index record `r` under ordinal `ord` (ordinals must mostly grow).
    pub(crate) fn add(&mut self, ord: u32, r: &LogRecord) {
        self.add_exact(ord, r);
        let dicts = &mut self.dicts;
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
                    None => {
                        words.add(&[], ord);
                    }
                }
            }
            for key in &self.pending {
                words.prefetch_entry(key);
            }
            for key in &self.pending {
                words.add_key(key, ord);
            }
        } else {
            for_each_word(&r.content, &mut self.scratch, |w| {
                words.add(w, ord);
            });
        }
    }

    /// Index the exact-match terms of `r`: its job ID looked up, then
    /// the job's flow, environment, app and version checked against those
    /// of the job's last record (see `companions`), the level by its code
    /// (see `levels`), and the other fields looked up.
    fn add_exact(&mut self, ord: u32, r: &LogRecord) {
        let dicts = &mut self.dicts;
        let job = dicts[IndexField::JobId.slot()].add(r.job_id.as_bytes(), ord) as usize;
        if job >= self.companions.len() {
            self.companions.resize(job + 1, [NONE; 4]);
        }
        let known = &mut self.companions[job];
        for ((field, term), id) in COMPANIONS
            .into_iter()
            .zip([&r.flow, &r.env, &r.app, &r.version])
            .zip(known)
        {
            let dict = &mut dicts[field.slot()];
            if !dict.add_if_term(*id, term.as_bytes(), ord) {
                *id = dict.add(term.as_bytes(), ord);
            }
        }
        for (field, term) in [
            (IndexField::Component, &r.component),
            (IndexField::Action, &r.action),
            (IndexField::Category, &r.category),
        ] {
            dicts[field.slot()].add(term.as_bytes(), ord);
        }
        let code = [r.level.code()];
        let id = &mut self.levels[usize::from(code[0])];
        let dict = &mut dicts[IndexField::Level.slot()];
        if !dict.add_if_term(*id, &code, ord) {
            *id = dict.add(&code, ord);
        }
    }

    /// Forget ordinals from `k` on (a reader: the writer cut them back).
    pub(crate) fn truncate(&mut self, k: u32) {
        for d in &mut self.dicts {
            d.truncate(k);
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
        /// Every exact-match term's postings are exactly the records with
        /// that value, whether or not a job's next record repeats the
        /// flow, environment, app and version its last one had (values
        /// drawn from small pools, so jobs mostly repeat them and now and
        /// then change, which the remembered terms must notice).
        #[test]
        fn exact_terms_are_indexed_exactly(
            records in proptest::collection::vec(
                (0..5usize, 0..5usize, 0..3usize, 0..2usize, 0..5usize, 0..5usize, 0..4u8),
                1..80,
            ),
        ) {
            // Two values longer than a key kept inline, of the same length.
            const VALUES: [&str; 5] = [
                "a",
                "b",
                "",
                "ccccccccccccccccccccccccccccccc",
                "cccccccccccccccccccccccccccccca",
            ];
            let mut ix = MemIndex::default();
            let mut want: std::collections::BTreeMap<(IndexField, Vec<u8>), Vec<u32>> =
                Default::default();
            for (ord, &(job, flow, env, app, version, component, level)) in records.iter().enumerate() {
                let level = Level::from_code(level).expect("a level code");
                let r = LogRecord::new(Timestamp::from_secs(1), level, VALUES[job], "x")
                    .flow(VALUES[flow])
                    .env(VALUES[env])
                    .app(VALUES[app])
                    .version(VALUES[version])
                    .component(VALUES[component]);
                ix.add(ord as u32, &r);
                crate::index::for_each_exact_term(&r, |field, term| {
                    want.entry((field, term.to_vec())).or_default().push(ord as u32);
                });
            }
            let mut got: std::collections::BTreeMap<(IndexField, Vec<u8>), Vec<u32>> =
                Default::default();
            for field in IndexField::ALL.into_iter().filter(|f| *f != IndexField::Word) {
                for (term, postings) in ix.dict(field).iter() {
                    got.insert((field, term.to_vec()), postings.as_slice().to_vec());
                }
            }
            proptest::prop_assert_eq!(got, want);
        }

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
