//! What every plot of a run is drawn from ([`PlotInput`]: the calls, the fault intervals and
//! their recoveries), and the small conversions the plots and their heal marks share. Below
//! both `plots` and `heal_marks`; it draws nothing.

use crate::faults::FaultInterval;
use crate::recovery::Recovery;
use crate::stats::Calls;
use crate::ReportError;

/// What every plot needs.
pub(crate) struct PlotInput<'a> {
    pub calls: &'a Calls,
    pub intervals: &'a [FaultInterval],
    pub kinds: &'a [String],
    pub recoveries: &'a [Option<Recovery>],
}

impl PlotInput<'_> {
    pub(crate) fn t1(&self) -> f64 {
        (self.calls.end_time as f64 / 1e9).max(1e-3)
    }
    pub(crate) fn kind_index(&self, kind: &str) -> usize {
        self.kinds.iter().position(|k| k == kind).unwrap_or(0)
    }
}

pub(crate) fn perr<E: std::fmt::Debug>(plot: &'static str) -> impl Fn(E) -> ReportError {
    move |e| ReportError::Plot {
        plot,
        message: format!("{e:?}"),
    }
}

pub(crate) fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}
