//! The history sections of the run page for a run too long to hold in memory: past
//! [`LONG_RUN_LINES`] history lines, `page` asks this module instead of reading the history.
//! The file is read in two streaming passes (`stream`); the page says what it shows and how:
//! the counts, the faults table (availability and recovery) and the throughput are exact;
//! the latency plot is a heat map; the quantile plot and the per-function latency table come
//! from fixed logarithmic histograms (within `histogram`'s stated error); the pictures of
//! single ops (counterexample, cycles, timeline) draw one window of [`WINDOW_LINES`] lines,
//! around the ops the checkers named, else the first fault, else the start. So the page's
//! size and the memory used to draw it stay bounded however long the run. This module must
//! never judge a history or draw a plot itself.

use std::fmt::Write as _;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use faultline_checkers::checker::CheckResult;

use crate::classic;
use crate::counterexample;
use crate::cycles;
use crate::fault_table;
use crate::faults::{self, Availability};
use crate::histogram::RELATIVE_ERROR;
use crate::html::{esc, table};
use crate::plots::{self, PlotInput};
use crate::recovery::Figure;
use crate::sections;
use crate::stats::{human_ns, quantile, Calls};
use crate::stream::{self, Scan, Summary};
use crate::ReportError;

/// Past this many history lines (about 35 MB of `history.jsonl`), the page is drawn from
/// two streaming passes over the file instead of the history in memory.
pub(crate) const LONG_RUN_LINES: u64 = 300_000;

/// Lines of the history the pictures of single ops are drawn from: about 2,000 calls, all
/// of which the timeline draws.
pub(crate) const WINDOW_LINES: u64 = 4_000;

/// Past this many faults the plots shade none of them.
const MAX_SHADED: usize = 150;

/// Past this many faults the faults table lists the first ones and a summary per kind.
const MAX_FAULT_ROWS: usize = 100;

/// Shades of the latency heat map (see `plots::heat_map_plot`).
const HEAT_SHADES: u32 = 8;

/// How many lines `path` has (newlines, plus a last line without one).
pub(crate) fn count_lines(path: &Path) -> std::io::Result<u64> {
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let (mut lines, mut last) = (0u64, b'\n');
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        last = buf[n - 1];
    }
    Ok(lines + u64::from(last != b'\n'))
}

/// The `Op.index`es the checkers' results name: counterexamples' ops and cycles' txns.
fn named_ops(results: &[CheckResult]) -> (Vec<u64>, Option<u64>) {
    let (cxs, _) = counterexample::find(results);
    let culprit = cxs.first().map(|(_, cx)| cx.op);
    let mut ops: Vec<u64> = cxs.iter().flat_map(|(_, cx)| cx.ops()).collect();
    for (_, cycle) in cycles::find(results) {
        ops.extend(
            cycle
                .names
                .iter()
                .flat_map(|t| t.invoke.into_iter().chain([t.op])),
        );
    }
    ops.sort_unstable();
    ops.dedup();
    let culprit = culprit.or(ops.first().copied());
    (ops, culprit)
}

/// The window of ops drawn: its first and last `Op.index`, and what it is, in words.
fn window(named: &(Vec<u64>, Option<u64>), first_fault: Option<u64>) -> (u64, u64, String) {
    let around = |centre: u64| centre.saturating_sub(WINDOW_LINES / 2);
    let (ops, culprit) = named;
    let (from, what) = match (ops.first(), ops.last(), culprit) {
        (Some(&lo), Some(&hi), _) if hi - lo < WINDOW_LINES => (
            around(lo + (hi - lo) / 2),
            "around the ops the checkers named".to_string(),
        ),
        (_, _, Some(c)) => (
            around(*c),
            format!("around op #{c}, the first op the checkers named (the others are further apart than one window)"),
        ),
        _ => match first_fault {
            Some(f) => (
                f.saturating_sub(WINDOW_LINES / 4),
                format!("around the first fault (its start is op #{f})"),
            ),
            None => (0, "from the start of the run".to_string()),
        },
    };
    (from, from + WINDOW_LINES - 1, what)
}

/// Read the long history at `path` for the page; `problems` gets what the reader skipped.
pub(crate) fn summarize(
    path: &Path,
    results: &[CheckResult],
    problems: &mut Vec<String>,
) -> Result<(Summary, String), ReportError> {
    let named = named_ops(results);
    let choose = |scan: &Scan| {
        let (from, to, _) = window(&named, scan.first_fault);
        (from, to)
    };
    let summary = stream::summarize(path, Some(&choose))?;
    for warning in &summary.warnings {
        tracing::warn!("{warning}");
        problems.push(warning.clone());
    }
    let (from, to, what) = window(&named, summary.first_fault);
    let to = to.min(summary.ops.saturating_sub(1));
    Ok((summary, format!("ops #{from} to #{to}, {what}")))
}

