//! Simulated txn histories for tests and benchmarks: clients running list-append or
//! rw-register txns against an in-memory store that applies each txn atomically at one
//! instant between its invocation and its completion, so every history is strictly
//! serializable by construction; and mutations that make one read stale, so the history is
//! certainly not.
//!
//! Txns are generated as Elle's `wr-txns` generator does: between `min_txn_length` and
//! `max_txn_length` micro-ops, each a read or a write of one of `key_count` active keys,
//! every written value unique per key (1, 2, 3, ...); a key written `max_writes_per_key`
//! times is retired for a fresh one, so lists stay short. Some txns fail before applying;
//! some end `info`, applied or not, and their client continues under a fresh process id. A
//! seed makes every history reproducible.
//!
//! This module must never check anything; it only generates.
//!
//! ```
//! use faultline_checkers::checker::{Checker, Validity};
//! use faultline_checkers::txn::simulate::{generate, mutate_stale_read, TxnSimConfig};
//! use faultline_checkers::txn::ListAppend;
//!
//! let history = generate(&TxnSimConfig::list_append(5, 200, 7));
//! assert_eq!(ListAppend::default().check(&history).valid, Validity::Valid);
//! let stale = mutate_stale_read(&history, 1).unwrap();
//! assert_eq!(ListAppend::default().check(&stale).valid, Validity::Invalid);
//! ```

use std::collections::HashMap;

use serde_json::{json, Value};

use super::decode::TxnKind;
use crate::history::{History, Op, OpType, Process};
use crate::simulate::Rng;

/// The shape of a simulated txn history.
#[derive(Debug, Clone, PartialEq)]
pub struct TxnSimConfig {
    /// list-append or rw-register.
    pub kind: TxnKind,
    /// Concurrent clients (at least 1).
    pub clients: usize,
    /// How many txns to invoke.
    pub txns: usize,
    /// Active keys at any time.
    pub key_count: usize,
    /// Fewest micro-ops in a txn (at least 1).
    pub min_txn_length: usize,
    /// Most micro-ops in a txn.
    pub max_txn_length: usize,
    /// Writes to a key before it is retired for a fresh one.
    pub max_writes_per_key: usize,
    /// Chance that a txn ends `info` (applied or not, at random).
    pub info_rate: f64,
    /// Chance that a txn fails without applying.
    pub fail_rate: f64,
    /// Run one txn at a time (a serial history) instead of clients overlapping.
    pub serial: bool,
    /// The seed of the whole history.
    pub seed: u64,
}

impl TxnSimConfig {
    /// List-append txns of 1–4 micro-ops over 10 keys, 32 writes per key, 2% info and 5%
    /// fail, clients overlapping.
    pub fn list_append(clients: usize, txns: usize, seed: u64) -> TxnSimConfig {
        TxnSimConfig {
            kind: TxnKind::ListAppend,
            clients,
            txns,
            key_count: 10,
            min_txn_length: 1,
            max_txn_length: 4,
            max_writes_per_key: 32,
            info_rate: 0.02,
            fail_rate: 0.05,
            serial: false,
            seed,
        }
    }

    /// The same shape with rw-register txns.
    pub fn rw_register(clients: usize, txns: usize, seed: u64) -> TxnSimConfig {
        TxnSimConfig {
            kind: TxnKind::RwRegister,
            ..TxnSimConfig::list_append(clients, txns, seed)
        }
    }
}

/// The store: a list or a register per key.
#[derive(Debug, Default)]
struct Store {
    lists: HashMap<u64, Vec<u64>>,
    registers: HashMap<u64, u64>,
}

impl Store {
    /// Apply `txn` atomically; the completed micro-ops, reads filled in.
    fn apply(&mut self, kind: TxnKind, txn: &[(bool, u64, u64)]) -> Value {
        let mops: Vec<Value> = txn
            .iter()
            .map(|&(write, k, v)| match (kind, write) {
                (TxnKind::ListAppend, true) => {
                    self.lists.entry(k).or_default().push(v);
                    json!(["append", k, v])
                }
                (TxnKind::ListAppend, false) => {
                    json!(["r", k, self.lists.get(&k).cloned().unwrap_or_default()])
                }
                (TxnKind::RwRegister, true) => {
                    self.registers.insert(k, v);
                    json!(["w", k, v])
                }
                (TxnKind::RwRegister, false) => json!(["r", k, self.registers.get(&k)]),
            })
            .collect();
        Value::Array(mops)
    }
}

