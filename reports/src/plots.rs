//! The three time plots of a run, drawn with `plotters` into SVG strings: latency of every
//! op (log scale; aggregated into a [`HeatMap`] of grid cells past a point budget), latency
//! quantiles per time bucket, and throughput by outcome, each also drawable from figures
//! computed elsewhere (a long run's, read as a stream); and [`time_chart`], the frame (axes, fault
//! shading, tags) other modules draw their own time plots in. Every plot shades the fault
//! intervals and marks each heal in a band above the plot area (a tick at the heal, a thin
//! bracket to the first ok on every key spanning it, and its label when labels do not
//! collide), so no mark ever covers data.
//!
//! plotters writes plain `<rect>`s, so fault and recovery rectangles are drawn in sentinel
//! colours (red channel 0xFA for faults, 0xFB for recoveries, the other channels numbering
//! the interval) and rewritten afterwards with their real colour, a class (`fault
//! fault-KIND`, `recovery`) and data attributes giving their times; the root `<svg>` gets
//! `data-px0`/`data-px1`, the pixel columns of `data-t0`/`data-t1` seconds, so a test can
//! check that the shading lines up with the history. No other colour may start with 0xFA
//! or 0xFB. This module must never read files.

use std::fmt::Write as _;

use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::faults::kind_rgb;
use crate::heal_marks::{bracket_ns, mark_chart_heals, HEAL_BAND};
pub(crate) use crate::plot_input::{perr, secs, PlotInput};
use crate::stats::{bucket_width, human_ns, latency_quantiles, throughput, Outcome, QuantileRow};
use crate::ReportError;

/// Past this many completed ops the latency plot draws one mark per grid cell instead of
/// one per op.
pub(crate) const SCATTER_BUDGET: usize = 20_000;
const GRID_COLUMNS: usize = 300;
const GRID_ROWS: usize = 80;
const WIDTH: u32 = 1180;
const HEIGHT: u32 = 380;

/// A plotters chart with time (s) across and a linear value axis up.
pub(crate) type TimeChart<'a> =
    ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;
/// A latency plot's chart: time across, latency up on a log scale.
type LatencyChart<'a> =
    ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, LogCoord<f64>>>;

pub(crate) use crate::html::Plot;

pub(crate) fn rgb(c: (u8, u8, u8)) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

/// Shade fault intervals in sentinel colours. `y_at(frac)` gives the data value at a
/// fraction of the plot's height.
fn shade<'a, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, Y>>,
    input: &PlotInput,
    y_at: &dyn Fn(f64) -> f64,
    plot: &'static str,
) -> Result<(), ReportError> {
    let (lo, hi) = (y_at(0.0), y_at(1.0));
    chart
        .draw_series(input.intervals.iter().enumerate().map(|(i, iv)| {
            let sentinel = RGBColor(0xFA, (i >> 8) as u8, i as u8);
            Rectangle::new(
                [(secs(iv.start), lo), (secs(iv.end), hi)],
                sentinel.mix(0.18).filled(),
            )
        }))
        .map_err(perr(plot))?;
    Ok(())
}

