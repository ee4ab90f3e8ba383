//! The list-append checker on hand-written histories: one per anomaly it names, each with
//! the anomaly expected and the weakest models it rules out, and histories that must stay
//! valid.

mod txn_support;

use faultline_checkers::checker::{Checker, Validity};
use faultline_checkers::txn::{ListAppend, TxnKind};
use serde_json::json;
use txn_support::*;

fn la(events: &[Event], models: &[&str]) -> faultline_checkers::checker::CheckResult {
    check_as(TxnKind::ListAppend, &history(events), models)
}

#[test]
fn serial_and_concurrent_histories_with_failures_and_unknowns_are_valid() {
    let events = concat([
        &alone(0, "ok", json!([["append", "x", 1], ["r", "x", [1]]])),
        &overlapping(
            (1, json!([["append", "x", 2], ["r", "y", []]])),
            (2, json!([["r", "x", [1, 2]], ["append", "y", 1]])),
        ),
        &alone(3, "fail", json!([["append", "x", 3]])),
        &alone(4, "info", json!([["append", "y", 2]])),
        &alone(
            5,
            "ok",
            json!([["r", "x", [1, 2]], ["r", "y", [1, 2]], ["r", "z", null]]),
        ),
    ]);
    let result = la(&events, STRICT);
    assert_valid(&result);
    assert_eq!(
        result.details["txns"],
        json!({"ok": 4, "info": 1, "fail": 1, "other-ops": 0})
    );
    // An info append nobody read, and reads of keys nobody wrote, are fine too.
    let events = concat([
        &alone(0, "info", json!([["append", 1, 1]])),
        &alone(1, "ok", json!([["r", 1, []], ["r", 2, null]])),
    ]);
    assert_valid(&la(&events, STRICT));
}

#[test]
fn g0_write_cycle() {
    // x's order is [1 2] and y's is [2 1]: T1 and T2 overwrite each other.
    let events = concat([
        &overlapping(
            (1, json!([["append", "x", 1], ["append", "y", 1]])),
            (2, json!([["append", "x", 2], ["append", "y", 2]])),
        ),
        &alone(3, "ok", json!([["r", "x", [1, 2]], ["r", "y", [2, 1]]])),
    ]);
    let result = la(&events, STRICT);
    assert_anomalies(&result, &["G0"], &["read-uncommitted"]);
    let text = explanation(&result, "G0");
    assert!(
        text.contains("T2 appended 2 after T1 appended 1 to key \"x\"")
            && text.contains("T1 appended 1 after T2 appended 2 to key \"y\""),
        "{text}"
    );
}

#[test]
fn g1a_aborted_read() {
    let events = concat([
        &alone(1, "fail", json!([["append", "x", 1]])),
        &alone(2, "ok", json!([["r", "x", [1]]])),
    ]);
    let result = la(&events, STRICT);
    assert_anomalies(&result, &["G1a"], &["read-committed"]);
    assert_eq!(
        explanation(&result, "G1a"),
        "op #3 read key \"x\" = [1], which includes 1, appended by op #1, which failed"
    );
    assert_eq!(result.details["anomalies"]["G1a"][0]["txns"], json!([3, 1]));
}

#[test]
fn g1b_intermediate_read() {
    let events = concat([
        &alone(1, "ok", json!([["append", "x", 1], ["append", "x", 2]])),
        &alone(2, "ok", json!([["r", "x", [1]]])),
    ]);
    let result = la(&events, &["read-committed"]);
    // The read also missed T1's second append though T1 had completed: allowed by
    // read-committed, reported as an other anomaly.
    assert!(
        result.details["anomaly-types"] == json!(["G1b"]),
        "{:#}",
        result.details
    );
    assert_eq!(result.valid, Validity::Invalid);
    assert_eq!(result.details["not"], json!(["read-committed"]));
}

#[test]
fn g1c_circular_information_flow() {
    let events = overlapping(
        (1, json!([["append", "x", 1], ["r", "y", [1]]])),
        (2, json!([["append", "y", 1], ["r", "x", [1]]])),
    );
    let result = la(&events, STRICT);
    assert_anomalies(&result, &["G1c"], &["read-committed"]);
    let text = explanation(&result, "G1c");
    assert_eq!(
        text,
        "T1 = op #2, T2 = op #3. T1 < T2 because T2 read T1's append of 1 to key \"x\"; \
         T2 < T1 because T1 read T2's append of 1 to key \"y\": a contradiction"
    );
}

