//! End-to-end: however the harness ends — normally, on Ctrl-C, on a panic in a worker, or
//! killed with SIGKILL — the history on disk stays readable and no node process is left
//! paused or running.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// Start `faultline test` in the background and wait until its history has ops in it.
fn start_background(
    store: &std::path::Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> std::process::Child {
    let child = background_test(store)
        .args(["--node-count", "3"])
        .args(PAUSES_FOR_A_MINUTE)
        .args(extra)
        .envs(env.iter().copied())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(run) = std::fs::canonicalize(store.join("latest")) {
            let lines = std::fs::read_to_string(run.join("history.jsonl"))
                .map(|t| t.lines().count())
                .unwrap_or(0);
            if lines > 50 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the test never recorded ops");
        std::thread::sleep(Duration::from_millis(200));
    }
    child
}

/// Wait for the harness: it must end as a harness failure (255: `why`) and leave no node
/// process behind; its run folder.
fn ends_with_no_node_left(
    mut child: std::process::Child,
    store: &std::path::Path,
    why: &str,
) -> std::path::PathBuf {
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(255), "{why}");
    let run = latest_run(store);
    let left = wait_gone(&run.display().to_string(), 5);
    assert!(left.is_empty(), "node processes left behind: {left:?}");
    run
}

fn signal(child: &std::process::Child, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
}

#[test]
fn sigkill_of_the_harness_leaves_a_checkable_history_and_heal_cleans_up() {
    let store = tempfile::tempdir().unwrap();
    let mut child = start_background(store.path(), &[], &[]);
    std::thread::sleep(Duration::from_secs(3));
    signal(&child, nix::sys::signal::Signal::SIGKILL);
    child.wait().unwrap();
    let run = latest_run(store.path());
    let out = faultline()
        .arg("check")
        .arg(run.join("history.jsonl"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        matches!(out.status.code(), Some(0..=2)),
        "check read the history: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ops"), "{stdout}");
    // Nodes notice their harness is gone; `heal` resumes any that were paused so they can.
    heal(&run);
    let left = wait_gone(&run.display().to_string(), 10);
    assert!(left.is_empty(), "node processes left behind: {left:?}");
}

#[test]
fn ctrl_c_heals_and_stops_every_node() {
    let store = tempfile::tempdir().unwrap();
    let child = start_background(store.path(), &[], &[]);
    std::thread::sleep(Duration::from_secs(3));
    signal(&child, nix::sys::signal::Signal::SIGINT);
    let run = ends_with_no_node_left(child, store.path(), "an interrupted run is not a verdict");
    let results = results(&run);
    assert_eq!(results["interrupted"], true);
}

#[test]
fn a_panic_in_a_worker_heals_and_stops_every_node() {
    let store = tempfile::tempdir().unwrap();
    let child = start_background(store.path(), &[], &[("FAULTLINE_PANIC_AFTER_OPS", "100")]);
    ends_with_no_node_left(child, store.path(), "a worker panic is a harness failure");
}
