//! End-to-end: the online checker follows the history while the test runs.
//! `--stop-on-anomaly` with `--bug stale-reads` ends the run long before its time limit,
//! after healing, with the anomaly in results.json and the report; a correct cluster runs
//! its whole time limit and records no anomaly.

mod common;

use common::*;

#[test]
fn stop_on_anomaly_ends_a_stale_reads_run_early_after_healing() {
    let store = tempfile::tempdir().unwrap();
    let out = run_test(
        store.path(),
        &[
            STALE_READS_UNDER_PARTITIONS,
            &["--time-limit", "120", "--stop-on-anomaly"],
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(1), "invalid");
    let run = latest_run(store.path());
    let results = results(&run);
    let first = &results["first_anomaly"];
    assert_eq!(
        first["stopped_the_run"],
        serde_json::json!(true),
        "{results}"
    );
    assert!(first["reason"]
        .as_str()
        .unwrap()
        .contains("cannot be linearized"));
    let ran = results["duration_secs"].as_f64().unwrap();
    assert!(ran < 60.0, "the main phase ran {ran:.1} s of 120");
    // Healing happened: the last nemesis op is the heal, and nothing is left in the ledger.
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    let last_nemesis = history
        .lines()
        .rfind(|l| l.contains("\"process\":\"nemesis\""))
        .unwrap_or_default()
        .to_string();
    assert!(last_nemesis.contains("\"heal\""), "{last_nemesis}");
    let page = std::fs::read_to_string(run.join("index.html")).unwrap();
    assert!(page.contains("ended it early (--stop-on-anomaly)"));
}

#[test]
fn a_correct_cluster_runs_its_whole_time_limit_with_no_anomaly() {
    let (_store, run) = valid_run(&[
        "--nemesis",
        "none",
        "--time-limit",
        "6",
        "--ops-per-key",
        "20",
        "--stop-on-anomaly",
    ]);
    let results = results(&run);
    assert!(results.get("first_anomaly").is_none(), "{results}");
    assert!(results["duration_secs"].as_f64().unwrap() >= 5.5);
    // Key by key, as it went: retired keys were checked a last time and forgotten, so the
    // checker held only the keys in use; the final check read the file a batch at a time.
    let online = &results["online"];
    assert_eq!(online["mode"], "by-key", "{online}");
    assert!(online["looks"].as_u64().unwrap() >= 1, "{online}");
    assert!(online["keys_settled"].as_u64().unwrap() >= 1, "{online}");
    let held = online["held_peak"].as_u64().unwrap();
    assert!(held < results["ops"].as_u64().unwrap(), "{online}");
    assert!(online["cpu_per_op_us"].as_f64().unwrap() > 0.0, "{online}");
    assert_eq!(results["checked_by_key"], true, "{results}");
}

/// `faultline bench soak` runs the whole pipeline against the in-process store and prints
/// its figures: memory, online-check CPU per op, and the verdict checked by key.
#[test]
fn bench_soak_prints_memory_online_cost_and_a_valid_verdict() {
    let out = faultline()
        .args(["bench", "soak", "--minutes", "0.1", "--rate", "800"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "rss",
        "memory: peak",
        "online check:",
        "µs CPU per op",
        "checked in",
        "by key, from the file",
        "verdict valid",
    ] {
        assert!(stdout.contains(needle), "{needle}: {stdout}");
    }
    let bad = faultline()
        .args(["bench", "soak", "--minutes", "0"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(254), "bad input");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--minutes"));
}
