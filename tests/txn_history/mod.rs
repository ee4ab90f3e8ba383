//! Helpers for the end-to-end transaction tests: read a run's `history.jsonl` of txn ops and
//! check, independently of the transactional checker, what any correct run must show (the
//! shape of every txn, unique appends per key, reads of lists that are prefixes of one
//! order) and one anomaly a broken run shows plainly (a read that misses an append completed
//! before the reading txn began).

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde_json::Value;

/// One client op of a history: index, process, type, value.
#[derive(Debug, Clone)]
pub struct TxnOp {
    pub index: u64,
    pub process: u64,
    pub kind: String,
    pub value: Value,
}

/// The client ops of a run's history, after checking that every one is a txn.
pub fn load(run: &Path) -> Vec<TxnOp> {
    let text = std::fs::read_to_string(run.join("history.jsonl")).expect("history.jsonl");
    let mut ops = Vec::new();
    for line in text.lines().skip(1) {
        let op: Value = serde_json::from_str(line).expect("a history line is JSON");
        if op["process"] == "nemesis" {
            continue;
        }
        assert_eq!(op["f"], "txn", "only txns: {op}");
        ops.push(TxnOp {
            index: op["index"].as_u64().unwrap(),
            process: op["process"].as_u64().unwrap(),
            kind: op["type"].as_str().unwrap().to_string(),
            value: op["value"].clone(),
        });
    }
    ops
}

/// `[f, k, v]` of a micro-op.
fn mop(m: &Value) -> (&str, u64, &Value) {
    let m = m.as_array().expect("a micro-op is a list");
    assert_eq!(m.len(), 3, "[f, k, v]: {m:?}");
    (
        m[0].as_str().expect("f is a string"),
        m[1].as_u64().expect("keys are integers"),
        &m[2],
    )
}

/// Checks the shape of a list-append history: every txn a list of `append` / `r` micro-ops,
/// every appended value unique per key (among invocations), every `ok` read a list (or
/// `null` for a key never written) without duplicates. Returns the number of `ok` txns.
pub fn check_list_append_shape(ops: &[TxnOp]) -> usize {
    let mut appended: HashSet<(u64, u64)> = HashSet::new();
    let mut ok = 0;
    for op in ops {
        let mops = op.value.as_array().expect("a txn's value is a list");
        assert!(!mops.is_empty(), "{op:?}");
        for m in mops {
            let (f, k, v) = mop(m);
            match (f, op.kind.as_str()) {
                ("append", "invoke") => {
                    let v = v.as_u64().expect("appended values are integers");
                    assert!(appended.insert((k, v)), "{v} appended twice to key {k}");
                }
                ("append", _) => {}
                ("r", "ok") => {
                    if let Some(list) = v.as_array() {
                        let unique: HashSet<&Value> = list.iter().collect();
                        assert_eq!(unique.len(), list.len(), "duplicates in {m}");
                    } else {
                        assert!(v.is_null(), "an ok read is a list or null: {m}");
                    }
                }
                ("r", _) => assert!(v.is_null(), "a read carries null until ok: {m}"),
                _ => panic!("unknown micro-op {m}"),
            }
        }
        if op.kind == "ok" {
            ok += 1;
        }
    }
    ok
}

/// Keys whose `ok` reads are not all prefixes of one order (what a correct list-append
/// store never shows), with the two incompatible reads.
pub fn incompatible_orders(ops: &[TxnOp]) -> Vec<String> {
    let mut longest: HashMap<u64, Vec<Value>> = HashMap::new();
    let mut reads: Vec<(u64, Vec<Value>)> = Vec::new();
    for op in ops.iter().filter(|op| op.kind == "ok") {
        for m in op.value.as_array().unwrap() {
            let (f, k, v) = mop(m);
            if let (true, Some(list)) = (f == "r", v.as_array()) {
                reads.push((k, list.clone()));
                let l = longest.entry(k).or_default();
                if list.len() > l.len() {
                    *l = list.clone();
                }
            }
        }
    }
    reads
        .into_iter()
        .filter(|(k, list)| !longest[k].starts_with(list))
        .map(|(k, list)| format!("key {k}: {list:?} is not a prefix of {:?}", longest[&k]))
        .collect()
}

/// Reads that miss an append which completed (`ok`) before the reading txn was invoked: a
/// violation of real-time order no strict-serializable store shows. Only a txn's reads of a
/// key before its own first append to that key count.
pub fn stale_reads(ops: &[TxnOp]) -> Vec<String> {
    // Pair each completion with its invocation, by process.
    let mut invoked_at: HashMap<u64, u64> = HashMap::new();
    let mut txns: Vec<(u64, u64, &TxnOp)> = Vec::new(); // (invoke index, completion index, op)
    for op in ops {
        if op.kind == "invoke" {
            invoked_at.insert(op.process, op.index);
        } else if let Some(start) = invoked_at.remove(&op.process) {
            if op.kind == "ok" {
                txns.push((start, op.index, op));
            }
        }
    }
    // Each key's ok appends with the index of their completion.
    let mut appends: HashMap<u64, Vec<(u64, Value)>> = HashMap::new();
    for (_, done, op) in &txns {
        for m in op.value.as_array().unwrap() {
            let (f, k, v) = mop(m);
            if f == "append" {
                appends.entry(k).or_default().push((*done, v.clone()));
            }
        }
    }
    let mut stale = Vec::new();
    for (start, _, op) in &txns {
        let mut written: HashSet<u64> = HashSet::new();
        for m in op.value.as_array().unwrap() {
            let (f, k, v) = mop(m);
            if f == "append" {
                written.insert(k);
                continue;
            }
            if written.contains(&k) {
                continue;
            }
            let seen: Vec<Value> = v.as_array().cloned().unwrap_or_default();
            for (done, value) in appends.get(&k).into_iter().flatten() {
                if done < start && !seen.contains(value) {
                    stale.push(format!(
                        "op #{}: read key {k} -> {v} misses {value}, appended by a txn \
                         completed at #{done}, before this txn began at #{start}",
                        op.index
                    ));
                }
            }
        }
    }
    stale
}

/// The run's list-append ops, after checking what a strict-serializable system's history
/// shows without any checker: at least `at_least` committed txns of the right shape, every
/// key's reads prefixes of one order, and no read missing an append completed before it.
pub fn strictly_serial_appends(run: &Path, at_least: usize) -> Vec<TxnOp> {
    let ops = load(run);
    let ok = check_list_append_shape(&ops);
    assert!(ok > at_least, "the system served txns: {ok} ok");
    let incompatible = incompatible_orders(&ops);
    assert!(incompatible.is_empty(), "{incompatible:#?}");
    let stale = stale_reads(&ops);
    assert!(stale.is_empty(), "{stale:#?}");
    ops
}
