//! Complete checking of rw-register histories: histories the inferred version orders
//! cannot decide, decided by pruning or the SAT search; and random small histories whose
//! verdict is compared with a brute force over every serial order (serializability) or
//! every commit order and snapshot (snapshot isolation).

mod txn_support;

use faultline_checkers::checker::{CheckResult, Validity};
use faultline_checkers::txn::{check, ConsistencyModel, TxnKind, TxnOptions};
use serde_json::{json, Value};
use txn_support::*;

/// Every txn invoked at once, then each completed as written: no real time between them,
/// each on its own process.
fn concurrent(txns: &[Value]) -> Vec<Event> {
    let mut events: Vec<Event> = txns
        .iter()
        .enumerate()
        .map(|(p, t)| (p as u64, "invoke", invocation(t)))
        .collect();
    events.extend(
        txns.iter()
            .enumerate()
            .map(|(p, t)| (p as u64, "ok", t.clone())),
    );
    events
}

fn run(txns: &[Value], model: &str, complete_pairs: usize) -> CheckResult {
    let options = TxnOptions {
        consistency_models: vec![model.parse::<ConsistencyModel>().unwrap()],
        complete_pairs,
        ..TxnOptions::default()
    };
    check(TxnKind::RwRegister, &history(&concurrent(txns)), &options).unwrap()
}

fn complete(txns: &[Value], model: &str) -> CheckResult {
    run(txns, model, TxnOptions::default().complete_pairs)
}

/// `txns` under `model` as complete checking decides them, which must be `valid`.
fn decided_completely(txns: &[Value], model: &str, valid: Validity) -> CheckResult {
    let r = complete(txns, model);
    assert_eq!(r.valid, valid, "{:?}", r.reasons);
    let by = r.details["decided-by"].as_str().unwrap();
    assert!(by.starts_with("complete"), "decided by {by}");
    r
}

/// Write skew whose version orders are unknown: T0 writes x = 0 and y = 0; T1 read y = 0
/// and wrote x = 1; T2 read x = 0 and wrote y = 1. Ordering 1 before 0 on either key is a
/// G1c (T0 -wr-> T1 -ww-> T0); 0 before 1 on both is write skew.
fn write_skew() -> Vec<Value> {
    vec![
        json!([["w", "x", 0], ["w", "y", 0]]),
        json!([["r", "y", 0], ["w", "x", 1]]),
        json!([["r", "x", 0], ["w", "y", 1]]),
    ]
}

#[test]
fn write_skew_is_not_serializable_once_every_version_order_is_considered() {
    let inferred = run(&write_skew(), "serializable", 0);
    assert_eq!(inferred.valid, Validity::Valid, "{:?}", inferred.reasons);
    assert_eq!(inferred.details["decided-by"], json!("inference"));
    let r = decided_completely(&write_skew(), "serializable", Validity::Invalid);
    assert_eq!(r.details["complete"]["unresolved-pairs"], json!(2));
    // The cycle is reported as every other cycle is: named steps a report can draw.
    let types = r.details["anomaly-types"].as_array().unwrap();
    assert_eq!(types.len(), 1, "{types:?}");
    let case = &r.details["anomalies"][types[0].as_str().unwrap()][0];
    assert!(case["steps"].as_array().unwrap().len() >= 2, "{case}");
    assert!(
        case["explanation"]
            .as_str()
            .unwrap()
            .starts_with("No version order avoids a cycle"),
        "{case}"
    );
    assert!(r.reasons.iter().any(|s| s.contains("no version order")));
}

#[test]
fn write_skew_is_snapshot_isolated_with_the_version_orders_found() {
    let r = decided_completely(&write_skew(), "snapshot-isolation", Validity::Valid);
    assert_eq!(r.details["complete"]["witness"]["\"x\""], json!([0, 1]));
    assert_eq!(r.details["complete"]["witness"]["\"y\""], json!([0, 1]));
}

#[test]
fn a_long_fork_is_not_snapshot_isolated_in_any_version_order() {
    // T3 saw x = 1 but y = 0, T4 saw x = 0 but y = 1: the two writes were seen in
    // opposite orders, whichever order x's and y's versions are in.
    let long_fork = vec![
        json!([["w", "x", 0], ["w", "y", 0]]),
        json!([["w", "x", 1]]),
        json!([["w", "y", 1]]),
        json!([["r", "x", 1], ["r", "y", 0]]),
        json!([["r", "x", 0], ["r", "y", 1]]),
    ];
    assert_eq!(
        run(&long_fork, "snapshot-isolation", 0).valid,
        Validity::Valid
    );
    decided_completely(&long_fork, "snapshot-isolation", Validity::Invalid);
    // It is parallel-snapshot-isolated, which complete checking does not decide: the
    // inference answers and says so.
    let r = complete(&long_fork, "parallel-snapshot-isolation");
    assert_eq!(r.valid, Validity::Valid);
    assert_eq!(r.details["decided-by"], json!("inference"));
}

#[test]
fn a_valid_history_may_need_the_later_write_first() {
    // T0 writes x = 1; T1 writes x = 2 and y = 2; T2 read x = 1 and y = 2. Serializable
    // only as T1, T0, T2: x's version order must be 2 before 1.
    let txns = vec![
        json!([["w", "x", 1]]),
        json!([["w", "x", 2], ["w", "y", 2]]),
        json!([["r", "x", 1], ["r", "y", 2]]),
    ];
    let r = complete(&txns, "serializable");
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.reasons);
    assert_eq!(r.details["complete"]["witness"]["\"x\""], json!([2, 1]));
}

