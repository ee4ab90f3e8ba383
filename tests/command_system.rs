//! End-to-end: `--system command --db-command SCRIPT --client-command CMD`, a system whose
//! lifecycle and client are the user's own programs: the shell lifecycle and Python client
//! for etcd in `examples/etcd-command/`, written from the README only, test a real etcd
//! cluster under partitions, kills and pauses: linearizable reads end valid, serializable
//! reads invalid. And the bad input of these flags, refused before anything starts.

mod common;

use std::path::PathBuf;

use common::*;

fn example(file: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "examples", "etcd-command", file]
        .iter()
        .collect();
    path.display().to_string()
}

fn etcd_by_command<'a>(client: &'a str, lifecycle: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--system",
        "command",
        "--db-command",
        lifecycle,
        "--client-command",
        client,
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
fn etcd_by_command_with_linearizable_reads_is_valid_under_faults() {
    let store = tempfile::tempdir().unwrap();
    let client = format!("python3 {}", example("client.py"));
    let lifecycle = example("lifecycle.sh");
    let out = run_test(
        store.path(),
        &etcd_by_command(&client, &lifecycle, &["--time-limit", "30", "--seed", "11"]),
    );
    assert_eq!(out.status.code(), Some(0), "expected valid");
    let run = latest_run(store.path());
    let results = results(&run);
    assert!(results["counts"]["ok"].as_u64().unwrap() > 300, "{results}");
    assert!(
        results["counts"]["nemesis"].as_u64().unwrap() >= 4,
        "{results}"
    );
    let log = std::fs::read_to_string(run.join("nodes/n1/node.log")).unwrap();
    assert!(
        log.contains("etcd"),
        "start's output is the node log: {log:.300}"
    );
    assert!(
        wait_gone(&run.display().to_string(), 10).is_empty(),
        "every node started by the script stopped"
    );
}

#[test]
fn etcd_by_command_with_serializable_reads_is_found_serving_stale_reads() {
    let store = tempfile::tempdir().unwrap();
    let client = format!("python3 {} --serializable", example("client.py"));
    let lifecycle = example("lifecycle.sh");
    let out = run_test(
        store.path(),
        &etcd_by_command(&client, &lifecycle, &["--time-limit", "60", "--seed", "12"]),
    );
    assert_eq!(out.status.code(), Some(1), "expected invalid");
}

#[test]
fn the_command_system_refuses_what_cannot_work_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let not_executable = dir.path().join("db.sh");
    std::fs::write(&not_executable, "#!/bin/sh\nexit 0\n").unwrap();
    let not_executable = not_executable.display().to_string();
    let lifecycle = example("lifecycle.sh");
    let cases: [(&[&str], &str); 4] = [
        (
            &["--system", "command", "--client-command", "cat"],
            "--system command needs --db-command SCRIPT",
        ),
        (
            &["--system", "command", "--db-command", &lifecycle],
            "needs --client-command CMD too",
        ),
        (
            &[
                "--system",
                "command",
                "--db-command",
                &not_executable,
                "--client-command",
                "cat",
            ],
            "is not an executable file: chmod +x it",
        ),
        (
            &["--system", "reference", "--db-command", &lifecycle],
            "--db-command is for --system command",
        ),
    ];
    for (args, expected) in cases {
        let store = tempfile::tempdir().unwrap();
        let out = run_test(store.path(), args);
        assert_eq!(out.status.code(), Some(254), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(!store.path().join("latest").exists(), "nothing started");
    }
}
