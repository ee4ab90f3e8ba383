//! The `set-full` checker, as Jepsen's `set-full`: `add` ops add one element each, `read`
//! ops return the whole set, and every element's history of visibility is judged.
//!
//! Per key, for every element (from its add's invocation on):
//! - it is **known** (to be in the set) from its add's `ok` completion or the completion of
//!   the first read that saw it, whichever came first;
//! - it is **stable** when the last read that saw it began after the last read that missed
//!   it; **stale** when stable yet some read that began after it was known missed it (its
//!   staleness is the time from known to the beginning of the last such read);
//! - it is **lost** when it was known, and a read that began after it was known and after the
//!   last read that saw it missed it: it was there, and then it was gone;
//! - it is **never read** otherwise (no read that began after it was known said either way).
//!
//! An element a read returned though no add of it was invoked before the read completed, or
//! whose add certainly failed, is **unexpected**; an element one read returned twice is
//! **duplicated** (a set holds each element once). The verdict is `false` when any element
//! is lost, unexpected or duplicated, and with `linearizable` also when any is stale;
//! `unknown` when no element is stable at all (nothing was ever read back); else `true`.
//!
//! Departures from Jepsen, both following faultline's op semantics (`fail` = certainly did
//! not happen): an element whose add failed is not counted as never read, and reading it is
//! unexpected; Jepsen's set-full ignores elements it never saw added, this reports them as
//! unexpected. Staleness is decided by history order (a read that *began* after the element
//! was known), not by timestamps, so histories without times are judged right.
//!
//! Details: `linearizable`, the counts summed over keys (`attempt_count`, `stable_count`,
//! `lost_count`, `never_read_count`, `stale_count`, `unexpected_count`, `duplicated_count`),
//! and `keys[]`, per key: `key`, those counts, `lost`, `never_read`, `stale`, `unexpected`
//! (element lists), `duplicated: [{element, count}]`, `worst_stale: [{element, stale_ns,
//! known_index, missed_by}]` (the 8 stalest), `stable_latencies` and `lost_latencies`
//! (quantiles 0, 0.5, 0.95, 0.99, 1 in ns), and `elements: [{element, outcome, add,
//! known, first_seen, last_absent, last_present, stale_ns}]` (times in ns; every element not
//! plainly stable, the others thinned to 5000) with `elements_left_out`. Outcomes:
//! `stable`, `stale`, `lost`, `never-read`, `unexpected`, `failed`. This module never reads
//! files or draws.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::checker::{CheckResult, Judge, Validity};
use crate::history::{History, Op, OpType};

use super::common::{
    by_key, canon, duration_text, key_name, thin, values_text, with_counts, Event, PerKey,
    DETAIL_LIMIT,
};

/// The checker's name, and the model name workloads give for it.
pub const NAME: &str = "set-full";

/// How many of the stalest elements the details describe.
const WORST: usize = 8;

/// The set-full checker's parameters, read from the workload's `initial`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SetFullParams {
    /// The set is meant to be linearizable: a stale read is a violation.
    pub linearizable: bool,
}

/// Jepsen's `set-full` checker, split by key.
#[derive(Debug, Clone, Default)]
pub struct SetFull {
    params: SetFullParams,
}

impl SetFull {
    /// A checker with these parameters.
    pub fn new(params: SetFullParams) -> SetFull {
        SetFull { params }
    }
}

/// A point of the history: an op's index and time.
type At = (u64, u64);

fn at(op: &Op) -> At {
    (op.index, op.time)
}

/// Everything known about one element.
#[derive(Debug, Clone)]
struct Element {
    value: Value,
    add: At,
    known: Option<At>,
    failed: bool,
    first_seen: Option<At>,
    /// The invocation of the latest-beginning read that saw it.
    last_present: Option<At>,
    /// The invocation of the latest-beginning read that missed it.
    last_absent: Option<At>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Stable,
    Stale,
    Lost,
    NeverRead,
    Unexpected,
    Failed,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Stable => "stable",
            Outcome::Stale => "stale",
            Outcome::Lost => "lost",
            Outcome::NeverRead => "never-read",
            Outcome::Unexpected => "unexpected",
            Outcome::Failed => "failed",
        }
    }
}

