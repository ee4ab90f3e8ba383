//! Numbers a report shows about client ops: lenient pairing of invocations with their
//! completions, op counts by outcome and by function, latency quantiles and throughput per
//! time bucket.
//!
//! Pairing here is lenient on purpose: a report must draw even a malformed history (a
//! stray completion is counted and skipped), whereas the checkers reject one. This module
//! must never decide validity.

use std::collections::HashMap;

use faultline_checkers::history::{History, OpType, Process};
use serde_json::Value;

/// How a client call ended. `Pending` means no completion was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Outcome {
    Ok,
    Fail,
    Info,
    Pending,
}

impl Outcome {
    pub(crate) const ALL: [Outcome; 4] =
        [Outcome::Ok, Outcome::Fail, Outcome::Info, Outcome::Pending];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
            Outcome::Pending => "pending",
        }
    }

    /// The colour of this outcome in every plot and timeline (no red channel of 0xFA:
    /// that prefix marks fault rectangles in plotters' output).
    pub(crate) fn rgb(self) -> (u8, u8, u8) {
        match self {
            Outcome::Ok => (0x3A, 0x7D, 0xC9),
            Outcome::Fail => (0xD6, 0x45, 0x5D),
            Outcome::Info => (0xE0, 0x9B, 0x2D),
            Outcome::Pending => (0x88, 0x88, 0x88),
        }
    }

    pub(crate) fn css(self) -> String {
        let (r, g, b) = self.rgb();
        format!("#{r:02x}{g:02x}{b:02x}")
    }
}

/// One client call: an invocation and its completion, if any.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CallInfo {
    /// Position of the invoke op in `history.ops`.
    pub invoke: usize,
    /// Position of the completion op, if any.
    pub completion: Option<usize>,
    /// Invocation time, ns since the start.
    pub start: u64,
    /// Completion time, `None` when pending.
    pub end: Option<u64>,
    pub outcome: Outcome,
    /// Index into [`Calls::functions`].
    pub f: u16,
    /// Index into [`Calls::keys`].
    pub key: u32,
    pub process: u64,
}

impl CallInfo {
    /// Latency in nanoseconds, for completed calls.
    pub(crate) fn latency(&self) -> Option<u64> {
        self.end.map(|end| end.saturating_sub(self.start))
    }
}

/// Every client call of a history, in invocation order, with interned names.
#[derive(Debug, Default)]
pub(crate) struct Calls {
    pub calls: Vec<CallInfo>,
    /// Function names, in order of first appearance.
    pub functions: Vec<String>,
    /// Keys as compact JSON (`-` for unkeyed ops), in order of first appearance.
    pub keys: Vec<String>,
    /// Completions with no open invocation on their process (skipped).
    pub stray_completions: usize,
    /// Time of the last op of the history (ns).
    pub end_time: u64,
}

/// Function names beyond this many share the last slot (`other`), so marker shapes and
/// legends stay readable.
pub(crate) const MAX_FUNCTIONS: usize = 16;

impl Calls {
    /// Whether the calls carry usable times: not every invocation and completion at the
    /// same instant. Jepsen logs and many EDN files have no `:time`, so every op reads 0.
    pub(crate) fn has_times(&self) -> bool {
        let Some(first) = self.calls.first() else {
            return false;
        };
        self.calls
            .iter()
            .any(|c| c.start != first.start || c.end.is_some_and(|e| e != first.start))
    }

    pub(crate) fn from_history(history: &History) -> Calls {
        let mut out = Calls::default();
        let mut f_ids: HashMap<&str, u16> = HashMap::new();
        let mut key_ids: HashMap<String, u32> = HashMap::new();
        let mut open: HashMap<u64, usize> = HashMap::new();
        for (pos, op) in history.ops.iter().enumerate() {
            out.end_time = out.end_time.max(op.time);
            let Process::Client(process) = op.process else {
                continue;
            };
            if op.kind == OpType::Invoke {
                let f = match f_ids.get(op.f.as_str()) {
                    Some(&id) => id,
                    None => {
                        let id = if out.functions.len() + 1 >= MAX_FUNCTIONS {
                            if out.functions.len() + 1 == MAX_FUNCTIONS {
                                out.functions.push("other".to_string());
                            }
                            (MAX_FUNCTIONS - 1) as u16
                        } else {
                            out.functions.push(op.f.clone());
                            (out.functions.len() - 1) as u16
                        };
                        f_ids.insert(op.f.as_str(), id);
                        id
                    }
                };
                let key_text = key_text(op.key.as_ref());
                let next = key_ids.len() as u32;
                let key = *key_ids.entry(key_text.clone()).or_insert_with(|| {
                    out.keys.push(key_text);
                    next
                });
                // A second invoke on an open process: the first stays pending.
                open.insert(process, out.calls.len());
                out.calls.push(CallInfo {
                    invoke: pos,
                    completion: None,
                    start: op.time,
                    end: None,
                    outcome: Outcome::Pending,
                    f,
                    key,
                    process,
                });
            } else if let Some(call) = open.remove(&process) {
                let c = &mut out.calls[call];
                c.completion = Some(pos);
                c.end = Some(op.time.max(c.start));
                c.outcome = match op.kind {
                    OpType::Ok => Outcome::Ok,
                    OpType::Fail => Outcome::Fail,
                    _ => Outcome::Info,
                };
            } else {
                out.stray_completions += 1;
            }
        }
        out
    }

