//! The runner's one view of a cluster, whatever the target: local processes, nodes over
//! SSH, or the docker-compose cluster reached over SSH. It creates the cluster from the
//! test spec and forwards the few operations the runner needs (start, wait until ready,
//! fault abilities, heal, stop).
//!
//! It holds no logic of its own beyond choosing; it must never grow target-specific code.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;

use faultline_nemeses::control::{Control, ProcessControl};
use faultline_nemeses::iptables::PacketFilter;
use faultline_nemeses::net::Network;

use crate::run_dir::RunDir;
use crate::spec::TestSpec;
use crate::systems::node::{LocalShell, NodeShell};
use crate::systems::{NodeSpec, System};
use crate::targets::local::processes::LocalProcesses;
use crate::targets::local::LocalTarget;
use crate::targets::ssh::docker::DockerCluster;
use crate::targets::ssh::{SshCluster, SshProcesses};

/// The nodes of one run.
pub enum Cluster {
    /// Processes on this machine.
    Local(Arc<LocalTarget>),
    /// Nodes over SSH; with the docker cluster that holds them, torn down last.
    Ssh {
        /// The nodes.
        cluster: Arc<SshCluster>,
        /// The docker cluster, for `--target docker` (held for its `Drop`).
        #[allow(dead_code)]
        docker: Option<DockerCluster>,
    },
}

impl Cluster {
    /// Lay out (and for SSH: connect to) the nodes of `spec`; the system to run on them.
    pub async fn create(spec: &TestSpec, run: &RunDir) -> Result<(Cluster, Arc<dyn System>)> {
        let Some(ssh) = &spec.ssh else {
            let system = crate::systems::build(spec)?;
            let target = LocalTarget::build(run, spec, system.clone())?;
            return Ok((Cluster::Local(Arc::new(target)), system));
        };
        let docker = if spec.target == "docker" {
            let project = ssh
                .docker
                .clone()
                .context("a docker run's spec names its compose project")?;
            // The image build and the cache's lock wait block: off the async threads.
            Some(tokio::task::block_in_place(|| {
                DockerCluster::up(spec.node_count, spec.leave_running, &project)
            })?)
        } else {
            None
        };
        let cluster = SshCluster::connect(ssh.clone()).await?;
        cluster
            .stop_leftovers()
            .await
            .context("cannot stop what an earlier run left on the nodes")?;
        let mut node_spec = spec.clone();
        let exe = std::env::current_exe().context("cannot find the faultline binary")?;
        let mut faultline_on_nodes = None;
        if spec.system == "reference" {
            // The reference node is this very binary: copy it to every node.
            let remote = cluster
                .install(&spec.node_binary)
                .await
                .context("cannot install the reference node binary")?;
            if spec.node_binary == exe {
                faultline_on_nodes = Some(remote.clone());
            }
            node_spec.node_binary = remote.into();
        }
        let system = crate::systems::build(&node_spec)?;
        let mut cluster = cluster.with_system(system.clone(), spec.leave_db_running);
        if spec.nemeses.iter().any(|n| n == "lose-unfsynced") {
            // lazyfs is served by this binary's hidden `faultline lazyfs` on each node.
            let binary = match faultline_on_nodes {
                Some(remote) => remote,
                None => cluster
                    .install_as(&exe, "faultline-lazyfs")
                    .await
                    .context("cannot install faultline on the nodes for lazyfs")?,
            };
            cluster.mount_lazyfs(&binary).await?;
        }
        if spec.nemeses.iter().any(|n| n == "clock") {
            cluster.start_under_faketime(spec.install_mode).await?;
        }
        Ok((
            Cluster::Ssh {
                cluster: Arc::new(cluster),
                docker,
            },
            system,
        ))
    }

    /// The nodes.
    pub fn nodes(&self) -> &[NodeSpec] {
        match self {
            Cluster::Local(t) => t.nodes(),
            Cluster::Ssh { cluster, .. } => cluster.nodes(),
        }
    }

    /// The target's hands on its nodes for the system's setup (install, configs, wipes).
    pub fn shell(&self) -> &dyn NodeShell {
        match self {
            Cluster::Local(_) => &LocalShell,
            Cluster::Ssh { cluster, .. } => cluster.as_ref(),
        }
    }

    /// [`Cluster::shell`], shared, for what outlives a borrow (a membership nemesis).
    pub fn shared_shell(&self) -> Arc<dyn NodeShell> {
        match self {
            Cluster::Local(_) => Arc::new(LocalShell),
            Cluster::Ssh { cluster, .. } => cluster.clone(),
        }
    }

