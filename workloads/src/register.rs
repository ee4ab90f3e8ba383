//! The register workload: reads, writes and compare-and-sets on independent registers,
//! checked against the `cas-register` model key by key.
//!
//! Ops (keys are JSON integers, the initial value of every register is `null`):
//! - `read`: value `null` on invoke; the client completes it with the value read.
//! - `write`: value `v`, a fresh integer.
//! - `cas`: value `[from, to]`: `to` is a fresh integer, `from` one of the last few values
//!   generated for that key (by a write or as a cas's `to`), or `null` when none has been
//!   yet, so that a fair share of cas ops can succeed.
//!
//! Every value written is unique across the whole run (one counter from 1, for all keys):
//! a read identifies the write it saw, which is what makes a history checkable.
//!
//! Which key an op is on depends on [`Keys`]:
//! - **independent keys** (the default, Jepsen's `independent/concurrent-generator`): worker
//!   `i` belongs to group `i / threads_per_key`; a group's ops all go to its current key, and
//!   once `ops_per_key` ops have been generated on that key, the group's next op takes a fresh
//!   key (`0, 1, 2, ...` in the order groups ask, never reused). Keys thus stay short-lived
//!   and their histories small, whatever the length of the run.
//! - **a fixed set** `0..count` (`--keys N`): every op picks one of them at random.
//!
//! The final generator (after healing) makes **every worker read every key still in use
//! once** — the fixed keys, or the key each group had at the end of the main phase —
//! starting at a different key per worker: more final reads, from several processes, give
//! the checker more evidence that the healed cluster converged. Then, with independent keys,
//! **every retired key is read once more**, the workers sharing them out: a write that was
//! acknowledged and later lost (a crash that dropped what was not fsynced) is found whichever
//! key it hit, not only on the keys still in use.
//!
//! This module only generates; it never talks to a client or checks anything.

use std::sync::{Arc, Mutex};

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

use crate::generator::{each_worker, from_fn, phases, sequence, Context, Generator, Poll};
use crate::op::OpRequest;
use crate::options::{resolve_mix, Keys, WorkloadError, WorkloadOptions};
use crate::Workload;

/// The register workload's operations and their default weights (50% / 25% / 25%).
pub const OPERATIONS: [(&str, u32); 3] = [("read", 2), ("write", 1), ("cas", 1)];

/// How many recent values per key a cas may take its `from` from.
const RECENT: usize = 3;

/// The register workload, built by [`crate::by_name`]`("register", ...)`.
#[derive(Debug, Clone)]
pub struct Register {
    keys: Keys,
    /// Weights of read, write, cas.
    weights: [u32; 3],
    /// Each group's current key, written by the latest main generator and read by the
    /// final generator (independent keys only).
    current: CurrentKeys,
}

/// Each group's current key (`None`: the group has not asked for an op yet), shared between
/// a main generator and the final generator made after it.
type CurrentKeys = Arc<Mutex<Vec<Option<u64>>>>;

impl Register {
    /// A register workload from the options: its keys, and `mix` over read / write / cas.
    pub fn new(options: &WorkloadOptions) -> Result<Self, WorkloadError> {
        let keys = options.keys.validate("register")?;
        let w = resolve_mix("register", &OPERATIONS, &options.mix)?;
        Ok(Register {
            keys,
            weights: [w[0], w[1], w[2]],
            current: CurrentKeys::default(),
        })
    }

    /// The keys the final reads cover: the fixed set, or each group's key at the end of the
    /// latest main generator, in group order.
    fn keys_in_use(&self) -> Vec<u64> {
        match self.keys {
            Keys::Fixed { count } => (0..count as u64).collect(),
            Keys::Independent { .. } => lock(&self.current).iter().flatten().copied().collect(),
        }
    }

    /// With independent keys, every key the latest main generator took and then retired:
    /// keys are taken in order from 0, so those are the ones below the newest current key
    /// that no group holds now. None with a fixed set of keys (all of them are in use).
    fn retired_keys(&self) -> Vec<u64> {
        let Keys::Independent { .. } = self.keys else {
            return Vec::new();
        };
        let current = self.keys_in_use();
        let Some(&newest) = current.iter().max() else {
            return Vec::new();
        };
        (0..newest).filter(|key| !current.contains(key)).collect()
    }
}

