//! What the clients of systems without a transaction endpoint of their own (etcd, ZooKeeper)
//! share to run a txn optimistically: parsing its micro-ops (`["r", k, null]`,
//! `["w", k, v]`, `["append", k, v]`) with each key's storage path, and running them on a
//! snapshot of the keys read from the system, each read seeing the txn's own earlier writes,
//! to learn the completed micro-ops and the new value of every written key. The client then
//! commits those values guarded by the versions it read.
//!
//! This module must never talk to a system: it only parses and computes.

use std::collections::HashMap;

use faultline_workloads::op::OpRequest;
use serde_json::{json, Value};

use super::Completion;

/// One micro-op of a txn, parsed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MicroOp {
    /// `r`, `w` or `append`.
    pub f: String,
    /// The key as the history names it.
    pub key: Value,
    /// Where the system stores the key.
    pub path: String,
    /// The value written or appended (`null` for a read).
    pub value: Value,
}

/// The micro-ops of a txn op, each key's storage path made by `path` from its string form,
/// or a `fail` naming what is malformed (nothing is sent).
pub(crate) fn micro_ops(
    op: &OpRequest,
    path: impl Fn(&str) -> String,
) -> Result<Vec<MicroOp>, Completion> {
    let fail = |why: String| Completion::fail(op.value.clone(), why);
    let Some(list) = op.value.as_array() else {
        return Err(fail(format!(
            "a txn's value must be a list of micro-ops, got {}",
            op.value
        )));
    };
    let mut parsed = Vec::with_capacity(list.len());
    for m in list {
        let Some([f, key, value]) = m.as_array().map(Vec::as_slice) else {
            return Err(fail(format!("micro-op {m} is not [f, key, value]")));
        };
        let f = match f.as_str() {
            Some(f @ ("r" | "w" | "append")) => f.to_string(),
            _ => return Err(fail(format!("micro-op {m}: f must be r, w or append"))),
        };
        let name = match key {
            Value::String(k) => k.clone(),
            Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
            other => {
                return Err(fail(format!(
                    "micro-op {m}: key {other} is neither a string nor an integer"
                )))
            }
        };
        parsed.push(MicroOp {
            f,
            key: key.clone(),
            path: path(&name),
            value: value.clone(),
        });
    }
    if parsed.is_empty() {
        return Err(fail("a txn needs at least one micro-op".to_string()));
    }
    Ok(parsed)
}

/// The distinct storage paths of `ops`, in the order they first appear.
pub(crate) fn paths(ops: &[MicroOp]) -> Vec<&str> {
    let mut paths: Vec<&str> = Vec::new();
    for op in ops {
        if !paths.contains(&op.path.as_str()) {
            paths.push(&op.path);
        }
    }
    paths
}

/// The completed micro-ops of a txn, and the final value of each key it writes (storage path,
/// value), in the order last written.
pub(crate) type Executed = (Vec<Value>, Vec<(String, Value)>);

/// Runs `ops` on the snapshot `read` (storage path → value; a path not in it is absent), each
/// read seeing the txn's own earlier writes, or says why the txn cannot apply (an append to
/// a value that is not a list).
pub(crate) fn execute(ops: &[MicroOp], read: &HashMap<String, Value>) -> Result<Executed, String> {
    let mut writes: Vec<(String, Value)> = Vec::new();
    let mut completed = Vec::with_capacity(ops.len());
    for MicroOp {
        f,
        key,
        path,
        value,
    } in ops
    {
        let current = writes
            .iter()
            .rev()
            .find(|(p, _)| p == path)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| read.get(path).cloned().unwrap_or(Value::Null));
        let written = match f.as_str() {
            "r" => {
                completed.push(json!(["r", key, current]));
                continue;
            }
            "w" => value.clone(),
            _ => match current {
                Value::Null => json!([value]),
                Value::Array(mut list) => {
                    list.push(value.clone());
                    Value::Array(list)
                }
                other => {
                    return Err(format!(
                        "cannot append {value} to key {key}: it holds {other}, not a list"
                    ))
                }
            },
        };
        writes.retain(|(p, _)| p != path);
        writes.push((path.clone(), written));
        completed.push(json!([f, key, value]));
    }
    Ok((completed, writes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txns_run_on_the_snapshot_and_see_their_own_writes() {
        let op = OpRequest::new(
            "txn",
            None,
            json!([
                ["r", 1, null],
                ["append", 1, 3],
                ["r", 1, null],
                ["w", "x", 5],
                ["r", 2, null]
            ]),
        );
        let ops = micro_ops(&op, |k| format!("faultline/{k}")).unwrap();
        assert_eq!(ops[0].path, "faultline/1");
        assert_eq!(
            paths(&ops),
            vec!["faultline/1", "faultline/x", "faultline/2"]
        );
        let read = [("faultline/1".to_string(), json!([1, 2]))].into();
        let (completed, writes) = execute(&ops, &read).unwrap();
        assert_eq!(
            Value::Array(completed),
            json!([
                ["r", 1, [1, 2]],
                ["append", 1, 3],
                ["r", 1, [1, 2, 3]],
                ["w", "x", 5],
                ["r", 2, null]
            ])
        );
        assert_eq!(
            writes,
            vec![
                ("faultline/1".to_string(), json!([1, 2, 3])),
                ("faultline/x".to_string(), json!(5))
            ]
        );
        let read = [("faultline/1".to_string(), json!(7))].into();
        assert!(execute(&ops, &read).unwrap_err().contains("not a list"));
    }

    #[test]
    fn malformed_txns_fail_before_anything_is_sent() {
        for bad in [
            json!({"r": 1}),
            json!([]),
            json!([["cas", 1, 2]]),
            json!([["r", [1], null]]),
            json!([["r", 1]]),
        ] {
            let fail =
                micro_ops(&OpRequest::new("txn", None, bad.clone()), str::to_string).unwrap_err();
            assert_eq!(
                fail.kind,
                faultline_checkers::history::OpType::Fail,
                "{bad}"
            );
        }
    }
}
