//! Seeds of the `cursor` target: the page cursors of a real query of the
//! check's small store (text and bytes) and altered ones; run cursors.

use crate::fuzz_checks;

use super::Seeds;

/// The seeds of `cursor`.
pub fn seeds() -> Seeds {
    // Cursors: the page cursors of a real query of the small store (text
    // and bytes; their filters are the check's query's), and altered:
    // other filters, inverted or wide ranges, a position at the end of
    // time; cut short, another version, a non-canonical last character.
    let store = fuzz_checks::cursor_store();
    let cursor_bytes =
        |i: usize| fuzz_checks::cursor_text_bytes(&store.page_cursors[i].to_string()).unwrap();
    let fixed = |mut b: Vec<u8>, at: usize, v: &[u8]| {
        b[at..at + v.len()].copy_from_slice(v);
        fuzz_checks::fix_cursor_crc(&b).unwrap()
    };
    let text = |b: &[u8]| fuzz_checks::cursor_text(b).into_bytes();
    let first = cursor_bytes(0);
    let last = cursor_bytes(store.page_cursors.len() - 1);
    let all = fixed(
        first.clone(),
        9,
        &[&i64::MIN.to_le_bytes()[..], &i64::MAX.to_le_bytes()].concat(),
    );
    let end = fixed(
        all.clone(),
        25,
        &[&i64::MAX.to_le_bytes()[..], &[0xff; 12]].concat(),
    );
    let run_first = store
        .project
        .query_runs(&runlog::RunQuery::new().all_time().limit(1))
        .unwrap()
        .next
        .unwrap();
    let run_bytes = fuzz_checks::cursor_text_bytes(&run_first.to_string()).unwrap();
    let mut odd_text = text(&first);
    *odd_text.last_mut().unwrap() += 1;
    let cursor = vec![
        ("empty", vec![]),
        ("page-1-text", text(&first)),
        ("page-1-bytes", first.clone()),
        ("last-page-text", text(&last)),
        ("last-page-bytes", last.clone()),
        ("other-filters", text(&fixed(first.clone(), 1, &[0x42]))),
        (
            "inverted-range",
            fixed(first.clone(), 17, &i64::MIN.to_le_bytes()),
        ),
        ("all-time", text(&all)),
        ("end-of-time-bytes", end.clone()),
        ("bad-crc", {
            let mut b = first.clone();
            b[46] ^= 1;
            b
        }),
        ("version-2", fixed(first.clone(), 0, &[2])),
        ("text-cut", text(&first)[..65].to_vec()),
        ("text-noncanonical-tail", odd_text),
        ("text-other-chars", b"AAAA+/==".to_vec()),
        ("run-cursor-text", run_first.to_string().into_bytes()),
        ("run-cursor-bytes", run_bytes.clone()),
        ("run-cursor-long-job", {
            // A 128-byte job ID: the longest a run cursor holds.
            let mut b = run_bytes[..34].to_vec();
            b[33] = 128;
            b.extend(std::iter::repeat_n(b'j', 128));
            b.extend([0; 4]);
            let n = b.len() - 4;
            let crc = crc32fast::hash(&b[..n]);
            b[n..].copy_from_slice(&crc.to_le_bytes());
            b
        }),
    ];
    cursor
}
