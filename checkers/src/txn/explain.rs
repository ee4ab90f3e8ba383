//! Cycles in words: each txn of a cycle gets a name (T1, T2, ...) mapped to its op index,
//! and each edge a sentence in Elle's style ("T1 < T2 because T2 read T1's append of 3 to
//! key 7"), ending in ": a contradiction". The same steps are kept as data (from, to, edge
//! kind, key, value, sentence) so a report can draw the cycle.
//!
//! The data dependencies are explained by the analysis that found them ([`Explainer`]);
//! process and real-time edges are explained here from the history.
//!
//! This module must never search: it explains a cycle it is handed.

use serde_json::{json, Map, Value};

use super::decode::{Decoded, TxnId};
use super::findings::Case;
use super::graph::Label;

/// Why one txn precedes another, from the data: a clause, and the key and value involved.
#[derive(Debug, Clone)]
pub(crate) struct Because {
    pub text: String,
    pub key: Value,
    pub value: Value,
    /// For an rw edge, what the earlier txn read.
    pub read: Option<Value>,
}

impl Because {
    pub(crate) fn new(text: String, key: Value, value: Value) -> Because {
        Because {
            text,
            key,
            value,
            read: None,
        }
    }

    pub(crate) fn with_read(mut self, read: Value) -> Because {
        self.read = Some(read);
        self
    }
}

/// An edge of a cycle to explain: `a → b`, of kind `label`, the txns named `an` and `bn`.
#[derive(Clone, Copy)]
pub(crate) struct NamedEdge<'a> {
    pub a: TxnId,
    pub b: TxnId,
    pub label: Label,
    pub an: &'a str,
    pub bn: &'a str,
}

/// An analysis that can say why an edge `a → b` is a data dependency of its kind.
pub(crate) trait Explainer: Sync {
    fn explain(&self, d: &Decoded<'_>, edge: &NamedEdge<'_>) -> Option<Because>;
}

/// A cycle: `(txn, label of the edge from it to the next txn)`, the last edge closing it.
pub(crate) type Cycle = Vec<(TxnId, Label)>;

/// Turn `cycle` around so it starts at its txn with the lowest op index.
pub(crate) fn rotate(d: &Decoded<'_>, mut cycle: Cycle) -> Cycle {
    if let Some(first) = (0..cycle.len()).min_by_key(|&i| d.op_index(cycle[i].0)) {
        cycle.rotate_left(first);
    }
    cycle
}

/// Explain `cycle` as a [`Case`]: the txns in cycle order, the sentence, and the steps.
pub(crate) fn explain_cycle(
    d: &Decoded<'_>,
    explainer: &dyn Explainer,
    cycle: &Cycle,
    scc_size: usize,
) -> Case {
    let names: Vec<String> = (1..=cycle.len()).map(|i| format!("T{i}")).collect();
    let mut steps = Vec::with_capacity(cycle.len());
    let mut sentences = Vec::with_capacity(cycle.len());
    for (i, &(a, label)) in cycle.iter().enumerate() {
        let j = (i + 1) % cycle.len();
        let b = cycle[j].0;
        let (an, bn) = (&names[i], &names[j]);
        let mut step = Map::new();
        step.insert("from".into(), json!(d.op_index(a)));
        step.insert("to".into(), json!(d.op_index(b)));
        step.insert("edge".into(), json!(label.name()));
        let clause = match label {
            Label::Process => {
                let process = d.txns[a as usize].process;
                step.insert("process".into(), json!(process));
                format!("process {process} ran {an} before {bn}")
            }
            Label::Realtime => {
                let (done, invoked) = (d.op_index(a), d.invoke_index(b));
                step.insert("completed".into(), json!(done));
                step.insert("invoked".into(), json!(invoked));
                format!("{an} completed (op #{done}) before {bn} was invoked (op #{invoked})")
            }
            _ => match explainer.explain(
                d,
                &NamedEdge {
                    a,
                    b,
                    label,
                    an,
                    bn,
                },
            ) {
                Some(because) => {
                    step.insert("key".into(), because.key);
                    step.insert("value".into(), because.value);
                    if let Some(read) = because.read {
                        step.insert("read".into(), read);
                    }
                    because.text
                }
                None => format!("of a {label} dependency"),
            },
        };
        let sentence = format!("{an} < {bn} because {clause}");
        step.insert("sentence".into(), json!(sentence));
        sentences.push(sentence);
        steps.push(Value::Object(step));
    }
    let binding: Vec<String> = cycle
        .iter()
        .zip(&names)
        .map(|(&(t, _), name)| format!("{name} = op #{}", d.op_index(t)))
        .collect();
    let explanation = format!(
        "{}. {}: a contradiction",
        binding.join(", "),
        sentences.join("; ")
    );
    let txns: Vec<TxnId> = cycle.iter().map(|&(t, _)| t).collect();
    let named: Vec<Value> = cycle
        .iter()
        .zip(&names)
        .map(|(&(t, _), name)| {
            let txn = &d.txns[t as usize];
            json!({
                "name": name,
                "op": d.op_index(t),
                "invoke": d.invoke_index(t),
                "process": txn.process,
                "value": d.history.ops[txn.completion as usize].value,
            })
        })
        .collect();
    let mut cycle_ops: Vec<u64> = txns.iter().map(|&t| d.op_index(t)).collect();
    cycle_ops.push(d.op_index(txns[0]));
    Case::new(d, &txns, explanation)
        .with("cycle", json!(cycle_ops))
        .with("names", Value::Array(named))
        .with("steps", Value::Array(steps))
        .with("scc-size", json!(scc_size))
}