    /// Start the system on every node.
    pub async fn start_all(&self) -> Result<()> {
        match self {
            Cluster::Local(t) => Ok(t.start_all()?),
            Cluster::Ssh { cluster, .. } => cluster.start_all().await,
        }
    }

    /// Wait until the system is ready, failing early when a node's process exits (looked
    /// for every 100 ms on this machine, every second over SSH).
    pub async fn await_ready(&self, system: &Arc<dyn System>, timeout: Duration) -> Result<()> {
        let ready = system.await_ready(self.nodes(), timeout);
        tokio::pin!(ready);
        let mut tick = tokio::time::interval(match self {
            Cluster::Local(_) => Duration::from_millis(100),
            Cluster::Ssh { .. } => Duration::from_secs(1),
        });
        loop {
            tokio::select! {
                result = &mut ready => return result.map_err(anyhow::Error::new),
                _ = tick.tick() => {
                    if let Some(error) = self.exited_node().await {
                        return Err(error);
                    }
                }
            }
        }
    }

    /// A node whose process exited, as the error that ends the wait for the cluster.
    async fn exited_node(&self) -> Option<anyhow::Error> {
        match self {
            Cluster::Local(t) => t.exited_node().map(anyhow::Error::new),
            Cluster::Ssh { cluster, .. } => cluster
                .exited_node()
                .await
                .map(|error| anyhow::anyhow!("{error}")),
        }
    }

    /// The process fault ability (kill, pause) over these nodes.
    pub fn processes(&self, system: &Arc<dyn System>) -> Arc<dyn ProcessControl> {
        match self {
            Cluster::Local(t) => Arc::new(LocalProcesses::new(t.clone(), system.clone())),
            Cluster::Ssh { cluster, .. } => Arc::new(SshProcesses::new(cluster.clone())),
        }
    }

    /// The command ability (network, link and clock faults run their tools through it).
    pub fn control(&self) -> Arc<dyn Control> {
        match self {
            Cluster::Local(t) => t.control() as Arc<dyn Control>,
            Cluster::Ssh { cluster, .. } => cluster.clone() as Arc<dyn Control>,
        }
    }

    /// How links are slowed where the kernel has no netem (local nodes only; SSH nodes
    /// use their kernel's netem).
    pub fn links(&self, seed: u64) -> Option<Arc<dyn faultline_nemeses::links::LinkShaper>> {
        match self {
            Cluster::Local(t) => t.links(seed),
            Cluster::Ssh { .. } => None,
        }
    }

    /// The nodes' data files, for disk faults (local nodes only).
    pub fn data_files(&self) -> Option<Arc<dyn faultline_nemeses::disk::DataFiles>> {
        match self {
            Cluster::Local(t) => Some(Arc::new(
                crate::targets::local::datafiles::LocalDataFiles::new(
                    t.nodes()
                        .iter()
                        .map(|n| (n.name.clone(), n.data_dir.clone()))
                        .collect(),
                ),
            )),
            Cluster::Ssh { .. } => None,
        }
    }

    /// The writes nodes hold back until fsynced (data folders mounted through lazyfs).
    pub fn unsynced_writes(&self) -> Option<Arc<dyn faultline_nemeses::unfsynced::UnsyncedWrites>> {
        match self {
            Cluster::Local(t) => t.lazyfs().map(|m| {
                Arc::new(crate::lazyfs::mounts::LocalUnsynced(m))
                    as Arc<dyn faultline_nemeses::unfsynced::UnsyncedWrites>
            }),
            Cluster::Ssh { cluster, .. } => cluster.has_lazyfs().then(|| {
                Arc::new(crate::targets::ssh::control::SshUnsynced(cluster.clone()))
                    as Arc<dyn faultline_nemeses::unfsynced::UnsyncedWrites>
            }),
        }
    }

    /// Whether kernel netem may be tried first (nodes with a kernel of their own).
    pub fn kernel_links(&self) -> bool {
        match self {
            Cluster::Local(t) => t.has_netns(),
            Cluster::Ssh { .. } => true,
        }
    }

    /// How partitions are made: namespaces or relays locally, iptables on SSH nodes (which
    /// drops only packets from peer nodes, so the controller is never cut off).
    pub fn network(&self) -> Option<Arc<dyn Network>> {
        match self {
            Cluster::Local(t) => t.network(),
            Cluster::Ssh { cluster, .. } => Some(ssh_network(cluster)),
        }
    }

    /// The per-node libfaketime control files (nodes started under libfaketime), as paths on
    /// the nodes.
    pub fn faketime_files(&self) -> BTreeMap<String, PathBuf> {
        match self {
            Cluster::Local(t) => t.faketime_files(),
            Cluster::Ssh { cluster, .. } => cluster.faketime_files(),
        }
    }

