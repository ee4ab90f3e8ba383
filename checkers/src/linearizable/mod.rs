//! The linearizability checker: Wing–Gong–Lowe search with memoisation and
//! P-compositionality (independent keys checked apart, in parallel), as in Porcupine and
//! Lowe's "Testing for linearizability".
//!
//! Semantics: `fail` ops never happened and are removed; `info` and pending ops may take
//! effect at any point after their invocation, or never, and their output is unknown (so
//! `info` reads are dropped); nemesis ops are ignored. When the time or memory budget runs
//! out the verdict is `unknown` with the reason, never a guess.
//!
//! This module must never parse files; callers hand it a [`History`](crate::history::History).

mod counterexample;
mod merge;
mod prepare;
mod run;
mod search;
mod unique;

pub use counterexample::{Attempt, Counterexample};
pub use merge::merge_parts;
pub use run::{check_history, Linearizable, SearchOptions};
pub use search::ProcessMemory;