#[test]
fn g_single_read_skew() {
    let events = overlapping(
        (1, json!([["append", 7, 3], ["append", 8, 1]])),
        (2, json!([["r", 7, [3]], ["r", 8, []]])),
    );
    let result = la(&events, STRICT);
    // An item G-single is also a G2-item (Adya), so repeatable read falls with it.
    assert_read_skew(&result);
    assert_eq!(
        explanation(&result, "G-single-item"),
        "T1 = op #2, T2 = op #3. T1 < T2 because T2 read T1's append of 3 to key 7; \
         T2 < T1 because T2's read of key 8 did not see T1's append of 1: a contradiction"
    );
    let steps = &result.details["anomalies"]["G-single-item"][0]["steps"];
    assert_eq!(steps[0]["edge"], "wr");
    assert_eq!((&steps[0]["from"], &steps[0]["to"]), (&json!(2), &json!(3)));
    assert_eq!(
        (&steps[0]["key"], &steps[0]["value"]),
        (&json!(7), &json!(3))
    );
    assert_eq!(steps[1]["edge"], "rw");
    assert_eq!(steps[1]["read"], json!([]));
    assert_eq!(
        result.details["anomalies"]["G-single-item"][0]["cycle"],
        json!([2, 3, 2])
    );
    // Allowed by read-committed: valid, with the anomaly reported as allowed.
    let rc = la(&events, &["read-committed"]);
    assert_eq!(rc.valid, Validity::Valid);
    assert_eq!(rc.details["other-anomaly-types"], json!(["G-single-item"]));
    assert_eq!(la(&events, &["repeatable-read"]).valid, Validity::Invalid);
}

#[test]
fn g_nonadjacent() {
    // T1 -rw-> T2 -wr-> T3 -rw-> T4 -wr-> T1, all concurrent.
    let t1 = json!([["r", "a", []], ["r", "d", [1]]]);
    let t2 = json!([["append", "a", 1], ["append", "b", 1]]);
    let t3 = json!([["r", "b", [1]], ["r", "c", []]]);
    let t4 = json!([["append", "c", 1], ["append", "d", 1]]);
    let mut events = Vec::new();
    for (p, t) in [(1, &t1), (2, &t2), (3, &t3), (4, &t4)] {
        events.push((p, "invoke", invocation(t)));
    }
    for (p, t) in [(1, t1), (2, t2), (3, t3), (4, t4)] {
        events.push((p, "ok", t));
    }
    let result = la(&events, STRICT);
    assert_anomalies(
        &result,
        &["G-nonadjacent-item"],
        &["repeatable-read", "snapshot-isolation"],
    );
    // Every rw edge here is on an item, so the cycle is a G2-item (Adya's PL-2.99 forbids
    // it): repeatable read does not hold. (This test once asserted the opposite.)
    assert_eq!(la(&events, &["repeatable-read"]).valid, Validity::Invalid);
}

#[test]
fn g2_item_write_skew() {
    let events = overlapping(
        (1, json!([["r", "x", []], ["append", "y", 1]])),
        (2, json!([["r", "y", []], ["append", "x", 1]])),
    );
    let result = la(&events, STRICT);
    assert_anomalies(&result, &["G2-item"], &["repeatable-read"]);
    assert_eq!(la(&events, &["snapshot-isolation"]).valid, Validity::Valid);
    // G2 itself needs predicate reads, which these workloads lack: it is only implied, and
    // a G2-item rules out what G2 rules out (serializable) as well.
    assert!(result.details["also-not"]
        .as_array()
        .unwrap()
        .contains(&json!("serializable")));
}

