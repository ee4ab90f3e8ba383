//! The pictures of the classic workloads' checks, drawn from each checker's
//! `CheckResult.details` (shapes documented in `faultline_checkers::classic`), by checker
//! name:
//! - `set-full`: every element's visibility over time, one row per element in order of its
//!   add: a line from the add to when it was known, then orange while stale, a red line and
//!   cross to the read that found it lost, a green dot once visible for good;
//! - `bank`: the total of every read over time, bad reads in red, the expected total as a
//!   line;
//! - `counter`: every read's value against its bounds (a grey bar from lower to upper);
//! - `total-queue`: per key, bars of attempted, acknowledged, dequeued, recovered, lost,
//!   duplicated and unexpected elements;
//! - `unique-ids`: a table of the duplicated ids and their counts.
//!
//! Time plots share the run's fault shading ([`crate::plots::time_chart`]). Details are read
//! leniently: a missing field draws nothing rather than failing the page. This module must
//! never judge a history.

use std::fmt::Write as _;

use faultline_checkers::checker::CheckResult;
use plotters::prelude::*;
use serde_json::Value;

use crate::html::{esc, figure, table};
use crate::plots::{perr, rgb, secs, time_chart, Plot, PlotInput, TimeChart};
use crate::ReportError;

/// How many keys of one result get their own picture.
const KEYS_DRAWN: usize = 4;

const GREEN: (u8, u8, u8) = (0x2F, 0x9E, 0x6E);
const RED: (u8, u8, u8) = (0xC6, 0x2F, 0x3B);
const ORANGE: (u8, u8, u8) = (0xE0, 0x9B, 0x2D);
const BLUE: (u8, u8, u8) = (0x3A, 0x7D, 0xC9);
const GREY: (u8, u8, u8) = (0xAA, 0xB3, 0xBD);
const PURPLE: (u8, u8, u8) = (0x8A, 0x5A, 0xB8);

/// The checker names this module draws.
const DRAWN: [&str; 5] = ["set-full", "bank", "counter", "total-queue", "unique-ids"];

/// The workload section's HTML (`<h2 id="workload">` and a figure or table per result and
/// key), or `None` when no result is of a checker drawn here.
pub(crate) fn section(
    results: &[CheckResult],
    input: &PlotInput,
) -> Result<Option<String>, ReportError> {
    let mine: Vec<&CheckResult> = results
        .iter()
        .filter(|r| DRAWN.contains(&r.checker.as_str()) && !r.details.is_null())
        .collect();
    if mine.is_empty() {
        return Ok(None);
    }
    let mut body = String::from("<h2 id=\"workload\">Workload checks</h2>");
    for r in mine {
        let d = &r.details;
        match r.checker.as_str() {
            "set-full" => {
                let about = "elements' visibility over time";
                let plot = |k: &Value| set_plot(k, input);
                figure_per_key(&mut body, d, "Set", about, plot, &set_legend())?;
            }
            "bank" => {
                let plot = bank_plot(d, input)?;
                figure(
                    &mut body,
                    "Bank: total of every read",
                    &plot,
                    &bank_legend(),
                );
            }
            "counter" => {
                let about = "reads against their bounds";
                let plot = |k: &Value| counter_plot(k, input);
                figure_per_key(&mut body, d, "Counter", about, plot, &counter_legend())?;
            }
            "total-queue" => {
                let _ = write!(
                    body,
                    "<h3>Queue: what went in and what came out</h3><figure>{}\
                     <figcaption>Elements per key, counted with multiplicity. Lost: \
                     acknowledged, never dequeued; duplicated: dequeued more often than \
                     enqueued; unexpected: dequeued, never enqueued.</figcaption></figure>",
                    queue_svg(d)
                );
            }
            _ => unique_ids_table(&mut body, d),
        }
    }
    Ok(Some(body))
}

