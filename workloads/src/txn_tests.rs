//! Tests of the transactional workloads' generators on the simulated controller: the shape
//! of transactions, unique values per key, key rotation, the key distribution, and the final
//! reads.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::Value;

use super::*;
use crate::generator::testkit::{Entry, Sim};

const MS: Duration = Duration::from_millis(1);

fn workload(kind: TxnKind, txn: TxnOptions) -> Txn {
    Txn::new(
        kind,
        &WorkloadOptions {
            txn,
            ..WorkloadOptions::default()
        },
    )
    .unwrap()
}

fn run(w: &Txn, ops: usize, seed: u64) -> Vec<Entry> {
    Sim::new(5, seed).run_for(w.generator(), MS, ops)
}

/// `(f, key, value)` of every micro-op of every op in `log`.
fn micro_ops(log: &[Entry]) -> Vec<(String, u64, Value)> {
    log.iter()
        .flat_map(|e| {
            assert_eq!(e.op.f, "txn");
            assert_eq!(e.op.key, None);
            e.op.value.as_array().unwrap().clone()
        })
        .map(|m| {
            let m = m.as_array().unwrap();
            assert_eq!(m.len(), 3, "{m:?}");
            (
                m[0].as_str().unwrap().to_string(),
                m[1].as_u64().unwrap(),
                m[2].clone(),
            )
        })
        .collect()
}

#[test]
fn lengths_stay_within_the_bounds_and_reads_carry_null() {
    let options = TxnOptions {
        min_txn_length: 2,
        max_txn_length: 4,
        ..TxnOptions::default()
    };
    let log = run(&workload(TxnKind::ListAppend, options), 2_000, 1);
    let mut lengths = HashSet::new();
    for e in &log {
        lengths.insert(e.op.value.as_array().unwrap().len());
    }
    assert_eq!(lengths, HashSet::from([2, 3, 4]));
    let mops = micro_ops(&log);
    let reads = mops.iter().filter(|(f, _, _)| f == "r").count();
    assert!(mops.iter().all(|(f, _, _)| f == "r" || f == "append"));
    assert!(mops
        .iter()
        .filter(|(f, _, _)| f == "r")
        .all(|(_, _, v)| v.is_null()));
    let share = reads as f64 / mops.len() as f64;
    assert!((share - 0.5).abs() < 0.03, "reads: {share}");
}

#[test]
fn written_values_count_up_per_key_and_keys_rotate_after_max_writes() {
    for kind in [TxnKind::ListAppend, TxnKind::RwRegister] {
        let options = TxnOptions {
            key_count: 3,
            max_writes_per_key: 5,
            ..TxnOptions::default()
        };
        let log = run(&workload(kind, options), 3_000, 2);
        let mut per_key: HashMap<u64, Vec<u64>> = HashMap::new();
        for (f, k, v) in micro_ops(&log) {
            if f == kind.write_f() {
                per_key.entry(k).or_default().push(v.as_u64().unwrap());
            } else {
                assert_eq!(f, "r");
            }
        }
        // Every key's values are 1, 2, 3, ... in generation order, at most 5 of them.
        for (k, values) in &per_key {
            let expected: Vec<u64> = (1..=values.len() as u64).collect();
            assert_eq!(values, &expected, "key {k}");
            assert!(values.len() <= 5, "key {k}");
        }
        // Keys rotated: many more keys than 3 were used, and fresh keys count up.
        assert!(per_key.len() > 100, "{kind:?}: {} keys", per_key.len());
        assert!(per_key.values().filter(|v| v.len() == 5).count() > 50);
    }
}

