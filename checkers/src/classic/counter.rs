//! The `counter` checker, as Jepsen's `counter`: a counter starts at 0, `add` ops change it
//! by their value, and every `read` must lie between what certainly happened before it
//! began and what might have happened by the time it returned.
//!
//! For a read invoked at `t0` and completed at `t1` (per key):
//! - **lower bound**: the increments that completed `ok` before `t0`, plus every decrement
//!   invoked before `t1` that did not fail (it may have happened);
//! - **upper bound**: every increment invoked before `t1` that did not fail, plus the
//!   decrements that completed `ok` before `t0`.
//!
//! With increments only this is exactly Jepsen's rule (lower = `ok` adds before the read
//! began, upper = all attempted adds by the time it returned); decrements are bounded the
//! other way round. `fail` adds never happened and count nowhere; `info` and pending adds may
//! have happened at any time after their invocation, so they widen the bounds for every
//! later read. `info` reads say nothing and are skipped.
//!
//! Details (`details.keys[]`, one entry per key): `key`, `read_count`, `error_count`,
//! `reads: [{index, time, lower, value, upper}]` (every out-of-bounds read, and the others
//! thinned to at most 5000), `reads_left_out`, `errors` (the out-of-bounds reads, at most
//! 100), `max_absolute_error`. This module never reads files or draws.

use serde_json::{json, Value};

use crate::checker::{CheckResult, Judge, Validity};
use crate::history::{History, OpType};

use super::common::{by_key, first_named, key_name, thin, DETAIL_LIMIT};

/// The checker's name, and the model name workloads give for it.
pub const NAME: &str = "counter";

/// Jepsen's `counter` checker (with decrements allowed), split by key.
#[derive(Debug, Clone, Default)]
pub struct Counter;

/// One ok read and its bounds.
#[derive(Debug, Clone, Copy)]
struct Read {
    index: u64,
    time: u64,
    lower: i64,
    value: i64,
    upper: i64,
}

impl Read {
    fn in_bounds(&self) -> bool {
        self.lower <= self.value && self.value <= self.upper
    }

    /// How far outside its bounds the read is (0 inside).
    fn error(&self) -> i64 {
        (self.lower - self.value)
            .max(self.value - self.upper)
            .max(0)
    }

    fn to_json(self) -> Value {
        json!({"index": self.index, "time": self.time, "lower": self.lower,
               "value": self.value, "upper": self.upper})
    }
}

/// Running sums of increments and of decrements.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    up: i64,
    down: i64,
}

impl Sums {
    fn add(&mut self, d: i64) {
        if d >= 0 {
            self.up += d;
        } else {
            self.down += d;
        }
    }
}

impl Judge for Counter {
    fn name(&self) -> &str {
        NAME
    }

    fn judge(&self, history: &History) -> Result<CheckResult, String> {
        check(history)
    }
}

fn check(history: &History) -> Result<CheckResult, String> {
    let split = by_key(history)?;
    let mut valid = Validity::Valid;
    let mut reasons = Vec::new();
    let mut keys = Vec::new();
    let (mut total_reads, mut total_errors) = (0usize, 0usize);
    for (key, events) in &split.keys {
        // The adds certainly done (acknowledged) and possibly done (not failed).
        let (mut certain, mut possible) = (Sums::default(), Sums::default());
        // Per open read (by invocation index): the certain sums when it began.
        let mut began: std::collections::HashMap<u64, Sums> = Default::default();
        let mut reads: Vec<Read> = Vec::new();
        for e in events {
            match (e.invoke.f.as_str(), e.op.kind) {
                ("add", OpType::Invoke) => {
                    if e.outcome() == OpType::Fail {
                        continue;
                    }
                    possible.add(delta(e.invoke)?);
                }
                ("add", OpType::Ok) => certain.add(delta(e.invoke)?),
                ("read", OpType::Invoke) => {
                    began.insert(e.invoke.index, certain);
                }
                ("read", OpType::Ok) => {
                    let done = began.remove(&e.invoke.index).unwrap_or_default();
                    let value = e.op.value.as_i64().ok_or_else(|| {
                        format!(
                            "read #{} of key {} returned {}, not an integer",
                            e.op.index,
                            key_name(key.as_ref()),
                            e.op.value
                        )
                    })?;
                    reads.push(Read {
                        index: e.op.index,
                        time: e.invoke.time,
                        lower: done.up + possible.down,
                        value,
                        upper: possible.up + done.down,
                    });
                }
                ("add" | "read", _) => {}
                (other, OpType::Invoke) => {
                    return Err(format!(
                        "op #{} has function {other:?}; a counter has add and read",
                        e.op.index
                    ))
                }
                _ => {}
            }
        }
        let errors: Vec<Read> = reads.iter().filter(|r| !r.in_bounds()).copied().collect();
        total_reads += reads.len();
        total_errors += errors.len();
        if !errors.is_empty() {
            valid = Validity::Invalid;
            let named = first_named(errors.iter().map(|r| {
                format!(
                    "#{} read {} outside [{}, {}]",
                    r.index, r.value, r.lower, r.upper
                )
            }));
            reasons.push(format!(
                "key {}: {} of {} reads out of bounds: {named}",
                key_name(key.as_ref()),
                errors.len(),
                reads.len(),
            ));
        }
        let worst = errors.iter().max_by_key(|r| r.error()).map(|r| r.to_json());
        let (shown, left_out) = thin(&reads, |r| !r.in_bounds(), DETAIL_LIMIT);
        keys.push(json!({
            "key": key,
            "read_count": reads.len(),
            "error_count": errors.len(),
            "reads": shown.iter().map(|r| r.to_json()).collect::<Vec<_>>(),
            "reads_left_out": left_out,
            "errors": errors.iter().take(100).map(|r| r.to_json()).collect::<Vec<_>>(),
            "max_absolute_error": worst,
        }));
    }
    if total_reads == 0 && valid == Validity::Valid {
        valid = Validity::Unknown;
        reasons.push("no read completed ok: there is nothing to check".to_string());
    }
    let mut result = CheckResult::new(NAME, valid).details(json!({
        "read_count": total_reads,
        "error_count": total_errors,
        "keys": keys,
    }));
    result.reasons = reasons;
    Ok(result)
}