impl Element {
    fn outcome(&self) -> Outcome {
        let later = |a: Option<At>, b: Option<At>| match (a, b) {
            (Some(a), Some(b)) => a.0 > b.0,
            (Some(_), None) => true,
            _ => false,
        };
        if self.failed {
            return if self.first_seen.is_some() {
                Outcome::Unexpected
            } else {
                Outcome::Failed
            };
        }
        if later(self.last_present, self.last_absent) {
            return if later(self.last_absent, self.known) {
                Outcome::Stale
            } else {
                Outcome::Stable
            };
        }
        if self.known.is_some()
            && later(self.last_absent, self.last_present)
            && later(self.last_absent, self.known)
        {
            return Outcome::Lost;
        }
        Outcome::NeverRead
    }

    /// How long it was stale: from known to the beginning of the last read that missed it.
    fn stale_ns(&self) -> u64 {
        match (self.known, self.last_absent) {
            (Some(k), Some(a)) if a.0 > k.0 => a.1.saturating_sub(k.1),
            _ => 0,
        }
    }

    /// How long after it was known it was last seen (0 when never seen).
    fn lost_ns(&self) -> u64 {
        match (self.known, self.last_present) {
            (Some(k), Some(p)) => p.1.saturating_sub(k.1),
            _ => 0,
        }
    }

    fn to_json(&self, outcome: Outcome) -> Value {
        let t = |a: Option<At>| a.map(|a| a.1);
        json!({
            "element": self.value,
            "outcome": outcome.as_str(),
            "add": self.add.1,
            "known": t(self.known),
            "first_seen": t(self.first_seen),
            "last_absent": t(self.last_absent),
            "last_present": t(self.last_present),
            "stale_ns": (outcome == Outcome::Stale).then(|| self.stale_ns()),
        })
    }
}

/// One key's elements, built by walking its events.
#[derive(Debug, Default)]
struct KeyState {
    elements: Vec<Element>,
    ids: HashMap<String, usize>,
    /// Elements read but never added before the read completed: value → first read index.
    strangers: Vec<(Value, u64)>,
    stranger_ids: HashMap<String, usize>,
    /// Elements some read returned more than once: value and the most copies in one read.
    duplicated: HashMap<String, (Value, u64)>,
    present: Vec<bool>,
}

impl KeyState {
    fn event(&mut self, e: &Event<'_>, key: &str) -> Result<(), String> {
        match (e.invoke.f.as_str(), e.op.kind) {
            ("add", OpType::Invoke) => {
                let id = canon(&e.op.value);
                if !self.ids.contains_key(&id) {
                    self.ids.insert(id, self.elements.len());
                    self.elements.push(Element {
                        value: e.op.value.clone(),
                        add: at(e.op),
                        known: None,
                        failed: false,
                        first_seen: None,
                        last_present: None,
                        last_absent: None,
                    });
                }
            }
            ("add", kind) => {
                if let Some(&i) = self.ids.get(&canon(&e.invoke.value)) {
                    let element = &mut self.elements[i];
                    match kind {
                        OpType::Ok => {
                            element.known.get_or_insert(at(e.op));
                        }
                        OpType::Fail => element.failed = true,
                        _ => {}
                    }
                }
            }
            ("read", OpType::Ok) => self.read(e, key)?,
            ("read", _) => {}
            (other, _) => {
                return Err(format!(
                    "op #{} has function {other:?}; a set has add and read",
                    e.op.index
                ))
            }
        }
        Ok(())
    }

