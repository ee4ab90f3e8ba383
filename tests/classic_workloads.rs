//! End to end: Jepsen's classic workloads (set, bank, counter, unique-ids, queue) against the
//! reference cluster under kill, pause and partition faults (valid), with `--bug
//! lost-updates` (invalid, the offending elements named), and against etcd (valid); a
//! workload a system cannot serve is refused before anything starts.

mod common;

use common::{failed_run, latest_run, results, run_test};

const WORKLOADS: [&str; 5] = ["set", "bank", "counter", "unique-ids", "queue"];

/// Run `workload` against `system` and return (exit code, stdout, report html).
fn run(system: &str, workload: &str, extra: &[&str]) -> (Option<i32>, String, String) {
    let store = tempfile::tempdir().unwrap();
    let mut args = vec![
        "--system",
        system,
        "--workload",
        workload,
        "--concurrency",
        "6",
    ];
    args.extend_from_slice(extra);
    let output = run_test(store.path(), &args);
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let run = latest_run(store.path());
    let html = std::fs::read_to_string(run.join("index.html")).unwrap_or_default();
    let results = results(&run);
    assert!(results.is_object(), "{results}");
    (output.status.code(), stdout, html)
}

/// Every classic workload against `system` with `extra` ends valid; each one's report page.
fn every_workload_valid(system: &str, extra: &[&str]) -> Vec<(&'static str, String)> {
    WORKLOADS
        .into_iter()
        .map(|workload| {
            let (code, stdout, html) = run(system, workload, extra);
            assert_eq!(code, Some(0), "{workload} on {system}: {stdout}");
            (workload, html)
        })
        .collect()
}

#[test]
fn every_classic_workload_is_valid_on_the_reference_cluster_under_faults() {
    let extra = [
        "--nemesis",
        "kill,pause,partition",
        "--nemesis-interval",
        "2",
        "--time-limit",
        "8",
    ];
    for (workload, html) in every_workload_valid("reference", &extra) {
        assert!(
            html.contains("<h2 id=\"workload\">"),
            "{workload}: the report has no workload section"
        );
    }
}

#[test]
fn lost_updates_are_caught_by_every_classic_workload_naming_what_broke() {
    let named = [
        ("set", "elements lost"),
        ("bank", "the balances sum to"),
        ("counter", "out of bounds"),
        ("unique-ids", "returned more than once"),
        ("queue", "lost"),
    ];
    for (workload, what) in named {
        let (code, stdout, _) = run(
            "reference",
            workload,
            &[
                "--bug",
                "lost-updates",
                "--nemesis",
                "none",
                "--time-limit",
                "6",
            ],
        );
        assert_eq!(code, Some(1), "{workload}: {stdout}");
        assert!(
            stdout.contains(what),
            "{workload} should say {what:?}: {stdout}"
        );
    }
}

#[test]
fn every_classic_workload_is_valid_against_etcd() {
    every_workload_valid(
        "etcd",
        &[
            "--node-count",
            "3",
            "--nemesis",
            "kill",
            "--time-limit",
            "6",
        ],
    );
}

#[test]
fn a_workload_a_system_cannot_serve_is_refused_naming_the_systems_that_can() {
    let (_store, stderr) = failed_run(
        254,
        &[
            "--system",
            "nats",
            "--workload",
            "bank",
            "--time-limit",
            "5",
        ],
    );
    assert!(
        stderr.contains(
            "the systems that serve bank are reference, etcd, zookeeper, galera and http"
        ),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
}
