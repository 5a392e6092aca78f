//! Unit tests of the cut log: its byte table, the order of a cut's
//! steps, and what a writer and a reader make of every kind of log.

use super::*;

/// Log `cut` as made (nothing to cut in these tests).
fn log(w: &Cuts, cut: Cut) {
    w.cut(cut, || Ok(())).unwrap();
}

fn seg(ordinal: u32) -> Cut {
    Cut::Segment {
        id: SegmentId {
            partition: 7,
            generation: 1,
        },
        salt: 99,
        offset: 1000 + u64::from(ordinal),
        ordinal,
    }
}

#[test]
fn a_writer_resumes_the_count_and_a_reader_follows_it() {
    let dir = tempfile::tempdir().unwrap();
    let reader = Cuts::open_reader(dir.path());
    assert_eq!(reader.read().unwrap(), 0, "no file yet");
    let w = Cuts::open_writer(dir.path()).unwrap();
    assert_eq!(reader.read().unwrap(), 1, "a writer counts once at open");
    assert_eq!(reader.since(0, 1).unwrap(), [Cut::Any]);
    log(&w, seg(3));
    log(&w, seg(5));
    assert_eq!((w.read().unwrap(), reader.read().unwrap()), (3, 3));
    assert_eq!(reader.since(1, 3).unwrap(), [seg(3), seg(5)]);
    assert_eq!(reader.since(2, 3).unwrap(), [seg(5)]);
    assert_eq!(
        reader.since(0, 3).unwrap(),
        [Cut::Any],
        "cut 1 is of anything"
    );
    assert_eq!(reader.since(3, 3).unwrap(), []);
    assert_eq!(
        reader.since(4, 3).unwrap(),
        [Cut::Any],
        "the count went back"
    );
    drop(w);
    // A log whose every cut was counted: the next writer goes on with
    // it, and readers lose nothing.
    let w = Cuts::open_writer(dir.path()).unwrap();
    assert_eq!(reader.read().unwrap(), 3, "no cut at open");
    log(&w, seg(8));
    assert_eq!(reader.read().unwrap(), 4, "resumed, not restarted");
    assert_eq!(reader.since(1, 4).unwrap(), [seg(3), seg(5), seg(8)]);
}

/// The entry is written before the cut is made, the count after.
#[test]
fn a_cut_is_logged_before_it_is_made_and_counted_after() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(CUTS_FILE);
    let w = Cuts::open_writer(dir.path()).unwrap();
    let mut seen = None;
    w.cut(seg(2), || {
        let log = decode(&std::fs::read(&path).unwrap());
        seen = Some((log.count, log.entries.last().copied()));
        Err(Error::corrupt(&path, 0, "the cut failed"))
    })
    .expect_err("the cut's own error comes back");
    assert_eq!(seen, Some((1, Some((2, seg(2))))));
    assert_eq!(
        decode(&std::fs::read(&path).unwrap()).count,
        2,
        "counted even so"
    );
}

/// A log whose every entry is counted is resumed even with garbage
/// after its entries (a write in progress when the writer stopped):
/// the next entry goes over it.
#[test]
fn a_writer_resumes_a_log_with_garbage_after_its_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(CUTS_FILE);
    let w = Cuts::open_writer(dir.path()).unwrap();
    log(&w, seg(1));
    drop(w);
    let mut b = std::fs::read(&path).unwrap();
    b.extend_from_slice(&[0xa5; 30]);
    std::fs::write(&path, &b).unwrap();
    let w = Cuts::open_writer(dir.path()).unwrap();
    assert_eq!(w.read().unwrap(), 2, "no cut at open");
    log(&w, seg(2));
    let reader = Cuts::open_reader(dir.path());
    assert_eq!(reader.since(1, 3).unwrap(), [seg(1), seg(2)]);
}

