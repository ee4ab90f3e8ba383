//! The queue checkers: `total-queue`, as Jepsen's: what goes in must come out; and
//! [`QueueLinearizable`], the `fifo-queue` model's linearizability check on a queue history
//! whose final `drain`s are read as the dequeues they stand for (for short histories: the
//! search is exponential in the worst case).
//!
//! `total-queue`, per key, over multisets of elements (so an element dequeued twice counts
//! twice): a `drain` that completed `ok` with a list counts as one dequeue per element;
//! a `dequeue` that completed `ok` with `null` found the queue empty and dequeued nothing.
//! - **attempted**: every enqueue that did not fail; **acknowledged**: the `ok` ones;
//! - **unexpected**: dequeued, but never attempted (including elements whose enqueue
//!   certainly failed: `fail` means it did not happen);
//! - **duplicated**: dequeued more often than attempted (the extra copies);
//! - **lost**: acknowledged, but never dequeued;
//! - **recovered**: dequeued though their enqueue's outcome was unknown.
//!
//! The verdict is `false` on any unexpected element or any certainly lost one, and, when
//! the parameters say so (`allow_duplicates: false`), on any duplicate; Jepsen's default
//! allows duplicates (at-least-once queues). Where Jepsen counts every missing element as
//! lost, this checker keeps the op semantics: a `dequeue` or `drain` of unknown outcome
//! (`info`, or pending) may have taken elements nobody saw, and before a drain completed
//! they may still be in the queue. So missing elements are lost (the verdict `false`) only
//! when a drain of the key completed, no drain is unknown, and they outnumber the key's
//! unknown dequeues; otherwise a correct queue explains them, the verdict stays `true`, and
//! a reason names them as possibly lost. This also makes the checker safe on a prefix of a
//! history (online checking): nothing it calls an anomaly can be undone by later ops.
//!
//! Details: the counts summed over keys (`attempt_count`, `acknowledged_count`,
//! `ok_count`, `lost_count`, `unexpected_count`, `duplicated_count`, `recovered_count`),
//! and `keys[]`, per key: `key`, those counts, `unknown_dequeues`, `drained` (a drain
//! completed ok), `verdict`, `lost`, `unexpected`, `recovered` (element lists, with
//! repetition), `duplicated: [{element, dequeued}]`. This module never reads files or draws.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::checker::{CheckResult, Checker, Judge, Validity};
use crate::history::{History, Op, OpType};
use crate::linearizable::Linearizable;

use super::common::{by_key, key_name, values_text, with_counts, Multiset, PerKey};

/// The checker's name, and the model name workloads give for it.
pub const NAME: &str = "total-queue";

/// At most this many elements per list go into the details.
const LISTED: usize = 1000;

/// The queue checkers' parameters, read from the workload's `initial`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueParams {
    /// Whether an element dequeued more often than enqueued is allowed (Jepsen: yes).
    pub allow_duplicates: bool,
    /// Also check the history is linearizable against the `fifo-queue` model.
    pub linearizable: bool,
}

impl Default for QueueParams {
    fn default() -> Self {
        QueueParams {
            allow_duplicates: true,
            linearizable: false,
        }
    }
}

/// Jepsen's `total-queue` checker, split by key.
#[derive(Debug, Clone, Default)]
pub struct TotalQueue {
    params: QueueParams,
}

impl TotalQueue {
    /// A checker with these parameters.
    pub fn new(params: QueueParams) -> TotalQueue {
        TotalQueue { params }
    }
}

/// One key's multisets.
#[derive(Debug, Default)]
struct KeyQueue {
    attempts: Multiset,
    enqueues: Multiset,
    failed: Multiset,
    dequeues: Multiset,
    unknown_dequeues: u64,
    unknown_drain: Option<u64>,
    drained: bool,
}

const COUNTS: [&str; 7] = [
    "attempt_count",
    "acknowledged_count",
    "ok_count",
    "lost_count",
    "unexpected_count",
    "duplicated_count",
    "recovered_count",
];

impl Judge for TotalQueue {
    fn name(&self) -> &str {
        NAME
    }

