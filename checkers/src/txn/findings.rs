//! The anomalies an analysis finds, grouped by type: every one is counted, and the first few
//! of each type are kept with the txns they involve, a sentence a person can follow, and
//! structured details for reports.
//!
//! This module must never search for anomalies; analyses hand it what they found.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::decode::{Decoded, TxnId};
use super::lattice::Anomaly;

/// One anomaly: the txns involved (by op index), what happened in words, and details.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub txns: Vec<u64>,
    pub explanation: String,
    pub details: Map<String, Value>,
}

impl Case {
    /// A case about `txns` (txn numbers, turned into op indices).
    pub(crate) fn new(d: &Decoded<'_>, txns: &[TxnId], explanation: String) -> Case {
        Case {
            txns: txns.iter().map(|&t| d.op_index(t)).collect(),
            explanation,
            details: Map::new(),
        }
    }

    /// The same case with one more detail.
    pub(crate) fn with(mut self, field: &str, value: Value) -> Case {
        self.details.insert(field.to_string(), value);
        self
    }

    /// The case as JSON: `{type, txns, explanation, ...details}`.
    pub(crate) fn to_json(&self, anomaly: Anomaly) -> Value {
        let mut object = Map::new();
        object.insert("type".into(), json!(anomaly.name()));
        object.insert("txns".into(), json!(self.txns));
        for (k, v) in &self.details {
            object.insert(k.clone(), v.clone());
        }
        object.insert("explanation".into(), json!(self.explanation));
        Value::Object(object)
    }
}

/// Every case of one anomaly type: how many, and the first few.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cases {
    pub count: usize,
    pub kept: Vec<Case>,
}

/// The anomalies found so far.
#[derive(Debug, Clone)]
pub(crate) struct Findings {
    keep: usize,
    pub by_type: BTreeMap<Anomaly, Cases>,
}

impl Findings {
    /// Keep at most `keep` cases of each type (every case is counted).
    pub(crate) fn new(keep: usize) -> Findings {
        Findings {
            keep: keep.max(1),
            by_type: BTreeMap::new(),
        }
    }

    /// Record one case of `anomaly`; `make` runs only when the case is kept.
    pub(crate) fn add(&mut self, anomaly: Anomaly, make: impl FnOnce() -> Case) {
        let cases = self.by_type.entry(anomaly).or_default();
        cases.count += 1;
        if cases.kept.len() < self.keep {
            cases.kept.push(make());
        }
    }

    /// The types found.
    pub(crate) fn types(&self) -> Vec<Anomaly> {
        self.by_type.keys().copied().collect()
    }
}

/// What read micro-op `gm` of txn `t` said, for a sentence: `op #i read key k = v`.
pub(crate) fn read_said(d: &Decoded<'_>, t: TxnId, gm: usize) -> String {
    let mop = d.mops[gm];
    format!(
        "op #{} read key {} = {}",
        d.op_index(t),
        text(d.key(mop.key)),
        text(mop.value)
    )
}

/// A value as it reads in a sentence: JSON text (`3`, `"x"`, `[1,2]`).
pub(crate) fn text(value: &Value) -> String {
    super::decode::shown(value)
}
