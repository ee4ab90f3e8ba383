//! Tests of the register workload's generators on the simulated controller: the fixed key
//! set of `--keys`, and independent keys (`--threads-per-key`, `--ops-per-key`).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::{json, Value};

use super::*;
use crate::generator::testkit::{Entry, Sim};
use crate::options::parse_mix;

const MS: Duration = Duration::from_millis(1);

fn with_keys(keys: Keys, mix: &str) -> Register {
    let mix = if mix.is_empty() {
        Vec::new()
    } else {
        parse_mix(mix).unwrap()
    };
    Register::new(&WorkloadOptions {
        keys,
        mix,
        ..WorkloadOptions::default()
    })
    .unwrap()
}

/// A register on the fixed keys `0..count` (`--keys count`).
fn register(count: usize, mix: &str) -> Register {
    with_keys(Keys::Fixed { count }, mix)
}

/// A register on independent keys.
fn independent(threads_per_key: usize, ops_per_key: u64) -> Register {
    with_keys(
        Keys::Independent {
            threads_per_key,
            ops_per_key,
        },
        "",
    )
}

fn run(workload: &Register, ops: usize, seed: u64) -> Vec<Entry> {
    Sim::new(8, seed).run_for(workload.generator(), MS, ops)
}

/// The values an op writes (a write's value, a cas's `to`).
fn written(e: &Entry) -> Option<u64> {
    match e.op.f.as_str() {
        "write" => e.op.value.as_u64(),
        "cas" => e.op.value[1].as_u64(),
        _ => None,
    }
}

fn key(e: &Entry) -> u64 {
    e.op.key.as_ref().and_then(Value::as_u64).unwrap()
}

#[test]
fn default_mix_is_half_reads_quarter_writes_quarter_cas() {
    let log = run(&register(5, ""), 20_000, 1);
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for e in &log {
        *counts.entry(e.op.f.as_str()).or_default() += 1;
    }
    for (f, share) in [("read", 0.5), ("write", 0.25), ("cas", 0.25)] {
        let got = counts[f] as f64 / log.len() as f64;
        assert!((got - share).abs() < 0.02, "{f}: {got}");
    }
    assert_eq!(counts.len(), 3);
}

#[test]
fn keys_are_json_ints_and_all_used() {
    let log = run(&register(7, ""), 2_000, 2);
    let keys: HashSet<u64> = log.iter().map(key).collect();
    assert_eq!(keys, (0..7).collect());
}

#[test]
fn a_custom_mix_is_respected() {
    let log = run(&register(3, "write=1,cas=1"), 1_000, 3);
    assert!(log.iter().all(|e| e.op.f != "read"));
    assert!(log.iter().any(|e| e.op.f == "write"));
    assert!(log.iter().any(|e| e.op.f == "cas"));
    let log = run(&register(3, "read=1"), 100, 3);
    assert!(log.iter().all(|e| e.op.f == "read" && e.op.value.is_null()));
}

#[test]
fn every_written_value_is_unique() {
    for workload in [register(5, ""), independent(3, 50)] {
        let log = run(&workload, 10_000, 4);
        let mut seen = HashSet::new();
        for e in log.iter().filter(|e| e.op.f != "read") {
            let v = written(e).expect("written values are JSON ints");
            assert!(seen.insert(v), "value {v} written twice");
        }
        assert!(seen.len() > 4_000);
        // One counter for the whole run, whatever the key.
        assert_eq!(seen.iter().max(), Some(&(seen.len() as u64)));
    }
}

#[test]
fn cas_froms_are_recent_values_of_the_same_key_or_the_initial_value() {
    cas_froms_are_recent(&register(5, ""), 5);
}

#[test]
fn cas_froms_on_independent_keys_are_recent_values_of_that_key() {
    // Every key starts from null, so there are many more cas ops from null than with 5 keys.
    let from_null = cas_froms_are_recent(&independent(4, 40), 6);
    assert!(from_null > 20, "{from_null}");
}

