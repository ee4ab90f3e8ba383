//! End-to-end: slow and lossy links that really act on this machine, read back from the
//! history. As root the reference cluster's nodes live in namespaces and `--nemesis netem`
//! is carried out by kernel netem where the kernel has it, by the NFQUEUE scheduler and
//! `statistic` drops where it has not; as user `nobody` by the relays' toxics. Each test
//! starts its own cluster, and each checks the mechanism the history names, that completed
//! ops were slow while the fault was applied, and fast again after it was healed.

mod common;
mod netfaults;

use std::path::Path;

use common::*;
use netfaults::*;

/// Run the reference cluster with `--nemesis netem --netem NETEM` (20 s, a fault every 5 s)
/// as root; returns the run folder.
fn netem_run(store: &Path, netem: &str) -> std::path::PathBuf {
    let out = run_test(
        store,
        &[
            "--nemesis",
            "netem",
            "--netem",
            netem,
            "--time-limit",
            "20",
            "--nemesis-interval",
            "5",
            "--seed",
            "5",
        ],
    );
    assert!(
        matches!(out.status.code(), Some(0..=2)),
        "the run itself failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    latest_run(store)
}

/// The applied netem intervals of a run and the mechanism each names.
fn applied(run: &Path) -> (Vec<serde_json::Value>, Vec<(u64, u64, serde_json::Value)>) {
    let ops = history(run);
    let intervals = fault_intervals(&ops, "netem");
    assert!(!intervals.is_empty(), "no netem fault was applied");
    (ops, intervals)
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
    let store = tempfile::tempdir().unwrap();
    let run = netem_run(store.path(), "delay=200ms,on=all");
    let (ops, intervals) = applied(&run);
    let mechanism = expected_kernel_mechanism("nfqueue");
    for (_, _, value) in &intervals {
        assert_eq!(value["mechanism"], mechanism, "{value}");
        assert_eq!(value["nodes"].as_array().unwrap().len(), 5, "{value}");
    }
    let (during, after) = latencies_during_and_after(&ops, &intervals);
    eprintln!(
        "{} ops during the delay, median {:.1} ms; {} after, median {:.1} ms",
        during.len(),
        median(&during),
        after.len(),
        median(&after)
    );
    assert!(
        during.len() >= 10 && after.len() >= 10,
        "too few ops to tell"
    );
    assert!(median(&during) >= 200.0, "median {} ms", median(&during));
    assert!(
        median(&after) < 100.0,
        "median after heal {} ms",
        median(&after)
    );
    assert!(!run.join("nemesis-state.json").exists() || ledger_is_empty(&run));
}

fn ledger_is_empty(run: &Path) -> bool {
    let text = std::fs::read_to_string(run.join("nemesis-state.json")).unwrap();
    !text.contains("\"links\"") && !text.contains("\"netem\"")
}

#[test]
fn thirty_percent_loss_costs_retransmissions() {
    require_root_with_tools();
    let store = tempfile::tempdir().unwrap();
    let run = netem_run(store.path(), "loss=30%,on=all");
    let (ops, intervals) = applied(&run);
    let mechanism = expected_kernel_mechanism("statistic");
    assert!(
        intervals
            .iter()
            .all(|(_, _, v)| v["mechanism"] == mechanism),
        "{:?}",
        intervals.iter().map(|i| &i.2).collect::<Vec<_>>()
    );
    let (during, after) = latencies_during_and_after(&ops, &intervals);
    let (d, a) = (median(&during), median(&after));
    eprintln!(
        "{} ops during 30% loss, median {d:.1} ms; {} after, median {a:.1} ms",
        during.len(),
        after.len()
    );
    assert!(
        during.len() >= 10 && after.len() >= 10,
        "too few ops to tell"
    );
    // A lost segment costs at least one retransmission timeout (200 ms); with 30% loss on
    // every hop most ops lose one.
    assert!(d >= 100.0 && d >= 3.0 * a, "during {d} ms, after {a} ms");
    assert!(a < 100.0, "after heal {a} ms");
}

#[test]
fn without_root_the_relays_carry_the_delay() {
    let store = tempfile::tempdir().unwrap();
    let out = faultline_as_nobody(store.path())
        .args(["test", "--no-progress", "--store"])
        .arg(store.path())
        .args([
            "--nemesis",
            "netem",
            "--netem",
            "delay=200ms,jitter=20ms,on=all",
            "--time-limit",
            "20",
            "--nemesis-interval",
            "5",
            "--seed",
            "5",
        ])
        .output()
        .unwrap();
    eprintln!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(matches!(out.status.code(), Some(0..=2)));
    let run = latest_run(store.path());
    let test: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("test.json")).unwrap()).unwrap();
    assert!(
        test.to_string().contains("\"relays\""),
        "not a relay run: {test}"
    );
    let (ops, intervals) = applied(&run);
    assert!(intervals.iter().all(|(_, _, v)| v["mechanism"] == "relays"));
    let (during, after) = latencies_during_and_after(&ops, &intervals);
    let (d, a) = (median(&during), median(&after));
    eprintln!(
        "{} ops during the delay, median {d:.1} ms; {} after, median {a:.1} ms",
        during.len(),
        after.len()
    );
    assert!(
        during.len() >= 10 && after.len() >= 10,
        "too few ops to tell"
    );
    assert!(d >= 200.0, "median {d} ms");
    assert!(a < 100.0, "median after heal {a} ms");
}
