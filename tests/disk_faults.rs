//! End-to-end: `--nemesis bitflip,truncate` against the reference cluster. Each fault stops
//! a node, damages its Raft log and starts it again; the history names the file and the
//! offsets (so a run can be reproduced), the run ends in a verdict (never a harness failure),
//! and the damaged node's log says what it made of its file.

mod common;

use common::*;

#[test]
fn bitflips_and_truncations_are_recorded_and_end_in_a_verdict() {
    let finished = finished_run(&[
        "--nemesis",
        "bitflip,truncate",
        "--time-limit",
        "20",
        "--nemesis-interval",
        "3",
        "--seed",
        "4",
    ]);
    let run = &finished.run;
    let code = finished.out.status.code();
    assert!(matches!(code, Some(0..=2)), "not a verdict: {code:?}");
    let ops = history(run);
    let flips = applied(&ops, "start-bitflip");
    let cuts = applied(&ops, "start-truncate");
    assert!(!flips.is_empty() && !cuts.is_empty(), "{flips:?} {cuts:?}");
    for value in flips.iter().chain(&cuts) {
        let file = value["file"].as_str().unwrap();
        let node = value["node"].as_str().unwrap();
        assert!(
            file.contains(&format!("nodes/{node}/data/")) && file.ends_with("raft-log.jsonl"),
            "{value}"
        );
        assert_eq!(value["mechanism"], "file");
        assert!(value["restarted"].is_boolean(), "{value}");
    }
    for value in &flips {
        let list = value["flips"].as_array().unwrap();
        assert!((1..=8).contains(&list.len()));
        assert!(list
            .iter()
            .all(|f| f["offset"].is_u64() && f["mask"].as_u64().unwrap().count_ones() == 1));
    }
    for value in &cuts {
        let (from, to) = (
            value["truncated"]["from"].as_u64().unwrap(),
            value["truncated"]["to"].as_u64().unwrap(),
        );
        assert!(to < from && from - to <= 4096, "{value}");
    }
    let results = results(run);
    assert!(
        results["valid"].is_boolean() || results["valid"].is_string(),
        "{results}"
    );
    // Every fault was undone as far as it can be: no node is left down.
    if let Ok(text) = std::fs::read_to_string(run.join("nemesis-state.json")) {
        let ledger: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(ledger["killed"], serde_json::json!([]), "{ledger}");
    }
}
