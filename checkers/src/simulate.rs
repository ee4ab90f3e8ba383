//! Simulated histories for tests and benchmarks: concurrent clients against an atomic
//! register store or key-value store, whose histories are linearizable by construction,
//! and a mutation that makes one read return a value that was never current.
//!
//! Every op takes effect atomically at one moment between its invocation and completion,
//! chosen at random, so the history is linearizable. Some ops fail before taking effect
//! (`fail`), some end `info` (having taken effect or not), and after an `info` the client
//! continues under a fresh process id, as faultline's workers do. A seed makes every
//! history reproducible.
//!
//! This module must never check anything; it only generates.
//!
//! ```
//! use faultline_checkers::checker::{Checker, Validity};
//! use faultline_checkers::linearizable::Linearizable;
//! use faultline_checkers::simulate::{generate, mutate_read, SimConfig};
//!
//! let config = SimConfig::register(5, 2, 200, 7);
//! let history = generate(&config);
//! let checker = Linearizable::new(config.model_name(), None).unwrap();
//! assert_eq!(checker.check(&history).valid, Validity::Valid);
//! let broken = mutate_read(&history, 1).unwrap();
//! assert_eq!(checker.check(&broken).valid, Validity::Invalid);
//! ```

use serde_json::{json, Value};

use crate::history::{History, Op, OpType, Process};

/// What the simulated store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimWorkload {
    /// Integer registers with read/write/cas (`[from, to]`), checked with `cas-register`.
    /// Keys are JSON integers; with zero keys the ops carry no key (one register).
    Register,
    /// String registers with get/put/append, checked with `kv`. Keys are JSON strings.
    Kv,
}

/// The shape of a simulated history.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// The store and its vocabulary.
    pub workload: SimWorkload,
    /// Concurrent clients (at least 1).
    pub clients: usize,
    /// Independent keys (0 = unkeyed, register workload only).
    pub keys: usize,
    /// How many history lines (invocations plus completions) to generate, at least.
    pub ops: usize,
    /// Registers are written with values in `0..values` (small ranges make the search work).
    pub values: u32,
    /// Registers: every write and cas stores a fresh value (one counter for the whole
    /// history), and a cas expects one of the last few values of its key, as faultline's
    /// register workload does; `values` is then unused. (Kv strings are always unique.)
    pub unique_values: bool,
    /// Chance that an op ends `info`.
    pub info_rate: f64,
    /// Chance that an op fails before taking effect.
    pub fail_rate: f64,
    /// The seed of the whole history.
    pub seed: u64,
}

impl SimConfig {
    /// Registers with read/write/cas, 5 values, 2% info and 5% fail.
    pub fn register(clients: usize, keys: usize, ops: usize, seed: u64) -> SimConfig {
        SimConfig {
            workload: SimWorkload::Register,
            clients,
            keys,
            ops,
            values: 5,
            unique_values: false,
            info_rate: 0.02,
            fail_rate: 0.05,
            seed,
        }
    }

    /// A key-value store with get/put/append, 2% info and 5% fail.
    pub fn kv(clients: usize, keys: usize, ops: usize, seed: u64) -> SimConfig {
        SimConfig {
            workload: SimWorkload::Kv,
            keys: keys.max(1),
            ..SimConfig::register(clients, keys, ops, seed)
        }
    }

    /// The model that checks these histories: `cas-register` or `kv`.
    pub fn model_name(&self) -> &'static str {
        match self.workload {
            SimWorkload::Register => "cas-register",
            SimWorkload::Kv => "kv",
        }
    }
}

/// SplitMix64: a tiny, fast, seedable generator (not for cryptography).
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        crate::fxhash::mix(self.0)
    }
    /// Uniform in `0..n` (n > 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// An op in flight: what was invoked, and its result once it took effect.
#[derive(Debug)]
struct Flight {
    f: &'static str,
    key: usize,
    arg: Value,
    /// `Some(Ok(result))` once applied, `Some(Err(()))` for a cas that did not match.
    applied: Option<Result<Value, ()>>,
}

#[derive(Debug)]
enum Store {
    Registers(Vec<Option<u32>>),
    Strings(Vec<String>),
}