/// Rewrite sentinel rectangles and tag the root element (see the module doc).
fn tag_svg(svg: &str, plot: &str, input: &PlotInput, px: (i32, i32)) -> String {
    let mut out = String::with_capacity(svg.len() + 4096);
    for line in svg.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix("<svg ") {
            let _ = write!(
                out,
                "<svg class=\"plot\" data-plot=\"{plot}\" data-t0=\"0\" data-t1=\"{}\" \
                 data-px0=\"{}\" data-px1=\"{}\" role=\"img\" {}",
                input.t1(),
                px.0,
                px.1,
                rest
            );
            continue;
        }
        let sentinel = line
            .starts_with("<rect ")
            .then(|| line.find("fill=\"#FA").or_else(|| line.find("fill=\"#FB")))
            .flatten();
        let Some(at) = sentinel else {
            out.push_str(line);
            continue;
        };
        let hex = &line[at + 7..at + 13];
        let n = usize::from_str_radix(&hex[2..], 16).unwrap_or(0);
        let fault = &hex[..2] == "FA";
        let (attrs, colour) = if fault {
            let Some(iv) = input.intervals.get(n) else {
                out.push_str(line);
                continue;
            };
            let k = input.kind_index(&iv.kind);
            let (r, g, b) = kind_rgb(k);
            (
                format!(
                    "class=\"fault fault-{kind}\" data-fault=\"{kind}\" data-start-s=\"{}\" \
                     data-end-s=\"{}\" data-healed=\"{}\"",
                    secs(iv.start),
                    secs(iv.end),
                    iv.healed,
                    kind = crate::html::esc(&iv.kind),
                ),
                format!("#{r:02X}{g:02X}{b:02X}"),
            )
        } else {
            let Some(Some(r)) = input.recoveries.get(n) else {
                out.push_str(line);
                continue;
            };
            (
                format!(
                    "class=\"recovery\" data-heal-s=\"{}\" data-recovered-s=\"{}\" \
                     data-status=\"{}\"",
                    secs(r.heal),
                    secs(r.heal + bracket_ns(r)),
                    r.status().as_str()
                ),
                "#30363D".to_string(),
            )
        };
        let _ = write!(
            out,
            "<rect {attrs} {}fill=\"{colour}\"{}",
            &line[6..at],
            &line[at + 14..]
        );
    }
    out
}

fn mesh_font() -> TextStyle<'static> {
    ("sans-serif", 13)
        .into_font()
        .color(&RGBColor(0x40, 0x48, 0x52))
}

/// A time tick (s) on an axis spanning `span` seconds: as many decimals as about ten ticks
/// need, trailing zeros dropped, so float noise such as `0.000300000000000003` never shows.
fn time_label(v: f64, span: f64) -> String {
    let step = (span / 10.0).max(1e-9);
    if v.abs() < step / 1000.0 {
        return "0".to_string();
    }
    let decimals = (1 - step.log10().floor() as i64).clamp(0, 9) as usize;
    let mut text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.truncate(text.trim_end_matches('0').trim_end_matches('.').len());
    }
    text
}

/// Labels only 1, 2 and 5 times a power of ten, so a log axis stays legible.
fn ms_label(v: &f64) -> String {
    if *v <= 0.0 {
        return String::new();
    }
    let mantissa = v / 10f64.powf(v.log10().floor());
    if ![1.0, 2.0, 5.0].iter().any(|m| (mantissa - m).abs() < 0.01) {
        return String::new();
    }
    if *v >= 1.0 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// A log axis (ms) from the 1-2-5 value below `min_ns` to the one above `max_ns`, so its
/// ends and labels are round numbers.
fn log_bounds(min_ns: u64, max_ns: u64) -> (f64, f64) {
    if max_ns == 0 || min_ns > max_ns {
        return (0.01, 10.0);
    }
    let lo = min_ns.max(1_000) as f64 / 1e6 / 1.2;
    let hi = max_ns as f64 / 1e6 * 1.3;
    let decade = |v: f64| 10f64.powf(v.log10().floor());
    let below = [5.0, 2.0, 1.0]
        .iter()
        .map(|m| m * decade(lo))
        .find(|&b| b <= lo)
        .unwrap_or(decade(lo));
    let above = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * decade(hi))
        .find(|&a| a >= hi)
        .unwrap_or(10.0 * decade(hi));
    (below.max(0.001), above)
}

/// The pixel columns of t = 0 and t = t1.
fn px_range<'a, Y: Ranged<ValueType = f64>>(
    chart: &ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, Y>>,
    t1: f64,
    y: f64,
) -> (i32, i32) {
    (
        chart.backend_coord(&(0.0, y)).0,
        chart.backend_coord(&(t1, y)).0,
    )
}

/// A time plot named `name` (its `data-plot`): time since start across, `y` up (labelled
/// `y_desc`, ticks as integers), fault intervals shaded and tagged as in the other plots,
/// and whatever `draw` adds on top.
pub(crate) fn time_chart<F>(
    name: &'static str,
    input: &PlotInput,
    y: (f64, f64),
    y_desc: &str,
    draw: F,
) -> Result<String, ReportError>
where
    F: for<'b> FnOnce(&mut TimeChart<'b>) -> Result<(), ReportError>,
{
    let axis = YAxis {
        x_desc: "time since start (s)",
        desc: y_desc,
        labels: None,
        label: &|v: &f64| format!("{v:.0}"),
        at: &|f: f64| y.0 + f * (y.1 - y.0),
    };
    framed_chart(name, input, y.0..y.1, axis, draw)
}

