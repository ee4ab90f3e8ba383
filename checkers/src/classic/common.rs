//! What the classic checkers share: walking a history's client ops in order, split by key,
//! with each op's invocation and completion at hand (from [`History::pair`]); naming keys and
//! elements in sentences; multisets of JSON values; and thinning long series for `details`.
//!
//! This module never judges anything: each checker decides what an op means.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde_json::Value;

use crate::checker::{CheckResult, Validity};
use crate::history::{History, Op, OpType};

/// One client op of the history, seen with its whole call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Event<'a> {
    /// The op at this point of the history: the invocation, or the completion.
    pub op: &'a Op,
    /// The call's invocation.
    pub invoke: &'a Op,
    /// The call's completion, `None` while pending to the end of the history.
    pub completion: Option<&'a Op>,
}

impl Event<'_> {
    /// The call's outcome: `ok`, `fail`, or `info` (a pending call counts as `info`).
    pub fn outcome(&self) -> OpType {
        self.completion.map_or(OpType::Info, |c| c.kind)
    }
}

/// A history's client events split by key (the invocation's `key`; `None` is a key too),
/// keys in order of first appearance, each key's events in history order.
#[derive(Debug)]
pub(crate) struct ByKey<'a> {
    pub keys: Vec<(Option<Value>, Vec<Event<'a>>)>,
}

/// Split `history` by key. Errs (with the history's own message) when it cannot be paired.
pub(crate) fn by_key(history: &History) -> Result<ByKey<'_>, String> {
    let calls = history.pair().map_err(|e| e.to_string())?;
    // For every op position, the call it belongs to.
    let mut call_at: Vec<Option<usize>> = vec![None; history.ops.len()];
    for (i, call) in calls.iter().enumerate() {
        call_at[call.invoke] = Some(i);
        if let Some(c) = call.completion {
            call_at[c] = Some(i);
        }
    }
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut keys: Vec<(Option<Value>, Vec<Event<'_>>)> = Vec::new();
    for (position, call) in call_at.iter().enumerate() {
        let Some(call) = call else { continue };
        let call = &calls[*call];
        let invoke = &history.ops[call.invoke];
        let event = Event {
            op: &history.ops[position],
            invoke,
            completion: call.completion.map(|c| &history.ops[c]),
        };
        let name = key_name(invoke.key.as_ref());
        let k = *index.entry(name).or_insert_with(|| {
            keys.push((invoke.key.clone(), Vec::new()));
            keys.len() - 1
        });
        keys[k].1.push(event);
    }
    Ok(ByKey { keys })
}

/// A key as people read it: a string as itself, anything else as JSON, no key as `-`.
pub(crate) fn key_name(key: Option<&Value>) -> String {
    match key {
        None => "-".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The identity of a JSON value, for sets and multisets: its JSON text (object keys are
/// sorted by `serde_json`, so equal values have equal text).
pub(crate) fn canon(value: &Value) -> String {
    value.to_string()
}

/// Sort values people will read: numbers by value first, then everything else by text.
pub(crate) fn sort_values(values: &mut [Value]) {
    values.sort_by(|a, b| match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => canon(a).cmp(&canon(b)),
    });
}

/// How many elements a sentence names before it says "and N more".
pub(crate) const NAMED: usize = 12;

/// At most [`NAMED`] of `items`, joined by commas, then `and N more` for the rest.
pub(crate) fn first_named(items: impl ExactSizeIterator<Item = String>) -> String {
    let more = items.len().saturating_sub(NAMED);
    let mut out = items.take(NAMED).collect::<Vec<_>>().join(", ");
    if more > 0 {
        let _ = write!(out, " and {more} more");
    }
    out
}

/// Sorted values as a short phrase: runs of consecutive integers as `a..b`, at most
/// [`NAMED`] items, then `and N more`.
pub(crate) fn values_text(values: &[Value]) -> String {
    let mut sorted = values.to_vec();
    sort_values(&mut sorted);
    let mut items: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        if let Some(start) = sorted[i].as_i64() {
            while j + 1 < sorted.len() && sorted[j + 1].as_i64() == Some(start + (j + 1 - i) as i64)
            {
                j += 1;
            }
        }
        items.push(if j > i + 1 {
            format!("{}..{}", sorted[i], sorted[j])
        } else if j == i + 1 {
            format!("{}, {}", sorted[i], sorted[j])
        } else {
            sorted[i].to_string()
        });
        i = j + 1;
    }
    let mut out = String::new();
    for (n, item) in items.iter().take(NAMED).enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        out.push_str(item);
    }
    if items.len() > NAMED {
        let rest: usize = items[NAMED..]
            .iter()
            .map(|item| item.split(", ").count())
            .sum();
        let _ = write!(out, " and {rest} more");
    }
    out
}

