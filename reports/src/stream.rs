//! A `history.jsonl` too long to hold, read in two streaming passes
//! ([`History::visit_jsonl`], a block of lines at a time) into everything the run page and
//! `results.json` say about it: exact counts by function and outcome, the fault intervals
//! with their availability and recovery (`recovery_stream`), throughput and latency
//! quantiles per time bucket, a latency heat map, latency quantiles per function, and the
//! ops of one bounded window for the pictures that draw single ops.
//!
//! The first pass reads what the second needs up front: the end of the history, the nemesis
//! ops (so the fault intervals and the final heal), the range of latencies and where the
//! first fault began. Memory holds one block of the file, the open calls, the nemesis ops, a
//! small record per key, per function and per fault, fixed-size plot accumulators and the
//! window: never the history, whatever its length. The figures are those of `stats`,
//! `faults` and `recovery` on the whole history, as long as op times never decrease in file
//! order (faultline's recorder writes them so); the per-bucket and per-function quantiles
//! come from `histogram` and are within its stated error. This module must never draw.

use std::collections::HashMap;
use std::path::Path;

use faultline_checkers::history::{History, HistoryError, Op, OpType, Process};

use crate::faults::{self, Availability, FaultInterval};
use crate::histogram::LogHistogram;
use crate::plots::HeatMap;
use crate::recovery::{is_definite_answer, Recovery};
use crate::recovery_stream::RecoveryStream;
use crate::stats::{bucket_width, key_text, Counts, Outcome, QuantileRow, MAX_FUNCTIONS};

/// The cells of a long run's latency heat map: time columns, latency rows.
pub(crate) const HEAT_GRID: (usize, usize) = (200, 48);

/// How far before the earliest open invocation records are settled (ns).
const SETTLE_MARGIN: u64 = 1_000_000_000;

/// Finished calls between two attempts to settle recovery records (often in tests, so
/// settling is exercised on small histories).
#[cfg(not(test))]
const SETTLE_EVERY: u64 = 4_096;
#[cfg(test)]
const SETTLE_EVERY: u64 = 7;

/// What the first pass reads.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Ops in the history.
    pub ops: u64,
    /// The time of its last op (ns).
    pub end_time: u64,
    /// Every nemesis op, in order.
    pub nemesis: Vec<Op>,
    /// The shortest and longest latency of a completed call (ns); `(u64::MAX, 0)` for none.
    pub latency: (u64, u64),
    /// `Op.index` of the first fault's start.
    pub first_fault: Option<u64>,
    /// What the reader skipped (a torn last line).
    pub warnings: Vec<String>,
}

fn scan(path: &Path) -> Result<Scan, HistoryError> {
    let mut out = Scan {
        latency: (u64::MAX, 0),
        ..Scan::default()
    };
    let mut open: HashMap<u64, u64> = HashMap::new();
    out.warnings = History::visit_jsonl(path, |op| {
        out.ops += 1;
        out.end_time = out.end_time.max(op.time);
        match op.process {
            Process::Client(p) if op.kind == OpType::Invoke => {
                open.insert(p, op.time);
            }
            Process::Client(p) => {
                if let Some(start) = open.remove(&p) {
                    let latency = op.time.max(start) - start;
                    out.latency = (out.latency.0.min(latency), out.latency.1.max(latency));
                }
            }
            Process::Nemesis => {
                if out.first_fault.is_none() && op.f.starts_with("start-") {
                    out.first_fault = Some(op.index);
                }
                out.nemesis.push(op);
            }
        }
    })?;
    Ok(out)
}

/// Throughput, latency quantiles and the heat map, over time buckets of one width.
pub(crate) struct PlotData {
    /// Bucket width (ns): `stats::bucket_width` of the run, about 120 buckets.
    pub width: u64,
    /// Completions per bucket of completion time: ok, fail, info.
    pub throughput: Vec<[u64; 3]>,
    /// Latencies per bucket of invocation time.
    buckets: Vec<Option<Box<LogHistogram>>>,
    pub heat: HeatMap,
}

