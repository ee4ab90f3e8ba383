//! The checkers of Maelstrom's workloads that faultline's other checkers do not already
//! cover, as Maelstrom judges them (its `workload/*.clj`):
//!
//! - [`Echo`]: every `echo` that completed `ok` returned exactly the payload it sent.
//! - [`EventualSet`] (`broadcast`, `g-set`): eventual consistency of a grow-only set. The
//!   final reads (every `read` invoked after the last add was invoked and after the
//!   harness's final `heal`: the reads after healing, one per node) must each hold every acknowledged element; an element read that
//!   was never added, or whose add certainly failed, is unexpected. Reads during the run may
//!   lag: they only give each element's **stable latency**, the time from its add to the
//!   beginning of the earliest read after which no read missed it.
//! - [`EventualCounter`] (`g-counter`, `pn-counter`): every final read lies between the sum
//!   of the acknowledged deltas and the sum of every delta that may have been applied (`ok`,
//!   `info` or pending); reads during the run may lag and are not judged.
//!
//! lin-kv, unique-ids and the transactional workloads go to faultline's linearizability,
//! unique-ids and Elle-class checkers. Pure functions of the history: no I/O.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::checker::{CheckResult, Judge, Validity};
use crate::history::{History, Op, OpType, Process};

/// Every client call: its invocation and completion (`None`: pending at the end).
fn calls(history: &History) -> Result<Vec<(&Op, Option<&Op>)>, String> {
    let pairs = history.pair().map_err(|e| e.to_string())?;
    Ok(pairs
        .iter()
        .map(|c| {
            (
                &history.ops[c.invoke],
                c.completion.map(|i| &history.ops[i]),
            )
        })
        .collect())
}

/// Maelstrom's `echo` check.
#[derive(Debug, Clone, Default)]
pub struct Echo;

impl Judge for Echo {
    fn name(&self) -> &str {
        "echo"
    }

    fn judge(&self, history: &History) -> Result<CheckResult, String> {
        let calls = calls(history)?;
        let mut ok = 0;
        let mut wrong = Vec::new();
        for (invoke, completion) in &calls {
            let Some(done) = completion.filter(|c| c.kind == OpType::Ok) else {
                continue;
            };
            ok += 1;
            if done.value != invoke.value {
                wrong.push(format!(
                    "op #{} sent {} and got back {}",
                    invoke.index, invoke.value, done.value
                ));
            }
        }
        let valid = if !wrong.is_empty() {
            Validity::Invalid
        } else if ok == 0 {
            Validity::Unknown
        } else {
            Validity::Valid
        };
        let mut result = CheckResult::new(self.name(), valid)
            .details(json!({"ok_count": ok, "wrong_count": wrong.len()}));
        if ok == 0 {
            result = result.reason("no echo completed ok: nothing to judge");
        }
        for why in wrong.iter().take(10) {
            result = result.reason(why.clone());
        }
        Ok(result)
    }
}

/// The final reads: `read` calls invoked after the last invocation of `add_f` and after the
/// harness's final `heal` (a nemesis op), when the history has one.
fn final_reads<'a>(
    history: &History,
    calls: &[(&'a Op, Option<&'a Op>)],
    add_f: &str,
) -> Vec<(&'a Op, &'a Op)> {
    let last_heal = history
        .ops
        .iter()
        .filter(|op| op.process == Process::Nemesis && op.f == "heal")
        .map(|op| op.index)
        .max();
    let last_add = calls
        .iter()
        .filter(|(i, _)| i.f == add_f)
        .map(|(i, _)| i.index)
        .chain(last_heal)
        .max();
    calls
        .iter()
        .filter(|(i, _)| i.f == "read" && last_add.is_none_or(|last| i.index > last))
        .filter_map(|(i, c)| c.filter(|c| c.kind == OpType::Ok).map(|c| (*i, c)))
        .collect()
}

/// Maelstrom's check of a grow-only set (`broadcast`, `g-set`).
#[derive(Debug, Clone)]
pub struct EventualSet {
    name: String,
    add_f: String,
}

impl EventualSet {
    /// The check of workload `name`, whose adds are ops `add_f` with the element as value.
    pub fn new(name: &str, add_f: &str) -> EventualSet {
        EventualSet {
            name: name.to_string(),
            add_f: add_f.to_string(),
        }
    }
}

/// Elements of a read's value (a JSON list), as text, or why it is not one.
fn elements(read: &Op) -> Result<BTreeSet<String>, String> {
    match &read.value {
        Value::Array(items) => Ok(items.iter().map(Value::to_string).collect()),
        other => Err(format!("read #{} returned {other}, not a list", read.index)),
    }
}