/// The per-key entries of a result's details, at most [`KEYS_DRAWN`].
fn keys(details: &Value) -> impl Iterator<Item = &Value> {
    details["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .take(KEYS_DRAWN)
}

/// A figure per key of `details` (at most [`KEYS_DRAWN`]), titled `{what} {key}: {about}`.
fn figure_per_key(
    body: &mut String,
    details: &Value,
    what: &str,
    about: &str,
    plot: impl Fn(&Value) -> Result<Plot, ReportError>,
    legend: &str,
) -> Result<(), ReportError> {
    for k in keys(details) {
        let plot = plot(k)?;
        let title = format!("{what} {}: {about}", key_label(k));
        figure(body, &title, &plot, legend);
    }
    Ok(())
}

fn key_label(k: &Value) -> String {
    match &k["key"] {
        Value::String(s) => format!("\u{201c}{s}\u{201d}"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn ns(v: &Value) -> Option<f64> {
    v.as_u64().map(secs)
}

fn swatches(items: &[((u8, u8, u8), &str)]) -> String {
    let mut s = String::from("<div class=\"legend\">");
    for ((r, g, b), label) in items {
        let _ = write!(
            s,
            "<span><span class=\"swatch\" style=\"background:#{r:02x}{g:02x}{b:02x}\"></span>{}</span>",
            esc(label)
        );
    }
    s.push_str("</div>");
    s
}

fn set_legend() -> String {
    swatches(&[
        (GREY, "add until known (ack or first read)"),
        (GREEN, "visible for good"),
        (ORANGE, "stale: missed by a read begun after it was known"),
        (RED, "lost: last read that missed it"),
    ])
}

fn bank_legend() -> String {
    swatches(&[
        (BLUE, "read with the right total"),
        (RED, "bad read"),
        (GREY, "expected total"),
    ])
}

fn counter_legend() -> String {
    swatches(&[
        (GREY, "bounds: certainly happened … may have happened"),
        (GREEN, "read in bounds"),
        (RED, "read out of bounds"),
    ])
}

/// One set key: a row per element.
fn set_plot(k: &Value, input: &PlotInput) -> Result<Plot, ReportError> {
    const NAME: &str = "set-visibility";
    let elements: Vec<&Value> = k["elements"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["add"].is_u64())
        .collect();
    let n = elements.len().max(1) as f64;
    let t1 = input.t1();
    let row = |i: usize| i as f64 + 0.5;
    let svg = time_chart(
        NAME,
        input,
        (0.0, n),
        "element, in order of its add",
        |chart: &mut TimeChart<'_>| {
            let line = |pts: Vec<(f64, f64)>, c| PathElement::new(pts, rgb(c).stroke_width(2));
            let mut grey = Vec::new();
            let mut stale = Vec::new();
            let mut lost = Vec::new();
            let mut dots = Vec::new();
            let mut crosses = Vec::new();
            for (i, e) in elements.iter().enumerate() {
                let y = row(i);
                let add = ns(&e["add"]).unwrap_or(0.0);
                let known = ns(&e["known"]);
                grey.push(line(
                    vec![(add, y), (known.unwrap_or(add).max(add), y)],
                    GREY,
                ));
                let absent = ns(&e["last_absent"]);
                match (e["outcome"].as_str(), known, absent) {
                    (Some("stale"), Some(k), Some(a)) => {
                        stale.push(line(vec![(k, y), (a, y)], ORANGE));
                        dots.push(Circle::new((a.min(t1), y), 2, rgb(GREEN).filled()));
                    }
                    (Some("lost"), Some(k), Some(a)) => {
                        lost.push(line(vec![(k, y), (a, y)], RED));
                        crosses.push(Cross::new((a, y), 4, rgb(RED).stroke_width(2)));
                    }
                    (Some("stable"), Some(k), _) => {
                        dots.push(Circle::new((k, y), 2, rgb(GREEN).filled()));
                    }
                    _ => dots.push(Circle::new((add, y), 2, rgb(GREY).filled())),
                }
            }
            for series in [grey, stale, lost] {
                chart.draw_series(series).map_err(perr(NAME))?;
            }
            chart.draw_series(dots).map_err(perr(NAME))?;
            chart.draw_series(crosses).map_err(perr(NAME))?;
            Ok(())
        },
    )?;
    let count = |f: &str| k[f].as_u64().unwrap_or(0);
    let left_out = count("elements_left_out");
    Ok(Plot {
        svg,
        note: format!(
            "{} elements added: {} stable ({} of them stale for a while), {} lost, {} never read, \
             {} unexpected.{}",
            count("attempt_count"),
            count("stable_count"),
            count("stale_count"),
            count("lost_count"),
            count("never_read_count"),
            count("unexpected_count"),
            if left_out > 0 {
                format!(" {left_out} plainly stable elements are not drawn.")
            } else {
                String::new()
            }
        ),
    })
}

/// The bank's totals over time against the expected total.
fn bank_plot(d: &Value, input: &PlotInput) -> Result<Plot, ReportError> {
    const NAME: &str = "bank-totals";
    let expected = d["total"].as_f64().unwrap_or(0.0);
    let reads: Vec<(f64, f64, bool)> = d["totals"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| Some((ns(&r["time"])?, r["total"].as_f64()?, !r["error"].is_null())))
        .collect();
    let (lo, hi) = reads.iter().fold((expected, expected), |(lo, hi), r| {
        (lo.min(r.1), hi.max(r.1))
    });
    let pad = ((hi - lo) * 0.1).max(expected.abs() * 0.05).max(1.0);
    let t1 = input.t1();
    let svg = time_chart(
        NAME,
        input,
        (lo - pad, hi + pad),
        "total of all balances",
        |chart: &mut TimeChart<'_>| {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(0.0, expected), (t1, expected)],
                    rgb(GREY).stroke_width(2),
                )))
                .map_err(perr(NAME))?;
            chart
                .draw_series(
                    reads
                        .iter()
                        .filter(|r| !r.2)
                        .map(|r| Circle::new((r.0, r.1), 2, rgb(BLUE).filled())),
                )
                .map_err(perr(NAME))?;
            chart
                .draw_series(
                    reads
                        .iter()
                        .filter(|r| r.2)
                        .map(|r| Cross::new((r.0, r.1), 4, rgb(RED).stroke_width(2))),
                )
                .map_err(perr(NAME))?;
            Ok(())
        },
    )?;
    let bad = d["error_count"].as_u64().unwrap_or(0);
    let first = match d["first_error"]["index"].as_u64() {
        Some(i) => format!(" The first bad read is op #{i}."),
        None => String::new(),
    };
    Ok(Plot {
        svg,
        note: format!(
            "{} ok reads by invocation time, {bad} of them wrong; the expected total is {expected}.{first}",
            d["read_count"].as_u64().unwrap_or(0)
        ),
    })
}

