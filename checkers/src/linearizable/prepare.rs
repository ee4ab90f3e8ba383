//! Turns a [`History`] into the search's compact input: calls paired by process, `fail`
//! ops removed, unknown-outcome reads dropped, every call encoded by the model once, and
//! the calls split into independent partitions (by key) with their invocation and return
//! events in history order.
//!
//! This file must never search: it only converts, so its cost is linear in the history.

use serde_json::Value;

use crate::history::{History, OpType, Process};
use crate::models::{Interner, Model, OpView};

use crate::fxhash::FxHashMap;
use crate::open_calls::OpenCalls;

/// "No position": the return of an op whose outcome is unknown, which may take effect at
/// any time after its invocation.
pub(crate) const NEVER: u32 = u32::MAX;

/// How many keys the key tables are sized for before they first grow.
const KEYS_EXPECTED: usize = 32;

/// One call the search may linearize.
#[derive(Debug)]
pub(crate) struct SCall<I, O> {
    pub input: I,
    pub output: Option<O>,
    /// `ok` ops must be linearized; `info`/pending ones may be left out.
    pub required: bool,
    /// The key id in [`Prepared::keys`] (`Interner::NIL` = no key).
    pub key: u32,
    /// Position of the invocation in `History::ops`.
    pub invoke: u32,
    /// Position of the `ok` completion, or [`NEVER`].
    pub ret: u32,
}

/// A call with the index of the part it belongs to.
type PartCall<I, O> = (u32, SCall<I, O>);

/// An independent part of the history, searched alone.
#[derive(Debug)]
pub(crate) struct Part<I, O> {
    /// Calls in invocation order; a call's local id is its index here.
    pub calls: Vec<SCall<I, O>>,
    /// Search nodes in history order: `2c + 1` is call `c`'s invocation, `2c + 2` its return.
    pub events: Vec<u32>,
    /// The key all calls share, or `None` when the part mixes keys (`--no-partition`).
    pub key: Option<u32>,
}

/// The converted history.
#[derive(Debug)]
pub(crate) struct Prepared<M: Model> {
    pub values: Interner,
    pub keys: Interner,
    pub init: M::State,
    pub parts: Vec<Part<M::Input, M::Output>>,
    pub calls: usize,
    pub failed: usize,
    pub dropped_reads: usize,
}

/// Convert `history` for `model`. With `partition`, one part per key (in order of first
/// appearance); without, one part holding every call. Errors name the offending op.
pub(crate) fn prepare<M: Model>(
    model: &M,
    history: &History,
    partition: bool,
) -> Result<Prepared<M>, String> {
    let ops = &history.ops;
    if ops.len() >= NEVER as usize {
        return Err(format!(
            "the history has {} ops; the checker handles at most {}",
            ops.len(),
            NEVER - 1
        ));
    }
    let pairs = pair(history)?;
    let mut values = Interner::default();
    // Room for a few dozen keys up front: growing the tables a key at a time costs more
    // than the rest of interning on a small history.
    let mut keys = Interner::with_capacity(KEYS_EXPECTED);
    let init = model.init(&mut values);

    // Live calls in invocation order, with the part each belongs to.
    let mut live: Vec<PartCall<M::Input, M::Output>> = Vec::with_capacity(pairs.len());
    let mut part_of_key: FxHashMap<u32, u32> =
        FxHashMap::with_capacity_and_hasher(KEYS_EXPECTED, Default::default());
    let mut part_keys: Vec<u32> = Vec::new();
    let (mut failed, mut dropped_reads) = (0, 0);
    for &(invoke, completion) in &pairs {
        let inv = &ops[invoke as usize];
        let done = (completion != NEVER).then(|| &ops[completion as usize]);
        let required = match done.map(|op| op.kind) {
            Some(OpType::Fail) => {
                failed += 1;
                continue;
            }
            Some(OpType::Ok) => true,
            _ => false,
        };
        let view = OpView::of(inv, done.filter(|_| required));
        let encoded = model
            .encode(view, &mut values)
            .map_err(|e| format!("op #{} ({} {}): {e}", inv.index, inv.f, inv.value))?;
        if !required && encoded.read_only {
            dropped_reads += 1;
            continue;
        }
        let key_value = model
            .partition(inv)
            .or_else(|| done.and_then(|op| model.partition(op)));
        let key = key_value.map_or(Interner::NIL, |k| keys.intern(k));
        let part = if partition {
            *part_of_key.entry(key).or_insert_with(|| {
                part_keys.push(key);
                part_keys.len() as u32 - 1
            })
        } else {
            0
        };
        live.push((
            part,
            SCall {
                input: encoded.input,
                output: if required { encoded.output } else { None },
                required,
                key,
                invoke,
                ret: if required { completion } else { NEVER },
            },
        ));
    }

    let n_parts = if partition { part_keys.len() } else { 1 };
    let mut sizes = vec![0usize; n_parts];
    for (part, _) in &live {
        sizes[*part as usize] += 1;
    }
    let mut parts: Vec<Part<M::Input, M::Output>> = (0..n_parts)
        .map(|p| Part {
            calls: Vec::with_capacity(sizes[p]),
            events: Vec::with_capacity(2 * sizes[p]),
            key: if partition {
                Some(part_keys[p])
            } else if keys.is_empty() {
                Some(Interner::NIL)
            } else {
                None
            },
        })
        .collect();
    // For every op position, the (part, node) event it produces, if any.
    let mut event_at: Vec<(u32, u32)> = vec![(NEVER, NEVER); ops.len()];
    let calls = live.len();
    let mut unknown_returns: Vec<(u32, u32)> = Vec::new();
    for (part, call) in live {
        let p = &mut parts[part as usize];
        let local = p.calls.len() as u32;
        event_at[call.invoke as usize] = (part, 2 * local + 1);
        if call.ret == NEVER {
            unknown_returns.push((part, 2 * local + 2));
        } else {
            event_at[call.ret as usize] = (part, 2 * local + 2);
        }
        p.calls.push(call);
    }
    for (part, node) in event_at {
        if part != NEVER {
            parts[part as usize].events.push(node);
        }
    }
    for (part, node) in unknown_returns {
        parts[part as usize].events.push(node);
    }
    parts.retain(|p| !p.calls.is_empty());
    Ok(Prepared {
        values,
        keys,
        init,
        parts,
        calls,
        failed,
        dropped_reads,
    })
}

