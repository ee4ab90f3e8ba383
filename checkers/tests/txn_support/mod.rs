//! Helpers shared by the txn tests: histories written as short lists of events, and
//! assertions on a txn checker's result.

#![allow(dead_code)]

use faultline_checkers::checker::{CheckResult, Validity};
use faultline_checkers::history::{History, Op, OpType, Process};
use faultline_checkers::txn::{check, ConsistencyModel, TxnKind, TxnOptions};
use serde_json::{json, Value};

/// One event of a written history: a process, `invoke`/`ok`/`fail`/`info`, and the txn.
pub type Event = (u64, &'static str, Value);

/// Only the strongest model, strict serializability.
pub const STRICT: &[&str] = &["strict-serializable"];

/// The events of `parts`, one after another.
pub fn concat<const N: usize>(parts: [&[Event]; N]) -> Vec<Event> {
    parts.iter().flat_map(|p| p.iter().cloned()).collect()
}

/// A history of txn ops from events.
pub fn history(events: &[Event]) -> History {
    History::from_ops(
        events
            .iter()
            .map(|(process, kind, value)| {
                let kind = match *kind {
                    "invoke" => OpType::Invoke,
                    "ok" => OpType::Ok,
                    "fail" => OpType::Fail,
                    "info" => OpType::Info,
                    other => panic!("unknown op type {other}"),
                };
                Op::new(Process::Client(*process), kind, "txn", value.clone())
            })
            .collect(),
    )
}

/// The invocation of a txn whose completion is `done`: reads carry `null`.
pub use faultline_checkers::txn::simulate::invocation_of as invocation;

/// Events for a txn on `process` that runs alone: invoke then `kind`.
pub fn alone(process: u64, kind: &'static str, done: Value) -> [Event; 2] {
    [
        (process, "invoke", invocation(&done)),
        (process, kind, done),
    ]
}

/// Events for two txns that overlap, each on its process: both invoked, then both ok.
pub fn overlapping((p, done): (u64, Value), (q, then): (u64, Value)) -> [Event; 4] {
    [
        (p, "invoke", invocation(&done)),
        (q, "invoke", invocation(&then)),
        (p, "ok", done),
        (q, "ok", then),
    ]
}

/// Check `history` as `kind` against `models`.
pub fn check_as(kind: TxnKind, history: &History, models: &[&str]) -> CheckResult {
    let options = TxnOptions {
        consistency_models: models
            .iter()
            .map(|m| m.parse::<ConsistencyModel>().unwrap())
            .collect(),
        ..TxnOptions::default()
    };
    check(kind, history, &options).unwrap_or_else(|e| panic!("{e}"))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// Assert that `result` is invalid with exactly `types` found (those the models forbid and
/// those they allow together) and `not` as the weakest models ruled out.
pub fn assert_anomalies(result: &CheckResult, types: &[&str], not: &[&str]) {
    let mut found = strings(&result.details["anomaly-types"]);
    found.extend(strings(&result.details["other-anomaly-types"]));
    found.sort();
    let mut want: Vec<String> = types.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(found, want, "{:#}", result.details);
    assert_eq!(strings(&result.details["not"]), not, "{:#}", result.details);
    if !strings(&result.details["anomaly-types"]).is_empty() {
        assert_eq!(result.valid, Validity::Invalid, "{:?}", result.reasons);
    }
}

/// Assert that `result` found read skew: a G-single-item cycle alone, which (being a
/// G2-item too) rules out consistent view and repeatable read.
pub fn assert_read_skew(result: &CheckResult) {
    assert_anomalies(
        result,
        &["G-single-item"],
        &["consistent-view", "repeatable-read"],
    );
}

/// Assert that `result` is valid with no anomaly at all.
pub fn assert_valid(result: &CheckResult) {
    assert_eq!(
        result.valid,
        Validity::Valid,
        "{:?}\n{:#}",
        result.reasons,
        result.details
    );
    assert_eq!(result.details["anomaly-counts"], json!({}));
}

/// The explanation of the first case of `anomaly`.
pub fn explanation(result: &CheckResult, anomaly: &str) -> String {
    result.details["anomalies"][anomaly][0]["explanation"]
        .as_str()
        .unwrap_or_else(|| panic!("no {anomaly} in {:#}", result.details))
        .to_string()
}
