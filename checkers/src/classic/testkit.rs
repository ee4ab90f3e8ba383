//! Test support for the classic checkers: hand-written histories, one op per line, each op
//! one millisecond after the one before. Test-only code.

use serde_json::Value;

use crate::history::{History, Op, OpType, Process};

/// One millisecond, in the nanoseconds of `Op::time`.
pub(crate) const MS: u64 = 1_000_000;

fn op(p: u64, kind: OpType, f: &str, value: Value) -> Op {
    Op::new(Process::Client(p), kind, f, value)
}

pub(crate) fn inv(p: u64, f: &str, value: Value) -> Op {
    op(p, OpType::Invoke, f, value)
}

pub(crate) fn ok(p: u64, f: &str, value: Value) -> Op {
    op(p, OpType::Ok, f, value)
}

pub(crate) fn fail(p: u64, f: &str, value: Value) -> Op {
    op(p, OpType::Fail, f, value)
}

pub(crate) fn info(p: u64, f: &str, value: Value) -> Op {
    op(p, OpType::Info, f, value)
}

/// The ops as a history: indices in order, op `i` at `i` ms.
pub(crate) fn history(ops: Vec<Op>) -> History {
    let mut h = History::from_ops(ops);
    for (i, op) in h.ops.iter_mut().enumerate() {
        op.time = i as u64 * MS;
    }
    h
}

/// The same ops, each with `key`.
pub(crate) fn keyed(key: &str, ops: Vec<Op>) -> Vec<Op> {
    ops.into_iter()
        .map(|o| o.with_key(Value::String(key.to_string())))
        .collect()
}
