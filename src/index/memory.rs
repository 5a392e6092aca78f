//! The index of an active segment, in memory, over record ordinals.

use std::collections::HashMap;

use crate::index::postings::Postings;
use crate::index::tokenizer::for_each_word;
use crate::index::{FIELD_COUNT, FxBuild, IndexField, for_each_exact_term};
use crate::record::LogRecord;

/// A dictionary key: short terms (most words, IDs and names) live inline,
/// so a lookup compares bytes in the table itself instead of chasing a
/// pointer (which was a cache miss per word on the append path).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

const INLINE: usize = 22;

impl Key {
    fn new(term: &[u8]) -> Key {
        if term.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..term.len()].copy_from_slice(term);
            Key::Inline {
                len: term.len() as u8,
                bytes,
            }
        } else {
            Key::Heap(term.into())
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Key::Heap(b) => b,
        }
    }
}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // The same as `[u8]`'s, so lookups by `&[u8]` find it.
        self.as_slice().hash(state);
    }
}

impl std::borrow::Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

/// One field's dictionary: term → postings (ordinals).
#[derive(Debug, Default)]
pub(crate) struct Dict {
    ids: HashMap<Key, u32, FxBuild>,
    postings: Vec<Postings>,
    /// For substring search (words only): terms in ID order, concatenated.
    blob: Vec<u8>,
    /// Start of each term in `blob`, plus the end.
    starts: Vec<u32>,
    substrings: bool,
}

impl Dict {
    fn new(substrings: bool) -> Self {
        Dict {
            substrings,
            starts: vec![0],
            ..Dict::default()
        }
    }

    fn add(&mut self, term: &[u8], ord: u32) {
        let id = match self.ids.get(term) {
            Some(&id) => id,
            None => {
                let id = self.postings.len() as u32;
                self.ids.insert(Key::new(term), id);
                self.postings.push(Postings::default());
                if self.substrings {
                    self.blob.extend_from_slice(term);
                    self.starts.push(self.blob.len() as u32);
                }
                id
            }
        };
        self.postings[id as usize].add(ord);
    }

    /// The postings of `term`.
    pub(crate) fn get(&self, term: &[u8]) -> Option<&Postings> {
        self.ids.get(term).map(|&id| &self.postings[id as usize])
    }

    /// Union of the postings of every term containing `needle`.
    pub(crate) fn containing(&self, needle: &[u8]) -> Postings {
        if self.substrings {
            let ids: Vec<usize> = substring_terms(&self.blob, &self.starts, needle).collect();
            Postings::union(ids.into_iter().map(|id| &self.postings[id]))
        } else {
            Postings::union(
                self.ids
                    .iter()
                    .filter(|(term, _)| memchr::memmem::find(term.as_slice(), needle).is_some())
                    .map(|(_, &id)| &self.postings[id as usize]),
            )
        }
    }

    /// Every term with its postings, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], &Postings)> {
        self.ids
            .iter()
            .map(|(t, &id)| (t.as_slice(), &self.postings[id as usize]))
    }
}

/// IDs of the terms of a concatenated dictionary (`blob`, with term
/// boundaries `starts`) that contain `needle`, ascending, each once.
pub(crate) fn substring_terms<'a>(
    blob: &'a [u8],
    starts: &'a [u32],
    needle: &'a [u8],
) -> impl Iterator<Item = usize> + 'a {
    let finder = memchr::memmem::Finder::new(needle);
    let mut at = 0usize;
    let mut last = usize::MAX;
    std::iter::from_fn(move || {
        if needle.is_empty() {
            return None;
        }
        // Every occurrence, overlapping ones included: a match spanning two
        // terms must not hide one that starts inside it.
        while let Some(p) = blob.get(at..).and_then(|rest| finder.find(rest)) {
            let pos = at + p;
            at = pos + 1;
            // The term holding `pos`: the last start <= pos.
            let Some(id) = starts
                .partition_point(|&s| s as usize <= pos)
                .checked_sub(1)
            else {
                continue;
            };
            let Some(&end) = starts.get(id + 1) else {
                continue;
            };
            if pos + needle.len() > end as usize || id == last {
                continue; // Spans two terms, or already counted.
            }
            last = id;
            return Some(id);
        }
        None
    })
}

/// The index of an active segment.
#[derive(Debug)]
pub(crate) struct MemIndex {
    dicts: [Dict; FIELD_COUNT],
    scratch: String,
}

impl Default for MemIndex {
    fn default() -> Self {
        MemIndex {
            dicts: std::array::from_fn(|i| Dict::new(i == IndexField::Word.slot())),
            scratch: String::new(),
        }
    }
}

impl MemIndex {
    /// Index record `r` under ordinal `ord` (ordinals must mostly grow).
    pub(crate) fn add(&mut self, ord: u32, r: &LogRecord) {
        let dicts = &mut self.dicts;
        for_each_exact_term(r, |field, term| dicts[field.slot()].add(term, ord));
        let words = &mut dicts[IndexField::Word.slot()];
        for_each_word(&r.content, &mut self.scratch, |w| words.add(w, ord));
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
}
