//! End-to-end against a real NATS JetStream cluster (Debian's `nats-server`, installed as
//! root when missing), three servers on the local target with a KV bucket replicated on all
//! three: valid under kills and pauses when reads go through the stream leader; and a run
//! with direct gets (any replica answers) under pauses completes and reports whether it saw
//! stale reads (what we observed, with seeds, is in the README).

mod common;

use common::*;

fn nats_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--system",
        "nats",
        "--node-count",
        "3",
        "--nemesis-interval",
        "3",
        "--concurrency",
        "2n",
        "--op-timeout",
        "2",
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn nats_with_leader_reads_under_partitions_kills_and_pauses_is_valid() {
    let store = tempfile::tempdir().unwrap();
    let out = run_test(
        store.path(),
        &nats_args(&[
            "--nemesis",
            "partition,kill,pause",
            "--keys",
            "50",
            "--time-limit",
            "30",
            "--seed",
            "31",
        ]),
    );
    assert_eq!(out.status.code(), Some(0), "expected valid");
    let run = latest_run(store.path());
    let results = results(&run);
    assert_eq!(results["valid"], true, "{results}");
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert!(
        history.contains("start-partition"),
        "partitions were injected"
    );
    assert!(
        results["counts"]["ok"].as_u64().unwrap() > 300,
        "nats served: {results}"
    );
    assert!(
        results["counts"]["nemesis"].as_u64().unwrap() >= 4,
        "{results}"
    );
    assert!(wait_gone(&run.display().to_string(), 10).is_empty());
}

#[test]
fn nats_with_direct_reads_under_pauses_reports_what_it_saw() {
    let store = tempfile::tempdir().unwrap();
    let out = run_test(
        store.path(),
        &nats_args(&[
            "--read-consistency",
            "direct",
            "--nemesis",
            "pause",
            "--time-limit",
            "30",
            "--seed",
            "32",
        ]),
    );
    let code = out.status.code();
    assert!(
        matches!(code, Some(0 | 1)),
        "the run completed with a verdict: {code:?}"
    );
    let results = results(&latest_run(store.path()));
    assert!(results["counts"]["ok"].as_u64().unwrap() > 300, "{results}");
    eprintln!(
        "nats direct reads, seed 32: valid = {}; {}",
        results["valid"], results["results"][0]["reasons"]
    );
    assert_eq!(results["valid"] == false, code == Some(1));
}