/// How a plot over time draws its axes: the descriptions, how many y labels (`None`:
/// plotters' default) and their text, and the y value at a fraction of the height.
struct YAxis<'f> {
    x_desc: &'f str,
    desc: &'f str,
    labels: Option<usize>,
    label: &'f dyn Fn(&f64) -> String,
    at: &'f dyn Fn(f64) -> f64,
}

/// The frame every plot over time shares: the SVG, time since start across and `y` up as
/// `axis` says, fault intervals shaded and heals marked, whatever `draw` adds on top; the
/// tagged SVG of the plot named `name`.
fn framed_chart<YS, F>(
    name: &'static str,
    input: &PlotInput,
    y: YS,
    axis: YAxis<'_>,
    draw: F,
) -> Result<String, ReportError>
where
    YS: AsRangedCoord<Value = f64>,
    YS::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    F: for<'b> FnOnce(
        &mut ChartContext<'b, SVGBackend<'b>, Cartesian2d<RangedCoordf64, YS::CoordDescType>>,
    ) -> Result<(), ReportError>,
{
    let t1 = input.t1();
    let mut svg = String::new();
    let px;
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(perr(name))?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .margin_top(HEAL_BAND)
            .x_label_area_size(38)
            .y_label_area_size(62)
            .build_cartesian_2d(0.0..t1, y)
            .map_err(perr(name))?;
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(axis.x_desc).y_desc(axis.desc);
        if let Some(n) = axis.labels {
            mesh.y_labels(n);
        }
        mesh.x_label_formatter(&|v: &f64| time_label(*v, t1))
            .y_label_formatter(axis.label)
            .label_style(mesh_font())
            .light_line_style(RGBColor(0xF0, 0xF2, 0xF4))
            .draw()
            .map_err(perr(name))?;
        shade(&mut chart, input, axis.at, name)?;
        mark_chart_heals(&root, &chart, input, (axis.at)(1.0), name)?;
        draw(&mut chart)?;
        px = px_range(&chart, t1, (axis.at)(0.0));
        root.present().map_err(perr(name))?;
    }
    Ok(tag_svg(&svg, name, input, px))
}

/// Latency (ms, log scale) of every completed op by invocation time.
pub(crate) fn latency_plot(input: &PlotInput) -> Result<Plot, ReportError> {
    const NAME: &str = "latency";
    let calls = &input.calls.calls;
    let done = || calls.iter().filter_map(|c| Some((c, c.latency()?)));
    let (min, max) = done().fold((u64::MAX, 0), |(lo, hi), (_, l)| (lo.min(l), hi.max(l)));
    let completed = done().count();
    if completed > SCATTER_BUDGET {
        let mut map = HeatMap::new((min, max), input.t1(), (GRID_COLUMNS, GRID_ROWS));
        for (c, l) in done() {
            map.add(c.start, l, c.outcome);
        }
        let note = format!(
            "{completed} completed ops, more than the {SCATTER_BUDGET} drawn one by one: \
             shown as a heat map of {GRID_COLUMNS}×{GRID_ROWS} cells per outcome (darker = \
             more ops; functions are not told apart)."
        );
        return heat_map_plot(input, &map, None, note);
    }
    let (lo, hi) = log_bounds(min, max);
    let svg = latency_chart(NAME, input, (lo, hi), |chart| {
        let ms = |l: u64| (l as f64 / 1e6).max(lo);
        for outcome in [Outcome::Ok, Outcome::Fail, Outcome::Info] {
            for f in 0..input.calls.functions.len() {
                let pts = done()
                    .filter(|(c, _)| c.outcome == outcome && c.f as usize == f)
                    .map(|(c, l)| ((secs(c.start), ms(l)), 1.0));
                draw_marks(chart, pts, f, outcome, NAME)?;
            }
        }
        Ok(())
    })?;
    Ok(Plot {
        svg,
        note: format!("{completed} completed ops, one mark each."),
    })
}

