//! Golden tests of the cursor fingerprints: the documented encoding, its
//! pinned hashes, and that distinct queries never share a fingerprint.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::query::Query;
use crate::query::filter::Filter;
use crate::runs::RunQuery;
use crate::time::{Preset, TimeRange, Timestamp};

fn fp(q: &Query) -> u64 {
    Filter::new(q).fingerprint(&q.range)
}

fn bytes(q: &Query) -> Vec<u8> {
    let mut out = Vec::new();
    encode_logs(
        &mut out,
        &q.range,
        q.level_mask(),
        q.include_superseded,
        q.exact.iter().map(|(f, v)| (*f, v.as_str())),
        &q.words,
    );
    out
}

fn run_bytes(q: &RunQuery) -> Vec<u8> {
    let mut out = Vec::new();
    encode_runs(&mut out, &q.filters());
    out
}

fn custom() -> TimeRange {
    TimeRange::new(
        Timestamp::from_secs(1_700_000_000),
        Timestamp::from_secs(1_700_003_600),
    )
    .unwrap()
}

/// A string as the encoding writes it.
fn s(v: &str) -> Vec<u8> {
    [&(v.len() as u64).to_le_bytes()[..], v.as_bytes()].concat()
}

#[test]
fn fnv1a64_matches_the_published_test_vectors() {
    assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
}

/// The documented encoding, byte for byte.
#[test]
fn encodings_are_the_documented_bytes() {
    let q = Query::new()
        .preset(Preset::Today)
        .level(Level::Error)
        .level(Level::Warn)
        .flow("f")
        .env("prod")
        .text("b A");
    let want = [
        &b"L\x01"[..],
        &[1],
        &s("today"),
        &[0b1100, 0],
        &2u64.to_le_bytes(),
        &s("env"),
        &s("prod"),
        &s("flow"),
        &s("f"),
        &2u64.to_le_bytes(),
        &s("a"),
        &s("b"),
    ]
    .concat();
    assert_eq!(bytes(&q), want);
    assert_eq!(fp(&q), fnv1a64(&want));

    let q = Query::new()
        .range(custom())
        .include_superseded(true)
        .last(Duration::new(90, 5));
    let want = [
        &b"L\x01"[..],
        &[2],
        &90u64.to_le_bytes(),
        &5u32.to_le_bytes(),
        &[0b1111, 1],
        &0u64.to_le_bytes(),
        &0u64.to_le_bytes(),
    ]
    .concat();
    assert_eq!(bytes(&q), want);

    let q = RunQuery::new()
        .range(custom())
        .env("prod")
        .job_id("j")
        .status(RunStatus::Failed)
        .status(RunStatus::Running)
        .trigger(Trigger::Manual);
    let want = [
        &b"R\x01"[..],
        &[3],
        &1_700_000_000_000_000i64.to_le_bytes(),
        &1_700_003_600_000_000i64.to_le_bytes(),
        &[0, 1],
        &s("prod"),
        &[0, 0, 1],
        &s("j"),
        &[0b1001, 0b100],
    ]
    .concat();
    assert_eq!(run_bytes(&q), want);
    assert_eq!(q.fingerprint(), fnv1a64(&want));

    let q = RunQuery::new().saved("month end");
    let want = [&b"R\x01"[..], &[4], &s("month end"), &[0; 7]].concat();
    assert_eq!(run_bytes(&q), want);
}

/// Fingerprints of fixed queries, computed once and pinned: a change
/// of the encoding (or of the hash) fails here, and would refuse every
/// cursor users have stored.
#[test]
fn golden_log_fingerprints() {
    let cases = [
        (Query::new(), 0x929f_c1f3_170f_0269),
        (
            Query::new()
                .preset(Preset::Last7Days)
                .level(Level::Error)
                .env("prod")
                .flow("sync-orders")
                .text("Connection refused"),
            0x18c2_318e_5c25_ede0,
        ),
        (
            Query::new()
                .range(custom())
                .min_level(Level::Warn)
                .job_id("job-7f3a")
                .component("HTTP")
                .include_superseded(true),
            0xe2ec_cab1_3133_ed95,
        ),
        (
            Query::new().all_time().app("shop").version("1.4.2"),
            0x0487_7c19_4329_7989,
        ),
        (
            Query::new().last(Duration::from_secs(90)).text("timeout"),
            0x3e6e_be6f_030c_0062,
        ),
        (
            Query::new().saved("incident").action("request"),
            0x0608_bb90_358d_743a,
        ),
    ];
    for (i, (q, want)) in cases.iter().enumerate() {
        assert_eq!(fp(q), *want, "case {i}: {q:?} = {:#x}", fp(q));
    }
}

