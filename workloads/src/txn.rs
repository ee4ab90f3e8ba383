//! The transactional workloads, as Jepsen's (Elle's) `append` and `wr` tests generate them:
//! every op is a transaction, `f = "txn"`, whose value is a list of micro-ops.
//!
//! - **`append`** (model `list-append`): `["append", k, v]` appends `v` to the list at `k`;
//!   `["r", k, null]` reads it (the client completes it as `["r", k, [v1, v2, ...]]`, or
//!   `null` for a key never written).
//! - **`wr`** (model `rw-register`): `["w", k, v]` writes `v`; `["r", k, null]` reads (the
//!   client completes it with the value read, `null` for a key never written).
//!
//! Each transaction has between `--min-txn-length` and `--max-txn-length` micro-ops
//! (uniformly), each a read or a write (append) with equal odds, on one of `--key-count`
//! active keys chosen as Elle's default exponential distribution does: the `i`-th active key
//! is `2^i` times as likely as the first, so a few keys are hot and see contention while the
//! others still change. Keys are JSON integers.
//!
//! Written values are unique per key: a counter per key, from 1. A key that has received
//! `--max-writes-per-key` writes is **rotated**: its place among the active keys goes to a
//! fresh key, never used before, so no list grows without bound and each key's history
//! stays small. This is exactly Elle's `wr-txns` (its `:key-count`, `:min-txn-length`,
//! `:max-txn-length`, `:max-writes-per-key`, with the same defaults: 10, 1, 2, 32).
//!
//! The final generator (after healing) gives every worker one read-only transaction over
//! every key still active at the end of the main phase, from a different starting key per
//! worker: the healed cluster's final state, read by several processes.
//!
//! This module only generates; it never talks to a client or checks anything.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

use crate::generator::{each_worker, once, Context, Generator, Poll};
use crate::op::OpRequest;
use crate::options::{TxnOptions, WorkloadError, WorkloadOptions};
use crate::Workload;

/// Which transactional workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnKind {
    /// `--workload append`: appends and reads of lists.
    ListAppend,
    /// `--workload wr`: writes and reads of registers.
    RwRegister,
}

impl TxnKind {
    /// The workload's name (`append`, `wr`).
    pub fn workload(self) -> &'static str {
        match self {
            TxnKind::ListAppend => "append",
            TxnKind::RwRegister => "wr",
        }
    }

    /// The model the history is checked against (`list-append`, `rw-register`).
    pub fn model(self) -> &'static str {
        match self {
            TxnKind::ListAppend => "list-append",
            TxnKind::RwRegister => "rw-register",
        }
    }

    /// The micro-op that writes: `append` or `w`.
    pub fn write_f(self) -> &'static str {
        match self {
            TxnKind::ListAppend => "append",
            TxnKind::RwRegister => "w",
        }
    }
}

/// The `f` of every transactional op.
pub const TXN_F: &str = "txn";

/// Whether `model` is one the transactional checker judges (`list-append`, `rw-register`).
pub fn is_txn_model(model: &str) -> bool {
    matches!(model, "list-append" | "rw-register")
}

/// A transactional workload, built by [`crate::by_name`]`("append" | "wr", ...)`.
#[derive(Debug, Clone)]
pub struct Txn {
    kind: TxnKind,
    options: TxnOptions,
    /// The active keys at the end of the latest main generator, for the final reads.
    active: Arc<Mutex<Vec<u64>>>,
}

impl Txn {
    /// The workload `kind`, shaped by the options' [`TxnOptions`] (checked here).
    pub fn new(kind: TxnKind, options: &WorkloadOptions) -> Result<Self, WorkloadError> {
        Ok(Txn {
            kind,
            options: options.txn.validate()?,
            active: Arc::default(),
        })
    }

    fn active_keys(&self) -> Vec<u64> {
        self.active
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl Workload for Txn {
    fn name(&self) -> &str {
        self.kind.workload()
    }

    fn generator(&self) -> Box<dyn Generator> {
        let active: Vec<u64> = (0..self.options.key_count as u64).collect();
        *self
            .active
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = active.clone();
        Box::new(TxnGenerator {
            kind: self.kind,
            options: self.options,
            next_key: active.len() as u64,
            active,
            written: HashMap::new(),
            published: self.active.clone(),
        })
    }

    /// Every worker reads every active key once, in one read-only transaction.
    fn final_generator(&self) -> Option<Box<dyn Generator>> {
        let workload = self.clone();
        let mut keys: Option<Vec<u64>> = None;
        Some(each_worker(move |worker| {
            let keys = keys.get_or_insert_with(|| workload.active_keys());
            let n = keys.len().max(1);
            let micro_ops: Vec<Value> = (0..keys.len())
                .map(|i| json!(["r", keys[(worker + i) % n], null]))
                .collect();
            if micro_ops.is_empty() {
                crate::generator::empty()
            } else {
                once(OpRequest::new(TXN_F, None, Value::Array(micro_ops)))
            }
        }))
    }

    fn model(&self) -> &str {
        self.kind.model()
    }

    /// No initial state for the linearizability checker: these histories go to the
    /// transactional checker, for which every key starts empty (`null`).
    fn initial(&self) -> Option<Value> {
        None
    }
}

/// The unbounded main-phase generator; one shared state for all workers.
struct TxnGenerator {
    kind: TxnKind,
    options: TxnOptions,
    /// The keys in play, in Elle's order: index `i` is `2^i` times as likely as index 0.
    active: Vec<u64>,
    /// The next fresh key.
    next_key: u64,
    /// Writes generated so far per active key (the last value written to it).
    written: HashMap<u64, u64>,
    /// Where the active keys are published for the final generator.
    published: Arc<Mutex<Vec<u64>>>,
}

impl TxnGenerator {
    /// An index into `active`, `i` chosen with odds proportional to `2^i` (Elle's
    /// exponential distribution with base 2): the distance from the top is geometric.
    fn pick(&self, rng: &mut StdRng) -> usize {
        let n = self.active.len();
        loop {
            // The number of tails before the first head: P(j) = 2^-(j+1).
            let mut j = 0;
            while j < n && rng.random_bool(0.5) {
                j += 1;
            }
            if j < n {
                return n - 1 - j;
            }
        }
    }

    /// Replaces the active key at `index` by a fresh one, and publishes the new set.
    fn rotate(&mut self, index: usize) {
        let old = self.active[index];
        self.written.remove(&old);
        self.active[index] = self.next_key;
        self.next_key += 1;
        *self
            .published
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = self.active.clone();
    }

    fn transaction(&mut self, rng: &mut StdRng) -> Value {
        let o = self.options;
        let length = rng.random_range(o.min_txn_length..=o.max_txn_length);
        let mut micro_ops = Vec::with_capacity(length);
        while micro_ops.len() < length {
            let index = self.pick(rng);
            let key = self.active[index];
            if rng.random_bool(0.5) {
                micro_ops.push(json!(["r", key, null]));
                continue;
            }
            let count = self.written.get(&key).copied().unwrap_or(0);
            if count >= o.max_writes_per_key {
                // This key has had its writes: a fresh key takes its place, and we draw again.
                self.rotate(index);
                continue;
            }
            self.written.insert(key, count + 1);
            micro_ops.push(json!([self.kind.write_f(), key, count + 1]));
        }
        Value::Array(micro_ops)
    }
}

impl Generator for TxnGenerator {
    fn poll(&mut self, _ctx: &Context, rng: &mut StdRng) -> Poll {
        Poll::Op(OpRequest::new(TXN_F, None, self.transaction(rng)))
    }
}

#[cfg(test)]
#[path = "txn_tests.rs"]
mod tests;
