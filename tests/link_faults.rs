//! End-to-end: slow and lossy links that really act on this machine, read back from the
//! history. As root the reference cluster's nodes live in namespaces and `--nemesis netem`
//! is carried out by kernel netem where the kernel has it, by the NFQUEUE scheduler and
//! `statistic` drops where it has not; as user `nobody` by the relays' toxics. Each test
//! starts its own cluster, and each checks the mechanism the history names, that completed
//! ops were slow while the fault was applied, and fast again after it was healed.

mod common;
mod netfaults;

use std::path::Path;
use std::process::Command;

use common::*;
use netfaults::*;

/// Run the reference cluster with `--nemesis netem --netem NETEM` (20 s, a fault every 5 s)
/// in a fresh temporary store by `harness` (the faultline binary, as root or as nobody, for
/// that store): the store (kept while it lives) and the run folder.
fn netem_run(
    harness: fn(&Path) -> Command,
    netem: &str,
) -> (tempfile::TempDir, std::path::PathBuf) {
    let store = tempfile::tempdir().unwrap();
    let out = output_shown(
        harness(store.path())
            .args(["test", "--no-progress", "--store"])
            .arg(store.path())
            .args(["--nemesis", "netem", "--netem", netem, "--time-limit", "20"])
            .args(["--nemesis-interval", "5", "--seed", "5"]),
        format_args!("faultline test --netem {netem}"),
    );
    assert!(
        matches!(out.status.code(), Some(0..=2)),
        "the run itself failed"
    );
    let run = latest_run(store.path());
    (store, run)
}

/// The values of a run's applied netem faults, and the median latencies (ms) of the ops
/// completed while one was applied (`during`) and of those well after: enough of each to
/// tell.
fn applied_and_medians(run: &Path, during: &str) -> (Vec<serde_json::Value>, f64, f64) {
    let ops = history(run);
    let intervals = fault_intervals(&ops, "netem");
    assert!(!intervals.is_empty(), "no netem fault was applied");
    let (slow, after) = latencies_during_and_after(&ops, &intervals);
    let (d, a) = (median(&slow), median(&after));
    eprintln!(
        "{} ops during {during}, median {d:.1} ms; {} after, median {a:.1} ms",
        slow.len(),
        after.len()
    );
    assert!(slow.len() >= 10 && after.len() >= 10, "too few ops to tell");
    let values = intervals.into_iter().map(|(_, _, value)| value).collect();
    (values, d, a)
}

fn expected_kernel_mechanism(without_netem: &str) -> &str {
    if kernel_has_netem() {
        "netem"
    } else {
        without_netem
    }
}

#[test]
fn a_200ms_delay_on_all_nodes_slows_completed_ops_until_healed() {
    require_root_with_tools();
    let (_store, run) = netem_run(|_| faultline(), "delay=200ms,on=all");
    let (values, d, a) = applied_and_medians(&run, "the delay");
    let mechanism = expected_kernel_mechanism("nfqueue");
    for value in &values {
        assert_eq!(value["mechanism"], mechanism, "{value}");
        assert_eq!(value["nodes"].as_array().unwrap().len(), 5, "{value}");
    }
    assert!(d >= 200.0, "median {d} ms");
    assert!(a < 100.0, "median after heal {a} ms");
    assert!(!run.join("nemesis-state.json").exists() || ledger_is_empty(&run));
}

fn ledger_is_empty(run: &Path) -> bool {
    let text = std::fs::read_to_string(run.join("nemesis-state.json")).unwrap();
    !text.contains("\"links\"") && !text.contains("\"netem\"")
}

#[test]
fn thirty_percent_loss_costs_retransmissions() {
    require_root_with_tools();
    let (_store, run) = netem_run(|_| faultline(), "loss=30%,on=all");
    let (values, d, a) = applied_and_medians(&run, "30% loss");
    let mechanism = expected_kernel_mechanism("statistic");
    assert!(
        values.iter().all(|v| v["mechanism"] == mechanism),
        "{values:?}"
    );
    // A lost segment costs at least one retransmission timeout (200 ms); with 30% loss on
    // every hop most ops lose one.
    assert!(d >= 100.0 && d >= 3.0 * a, "during {d} ms, after {a} ms");
    assert!(a < 100.0, "after heal {a} ms");
}

#[test]
fn without_root_the_relays_carry_the_delay() {
    let (_store, run) = netem_run(faultline_as_nobody, "delay=200ms,jitter=20ms,on=all");
    let test: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("test.json")).unwrap()).unwrap();
    assert!(
        test.to_string().contains("\"relays\""),
        "not a relay run: {test}"
    );
    let (values, d, a) = applied_and_medians(&run, "the delay");
    assert!(values.iter().all(|v| v["mechanism"] == "relays"));
    assert!(d >= 200.0, "median {d} ms");
    assert!(a < 100.0, "median after heal {a} ms");
}
