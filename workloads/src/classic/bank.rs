//! The `bank` workload: transfers between accounts whose balances sum to a fixed total, and
//! reads of every balance, checked by `bank` (Jepsen's: every read sums to the total, and
//! shows no negative balance unless allowed).
//!
//! Ops (key `null`):
//! - `transfer`: value `{"from": a, "to": b, "amount": n}`, two different accounts and
//!   `1 <= n <= max_transfer`; completes `ok`, or `fail` (e.g. insufficient funds).
//! - `read`: value the accounts to read, `[0, 1, ...]` (every one); completes `ok` with
//!   `{"0": balance, "1": balance, ...}`, every account (as a string) to its balance.
//! - `init` (the setup op, run once before the test and not recorded): value the starting
//!   balances `{"0": b0, ...}`; writes them unless the accounts exist.
//!
//! Jepsen's defaults: 8 accounts, a total of 100, transfers of 1..=5, an even mix
//! (`--mix transfer=1,read=1`). The total is spread evenly (the first `total % accounts`
//! accounts get one more); `initial()` gives the checker's parameters and these starting
//! balances, which the client writes before the test: `{"accounts": [0, ..], "total": N,
//! "negative_balances": bool, "balances": {"0": b0, ...}}`. The final generator is one read.
//!
//! This module only generates; it never talks to a client or checks anything.

use rand::Rng;
use serde_json::{json, Map, Value};

use super::common::choose;
use crate::generator::{from_fn, once, Generator, Poll};
use crate::op::OpRequest;
use crate::options::{resolve_mix, ClassicOptions, WorkloadError, WorkloadOptions};
use crate::Workload;

/// The bank workload's operations and their default weights.
pub const OPERATIONS: [(&str, u32); 2] = [("transfer", 1), ("read", 1)];

/// The bank workload, built by [`crate::by_name`]`("bank", ...)`.
#[derive(Debug, Clone)]
pub struct Bank {
    options: ClassicOptions,
    weights: Vec<u32>,
}

impl Bank {
    /// A bank workload from the options: mix, and the bank's `classic` numbers.
    pub fn new(options: &WorkloadOptions) -> Result<Self, WorkloadError> {
        Ok(Bank {
            options: options.classic.validate_bank()?,
            weights: resolve_mix("bank", &OPERATIONS, &options.mix)?,
        })
    }

    /// Each account's starting balance, by account number as a string.
    pub fn balances(&self) -> Map<String, Value> {
        let n = self.options.accounts as i64;
        let (each, extra) = (self.options.total / n, self.options.total % n);
        (0..n)
            .map(|a| (a.to_string(), json!(each + i64::from(a < extra))))
            .collect()
    }
}

fn read(accounts: usize) -> OpRequest {
    OpRequest::new("read", None, json!((0..accounts).collect::<Vec<_>>()))
}

impl Workload for Bank {
    fn name(&self) -> &str {
        "bank"
    }

    fn generator(&self) -> Box<dyn Generator> {
        let (o, weights) = (self.options, self.weights.clone());
        from_fn(move |_, rng| {
            Poll::Op(match choose(&weights, rng) {
                0 => {
                    let from = rng.random_range(0..o.accounts);
                    // Another account: one of the others, uniformly.
                    let to = (from + rng.random_range(1..o.accounts)) % o.accounts;
                    let amount = rng.random_range(1..=o.max_transfer);
                    OpRequest::new(
                        "transfer",
                        None,
                        json!({"from": from, "to": to, "amount": amount}),
                    )
                }
                _ => read(o.accounts),
            })
        })
    }

    /// One read of every balance.
    fn final_generator(&self) -> Option<Box<dyn Generator>> {
        Some(once(read(self.options.accounts)))
    }

    /// Write the starting balances.
    fn setup(&self) -> Vec<OpRequest> {
        vec![OpRequest::new("init", None, Value::Object(self.balances()))]
    }

    fn model(&self) -> &str {
        "bank"
    }

    fn initial(&self) -> Option<Value> {
        Some(json!({
            "accounts": (0..self.options.accounts).collect::<Vec<_>>(),
            "total": self.options.total,
            "negative_balances": self.options.negative_balances,
            "balances": self.balances(),
        }))
    }
}
