//! Fault intervals read from the nemesis ops of a history, and what clients saw during
//! them: the share of ops that succeeded during each fault (availability). What they saw
//! after each heal is `recovery`'s.
//!
//! A fault interval of kind `X` runs from the invocation of `start-X` to the completion of
//! the matching `stop-X` (or the end of the history when none came). A `start-X` whose
//! completion says it was skipped applied nothing and opens no interval. A nemesis op
//! named `heal` closes every open interval. This module must never draw.

use faultline_checkers::history::{History, Op, OpType, Process};
use serde_json::Value;

use crate::stats::{CallInfo, Outcome};

/// One stretch of time during which a fault was applied.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FaultInterval {
    /// `kill`, `pause`, `partition`, ... (the `start-` function without its prefix).
    pub kind: String,
    /// Invocation time of `start-X` (ns).
    pub start: u64,
    /// Completion time of `stop-X`, or the end of the history (ns).
    pub end: u64,
    /// Whether a `stop-X` (or `heal`) completed; false when the history ended first.
    pub healed: bool,
    /// What the start did, e.g. `{"nodes":["n2"]}` (compact JSON, empty when nothing).
    pub detail: String,
}

/// Fault intervals in order of their start.
pub(crate) fn fault_intervals(history: &History) -> Vec<FaultInterval> {
    let end_time = history.ops.iter().map(|op| op.time).max().unwrap_or(0);
    fault_intervals_of(history.ops.iter(), end_time)
}

/// Fault intervals from a history's ops (only its nemesis ops are read), in history order,
/// where `end_time` is the time of the history's last op.
pub(crate) fn fault_intervals_of<'a>(
    ops: impl Iterator<Item = &'a Op>,
    end_time: u64,
) -> Vec<FaultInterval> {
    let mut done: Vec<FaultInterval> = Vec::new();
    let mut open: Vec<FaultInterval> = Vec::new();
    // The nemesis runs one op at a time: remember what its open invocation was.
    let mut invoked: Option<(String, u64)> = None;
    for op in ops.filter(|op| op.process == Process::Nemesis) {
        if op.kind == OpType::Invoke {
            invoked = Some((op.f.clone(), op.time));
            continue;
        }
        let (f, invoke_time) = invoked.take().unwrap_or((op.f.clone(), op.time));
        if let Some(kind) = f.strip_prefix("start-") {
            let skipped = op
                .error
                .as_deref()
                .is_some_and(|e| e.to_ascii_lowercase().starts_with("skipped"))
                || op.value.get("skipped").is_some();
            if skipped || open.iter().any(|iv| iv.kind == kind) {
                continue;
            }
            open.push(FaultInterval {
                kind: kind.to_string(),
                start: invoke_time,
                end: end_time,
                healed: false,
                detail: compact(&op.value),
            });
        } else if let Some(kind) = f.strip_prefix("stop-") {
            if let Some(i) = open.iter().position(|iv| iv.kind == kind) {
                let mut iv = open.remove(i);
                iv.end = op.time.max(iv.start);
                iv.healed = true;
                done.push(iv);
            }
        } else if f == "heal" {
            for mut iv in open.drain(..) {
                iv.end = op.time.max(iv.start);
                iv.healed = true;
                done.push(iv);
            }
        }
    }
    done.extend(open);
    done.sort_by(|a, b| (a.start, &a.kind).cmp(&(b.start, &b.kind)));
    done
}