#[test]
fn golden_run_fingerprints() {
    let cases = [
        (RunQuery::new(), 0xfdd1_8a1a_c061_6d00),
        (
            RunQuery::scheduled()
                .preset(Preset::Last7Days)
                .flow("sync-orders")
                .status(RunStatus::Failed),
            0xf6ca_e54e_c691_8454,
        ),
        (
            RunQuery::new()
                .range(custom())
                .env("prod")
                .app("shop")
                .version("1.4.2")
                .job_id("job-7f3a")
                .status(RunStatus::Running)
                .status(RunStatus::Retrying)
                .trigger(Trigger::Event),
            0x34bf_0184_7d2a_6caf,
        ),
        (
            RunQuery::new().all_time().trigger(Trigger::Manual),
            0xe20e_09eb_f55f_17db,
        ),
    ];
    for (i, (q, want)) in cases.iter().enumerate() {
        assert_eq!(
            q.fingerprint(),
            *want,
            "case {i}: {q:?} = {:#x}",
            q.fingerprint()
        );
    }
}

/// What a log query's fingerprint must tell apart: its range, its
/// levels (no filter is every level), its equality filters and its
/// words (both sets; the builder keeps them sorted), superseded or not.
fn key(q: &Query) -> impl PartialEq + fmt::Debug + '_ {
    (
        &q.range,
        q.level_mask(),
        &q.exact,
        &q.words,
        q.include_superseded,
    )
}

/// What a run query's must: everything but the limit and the cursor.
fn run_key(q: &RunQuery) -> impl PartialEq + fmt::Debug + '_ {
    (
        &q.range,
        [&q.flow, &q.env, &q.app, &q.version, &q.job_id],
        q.statuses,
        q.triggers,
    )
}

/// Fingerprints and encodings agree exactly when the queries do.
fn check_all_pairs(qs: &[Query]) {
    for a in qs {
        for b in qs {
            let same = key(a) == key(b);
            assert_eq!(bytes(a) == bytes(b), same, "{a:?}\n{b:?}");
            assert_eq!(fp(a) == fp(b), same, "{a:?}\n{b:?}");
        }
    }
}

fn check_all_run_pairs(qs: &[RunQuery]) {
    for a in qs {
        for b in qs {
            let same = run_key(a) == run_key(b);
            assert_eq!(run_bytes(a) == run_bytes(b), same, "{a:?}\n{b:?}");
            assert_eq!(a.fingerprint() == b.fingerprint(), same, "{a:?}\n{b:?}");
        }
    }
}

/// Ranges that differ in one thing each.
fn ranges() -> Vec<RangeSpec> {
    let r = custom();
    let mut out: Vec<RangeSpec> = Preset::ALL.into_iter().map(RangeSpec::Preset).collect();
    out.extend([
        RangeSpec::Last(Duration::from_secs(1)),
        RangeSpec::Last(Duration::new(1, 1)),
        RangeSpec::Last(Duration::from_secs(1800)),
        RangeSpec::Custom(r),
        RangeSpec::Custom(TimeRange {
            from: Timestamp::from_micros(r.from.as_micros() + 1),
            ..r
        }),
        RangeSpec::Custom(TimeRange {
            to: Timestamp::from_micros(r.to.as_micros() + 1),
            ..r
        }),
        RangeSpec::Custom(TimeRange::all()),
        // A saved preset named like a built-in one is another range.
        RangeSpec::Saved("last-30m".into()),
        RangeSpec::Saved("incident".into()),
        RangeSpec::Saved("Incident".into()),
        RangeSpec::Saved(String::new()),
    ]);
    out
}

#[test]
fn log_fingerprints_tell_every_single_change_apart() {
    let base = || {
        Query::new()
            .preset(Preset::LastDay)
            .level(Level::Error)
            .env("prod")
            .flow("f")
            .text("a b")
    };
    let mut qs = vec![
        base(),
        // Filters removed one at a time.
        Query::new()
            .preset(Preset::LastDay)
            .env("prod")
            .flow("f")
            .text("a b"),
        Query::new()
            .preset(Preset::LastDay)
            .level(Level::Error)
            .flow("f")
            .text("a b"),
        Query::new()
            .preset(Preset::LastDay)
            .level(Level::Error)
            .env("prod")
            .text("a b"),
        Query::new()
            .preset(Preset::LastDay)
            .level(Level::Error)
            .env("prod")
            .flow("f"),
        base().level(Level::Warn),
        base().levels(&[Level::Debug]),
        base().include_superseded(true),
        base().env("Prod"),
        base().env("prod "),
        base().env(""),
        base().text("c"),
        base().text("aa"),
        Query::new()
            .preset(Preset::LastDay)
            .level(Level::Error)
            .env("prod")
            .flow("f")
            .text("a"),
        Query::new()
            .preset(Preset::LastDay)
            .level(Level::Error)
            .env("prod")
            .flow("f")
            .text("ab"),
    ];
    for (_, f) in crate::index::IndexField::EXACT {
        qs.push(base().field(f, "x"));
    }
    for r in ranges() {
        let mut q = base();
        q.range = r;
        qs.push(q);
    }
    check_all_pairs(&qs);
    // Every one of them differs from the others but the ranges' LastDay.
    let distinct: HashSet<u64> = qs.iter().map(fp).collect();
    assert_eq!(distinct.len(), qs.len() - 1);
}

