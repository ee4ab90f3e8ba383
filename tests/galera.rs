//! End-to-end against MariaDB Galera from Debian (`mariadb-server`, `galera-4`,
//! `mariadb-backup`, `socat`; installed as root when missing): three `mariadbd` nodes that
//! faultline sets up (the first bootstraps, the others join by state transfer), each worker
//! on its own node through a real MySQL driver, for 60 s under kills, pauses and partitions.
//!
//! Every run must end decided (`valid`, or `invalid` naming its anomalies; never `unknown`),
//! with faults injected, many ops acknowledged and no node process left. (Whether the
//! cluster serves again soon after a kill of every node is Galera's business: it restores
//! its primary component by itself, in seconds to tens of seconds here; see the README.) What each run found is printed; the README shows
//! the anomalies MariaDB's `REPEATABLE READ` lets through.

mod common;

use common::*;

/// A 60 s run of `workload` on three galera nodes under kills, pauses and partitions, with
/// `extra` options: the run folder, after checking that it ended decided and real.
fn decided_under_faults(workload: &str, extra: &[&str]) -> Finished {
    let mut args = vec![
        "--system",
        "galera",
        "--workload",
        workload,
        "--node-count",
        "3",
        "--nemesis",
        "kill,pause,partition",
        "--nemesis-interval",
        "4",
        "--time-limit",
        "60",
        "--op-timeout",
        "2",
        // Two SSTs from one donor, beside other tests on a 2-core machine.
        "--ready-timeout",
        "120",
        "--seed",
        "3",
    ];
    args.extend(extra);
    let run = finished_run(&args);
    let results = run.results();
    assert_decided(run.out.status.code(), &results, workload);
    assert!(
        results["counts"]["nemesis"].as_u64().unwrap() >= 6,
        "faults were injected: {results}"
    );
    assert!(
        results["counts"]["ok"].as_u64().unwrap() >= 500,
        "{workload}: too few ops were acknowledged: {results}"
    );
    assert!(
        wait_gone(&run.run.display().to_string(), 15).is_empty(),
        "every mariadbd stopped"
    );
    eprintln!("{workload}: {}", run.stdout());
    run
}

/// The run's `test.json`.
fn test_json(run: &Finished) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(run.run.join("test.json")).unwrap()).unwrap()
}

/// Registers with causal reads (`wsrep_sync_wait = 1`): a single-row read, write or cas is
/// one transaction; a cas that lost a certification conflict is a `fail`.
#[test]
fn galera_register_under_kill_pause_partition_is_decided() {
    let run = decided_under_faults("register", &["--keys", "10"]);
    let test = test_json(&run);
    assert_eq!(
        test["isolation"], "repeatable-read",
        "the isolation is recorded"
    );
}

/// Appends to text columns (`UPDATE … CONCAT`) read in the same transaction, at MariaDB's
/// default `REPEATABLE READ`, checked against the snapshot isolation Galera documents.
#[test]
fn galera_append_under_kill_pause_partition_is_decided() {
    let run = decided_under_faults("append", &[]);
    assert_eq!(run.results()["results"][0]["checker"], "elle-list-append");
    let test = test_json(&run);
    assert_eq!(
        test["consistency_models"],
        serde_json::json!(["snapshot-isolation"])
    );
}

/// Transfers between accounts at `SERIALIZABLE`: the bank checker's totals.
#[test]
fn galera_bank_under_kill_pause_partition_is_decided() {
    let run = decided_under_faults("bank", &["--isolation", "serializable"]);
    assert_eq!(run.results()["results"][0]["checker"], "bank");
}
