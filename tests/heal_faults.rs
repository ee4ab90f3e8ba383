//! End-to-end: the harness is killed with SIGKILL while a partition, a netem fault, a clock
//! skew, a pause, a disk fault or lazyfs mounts (lose-unfsynced) are in effect;
//! `faultline heal RUN_DIR` then leaves no faultline iptables chain, no netem qdisc, no
//! skewed clock, no stopped process, no FUSE mount or its server, and no namespace of the
//! run.

mod common;
mod netfaults;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use netfaults::*;

/// Start a run with only `nemesis`, wait until a `start-NEMESIS` was applied, SIGKILL it.
fn kill_during(store: &Path, nemesis: &str, extra: &[&str]) -> PathBuf {
    let mut child = background_test(store)
        .args(["--time-limit", "60", "--nemesis", nemesis])
        .args(["--nemesis-interval", "2", "--seed", "21"])
        .args(extra)
        .spawn()
        .unwrap();
    kill_when(
        &mut child,
        60,
        &format!("a {nemesis} fault applied"),
        || {
            let Ok(run) = std::fs::canonicalize(store.join("latest")) else {
                return false;
            };
            if !run.join("history.jsonl").exists() {
                return false;
            }
            let ops = history(&run);
            let last_start = ops.iter().rev().find(|o| {
                o["process"] == "nemesis"
                    && o["type"] == "info"
                    && o["f"]
                        .as_str()
                        .is_some_and(|f| f.starts_with("start-") || f.starts_with("stop-"))
            });
            last_start.is_some_and(|op| {
                // Netem on a kernel without it is attempted (and recorded) but not applied.
                let attempted_netem = nemesis == "netem" && op.to_string().contains("no netem");
                let applied = attempted_netem || op.get("error").is_none_or(|e| e.is_null());
                op["f"] == format!("start-{nemesis}") && applied
            })
        },
    );
    latest_run(store)
}

fn layout(run: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(run.join("nodes/netns.json")).unwrap()).unwrap()
}

fn in_ns(ns: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn namespaces(run: &Path) -> Vec<String> {
    let layout = layout(run);
    let list = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout).into_owned();
    layout["nodes"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n["ns"].as_str().unwrap().to_string())
        .chain([layout["hub"].as_str().unwrap().to_string()])
        .filter(|ns| {
            list.lines()
                .any(|l| l.split_whitespace().next() == Some(ns))
        })
        .collect()
}

/// What of the run's faults is still visible on its nodes.
fn leftovers(run: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for ns in namespaces(run) {
        let rules = in_ns(&ns, &["iptables", "-S"]);
        if rules.contains("FAULTLINE") {
            found.push(format!("{ns}: iptables chain FAULTLINE"));
        }
        for rule in ["NFQUEUE", "statistic"] {
            if rules.contains(rule) {
                found.push(format!("{ns}: {rule} rule"));
            }
        }
        let qdiscs = in_ns(&ns, &["tc", "qdisc", "show"]);
        for kind in ["netem", "tbf"] {
            if qdiscs.contains(&format!("qdisc {kind}")) {
                found.push(format!("{ns}: {kind} qdisc"));
            }
        }
        found.push(format!("{ns}: namespace"));
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    for node in 1..=5 {
        let data = run.join(format!("nodes/n{node}/data"));
        let data = data.to_string_lossy();
        if mountinfo
            .lines()
            .any(|l| l.split(' ').nth(4) == Some(&*data))
        {
            found.push(format!("n{node}: lazyfs mount"));
        }
        let durable = format!("{}/nodes/n{node}/durable", run.display());
        for pid in processes_mentioning(&durable) {
            found.push(format!("n{node}: lazyfs server {pid}"));
        }
        let file = run.join(format!("nodes/n{node}/faketime"));
        if let Ok(text) = std::fs::read_to_string(&file) {
            if text.trim() != "+0" {
                found.push(format!("n{node}: clock file says {}", text.trim()));
            }
        }
    }
    let pids: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("nodes/pids.json")).unwrap()).unwrap();
    for (node, pid) in pids.as_object().unwrap() {
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            let state = stat
                .rsplit(')')
                .next()
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .to_string();
            if state != "Z" {
                found.push(format!("{node}: process {pid} in state {state}"));
            }
        }
    }
    found
}

fn sigkill_then_heal(nemesis: &str, extra: &[&str], visible: &str, reported: &str) {
    let store = tempfile::tempdir().unwrap();
    let run = kill_during(store.path(), nemesis, extra);
    let before = leftovers(&run);
    assert!(
        before.iter().any(|l| l.contains(visible)),
        "{nemesis}: the fault is not visible before heal: {before:?}"
    );
    let report = heal(&run);
    assert!(
        report.contains(reported),
        "{nemesis}: heal does not report {reported:?}"
    );
    let after = leftovers(&run);
    assert!(after.is_empty(), "{nemesis}: left after heal: {after:?}");
    assert_data_wiped(&run, &report);
    assert!(
        !run.join("nemesis-state.json").exists(),
        "the ledger still holds faults"
    );
    assert!(heal(&run).contains("nothing to heal"), "heal is idempotent");
}

#[test]
fn heal_after_sigkill_undoes_a_partition() {
    require_root_with_tools();
    sigkill_then_heal(
        "partition",
        &["--partition-shapes", "halves"],
        "iptables chain FAULTLINE",
        "stop-partition",
    );
}

