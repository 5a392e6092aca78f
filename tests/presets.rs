//! Time ranges on a store: clamping to the horizon, saved presets that
//! persist, and typed errors for bad queries and cursors.

mod common;

use std::time::Duration;

use common::*;
use runlog::{Error, Preset, Query, RangeSpec, SavedRange, TimeRange, Timestamp};

#[test]
fn ranges_past_the_horizon_are_clamped_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = runlog::StoreOptions::new()
        .clock(clock.clone())
        .retention(Duration::from_secs(7 * 86_400))
        .open(dir.path())
        .unwrap();
    let p = store.project("p").unwrap();
    let r = p.resolve(&RangeSpec::Preset(Preset::Last30Days)).unwrap();
    assert!(r.clamped);
    assert_eq!(
        r.range.from,
        T0.saturating_sub(Duration::from_secs(7 * 86_400))
    );
    let r = p.resolve(&RangeSpec::Preset(Preset::LastDay)).unwrap();
    assert!(!r.clamped);
    let page = p.query(&Query::new().preset(Preset::Last30Days)).unwrap();
    assert!(page.range.clamped);
}

#[test]
fn saved_presets_persist_and_resolve_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    {
        let store = open(dir.path(), &clock);
        let p = store.project("p").unwrap();
        p.save_preset("last 2 hours", SavedRange::Last(Duration::from_secs(7200)))
            .unwrap();
        p.save_preset("yesterday", SavedRange::Calendar(Preset::Yesterday))
            .unwrap();
        let fixed = TimeRange::new(T0.saturating_sub(secs(100)), T0).unwrap();
        p.save_preset("incident", SavedRange::Absolute(fixed))
            .unwrap();
        p.save_preset("incident", SavedRange::Absolute(fixed))
            .unwrap(); // replaces
        p.append(&rec(T0.saturating_sub(secs(50)), 1)).unwrap();
    }
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    let names: Vec<_> = p.presets().unwrap().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["incident", "last 2 hours", "yesterday"]);
    let r = p
        .resolve(&RangeSpec::Saved("last 2 hours".into()))
        .unwrap()
        .range;
    assert_eq!(r.from, T0.saturating_sub(secs(7200)));
    assert_eq!(
        p.query(&Query::new().saved("incident"))
            .unwrap()
            .records
            .len(),
        1
    );
    assert_eq!(
        p.query(&Query::new().saved("yesterday"))
            .unwrap()
            .records
            .len(),
        0
    );
    assert!(p.delete_preset("incident").unwrap());
    assert!(!p.delete_preset("incident").unwrap());
    assert!(matches!(
        p.query(&Query::new().saved("incident")),
        Err(Error::UnknownPreset { name }) if name == "incident"
    ));
    assert!(matches!(
        p.save_preset("", SavedRange::Calendar(Preset::Today)),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        p.save_preset("x", SavedRange::Last(Duration::ZERO)),
        Err(Error::InvalidArgument { .. })
    ));
    // Read-only stores list presets but cannot change them.
    let ro = options(&clock)
        .open_read_only(dir.path())
        .unwrap()
        .project("p")
        .unwrap();
    assert_eq!(ro.presets().unwrap().len(), 2);
    assert!(matches!(
        ro.save_preset("z", SavedRange::Calendar(Preset::Today)),
        Err(Error::ReadOnly { .. })
    ));
}

#[test]
fn cursor_misuse_gives_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    for i in 0..10 {
        p.append(&rec(T0.saturating_sub(secs(100 - i)), i)).unwrap();
    }
    let q = Query::new().limit(3);
    let page = p.query(&q).unwrap();
    let cursor = page.next.unwrap();
    // Another query's filters.
    assert!(matches!(
        p.query(&q.clone().env("prod").after(cursor)),
        Err(Error::CursorMismatch)
    ));
    // The same filters with another range or limit are fine: the range is pinned by the cursor.
    assert_eq!(
        p.query(&q.clone().preset(Preset::LastWeek).limit(4).after(cursor))
            .unwrap()
            .records
            .len(),
        4
    );
    // Text round trip; garbage refused.
    let text = cursor.to_string();
    assert_eq!(text.parse::<runlog::Cursor>().unwrap(), cursor);
    assert!(matches!(
        "zzz".parse::<runlog::Cursor>(),
        Err(Error::InvalidCursor { .. })
    ));
    // Paging to the end: every record once.
    let mut all = page.records;
    let mut next = page.next;
    while let Some(c) = next {
        let pg = p.query(&q.clone().after(c)).unwrap();
        all.extend(pg.records);
        next = pg.next;
    }
    assert_eq!(all.len(), 10);
    // Once retention dropped everything, a cursor ends cleanly.
    clock.advance(Duration::from_secs(31 * 86_400));
    p.enforce_retention().unwrap();
    let pg = p.query(&q.clone().after(cursor)).unwrap();
    assert!(pg.records.is_empty() && pg.next.is_none());
}

#[test]
fn an_inverted_custom_range_is_refused() {
    assert!(matches!(
        TimeRange::new(Timestamp::from_secs(10), Timestamp::from_secs(9)),
        Err(Error::InvalidRange { .. })
    ));
}

#[test]
fn counts_by_bucket_cover_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    for i in 0..30u64 {
        p.append(&rec(T0.saturating_sub(secs(i * 60)), i)).unwrap();
    }
    let c = p
        .count(
            &Query::new()
                .last(Duration::from_secs(1800))
                .bucket(Duration::from_secs(600)),
        )
        .unwrap();
    assert_eq!(c.total, 30); // minutes 0 to 29 back: all within the last 30 minutes
    assert_eq!(c.buckets.iter().map(|b| b.1).sum::<u64>(), c.total);
    assert!(c.buckets.len() >= 3 && c.buckets.len() <= 4);
    assert!(matches!(
        p.count(&Query::new().all_time().bucket(Duration::from_micros(1))),
        Err(Error::InvalidArgument { what: "bucket", .. })
    ));
}