impl PlotData {
    /// p50, p95, p99 (within the histogram's error) and the exact max per non-empty bucket.
    pub(crate) fn quantile_rows(&self) -> Vec<QuantileRow> {
        self.buckets
            .iter()
            .enumerate()
            .filter_map(|(b, h)| {
                let h = h.as_deref()?;
                Some(QuantileRow {
                    start: b as u64 * self.width,
                    count: h.count() as usize,
                    p50: h.quantile(0.5)?,
                    p95: h.quantile(0.95)?,
                    p99: h.quantile(0.99)?,
                    max: h.max(),
                })
            })
            .collect()
    }
}

/// Everything the page and `results.json` say about a history file.
pub(crate) struct Summary {
    pub ops: u64,
    /// `Op.index` of the first fault's start.
    pub first_fault: Option<u64>,
    pub end_time: u64,
    /// Function names as `stats::Calls` names them, and their calls' latencies.
    pub functions: Vec<String>,
    pub latency_by_function: Vec<LogHistogram>,
    /// Key names, in order of first appearance.
    pub keys: Vec<String>,
    pub counts: Counts,
    pub stray_completions: usize,
    pub calls: u64,
    /// Whether the calls carry usable times (`stats::Calls::has_times`).
    pub has_times: bool,
    pub intervals: Vec<FaultInterval>,
    /// During each interval, and outside every one (last).
    pub availability: Vec<Availability>,
    pub recoveries: Vec<Option<Recovery>>,
    pub plots: PlotData,
    /// The ops whose index is in the window asked for, with their own indices.
    pub window: History,
    pub warnings: Vec<String>,
}

/// Counts calls by their invocation time into the fault intervals (sorted by start).
struct AvailabilityCounter {
    spans: Vec<(u64, u64)>,
    /// The latest end among the first `i + 1` intervals.
    reach: Vec<u64>,
    out: Vec<Availability>,
}

impl AvailabilityCounter {
    fn new(intervals: &[FaultInterval]) -> Self {
        let spans: Vec<(u64, u64)> = intervals.iter().map(|iv| (iv.start, iv.end)).collect();
        let reach = spans
            .iter()
            .scan(0, |r, s| {
                *r = s.1.max(*r);
                Some(*r)
            })
            .collect();
        let out = vec![Availability { invoked: 0, ok: 0 }; spans.len() + 1];
        AvailabilityCounter { spans, reach, out }
    }

    fn count(&mut self, start: u64, ok: bool) {
        let mut inside = false;
        let upto = self.spans.partition_point(|s| s.0 <= start);
        for i in (0..upto).rev() {
            if self.reach[i] <= start {
                break;
            }
            if start < self.spans[i].1 {
                inside = true;
                self.out[i].invoked += 1;
                self.out[i].ok += ok as u64;
            }
        }
        if !inside {
            let outside = self.out.last_mut().expect("an outside row");
            outside.invoked += 1;
            outside.ok += ok as u64;
        }
    }
}

/// An invoked call waiting for its completion.
#[derive(Clone, Copy)]
struct Open {
    start: u64,
    f: u16,
    key: u32,
    before_final_heal: bool,
}

/// The second pass's state.
struct Pass {
    final_heal: Option<u64>,
    past_final_heal: bool,
    f_ids: HashMap<String, u16>,
    functions: Vec<String>,
    key_ids: HashMap<String, u32>,
    open: HashMap<u64, Open>,
    counts: Counts,
    stray: usize,
    calls: u64,
    first_start: Option<u64>,
    times_differ: bool,
    avail: AvailabilityCounter,
    recovery: RecoveryStream,
    plots: PlotData,
    by_function: Vec<LogHistogram>,
    finished: u64,
}