fn quantiles(mut values: Vec<u64>) -> Value {
    if values.is_empty() {
        return Value::Null;
    }
    values.sort_unstable();
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize] as f64 / 1e6;
    json!({"0": at(0.0), "0.5": at(0.5), "0.95": at(0.95), "0.99": at(0.99), "1": at(1.0)})
}

impl Judge for EventualSet {
    fn name(&self) -> &str {
        &self.name
    }

    fn judge(&self, history: &History) -> Result<CheckResult, String> {
        let calls = calls(history)?;
        // Each element: its add's invocation, and whether the add was acknowledged or failed.
        let mut adds: BTreeMap<String, (&Op, Option<OpType>)> = BTreeMap::new();
        for (invoke, completion) in calls.iter().filter(|(i, _)| i.f == self.add_f) {
            adds.insert(
                invoke.value.to_string(),
                (*invoke, completion.map(|c| c.kind)),
            );
        }
        let finals = final_reads(history, &calls, &self.add_f);
        if finals.is_empty() {
            return Ok(CheckResult::new(self.name(), Validity::Unknown)
                .reason("no final read completed: whether every element arrived is not known"));
        }
        let mut lost: BTreeSet<String> = BTreeSet::new();
        let mut unexpected: BTreeSet<String> = BTreeSet::new();
        let mut final_sets = Vec::new();
        for (_, read) in &finals {
            final_sets.push(elements(read)?);
        }
        for (element, (_, outcome)) in &adds {
            if *outcome == Some(OpType::Ok) && final_sets.iter().any(|s| !s.contains(element)) {
                lost.insert(element.clone());
            }
        }
        // Every read, during the run too: nothing may appear that was not added.
        let reads: Vec<(&Op, &Op)> = calls
            .iter()
            .filter(|(i, _)| i.f == "read")
            .filter_map(|(i, c)| c.filter(|c| c.kind == OpType::Ok).map(|c| (*i, c)))
            .collect();
        let mut read_sets = Vec::new();
        for (invoke, read) in &reads {
            let set = elements(read)?;
            for element in &set {
                match adds.get(element) {
                    Some((add, outcome))
                        if add.index < read.index && *outcome != Some(OpType::Fail) => {}
                    _ => {
                        unexpected.insert(element.clone());
                    }
                }
            }
            read_sets.push((invoke.time, set));
        }
        // Stable latency: from the add to the start of the earliest read after which no
        // read missed the element.
        let mut stable = Vec::new();
        for (element, (add, outcome)) in &adds {
            if *outcome != Some(OpType::Ok) || lost.contains(element) {
                continue;
            }
            let last_miss = read_sets
                .iter()
                .filter(|(start, set)| *start >= add.time && !set.contains(element))
                .map(|(start, _)| *start)
                .max();
            let stable_at = read_sets
                .iter()
                .filter(|(start, set)| {
                    *start >= add.time
                        && set.contains(element)
                        && last_miss.is_none_or(|miss| *start > miss)
                })
                .map(|(start, _)| *start)
                .min();
            if let Some(at) = stable_at {
                stable.push(at - add.time);
            }
        }
        let acknowledged = adds
            .values()
            .filter(|(_, o)| *o == Some(OpType::Ok))
            .count();
        let valid = if lost.is_empty() && unexpected.is_empty() {
            Validity::Valid
        } else {
            Validity::Invalid
        };
        let list = |s: &BTreeSet<String>| s.iter().take(50).cloned().collect::<Vec<_>>().join(", ");
        let mut result = CheckResult::new(self.name(), valid).details(json!({
            "attempt_count": adds.len(),
            "acknowledged_count": acknowledged,
            "final_read_count": finals.len(),
            "lost_count": lost.len(),
            "lost": lost.iter().take(200).collect::<Vec<_>>(),
            "unexpected_count": unexpected.len(),
            "unexpected": unexpected.iter().take(200).collect::<Vec<_>>(),
            "stable_latencies_ms": quantiles(stable),
        }));
        if !lost.is_empty() {
            result = result.reason(format!(
                "{} acknowledged elements missing from a final read (of {} final reads): {}",
                lost.len(),
                finals.len(),
                list(&lost)
            ));
        }
        if !unexpected.is_empty() {
            result = result.reason(format!(
                "{} elements read that were never added (or whose add failed): {}",
                unexpected.len(),
                list(&unexpected)
            ));
        }
        Ok(result)
    }
}