/// The lock's contents, even when a panicking generator poisoned it (the keys stay valid).
fn lock(current: &CurrentKeys) -> std::sync::MutexGuard<'_, Vec<Option<u64>>> {
    current
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Workload for Register {
    fn name(&self) -> &str {
        "register"
    }

    /// A fresh main generator; with independent keys it starts again from key 0 and is the
    /// one whose current keys [`final_generator`](Workload::final_generator) reads.
    fn generator(&self) -> Box<dyn Generator> {
        let keys = match self.keys {
            Keys::Fixed { count } => KeyState::Fixed {
                recent: vec![Recent::default(); count],
            },
            Keys::Independent {
                threads_per_key,
                ops_per_key,
            } => {
                lock(&self.current).clear();
                KeyState::Independent {
                    threads_per_key,
                    ops_per_key,
                    next_key: 0,
                    groups: Vec::new(),
                    current: self.current.clone(),
                }
            }
        };
        Box::new(RegisterGenerator {
            weights: self.weights,
            total: self.weights.iter().map(|w| u64::from(*w)).sum(),
            next_value: 1,
            keys,
        })
    }

    /// Every worker reads every key in use once, then the workers share out one read of
    /// each retired key (see the module docs). The keys are taken when a worker first asks,
    /// so build it after the main phase, or at any time before.
    fn final_generator(&self) -> Option<Box<dyn Generator>> {
        let workload = self.clone();
        let mut keys: Option<Vec<u64>> = None;
        let in_use = each_worker(move |worker| {
            let keys = keys.get_or_insert_with(|| workload.keys_in_use());
            if keys.is_empty() {
                return sequence(Vec::new());
            }
            // Start at the worker's own group's key (independent) or key `worker` (fixed).
            let first = match workload.keys {
                Keys::Independent {
                    threads_per_key, ..
                } => worker / threads_per_key,
                Keys::Fixed { .. } => worker,
            };
            sequence(
                (0..keys.len())
                    .map(|i| read(keys[(first + i) % keys.len()]))
                    .collect(),
            )
        });
        // The retired keys, too, are taken when the phase is first polled.
        let workload = self.clone();
        let mut retired: Option<Box<dyn Generator>> = None;
        let retired = from_fn(move |ctx, rng| {
            retired
                .get_or_insert_with(|| {
                    sequence(workload.retired_keys().into_iter().map(read).collect())
                })
                .poll(ctx, rng)
        });
        Some(phases(vec![in_use, retired]))
    }

    fn model(&self) -> &str {
        "cas-register"
    }

    /// With independent keys: a key below the newest current key that no group holds now
    /// (keys are taken in order and never reused).
    fn is_retired(&self, key: &Value) -> bool {
        let (Keys::Independent { .. }, Some(key)) = (self.keys, key.as_u64()) else {
            return false;
        };
        let current = lock(&self.current);
        let newest = current.iter().flatten().max();
        newest.is_some_and(|&newest| key < newest) && !current.contains(&Some(key))
    }

    fn initial(&self) -> Option<Value> {
        Some(Value::Null)
    }
}

fn read(key: u64) -> OpRequest {
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

/// One group of workers sharing a key (independent keys).
#[derive(Debug, Clone, Copy, Default)]
struct Group {
    /// The group's key, `None` before its first op.
    key: Option<u64>,
    /// Ops generated on `key` so far.
    ops: u64,
    /// Recent values of `key`.
    recent: Recent,
}

/// How the main generator picks keys.
enum KeyState {
    /// Keys `0..recent.len()`, one picked at random for every op.
    Fixed { recent: Vec<Recent> },
    /// Independent keys: a group per `threads_per_key` workers.
    Independent {
        threads_per_key: usize,
        ops_per_key: u64,
        /// The next fresh key.
        next_key: u64,
        /// Groups by number, made when one of their workers first asks.
        groups: Vec<Group>,
        /// Each group's key, published for the final generator.
        current: CurrentKeys,
    },
}

impl KeyState {
    /// The key of `worker`'s next op, and that key's recent values.
    fn next(&mut self, worker: usize, rng: &mut StdRng) -> (u64, &mut Recent) {
        match self {
            KeyState::Fixed { recent } => {
                let key = rng.random_range(0..recent.len() as u64);
                (key, &mut recent[key as usize])
            }
            KeyState::Independent {
                threads_per_key,
                ops_per_key,
                next_key,
                groups,
                current,
            } => {
                let g = worker / *threads_per_key;
                if groups.len() <= g {
                    groups.resize(g + 1, Group::default());
                }
                let group = &mut groups[g];
                let key = match group.key {
                    Some(key) if group.ops < *ops_per_key => key,
                    _ => {
                        // Retire the old key (if any) and take a fresh one.
                        let key = *next_key;
                        *next_key += 1;
                        *group = Group {
                            key: Some(key),
                            ops: 0,
                            recent: Recent::default(),
                        };
                        let mut current = lock(current);
                        if current.len() <= g {
                            current.resize(g + 1, None);
                        }
                        current[g] = Some(key);
                        key
                    }
                };
                group.ops += 1;
                (key, &mut group.recent)
            }
        }
    }
}

/// The unbounded main-phase generator; one shared state for all workers.
struct RegisterGenerator {
    weights: [u32; 3],
    total: u64,
    next_value: u64,
    keys: KeyState,
}

impl Generator for RegisterGenerator {
    fn poll(&mut self, ctx: &Context, rng: &mut StdRng) -> Poll {
        let (key, recent) = self.keys.next(ctx.worker, rng);
        let mut x = rng.random_range(0..self.total);
        let mut f = 0;
        while x >= u64::from(self.weights[f]) {
            x -= u64::from(self.weights[f]);
            f += 1;
        }
        let mut fresh = || {
            let v = self.next_value;
            self.next_value += 1;
            v
        };
        let op = match f {
            0 => read(key),
            1 => {
                let v = fresh();
                recent.push(v);
                OpRequest::new("write", Some(json!(key)), json!(v))
            }
            _ => {
                let from = recent.pick(rng);
                let to = fresh();
                recent.push(to);
                OpRequest::new("cas", Some(json!(key)), json!([from, to]))
            }
        };
        Poll::Op(op)
    }
}

#[cfg(test)]
#[path = "register_tests.rs"]
mod tests;
