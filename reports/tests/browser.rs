//! The run pages as a person sees them: a valid and an invalid run folder, and a long run's
//! (drawn from its history as a stream), are rendered and opened in headless Chromium (Debian's `chromium`, installed here when missing and
//! running as root). The test fails on any console message (the pages have no scripts, so
//! any is an error), checks in the browser that every plot drew marks or lines inside its
//! plotting area and shaded the faults, and keeps screenshots under
//! `target/report-screenshots/` for a person to look at.

mod chromium;
mod common;

use std::path::{Path, PathBuf};

use chromium::{check_page, chromium, console_messages, run_chromium};
use faultline_reports::{render_run, render_store_index};

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

#[test]
fn run_pages_render_in_chromium_without_errors() {
    let browser = chromium();
    let shots = target_dir().join("report-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let store = shots.join("store");
    let _ = std::fs::remove_dir_all(&store);
    let (valid, invalid) = common::valid_and_invalid_runs(&store);
    let valid_page = render_run(&valid).unwrap();
    let invalid_page = render_run(&invalid).unwrap();
    check_page(&browser, &valid_page, &shots, "valid-run", Some(2));
    check_page(&browser, &invalid_page, &shots, "invalid-run", Some(2));
    // A long run's page, drawn from the file as a stream (past 300,000 lines).
    let long = store.join("long-run/20240104T000000");
    common::long::write_long_run(&long, 400_000);
    let long_page = render_run(&long).unwrap();
    check_page(&browser, &long_page, &shots, "long-run", None);

    // The store index, with a corrupt run folder among the good ones.
    std::fs::create_dir_all(store.join("broken/20240103T000000")).unwrap();
    std::fs::write(store.join("broken/20240103T000000/results.json"), "{").unwrap();
    let index = render_store_index(&store).unwrap();
    let shot = shots.join("store-index.png");
    let (_, stderr) = run_chromium(
        &browser,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1400,700",
        ],
        &index,
    );
    assert!(console_messages(&stderr).is_empty(), "{stderr}");
    println!("screenshot: {}", shot.display());
}
