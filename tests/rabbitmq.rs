//! End-to-end: `--system rabbitmq` (Debian's `rabbitmq-server`, quorum queues) on the local
//! target, as root (each broker in a network namespace of its own, with its own epmd):
//!
//! - the `queue` workload under kills, pauses and partitions ends decided, every queue
//!   drained, each fault applied;
//! - `--nemesis membership` removes a node's replica of the quorum queues and adds it back
//!   at least three times in 60 s and ends with the membership it started with;
//! - after a SIGKILL of the harness while a member was removed, `faultline heal` adds it
//!   back, then ends every broker (`beam.smp`) and the port mappers (`epmd`) the brokers
//!   started, and removes their namespaces;
//! - the system refuses the workloads it cannot run, in one line.

mod common;

use common::membership::{
    assert_membership_changed_and_restored, killed_while_a_member_is_removed, RABBITMQ_MEMBERSHIP,
};
use common::*;

/// Three nodes of `--system rabbitmq --workload queue`, given time to boot Erlang beside
/// other tests on a 2-core machine.
const RABBITMQ: &[&str] = &[
    "--system",
    "rabbitmq",
    "--workload",
    "queue",
    "--node-count",
    "3",
    "--ready-timeout",
    "120",
];

/// `args` after [`RABBITMQ`].
fn rabbitmq(args: &[&str]) -> Vec<String> {
    RABBITMQ.iter().chain(args).map(|s| s.to_string()).collect()
}

#[test]
fn rabbitmq_queue_under_kill_pause_partition_ends_decided_and_drained() {
    let (_dir, schedule) = temp_file("faults.json", KILL_PAUSE_PARTITION_60S);
    let schedule = schedule.display().to_string();
    let args = rabbitmq(&[
        "--nemesis-schedule",
        &schedule,
        "--time-limit",
        "60",
        "--seed",
        "3",
    ]);
    let done = finished_run(&args);
    let results = done.results();
    assert_decided(done.out.status.code(), &results, "rabbitmq queue");
    let text = serde_json::to_string(&results).unwrap();
    assert!(text.contains("total-queue"), "{text:.500}");
    let ops = history(&done.run);
    for fault in ["start-kill", "start-pause", "start-partition"] {
        assert!(!applied(&ops, fault).is_empty(), "no {fault} was applied");
    }
    // Every queue was drained after healing, and the workers did enqueue and dequeue.
    let drained: Vec<_> = ops
        .iter()
        .filter(|o| o["f"] == "drain" && o["type"] == "ok")
        .collect();
    assert!(!drained.is_empty(), "no drain completed");
    for f in ["enqueue", "dequeue"] {
        let ok = ops.iter().filter(|o| o["f"] == f && o["type"] == "ok");
        assert!(ok.count() > 50, "too few {f} ok");
    }
    // A partition cut the brokers' Erlang distribution with iptables in their namespaces.
    let history = std::fs::read_to_string(done.run.join("history.jsonl")).unwrap();
    assert!(history.contains("packet filter"), "partitions by iptables");
    // Nothing of the run is left running.
    let left = wait_gone(&done.run.display().to_string(), 10);
    assert!(left.is_empty(), "broker processes left behind: {left:?}");
}

#[test]
fn rabbitmq_queue_membership_changes_end_with_the_starting_members() {
    let args = [
        RABBITMQ_MEMBERSHIP,
        &["--node-count", "3", "--time-limit", "180"],
    ]
    .concat();
    let (_store, run) = valid_run(&args);
    assert_membership_changed_and_restored(&run, 3);
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert!(history.contains(r#""mechanism":"rabbitmq-queues delete_member""#));
    assert!(history.contains(r#""mechanism":"rabbitmq-queues add_member""#));
}

/// The pids of the `epmd` processes in the network namespace of each of `brokers`.
fn port_mappers_beside(brokers: &[u32]) -> Vec<u32> {
    let net = |pid: u32| std::fs::read_link(format!("/proc/{pid}/ns/net")).ok();
    let namespaces: Vec<_> = brokers.iter().filter_map(|&p| net(p)).collect();
    processes_whose("comm", |comm| comm.trim() == "epmd")
        .into_iter()
        .filter(|&p| process_state(p) != Some('Z'))
        .filter(|&p| net(p).is_some_and(|ns| namespaces.contains(&ns)))
        .collect()
}

#[test]
fn rabbitmq_heal_after_sigkill_adds_the_member_back_and_ends_brokers_and_epmd() {
    let store = tempfile::tempdir().unwrap();
    // The first removal came after more than 180 s once, at the start of a CI run.
    let args = [
        RABBITMQ_MEMBERSHIP,
        &["--node-count", "3", "--time-limit", "400"],
    ]
    .concat();
    let (run, removed) = killed_while_a_member_is_removed(store.path(), &args, 400);
    let marker = run.display().to_string();
    // The brokers outlive the harness, each with its port mapper.
    let brokers: Vec<u32> = processes_mentioning(&marker)
        .into_iter()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "beam.smp")
        })
        .collect();
    assert_eq!(brokers.len(), 3, "three brokers run on: {brokers:?}");
    let mappers = port_mappers_beside(&brokers);
    assert_eq!(mappers.len(), 3, "an epmd in each broker's namespace");

    let text = heal(&run);
    assert!(
        text.contains(&format!("added {removed} back to the cluster's membership"))
            && text.contains("rabbitmq-queues add_member"),
        "{text}"
    );
    assert!(text.contains("; after: n1,n2,n3"), "{text}");
    assert!(
        !run.join("nemesis-state.json").exists(),
        "the ledger is left"
    );
    let left = wait_gone(&marker, 10);
    assert!(left.is_empty(), "brokers left behind: {left:?}");
    assert_data_wiped(&run, &text);
    let mappers_left: Vec<u32> = mappers
        .into_iter()
        .filter(|&p| process_state(p).is_some_and(|s| s != 'Z'))
        .collect();
    assert!(
        mappers_left.is_empty(),
        "epmd left behind: {mappers_left:?}"
    );
    let layout: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("nodes/netns.json")).unwrap()).unwrap();
    let namespaces = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    let namespaces = String::from_utf8_lossy(&namespaces.stdout);
    assert!(
        !namespaces.contains(layout["hub"].as_str().unwrap()),
        "{namespaces}"
    );
}

#[test]
fn rabbitmq_refuses_workloads_other_than_queue_in_one_line() {
    let (_store, stderr) = failed_run(
        254,
        &[
            "--system",
            "rabbitmq",
            "--workload",
            "register",
            "--time-limit",
            "5",
        ],
    );
    let line = stderr.trim();
    assert!(
        line.contains("--system rabbitmq: it runs only --workload queue")
            && line.lines().count() == 1,
        "{stderr}"
    );
}
