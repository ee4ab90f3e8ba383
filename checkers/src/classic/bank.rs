//! The `bank` checker, as Jepsen's `jepsen.tests.bank/checker`: transfers move money between
//! a fixed set of accounts, so every read of all balances must sum to the same total, and
//! (unless the system allows it) show no negative balance.
//!
//! Each `ok` read (value: an object from account, as a string `"0"`, `"1"`, ..., to balance)
//! is judged on its own; the first problem found, in Jepsen's order, is its error:
//! `unexpected-key` (an account not in the test), `nil-balance` (a `null` balance),
//! `wrong-total`, `negative-value`. Transfers are not judged: a transfer's effect shows in
//! the reads. A read whose value is not such an object makes the result `unknown`.
//!
//! Parameters (the workload's `initial`): `{"accounts": [0, 1, ...], "total": 100,
//! "negative_balances": false}`, optionally `"balances"` (the starting balance of each
//! account, which must sum to the total; only the client uses it). Defaults: Jepsen's, 8
//! accounts and a total of 100.
//!
//! Details: `accounts`, `total`, `negative_balances`, `read_count`, `error_count`,
//! `first_error` (`{type, index, time, total, value, ...}`), `errors: {type: {count, first,
//! worst, last, lowest?, highest?}}`, and the series the report plots, `totals: [{index,
//! time, total, error}]` (every bad read, the others thinned to 5000; `time` is the read's
//! invocation), with `totals_left_out`. This module never reads files or draws.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::checker::{CheckResult, Judge, Validity};
use crate::history::{History, Op, OpType};

use super::common::{by_key, thin, DETAIL_LIMIT};

/// The checker's name, and the model name workloads give for it.
pub const NAME: &str = "bank";

/// The bank's parameters, read from the workload's `initial`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BankParams {
    /// The account numbers.
    pub accounts: Vec<i64>,
    /// The fixed sum of all balances.
    pub total: i64,
    /// Whether balances may go below zero.
    pub negative_balances: bool,
    /// The starting balances (by account, as a string), when the workload fixed them.
    pub balances: Option<BTreeMap<String, i64>>,
}

impl Default for BankParams {
    /// Jepsen's defaults: accounts 0..8, a total of 100, no negative balances.
    fn default() -> Self {
        BankParams {
            accounts: (0..8).collect(),
            total: 100,
            negative_balances: false,
            balances: None,
        }
    }
}

/// Jepsen's bank checker.
#[derive(Debug, Clone)]
pub struct Bank {
    params: BankParams,
}

impl Bank {
    /// A bank checker from parameters; errs when they cannot be right (no accounts, or
    /// starting balances that miss accounts or do not sum to the total).
    pub fn new(params: BankParams) -> Result<Bank, String> {
        if params.accounts.is_empty() {
            return Err("bank: the test needs at least one account".to_string());
        }
        if let Some(balances) = &params.balances {
            let sum: i64 = balances.values().sum();
            if sum != params.total {
                return Err(format!(
                    "bank: the starting balances sum to {sum}, not the total {}",
                    params.total
                ));
            }
            if let Some(extra) = balances
                .keys()
                .find(|k| !params.accounts.iter().any(|a| a.to_string() == **k))
            {
                return Err(format!(
                    "bank: starting balance for account {extra}, which is not one of the accounts"
                ));
            }
        }
        Ok(Bank { params })
    }
}

/// What is wrong with one read.
#[derive(Debug, Clone)]
struct BadRead {
    kind: &'static str,
    op: Value,
    total: i64,
    /// How bad, to pick the worst of a kind (Jepsen's `err-badness`).
    badness: f64,
    extra: (&'static str, Value),
}

impl BadRead {
    fn to_json(&self) -> Value {
        let mut v = self.op.clone();
        v["type"] = json!(self.kind);
        v["total"] = json!(self.total);
        v[self.extra.0] = self.extra.1.clone();
        v
    }
}

impl Judge for Bank {
    fn name(&self) -> &str {
        NAME
    }

