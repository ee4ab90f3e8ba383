//! The run page, `index.html`: verdict, test spec, checker results, counterexamples, the
//! classic workloads' pictures, op counts, the three plots, availability and recovery per fault, the timeline, and links to
//! the raw files.
//!
//! A run folder may be incomplete or damaged (a crash before `results.json`, a truncated
//! history): every such problem is stated on the page and the rest still drawn. Only a
//! missing folder or a failed write is an error. This module must never judge a history;
//! verdicts come from the results it is given.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use faultline_checkers::checker::{CheckResult, Validity};
use faultline_checkers::history::History;
use serde_json::Value;

use crate::classic;
use crate::fault_table;
use crate::faults::{self, FaultInterval};
use crate::html::{cut_to, esc, href, page, table, verdict_class, verdict_words};
use crate::long_run;
use crate::network::{self, MessagesWindow};
use crate::plots::{self, PlotInput};
use crate::recovery::{self, Recovery};
use crate::sections;
use crate::stats::{self, Calls};
use crate::stream::Summary;
use crate::ReportError;

/// Everything the run page shows; absent parts are `None` with a problem saying why.
#[derive(Default)]
struct RunData<'a> {
    title: String,
    spec: Option<Value>,
    summary: Option<Value>,
    history: Option<&'a History>,
    results: Vec<CheckResult>,
    files: Vec<String>,
    problems: Vec<String>,
    /// `shrink.json`, when `faultline shrink` ran on this run.
    shrink: Option<Value>,
    /// The network section of a Maelstrom run.
    network: Option<String>,
    /// A history too long to hold, read as a stream, and the window of ops its pictures
    /// draw, in words (`long_run`).
    long: Option<(Summary, String)>,
}

/// Render `index.html` in a run folder and return its path.
///
/// Reads `test.json`, `history.jsonl`, `results.json` and lists the logs under `nodes/`;
/// any of them missing or unreadable is reported on the page.
pub fn render_run(run_dir: &Path) -> Result<PathBuf, ReportError> {
    render_run_with(run_dir, MessagesWindow::Auto)
}

/// [`render_run`], with the window of a Maelstrom run's message sequence diagram.
pub fn render_run_with(run_dir: &Path, window: MessagesWindow) -> Result<PathBuf, ReportError> {
    render_run_at(run_dir, window, long_run::LONG_RUN_LINES)
}

