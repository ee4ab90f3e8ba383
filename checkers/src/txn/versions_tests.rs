//! Each version-order source with an anomaly planted that only it reveals, and the session
//! order with what it may and may not claim.

use serde_json::{json, Value};

use crate::checker::{CheckResult, Validity};
use crate::history::{History, Op, OpType, Process};
use crate::txn::simulate::invocation_of;
use crate::txn::{check, ConsistencyModel, TxnKind, TxnOptions, VersionOrders};

/// Txns run one after another: `(process, micro-ops with results)`.
fn serial(txns: &[(u64, Value)]) -> History {
    let mut ops = Vec::new();
    for (p, mops) in txns {
        ops.push(Op::new(
            Process::Client(*p),
            OpType::Invoke,
            "txn",
            invocation_of(mops),
        ));
        ops.push(Op::new(
            Process::Client(*p),
            OpType::Ok,
            "txn",
            mops.clone(),
        ));
    }
    History::from_ops(ops)
}

fn run(h: &History, models: &[&str], orders: VersionOrders) -> CheckResult {
    let options = TxnOptions {
        consistency_models: models
            .iter()
            .map(|m| m.parse::<ConsistencyModel>().unwrap())
            .collect(),
        version_orders: orders,
        ..TxnOptions::default()
    };
    check(TxnKind::RwRegister, h, &options).unwrap()
}

const NO_SOURCE: VersionOrders = VersionOrders {
    wfr_keys: false,
    sequential_keys: false,
    linearizable_keys: false,
};

/// Each source alone.
const WFR: VersionOrders = VersionOrders {
    wfr_keys: true,
    ..NO_SOURCE
};
const SEQUENTIAL: VersionOrders = VersionOrders {
    sequential_keys: true,
    ..NO_SOURCE
};
const LINEARIZABLE: VersionOrders = VersionOrders {
    linearizable_keys: true,
    ..NO_SOURCE
};

fn types(r: &CheckResult) -> Value {
    r.details["anomaly-types"].clone()
}

#[test]
fn a_session_orders_its_own_writes_under_session_models() {
    // Process 0 writes x = 2, then x = 3, then reads x = 2.
    let h = serial(&[
        (0, json!([["w", "x", 2]])),
        (0, json!([["w", "x", 3]])),
        (0, json!([["r", "x", 2]])),
    ]);
    for model in [
        "strong-session-snapshot-isolation",
        "strong-session-serializable",
        "strong-snapshot-isolation",
        "strict-serializable",
    ] {
        let r = run(&h, &[model], VersionOrders::default());
        assert_eq!(r.valid, Validity::Invalid, "{model}: {:?}", r.reasons);
        assert_eq!(types(&r), json!(["G-single-item-process"]), "{model}");
        assert_eq!(
            r.details["not"],
            json!(["strong-session-snapshot-isolation"])
        );
        let step = &r.details["anomalies"]["G-single-item-process"][0]["steps"];
        let said = step.to_string();
        assert!(
            said.contains("the order of a session's own writes"),
            "{said}"
        );
    }
    // Models that allow G0-process do not get the assumption: nothing orders 2 and 3.
    for model in ["serializable", "snapshot-isolation", "read-committed"] {
        let r = run(&h, &[model], VersionOrders::default());
        assert_eq!(r.valid, Validity::Valid, "{model}: {:?}", r.reasons);
    }
}

#[test]
fn a_cycle_through_a_session_order_is_never_a_data_anomaly() {
    // T2 -wr-> R (y), and R -rw-> T2 only if 2 < 3, which rests on process 0's order of
    // its writes: were it 3 < 2, process 0 would show G0-process instead. Either way strong
    // session SI falls, but nothing weaker: the claim is G-single-item-process, not
    // G-single-item (which would rule out consistent-view).
    let h = serial(&[
        (0, json!([["w", "x", 2]])),
        (0, json!([["w", "x", 3], ["w", "y", 1]])),
        (1, json!([["r", "x", 2], ["r", "y", 1]])),
    ]);
    let r = run(&h, &["strict-serializable"], VersionOrders::default());
    assert_eq!(r.valid, Validity::Invalid, "{:?}", r.reasons);
    assert_eq!(types(&r), json!(["G-single-item-process"]));
    assert_eq!(
        r.details["not"],
        json!(["strong-session-snapshot-isolation"])
    );
    let r = run(&h, &["serializable"], VersionOrders::default());
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.reasons);
}

