//! The rw-register checker on hand-written histories: each anomaly it names with the
//! weakest models that anomaly rules out, version orders from their sources, and histories
//! that must stay valid.

mod txn_support;

use faultline_checkers::checker::{CheckResult, Validity};
use faultline_checkers::txn::{check, TxnKind, TxnOptions, VersionOrders};
use serde_json::json;
use txn_support::*;

fn rw(events: &[Event], models: &[&str]) -> CheckResult {
    check_as(TxnKind::RwRegister, &history(events), models)
}

/// Check `events` with the default models and these version orders.
fn rw_ordered(events: &[Event], version_orders: VersionOrders) -> CheckResult {
    let options = TxnOptions {
        version_orders,
        ..TxnOptions::default()
    };
    check(TxnKind::RwRegister, &history(events), &options).unwrap()
}

#[test]
fn reads_of_writes_in_order_are_valid() {
    let events = concat([
        &alone(1, "ok", json!([["r", "x", null], ["w", "x", 1]])),
        &alone(
            2,
            "ok",
            json!([["r", "x", 1], ["w", "x", 2], ["r", "x", 2]]),
        ),
        &alone(3, "fail", json!([["w", "y", 9]])),
        &alone(4, "info", json!([["w", "y", 1]])),
        &alone(5, "ok", json!([["r", "x", 2], ["r", "y", null]])),
    ]);
    assert_valid(&rw(&events, STRICT));
}

#[test]
fn g1a_g1b_and_garbage_reads() {
    let aborted = concat([
        &alone(1, "fail", json!([["w", "x", 1]])),
        &alone(2, "ok", json!([["r", "x", 1]])),
    ]);
    let result = rw(&aborted, STRICT);
    assert_anomalies(&result, &["G1a"], &["read-committed"]);
    assert_eq!(
        explanation(&result, "G1a"),
        "op #3 read key \"x\" = 1, written by op #1, which failed"
    );
    let intermediate = concat([
        &alone(1, "ok", json!([["w", "x", 1], ["w", "x", 2]])),
        &alone(2, "ok", json!([["r", "x", 1]])),
    ]);
    let result = rw(&intermediate, &["read-committed"]);
    assert_anomalies(&result, &["G1b"], &["read-committed"]);
    // Elle's rw-register does not report a value nobody wrote; this checker does.
    let garbage = alone(1, "ok", json!([["r", "x", 5]]));
    let result = rw(&garbage, STRICT);
    assert_anomalies(&result, &["garbage-read"], &["read-uncommitted"]);
    assert_eq!(
        explanation(&result, "garbage-read"),
        "op #1 read key \"x\" = 5, but no txn wrote 5 to key \"x\""
    );
}

#[test]
fn internal_inconsistency() {
    let events = concat([
        &alone(1, "ok", json!([["w", "x", 2]])),
        &alone(2, "ok", json!([["w", "x", 1], ["r", "x", 2]])),
    ]);
    let result = rw(&events, STRICT);
    assert!(
        result.details["anomaly-types"]
            .as_array()
            .unwrap()
            .contains(&json!("internal")),
        "{:#}",
        result.details
    );
    assert_eq!(
        explanation(&result, "internal"),
        "op #3 read key \"x\" = 2, but it wrote 1 earlier in the same txn"
    );
}

#[test]
fn g1c_and_g_single() {
    let g1c = overlapping(
        (1, json!([["w", "x", 1], ["r", "y", 1]])),
        (2, json!([["w", "y", 1], ["r", "x", 1]])),
    );
    assert_anomalies(&rw(&g1c, STRICT), &["G1c"], &["read-committed"]);
    // Read skew: T2 sees T1's x but not its y (null comes before every value).
    let skew = overlapping(
        (1, json!([["w", "x", 1], ["w", "y", 1]])),
        (2, json!([["r", "x", 1], ["r", "y", null]])),
    );
    let result = rw(&skew, STRICT);
    assert_read_skew(&result);
    assert_eq!(
        explanation(&result, "G-single-item"),
        "T1 = op #2, T2 = op #3. T1 < T2 because T2 read T1's write of 1 to key \"x\"; \
         T2 < T1 because T2's read of key \"y\" saw the initial null, so it did not see T1's \
         write of 1: a contradiction"
    );
}

#[test]
fn lost_update_and_write_skew_from_writes_follow_reads() {
    let events = concat([
        &alone(0, "ok", json!([["w", "x", 1]])),
        &overlapping(
            (1, json!([["r", "x", 1], ["w", "x", 2]])),
            (2, json!([["r", "x", 1], ["w", "x", 3]])),
        ),
    ]);
    let result = rw(&events, STRICT);
    assert_anomalies(
        &result,
        &["G2-item", "lost-update"],
        &["cursor-stability", "update-atomic"],
    );
    let text = explanation(&result, "G2-item");
    assert!(
        text.contains("did not see T2's write of 3, which follows it in the version order (by writes follow reads)"),
        "{text}"
    );
    // Without writes-follow-reads nothing orders 2 and 3 after 1: only the lost update.
    let result = rw_ordered(
        &events,
        VersionOrders {
            wfr_keys: false,
            ..VersionOrders::default()
        },
    );
    assert_anomalies(
        &result,
        &["lost-update"],
        &["cursor-stability", "update-atomic"],
    );
}

