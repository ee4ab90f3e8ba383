//! `faultline heal [RUN_DIR]`: undo everything a run left behind after the harness itself
//! was killed. A fresh process, so it rebuilds what it needs from the run folder: the node
//! list and namespaces from `nodes/netns.json`, the clock files under `nodes/<node>/`, the
//! pids from `nodes/pids.json`, the faults from `nemesis-state.json`. Then, in order:
//! stop the node processes (SIGCONT, then SIGKILL: nothing stays stopped), unmount their
//! lazyfs mounts and stop those servers (`nodes/lazyfs.json`), remove
//! faultline's iptables chains (partitions, and the NFQUEUE and statistic rules of link
//! faults) and its netem and tbf qdiscs on every node still recorded (a relay's toxics and
//! an NFQUEUE scheduler died with the harness; with `--queue-bypass` a queue without its
//! scheduler let packets through meanwhile), reset skewed
//! clocks, and remove the namespaces and bridge. Members the `membership` nemesis had removed
//! are added back first, on every target, once the network is healed and before the nodes
//! are stopped (see [`crate::heal_members`]). Healing is idempotent and reports what it
//! undid. A run over SSH (or the docker cluster) is healed through a fresh SSH connection to
//! its nodes, with the settings `test.json` recorded: its daemons are stopped, then the
//! lazyfs mounts its node folders record (`lazyfs.pid`) are unmounted, and skewed clocks are
//! reset in the nodes' own offset files (`REMOTE_DIR/NODE/faketime`). Last, with every node
//! stopped, each node's data folder is removed (over SSH once its log is fetched into the
//! run folder, `nodes/<node>/node.log`), unless `--keep-data` asks to keep it.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Result;
use faultline_nemeses::clock::{Clock, FaketimeClock};
use faultline_nemeses::control::Control;
use faultline_nemeses::iptables::PacketFilter;
use faultline_nemeses::ledger::Ledger;
use faultline_nemeses::nemesis::Outcome;
use faultline_nemeses::recover::{heal_everything, Healers};

use crate::cli::HealArgs;
use crate::run_dir::RunDir;
use crate::targets::cluster;
use crate::targets::local;
use crate::targets::local::exec::LocalControl;
use crate::targets::local::netns::NetnsLayout;

/// Run `faultline heal`.
pub async fn run(args: &HealArgs) -> Result<()> {
    let dir = args
        .run_dir
        .clone()
        .unwrap_or_else(|| args.store.join("latest"));
    let run = RunDir::open(&dir)?;
    let test_json: serde_json::Value = std::fs::read_to_string(run.test_json())
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let ledger_path = run.nemesis_state();
    let removed: Vec<String> = match ledger_path.exists() {
        true => Ledger::load(&ledger_path)
            .map_err(anyhow::Error::msg)?
            .snapshot()
            .removed_members
            .into_iter()
            .collect(),
        false => Vec::new(),
    };
    // The nodes stay up until removed members are added back (once the network is healed).
    let add_back = !removed.is_empty();
    let ssh = cluster::heal_ssh_run(&test_json, add_back).await?;
    let mut undone = match &ssh {
        Some(healed) => {
            let mut undone = healed.undone.clone();
            undone.extend(crate::lazyfs::mounts::heal_leftovers(&run));
            undone
        }
        None if add_back => Vec::new(),
        None => stop_nodes(&run)?,
    };
    let layout = NetnsLayout::load(&run)?;
    if ledger_path.exists() {
        let ledger = Arc::new(Ledger::load(&ledger_path).map_err(anyhow::Error::msg)?);
        // Stopping the node processes undid the process faults.
        let state = ledger.snapshot();
        for node in &state.paused {
            undone.push(format!("resumed and stopped {node} (it was paused)"));
        }
        for node in &state.killed {
            undone.push(format!("{node} was killed; its process is not restarted"));
        }
        ledger
            .update(|s| {
                s.paused.clear();
                s.killed.clear();
                s.removed_members.clear();
            })
            .map_err(anyhow::Error::msg)?;
        let healers = match &ssh {
            Some(healed) => {
                let control = healed.cluster.clone() as Arc<dyn Control>;
                let files = healed
                    .cluster
                    .clock_files()
                    .into_iter()
                    .map(|(node, path)| (node, path.display().to_string()))
                    .collect();
                Healers {
                    process: None,
                    network: Some(cluster::ssh_network(&healed.cluster)),
                    clock: Some(Arc::new(FaketimeClock::new(control.clone(), files))),
                    control: Some(control),
                }
            }
            None => healers(&run, layout.as_ref()),
        };
        for outcome in heal_everything(ledger.clone(), &healers).await {
            undone.push(match outcome {
                Outcome::Applied(value) => format!("undid {value}"),
                Outcome::Skipped(why) => format!("skipped: {why}"),
                Outcome::Indeterminate(why) => format!("could not undo: {why}"),
            });
        }
        if add_back {
            match &ssh {
                Some(healed) => {
                    undone.extend(crate::heal_members::add_back_ssh(healed, &removed).await);
                    undone.extend(crate::targets::ssh::control::heal_nodes(&healed.cluster).await?);
                }
                None => {
                    undone.extend(crate::heal_members::add_back(&run, &test_json, &removed).await);
                    undone.extend(stop_nodes(&run)?);
                }
            }
        }
        let left = ledger.snapshot();
        if left.is_empty() {
            std::fs::remove_file(&ledger_path)?;
        } else {
            for line in left.describe() {
                undone.push(format!("still in effect: {line}"));
            }
        }
    }
    // The nodes are stopped and their mounts gone: their data goes as a run's teardown would
    // take it (remote nodes' logs are fetched into the run folder first).
    match &ssh {
        Some(healed) => {
            healed.cluster.download_logs(&run.path.join("nodes")).await;
            if !args.keep_data {
                undone.extend(healed.cluster.wipe_data().await);
            }
        }
        None if !args.keep_data => undone.extend(wipe_local_data(&run)),
        None => {}
    }
    if let Some(layout) = &layout {
        undone.extend(layout.teardown());
    }
    if let Some(healed) = ssh.as_ref().filter(|healed| healed.docker_down) {
        // The run's own compose project; a run from before projects were per run used the
        // fixed one, `faultline` on 10.215.0.0/24.
        let project = healed
            .docker
            .clone()
            .unwrap_or_else(|| crate::spec::docker::DockerProject {
                project: "faultline".to_string(),
                prefix: "10.215.0".to_string(),
            });
        undone.push(cluster::docker_down(&project)?);
    }
    if undone.is_empty() {
        println!("{}: nothing to heal", run.path.display());
    } else {
        for line in undone {
            println!("{line}");
        }
        println!("{}: healed", run.path.display());
    }
    Ok(())
}

