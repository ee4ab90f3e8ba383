//! End-to-end: the reports of real runs, as a person sees them. A correct run under kill and
//! pause faults and a `--bug stale-reads` run under partitions are recorded by the harness, and each run's
//! `index.html` is opened in headless Chromium: no console error, every plot drew inside its
//! plotting area with the fault intervals shaded, and the invalid one shows its
//! counterexample. Screenshots stay in `target/report-screenshots/real-runs/`.

#[path = "../reports/tests/chromium/mod.rs"]
mod chromium;
mod common;

use std::path::{Path, PathBuf};

use common::*;

fn shots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("report-screenshots").join("real-runs");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn reports_of_a_valid_and_an_invalid_real_run_render_in_chromium() {
    let browser = chromium::chromium();
    let shots = shots_dir();

    let (_valid_store, valid) = valid_run(&[
        "--node-count",
        "3",
        "--time-limit",
        "12",
        "--nemesis",
        "kill,pause",
        "--nemesis-interval",
        "2",
        "--seed",
        "4",
    ]);
    let valid_page = valid.join("index.html");
    chromium::check_page(&browser, &valid_page, &shots, "real-valid-run", None);

    let (_invalid_store, invalid) = invalid_run(
        &[
            STALE_READS_UNDER_PARTITIONS,
            &["--time-limit", "20", "--seed", "5"],
        ]
        .concat(),
    );
    let invalid_page = invalid.join("index.html");
    chromium::check_page(&browser, &invalid_page, &shots, "real-invalid-run", None);
    let html = std::fs::read_to_string(&invalid_page).unwrap();
    assert!(
        html.contains("cannot be placed"),
        "the counterexample is drawn"
    );
}
