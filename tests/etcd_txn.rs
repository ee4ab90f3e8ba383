//! End-to-end transactions against real etcd (Debian's `etcd-server`, installed as root
//! when missing): `--workload append` on a 3-member cluster under kills and pauses runs its
//! txns through etcd's `Txn` API (a snapshot of ranges, then a commit guarded by mod
//! revisions), records lists read and lost races as `fail`, and is strict-serializable;
//! `--workload wr` likewise.

mod common;
mod txn_history;

use common::*;
use txn_history::*;

fn etcd_args<'a>(workload: &'a str, time_limit: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--system",
        "etcd",
        "--workload",
        workload,
        "--node-count",
        "3",
        "--nemesis",
        "kill,pause",
        "--nemesis-interval",
        "3",
        "--time-limit",
        time_limit,
        "--concurrency",
        "2n",
        "--rate",
        "100",
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn append_on_etcd_under_kills_and_pauses_records_txns_and_is_strict_serializable() {
    let store = tempfile::tempdir().unwrap();
    let out = run_test(store.path(), &etcd_args("append", "20", &["--seed", "21"]));
    let run = latest_run(store.path());
    let results = results(&run);
    let ops = strictly_serial_appends(&run, 300);
    // Contention on the hot keys makes some optimistic commits lose their race: `fail`.
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert!(history.contains("lost a race"), "no txn lost a race");
    let long_reads = ops
        .iter()
        .filter(|op| op.kind == "ok")
        .flat_map(|op| op.value.as_array().unwrap().clone())
        .filter(|m| m[0] == "r" && m[2].as_array().is_some_and(|l| l.len() >= 3))
        .count();
    assert!(long_reads > 50, "{long_reads} reads of 3 or more elements");
    assert!(
        results["counts"]["nemesis"].as_u64().unwrap() >= 4,
        "faults were injected: {results}"
    );
    assert_eq!(results["results"][0]["checker"], "elle-list-append");
    assert_eq!(results["valid"], true, "{results}");
    assert_eq!(out.status.code(), Some(0));
    assert!(
        wait_gone(&run.display().to_string(), 10).is_empty(),
        "every etcd process stopped"
    );
}

#[test]
fn wr_on_etcd_is_strict_serializable() {
    let store = tempfile::tempdir().unwrap();
    let out = run_test(store.path(), &etcd_args("wr", "10", &["--seed", "22"]));
    let results = results(&latest_run(store.path()));
    assert!(
        results["counts"]["ok"].as_u64().unwrap() > 150,
        "etcd served txns: {results}"
    );
    assert_eq!(results["results"][0]["checker"], "elle-rw-register");
    assert_eq!(results["valid"], true, "{results}");
    assert_eq!(out.status.code(), Some(0));
}