impl Pass {
    fn function(&mut self, f: &str) -> u16 {
        if let Some(&id) = self.f_ids.get(f) {
            return id;
        }
        // As `stats::Calls`: past MAX_FUNCTIONS names, the last slot is `other`.
        let id = if self.functions.len() + 1 >= MAX_FUNCTIONS {
            if self.functions.len() + 1 == MAX_FUNCTIONS {
                self.functions.push("other".to_string());
            }
            (MAX_FUNCTIONS - 1) as u16
        } else {
            self.functions.push(f.to_string());
            (self.functions.len() - 1) as u16
        };
        self.counts.by_function.resize(self.functions.len(), [0; 4]);
        self.by_function
            .resize_with(self.functions.len(), LogHistogram::default);
        self.f_ids.insert(f.to_string(), id);
        id
    }

    fn invoke(&mut self, p: u64, op: &Op) {
        let f = self.function(&op.f);
        let text = key_text(op.key.as_ref());
        let key = match self.key_ids.get(&text) {
            Some(&id) => id,
            None => {
                let id = self.key_ids.len() as u32;
                self.key_ids.insert(text, id);
                self.recovery.key(op.time);
                id
            }
        };
        match self.first_start {
            None => self.first_start = Some(op.time),
            Some(first) => self.times_differ |= op.time != first,
        }
        let before_final_heal = match self.final_heal {
            None => true,
            Some(heal) => {
                self.past_final_heal |= op.time >= heal;
                !self.past_final_heal
            }
        };
        self.recovery.invoked(op.time, before_final_heal);
        self.calls += 1;
        let call = Open {
            start: op.time,
            f,
            key,
            before_final_heal,
        };
        // A second invoke on an open process: the first stays pending, as in `stats`.
        if let Some(pending) = self.open.insert(p, call) {
            self.finish(pending, None, Outcome::Pending, false);
        }
    }

    fn complete(&mut self, p: u64, op: &Op) {
        let Some(call) = self.open.remove(&p) else {
            self.stray += 1;
            return;
        };
        let outcome = match op.kind {
            OpType::Ok => Outcome::Ok,
            OpType::Fail => Outcome::Fail,
            _ => Outcome::Info,
        };
        let answered = outcome == Outcome::Fail && is_definite_answer(op.error.as_deref());
        self.finish(call, Some(op.time.max(call.start)), outcome, answered);
        self.finished += 1;
        if self.finished.is_multiple_of(SETTLE_EVERY) {
            // Less a second: the recorder stamps ops before they queue for the file, so
            // neighbouring lines may be out of time order by a little.
            let low = self.open.values().map(|c| c.start).fold(op.time, u64::min);
            self.recovery.settle(low.saturating_sub(SETTLE_MARGIN));
        }
    }

    fn finish(&mut self, call: Open, end: Option<u64>, outcome: Outcome, answered: bool) {
        let o = outcome as usize;
        self.counts.by_outcome[o] += 1;
        self.counts.by_function[call.f as usize][o] += 1;
        if let (Some(end), Some(first)) = (end, self.first_start) {
            self.times_differ |= end != first;
        }
        self.avail.count(call.start, outcome == Outcome::Ok);
        self.recovery.finished(
            call.key,
            (call.start, end),
            outcome,
            answered,
            call.before_final_heal,
        );
        let Some(end) = end else { return };
        let latency = end - call.start;
        let plots = &mut self.plots;
        let slot = match outcome {
            Outcome::Ok => 0,
            Outcome::Fail => 1,
            _ => 2,
        };
        let b = ((end / plots.width) as usize).min(plots.throughput.len() - 1);
        plots.throughput[b][slot] += 1;
        let b = ((call.start / plots.width) as usize).min(plots.buckets.len() - 1);
        plots.buckets[b]
            .get_or_insert_with(Box::default)
            .add(latency);
        plots.heat.add(call.start, latency, outcome);
        self.by_function[call.f as usize].add(latency);
    }
}

/// Chooses, from what the first pass found, the first and last `Op.index` of the ops kept.
pub(crate) type WindowOf<'a> = dyn Fn(&Scan) -> (u64, u64) + 'a;

