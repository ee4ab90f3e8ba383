//! faultline's reports: self-contained HTML pages with inline SVG plots of a run, a page
//! listing every run in a store, and JUnit XML for CI.
//!
//! Pages open from disk with no network and no build step: styles are inline, plots are SVG
//! drawn with `plotters` (and the timeline and counterexample pictures as hand-written SVG,
//! because they need per-op hover text).
//!
//! This crate reads run folders and writes HTML; it must never open a connection or know
//! about clusters or async runtimes, and it never judges a history itself: verdicts come from
//! the checkers' [`CheckResult`]s.
//!
//! - [`render_run`]: `index.html` in a run folder (`test.json`, `history.jsonl`,
//!   `results.json`, logs).
//! - [`render_history`]: the same page for a bare history and its results
//!   (`faultline check FILE --report DIR`).
//! - [`render_store_index`]: `store/index.html`, every run newest first.
//! - [`junit_xml`]: one JUnit test case per checker.
//! - [`fault_records`]: the `faults` list of `results.json` (availability and recovery).
//!
//! Modules: `stats` (pairing, counts, quantiles, throughput), `faults` (fault intervals,
//! availability), `recovery` (what clients saw after each heal), `fault_table` (the faults
//! table, on the page and in `results.json`), `plots` (plotters charts), `plot_input` (what
//! they are drawn from), `heal_marks` (the heal brackets above them), `network` (a Maelstrom
//! run's net stats and message sequence diagram), `timeline` (per-process lanes with
//! elision), `counterexample` (the picture of a failed linearizability check), `cycles` (the
//! picture of a transactional dependency cycle), `classic` (the pictures of the set, bank,
//! counter, queue and unique-ids checks), `html` (escaping and the page shell), `sections`
//! (the page's parts both kinds of run page draw), `page` (the run page), `long_run` (its
//! history sections for a run too long to hold, past 300,000 lines), `stream` (such a
//! history read in two streaming passes), `recovery_stream` (`recovery` over that stream),
//! `histogram` (fixed-size latency histograms for its quantiles), `store_index`, `junit`.
//!
//! A long run's page and [`fault_records_of_file`] never hold the history: memory stays
//! bounded (one block of lines, the open calls, small records per key and per fault) and
//! the page's size too, however long the run.

use std::path::PathBuf;

mod classic;
mod counterexample;
mod cycles;
mod fault_table;
mod faults;
mod heal_marks;
mod histogram;
mod html;
mod junit;
mod long_run;
mod network;
mod page;
mod plot_input;
mod plots;
mod recovery;
mod recovery_stream;
mod sections;
mod stats;
mod store_index;
mod stream;
mod timeline;

pub use fault_table::{
    fault_records, fault_records_of_file, FaultRecord, KeyRecord, RecoveryRecord,
};
pub use faultline_checkers::checker::CheckResult;
pub use faultline_checkers::history::History;
pub use junit::junit_xml;
pub use network::MessagesWindow;
pub use page::{render_history, render_run, render_run_with};
pub use store_index::render_store_index;

/// Why a report could not be written. Problems inside a run folder (a corrupt
/// `results.json`, an unreadable history) are shown on the page instead of failing.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A folder the caller named does not exist or is not a folder.
    #[error("{path}: not a folder: {hint}")]
    NotAFolder {
        /// The path given.
        path: PathBuf,
        /// What to give instead.
        hint: &'static str,
    },
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A history file could not be read.
    #[error(transparent)]
    History(#[from] faultline_checkers::history::HistoryError),
    /// A plot could not be drawn.
    #[error("{plot}: cannot draw the plot: {message}")]
    Plot {
        /// Which plot.
        plot: &'static str,
        /// What plotters said.
        message: String,
    },
}

impl ReportError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        ReportError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
