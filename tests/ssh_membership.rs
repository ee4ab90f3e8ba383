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

use common::membership::{
    changes_and_views, killed_while_a_member_is_removed, RABBITMQ_MEMBERSHIP,
};
use common::*;
use serde_json::json;
use sshlab::Lab;

/// At least three membership changes in `run`, which started and ended with every node of
/// `lab` (named by their addresses) a member.
fn assert_changed_and_restored(run: &std::path::Path, lab: &Lab) {
    let (changes, views) = changes_and_views(run);
    eprintln!("membership changes: {changes:?}");
    assert!(changes.len() >= 3, "{changes:?}");
    let hosts = json!(sorted_hosts(lab));
    assert_eq!(views.first(), Some(&hosts));
    assert_eq!(views.last(), Some(&hosts), "{views:?}");
}

/// The lab's node names (its addresses) in order.
fn sorted_hosts(lab: &Lab) -> Vec<String> {
    let mut hosts = lab.hosts.clone();
    hosts.sort();
    hosts
}

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
    assert_changed_and_restored(&run, &lab);
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert!(history.contains("/data/rejoin-1"), "a member rejoined");
}

#[test]
fn rabbitmq_queue_membership_changes_over_ssh_end_with_the_starting_members() {
    let lab = Lab::start(3);
    let (_store, run) =
        valid_run(&lab.args(&[RABBITMQ_MEMBERSHIP, &["--time-limit", "180"]].concat()));
    assert_changed_and_restored(&run, &lab);
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
    let args = lab.args(&[
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
    ]);
    let (run, removed) = killed_while_a_member_is_removed(store.path(), &args, 90);
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
    assert!(
        text.contains(&format!("; after: {}", sorted_hosts(&lab).join(","))),
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
