//! Fuzzing of what arrives from outside: change bodies a county pushes, XLSX and CSV files a
//! clerk imports, dates typed in requests. Each target feeds generated and mutated inputs to the
//! real decoding function and fails on any panic (proptest catches it and shrinks the input).
//!
//! CI runs a bounded number of cases per target (`DEFAULT_CASES`). A longer run:
//!
//!     XUNCHA_FUZZ_CASES=20000 cargo test -p xuncha-tests --test fuzz -- --nocapture
//!
//! prints, per target, the executions, the crashes and the seed; `XUNCHA_FUZZ_SEED=<hex>`
//! replays a seed.

use std::fmt::Debug;
use std::time::Instant;

use chrono::{NaiveDate, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::Value;
use xuncha_domain::ids::*;
use xuncha_domain::model::*;
use xuncha_domain::{ChangeKind, Kind, Meta, NodeId, Record, State};
use xuncha_store::{Change, LEDGER_EVENT_KIND, Received, parse_change};

/// Cases per target in CI.
const DEFAULT_CASES: u32 = 400;

/// Runs `test` on `cases` inputs from `strategy`; panics naming the smallest failing input.
fn fuzz<S>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S: Strategy,
    S::Value: Debug,
{
    let cases = std::env::var("XUNCHA_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_CASES);
    let seed: [u8; 32] = match std::env::var("XUNCHA_FUZZ_SEED") {
        Ok(hex) => {
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .filter_map(|i| hex.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
                .collect();
            bytes.try_into().expect("XUNCHA_FUZZ_SEED: 64 hex digits")
        }
        Err(_) => rand::random(),
    };
    let seed_hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    let config = Config { cases, failure_persistence: None, max_shrink_iters: 2_000, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
    let started = Instant::now();
    // Shrinking runs count too: they are executions of the target.
    let executions = std::sync::atomic::AtomicU64::new(0);
    let outcome = runner.run(&strategy, |v| {
        executions.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        test(v)
    });
    let crashes = u32::from(outcome.is_err());
    println!(
        "fuzz {name}: {} executions, {crashes} crashes, {:.1} s, seed {seed_hex}",
        executions.into_inner(),
        started.elapsed().as_secs_f64()
    );
    if let Err(e) = outcome {
        panic!("fuzz {name} (seed {seed_hex}): {e}");
    }
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// Valid records as a county would send them (kind, body), to mutate.
fn seed_records() -> Vec<(String, Value)> {
    let county = NodeId::county("anping").unwrap();
    let meta = Meta { owner: county.clone(), version: 3, updated_at: Utc::now() };
    let round = Round {
        id: RoundId(uuid::Uuid::now_v7()),
        meta: meta.clone(),
        term: TermId(uuid::Uuid::now_v7()),
        number: 7,
        name: "第七轮".into(),
        dates: RoundDates { enter_on: day("2026-03-01"), leave_on: day("2026-04-30"), feedback_on: day("2026-05-20") },
        report_due_months: 2,
        group_size: GroupSize { min: 3, max: 5 },
        status: RoundStatus::FeedbackGiven,
        amendments: vec![],
    };
    let target = Target {
        id: TargetId(uuid::Uuid::now_v7()),
        meta,
        round: round.id,
        group: GroupId(uuid::Uuid::now_v7()),
        unit: UnitId(uuid::Uuid::now_v7()),
        kind: TargetKind::Regular,
        scope: Some("专项".into()),
        assignment: None,
        inherited_findings: vec![FindingId(uuid::Uuid::now_v7())],
        feedback_on: Some(day("2026-05-20")),
        report_submitted_on: None,
        lead_count: 2,
    };
    [Record::Round(round), Record::Target(target)]
        .iter()
        .map(|r| (r.kind().as_str().to_string(), serde_json::to_value(r).unwrap()))
        .collect()
}

/// A JSON value a peer might put anywhere.
fn any_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)),
        ".{0,40}".prop_map(Value::String),
        prop_oneof![Just("9999-12-31"), Just("0000-01-01"), Just("2026-02-30"), Just("+262143-01-01"), Just("")]
            .prop_map(|s| Value::String(s.into())),
        Just(Value::Array(vec![])),
        Just(Value::Object(Default::default())),
    ]
}

/// Replaces, removes or duplicates the `pick`-th node of `v` (depth first).
fn mutate(v: &mut Value, pick: &mut usize, leaf: &Value, how: u8) -> bool {
    if *pick == 0 {
        match how % 3 {
            0 => *v = leaf.clone(),
            1 => {
                if let Value::Object(m) = v
                    && let Some(k) = m.keys().next().cloned()
                {
                    m.remove(&k);
                } else {
                    *v = Value::Null;
                }
            }
            _ => *v = Value::Array(vec![v.clone(), leaf.clone()]),
        }
        return true;
    }
    *pick -= 1;
    match v {
        Value::Object(m) => m.values_mut().any(|c| mutate(c, pick, leaf, how)),
        Value::Array(a) => a.iter_mut().any(|c| mutate(c, pick, leaf, how)),
        _ => false,
    }
}

/// A change (kind, id, body): a mutated valid record under its own kind and id, or any kind
/// and text.
fn any_change() -> impl Strategy<Value = (String, String, String)> {
    let seeds = seed_records();
    let kinds: Vec<String> =
        Kind::ALL.iter().map(|k| k.as_str().to_string()).chain([LEDGER_EVENT_KIND.to_string()]).collect();
    let edits = prop::collection::vec((any::<usize>(), any_leaf(), any::<u8>()), 0..4);
    let mutated = (0..seeds.len(), edits).prop_map(move |(i, edits)| {
        let (kind, mut v) = seeds[i].clone();
        let id = v.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        for (pick, leaf, how) in edits {
            let mut pick = pick % 64;
            mutate(&mut v, &mut pick, &leaf, how);
        }
        (kind, id, v.to_string())
    });
    let text = prop_oneof![
        ".{0,200}",
        prop::collection::vec(any::<u8>(), 0..200).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ];
    let kind = prop_oneof![9 => prop::sample::select(kinds), 1 => ".{0,20}"];
    prop_oneof![
        4 => mutated,
        1 => (kind, ".{0,40}", text),
    ]
}

#[test]
fn change_bodies_are_decoded_and_checked_without_a_panic() {
    let county = NodeId::county("anping").unwrap();
    let city = NodeId::city();
    fuzz("change-body", any_change(), |(kind, id, body)| {
        // The edge parses the kind first: only a known one reaches the body.
        let Some(kind) = ChangeKind::parse(&kind) else {
            let known = Kind::ALL.iter().any(|k| k.as_str() == kind) || kind == LEDGER_EVENT_KIND;
            return if known { Err(TestCaseError::fail(format!("known kind {kind:?} not parsed"))) } else { Ok(()) };
        };
        let change = Change { seq: 1, kind, id, version: 1, body };
        if let Ok(Received::Record(r)) = parse_change(&change) {
            let mut state = State::default();
            if xuncha_domain::validate::check_received(&state, &county, &city, &r, &|_, _| false).is_ok() {
                state.put(r);
                let today = day("2026-12-06");
                let _ = xuncha_domain::oversight::oversight(&state, today);
                let _ = xuncha_domain::oversight::overdue_reports(&state, today);
                let _ = xuncha_domain::oversight::overdue_items(&state, today);
            }
        }
        Ok(())
    });
}

/// Text a clerk might have in a roster cell: dates in every shape, numbers, Chinese, junk.
fn any_cell() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,6}",
        "[0-9]{4}[-/.年][0-9]{1,2}[-/.月]?([0-9]{1,2}日?)?",
        "-?[0-9]{1,12}(\\.[0-9]{1,6})?",
        prop::sample::select(vec!["男", "女", "正处", "副科", "财务审计", "是", "否", "县财政局", ""])
            .prop_map(str::to_string),
        ".{0,30}",
    ]
}

