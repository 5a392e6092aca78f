//! The `cut_log` target: a project's `cuts` file (the cut count, then the cut log).

use super::*;

/// Where the cut log's header starts, where its entries start, and an
/// entry's length (see `src/cuts/mod.rs`).
pub const CUT_LOG_AT: usize = 8;
pub const CUT_ENTRIES_AT: usize = 24;
pub const CUT_ENTRY_LEN: usize = 44;

/// An entry of the cut log, laid out by the documented table.
pub fn cut_entry(
    seq: u64,
    kind: u8,
    partition: u32,
    generation: u32,
    ordinal: u32,
    salt: u64,
    offset: u64,
) -> Vec<u8> {
    let mut b = Vec::with_capacity(CUT_ENTRY_LEN);
    b.extend_from_slice(&seq.to_le_bytes());
    b.extend_from_slice(&[kind, 0, 0, 0]);
    b.extend_from_slice(&partition.to_le_bytes());
    b.extend_from_slice(&generation.to_le_bytes());
    b.extend_from_slice(&ordinal.to_le_bytes());
    b.extend_from_slice(&salt.to_le_bytes());
    b.extend_from_slice(&offset.to_le_bytes());
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

/// A `cuts` file: the count, the log's header (version 2), the entries.
pub fn cut_log_file(count: u64, entries: &[Vec<u8>]) -> Vec<u8> {
    let mut b = count.to_le_bytes().to_vec();
    b.extend_from_slice(b"RLCUTLOG");
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&(CUT_ENTRY_LEN as u16).to_le_bytes());
    let crc = crc32fast::hash(&b[CUT_LOG_AT..]);
    b.extend_from_slice(&crc.to_le_bytes());
    for e in entries {
        b.extend_from_slice(e);
    }
    b
}

/// `b` with the checksums of the log's header and of every whole entry
/// recomputed, and every entry salt of [`FIXED_SALT`] made `salt`.
fn fix_cut_log(b: &[u8], salt: u64) -> Vec<u8> {
    let mut f = b.to_vec();
    if f.len() >= CUT_ENTRIES_AT {
        let crc = crc32fast::hash(&f[CUT_LOG_AT..CUT_ENTRIES_AT - 4]);
        put_u32(&mut f, CUT_ENTRIES_AT - 4, crc);
    }
    if f.len() > CUT_ENTRIES_AT {
        for e in f[CUT_ENTRIES_AT..].chunks_exact_mut(CUT_ENTRY_LEN) {
            if u64_le(e, 24) == FIXED_SALT {
                e[24..32].copy_from_slice(&salt.to_le_bytes());
            }
            let crc = crc32fast::hash(&e[..40]);
            put_u32(e, 40, crc);
        }
    }
    f
}

/// The decoder of the `cuts` file agrees with the documented layout and
/// re-encodes what it accepts to the same bytes; what a reader learns of
/// the cuts between two counts is all of them or none (then it reads
/// everything again), never a panic.
fn check_cut_log_decode(b: &[u8]) {
    let (count, entries, end) = runlog::__fuzz::cut_log(b);
    assert_eq!(count, if b.len() >= 8 { u64_le(b, 0) } else { 0 });
    let has_log = b.len() >= CUT_ENTRIES_AT
        && &b[CUT_LOG_AT..CUT_LOG_AT + 8] == b"RLCUTLOG"
        // Version 1 or 2 (the same layout), then the entry length.
        && [1, 2].map(|v| v | ((CUT_ENTRY_LEN as u32) << 16)).contains(&u32_le(b, 16))
        && crc32fast::hash(&b[CUT_LOG_AT..CUT_ENTRIES_AT - 4]) == u32_le(b, CUT_ENTRIES_AT - 4);
    if !has_log {
        assert_eq!(
            (entries.len(), end),
            (0, CUT_LOG_AT),
            "a log without its header"
        );
    } else {
        assert_eq!(end, CUT_ENTRIES_AT + CUT_ENTRY_LEN * entries.len());
        assert!(end <= b.len());
    }
    for (i, (seq, bytes)) in entries.iter().enumerate() {
        let at = CUT_ENTRIES_AT + CUT_ENTRY_LEN * i;
        let e = &b[at..at + CUT_ENTRY_LEN];
        assert_eq!(e, &bytes[..], "entry {i} is not canonical");
        assert_eq!(*seq, u64_le(e, 0));
        assert!(
            e[8] <= 3 && e[9..12] == [0, 0, 0],
            "entry {i}: kind or zeros"
        );
        assert_eq!(
            crc32fast::hash(&e[..40]),
            u32_le(e, 40),
            "entry {i}: checksum"
        );
    }
    // Whatever follows the valid entries does not decode as the next one.
    if has_log && end + CUT_ENTRY_LEN <= b.len() && entries.len() < 1024 {
        let next = &b[end..end + CUT_ENTRY_LEN];
        assert!(
            crc32fast::hash(&next[..40]) != u32_le(next, 40)
                || next[8] > 3
                || next[9..12] != [0, 0, 0]
                || match next[8] {
                    0 => next[12..40] != [0; 28],
                    2 => u32_le(next, 20) != 0 || u64_le(next, 32) != 0,
                    3 => u32_le(next, 20) != 0,
                    _ => false,
                },
            "a valid entry was left out"
        );
    }
    let mut probes = vec![
        (0, 0),
        (0, 1),
        (0, u64::MAX),
        (u64::MAX, 0),
        (u64::MAX, u64::MAX),
        (count, count),
        (count.wrapping_sub(1), count),
        (count.wrapping_sub(2), count),
    ];
    for (seq, _) in entries.iter().take(8) {
        probes.extend([
            (seq.wrapping_sub(1), *seq),
            (seq.wrapping_sub(1), count),
            (*seq, count),
        ]);
    }
    for (seen, c) in probes {
        match runlog::__fuzz::cuts_since(b, seen, c) {
            Some(n) => {
                assert_eq!(Some(n as u64), c.checked_sub(seen), "{seen}..{c}");
                // Each of the cuts has its entry, in order, none "anything".
                if n > 0 {
                    let first = entries
                        .iter()
                        .position(|(s, _)| *s == seen + 1)
                        .expect("the first cut's entry");
                    for (k, (s, e)) in entries[first..first + n].iter().enumerate() {
                        assert_eq!(*s, seen + 1 + k as u64);
                        assert_ne!(e[8], 0, "a cut of anything, told apart");
                    }
                }
            }
            None => assert_ne!(seen, c, "no cut to tell"),
        }
    }
}

