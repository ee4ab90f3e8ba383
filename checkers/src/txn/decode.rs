//! Reading a [`History`] of txn ops into dense tables the analyses index by number: one
//! [`Txn`] per invocation, its micro-ops in one flat array, keys interned to small ids.
//!
//! A txn is a client op with `f = "txn"` whose value is a list of micro-ops `[f, k, v]`:
//! `append`/`r` for list-append, `w`/`r` for rw-register. Ops are paired by process. An `ok`
//! completion carries the results (`["r", k, [1, 2]]`) and must repeat its invocation's
//! micro-ops; a `fail` txn never happened; an `info` or pending txn may have happened, with
//! its reads unknown, so its invocation's micro-ops are used. Client ops of other functions
//! are counted and ignored.
//!
//! An invocation's read may leave out its value (`["r", k]`, as Elle's histories do); it is
//! read as `["r", k, null]`. Keys and written values are integers or strings; anything else, an unknown micro-op, a
//! txn whose value is not a list, or (for an `ok` txn) a list-append read that is not a
//! list, is a [`TxnError`] naming the op. [`detect`] tells the two kinds apart from the
//! content.
//!
//! This module must never judge consistency: it only checks shapes.

use std::collections::hash_map::Entry;
use std::str::FromStr;

use serde_json::Value;

use super::error::TxnError;

use crate::fxhash::FxHashMap;
use crate::history::{Call, History, Op, OpType};

/// Which transactional workload a history records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnKind {
    /// `["append", k, v]` and `["r", k, [v...]]` over lists.
    ListAppend,
    /// `["w", k, v]` and `["r", k, v]` over registers.
    RwRegister,
}

impl TxnKind {
    /// `list-append` or `rw-register`.
    pub fn name(self) -> &'static str {
        match self {
            TxnKind::ListAppend => "list-append",
            TxnKind::RwRegister => "rw-register",
        }
    }

    /// The micro-op that writes: `append` or `w`.
    pub(crate) fn write_f(self) -> &'static str {
        match self {
            TxnKind::ListAppend => "append",
            TxnKind::RwRegister => "w",
        }
    }
}

display_by_name!(TxnKind, name);

impl FromStr for TxnKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "list-append" | "append" => Ok(TxnKind::ListAppend),
            "rw-register" | "wr" => Ok(TxnKind::RwRegister),
            other => Err(format!(
                "unknown txn workload \"{other}\"; expected list-append or rw-register"
            )),
        }
    }
}

/// Whether `history` holds txns, and of which kind, from the first micro-op that tells:
/// an `append`, a `w`, or an `ok` read returning a list (list-append) or a single value
/// (rw-register). `None` when no client op has `f = "txn"` or nothing tells.
pub fn detect(history: &History) -> Option<TxnKind> {
    for op in &history.ops {
        if op.process.client().is_none() || op.f != "txn" {
            continue;
        }
        let Some(mops) = op.value.as_array() else {
            continue;
        };
        for mop in mops {
            let Some([f, _, value]) = mop.as_array().map(Vec::as_slice) else {
                continue;
            };
            match (f.as_str(), value) {
                (Some("append"), _) => return Some(TxnKind::ListAppend),
                (Some("w"), _) => return Some(TxnKind::RwRegister),
                (Some("r"), Value::Array(_)) if op.kind == OpType::Ok => {
                    return Some(TxnKind::ListAppend)
                }
                (Some("r"), Value::Number(_) | Value::String(_)) if op.kind == OpType::Ok => {
                    return Some(TxnKind::RwRegister)
                }
                _ => {}
            }
        }
    }
    None
}

/// A txn's number in [`Decoded::txns`].
pub(crate) type TxnId = u32;
/// A key's number in [`Decoded::keys`].
pub(crate) type KeyId = u32;

/// What became of a txn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Committed.
    Ok,
    /// Unknown (an `info` completion, or none): it may have happened.
    Info,
    /// Certainly did not happen.
    Fail,
}

/// Whether a micro-op writes (`append`, `w`) or reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MopKind {
    Write,
    Read,
}