/// Asserts that every cas's `from` is `null` before its key was first written, or one of the
/// key's last few values; returns how many cas ops were from `null`.
fn cas_froms_are_recent(workload: &Register, seed: u64) -> usize {
    let log = run(workload, 10_000, seed);
    // Values generated so far for each key, in order.
    let mut generated: HashMap<u64, Vec<u64>> = HashMap::new();
    let (mut from_null, mut from_value) = (0, 0);
    for e in &log {
        let k = key(e);
        let history = generated.entry(k).or_default();
        match e.op.f.as_str() {
            "write" => history.push(e.op.value.as_u64().unwrap()),
            "cas" => {
                let pair = e.op.value.as_array().expect("cas value is [from, to]");
                assert_eq!(pair.len(), 2);
                match pair[0].as_u64() {
                    None => {
                        assert!(pair[0].is_null());
                        assert!(history.is_empty(), "cas from null after a write of key {k}");
                        from_null += 1;
                    }
                    Some(from) => {
                        let recent = &history[history.len().saturating_sub(RECENT)..];
                        assert!(recent.contains(&from), "cas from {from} on key {k}");
                        from_value += 1;
                    }
                }
                history.push(pair[1].as_u64().unwrap());
            }
            _ => assert!(e.op.value.is_null()),
        }
    }
    assert!(from_value > 2_000);
    if let Keys::Fixed { count } = workload.keys {
        assert!(from_null <= count);
    }
    from_null
}

#[test]
fn same_seed_same_ops_different_seed_different_ops() {
    let ops = |seed| {
        run(&register(5, ""), 500, seed)
            .into_iter()
            .map(|e| e.op)
            .collect::<Vec<_>>()
    };
    assert_eq!(ops(9), ops(9));
    assert_ne!(ops(9), ops(10));
}

#[test]
fn the_first_ops_for_seed_1_are_stable() {
    let log = Sim::new(1, 1).run_for(register(2, "").generator(), MS, 12);
    let ops: Vec<_> = log
        .iter()
        .map(|e| (e.op.f.as_str(), key(e), e.op.value.clone()))
        .collect();
    assert_eq!(ops, golden_seed_1());
}

#[test]
fn each_worker_reads_every_key_once_at_the_end() {
    let workload = register(5, "");
    let mut sim = Sim::new(3, 1);
    let log = sim.run(workload.final_generator().unwrap(), MS);
    assert_eq!(log.len(), 15);
    for w in 0..3 {
        let keys: Vec<u64> = log.iter().filter(|e| e.worker == w).map(key).collect();
        let expected: Vec<u64> = (0..5).map(|i| ((w + i) % 5) as u64).collect();
        assert_eq!(keys, expected, "worker {w}");
    }
    assert!(log
        .iter()
        .all(|e| e.op.f == "read" && e.op.value == json!(null)));
    assert_eq!(sim.finished, vec![true; 3]);
}

#[test]
fn the_default_is_independent_keys_10_workers_200_ops() {
    let options = WorkloadOptions::default();
    assert_eq!(
        options.keys,
        Keys::Independent {
            threads_per_key: 10,
            ops_per_key: 200
        }
    );
    // With 10 workers: one key at a time, 200 ops each, keys 0, 1, 2 in turn.
    let workload = Register::new(&options).unwrap();
    let log = Sim::new(10, 1).run_for(workload.generator(), MS, 600);
    for (i, e) in log.iter().enumerate() {
        assert_eq!(key(e), (i / 200) as u64, "op {i}");
    }
}

