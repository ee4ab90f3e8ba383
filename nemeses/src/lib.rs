//! faultline's nemeses: faults and fault schedules, written against a small `Control`
//! interface. This crate knows nothing of workloads, histories or checkers.
//!
//! - [`control`]: the traits a target implements to act on nodes ([`control::ProcessControl`],
//!   [`control::Control`]).
//! - [`nemesis`]: the Nemesis role and its [`nemesis::Outcome`]s.
//! - [`process`]: the `kill` and `pause` nemeses.
//! - [`ledger`]: which faults are applied, persisted for `faultline heal`.
//! - [`schedule`]: `--nemesis` parsing and the start/stop cycle that drives nemeses.

pub mod control;
pub mod ledger;
pub mod nemesis;
pub mod process;
pub mod schedule;

#[cfg(test)]
mod testing;
