//! Property tests of the txn checkers: histories from the serial and the strictly
//! serializable concurrent simulators are always valid under strict serializability (and
//! so under every model), for both workloads and every shape; a stale read that misses a
//! write completed before its txn began is always invalid; with reads replaced at random,
//! verdicts respect the lattice (what is invalid under a model is invalid under a stronger
//! one); and no input, however malformed, makes a checker panic.

use faultline_checkers::checker::Validity;
use faultline_checkers::history::{History, Op, OpType, Process};
use faultline_checkers::txn::simulate::{generate, mutate_stale_read, TxnSimConfig};
use faultline_checkers::txn::{
    check, detect, ConsistencyModel, TxnKind, TxnOptions, VersionOrders,
};
use proptest::prelude::*;
use serde_json::{json, Value};

fn config() -> impl Strategy<Value = TxnSimConfig> {
    (
        prop_oneof![Just(TxnKind::ListAppend), Just(TxnKind::RwRegister)],
        1usize..7,
        1usize..80,
        1usize..5,
        (1usize..4, 0usize..4),
        1usize..6,
        (0.0f64..0.2, 0.0f64..0.2),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(
            |(
                kind,
                clients,
                txns,
                key_count,
                (min, extra),
                max_writes,
                (info, fail),
                serial,
                seed,
            )| {
                TxnSimConfig {
                    kind,
                    clients,
                    txns,
                    key_count,
                    min_txn_length: min,
                    max_txn_length: min + extra,
                    max_writes_per_key: max_writes,
                    info_rate: info,
                    fail_rate: fail,
                    serial,
                    seed,
                }
            },
        )
}

fn committed(history: &History) -> bool {
    history.ops.iter().any(|op| op.kind == OpType::Ok)
}

fn verdict(kind: TxnKind, history: &History) -> (Validity, Vec<String>) {
    let result = check(kind, history, &TxnOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    (result.valid, result.reasons)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn simulated_histories_are_valid(config in config()) {
        let history = generate(&config);
        let (valid, reasons) = verdict(config.kind, &history);
        if committed(&history) {
            prop_assert_eq!(valid, Validity::Valid, "{:?}", reasons);
        } else {
            prop_assert_eq!(valid, Validity::Unknown);
        }
        if let Some(kind) = detect(&history) {
            prop_assert_eq!(kind, config.kind);
        }
        // Strictly serializable histories have linearizable keys: every source of version
        // order holds, and none may find a contradiction.
        if config.kind == TxnKind::RwRegister && committed(&history) {
            let every_source = TxnOptions {
                version_orders: VersionOrders {
                    wfr_keys: true,
                    sequential_keys: true,
                    linearizable_keys: true,
                },
                ..TxnOptions::default()
            };
            let result = check(config.kind, &history, &every_source).unwrap();
            prop_assert_eq!(result.valid, Validity::Valid, "{:?}", result.reasons);
        }
    }

    #[test]
    fn a_stale_read_is_invalid(config in config(), pick in any::<u64>()) {
        let history = generate(&config);
        if let Some(stale) = mutate_stale_read(&history, pick) {
            let (valid, reasons) = verdict(config.kind, &stale);
            prop_assert_eq!(valid, Validity::Invalid, "{:?}", reasons);
        }
    }
}

/// `history` with each committed read's result replaced, `pick` choosing how: list-append
/// reads become short lists of small values (duplicates and values nobody wrote included),
/// rw-register reads a small value or null.
fn scramble_reads(history: &History, mut pick: impl FnMut() -> u64) -> History {
    let mut scrambled = history.clone();
    for op in &mut scrambled.ops {
        if op.kind != OpType::Ok {
            continue;
        }
        for mop in op.value.as_array_mut().into_iter().flatten() {
            if mop[0] != "r" || !pick().is_multiple_of(3) {
                continue;
            }
            mop[2] = if mop[2].is_array() {
                Value::Array((0..pick() % 4).map(|_| json!(pick() % 6)).collect())
            } else if pick().is_multiple_of(4) {
                Value::Null
            } else {
                json!(1 + pick() % 5)
            };
        }
    }
    scrambled
}

fn under(kind: TxnKind, history: &History, model: &str) -> Validity {
    let options = TxnOptions {
        consistency_models: vec![model.parse::<ConsistencyModel>().unwrap()],
        ..TxnOptions::default()
    };
    check(kind, history, &options).map_or(Validity::Unknown, |r| r.valid)
}

/// A small JSON value of any shape.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<i8>().prop_map(|i| json!(i)),
        Just(json!(1.5)),
        Just(json!(true)),
        prop_oneof![Just("r"), Just("append"), Just("w"), Just("x")].prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop::collection::vec(inner, 0..4).prop_map(Value::Array)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn verdicts_respect_the_lattice(config in config(), seed in any::<u64>()) {
        let mut state = seed;
        let pick = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            state >> 33
        };
        let history = scramble_reads(&generate(&config), pick);
        let chain = ["read-committed", "repeatable-read", "serializable", "strict-serializable"];
        let verdicts: Vec<Validity> = chain.iter().map(|m| under(config.kind, &history, m)).collect();
        for pair in verdicts.windows(2) {
            // Invalid under a weaker model stays invalid under a stronger one.
            prop_assert!(pair[0] != Validity::Invalid || pair[1] == Validity::Invalid, "{:?}", verdicts);
            prop_assert!(pair[1] != Validity::Valid || pair[0] == Validity::Valid, "{:?}", verdicts);
        }
    }

    #[test]
    fn malformed_txns_are_errors_never_panics(values in prop::collection::vec(any_json(), 1..12)) {
        let mut ops = Vec::new();
        for (i, value) in values.into_iter().enumerate() {
            let process = Process::Client(i as u64 % 3);
            ops.push(Op::new(process, OpType::Invoke, "txn", value.clone()));
            let kind = [OpType::Ok, OpType::Fail, OpType::Info][i % 3];
            ops.push(Op::new(process, kind, "txn", value));
        }
        let history = History::from_ops(ops);
        for kind in [TxnKind::ListAppend, TxnKind::RwRegister] {
            let _ = check(kind, &history, &TxnOptions::default());
        }
        let _ = detect(&history);
    }
}

#[test]
fn large_concurrent_histories_are_valid_and_stale_reads_are_found() {
    for kind in [TxnKind::ListAppend, TxnKind::RwRegister] {
        let config = TxnSimConfig {
            kind,
            ..TxnSimConfig::list_append(20, 5_000, 11)
        };
        let history = generate(&config);
        assert_eq!(verdict(kind, &history).0, Validity::Valid);
        let mut found = 0;
        for pick in 0..20 {
            let stale = mutate_stale_read(&history, pick).expect("a read to make stale");
            assert_eq!(verdict(kind, &stale).0, Validity::Invalid);
            found += 1;
        }
        assert_eq!(found, 20);
    }
}