/// An add's amount: its invocation's integer value.
fn delta(invoke: &crate::history::Op) -> Result<i64, String> {
    invoke.value.as_i64().ok_or_else(|| {
        format!(
            "add #{} has value {}, not an integer amount",
            invoke.index, invoke.value
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Checker;
    use crate::classic::testkit::{fail, history, info, inv, keyed, ok};
    use crate::history::Op;
    use serde_json::json;

    fn check(h: &History) -> CheckResult {
        Counter.check(h)
    }

    /// An add of `d` on process `p`, completing as `done`.
    fn add(p: u64, d: i64, done: fn(u64, &str, Value) -> Op) -> [Op; 2] {
        [inv(p, "add", json!(d)), done(p, "add", json!(d))]
    }

    /// A read on process `p` that returned `v`.
    fn read(p: u64, v: i64) -> [Op; 2] {
        [inv(p, "read", Value::Null), ok(p, "read", json!(v))]
    }

    /// The calls, one after another, as a history.
    fn calls(calls: &[[Op; 2]]) -> History {
        history(calls.concat())
    }

    fn bounds(r: &CheckResult, key: usize) -> Vec<(i64, i64, i64)> {
        r.details["keys"][key]["reads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["lower"].as_i64().unwrap(),
                    r["value"].as_i64().unwrap(),
                    r["upper"].as_i64().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn reads_between_certain_and_possible_increments_are_valid() {
        let h = history(vec![
            inv(0, "add", json!(1)),
            ok(0, "add", json!(1)),
            inv(1, "add", json!(2)),
            inv(2, "read", json!(null)),
            info(1, "add", json!(2)), // may or may not have happened
            ok(2, "read", json!(3)),
            inv(3, "read", json!(null)),
            ok(3, "read", json!(1)),
        ]);
        let r = check(&h);
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!(bounds(&r, 0), vec![(1, 3, 3), (1, 1, 3)]);
        assert_eq!(r.details["error_count"], json!(0));
    }

    #[test]
    fn a_read_below_what_certainly_happened_is_out_of_bounds() {
        let h = calls(&[add(0, 5, ok), read(1, 4)]);
        let r = check(&h);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(
            r.reasons,
            vec!["key -: 1 of 1 reads out of bounds: #3 read 4 outside [5, 5]"]
        );
        assert_eq!(r.details["keys"][0]["errors"][0]["index"], json!(3));
        assert_eq!(
            r.details["keys"][0]["max_absolute_error"]["value"],
            json!(4)
        );
    }

    #[test]
    fn a_read_above_everything_attempted_and_failed_adds_count_nowhere() {
        let h = calls(&[add(0, 1, ok), add(1, 10, fail), read(2, 11)]);
        let r = check(&h);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(bounds(&r, 0), vec![(1, 11, 1)]);
    }

    #[test]
    fn an_add_concurrent_with_a_read_may_or_may_not_be_seen() {
        // The add completes after the read began: not certain, but possible.
        for seen in [0, 4] {
            let h = history(vec![
                inv(0, "add", json!(4)),
                inv(1, "read", json!(null)),
                ok(0, "add", json!(4)),
                ok(1, "read", json!(seen)),
            ]);
            assert_eq!(check(&h).valid, Validity::Valid, "saw {seen}");
        }
    }

    #[test]
    fn decrements_lower_the_lower_bound_while_possible() {
        let h = calls(&[add(0, 10, ok), add(1, -3, info), read(2, 7), read(2, 6)]);
        let r = check(&h);
        assert_eq!(bounds(&r, 0), vec![(7, 7, 10), (7, 6, 10)]);
        r.assert_verdict(Validity::Invalid, "#7 read 6 outside [7, 10]");
    }

    #[test]
    fn keys_are_counted_apart() {
        let mut ops = keyed("a", add(0, 2, ok).to_vec());
        ops.extend(keyed("b", read(1, 2).to_vec()));
        ops.extend(keyed("a", read(1, 2).to_vec()));
        let r = check(&history(ops));
        r.assert_invalid_for("key b: 1 of 1 reads");
        assert_eq!(r.details["keys"][0]["key"], json!("a"));
        assert_eq!(r.details["keys"][0]["error_count"], json!(0));
    }

    #[test]
    fn malformed_reads_and_no_reads_are_unknown() {
        let h = history(vec![inv(0, "read", json!(null)), ok(0, "read", json!("x"))]);
        let r = check(&h);
        r.assert_verdict(Validity::Unknown, "not an integer");
        let h = calls(&[add(0, 1, ok)]);
        assert_eq!(check(&h).valid, Validity::Unknown);
        // An info read says nothing.
        let h = history(vec![
            inv(0, "read", json!(null)),
            info(0, "read", json!(null)),
        ]);
        assert_eq!(check(&h).valid, Validity::Unknown);
    }
}