/// The invocation of a txn whose completion is `done` (a list of micro-ops): the same
/// micro-ops, each read's value `null`. For writing histories by hand in tests.
///
/// ```
/// use faultline_checkers::txn::simulate::invocation_of;
/// use serde_json::json;
///
/// let done = json!([["append", "x", 1], ["r", "x", [1]]]);
/// assert_eq!(invocation_of(&done), json!([["append", "x", 1], ["r", "x", null]]));
/// ```
pub fn invocation_of(done: &Value) -> Value {
    let mops = done.as_array().expect("a txn is a list of micro-ops");
    Value::Array(invoked_mops(mops))
}

/// The micro-ops `done` as invoked: reads carry `null`.
pub(crate) fn invoked_mops(done: &[Value]) -> Vec<Value> {
    done.iter()
        .map(|m| {
            if m[0] == "r" {
                json!(["r", m[1], null])
            } else {
                m.clone()
            }
        })
        .collect()
}

/// Micro-ops as invoked: reads carry `null`.
fn invocation(kind: TxnKind, txn: &[(bool, u64, u64)]) -> Value {
    let write = kind.write_f();
    Value::Array(
        txn.iter()
            .map(|&(w, k, v)| {
                if w {
                    json!([write, k, v])
                } else {
                    json!(["r", k, null])
                }
            })
            .collect(),
    )
}

/// Elle's generator state: the active keys and how many values each has had.
struct Keys {
    active: Vec<u64>,
    next_fresh: u64,
    written: HashMap<u64, u64>,
}

impl Keys {
    fn txn(&mut self, config: &TxnSimConfig, rng: &mut Rng) -> Vec<(bool, u64, u64)> {
        let min = config.min_txn_length.max(1);
        let max = config.max_txn_length.max(min);
        let length = min + rng.below((max - min + 1) as u64) as usize;
        let mut txn = Vec::with_capacity(length);
        while txn.len() < length {
            let slot = rng.below(self.active.len() as u64) as usize;
            let k = self.active[slot];
            if rng.below(2) == 0 {
                txn.push((false, k, 0));
                continue;
            }
            let v = self.written.get(&k).copied().unwrap_or(0) + 1;
            if v > config.max_writes_per_key.max(1) as u64 {
                self.active[slot] = self.next_fresh;
                self.next_fresh += 1;
                continue;
            }
            self.written.insert(k, v);
            txn.push((true, k, v));
        }
        txn
    }
}

/// A client's txn in flight.
enum Flight {
    Invoked(Vec<(bool, u64, u64)>),
    Applied(Value),
}

/// Generate a strictly serializable history of `config.txns` txns.
pub fn generate(config: &TxnSimConfig) -> History {
    let mut rng = Rng::new(config.seed);
    let clients = if config.serial {
        1
    } else {
        config.clients.max(1)
    };
    let key_count = config.key_count.max(1) as u64;
    let mut keys = Keys {
        active: (0..key_count).collect(),
        next_fresh: key_count,
        written: HashMap::new(),
    };
    let mut store = Store::default();
    let mut processes: Vec<u64> = (0..clients as u64).collect();
    let mut flights: Vec<Option<Flight>> = (0..clients).map(|_| None).collect();
    let mut ops: Vec<Op> = Vec::with_capacity(config.txns * 2);
    let mut invoked = 0;
    let mut time = 0u64;
    let kind = config.kind;
    loop {
        let busy = flights.iter().any(Option::is_some);
        if invoked >= config.txns && !busy {
            break;
        }
        time += 1_000 + rng.below(1_000);
        let c = rng.below(clients as u64) as usize;
        let process = Process::Client(processes[c]);
        let op = |kind: OpType, value: Value| Op::new(process, kind, "txn", value).at(time);
        flights[c] = match flights[c].take() {
            None if invoked < config.txns => {
                invoked += 1;
                let txn = keys.txn(config, &mut rng);
                ops.push(op(OpType::Invoke, invocation(kind, &txn)));
                Some(Flight::Invoked(txn))
            }
            None => None,
            Some(Flight::Invoked(txn)) => {
                let roll = rng.unit();
                if roll < config.fail_rate {
                    ops.push(op(OpType::Fail, invocation(kind, &txn)));
                    None
                } else if roll < config.fail_rate + config.info_rate {
                    if rng.below(2) == 0 {
                        store.apply(kind, &txn);
                    }
                    ops.push(op(OpType::Info, invocation(kind, &txn)));
                    processes[c] += clients as u64;
                    None
                } else {
                    Some(Flight::Applied(store.apply(kind, &txn)))
                }
            }
            Some(Flight::Applied(done)) => {
                ops.push(op(OpType::Ok, done));
                None
            }
        };
    }
    History::from_ops(ops)
}