    fn read(&mut self, e: &Event<'_>, key: &str) -> Result<(), String> {
        let Value::Array(values) = &e.op.value else {
            return Err(format!(
                "read #{} of key {key} returned {}, not a list of elements",
                e.op.index, e.op.value
            ));
        };
        self.present.clear();
        self.present.resize(self.elements.len(), false);
        let mut copies: HashMap<String, (Value, u64)> = HashMap::new();
        for v in values {
            let id = canon(v);
            match self.ids.get(&id) {
                Some(&i) if self.present[i] => {
                    copies.entry(id).or_insert_with(|| (v.clone(), 1)).1 += 1;
                }
                Some(&i) => self.present[i] = true,
                None => {
                    if !self.stranger_ids.contains_key(&id) {
                        self.stranger_ids.insert(id, self.strangers.len());
                        self.strangers.push((v.clone(), e.op.index));
                    }
                }
            }
        }
        for (id, (v, n)) in copies {
            let most = self.duplicated.entry(id).or_insert((v, 0));
            most.1 = most.1.max(n);
        }
        let (invoke, done) = (at(e.invoke), at(e.op));
        for (element, present) in self.elements.iter_mut().zip(&self.present) {
            let slot = if *present {
                element.known.get_or_insert(done);
                element.first_seen.get_or_insert(done);
                &mut element.last_present
            } else {
                &mut element.last_absent
            };
            if slot.is_none_or(|s| s.0 < invoke.0) {
                *slot = Some(invoke);
            }
        }
        Ok(())
    }
}

/// Quantiles 0, 0.5, 0.95, 0.99 and 1 of `values`, as Jepsen's `frequency-distribution`.
fn quantiles(mut values: Vec<u64>) -> Value {
    if values.is_empty() {
        return Value::Null;
    }
    values.sort_unstable();
    let n = values.len();
    let q = |p: f64| values[((n as f64 * p).floor() as usize).min(n - 1)];
    json!({"0": q(0.0), "0.5": q(0.5), "0.95": q(0.95), "0.99": q(0.99), "1": q(1.0)})
}

const COUNTS: [&str; 7] = [
    "attempt_count",
    "stable_count",
    "lost_count",
    "never_read_count",
    "stale_count",
    "unexpected_count",
    "duplicated_count",
];

impl Judge for SetFull {
    fn name(&self) -> &str {
        NAME
    }

    /// An element absent from the last read so far may be read again later.
    fn prefix_closed(&self) -> bool {
        false
    }

    fn judge(&self, history: &History) -> Result<CheckResult, String> {
        let split = by_key(history)?;
        let mut tally = PerKey::new();
        for (key, events) in &split.keys {
            let name = key_name(key.as_ref());
            let mut state = KeyState::default();
            for e in events {
                state.event(e, &name)?;
            }
            let (details, counts) = self.judge_key(key, &name, state, &mut tally.reasons);
            tally.add(details, counts);
        }
        let [_, stable, lost, _, stale, unexpected, duplicated] = tally.totals;
        let valid = if lost + unexpected + duplicated > 0 || (self.params.linearizable && stale > 0)
        {
            Validity::Invalid
        } else {
            Validity::Valid
        };
        let nothing = (stable == 0).then_some(
            "no element was read back and stayed visible: there is nothing to judge (were \
             there no ok reads after the adds?)",
        );
        Ok(tally.result(
            NAME,
            valid,
            nothing,
            json!({"linearizable": self.params.linearizable}),
            &COUNTS,
        ))
    }
}