/// One counter key: reads against their bounds.
fn counter_plot(k: &Value, input: &PlotInput) -> Result<Plot, ReportError> {
    const NAME: &str = "counter-bounds";
    let reads: Vec<(f64, f64, f64, f64)> = k["reads"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            Some((
                ns(&r["time"])?,
                r["lower"].as_f64()?,
                r["value"].as_f64()?,
                r["upper"].as_f64()?,
            ))
        })
        .collect();
    let lo = reads.iter().map(|r| r.1.min(r.2)).fold(0.0, f64::min);
    let hi = reads.iter().map(|r| r.3.max(r.2)).fold(1.0, f64::max);
    let pad = (hi - lo) * 0.05 + 0.5;
    let svg = time_chart(
        NAME,
        input,
        (lo - pad, hi + pad),
        "counter value",
        |chart: &mut TimeChart<'_>| {
            chart
                .draw_series(reads.iter().map(|r| {
                    PathElement::new(vec![(r.0, r.1), (r.0, r.3)], rgb(GREY).stroke_width(3))
                }))
                .map_err(perr(NAME))?;
            let inside = |r: &&(f64, f64, f64, f64)| r.1 <= r.2 && r.2 <= r.3;
            chart
                .draw_series(
                    reads
                        .iter()
                        .filter(inside)
                        .map(|r| Circle::new((r.0, r.2), 2, rgb(GREEN).filled())),
                )
                .map_err(perr(NAME))?;
            chart
                .draw_series(
                    reads
                        .iter()
                        .filter(|r| !inside(r))
                        .map(|r| Cross::new((r.0, r.2), 4, rgb(RED).stroke_width(2))),
                )
                .map_err(perr(NAME))?;
            Ok(())
        },
    )?;
    Ok(Plot {
        svg,
        note: format!(
            "{} ok reads by invocation time, {} out of bounds.{}",
            k["read_count"].as_u64().unwrap_or(0),
            k["error_count"].as_u64().unwrap_or(0),
            match k["reads_left_out"].as_u64() {
                Some(n) if n > 0 => format!(" {n} reads in bounds are not drawn."),
                _ => String::new(),
            }
        ),
    })
}

