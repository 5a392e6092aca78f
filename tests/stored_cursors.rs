//! Cursors users keep, as in a web page's "next page" link: the text this
//! build issues for fixed queries of a fixed store is pinned here, and
//! keeps giving the next page; the fingerprint it carries is the
//! documented encoding (`src/query/cursor.rs`), recomputed here from the
//! documentation; a cursor of the build before that encoding is refused
//! with `CursorMismatch`.

mod common;

use common::*;
use runlog::{
    Error, ExportFormat, Level, ManualClock, NewRun, Preset, Project, Query, RunQuery, Store,
    TimeRange, Trigger,
};

/// Ten records a minute apart up to `T0`, and five runs.
fn store(dir: &std::path::Path) -> (ManualClock, Store, Project) {
    let clock = clock();
    let store = open(dir, &clock);
    let p = store.project("p").unwrap();
    for i in 0..10 {
        p.append(&rec(T0.saturating_sub(secs(600 - 60 * i)), i))
            .unwrap();
    }
    for i in 0..5u64 {
        let trigger = if i % 2 == 0 {
            Trigger::Scheduler
        } else {
            Trigger::Event
        };
        p.start_run(
            &NewRun::new(format!("job-{i}"), "f", trigger)
                .triggered_at(T0.saturating_sub(secs(3600 - 60 * i))),
        )
        .unwrap();
    }
    (clock, store, p)
}

/// A preset range and filters of every kind.
fn preset_query() -> Query {
    Query::new()
        .preset(Preset::LastHour)
        .env("prod")
        .min_level(Level::Info)
        .text("POST orders")
        .limit(2)
}

/// An absolute range.
fn custom_query() -> Query {
    Query::new()
        .range(TimeRange::new(T0.saturating_sub(secs(3600)), T0).unwrap())
        .app("shop")
        .component("HTTP")
        .limit(3)
}

fn run_query() -> RunQuery {
    RunQuery::new()
        .preset(Preset::LastDay)
        .flow("f")
        .trigger(Trigger::Scheduler)
        .limit(1)
}

/// The first pages' cursors, as this build issued them (pinned once).
const PRESET_CURSOR: &str = "AcEoRoPb3HLOAJyKQSMKBgABQB4YJAoGAACdPAYkCgYAnjQHAAAAAAAFAAAA0thnSw";
const CUSTOM_CURSOR: &str = "ATB3eoHbTmakAJyKQSMKBgAAQB4YJAoGAACrYw0kCgYAnjQHAAAAAAAHAAAAoAlNBg";
const RUN_CURSOR: &str = "Uq1sszBARg5RAOBG-g8KBgABQB4YJAoGAAC42E8jCgYABWpvYi00h2Efyw";

/// The same cursors as the build before the documented encoding issued
/// them: the same bytes but the fingerprint (and checksum).
const OLD_PRESET_CURSOR: &str =
    "AZXffQYOZesGAJyKQSMKBgABQB4YJAoGAACdPAYkCgYAnjQHAAAAAAAFAAAApLxWMw";
const OLD_CUSTOM_CURSOR: &str =
    "AR20FkdwEFCbAJyKQSMKBgAAQB4YJAoGAACrYw0kCgYAnjQHAAAAAAAHAAAAYFE3ag";
const OLD_RUN_CURSOR: &str = "UrHNz8atxl3JAOBG-g8KBgABQB4YJAoGAAC42E8jCgYABWpvYi00OfZzJA";

