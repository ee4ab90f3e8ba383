//! `--nemesis membership` on nodes reached over SSH (real sshd processes, one per network
//! namespace, see `sshlab`): the path the docker target takes too. The runs end valid with at
//! least three membership changes and the starting membership.
//!
//! - etcd: a removed member is stopped by its pidfile and restarted as a daemon on a fresh
//!   data directory of the remote node, with `--initial-cluster-state existing`;
//! - RabbitMQ: `rabbitmq-queues delete_member`/`add_member` run over SSH on a node with a
//!   running broker.

mod common;
mod sshlab;

use common::membership::changes_and_views;
use common::*;
use serde_json::json;
use sshlab::Lab;

#[test]
fn etcd_membership_changes_over_ssh_end_valid_with_the_starting_membership() {
    let lab = Lab::start(3);
    let (_store, run) = valid_run(&lab.args(&[
        "--system",
        "etcd",
        "--nemesis",
        "membership",
        "--nemesis-interval",
        "2",
        "--time-limit",
        "18",
        "--rate",
        "50",
        "--seed",
        "5",
    ]));
    let (changes, views) = changes_and_views(&run);
    eprintln!("membership changes: {changes:?}");
    assert!(changes.len() >= 3, "{changes:?}");
    let mut hosts = lab.hosts.clone();
    hosts.sort();
    assert_eq!(views.first(), Some(&json!(hosts)));
    assert_eq!(views.last(), Some(&json!(hosts)), "{views:?}");
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert!(history.contains("/data/rejoin-1"), "a member rejoined");
}

#[test]
fn rabbitmq_queue_membership_changes_over_ssh_end_with_the_starting_members() {
    let lab = Lab::start(3);
    let (_store, run) = valid_run(&lab.args(&[
        "--system",
        "rabbitmq",
        "--workload",
        "queue",
        "--ready-timeout",
        "120",
        "--nemesis",
        "membership",
        "--nemesis-interval",
        "2",
        // Each change starts RabbitMQ's CLI (an Erlang VM) several times; see tests/rabbitmq.rs.
        "--time-limit",
        "180",
        "--rate",
        "50",
        "--seed",
        "5",
    ]));
    let (changes, views) = changes_and_views(&run);
    eprintln!("membership changes: {changes:?}");
    assert!(changes.len() >= 3, "{changes:?}");
    let mut hosts = lab.hosts.clone();
    hosts.sort();
    assert_eq!(views.first(), Some(&json!(hosts)));
    assert_eq!(views.last(), Some(&json!(hosts)), "{views:?}");
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert!(history.contains(r#""mechanism":"rabbitmq-queues delete_member""#));
    assert!(history.contains(r#""mechanism":"rabbitmq-queues add_member""#));
}

/// SIGKILL the harness of an etcd membership run over SSH while a member is removed:
/// `faultline heal` reconnects, heals the network, adds the member back through etcd's API
/// (the daemons outlived the harness), then stops every daemon and wipes the nodes' data.
#[test]
fn heal_over_ssh_adds_back_a_member_removed_when_the_harness_died() {
    let lab = Lab::start(3);
    let store = tempfile::tempdir().unwrap();
    let mut child = background_test(store.path())
        .args(lab.args(&[
            "--system",
            "etcd",
            "--nemesis",
            "membership",
            "--nemesis-interval",
            "3",
            "--time-limit",
            "90",
            "--rate",
            "50",
            "--seed",
            "5",
        ]))
        .spawn()
        .unwrap();
    kill_when(&mut child, 90, "a member removed", || {
        std::fs::canonicalize(store.path().join("latest"))
            .is_ok_and(|run| common::membership::a_member_is_removed(&run))
    });
    let run = latest_run(store.path());
    let ledger: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("nemesis-state.json")).unwrap()).unwrap();
    let removed = ledger["removed_members"][0].as_str().unwrap().to_string();
    assert!(
        !lab.daemons().is_empty(),
        "the daemons outlived the harness"
    );
    let text = heal(&run);
    assert!(
        text.contains(&format!("added {removed} back to the cluster's membership"))
            && text.contains("etcd member add"),
        "{text}"
    );
    let mut hosts = lab.hosts.clone();
    hosts.sort();
    assert!(
        text.contains(&format!("; after: {}", hosts.join(","))),
        "{text}"
    );
    assert!(
        !run.join("nemesis-state.json").exists(),
        "the ledger is left"
    );
    assert!(lab.daemons().is_empty(), "heal left: {:?}", lab.daemons());
    for host in &lab.hosts {
        assert!(
            text.contains(&format!("wiped the data of {host}")),
            "{text}"
        );
    }
}
