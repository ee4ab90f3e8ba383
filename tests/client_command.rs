//! End-to-end: `--client-command`, a client in another language (Python, standard library
//! only, written from the README) driving faultline's own reference nodes over the generic
//! HTTP protocol: a correct client is valid under faults, one that serves reads from its own
//! memory is caught, one that crashes is restarted under a fresh process, and a command the
//! shell cannot find is refused before the run.

mod common;

use std::path::PathBuf;

use common::*;

fn client(args: &str) -> String {
    let script: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "client_commands",
        "http_kv.py",
    ]
    .iter()
    .collect();
    format!("python3 {} {args}", script.display())
}

/// The arguments of a 10 s run of `workload` by the client command `client` under `nemesis`.
fn args(workload: &str, client: &str, nemesis: &str) -> Vec<String> {
    [
        "--workload",
        workload,
        "--client-command",
        client,
        "--nemesis",
        nemesis,
        "--time-limit",
        "10",
        // Python clients on a busy machine (CI runs tests side by side): room to answer.
        "--op-timeout",
        "5",
        "--seed",
        "11",
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn a_correct_client_in_python_is_valid_under_faults() {
    let (_store, run) = valid_run(&args("register", &client(""), "kill,pause"));
    let results = results(&run);
    // The seed may kill every node for most of the 10 s: some ops are enough.
    assert!(results["counts"]["ok"].as_u64().unwrap() > 5, "{results}");
    // One log per client process, and the rerun line names the command.
    assert!(run.join("clients/0.log").exists());
    let test: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("test.json")).unwrap()).unwrap();
    assert!(
        test["rerun"].as_str().unwrap().contains("--client-command"),
        "{test}"
    );
}

#[test]
fn a_python_client_runs_transactions() {
    let (_store, run) = valid_run(&args("append", &client(""), "none"));
    let results = results(&run);
    assert!(results["counts"]["ok"].as_u64().unwrap() > 10, "{results}");
}

/// A run in which no op succeeded judged nothing: `unknown` (exit 2), saying why, never a
/// trivially `valid` empty history.
#[test]
fn a_client_whose_every_op_fails_gives_unknown_not_valid() {
    let refuses = r#"while read -r op; do echo '{"type": "fail", "error": "refused"}'; done"#;
    let mut words = args("register", refuses, "none");
    let limit = words.iter().position(|w| w == "--time-limit").unwrap();
    words[limit + 1] = "3".to_string();
    let done = run_exiting(2, "expected unknown", &words);
    let stdout = done.stdout();
    assert!(stdout.contains("verdict: unknown"), "{stdout}");
    assert!(stdout.contains("no client operation succeeded"), "{stdout}");
    let results = results(&done.run);
    assert_eq!(results["counts"]["ok"], 0, "{results}");
    assert_eq!(results["valid"], "unknown", "{results}");
}

#[test]
fn a_client_serving_reads_from_its_own_memory_is_caught() {
    invalid_run(&args("register", &client("--stale-reads"), "none"));
}

#[test]
fn a_crashing_client_makes_its_op_unknown_and_is_restarted_under_a_fresh_process() {
    // Every 12 ops a client exits: a loaded machine gave each of the ten workers only
    // about 30 ops in the 10 s.
    let (_store, run) = valid_run(&args("register", &client("--crash-every 12"), "none"));
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    let crashed: Vec<&str> = history
        .lines()
        .filter(|l| l.contains("\"type\":\"info\"") && l.contains("exited"))
        .collect();
    assert!(!crashed.is_empty(), "some ops ended with the client's exit");
    // After an info, a worker goes on as a fresh process (its id plus the concurrency, 10),
    // with a fresh client process and log.
    let logs: Vec<u64> = std::fs::read_dir(run.join("clients"))
        .unwrap()
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_suffix(".log")?
                .parse()
                .ok()
        })
        .collect();
    assert!(logs.iter().any(|&p| p >= 10), "fresh processes: {logs:?}");
    let log = std::fs::read_to_string(run.join("clients/0.log")).unwrap();
    assert!(log.contains("crashing on purpose"), "{log}");
}

#[test]
fn a_command_the_shell_cannot_find_is_refused_before_the_run() {
    let (store, stderr) = failed_run(
        254,
        &args("register", "faultline-no-such-client --port 1", "none"),
    );
    assert!(
        stderr.contains("--client-command 'faultline-no-such-client --port 1' cannot start"),
        "{stderr}"
    );
    assert!(!store.path().join("latest").exists(), "no run was started");
}
