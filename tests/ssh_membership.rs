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
