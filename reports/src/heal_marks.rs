//! The heal marks of the time plots: for each heal, in a band kept above the plot area, a
//! tick at the heal and a thin bracket to the first ok on every key spanning it, labelled
//! with that time while labels do not collide. Drawn outside the plot area, they never
//! cover data. The bracket is a sentinel rectangle (red channel 0xFB, see `plots`) that
//! `plots` rewrites with the recovery's data attributes. This module must never read files.

use plotters::coord::ranged1d::Ranged;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::plot_input::{perr, secs, PlotInput};
use crate::recovery::{Figure, Recovery, Status};
use crate::stats::human_ns;
use crate::ReportError;

/// Pixels above the plot area kept for the heal marks, so they never cover data.
pub(crate) const HEAL_BAND: u32 = 30;
const MARK_COLOUR: RGBColor = RGBColor(0x30, 0x36, 0x3D);

/// Mark each heal in the band above the plot area (pixel row `top` is the area's top edge):
/// a tick at the heal and a thin bracket (a sentinel rectangle) to the first ok on every
/// spanning key, labelled with the time while labels do not collide. `x_of(t)` is the pixel
/// column of `t` seconds; labels stay between `left` and `right`.
fn mark_heals(
    root: &DrawingArea<SVGBackend, Shift>,
    input: &PlotInput,
    x_of: &dyn Fn(f64) -> i32,
    (left, right, top): (i32, i32, i32),
    plot: &'static str,
) -> Result<(), ReportError> {
    let font = ("sans-serif", 11).into_font().color(&MARK_COLOUR);
    let mut labels_end = i32::MIN;
    for (i, r) in input.recoveries.iter().enumerate() {
        let Some(r) = r else { continue };
        let x0 = x_of(secs(r.heal));
        let x1 = x_of(secs(r.heal + bracket_ns(r))).max(x0 + 2);
        root.draw(&Rectangle::new(
            [(x0, top - 12), (x0 + 1, top)],
            MARK_COLOUR.filled(),
        ))
        .map_err(perr(plot))?;
        let sentinel = RGBColor(0xFB, (i >> 8) as u8, i as u8);
        root.draw(&Rectangle::new(
            [(x0, top - 8), (x1, top - 6)],
            sentinel.filled(),
        ))
        .map_err(perr(plot))?;
        if x1 > x0 + 2 {
            root.draw(&Rectangle::new(
                [(x1 - 1, top - 10), (x1, top - 4)],
                MARK_COLOUR.filled(),
            ))
            .map_err(perr(plot))?;
        }
        let Some(label) = heal_label(r) else { continue };
        // About 6 px a character at 11 px: enough to keep labels apart and inside.
        let width = label.chars().count() as i32 * 6;
        let (x, from, anchor) = if x0 + 3 + width <= right {
            (x0 + 3, x0 + 3, HPos::Left)
        } else {
            let x = x1.min(right);
            (x, x - width, HPos::Right)
        };
        if from < labels_end + 8 || from < left {
            continue;
        }
        labels_end = from + width;
        root.draw(&Text::new(
            label,
            (x, top - 13),
            font.clone().pos(Pos::new(anchor, VPos::Bottom)),
        ))
        .map_err(perr(plot))?;
    }
    Ok(())
}

/// How far the bracket of a heal runs: to the first ok on every spanning key, or, when some
/// key had none, as far as such a key was watched; no bracket when nothing was measured.
pub(crate) fn bracket_ns(r: &Recovery) -> u64 {
    match r.status() {
        Status::Measured => r
            .every_key(Figure::FirstOk)
            .or(r.at_least(Figure::FirstOk))
            .unwrap_or(0),
        _ => 0,
    }
}

fn heal_label(r: &Recovery) -> Option<String> {
    match r.status() {
        Status::HealedAtTheEnd => None,
        Status::NoKeySpans => Some("no key spans".to_string()),
        Status::Measured => Some(match r.every_key(Figure::FirstOk) {
            Some(t) => format!("ok in {}", human_ns(t)),
            None => format!(
                "no ok in {}",
                human_ns(r.at_least(Figure::FirstOk).unwrap_or(0))
            ),
        }),
    }
}

/// Draw the heal marks of a chart built with `margin_top(HEAL_BAND)`, whose value range
/// tops at `y_top`.
pub(crate) fn mark_chart_heals<'a, Y: Ranged<ValueType = f64>>(
    root: &DrawingArea<SVGBackend<'a>, Shift>,
    chart: &ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, Y>>,
    input: &PlotInput,
    y_top: f64,
    plot: &'static str,
) -> Result<(), ReportError> {
    let x_of = |t: f64| chart.backend_coord(&(t, y_top)).0;
    let top = chart.backend_coord(&(0.0, y_top)).1;
    mark_heals(root, input, &x_of, (x_of(0.0), x_of(input.t1()), top), plot)
}