/// A duration in nanoseconds as people read it: `850 µs`, `12.3 ms`, `4.2 s`.
pub(crate) fn duration_text(ns: u64) -> String {
    match ns {
        0..=999 => format!("{ns} ns"),
        1_000..=999_999 => format!("{:.0} µs", ns as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.1} ms", ns as f64 / 1e6),
        _ => format!("{:.1} s", ns as f64 / 1e9),
    }
}

/// A multiset of JSON values, remembering one copy of each value.
#[derive(Debug, Default, Clone)]
pub(crate) struct Multiset {
    counts: HashMap<String, (Value, u64)>,
}

impl Multiset {
    pub fn add(&mut self, value: &Value) {
        self.counts
            .entry(canon(value))
            .or_insert_with(|| (value.clone(), 0))
            .1 += 1;
    }

    pub fn count(&self, value: &Value) -> u64 {
        self.counts.get(&canon(value)).map_or(0, |(_, n)| *n)
    }

    pub fn contains(&self, value: &Value) -> bool {
        self.count(value) > 0
    }

    /// Total count, with multiplicity.
    pub fn len(&self) -> u64 {
        self.counts.values().map(|(_, n)| n).sum()
    }

    /// `self - other`, with multiplicity (never below zero).
    pub fn minus(&self, other: &Multiset) -> Multiset {
        let mut out = Multiset::default();
        for (key, (value, n)) in &self.counts {
            let m = other.counts.get(key).map_or(0, |(_, m)| *m);
            if *n > m {
                out.counts.insert(key.clone(), (value.clone(), n - m));
            }
        }
        out
    }

    /// The elements of `self` that `other` holds at all (with `self`'s multiplicity).
    pub fn only_in(&self, other: &Multiset, keep: bool) -> Multiset {
        let mut out = Multiset::default();
        for (key, entry) in &self.counts {
            if other.counts.contains_key(key) == keep {
                out.counts.insert(key.clone(), entry.clone());
            }
        }
        out
    }

    /// `min(self, other)` per value.
    pub fn intersect(&self, other: &Multiset) -> Multiset {
        let mut out = Multiset::default();
        for (key, (value, n)) in &self.counts {
            if let Some((_, m)) = other.counts.get(key) {
                out.counts
                    .insert(key.clone(), (value.clone(), (*n).min(*m)));
            }
        }
        out
    }

    /// Every value, repeated as often as it occurs, sorted.
    pub fn values(&self) -> Vec<Value> {
        let mut out: Vec<Value> = self
            .counts
            .values()
            .flat_map(|(v, n)| std::iter::repeat_n(v.clone(), *n as usize))
            .collect();
        sort_values(&mut out);
        out
    }

    /// `[{"element": v, "count": n}]`, most frequent first, then by value.
    pub fn counted(&self) -> Vec<(Value, u64)> {
        let mut out: Vec<(Value, u64)> = self.counts.values().cloned().collect();
        out.sort_by(|a, b| {
            b.1.cmp(&a.1).then_with(|| {
                let mut pair = [a.0.clone(), b.0.clone()];
                sort_values(&mut pair);
                if pair[0] == a.0 {
                    std::cmp::Ordering::Less
                } else {
                    std::cmp::Ordering::Greater
                }
            })
        });
        out
    }
}

/// At most this many entries of a list go into `details`; the report draws from them.
pub(crate) const DETAIL_LIMIT: usize = 5000;

/// Keep every flagged item and as many others, evenly spaced, as fit in `limit`, in their
/// original order. Returns the kept items and how many were left out.
pub(crate) fn thin<T: Clone>(
    items: &[T],
    flagged: impl Fn(&T) -> bool,
    limit: usize,
) -> (Vec<T>, usize) {
    if items.len() <= limit {
        return (items.to_vec(), 0);
    }
    let flags: Vec<bool> = items.iter().map(&flagged).collect();
    let others = flags.iter().filter(|f| !**f).count();
    let room = limit.saturating_sub(items.len() - others);
    let mut kept = Vec::new();
    let mut seen_others = 0usize;
    let mut taken = 0usize;
    for (item, flag) in items.iter().zip(&flags) {
        if *flag {
            kept.push(item.clone());
        } else {
            // Take the n-th other when it crosses the next step of an even spacing.
            if room > 0 && (seen_others * room) / others.max(1) >= taken {
                kept.push(item.clone());
                taken += 1;
            }
            seen_others += 1;
        }
    }
    let left_out = items.len() - kept.len();
    (kept, left_out)
}

