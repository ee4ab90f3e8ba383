//! End-to-end: the generic HTTP protocol (`--system http --endpoints ...`) driven against
//! reference nodes this test starts itself (`faultline node`), which speak that protocol;
//! and the bad-input and unreachable-endpoint errors of `--system http`.

mod common;

use common::hand_nodes::{free_port, Nodes};
use common::*;

#[test]
fn a_service_speaking_the_protocol_is_driven_and_checked() {
    let nodes = Nodes::start(3, &[]);
    let (_store, run) =
        valid_run(&nodes.args(&["--nemesis", "none", "--time-limit", "10", "--seed", "3"]));
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
    let (_store, run) =
        invalid_run(&nodes.args(&["--nemesis", "none", "--time-limit", "10", "--seed", "4"]));
    assert_eq!(results(&run)["valid"], false);
}

#[test]
fn an_endpoint_nobody_answers_is_a_harness_failure_naming_it() {
    let port = free_port();
    let (_store, stderr) = failed_run(
        255,
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
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(stderr.contains("n1"), "{stderr}");
}

#[test]
fn bad_http_options_are_bad_input_listing_what_to_do() {
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
        (
            &["--system", "mongodb"],
            "etcd, zookeeper, nats, galera, rabbitmq, http",
        ),
    ];
    for (args, needle) in cases {
        let (_store, stderr) = failed_run(254, args);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    let (_store, stderr) = failed_run(254, &["--system", "etcd", "--read-consistency", "eventual"]);
    assert!(stderr.contains("linearizable, serializable"), "{stderr}");
    // `clock` is refused for etcd either by the nemesis list or as a Go binary.
    failed_run(254, &["--system", "etcd", "--nemesis", "clock"]);
}
