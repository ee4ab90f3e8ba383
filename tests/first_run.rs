//! End-to-end: the reference cluster under kill and pause faults is found valid, and each
//! deliberate bug is found invalid with the anomalous op named in the result.

mod common;

use common::*;

fn assert_store_complete(run: &std::path::Path) {
    for file in [
        "test.json",
        "history.jsonl",
        "results.json",
        "faultline.log",
        "nodes/n1/node.log",
    ] {
        assert!(
            run.join(file).is_file(),
            "{file} missing in {}",
            run.display()
        );
    }
    let test: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("test.json")).unwrap()).unwrap();
    assert!(test["seed"].is_u64(), "test.json records the seed: {test}");
}

#[test]
fn correct_service_under_kills_and_pauses_is_valid() {
    let valid = run_exiting(
        0,
        "expected valid",
        &[
            "--time-limit",
            "20",
            "--nemesis",
            "kill,pause",
            "--nemesis-interval",
            "2",
            "--seed",
            "1",
        ],
    );
    let (run, stdout) = (&valid.run, valid.stdout());
    assert!(stdout.contains("verdict: valid"), "{stdout}");
    assert!(
        stdout.contains(&run.display().to_string()),
        "the store path is printed"
    );
    assert_store_complete(run);
    let results = results(run);
    assert_eq!(results["valid"], true);
    assert!(
        results["counts"]["ok"].as_u64().unwrap() > 100,
        "the cluster served: {results}"
    );
    assert!(
        results["counts"]["nemesis"].as_u64().unwrap() >= 4,
        "faults were injected: {results}"
    );
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert!(
        history.contains("\"process\":\"nemesis\""),
        "nemesis ops are in the history"
    );
}

/// A 20 s run with `args` (a bug and faults that expose it) ends invalid, and its reasons
/// name an op of the history by index.
fn found_invalid_naming_an_op(args: &[&str]) {
    let (_store, run) = invalid_run(&[args, &["--time-limit", "20"]].concat());
    let results = results(&run);
    assert_eq!(results["valid"], false, "{results}");
    let reasons = results["results"][0]["reasons"].to_string();
    assert!(
        reasons.contains("op #"),
        "the anomalous op is named: {reasons}"
    );
}

#[test]
fn stale_reads_bug_is_found_invalid() {
    // Found in 10 of 10 seeded runs.
    found_invalid_naming_an_op(&[STALE_READS_UNDER_PARTITIONS, &["--seed", "2"]].concat());
}

#[test]
fn lost_writes_bug_with_leader_kills_is_found_invalid() {
    found_invalid_naming_an_op(&[
        "--bug",
        "lost-writes",
        "--nemesis",
        "kill",
        "--nemesis-targets",
        "leader",
        "--nemesis-interval",
        "2",
        "--seed",
        "3",
    ]);
}
