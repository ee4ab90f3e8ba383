//! The timeline: one lane per process, each op a bar from invocation to completion,
//! coloured by outcome, with the op as hover text (`<title>`).
//!
//! A long history is elided to stay readable and small: the first and last
//! [`HEAD`]/[`TAIL`] calls are drawn, plus [`WINDOW`] calls either side of each anomaly
//! (ops a checker named), each stretch as its own SVG with its own time axis, and the page
//! says what was left out between them. Processes share a lane when their ops do not
//! overlap (a worker continues under a fresh process id after an `info`), so lanes stay
//! about as many as workers. This module must never read files.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::ops::Range;

use faultline_checkers::history::History;

use crate::faults::{kind_css, FaultInterval};
use crate::html::esc;
use crate::stats::{human_ns, round_step, CallInfo, Calls, Outcome};

/// Calls drawn from the start of the history.
pub(crate) const HEAD: usize = 2_000;
/// Calls drawn from the end of the history.
pub(crate) const TAIL: usize = 2_000;
/// Calls drawn either side of each anomaly.
pub(crate) const WINDOW: usize = 100;
/// Calls per strip of the timeline.
pub(crate) const STRIP: usize = 250;

const WIDTH: f64 = 1180.0;
const LEFT: f64 = 110.0;
const RIGHT: f64 = 14.0;
const LANE: f64 = 15.0;
const TOP: f64 = 26.0;

/// The stretches of calls to draw (indices into the calls, in order, merged).
pub(crate) fn visible_ranges(
    n: usize,
    head: usize,
    tail: usize,
    anomalies: &[usize],
    window: usize,
) -> Vec<Range<usize>> {
    let mut ranges: Vec<Range<usize>> = vec![0..head.min(n), n.saturating_sub(tail)..n];
    for &a in anomalies.iter().filter(|&&a| a < n) {
        ranges.push(a.saturating_sub(window)..(a + window + 1).min(n));
    }
    ranges.retain(|r| !r.is_empty());
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<usize>> = Vec::new();
    for r in ranges {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged
}

/// `#12 process 3 write key 1 3 → ok 3 (4.2 ms)` for hover text and labels.
pub(crate) fn describe(history: &History, c: &CallInfo) -> String {
    let inv = &history.ops[c.invoke];
    let mut s = format!("#{} process {} {}", inv.index, inv.process, inv.f);
    if let Some(key) = &inv.key {
        let _ = write!(s, " key {}", crate::stats::key_text(Some(key)));
    }
    if !inv.value.is_null() {
        let _ = write!(s, " {}", inv.value);
    }
    match c.completion.map(|i| &history.ops[i]) {
        Some(done) => {
            let _ = write!(s, " → {}", done.kind);
            if !done.value.is_null() {
                let _ = write!(s, " {}", done.value);
            }
            if let Some(e) = &done.error {
                let _ = write!(s, " ({e})");
            }
            let _ = write!(s, " in {}", human_ns(c.latency().unwrap_or(0)));
        }
        None => s.push_str(" → no completion (pending)"),
    }
    s
}

/// Pack processes into lanes: a process joins the lowest lane whose previous ops ended
/// before its first op began. Returns each call's lane and each lane's label.
pub(crate) fn lanes(calls: &[CallInfo], end: u64, pack: bool) -> (Vec<usize>, Vec<String>) {
    use std::collections::BTreeMap;
    // process -> (first start, last end)
    let mut spans: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for c in calls {
        let e = spans.entry(c.process).or_insert((c.start, 0));
        e.0 = e.0.min(c.start);
        e.1 = e.1.max(c.end.unwrap_or(end));
    }
    let mut order: Vec<(u64, (u64, u64))> = spans.into_iter().collect();
    order.sort_by_key(|&(p, (s, _))| (s, p));
    let mut lane_end: Vec<u64> = Vec::new();
    let mut lane_procs: Vec<Vec<u64>> = Vec::new();
    let mut lane_of = std::collections::HashMap::new();
    for (p, (s, e)) in order {
        let free = if pack {
            lane_end.iter().position(|&le| le < s)
        } else {
            None
        };
        let lane = match free {
            Some(l) => l,
            None => {
                lane_end.push(0);
                lane_procs.push(Vec::new());
                lane_end.len() - 1
            }
        };
        lane_end[lane] = e;
        lane_procs[lane].push(p);
        lane_of.insert(p, lane);
    }
    // Lanes in order of their lowest process, so strips of a timeline look alike.
    let mut by_first: Vec<usize> = (0..lane_procs.len()).collect();
    by_first.sort_by_key(|&l| lane_procs[l].iter().min().copied());
    let mut rank = vec![0; by_first.len()];
    for (r, &l) in by_first.iter().enumerate() {
        rank[l] = r;
    }
    for lane in lane_of.values_mut() {
        *lane = rank[*lane];
    }
    let lane_procs: Vec<Vec<u64>> = by_first.iter().map(|&l| lane_procs[l].clone()).collect();
    let labels = lane_procs
        .iter()
        .map(|ps| {
            let mut shown: Vec<String> = ps.iter().take(3).map(|p| format!("p{p}")).collect();
            if ps.len() > 3 {
                shown.push(format!("+{}", ps.len() - 3));
            }
            shown.join(" ")
        })
        .collect();
    (calls.iter().map(|c| lane_of[&c.process]).collect(), labels)
}

/// How ops are emphasised in a picture.
pub(crate) struct Emphasis<'a> {
    /// Calls (indices into `Calls::calls`) drawn with a dark outline.
    pub marked: &'a HashSet<usize>,
    /// The call drawn as the culprit (thick red outline and a highlighted label).
    pub culprit: Option<usize>,
    /// Label every bar (inside it when it fits, else beside it), on taller lanes.
    pub labels: bool,
    /// Let processes that do not overlap share a lane; otherwise one lane per process.
    pub pack: bool,
    /// Place events by their order in the history instead of their time (Porcupine's
    /// view): every invocation and completion gets its own column.
    pub event_order: bool,
    /// Draw `info` ops, which may take effect at any point after their invocation, to the
    /// right edge (only meaningful in event order).
    pub info_open: bool,
}