impl Store {
    fn apply(&mut self, f: &str, key: usize, arg: &Value) -> Result<Value, ()> {
        match self {
            Store::Registers(regs) => match f {
                "read" => Ok(regs[key].map_or(Value::Null, |v| json!(v))),
                "write" => {
                    regs[key] = arg.as_u64().map(|v| v as u32);
                    Ok(arg.clone())
                }
                _ => {
                    let from = arg[0].as_u64().map(|v| v as u32);
                    if regs[key] == from {
                        regs[key] = arg[1].as_u64().map(|v| v as u32);
                        Ok(arg.clone())
                    } else {
                        Err(())
                    }
                }
            },
            Store::Strings(strings) => match f {
                "get" => Ok(json!(strings[key])),
                "put" => {
                    strings[key] = arg.as_str().unwrap_or_default().to_string();
                    Ok(arg.clone())
                }
                _ => {
                    strings[key].push_str(arg.as_str().unwrap_or_default());
                    Ok(arg.clone())
                }
            },
        }
    }
}

/// Generate a linearizable history of at least `config.ops` lines (ops still in flight at
/// the end are left pending).
pub fn generate(config: &SimConfig) -> History {
    let mut rng = Rng::new(config.seed);
    let clients = config.clients.max(1);
    let keys = config.keys.max(1);
    let values = u64::from(config.values.max(1));
    let mut store = match config.workload {
        SimWorkload::Register => Store::Registers(vec![None; keys]),
        SimWorkload::Kv => Store::Strings(vec![String::new(); keys]),
    };
    let mut processes: Vec<u64> = (0..clients as u64).collect();
    let mut flights: Vec<Option<Flight>> = (0..clients).map(|_| None).collect();
    let mut next_process = clients as u64;
    let mut ops = Vec::with_capacity(config.ops + clients);
    let mut time = 0u64;
    let mut appended = 0u64;
    // For unique values: the last few values generated per key, for cas to expect.
    let mut recent: Vec<Vec<u64>> = vec![Vec::new(); keys];
    let keyed = config.workload == SimWorkload::Kv || config.keys > 0;
    let key_value = |key: usize| match config.workload {
        SimWorkload::Register => json!(key),
        SimWorkload::Kv => json!(key.to_string()),
    };
    let op = |process: u64, kind: OpType, f: &str, key: usize, value: Value, time: u64| {
        let mut op = Op::new(Process::Client(process), kind, f, value);
        op.time = time;
        if keyed {
            op.key = Some(key_value(key));
        }
        op
    };
    while ops.len() < config.ops {
        time += 1_000 + rng.below(1_000);
        let c = rng.below(clients as u64) as usize;
        let process = processes[c];
        match flights[c].take() {
            None => {
                let key = rng.below(keys as u64) as usize;
                let roll = rng.below(10);
                let (f, arg) = match config.workload {
                    SimWorkload::Register if config.unique_values => {
                        let fresh = appended + 1;
                        let from = match recent[key].len() as u64 {
                            0 => Value::Null,
                            n => json!(recent[key][rng.below(n) as usize]),
                        };
                        let op = match roll {
                            0..=3 => ("read", Value::Null),
                            4..=6 => ("write", json!(fresh)),
                            _ => ("cas", json!([from, fresh])),
                        };
                        if roll > 3 {
                            recent[key].push(fresh);
                            if recent[key].len() > 3 {
                                recent[key].remove(0);
                            }
                        }
                        op
                    }
                    SimWorkload::Register => match roll {
                        0..=3 => ("read", Value::Null),
                        4..=6 => ("write", json!(rng.below(values))),
                        _ => ("cas", json!([rng.below(values), rng.below(values)])),
                    },
                    SimWorkload::Kv => match roll {
                        0..=3 => ("get", Value::Null),
                        4 => ("put", json!(format!("p {process} {appended} q"))),
                        _ => ("append", json!(format!("x {process} {appended} y"))),
                    },
                };
                appended += 1;
                ops.push(op(process, OpType::Invoke, f, key, arg.clone(), time));
                flights[c] = Some(Flight {
                    f,
                    key,
                    arg,
                    applied: None,
                });
            }
            Some(mut flight) => {
                let roll = rng.unit();
                let done = match &flight.applied {
                    None if roll < config.fail_rate => Some((OpType::Fail, flight.arg.clone())),
                    None if roll < config.fail_rate + config.info_rate / 2.0 => {
                        Some((OpType::Info, flight.arg.clone()))
                    }
                    None => {
                        flight.applied = Some(store.apply(flight.f, flight.key, &flight.arg));
                        None
                    }
                    Some(_) if roll < config.info_rate / 2.0 => {
                        Some((OpType::Info, flight.arg.clone()))
                    }
                    Some(Ok(result)) => Some((OpType::Ok, result.clone())),
                    Some(Err(())) => Some((OpType::Fail, flight.arg.clone())),
                };
                match done {
                    Some((kind, value)) => {
                        ops.push(op(process, kind, flight.f, flight.key, value, time));
                        if kind == OpType::Info {
                            processes[c] = next_process;
                            next_process += 1;
                        }
                    }
                    None => flights[c] = Some(flight),
                }
            }
        }
    }
    History::from_ops(ops)
}

