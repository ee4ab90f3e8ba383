//! faultline's workloads: generators of operations and the vocabulary of each workload.

pub mod generator;
pub mod op;
