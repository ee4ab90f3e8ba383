//! End-to-end: bad input gives a one-line error saying what is wrong and what to do, exit
//! code 254 (bad arguments) or 255 (a failure while running), with every node stopped.

mod common;

use common::*;

fn assert_one_line_error(out: &std::process::Output, code: i32, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("faultline:"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line: {stderr}");
    assert!(errors[0].contains(needle), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn unknown_names_are_bad_arguments() {
    let store = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (vec!["--system", "mongo"], "unknown system 'mongo'"),
        (vec!["--workload", "bogus"], "bogus"),
        (vec!["--nemesis", "meteor"], "meteor"),
        (vec!["--bug", "typo"], "typo"),
        (vec!["--concurrency", "lots"], "--concurrency"),
    ] {
        let out = run_test(store.path(), &args);
        assert_one_line_error(&out, 254, needle);
    }
    assert!(!store.path().join("latest").exists(), "nothing ran");
}

#[test]
fn a_port_in_use_is_a_bad_argument() {
    let store = tempfile::tempdir().unwrap();
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let out = run_test(store.path(), &["--base-port", &port, "--node-count", "1"]);
    assert_one_line_error(&out, 254, &format!("port {port}"));
}

#[test]
fn a_node_binary_that_will_not_start_is_a_harness_failure_naming_the_log() {
    let store = tempfile::tempdir().unwrap();
    let out = run_test(
        store.path(),
        &[
            "--node-binary",
            "/bin/false",
            "--node-count",
            "3",
            "--ready-timeout",
            "10",
        ],
    );
    assert_one_line_error(&out, 255, "node.log");
    let run = latest_run(store.path());
    assert!(wait_gone(&run.display().to_string(), 5).is_empty());
}

#[test]
fn check_reports_bad_files_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.jsonl");
    let out = faultline().arg("check").arg(&missing).output().unwrap();
    assert_one_line_error(&out, 254, "nope.jsonl");
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"format\":\"faultline-history\",\"version\":1}\n{\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"value\":1}\n",
    )
    .unwrap();
    let out = faultline().arg("check").arg(&bad).output().unwrap();
    assert_one_line_error(&out, 254, "bad.jsonl");
}

#[test]
fn bad_key_and_memory_options_are_one_line_bad_arguments() {
    let store = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (vec!["--ops-per-key", "0"], "--ops-per-key 0"),
        (vec!["--threads-per-key", "0"], "--threads-per-key 0"),
        (
            vec!["--keys", "5", "--ops-per-key", "100"],
            "--keys 5 gives a fixed key set, and --ops-per-key is for independent keys",
        ),
        (vec!["--memory-limit", "2XB"], "--memory-limit '2XB'"),
    ] {
        let out = run_test(store.path(), &args);
        assert_one_line_error(&out, 254, needle);
    }
    assert!(!store.path().join("latest").exists(), "nothing ran");
    let out = faultline()
        .args(["check", "--memory-limit", "lots", "/nonexistent"])
        .output()
        .unwrap();
    assert_one_line_error(
        &out,
        254,
        "--memory-limit 'lots': no number; give a size such as 512MiB",
    );
}