/// [`render_run_with`], reading a history of more than `long_run_lines` lines as a stream
/// (`long_run`) instead of into memory.
pub(crate) fn render_run_at(
    run_dir: &Path,
    window: MessagesWindow,
    long_run_lines: u64,
) -> Result<PathBuf, ReportError> {
    if !run_dir.is_dir() {
        return Err(ReportError::NotAFolder {
            path: run_dir.to_path_buf(),
            hint: "give a run folder such as store/<test>/<timestamp> or store/latest",
        });
    }
    let mut data = RunData::default();
    data.spec = read_json(&run_dir.join("test.json"), &mut data.problems);
    data.summary = read_json(&run_dir.join("results.json"), &mut data.problems);
    let shrink = run_dir.join("shrink.json");
    if shrink.is_file() {
        data.shrink = read_json(&shrink, &mut data.problems);
    }
    if let Some(results) = data.summary.as_ref().and_then(|s| s.get("results")) {
        match serde_json::from_value::<Vec<CheckResult>>(results.clone()) {
            Ok(r) => data.results = r,
            Err(e) => data.problems.push(format!(
                "results.json: its \"results\" list cannot be read: {e}"
            )),
        }
    }
    let history_path = run_dir.join("history.jsonl");
    let lines = long_run::count_lines(&history_path).unwrap_or(0);
    let history = if history_path.is_file() && lines > long_run_lines {
        match long_run::summarize(&history_path, &data.results, &mut data.problems) {
            Ok(long) => data.long = Some(long),
            Err(e) => data.problems.push(format!(
                "history.jsonl cannot be read, so no plots or timeline: {e}"
            )),
        }
        None
    } else if history_path.is_file() {
        match History::read_jsonl(&history_path) {
            Ok(h) => {
                // e.g. a last line torn by a crash of the harness: on the page and in the log.
                for warning in &h.warnings {
                    tracing::warn!("{warning}");
                    data.problems.push(warning.clone());
                }
                Some(h)
            }
            Err(e) => {
                data.problems.push(format!(
                    "history.jsonl cannot be read, so no plots or timeline: {e}"
                ));
                None
            }
        }
    } else {
        data.problems
            .push("history.jsonl is missing: the run recorded no ops".to_string());
        None
    };
    data.history = history.as_ref();
    let stamp = run_dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = data
        .spec
        .as_ref()
        .and_then(|s| s.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            run_dir
                .parent()
                .and_then(|p| p.file_name())
                .map(|s| s.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "run".to_string());
    data.title = format!("{name} — {stamp}");
    data.files = raw_files(run_dir);
    data.network = network::section(
        run_dir,
        data.summary.as_ref(),
        data.history.or(data.long.as_ref().map(|(s, _)| &s.window)),
        &data.results,
        window,
    );
    let out = run_dir.join("index.html");
    let html = render(&data)?;
    fs::write(&out, html).map_err(|e| ReportError::io(&out, e))?;
    Ok(out)
}

/// Render a report for a bare history and its results (no `test.json`) into
/// `out_dir/index.html`, creating the folder.
pub fn render_history(
    history: &History,
    results: &[CheckResult],
    title: &str,
    out_dir: &Path,
) -> Result<PathBuf, ReportError> {
    fs::create_dir_all(out_dir).map_err(|e| ReportError::io(out_dir, e))?;
    let data = RunData {
        title: title.to_string(),
        history: Some(history),
        results: results.to_vec(),
        ..RunData::default()
    };
    let out = out_dir.join("index.html");
    let html = render(&data)?;
    fs::write(&out, html).map_err(|e| ReportError::io(&out, e))?;
    Ok(out)
}

fn read_json(path: &Path, problems: &mut Vec<String>) -> Option<Value> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            problems.push(format!(
                "{name} is missing{}",
                if name == "results.json" {
                    ": the run did not finish checking (interrupted or crashed)"
                } else {
                    ""
                }
            ));
            return None;
        }
        Err(e) => {
            problems.push(format!("{name} cannot be read: {e}"));
            return None;
        }
    };
    match serde_json::from_str(&text) {
        Ok(v) => Some(v),
        Err(e) => {
            problems.push(format!("{name} is not valid JSON: {e}"));
            None
        }
    }
}

/// The raw files of a run, relative to it: the top-level files and every log under nodes/.
fn raw_files(run_dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = [
        "history.jsonl",
        "results.json",
        "test.json",
        "faultline.log",
        "net.jsonl",
    ]
    .into_iter()
    .filter(|f| run_dir.join(f).is_file())
    .map(str::to_string)
    .collect();
    let mut logs = Vec::new();
    if let Ok(nodes) = fs::read_dir(run_dir.join("nodes")) {
        for node in nodes.flatten().filter(|e| e.path().is_dir()) {
            if let Ok(entries) = fs::read_dir(node.path()) {
                for e in entries.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if e.path().is_file() && (name.ends_with(".log") || name.contains(".log.")) {
                        logs.push(format!(
                            "nodes/{}/{name}",
                            node.file_name().to_string_lossy()
                        ));
                    }
                }
            }
        }
    }
    logs.sort();
    files.extend(logs);
    files
}

fn overall(data: &RunData) -> (Validity, String) {
    if let Some(v) = data.summary.as_ref().and_then(|s| s.get("valid")) {
        if let Ok(v) = serde_json::from_value::<Validity>(v.clone()) {
            return (v, String::new());
        }
    }
    if data.results.is_empty() {
        return (
            Validity::Unknown,
            "no checker results were recorded".to_string(),
        );
    }
    let v = data
        .results
        .iter()
        .fold(Validity::Valid, |acc, r| acc.and(r.valid));
    (v, String::new())
}

