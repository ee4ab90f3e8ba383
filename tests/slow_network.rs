//! End-to-end: the reference service keeps serving over a slow network. Its Raft timing is
//! etcd's (a 100 ms heartbeat, a 1000–2000 ms election timeout), and a peer RPC may take up
//! to an election timeout, so a 200 ms delay on every node's packets slows ops down without
//! losing the leader: ops succeed while the delay lasts. Bad timing flags are refused in one
//! line.

mod common;
mod netfaults;

use common::*;
use netfaults::*;

#[test]
fn ops_succeed_while_a_200ms_delay_on_every_node_lasts() {
    require_root_with_tools();
    let store = tempfile::tempdir().unwrap();
    // Forwarded writes cross four delayed hops: a client waits 3 s, not the default 1 s.
    let out = run_test(
        store.path(),
        &[
            "--nemesis",
            "netem",
            "--netem",
            "delay=200ms,on=all",
            "--nemesis-interval",
            "10",
            "--time-limit",
            "25",
            "--op-timeout",
            "3",
            "--seed",
            "5",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "expected valid");
    let run = latest_run(store.path());
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("test.json")).unwrap()).unwrap();
    assert_eq!(spec["raft"]["heartbeat_ms"], 100, "{}", spec["raft"]);
    assert_eq!(spec["raft"]["election_ms"], 1000, "{}", spec["raft"]);
    let ops = history(&run);
    let intervals = fault_intervals(&ops, "netem");
    assert!(!intervals.is_empty(), "no delay was applied");
    let (mut ok, mut lost_leader, mut slow) = (0, Vec::new(), Vec::new());
    let mut invoked = std::collections::BTreeMap::new();
    for op in ops.iter().filter(|o| o["process"] != "nemesis") {
        let t = op["time"].as_u64().unwrap();
        if op["type"] == "invoke" {
            invoked.insert(op["process"].to_string(), t);
            continue;
        }
        let Some(start) = invoked.remove(&op["process"].to_string()) else {
            continue;
        };
        if !intervals.iter().any(|(a, b, _)| start >= *a && t <= *b) {
            continue;
        }
        let error = op["error"].as_str().unwrap_or_default();
        if op["type"] == "ok" {
            ok += 1;
            slow.push((t - start) as f64 / 1e6);
        } else if error.contains("leader") {
            lost_leader.push(error.to_string());
        }
    }
    eprintln!(
        "{ok} ops ok inside the delay, median {:.0} ms; {} lost a leader",
        median(&slow),
        lost_leader.len()
    );
    assert!(ok >= 10, "only {ok} ops succeeded while the delay lasted");
    assert!(median(&slow) >= 200.0, "the delay did not act: {slow:?}");
    assert!(
        lost_leader.is_empty(),
        "the leader was lost: {lost_leader:?}"
    );
}

#[test]
fn bad_raft_timing_is_refused_in_one_line_naming_the_fix() {
    let store = tempfile::tempdir().unwrap();
    for (args, says) in [
        (
            &["--raft-heartbeat", "300ms"][..],
            "at least 5 × --raft-heartbeat",
        ),
        (&["--raft-election", "soon"][..], "give milliseconds"),
        (
            &["--system", "etcd", "--raft-heartbeat", "50ms"][..],
            "--system etcd has its own",
        ),
    ] {
        let out = run_test(store.path(), args);
        assert_eq!(out.status.code(), Some(254), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = stderr.trim();
        assert!(line.contains(says), "{args:?}: {line}");
        assert_eq!(line.lines().count(), 1, "{line}");
    }
}