impl SetFull {
    /// One key's details and counts (in [`COUNTS`] order), adding its reasons.
    fn judge_key(
        &self,
        key: &Option<Value>,
        name: &str,
        state: KeyState,
        reasons: &mut Vec<String>,
    ) -> (Value, [u64; COUNTS.len()]) {
        let outcomes: Vec<Outcome> = state.elements.iter().map(Element::outcome).collect();
        let of = |o: Outcome| -> Vec<Value> {
            state
                .elements
                .iter()
                .zip(&outcomes)
                .filter(|(_, x)| **x == o)
                .map(|(e, _)| e.value.clone())
                .collect()
        };
        let (lost, stale, never_read) = (
            of(Outcome::Lost),
            of(Outcome::Stale),
            of(Outcome::NeverRead),
        );
        let mut unexpected: Vec<Value> = state.strangers.iter().map(|(v, _)| v.clone()).collect();
        unexpected.extend(of(Outcome::Unexpected));
        let mut duplicated: Vec<(Value, u64)> = state.duplicated.values().cloned().collect();
        duplicated.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| canon(&a.0).cmp(&canon(&b.0))));
        // Stale elements are stable too (they became visible for good), as in Jepsen.
        let stable_n = outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Stable | Outcome::Stale))
            .count();

        if !lost.is_empty() {
            reasons.push(format!(
                "key {name}: {} elements lost (known to be added, then missing from a read that \
                 began after that and after the last read that saw them): {}",
                lost.len(),
                values_text(&lost)
            ));
        }
        if !unexpected.is_empty() {
            let firsts: Vec<String> = state
                .strangers
                .iter()
                .take(super::common::NAMED)
                .map(|(v, read)| format!("{v} by read #{read}"))
                .collect();
            reasons.push(format!(
                "key {name}: {} unexpected elements, read though never added (or added by an \
                 add that failed): {}{}",
                unexpected.len(),
                values_text(&unexpected),
                if firsts.is_empty() {
                    String::new()
                } else {
                    format!("; first read: {}", firsts.join(", "))
                }
            ));
        }
        if !duplicated.is_empty() {
            let named: Vec<String> = duplicated
                .iter()
                .take(super::common::NAMED)
                .map(|(v, n)| format!("{v} ×{n}"))
                .collect();
            reasons.push(format!(
                "key {name}: {} elements appear more than once in a single read: {}",
                duplicated.len(),
                named.join(", ")
            ));
        }
        let mut worst: Vec<&Element> = state
            .elements
            .iter()
            .zip(&outcomes)
            .filter(|(_, o)| **o == Outcome::Stale)
            .map(|(e, _)| e)
            .collect();
        worst.sort_by_key(|e| std::cmp::Reverse(e.stale_ns()));
        worst.truncate(WORST);
        if self.params.linearizable && !stale.is_empty() {
            let w = worst[0];
            reasons.push(format!(
                "key {name}: {} stale elements, missed by a read that began after they were known \
                 to be added, though a linearizable set shows them at once: {}; the stalest, {}, \
                 for {} (read #{} missed it)",
                stale.len(),
                values_text(&stale),
                w.value,
                duration_text(w.stale_ns()),
                w.last_absent.map_or(0, |a| a.0)
            ));
        }
        let stable_latencies: Vec<u64> = state
            .elements
            .iter()
            .zip(&outcomes)
            .filter(|(_, o)| matches!(o, Outcome::Stable | Outcome::Stale))
            .map(|(e, _)| e.stale_ns())
            .collect();
        let lost_latencies: Vec<u64> = state
            .elements
            .iter()
            .zip(&outcomes)
            .filter(|(_, o)| **o == Outcome::Lost)
            .map(|(e, _)| e.lost_ns())
            .collect();
        let mut drawn: Vec<(Value, bool)> = state
            .elements
            .iter()
            .zip(&outcomes)
            .map(|(e, o)| (e.to_json(*o), *o != Outcome::Stable))
            .collect();
        // Strangers have no add: they are drawn at their first read.
        drawn.extend(state.strangers.iter().map(|(v, read)| {
            (
                json!({"element": v, "outcome": "unexpected", "read_index": read}),
                true,
            )
        }));
        let (elements, left_out) = thin(&drawn, |(_, notable)| *notable, DETAIL_LIMIT);
        let counts = [
            state.elements.len() as u64,
            stable_n as u64,
            lost.len() as u64,
            never_read.len() as u64,
            stale.len() as u64,
            unexpected.len() as u64,
            duplicated.len() as u64,
        ];
        let details = json!({
            "key": key,
            "lost": sorted(lost),
            "never_read": sorted(never_read),
            "stale": sorted(stale),
            "unexpected": sorted(unexpected),
            "duplicated": duplicated.iter().map(|(v, n)| json!({"element": v, "count": n}))
                .collect::<Vec<_>>(),
            "worst_stale": worst.iter().map(|e| json!({
                "element": e.value,
                "stale_ns": e.stale_ns(),
                "known_index": e.known.map(|k| k.0),
                "missed_by": e.last_absent.map(|a| a.0),
            })).collect::<Vec<_>>(),
            "stable_latencies": quantiles(stable_latencies),
            "lost_latencies": quantiles(lost_latencies),
            "elements": elements.into_iter().map(|(e, _)| e).collect::<Vec<_>>(),
            "elements_left_out": left_out,
        });
        (with_counts(details, &COUNTS, &counts), counts)
    }
}

fn sorted(mut values: Vec<Value>) -> Vec<Value> {
    super::common::sort_values(&mut values);
    values
}

#[cfg(test)]
#[path = "set_full_tests.rs"]
mod tests;