fn render(data: &RunData) -> Result<String, ReportError> {
    let (verdict, why) = overall(data);
    let mut body = String::new();
    let _ = write!(body, "<h1>{}</h1>", esc(&data.title));
    let mut sub = Vec::new();
    if !why.is_empty() {
        sub.push(why);
    }
    let bad = data
        .results
        .iter()
        .filter(|r| r.valid != Validity::Valid)
        .count();
    if !data.results.is_empty() {
        sub.push(format!(
            "{} of {} checkers {}",
            if bad == 0 { data.results.len() } else { bad },
            data.results.len(),
            if bad == 0 { "passed" } else { "did not pass" }
        ));
    }
    let s = data.summary.as_ref();
    if let Some(ops) = s.and_then(|s| s.get("ops")).and_then(Value::as_u64) {
        sub.push(format!("{ops} history lines"));
    }
    if let Some(d) = s
        .and_then(|s| s.get("duration_secs"))
        .and_then(Value::as_f64)
    {
        sub.push(format!("{d:.1} s"));
    }
    if s.and_then(|s| s.get("interrupted"))
        .and_then(Value::as_bool)
        == Some(true)
    {
        sub.push("the run was interrupted: the history is partial".to_string());
    }
    if let Some(first) = s.and_then(|s| s.get("first_anomaly")) {
        let at = first.get("at_secs").and_then(Value::as_f64).unwrap_or(0.0);
        let stopped = first.get("stopped_the_run").and_then(Value::as_bool) == Some(true);
        sub.push(format!(
            "an anomaly was provable {at:.1} s into the run{}",
            if stopped {
                ", which ended it early (--stop-on-anomaly)"
            } else {
                ""
            }
        ));
    }
    let _ = write!(
        body,
        "<div class=\"verdict {}\" id=\"verdict\" data-verdict=\"{}\">{}<small>{}</small></div>",
        verdict_class(verdict),
        verdict.as_str(),
        verdict_words(verdict),
        esc(&sub.join(" · "))
    );
    for p in &data.problems {
        let _ = write!(body, "<div class=\"problem\">{}</div>", esc(p));
    }
    body.push_str(
        "<nav class=\"toc\"><a href=\"#spec\">Test</a><a href=\"#checkers\">Checkers</a>\
         <a href=\"#counts\">Ops</a><a href=\"#plots\">Plots</a><a href=\"#faults\">Faults</a>\
         <a href=\"#timeline\">Timeline</a>",
    );
    if data.network.is_some() {
        body.push_str("<a href=\"#network\">Network</a>");
    }
    body.push_str("<a href=\"#files\">Files</a></nav>");
    spec_section(&mut body, data);
    checkers_section(&mut body, &data.results);
    if let Some(shrink) = &data.shrink {
        shrink_section(&mut body, shrink);
    }
    match (data.history, &data.long) {
        (Some(history), _) => history_sections(&mut body, history, &data.results)?,
        (None, Some((summary, window))) => {
            long_run::sections(&mut body, summary, window, &data.results)?
        }
        (None, None) => body.push_str(
            "<h2 id=\"counts\">Ops</h2><p class=\"note\">No history to count, plot or draw.</p>",
        ),
    }
    if let Some(network) = &data.network {
        body.push_str(network);
    }
    if !data.files.is_empty() {
        body.push_str("<h2 id=\"files\">Raw files</h2><p class=\"links\">");
        for f in &data.files {
            let _ = write!(body, "<a href=\"{}\">{}</a> ", href(f), esc(f));
        }
        body.push_str("</p>");
    }
    Ok(page(&data.title, &body))
}