/// Completed ops counted per (time column, log-latency row, outcome) cell, for a latency
/// plot of too many ops to draw one by one; its size is fixed, however many ops.
#[derive(Debug, PartialEq)]
pub(crate) struct HeatMap {
    /// The latency axis (ms).
    lo: f64,
    hi: f64,
    t1: f64,
    /// Cells across (time) and up (latency).
    columns: usize,
    rows: usize,
    grid: Vec<u32>,
}

impl HeatMap {
    /// For latencies from `min` to `max` ns, on a time axis ending at `t1` s, in
    /// `columns` × `rows` cells.
    pub(crate) fn new((min, max): (u64, u64), t1: f64, (columns, rows): (usize, usize)) -> HeatMap {
        let (lo, hi) = log_bounds(min, max);
        HeatMap {
            lo,
            hi,
            t1,
            columns,
            rows,
            grid: vec![0u32; columns * rows * 3],
        }
    }

    fn slot(o: Outcome) -> usize {
        match o {
            Outcome::Ok => 0,
            Outcome::Fail => 1,
            _ => 2,
        }
    }

    /// Count an op invoked at `start` ns that took `latency` ns.
    pub(crate) fn add(&mut self, start: u64, latency: u64, outcome: Outcome) {
        let (llo, lhi) = (self.lo.ln(), self.hi.ln());
        let ms = (latency as f64 / 1e6).max(self.lo);
        let (columns, rows) = (self.columns, self.rows);
        let col = (((secs(start) / self.t1) * columns as f64) as usize).min(columns - 1);
        let row = (((ms.ln() - llo) / (lhi - llo) * rows as f64) as usize).min(rows - 1);
        self.grid[(col * rows + row) * 3 + Self::slot(outcome)] += 1;
    }
}

/// The latency plot drawn from a heat map: per cell and outcome a filled rectangle whose
/// opacity grows with the number of ops in it. With `shades`, opacities are rounded up to
/// that many steps and neighbouring cells of a row with the same step drawn as one
/// rectangle, so the SVG stays small however busy the run (a long run's page).
pub(crate) fn heat_map_plot(
    input: &PlotInput,
    map: &HeatMap,
    shades: Option<u32>,
    note: String,
) -> Result<Plot, ReportError> {
    const NAME: &str = "latency";
    let (lo, hi, t1) = (map.lo, map.hi, map.t1);
    let (columns, rows) = (map.columns, map.rows);
    let svg = latency_chart(NAME, input, (lo, hi), |chart| {
        let (llo, lhi) = (lo.ln(), hi.ln());
        let grid = &map.grid;
        let peak = grid.iter().copied().max().unwrap_or(1).max(2) as f64;
        let x = |c: usize| c as f64 / columns as f64 * t1;
        let y = |r: usize| (llo + r as f64 / rows as f64 * (lhi - llo)).exp();
        let alpha = |n: u32| (0.25 + 0.75 * (n as f64).ln() / peak.ln()).min(1.0);
        for outcome in [Outcome::Ok, Outcome::Fail, Outcome::Info] {
            let colour = rgb(outcome.rgb());
            let oi = HeatMap::slot(outcome);
            let Some(shades) = shades else {
                chart
                    .draw_series((0..columns * rows).filter_map(move |cr| {
                        let n = grid[cr * 3 + oi];
                        (n > 0).then(|| {
                            let (col, row) = (cr / rows, cr % rows);
                            Rectangle::new(
                                [(x(col), y(row)), (x(col + 1), y(row + 1))],
                                colour.mix(alpha(n)).filled(),
                            )
                        })
                    }))
                    .map_err(perr(NAME))?;
                continue;
            };
            let step = |n: u32| (n > 0).then(|| (alpha(n) * shades as f64).ceil() as u32);
            let mut runs = Vec::new();
            for row in 0..rows {
                let mut col = 0;
                while col < columns {
                    let Some(level) = step(grid[(col * rows + row) * 3 + oi]) else {
                        col += 1;
                        continue;
                    };
                    let from = col;
                    while col < columns && step(grid[(col * rows + row) * 3 + oi]) == Some(level) {
                        col += 1;
                    }
                    runs.push(Rectangle::new(
                        [(x(from), y(row)), (x(col), y(row + 1))],
                        colour.mix(level as f64 / shades as f64).filled(),
                    ));
                }
            }
            chart.draw_series(runs).map_err(perr(NAME))?;
        }
        Ok(())
    })?;
    Ok(Plot { svg, note })
}

