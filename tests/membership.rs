//! End-to-end: `--nemesis membership` removes members through the system's own API and adds
//! them back (openraft's `change_membership` for the reference cluster; etcd's `member
//! remove` / `member add` with the member restarted on an empty data directory; ZooKeeper's
//! `reconfig -remove` / `-add` with the server restarted on the ensemble it joins; a command
//! system's script steps `members`, `remove NODE`, `add NODE`; Galera's clean leave and
//! rejoin). Each run
//! ends `valid` with at least three membership changes in the history, and the membership
//! read back from the system after the last change equals the one the run started with.
//! Systems without a membership API refuse the nemesis up front.

mod common;

use common::membership::{
    assert_membership_changed_and_restored, killed_while_a_member_is_removed,
};
use common::*;

fn membership_run(system: &str, time_limit: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    membership_run_with(&["--system", system], time_limit)
}

/// The arguments of a membership run of `system`: three nodes, a change every 2 s or so.
fn membership_args<'a>(system: &[&'a str], time_limit: &'a str) -> Vec<&'a str> {
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
    args
}

fn membership_run_with(
    system: &[&str],
    time_limit: &str,
) -> (tempfile::TempDir, std::path::PathBuf) {
    let (store, run) = valid_run(&membership_args(system, time_limit));
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

/// ZooKeeper through its own dynamic reconfiguration: `reconfig -remove` (the server then
/// stops) and `reconfig -add`, the server restarted first on a configuration naming the
/// ensemble and itself. The 60 s run of the issue's acceptance: at least three changes, the
/// ensemble read back from `/zookeeper/config` at the end is the one it started with, and the
/// verdict is decided. Mostly `valid`; two of eight runs here found a `sync` read stale
/// around a change (the README says so), so `invalid` with the op named is accepted too.
#[test]
fn zookeeper_membership_changes_through_reconfig_end_decided() {
    let store = tempfile::tempdir().unwrap();
    let out = run_test(
        store.path(),
        &membership_args(&["--system", "zookeeper"], "60"),
    );
    let run = latest_run(store.path());
    let verdict = results(&run)["valid"].clone();
    match out.status.code() {
        Some(0) => assert_eq!(verdict, true),
        Some(1) => {
            assert_eq!(verdict, false);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(stdout.contains("cannot be linearized"), "{stdout}");
        }
        other => panic!("the verdict is not decided: exit {other:?}"),
    }
    common::membership::assert_membership_restored(&run, 3);
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert!(history.contains(r#""mechanism":"zookeeper reconfig -add""#));
    assert!(history.contains("zoo-rejoin-1.cfg"), "a server rejoined");
}

/// Galera has no member list: a node leaves by a clean shutdown (SQL `SHUTDOWN`, so the
/// others shrink the quorum at once) and joins by starting again, caught up by IST. The view
/// is `information_schema.WSREP_MEMBERSHIP` of a node in the primary component: at least
/// three changes in 60 s, and the view at the end is the one the run started with.
#[test]
fn galera_membership_changes_by_leaving_and_rejoining_end_valid() {
    let (_store, run) =
        membership_run_with(&["--system", "galera", "--ready-timeout", "120"], "60");
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert!(history.contains(r#""mechanism":"galera join""#));
}

/// Galera's member removed when the harness died is started again by `faultline heal` and
/// rejoins before the nodes stop.
#[test]
fn heal_adds_back_a_galera_member_removed_when_the_harness_died() {
    let text = heal_adds_back_a_member_removed_at_a_crash(&[
        "--system",
        "galera",
        "--ready-timeout",
        "120",
    ]);
    assert!(text.contains("galera join"), "{text}");
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
        stderr.contains("--nemesis membership")
            && stderr.contains("reference, etcd, zookeeper, galera, rabbitmq and command"),
        "{stderr}"
    );
}

/// Start a membership run of `system`, SIGKILL the harness while a member is removed, and
/// heal the run: `faultline heal` adds the member back through the system's own API (the
/// cluster started again on its data where its nodes died with the harness) before it stops
/// the nodes; nothing is left recorded as removed, and no node process is left.
fn heal_adds_back_a_member_removed_at_a_crash(system: &[&str]) -> String {
    let store = tempfile::tempdir().unwrap();
    let args = [
        system,
        &["--node-count", "3", "--nemesis", "membership"],
        &["--nemesis-interval", "3", "--time-limit", "90"],
        &["--rate", "100", "--seed", "5"],
    ]
    .concat();
    let (run, removed) = killed_while_a_member_is_removed(store.path(), &args, 90);
    let text = heal(&run);
    assert!(
        text.contains(&format!("added {removed} back to the cluster's membership")),
        "{text}"
    );
    assert!(text.contains("; after: n1,n2,n3"), "{text}");
    assert!(
        !run.join("nemesis-state.json").exists(),
        "the ledger still records something"
    );
    let left = wait_gone(&run.display().to_string(), 5);
    assert!(left.is_empty(), "node processes left behind: {left:?}");
    assert_data_wiped(&run, &text);
    text
}

/// On every system with membership, `faultline heal` adds back the member a killed harness
/// had removed, through the system's own API.
#[test]
fn heal_adds_back_a_member_removed_when_the_harness_died_on_every_system() {
    let command = etcd_by_command("");
    let cases: [(&str, Vec<&str>, &str); 4] = [
        // The reference nodes stop with the harness: heal starts them again on their data.
        (
            "reference",
            vec!["--system", "reference"],
            "started n1 again",
        ),
        ("etcd", vec!["--system", "etcd"], "etcd member add"),
        (
            "zookeeper",
            vec!["--system", "zookeeper"],
            "zookeeper reconfig -add",
        ),
        (
            "command",
            command.iter().map(String::as_str).collect(),
            "SCRIPT add",
        ),
    ];
    for (system, args, added_by) in cases {
        let text = heal_adds_back_a_member_removed_at_a_crash(&args);
        assert!(text.contains(added_by), "{system}: {text}");
    }
}