/// The history sections of a long run's page from its summary.
pub(crate) fn sections(
    body: &mut String,
    s: &Summary,
    window: &str,
    results: &[CheckResult],
) -> Result<(), ReportError> {
    let _ = write!(
        body,
        "<p class=\"note\" id=\"long-run\">This history has {} ops, more than the {} lines a \
         page draws in full, so it was read from the file in two passes without holding it. The op \
         counts, the faults table (availability and recovery) and the throughput are exact \
         over the whole run. The latency plot is a heat map; the latency quantiles per time \
         bucket and per function come from logarithmic histograms and are within {} of the \
         exact figures (counts and maxima are exact). The counterexample, cycle and timeline \
         pictures draw one window of the history: {}.</p>",
        s.ops,
        LONG_RUN_LINES,
        RELATIVE_ERROR,
        esc(window)
    );
    let kinds = faults::kinds(&s.intervals);
    let whole = Calls {
        calls: Vec::new(),
        functions: s.functions.clone(),
        keys: Vec::new(),
        stray_completions: s.stray_completions,
        end_time: s.end_time,
    };
    // Past MAX_SHADED faults, each would be a sliver of a pixel: the plots shade none.
    let shaded = s.intervals.len() <= MAX_SHADED;
    let input = PlotInput {
        calls: &whole,
        intervals: if shaded { &s.intervals } else { &[] },
        kinds: &kinds,
        recoveries: if shaded { &s.recoveries } else { &[] },
    };
    let calls = Calls::from_history(&s.window);
    let by_index = calls.index_of_op(&s.window);
    let cxs = sections::op_pictures(body, &s.window, &calls, &by_index, results);
    if let Some(html) = classic::section(results, &input)? {
        body.push_str(&html);
    }
    sections::counts(body, &s.functions, &s.counts, s.stray_completions);
    latency_table(body, s);

    body.push_str("<h2 id=\"plots\">Plots</h2>");
    if !shaded {
        let _ = write!(
            body,
            "<p class=\"note\" id=\"unshaded\">{} faults, more than the {MAX_SHADED} the plots \
             shade one by one: none is shaded or marked (see the faults table).</p>",
            s.intervals.len()
        );
    }
    if s.calls == 0 || s.has_times {
        let width = human_ns(s.plots.width);
        let (columns, rows) = stream::HEAT_GRID;
        let latency = plots::heat_map_plot(
            &input,
            &s.plots.heat,
            Some(HEAT_SHADES),
            format!(
                "{} completed ops: a heat map of {columns}×{rows} cells per outcome \
                 (darker = more ops, in {HEAT_SHADES} shades; functions are not told apart).",
                s.latency_by_function.iter().map(|h| h.count()).sum::<u64>()
            ),
        )?;
        let quantiles = plots::quantile_plot_of(
            &input,
            s.plots.width,
            &s.plots.quantile_rows(),
            format!(
                "Completed ops bucketed by invocation time into {width} buckets; p50, p95 and \
                 p99 within {RELATIVE_ERROR} (read from a logarithmic histogram per bucket), \
                 max exact."
            ),
        )?;
        let throughput = plots::throughput_plot_of(
            &input,
            s.plots.width,
            &s.plots.throughput,
            format!("Completions per second in {width} buckets (exact counts)."),
        )?;
        sections::plots(body, &input, [latency, quantiles, throughput]);
    } else {
        body.push_str(
            "<p class=\"note\" id=\"no-times\">This history carries no timestamps (every op \
             has the same time), so latency and throughput cannot be plotted.</p>",
        );
    }

    faults_section(body, s, &kinds);

    body.push_str("<h2 id=\"timeline\">Timeline</h2>");
    let _ = write!(
        body,
        "<p class=\"note\" id=\"window\">The timeline of {}.</p>",
        esc(window)
    );
    sections::timeline(
        body,
        &s.window,
        &calls,
        &by_index,
        (&s.intervals, &kinds),
        &cxs,
    );
    Ok(())
}