#[test]
fn keys_retire_after_ops_per_key_ops_and_are_never_reused() {
    let workload = independent(2, 7);
    let log = run(&workload, 1_000, 11);
    let mut ops_per_key: HashMap<u64, usize> = HashMap::new();
    let mut group_of_key: HashMap<u64, usize> = HashMap::new();
    // Each group's keys, in the order it used them.
    let mut keys_of_group: HashMap<usize, Vec<u64>> = HashMap::new();
    for e in &log {
        let k = key(e);
        *ops_per_key.entry(k).or_default() += 1;
        let group = e.worker / 2;
        assert_eq!(*group_of_key.entry(k).or_insert(group), group, "key {k}");
        let keys = keys_of_group.entry(group).or_default();
        if keys.last() != Some(&k) {
            assert!(!keys.contains(&k), "key {k} taken again by group {group}");
            keys.push(k);
        }
    }
    assert_eq!(keys_of_group.len(), 4, "8 workers, 2 per key: 4 groups");
    // Every retired key got exactly 7 ops; each group's last key at most 7.
    for keys in keys_of_group.values() {
        let (last, retired) = keys.split_last().unwrap();
        for k in retired {
            assert_eq!(ops_per_key[k], 7, "key {k}");
        }
        assert!((1..=7).contains(&ops_per_key[last]));
    }
    // Fresh keys come from one counter: 0..n with no gap.
    let mut keys: Vec<u64> = ops_per_key.keys().copied().collect();
    keys.sort_unstable();
    assert_eq!(keys, (0..keys.len() as u64).collect::<Vec<_>>());
    assert!(keys.len() >= 1_000 / 7);
}