/// One micro-op: its key, and the value written, or the value read (for `ok` txns).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mop<'h> {
    pub kind: MopKind,
    /// How many elements a list read returned (0 for anything else), saturating; see
    /// [`Mop::list_len`].
    len: u16,
    pub key: KeyId,
    pub value: &'h Value,
}

impl Mop<'_> {
    /// How many elements a list read returned (0 for anything else).
    pub fn list_len(&self) -> usize {
        if self.len < u16::MAX {
            usize::from(self.len)
        } else {
            self.value.as_array().map_or(0, Vec::len)
        }
    }
}

/// One invocation and its completion.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Txn {
    pub status: Status,
    pub process: u64,
    /// Position of the invocation in `history.ops`.
    pub invoke: u32,
    /// Position of the completion, or of the invocation when there is none.
    pub completion: u32,
    first_mop: u32,
    mop_count: u32,
}

/// A key or written value that is an integer or a string, for hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Scalar<'h> {
    Int(i64),
    UInt(u64),
    Str(&'h str),
}

/// `v` as a [`Scalar`], or `None` for floats, booleans, null, lists and maps.
pub(crate) fn scalar(v: &Value) -> Option<Scalar<'_>> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(Scalar::Int)
            .or_else(|| n.as_u64().map(Scalar::UInt)),
        Value::String(s) => Some(Scalar::Str(s)),
        _ => None,
    }
}

/// The txns of a history, in invocation order.
#[derive(Debug)]
pub(crate) struct Decoded<'h> {
    pub history: &'h History,
    pub txns: Vec<Txn>,
    pub mops: Vec<Mop<'h>>,
    /// Key id → the key as written in the history.
    pub keys: Vec<&'h Value>,
    /// Client ops whose `f` is not `txn`, ignored.
    pub other_ops: usize,
}

impl<'h> Decoded<'h> {
    /// The micro-ops of txn `t`.
    pub fn mops(&self, t: TxnId) -> &[Mop<'h>] {
        &self.mops[self.mop_range(t)]
    }

    /// Where txn `t`'s micro-ops lie in [`Decoded::mops`].
    pub fn mop_range(&self, t: TxnId) -> std::ops::Range<usize> {
        let txn = &self.txns[t as usize];
        txn.first_mop as usize..(txn.first_mop + txn.mop_count) as usize
    }

    /// The status of txn `t`.
    pub fn status(&self, t: TxnId) -> Status {
        self.txns[t as usize].status
    }

    /// The key `k` as written in the history.
    pub fn key(&self, k: KeyId) -> &'h Value {
        self.keys[k as usize]
    }

    /// The `index` of the op that names txn `t`: its completion, or its invocation when
    /// it has none.
    pub fn op_index(&self, t: TxnId) -> u64 {
        self.history.ops[self.txns[t as usize].completion as usize].index
    }

    /// The `index` of txn `t`'s invocation.
    pub fn invoke_index(&self, t: TxnId) -> u64 {
        self.history.ops[self.txns[t as usize].invoke as usize].index
    }

    /// Whether txn `t` may have happened (it is a vertex of the dependency graph).
    pub fn possible(&self, t: TxnId) -> bool {
        self.txns[t as usize].status != Status::Fail
    }
}

impl Decoded<'_> {
    /// Txn `t` writes (or appends) `value` to `key`, which txn `other` (perhaps `t` itself,
    /// earlier) already wrote: values must be unique per key for reads to name their writer.
    /// `verb` and `participle` are `appends`/`appended` or `writes`/`written`.
    pub(crate) fn written_twice(
        &self,
        t: TxnId,
        other: TxnId,
        (verb, participle): (&str, &str),
        value: &serde_json::Value,
        key: KeyId,
    ) -> TxnError {
        let also = if other == t {
            format!("which it also {verb} earlier in the same txn")
        } else {
            format!("which op #{} also {verb}", self.op_index(other))
        };
        TxnError::bad_op(
            self.op_index(t),
            format!(
                "{verb} {} to key {}, {also}; {participle} values must be unique per key",
                shown(value),
                shown(self.key(key))
            ),
        )
    }
}

/// A short JSON rendering of a value for messages, cut at 80 characters.
pub(crate) fn shown(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= 80 {
        text
    } else {
        let cut: String = text.chars().take(77).collect();
        format!("{cut}...")
    }
}

