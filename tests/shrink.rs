//! End-to-end: `faultline shrink` cuts an invalid run down to a smaller run that still shows
//! its anomaly — at most two faults and a shorter time limit, reproduced in at least 2 of 3
//! reruns — stores every rerun as an ordinary run linked from the original's report, and
//! prints a command that, run again, is invalid.

mod common;

use common::*;

#[test]
fn a_lost_writes_run_shrinks_to_a_small_schedule_that_still_fails() {
    let (_store, original) = invalid_run(&[
        "--bug",
        "lost-writes",
        "--nemesis",
        "kill,partition,pause",
        "--nemesis-interval",
        "2",
        "--time-limit",
        "12",
        "--seed",
        "3",
    ]);
    let shrink = faultline()
        .arg("shrink")
        .arg(&original)
        .args(["--tries", "3", "--min-repro", "2", "--budget", "300"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&shrink.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&shrink.stderr));
    assert_eq!(shrink.status.code(), Some(0), "{stdout}");
    let outcome: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(original.join("shrink.json")).unwrap())
            .unwrap();
    let result = &outcome["result"];
    assert!(result["faults"].as_array().unwrap().len() <= 2, "{result}");
    assert!(result["time_limit"].as_f64().unwrap() < 12.0, "{result}");
    let attempts = outcome["attempts"].as_array().unwrap();
    assert!(!attempts.is_empty());
    for attempt in attempts {
        let run = std::path::Path::new(attempt["run"].as_str().unwrap());
        assert!(run.join("results.json").is_file(), "{attempt}");
    }
    let page = std::fs::read_to_string(original.join("index.html")).unwrap();
    assert!(page.contains("<h2 id=\"shrink\">Shrinking</h2>"));
    // The final command, run again, is invalid.
    let command = shlex::split(outcome["command"].as_str().unwrap()).unwrap();
    assert_eq!(command[0], "faultline");
    let again = tempfile::tempdir().unwrap();
    let rerun = faultline()
        .args(&command[1..])
        .arg("--store")
        .arg(again.path())
        .arg("--no-progress")
        .output()
        .unwrap();
    assert_eq!(
        rerun.status.code(),
        Some(1),
        "the shrunk run is invalid again"
    );
}
