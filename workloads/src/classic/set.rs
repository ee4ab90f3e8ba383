//! The `set` workload: adds of unique elements to a set, and reads of the whole set,
//! checked by `set-full` (Jepsen's).
//!
//! Ops, each with a string key (see [`super::common`] for the keys):
//! - `add`: value a unique integer (one counter from 0 for the whole run, all keys);
//!   completes `ok`.
//! - `read`: value `null`; completes `ok` with the whole set, a JSON array of integers.
//!
//! The default mix is four adds to a read (`--mix add=4,read=1`): reads during the run show
//! when each element became visible, and whether it stayed. The final generator gives every
//! worker one read of every key, after healing, so a lost element shows as lost.
//! `initial()` carries the checker's parameters: `{"linearizable": bool}`.
//!
//! This module only generates; it never talks to a client or checks anything.

use serde_json::{json, Value};

use super::common::{read, unique_values_or, KeysAndMix};
use crate::generator::{each_worker, sequence, Generator};
use crate::options::{WorkloadError, WorkloadOptions};
use crate::Workload;

/// The set workload's operations and their default weights.
pub const OPERATIONS: [(&str, u32); 2] = [("add", 4), ("read", 1)];

/// The set workload, built by [`crate::by_name`]`("set", ...)`.
#[derive(Debug, Clone)]
pub struct Set {
    mix: KeysAndMix,
    linearizable: bool,
}

impl Set {
    /// A set workload from the options: keys, mix, and `classic.linearizable`.
    pub fn new(options: &WorkloadOptions) -> Result<Self, WorkloadError> {
        Ok(Set {
            mix: KeysAndMix::new("set", &OPERATIONS, options)?,
            linearizable: options.classic.linearizable,
        })
    }
}

impl Workload for Set {
    fn name(&self) -> &str {
        "set"
    }

    fn generator(&self) -> Box<dyn Generator> {
        unique_values_or(&self.mix, "add", read)
    }

    /// Every worker reads every key once, each starting at a different key.
    fn final_generator(&self) -> Option<Box<dyn Generator>> {
        let keys = self.mix.keys.clone();
        Some(each_worker(move |worker| {
            let n = keys.len();
            sequence((0..n).map(|i| read(&keys[(worker + i) % n])).collect())
        }))
    }

    fn model(&self) -> &str {
        "set-full"
    }

    fn initial(&self) -> Option<Value> {
        Some(json!({"linearizable": self.linearizable}))
    }
}
