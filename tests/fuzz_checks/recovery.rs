//! The `recovery` target: a segment file of fuzz bytes in a real store.

use super::*;

/// The recovery tests' clock: inside partition 0 (1970-01-01T00:30Z), so
/// a segment of partition 0 is current and not yet due for sealing.
pub const RECOVERY_NOW: Timestamp = Timestamp::from_secs(1800);
/// The retention horizon at [`RECOVERY_NOW`]: older records are not listed.
pub const RECOVERY_HORIZON: i64 = RECOVERY_NOW.as_micros() - RETENTION_SECS as i64 * 1_000_000;
/// The header [`check_recovery`] puts before the fuzz bytes in modes 1 and
/// 3 (partition 0 of 1 h, salt [`FIXED_SALT`]).
pub fn recovery_header() -> [u8; HEADER_LEN] {
    format::encode_header(&SegmentHeader {
        layout: LAYOUT_FRAMES,
        partition: 0,
        generation: 0,
        partition_len: 3_600_000_000,
        created: RECOVERY_NOW,
        salt: FIXED_SALT,
    })
}

/// The first partition past the last one whose end a 1 h partition length
/// can represent (i64 microseconds): its files are not runlog's.
pub const FIRST_FOREIGN_PARTITION: u32 = (i64::MAX / 3_600_000_000) as u32;

/// Records scanned from an active file of `len` bytes: ordinal `k` sits at
/// or after byte 64 + 52·k (ordinals follow each other, skipping only as
/// many as damaged bytes could hold), so it ends by 64 + 52·(k + 1).
fn check_ordinals_fit(records: &[StoredRecord], len: usize) {
    for r in records {
        assert!(
            HEADER_LEN + (r.id.ordinal as usize + 1) * MIN_FRAME_LEN <= len,
            "record {} in a {len}-byte file: no frame of that ordinal fits",
            r.id
        );
    }
}

/// A segment file made of the fuzz input in a real store, opened
/// read-only, then by a writer (recovery), again (idempotent), sealed, and
/// again. Never panics; what the store returns must agree across opens.
///
/// The first byte picks the file: bit 0 = put a valid header for
/// partition 0 before the rest of the input ([`recovery_header`]); bit 1 =
/// name it `0000000000-0000.seg` (sealed) rather than `.wal` (active);
/// bit 2 = recompute its checksums ([`fix_checksums`], with the salt of
/// its header bytes). Bits 4–7 all set: name it for a partition past the
/// last representable one instead (bit 3: `u32::MAX`, else
/// [`FIRST_FOREIGN_PARTITION`]); the store must leave it alone.
pub fn check_recovery(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    let (mode, body) = data.split_first().map_or((0, &[][..]), |(m, b)| (*m, b));
    let mut file = if mode & 1 == 1 {
        let mut f = recovery_header().to_vec();
        f.extend_from_slice(body);
        f
    } else {
        body.to_vec()
    };
    if mode & 4 != 0 {
        fix_checksums(&mut file);
    }
    let ext = if mode & 2 != 0 { "seg" } else { "wal" };
    if mode & 0xF0 == 0xF0 {
        let partition = if mode & 8 != 0 {
            u32::MAX
        } else {
            FIRST_FOREIGN_PARTITION
        };
        run_foreign(&file, &format!("{partition:010}-0000.{ext}"));
    } else {
        run_recovery(&file, &format!("0000000000-0000.{ext}"));
    }
}

/// A file named for a partition no timestamp reaches: not the store's, so
/// never listed, never changed, never deleted (retention included).
fn run_foreign(file: &[u8], name: &str) {
    let tmp = scratch();
    let dir = tmp.path();
    let clock = ManualClock::new(RECOVERY_NOW);
    {
        let store = options(&clock).open(dir).expect("create store");
        store.project("p").expect("create project");
    }
    let pdir = dir.join("projects").join("p");
    fs::write(pdir.join(name), file).expect("write segment");
    let before = snapshot(&pdir);
    {
        let store = options(&clock).open_read_only(dir).expect("open read-only");
        let p = store.project("p").expect("open project read-only");
        assert!(collect(&p, 1).is_empty(), "{name}: records listed");
        assert!(p.segments().expect("segments").is_empty());
    }
    for now in [RECOVERY_NOW, Timestamp::MAX] {
        clock.set(now);
        let store = options(&clock).open(dir).expect("open writer");
        let p = store.project("p").expect("open project");
        assert!(collect(&p, 1).is_empty(), "{name}: records listed");
        assert!(p.segments().expect("segments").is_empty());
        let report = p.verify().expect("verify");
        assert!(report.is_ok(), "{name}: {report:?}");
        let _ = p.seal_due();
        assert!(p.damage().is_empty(), "{name}: {:?}", p.damage());
    }
    assert!(
        snapshot(&pdir) == before,
        "{name}: the store changed its files"
    );
}

