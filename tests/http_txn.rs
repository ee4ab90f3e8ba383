//! End-to-end: `POST /txn` of the generic HTTP protocol, driven with `--system http
//! --workload append` against reference nodes this test starts itself (`faultline node`), as
//! a user would start their own service: valid when the nodes are correct, invalid when they
//! run with `--bug txn-stale-reads`; and the protocol's answers to txns that cannot apply
//! (409) or are malformed (400), asked directly.

mod common;
mod txn_history;

use std::time::{Duration, Instant};

use common::hand_nodes::Nodes;
use common::*;
use serde_json::{json, Value};
use txn_history::*;

fn run_append(nodes: &Nodes, store: &std::path::Path, seed: &str) -> (Option<i32>, Value) {
    let out = run_test(
        store,
        &nodes.args(&[
            "--nemesis",
            "none",
            "--workload",
            "append",
            "--time-limit",
            "10",
            "--concurrency",
            "9",
            "--rate",
            "150",
            "--seed",
            seed,
        ]),
    );
    (out.status.code(), results(&latest_run(store)))
}

#[test]
fn append_over_the_http_protocol_is_valid_on_correct_nodes() {
    let nodes = Nodes::start(3, &[]);
    let store = tempfile::tempdir().unwrap();
    let (code, results) = run_append(&nodes, store.path(), "41");
    let ops = load(&latest_run(store.path()));
    assert!(check_list_append_shape(&ops) > 300, "{results}");
    assert!(stale_reads(&ops).is_empty());
    assert_eq!(results["results"][0]["checker"], "elle-list-append");
    assert_eq!(results["valid"], true, "{results}");
    assert_eq!(code, Some(0));
}

#[test]
fn append_over_the_http_protocol_finds_the_txn_stale_reads_bug() {
    let nodes = Nodes::start(3, &["--bug", "txn-stale-reads"]);
    let store = tempfile::tempdir().unwrap();
    let (code, results) = run_append(&nodes, store.path(), "42");
    assert_eq!(results["valid"], false, "{results}");
    assert_eq!(code, Some(1));
    let reasons = results["results"][0]["reasons"].to_string();
    assert!(reasons.contains("G"), "an anomaly is named: {reasons}");
}

/// `POST {base}/txn` with `body`: the status and the JSON answer; status 0 when the node
/// cannot be reached (not listening yet).
async fn post_txn(client: &reqwest::Client, base: &str, body: Value) -> (u16, Value) {
    match client.post(format!("{base}/txn")).json(&body).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            (status, response.json().await.unwrap_or(Value::Null))
        }
        Err(e) => (0, json!(e.to_string())),
    }
}

#[tokio::test]
async fn txns_commit_whole_abort_whole_and_malformed_ones_are_refused() {
    let nodes = Nodes::start(3, &[]);
    let bases: Vec<String> = nodes
        .ports
        .values()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    let client = reqwest::Client::new();
    // Wait for a leader: the first txn through any node commits.
    let started = Instant::now();
    loop {
        let (status, body) = post_txn(
            &client,
            &bases[1],
            json!({"ops": [["append", 1, 1], ["w", "x", 7]]}),
        )
        .await;
        if status == 200 {
            assert_eq!(body, json!({"ops": [["append", 1, 1], ["w", "x", 7]]}));
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Reads see the txn's own earlier writes, on any node (forwarded to the leader).
    let (status, body) = post_txn(
        &client,
        &bases[2],
        json!({"ops": [["r", 1, null], ["append", 1, 2], ["r", 1, null], ["r", "x", null], ["r", 9, null]]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"ops": [["r", 1, [1]], ["append", 1, 2], ["r", 1, [1, 2]], ["r", "x", 7], ["r", 9, null]]})
    );
    // An append to a register cannot apply: 409, and the append to key 1 before it is undone.
    let (status, body) = post_txn(
        &client,
        &bases[0],
        json!({"ops": [["append", 1, 3], ["append", "x", 1]]}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("not a list"),
        "{body}"
    );
    let (status, body) = post_txn(&client, &bases[0], json!({"ops": [["r", 1, null]]})).await;
    assert_eq!((status, body), (200, json!({"ops": [["r", 1, [1, 2]]]})));
    // Malformed: 400 (an unknown micro-op, no micro-op), 4xx (not the body's shape).
    let (status, body) = post_txn(&client, &bases[0], json!({"ops": [["cas", 1, 2]]})).await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = post_txn(&client, &bases[0], json!({"ops": []})).await;
    assert_eq!(status, 400);
    let (status, _) = post_txn(&client, &bases[0], json!({"txn": 1})).await;
    assert!((400..500).contains(&status), "{status}");
}