/// The `cuts` file `b` written into a store a reader has read and follows
/// (the template of `store_meta`: a sealed and an active segment): the
/// reader still shows exactly the store's records, reports no damage, and
/// its follower delivers nothing that is not stored; a writer opens,
/// appends, and the reader and its follower see the new record; a second
/// writer opens too.
fn check_cut_log_store(b: &[u8]) {
    let template = meta_template();
    let tmp = scratch();
    let dir = tmp.path();
    copy_tree(template.dir.path(), dir);
    let clock = ManualClock::new(META_NOW);
    let reader_store = options(&clock).open_read_only(dir).expect("reader");
    let reader = reader_store.project("p").expect("reader project");
    let mut follow = reader.follow(&Query::new()).expect("follow");
    assert_eq!(collect(&reader, 100), template.records);
    fs::write(dir.join("projects/p/cuts"), b).unwrap();

    let stored = |r: &StoredRecord, records: &[StoredRecord]| {
        records.iter().any(|s| s.id == r.id && s.record == r.record)
    };
    assert_eq!(
        collect(&reader, 100),
        template.records,
        "reader, after the log changed"
    );
    for r in follow
        .next_batch(std::time::Duration::ZERO)
        .expect("follow")
    {
        assert!(
            stored(&r, &template.records),
            "delivered what is not stored: {r:?}"
        );
    }
    assert!(reader.damage().is_empty(), "{:?}", reader.damage());
    {
        let store = options(&clock).open(dir).expect("writer");
        let p = store.project("p").expect("writer project");
        let id = p
            .append(&LogRecord::new(
                META_NOW,
                Level::Info,
                "job-3",
                "after the log",
            ))
            .expect("append");
        let records = collect(&p, 100);
        assert_eq!(records.len(), template.records.len() + 1);
        assert_eq!(collect(&reader, 100), records, "reader, after an append");
        let mut delivered = follow
            .next_batch(std::time::Duration::ZERO)
            .expect("follow");
        delivered.extend(
            follow
                .next_batch(std::time::Duration::ZERO)
                .expect("follow"),
        );
        assert!(
            delivered.iter().any(|r| r.id == id),
            "the new record not delivered"
        );
        for r in &delivered {
            assert!(stored(r, &records), "delivered what is not stored: {r:?}");
        }
        assert!(reader.damage().is_empty(), "{:?}", reader.damage());
    }
    let store = options(&clock).open(dir).expect("second writer");
    let p = store.project("p").expect("second writer project");
    assert_eq!(collect(&p, 100).len(), template.records.len() + 1);
}

/// The salt of the template's active segment (header bytes 36..44).
fn template_active_salt() -> u64 {
    static SALT: OnceLock<u64> = OnceLock::new();
    *SALT.get_or_init(|| {
        let dir = meta_template().dir.path().join("projects/p");
        let wal = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "wal"))
            .expect("the template's active segment");
        u64_le(&fs::read(wal).unwrap(), SALT_AT)
    })
}

/// `data` as a project's `cuts` file (then again with its checksums
/// recomputed and [`FIXED_SALT`] made the salt of the template's active
/// segment, so that seeds can name it): see [`check_cut_log_decode`] and
/// [`check_cut_log_store`].
pub fn check_cut_log(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    let mut variants = vec![data.to_vec()];
    let fixed = fix_cut_log(data, template_active_salt());
    if fixed != data {
        variants.push(fixed);
    }
    for b in variants {
        check_cut_log_decode(&b);
        check_cut_log_store(&b);
    }
}