/// Decode every txn of `history` as a `kind` history.
pub(crate) fn decode(history: &History, kind: TxnKind) -> Result<Decoded<'_>, TxnError> {
    let calls = pair(history)?;
    let mut decoded = Decoded {
        history,
        txns: Vec::with_capacity(calls.len()),
        mops: Vec::with_capacity(calls.len() * 3),
        keys: Vec::new(),
        other_ops: 0,
    };
    let mut key_ids: FxHashMap<Scalar<'_>, KeyId> = FxHashMap::default();
    for call in calls {
        let invoke = &history.ops[call.invoke];
        if invoke.f != "txn" {
            decoded.other_ops += 1;
            continue;
        }
        let done = call.completion.map(|c| &history.ops[c]);
        let status = match done.map(|op| op.kind) {
            Some(OpType::Ok) => Status::Ok,
            Some(OpType::Fail) => Status::Fail,
            _ => Status::Info,
        };
        let invoked = mop_list(invoke)?;
        let chosen = match (status, done) {
            (Status::Ok, Some(done)) => {
                let completed = mop_list(done)?;
                same_mops(invoke, invoked, done, completed)?;
                (done, completed)
            }
            (Status::Fail, Some(done)) if done.value.is_array() => {
                let completed = mop_list(done)?;
                same_mops(invoke, invoked, done, completed)?;
                (done, completed)
            }
            _ => (invoke, invoked),
        };
        let first_mop = decoded.mops.len() as u32;
        for (position, mop) in chosen.1.iter().enumerate() {
            let m = parse_mop(kind, chosen.0, position, mop, status)?;
            let key = scalar(m.1).ok_or_else(|| {
                TxnError::bad_op(
                    chosen.0.index,
                    format!(
                        "micro-op {position}, {}, has key {}; keys must be integers or \
                         strings",
                        shown(mop),
                        shown(m.1)
                    ),
                )
            })?;
            let next = key_ids.len() as KeyId;
            let key = *key_ids.entry(key).or_insert_with(|| {
                decoded.keys.push(m.1);
                next
            });
            decoded.mops.push(Mop {
                kind: m.0,
                key,
                len: m
                    .2
                    .as_array()
                    .map_or(0, |list| list.len().min(usize::from(u16::MAX)) as u16),
                value: m.2,
            });
        }
        decoded.txns.push(Txn {
            status,
            process: invoke.process.client().unwrap_or(u64::MAX),
            invoke: call.invoke as u32,
            completion: call.completion.unwrap_or(call.invoke) as u32,
            first_mop,
            mop_count: decoded.mops.len() as u32 - first_mop,
        });
    }
    Ok(decoded)
}

/// Pair every client invocation with its completion, in invocation order: the rules and
/// messages of [`History::pair`], with a table sized for millions of ops.
fn pair(history: &History) -> Result<Vec<Call>, TxnError> {
    let mut open: FxHashMap<u64, usize> = FxHashMap::default();
    let mut calls: Vec<Call> = Vec::with_capacity(history.ops.len() / 2 + 1);
    for (i, op) in history.ops.iter().enumerate() {
        let Some(process) = op.process.client() else {
            continue;
        };
        if op.kind == OpType::Invoke {
            match open.entry(process) {
                Entry::Occupied(previous) => {
                    let previous = history.ops[calls[*previous.get()].invoke].index;
                    return Err(TxnError::bad_op(
                        op.index,
                        format!(
                            "process {process} invokes again while op #{previous} is still \
                             open; a process runs one op at a time"
                        ),
                    ));
                }
                Entry::Vacant(slot) => {
                    slot.insert(calls.len());
                    calls.push(Call {
                        invoke: i,
                        completion: None,
                    });
                }
            }
        } else {
            let call = open.remove(&process).ok_or_else(|| {
                TxnError::bad_op(
                    op.index,
                    format!(
                        "{} completion on process {process} has no invocation",
                        op.kind
                    ),
                )
            })?;
            calls[call].completion = Some(i);
        }
    }
    Ok(calls)
}

/// The micro-op list of a txn op.
fn mop_list(op: &Op) -> Result<&[Value], TxnError> {
    op.value.as_array().map(Vec::as_slice).ok_or_else(|| {
        TxnError::bad_op(
            op.index,
            format!(
                "a txn's value must be a list of micro-ops such as [\"r\", 1, null], found {}",
                shown(&op.value)
            ),
        )
    })
}