/// `#12 write 3` or `#14 read → 2`: a bar's label.
pub(crate) fn label(history: &History, c: &CallInfo) -> String {
    let inv = &history.ops[c.invoke];
    let mut label = format!("#{} {}", inv.index, inv.f);
    if !inv.value.is_null() {
        let _ = write!(label, " {}", inv.value);
    }
    if let Some(done) = c.completion.map(|d| &history.ops[d]) {
        if !done.value.is_null() && done.value != inv.value {
            let _ = write!(label, " → {}", done.value);
        }
    }
    label
}

/// Roughly how wide `text` is at 11 px sans-serif (bold a little wider).
fn text_width(text: &str, bold: bool) -> f64 {
    text.chars().count() as f64 * if bold { 6.9 } else { 6.3 }
}

/// The calls `window` (indices into `calls.calls`, sorted) drawn alone on process lanes,
/// in event order, each labelled and outlined, `culprit` (a position in `window`) in red:
/// the picture of the ops a checker names. `None` for an empty window.
pub(crate) fn window_svg(
    history: &History,
    calls: &Calls,
    window: &[usize],
    culprit: Option<usize>,
) -> Option<String> {
    let (&lo, &hi) = (window.first()?, window.last()?);
    let sub = Calls {
        calls: window.iter().map(|&i| calls.calls[i]).collect(),
        functions: calls.functions.clone(),
        keys: calls.keys.clone(),
        stray_completions: 0,
        end_time: calls.calls[lo..=hi]
            .iter()
            .filter_map(|c| c.end)
            .max()
            .unwrap_or(calls.end_time),
    };
    let marked: HashSet<usize> = (0..sub.calls.len()).collect();
    let emphasis = Emphasis {
        marked: &marked,
        culprit,
        labels: true,
        pack: false,
        event_order: true,
        info_open: true,
    };
    Some(lanes_svg(
        history,
        &sub,
        0..sub.calls.len(),
        &[],
        &[],
        &emphasis,
    ))
}