    /// Resume paused and restart stopped nodes; what was done.
    pub async fn heal_all(&self) -> Vec<String> {
        match self {
            Cluster::Local(t) => t.heal_all(),
            Cluster::Ssh { cluster, .. } => cluster.heal_all().await,
        }
    }

    /// Stop every node (for SSH: after copying the node logs into the run folder).
    pub async fn stop_all(&self, run: &RunDir) {
        match self {
            Cluster::Local(t) => t.stop_all(),
            Cluster::Ssh { cluster, .. } => {
                cluster.download_logs(&run.path.join("nodes")).await;
                for problem in cluster.stop_all().await {
                    tracing::warn!("{problem}");
                }
            }
        }
    }
}

/// A run's SSH nodes reconnected for `faultline heal`: their daemons stopped, or left
/// running (with the run's system attached) to add removed members back first.
pub struct HealedSsh {
    /// The nodes, to undo network faults through.
    pub cluster: Arc<SshCluster>,
    /// What stopping the daemons did (nothing yet when they were left running).
    pub undone: Vec<String>,
    /// The run's system, when the daemons were left running to change the membership.
    pub system: Option<Arc<dyn System>>,
    /// Whether the run's docker cluster should be torn down once everything is undone.
    pub docker_down: bool,
    /// The docker cluster's compose project, for `--target docker`.
    pub docker: Option<crate::spec::docker::DockerProject>,
}

/// For a run over SSH (its `test.json` names SSH settings): reconnect and stop every daemon,
/// or, to `change_membership` first, leave them running with the run's system attached.
/// `None` for a local run.
pub async fn heal_ssh_run(
    test_json: &serde_json::Value,
    change_membership: bool,
) -> Result<Option<HealedSsh>> {
    let Some(ssh) = test_json.get("ssh").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let mut ssh = ssh.clone();
    let spec: crate::spec::ssh::SshSpec = if ssh.pointer("/auth/password").is_some() {
        let password = std::env::var(crate::cli::PASSWORD_ENV).map_err(|_| {
            anyhow::anyhow!(
                "the run logged in with a password, which is never stored: set {} to heal it",
                crate::cli::PASSWORD_ENV
            )
        })?;
        ssh["auth"] = serde_json::json!({ "key-file": "" });
        let mut spec: crate::spec::ssh::SshSpec = serde_json::from_value(ssh)?;
        spec.auth = crate::spec::ssh::Auth::Password(password.parse().expect("infallible"));
        spec
    } else {
        serde_json::from_value(ssh).context("test.json has unreadable SSH settings")?
    };
    let project = spec.docker.clone();
    let mut cluster = SshCluster::connect(spec).await?;
    let mut system = None;
    if change_membership {
        let mut inputs: crate::systems::SystemInputs = serde_json::from_value(test_json.clone())
            .context("test.json does not name the system")?;
        if inputs.system == "reference" {
            // The reference node is the faultline binary copied to the nodes (again only
            // where it differs).
            inputs.node_binary = cluster
                .install(&inputs.node_binary)
                .await
                .context("cannot install the reference node binary")?
                .into();
        }
        let built = crate::systems::build_from(&inputs)?;
        cluster = cluster.with_system(built.clone(), false);
        system = Some(built);
    }
    let cluster = Arc::new(cluster);
    let undone = match change_membership {
        true => Vec::new(),
        false => crate::targets::ssh::control::heal_nodes(&cluster).await?,
    };
    let docker = test_json.get("target").and_then(|t| t.as_str()) == Some("docker");
    let leave = test_json.get("leave_running").and_then(|v| v.as_bool()) == Some(true);
    Ok(Some(HealedSsh {
        cluster,
        undone,
        system,
        docker_down: docker && !leave,
        docker: project,
    }))
}

/// Tear down the docker cluster a run brought up.
pub fn docker_down(project: &crate::spec::docker::DockerProject) -> Result<String> {
    let cluster = DockerCluster::existing(false, project);
    cluster.down()?;
    Ok(format!("removed the docker cluster {}", cluster.project()))
}

/// Partitions over SSH nodes: iptables on each node, dropping packets from peer nodes only.
pub fn ssh_network(cluster: &Arc<SshCluster>) -> Arc<dyn Network> {
    let addresses = cluster
        .nodes()
        .iter()
        .map(|n| {
            let host = n
                .client_addr
                .rsplit_once(':')
                .map_or(n.client_addr.as_str(), |(h, _)| h);
            (n.name.clone(), host.trim_matches(['[', ']']).to_string())
        })
        .collect();
    Arc::new(PacketFilter::new(
        cluster.clone() as Arc<dyn Control>,
        addresses,
    ))
}