    fn judge(&self, history: &History) -> Result<CheckResult, String> {
        let split = by_key(history)?;
        let mut valid = Validity::Valid;
        let mut tally = PerKey::new();
        for (key, events) in &split.keys {
            let mut q = KeyQueue::default();
            for e in events {
                let done = e.op.kind != OpType::Invoke;
                let v = &e.invoke.value;
                match (e.invoke.f.as_str(), done, e.outcome()) {
                    ("enqueue", false, OpType::Fail) => {}
                    ("enqueue", false, _) => q.attempts.add(v),
                    ("enqueue", true, OpType::Ok) => q.enqueues.add(v),
                    ("enqueue", true, OpType::Fail) => q.failed.add(v),
                    ("dequeue", true, OpType::Ok) if !e.op.value.is_null() => {
                        q.dequeues.add(&e.op.value)
                    }
                    ("dequeue", false, OpType::Info) => q.unknown_dequeues += 1,
                    ("drain", true, OpType::Ok) => {
                        let Value::Array(items) = &e.op.value else {
                            return Err(format!(
                                "drain #{} returned {}, not a list of elements",
                                e.op.index, e.op.value
                            ));
                        };
                        items.iter().for_each(|v| q.dequeues.add(v));
                        q.drained = true;
                    }
                    ("drain", false, OpType::Info) => {
                        q.unknown_drain.get_or_insert(e.invoke.index);
                    }
                    ("enqueue" | "dequeue" | "drain", _, _) => {}
                    (other, _, _) => {
                        return Err(format!(
                            "op #{} has function {other:?}; a queue has enqueue, dequeue and drain",
                            e.op.index
                        ))
                    }
                }
            }
            let (details, counts, verdict) = self.judge_key(key, q, &mut tally.reasons);
            valid = valid.and(verdict);
            tally.add(details, counts);
        }
        let nothing =
            (tally.totals[0] == 0).then_some("no enqueue was attempted: there is nothing to check");
        Ok(tally.result(
            NAME,
            valid,
            nothing,
            json!({"allow_duplicates": self.params.allow_duplicates}),
            &COUNTS,
        ))
    }
}

impl TotalQueue {
    fn judge_key(
        &self,
        key: &Option<Value>,
        q: KeyQueue,
        reasons: &mut Vec<String>,
    ) -> (Value, [u64; COUNTS.len()], Validity) {
        let name = key_name(key.as_ref());
        let ok = q.dequeues.intersect(&q.attempts);
        let unexpected = q.dequeues.only_in(&q.attempts, false);
        let duplicated = q.dequeues.minus(&q.attempts).minus(&unexpected);
        let lost = q.enqueues.minus(&q.dequeues);
        let recovered = ok.minus(&q.enqueues);
        let mut verdict = Validity::Valid;
        if unexpected.len() > 0 {
            verdict = Validity::Invalid;
            let failed: Vec<Value> = unexpected
                .values()
                .into_iter()
                .filter(|v| q.failed.contains(v))
                .collect();
            reasons.push(format!(
                "key {name}: {} unexpected elements dequeued, never enqueued{}: {}",
                unexpected.len(),
                if failed.is_empty() {
                    String::new()
                } else {
                    format!(" ({} of them by an enqueue that failed)", failed.len())
                },
                values_text(&unexpected.values())
            ));
        }
        if lost.len() > 0 {
            let explained =
                !q.drained || q.unknown_drain.is_some() || lost.len() <= q.unknown_dequeues;
            if explained {
                let why = match q.unknown_drain {
                    Some(drain) => format!("the drain #{drain} has an unknown outcome"),
                    None if !q.drained => {
                        "no drain of this key completed, so they may still be in the queue"
                            .to_string()
                    }
                    None => format!(
                        "{} dequeues have unknown outcomes and may have taken them",
                        q.unknown_dequeues
                    ),
                };
                reasons.push(format!(
                    "key {name}: {} acknowledged elements were never dequeued, but {why}: \
                     possibly lost, not provably: {}",
                    lost.len(),
                    values_text(&lost.values())
                ));
            } else {
                verdict = Validity::Invalid;
                reasons.push(format!(
                    "key {name}: {} acknowledged elements lost, never dequeued{}: {}",
                    lost.len(),
                    if q.unknown_dequeues > 0 {
                        format!(
                            " (at most {} of them by dequeues of unknown outcome)",
                            q.unknown_dequeues
                        )
                    } else {
                        String::new()
                    },
                    values_text(&lost.values())
                ));
            }
        }
        if duplicated.len() > 0 && !self.params.allow_duplicates {
            verdict = Validity::Invalid;
            reasons.push(format!(
                "key {name}: {} extra dequeues of elements enqueued fewer times: {}",
                duplicated.len(),
                values_text(
                    &duplicated
                        .counted()
                        .into_iter()
                        .map(|(v, _)| v)
                        .collect::<Vec<_>>()
                )
            ));
        }
        let list = |m: &Multiset| -> Vec<Value> { m.values().into_iter().take(LISTED).collect() };
        let counts = [
            q.attempts.len(),
            q.enqueues.len(),
            ok.len(),
            lost.len(),
            unexpected.len(),
            duplicated.len(),
            recovered.len(),
        ];
        let details = json!({
            "key": key,
            "verdict": verdict,
            "unknown_dequeues": q.unknown_dequeues,
            "drained": q.drained,
            "lost": list(&lost),
            "unexpected": list(&unexpected),
            "recovered": list(&recovered),
            "duplicated": duplicated.counted().iter().take(LISTED)
                .map(|(v, _)| json!({"element": v, "dequeued": q.dequeues.count(v)}))
                .collect::<Vec<_>>(),
        });
        (with_counts(details, &COUNTS, &counts), counts, verdict)
    }
}