/// The G0, G1c and G-single cycles that only an order from T1 (run by process `p`) to T2
/// (by `q`) closes: real time when `p` and `q` differ, the process order when they are the
/// same. Asserts each is found under `models` as the anomaly with `suffix`, ruling out the
/// weakest model named with `strong` before it. Returns the G-single history (T2 a stale
/// read of T1's append).
fn assert_ordered_cycles(
    p: u64,
    q: u64,
    models: &[&str],
    suffix: &str,
    strong: &str,
) -> Vec<Event> {
    let cases = [
        (
            "G0",
            "x's order puts T2's append before T1's",
            concat([
                &alone(p, "ok", json!([["append", "x", 1]])),
                &alone(q, "ok", json!([["append", "x", 2]])),
                &alone(3, "ok", json!([["r", "x", [2, 1]]])),
            ]),
            "read-uncommitted",
        ),
        (
            "G1c",
            "T1 read what T2 appended",
            concat([
                &alone(p, "ok", json!([["r", "x", [1]]])),
                &alone(q, "ok", json!([["append", "x", 1]])),
            ]),
            "read-committed",
        ),
        (
            "G-single-item",
            "T2 does not see T1's append",
            concat([
                &alone(p, "ok", json!([["append", "x", 1]])),
                &alone(q, "ok", json!([["r", "x", []]])),
            ]),
            "snapshot-isolation",
        ),
    ];
    let mut last = Vec::new();
    for (anomaly, case, events, weakest) in cases {
        let anomaly = format!("{anomaly}-{suffix}");
        println!("{anomaly}: {case}");
        assert_anomalies(
            &la(&events, models),
            &[&anomaly],
            &[&format!("{strong}{weakest}")],
        );
        last = events;
    }
    last
}

/// A G2-item cycle T1 -rw-> T2 -rw-> T3 that only an order from T3 (run by process `p`) to
/// T1 (by `q`) closes, T2 (process 2) overlapping both: real time when `p` and `q` differ,
/// the process order when they are the same.
fn g2_item_closed_by(p: u64, q: u64) -> Vec<Event> {
    let t1 = json!([["r", "x", []]]);
    let t2 = json!([["append", "x", 1], ["r", "y", []]]);
    let t3 = json!([["append", "y", 1]]);
    vec![
        (2, "invoke", invocation(&t2)),
        (p, "invoke", invocation(&t3)),
        (p, "ok", t3),
        (q, "invoke", invocation(&t1)),
        (q, "ok", t1),
        (2, "ok", t2),
    ]
}

#[test]
fn realtime_variants() {
    // T1 completes before T2 begins.
    let stale = assert_ordered_cycles(1, 2, STRICT, "realtime", "strong-");
    let result = la(&stale, STRICT);
    assert_eq!(
        explanation(&result, "G-single-item-realtime"),
        "T1 = op #1, T2 = op #3. T1 < T2 because T1 completed (op #1) before T2 was invoked \
         (op #2); T2 < T1 because T2's read of key \"x\" did not see T1's append of 1: \
         a contradiction"
    );
    assert_eq!(la(&stale, &["serializable"]).valid, Validity::Valid);
    // G-nonadjacent-realtime: T1 -rw-> T2 -realtime-> T3 -rw-> T4 -wr-> T1.
    let t1 = json!([["r", "x", []], ["r", "w", [1]]]);
    let t2 = json!([["append", "x", 1]]);
    let t3 = json!([["r", "y", []]]);
    let t4 = json!([["append", "y", 1], ["append", "w", 1]]);
    let events = [
        (1, "invoke", invocation(&t1)),
        (2, "invoke", invocation(&t2)),
        (4, "invoke", invocation(&t4)),
        (2, "ok", t2),
        (3, "invoke", invocation(&t3)),
        (4, "ok", t4),
        (3, "ok", t3),
        (1, "ok", t1),
    ];
    assert_anomalies(
        &la(&events, STRICT),
        &["G-nonadjacent-item-realtime"],
        &["strong-snapshot-isolation"],
    );
    // G2-item-realtime: T1 -rw-> T2 -rw-> T3 -realtime-> T1.
    let result = la(&g2_item_closed_by(3, 1), STRICT);
    assert_anomalies(&result, &["G2-item-realtime"], &["strict-serializable"]);
    assert_eq!(result.details["also-not"], json!([]));
}