/// One micro-op `[f, k, v]` of `op`: its kind, key and value, with the value's shape
/// checked for `kind` (reads only when `status` is `ok`: other reads carry no result).
fn parse_mop<'h>(
    kind: TxnKind,
    op: &Op,
    position: usize,
    mop: &'h Value,
    status: Status,
) -> Result<(MopKind, &'h Value, &'h Value), TxnError> {
    let bad = |what: String| TxnError::bad_op(op.index, format!("micro-op {position}, {what}"));
    static NO_VALUE: Value = Value::Null;
    let (f, key, value) = match mop.as_array().map(Vec::as_slice) {
        Some([f, key, value]) => (f, key, value),
        // Elle's `[:r :x]`: a read not yet done, as an invocation writes it.
        Some([f, key]) if f == "r" && op.kind == OpType::Invoke => (f, key, &NO_VALUE),
        _ => {
            return Err(bad(format!(
                "{}, is not a list [f, key, value]",
                shown(mop)
            )))
        }
    };
    let write_f = kind.write_f();
    let mop_kind = match f.as_str() {
        Some("r") => MopKind::Read,
        Some(f) if f == write_f => MopKind::Write,
        _ => {
            return Err(bad(format!(
                "{}, is not one of {write_f} and r (a {kind} history)",
                shown(mop)
            )))
        }
    };
    match mop_kind {
        MopKind::Write if scalar(value).is_none() => Err(bad(format!(
            "{}, writes {}; written values must be integers or strings",
            shown(mop),
            shown(value)
        ))),
        MopKind::Read if status == Status::Ok => match (kind, value) {
            (TxnKind::ListAppend, Value::Array(_) | Value::Null) => Ok((mop_kind, key, value)),
            (TxnKind::ListAppend, _) => Err(bad(format!(
                "{}, read {} from key {}, which is not a list",
                shown(mop),
                shown(value),
                shown(key)
            ))),
            (TxnKind::RwRegister, Value::Null) => Ok((mop_kind, key, value)),
            (TxnKind::RwRegister, _) if scalar(value).is_some() => Ok((mop_kind, key, value)),
            (TxnKind::RwRegister, _) => Err(bad(format!(
                "{}, read {}; register values must be integers, strings or null",
                shown(mop),
                shown(value)
            ))),
        },
        _ => Ok((mop_kind, key, value)),
    }
}