/// Stop a local run's leftover node processes, then their lazyfs mounts (lose-unfsynced).
fn stop_nodes(run: &RunDir) -> Result<Vec<String>> {
    let mut undone = local::stop_leftover_nodes(run)?;
    undone.extend(crate::lazyfs::mounts::heal_leftovers(run));
    Ok(undone)
}

/// Remove the data folder of each node of a local run (as `nodes/cluster.json` placed them,
/// else `nodes/<node>/data`); its logs and configs stay in the run folder.
fn wipe_local_data(run: &RunDir) -> Vec<String> {
    let placed: Option<Vec<crate::systems::NodeSpec>> = std::fs::read_to_string(run.node_specs())
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    let folders: Vec<(String, std::path::PathBuf)> = match placed {
        Some(nodes) => nodes.into_iter().map(|n| (n.name, n.data_dir)).collect(),
        None => node_names(run)
            .into_iter()
            .map(|n| (n.clone(), run.node_dir(&n).join("data")))
            .collect(),
    };
    let mut lines = Vec::new();
    for (node, data) in folders {
        if !data.exists() {
            continue;
        }
        lines.push(match std::fs::remove_dir_all(&data) {
            Ok(()) => format!("wiped the data of {node} ({})", data.display()),
            Err(e) => format!(
                "could not wipe the data of {node} ({}): {e}",
                data.display()
            ),
        });
    }
    lines
}

/// The seams to undo network and clock faults of the run's nodes. Without namespaces the
/// partitions were relays, which died with the harness: they are healed by forgetting them.
fn healers(run: &RunDir, layout: Option<&NetnsLayout>) -> Healers {
    let names: Vec<String> = match layout {
        Some(l) => l.nodes.keys().cloned().collect(),
        None => node_names(run),
    };
    let namespaces = layout.map(NetnsLayout::namespaces);
    let control = Arc::new(LocalControl::new(names.clone(), namespaces));
    let files: BTreeMap<String, String> = names
        .iter()
        .map(|n| (n.clone(), run.node_dir(n).join("faketime")))
        .filter(|(_, path)| path.exists())
        .map(|(n, path)| (n, path.display().to_string()))
        .collect();
    let clock: Arc<dyn Clock> = Arc::new(FaketimeClock::new(control.clone(), files));
    let network: Arc<dyn faultline_nemeses::net::Network> = match layout {
        Some(l) => Arc::new(PacketFilter::new(control.clone(), l.addresses())),
        None => Arc::new(GoneRelays(names)),
    };
    Healers {
        process: None,
        network: Some(network),
        control: Some(control),
        clock: Some(clock),
    }
}

/// The node folders of a run (`nodes/n1`, ...).
fn node_names(run: &RunDir) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(run.path.join("nodes"))
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Relays live inside the harness process: once it is gone, so are their cuts.
struct GoneRelays(Vec<String>);

#[async_trait::async_trait]
impl faultline_nemeses::net::Network for GoneRelays {
    fn nodes(&self) -> Vec<String> {
        self.0.clone()
    }
    fn method(&self) -> String {
        "relays (gone with the harness)".to_string()
    }
    async fn isolate(
        &self,
        node: &str,
        _from: &[String],
    ) -> Result<(), faultline_nemeses::control::ControlError> {
        Err(faultline_nemeses::control::ControlError::unsupported(
            node,
            "partition",
        ))
    }
    async fn heal(&self, _node: &str) -> Result<(), faultline_nemeses::control::ControlError> {
        Ok(())
    }
}
