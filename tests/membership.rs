//! End-to-end: `--nemesis membership` removes members through the system's own API and adds
//! them back (openraft's `change_membership` for the reference cluster; etcd's `member
//! remove` / `member add` with the member restarted on an empty data directory; a command
//! system's script steps `members`, `remove NODE`, `add NODE`). Each run
//! ends `valid` with at least three membership changes in the history, and the membership
//! read back from the system after the last change equals the one the run started with.
//! Systems without a membership API refuse the nemesis up front.

mod common;

use common::membership::assert_membership_changed_and_restored;
use common::*;

fn membership_run(system: &str, time_limit: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    membership_run_with(&["--system", system], time_limit)
}

fn membership_run_with(
    system: &[&str],
    time_limit: &str,
) -> (tempfile::TempDir, std::path::PathBuf) {
    let mut args = system.to_vec();
    args.extend([
        "--node-count",
        "3",
        "--nemesis",
        "membership",
        "--nemesis-interval",
        "2",
        "--time-limit",
        time_limit,
        "--rate",
        "100",
        "--seed",
        "5",
    ]);
    let (store, run) = valid_run(&args);
    assert_membership_changed_and_restored(&run, 3);
    (store, run)
}

#[test]
fn reference_membership_changes_end_valid_with_the_starting_membership() {
    membership_run("reference", "15");
}

#[test]
fn etcd_membership_changes_end_valid_with_the_starting_membership() {
    let (_store, run) = membership_run("etcd", "20");
    // Re-added members started on fresh data directories, beside their old data.
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert!(history.contains("/data/rejoin-1"), "a member rejoined");
    assert!(history.contains(r#""mechanism":"etcd member add""#));
}

/// etcd as a command system (`examples/etcd-command/lifecycle.sh`): the script's `members`,
/// `remove` and `add` steps, and faultline restarting a re-added node with
/// `FAULTLINE_JOIN=existing` on a fresh data folder.
#[test]
fn command_system_membership_changes_through_its_script_end_valid() {
    let system = etcd_by_command("");
    let (_store, run) = membership_run_with(
        &system.iter().map(String::as_str).collect::<Vec<_>>(),
        // Each change runs the script (Python, a node restart), and etcd refuses a removal
        // until every member has been connected for 5 s ("unhealthy cluster"): on a loaded
        // machine most 2 s draws are refused, so a longer run for three changes.
        "45",
    );
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert!(history.contains("/data/rejoin-1"), "a member rejoined");
    assert!(history.contains(r#""mechanism":"SCRIPT add""#));
}

#[test]
fn systems_without_a_membership_api_refuse_the_nemesis() {
    let (_store, stderr) = failed_run(254, &["--system", "nats", "--nemesis", "membership"]);
    assert!(
        stderr.contains("--nemesis membership") && stderr.contains("reference, etcd and command"),
        "{stderr}"
    );
}
