//! What a generator asks a client to do: one operation, before it is invoked.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An operation a worker should invoke: a function, an optional key, and an argument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpRequest {
    /// `read`, `write`, `cas`, ...
    pub f: String,
    /// The key, for multi-key workloads.
    pub key: Option<Value>,
    /// The argument: the value to write, `[from, to]` for cas, `null` for a read.
    pub value: Value,
}

impl OpRequest {
    /// A request with a key.
    pub fn new(f: impl Into<String>, key: Option<Value>, value: Value) -> Self {
        OpRequest {
            f: f.into(),
            key,
            value,
        }
    }
}
