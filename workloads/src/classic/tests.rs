//! Tests of the classic workloads' generators on the simulated controller (that each
//! workload's `(model, initial)` builds its checker is tested in the root package's
//! `tests/workload_checkers.rs`, where both crates are at hand).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::{json, Value};

use crate::generator::testkit::{Entry, Sim};
use crate::options::{parse_mix, ClassicOptions, Keys, WorkloadError, WorkloadOptions};
use crate::{by_name, Workload};

const MS: Duration = Duration::from_millis(1);

fn build(name: &str, options: WorkloadOptions) -> Box<dyn Workload> {
    by_name(name, &options).unwrap()
}

fn main_ops(w: &dyn Workload, ops: usize) -> Vec<Entry> {
    Sim::new(4, 7).run_for(w.generator(), MS, ops)
}

fn final_ops(w: &dyn Workload, workers: usize) -> Vec<Entry> {
    Sim::new(workers, 7).run(w.final_generator().unwrap(), MS)
}

fn counts(log: &[Entry]) -> HashMap<String, usize> {
    let mut c = HashMap::new();
    for e in log {
        *c.entry(e.op.f.clone()).or_default() += 1;
    }
    c
}

fn keys(log: &[Entry]) -> HashSet<Value> {
    log.iter()
        .map(|e| e.op.key.clone().unwrap_or(Value::Null))
        .collect()
}

#[test]
fn set_adds_unique_elements_to_one_key_and_reads_it() {
    let w = build("set", WorkloadOptions::default());
    let log = main_ops(w.as_ref(), 5_000);
    let c = counts(&log);
    let share = c["add"] as f64 / log.len() as f64;
    assert!((share - 0.8).abs() < 0.03, "{share}");
    assert_eq!(keys(&log), HashSet::from([json!("set")]));
    let added: Vec<u64> = log
        .iter()
        .filter(|e| e.op.f == "add")
        .map(|e| e.op.value.as_u64().unwrap())
        .collect();
    assert_eq!(added, (0..added.len() as u64).collect::<Vec<_>>());
    assert!(log
        .iter()
        .filter(|e| e.op.f == "read")
        .all(|e| e.op.value.is_null()));
}

#[test]
fn set_final_reads_every_key_from_every_worker() {
    let w = build(
        "set",
        WorkloadOptions {
            keys: Keys::Fixed { count: 3 },
            ..WorkloadOptions::default()
        },
    );
    let log = final_ops(w.as_ref(), 2);
    assert_eq!(log.len(), 6);
    for worker in 0..2 {
        let read: HashSet<Value> = log
            .iter()
            .filter(|e| e.worker == worker)
            .map(|e| {
                assert_eq!(e.op.f, "read");
                e.op.key.clone().unwrap()
            })
            .collect();
        assert_eq!(
            read,
            HashSet::from([json!("set-0"), json!("set-1"), json!("set-2")])
        );
    }
}

#[test]
fn bank_transfers_between_different_accounts_within_the_limits() {
    let w = build("bank", WorkloadOptions::default());
    let log = main_ops(w.as_ref(), 4_000);
    let c = counts(&log);
    assert!(c["transfer"] > 1_800 && c["read"] > 1_800, "{c:?}");
    let mut used = HashSet::new();
    for e in log.iter().filter(|e| e.op.f == "transfer") {
        let v = &e.op.value;
        let (from, to, amount) = (
            v["from"].as_u64().unwrap(),
            v["to"].as_u64().unwrap(),
            v["amount"].as_i64().unwrap(),
        );
        assert_ne!(from, to);
        assert!(from < 8 && to < 8 && (1..=5).contains(&amount), "{v}");
        assert_eq!(e.op.key, None);
        used.insert((from, to));
    }
    assert_eq!(used.len(), 8 * 7);
    let initial = w.initial().unwrap();
    assert_eq!(initial["total"], json!(100));
    assert_eq!(initial["accounts"], json!([0, 1, 2, 3, 4, 5, 6, 7]));
    assert_eq!(initial["balances"]["0"], json!(13));
    assert_eq!(initial["balances"]["7"], json!(12));
    let sum: i64 = initial["balances"]
        .as_object()
        .unwrap()
        .values()
        .map(|b| b.as_i64().unwrap())
        .sum();
    assert_eq!(sum, 100);
    let last = final_ops(w.as_ref(), 3);
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].op.f, "read");
}