fn spec_section(body: &mut String, data: &RunData) {
    body.push_str("<h2 id=\"spec\">Test</h2>");
    let Some(spec) = &data.spec else {
        body.push_str("<p class=\"note\">No test.json: the spec of this run is not known.</p>");
        return;
    };
    let text = |k: &str| -> Option<String> {
        match spec.get(k)? {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            Value::Array(a) if a.is_empty() => Some("none".to_string()),
            Value::Array(a) => Some(
                a.iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            other => Some(other.to_string()),
        }
    };
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row = |label: &str, value: Option<String>| {
        if let Some(v) = value {
            rows.push(vec![esc(label), esc(&v)]);
        }
    };
    row("system", text("system"));
    row("target", text("target"));
    row("nodes", text("node_count"));
    row("workload", text("workload"));
    row("faults", text("nemeses"));
    row("fault interval", text("nemesis_interval").map(|s| s + " s"));
    row("time limit", text("time_limit").map(|s| s + " s"));
    row("concurrency", text("concurrency"));
    row("rate", text("rate").map(|s| s + " ops/s"));
    row("keys", text("keys"));
    row("workers per key", text("threads_per_key"));
    row("ops per key", text("ops_per_key"));
    let summary = |field: &str| data.summary.as_ref().and_then(|s| s.get(field));
    row(
        "seed",
        summary("seed")
            .map(|v| v.to_string())
            .or_else(|| text("seed")),
    );
    row("bug", text("bug"));
    row(
        "duration",
        summary("duration_secs")
            .and_then(Value::as_f64)
            .map(|d| format!("{d:.2} s")),
    );
    if let Some(healed) = summary("healed") {
        if healed.as_array().is_some_and(|a| !a.is_empty()) {
            row("healed at the end", Some(healed.to_string()));
        }
    }
    body.push_str(&table("spec", &[], &rows));
    if let Some(rerun) = text("rerun") {
        let _ = write!(
            body,
            "<h3>Rerun this test</h3><pre id=\"rerun\">{}</pre>",
            esc(&rerun)
        );
    }
}

/// What `faultline shrink` found: the smallest reproducing run, the command that replays it,
/// and every rerun it made, each linked to its own report.
fn shrink_section(body: &mut String, shrink: &Value) {
    let result = &shrink["result"];
    let faults = result["faults"].as_array().map_or(0, Vec::len);
    let _ = write!(
        body,
        "<h2 id=\"shrink\">Shrinking</h2><p>The smallest run that still showed the anomaly \
         (in {} of {} reruns): <b>{faults} faults, {:.1} s, {} workers</b>. Replay it with \
         <code>{}</code>.</p>",
        shrink["min_repro"],
        shrink["tries"],
        result["time_limit"].as_f64().unwrap_or(0.0),
        result["concurrency"],
        esc(shrink["command"].as_str().unwrap_or_default())
    );
    let rows: Vec<Vec<String>> = shrink["attempts"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, a)| {
            let run = a["run"].as_str().map_or("-".to_string(), |run| {
                format!(
                    "<a href=\"file://{}\">{}</a>",
                    href(&format!("{run}/index.html")),
                    esc(run)
                )
            });
            vec![
                (i + 1).to_string(),
                a["faults"].to_string(),
                format!("{:.1} s", a["time_limit"].as_f64().unwrap_or(0.0)),
                a["concurrency"].to_string(),
                if a["reproduced"] == Value::Bool(true) {
                    "invalid: reproduced".to_string()
                } else {
                    format!("not reproduced (exit {})", a["exit"])
                },
                run,
            ]
        })
        .collect();
    body.push_str(&table(
        "shrink",
        &[
            "attempt",
            "faults",
            "time limit",
            "workers",
            "outcome",
            "run",
        ],
        &rows,
    ));
}

fn checkers_section(body: &mut String, results: &[CheckResult]) {
    body.push_str("<h2 id=\"checkers\">Checkers</h2>");
    if results.is_empty() {
        body.push_str("<p class=\"note\">No checker results.</p>");
        return;
    }
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            let mut reasons = String::new();
            if !r.reasons.is_empty() {
                reasons.push_str("<ul class=\"reasons\">");
                for reason in &r.reasons {
                    let _ = write!(reasons, "<li>{}</li>", reason_html(reason));
                }
                reasons.push_str("</ul>");
            }
            if !r.details.is_null() {
                let mut text = serde_json::to_string_pretty(&r.details).unwrap_or_default();
                cut_to(&mut text, 20_000, "\n… (cut; see results.json)");
                let _ = write!(
                    reasons,
                    "<details><summary>details</summary><pre>{}</pre></details>",
                    esc(&text)
                );
            }
            vec![
                format!("<b>{}</b>", esc(&r.checker)),
                format!(
                    "<span class=\"badge {}\">{}</span>",
                    verdict_class(r.valid),
                    r.valid
                ),
                reasons,
            ]
        })
        .collect();
    body.push_str(&table("checkers", &["checker", "verdict", "why"], &rows));
}

/// Past this many characters a reason shows only its first sentence; the rest is folded.
const LONG_REASON: usize = 200;

