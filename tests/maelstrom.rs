//! End-to-end: `faultline maelstrom test` runs node programs written against Maelstrom's
//! protocol document only (`tests/maelstrom_nodes/`, Python) with Maelstrom's command lines:
//! a correct node per workload is valid, and each broken one is caught by its checker.

mod common;

use std::path::PathBuf;

use common::*;

fn node(file: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "maelstrom_nodes", file]
        .iter()
        .collect();
    path.display().to_string()
}

/// Run `faultline maelstrom test -w WORKLOAD --bin NODE` with `extra`; its exit code.
fn maelstrom(store: &std::path::Path, workload: &str, bin: &str, extra: &[&str]) -> Option<i32> {
    let bin = node(bin);
    let mut cmd = faultline();
    cmd.args(["maelstrom", "test", "-w", workload, "--bin", &bin])
        .arg("--store")
        .arg(store)
        .args(["--time-limit", "4", "--rate", "40", "--seed", "5"])
        .args(extra);
    let out = cmd.output().expect("run faultline");
    eprintln!(
        "maelstrom {workload} {bin} {extra:?} exited {:?}\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.status.code()
}

/// The correct node is valid and the broken one invalid.
fn judged(workload: &str, correct: &str, broken: &str, extra: &[&str]) {
    let store = tempfile::tempdir().unwrap();
    assert_eq!(
        maelstrom(store.path(), workload, correct, extra),
        Some(0),
        "{correct}"
    );
    let run = latest_run(store.path());
    let results = results(&run);
    assert!(results["counts"]["ok"].as_u64().unwrap() > 50, "{results}");
    assert!(run.join("index.html").exists() && run.join("nodes/n1/node.log").exists());
    assert_eq!(
        maelstrom(store.path(), workload, broken, extra),
        Some(1),
        "{broken}"
    );
}

#[test]
fn echo() {
    judged("echo", "echo.py", "echo_wrong.py", &["--node-count", "2"]);
}

#[test]
fn unique_ids() {
    judged(
        "unique-ids",
        "unique_ids.py",
        "unique_ids_clash.py",
        &["--node-count", "3"],
    );
}

#[test]
fn broadcast_under_partitions_with_latency() {
    judged(
        "broadcast",
        "broadcast.py",
        "broadcast_no_relay.py",
        &[
            "--node-count",
            "5",
            "--latency",
            "10",
            "--latency-dist",
            "uniform",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "1",
            "--topology",
            "line",
        ],
    );
}

#[test]
fn g_set_and_g_counter_on_seq_kv() {
    let store = tempfile::tempdir().unwrap();
    assert_eq!(
        maelstrom(store.path(), "g-set", "g_set.py", &["--node-count", "3"]),
        Some(0)
    );
    judged(
        "g-counter",
        "g_counter.py",
        "g_counter_double.py",
        &["--node-count", "3"],
    );
}

#[test]
fn pn_counter() {
    let store = tempfile::tempdir().unwrap();
    assert_eq!(
        maelstrom(
            store.path(),
            "pn-counter",
            "g_counter.py",
            &["--node-count", "3"]
        ),
        Some(0)
    );
}

#[test]
fn lin_kv_on_the_lin_kv_service_and_a_local_map_caught() {
    judged(
        "lin-kv",
        "lin_kv.py",
        "lin_kv_local.py",
        &["--node-count", "3", "--concurrency", "2n"],
    );
}

#[test]
fn transactions_through_one_node_are_strict_serializable() {
    let store = tempfile::tempdir().unwrap();
    for workload in ["txn-list-append", "txn-rw-register"] {
        assert_eq!(
            maelstrom(
                store.path(),
                workload,
                "txn_single.py",
                &["--node-count", "3"]
            ),
            Some(0),
            "{workload}"
        );
    }
}

#[test]
fn the_net_stats_and_faults_are_in_the_results() {
    let store = tempfile::tempdir().unwrap();
    let code = maelstrom(
        store.path(),
        "g-set",
        "g_set.py",
        &[
            "--node-count",
            "3",
            // Not kill: g_set.py acknowledges an add before it gossips it, so a crash right
            // after the acknowledgement really loses the element (and the checker says so).
            "--nemesis",
            "partition,pause",
            "--nemesis-interval",
            "1",
        ],
    );
    assert_eq!(code, Some(0));
    let results = results(&latest_run(store.path()));
    assert!(
        results["net"]["servers"]["send_count"].as_u64().unwrap() > 0,
        "{results}"
    );
    assert!(
        results["net"]["msgs_per_op"].as_f64().is_some(),
        "{results}"
    );
    assert!(
        results["counts"]["nemesis"].as_u64().unwrap() >= 2,
        "{results}"
    );
}

#[test]
fn bad_input_is_one_line_naming_the_fix() {
    let store = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 3] = [
        (
            &[
                "maelstrom",
                "test",
                "-w",
                "echo",
                "--bin",
                "/nonexistent/node",
            ],
            "not an executable file",
        ),
        (
            &["maelstrom", "test", "-w", "queues", "--bin", "/bin/cat"],
            "unknown workload 'queues'",
        ),
        (
            &[
                "maelstrom",
                "test",
                "-w",
                "echo",
                "--bin",
                "/bin/cat",
                "--topology",
                "ring",
            ],
            "unknown --topology 'ring'",
        ),
    ];
    for (args, expected) in cases {
        let out = faultline()
            .args(args)
            .arg("--store")
            .arg(store.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(254), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
}