/// Parse a checker's parameters from the workload's `initial` JSON (`None` or `null`: every
/// default), naming the checker in the error.
pub(crate) fn params<T: serde::de::DeserializeOwned + Default>(
    checker: &str,
    initial: Option<&Value>,
) -> Result<T, String> {
    match initial {
        None | Some(Value::Null) => Ok(T::default()),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| format!("{checker}: bad parameters {v}: {e}")),
    }
}

/// `details` with each of `counts` set under its name in `names` (a checker's `COUNTS`),
/// as the per-key and the total details of the classic checkers show them.
pub(crate) fn with_counts(mut details: Value, names: &[&str], counts: &[u64]) -> Value {
    for (name, n) in names.iter().zip(counts) {
        details[*name] = Value::from(*n);
    }
    details
}

/// What a checker that judges each key on its own gathers: each key's details, the totals
/// of its counts (in the checker's `COUNTS` order) and the reasons.
pub(crate) struct PerKey<const N: usize> {
    pub reasons: Vec<String>,
    pub totals: [u64; N],
    keys: Vec<Value>,
}

impl<const N: usize> PerKey<N> {
    pub(crate) fn new() -> Self {
        PerKey {
            reasons: Vec::new(),
            totals: [0; N],
            keys: Vec::new(),
        }
    }

    /// One key judged: its details, and its counts to add to the totals.
    pub(crate) fn add(&mut self, details: Value, counts: [u64; N]) {
        for (t, c) in self.totals.iter_mut().zip(counts) {
            *t += c;
        }
        self.keys.push(details);
    }

    /// The checker's result: `valid`, or `unknown` with the reason `nothing` where it
    /// is given and the keys were valid; its details are `params` with the keys' details
    /// under `keys` and the totals under their `names`.
    pub(crate) fn result(
        mut self,
        name: &str,
        mut valid: Validity,
        nothing: Option<&str>,
        mut params: Value,
        names: &[&str; N],
    ) -> CheckResult {
        if let (Validity::Valid, Some(why)) = (valid, nothing) {
            valid = Validity::Unknown;
            self.reasons.push(why.to_string());
        }
        params["keys"] = Value::Array(self.keys);
        let mut result =
            CheckResult::new(name, valid).details(with_counts(params, names, &self.totals));
        result.reasons = self.reasons;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_text_folds_runs_and_cuts_long_lists() {
        let v: Vec<Value> = [5, 1, 2, 3, 9, 10].iter().map(|n| json!(n)).collect();
        assert_eq!(values_text(&v), "1..3, 5, 9, 10");
        let many: Vec<Value> = (0..40).map(|n| json!(n * 2)).collect();
        assert!(
            values_text(&many).ends_with("and 28 more"),
            "{}",
            values_text(&many)
        );
        assert_eq!(values_text(&[json!("b"), json!("a")]), "\"a\", \"b\"");
    }

    #[test]
    fn multisets_subtract_with_multiplicity() {
        let mut a = Multiset::default();
        let mut b = Multiset::default();
        for v in [1, 1, 2, 3] {
            a.add(&json!(v));
        }
        b.add(&json!(1));
        b.add(&json!(4));
        assert_eq!(a.minus(&b).values(), vec![json!(1), json!(2), json!(3)]);
        assert_eq!(a.only_in(&b, false).values(), vec![json!(2), json!(3)]);
        assert_eq!(a.intersect(&b).values(), vec![json!(1)]);
        assert_eq!(a.counted()[0], (json!(1), 2));
    }

    #[test]
    fn thinning_keeps_every_flagged_item_and_spreads_the_rest() {
        let items: Vec<u32> = (0..100).collect();
        let (kept, left) = thin(&items, |i| *i == 77, 11);
        assert!(kept.contains(&77));
        assert_eq!(kept.len() + left, 100);
        assert!(kept.len() <= 11, "{kept:?}");
        assert_eq!(kept[0], 0);
        let (all, none) = thin(&items, |_| false, 1000);
        assert_eq!((all.len(), none), (100, 0));
    }
}