/// Maelstrom's check of an eventually consistent counter (`g-counter`, `pn-counter`).
#[derive(Debug, Clone)]
pub struct EventualCounter {
    name: String,
}

impl EventualCounter {
    /// The check of workload `name` (`add` ops carry the delta, `read` ops the value).
    pub fn new(name: &str) -> EventualCounter {
        EventualCounter {
            name: name.to_string(),
        }
    }
}

impl Judge for EventualCounter {
    fn name(&self) -> &str {
        &self.name
    }

    fn judge(&self, history: &History) -> Result<CheckResult, String> {
        let calls = calls(history)?;
        // The sum of acknowledged deltas, and the range every possibly-applied delta spans.
        let (mut certain, mut low, mut high) = (0i64, 0i64, 0i64);
        for (invoke, completion) in calls.iter().filter(|(i, _)| i.f == "add") {
            let Some(delta) = invoke.value.as_i64() else {
                return Err(format!(
                    "add #{} has delta {}, not an integer",
                    invoke.index, invoke.value
                ));
            };
            match completion.map(|c| c.kind) {
                Some(OpType::Fail) => continue,
                Some(OpType::Ok) => certain += delta,
                _ => {
                    // May or may not have happened: widen the range its way.
                    if delta < 0 {
                        low += delta;
                    } else {
                        high += delta;
                    }
                    continue;
                }
            }
        }
        let (lower, upper) = (certain + low, certain + high);
        let finals = final_reads(history, &calls, "add");
        if finals.is_empty() {
            return Ok(CheckResult::new(self.name(), Validity::Unknown)
                .reason("no final read completed: the counter's convergence is not known"));
        }
        let mut wrong = Vec::new();
        for (_, read) in &finals {
            match read.value.as_i64() {
                Some(v) if (lower..=upper).contains(&v) => {}
                _ => wrong.push(format!(
                    "final read #{} ({}) returned {}, outside [{lower}, {upper}]",
                    read.index, read.process, read.value
                )),
            }
        }
        let valid = if wrong.is_empty() {
            Validity::Valid
        } else {
            Validity::Invalid
        };
        let mut result = CheckResult::new(self.name(), valid).details(json!({
            "acknowledged_sum": certain,
            "lower": lower,
            "upper": upper,
            "final_reads": finals.iter().map(|(_, r)| r.value.clone()).collect::<Vec<_>>(),
        }));
        for why in wrong {
            result = result.reason(why);
        }
        Ok(result)
    }
}

