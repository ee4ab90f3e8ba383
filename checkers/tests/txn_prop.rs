//! Property tests of the txn checkers: histories from the serial and the strictly
//! serializable concurrent simulators are always valid under strict serializability (and
//! so under every model), for both workloads and every shape; a stale read that misses a
//! write completed before its txn began is always invalid.

use faultline_checkers::checker::Validity;
use faultline_checkers::history::{History, OpType};
use faultline_checkers::txn::simulate::{generate, mutate_stale_read, TxnSimConfig};
use faultline_checkers::txn::{check, detect, TxnKind, TxnOptions};
use proptest::prelude::*;

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