#[test]
fn no_more_than_key_count_keys_are_active_at_once() {
    let options = TxnOptions {
        key_count: 4,
        max_writes_per_key: 3,
        ..TxnOptions::default()
    };
    let w = workload(TxnKind::RwRegister, options);
    let log = run(&w, 2_000, 3);
    // A key is live from its first txn to its last; between two consecutive txns no more than
    // 4 keys are live (within one txn a key may be rotated out and its successor used).
    let mops: Vec<Vec<u64>> = log
        .iter()
        .map(|e| {
            e.op.value
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m[1].as_u64().unwrap())
                .collect()
        })
        .collect();
    let mut first = HashMap::new();
    let mut last = HashMap::new();
    for (i, keys) in mops.iter().enumerate() {
        for k in keys {
            first.entry(*k).or_insert(i);
            last.insert(*k, i);
        }
    }
    for i in 0..mops.len() {
        let live = first
            .iter()
            .filter(|(k, f)| **f <= i && last[*k] > i)
            .count();
        assert!(live <= 4, "{live} keys live after txn {i}");
    }
    // The published active keys are the generator's current ones.
    assert_eq!(w.active_keys().len(), 4);
    let newest = *first.keys().max().unwrap();
    assert!(w.active_keys().contains(&newest));
}

#[test]
fn later_active_keys_are_exponentially_more_likely() {
    let options = TxnOptions {
        key_count: 4,
        max_writes_per_key: u64::MAX,
        ..TxnOptions::default()
    };
    let log = run(&workload(TxnKind::ListAppend, options), 20_000, 4);
    let mut counts = [0usize; 4];
    for (_, k, _) in micro_ops(&log) {
        counts[k as usize] += 1;
    }
    // Odds 1 : 2 : 4 : 8.
    let total: usize = counts.iter().sum();
    for (i, c) in counts.iter().enumerate() {
        let expected = (1 << i) as f64 / 15.0;
        let got = *c as f64 / total as f64;
        assert!(
            (got - expected).abs() < 0.02,
            "key {i}: {got} vs {expected}"
        );
    }
}

#[test]
fn a_seed_reproduces_the_transactions() {
    let w = workload(TxnKind::RwRegister, TxnOptions::default());
    let a: Vec<Value> = run(&w, 300, 9).into_iter().map(|e| e.op.value).collect();
    let b: Vec<Value> = run(&w, 300, 9).into_iter().map(|e| e.op.value).collect();
    let c: Vec<Value> = run(&w, 300, 10).into_iter().map(|e| e.op.value).collect();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn final_reads_give_every_worker_one_read_of_every_active_key() {
    let w = workload(
        TxnKind::ListAppend,
        TxnOptions {
            key_count: 3,
            max_writes_per_key: 2,
            ..TxnOptions::default()
        },
    );
    run(&w, 500, 5);
    let active: HashSet<u64> = w.active_keys().into_iter().collect();
    assert_eq!(active.len(), 3);
    let mut sim = Sim::new(4, 1);
    let log = sim.run(w.final_generator().unwrap(), MS);
    assert_eq!(log.len(), 4, "one txn per worker");
    for e in &log {
        let mops = micro_ops(std::slice::from_ref(e));
        assert!(mops.iter().all(|(f, _, v)| f == "r" && v.is_null()));
        let keys: HashSet<u64> = mops.iter().map(|(_, k, _)| *k).collect();
        assert_eq!(keys, active);
    }
    assert_eq!(sim.finished, vec![true; 4]);
}

#[test]
fn models_and_names() {
    let append = crate::by_name("append", &WorkloadOptions::default()).unwrap();
    assert_eq!((append.name(), append.model()), ("append", "list-append"));
    let wr = crate::by_name("wr", &WorkloadOptions::default()).unwrap();
    assert_eq!((wr.name(), wr.model()), ("wr", "rw-register"));
    assert!(is_txn_model("list-append") && is_txn_model("rw-register"));
    assert!(!is_txn_model("cas-register"));
    let err = crate::by_name(
        "wr",
        &WorkloadOptions {
            txn: TxnOptions {
                key_count: 0,
                ..TxnOptions::default()
            },
            ..WorkloadOptions::default()
        },
    )
    .err()
    .unwrap();
    assert!(err.to_string().starts_with("--key-count 0:"), "{err}");
}
