//! Transactions of the reference service: a list of micro-ops (`["r", k, null]`,
//! `["w", k, v]`, `["append", k, v]`) executed in order against a state, each read seeing
//! the transaction's own earlier writes, all writes kept aside until the whole transaction
//! has run, so that the caller applies all of them or none.
//!
//! The state machine runs a transaction inside one Raft entry (atomic and strict-serializable);
//! the `txn-stale-reads` bug runs only its reads here against a node's local state and
//! commits the writes apart (see [`super::api`]).
//!
//! This module must never touch the state itself: it reads through a function and returns
//! the writes to apply.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One micro-op, `[f, key, value]` in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct MicroOp(pub String, pub Value, pub Value);

impl MicroOp {
    /// Whether this micro-op changes the state (`w`, `append`).
    pub(crate) fn is_write(&self) -> bool {
        self.0 != "r"
    }
}

/// The micro-ops a transaction may contain.
pub(crate) const MICRO_OPS: &str = "r, w, append";

/// The storage key of a micro-op's key: an integer's decimal form, or the string itself.
pub(crate) fn key_name(key: &Value) -> Result<String, String> {
    match key {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) if n.is_u64() || n.is_i64() => Ok(n.to_string()),
        other => Err(format!("key {other} is neither a string nor an integer")),
    }
}

/// Checks the shape of every micro-op, before anything is proposed: a known `f` and a key.
pub(crate) fn validate(ops: &[MicroOp]) -> Result<(), String> {
    if ops.is_empty() {
        return Err("a transaction needs at least one micro-op".to_string());
    }
    for (i, op) in ops.iter().enumerate() {
        if !matches!(op.0.as_str(), "r" | "w" | "append") {
            return Err(format!(
                "micro-op {i} has unknown f \"{}\"; known: {MICRO_OPS}",
                op.0
            ));
        }
        key_name(&op.1).map_err(|e| format!("micro-op {i}: {e}"))?;
    }
    Ok(())
}

/// What running a transaction produced: the completed micro-ops (reads filled in) and the
/// final value of every key it wrote (`null` = absent).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Executed {
    pub completed: Vec<MicroOp>,
    pub writes: BTreeMap<String, Value>,
}

/// Runs `ops` in order over the state `read` gives (`null` = absent). An error (a malformed
/// micro-op, an append to a value that is not a list) means the transaction must be
/// applied not at all.
pub(crate) fn execute(ops: &[MicroOp], read: impl Fn(&str) -> Value) -> Result<Executed, String> {
    validate(ops)?;
    let mut writes: BTreeMap<String, Value> = BTreeMap::new();
    let mut completed = Vec::with_capacity(ops.len());
    for MicroOp(f, key, value) in ops {
        let name = key_name(key)?;
        let current = || writes.get(&name).cloned().unwrap_or_else(|| read(&name));
        match f.as_str() {
            "r" => completed.push(MicroOp(f.clone(), key.clone(), current())),
            "w" => {
                writes.insert(name, value.clone());
                completed.push(MicroOp(f.clone(), key.clone(), value.clone()));
            }
            "append" => {
                let list = match current() {
                    Value::Null => vec![value.clone()],
                    Value::Array(mut list) => {
                        list.push(value.clone());
                        list
                    }
                    other => {
                        return Err(format!(
                            "cannot append {value} to key {key}: it holds {other}, not a list"
                        ))
                    }
                };
                writes.insert(name, Value::Array(list));
                completed.push(MicroOp(f.clone(), key.clone(), value.clone()));
            }
            other => return Err(format!("unknown micro-op \"{other}\"; known: {MICRO_OPS}")),
        }
    }
    Ok(Executed { completed, writes })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ops(value: Value) -> Vec<MicroOp> {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn reads_see_the_transactions_own_earlier_writes() {
        let state: BTreeMap<String, Value> = [
            ("1".to_string(), json!([1, 2])),
            ("x".to_string(), json!(5)),
        ]
        .into();
        let read = |k: &str| state.get(k).cloned().unwrap_or(Value::Null);
        let done = execute(
            &ops(json!([
                ["r", 1, null],
                ["append", 1, 3],
                ["r", 1, null],
                ["r", 2, null],
                ["append", 2, 1],
                ["r", 2, null],
                ["w", "x", 6],
                ["r", "x", null]
            ])),
            read,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&done.completed).unwrap(),
            json!([
                ["r", 1, [1, 2]],
                ["append", 1, 3],
                ["r", 1, [1, 2, 3]],
                ["r", 2, null],
                ["append", 2, 1],
                ["r", 2, [1]],
                ["w", "x", 6],
                ["r", "x", 6]
            ])
        );
        assert_eq!(
            done.writes,
            [
                ("1".to_string(), json!([1, 2, 3])),
                ("2".to_string(), json!([1])),
                ("x".to_string(), json!(6))
            ]
            .into()
        );
    }

    #[test]
    fn bad_micro_ops_and_appends_to_non_lists_are_errors() {
        let read = |_: &str| json!(7);
        let err = execute(&ops(json!([["append", 1, 2]])), read).unwrap_err();
        assert!(err.contains("holds 7, not a list"), "{err}");
        let err = execute(&ops(json!([["cas", 1, 2]])), read).unwrap_err();
        assert!(err.contains("unknown f \"cas\""), "{err}");
        let err = execute(&ops(json!([["r", [1], null]])), read).unwrap_err();
        assert!(err.contains("neither a string nor an integer"), "{err}");
        assert!(execute(&[], read).is_err());
        assert!(validate(&ops(json!([["r", 1, null], ["w", "k", 1]]))).is_ok());
    }
}