/// The same history with one `ok` read (chosen by `seed`) returning a value no write ever
/// stored, so it is certainly not linearizable; `None` when there is no `ok` read.
pub fn mutate_read(history: &History, seed: u64) -> Option<History> {
    let reads: Vec<usize> = history
        .ops
        .iter()
        .enumerate()
        .filter(|(_, op)| op.kind == OpType::Ok && (op.f == "read" || op.f == "get"))
        .map(|(i, _)| i)
        .collect();
    if reads.is_empty() {
        return None;
    }
    let at = reads[Rng::new(seed).below(reads.len() as u64) as usize];
    let mut mutated = history.clone();
    let op = &mut mutated.ops[at];
    op.value = match &op.value {
        Value::String(s) => json!(format!("{s}!never-written")),
        _ => json!(1_000_000_007u64),
    };
    Some(mutated)
}

/// The same ops on `key`, their process ids shifted by `process_offset`, so that histories
/// generated apart merge into one history of several keys.
pub fn on_key(history: History, key: &Value, process_offset: u64) -> Vec<Op> {
    history
        .ops
        .into_iter()
        .map(|mut op| {
            if let Process::Client(p) = op.process {
                op.process = Process::Client(p + process_offset);
            }
            op.with_key(key.clone())
        })
        .collect()
}

/// Two keys: `"hard"`, which the search cannot finish in reasonable time (50 clients, 10%
/// `info` ops, five values written over and over, so the unique-values path does not
/// apply), and `"bad"`, small and plainly not linearizable (a read of a value never
/// written). A checker that stops at the first proven violation answers at once.
pub fn hard_and_invalid_keys() -> History {
    let hard = generate(&SimConfig {
        info_rate: 0.1,
        ..SimConfig::register(50, 0, 4_000, 7)
    });
    let small = SimConfig::register(3, 0, 60, 11);
    let bad = (0..50)
        .find_map(|seed| mutate_read(&generate(&small), seed))
        .expect("a small history with a read");
    let mut ops = on_key(hard, &json!("hard"), 0);
    ops.extend(on_key(bad, &json!("bad"), 1_000_000));
    History::from_ops(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::{Checker, Validity};
    use crate::linearizable::Linearizable;

    #[test]
    fn same_seed_same_history() {
        let c = SimConfig::kv(4, 3, 100, 9);
        assert_eq!(generate(&c), generate(&c));
        assert_ne!(generate(&c), generate(&SimConfig { seed: 10, ..c }));
    }

    #[test]
    fn generated_histories_pair_and_hold_every_kind() {
        let h = generate(&SimConfig {
            info_rate: 0.2,
            ..SimConfig::register(6, 0, 2_000, 3)
        });
        assert!(h.len() >= 2_000);
        h.pair().unwrap();
        for kind in [OpType::Ok, OpType::Fail, OpType::Info] {
            assert!(h.ops.iter().any(|op| op.kind == kind), "no {kind} op");
        }
        assert!(h.ops.iter().all(|op| op.key.is_none()));
    }

    #[test]
    fn simulated_histories_are_linearizable_and_mutated_ones_are_not() {
        for seed in 0..5 {
            for config in [
                SimConfig::register(5, 2, 400, seed),
                SimConfig::kv(5, 3, 400, seed),
            ] {
                let checker = Linearizable::new(config.model_name(), None).unwrap();
                let h = generate(&config);
                assert_eq!(checker.check(&h).valid, Validity::Valid, "{config:?}");
                let bad = mutate_read(&h, seed).unwrap();
                assert_eq!(checker.check(&bad).valid, Validity::Invalid, "{config:?}");
            }
        }
    }
}
