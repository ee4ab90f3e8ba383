//! The `counter` workload: adds to a counter and reads of it, checked by `counter`
//! (Jepsen's: every read lies between what certainly happened before it began and what
//! might have happened by the time it returned).
//!
//! Ops, each with a string key (see [`super::common`] for the keys):
//! - `add`: value the delta, an integer 1..=5, or -5..=-1 as well when decrements are on
//!   (`classic.decrements`); completes `ok` (or `fail`/`info`).
//! - `read`: value `null`; completes `ok` with the counter's value, an integer.
//!
//! The default mix is even (`--mix add=1,read=1`). The final generator reads every key
//! once, after healing. The counter starts at 0; the checker takes no parameters.
//!
//! This module only generates; it never talks to a client or checks anything.

use rand::Rng;
use serde_json::{json, Value};

use super::common::{choose, pick, read, KeysAndMix};
use crate::generator::{from_fn, sequence, Generator, Poll};
use crate::op::OpRequest;
use crate::options::{WorkloadError, WorkloadOptions};
use crate::Workload;

/// The counter workload's operations and their default weights.
pub const OPERATIONS: [(&str, u32); 2] = [("add", 1), ("read", 1)];

/// The largest delta of one add.
pub const MAX_DELTA: i64 = 5;

/// The counter workload, built by [`crate::by_name`]`("counter", ...)`.
#[derive(Debug, Clone)]
pub struct Counter {
    mix: KeysAndMix,
    decrements: bool,
}

impl Counter {
    /// A counter workload from the options: keys, mix, and `classic.decrements`.
    pub fn new(options: &WorkloadOptions) -> Result<Self, WorkloadError> {
        Ok(Counter {
            mix: KeysAndMix::new("counter", &OPERATIONS, options)?,
            decrements: options.classic.decrements,
        })
    }
}

impl Workload for Counter {
    fn name(&self) -> &str {
        "counter"
    }

    fn generator(&self) -> Box<dyn Generator> {
        let (KeysAndMix { keys, weights }, decrements) = (self.mix.clone(), self.decrements);
        from_fn(move |_, rng| {
            let key = pick(&keys, rng);
            Poll::Op(match choose(&weights, rng) {
                0 => {
                    let mut delta = rng.random_range(1..=MAX_DELTA);
                    if decrements && rng.random_bool(0.5) {
                        delta = -delta;
                    }
                    OpRequest::new("add", Some(key), json!(delta))
                }
                _ => read(&key),
            })
        })
    }

    /// One read of every key.
    fn final_generator(&self) -> Option<Box<dyn Generator>> {
        Some(sequence(self.mix.keys.iter().map(read).collect()))
    }

    fn model(&self) -> &str {
        "counter"
    }

    fn initial(&self) -> Option<Value> {
        None
    }
}