/// URL-safe base64 without padding, decoded.
fn unbase64(s: &str) -> Vec<u8> {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0);
    for c in s.bytes() {
        acc = (acc << 6) | B64.iter().position(|&a| a == c).unwrap() as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// The fingerprint bytes 1..9 of a cursor's text carry.
fn fingerprint_of(text: &str) -> u64 {
    u64::from_le_bytes(unbase64(text)[1..9].try_into().unwrap())
}

/// FNV-1a 64, as documented.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A string as documented: its length (u64), then its bytes.
fn s(v: &str) -> Vec<u8> {
    [&(v.len() as u64).to_le_bytes()[..], v.as_bytes()].concat()
}

#[test]
fn cursors_issued_are_the_pinned_text_with_the_documented_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let (_clock, _store, p) = store(dir.path());
    let preset = p.query(&preset_query()).unwrap().next.unwrap().to_string();
    let custom = p.query(&custom_query()).unwrap().next.unwrap().to_string();
    let run = p
        .query_runs(&run_query())
        .unwrap()
        .next
        .unwrap()
        .to_string();
    assert_eq!(preset, PRESET_CURSOR);
    assert_eq!(custom, CUSTOM_CURSOR);
    assert_eq!(run, RUN_CURSOR);

    // The encodings written out from the documentation.
    let preset_bytes = [
        &b"L\x01\x01"[..],
        &s("last-1h"),
        &[0b1110, 0],
        &1u64.to_le_bytes(),
        &s("env"),
        &s("prod"),
        &2u64.to_le_bytes(),
        &s("orders"),
        &s("post"),
    ]
    .concat();
    let custom_bytes = [
        &b"L\x01\x03"[..],
        &T0.saturating_sub(secs(3600)).as_micros().to_le_bytes(),
        &T0.as_micros().to_le_bytes(),
        &[0b1111, 0],
        &2u64.to_le_bytes(),
        &s("app"),
        &s("shop"),
        &s("component"),
        &s("HTTP"),
        &0u64.to_le_bytes(),
    ]
    .concat();
    let run_bytes = [
        &b"R\x01\x01"[..],
        &s("last-1d"),
        &[1],
        &s("f"),
        &[0, 0, 0, 0],
        &[0, 0b001],
    ]
    .concat();
    assert_eq!(fingerprint_of(&preset), fnv1a64(&preset_bytes));
    assert_eq!(fingerprint_of(&custom), fnv1a64(&custom_bytes));
    assert_eq!(fingerprint_of(&run), fnv1a64(&run_bytes));
}

#[test]
fn a_stored_cursor_gives_the_next_page() {
    let dir = tempfile::tempdir().unwrap();
    let (clock, _store, p) = store(dir.path());
    // Some time later (the preset's cursor keeps its first resolution).
    clock.advance(secs(1800));
    for (q, n, text) in [
        (preset_query(), 2, PRESET_CURSOR),
        (custom_query(), 3, CUSTOM_CURSOR),
    ] {
        let cursor = text.parse().unwrap();
        let page = p.query(&q.clone().after(cursor)).unwrap();
        // What paging from the first page gave, at the time it was issued.
        let all: Vec<_> = {
            let then = tempfile::tempdir().unwrap();
            let (_c, _s, p0) = store(then.path());
            pages(&p0, &q.clone().limit(100), 100)
        };
        let want: Vec<_> = all.iter().skip(n).take(n).map(|r| r.id).collect();
        assert!(!want.is_empty());
        assert_eq!(page.records.iter().map(|r| r.id).collect::<Vec<_>>(), want);
        let mut out = Vec::new();
        let done = p
            .export(&q.after(cursor), ExportFormat::JsonLines, &mut out, |_| {})
            .unwrap();
        assert_eq!(done.records as usize, all.len() - n);
    }
    let cursor = RUN_CURSOR.parse().unwrap();
    let page = p.query_runs(&run_query().after(cursor)).unwrap();
    let jobs: Vec<&str> = page.runs.iter().map(|r| r.job_id.as_str()).collect();
    assert_eq!(jobs, ["job-2"]);
}

#[test]
fn cursors_of_the_build_before_the_documented_encoding_are_refused_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_clock, _store, p) = store(dir.path());
    for (q, old) in [
        (preset_query(), OLD_PRESET_CURSOR),
        (custom_query(), OLD_CUSTOM_CURSOR),
    ] {
        // Same layout: it decodes, then its fingerprint is another query's.
        let cursor = old.parse().unwrap();
        assert!(matches!(
            p.query(&q.clone().after(cursor)),
            Err(Error::CursorMismatch)
        ));
        // The first page, asked again, gives a cursor that lasts.
        assert!(p.query(&q).unwrap().next.is_some());
    }
    let cursor = OLD_RUN_CURSOR.parse().unwrap();
    assert!(matches!(
        p.query_runs(&run_query().after(cursor)),
        Err(Error::CursorMismatch)
    ));
}