#[test]
fn wfr_keys_order_a_txn_read_before_its_write() {
    // B read x = 1 and wrote x = 2, so 1 < 2; C saw B's q but read x = 1: C -rw-> B -wr-> C.
    let h = serial(&[
        (0, json!([["w", "x", 1]])),
        (1, json!([["r", "x", 1], ["w", "x", 2], ["w", "q", 1]])),
        (2, json!([["r", "x", 1], ["r", "q", 1]])),
    ]);
    let r = run(&h, &["serializable"], WFR);
    assert_eq!(r.valid, Validity::Invalid, "{:?}", r.reasons);
    assert_eq!(types(&r), json!(["G-single-item"]));
    assert_eq!(r.details["decided-by"], json!("inference"));
    // Without the source the inferred graph has no cycle, yet every order of 1 and 2
    // closes one (2 < 1: B -ww-> A -wr-> B): complete checking finds it, the inference
    // alone does not.
    let r = run(&h, &["serializable"], NO_SOURCE);
    assert_eq!(r.valid, Validity::Invalid, "{:?}", r.reasons);
    assert_eq!(r.details["decided-by"], json!("complete (pruning)"));
    let inferred_only = TxnOptions {
        consistency_models: vec![ConsistencyModel::SERIALIZABLE],
        version_orders: NO_SOURCE,
        complete_pairs: 0,
        ..TxnOptions::default()
    };
    let r = check(TxnKind::RwRegister, &h, &inferred_only).unwrap();
    assert_eq!(r.valid, Validity::Valid);
    assert_eq!(r.details["decided-by"], json!("inference"));
}

/// V writes x = 1 and z = 1; W writes x = 2 and reads z unset: W -rw-> V, and V -ww-> W
/// whenever something orders 1 before 2.
fn ordered_by(readers: bool) -> History {
    let mut txns = vec![
        (1, json!([["w", "x", 1], ["w", "z", 1]])),
        (2, json!([["w", "x", 2], ["r", "z", null]])),
    ];
    if readers {
        // Process 0 reads x = 1, then x = 2.
        txns.push((0, json!([["r", "x", 1]])));
        txns.push((0, json!([["r", "x", 2]])));
    }
    serial(&txns)
}

#[test]
fn sequential_keys_order_versions_by_each_process() {
    let h = ordered_by(true);
    let r = run(&h, &["serializable"], SEQUENTIAL);
    assert_eq!(r.valid, Validity::Invalid, "{:?}", r.reasons);
    assert_eq!(types(&r), json!(["G-single-item"]));
    // Without the source, 2 < 1 leaves no cycle: serializability does not ask process 0
    // to see the versions in order.
    let r = run(&h, &["serializable"], NO_SOURCE);
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.reasons);
    assert_eq!(r.details["complete"]["witness"]["\"x\""], json!([2, 1]));
}

#[test]
fn linearizable_keys_order_versions_by_real_time() {
    // V completes before W is invoked, so 1 < 2 on a linearizable key.
    let h = ordered_by(false);
    let r = run(&h, &["serializable"], LINEARIZABLE);
    assert_eq!(r.valid, Validity::Invalid, "{:?}", r.reasons);
    // And z went back from 1 to unset after V completed: on a linearizable key, that is
    // a cycle of versions (real time is dropped for z, and kept for x).
    assert_eq!(types(&r), json!(["G-single-item", "cyclic-versions"]));
    assert_eq!(run(&h, &["serializable"], NO_SOURCE).valid, Validity::Valid);
    // Sequential keys say nothing here: V and W are different processes.
    assert_eq!(
        run(&h, &["serializable"], SEQUENTIAL).valid,
        Validity::Valid
    );
}
