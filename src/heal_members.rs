//! `faultline heal`'s last membership step: members the `membership` nemesis had removed
//! when the harness died are added back through the system's own API, so the cluster ends
//! with the membership the run started with.
//!
//! The harness is gone, so this rebuilds what it needs from the run: the system from
//! `test.json`; on the local target the nodes as they were placed (`nodes/cluster.json`) and
//! the namespaces (`nodes/netns.json`); over SSH (and on the docker cluster) the nodes from
//! the SSH settings, reconnected. How many rejoins each node lived is read from its files
//! (`data/rejoin-K`, `zoo-rejoin-K.cfg`), on the node over SSH. Nodes still running (etcd and
//! ZooKeeper outlive the harness, as every daemon over SSH does) are left as they are; nodes
//! that are gone (the reference service's local nodes stop with the harness) are started
//! again on their data. Then each removed member is added back as during a run; the caller
//! stops every node afterwards.

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
use crate::systems::node::{quote, LocalShell, NodeShell};
use crate::systems::{NodeSpec, System, SystemInputs};
use crate::targets::cluster::HealedSsh;
use crate::targets::local::netns::NetnsLayout;
use crate::targets::local::processes::LocalProcesses;
use crate::targets::local::{leftover_nodes, LocalTarget};
use crate::targets::ssh::control::SshProcesses;

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
    resume_rejoins(&system, &nodes, &LocalShell).await;
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
    let outcome = add_members(&system, &nodes, processes, Arc::new(LocalShell), removed).await;
    // Every node heal started is stopped; the leftovers are stopped with the rest of the
    // run's nodes, from the pid table heal's own target overwrote.
    target.stop_all();
    restore_pid_table(run, &leftovers)?;
    lines.extend(outcome);
    Ok(lines)
}

/// Add `removed` back to the cluster of a run over SSH, reconnected by heal with its daemons
/// left running and its system attached; one line per member, and what heal restarted.
pub async fn add_back_ssh(healed: &HealedSsh, removed: &[String]) -> Vec<String> {
    let Some(system) = healed.system.clone() else {
        return vec!["no system to change the membership with".to_string()];
    };
    let cluster = &healed.cluster;
    let nodes = cluster.nodes().to_vec();
    let shell: Arc<dyn NodeShell> = cluster.clone();
    resume_rejoins(&system, &nodes, &*shell).await;
    // Paused daemons are resumed (a paused node would stall the change), stopped ones
    // started again on their data.
    let mut lines = cluster.heal_all().await;
    let processes = Arc::new(SshProcesses::new(cluster.clone()));
    lines.extend(add_members(&system, &nodes, processes, shell, removed).await);
    lines
}

/// Add each of `removed` back once the cluster answers a membership read.
async fn add_members(
    system: &Arc<dyn System>,
    nodes: &[NodeSpec],
    processes: Arc<dyn ProcessControl>,
    shell: Arc<dyn NodeShell>,
    removed: &[String],
) -> Vec<String> {
    let Some(membership) = system.membership(nodes, processes, shell) else {
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

/// Tell the freshly built `system` how many rejoins each of `nodes` lived in the run, as
/// its files on the node (read through `shell`) show.
async fn resume_rejoins(system: &Arc<dyn System>, nodes: &[NodeSpec], shell: &dyn NodeShell) {
    for node in nodes {
        let data = names_on(shell, node, &node.data_dir).await;
        let lives = rejoins_in(&data, &names_on(shell, node, &node.node_dir()).await);
        if lives > 0 {
            system.resume_rejoins(node, nodes, lives);
        }
    }
}

/// How many rejoins a node lived in its run, from the names in its data folder (`data`) and
/// its node folder (`node`): the highest `K` of `data/rejoin-K` (etcd, a command system) or
/// `zoo-rejoin-K.cfg` (ZooKeeper).
fn rejoins_in(data: &[String], node: &[String]) -> u32 {
    let highest = |names: &[String], prefix: &str, suffix: &str| {
        names
            .iter()
            .filter_map(|name| {
                name.strip_prefix(prefix)?
                    .strip_suffix(suffix)?
                    .parse::<u32>()
                    .ok()
            })
            .max()
            .unwrap_or(0)
    };
    highest(data, "rejoin-", "").max(highest(node, "zoo-rejoin-", ".cfg"))
}

/// The names in the folder `dir` of `node`, through `shell` (none when it cannot be read).
async fn names_on(shell: &dyn NodeShell, node: &NodeSpec, dir: &Path) -> Vec<String> {
    let script = format!(
        "ls -1 {} 2>/dev/null; true",
        quote(&dir.display().to_string())
    );
    shell
        .run_ok(node, &script, Duration::from_secs(15))
        .await
        .map(|out| out.lines().map(str::to_string).collect())
        .unwrap_or_default()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejoins_are_the_highest_numbered_rejoin_folder_or_zookeeper_config() {
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(rejoins_in(&[], &[]), 0);
        let data = names(&["member", "rejoin-1", "rejoin-3", "rejoin-x", "rejoin-2"]);
        assert_eq!(rejoins_in(&data, &[]), 3);
        let node = names(&[
            "zoo.cfg",
            "zoo-rejoin-4.cfg",
            "zoo-rejoin-5.cfg.tmp",
            "node.log",
        ]);
        assert_eq!(rejoins_in(&names(&["rejoin-1"]), &node), 4);
    }
}
