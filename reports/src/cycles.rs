//! The picture of a transactional anomaly: the dependency cycle a transactional checker
//! found, drawn as transactions on a circle with an arrow per dependency (ww, wr, rw,
//! process, realtime), the checker's sentence for each step, and the transactions' ops as
//! bars on process lanes, so a reader can see in the history why each arrow holds. Drawn by
//! faultline itself: no Graphviz.
//!
//! The JSON shape is the transactional checkers' (`details.anomalies` of a `CheckResult`:
//! a map from anomaly type to a list of cases, or a list of cases with a `type`), each
//! cycle case carrying `names: [{name, op, invoke, process}]` and `steps: [{from, to, edge,
//! sentence}]`, every txn named by its history `Op.index`. It is read leniently (missing
//! fields default; cases without steps are not cycles and are skipped). This module must
//! never judge a history.

use std::fmt::Write as _;

use faultline_checkers::checker::CheckResult;
use faultline_checkers::history::History;
use serde::Deserialize;
use serde_json::Value;

use crate::html::esc;
use crate::stats::Calls;
use crate::timeline::window_svg;

/// One transaction of a cycle.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Txn {
    /// `T1`, `T2`, …
    #[serde(default)]
    pub name: String,
    /// `Op.index` of its completion.
    pub op: u64,
    /// `Op.index` of its invocation.
    #[serde(default)]
    pub invoke: Option<u64>,
}

/// One dependency of a cycle: `from` must precede `to`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Step {
    pub from: u64,
    pub to: u64,
    #[serde(default)]
    pub edge: String,
    #[serde(default)]
    pub sentence: String,
}

/// A cycle of dependencies between transactions, as a checker reported it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Cycle {
    #[serde(default, rename = "type")]
    pub anomaly: String,
    pub names: Vec<Txn>,
    pub steps: Vec<Step>,
    #[serde(default)]
    pub explanation: String,
}

/// How many cycles the report draws per checker.
const DRAWN: usize = 4;

/// The cycles in results (at most [`DRAWN`] per checker), with the checker that found each.
pub(crate) fn find(results: &[CheckResult]) -> Vec<(String, Cycle)> {
    let mut found = Vec::new();
    for r in results {
        let mut cases: Vec<(String, &Value)> = Vec::new();
        match r.details.get("anomalies") {
            Some(Value::Object(by_type)) => {
                for (anomaly, list) in by_type {
                    for case in list.as_array().into_iter().flatten() {
                        cases.push((anomaly.clone(), case));
                    }
                }
            }
            Some(Value::Array(list)) => cases.extend(list.iter().map(|c| (String::new(), c))),
            _ => continue,
        }
        let cycles = cases.into_iter().filter_map(|(anomaly, case)| {
            case.get("steps")?;
            let mut cycle = Cycle::deserialize(case).ok()?;
            if cycle.anomaly.is_empty() {
                cycle.anomaly = anomaly;
            }
            (!cycle.names.is_empty()).then_some(cycle)
        });
        found.extend(cycles.take(DRAWN).map(|c| (r.checker.clone(), c)));
    }
    found
}

/// The colour of a dependency kind.
fn colour(edge: &str) -> &'static str {
    match edge {
        "ww" => "#1f6fb4",
        "wr" => "#2b9a3e",
        "rw" => "#c62f3b",
        "process" => "#6b6b6b",
        "realtime" => "#8a5ab8",
        _ => "#333333",
    }
}