#[test]
fn process_variants_under_session_models() {
    let session_si = &["strong-session-snapshot-isolation"];
    // Process 1 runs T1, then T2.
    let own = assert_ordered_cycles(1, 1, session_si, "process", "strong-session-");
    let result = la(&own, session_si);
    assert!(explanation(&result, "G-single-item-process")
        .contains("because process 1 ran T1 before T2"));
    // Under strict serializability the same history names the process edge too.
    assert_anomalies(
        &la(&own, STRICT),
        &["G-single-item-process"],
        &["strong-session-snapshot-isolation"],
    );
    // G-nonadjacent-process: T1 -rw-> T2 -process-> T3 -rw-> T4 -process-> T1.
    let t1 = json!([["r", "x", []]]);
    let t2 = json!([["append", "x", 1]]);
    let t3 = json!([["r", "y", []]]);
    let t4 = json!([["append", "y", 1]]);
    let events = [
        (0, "invoke", invocation(&t2)),
        (1, "invoke", invocation(&t4)),
        (0, "ok", t2),
        (1, "ok", t4),
        (0, "invoke", invocation(&t3)),
        (1, "invoke", invocation(&t1)),
        (0, "ok", t3),
        (1, "ok", t1),
    ];
    assert_anomalies(
        &la(&events, session_si),
        &["G-nonadjacent-item-process"],
        &["strong-session-snapshot-isolation"],
    );
    // G2-item-process: T1 -rw-> T2 -rw-> T3 -process-> T1.
    assert_anomalies(
        &la(&g2_item_closed_by(1, 1), &["strong-session-serializable"]),
        &["G2-item-process"],
        &["strong-session-serializable"],
    );
}

#[test]
fn anomalies_within_a_txn_or_of_a_value_are_named_and_explained() {
    let cases = [
        (
            "internal",
            alone(1, "ok", json!([["append", "x", 1], ["r", "x", []]])).to_vec(),
            "read-atomic",
            "should read a list ending in 1",
        ),
        (
            "future-read",
            alone(1, "ok", json!([["r", "x", [1]], ["append", "x", 1]])).to_vec(),
            "read-committed",
            "which includes 1, a value it only appends later in the same txn",
        ),
        (
            "garbage-read",
            concat([
                &alone(1, "ok", json!([["append", "x", 1]])),
                &alone(2, "ok", json!([["r", "x", [1, 99]]])),
            ]),
            "read-uncommitted",
            "but no txn appended 99 to key \"x\"",
        ),
    ];
    for (anomaly, events, weakest, because) in cases {
        let result = la(&events, STRICT);
        assert_anomalies(&result, &[anomaly], &[weakest]);
        let text = explanation(&result, anomaly);
        assert!(text.ends_with(because), "{anomaly}: {text}");
    }
}

#[test]
fn lost_update() {
    let events = concat([
        &alone(0, "ok", json!([["append", "x", 1]])),
        &overlapping(
            (1, json!([["r", "x", [1]], ["append", "x", 2]])),
            (2, json!([["r", "x", [1]], ["append", "x", 3]])),
        ),
    ]);
    let result = la(&events, STRICT);
    // Two txns that each missed the other's append are also a G2-item cycle.
    assert_anomalies(
        &result,
        &["G2-item", "lost-update"],
        &["cursor-stability", "update-atomic"],
    );
    assert_eq!(
        explanation(&result, "lost-update"),
        "op #4, op #5 all read key \"x\" = [1] and then appended to it: all but one of these \
         updates is lost"
    );
}

#[test]
fn duplicate_elements_are_an_anomaly_not_an_error() {
    let events = concat([
        &alone(1, "ok", json!([["append", "x", 1]])),
        &alone(2, "ok", json!([["r", "x", [1, 1]]])),
    ]);
    let result = la(&events, STRICT);
    assert_anomalies(&result, &["duplicate-elements"], &["read-uncommitted"]);
    assert_eq!(
        result.details["anomalies"]["duplicate-elements"][0]["duplicates"],
        json!([[1, 2]])
    );
}

#[test]
fn dirty_update() {
    let events = concat([
        &alone(1, "fail", json!([["append", "x", 1]])),
        &alone(2, "ok", json!([["append", "x", 2]])),
        &alone(3, "ok", json!([["r", "x", [1, 2]]])),
    ]);
    let result = la(&events, STRICT);
    assert_anomalies(&result, &["G1a", "dirty-update"], &["read-committed"]);
    assert_eq!(
        result.details["anomalies"]["dirty-update"][0]["values"],
        json!([1, 2])
    );
}

#[test]
fn incompatible_order() {
    let events = concat([
        &overlapping(
            (1, json!([["append", "x", 1]])),
            (2, json!([["append", "x", 2]])),
        ),
        &overlapping(
            (3, json!([["r", "x", [1, 2]]])),
            (4, json!([["r", "x", [2, 1]]])),
        ),
    ]);
    let result = la(&events, &["read-committed"]);
    assert_anomalies(&result, &["incompatible-order"], &["read-committed"]);
    assert_eq!(
        result.details["anomalies"]["incompatible-order"][0]["values"],
        json!([[1, 2], [2, 1]])
    );
}

