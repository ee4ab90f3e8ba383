//! End-to-end partitions of the reference system: as root through network namespaces and
//! iptables, as an ordinary user through relays; the minority stops taking writes while the
//! majority serves, the stale-reads bug is found, and faults that need root are refused
//! with a clear error without it.

mod common;
mod netfaults;

use std::time::Instant;

use common::*;
use netfaults::*;

const GRUDGE: &str = "n1,n2|n3,n4,n5";

/// The options of a 16 s run under the grudge, a partition every 4 s.
fn grudge_run(seed: &str) -> [&str; 10] {
    [
        "--nemesis",
        "partition",
        "--partition-grudge",
        GRUDGE,
        "--nemesis-interval",
        "4",
        "--time-limit",
        "16",
        "--seed",
        seed,
    ]
}

/// The history of `run` under the grudge shows partitions applied `via` (a word of the
/// mechanism), failed or timed-out writes only on the minority n1, n2, and ok writes on the
/// majority.
fn assert_minority_stalls(run: &std::path::Path, via: &str) {
    let ops = history(run);
    let intervals = fault_intervals(&ops, "partition");
    assert!(!intervals.is_empty(), "no partition was applied");
    let mut majority_ok = 0;
    let mut minority_done = 0;
    for (start, end, value) in &intervals {
        assert_eq!(value["shape"], "grudge", "{value}");
        assert!(value["via"].as_str().unwrap().contains(via), "{value}");
        for (node, kind) in writes_within(&ops, *start, *end, 10, 5) {
            if node == "n1" || node == "n2" {
                assert_ne!(
                    kind, "ok",
                    "a write on minority node {node} succeeded during the partition"
                );
                minority_done += 1;
            } else if kind == "ok" {
                majority_ok += 1;
            }
        }
    }
    eprintln!("during partitions: {majority_ok} ok writes on the majority, {minority_done} failed or timed-out writes on the minority");
    assert!(
        majority_ok > 0,
        "the majority served no write during the partitions"
    );
    assert!(
        minority_done > 0,
        "no write on the minority completed (fail/info) during the partitions"
    );
}

#[test]
fn minority_writes_fail_while_the_majority_serves_under_iptables() {
    require_root_with_tools();
    let store = tempfile::tempdir().unwrap();
    let out = run_test(store.path(), &grudge_run("11"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "the correct service under partitions must be valid"
    );
    let run = latest_run(store.path());
    assert_minority_stalls(&run, "iptables");
    assert!(
        netns_of_run_gone(&run),
        "the run's namespaces were not removed"
    );
}

#[test]
fn stale_reads_are_found_under_partitions() {
    require_root_with_tools();
    let started = Instant::now();
    let mut found = 0;
    for seed in 1..=10u64 {
        let store = tempfile::tempdir().unwrap();
        let seed = seed.to_string();
        let out = run_test(
            store.path(),
            &[
                "--bug",
                "stale-reads",
                "--nemesis",
                "partition",
                "--nemesis-interval",
                "1.5",
                "--time-limit",
                "8",
                "--seed",
                &seed,
            ],
        );
        if out.status.code() == Some(1) {
            found += 1;
        }
    }
    eprintln!(
        "stale-reads under partitions found invalid in {found}/10 runs of 8 s ({:?} in all)",
        started.elapsed()
    );
    assert!(found >= 9, "stale reads found in only {found} of 10 runs");
}

#[test]
fn an_ordinary_user_partitions_through_relays() {
    let store = tempfile::tempdir().unwrap();
    // As root the harness itself runs as nobody: no namespaces, no iptables, only relays.
    let mut harness = if is_root() {
        faultline_as_nobody(store.path())
    } else {
        faultline()
    };
    let out = output_shown(
        harness
            .args(["test", "--no-progress", "--store"])
            .arg(store.path())
            .args(grudge_run("12")),
        format_args!("faultline test, partitioning through relays"),
    );
    assert_eq!(out.status.code(), Some(0));
    assert_minority_stalls(&latest_run(store.path()), "relays");
}

#[test]
fn relays_are_used_with_no_netns_and_root_only_faults_are_refused() {
    for (args, needle) in [
        (
            vec!["--nemesis", "netem", "--netem", "slice=64"],
            "toxics of faultline's per-link relays",
        ),
        (
            vec!["--nemesis", "partition", "--partition-grudge", "n1>n9"],
            "n9",
        ),
        (
            vec![
                "--no-netns",
                "--nemesis",
                "partition",
                "--partitioner",
                "iptables",
            ],
            "--partitioner iptables needs",
        ),
        (
            vec!["--nemesis", "clock", "--clock-mode", "real"],
            "--clock-mode real",
        ),
        (
            vec!["--nemesis", "partition", "--partition-grudge", "n1|n9"],
            "n9",
        ),
        (
            vec!["--nemesis", "netem", "--netem", "loss=200%"],
            "0 to 100",
        ),
    ] {
        let (_store, stderr) = failed_run(254, &args);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    // --no-netns as root still partitions, through relays.
    let (_store, run) = valid_run(&[
        "--no-netns",
        "--nemesis",
        "partition",
        "--nemesis-interval",
        "2",
        "--time-limit",
        "6",
        "--seed",
        "3",
    ]);
    let ops = history(&run);
    assert_eq!(fault_intervals(&ops, "partition")[0].2["via"], "relays");
}

/// Whether no namespace named after this run is left.
fn netns_of_run_gone(run: &std::path::Path) -> bool {
    let layout: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("nodes/netns.json")).unwrap()).unwrap();
    let hub = layout["hub"].as_str().unwrap().to_string();
    let list = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    !String::from_utf8_lossy(&list.stdout).contains(hub.trim_end_matches("-hub"))
}