/// The `fifo-queue` linearizability check of a queue history: each `drain` becomes the
/// dequeues it stands for (one per element, on the drain's process, the first invoked when
/// the drain was, the others at its completion; an empty drain is a dequeue that found the
/// queue empty). A drain of unknown outcome took an unknown number of elements, which no
/// dequeue expresses: the result is then `unknown`. Op indices are kept, so the
/// counterexample names the history's own ops (a drain's dequeues share its indices).
#[derive(Debug, Clone)]
pub struct QueueLinearizable {
    inner: Linearizable,
}

impl QueueLinearizable {
    /// The check with the linearizability checker's default budget.
    pub fn new() -> QueueLinearizable {
        QueueLinearizable {
            inner: Linearizable::new("fifo-queue", None).expect("the fifo-queue model exists"),
        }
    }

    /// The same check with other search options (budget, threads).
    pub fn with_options(mut self, options: crate::linearizable::SearchOptions) -> Self {
        self.inner = self.inner.with_options(options);
        self
    }
}

impl Default for QueueLinearizable {
    fn default() -> Self {
        Self::new()
    }
}

impl Checker for QueueLinearizable {
    fn name(&self) -> &str {
        "linearizable"
    }

    fn check(&self, history: &History) -> CheckResult {
        match expand_drains(history) {
            Ok(h) => self.inner.check(&h),
            Err(e) => CheckResult::new("linearizable", Validity::Unknown).reason(e),
        }
    }
}

/// `history` with every drain replaced by the dequeues it stands for.
fn expand_drains(history: &History) -> Result<History, String> {
    if !history.ops.iter().any(|o| o.f == "drain") {
        return Ok(history.clone());
    }
    let calls = history.pair().map_err(|e| e.to_string())?;
    let mut completion_of = vec![None; history.ops.len()];
    for c in &calls {
        completion_of[c.invoke] = c.completion;
    }
    let mut ops = Vec::with_capacity(history.ops.len());
    for (i, op) in history.ops.iter().enumerate() {
        if op.f != "drain" {
            ops.push(op.clone());
            continue;
        }
        let as_dequeue = |kind: OpType, value: Value| Op {
            kind,
            f: "dequeue".to_string(),
            value,
            ..op.clone()
        };
        match op.kind {
            OpType::Invoke => {
                let done = completion_of[i].map(|c| history.ops[c].kind);
                if !matches!(done, Some(OpType::Ok | OpType::Fail)) {
                    return Err(format!(
                        "the drain #{} has an unknown outcome: it took an unknown number of \
                         elements, which the fifo-queue model cannot replay",
                        op.index
                    ));
                }
                ops.push(as_dequeue(OpType::Invoke, Value::Null));
            }
            OpType::Ok => {
                let Value::Array(items) = &op.value else {
                    return Err(format!(
                        "drain #{} returned {}, not a list",
                        op.index, op.value
                    ));
                };
                if items.is_empty() {
                    ops.push(as_dequeue(OpType::Ok, Value::Null));
                }
                for (n, v) in items.iter().enumerate() {
                    if n > 0 {
                        ops.push(as_dequeue(OpType::Invoke, Value::Null));
                    }
                    ops.push(as_dequeue(OpType::Ok, v.clone()));
                }
            }
            kind => ops.push(as_dequeue(kind, Value::Null)),
        }
    }
    Ok(History {
        ops,
        warnings: history.warnings.clone(),
    })
}

#[cfg(test)]
#[path = "total_queue_tests.rs"]
mod tests;