/// The same history with one committed read (chosen by `seed`) made stale: it no longer
/// sees a write that completed before its txn began, so the history is certainly not
/// strictly serializable (the read's txn did not see the write, yet came after it). A
/// list-append read is cut before that element; an rw-register read returns `null`. `None`
/// when no read qualifies.
pub fn mutate_stale_read(history: &History, seed: u64) -> Option<History> {
    // (key, value) written → position of the writer's completion, for committed writers.
    let mut completed_at: HashMap<(String, String), usize> = HashMap::new();
    let mut open: HashMap<u64, usize> = HashMap::new();
    let mut invoked_at: Vec<usize> = vec![0; history.ops.len()];
    for (i, op) in history.ops.iter().enumerate() {
        let Some(p) = op.process.client() else {
            continue;
        };
        if op.kind == OpType::Invoke {
            open.insert(p, i);
            continue;
        }
        let start = open.remove(&p).unwrap_or(i);
        invoked_at[i] = start;
        if op.kind == OpType::Ok {
            for mop in op.value.as_array().into_iter().flatten() {
                if mop[0] == "append" || mop[0] == "w" {
                    completed_at.insert((mop[1].to_string(), mop[2].to_string()), i);
                }
            }
        }
    }
    // Candidates: (op position, micro-op position, how many list elements to keep).
    let mut candidates: Vec<(usize, usize, Option<usize>)> = Vec::new();
    for (i, op) in history.ops.iter().enumerate() {
        if op.kind != OpType::Ok || op.f != "txn" {
            continue;
        }
        let Some(mops) = op.value.as_array() else {
            continue;
        };
        for (m, mop) in mops.iter().enumerate() {
            if mop[0] != "r" {
                continue;
            }
            let touched_elsewhere = mops
                .iter()
                .enumerate()
                .any(|(n, other)| n != m && other[1] == mop[1]);
            if touched_elsewhere {
                continue;
            }
            let before_us = |v: &Value| {
                completed_at
                    .get(&(mop[1].to_string(), v.to_string()))
                    .is_some_and(|&done| done < invoked_at[i])
            };
            match &mop[2] {
                Value::Array(list) => {
                    if let Some(cut) = list.iter().position(before_us) {
                        candidates.push((i, m, Some(cut)));
                    }
                }
                Value::Null => {}
                v if before_us(v) => candidates.push((i, m, None)),
                _ => {}
            }
        }
    }
    if candidates.is_empty() {
        return None;
    }
    let (i, m, cut) = candidates[Rng::new(seed).below(candidates.len() as u64) as usize];
    let mut mutated = history.clone();
    let slot = &mut mutated.ops[i].value[m][2];
    *slot = match cut {
        Some(keep) => Value::Array(slot.as_array().expect("a list")[..keep].to_vec()),
        None => Value::Null,
    };
    Some(mutated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_retire_after_their_writes_and_txns_have_their_lengths() {
        let config = TxnSimConfig {
            max_writes_per_key: 2,
            key_count: 1,
            ..TxnSimConfig::list_append(3, 300, 5)
        };
        let history = generate(&config);
        assert_eq!(history.len(), 600);
        for op in &history.ops {
            let mops = op.value.as_array().unwrap();
            assert!((1..=4).contains(&mops.len()));
            for mop in mops {
                if mop[0] == "r" && op.kind == OpType::Ok {
                    assert!(mop[2].as_array().unwrap().len() <= 2, "{op}");
                }
            }
        }
        assert_eq!(generate(&config), history, "a seed reproduces its history");
    }

    #[test]
    fn serial_histories_never_overlap() {
        let config = TxnSimConfig {
            serial: true,
            ..TxnSimConfig::rw_register(4, 50, 9)
        };
        let history = generate(&config);
        for pair in history.ops.chunks(2) {
            assert_eq!(pair[0].kind, OpType::Invoke);
            assert_ne!(pair[1].kind, OpType::Invoke);
        }
    }
}