/// The queue's counts per key, as horizontal bars.
fn queue_svg(d: &Value) -> String {
    const BARS: [(&str, &str, (u8, u8, u8)); 7] = [
        ("attempt_count", "attempted", GREY),
        ("acknowledged_count", "acknowledged", BLUE),
        ("ok_count", "dequeued", GREEN),
        ("recovered_count", "recovered", GREEN),
        ("lost_count", "lost", RED),
        ("duplicated_count", "duplicated", ORANGE),
        ("unexpected_count", "unexpected", PURPLE),
    ];
    let keys: Vec<&Value> = keys(d).collect();
    let max = keys
        .iter()
        .flat_map(|k| {
            BARS.iter()
                .map(move |(f, _, _)| k[*f].as_u64().unwrap_or(0))
        })
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let (label_w, bar_w, row_h) = (120.0, 640.0, 18.0);
    let group_h = row_h * BARS.len() as f64 + 28.0;
    let height = group_h * keys.len().max(1) as f64 + 8.0;
    let mut svg = format!(
        "<svg class=\"queue-counts\" data-plot=\"queue-counts\" xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{w}\" height=\"{height}\" viewBox=\"0 0 {w} {height}\" role=\"img\" \
         font-family=\"sans-serif\" font-size=\"12\">",
        w = label_w + bar_w + 80.0
    );
    for (g, k) in keys.iter().enumerate() {
        let top = g as f64 * group_h + 4.0;
        let _ = write!(
            svg,
            "<text x=\"2\" y=\"{:.1}\" font-weight=\"600\">key {}</text>",
            top + 14.0,
            esc(&key_label(k))
        );
        for (i, (field, label, (r, gr, b))) in BARS.iter().enumerate() {
            let n = k[*field].as_u64().unwrap_or(0);
            let y = top + 22.0 + i as f64 * row_h;
            let w = bar_w * n as f64 / max;
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{label}</text>\
                 <rect class=\"bar bar-{label}\" data-count=\"{n}\" x=\"{label_w}\" y=\"{:.1}\" \
                 width=\"{w:.1}\" height=\"{:.1}\" fill=\"#{r:02x}{gr:02x}{b:02x}\"><title>{label}: {n}</title></rect>\
                 <text x=\"{:.1}\" y=\"{:.1}\">{n}</text>",
                label_w - 6.0,
                y + 12.0,
                y + 2.0,
                row_h - 4.0,
                label_w + w + 5.0,
                y + 12.0,
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// The duplicated ids, most duplicated first.
fn unique_ids_table(body: &mut String, d: &Value) {
    let _ = write!(
        body,
        "<h3>Unique ids</h3><p>{} generate ops attempted, {} acknowledged, {} ids returned more \
         than once.</p>",
        d["attempted_count"].as_u64().unwrap_or(0),
        d["acknowledged_count"].as_u64().unwrap_or(0),
        d["duplicated_count"].as_u64().unwrap_or(0)
    );
    let rows: Vec<Vec<String>> = d["duplicated"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            vec![
                format!("<code>{}</code>", esc(&e["id"].to_string())),
                e["count"].to_string(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        body.push_str(&table("duplicated-ids", &["id", "times returned"], &rows));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults;
    use crate::recovery::{self, Recovery};
    use crate::stats::Calls;
    use faultline_checkers::checker::Validity;
    use faultline_checkers::classic;
    use faultline_checkers::history::{History, Op, OpType, Process};
    use serde_json::json;

    /// A history of calls on key `k`, each `(process, f, invoked value, ok value)` invoked
    /// and completed ok right after, one ms apart.
    fn history(calls: Vec<(u64, &str, Value, Value)>) -> History {
        let mut h = History::from_ops(
            calls
                .into_iter()
                .flat_map(|(p, f, invoked, ok)| {
                    [(OpType::Invoke, invoked), (OpType::Ok, ok)]
                        .map(|(t, v)| Op::new(Process::Client(p), t, f, v).with_key(json!("k")))
                })
                .collect(),
        );
        for (i, op) in h.ops.iter_mut().enumerate() {
            op.time = i as u64 * 1_000_000;
        }
        h
    }

    fn render(model: &str, initial: Option<Value>, h: &History) -> (CheckResult, String) {
        let checker = classic::checker(model, initial.as_ref()).unwrap().unwrap();
        let result = checker.check(h);
        let calls = Calls::from_history(h);
        let intervals = faults::fault_intervals(h);
        let kinds = faults::kinds(&intervals);
        let recoveries: Vec<Option<Recovery>> = recovery::recovery(h, &calls, &intervals);
        let input = PlotInput {
            calls: &calls,
            intervals: &intervals,
            kinds: &kinds,
            recoveries: &recoveries,
        };
        let html = section(std::slice::from_ref(&result), &input)
            .unwrap()
            .expect("a section");
        (result, html)
    }

    #[test]
    fn set_elements_are_drawn_with_their_outcomes() {
        let h = history(vec![
            (0, "add", json!(1), json!(1)),
            (0, "add", json!(2), json!(2)),
            (1, "read", json!(null), json!([1, 2])),
            (1, "read", json!(null), json!([2])),
        ]);
        let (r, html) = render("set-full", None, &h);
        assert_eq!(r.valid, Validity::Invalid);
        assert!(html.contains("<h2 id=\"workload\">"));
        assert!(html.contains("data-plot=\"set-visibility\""), "{html}");
        assert!(html.contains("Set \u{201c}k\u{201d}: elements"));
        assert!(html.contains("2 elements added: 1 stable (0 of them stale for a while), 1 lost"));
        // The lost element's red line.
        assert!(
            html.contains("#C62F3B") || html.contains("#c62f3b"),
            "no red in the set plot"
        );
    }

    #[test]
    fn each_workload_shows_what_went_wrong() {
        type CallList = Vec<(u64, &'static str, Value, Value)>;
        let bank = Some(json!({"accounts": [0, 1], "total": 10}));
        let cases: [(&str, Option<Value>, CallList, &[&str]); 4] = [
            (
                "bank",
                bank,
                vec![
                    (0, "read", json!(null), json!({"0": 5, "1": 5})),
                    (0, "read", json!(null), json!({"0": 5, "1": 4})),
                ],
                &[
                    "data-plot=\"bank-totals\"",
                    "2 ok reads by invocation time, 1 of them wrong; the expected total is 10. The first bad read is op #3.",
                    "<svg",
                ],
            ),
            (
                "counter",
                None,
                vec![
                    (0, "add", json!(3), json!(3)),
                    (1, "read", json!(null), json!(3)),
                    (1, "read", json!(null), json!(9)),
                ],
                &[
                    "data-plot=\"counter-bounds\"",
                    "2 ok reads by invocation time, 1 out of bounds.",
                ],
            ),
            (
                "total-queue",
                None,
                vec![
                    (0, "enqueue", json!(1), json!(1)),
                    (0, "enqueue", json!(2), json!(2)),
                    (1, "dequeue", json!(null), json!(2)),
                    (1, "drain", json!(null), json!([2])),
                ],
                &[
                    "class=\"queue-counts\"",
                    "class=\"bar bar-lost\" data-count=\"1\"",
                    "class=\"bar bar-duplicated\" data-count=\"1\"",
                ],
            ),
            (
                "unique-ids",
                None,
                vec![
                    (0, "generate", json!(null), json!(4)),
                    (1, "generate", json!(null), json!(4)),
                ],
                &[
                    "<table class=\"duplicated-ids\">",
                    "<td><code>4</code></td><td>2</td>",
                ],
            ),
        ];
        for (model, initial, calls, shown) in cases {
            let (r, html) = render(model, initial, &history(calls));
            assert_eq!(r.valid, Validity::Invalid, "{model}");
            for s in shown {
                assert!(html.contains(s), "{model}: no {s} in {html}");
            }
        }
    }

    #[test]
    fn other_checkers_get_no_section() {
        let r = CheckResult::new("linearizable", Validity::Valid);
        let h = History::default();
        let calls = Calls::from_history(&h);
        let input = PlotInput {
            calls: &calls,
            intervals: &[],
            kinds: &[],
            recoveries: &[],
        };
        assert!(section(&[r], &input).unwrap().is_none());
    }
}
