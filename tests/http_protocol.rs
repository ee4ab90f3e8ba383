//! End-to-end: the generic HTTP protocol (`--system http --endpoints ...`) driven against
//! reference nodes this test starts itself (`faultline node`), which speak that protocol;
//! and the bad-input and unreachable-endpoint errors of `--system http`.

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

use common::*;

const EXE: &str = env!("CARGO_BIN_EXE_faultline");

/// Reference nodes started by hand, as a user would start their own service; killed on drop.
struct Nodes {
    _dir: tempfile::TempDir,
    ports: BTreeMap<u64, u16>,
    children: Vec<Child>,
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Nodes {
    fn start(n: u64, extra: &[&str]) -> Nodes {
        let dir = tempfile::tempdir().unwrap();
        let ports: BTreeMap<u64, u16> = (1..=n).map(|id| (id, free_port())).collect();
        let mut children = Vec::new();
        for id in 1..=n {
            let log = File::create(dir.path().join(format!("n{id}.log"))).unwrap();
            let mut command = Command::new(EXE);
            command
                .args(["node", "--id", &id.to_string(), "--listen"])
                .arg(format!("127.0.0.1:{}", ports[&id]))
                .arg("--data-dir")
                .arg(dir.path().join(format!("n{id}")))
                .args(extra)
                .stdout(Stdio::null())
                .stderr(log);
            for (peer, port) in ports.iter().filter(|(&p, _)| p != id) {
                command
                    .arg("--peer")
                    .arg(format!("{peer}=127.0.0.1:{port}"));
            }
            if id == 1 {
                command.arg("--bootstrap");
            }
            children.push(command.spawn().unwrap());
        }
        Nodes {
            _dir: dir,
            ports,
            children,
        }
    }

    fn endpoints(&self) -> String {
        self.ports
            .values()
            .map(|p| format!("http://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[test]
fn a_service_speaking_the_protocol_is_driven_and_checked() {
    let nodes = Nodes::start(3, &[]);
    let store = tempfile::tempdir().unwrap();
    let endpoints = nodes.endpoints();
    let out = run_test(
        store.path(),
        &[
            "--system",
            "http",
            "--endpoints",
            &endpoints,
            "--nemesis",
            "none",
            "--time-limit",
            "10",
            "--seed",
            "3",
        ],
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
        test["rerun"].as_str().unwrap().contains(&endpoints),
        "the rerun line keeps the endpoints: {test}"
    );
}

#[test]
fn a_service_that_acknowledges_too_early_is_found_invalid_over_the_protocol() {
    // The reference service's lost-writes bug acknowledges writes before commit and reads
    // miss them in the meantime: the protocol's checker must see that, no faults needed.
    let nodes = Nodes::start(3, &["--bug", "lost-writes"]);
    let store = tempfile::tempdir().unwrap();
    let out = run_test(
        store.path(),
        &[
            "--system",
            "http",
            "--endpoints",
            &nodes.endpoints(),
            "--nemesis",
            "none",
            "--time-limit",
            "10",
            "--seed",
            "4",
        ],
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
