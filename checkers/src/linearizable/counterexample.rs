//! The counterexample of an invalid history: the op that could not be linearized, the ops
//! concurrent with it, and the longest linearizable orders the search found just before
//! it, with the model state after each op; plus its rendering as a sentence.
//!
//! Op numbers are the original history's `Op.index` (of the invocation), so a report can
//! draw the window on the history's timeline. This file must never search.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::history::History;
use crate::models::{compact, Effect, Model, OpView};

/// One order in which the search linearized the ops just before the failing op.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// `Op.index` of each op's invocation, in linearization order.
    pub order: Vec<u64>,
    /// The model state before the first op of `order`, then after each op (so
    /// `states.len() == order.len() + 1`); the last is the state the failing op met.
    pub states: Vec<String>,
}

/// The smallest window of an invalid history that cannot be linearized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Counterexample {
    /// The key of the partition, or `None` for unkeyed histories and `--no-partition`.
    pub key: Option<Value>,
    /// `Op.index` of the invocation of the op that could not be placed.
    pub op: u64,
    /// `Op.index` of its completion, if any.
    pub completion: Option<u64>,
    /// The op for people: `process 4, read key 3 -> 7`.
    pub description: String,
    /// How many ops of the partition the longest linearizable prefix holds.
    pub linearized: usize,
    /// `Op.index` of the invocations of the ops whose intervals overlap the failing op's.
    pub concurrent: Vec<u64>,
    /// The longest linearizable orders found just before the failure (at most four),
    /// starting at the first op that had not returned when the failing op was invoked.
    pub attempts: Vec<Attempt>,
    /// Why no order can place the op, in words, when the checker proved it without
    /// searching (the unique-values path); `attempts` is then empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
    /// For a read the orders contradict: what it returned, and the acknowledged writes
    /// that stored the values it could have returned (a write that was lost, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_note: Option<String>,
}

/// How many concurrent ops a reason names before saying "and N more".
const NAMED_CONCURRENT: usize = 6;

/// `process 4, read key 3 -> 7` for the call invoked at `invoke` (a position in `history.ops`).
pub(crate) fn describe_call<M: Model>(
    model: &M,
    history: &History,
    invoke: usize,
    completion: Option<usize>,
) -> String {
    let inv = &history.ops[invoke];
    let output = completion
        .map(|c| &history.ops[c])
        .filter(|c| c.kind == crate::history::OpType::Ok)
        .map(|c| &c.value);
    format!(
        "process {}, {}",
        inv.process,
        model.describe_op(&inv.f, inv.key.as_ref(), &inv.value, output)
    )
}

/// For a read that no order can place: "it returned X, but every order leaves Y there,
/// stored by op #N (...), acknowledged before the read began". `calls` are the key's calls
/// as (invocation, `ok` completion) positions in `history`; `states` the values the orders
/// tried leave before the read. `None` when the op is no read or no state has a writer.
pub(crate) fn read_note<M: Model>(
    model: &M,
    history: &History,
    calls: &[(usize, Option<usize>)],
    read: (usize, Option<usize>),
    states: &[String],
) -> Option<String> {
    let (invoke, ok) = read;
    let returned = match model.effect(OpView::of(
        &history.ops[invoke],
        ok.map(|c| &history.ops[c]),
    )) {
        Effect::Read(value) => value,
        _ => return None,
    };
    let mut distinct: Vec<&String> = Vec::new();
    for state in states {
        if !distinct.contains(&state) {
            distinct.push(state);
        }
    }
    let began = history.ops[invoke].time;
    let writers: Vec<String> = distinct
        .iter()
        .filter_map(|state| {
            // The latest acknowledged call that stored this value.
            let (w_invoke, w_ok) = calls
                .iter()
                .filter_map(|&(i, c)| Some((i, c?)))
                .filter(|&(i, c)| {
                    let stored =
                        match model.effect(OpView::of(&history.ops[i], Some(&history.ops[c]))) {
                            Effect::Write(v) | Effect::Cas { to: v, .. } => v,
                            _ => return false,
                        };
                    compact(stored) == **state
                })
                .max_by_key(|&(_, c)| c)?;
            let done = &history.ops[w_ok];
            let when = if done.time < began && began > 0 {
                format!(
                    ", acknowledged {:.3} s before the read began",
                    (began - done.time) as f64 / 1e9
                )
            } else {
                ", acknowledged".to_string()
            };
            Some(format!(
                "{state}, stored by op #{} ({}){when}",
                history.ops[w_invoke].index,
                describe_call(model, history, w_invoke, Some(w_ok))
            ))
        })
        .collect();
    if writers.is_empty() {
        return None;
    }
    Some(format!(
        "it returned {}, but every order of the ops before it leaves {}",
        compact(returned),
        writers.join(" or ")
    ))
}

impl Counterexample {
    /// The sentence for `CheckResult.reasons`. `describe` names an op by `Op.index`.
    pub(crate) fn reason(&self, describe: &dyn Fn(u64) -> String) -> String {
        let mut text = format!(
            "op #{} ({}) cannot be linearized",
            self.op, self.description
        );
        if let Some(key) = &self.key {
            text.push_str(&format!(" on key {}", crate::models::compact(key)));
        }
        match &self.explanation {
            Some(why) => {
                text.push_str(": ");
                text.push_str(why);
                return text;
            }
            None => text.push_str(&format!(
                ": the longest linearizable prefix holds {} ops, and no order of the ops \
                 before it lets it take effect before it returned",
                self.linearized
            )),
        }
        for (i, attempt) in self.attempts.iter().enumerate() {
            let first = attempt.states.first().map_or("?", String::as_str);
            text.push_str(if i == 0 { "; orders tried: " } else { " | " });
            text.push_str(&format!("from {first}"));
            for (op, state) in attempt.order.iter().zip(attempt.states.iter().skip(1)) {
                text.push_str(&format!(", #{op} ({}) -> {state}", describe(*op)));
            }
        }
        if let Some(note) = &self.read_note {
            text.push_str("; ");
            text.push_str(note);
        }
        if !self.concurrent.is_empty() {
            let named: Vec<String> = self
                .concurrent
                .iter()
                .take(NAMED_CONCURRENT)
                .map(|op| format!("#{op} ({})", describe(*op)))
                .collect();
            text.push_str(&format!("; concurrent with it: {}", named.join(", ")));
            if self.concurrent.len() > NAMED_CONCURRENT {
                text.push_str(&format!(
                    " and {} more",
                    self.concurrent.len() - NAMED_CONCURRENT
                ));
            }
        }
        text
    }
}