#[test]
fn run_fingerprints_tell_every_single_change_apart() {
    let base = || {
        RunQuery::new()
            .preset(Preset::LastDay)
            .flow("f")
            .env("prod")
            .status(RunStatus::Failed)
            .trigger(Trigger::Scheduler)
    };
    let mut qs = vec![
        base(),
        RunQuery::new()
            .preset(Preset::LastDay)
            .env("prod")
            .status(RunStatus::Failed)
            .trigger(Trigger::Scheduler),
        RunQuery::new()
            .preset(Preset::LastDay)
            .flow("f")
            .status(RunStatus::Failed)
            .trigger(Trigger::Scheduler),
        RunQuery::new()
            .preset(Preset::LastDay)
            .flow("f")
            .env("prod")
            .trigger(Trigger::Scheduler),
        RunQuery::new()
            .preset(Preset::LastDay)
            .flow("f")
            .env("prod")
            .status(RunStatus::Failed),
        base().flow("F"),
        base().flow(""),
        base().env("prod\0"),
        base().app("x"),
        base().version("x"),
        base().job_id("x"),
        base().app(""),
    ];
    for s in RunStatus::ALL {
        qs.push(base().status(s));
    }
    for t in Trigger::ALL {
        qs.push(base().trigger(t));
    }
    for r in ranges() {
        let mut q = base();
        q.range = r;
        qs.push(q);
    }
    check_all_run_pairs(&qs);
    let distinct: HashSet<u64> = qs.iter().map(RunQuery::fingerprint).collect();
    // base().status(Failed), base().trigger(Scheduler) and the range
    // LastDay are base() again.
    assert_eq!(distinct.len(), qs.len() - 3);
}

#[test]
fn split_points_and_fields_are_kept_apart() {
    let pairs = [
        (Query::new().text("ab c"), Query::new().text("a bc")),
        // The NUL that ended each word before this encoding.
        (Query::new().text("a\0b"), Query::new().text("a b")),
        (Query::new().text("a\0"), Query::new().text("a")),
        (
            Query::new().env("ab").flow("c"),
            Query::new().env("a").flow("bc"),
        ),
        (Query::new().env("x"), Query::new().flow("x")),
        (Query::new().env("x"), Query::new().text("x")),
        (Query::new().env(""), Query::new()),
        (Query::new().job_id("env"), Query::new().env("job_id")),
        (Query::new().saved("last-30m"), Query::new()),
    ];
    for (a, b) in &pairs {
        assert_ne!(bytes(a), bytes(b), "{a:?} {b:?}");
        assert_ne!(fp(a), fp(b), "{a:?} {b:?}");
    }
    let run_pairs = [
        (
            RunQuery::new().flow("ab").env("c"),
            RunQuery::new().flow("a").env("bc"),
        ),
        (RunQuery::new().flow("x"), RunQuery::new().env("x")),
        (RunQuery::new().app("x"), RunQuery::new().version("x")),
        (RunQuery::new().job_id("x"), RunQuery::new().version("x")),
        (RunQuery::new().flow(""), RunQuery::new()),
        (
            RunQuery::new().status(RunStatus::Running),
            RunQuery::new().trigger(Trigger::Scheduler),
        ),
    ];
    for (a, b) in &run_pairs {
        assert_ne!(run_bytes(a), run_bytes(b), "{a:?} {b:?}");
        assert_ne!(a.fingerprint(), b.fingerprint(), "{a:?} {b:?}");
    }
}

#[test]
fn the_same_query_however_built_has_one_fingerprint() {
    let same = [
        Query::new().env("e").flow("f").text("b a"),
        Query::new().flow("f").env("e").text("a").text("b"),
        Query::new().flow("x").flow("f").env("e").text("a b A"),
        Query::new().env("e").flow("f").text("b a").limit(7),
        Query::new()
            .env("e")
            .flow("f")
            .text("b a")
            .bucket(Duration::from_secs(60)),
    ];
    let levels = [
        Query::new(),
        Query::new().levels(&Level::ALL),
        Query::new().levels(&[]),
        Query::new().min_level(Level::Debug),
    ];
    let errors_and_warnings = [
        Query::new().level(Level::Error).level(Level::Warn),
        Query::new().levels(&[Level::Warn, Level::Error]),
        Query::new().min_level(Level::Warn),
    ];
    for group in [&same[..], &levels, &errors_and_warnings] {
        let fps: HashSet<u64> = group.iter().map(fp).collect();
        assert_eq!(fps.len(), 1, "{group:?}");
    }
    let runs = [
        RunQuery::new()
            .status(RunStatus::Failed)
            .status(RunStatus::Running)
            .flow("f"),
        RunQuery::new()
            .flow("f")
            .status(RunStatus::Running)
            .status(RunStatus::Failed)
            .limit(3),
    ];
    assert_eq!(runs[0].fingerprint(), runs[1].fingerprint());
    // What `Project::scheduled_tasks` asks is `RunQuery::scheduled()`.
    let mut sched = RunQuery::new();
    sched.triggers = 1 << Trigger::Scheduler.code();
    assert_eq!(sched.fingerprint(), RunQuery::scheduled().fingerprint());
}