fn compact(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Fault kinds in order of first appearance, each with its colour.
pub(crate) fn kinds(intervals: &[FaultInterval]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for iv in intervals {
        if !out.contains(&iv.kind) {
            out.push(iv.kind.clone());
        }
    }
    out
}

/// The shade of a fault kind (by its position in [`kinds`]). No red channel of 0xFA.
pub(crate) fn kind_rgb(i: usize) -> (u8, u8, u8) {
    const PALETTE: [(u8, u8, u8); 6] = [
        (0xE5, 0x48, 0x4D), // red
        (0x8E, 0x4E, 0xC6), // purple
        (0x2F, 0x9E, 0x6E), // green
        (0xD9, 0x7B, 0x1A), // orange
        (0x2B, 0x8C, 0xC4), // blue
        (0x9C, 0x6B, 0x3C), // brown
    ];
    PALETTE[i % PALETTE.len()]
}

pub(crate) fn kind_css(i: usize) -> String {
    let (r, g, b) = kind_rgb(i);
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// Client ops invoked during one interval and how many succeeded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Availability {
    pub invoked: u64,
    pub ok: u64,
}

impl Availability {
    /// The share of ops that succeeded, `None` when no op was invoked.
    pub(crate) fn share(&self) -> Option<f64> {
        (self.invoked > 0).then(|| self.ok as f64 / self.invoked as f64)
    }
}

/// Availability during each interval, and outside every interval (last element).
/// Calls must be in invocation order.
pub(crate) fn availability(calls: &[CallInfo], intervals: &[FaultInterval]) -> Vec<Availability> {
    let mut out: Vec<Availability> = intervals
        .iter()
        .map(|iv| {
            let lo = calls.partition_point(|c| c.start < iv.start);
            let hi = calls.partition_point(|c| c.start < iv.end);
            let slice = &calls[lo..hi.max(lo)];
            Availability {
                invoked: slice.len() as u64,
                ok: slice.iter().filter(|c| c.outcome == Outcome::Ok).count() as u64,
            }
        })
        .collect();
    let mut outside = Availability { invoked: 0, ok: 0 };
    for c in calls {
        if !intervals
            .iter()
            .any(|iv| c.start >= iv.start && c.start < iv.end)
        {
            outside.invoked += 1;
            outside.ok += (c.outcome == Outcome::Ok) as u64;
        }
    }
    out.push(outside);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::tests::op;
    use crate::stats::Calls;
    use serde_json::json;

    fn nem(kind: OpType, f: &str, t_ms: u64, value: Value) -> Op {
        Op::new(Process::Nemesis, kind, f, value).at(t_ms * 1_000_000)
    }

    fn ms(t: u64) -> u64 {
        t * 1_000_000
    }

    fn faulty_history() -> History {
        History::from_ops(vec![
            op(0, OpType::Invoke, "write", 0),
            op(0, OpType::Ok, "write", 5),
            nem(OpType::Invoke, "start-kill", 10, json!(null)),
            nem(OpType::Info, "start-kill", 12, json!({"nodes": ["n2"]})),
            op(0, OpType::Invoke, "read", 20).with_key(json!(1)),
            op(0, OpType::Info, "read", 40).with_key(json!(1)),
            op(1, OpType::Invoke, "write", 21).with_key(json!(2)),
            op(1, OpType::Ok, "write", 30).with_key(json!(2)),
            nem(OpType::Invoke, "start-pause", 45, json!(null)),
            nem(OpType::Info, "start-pause", 46, json!({"nodes": ["n1"]})),
            nem(OpType::Invoke, "stop-kill", 50, json!(null)),
            nem(OpType::Info, "stop-kill", 55, json!({"nodes": ["n2"]})),
            op(2, OpType::Invoke, "read", 56).with_key(json!(1)),
            op(2, OpType::Ok, "read", 70).with_key(json!(1)),
            op(1, OpType::Invoke, "read", 57).with_key(json!(2)),
            op(1, OpType::Ok, "read", 60).with_key(json!(2)),
            nem(OpType::Invoke, "start-kill", 80, json!(null)),
            Op {
                error: Some("skipped: no node left to kill".into()),
                ..nem(OpType::Info, "start-kill", 81, json!(null))
            },
            op(1, OpType::Invoke, "read", 90).with_key(json!(2)),
            op(1, OpType::Fail, "read", 100).with_key(json!(2)),
        ])
    }

    #[test]
    fn intervals_run_from_start_invoke_to_stop_completion_or_the_end() {
        let ivs = fault_intervals(&faulty_history());
        assert_eq!(ivs.len(), 2, "{ivs:?}");
        assert_eq!(ivs[0].kind, "kill");
        assert_eq!(
            (ivs[0].start, ivs[0].end, ivs[0].healed),
            (ms(10), ms(55), true)
        );
        assert_eq!(ivs[0].detail, r#"{"nodes":["n2"]}"#);
        // pause never stopped: it lasts to the end of the history.
        assert_eq!(ivs[1].kind, "pause");
        assert_eq!(
            (ivs[1].start, ivs[1].end, ivs[1].healed),
            (ms(45), ms(100), false)
        );
        assert_eq!(kinds(&ivs), vec!["kill", "pause"]);
    }

    #[test]
    fn heal_closes_every_open_interval() {
        let h = History::from_ops(vec![
            nem(OpType::Invoke, "start-partition", 1, json!(null)),
            nem(OpType::Info, "start-partition", 2, json!(null)),
            nem(OpType::Invoke, "heal", 8, json!(null)),
            nem(OpType::Info, "heal", 9, json!(null)),
        ]);
        let ivs = fault_intervals(&h);
        assert_eq!(
            (ivs[0].start, ivs[0].end, ivs[0].healed),
            (ms(1), ms(9), true)
        );
    }

    #[test]
    fn availability_counts_ops_invoked_inside_each_interval() {
        let h = faulty_history();
        let calls = Calls::from_history(&h);
        let ivs = fault_intervals(&h);
        let a = availability(&calls.calls, &ivs);
        // kill [10, 55): the info read and the ok write -> 1 of 2.
        assert_eq!(a[0], Availability { invoked: 2, ok: 1 });
        assert_eq!(a[0].share(), Some(0.5));
        // pause [45, 100): the two reads at 56 and 57 (ok) and the failed read at 90.
        assert_eq!(a[1], Availability { invoked: 3, ok: 2 });
        // outside: only the first write.
        assert_eq!(a[2], Availability { invoked: 1, ok: 1 });
    }
}