#[test]
fn bad_input_is_an_error_naming_the_op() {
    let err = |events: &[Event]| {
        faultline_checkers::txn::check(TxnKind::ListAppend, &history(events), &Default::default())
            .unwrap_err()
            .to_string()
    };
    let twice = concat([
        &alone(1, "ok", json!([["append", "x", 1]])),
        &alone(2, "fail", json!([["append", "x", 1]])),
    ]);
    assert_eq!(
        err(&twice),
        "op #3: appends 1 to key \"x\", which op #1 also appends; appended values must be \
         unique per key"
    );
    let e = err(&alone(1, "ok", json!([["r", "x", 3]])));
    assert!(
        e.starts_with("op #1: micro-op 0") && e.contains("which is not a list"),
        "{e}"
    );
    let e = err(&alone(1, "ok", json!([["w", "x", 3]])));
    assert!(
        e.starts_with("op #1: micro-op 0") && e.contains("not one of append and r"),
        "{e}"
    );
    let e = err(&[(1, "invoke", json!({"append": 1}))]);
    assert!(e.starts_with("op #0: a txn's value must be a list"), "{e}");
    // The Checker answers unknown with the error as its reason, never panics.
    let result = ListAppend::default().check(&history(&twice));
    assert_eq!(result.valid, Validity::Unknown);
    assert!(result.reasons[0].contains("op #3"), "{:?}", result.reasons);
}

#[test]
fn nothing_committed_is_unknown() {
    let events = alone(1, "fail", json!([["append", "x", 1]]));
    let result = la(&events, STRICT);
    assert_eq!(result.valid, Validity::Unknown);
    assert!(result
        .reasons
        .iter()
        .any(|r| r.contains("no txn committed")));
}

/// Write skew between T0 and T1, and read skew between T1 and T2, in one component.
fn skews() -> Vec<Event> {
    let t0 = json!([["r", "x", []], ["append", "y", 1]]);
    let t1 = json!([
        ["r", "y", []],
        ["append", "x", 1],
        ["append", "z", 1],
        ["append", "w", 1]
    ]);
    let t2 = json!([["r", "z", [1]], ["r", "w", []]]);
    let mut events = Vec::new();
    for (p, t) in [(0, &t0), (1, &t1), (2, &t2)] {
        events.push((p, "invoke", invocation(t)));
    }
    for (p, t) in [(0, t0), (1, t1), (2, t2)] {
        events.push((p, "ok", t));
    }
    events
}

#[test]
fn a_search_out_of_budget_is_unknown_and_named() {
    use faultline_checkers::txn::{check, ConsistencyModel, TxnOptions};
    let si = TxnOptions {
        consistency_models: vec![ConsistencyModel::SNAPSHOT_ISOLATION],
        ..TxnOptions::default()
    };
    let complete = check(TxnKind::ListAppend, &history(&skews()), &si).unwrap();
    assert_read_skew(&complete);
    // With no budget the searches stop at once; the cycle every component still yields is
    // the write skew, which snapshot isolation allows: G-single is undecided.
    let spent = TxnOptions {
        visits_per_search: 0,
        ..si
    };
    let result = check(TxnKind::ListAppend, &history(&skews()), &spent).unwrap();
    assert_eq!(result.valid, Validity::Unknown, "{:?}", result.reasons);
    assert_eq!(result.details["other-anomaly-types"], json!(["G2-item"]));
    assert_eq!(
        result.details["undecided"][0],
        json!({"anomaly": "G-single-item", "component-size": 3})
    );
    assert!(result.reasons.iter().any(|r| r
        == "undecided: the search for G-single-item in a cycle of 3 txns ran out of its budget"));
    // Against strict serializability the same spent search is still invalid: any cycle is.
    let strict = TxnOptions {
        visits_per_search: 0,
        ..TxnOptions::default()
    };
    let result = check(TxnKind::ListAppend, &history(&skews()), &strict).unwrap();
    assert_eq!(result.valid, Validity::Invalid);
    // A memory budget too small for the graph: unknown, saying so.
    let tiny = TxnOptions {
        memory_limit_bytes: Some(1),
        ..TxnOptions::default()
    };
    let result = check(TxnKind::ListAppend, &history(&skews()), &tiny).unwrap();
    assert_eq!(result.valid, Validity::Unknown);
    assert!(
        result.reasons[0].contains("over the memory budget"),
        "{:?}",
        result.reasons
    );
}