/// The faults table: every fault, or past [`MAX_FAULT_ROWS`] the first ones and a summary
/// per kind (`results.json` lists them all).
fn faults_section(body: &mut String, s: &Summary, kinds: &[String]) {
    let n = s.intervals.len();
    if n <= MAX_FAULT_ROWS {
        body.push_str(&fault_table::section_of(
            &s.availability,
            &s.keys,
            &s.intervals,
            kinds,
            &s.recoveries,
        ));
        return;
    }
    let shown = MAX_FAULT_ROWS;
    let mut avail = s.availability[..shown].to_vec();
    avail.extend(s.availability.last().cloned());
    body.push_str(&fault_table::section_of(
        &avail,
        &s.keys,
        &s.intervals[..shown],
        kinds,
        &s.recoveries[..shown],
    ));
    let _ = write!(
        body,
        "<p class=\"note\" id=\"faults-cut\">The table lists the first {shown} of the run's {n} \
         faults (the last row counts the ops outside all {n}); <code>results.json</code> lists \
         every one under <code>faults</code>. All {n} by kind:</p>"
    );
    let rows: Vec<Vec<String>> = kinds
        .iter()
        .map(|kind| {
            let of_kind = || (0..n).filter(|&i| s.intervals[i].kind == *kind);
            let lasted: u64 = of_kind()
                .map(|i| s.intervals[i].end - s.intervals[i].start)
                .sum();
            let invoked: u64 = of_kind().map(|i| s.availability[i].invoked).sum();
            let ok: u64 = of_kind().map(|i| s.availability[i].ok).sum();
            let mut to_ok: Vec<u64> = of_kind()
                .filter_map(|i| s.recoveries[i].as_ref()?.every_key(Figure::FirstOk))
                .collect();
            to_ok.sort_unstable();
            let q = |v: Option<u64>| v.map_or("—".to_string(), human_ns);
            vec![
                esc(kind),
                of_kind().count().to_string(),
                human_ns(lasted),
                invoked.to_string(),
                ok.to_string(),
                Availability { invoked, ok }
                    .share()
                    .map_or("no ops".to_string(), |a| format!("{:.1}%", a * 100.0)),
                to_ok.len().to_string(),
                q(quantile(&to_ok, 0.5)),
                q(to_ok.last().copied()),
            ]
        })
        .collect();
    body.push_str(&table(
        "fault-kinds",
        &[
            "fault",
            "faults",
            "lasted in all",
            "ops invoked",
            "ok",
            "availability",
            "heals with an ok on every key",
            "heal → first ok: median",
            "max",
        ],
        &rows,
    ));
}