fn any_roster() -> impl Strategy<Value = (Vec<String>, Vec<Vec<String>>)> {
    let names: Vec<String> = xuncha_domain::roster::ROSTER_COLUMNS
        .iter()
        .flat_map(|(en, zh, _)| [en.to_string(), zh.to_string()])
        .chain(["其他".to_string(), String::new()])
        .collect();
    (prop::collection::vec(prop::sample::select(names), 0..12), 0..8usize).prop_flat_map(|(header, n)| {
        let width = header.len().max(1);
        (Just(header), prop::collection::vec(prop::collection::vec(any_cell(), 0..=width + 1), n))
    })
}

#[test]
fn roster_tables_and_csv_files_are_read_without_a_panic() {
    fuzz("roster-csv", (any_roster(), prop::collection::vec(any::<u8>(), 0..300)), |((header, rows), junk)| {
        let today = day("2026-12-06");
        let _ = xuncha_domain::roster::parse_roster(&State::default(), true, today, &header, &rows);
        // The same table as a CSV file, and bytes that are none.
        let mut csv = header.join(",");
        for r in &rows {
            csv.push('\n');
            csv.push_str(&r.iter().map(|c| format!("\"{}\"", c.replace('"', "\"\""))).collect::<Vec<_>>().join(","));
        }
        for bytes in [csv.as_bytes(), &junk] {
            if let Ok(t) = xuncha_api::tabular::read_csv(bytes) {
                let _ = xuncha_domain::roster::parse_roster(&State::default(), false, today, &t.header, &t.rows);
            }
        }
        Ok(())
    });
}

#[test]
fn xlsx_files_whole_or_damaged_are_read_without_a_panic() {
    let strategy = (any_roster(), prop::collection::vec((any::<usize>(), any::<u8>()), 0..6), 0..2u8);
    fuzz("xlsx", strategy, |((header, rows), flips, truncate)| {
        let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
        let mut bytes = xuncha_api::tabular::write_xlsx("人才库", &header_refs, &rows).map_err(|e| {
            // Writing what the strategy made is not what is fuzzed here.
            TestCaseError::reject(format!("not writable: {e}"))
        })?;
        for (at, byte) in flips {
            let i = at % bytes.len();
            bytes[i] ^= byte;
        }
        if truncate == 1 {
            bytes.truncate(bytes.len() / 2);
        }
        if let Ok(t) = xuncha_api::tabular::read_xlsx(&bytes) {
            let _ = xuncha_domain::roster::parse_roster(&State::default(), true, day("2026-12-06"), &t.header, &t.rows);
        }
        Ok(())
    });
}

#[test]
fn typed_dates_parse_or_are_refused_without_a_panic() {
    let text =
        prop_oneof!["[0-9+-]{0,12}", "[0-9]{1,6}-[0-9]{1,3}-[0-9]{1,3}", " *[0-9]{4}-[0-9]{2}-[0-9]{2} *", ".{0,20}"];
    fuzz("date", text, |text| {
        match xuncha_domain::common::parse_date("enter_on", &text) {
            Ok(d) => {
                let again = xuncha_domain::common::parse_date("enter_on", &d.format("%Y-%m-%d").to_string());
                prop_assert_eq!(again.ok(), Some(d));
            }
            Err(e) => prop_assert!(e.to_string().contains("enter_on"), "{}", e),
        }
        Ok(())
    });
}
