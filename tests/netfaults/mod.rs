//! Helpers for the network and clock fault tests: root checks, Debian packages, and
//! reading fault intervals and per-node ops out of a history.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Whether the tests run as root (CI does).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        .unwrap_or(false)
}

/// Fail with a clear message unless root; install the Debian packages the faults need.
pub fn require_root_with_tools() {
    assert!(
        is_root(),
        "this test drives network namespaces, iptables and tc: run it as root (CI does)"
    );
    let mut missing = Vec::new();
    for (tool, package) in [
        ("/usr/sbin/iptables", "iptables"),
        ("/usr/sbin/ip", "iproute2"),
        ("/usr/sbin/tc", "iproute2"),
        (
            "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
            "libfaketime",
        ),
    ] {
        if !Path::new(tool).exists() && !missing.contains(&package) {
            missing.push(package);
        }
    }
    if !missing.is_empty() {
        let _ = Command::new("apt-get").args(["update", "-qq"]).status();
        let status = Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .expect("run apt-get");
        assert!(status.success(), "cannot install {missing:?}");
    }
}

/// `[start, end)` times (ns) of applied `start-F` ... `stop-F` intervals, with the value of
/// the applied start.
pub fn fault_intervals(ops: &[Value], fault: &str) -> Vec<(u64, u64, Value)> {
    let mut out = Vec::new();
    let mut open: Option<(u64, Value)> = None;
    for op in ops.iter().filter(|o| o["process"] == "nemesis") {
        let t = op["time"].as_u64().unwrap();
        if op["f"] == format!("start-{fault}")
            && op["type"] == "info"
            && op.get("error").is_none_or(Value::is_null)
        {
            open = Some((t, op["value"].clone()));
        }
        if op["f"] == format!("stop-{fault}") && op["type"] == "invoke" {
            if let Some((start, value)) = open.take() {
                out.push((start, t, value));
            }
        }
    }
    out
}

/// The node a client process talked to: worker `p % concurrency` is bound to node
/// `worker % nodes` (1-based name).
pub fn node_of(process: u64, concurrency: u64, nodes: u64) -> String {
    format!("n{}", (process % concurrency) % nodes + 1)
}

/// Completions (ok/fail/info) of client writes and cas ops invoked and completed inside
/// `[start, end)`, with the node each went to.
pub fn writes_within(
    ops: &[Value],
    start: u64,
    end: u64,
    concurrency: u64,
    nodes: u64,
) -> Vec<(String, String)> {
    let mut invoked = std::collections::HashMap::new();
    let mut out = Vec::new();
    for op in ops.iter().filter(|o| o["process"].is_u64()) {
        let p = op["process"].as_u64().unwrap();
        let t = op["time"].as_u64().unwrap();
        if op["f"] != "write" && op["f"] != "cas" {
            continue;
        }
        if op["type"] == "invoke" {
            invoked.insert(p, t);
        } else if let Some(at) = invoked.remove(&p) {
            if at >= start && t < end {
                out.push((
                    node_of(p, concurrency, nodes),
                    op["type"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    out
}

/// Latencies (ms) of client ops, by completion (ok, fail and info alike: a slow link slows
/// every answer): those invoked and completed inside one of `intervals`, and those invoked
/// well clear of every interval (from 3 s after its end), i.e. after heal.
pub fn latencies_during_and_after(
    ops: &[Value],
    intervals: &[(u64, u64, Value)],
) -> (Vec<f64>, Vec<f64>) {
    let mut invoked = std::collections::HashMap::new();
    let (mut during, mut after) = (Vec::new(), Vec::new());
    for op in ops.iter().filter(|o| o["process"].is_u64()) {
        let p = op["process"].as_u64().unwrap();
        let t = op["time"].as_u64().unwrap();
        if op["type"] == "invoke" {
            invoked.insert(p, t);
        } else if let Some(at) = invoked.remove(&p) {
            let ms = (t - at) as f64 / 1e6;
            if intervals.iter().any(|(s, e, _)| at >= *s && t < *e) {
                during.push(ms);
            } else if intervals
                .iter()
                .all(|(s, e, _)| at + 500_000_000 < *s || at > e + 3_000_000_000)
            {
                after.push(ms);
            }
        }
    }
    (during, after)
}

/// The median of `values` (NaN when empty).
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Whether this kernel has the netem qdisc (some VM kernels are built without it).
pub fn kernel_has_netem() -> bool {
    let ns = format!("flprobe{}", std::process::id());
    let _ = Command::new("ip").args(["netns", "add", &ns]).status();
    let ok = Command::new("ip")
        .args([
            "netns", "exec", &ns, "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay",
            "1ms",
        ])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let _ = Command::new("ip").args(["netns", "del", &ns]).status();
    ok
}

/// A command running the faultline binary as user `nobody` (no privilege at all), with a
/// store folder it may write.
pub fn faultline_as_nobody(store: &Path) -> Command {
    let status = Command::new("chown")
        .args(["-R", "nobody:nogroup"])
        .arg(store)
        .status()
        .expect("chown");
    assert!(status.success());
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        env!("CARGO_BIN_EXE_faultline"),
    ])
    .current_dir(store)
    .env_remove("FAULTLINE_LOG");
    cmd
}