/// A latency plot named `name`: time since start across (by invocation), latency in ms up
/// on a log scale from `y.0` to `y.1`, fault intervals shaded and heals marked as in the
/// other plots, and whatever `draw` adds on top; the tagged SVG.
fn latency_chart<F>(
    name: &'static str,
    input: &PlotInput,
    (lo, hi): (f64, f64),
    draw: F,
) -> Result<String, ReportError>
where
    F: for<'b> FnOnce(&mut LatencyChart<'b>) -> Result<(), ReportError>,
{
    let axis = YAxis {
        x_desc: "time since start (s), by invocation",
        desc: "latency (ms)",
        labels: Some(30),
        label: &ms_label,
        at: &|f: f64| lo * (hi / lo).powf(f),
    };
    framed_chart(name, input, (lo..hi).log_scale(), axis, draw)
}

/// Draw marks in the shape of function `f` and the colour of `outcome`.
fn draw_marks<'a, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, Y>>,
    pts: impl Iterator<Item = ((f64, f64), f64)>,
    f: usize,
    outcome: Outcome,
    plot: &'static str,
) -> Result<(), ReportError> {
    let colour = rgb(outcome.rgb());
    let style = move |alpha: f64| colour.mix(alpha * 0.75).filled();
    let drawn =
        match f % 4 {
            0 => chart
                .draw_series(pts.map(|(p, a)| Circle::new(p, 2, style(a))))
                .map(|_| ()),
            1 => chart
                .draw_series(pts.map(|(p, a)| TriangleMarker::new(p, 3, style(a))))
                .map(|_| ()),
            2 => chart
                .draw_series(pts.map(|(p, a)| Cross::new(p, 3, colour.mix(a).stroke_width(1))))
                .map(|_| ()),
            _ => chart
                .draw_series(pts.map(|(p, a)| {
                    EmptyElement::at(p) + Rectangle::new([(-2, -2), (2, 2)], style(a))
                }))
                .map(|_| ()),
        };
    drawn.map_err(perr(plot))
}

/// The shape of function `f` as a small inline SVG, for legends.
pub(crate) fn shape_icon(f: usize, css: &str) -> String {
    let inner = match f % 4 {
        0 => format!("<circle cx=\"6\" cy=\"6\" r=\"3.5\" fill=\"{css}\"/>"),
        1 => format!("<polygon points=\"6,1.5 10.5,10 1.5,10\" fill=\"{css}\"/>"),
        2 => format!("<path d=\"M2 2L10 10M10 2L2 10\" stroke=\"{css}\" stroke-width=\"1.6\"/>"),
        _ => format!("<rect x=\"2.5\" y=\"2.5\" width=\"7\" height=\"7\" fill=\"{css}\"/>"),
    };
    format!(
        "<svg width=\"12\" height=\"12\" viewBox=\"0 0 12 12\" aria-hidden=\"true\">{inner}</svg>"
    )
}

/// p50, p95, p99 and max latency per time bucket.
pub(crate) fn quantile_plot(input: &PlotInput) -> Result<Plot, ReportError> {
    let width = bucket_width(input.calls.end_time, 120);
    let rows = latency_quantiles(&input.calls.calls, width);
    let note = format!(
        "Completed ops bucketed by invocation time into {} buckets.",
        human_ns(width)
    );
    quantile_plot_of(input, width, &rows, note)
}

/// The quantile plot of these rows, one per bucket `width` ns wide.
pub(crate) fn quantile_plot_of(
    input: &PlotInput,
    width: u64,
    rows: &[QuantileRow],
    note: String,
) -> Result<Plot, ReportError> {
    const NAME: &str = "quantiles";
    let max = rows.iter().map(|r| r.max).max().unwrap_or(0);
    let min = rows.iter().map(|r| r.p50).min().unwrap_or(0);
    let (lo, hi) = log_bounds(min, max);
    let svg = latency_chart(NAME, input, (lo, hi), |chart| {
        let half = secs(width) / 2.0;
        for (q, colour) in QUANTILES {
            let pts: Vec<(f64, f64)> = rows
                .iter()
                .map(|r| {
                    let v = match q {
                        "p50" => r.p50,
                        "p95" => r.p95,
                        "p99" => r.p99,
                        _ => r.max,
                    };
                    (secs(r.start) + half, (v as f64 / 1e6).max(lo))
                })
                .collect();
            let c = rgb(colour);
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))
                .map_err(perr(NAME))?;
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 2, c.filled())))
                .map_err(perr(NAME))?;
        }
        Ok(())
    })?;
    Ok(Plot { svg, note })
}

