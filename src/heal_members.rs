//! `faultline heal`'s last membership step on the local target: members the `membership`
//! nemesis had removed when the harness died are added back through the system's own API,
//! so the cluster's data on disk ends with the membership the run started with.
//!
//! The harness is gone, so this rebuilds what it needs from the run folder: the nodes as
//! they were placed (`nodes/cluster.json`), the system from `test.json`, the namespaces
//! from `nodes/netns.json`, and how many rejoins each node lived from its files
//! (`data/rejoin-K`, `zoo-rejoin-K.cfg`). Nodes still running (etcd and ZooKeeper outlive
//! the harness) are left as they are; nodes that are gone (the reference service's nodes
//! stop with the harness) are started again on their data. Then each removed member is
//! added back as during a run, and every node heal started is stopped again.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use async_trait::async_trait;
use faultline_nemeses::control::{ControlError, ProcessControl};
use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

use crate::run_dir::RunDir;
use crate::systems::{NodeSpec, System, SystemInputs};
use crate::targets::local::netns::NetnsLayout;
use crate::targets::local::processes::LocalProcesses;
use crate::targets::local::{leftover_nodes, LocalTarget};

/// How long the cluster may take to answer a membership read after heal started it.
const SERVING_TIMEOUT: Duration = Duration::from_secs(40);

/// Add `removed` back to the cluster of the local run in `run`; one line per member.
pub async fn add_back(
    run: &RunDir,
    test_json: &serde_json::Value,
    removed: &[String],
) -> Vec<String> {
    match try_add_back(run, test_json, removed).await {
        Ok(lines) => lines,
        Err(e) => removed
            .iter()
            .map(|node| format!("could not add {node} back to the cluster's membership: {e:#}"))
            .collect(),
    }
}

async fn try_add_back(
    run: &RunDir,
    test_json: &serde_json::Value,
    removed: &[String],
) -> Result<Vec<String>> {
    let path = run.node_specs();
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("the run recorded no nodes ({})", path.display()))?;
    let nodes: Vec<NodeSpec> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a node list", path.display()))?;
    let inputs: SystemInputs =
        serde_json::from_value(test_json.clone()).context("test.json does not name the system")?;
    let system = crate::systems::build_from(&inputs)?;
    for node in &nodes {
        let lives = rejoins_on_disk(node);
        if lives > 0 {
            system.resume_rejoins(node, &nodes, lives);
        }
    }
    // A reference node stops within 250 ms of its harness: what still runs after a second
    // outlived it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let leftovers = leftover_nodes(run)?;
    for pid in leftovers.values() {
        // A paused node would stall the change: nothing stays stopped.
        let _ = signal::kill(Pid::from_raw(*pid as i32), Signal::SIGCONT);
    }
    let layout = NetnsLayout::load(run)?;
    // Left running: its Drop must not tear the namespaces down, the heal does that last.
    let target =
        Arc::new(LocalTarget::new(run, nodes.clone(), system.clone(), true).with_netns(layout));
    let processes = Arc::new(HealProcesses {
        local: LocalProcesses::new(target.clone(), system.clone()),
        leftovers: leftovers.clone(),
    });
    let mut lines = Vec::new();
    for node in nodes.iter().filter(|n| !leftovers.contains_key(&n.name)) {
        match target.start(&node.name) {
            Ok(()) => lines.push(format!(
                "started {} again to change the membership",
                node.name
            )),
            Err(e) => lines.push(format!("could not start {}: {e}", node.name)),
        }
    }
    let outcome = add_members(&system, &nodes, processes, removed).await;
    // Every node heal started is stopped; the leftovers are stopped with the rest of the
    // run's nodes, from the pid table heal's own target overwrote.
    target.stop_all();
    restore_pid_table(run, &leftovers)?;
    lines.extend(outcome);
    Ok(lines)
}

/// Add each of `removed` back once the cluster answers a membership read.
async fn add_members(
    system: &Arc<dyn System>,
    nodes: &[NodeSpec],
    processes: Arc<HealProcesses>,
    removed: &[String],
) -> Vec<String> {
    let Some(membership) = system.membership(nodes, processes, Arc::new(crate::systems::node::LocalShell)) else {
        return vec![format!(
            "the {} system has no membership API",
            system.name()
        )];
    };
    let started = Instant::now();
    let view = loop {
        match membership.members().await {
            Ok(view) => break view,
            Err(e) if started.elapsed() >= SERVING_TIMEOUT => {
                return removed
                    .iter()
                    .map(|n| format!("could not add {n} back: the cluster did not answer ({e})"))
                    .collect()
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    };
    let mut lines = Vec::new();
    for node in removed {
        lines.push(match membership.add(node).await {
            Ok(value) => format!("added {node} back to the cluster's membership: {value}"),
            Err(e) => format!("could not add {node} back to the cluster's membership: {e}"),
        });
    }
    let after = membership
        .members()
        .await
        .map_or_else(|e| e.to_string(), |v| v.join(","));
    lines.push(format!(
        "membership before: {}; after: {after}",
        view.join(",")
    ));
    lines
}

/// How many rejoins `node` lived in its run: the highest `K` of `data/rejoin-K` (etcd, a
/// command system) or `zoo-rejoin-K.cfg` (ZooKeeper) in its folders.
fn rejoins_on_disk(node: &NodeSpec) -> u32 {
    let highest = |dir: &Path, prefix: &str, suffix: &str| {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_prefix(prefix)?
                    .strip_suffix(suffix)?
                    .parse::<u32>()
                    .ok()
            })
            .max()
            .unwrap_or(0)
    };
    highest(&node.data_dir, "rejoin-", "").max(highest(&node.node_dir(), "zoo-rejoin-", ".cfg"))
}

/// Put the leftover processes back in `nodes/pids.json`, so the heal stops them.
fn restore_pid_table(run: &RunDir, leftovers: &BTreeMap<String, u32>) -> Result<()> {
    let path = run.node_pids();
    std::fs::write(&path, serde_json::to_vec(leftovers)?)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The processes of a healed run: heal's own target, which also stops a process the dead
/// harness left running before it starts that node anew.
struct HealProcesses {
    local: LocalProcesses,
    leftovers: BTreeMap<String, u32>,
}

#[async_trait]
impl ProcessControl for HealProcesses {
    fn nodes(&self) -> Vec<String> {
        self.local.nodes()
    }

    async fn kill(&self, node: &str) -> Result<(), ControlError> {
        if let Some(pid) = self.leftovers.get(node) {
            let pid = Pid::from_raw(*pid as i32);
            let _ = signal::kill(pid, Signal::SIGKILL);
            // Its ports are free once it is gone.
            let started = Instant::now();
            while Path::new(&format!("/proc/{pid}/cmdline")).exists()
                && std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
                && started.elapsed() < Duration::from_secs(3)
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        self.local.kill(node).await
    }

    async fn start(&self, node: &str) -> Result<(), ControlError> {
        self.local.start(node).await
    }

    async fn pause(&self, node: &str) -> Result<(), ControlError> {
        self.local.pause(node).await
    }

    async fn resume(&self, node: &str) -> Result<(), ControlError> {
        self.local.resume(node).await
    }

    async fn leader(&self) -> Option<String> {
        self.local.leader().await
    }
}
