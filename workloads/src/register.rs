//! The register workload: reads, writes and compare-and-sets on a few independent
//! registers, checked against the `cas-register` model key by key.
//!
//! Ops (keys are JSON integers `0..keys`, the initial value of every register is `null`):
//! - `read`: value `null` on invoke; the client completes it with the value read.
//! - `write`: value `v`, a fresh integer.
//! - `cas`: value `[from, to]`: `to` is a fresh integer, `from` one of the last few values
//!   generated for that key (by a write or as a cas's `to`), or `null` when none has been
//!   yet, so that a fair share of cas ops can succeed.
//!
//! Every value written is unique across the whole run (one counter from 1, for all keys):
//! a read identifies the write it saw, which is what makes a history checkable.
//!
//! The final generator (after healing) makes **every worker read every key once**, starting
//! at a different key per worker: more final reads, from several processes, give the checker
//! more evidence that the healed cluster converged.
//!
//! This module only generates; it never talks to a client or checks anything.

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

use crate::generator::{each_worker, sequence, Context, Generator, Poll};
use crate::op::OpRequest;
use crate::options::{resolve_mix, WorkloadError, WorkloadOptions};
use crate::Workload;

/// The register workload's operations and their default weights (50% / 25% / 25%).
pub const OPERATIONS: [(&str, u32); 3] = [("read", 2), ("write", 1), ("cas", 1)];

/// How many recent values per key a cas may take its `from` from.
const RECENT: usize = 3;

/// The register workload, built by [`crate::by_name`]`("register", ...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Register {
    keys: usize,
    /// Weights of read, write, cas.
    weights: [u32; 3],
}

impl Register {
    /// A register workload from the options: `keys` keys, `mix` over read / write / cas.
    pub fn new(options: &WorkloadOptions) -> Result<Self, WorkloadError> {
        if options.keys == 0 {
            return Err(WorkloadError::NoKeys {
                workload: "register".to_string(),
            });
        }
        let w = resolve_mix("register", &OPERATIONS, &options.mix)?;
        Ok(Register {
            keys: options.keys,
            weights: [w[0], w[1], w[2]],
        })
    }
}

impl Workload for Register {
    fn name(&self) -> &str {
        "register"
    }

    fn generator(&self) -> Box<dyn Generator> {
        Box::new(RegisterGenerator {
            keys: self.keys as u64,
            weights: self.weights,
            total: self.weights.iter().map(|w| u64::from(*w)).sum(),
            next_value: 1,
            recent: vec![Recent::default(); self.keys],
        })
    }

    fn final_generator(&self) -> Option<Box<dyn Generator>> {
        let keys = self.keys;
        Some(each_worker(move |worker| {
            sequence(
                (0..keys)
                    .map(|i| read((worker + i) % keys))
                    .collect::<Vec<_>>(),
            )
        }))
    }

    fn model(&self) -> &str {
        "cas-register"
    }

    fn initial(&self) -> Option<Value> {
        Some(Value::Null)
    }
}

fn read(key: usize) -> OpRequest {
    OpRequest::new("read", Some(json!(key)), Value::Null)
}

/// The last few values generated for one key, newest overwriting oldest.
#[derive(Debug, Clone, Copy, Default)]
struct Recent {
    values: [u64; RECENT],
    len: usize,
    next: usize,
}

impl Recent {
    fn push(&mut self, value: u64) {
        self.values[self.next] = value;
        self.next = (self.next + 1) % RECENT;
        self.len = (self.len + 1).min(RECENT);
    }

    fn pick(&self, rng: &mut StdRng) -> Value {
        if self.len == 0 {
            Value::Null
        } else {
            json!(self.values[rng.random_range(0..self.len)])
        }
    }
}

/// The unbounded main-phase generator; one shared state for all workers.
struct RegisterGenerator {
    keys: u64,
    weights: [u32; 3],
    total: u64,
    next_value: u64,
    recent: Vec<Recent>,
}

impl RegisterGenerator {
    fn fresh(&mut self, key: usize) -> u64 {
        let v = self.next_value;
        self.next_value += 1;
        self.recent[key].push(v);
        v
    }
}

impl Generator for RegisterGenerator {
    fn poll(&mut self, _ctx: &Context, rng: &mut StdRng) -> Poll {
        let key = rng.random_range(0..self.keys) as usize;
        let mut x = rng.random_range(0..self.total);
        let mut f = 0;
        while x >= u64::from(self.weights[f]) {
            x -= u64::from(self.weights[f]);
            f += 1;
        }
        let op = match f {
            0 => read(key),
            1 => {
                let v = self.fresh(key);
                OpRequest::new("write", Some(json!(key)), json!(v))
            }
            _ => {
                let from = self.recent[key].pick(rng);
                let to = self.fresh(key);
                OpRequest::new("cas", Some(json!(key)), json!([from, to]))
            }
        };
        Poll::Op(op)
    }
}

#[cfg(test)]
#[path = "register_tests.rs"]
mod tests;