/// Read the history file at `path` in two streaming passes. `window` chooses, from what
/// the first pass found, the first and last `Op.index` of the ops to keep; `None` keeps none.
pub(crate) fn summarize(path: &Path, window: Option<&WindowOf>) -> Result<Summary, HistoryError> {
    let scan = scan(path)?;
    let intervals = faults::fault_intervals_of(scan.nemesis.iter(), scan.end_time);
    let final_heal = scan
        .nemesis
        .iter()
        .filter(|op| op.kind == OpType::Invoke && op.f == "heal")
        .map(|op| op.time)
        .next_back();
    let width = bucket_width(scan.end_time, 120);
    let buckets = (scan.end_time / width) as usize + 1;
    let t1 = (scan.end_time as f64 / 1e9).max(1e-3);
    let mut pass = Pass {
        final_heal,
        past_final_heal: false,
        f_ids: HashMap::new(),
        functions: Vec::new(),
        key_ids: HashMap::new(),
        open: HashMap::new(),
        counts: Counts::default(),
        stray: 0,
        calls: 0,
        first_start: None,
        times_differ: false,
        avail: AvailabilityCounter::new(&intervals),
        recovery: RecoveryStream::new(&intervals, scan.end_time, final_heal),
        plots: PlotData {
            width,
            throughput: vec![[0; 3]; buckets],
            buckets: (0..buckets).map(|_| None).collect(),
            heat: HeatMap::new(scan.latency, t1, HEAT_GRID),
        },
        by_function: Vec::new(),
        finished: 0,
    };
    let (from, to) = window.map_or((1, 0), |w| w(&scan));
    let mut kept: Vec<Op> = Vec::new();
    History::visit_jsonl(path, |op| {
        if let Process::Client(p) = op.process {
            if op.kind == OpType::Invoke {
                pass.invoke(p, &op);
            } else {
                pass.complete(p, &op);
            }
        }
        if (from..=to).contains(&op.index) {
            kept.push(op);
        }
    })?;
    let mut pending: Vec<Open> = pass.open.drain().map(|(_, c)| c).collect();
    pending.sort_by_key(|c| c.start);
    for call in pending {
        pass.finish(call, None, Outcome::Pending, false);
    }
    let mut keys = vec![String::new(); pass.key_ids.len()];
    for (name, id) in pass.key_ids {
        keys[id as usize] = name;
    }
    let mut counts = pass.counts;
    counts.nemesis_ops = scan
        .nemesis
        .iter()
        .filter(|op| op.kind == OpType::Invoke)
        .count() as u64;
    Ok(Summary {
        ops: scan.ops,
        first_fault: scan.first_fault,
        end_time: scan.end_time,
        functions: pass.functions,
        latency_by_function: pass.by_function,
        keys,
        counts,
        stray_completions: pass.stray,
        calls: pass.calls,
        has_times: pass.times_differ,
        intervals,
        availability: pass.avail.out,
        recoveries: pass.recovery.finish(),
        plots: pass.plots,
        window: History {
            ops: kept,
            warnings: Vec::new(),
        },
        warnings: scan.warnings,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fault_table::{fault_records, fault_records_of_file};
    use crate::stats::{counts, latency_quantiles, throughput, Calls};
    use serde_json::json;

    /// A history with keys opened and retired over time, faults started, stopped, skipped
    /// and healed, ok, fail (answers and timeouts) and info completions, stray completions,
    /// calls left pending, ties in time, and (when `final_heal`) a final heal and reads.
    pub(crate) fn random_history(seed: u64, steps: usize, final_heal: bool) -> History {
        random_history_with(seed, steps, final_heal, 60)
    }

    /// [`random_history`] with a nemesis op at about one step in `fault_every`.
    pub(crate) fn random_history_with(
        seed: u64,
        steps: usize,
        final_heal: bool,
        fault_every: u64,
    ) -> History {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut rng = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let ms = 1_000_000;
        let mut t = 0u64;
        let mut ops = Vec::new();
        let workers = 6u64;
        let mut open: Vec<Option<(u64, String)>> = vec![None; workers as usize];
        let mut process: Vec<u64> = (0..workers).collect();
        let mut fault: Option<&str> = None;
        let errors = ["cas mismatch", "timeout", "connection refused", ""];
        for step in 0..steps {
            t += rng(3) * ms + rng(2) * 7;
            if rng(fault_every) == 0 {
                let kinds = ["kill", "pause", "partition"];
                let (f, value) = match fault {
                    None => {
                        let k = kinds[rng(3) as usize];
                        fault = Some(k);
                        (format!("start-{k}"), json!({"nodes": ["n1"]}))
                    }
                    Some(k) if rng(4) == 0 => {
                        fault = None;
                        let _ = k;
                        ("heal".to_string(), json!(null))
                    }
                    Some(k) => {
                        fault = None;
                        (format!("stop-{k}"), json!(null))
                    }
                };
                ops.push(Op::new(Process::Nemesis, OpType::Invoke, &f, json!(null)).at(t));
                t += rng(2) * ms;
                let mut done = Op::new(Process::Nemesis, OpType::Info, &f, value).at(t);
                if f.starts_with("start") && rng(8) == 0 {
                    done.error = Some("skipped: nothing to do".into());
                    fault = None;
                }
                ops.push(done);
                continue;
            }
            let w = rng(workers) as usize;
            let p = process[w];
            if rng(700) == 0 {
                // A completion with no open invocation.
                ops.push(Op::new(Process::Client(p + 100), OpType::Ok, "read", json!(null)).at(t));
                continue;
            }
            match open[w].take() {
                Some((_, f)) if rng(400) != 0 => {
                    let (kind, error) = match (rng(10), fault.is_some()) {
                        (0..=5, false) | (0..=2, true) => (OpType::Ok, None),
                        (6 | 7, _) | (3 | 4, true) => {
                            let e = errors[rng(4) as usize];
                            (OpType::Fail, (!e.is_empty()).then(|| e.to_string()))
                        }
                        _ => (OpType::Info, Some("timeout".to_string())),
                    };
                    let key = json!((step as u64 / 40 + w as u64 % 3) / 2);
                    let mut done = Op::new(Process::Client(p), kind, &f, json!(1)).at(t);
                    done.key = Some(key);
                    done.error = error;
                    if kind == OpType::Info {
                        process[w] += workers;
                    }
                    ops.push(done);
                }
                _ => {
                    // A fresh invoke (over an open one, rarely: that one stays pending).
                    let f = ["read", "write", "cas"][rng(3) as usize].to_string();
                    let key = json!((step as u64 / 40 + w as u64 % 3) / 2);
                    ops.push(
                        Op::new(Process::Client(p), OpType::Invoke, &f, json!(2))
                            .with_key(key)
                            .at(t),
                    );
                    open[w] = Some((t, f));
                }
            }
        }
        if final_heal {
            t += ms;
            ops.push(Op::new(Process::Nemesis, OpType::Invoke, "heal", json!(null)).at(t));
            ops.push(Op::new(Process::Nemesis, OpType::Info, "heal", json!(null)).at(t + ms));
            for k in 0..3 {
                ops.push(
                    Op::new(Process::Client(999), OpType::Invoke, "read", json!(null))
                        .with_key(json!(k))
                        .at(t + 2 * ms),
                );
                ops.push(
                    Op::new(Process::Client(999), OpType::Ok, "read", json!(1))
                        .with_key(json!(k))
                        .at(t + 3 * ms),
                );
            }
        }
        History::from_ops(ops)
    }

    pub(crate) fn write(dir: &Path, h: &History) -> std::path::PathBuf {
        let path = dir.join("history.jsonl");
        h.write_jsonl(&path).unwrap();
        path
    }

    fn same_records(h: &History, case: &str) {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), h);
        let memory = serde_json::to_value(fault_records(h)).unwrap();
        let streamed = serde_json::to_value(fault_records_of_file(&path).unwrap()).unwrap();
        assert_eq!(memory, streamed, "{case}");
    }

    #[test]
    fn fault_records_of_a_file_are_those_of_the_history() {
        let mut measured = 0;
        for seed in 1..=24 {
            // Long enough to settle records on the way (every SETTLE_EVERY calls).
            let steps = if seed % 6 == 0 { 30_000 } else { 1_500 };
            for final_heal in [false, true] {
                let h = random_history(seed, steps, final_heal);
                same_records(&h, &format!("seed {seed}, final heal {final_heal}"));
                measured += fault_records(&h)
                    .iter()
                    .filter(|r| r.recovery.as_ref().is_some_and(|r| r.status == "measured"))
                    .count();
            }
        }
        assert!(
            measured > 100,
            "the histories exercise recovery: {measured}"
        );
        // The hand-written histories of the recovery and faults table tests.
        use crate::recovery::tests::{fail, history, kill_then_pause, nemesis, ok};
        same_records(&kill_then_pause(), "results_json_records_the_same_figures");
        // The main phase ends exactly at the invocation of a pending call, the only call
        // on key 2 after the kill's heal: key 2 does not span it.
        let mut h = history(vec![
            ok(1, 2, 0, 5),
            ok(0, 1, 0, 10),
            nemesis("start-kill", 20, 21),
            nemesis("stop-kill", 30, 31),
            fail(0, 1, 40, 50, "timeout"),
        ]);
        h.ops.push(
            Op::new(Process::Client(3), OpType::Invoke, "read", json!(null))
                .with_key(json!(2))
                .at(50 * 1_000_000),
        );
        h.ops
            .push(Op::new(Process::Nemesis, OpType::Invoke, "heal", json!(null)).at(60_000_000));
        let h = History::from_ops(h.ops);
        let kill = &fault_records(&h)[0];
        assert_eq!(kill.recovery.as_ref().unwrap().keys_spanning, 1);
        same_records(&h, "a pending call at the main phase's end");
        same_records(&History::default(), "empty");
    }

    #[test]
    fn the_summary_counts_as_the_history_does() {
        let h = random_history(7, 30_000, true);
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &h);
        let window = |scan: &Scan| (scan.first_fault.unwrap(), scan.first_fault.unwrap() + 99);
        let s = summarize(&path, Some(&window)).unwrap();
        let calls = Calls::from_history(&h);
        assert_eq!(s.functions, calls.functions);
        assert_eq!(s.keys, calls.keys);
        assert_eq!(s.counts, counts(&h, &calls));
        assert_eq!(s.stray_completions, calls.stray_completions);
        assert_eq!(s.calls, calls.calls.len() as u64);
        assert_eq!(s.end_time, calls.end_time);
        assert_eq!(s.has_times, calls.has_times());
        assert_eq!(s.ops, h.len() as u64);
        let width = s.plots.width;
        assert_eq!(
            s.plots.throughput,
            throughput(&calls.calls, width, calls.end_time)
        );
        let exact = latency_quantiles(&calls.calls, width);
        let approx = s.plots.quantile_rows();
        assert_eq!(exact.len(), approx.len());
        for (e, a) in exact.iter().zip(&approx) {
            assert_eq!((e.start, e.count, e.max), (a.start, a.count, a.max));
            for (e, a) in [(e.p50, a.p50), (e.p95, a.p95), (e.p99, a.p99)] {
                assert!(a.abs_diff(e) as f64 <= e as f64 * 0.01, "{a} vs {e}");
            }
        }
        let latencies = || calls.calls.iter().filter_map(|c| c.latency());
        let range = (latencies().min().unwrap(), latencies().max().unwrap());
        let mut heat = HeatMap::new(range, (calls.end_time as f64 / 1e9).max(1e-3), HEAT_GRID);
        for c in &calls.calls {
            if let Some(l) = c.latency() {
                heat.add(c.start, l, c.outcome);
            }
        }
        assert_eq!(s.plots.heat, heat, "the heat map's cells");
        let first = s.window.ops.first().unwrap();
        assert!(first.f.starts_with("start-"), "{first:?}");
        assert_eq!(s.window.ops.len(), 100);
        assert_eq!(s.window.ops[99].index, first.index + 99);
    }
}