/// Check that a completion repeats its invocation's micro-ops (same functions, keys and
/// written values; reads may differ, as they carry results).
fn same_mops(
    invoke: &Op,
    invoked: &[Value],
    done: &Op,
    completed: &[Value],
) -> Result<(), TxnError> {
    let mismatch = |detail: String| {
        TxnError::bad_op(
            done.index,
            format!(
                "the completion does not repeat its invocation (op #{}): {detail}",
                invoke.index
            ),
        )
    };
    if invoked.len() != completed.len() {
        return Err(mismatch(format!(
            "{} micro-ops invoked, {} completed",
            invoked.len(),
            completed.len()
        )));
    }
    for (position, (a, b)) in invoked.iter().zip(completed).enumerate() {
        let same = match (a.as_array(), b.as_array()) {
            (Some(a), Some(b)) if a.len() == 3 && b.len() == 3 => {
                a[0] == b[0] && a[1] == b[1] && (a[0] == "r" || a[2] == b[2])
            }
            // An invoked `[:r :x]` completed with its result.
            (Some(a), Some(b)) if a.len() == 2 && b.len() == 3 => a[0] == "r" && a[..] == b[..2],
            _ => a == b,
        };
        if !same {
            return Err(mismatch(format!(
                "micro-op {position} is {} there and {} here",
                shown(a),
                shown(b)
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Process;
    use serde_json::json;

    fn txn(process: u64, kind: OpType, value: Value) -> Op {
        Op::new(Process::Client(process), kind, "txn", value)
    }

    #[test]
    fn detects_the_kind_from_the_first_telling_micro_op() {
        let la = History::from_ops(vec![
            txn(0, OpType::Invoke, json!([["r", 1, null]])),
            txn(0, OpType::Ok, json!([["r", 1, [2]]])),
        ]);
        assert_eq!(detect(&la), Some(TxnKind::ListAppend));
        let rw = History::from_ops(vec![txn(0, OpType::Invoke, json!([["w", 1, 2]]))]);
        assert_eq!(detect(&rw), Some(TxnKind::RwRegister));
        let reads_nil = History::from_ops(vec![
            txn(0, OpType::Invoke, json!([["r", 1, null]])),
            txn(0, OpType::Ok, json!([["r", 1, null]])),
        ]);
        assert_eq!(detect(&reads_nil), None);
    }

    #[test]
    fn an_ok_completion_supplies_the_reads_and_info_the_invocation() {
        let h = History::from_ops(vec![
            txn(
                0,
                OpType::Invoke,
                json!([["append", "x", 1], ["r", "x", null]]),
            ),
            txn(1, OpType::Invoke, json!([["append", "x", 2]])),
            txn(0, OpType::Ok, json!([["append", "x", 1], ["r", "x", [1]]])),
            txn(1, OpType::Info, Value::Null),
        ]);
        let d = decode(&h, TxnKind::ListAppend).unwrap();
        assert_eq!(d.txns.len(), 2);
        assert_eq!(d.mops(0)[1].value, &json!([1]));
        assert_eq!(d.txns[1].status, Status::Info);
        assert_eq!(d.mops(1)[0].value, &json!(2));
        assert_eq!(d.keys, vec![&json!("x")]);
        assert_eq!((d.op_index(0), d.invoke_index(0), d.op_index(1)), (2, 0, 3));
    }

    #[test]
    fn an_invoked_read_may_leave_out_its_value() {
        let h = History::from_ops(vec![
            txn(0, OpType::Invoke, json!([["r", "x"], ["w", "y", 1]])),
            txn(1, OpType::Invoke, json!([["r", "y"]])),
            txn(0, OpType::Ok, json!([["r", "x", null], ["w", "y", 1]])),
            txn(1, OpType::Info, Value::Null),
        ]);
        let d = decode(&h, TxnKind::RwRegister).unwrap();
        assert_eq!(d.mops(0)[0].value, &Value::Null);
        assert_eq!(
            (d.txns[1].status, d.mops(1)[0].value),
            (Status::Info, &Value::Null)
        );
        // A completion must still say what it read.
        let e = decode(
            &History::from_ops(vec![
                txn(0, OpType::Invoke, json!([["r", "x"]])),
                txn(0, OpType::Ok, json!([["r", "x"]])),
            ]),
            TxnKind::RwRegister,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("op #1: micro-op 0") && e.contains("[f, key, value]"),
            "{e}"
        );
    }

    #[test]
    fn malformed_txns_name_their_op() {
        let err = |ops: Vec<Op>, kind| {
            decode(&History::from_ops(ops), kind)
                .unwrap_err()
                .to_string()
        };
        let e = err(vec![txn(0, OpType::Invoke, json!(3))], TxnKind::ListAppend);
        assert!(e.starts_with("op #0: a txn's value must be a list"), "{e}");
        let e = err(
            vec![txn(0, OpType::Invoke, json!([["frob", 1, 2]]))],
            TxnKind::ListAppend,
        );
        assert!(e.contains("is not one of append and r"), "{e}");
        let e = err(
            vec![
                txn(0, OpType::Invoke, json!([["r", 1, null]])),
                txn(0, OpType::Ok, json!([["r", 1, 3]])),
            ],
            TxnKind::ListAppend,
        );
        assert!(e.starts_with("op #1:") && e.contains("not a list"), "{e}");
        let e = err(
            vec![
                txn(0, OpType::Invoke, json!([["w", 1, 2]])),
                txn(0, OpType::Ok, json!([["w", 1, 3]])),
            ],
            TxnKind::RwRegister,
        );
        assert!(e.contains("does not repeat its invocation (op #0)"), "{e}");
        let e = err(
            vec![txn(0, OpType::Invoke, json!([["w", [1], 2]]))],
            TxnKind::RwRegister,
        );
        assert!(e.contains("keys must be integers or strings"), "{e}");
    }
}