#[test]
fn bank_options_that_cannot_work_name_their_flag() {
    let bad = |classic: ClassicOptions| {
        by_name(
            "bank",
            &WorkloadOptions {
                classic,
                ..WorkloadOptions::default()
            },
        )
        .err()
        .unwrap()
        .to_string()
    };
    let d = ClassicOptions::default();
    assert_eq!(
        bad(ClassicOptions { accounts: 1, ..d }),
        "--accounts 1: a transfer needs two accounts; give e.g. --accounts 8"
    );
    assert!(bad(ClassicOptions {
        max_transfer: 0,
        ..d
    })
    .starts_with("--max-transfer 0"));
    assert!(bad(ClassicOptions { total: -1, ..d }).starts_with("--total -1"));
}

#[test]
fn counter_increments_unless_decrements_are_on() {
    let w = build("counter", WorkloadOptions::default());
    let log = main_ops(w.as_ref(), 2_000);
    let deltas: Vec<i64> = log
        .iter()
        .filter(|e| e.op.f == "add")
        .map(|e| e.op.value.as_i64().unwrap())
        .collect();
    assert!(deltas.iter().all(|d| (1..=5).contains(d)));
    assert_eq!(keys(&log), HashSet::from([json!("counter")]));
    let w = build(
        "counter",
        WorkloadOptions {
            classic: ClassicOptions {
                decrements: true,
                ..ClassicOptions::default()
            },
            ..WorkloadOptions::default()
        },
    );
    let log = main_ops(w.as_ref(), 2_000);
    let negative = log
        .iter()
        .filter(|e| e.op.value.as_i64().is_some_and(|d| d < 0))
        .count();
    assert!(negative > 300, "{negative}");
    assert_eq!(w.initial(), None);
    let last = final_ops(w.as_ref(), 4);
    assert_eq!(last.len(), 1);
    assert_eq!(
        (last[0].op.f.as_str(), last[0].op.key.clone()),
        ("read", Some(json!("counter")))
    );
}

#[test]
fn unique_ids_only_generates() {
    let w = build("unique-ids", WorkloadOptions::default());
    let log = main_ops(w.as_ref(), 100);
    assert!(log
        .iter()
        .all(|e| e.op.f == "generate" && e.op.key.is_none() && e.op.value.is_null()));
    assert!(w.final_generator().is_none());
    let err = by_name(
        "unique-ids",
        &WorkloadOptions {
            mix: parse_mix("read=1").unwrap(),
            ..WorkloadOptions::default()
        },
    )
    .err()
    .unwrap();
    assert!(matches!(err, WorkloadError::UnknownOperation { .. }));
}

#[test]
fn queue_enqueues_unique_elements_and_drains_every_key_once() {
    let options = WorkloadOptions {
        keys: Keys::Fixed { count: 2 },
        ..WorkloadOptions::default()
    };
    let w = build("queue", options);
    let log = main_ops(w.as_ref(), 2_000);
    let c = counts(&log);
    assert!(c["enqueue"] > 900 && c["dequeue"] > 900, "{c:?}");
    let enqueued: Vec<u64> = log
        .iter()
        .filter(|e| e.op.f == "enqueue")
        .map(|e| e.op.value.as_u64().unwrap())
        .collect();
    assert_eq!(enqueued, (0..enqueued.len() as u64).collect::<Vec<_>>());
    assert_eq!(
        keys(&log),
        HashSet::from([json!("queue-0"), json!("queue-1")])
    );
    let last = final_ops(w.as_ref(), 4);
    let drained: Vec<Value> = last
        .iter()
        .map(|e| {
            assert_eq!(e.op.f, "drain");
            e.op.key.clone().unwrap()
        })
        .collect();
    assert_eq!(drained, vec![json!("queue-0"), json!("queue-1")]);
    assert_eq!(
        w.initial(),
        Some(json!({"linearizable": false, "allow_duplicates": true}))
    );
}