#[test]
fn threads_per_key_workers_share_a_key() {
    let workload = independent(3, 1_000);
    // 7 workers in groups {0,1,2}, {3,4,5}, {6}: three keys at once.
    let log = Sim::new(7, 12).run_for(workload.generator(), MS, 700);
    let mut workers_of_key: HashMap<u64, HashSet<usize>> = HashMap::new();
    for e in &log {
        workers_of_key.entry(key(e)).or_default().insert(e.worker);
    }
    let mut groups: Vec<Vec<usize>> = workers_of_key
        .into_values()
        .map(|w| {
            let mut w: Vec<usize> = w.into_iter().collect();
            w.sort_unstable();
            w
        })
        .collect();
    groups.sort();
    assert_eq!(groups, vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
}

#[test]
fn more_threads_per_key_than_workers_is_one_key_at_a_time() {
    let log = run(&independent(100, 50), 200, 13);
    for (i, e) in log.iter().enumerate() {
        assert_eq!(key(e), (i / 50) as u64, "op {i}");
    }
    assert_eq!(
        log.iter().map(|e| e.worker).collect::<HashSet<_>>().len(),
        8
    );
}

#[test]
fn final_reads_cover_each_groups_current_key_then_every_retired_key_once() {
    let workload = independent(2, 10);
    let mut sim = Sim::new(6, 14);
    let log = sim.run_for(workload.generator(), MS, 95);
    // Each group's last key in the main phase, in group order.
    let mut current = [None; 3];
    for e in &log {
        current[e.worker / 2] = Some(key(e));
    }
    let current: Vec<u64> = current.iter().map(|k| k.unwrap()).collect();
    let used: HashSet<u64> = log.iter().map(key).collect();
    assert!(used.len() > 3, "some keys were retired");
    // Online checking is told the same: every used key but the current ones is retired.
    for k in &used {
        assert_eq!(
            workload.is_retired(&json!(k)),
            !current.contains(k),
            "key {k}"
        );
    }
    assert!(!workload.is_retired(&json!(used.iter().max().unwrap() + 1)));
    assert!(
        !register(3, "").is_retired(&json!(0)),
        "fixed keys never retire"
    );

    let finals = sim.run(workload.final_generator().unwrap(), MS);
    assert_eq!(sim.finished, vec![true; 6]);
    assert!(finals
        .iter()
        .all(|e| e.op.f == "read" && e.op.value.is_null()));
    // First every worker reads every current key once, its own group's first.
    let (in_use, retired) = finals.split_at(6 * 3);
    for w in 0..6 {
        let keys: Vec<u64> = in_use.iter().filter(|e| e.worker == w).map(key).collect();
        let expected: Vec<u64> = (0..3).map(|i| current[(w / 2 + i) % 3]).collect();
        assert_eq!(keys, expected, "worker {w}");
    }
    // Then each retired key once, shared among the workers.
    let mut read_again: Vec<u64> = retired.iter().map(key).collect();
    read_again.sort_unstable();
    let mut expected: Vec<u64> = used
        .iter()
        .copied()
        .filter(|k| !current.contains(k))
        .collect();
    expected.sort_unstable();
    assert!(!expected.is_empty());
    assert_eq!(read_again, expected);
    assert!(
        retired.iter().any(|e| e.worker != retired[0].worker),
        "shared out"
    );
}

#[test]
fn a_fresh_main_generator_starts_again_and_final_reads_follow_it() {
    let workload = independent(10, 5);
    let first = run(&workload, 23, 15);
    assert_eq!(key(first.last().unwrap()), 4);
    let second = run(&workload, 3, 15);
    assert!(second.iter().all(|e| key(e) == 0));
    let finals = Sim::new(2, 1).run(workload.final_generator().unwrap(), MS);
    assert_eq!(finals.iter().map(key).collect::<Vec<_>>(), vec![0, 0]);
}

#[test]
fn no_main_ops_means_no_final_reads() {
    let workload = independent(2, 10);
    let mut sim = Sim::new(3, 1);
    assert!(sim.run(workload.final_generator().unwrap(), MS).is_empty());
    assert_eq!(sim.finished, vec![true; 3]);
}

#[test]
fn fixed_keys_spread_every_worker_over_every_key() {
    let log = run(&register(3, ""), 3_000, 16);
    for w in 0..8 {
        let keys: HashSet<u64> = log.iter().filter(|e| e.worker == w).map(key).collect();
        assert_eq!(keys, (0..3).collect(), "worker {w}");
    }
}

#[test]
fn zero_keys_workers_or_ops_per_key_are_refused() {
    let err = |keys| {
        Register::new(&WorkloadOptions {
            keys,
            mix: Vec::new(),
            ..WorkloadOptions::default()
        })
        .unwrap_err()
        .to_string()
    };
    assert_eq!(
        err(Keys::Fixed { count: 0 }),
        "workload register needs at least one key, got 0 (try 5)"
    );
    assert_eq!(
        err(Keys::Independent {
            threads_per_key: 0,
            ops_per_key: 10
        }),
        "workload register needs at least one worker per key, got 0 (try 10)"
    );
    assert_eq!(
        err(Keys::Independent {
            threads_per_key: 1,
            ops_per_key: 0
        }),
        "workload register needs at least one op per key, got 0 (try 200)"
    );
}

#[test]
fn the_first_independent_ops_for_seed_1_are_stable() {
    let log = Sim::new(2, 1).run_for(independent(1, 3).generator(), MS, 8);
    let ops: Vec<_> = log
        .iter()
        .map(|e| (e.worker, e.op.f.as_str(), key(e), e.op.value.clone()))
        .collect();
    // One worker per key, 3 ops per key: worker 0 on keys 0 then 2, worker 1 on 1 then 3.
    assert_eq!(
        ops,
        vec![
            (0, "cas", 0, json!([null, 1])),
            (1, "write", 1, json!(2)),
            (0, "read", 0, Value::Null),
            (1, "read", 1, Value::Null),
            (0, "read", 0, Value::Null),
            (1, "cas", 1, json!([2, 3])),
            (0, "cas", 2, json!([null, 4])),
            (1, "read", 3, Value::Null),
        ]
    );
}

/// If this changes, seeds recorded by earlier runs no longer reproduce their ops.
fn golden_seed_1() -> Vec<(&'static str, u64, Value)> {
    let read = |k| ("read", k, Value::Null);
    vec![
        ("write", 1, json!(1)),
        read(0),
        ("cas", 0, json!([null, 2])),
        ("write", 0, json!(3)),
        read(1),
        read(0),
        read(1),
        read(0),
        read(1),
        read(1),
        read(1),
        ("write", 1, json!(4)),
    ]
}