#[test]
fn beyond_the_bound_the_inference_answers_and_says_so() {
    let r = run(&write_skew(), "serializable", 1);
    assert_eq!(r.valid, Validity::Valid);
    assert_eq!(r.details["decided-by"], json!("inference"));
    assert!(
        r.reasons
            .iter()
            .any(|s| s.contains("complete checking skipped: 2 unresolved write pairs")),
        "{:?}",
        r.reasons
    );
}

/// A small seeded generator (xorshift), enough for test cases.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// A random txn history over `keys` keys: every txn committed, each key read at most once
/// (before any write of it) and written at most once per txn, reads returning null or a
/// value some other txn wrote.
fn random_txns(rng: &mut Rng, txns: usize, keys: u64) -> Vec<Vec<(bool, u64, i64)>> {
    let mut out: Vec<Vec<(bool, u64, i64)>> = Vec::new();
    let mut next = 1i64;
    for _ in 0..txns {
        let mut txn = Vec::new();
        for k in 0..keys {
            match rng.below(4) {
                0 => {}
                1 => txn.push((false, k, 0)),
                2 => {
                    txn.push((true, k, next));
                    next += 1;
                }
                _ => {
                    txn.push((false, k, 0));
                    txn.push((true, k, next));
                    next += 1;
                }
            }
        }
        if txn.is_empty() {
            txn.push((false, 0, 0));
        }
        out.push(txn);
    }
    // Reads see null or another txn's write of the key, at random.
    let written: Vec<Vec<(usize, u64, i64)>> = out
        .iter()
        .enumerate()
        .map(|(t, txn)| txn.iter().filter(|m| m.0).map(|m| (t, m.1, m.2)).collect())
        .collect();
    let all: Vec<(usize, u64, i64)> = written.into_iter().flatten().collect();
    for (t, txn) in out.iter_mut().enumerate() {
        for mop in txn.iter_mut().filter(|m| !m.0) {
            let choices: Vec<i64> = all
                .iter()
                .filter(|w| w.0 != t && w.1 == mop.1)
                .map(|w| w.2)
                .collect();
            let pick = rng.below(choices.len() as u64 + 1) as usize;
            mop.2 = choices.get(pick).copied().unwrap_or(0);
        }
    }
    out
}

fn to_json(txns: &[Vec<(bool, u64, i64)>]) -> Vec<Value> {
    txns.iter()
        .map(|txn| {
            Value::Array(
                txn.iter()
                    .map(|&(w, k, v)| {
                        let value = if v == 0 { Value::Null } else { json!(v) };
                        json!([if w { "w" } else { "r" }, k, value])
                    })
                    .collect(),
            )
        })
        .collect()
}

/// Every permutation of `0..n`.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, n - 1);
            out.push(q);
        }
    }
    out
}

/// The value of `key` after the txns `order[..upto]` (0 for none).
fn state(txns: &[Vec<(bool, u64, i64)>], order: &[usize], upto: usize, key: u64) -> i64 {
    order[..upto]
        .iter()
        .rev()
        .find_map(|&t| txns[t].iter().find(|m| m.0 && m.1 == key).map(|m| m.2))
        .unwrap_or(0)
}

fn reads_ok(txns: &[Vec<(bool, u64, i64)>], t: usize, order: &[usize], snapshot: usize) -> bool {
    txns[t]
        .iter()
        .filter(|m| !m.0)
        .all(|m| state(txns, order, snapshot, m.1) == m.2)
}

/// Some serial order in which every read sees the last write before it.
fn serializable(txns: &[Vec<(bool, u64, i64)>]) -> bool {
    permutations(txns.len())
        .iter()
        .any(|order| (0..order.len()).all(|i| reads_ok(txns, order[i], order, i)))
}

/// Some commit order and, per txn, a snapshot (a prefix of the txns committed before it)
/// such that its reads see the snapshot and no txn committed after its snapshot but before
/// it wrote a key it writes (first committer wins).
fn snapshot_isolated(txns: &[Vec<(bool, u64, i64)>]) -> bool {
    let writes = |t: usize, k: u64| txns[t].iter().any(|m| m.0 && m.1 == k);
    permutations(txns.len()).iter().any(|order| {
        (0..order.len()).all(|i| {
            let t = order[i];
            (0..=i).any(|s| {
                reads_ok(txns, t, order, s)
                    && order[s..i]
                        .iter()
                        .all(|&u| !txns[t].iter().any(|m| m.0 && writes(u, m.1)))
            })
        })
    })
}

#[test]
fn complete_checking_agrees_with_brute_force_on_small_histories() {
    let mut rng = Rng::new(22);
    let mut by = std::collections::BTreeMap::<String, usize>::new();
    for case in 0..400 {
        let n = 2 + rng.below(5) as usize;
        let keys = 1 + rng.below(3);
        let txns = random_txns(&mut rng, n, keys);
        let json = to_json(&txns);
        for (model, truth) in [
            ("serializable", serializable(&txns)),
            ("snapshot-isolation", snapshot_isolated(&txns)),
        ] {
            let r = complete(&json, model);
            let want = if truth {
                Validity::Valid
            } else {
                Validity::Invalid
            };
            assert_eq!(
                r.valid, want,
                "case {case}, {model}: {json:?}\n{:?}\n{}",
                r.reasons, r.details
            );
            *by.entry(format!("{model}: {}", r.details["decided-by"]))
                .or_default() += 1;
        }
    }
    // The cases exercise each way of deciding.
    for way in ["inference", "complete (pruning)", "complete (SAT)"] {
        for model in ["serializable", "snapshot-isolation"] {
            assert!(
                by.get(&format!("{model}: \"{way}\"")).copied().unwrap_or(0) > 0,
                "{model} never decided by {way}: {by:?}"
            );
        }
    }
}
