//! Parts of the run page that both the page of a history held in memory (`page`) and the
//! page of a long run read as a stream (`long_run`) draw: the ops count table, the three time
//! plots with their legends, the legends themselves, and the pictures of single ops (the
//! counterexamples, dependency cycles and the timeline) of the history or window of ops it
//! is given. It must never read files.

use std::collections::HashMap;
use std::fmt::Write as _;

use faultline_checkers::checker::CheckResult;
use faultline_checkers::history::History;

use crate::counterexample::{self, Counterexample};
use crate::cycles;
use crate::faults::{kind_css, FaultInterval};
use crate::html::{esc, figure, table};
use crate::plots::{shape_icon, Plot, PlotInput, QUANTILES};
use crate::stats::{Calls, Counts, Outcome};
use crate::timeline;

/// The ops section: client calls by function and outcome, and what the columns mean.
pub(crate) fn counts(
    body: &mut String,
    functions: &[String],
    counts: &Counts,
    stray_completions: usize,
) {
    body.push_str("<h2 id=\"counts\">Ops</h2>");
    let total: u64 = counts.by_outcome.iter().sum();
    let mut header = vec!["function"];
    header.extend(Outcome::ALL.iter().map(|o| o.as_str()));
    header.push("total");
    let mut rows: Vec<Vec<String>> = functions
        .iter()
        .zip(&counts.by_function)
        .map(|(f, c)| {
            let mut row = vec![esc(f)];
            row.extend(c.iter().map(|n| n.to_string()));
            row.push(c.iter().sum::<u64>().to_string());
            row
        })
        .collect();
    let mut all = vec!["<b>all</b>".to_string()];
    all.extend(counts.by_outcome.iter().map(|n| format!("<b>{n}</b>")));
    all.push(format!("<b>{total}</b>"));
    rows.push(all);
    body.push_str(&table("counts", &header, &rows));
    let stray = match stray_completions {
        0 => String::new(),
        n => format!(" {n} completions had no open invocation and were skipped."),
    };
    let _ = write!(
        body,
        "<p class=\"note\">Client ops by how they ended (ok = happened, fail = did not happen, \
         info = unknown, pending = no completion recorded); {} nemesis ops.{stray}</p>",
        counts.nemesis_ops,
    );
}

/// The latency, quantile and throughput plots (in that order), each with its legend.
pub(crate) fn plots(
    body: &mut String,
    input: &PlotInput,
    [latency, quantiles, throughput]: [Plot; 3],
) {
    let recovery = input.recoveries.iter().any(Option::is_some);
    let parts = LegendParts {
        outcomes: true,
        pending: false,
        functions: true,
        recovery,
    };
    figure(
        body,
        "Latency of every op",
        &latency,
        &legend(input.calls, input.kinds, parts),
    );
    let mut qlegend = String::from("<div class=\"legend\">");
    for (q, (r, g, b)) in QUANTILES {
        let _ = write!(
            qlegend,
            "<span><span class=\"swatch\" style=\"background:#{r:02x}{g:02x}{b:02x}\"></span>{q}</span>"
        );
    }
    qlegend.push_str("</div>");
    let faults_only = LegendParts {
        outcomes: false,
        functions: false,
        ..parts
    };
    qlegend.push_str(&legend(input.calls, input.kinds, faults_only));
    figure(body, "Latency quantiles", &quantiles, &qlegend);
    let no_functions = LegendParts {
        functions: false,
        ..parts
    };
    figure(
        body,
        "Throughput",
        &throughput,
        &legend(input.calls, input.kinds, no_functions),
    );
}

/// The counterexample and dependency cycle sections of the checkers' results, drawn from
/// the ops of `history` (all of a run's, or a window of them); the counterexamples found.
pub(crate) fn op_pictures(
    body: &mut String,
    history: &History,
    calls: &Calls,
    by_index: &HashMap<u64, usize>,
    results: &[CheckResult],
) -> Vec<(String, Counterexample)> {
    let (cxs, cx_problems) = counterexample::find(results);
    if !cxs.is_empty() || !cx_problems.is_empty() {
        body.push_str("<h2 id=\"counterexample\">Why it is not linearizable</h2>");
        for p in &cx_problems {
            let _ = write!(body, "<div class=\"problem\">{}</div>", esc(p));
        }
        for (checker, cx) in &cxs {
            body.push_str(&counterexample::section(
                history, calls, by_index, checker, cx,
            ));
        }
    }

    let cycles = cycles::find(results);
    if !cycles.is_empty() {
        body.push_str("<h2 id=\"cycles\">Dependency cycles</h2>");
        for (checker, cycle) in &cycles {
            body.push_str(&cycles::section(history, calls, by_index, checker, cycle));
        }
    }
    cxs
}

/// The timeline of `history`'s calls (after its heading), the counterexamples' ops marked.
pub(crate) fn timeline(
    body: &mut String,
    history: &History,
    calls: &Calls,
    by_index: &HashMap<u64, usize>,
    (intervals, kinds): (&[FaultInterval], &[String]),
    cxs: &[(String, Counterexample)],
) {
    let mut anomalies: Vec<usize> = cxs
        .iter()
        .flat_map(|(_, cx)| cx.ops())
        .filter_map(|i| by_index.get(&i).copied())
        .collect();
    anomalies.sort_unstable();
    anomalies.dedup();
    let culprit = cxs
        .first()
        .and_then(|(_, cx)| by_index.get(&cx.op).copied());
    let timeline_parts = LegendParts {
        outcomes: true,
        pending: true,
        functions: false,
        recovery: false,
    };
    body.push_str(&legend(calls, kinds, timeline_parts));
    body.push_str(&timeline::timeline_html(
        history, calls, intervals, kinds, &anomalies, culprit,
    ));
}

/// What a legend names besides the fault kinds.
#[derive(Clone, Copy)]
pub(crate) struct LegendParts {
    pub outcomes: bool,
    pub pending: bool,
    pub functions: bool,
    pub recovery: bool,
}

pub(crate) fn legend(calls: &Calls, kinds: &[String], parts: LegendParts) -> String {
    let mut s = String::from("<div class=\"legend\">");
    let outcomes: &[Outcome] = match (parts.outcomes, parts.pending) {
        (false, _) => &[],
        (true, false) => &[Outcome::Ok, Outcome::Fail, Outcome::Info],
        (true, true) => &Outcome::ALL,
    };
    for o in outcomes {
        let _ = write!(
            s,
            "<span><span class=\"swatch\" style=\"background:{}\"></span>{}</span>",
            o.css(),
            o.as_str()
        );
    }
    if parts.functions {
        for (i, f) in calls.functions.iter().enumerate() {
            let _ = write!(s, "<span>{}{}</span>", shape_icon(i, "#5d6673"), esc(f));
        }
    }
    let recovery = parts.recovery;
    for (i, k) in kinds.iter().enumerate() {
        let _ = write!(
            s,
            "<span><span class=\"swatch\" style=\"background:{};opacity:.45\"></span>fault: {}</span>",
            kind_css(i),
            esc(k)
        );
    }
    if recovery {
        s.push_str(
            "<span><span class=\"swatch\" style=\"background:#30363d;height:2px\"></span>\
             above the plot: heal → first ok on every key spanning it</span>",
        );
    }
    s.push_str("</div>");
    s
}
