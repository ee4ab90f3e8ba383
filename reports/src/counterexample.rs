//! The picture of a failed linearizability check: the ops of the failing window as bars on
//! process lanes, the op that cannot be placed outlined in red, and under it each order the
//! search tried with the model state after every op, ending at the state the failing op
//! could not be applied to.
//!
//! The JSON shape is the checkers' `Counterexample` (`details.counterexample` of a
//! `CheckResult`, an object or a list): `{key, op, completion, description, linearized,
//! concurrent: [index], attempts: [{order: [index], states: [text]}]}`, every op named by
//! its history `Op.index`. It is read leniently here (missing fields default) so a report
//! still draws when that shape grows. This module must never judge a history.

use std::collections::HashMap;
use std::fmt::Write as _;

use faultline_checkers::checker::CheckResult;
use faultline_checkers::history::History;
use serde::Deserialize;
use serde_json::Value;

use crate::html::esc;
use crate::stats::Calls;
use crate::timeline::{describe, label, window_svg};

/// One order the search linearized before the failing op.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub(crate) struct Attempt {
    pub order: Vec<u64>,
    /// The state before the first op, then after each op.
    pub states: Vec<String>,
}

/// The smallest window of an invalid history that cannot be linearized.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Counterexample {
    #[serde(default)]
    pub key: Option<Value>,
    pub op: u64,
    #[serde(default)]
    pub completion: Option<u64>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub linearized: usize,
    #[serde(default)]
    pub concurrent: Vec<u64>,
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    /// Why the op cannot be placed, when the checker proved it without searching.
    #[serde(default)]
    pub explanation: Option<String>,
}

impl Counterexample {
    /// Every `Op.index` the counterexample names.
    pub(crate) fn ops(&self) -> Vec<u64> {
        let mut all = vec![self.op];
        all.extend(self.completion);
        all.extend(&self.concurrent);
        for a in &self.attempts {
            all.extend(&a.order);
        }
        all.sort_unstable();
        all.dedup();
        all
    }
}

/// The counterexamples in results, with the checker that produced each, and problems
/// reading any (as sentences).
pub(crate) fn find(results: &[CheckResult]) -> (Vec<(String, Counterexample)>, Vec<String>) {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for r in results {
        for field in ["counterexample", "counterexamples"] {
            let items: Vec<&Value> = match r.details.get(field) {
                None | Some(Value::Null) => continue,
                Some(Value::Array(items)) => items.iter().collect(),
                Some(one) => vec![one],
            };
            for item in items {
                match Counterexample::deserialize(item) {
                    Ok(c) => found.push((r.checker.clone(), c)),
                    Err(e) => problems.push(format!(
                        "the {} checker's {field} could not be read ({e}); its reasons above \
                         still say what failed",
                        r.checker
                    )),
                }
            }
        }
    }
    (found, problems)
}

/// The section for one counterexample: the window's lanes and the attempted orders.
pub(crate) fn section(
    history: &History,
    calls: &Calls,
    by_index: &HashMap<u64, usize>,
    checker: &str,
    cx: &Counterexample,
) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<div class=\"counterexample\"><h3>{}: op #{} cannot be placed{}</h3>",
        esc(checker),
        cx.op,
        match &cx.key {
            Some(k) => format!(" (key {})", esc(&crate::stats::key_text(Some(k)))),
            None => String::new(),
        }
    );
    let culprit = by_index.get(&cx.op).copied();
    let window: Vec<usize> = {
        let mut w: Vec<usize> = cx
            .ops()
            .iter()
            .filter_map(|i| by_index.get(i).copied())
            .collect();
        w.sort_unstable();
        w.dedup();
        w
    };
    let description = if cx.description.is_empty() {
        culprit
            .map(|c| describe(history, &calls.calls[c]))
            .unwrap_or_default()
    } else {
        cx.description.clone()
    };
    match &cx.explanation {
        Some(why) => {
            let _ = write!(
                out,
                "<p>The op <b>#{} ({})</b>, outlined in red, could not take effect at any \
                 point between its invocation and its completion: {}. The bars are the ops \
                 named by the checker; hover one for its details.</p>",
                cx.op,
                esc(&description),
                esc(why)
            );
        }
        None => {
            let _ = write!(
                out,
                "<p>The op <b>#{} ({})</b>, outlined in red, could not take effect at any \
                 point between its invocation and its completion: {} ops of this key were \
                 linearized before it, and every order of the ops concurrent with it leaves \
                 the model in a state the op contradicts. The bars are the ops named by the \
                 checker; hover one for its details.</p>",
                cx.op,
                esc(&description),
                cx.linearized
            );
        }
    }
    let culprit_pos = culprit.and_then(|c| window.iter().position(|&i| i == c));
    match culprit.and(window_svg(history, calls, &window, culprit_pos)) {
        Some(svg) => {
            let _ = write!(
                out,
                "<figure class=\"counterexample-window\">{svg}<figcaption>The failing window: \
                 {} ops on process lanes, in the order of their invocations and completions (not \
                 to time scale); dashed bars ended <code>info</code> and may take effect at any \
                 later point.</figcaption></figure>",
                window.len()
            );
        }
        _ => {
            let _ = write!(
                out,
                "<p class=\"problem\">Op #{} is not in this history, so the window cannot be \
                 drawn.</p>",
                cx.op
            );
        }
    }
    let name = |i: u64| -> String {
        match by_index.get(&i) {
            Some(&c) => short(history, &calls.calls[c]),
            None => format!("#{i}"),
        }
    };
    if cx.attempts.is_empty() && cx.explanation.is_none() {
        out.push_str("<p class=\"note\">The checker recorded no attempted orders.</p>");
    }
    for (n, a) in cx.attempts.iter().enumerate() {
        let _ = write!(
            out,
            "<div class=\"chain\" data-attempt=\"{n}\"><b>Order {}:</b> ",
            n + 1
        );
        let first = a.states.first().map_or("?", String::as_str);
        let _ = write!(out, "<span class=\"state\">{}</span>", esc(first));
        for (k, op) in a.order.iter().enumerate() {
            let state = a.states.get(k + 1).map_or("?", String::as_str);
            let _ = write!(
                out,
                " → <span class=\"step\">{}</span> → <span class=\"state\">{}</span>",
                esc(&name(*op)),
                esc(state)
            );
        }
        let _ = write!(
            out,
            " → <span class=\"bad\">{} ✗ does not fit</span></div>",
            esc(&name(cx.op))
        );
    }
    out.push_str("</div>");
    out
}

