//! End-to-end transactions against real ZooKeeper (Debian's `zookeeper`, installed as root
//! when missing): `--workload append` on a 3-server ensemble under kills and pauses runs its
//! txns as reads and one `multi` guarded by the versions read, records lists read and lost
//! races as `fail`, and is strict-serializable.

mod common;
mod txn_history;

use common::*;
use txn_history::*;

#[test]
fn append_on_zookeeper_under_kills_and_pauses_records_txns_and_is_strict_serializable() {
    let store = tempfile::tempdir().unwrap();
    let out = run_test(
        store.path(),
        &[
            "--system",
            "zookeeper",
            "--workload",
            "append",
            "--node-count",
            "3",
            "--nemesis",
            "kill,pause",
            "--nemesis-interval",
            "3",
            "--time-limit",
            "20",
            "--concurrency",
            "2n",
            "--op-timeout",
            "2",
            "--ready-timeout",
            "60",
            "--seed",
            "31",
        ],
    );
    let run = latest_run(store.path());
    let results = results(&run);
    strictly_serial_appends(&run, 200);
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert!(history.contains("lost a race"), "no txn lost a race");
    assert!(
        results["counts"]["nemesis"].as_u64().unwrap() >= 4,
        "faults were injected: {results}"
    );
    assert_eq!(results["results"][0]["checker"], "elle-list-append");
    assert_eq!(results["valid"], true, "{results}");
    assert_eq!(out.status.code(), Some(0));
    assert!(
        wait_gone(&run.display().to_string(), 15).is_empty(),
        "every zookeeper process stopped"
    );
}
