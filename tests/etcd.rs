//! End-to-end: the harness's own failures with real etcd (Debian's `etcd-server`): a missing
//! binary, a member that cannot bind its peer port. Both are exit-255 errors naming the node
//! and its log, with every started process stopped. etcd's runs under faults are in
//! `tests/systems.rs`.

mod common;

use std::net::TcpListener;

use common::*;

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
    let (base, _held) = base_port_with_n1_peer_port_held(3);
    let base = base.to_string();
    let (store, stderr) = failed_run(
        255,
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