    /// Position in `calls` of the call whose invoke or completion has this `Op.index`.
    pub(crate) fn index_of_op(&self, history: &History) -> HashMap<u64, usize> {
        let mut map = HashMap::with_capacity(self.calls.len() * 2);
        for (i, c) in self.calls.iter().enumerate() {
            map.insert(history.ops[c.invoke].index, i);
            if let Some(done) = c.completion {
                map.insert(history.ops[done].index, i);
            }
        }
        map
    }
}

pub(crate) fn key_text(key: Option<&Value>) -> String {
    match key {
        None => "-".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Op counts by outcome, and by function and outcome.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Counts {
    /// Indexed like [`Outcome::ALL`].
    pub by_outcome: [u64; 4],
    /// Per function (indexed like [`Calls::functions`]), per outcome.
    pub by_function: Vec<[u64; 4]>,
    pub nemesis_ops: u64,
}

pub(crate) fn counts(history: &History, calls: &Calls) -> Counts {
    let mut out = Counts {
        by_function: vec![[0; 4]; calls.functions.len()],
        ..Counts::default()
    };
    for c in &calls.calls {
        let o = c.outcome as usize;
        out.by_outcome[o] += 1;
        out.by_function[c.f as usize][o] += 1;
    }
    out.nemesis_ops = history
        .ops
        .iter()
        .filter(|op| op.process == Process::Nemesis && op.kind == OpType::Invoke)
        .count() as u64;
    out
}

/// The nearest-rank quantile of sorted values: the smallest value with at least `q` of
/// the values at or below it. `None` for no values.
pub(crate) fn quantile(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// A bucket width (ns) of 1, 2 or 5 times a power of ten giving about `target` buckets,
/// and at least a millisecond.
pub(crate) fn bucket_width(span_ns: u64, target: u64) -> u64 {
    round_step(span_ns, target, 1_000_000)
}

/// A step of 1, 2 or 5 times a power of ten, at least `least`, cutting `span` into about
/// `target` pieces: bucket widths and axis ticks.
pub(crate) fn round_step(span: u64, target: u64, least: u64) -> u64 {
    let raw = (span / target.max(1)).max(least);
    let mut step = 1u64;
    loop {
        for m in [1, 2, 5] {
            if step * m >= raw {
                return step * m;
            }
        }
        step *= 10;
    }
}

/// Latency quantiles (ns) of one time bucket, by invocation time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QuantileRow {
    /// Start of the bucket (ns).
    pub start: u64,
    pub count: usize,
    pub p50: u64,
    pub p95: u64,
    pub p99: u64,
    pub max: u64,
}

/// p50, p95, p99 and max latency of completed calls per bucket of invocation time.
/// Empty buckets are left out.
pub(crate) fn latency_quantiles(calls: &[CallInfo], width: u64) -> Vec<QuantileRow> {
    let mut buckets: Vec<Vec<u64>> = Vec::new();
    for c in calls {
        if let Some(lat) = c.latency() {
            let b = (c.start / width) as usize;
            if buckets.len() <= b {
                buckets.resize_with(b + 1, Vec::new);
            }
            buckets[b].push(lat);
        }
    }
    buckets
        .into_iter()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .map(|(b, mut v)| {
            v.sort_unstable();
            QuantileRow {
                start: b as u64 * width,
                count: v.len(),
                p50: quantile(&v, 0.5).unwrap_or(0),
                p95: quantile(&v, 0.95).unwrap_or(0),
                p99: quantile(&v, 0.99).unwrap_or(0),
                max: *v.last().unwrap_or(&0),
            }
        })
        .collect()
}

/// Completions per bucket of completion time, by outcome (`ok`, `fail`, `info`); index
/// `b` covers `[b * width, (b + 1) * width)`. Covers `0..=end_time`.
pub(crate) fn throughput(calls: &[CallInfo], width: u64, end_time: u64) -> Vec<[u64; 3]> {
    let mut out = vec![[0u64; 3]; (end_time / width) as usize + 1];
    for c in calls {
        if let Some(end) = c.end {
            let b = ((end / width) as usize).min(out.len() - 1);
            match c.outcome {
                Outcome::Ok => out[b][0] += 1,
                Outcome::Fail => out[b][1] += 1,
                Outcome::Info => out[b][2] += 1,
                Outcome::Pending => {}
            }
        }
    }
    out
}

/// `1.23 s`, `45.6 ms`, `789 µs` for a duration in ns.
pub(crate) fn human_ns(ns: u64) -> String {
    let ns = ns as f64;
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.1} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.0} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use faultline_checkers::history::Op;
    use serde_json::json;

    pub(crate) fn op(p: u64, kind: OpType, f: &str, t_ms: u64) -> Op {
        Op::new(Process::Client(p), kind, f, json!(null)).at(t_ms * 1_000_000)
    }

    /// Every op at time 0, as in a Jepsen log: only the order tells them apart. Process 2's
    /// write ends in info.
    pub(crate) fn timeless_history() -> History {
        History::from_ops(vec![
            op(0, OpType::Invoke, "write", 0),
            op(1, OpType::Invoke, "read", 0),
            op(0, OpType::Ok, "write", 0),
            op(2, OpType::Invoke, "write", 0),
            op(1, OpType::Ok, "read", 0),
            op(2, OpType::Info, "write", 0),
        ])
    }

    #[test]
    fn pairing_is_lenient_and_counts_outcomes_by_function() {
        let h = History::from_ops(vec![
            op(0, OpType::Invoke, "write", 0),
            op(1, OpType::Invoke, "read", 1),
            op(0, OpType::Ok, "write", 5),
            op(2, OpType::Ok, "read", 6), // stray
            op(1, OpType::Info, "read", 9),
            op(0, OpType::Invoke, "read", 10), // pending
        ]);
        let calls = Calls::from_history(&h);
        assert_eq!(calls.calls.len(), 3);
        assert_eq!(calls.stray_completions, 1);
        assert_eq!(calls.functions, vec!["write", "read"]);
        assert_eq!(calls.calls[0].latency(), Some(5_000_000));
        assert_eq!(calls.calls[2].outcome, Outcome::Pending);
        assert_eq!(calls.end_time, 10_000_000);
        let c = counts(&h, &calls);
        assert_eq!(c.by_outcome, [1, 0, 1, 1]);
        assert_eq!(c.by_function, vec![[1, 0, 0, 0], [0, 0, 1, 1]]);
        assert!(calls.has_times());
    }

    #[test]
    fn a_history_whose_ops_all_share_one_time_has_no_times() {
        assert!(!Calls::from_history(&timeless_history()).has_times());
        assert!(!Calls::default().has_times());
        let h = History::from_ops(vec![
            op(0, OpType::Invoke, "write", 0),
            op(0, OpType::Ok, "write", 1),
        ]);
        assert!(Calls::from_history(&h).has_times());
    }

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.5), Some(50));
        assert_eq!(quantile(&v, 0.95), Some(95));
        assert_eq!(quantile(&v, 0.99), Some(99));
        assert_eq!(quantile(&v, 1.0), Some(100));
        assert_eq!(quantile(&[7], 0.5), Some(7));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn quantiles_per_bucket_of_invocation_time() {
        let mut ops = Vec::new();
        // Bucket 0 (0..10 ms): latencies 1..=10 ms; bucket 2: one op of 50 ms.
        for i in 0..10u64 {
            ops.push(op(i, OpType::Invoke, "read", i));
            ops.push(op(i, OpType::Ok, "read", i + i + 1));
        }
        ops.push(op(99, OpType::Invoke, "read", 25));
        ops.push(op(99, OpType::Ok, "read", 75));
        let calls = Calls::from_history(&History::from_ops(ops));
        let rows = latency_quantiles(&calls.calls, 10_000_000);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].count, 10);
        assert_eq!(rows[0].p50, 5_000_000);
        assert_eq!(rows[0].max, 10_000_000);
        assert_eq!(rows[1].start, 20_000_000);
        assert_eq!(rows[1].p99, 50_000_000);
    }

    #[test]
    fn throughput_by_completion_time_and_outcome() {
        let calls = Calls::from_history(&History::from_ops(vec![
            op(0, OpType::Invoke, "read", 0),
            op(0, OpType::Ok, "read", 1),
            op(1, OpType::Invoke, "read", 0),
            op(1, OpType::Fail, "read", 15),
            op(2, OpType::Invoke, "read", 0),
            op(2, OpType::Info, "read", 19),
        ]));
        let t = throughput(&calls.calls, 10_000_000, calls.end_time);
        assert_eq!(t, vec![[1, 0, 0], [0, 1, 1]]);
    }

    #[test]
    fn bucket_widths_are_round() {
        assert_eq!(bucket_width(60_000_000_000, 100), 1_000_000_000);
        assert_eq!(bucket_width(10_000_000_000, 100), 100_000_000);
        assert_eq!(bucket_width(30_000_000_000, 100), 500_000_000);
        assert_eq!(bucket_width(5, 100), 1_000_000);
    }
}
