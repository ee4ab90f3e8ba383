//! Complete checking's benchmark: a generated rw-register history of 10,000 txns (10
//! clients, 100 active keys, each retired after 32 writes; serializable by construction)
//! checked completely for snapshot isolation, and the same history with a long fork
//! planted on two fresh keys, which no version order makes snapshot-isolated.
//!
//! Run with `cargo bench -p faultline-checkers --bench complete`. Before timing, each case
//! is checked once and its verdict asserted, with complete checking's counts printed (how
//! many write pairs were unresolved, forced by pruning, left to the SAT search); speed is
//! never asserted.

use criterion::{criterion_group, criterion_main, Criterion};
use faultline_checkers::checker::Validity;
use faultline_checkers::history::{History, Op, OpType, Process};
use faultline_checkers::txn::simulate::{generate, invocation_of, TxnSimConfig};
use faultline_checkers::txn::{check, ConsistencyModel, TxnKind, TxnOptions};
use serde_json::{json, Value};

const TXNS: usize = 10_000;

fn config() -> TxnSimConfig {
    TxnSimConfig {
        key_count: 100,
        ..TxnSimConfig::rw_register(10, TXNS, 22)
    }
}

/// The generated history, with a long fork on fresh keys appended when `planted`: T0 writes
/// both keys, T1 and T2 each overwrite one, T3 and T4 each see one overwrite but not the
/// other; all five concurrent, on processes of their own.
fn history(planted: bool) -> History {
    let history = generate(&config());
    if !planted {
        return history;
    }
    let mut ops = history.ops;
    let (x, y) = ("fork-x", "fork-y");
    let txns: [Value; 5] = [
        json!([["w", x, 0], ["w", y, 0]]),
        json!([["w", x, 1]]),
        json!([["w", y, 1]]),
        json!([["r", x, 1], ["r", y, 0]]),
        json!([["r", x, 0], ["r", y, 1]]),
    ];
    let process = |i: usize| Process::Client(1_000_000 + i as u64);
    for (i, t) in txns.iter().enumerate() {
        ops.push(Op::new(process(i), OpType::Invoke, "txn", invocation_of(t)));
    }
    for (i, t) in txns.iter().enumerate() {
        ops.push(Op::new(process(i), OpType::Ok, "txn", t.clone()));
    }
    History::from_ops(ops)
}

fn options() -> TxnOptions {
    TxnOptions {
        consistency_models: vec![ConsistencyModel::SNAPSHOT_ISOLATION],
        ..TxnOptions::default()
    }
}

fn bench(c: &mut Criterion) {
    for (name, planted, want) in [
        ("rw-register 10k txns, complete SI", false, Validity::Valid),
        (
            "rw-register 10k txns + long fork, complete SI",
            true,
            Validity::Invalid,
        ),
    ] {
        let history = history(planted);
        let result = check(TxnKind::RwRegister, &history, &options()).unwrap();
        assert_eq!(result.valid, want, "{name}: {:?}", result.reasons);
        println!(
            "{name}: {} decided by {} in {:.3} s; complete: {}",
            result.valid,
            result.details["decided-by"],
            result.details["seconds"].as_f64().unwrap_or(0.0),
            json!({
                "unresolved-pairs": result.details["complete"]["unresolved-pairs"],
                "forced-by-pruning": result.details["complete"]["forced-by-pruning"],
                "pruning-rounds": result.details["complete"]["pruning-rounds"],
                "sat-variables": result.details["complete"]["sat-variables"],
                "sat-cycles-cut": result.details["complete"]["sat-cycles-cut"],
                "seconds": result.details["complete"]["seconds"],
            })
        );
        c.bench_function(name, |b| {
            b.iter(|| {
                check(TxnKind::RwRegister, &history, &options())
                    .unwrap()
                    .valid
            })
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
