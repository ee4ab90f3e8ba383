//! faultline's checkers: the history model every crate shares, the sequential models of
//! the systems under test, and the checkers that decide whether a history is legal.
//!
//! This crate is the leaf of the workspace. It knows nothing of networks, clusters, async
//! runtimes or the other faultline crates, so `faultline check` runs on a laptop with no
//! cluster, and a user can embed it to check their own histories.
//!
//! - [`history`]: ops, processes, pairing, and the `history.jsonl` reader and writer.
//! - [`checker`]: the `Checker` role and how verdicts compose.
//! - [`formats`]: importers for Jepsen's EDN histories and logs, and key-value logs.
//! - [`models`]: sequential specifications (register, cas-register, kv, mutex, queue, set).
//! - [`linearizable`]: the Wing–Gong–Lowe linearizability checker.
//! - [`simulate`]: generated linearizable histories (and broken ones) for tests and benchmarks.
//! - [`txn`]: Elle-class checking of transactional histories (list-append, rw-register).
//! - [`maelstrom`]: the checks of Maelstrom's echo, broadcast, g-set and counter workloads.
//! - [`selection`]: which checkers a model's histories go to, with their budget.
//! - [`streamed`]: checking a `history.jsonl` too large to hold, a batch of keys at a time.
//! - [`classic`]: the checkers of Jepsen's classic workloads: `set-full`, `bank`,
//!   `counter`, `unique-ids`, `total-queue`.

/// `impl Display for $type` writing `self.$name()`: the one name a type of this crate is
/// known by on the command line, in results and in reports.
macro_rules! display_by_name {
    ($type:ty, $name:ident) => {
        impl std::fmt::Display for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.$name())
            }
        }
    };
}

pub mod checker;
pub mod classic;
pub mod formats;
pub(crate) mod fxhash;
pub mod history;
mod jsonl;
pub mod kafka;
pub mod linearizable;
pub mod maelstrom;
pub mod models;
mod open_calls;
pub mod selection;
pub mod simulate;
pub mod streamed;
pub mod txn;