/// A reason as HTML: whole when short; else its first sentence (up to the first `. ` or
/// `; `), with the rest under a `<details>` toggle named after the rest's parts (`orders
/// tried, concurrent with it`), one paragraph per `; ` part and one line per `|` choice.
fn reason_html(reason: &str) -> String {
    if reason.chars().count() <= LONG_REASON {
        return esc(reason);
    }
    let cut = [". ", "; "]
        .iter()
        .filter_map(|sep| reason.find(sep).map(|at| (at, *sep)))
        .min();
    let Some((at, sep)) = cut else {
        return esc(reason);
    };
    let head = if sep == ". " {
        &reason[..=at]
    } else {
        &reason[..at]
    };
    let rest = reason[at + sep.len()..].trim();
    let parts: Vec<&str> = rest.split("; ").filter(|p| !p.trim().is_empty()).collect();
    let names: Vec<&str> = parts
        .iter()
        .filter_map(|p| p.split_once(':').map(|(name, _)| name.trim()))
        .filter(|name| !name.is_empty() && name.len() <= 40)
        .collect();
    let summary = if names.is_empty() {
        "more".to_string()
    } else {
        names.join(", ")
    };
    let mut out = format!(
        "{}<details class=\"reason-rest\"><summary>{}</summary>",
        esc(head),
        esc(&summary)
    );
    for part in parts {
        out.push_str("<p>");
        for (i, choice) in part.split(" | ").enumerate() {
            if i > 0 {
                out.push_str("<br>");
            }
            out.push_str(&esc(choice.trim()));
        }
        out.push_str("</p>");
    }
    out.push_str("</details>");
    out
}

fn history_sections(
    body: &mut String,
    history: &History,
    results: &[CheckResult],
) -> Result<(), ReportError> {
    let calls = Calls::from_history(history);
    let counts = stats::counts(history, &calls);
    let intervals = faults::fault_intervals(history);
    let kinds = faults::kinds(&intervals);
    let recoveries = recovery::recovery(history, &calls, &intervals);
    let by_index = calls.index_of_op(history);

    let cxs = sections::op_pictures(body, history, &calls, &by_index, results);

    let input = PlotInput {
        calls: &calls,
        intervals: &intervals,
        kinds: &kinds,
        recoveries: &recoveries,
    };
    if let Some(html) = classic::section(results, &input)? {
        body.push_str(&html);
    }

    sections::counts(body, &calls.functions, &counts, calls.stray_completions);

    body.push_str("<h2 id=\"plots\">Plots</h2>");
    if calls.calls.is_empty() || calls.has_times() {
        plots_section(body, &calls, &intervals, &kinds, &recoveries)?;
    } else {
        body.push_str(
            "<p class=\"note\" id=\"no-times\">This history carries no timestamps (every op \
             has the same time), so latency and throughput cannot be plotted; the timeline and \
             the counterexample use event order instead.</p>",
        );
    }

    body.push_str(&fault_table::section(
        &calls,
        &intervals,
        &kinds,
        &recoveries,
    ));

    body.push_str("<h2 id=\"timeline\">Timeline</h2>");
    sections::timeline(body, history, &calls, &by_index, (&intervals, &kinds), &cxs);
    Ok(())
}

/// The latency, quantile and throughput plots, for a history with times.
fn plots_section(
    body: &mut String,
    calls: &Calls,
    intervals: &[FaultInterval],
    kinds: &[String],
    recoveries: &[Option<Recovery>],
) -> Result<(), ReportError> {
    let input = PlotInput {
        calls,
        intervals,
        kinds,
        recoveries,
    };
    let latency = plots::latency_plot(&input)?;
    let quantiles = plots::quantile_plot(&input)?;
    let throughput = plots::throughput_plot(&input)?;
    sections::plots(body, &input, [latency, quantiles, throughput]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_reason_keeps_its_first_sentence_and_folds_the_rest() {
        let long = format!(
            "op #84 (process 11, read -> 2) cannot be linearized: no order lets it take effect; \
             orders tried: from 1, #71 -> 1 | from 1, #83 -> 0{}; concurrent with it: #53, #55",
            ", #80 -> 4".repeat(20)
        );
        let html = reason_html(&long);
        assert!(
            html.starts_with(
                "op #84 (process 11, read -&gt; 2) cannot be linearized: no order lets it take \
                 effect<details class=\"reason-rest\"><summary>orders tried, concurrent with \
                 it</summary><p>orders tried: from 1, #71 -&gt; 1<br>from 1, #83 -&gt; 0"
            ),
            "{html}"
        );
        assert!(html.ends_with("<p>concurrent with it: #53, #55</p></details>"));
        // Short reasons, and long ones with no sentence to split at, stay whole.
        assert_eq!(reason_html("budget ran out; 10 s"), "budget ran out; 10 s");
        let unbroken = "x".repeat(300);
        assert_eq!(reason_html(&unbroken), unbroken);
    }
}
