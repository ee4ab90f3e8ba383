//! End-to-end against a real ZooKeeper ensemble (Debian's `zookeeper`, installed as root
//! when missing), three JVMs on the local target: valid under kills and pauses when every
//! read is preceded by `sync`; and a run with plain `local` reads under pauses completes and
//! reports whether it saw stale reads (ZooKeeper allows them; what we observed, with seeds,
//! is in the README).

mod common;

use common::*;

fn zk_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--system",
        "zookeeper",
        "--node-count",
        "3",
        "--nemesis-interval",
        "3",
        "--concurrency",
        "2n",
        "--op-timeout",
        "2",
        "--ready-timeout",
        "60",
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn zookeeper_with_sync_reads_under_partitions_kills_and_pauses_is_valid() {
    let store = tempfile::tempdir().unwrap();
    let out = run_test(
        store.path(),
        &zk_args(&[
            "--nemesis",
            "partition,kill,pause",
            "--keys",
            "20",
            "--time-limit",
            "30",
            "--seed",
            "21",
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
        "zookeeper served: {results}"
    );
    assert!(
        results["counts"]["nemesis"].as_u64().unwrap() >= 4,
        "{results}"
    );
    let log = std::fs::read_to_string(run.join("nodes/n1/node.log")).unwrap();
    assert!(log.contains("zookeeper"), "the JVM logs to the node log");
    assert!(wait_gone(&run.display().to_string(), 10).is_empty());
}

#[test]
fn zookeeper_with_local_reads_under_pauses_reports_what_it_saw() {
    let store = tempfile::tempdir().unwrap();
    let out = run_test(
        store.path(),
        &zk_args(&[
            "--read-consistency",
            "local",
            "--nemesis",
            "pause",
            "--time-limit",
            "30",
            "--seed",
            "22",
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
        "zookeeper local reads, seed 22: valid = {}; {}",
        results["valid"], results["results"][0]["reasons"]
    );
    assert_eq!(results["valid"] == false, code == Some(1));
}
