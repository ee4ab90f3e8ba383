//! The classic Jepsen workloads besides the register and transactions, each a generator and
//! its op vocabulary, checked by the checker of the same kind in `faultline_checkers::classic`:
//!
//! | workload | ops | model (checker) |
//! |---|---|---|
//! | [`set`] | `add` a unique int, `read` the whole set | `set-full` |
//! | [`bank`] | `transfer` between accounts, `read` all balances | `bank` |
//! | [`counter`] | `add` a delta, `read` the value | `counter` |
//! | [`unique_ids`] | `generate` an id | `unique-ids` |
//! | [`queue`] | `enqueue` a unique int, `dequeue`, a final `drain` | `total-queue` |
//!
//! This module only declares and re-exports; it never talks to a client or checks anything.

pub mod bank;
mod common;
pub mod counter;
pub mod queue;
pub mod set;
pub mod unique_ids;

pub use bank::Bank;
pub use counter::Counter;
pub use queue::Queue;
pub use set::Set;
pub use unique_ids::UniqueIds;

#[cfg(test)]
mod tests;