    fn judge(&self, history: &History) -> Result<CheckResult, String> {
        let p = &self.params;
        let split = by_key(history)?;
        let mut reads: Vec<(Value, bool)> = Vec::new();
        let mut errors: Vec<BadRead> = Vec::new();
        for (_, events) in &split.keys {
            for e in events {
                if e.invoke.f != "read" || e.op.kind != OpType::Ok {
                    continue;
                }
                let (total, error) = self.judge_read(e.invoke, e.op)?;
                reads.push((
                    json!({"index": e.op.index, "time": e.invoke.time, "total": total,
                           "error": error.as_ref().map(|b| b.kind)}),
                    error.is_some(),
                ));
                errors.extend(error);
            }
        }
        reads.sort_by_key(|(r, _)| r["index"].as_u64());
        errors.sort_by_key(|b| b.op["index"].as_u64());
        let mut by_kind: BTreeMap<&'static str, Vec<&BadRead>> = BTreeMap::new();
        for b in &errors {
            by_kind.entry(b.kind).or_default().push(b);
        }
        let mut summary = Map::new();
        for (kind, list) in &by_kind {
            let worst = list
                .iter()
                .max_by(|a, b| a.badness.total_cmp(&b.badness))
                .map(|b| b.to_json());
            let mut entry = json!({
                "count": list.len(),
                "first": list[0].to_json(),
                "worst": worst,
                "last": list[list.len() - 1].to_json(),
            });
            if *kind == "wrong-total" {
                entry["lowest"] = list
                    .iter()
                    .min_by_key(|b| b.total)
                    .map(|b| b.to_json())
                    .into();
                entry["highest"] = list
                    .iter()
                    .max_by_key(|b| b.total)
                    .map(|b| b.to_json())
                    .into();
            }
            summary.insert(kind.to_string(), entry);
        }
        let (shown, left_out) = thin(&reads, |(_, bad)| *bad, DETAIL_LIMIT);
        let details = json!({
            "accounts": p.accounts,
            "total": p.total,
            "negative_balances": p.negative_balances,
            "read_count": reads.len(),
            "error_count": errors.len(),
            "first_error": errors.first().map(BadRead::to_json),
            "errors": summary,
            "totals": shown.into_iter().map(|(r, _)| r).collect::<Vec<_>>(),
            "totals_left_out": left_out,
        });
        if reads.is_empty() {
            return Ok(CheckResult::new(NAME, Validity::Unknown)
                .reason("no read completed ok: there is nothing to check")
                .details(details));
        }
        let Some(first) = errors.first() else {
            return Ok(CheckResult::new(NAME, Validity::Valid).details(details));
        };
        let mut result = CheckResult::new(NAME, Validity::Invalid).reason(format!(
            "{} of {} reads are wrong; the first, #{} by process {}: {}",
            errors.len(),
            reads.len(),
            first.op["index"],
            first.op["process"],
            describe(first, p.total)
        ));
        for (kind, list) in &by_kind {
            result = result.reason(format!(
                "{kind}: {} reads, the first #{}, the last #{}",
                list.len(),
                list[0].op["index"],
                list[list.len() - 1].op["index"]
            ));
        }
        Ok(result.details(details))
    }
}

impl Bank {
    /// Judge one ok read (`invoke` for its time); `None` when it is right.
    fn judge_read(&self, invoke: &Op, op: &Op) -> Result<(i64, Option<BadRead>), String> {
        let p = &self.params;
        let Value::Object(balances) = &op.value else {
            return Err(format!(
                "read #{} returned {}, not an object of balances by account",
                op.index, op.value
            ));
        };
        let mut total = 0i64;
        let mut nils = Vec::new();
        let mut negative = Vec::new();
        let mut unexpected = Vec::new();
        for (account, balance) in balances {
            if !p.accounts.iter().any(|a| a.to_string() == *account) {
                unexpected.push(json!(account));
            }
            match balance {
                Value::Null => nils.push(json!(account)),
                b => {
                    let b = b.as_i64().ok_or_else(|| {
                        format!(
                            "read #{} gives account {account} the balance {b}, not an integer",
                            op.index
                        )
                    })?;
                    total += b;
                    if b < 0 {
                        negative.push(json!(b));
                    }
                }
            }
        }
        let read = json!({"index": op.index, "time": invoke.time, "process": op.process,
                          "value": op.value});
        let bad = |kind, badness, extra| BadRead {
            kind,
            op: read.clone(),
            total,
            badness,
            extra,
        };
        let error = if !unexpected.is_empty() {
            Some(bad(
                "unexpected-key",
                unexpected.len() as f64,
                ("unexpected", json!(unexpected)),
            ))
        } else if !nils.is_empty() {
            Some(bad("nil-balance", nils.len() as f64, ("nils", json!(nils))))
        } else if total != p.total {
            let off = (total - p.total).abs() as f64 / (p.total.abs().max(1)) as f64;
            Some(bad("wrong-total", off, ("expected", json!(p.total))))
        } else if !p.negative_balances && !negative.is_empty() {
            let sum: i64 = negative.iter().filter_map(Value::as_i64).sum();
            Some(bad(
                "negative-value",
                -sum as f64,
                ("negative", json!(negative)),
            ))
        } else {
            None
        };
        Ok((total, error))
    }
}

/// One bad read in words.
fn describe(b: &BadRead, expected: i64) -> String {
    let value = &b.op["value"];
    match b.kind {
        "unexpected-key" => format!(
            "it names accounts {} that are not in the test ({value})",
            b.extra.1
        ),
        "nil-balance" => format!("accounts {} have no balance ({value})", b.extra.1),
        "wrong-total" => format!("the balances sum to {}, not {expected} ({value})", b.total),
        _ => format!("negative balances {} ({value})", b.extra.1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Checker;
    use crate::classic::testkit::{fail, history, info, inv, ok};

    fn bank(negative_balances: bool) -> Bank {
        Bank::new(BankParams {
            accounts: vec![0, 1, 2],
            total: 10,
            negative_balances,
            balances: None,
        })
        .unwrap()
    }

    fn read(p: u64, balances: Value) -> Vec<Op> {
        vec![inv(p, "read", Value::Null), ok(p, "read", balances)]
    }

    fn transfer(
        p: u64,
        from: i64,
        to: i64,
        amount: i64,
        outcome: fn(u64, &str, Value) -> Op,
    ) -> Vec<Op> {
        let v = json!({"from": from, "to": to, "amount": amount});
        vec![inv(p, "transfer", v.clone()), outcome(p, "transfer", v)]
    }

    #[test]
    fn reads_that_sum_to_the_total_are_valid() {
        let mut ops = read(0, json!({"0": 10, "1": 0, "2": 0}));
        ops.extend(transfer(1, 0, 1, 3, ok));
        ops.extend(transfer(1, 1, 2, 9, fail));
        ops.extend(transfer(1, 0, 2, 2, info));
        ops.extend(read(0, json!({"0": 5, "1": 3, "2": 2})));
        let r = bank(false).check(&history(ops));
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!(r.details["read_count"], json!(2));
        let totals: Vec<i64> = r.details["totals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["total"].as_i64().unwrap())
            .collect();
        assert_eq!(totals, vec![10, 10]);
    }

    #[test]
    fn a_wrong_total_names_the_first_bad_read() {
        let mut ops = read(0, json!({"0": 10, "1": 0, "2": 0}));
        ops.extend(read(1, json!({"0": 4, "1": 3, "2": 2})));
        ops.extend(read(0, json!({"0": 4, "1": 3, "2": 5})));
        let r = bank(false).check(&history(ops));
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(
            r.reasons[0],
            "2 of 3 reads are wrong; the first, #3 by process 1: the balances sum to 9, not 10 \
             ({\"0\":4,\"1\":3,\"2\":2})"
        );
        assert_eq!(
            r.reasons[1],
            "wrong-total: 2 reads, the first #3, the last #5"
        );
        assert_eq!(r.details["first_error"]["index"], json!(3));
        assert_eq!(
            r.details["errors"]["wrong-total"]["lowest"]["total"],
            json!(9)
        );
        assert_eq!(
            r.details["errors"]["wrong-total"]["highest"]["total"],
            json!(12)
        );
        assert_eq!(r.details["totals"][1]["error"], json!("wrong-total"));
    }

    #[test]
    fn negative_balances_are_wrong_only_where_forbidden() {
        let ops = read(0, json!({"0": 12, "1": -2, "2": 0}));
        let forbidden = bank(false).check(&history(ops.clone()));
        forbidden.assert_verdict(Validity::Invalid, "negative balances [-2]");
        assert_eq!(
            forbidden.details["errors"]["negative-value"]["count"],
            json!(1)
        );
        assert_eq!(bank(true).check(&history(ops)).valid, Validity::Valid);
    }

    #[test]
    fn unknown_accounts_and_missing_balances_are_errors() {
        let mut ops = read(0, json!({"0": 5, "1": 5, "7": 0}));
        ops.extend(read(0, json!({"0": 10, "1": null, "2": 0})));
        let r = bank(false).check(&history(ops));
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(
            r.details["errors"]["unexpected-key"]["first"]["unexpected"],
            json!(["7"])
        );
        assert_eq!(
            r.details["errors"]["nil-balance"]["first"]["nils"],
            json!(["1"])
        );
    }

    #[test]
    fn malformed_reads_and_bad_parameters() {
        let r = bank(false).check(&history(read(0, json!([1, 2]))));
        r.assert_verdict(Validity::Unknown, "not an object");
        let r = bank(false).check(&history(vec![
            inv(0, "read", Value::Null),
            info(0, "read", Value::Null),
        ]));
        assert_eq!(r.valid, Validity::Unknown);
        let bad = BankParams {
            balances: Some([("0".to_string(), 3)].into_iter().collect()),
            ..BankParams::default()
        };
        assert_eq!(
            Bank::new(bad).unwrap_err(),
            "bank: the starting balances sum to 3, not the total 100"
        );
    }
}