/// The frames `scan_frames` finds in `file` with its header's salt, when
/// the store takes the header for `0000000000-0000` (partition 0,
/// generation 0, 1 h partitions).
fn scan_as_store(file: &[u8]) -> Option<Vec<format::ScannedFrame>> {
    let h = format::decode_header(file).ok()?;
    (h.partition == 0 && h.generation == 0 && h.partition_len == 3_600_000_000)
        .then(|| format::scan_frames(&file[HEADER_LEN..], HEADER_LEN as u64, None, h.salt).frames)
}

fn run_recovery(file: &[u8], name: &str) {
    let tmp = scratch();
    let dir = tmp.path();
    let clock = ManualClock::new(RECOVERY_NOW);
    {
        let store = options(&clock).open(dir).expect("create store");
        store.project("p").expect("create project");
    }
    let pdir = dir.join("projects").join("p");
    fs::write(pdir.join(name), file).expect("write segment");
    let bound = file.len() / MIN_FRAME_LEN + 1;
    let active = name.ends_with(".wal");

    // A reader changes nothing. Of an active file it lists what a scan
    // finds: whole frames of valid ordinals, each readable.
    let read_only = {
        let store = options(&clock).open_read_only(dir).expect("open read-only");
        let p = store.project("p").expect("open project read-only");
        let records = collect(&p, bound);
        check_listed_records(&p, &records, active);
        if active {
            check_ordinals_fit(&records, file.len());
            if let Some(frames) = scan_as_store(file) {
                let mut listed: Vec<(u32, i64)> = records
                    .iter()
                    .map(|r| (r.id.ordinal, r.record.time.as_micros()))
                    .collect();
                listed.sort_unstable();
                // (The scan lists records in [horizon, Timestamp::MAX).)
                let scanned: Vec<(u32, i64)> = frames
                    .iter()
                    .filter(|f| (RECOVERY_HORIZON..Timestamp::MAX.as_micros()).contains(&f.time))
                    .map(|f| (f.ordinal, f.time))
                    .collect();
                assert_eq!(
                    listed, scanned,
                    "the reader lists other records than a scan with the header's salt finds"
                );
            }
        }
        let _ = p.verify().expect("verify read-only");
        let _ = p.segments().expect("segments");
        let _ = p.damage();
        records
    };
    assert_eq!(
        fs::read(pdir.join(name)).ok().as_deref(),
        Some(file),
        "a read-only open changed the file"
    );

    // The writer recovers.
    let (first, clean) = {
        let store = options(&clock).open(dir).expect("open writer");
        let p = store.project("p").expect("open project");
        let records = collect(&p, bound);
        let report = p.verify().expect("verify");
        let clean = report.is_ok();
        // Still active (not renamed after a complete seal): the writer
        // scanned the same bytes as the reader.
        let still_active = active && pdir.join(name).exists();
        check_listed_records(&p, &records, clean || still_active);
        if clean || still_active {
            check_ordinals_fit(&records, file.len());
            assert_eq!(read_only, records, "reader and writer disagree");
        }
        if clean {
            assert!(
                p.damage().is_empty(),
                "clean verify, yet damage: {:?}",
                p.damage()
            );
        }
        let _ = p.segments().expect("segments");
        (records, clean)
    };
    let after_first = snapshot(&pdir);

    // Recovery is idempotent: the same records, the same files.
    {
        let store = options(&clock).open(dir).expect("reopen writer");
        let p = store.project("p").expect("reopen project");
        assert_eq!(collect(&p, bound), first, "records differ after a reopen");
        if clean {
            assert!(p.verify().expect("verify").is_ok(), "clean, then not");
        }
    }
    assert!(
        snapshot(&pdir) == after_first,
        "a second recovery changed the files"
    );

    // Sealing keeps every record (and a clean segment clean).
    {
        let store = options(&clock).open(dir).expect("reopen writer");
        let p = store.project("p").expect("reopen project");
        clock.set(Timestamp::from_secs(3 * 3600));
        let _ = p.seal_due();
        clock.set(RECOVERY_NOW);
        let records = collect(&p, bound);
        assert_eq!(records, first, "records differ after sealing");
        check_listed_records(&p, &records, clean);
        if clean {
            assert!(
                p.verify().expect("verify").is_ok(),
                "clean, then not after sealing"
            );
        }
        // A seal block holds 12 bytes per ordinal: no more ordinals than
        // frames could fit in the file.
        for s in p.segments().expect("segments") {
            if s.sealed
                && let Ok(m) = fs::metadata(&s.path)
            {
                let slots = file.len() / MIN_FRAME_LEN + 1;
                let most = (file.len() + 4 + 16 * slots + TRAILER_LEN) as u64;
                assert!(
                    m.len() <= most,
                    "sealing a {}-byte file made a {}-byte segment",
                    file.len(),
                    m.len()
                );
            }
        }
    }
    {
        let store = options(&clock).open(dir).expect("reopen writer");
        let p = store.project("p").expect("reopen project");
        assert_eq!(
            collect(&p, bound),
            first,
            "records differ after sealing and reopening"
        );
    }
}
