//! End-to-end: the generic HTTP protocol (`--system http --endpoints ...`) driven against
//! reference nodes this test starts itself (`faultline node`), which speak that protocol;
//! and the bad-input and unreachable-endpoint errors of `--system http`.

mod common;

use common::hand_nodes::{free_port, Nodes};
use common::*;

#[test]
fn a_service_speaking_the_protocol_is_driven_and_checked() {
    let nodes = Nodes::start(3, &[]);
    let store = tempfile::tempdir().unwrap();
    let out = nodes.run_test(
        store.path(),
        &["--nemesis", "none", "--time-limit", "10", "--seed", "3"],
    );
    assert_eq!(out.status.code(), Some(0), "expected valid");
    let run = latest_run(store.path());
    let results = results(&run);
    assert_eq!(results["valid"], true, "{results}");
    let ok = results["counts"]["ok"].as_u64().unwrap();
    assert!(ok > 100, "the service served: {results}");
    let test: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("test.json")).unwrap()).unwrap();
    assert_eq!(test["node_count"], 3, "one node per endpoint: {test}");
    assert!(
        test["rerun"].as_str().unwrap().contains(&nodes.endpoints()),
        "the rerun line keeps the endpoints: {test}"
    );
}

#[test]
fn a_service_that_acknowledges_too_early_is_found_invalid_over_the_protocol() {
    // The reference service's lost-writes bug acknowledges writes before commit and reads
    // miss them in the meantime: the protocol's checker must see that, no faults needed.
    let nodes = Nodes::start(3, &["--bug", "lost-writes"]);
    let store = tempfile::tempdir().unwrap();
    let out = nodes.run_test(
        store.path(),
        &["--nemesis", "none", "--time-limit", "10", "--seed", "4"],
    );
    assert_eq!(out.status.code(), Some(1), "expected invalid");
    assert_eq!(results(&latest_run(store.path()))["valid"], false);
}

#[test]
fn an_endpoint_nobody_answers_is_a_harness_failure_naming_it() {
    let port = free_port();
    let store = tempfile::tempdir().unwrap();
    let out = run_test(
        store.path(),
        &[
            "--system",
            "http",
            "--endpoints",
            &format!("http://127.0.0.1:{port}"),
            "--nemesis",
            "none",
            "--time-limit",
            "2",
            "--ready-timeout",
            "2",
        ],
    );
    assert_eq!(out.status.code(), Some(255));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(stderr.contains("n1"), "{stderr}");
}

#[test]
fn bad_http_options_are_bad_input_listing_what_to_do() {
    let store = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&["--system", "http", "--nemesis", "none"], "--endpoints"),
        (
            &[
                "--system",
                "http",
                "--endpoints",
                "http://127.0.0.1:1",
                "--nemesis",
                "kill",
            ],
            "--nemesis none",
        ),
        (
            &[
                "--system",
                "http",
                "--endpoints",
                "127.0.0.1:1",
                "--nemesis",
                "none",
            ],
            "http://",
        ),
        (
            &["--system", "reference", "--endpoints", "http://127.0.0.1:1"],
            "--system http",
        ),
        (&["--system", "mongodb"], "etcd, zookeeper, nats, http"),
    ];
    for (args, needle) in cases {
        let out = run_test(store.path(), args);
        assert_eq!(out.status.code(), Some(254), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    let out = run_test(
        store.path(),
        &["--system", "etcd", "--read-consistency", "eventual"],
    );
    assert_eq!(out.status.code(), Some(254));
    assert!(String::from_utf8_lossy(&out.stderr).contains("linearizable, serializable"));
    let out = run_test(store.path(), &["--system", "etcd", "--nemesis", "clock"]);
    // `clock` is refused for etcd either by the nemesis list or as a Go binary.
    assert_eq!(out.status.code(), Some(254));
}
