//! Elle-class transactional consistency checking: histories of txns (each a list of
//! micro-ops over keys) checked for the dependency cycles Adya names and the anomalies a
//! single read or txn can show, and judged against consistency models from
//! read-uncommitted to strict-serializable.
//!
//! Two workloads, as in Elle: **list-append** (`["append", k, v]`, `["r", k, [v...]]`),
//! whose reads reveal the order of every key's writes, and **rw-register** (`["w", k, v]`,
//! `["r", k, v]`), whose version orders are inferred. [`ListAppend`] and [`RwRegister`] are
//! [`Checker`](crate::checker::Checker)s; [`check`] returns malformed input as a
//! [`TxnError`] instead of an `unknown` result; [`detect`] tells the kinds apart.
//!
//! ```
//! use faultline_checkers::checker::{Checker, Validity};
//! use faultline_checkers::history::{History, Op, OpType, Process};
//! use faultline_checkers::txn::ListAppend;
//! use serde_json::json;
//!
//! let op = |p, kind, value| Op::new(Process::Client(p), kind, "txn", value);
//! let history = History::from_ops(vec![
//!     op(0, OpType::Invoke, json!([["append", "x", 1], ["r", "y", null]])),
//!     op(1, OpType::Invoke, json!([["append", "y", 1], ["r", "x", null]])),
//!     op(0, OpType::Ok, json!([["append", "x", 1], ["r", "y", []]])),
//!     op(1, OpType::Ok, json!([["append", "y", 1], ["r", "x", []]])),
//! ]);
//! // Each txn missed the other's append: write skew, a G2-item cycle.
//! let result = ListAppend::default().check(&history);
//! assert_eq!(result.valid, Validity::Invalid);
//! assert_eq!(result.details["anomaly-types"], json!(["G2-item"]));
//! assert_eq!(result.details["not"], json!(["repeatable-read"]));
//! ```
//!
//! This module only declares and re-exports; see each file for what it does.

mod append_checks;
mod append_index;
mod check;
mod complete;
mod complete_graph;
mod complete_report;
mod complete_sat;
mod cycle_specs;
mod cycles;
mod decode;
mod error;
mod explain;
mod findings;
mod graph;
mod lattice;
mod list_append;
mod orders;
mod rw_register;
pub mod simulate;
mod versions;

pub use check::{check, checker, ListAppend, RwRegister, TxnOptions, COMPLETE_PAIRS};
pub use decode::{detect, TxnKind};
pub use error::TxnError;
pub use lattice::{
    boundary, impossible_models, prohibited_anomalies, Anomaly, Boundary, ConsistencyModel,
    OrderEdges, UnknownModel,
};
pub use versions::VersionOrders;
