//! End-to-end against real etcd (Debian's `etcd-server`, installed as root when missing): a
//! 5-member cluster on the local target (one network namespace per member as root) under
//! partitions, kills and pauses is valid with linearizable
//! reads and found invalid (a stale read, named in the result) with serializable reads; and
//! the harness's failures (a missing binary, a member that cannot bind its peer port) are
//! exit-255 errors naming the node and its log, with every started process stopped.

mod common;

use std::net::TcpListener;

use common::*;

fn etcd_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--system",
        "etcd",
        "--node-count",
        "5",
        "--nemesis",
        "partition,kill,pause",
        "--nemesis-interval",
        "3",
        "--keys",
        "20",
        "--concurrency",
        "2n",
        "--rate",
        "150",
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn etcd_with_linearizable_reads_under_partitions_kills_and_pauses_is_valid() {
    let store = tempfile::tempdir().unwrap();
    let out = run_test(
        store.path(),
        &etcd_args(&["--time-limit", "30", "--seed", "11"]),
    );
    assert_eq!(out.status.code(), Some(0), "expected valid");
    let run = latest_run(store.path());
    let results = results(&run);
    assert_eq!(results["valid"], true, "{results}");
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert!(
        history.contains("start-partition"),
        "partitions were injected"
    );
    assert!(
        results["counts"]["ok"].as_u64().unwrap() > 300,
        "etcd served: {results}"
    );
    assert!(
        results["counts"]["nemesis"].as_u64().unwrap() >= 4,
        "faults were injected: {results}"
    );
    let log = std::fs::read_to_string(run.join("nodes/n1/node.log")).unwrap();
    assert!(
        log.contains("etcd"),
        "etcd logs to the node log: {log:.300}"
    );
    assert!(
        wait_gone(&run.display().to_string(), 10).is_empty(),
        "every etcd process stopped"
    );
}

#[test]
fn etcd_with_serializable_reads_is_found_serving_stale_reads() {
    let store = tempfile::tempdir().unwrap();
    let out = run_test(
        store.path(),
        &etcd_args(&[
            "--read-consistency",
            "serializable",
            "--time-limit",
            "60",
            "--seed",
            "12",
        ]),
    );
    assert_eq!(out.status.code(), Some(1), "expected invalid");
    let results = results(&latest_run(store.path()));
    assert_eq!(results["valid"], false, "{results}");
    let reasons = results["results"][0]["reasons"].to_string();
    assert!(
        reasons.contains("op #") && reasons.contains("read"),
        "the stale read is named: {reasons}"
    );
}

#[test]
fn a_missing_etcd_binary_is_a_harness_failure_naming_it() {
    let store = tempfile::tempdir().unwrap();
    let mut cmd = faultline();
    let out = cmd
        .env("FAULTLINE_ETCD_BIN", "/nonexistent/etcd")
        .args(["test", "--no-progress", "--store"])
        .arg(store.path())
        .args(["--system", "etcd", "--node-count", "3", "--time-limit", "2"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(255), "{stderr}");
    assert!(
        stderr.contains("/nonexistent/etcd") && stderr.contains("FAULTLINE_ETCD_BIN"),
        "{stderr}"
    );
}

/// A base port whose whole block (3 ports per node) is free, with the first peer port held.
fn base_port_with_n1_peer_port_held(nodes: u16) -> (u16, TcpListener) {
    for _ in 0..50 {
        let held = TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = held.local_addr().unwrap().port();
        let Some(base) = peer.checked_sub(nodes) else {
            continue;
        };
        let others_free = (base..base + 3 * nodes)
            .filter(|&p| p != peer)
            .all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok());
        if others_free {
            return (base, held);
        }
    }
    panic!("no free block of ports found");
}

#[test]
fn a_member_that_cannot_bind_its_peer_port_is_named_with_its_log_and_all_are_stopped() {
    let store = tempfile::tempdir().unwrap();
    let (base, _held) = base_port_with_n1_peer_port_held(3);
    let base = base.to_string();
    let out = run_test(
        store.path(),
        &[
            "--system",
            "etcd",
            "--node-count",
            "3",
            "--base-port",
            &base,
            "--time-limit",
            "5",
            "--ready-timeout",
            "20",
            // On loopback, where the held port clashes (as root, nodes would otherwise get
            // network namespaces of their own).
            "--no-netns",
            "--nemesis",
            "none",
        ],
    );
    assert_eq!(out.status.code(), Some(255));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let run = latest_run(store.path());
    assert!(stderr.contains("n1"), "{stderr}");
    assert!(
        stderr.contains(&run.join("nodes/n1/node.log").display().to_string()),
        "the log to read is named: {stderr}"
    );
    assert!(
        wait_gone(&run.display().to_string(), 10).is_empty(),
        "every started etcd process stopped"
    );
}