/// Latency quantiles of each function's completed calls, over the whole run.
fn latency_table(body: &mut String, s: &Summary) {
    let q = |v: Option<u64>| v.map_or("—".to_string(), human_ns);
    let rows: Vec<Vec<String>> = s
        .functions
        .iter()
        .zip(&s.latency_by_function)
        .map(|(f, h)| {
            vec![
                esc(f),
                h.count().to_string(),
                q(h.quantile(0.5)),
                q(h.quantile(0.95)),
                q(h.quantile(0.99)),
                q((h.count() > 0).then(|| h.max())),
            ]
        })
        .collect();
    body.push_str(&table(
        "latency",
        &["function", "completed", "p50", "p95", "p99", "max"],
        &rows,
    ));
    let _ = write!(
        body,
        "<p class=\"note\">Latency of completed client ops per function over the whole run; \
         quantiles within {RELATIVE_ERROR}, counts and maxima exact.</p>"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::MessagesWindow;
    use crate::page::render_run_at;
    use crate::stream::tests::{random_history_with, write};
    use faultline_checkers::checker::Validity;
    use faultline_checkers::history::History;

    /// The part of `html` from `from` to the next `to`.
    fn part<'a>(html: &'a str, from: &str, to: &str) -> &'a str {
        let a = html.find(from).unwrap_or_else(|| panic!("no {from}"));
        let b = html[a..]
            .find(to)
            .unwrap_or_else(|| panic!("no {to} after {from}"))
            + a;
        &html[a..b]
    }

    /// Rows (`<tr>`) of the table of class `class`.
    fn rows<'a>(html: &'a str, class: &str) -> Vec<&'a str> {
        let table = part(html, &format!("<table class=\"{class}\""), "</table>");
        table.split("<tr>").skip(2).collect()
    }

    /// The page of `h` drawn from memory and as a long run (the threshold forced to 0).
    fn pages(h: &History) -> (String, String) {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), h);
        let op = h.ops.len() as u64 / 2;
        let results = [CheckResult::new("linearizable", Validity::Invalid)
            .reason("planted")
            .details(serde_json::json!({"counterexample": {
                "op": op, "completion": op + 3, "description": "a read"}}))];
        let summary = serde_json::json!({"valid": false, "results": results});
        std::fs::write(dir.path().join("results.json"), summary.to_string()).unwrap();
        let render = |lines| {
            let page = render_run_at(dir.path(), MessagesWindow::Auto, lines).unwrap();
            std::fs::read_to_string(page).unwrap()
        };
        (render(u64::MAX), render(0))
    }

    /// A run's page drawn from the history in memory and as a long run says the same
    /// counts, faults table and throughput, and the long one says what it shows.
    #[test]
    fn a_long_run_page_says_what_the_page_in_memory_says() {
        // More completed ops than the latency plot draws one by one: a heat map in both.
        let h = random_history_with(11, 60_000, true, 600);
        let op = h.ops.len() as u64 / 2;
        let (memory, long) = pages(&h);
        assert!(!memory.contains("id=\"long-run\""));
        assert!(
            memory.contains("shown as a heat map"),
            "a heat map in memory too"
        );
        for (from, to) in [
            ("<table class=\"counts\"", "</table>"),
            ("<h2 id=\"faults\">", "<h2 id=\"timeline\">"),
            ("<svg class=\"plot\" data-plot=\"throughput\"", "</svg>"),
        ] {
            assert_eq!(part(&memory, from, to), part(&long, from, to), "{from}");
        }
        let faults = part(&long, "<h2 id=\"faults\">", "<h2 id=\"timeline\">");
        assert!(faults.contains("ms</td>"), "recovery figures: {faults}");
        assert!(long.contains("id=\"long-run\""));
        let window = format!(
            "ops #{} to #{}",
            op - WINDOW_LINES / 2 + 1,
            op + WINDOW_LINES / 2
        );
        assert!(long.contains(&window), "{window}");
        assert_eq!(long.matches("<svg class=\"plot\"").count(), 3);
        assert!(long.contains("<h2 id=\"counterexample\">"));
        assert!(long.contains("<table class=\"latency\""));
        assert!(!long.contains("id=\"unshaded\"") && !long.contains("id=\"faults-cut\""));
    }

    /// Past MAX_FAULT_ROWS faults the table lists the first ones (as the page in memory
    /// does) and sums up every fault by kind; past MAX_SHADED the plots shade none.
    #[test]
    fn a_long_run_of_many_faults_lists_the_first_and_sums_up_all() {
        let h = random_history_with(5, 60_000, true, 40);
        let (memory, long) = pages(&h);
        let (all, cut) = (rows(&memory, "faults"), rows(&long, "faults"));
        assert!(all.len() > MAX_SHADED + 1, "{} faults", all.len() - 1);
        assert_eq!(cut.len(), MAX_FAULT_ROWS + 1);
        assert_eq!(cut[..MAX_FAULT_ROWS], all[..MAX_FAULT_ROWS]);
        assert_eq!(cut.last(), all.last(), "the ops outside every fault");
        let kinds = rows(&long, "fault-kinds");
        assert_eq!(kinds.len(), 3, "kill, pause, partition");
        let faults: usize = kinds
            .iter()
            .map(|r| r.split("<td>").nth(2).unwrap().split('<').next().unwrap())
            .map(|n| n.parse::<usize>().unwrap())
            .sum();
        assert_eq!(faults, all.len() - 1);
        assert!(long.contains("id=\"unshaded\""));
        for plot in ["latency", "quantiles", "throughput"] {
            let svg = part(&long, &format!("data-plot=\"{plot}\""), "</svg>");
            assert!(!svg.contains("class=\"fault fault-"), "{plot}: no shading");
            assert!(!svg.contains("class=\"recovery\""), "{plot}: no heal marks");
        }
        assert!(part(&memory, "data-plot=\"latency\"", "</svg>").contains("class=\"fault fault-"));
    }

    #[test]
    fn the_window_is_around_what_the_checkers_named_else_the_first_fault() {
        let (from, to, what) = window(&(vec![50_000, 50_100], Some(50_100)), Some(7));
        assert_eq!((from, to), (48_050, 52_049));
        assert!(what.contains("checkers named"), "{what}");
        let (from, _, what) = window(&(vec![10, 900_000], Some(900_000)), Some(7));
        assert_eq!(from, 898_000);
        assert!(what.contains("op #900000"), "{what}");
        let (from, to, what) = window(&(vec![], None), Some(40_000));
        assert_eq!((from, to), (39_000, 42_999));
        assert!(what.contains("first fault"), "{what}");
        assert_eq!(window(&(vec![], None), None).0, 0);
    }
}