/// `#12 write 3` or `#14 read → 2 (info)`: a chip's text, a bar's label with the outcome
/// when it is not ok.
fn short(history: &History, c: &crate::stats::CallInfo) -> String {
    let mut s = label(history, c);
    if let Some(done) = c.completion.map(|d| &history.ops[d]) {
        if done.kind != faultline_checkers::history::OpType::Ok {
            let _ = write!(s, " ({})", done.kind);
        }
    }
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use faultline_checkers::checker::Validity;
    use faultline_checkers::history::{Op, OpType, Process};
    use serde_json::json;

    /// A register history where a read of 0 comes after a completed write of 1.
    pub(crate) fn stale_read() -> (History, CheckResult) {
        let c = |p, kind, f: &str, v: Value, t: u64| {
            Op::new(Process::Client(p), kind, f, v).at(t * 1_000_000)
        };
        let h = History::from_ops(vec![
            c(0, OpType::Invoke, "write", json!(1), 0),
            c(0, OpType::Ok, "write", json!(1), 10),
            c(1, OpType::Invoke, "write", json!(2), 12),
            c(2, OpType::Invoke, "read", json!(null), 15),
            c(2, OpType::Ok, "read", json!(0), 20),
            c(1, OpType::Ok, "write", json!(2), 25),
        ]);
        let result = CheckResult::new("linearizable", Validity::Invalid)
            .reason("op #3 (process 2, read -> 0) cannot be linearized")
            .details(json!({"counterexample": {
                "key": null, "op": 3, "completion": 4,
                "description": "process 2, read -> 0", "linearized": 1,
                "concurrent": [2],
                "attempts": [
                    {"order": [0], "states": ["0", "1"]},
                    {"order": [0, 2], "states": ["0", "1", "2"]}
                ]
            }}));
        (h, result)
    }

    #[test]
    fn reads_the_checkers_shape_and_names_every_op() {
        let (_, result) = stale_read();
        let (found, problems) = find(&[result]);
        assert!(problems.is_empty());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1.ops(), vec![0, 2, 3, 4]);
    }

    #[test]
    fn an_unreadable_counterexample_is_a_problem_not_a_panic() {
        let r = CheckResult::new("linearizable", Validity::Invalid)
            .details(json!({"counterexample": {"op": "three"}}));
        let (found, problems) = find(&[r]);
        assert!(found.is_empty());
        assert!(problems[0].contains("linearizable checker's counterexample"));
    }

    #[test]
    fn section_draws_the_window_and_the_orders() {
        let (h, result) = stale_read();
        let calls = Calls::from_history(&h);
        let by_index = calls.index_of_op(&h);
        let (found, _) = find(&[result]);
        let html = section(&h, &calls, &by_index, "linearizable", &found[0].1);
        assert!(html.contains("op #3 cannot be placed"));
        assert_eq!(html.matches("<rect class=\"op ").count(), 3);
        assert!(html.contains("stroke=\"#c62f3b\""), "culprit outlined");
        assert!(html.contains(
            "<span class=\"state\">0</span> → <span class=\"step\">#0 write 1</span> → \
             <span class=\"state\">1</span> → <span class=\"bad\">#3 read → 0 ✗ does not fit</span>"
        ), "{html}");
    }

    #[test]
    fn a_proof_without_search_shows_its_explanation_instead_of_orders() {
        let (h, mut result) = stale_read();
        let cx = &mut result.details["counterexample"];
        cx["attempts"] = json!([]);
        cx["explanation"] = json!("#3 read 0 but completed before #2 was invoked: <why>");
        let calls = Calls::from_history(&h);
        let by_index = calls.index_of_op(&h);
        let (found, _) = find(&[result]);
        let html = section(&h, &calls, &by_index, "linearizable", &found[0].1);
        assert!(
            html.contains("completed before #2 was invoked: &lt;why&gt;"),
            "{html}"
        );
        assert!(!html.contains("ops of this key were linearized before"));
        assert!(!html.contains("recorded no attempted orders"));
    }
}