/// The quantile lines and their colours.
pub(crate) const QUANTILES: [(&str, (u8, u8, u8)); 4] = [
    ("p50", (0x3A, 0x7D, 0xC9)),
    ("p95", (0x2F, 0x9E, 0x6E)),
    ("p99", (0xE0, 0x9B, 0x2D)),
    ("max", (0xC6, 0x2F, 0x3B)),
];

/// Completions per second by outcome.
pub(crate) fn throughput_plot(input: &PlotInput) -> Result<Plot, ReportError> {
    let width = bucket_width(input.calls.end_time, 120);
    let rows = throughput(&input.calls.calls, width, input.calls.end_time);
    let note = format!("Completions per second in {} buckets.", human_ns(width));
    throughput_plot_of(input, width, &rows, note)
}

/// The throughput plot of completions by outcome (ok, fail, info) per bucket `width` ns
/// wide, from time 0.
pub(crate) fn throughput_plot_of(
    input: &PlotInput,
    width: u64,
    rows: &[[u64; 3]],
    note: String,
) -> Result<Plot, ReportError> {
    const NAME: &str = "throughput";
    let per_sec = 1e9 / width as f64;
    let top = rows
        .iter()
        .flat_map(|r| r.iter())
        .copied()
        .max()
        .unwrap_or(0) as f64
        * per_sec;
    let hi = (top * 1.12).max(1.0);
    let axis = YAxis {
        x_desc: "time since start (s), by completion",
        desc: "ops per second",
        labels: None,
        label: &|v: &f64| format!("{v:.0}"),
        at: &|f: f64| f * hi,
    };
    let svg = framed_chart(NAME, input, 0.0..hi, axis, |chart| {
        let half = secs(width) / 2.0;
        for (i, outcome) in [Outcome::Ok, Outcome::Fail, Outcome::Info]
            .into_iter()
            .enumerate()
        {
            let c = rgb(outcome.rgb());
            let pts = rows
                .iter()
                .enumerate()
                .map(|(b, r)| (b as f64 * secs(width) + half, r[i] as f64 * per_sec));
            chart
                .draw_series(LineSeries::new(pts, c.stroke_width(2)))
                .map_err(perr(NAME))?;
        }
        Ok(())
    })?;
    Ok(Plot { svg, note })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_axes_end_on_round_numbers() {
        // 2.5 / 1.2 = 2.08 ms rounds down to 2; 160 * 1.3 = 208 ms rounds up to 500.
        assert_eq!(log_bounds(2_500_000, 160_000_000), (2.0, 500.0));
        assert_eq!(log_bounds(900_000, 9_000_000), (0.5, 20.0));
        assert_eq!(log_bounds(0, 0), (0.01, 10.0));
    }

    #[test]
    fn time_labels_are_round_at_any_range() {
        assert_eq!(time_label(0.000_300_000_000_000_003, 0.001), "0.0003");
        assert_eq!(time_label(0.000_7, 0.001), "0.0007");
        assert_eq!(time_label(0.0, 0.001), "0");
        assert_eq!(time_label(1e-19, 0.001), "0");
        assert_eq!(time_label(2.500_000_000_000_1, 10.0), "2.5");
        assert_eq!(time_label(4.0, 10.0), "4");
        assert_eq!(time_label(120.000_000_01, 600.0), "120");
        assert_eq!(time_label(3600.0, 36_000.0), "3600");
        assert_eq!(time_label(0.15, 1.0), "0.15");
    }

    #[test]
    fn log_labels_only_at_one_two_five() {
        assert_eq!(ms_label(&20.0), "20");
        assert_eq!(ms_label(&30.0), "");
        assert_eq!(ms_label(&0.5), "0.5");
    }
}