/// A full log is resumed too; the next cut starts it afresh.
#[test]
fn a_full_log_is_resumed_and_started_afresh_at_the_next_cut() {
    let dir = tempfile::tempdir().unwrap();
    let w = Cuts::open_writer(dir.path()).unwrap();
    for i in 1..MAX_ENTRIES as u32 {
        log(&w, seg(i));
    }
    let count = w.read().unwrap();
    assert_eq!(count, MAX_ENTRIES as u64);
    drop(w);
    let reader = Cuts::open_reader(dir.path());
    let w = Cuts::open_writer(dir.path()).unwrap();
    assert_eq!(reader.read().unwrap(), count, "no cut at open");
    assert_eq!(
        reader.since(count - 1, count).unwrap(),
        [seg(count as u32 - 1)]
    );
    log(&w, seg(7));
    assert_eq!(reader.since(count, count + 1).unwrap(), [seg(7)]);
    assert_eq!(
        reader.since(count - 1, count + 1).unwrap(),
        [Cut::Any],
        "afresh"
    );
}

/// After an entry could not be written, the log is cut off the file
/// (the count kept): readers whose count moves read everything again,
/// and so does the next writer's open, even if the cut's own count
/// was never written.
#[test]
fn a_log_that_lost_an_entry_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let w = Cuts::open_writer(dir.path()).unwrap();
    log(&w, seg(1));
    // As `cut` does when the entry of cut 3 cannot be written: the
    // count of cut 3 is not written either (a crash).
    {
        let mut state = w.0.writer.as_ref().unwrap().lock();
        state.count += 1;
        w.drop_log(&mut state);
    }
    let b = std::fs::read(dir.path().join(CUTS_FILE)).unwrap();
    assert_eq!(b, 2u64.to_le_bytes(), "the count alone");
    drop(w);
    let reader = Cuts::open_reader(dir.path());
    let w = Cuts::open_writer(dir.path()).unwrap();
    assert_eq!(reader.since(2, w.read().unwrap()).unwrap(), [Cut::Any]);
    log(&w, seg(5));
    let count = w.read().unwrap();
    assert_eq!(reader.since(count - 1, count).unwrap(), [seg(5)], "afresh");
}

/// A log of version 1 (a writer that logged a cut after making it)
/// reads the same; the next writer cannot tell whether a crash left a
/// cut unlogged, so it starts afresh with a cut of anything.
#[test]
fn a_version_1_log_is_read_and_a_writer_starts_it_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = 2u64.to_le_bytes().to_vec();
    b.extend_from_slice(&encode_header_of(1));
    b.extend_from_slice(&encode_entry(1, &Cut::Any));
    b.extend_from_slice(&encode_entry(2, &seg(6)));
    std::fs::write(dir.path().join(CUTS_FILE), &b).unwrap();
    let reader = Cuts::open_reader(dir.path());
    assert_eq!(reader.since(1, 2).unwrap(), [seg(6)]);
    let w = Cuts::open_writer(dir.path()).unwrap();
    assert_eq!(reader.read().unwrap(), 3);
    assert_eq!(reader.since(2, 3).unwrap(), [Cut::Any]);
    log(&w, seg(7));
    assert_eq!(reader.since(3, 4).unwrap(), [seg(7)]);
    let log = decode(&std::fs::read(dir.path().join(CUTS_FILE)).unwrap());
    assert_eq!(log.version, Some(VERSION), "afresh, in this version");
}

#[test]
fn a_short_file_counts_as_zero() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(CUTS_FILE), [7u8; 5]).unwrap();
    assert_eq!(Cuts::open_reader(dir.path()).read().unwrap(), 0);
    let w = Cuts::open_writer(dir.path()).unwrap();
    log(&w, seg(0));
    assert_eq!(Cuts::open_reader(dir.path()).read().unwrap(), 2);
}