#[test]
fn heal_after_sigkill_undoes_netem() {
    require_root_with_tools();
    if kernel_has_netem() {
        sigkill_then_heal(
            "netem",
            &["--netem", "delay=20ms,loss=1%"],
            "netem qdisc",
            "stop-netem",
        );
        return;
    }
    // Without netem in the kernel: the NFQUEUE scheduler, statistic drops and tbf act, all
    // recorded in the ledger first; the scheduler dies with the harness (the queue's
    // --queue-bypass lets packets through), and heal removes the rules and the qdisc.
    let store = tempfile::tempdir().unwrap();
    let run = kill_during(
        store.path(),
        "netem",
        &["--netem", "delay=20ms,loss=1%,rate=50mbit"],
    );
    let ledger = std::fs::read_to_string(run.join("nemesis-state.json")).unwrap();
    for mechanism in ["nfqueue", "statistic", "tbf"] {
        assert!(
            ledger.contains(mechanism),
            "{mechanism} not recorded: {ledger}"
        );
    }
    let before = leftovers(&run);
    for visible in ["NFQUEUE rule", "statistic rule", "tbf qdisc"] {
        assert!(
            before.iter().any(|l| l.contains(visible)),
            "{visible} not visible before heal: {before:?}"
        );
    }
    let report = heal(&run);
    assert!(report.contains("stop-netem"), "{report}");
    let after = leftovers(&run);
    assert!(after.is_empty(), "left after heal: {after:?}");
    assert!(!run.join("nemesis-state.json").exists());
    assert!(heal(&run).contains("nothing to heal"));
}

#[test]
fn heal_after_sigkill_undoes_a_one_way_partition() {
    require_root_with_tools();
    let store = tempfile::tempdir().unwrap();
    let run = kill_during(
        store.path(),
        "partition",
        &["--partition-grudge", "n1>n2,n3"],
    );
    let layout = layout(&run);
    let ns = |n: &str| layout["nodes"][n]["ns"].as_str().unwrap().to_string();
    let n1_ip = layout["nodes"]["n1"]["ip"].as_str().unwrap();
    // n2 and n3 drop what n1 sends; n1 drops nothing, and n4 and n5 are untouched.
    for node in ["n2", "n3"] {
        let rules = in_ns(&ns(node), &["iptables", "-S", "FAULTLINE"]);
        assert!(
            rules.contains(&format!("-s {n1_ip}/32 -j DROP")),
            "{node}: {rules}"
        );
    }
    for node in ["n1", "n4", "n5"] {
        let rules = in_ns(&ns(node), &["iptables", "-S"]);
        assert!(!rules.contains("-j DROP"), "{node}: {rules}");
    }
    let ops = history(&run);
    let start = ops
        .iter()
        .rev()
        .find(|o| o["f"] == "start-partition" && o["type"] == "info")
        .unwrap();
    assert_eq!(start["value"]["grudge"]["n2"], serde_json::json!(["n1"]));
    assert!(start["value"]["grudge"].get("n1").is_none(), "{start}");
    heal(&run);
    assert!(leftovers(&run).is_empty());
}

#[test]
fn heal_after_sigkill_of_an_unprivileged_run_forgets_relay_toxics() {
    let store = tempfile::tempdir().unwrap();
    let mut child = faultline_as_nobody(store.path())
        .args([
            "test",
            "--no-progress",
            "--time-limit",
            "60",
            "--nemesis",
            "netem",
        ])
        .args([
            "--netem",
            "delay=100ms",
            "--nemesis-interval",
            "2",
            "--store",
        ])
        .arg(store.path())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // `setpriv` execs faultline: its pid is the harness's.
    kill_when(&mut child, 60, "a relay toxic recorded", || {
        std::fs::canonicalize(store.path().join("latest")).is_ok_and(|run| {
            std::fs::read_to_string(run.join("nemesis-state.json"))
                .is_ok_and(|l| l.contains("relays"))
        })
    });
    let run = latest_run(store.path());
    let out = faultline_as_nobody(store.path())
        .arg("heal")
        .arg(&run)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{report}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success());
    assert!(report.contains("stop-netem"), "{report}");
    assert!(!run.join("nemesis-state.json").exists());
    // The relays lived in the harness: nothing of the run listens any more.
    let pids: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("nodes/pids.json")).unwrap()).unwrap();
    for pid in pids.as_object().unwrap().values() {
        // A SIGKILLed process may take a moment to go.
        let deadline = Instant::now() + Duration::from_secs(5);
        let alive = || {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            !stat.is_empty() && !stat.contains(") Z")
        };
        while alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(!alive(), "node {pid} still runs");
    }
}

#[test]
fn heal_after_sigkill_undoes_a_clock_skew() {
    require_root_with_tools();
    sigkill_then_heal(
        "clock",
        &["--clock-faults", "skew"],
        "clock file says",
        "stop-clock",
    );
}

#[test]
fn heal_after_sigkill_undoes_a_pause() {
    require_root_with_tools();
    sigkill_then_heal(
        "pause",
        &["--nemesis-targets", "minority"],
        "in state T",
        "resumed and stopped",
    );
}

#[test]
fn heal_after_sigkill_unmounts_lazyfs_and_stops_its_servers() {
    require_root_with_tools();
    if std::fs::metadata("/dev/fuse").is_err() {
        assert!(std::env::var_os("CI").is_none(), "CI has /dev/fuse");
        eprintln!("skipped: lazyfs needs /dev/fuse");
        return;
    }
    sigkill_then_heal(
        "lose-unfsynced",
        &["--node-count", "3"],
        "lazyfs mount",
        "unmounted the lazyfs of n1",
    );
}

#[test]
fn heal_after_sigkill_during_disk_faults_leaves_nothing() {
    require_root_with_tools();
    // A damaged file is not undone; what heal must leave is no node process, namespace or
    // ledger entry (a node the harness killed for the damage and did not restart included).
    for nemesis in ["bitflip", "truncate"] {
        sigkill_then_heal(nemesis, &["--node-count", "3"], "namespace", "healed");
    }
}
