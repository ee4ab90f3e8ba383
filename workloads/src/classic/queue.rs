//! The `queue` workload: enqueues of unique elements and dequeues, then a drain of every
//! queue, checked by `total-queue` (Jepsen's: what goes in comes out), and with
//! `classic.linearizable` also against the `fifo-queue` model (for short histories).
//!
//! Ops, each with a string key (see [`super::common`] for the keys):
//! - `enqueue`: value a unique integer (one counter from 0 for the whole run, all keys).
//! - `dequeue`: value `null`; completes `ok` with the element taken, or `ok` with `null`
//!   when the queue was empty (an empty queue is not a failure).
//! - `drain` (final only): value `null`; completes `ok` with every element left, in order.
//!
//! The default mix is even (`--mix enqueue=1,dequeue=1`). The final generator drains every
//! key once, after healing. `initial()` carries the checker's parameters:
//! `{"linearizable": bool, "allow_duplicates": true}`.
//!
//! This module only generates; it never talks to a client or checks anything.

use serde_json::{json, Value};

use super::common::{unique_values_or, KeysAndMix};
use crate::generator::{sequence, Generator};
use crate::op::OpRequest;
use crate::options::{WorkloadError, WorkloadOptions};
use crate::Workload;

/// The queue workload's operations and their default weights.
pub const OPERATIONS: [(&str, u32); 2] = [("enqueue", 1), ("dequeue", 1)];

/// The queue workload, built by [`crate::by_name`]`("queue", ...)`.
#[derive(Debug, Clone)]
pub struct Queue {
    mix: KeysAndMix,
    linearizable: bool,
}

impl Queue {
    /// A queue workload from the options: keys, mix, and `classic.linearizable`.
    pub fn new(options: &WorkloadOptions) -> Result<Self, WorkloadError> {
        Ok(Queue {
            mix: KeysAndMix::new("queue", &OPERATIONS, options)?,
            linearizable: options.classic.linearizable,
        })
    }
}

impl Workload for Queue {
    fn name(&self) -> &str {
        "queue"
    }

    fn generator(&self) -> Box<dyn Generator> {
        unique_values_or(&self.mix, "enqueue", |key| {
            OpRequest::new("dequeue", Some(key.clone()), Value::Null)
        })
    }

    /// One drain of every key.
    fn final_generator(&self) -> Option<Box<dyn Generator>> {
        Some(sequence(
            self.mix
                .keys
                .iter()
                .map(|k| OpRequest::new("drain", Some(k.clone()), Value::Null))
                .collect(),
        ))
    }

    fn model(&self) -> &str {
        "total-queue"
    }

    fn initial(&self) -> Option<Value> {
        Some(json!({"linearizable": self.linearizable, "allow_duplicates": true}))
    }
}