/// A `cuts` file of a writer that predates the log (a bare count):
/// a reader cannot tell what was cut; a writer resumes the count.
#[test]
fn a_bare_count_is_read_as_cuts_of_anything() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(CUTS_FILE), 41u64.to_le_bytes()).unwrap();
    let reader = Cuts::open_reader(dir.path());
    assert_eq!(reader.read().unwrap(), 41);
    assert_eq!(reader.since(40, 41).unwrap(), [Cut::Any]);
    let w = Cuts::open_writer(dir.path()).unwrap();
    log(&w, seg(2));
    assert_eq!(reader.read().unwrap(), 43);
    assert_eq!(reader.since(42, 43).unwrap(), [seg(2)]);
}

/// A writer that crashed after an entry but before its count: the
/// next one numbers on from the entry, never reusing its number.
#[test]
fn a_writer_numbers_on_from_an_uncounted_entry() {
    let dir = tempfile::tempdir().unwrap();
    let w = Cuts::open_writer(dir.path()).unwrap();
    log(&w, seg(1));
    drop(w);
    let path = dir.path().join(CUTS_FILE);
    let mut b = std::fs::read(&path).unwrap();
    b[..8].copy_from_slice(&1u64.to_le_bytes());
    std::fs::write(&path, &b).unwrap();
    let w = Cuts::open_writer(dir.path()).unwrap();
    assert_eq!(w.read().unwrap(), 3);
    assert_eq!(
        Cuts::open_reader(dir.path()).since(1, 3).unwrap(),
        [Cut::Any],
        "a cut that may be half made: read everything again"
    );
}

#[test]
fn every_cut_and_flip_of_the_log_falls_back_to_anything() {
    let dir = tempfile::tempdir().unwrap();
    let w = Cuts::open_writer(dir.path()).unwrap();
    let cuts = [
        seg(4),
        Cut::Removed {
            id: SegmentId {
                partition: 3,
                generation: 0,
            },
            salt: 5,
        },
        Cut::Journal {
            partition: 2,
            generation: 9,
            salt: 6,
            offset: 77,
        },
    ];
    for c in cuts {
        log(&w, c);
    }
    let b = std::fs::read(dir.path().join(CUTS_FILE)).unwrap();
    assert_eq!(b.len(), ENTRIES_AT + 4 * ENTRY_LEN);
    assert_eq!(since(&b, 1, 4), cuts);
    for cut in 0..b.len() {
        let got = since(&b[..cut], 1, 4);
        assert_eq!(got, [Cut::Any], "cut at {cut}");
    }
    for at in LOG_AT..b.len() {
        for bit in [0x01, 0x80] {
            let mut f = b.clone();
            f[at] ^= bit;
            let got = since(&f, 1, 4);
            let ok = got == cuts;
            assert!(ok || got == [Cut::Any], "flip at {at}: {got:?}");
            assert!(!ok, "flip at {at} went unnoticed");
        }
    }
}

#[test]
fn a_full_log_starts_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let w = Cuts::open_writer(dir.path()).unwrap();
    for i in 0..MAX_ENTRIES as u32 + 10 {
        log(&w, seg(i));
    }
    let b = std::fs::read(dir.path().join(CUTS_FILE)).unwrap();
    assert!(b.len() <= ENTRIES_AT + MAX_ENTRIES * ENTRY_LEN);
    let count = w.read().unwrap();
    assert_eq!(since(&b, count - 1, count), [seg(MAX_ENTRIES as u32 + 9)]);
    assert_eq!(since(&b, 1, count), [Cut::Any]);
}

#[test]
fn entries_round_trip() {
    for c in [
        Cut::Any,
        seg(u32::MAX),
        Cut::Removed {
            id: SegmentId {
                partition: u32::MAX,
                generation: 2,
            },
            salt: u64::MAX,
        },
        Cut::Journal {
            partition: 1,
            generation: 0,
            salt: 3,
            offset: u64::MAX,
        },
    ] {
        assert_eq!(decode_entry(&encode_entry(17, &c)), Some((17, c)));
    }
}