/// The checkers faultline gives Maelstrom's own workloads, by name; `None` for the workloads
/// other checkers judge (lin-kv, unique-ids, txn-list-append, txn-rw-register).
pub fn checkers_for(workload: &str) -> Option<Vec<Box<dyn crate::checker::Checker>>> {
    let checker: Box<dyn crate::checker::Checker> = match workload {
        "echo" => Box::new(Echo),
        "broadcast" => Box::new(EventualSet::new("broadcast", "broadcast")),
        "g-set" => Box::new(EventualSet::new("g-set", "add")),
        "g-counter" | "pn-counter" => Box::new(EventualCounter::new(workload)),
        "kafka" => Box::new(crate::kafka::KafkaChecker),
        _ => return None,
    };
    Some(vec![checker])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Checker;

    /// Ops `(process, type, f, value)` at times 0, 10, 20, ... ns.
    fn history(ops: &[(u64, OpType, &str, Value)]) -> History {
        History {
            ops: ops
                .iter()
                .enumerate()
                .map(|(i, (p, kind, f, value))| Op {
                    index: i as u64,
                    time: i as u64 * 10,
                    process: Process::Client(*p),
                    kind: *kind,
                    f: f.to_string(),
                    key: None,
                    value: value.clone(),
                    error: None,
                })
                .collect(),
            ..History::default()
        }
    }

    use OpType::{Fail, Info, Invoke, Ok};

    #[test]
    fn echo_is_valid_when_every_payload_comes_back_and_invalid_otherwise() {
        let good = history(&[
            (0, Invoke, "echo", json!("hi")),
            (0, Ok, "echo", json!("hi")),
            (1, Invoke, "echo", json!("yo")),
            (1, Info, "echo", Value::Null),
        ]);
        assert_eq!(Echo.check(&good).valid, Validity::Valid);
        let bad = history(&[
            (0, Invoke, "echo", json!("hi")),
            (0, Ok, "echo", json!("ho")),
        ]);
        let result = Echo.check(&bad);
        result.assert_verdict(Validity::Invalid, "sent \"hi\" and got back \"ho\"");
    }

    #[test]
    fn a_lagging_read_during_the_run_is_fine_but_a_final_read_missing_an_ack_is_lost() {
        let set = EventualSet::new("broadcast", "broadcast");
        let converged = history(&[
            (0, Invoke, "broadcast", json!(1)),
            (0, Ok, "broadcast", Value::Null),
            (1, Invoke, "read", Value::Null),
            (1, Ok, "read", json!([])), // lags: not yet relayed
            (0, Invoke, "broadcast", json!(2)),
            (0, Info, "broadcast", Value::Null),
            (0, Invoke, "read", Value::Null),
            (0, Ok, "read", json!([1, 2])),
            (1, Invoke, "read", Value::Null),
            (1, Ok, "read", json!([1])),
        ]);
        let result = set.check(&converged);
        assert_eq!(result.valid, Validity::Valid, "{:?}", result.reasons);
        assert_eq!(result.details["final_read_count"], 2);
        let forgot = history(&[
            (0, Invoke, "broadcast", json!(1)),
            (0, Ok, "broadcast", Value::Null),
            (0, Invoke, "read", Value::Null),
            (0, Ok, "read", json!([1])),
            (1, Invoke, "read", Value::Null),
            (1, Ok, "read", json!([])),
        ]);
        let result = set.check(&forgot);
        result.assert_verdict(Validity::Invalid, "missing from a final read");
    }

    #[test]
    fn a_lagging_read_before_the_final_heal_is_not_a_final_read() {
        let set = EventualSet::new("broadcast", "broadcast");
        let mut h = history(&[
            (0, Invoke, "broadcast", json!(1)),
            (0, Ok, "broadcast", Value::Null),
            (1, Invoke, "read", Value::Null),
            (1, Ok, "read", json!([])), // after the last add, but still in the main phase
        ]);
        let heal = Op {
            index: 4,
            time: 40,
            process: Process::Nemesis,
            kind: Info,
            f: "heal".to_string(),
            key: None,
            value: Value::Null,
            error: None,
        };
        h.ops.push(heal);
        for (i, (kind, value)) in [(Invoke, Value::Null), (Ok, json!([1]))]
            .into_iter()
            .enumerate()
        {
            h.ops.push(Op {
                index: 5 + i as u64,
                time: 50 + i as u64 * 10,
                process: Process::Client(2),
                kind,
                f: "read".to_string(),
                key: None,
                value,
                error: None,
            });
        }
        let result = set.check(&h);
        assert_eq!(result.valid, Validity::Valid, "{:?}", result.reasons);
        assert_eq!(result.details["final_read_count"], 1);
    }

    #[test]
    fn an_element_never_added_or_whose_add_failed_is_unexpected() {
        let set = EventualSet::new("g-set", "add");
        let h = history(&[
            (0, Invoke, "add", json!(1)),
            (0, Fail, "add", Value::Null),
            (1, Invoke, "read", Value::Null),
            (1, Ok, "read", json!([1, 7])),
        ]);
        let result = set.check(&h);
        assert_eq!(result.valid, Validity::Invalid);
        assert_eq!(result.details["unexpected_count"], 2);
    }

    #[test]
    fn counters_judge_final_reads_against_acknowledged_and_possible_deltas() {
        let counter = EventualCounter::new("pn-counter");
        let h = |final_value: i64| {
            history(&[
                (0, Invoke, "add", json!(5)),
                (0, Ok, "add", Value::Null),
                (1, Invoke, "read", Value::Null),
                (1, Ok, "read", json!(0)), // lagging during the run: not judged
                (0, Invoke, "add", json!(-2)),
                (0, Info, "add", Value::Null),
                (1, Invoke, "add", json!(3)),
                (1, Fail, "add", Value::Null),
                (0, Invoke, "read", Value::Null),
                (0, Ok, "read", json!(final_value)),
            ])
        };
        assert_eq!(counter.check(&h(5)).valid, Validity::Valid);
        assert_eq!(counter.check(&h(3)).valid, Validity::Valid);
        let double = counter.check(&h(10));
        double.assert_verdict(Validity::Invalid, "outside [3, 5]");
        assert_eq!(counter.check(&h(8)).valid, Validity::Invalid);
    }

    #[test]
    fn no_final_read_is_unknown() {
        let h = history(&[(0, Invoke, "add", json!(1)), (0, Ok, "add", Value::Null)]);
        assert_eq!(
            EventualCounter::new("g-counter").check(&h).valid,
            Validity::Unknown
        );
        assert_eq!(
            EventualSet::new("g-set", "add").check(&h).valid,
            Validity::Unknown
        );
    }
}
