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
    // Another range is another query too (a_cursor_of_another_range_is_refused);
    // another limit is fine.
    assert!(matches!(
        p.query(&q.clone().preset(Preset::LastWeek).after(cursor)),
        Err(Error::CursorMismatch)
    ));
    assert_eq!(
        p.query(&q.clone().limit(4).after(cursor))
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

/// A custom range that ends before it starts, built through `TimeRange`'s
/// public fields (bypassing `TimeRange::new`), is `InvalidRange` wherever
/// a range is taken: queries, counts, exports, run queries, saved presets.
/// A refused preset leaves the saved ones as they were.
#[test]
fn an_inverted_range_is_refused_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    p.append(&rec(T0, 1)).unwrap();
    let inverted = TimeRange {
        from: T0,
        to: T0.saturating_sub(Duration::from_secs(60)),
    };
    let invalid = |r: runlog::Result<()>| matches!(r, Err(Error::InvalidRange { .. }));
    let q = Query::new().range(inverted);
    assert!(invalid(p.query(&q).map(drop)));
    assert!(invalid(p.count(&q).map(drop)));
    assert!(invalid(
        p.export(&q, runlog::ExportFormat::JsonLines, Vec::new(), |_| {})
            .map(drop)
    ));
    assert!(invalid(
        p.query_runs(&runlog::RunQuery::new().range(inverted))
            .map(drop)
    ));

    p.save_preset("good", SavedRange::Calendar(Preset::Yesterday))
        .unwrap();
    assert!(invalid(
        p.save_preset("bad", SavedRange::Absolute(inverted))
    ));
    let names: Vec<String> = p.presets().unwrap().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["good"]);
    assert!(p.query(&Query::new().saved("good")).is_ok());
    // An empty range (from = to) is valid, and matches nothing.
    let empty = TimeRange::new(T0, T0).unwrap();
    assert!(
        p.query(&Query::new().range(empty))
            .unwrap()
            .records
            .is_empty()
    );
    p.save_preset("empty", SavedRange::Absolute(empty)).unwrap();
}

/// A cursor carries its query's range as given: a query with another
/// range refuses it (for logs and for runs), while the same relative
/// preset keeps accepting it as time moves.
#[test]
fn a_cursor_of_another_range_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let store = open(dir.path(), &clock);
    let p = store.project("p").unwrap();
    for (i, ago) in [3 * 86_400, 120, 60, 0].into_iter().enumerate() {
        p.append(&rec(T0.saturating_sub(Duration::from_secs(ago)), i as u64))
            .unwrap();
        p.start_run(
            &runlog::NewRun::new(format!("job-{i}"), "f", runlog::Trigger::Scheduler)
                .triggered_at(T0.saturating_sub(Duration::from_secs(ago))),
        )
        .unwrap();
    }
    let week = Query::new().preset(Preset::Last7Days).limit(1);
    let cursor = p.query(&week).unwrap().next.unwrap();
    let five = Query::new().preset(Preset::Last5Minutes).after(cursor);
    assert!(matches!(p.query(&five), Err(Error::CursorMismatch)));
    assert!(p.count(&five).is_ok(), "counts take no cursor");
    assert!(matches!(
        p.export(&five, runlog::ExportFormat::Csv, Vec::new(), |_| {}),
        Err(Error::CursorMismatch)
    ));
    let custom = Query::new()
        .range(TimeRange::new(T0.saturating_sub(Duration::from_secs(300)), T0).unwrap())
        .after(cursor);
    assert!(matches!(p.query(&custom), Err(Error::CursorMismatch)));
    // The same preset, a minute later: the cursor still works.
    clock.advance(Duration::from_secs(60));
    let page = p.query(&week.clone().after(cursor)).unwrap();
    assert_eq!(page.records.len(), 1);

    let runs_week = runlog::RunQuery::new().preset(Preset::Last7Days).limit(1);
    let cursor = p.scheduled_tasks(&runs_week).unwrap().next.unwrap();
    let runs_five = runlog::RunQuery::new()
        .preset(Preset::Last5Minutes)
        .after(cursor.clone());
    assert!(matches!(
        p.scheduled_tasks(&runs_five),
        Err(Error::CursorMismatch)
    ));
    assert_eq!(
        p.scheduled_tasks(&runs_week.after(cursor))
            .unwrap()
            .runs
            .len(),
        1
    );
}
