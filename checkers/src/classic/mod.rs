//! The classic Jepsen workloads' checkers, each a pure function of a history: `set-full`
//! (a set's elements, lost or stale), `bank` (balances under a fixed total), `counter`
//! (reads within what increments allow), `unique-ids` (no id twice) and `total-queue`
//! (what goes in comes out), plus [`QueueLinearizable`] for short queue histories.
//!
//! A workload names its checker by model name and carries the checker's parameters in its
//! `initial` JSON, so [`checker`] (or [`checkers`], which adds the optional extra checks)
//! builds it from `(model, initial)` alone. Ops with a `key` are judged key by key (the
//! details list every key); the op vocabulary of each is in its module.
//!
//! This module only declares and re-exports; it never reads files.

mod bank;
mod by_name;
mod common;
mod counter;
mod set_full;
#[cfg(test)]
mod testkit;
mod total_queue;
mod unique_ids;

pub use bank::{Bank, BankParams};
pub use by_name::{checker, checkers, MODEL_NAMES};
pub use counter::Counter;
pub use set_full::{SetFull, SetFullParams};
pub use total_queue::{QueueLinearizable, QueueParams, TotalQueue};
pub use unique_ids::UniqueIds;
