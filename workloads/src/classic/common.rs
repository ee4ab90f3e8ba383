//! What the classic workloads share: the keys a set, counter or queue workload runs on, a
//! weighted choice of operation, and the read of one key.
//!
//! These workloads never retire a key: a set, counter or queue is judged by its final read
//! or drain after healing, so every key lives for the whole run. [`Keys::Fixed`] (`--keys N`)
//! gives N keys named `<base>-0` ... (one key is just `<base>`); independent keys (the
//! default) mean one key, `<base>`, for all workers.

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::Value;

use crate::generator::{from_fn, Generator, Poll};
use crate::op::OpRequest;
use crate::options::{resolve_mix, Keys, WorkloadError, WorkloadOptions};

/// The keys a classic workload runs on and the weights of its operations.
#[derive(Debug, Clone)]
pub(crate) struct KeysAndMix {
    /// The key names (see the module docs).
    pub keys: Vec<Value>,
    /// One weight per operation, in the order of the workload's `OPERATIONS`.
    pub weights: Vec<u32>,
}

impl KeysAndMix {
    /// The keys of `workload` (named after it) and its mix, from `options.keys` and
    /// `options.mix` over its `operations` and their default weights.
    pub(crate) fn new(
        workload: &str,
        operations: &[(&str, u32)],
        options: &WorkloadOptions,
    ) -> Result<Self, WorkloadError> {
        Ok(KeysAndMix {
            keys: key_names(workload, options.keys)?,
            weights: resolve_mix(workload, operations, &options.mix)?,
        })
    }
}

/// The key names `workload` runs on (see the module docs).
fn key_names(workload: &str, keys: Keys) -> Result<Vec<Value>, WorkloadError> {
    Ok(match keys.validate(workload)? {
        Keys::Fixed { count } if count > 1 => (0..count)
            .map(|i| Value::String(format!("{workload}-{i}")))
            .collect(),
        _ => vec![Value::String(workload.to_string())],
    })
}

/// A read of `key`'s whole value (the set's and the counter's `read`).
pub(crate) fn read(key: &Value) -> OpRequest {
    OpRequest::new("read", Some(key.clone()), Value::Null)
}

/// One of `keys`, uniformly.
pub(crate) fn pick(keys: &[Value], rng: &mut StdRng) -> Value {
    keys[rng.random_range(0..keys.len())].clone()
}

/// An index into `weights`, with odds proportional to the weights (not all zero).
pub(crate) fn choose(weights: &[u32], rng: &mut StdRng) -> usize {
    let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
    let mut x = rng.random_range(0..total.max(1));
    for (i, w) in weights.iter().enumerate() {
        if x < u64::from(*w) {
            return i;
        }
        x -= u64::from(*w);
    }
    weights.len() - 1
}

/// Ops over random keys of `mix`: with the odds of its first weight, `unique` of the next number
/// (0, 1, 2 ... across all keys, so every value is written once); otherwise `other` of the
/// key. The set's adds against its reads and the queue's enqueues against its dequeues.
pub(crate) fn unique_values_or(
    mix: &KeysAndMix,
    unique: &'static str,
    other: fn(&Value) -> OpRequest,
) -> Box<dyn Generator> {
    let KeysAndMix { keys, weights } = mix.clone();
    let mut next = 0u64;
    from_fn(move |_, rng| {
        let key = pick(&keys, rng);
        Poll::Op(match choose(&weights, rng) {
            0 => {
                next += 1;
                OpRequest::new(unique, Some(key), Value::from(next - 1))
            }
            _ => other(&key),
        })
    })
}