/// The cycle as an SVG: transactions on a circle, an arrow for each step, bent outward so
/// that two steps between the same pair (one each way) stay apart.
pub(crate) fn cycle_svg(cycle: &Cycle) -> String {
    let n = cycle.names.len().max(1);
    let radius = (34.0 * n as f64 / std::f64::consts::PI).max(70.0);
    let (cx, cy) = (radius + 70.0, radius + 50.0);
    let (width, height) = (2.0 * cx, 2.0 * cy);
    let at = |i: usize| {
        // T1 on the left, going clockwise.
        let angle = std::f64::consts::PI + 2.0 * std::f64::consts::PI * i as f64 / n as f64;
        (cx + radius * angle.cos(), cy + radius * angle.sin())
    };
    let position = |op: u64| cycle.names.iter().position(|t| t.op == op);
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"cycle\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" \
         height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\"><defs>"
    );
    for edge in ["ww", "wr", "rw", "process", "realtime", "other"] {
        let _ = write!(
            svg,
            "<marker id=\"arrow-{edge}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
             markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">\
             <path d=\"M0,0 L10,5 L0,10 z\" fill=\"{}\"/></marker>",
            colour(edge)
        );
    }
    svg.push_str("</defs>");
    const NODE: f64 = 24.0;
    for step in &cycle.steps {
        let (Some(a), Some(b)) = (position(step.from), position(step.to)) else {
            continue;
        };
        let ((x1, y1), (x2, y2)) = (at(a), at(b));
        let (dx, dy) = (x2 - x1, y2 - y1);
        let length = (dx * dx + dy * dy).sqrt().max(1.0);
        let (ux, uy) = (dx / length, dy / length);
        // Bend to the left of the direction of travel: a→b and b→a bend apart.
        let bend = 0.25 * length + 12.0;
        let (mx, my) = ((x1 + x2) / 2.0 + uy * bend, (y1 + y2) / 2.0 - ux * bend);
        let start = shorten(x1, y1, mx, my, NODE);
        let end = shorten(x2, y2, mx, my, NODE + 2.0);
        let edge = if colour(&step.edge) == colour("other") {
            "other"
        } else {
            step.edge.as_str()
        };
        let _ = write!(
            svg,
            "<path class=\"dep dep-{edge}\" d=\"M{:.1},{:.1} Q{mx:.1},{my:.1} {:.1},{:.1}\" \
             fill=\"none\" stroke=\"{c}\" stroke-width=\"2\" marker-end=\"url(#arrow-{edge})\">\
             <title>{}</title></path>\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"{c}\" font-size=\"12\" text-anchor=\"middle\" \
             font-family=\"sans-serif\" stroke=\"#fff\" stroke-width=\"3\" \
             paint-order=\"stroke\">{}</text>",
            start.0,
            start.1,
            end.0,
            end.1,
            esc(&step.sentence),
            // The label sits just outside the curve's apex (the Bézier's midpoint).
            (x1 + x2) / 4.0 + mx / 2.0 + uy * 12.0,
            (y1 + y2) / 4.0 + my / 2.0 - ux * 12.0 + 4.0,
            esc(&step.edge),
            c = colour(&step.edge),
        );
    }
    for (i, txn) in cycle.names.iter().enumerate() {
        let (x, y) = at(i);
        let _ = write!(
            svg,
            "<g class=\"txn\"><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{NODE}\" fill=\"#fff\" \
             stroke=\"#222\" stroke-width=\"1.5\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"13\" font-weight=\"bold\" \
             text-anchor=\"middle\" font-family=\"sans-serif\">{}</text>\
             <text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\" \
             font-family=\"sans-serif\">#{}</text></g>",
            y - 1.0,
            esc(&txn.name),
            y + 11.0,
            txn.op
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The point `by` along the way from (x, y) towards (tx, ty).
fn shorten(x: f64, y: f64, tx: f64, ty: f64, by: f64) -> (f64, f64) {
    let (dx, dy) = (tx - x, ty - y);
    let length = (dx * dx + dy * dy).sqrt().max(1.0);
    (x + dx / length * by, y + dy / length * by)
}

/// The section for one cycle: the drawing, the steps in words, and the txns' ops.
pub(crate) fn section(
    history: &History,
    calls: &Calls,
    by_index: &std::collections::HashMap<u64, usize>,
    checker: &str,
    cycle: &Cycle,
) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<div class=\"cycle-case\"><h3>{}: {} (a cycle of {} transactions)</h3>\
         <div class=\"cycle-picture\">{}</div><ol class=\"cycle-steps\">",
        esc(checker),
        esc(&cycle.anomaly),
        cycle.names.len(),
        cycle_svg(cycle)
    );
    for step in &cycle.steps {
        let _ = write!(
            out,
            "<li><span style=\"color:{}\">{}</span> {}</li>",
            colour(&step.edge),
            esc(&step.edge),
            esc(&step.sentence)
        );
    }
    out.push_str("</ol>");
    let mut window: Vec<usize> = cycle
        .names
        .iter()
        .filter_map(|t| by_index.get(&t.invoke.unwrap_or(t.op)).copied())
        .collect();
    window.sort_unstable();
    window.dedup();
    if let Some(svg) = window_svg(history, calls, &window, None) {
        let _ = write!(
            out,
            "<figure class=\"cycle-window\">{svg}<figcaption>The transactions of the cycle on \
             their process lanes, in the order of their invocations and completions.\
             </figcaption></figure>"
        );
    }
    out.push_str("</div>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checkers::checker::Validity;
    use faultline_checkers::history::{Op, OpType, Process};
    use serde_json::json;

    fn txn(p: u64, kind: OpType, value: Value) -> Op {
        Op::new(Process::Client(p), kind, "txn", value)
    }

    /// G-single: T1 appends 1 to x and reads y empty; T2 appends 1 to y and reads x empty.
    fn write_skew() -> (History, CheckResult) {
        let h = History::from_ops(vec![
            txn(
                0,
                OpType::Invoke,
                json!([["append", "x", 1], ["r", "y", null]]),
            ),
            txn(
                1,
                OpType::Invoke,
                json!([["append", "y", 1], ["r", "x", null]]),
            ),
            txn(0, OpType::Ok, json!([["append", "x", 1], ["r", "y", []]])),
            txn(1, OpType::Ok, json!([["append", "y", 1], ["r", "x", []]])),
        ]);
        let result = CheckResult::new("elle-list-append", Validity::Invalid).details(json!({
            "anomalies": {"G2-item": [{
                "txns": [2, 3],
                "names": [{"name": "T1", "op": 2, "invoke": 0}, {"name": "T2", "op": 3, "invoke": 1}],
                "steps": [
                    {"from": 2, "to": 3, "edge": "rw", "sentence": "T1 < T2 because T1's read of y did not see T2's append of 1"},
                    {"from": 3, "to": 2, "edge": "rw", "sentence": "T2 < T1 because T2's read of x did not see T1's append of 1"}
                ],
                "explanation": "…"
            }], "G1a": [{"txns": [2]}]}
        }));
        (h, result)
    }

    #[test]
    fn finds_cycles_and_skips_cases_without_steps() {
        let (_, result) = write_skew();
        let found = find(&[result]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1.anomaly, "G2-item");
        assert_eq!(found[0].1.steps.len(), 2);
    }

    #[test]
    fn draws_every_txn_and_every_step_with_its_sentence() {
        let (h, result) = write_skew();
        let cycle = &find(&[result])[0].1;
        let calls = Calls::from_history(&h);
        let html = section(
            &h,
            &calls,
            &calls.index_of_op(&h),
            "elle-list-append",
            cycle,
        );
        assert_eq!(html.matches("<g class=\"txn\">").count(), 2);
        assert_eq!(html.matches("<path class=\"dep dep-rw\"").count(), 2);
        assert!(html.contains("T1&#39;s read of y did not see") || html.contains("T1's read of y"));
        assert!(html.contains("a cycle of 2 transactions"));
        assert!(html.contains("cycle-window"), "the txns' ops are drawn");
    }
}
