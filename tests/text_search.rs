//! Text search edge cases the index must not lose: substrings of words too
//! long to index, matches overlapping a match across two words, and
//! Unicode lower-casing that depends on the word (final sigma). Each is
//! checked on an active segment, then again once sealed.

mod common;

use common::*;
use runlog::{LogRecord, Query};

fn found(p: &runlog::Project, text: &str) -> (usize, u64) {
    let q = Query::new().all_time().text(text);
    (
        p.query(&q).unwrap().records.len(),
        p.count(&q).unwrap().total,
    )
}

#[test]
fn the_index_never_hides_a_substring_match() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    for (i, content) in [
        "token=abcdefghijklmnopqrstuvwxyz0123456789ABCD accepted",
        "exit code 0 0042",
        "ΟΔΟΣ κλειστή",
        "nothing to see",
        // A capital sigma beside '.' lower-cases one way in the whole
        // text and another in its word alone.
        "ΑΣ.Β",
        "Α.Σ",
    ]
    .into_iter()
    .enumerate()
    {
        p.append(&LogRecord::new(
            T0.saturating_sub(secs(60 - i as u64)),
            runlog::Level::Info,
            "j",
            content,
        ))
        .unwrap();
    }
    let cases = [
        ("klmnop", 1),
        ("0123456789abcd", 1),
        ("00", 1),
        ("ΟΔΟΣ", 1),
        ("οδος", 1),
        ("κλειστ", 1),
        ("ΑΣ.Β", 1),
        ("ασ.β", 1),
        ("ας.β", 1),
        ("ασ", 1),
        ("Α.Σ", 1),
        ("α.ς", 1),
        ("α.σ", 1),
        (".ς", 1),
        ("zzz", 0),
    ];
    for sealed in [false, true] {
        for (text, want) in cases {
            assert_eq!(
                found(&p, text),
                (want, want as u64),
                "{text:?} (sealed: {sealed})"
            );
        }
        clock.advance(secs(3 * 3600));
        p.seal_due().unwrap();
        assert!(p.segments().unwrap().iter().all(|s| s.sealed));
    }
}