#[test]
fn stale_reads_by_real_time_and_process() {
    let stale = concat([
        &alone(1, "ok", json!([["w", "x", 1]])),
        &alone(2, "ok", json!([["r", "x", null]])),
    ]);
    assert_anomalies(
        &rw(&stale, STRICT),
        &["G-single-item-realtime"],
        &["strong-snapshot-isolation"],
    );
    assert_eq!(rw(&stale, &["serializable"]).valid, Validity::Valid);
    let own = concat([
        &alone(1, "ok", json!([["w", "x", 1]])),
        &alone(1, "ok", json!([["r", "x", null]])),
    ]);
    assert_anomalies(
        &rw(&own, &["strong-session-serializable"]),
        &["G-single-item-process"],
        &["strong-session-snapshot-isolation"],
    );
}

#[test]
fn a_source_that_makes_versions_cyclic_is_dropped_and_reported() {
    // Writes follow reads put 1 before 2; process 0 then reads 2 and later 1.
    let events = concat([
        &alone(4, "ok", json!([["w", "x", 1]])),
        &alone(3, "ok", json!([["r", "x", 1], ["w", "x", 2]])),
        &alone(0, "ok", json!([["r", "x", 2]])),
        &alone(0, "ok", json!([["r", "x", 1]])),
    ]);
    let result = rw_ordered(
        &events,
        VersionOrders {
            sequential_keys: true,
            ..VersionOrders::default()
        },
    );
    let types = &result.details["anomaly-types"];
    assert!(
        types
            .as_array()
            .unwrap()
            .contains(&json!("cyclic-versions")),
        "{types}"
    );
    assert_eq!(result.details["not"], json!(["read-uncommitted"]));
    let case = &result.details["anomalies"]["cyclic-versions"][0];
    assert_eq!(
        (&case["key"], &case["source"]),
        (&json!("x"), &json!("process order"))
    );
    // The non-monotonic reads themselves are a cycle through the process order.
    assert!(
        types
            .as_array()
            .unwrap()
            .contains(&json!("G-single-item-process")),
        "{types}"
    );
}

#[test]
fn linearizable_keys_give_version_orders_from_real_time() {
    // T1's write of x completes before T2's begins, so with real-time version orders 1 < 2;
    // T3, concurrent with T2, saw T2's y but T1's x: read skew, visible only with them.
    let events = concat([
        &alone(1, "ok", json!([["w", "x", 1]])),
        &overlapping(
            (2, json!([["w", "x", 2], ["w", "y", 1]])),
            (3, json!([["r", "x", 1], ["r", "y", 1]])),
        ),
    ]);
    // The inference alone orders nothing here and finds no cycle ...
    let inferred_only = TxnOptions {
        complete_pairs: 0,
        ..TxnOptions::default()
    };
    assert_valid(&check(TxnKind::RwRegister, &history(&events), &inferred_only).unwrap());
    // ... but either order of x's writes closes one under strict serializability: 2 < 1
    // against real time (T1 completed before T2 began), 1 < 2 the read skew.
    let complete = rw(&events, STRICT);
    assert_eq!(complete.valid, Validity::Invalid);
    assert_eq!(complete.details["decided-by"], json!("complete (pruning)"));
    let realtime = VersionOrders {
        linearizable_keys: true,
        ..VersionOrders::default()
    };
    let result = rw_ordered(&events, realtime);
    assert_read_skew(&result);
    // A read of x = 1 after x = 2 completed contradicts real-time version orders: the key
    // is not linearizable, reported as cyclic versions (and real time dropped for it).
    let stale = concat([
        &alone(1, "ok", json!([["w", "x", 1]])),
        &alone(2, "ok", json!([["w", "x", 2]])),
        &alone(3, "ok", json!([["r", "x", 1]])),
    ]);
    let result = rw_ordered(&stale, realtime);
    assert_anomalies(&result, &["cyclic-versions"], &["read-uncommitted"]);
}

#[test]
fn a_value_written_twice_is_an_error() {
    let events = concat([
        &alone(1, "ok", json!([["w", "x", 1]])),
        &alone(2, "ok", json!([["w", "x", 1]])),
    ]);
    let e = check(
        TxnKind::RwRegister,
        &history(&events),
        &TxnOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "op #3: writes 1 to key \"x\", which op #1 also writes; written values must be unique per key"
    );
}
