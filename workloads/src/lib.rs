//! faultline's workloads: generators of operations and the vocabulary of each workload.
//!
//! - [`generator`]: the [`Generator`] trait, its combinators, and the
//!   [`Dispatcher`](generator::Dispatcher) the controller's workers ask for ops.
//! - [`op`]: [`OpRequest`](op::OpRequest), what a worker should invoke.
//! - [`Workload`] and [`by_name`]: the registry of workloads (`register`, the
//!   transactional `append` and `wr` of [`txn`], and Jepsen's classic `set`, `bank`,
//!   `counter`, `unique-ids` and `queue` of [`classic`]), each naming the model its history
//!   is checked against.
//! - [`options`]: [`WorkloadOptions`] (how ops spread over [`Keys`], the mix, the shape of
//!   transactions) and the errors for options a workload cannot honour.
//!
//! This crate is pure logic: it never touches a network, an async runtime or a cluster.
//!
//! ```
//! use faultline_workloads::{by_name, WorkloadOptions};
//!
//! let register = by_name("register", &WorkloadOptions::default())?;
//! assert_eq!(register.model(), "cas-register");
//! let _main = register.generator(); // unbounded: the controller adds time_limit and stagger
//! let err = by_name("queues", &WorkloadOptions::default()).err().unwrap();
//! assert_eq!(
//!     err.to_string(),
//!     "unknown workload \"queues\"; known workloads: register, append, wr, set, bank, \
//!      counter, unique-ids, queue"
//! );
//! assert_eq!(by_name("append", &WorkloadOptions::default())?.model(), "list-append");
//! assert_eq!(by_name("queue", &WorkloadOptions::default())?.model(), "total-queue");
//! # Ok::<(), faultline_workloads::WorkloadError>(())
//! ```

pub mod classic;
pub mod generator;
pub mod op;
pub mod options;
pub mod register;
pub mod txn;

use serde_json::Value;

use crate::generator::Generator;
use crate::op::OpRequest;
pub use crate::options::{
    parse_mix, ClassicOptions, Keys, TxnOptions, WorkloadError, WorkloadOptions, DEFAULT_KEY_COUNT,
    DEFAULT_MAX_TXN_LENGTH, DEFAULT_MAX_WRITES_PER_KEY, DEFAULT_MIN_TXN_LENGTH,
    DEFAULT_OPS_PER_KEY, DEFAULT_THREADS_PER_KEY,
};

/// A kind of test traffic: what ops to generate, and how to judge the resulting history.
pub trait Workload: Send + Sync {
    /// The name users select it by (`--workload NAME`).
    fn name(&self) -> &str;

    /// The main phase's ops, unbounded: the controller wraps it in
    /// [`time_limit`](generator::time_limit) and [`stagger`](generator::stagger).
    fn generator(&self) -> Box<dyn Generator>;

    /// The ops to run after the faults are healed and the system has recovered (e.g. final
    /// reads), run by the controller as a separate generator; `None` when there are none.
    fn final_generator(&self) -> Option<Box<dyn Generator>>;

    /// Ops the controller runs once before the test, through one client, until each is
    /// `ok` (Jepsen's client `setup!`, e.g. the bank's starting balances); not recorded in the
    /// history. The default has none.
    fn setup(&self) -> Vec<OpRequest> {
        Vec::new()
    }

    /// The model the linearizability checker replays this workload's history against,
    /// e.g. `cas-register` (split by key).
    fn model(&self) -> &str;

    /// The model's initial state for every key, when the workload defines one
    /// (`null` for the register: a key never written reads as `null`).
    fn initial(&self) -> Option<Value>;

    /// Whether the latest main generator will give no more ops on `key`: a key its group
    /// took and then left for a fresh one. Online checking settles such a key once its ops
    /// have completed, and forgets its ops. The default: no key is ever retired.
    fn is_retired(&self, _key: &Value) -> bool {
        false
    }
}

type Builder = fn(&WorkloadOptions) -> Result<Box<dyn Workload>, WorkloadError>;

/// Every known workload, by name. Adding one is one line here and one module.
const WORKLOADS: &[(&str, Builder)] = &[
    ("register", |options| {
        Ok(Box::new(register::Register::new(options)?))
    }),
    ("append", |options| {
        Ok(Box::new(txn::Txn::new(txn::TxnKind::ListAppend, options)?))
    }),
    ("wr", |options| {
        Ok(Box::new(txn::Txn::new(txn::TxnKind::RwRegister, options)?))
    }),
    ("set", |options| Ok(Box::new(classic::Set::new(options)?))),
    ("bank", |options| Ok(Box::new(classic::Bank::new(options)?))),
    ("counter", |options| {
        Ok(Box::new(classic::Counter::new(options)?))
    }),
    ("unique-ids", |options| {
        Ok(Box::new(classic::UniqueIds::new(options)?))
    }),
    ("queue", |options| {
        Ok(Box::new(classic::Queue::new(options)?))
    }),
];

/// The names of the known workloads, in the order `--help` should list them.
pub fn names() -> Vec<&'static str> {
    WORKLOADS.iter().map(|(name, _)| *name).collect()
}

/// The workload called `name`, configured by `options`.
///
/// Errs naming the unknown workload and listing the known ones, or naming an option the
/// workload cannot honour.
pub fn by_name(name: &str, options: &WorkloadOptions) -> Result<Box<dyn Workload>, WorkloadError> {
    match WORKLOADS.iter().find(|(known, _)| *known == name) {
        Some((_, build)) => build(options),
        None => Err(WorkloadError::UnknownWorkload {
            name: name.to_string(),
            known: names().join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_register_and_passes_options_on() {
        let w = by_name("register", &WorkloadOptions::default()).unwrap();
        assert_eq!(w.name(), "register");
        assert_eq!(w.model(), "cas-register");
        assert_eq!(w.initial(), Some(Value::Null));
        let err = by_name(
            "register",
            &WorkloadOptions {
                keys: Keys::Fixed { count: 0 },
                ..WorkloadOptions::default()
            },
        )
        .err()
        .unwrap();
        assert_eq!(
            err.to_string(),
            "workload register needs at least one key, got 0 (try 5)"
        );
    }

    #[test]
    fn an_unknown_workload_lists_the_known_ones() {
        let err = by_name("Register", &WorkloadOptions::default())
            .err()
            .unwrap();
        assert_eq!(
            err,
            WorkloadError::UnknownWorkload {
                name: "Register".into(),
                known: "register, append, wr, set, bank, counter, unique-ids, queue".into()
            }
        );
        assert_eq!(
            names(),
            vec![
                "register",
                "append",
                "wr",
                "set",
                "bank",
                "counter",
                "unique-ids",
                "queue"
            ]
        );
    }
}
