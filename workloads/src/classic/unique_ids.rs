//! The `unique-ids` workload: every op asks the system for a fresh id, checked by
//! `unique-ids` (Jepsen's: no id is handed out twice).
//!
//! Ops: `generate`, key `null`, value `null`; completes `ok` with the id (any JSON scalar;
//! ids are equal when their JSON is). No final ops; the checker takes no parameters.
//!
//! This module only generates; it never talks to a client or checks anything.

use serde_json::Value;

use crate::generator::{repeat, Generator};
use crate::op::OpRequest;
use crate::options::{resolve_mix, WorkloadError, WorkloadOptions};
use crate::Workload;

/// The unique-ids workload's one operation.
pub const OPERATIONS: [(&str, u32); 1] = [("generate", 1)];

/// The unique-ids workload, built by [`crate::by_name`]`("unique-ids", ...)`.
#[derive(Debug, Clone)]
pub struct UniqueIds;

impl UniqueIds {
    /// The workload; a mix may only name `generate`.
    pub fn new(options: &WorkloadOptions) -> Result<Self, WorkloadError> {
        resolve_mix("unique-ids", &OPERATIONS, &options.mix)?;
        Ok(UniqueIds)
    }
}

impl Workload for UniqueIds {
    fn name(&self) -> &str {
        "unique-ids"
    }

    fn generator(&self) -> Box<dyn Generator> {
        repeat(OpRequest::new("generate", None, Value::Null))
    }

    fn final_generator(&self) -> Option<Box<dyn Generator>> {
        None
    }

    fn model(&self) -> &str {
        "unique-ids"
    }

    fn initial(&self) -> Option<Value> {
        None
    }
}
