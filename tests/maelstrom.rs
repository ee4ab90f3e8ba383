//! End-to-end: `faultline maelstrom test` runs node programs written against Maelstrom's
//! protocol document only (`tests/maelstrom_nodes/` in Python, `examples/maelstrom-node` in
//! Rust) with Maelstrom's command lines: a correct node per workload is valid, and each
//! broken one is caught by its checker. The report has the network section and the message
//! sequence diagram.

mod common;

use std::path::PathBuf;

use common::*;

fn node(file: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "maelstrom_nodes", file]
        .iter()
        .collect();
    path.display().to_string()
}

/// The Rust node program, `examples/maelstrom-node` (cargo builds examples with the tests).
fn rust_node() -> String {
    let exe = std::env::current_exe().unwrap();
    let debug = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = debug.join("examples").join("maelstrom-node");
    assert!(
        path.is_file(),
        "{} is missing: build it with cargo build --example maelstrom-node",
        path.display()
    );
    path.display().to_string()
}

/// Run `faultline maelstrom test -w WORKLOAD --bin NODE` with `extra` in a fresh temporary
/// store: the store (kept while it lives) and the exit code. `NODE` is a path, or a file of
/// `tests/maelstrom_nodes/` with its arguments (`kafka.py --local`).
fn maelstrom(workload: &str, bin: &str, extra: &[&str]) -> (tempfile::TempDir, Option<i32>) {
    let store = tempfile::tempdir().unwrap();
    let mut words = bin.split_whitespace();
    let bin = words.next().unwrap_or_default();
    let bin = if bin.contains('/') {
        bin.to_string()
    } else {
        node(bin)
    };
    let node_args: Vec<&str> = words.collect();
    let mut cmd = faultline();
    cmd.args(["maelstrom", "test", "-w", workload, "--bin", &bin])
        .arg("--store")
        .arg(store.path())
        .args(["--time-limit", "4", "--rate", "40", "--seed", "5"])
        .args(extra);
    if !node_args.is_empty() {
        cmd.arg("--").args(&node_args);
    }
    let out = output_shown(
        &mut cmd,
        format_args!("maelstrom {workload} {bin} {extra:?}"),
    );
    (store, out.status.code())
}

/// The correct node is valid and the broken one invalid.
fn judged(workload: &str, correct: &str, broken: &str, extra: &[&str]) {
    let (store, code) = maelstrom(workload, correct, extra);
    assert_eq!(code, Some(0), "{correct}");
    let run = latest_run(store.path());
    let results = results(&run);
    assert!(results["counts"]["ok"].as_u64().unwrap() > 50, "{results}");
    assert!(run.join("index.html").exists() && run.join("nodes/n1/node.log").exists());
    assert_eq!(maelstrom(workload, broken, extra).1, Some(1), "{broken}");
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
    judged(
        "g-set",
        "g_set.py",
        "g_set.py --no-gossip",
        &["--node-count", "3"],
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
    judged(
        "pn-counter",
        "g_counter.py",
        "g_counter_double.py",
        &["--node-count", "3"],
    );
}

#[test]
fn kafka_through_one_leader_and_nodes_with_their_own_logs_caught() {
    judged(
        "kafka",
        "kafka.py",
        "kafka.py --local",
        &["--node-count", "3", "--concurrency", "2n"],
    );
}

/// The Rust node program: correct, and with each of its bugs, on the workloads it serves.
#[test]
fn a_rust_node_program_is_judged_like_the_python_ones() {
    let bin = rust_node();
    let faults = ["--nemesis", "partition", "--nemesis-interval", "1"];
    let cases: [(&str, &[&str], &[&str]); 3] = [
        ("broadcast", &[], &["--bug", "no-relay"]),
        (
            "g-counter",
            &["--counter"],
            &["--counter", "--bug", "double-count"],
        ),
        ("kafka", &[], &["--bug", "local-logs"]),
    ];
    for (workload, correct, broken) in cases {
        let run = |bug_args: &[&str]| {
            let mut extra = vec!["--node-count", "3"];
            extra.extend(faults);
            extra.push("--");
            extra.extend(bug_args);
            maelstrom(workload, &bin, &extra).1
        };
        assert_eq!(run(correct), Some(0), "{workload} {correct:?}");
        assert_eq!(run(broken), Some(1), "{workload} {broken:?}");
    }
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
fn transactions_through_one_node_are_strict_serializable_and_local_state_is_caught() {
    for workload in ["txn-list-append", "txn-rw-register"] {
        judged(
            workload,
            "txn_single.py",
            "txn_single.py --local",
            &["--node-count", "3"],
        );
    }
}

#[test]
fn the_net_stats_and_faults_are_in_the_results() {
    let (store, code) = maelstrom(
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
    // The report's network section: the stats and a sequence diagram from net.jsonl.
    let run = latest_run(store.path());
    let journal = std::fs::read_to_string(run.join("net.jsonl")).unwrap();
    assert!(journal.lines().count() > 100, "{journal}");
    assert!(
        journal.contains("\"recv\":null"),
        "a partition dropped some message"
    );
    let page = std::fs::read_to_string(run.join("index.html")).unwrap();
    assert!(page.contains("id=\"network\"") && page.contains("msgs-per-op"));
    assert!(
        page.contains("<svg class=\"messages\""),
        "the sequence diagram"
    );
    assert!(
        page.contains("the first messages of the run"),
        "a valid run"
    );
    // A window chosen afterwards.
    let out = faultline()
        .args(["report"])
        .arg(&run)
        .args(["--messages", "1..1.5"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let page = std::fs::read_to_string(run.join("index.html")).unwrap();
    assert!(
        page.contains("the messages sent between 1.000 s and 1.500 s"),
        "the chosen window"
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

/// Pids of the live processes started with `FAULTLINE_RUN_DIR=run` in their environment.
fn node_processes_of(run: &std::path::Path) -> Vec<u32> {
    let marker = format!("FAULTLINE_RUN_DIR={}", run.display());
    processes_whose("environ", |environ| {
        environ.split('\0').any(|v| v == marker)
    })
    .into_iter()
    .filter(|&pid| process_state(pid) != Some('Z'))
    .collect()
}

#[test]
fn heal_after_sigkill_of_the_harness_ends_every_node_process() {
    let store = tempfile::tempdir().unwrap();
    let bin = node("echo_lingering.py");
    let mut child = faultline()
        .args(["maelstrom", "test", "-w", "echo", "--bin", &bin])
        .arg("--store")
        .arg(store.path())
        .args(["--node-count", "3", "--time-limit", "60", "--rate", "20"])
        .args(["--nemesis", "pause", "--nemesis-interval", "1"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let run = loop {
        let lines = std::fs::canonicalize(store.path().join("latest"))
            .ok()
            .filter(|run| {
                std::fs::read_to_string(run.join("history.jsonl"))
                    .map(|t| t.lines().count() > 40)
                    .unwrap_or(false)
            });
        if let Some(run) = lines {
            break run;
        }
        assert!(std::time::Instant::now() < deadline, "no ops recorded");
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        node_processes_of(&run).len(),
        3,
        "the nodes outlive a SIGKILLed harness"
    );
    let heal = faultline().arg("heal").arg(&run).output().unwrap();
    assert_eq!(heal.status.code(), Some(0), "{heal:?}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !node_processes_of(&run).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "heal left node processes: {:?}",
            node_processes_of(&run)
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