/// Pair invocations with completions as [`History::pair`] does (same errors), returning
/// `(invoke position, completion position or NEVER)` in invocation order.
fn pair(history: &History) -> Result<Vec<(u32, u32)>, String> {
    let mut open = OpenCalls::for_ops(history.ops.len());
    let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(history.ops.len() / 2 + 1);
    for (i, op) in history.ops.iter().enumerate() {
        let Process::Client(process) = op.process else {
            continue;
        };
        if op.kind == OpType::Invoke {
            if let Some(previous) = open.get(process) {
                let first = &history.ops[pairs[previous as usize].0 as usize];
                return Err(format!(
                    "op #{}: process {process} invokes again while op #{} is still open; \
                     a process runs one op at a time",
                    op.index, first.index
                ));
            }
            open.set(process, pairs.len() as u32);
            pairs.push((i as u32, NEVER));
        } else {
            let Some(call) = open.take(process) else {
                return Err(format!(
                    "op #{}: {} completion on process {process} has no invocation",
                    op.index, op.kind
                ));
            };
            pairs[call as usize].1 = i as u32;
        }
    }
    Ok(pairs)
}

/// The key an id stands for, `None` for unkeyed ops.
pub(crate) fn key_value(keys: &Interner, key: u32) -> Option<Value> {
    (key != Interner::NIL).then(|| keys.value(key).clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Op;
    use crate::models::CasRegister;
    use serde_json::json;

    fn op(p: u64, kind: OpType, f: &str, v: Value, key: Option<Value>) -> Op {
        let op = Op::new(Process::Client(p), kind, f, v);
        match key {
            Some(k) => op.with_key(k),
            None => op,
        }
    }

    #[test]
    fn splits_by_key_drops_fails_and_unknown_reads() {
        let h = History::from_ops(vec![
            op(0, OpType::Invoke, "write", json!(1), Some(json!("a"))),
            op(1, OpType::Invoke, "write", json!(2), Some(json!("b"))),
            Op::new(Process::Nemesis, OpType::Info, "start-kill", Value::Null),
            op(2, OpType::Invoke, "read", Value::Null, Some(json!("a"))),
            op(0, OpType::Ok, "write", json!(1), Some(json!("a"))),
            op(1, OpType::Fail, "write", json!(2), Some(json!("b"))),
            op(2, OpType::Info, "read", Value::Null, Some(json!("a"))),
            op(3, OpType::Invoke, "write", json!(3), Some(json!("a"))),
        ]);
        let p = prepare(&CasRegister::default(), &h, true).unwrap();
        assert_eq!((p.calls, p.failed, p.dropped_reads), (2, 1, 1));
        assert_eq!(p.parts.len(), 1);
        let part = &p.parts[0];
        assert_eq!(part.events, vec![1, 2, 3, 4]);
        assert!(part.calls[0].required && !part.calls[1].required);
        assert_eq!(part.calls[1].ret, NEVER);
    }

    #[test]
    fn pairing_works_for_small_and_huge_process_ids() {
        for p in [0, 5, u64::MAX - 1] {
            let h = History::from_ops(vec![
                op(p, OpType::Invoke, "write", json!(1), None),
                op(p, OpType::Ok, "write", json!(1), None),
                op(p, OpType::Invoke, "read", Value::Null, None),
            ]);
            assert_eq!(pair(&h).unwrap(), vec![(0, 1), (2, NEVER)]);
            let mut again = h.clone();
            again.ops[1].kind = OpType::Invoke;
            let err = pair(&again).unwrap_err();
            assert!(err.contains("invokes again"), "{err}");
        }
    }

    #[test]
    fn completion_without_invocation_is_reported() {
        let h = History::from_ops(vec![op(3, OpType::Ok, "read", json!(1), None)]);
        let err = prepare(&CasRegister::default(), &h, true).unwrap_err();
        assert!(
            err.contains("op #0") && err.contains("no invocation"),
            "{err}"
        );
    }
}
