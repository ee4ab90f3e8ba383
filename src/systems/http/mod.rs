//! The generic HTTP protocol (`--system http --endpoints URL,...`): any service that answers
//! three requests (four with transactions) can be tested without writing Rust. The user starts the nodes; faultline
//! only drives the workload and checks the history (it cannot kill or pause processes it did
//! not start, so process faults are refused for this system).
//!
//! # The protocol
//! Keys are strings, percent-encoded as one URL path segment; values are JSON values, `null`
//! meaning absent. Bodies are JSON.
//!
//! | request | answer when done (200) |
//! |---|---|
//! | `GET {base}/kv/{key}` | `{"value": v}` (`null` when absent) |
//! | `PUT {base}/kv/{key}` with `{"value": v}` | any JSON, e.g. `{}` |
//! | `POST {base}/kv/{key}/cas` with `{"from": f, "to": t}` | `{"applied": true}`, or `{"applied": false}` when the value was not `f` (`f` = `null`: only if absent) |
//! | `POST {base}/txn` with `{"ops": [[f, k, v], ...]}` (only for `--workload append` and `wr`) | `{"ops": [[f, k, v], ...]}`: the same micro-ops, in order, reads filled in |
//!
//! A transaction's micro-ops are `["r", k, null]` (a read: answer `["r", k, value]`, the
//! list for `append`, `null` for a key never written), `["append", k, v]` (append `v` to the
//! list at `k`) and `["w", k, v]` (write `v`); keys are integers. The service must apply a
//! transaction atomically, each read seeing the transaction's own earlier writes; a 200 says
//! it committed, a 409 (or any 4xx, or 503) that it certainly did not (a lost optimistic
//! race, an abort). The histories are checked for the consistency models of
//! `--consistency-models` (default `strict-serializable`).
//!
//! What each status means to the harness:
//!
//! | status | meaning | outcome |
//! |---|---|---|
//! | 200 | done (a cas with `applied: false` did nothing) | `ok` (cas not applied: `fail`) |
//! | 409 | a txn that aborted: nothing done | `fail` |
//! | 503 | certainly not done (no leader, not ready) | `fail` |
//! | 4xx | malformed request, nothing done | `fail` |
//! | 500, 504, any other, no answer in `--op-timeout`, a connection lost after sending | may or may not have happened | `info` (reads and read-only txns: `fail`) |
//! | refused connection | nothing was sent | `fail` |
//!
//! A correct service answers reads linearizably: a 200 for a read or write means it is
//! visible to every later request on any node. faultline's reference service speaks exactly
//! this protocol (`faultline node`).
//!
//! - [`system`]: the `http` system ([`HttpSystem`]): nodes the user started, reached by URL.
//! - [`client`]: the [`HttpClient`] of this protocol, used by `http` and by the reference
//!   system, whose nodes speak it.

pub mod client;
pub mod system;

pub use client::HttpClient;
pub use system::HttpSystem;