/// One SVG of lanes for the calls `range` of `calls`, with the fault intervals that overlap
/// it drawn in a `nemesis` lane on top (in time order only: faults have no place among
/// the events).
pub(crate) fn lanes_svg(
    history: &History,
    calls: &Calls,
    range: Range<usize>,
    intervals: &[FaultInterval],
    kinds: &[String],
    emphasis: &Emphasis,
) -> String {
    let slice = &calls.calls[range.clone()];
    let t0 = slice.iter().map(|c| c.start).min().unwrap_or(0);
    let t1 = slice
        .iter()
        .map(|c| c.end.unwrap_or(c.start))
        .max()
        .unwrap_or(t0)
        .max(t0 + 1);
    // Pending ops are drawn to the end of the picture.
    let (lane_of, labels) = lanes(slice, t1, emphasis.pack);
    let lane_h = if emphasis.labels { 24.0 } else { LANE };
    let bar_h = lane_h - 4.0;
    let span = (t1 - t0) as f64;
    let plot_w = WIDTH - LEFT - RIGHT;
    let right = LEFT + plot_w;
    // Event order: the history positions of every invocation and completion, one column
    // each; a bar covers its invocation's column through its completion's.
    let mut events: Vec<usize> = Vec::new();
    if emphasis.event_order {
        events = slice
            .iter()
            .flat_map(|c| [Some(c.invoke), c.completion])
            .flatten()
            .collect();
        events.sort_unstable();
        events.dedup();
    }
    let column = plot_w / events.len().max(1) as f64;
    let col_x = |pos: usize| LEFT + events.partition_point(|&e| e < pos) as f64 * column;
    let x = |t: u64| LEFT + (t.saturating_sub(t0)).min(t1 - t0) as f64 / span * plot_w;
    let min_w = if emphasis.labels { 16.0 } else { 3.0 };
    let faults: Vec<&FaultInterval> = if emphasis.event_order {
        Vec::new()
    } else {
        intervals
            .iter()
            .filter(|iv| iv.start < t1 && iv.end > t0)
            .collect()
    };
    let fault_lane = if faults.is_empty() { 0.0 } else { LANE };
    let height = TOP + fault_lane + labels.len() as f64 * lane_h + 8.0;
    let mut s = String::with_capacity(slice.len() * 260 + 2048);
    let _ = write!(
        s,
        "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" \
         height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" font-family=\"sans-serif\" \
         font-size=\"11\" data-t0=\"{t0}\" data-t1=\"{t1}\" data-order=\"{}\">",
        if emphasis.event_order {
            "events"
        } else {
            "time"
        }
    );
    s.push_str("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
    if emphasis.event_order {
        let _ = write!(
            s,
            "<text x=\"{LEFT}\" y=\"14\" fill=\"#5d6673\">event order (each invocation and \
             completion one step, not to time scale) →</text>"
        );
    } else {
        // Time axis: about eight ticks at round steps.
        let step = round_step(t1 - t0, 8, 1);
        let mut t = t0.div_ceil(step) * step;
        // Enough decimals to tell ticks apart.
        let decimals = (9 - (step as f64).log10().floor() as i64).clamp(0, 9) as usize;
        while t <= t1 {
            let xt = x(t);
            let _ = write!(
                s,
                "<line x1=\"{xt:.1}\" x2=\"{xt:.1}\" y1=\"{}\" y2=\"{height}\" stroke=\"#eceff2\"/>\
                 <text x=\"{xt:.1}\" y=\"14\" text-anchor=\"middle\" fill=\"#5d6673\">{:.*} s</text>",
                TOP - 6.0,
                decimals,
                t as f64 / 1e9
            );
            t += step;
        }
    }
    let mut y = TOP;
    if !faults.is_empty() {
        let _ = write!(
            s,
            "<text x=\"4\" y=\"{:.1}\" fill=\"#30363d\">nemesis</text>",
            y + 11.0
        );
        for iv in &faults {
            let k = kinds.iter().position(|k| *k == iv.kind).unwrap_or(0);
            let (a, b) = (x(iv.start.max(t0)), x(iv.end.min(t1)));
            let _ = write!(
                s,
                "<rect class=\"fault fault-{kind}\" x=\"{a:.1}\" y=\"{:.1}\" width=\"{:.1}\" \
                 height=\"{:.1}\" fill=\"{}\" opacity=\"0.55\"><title>{kind} {} from {:.3} s to \
                 {:.3} s{}</title></rect>",
                y + 2.0,
                (b - a).max(1.0),
                LANE - 4.0,
                kind_css(k),
                esc(&iv.detail),
                iv.start as f64 / 1e9,
                iv.end as f64 / 1e9,
                if iv.healed { "" } else { " (never healed)" },
                kind = esc(&iv.kind),
            );
        }
        y += LANE;
    }
    for (i, label) in labels.iter().enumerate() {
        let ly = y + i as f64 * lane_h;
        if i % 2 == 0 {
            let _ = write!(
                s,
                "<rect x=\"{LEFT}\" y=\"{ly:.1}\" width=\"{plot_w}\" height=\"{lane_h}\" fill=\"#f7f8fa\"/>"
            );
        }
        let _ = write!(
            s,
            "<text x=\"4\" y=\"{:.1}\" fill=\"#30363d\">{}</text>",
            ly + lane_h / 2.0 + 4.0,
            esc(label)
        );
    }
    // Labels go on top of every bar, so one written beside its bar is never hidden.
    let mut texts = String::new();
    for (j, c) in slice.iter().enumerate() {
        let idx = range.start + j;
        let ly = y + lane_of[j] as f64 * lane_h + 2.0;
        let open = c.outcome == Outcome::Pending
            || (emphasis.event_order && emphasis.info_open && c.outcome == Outcome::Info);
        let (a, b) = if emphasis.event_order {
            let a = col_x(c.invoke);
            let b = match c.completion {
                Some(done) if !open => col_x(done) + column,
                _ => right,
            };
            (a, b)
        } else {
            (
                x(c.start),
                if open { x(t1) } else { x(c.end.unwrap_or(t1)) },
            )
        };
        let w = (b - a).max(min_w);
        // A widened bar near the right edge grows leftwards instead.
        let a = a.min(right - w).max(LEFT);
        let culprit = emphasis.culprit == Some(idx);
        let mut extra = String::new();
        if culprit {
            extra.push_str(" stroke=\"#c62f3b\" stroke-width=\"2.5\"");
        } else if emphasis.marked.contains(&idx) {
            extra.push_str(" stroke=\"#1d232b\" stroke-width=\"1.2\"");
        }
        let pending = if open {
            " stroke-dasharray=\"3 2\" fill-opacity=\"0.45\""
        } else {
            ""
        };
        let op_index = history.ops[c.invoke].index;
        let _ = write!(
            s,
            "<rect class=\"op {}\" data-op=\"{op_index}\" x=\"{a:.1}\" y=\"{ly:.1}\" \
             width=\"{w:.1}\" height=\"{bar_h}\" rx=\"2\" fill=\"{}\"{extra}{pending}>\
             <title>{}</title></rect>",
            c.outcome.as_str(),
            c.outcome.css(),
            esc(&describe(history, c))
        );
        if emphasis.labels || culprit {
            let text = label(history, c);
            let tw = text_width(&text, culprit);
            let ty = ly + bar_h / 2.0 + 4.0;
            // Inside the bar when it fits (never for the culprit, whose label is boxed
            // beside it), else right of it, else left of it.
            let inside = !culprit && tw < w - 6.0;
            let tx = if inside {
                a + 4.0
            } else if a + w + 8.0 + tw <= right {
                a + w + 8.0
            } else {
                (a - 8.0 - tw).max(2.0)
            };
            if culprit {
                let _ = write!(
                    texts,
                    "<rect class=\"culprit-label\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" \
                     height=\"{bar_h}\" rx=\"3\" fill=\"#fde8ea\" stroke=\"#c62f3b\" \
                     pointer-events=\"none\"/>",
                    tx - 4.0,
                    ly,
                    tw + 8.0
                );
            }
            let style = if culprit {
                " fill=\"#8a1420\" font-weight=\"bold\""
            } else if inside && !open {
                " fill=\"white\""
            } else if inside {
                // Open bars are drawn faded: dark text reads better on them.
                " fill=\"#1d232b\""
            } else {
                " fill=\"#1d232b\" stroke=\"white\" stroke-width=\"3\" paint-order=\"stroke\""
            };
            let _ = write!(
                texts,
                "<text class=\"label\" data-op=\"{op_index}\" x=\"{tx:.1}\" y=\"{ty:.1}\"{style} \
                 pointer-events=\"none\">{}</text>",
                esc(&text)
            );
        }
    }
    s.push_str(&texts);
    s.push_str("</svg>");
    s
}

/// The timeline section's HTML: one SVG per visible stretch, with notes for elided ones.
pub(crate) fn timeline_html(
    history: &History,
    calls: &Calls,
    intervals: &[FaultInterval],
    kinds: &[String],
    anomalies: &[usize],
    culprit: Option<usize>,
) -> String {
    let n = calls.calls.len();
    if n == 0 {
        return "<p class=\"note\">No client ops to draw.</p>".to_string();
    }
    let ranges = visible_ranges(n, HEAD, TAIL, anomalies, WINDOW);
    let shown: usize = ranges.iter().map(|r| r.len()).sum();
    let marked: HashSet<usize> = anomalies.iter().copied().collect();
    let emphasis = Emphasis {
        marked: &marked,
        culprit,
        labels: false,
        pack: true,
        // A history without times has only its order to go by.
        event_order: !calls.has_times(),
        info_open: false,
    };
    let mut out = String::new();
    if shown < n {
        let _ = write!(
            out,
            "<p class=\"note\">Showing {shown} of {n} client ops: the first {HEAD}, the last \
             {TAIL}{}. Hover a bar for the op.</p>",
            if anomalies.is_empty() {
                String::new()
            } else {
                format!(
                    ", and {WINDOW} either side of each of the {} ops a checker named \
                     (outlined)",
                    anomalies.len()
                )
            }
        );
    } else {
        out.push_str("<p class=\"note\">Every client op is drawn. Hover a bar for the op.</p>");
    }
    let mut prev_end = 0usize;
    for r in ranges {
        if r.start > prev_end {
            out.push_str(&elided_note(history, calls, prev_end..r.start));
        }
        prev_end = r.end;
        // Strips of at most STRIP calls, each with its own time axis, so bars stay wide
        // enough to see and hover.
        let mut start = r.start;
        while start < r.end {
            let end = (start + STRIP).min(r.end);
            let _ = write!(
                out,
                "<figure class=\"timeline-part\">{}</figure>",
                lanes_svg(history, calls, start..end, intervals, kinds, &emphasis)
            );
            start = end;
        }
    }
    if prev_end < n {
        out.push_str(&elided_note(history, calls, prev_end..n));
    }
    out
}

fn elided_note(history: &History, calls: &Calls, gap: Range<usize>) -> String {
    let first = &calls.calls[gap.start];
    let last = &calls.calls[gap.end - 1];
    let when = if calls.has_times() {
        format!(
            ", invoked between {:.3} s and {:.3} s",
            first.start as f64 / 1e9,
            last.start as f64 / 1e9,
        )
    } else {
        String::new()
    };
    format!(
        "<div class=\"elided\" data-elided=\"{}\">… {} ops elided: #{} to #{}{when} …</div>",
        gap.len(),
        gap.len(),
        history.ops[first.invoke].index,
        history.ops[last.invoke].index,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::tests::{op, timeless_history};
    use faultline_checkers::history::OpType;

    #[test]
    fn short_histories_are_drawn_whole() {
        assert_eq!(visible_ranges(50, 2000, 2000, &[], 100), vec![0..50]);
        assert_eq!(
            visible_ranges(0, 2000, 2000, &[], 100),
            Vec::<Range<usize>>::new()
        );
    }

    #[test]
    fn long_histories_keep_head_tail_and_anomaly_windows() {
        let r = visible_ranges(100_000, 2000, 2000, &[50_000, 50_050, 1_990, 99_999], 100);
        assert_eq!(r, vec![0..2091, 49_900..50_151, 98_000..100_000]);
        let shown: usize = r.iter().map(|r| r.len()).sum();
        assert_eq!(shown, 2091 + 251 + 2000);
    }

    #[test]
    fn processes_that_do_not_overlap_share_a_lane() {
        let h = History::from_ops(vec![
            op(0, OpType::Invoke, "read", 0),
            op(1, OpType::Invoke, "read", 1),
            op(0, OpType::Info, "read", 5),
            op(2, OpType::Invoke, "read", 6), // worker 0 again, as process 2
            op(1, OpType::Ok, "read", 7),
            op(2, OpType::Ok, "read", 9),
        ]);
        let calls = Calls::from_history(&h);
        let (lane_of, labels) = lanes(&calls.calls, 9_000_000, true);
        assert_eq!(lane_of, vec![0, 1, 0]);
        assert_eq!(labels, vec!["p0 p2", "p1"]);
    }

    #[test]
    fn elided_timeline_says_what_it_left_out() {
        let mut ops = Vec::new();
        for i in 0..5_000u64 {
            ops.push(op(i % 5, OpType::Invoke, "read", i));
            ops.push(op(i % 5, OpType::Ok, "read", i));
        }
        let h = History::from_ops(ops);
        let calls = Calls::from_history(&h);
        let html = timeline_html(&h, &calls, &[], &[], &[], None);
        assert!(
            html.contains("Showing 4000 of 5000 client ops"),
            "{html:.300}"
        );
        assert!(html.contains("data-elided=\"1000\""));
        assert!(html.contains("1000 ops elided: #4000 to #5998"));
        assert_eq!(html.matches("<rect class=\"op ok\"").count(), 4000);
        assert!(html.contains("<title>#0 process 0 read → ok in 0 ns</title>"));
    }

    /// `(x, width)` of the bar of op `index` in `svg`.
    fn bar(svg: &str, index: u64) -> (f64, f64) {
        let at = svg.find(&format!("data-op=\"{index}\" x=\"")).unwrap();
        let tag = &svg[at..at + svg[at..].find('>').unwrap()];
        let num = |name: &str| -> f64 {
            let from = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
            tag[from..from + tag[from..].find('"').unwrap()]
                .parse()
                .unwrap()
        };
        (num("x"), num("width"))
    }

    #[test]
    fn event_order_places_timeless_ops_by_their_history_position() {
        let h = timeless_history();
        let calls = Calls::from_history(&h);
        assert!(!calls.has_times());
        let marked = HashSet::new();
        let emphasis = Emphasis {
            marked: &marked,
            culprit: Some(1),
            labels: true,
            pack: false,
            event_order: true,
            info_open: true,
        };
        let svg = lanes_svg(&h, &calls, 0..3, &[], &[], &emphasis);
        let column = (WIDTH - LEFT - RIGHT) / 6.0;
        let (x0, w0) = bar(&svg, 0);
        let (x1, w1) = bar(&svg, 1);
        let (x3, w3) = bar(&svg, 3);
        assert!((x0 - LEFT).abs() < 0.1 && (w0 - 3.0 * column).abs() < 0.1);
        assert!((x1 - (LEFT + column)).abs() < 0.1 && (w1 - 4.0 * column).abs() < 0.1);
        // The info write may take effect at any later point: it reaches the right edge.
        assert!((x3 + w3 - (WIDTH - RIGHT)).abs() < 0.1, "{svg}");
        assert!(svg.contains("<rect class=\"culprit-label\""));
        assert!(svg.contains("font-weight=\"bold\" pointer-events=\"none\">#1 read</text>"));
        assert!(svg.contains(">#0 write</text>"));
        assert!(!svg.contains(" s</text>"), "no time ticks in event order");
    }
}