fn range_strategy() -> impl Strategy<Value = RangeSpec> {
    prop_oneof![
        prop::sample::select(Preset::ALL.to_vec()).prop_map(RangeSpec::Preset),
        (0..3u64, 0..2u32).prop_map(|(s, n)| RangeSpec::Last(Duration::new(s, n))),
        (-2..2i64, 0..2i64).prop_map(|(from, len)| RangeSpec::Custom(TimeRange {
            from: Timestamp::from_micros(from),
            to: Timestamp::from_micros(from + len),
        })),
        "[ab]{0,2}".prop_map(RangeSpec::Saved),
    ]
}

/// A log query from its parts: equality filters (field index, value)
/// and text in the order given.
fn log_query(
    range: RangeSpec,
    levels: &[Level],
    exact: &[(usize, String)],
    text: &[String],
    superseded: bool,
) -> Query {
    let mut q = Query::new().levels(levels).include_superseded(superseded);
    q.range = range;
    for (f, v) in exact {
        q = q.field(crate::index::IndexField::EXACT[*f].1, v.clone());
    }
    for t in text {
        q = q.text(t);
    }
    q
}

fn log_query_strategy() -> impl Strategy<Value = Query> {
    (
        range_strategy(),
        prop::collection::vec(prop::sample::select(Level::ALL.to_vec()), 0..3),
        prop::collection::vec((0..8usize, "[ab\\x00]{0,2}"), 0..4),
        prop::collection::vec("[aAb\\x00 ]{0,4}", 0..3),
        any::<bool>(),
    )
        .prop_map(|(r, l, e, t, s)| log_query(r, &l, &e, &t, s))
}

fn run_query_strategy() -> impl Strategy<Value = RunQuery> {
    let opt = || prop::option::of("[ab\\x00]{0,2}");
    (
        range_strategy(),
        [opt(), opt(), opt(), opt(), opt()],
        prop::collection::vec(prop::sample::select(RunStatus::ALL.to_vec()), 0..3),
        prop::collection::vec(prop::sample::select(Trigger::ALL.to_vec()), 0..3),
    )
        .prop_map(|(range, [flow, env, app, version, job_id], ss, ts)| {
            let mut q = RunQuery {
                range,
                flow,
                env,
                app,
                version,
                job_id,
                ..RunQuery::new()
            };
            for s in ss {
                q = q.status(s);
            }
            for t in ts {
                q = q.trigger(t);
            }
            q
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64),
        ..ProptestConfig::default()
    })]

    /// Two random log queries (small alphabets, so that they often
    /// agree): the same fingerprint exactly when the same query; the
    /// filters given in another order change nothing.
    #[test]
    fn log_fingerprints_agree_exactly_when_queries_do(
        a in log_query_strategy(),
        b in log_query_strategy(),
        (r, l, e, t, s) in (
            range_strategy(),
            prop::collection::vec(prop::sample::select(Level::ALL.to_vec()), 0..3),
            prop::collection::vec((0..8usize, "[ab]{0,2}"), 0..4),
            prop::collection::vec("[ab ]{0,4}", 0..3),
            any::<bool>(),
        ),
    ) {
        check_all_pairs(&[a, b]);
        // Given in another order: fields (a later filter on a field
        // replaces an earlier one, so keep the last of each), words.
        let mut last: Vec<(usize, String)> = Vec::new();
        for (f, v) in &e {
            last.retain(|(g, _)| g != f);
            last.push((*f, v.clone()));
        }
        let forward = log_query(r.clone(), &l, &last, &t, s);
        last.reverse();
        let mut rl = l.clone();
        rl.reverse();
        let words: Vec<String> = t.iter().rev().flat_map(|w| w.split(' ').rev()).map(str::to_string).collect();
        let backward = log_query(r, &rl, &last, &words, s);
        prop_assert_eq!(fp(&forward), fp(&backward));
    }

    #[test]
    fn run_fingerprints_agree_exactly_when_queries_do(
        a in run_query_strategy(),
        b in run_query_strategy(),
    ) {
        check_all_run_pairs(&[a, b]);
    }
}
