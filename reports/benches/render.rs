//! Render time and page size of a run with a 1,000,000-op history (500,000 client calls
//! by 50 workers over 100 keys, with a healed kill and an unhealed pause), through
//! `render_run` (reading `history.jsonl` from disk included; past 300,000 lines it streams
//! the file, as a long run's page) and `render_history` (the history in memory). Peak
//! memory of a long run's page: `examples/long_report.rs`.
//! Run with `cargo bench -p faultline-reports --bench render`; set REPORT_BENCH_KEEP to a
//! file path to keep the rendered page.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use faultline_checkers::checker::{CheckResult, Validity};
use faultline_reports::{render_history, render_run};

fn main() {
    let t = Instant::now();
    let mut history = common::history(500_000, 50, 100, 600_000);
    let cx = common::plant_stale_read(&mut history);
    let results = [CheckResult::new("linearizable", Validity::Invalid)
        .reason("a planted stale read")
        .details(serde_json::json!({ "counterexample": cx }))];
    let dir = tempfile::tempdir().expect("a temporary folder");
    let run = dir.path().join("bench/20240101T000000");
    common::write_run(&run, &history, &results, 1);
    println!(
        "generated {} ops in {:.2} s (history.jsonl {:.1} MB)",
        history.len(),
        t.elapsed().as_secs_f64(),
        std::fs::metadata(run.join("history.jsonl"))
            .map(|m| m.len())
            .unwrap_or(0) as f64
            / 1e6
    );
    for _ in 0..2 {
        let t = Instant::now();
        let page = render_run(&run).expect("render_run");
        let secs = t.elapsed().as_secs_f64();
        let size = std::fs::metadata(&page).map(|m| m.len()).unwrap_or(0);
        println!(
            "render_run (reads history.jsonl): {secs:.2} s, index.html {:.2} MB",
            size as f64 / 1e6
        );
    }
    let t = Instant::now();
    let page = render_history(&history, &results, "bench", &dir.path().join("bare"))
        .expect("render_history");
    let secs = t.elapsed().as_secs_f64();
    let size = std::fs::metadata(&page).map(|m| m.len()).unwrap_or(0);
    println!(
        "render_history (in memory): {secs:.2} s, index.html {:.2} MB",
        size as f64 / 1e6
    );
    // To look at the page: REPORT_BENCH_KEEP=/some/file.html cargo bench ...
    if let Some(keep) = std::env::var_os("REPORT_BENCH_KEEP") {
        std::fs::copy(run.join("index.html"), &keep).expect("copy the page");
        println!("kept the page at {}", std::path::Path::new(&keep).display());
    }
}
