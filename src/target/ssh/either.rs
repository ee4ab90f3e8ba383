//! The runner's one view of a cluster, whatever the target: local processes, nodes over
//! SSH, or the docker-compose cluster reached over SSH. It creates the cluster from the
//! test spec and forwards the few operations the runner needs (start, wait until ready,
//! fault abilities, heal, stop).
//!
//! It holds no logic of its own beyond choosing; it must never grow target-specific code.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use faultline_nemeses::control::{Control, ProcessControl};

use super::docker::DockerCluster;
use super::{SshCluster, SshProcesses};
use crate::spec::TestSpec;
use crate::store::RunDir;
use crate::systems::{NodeSpec, System};
use crate::target::local::{self, LocalTarget};
use crate::target::processes::LocalProcesses;

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
            let nodes = LocalTarget::plan(run, spec.node_count, spec.base_port)?;
            let target = LocalTarget::new(run, nodes, system.clone(), spec.leave_db_running);
            return Ok((Cluster::Local(Arc::new(target)), system));
        };
        let docker = if spec.target == "docker" {
            let up = DockerCluster::up(spec.node_count, spec.leave_running);
            Some(tokio::task::block_in_place(|| up)?)
        } else {
            None
        };
        let cluster = SshCluster::connect(ssh.clone()).await?;
        let mut node_spec = spec.clone();
        if spec.system == "reference" {
            // The reference node is this very binary: copy it to every node.
            let remote = cluster
                .install(&spec.node_binary)
                .await
                .context("cannot install the reference node binary")?;
            node_spec.node_binary = remote.into();
        }
        let system = crate::systems::build(&node_spec)?;
        let cluster = cluster.with_system(system.clone(), spec.leave_db_running);
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

    /// Start the system on every node.
    pub async fn start_all(&self) -> Result<()> {
        match self {
            Cluster::Local(t) => Ok(t.start_all()?),
            Cluster::Ssh { cluster, .. } => cluster.start_all().await,
        }
    }

    /// Wait until the system is ready, failing early when a node's process exits.
    pub async fn await_ready(&self, system: &Arc<dyn System>, timeout: Duration) -> Result<()> {
        match self {
            Cluster::Local(t) => local::await_ready(t, timeout).await,
            Cluster::Ssh { cluster, .. } => {
                let ready = system.await_ready(cluster.nodes(), timeout);
                tokio::pin!(ready);
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tokio::select! {
                        result = &mut ready => return result.map_err(anyhow::Error::new),
                        _ = tick.tick() => {
                            if let Some(error) = cluster.exited_node().await {
                                anyhow::bail!("{error}");
                            }
                        }
                    }
                }
            }
        }
    }

    /// The process fault ability (kill, pause) over these nodes.
    pub fn processes(&self, system: &Arc<dyn System>) -> Arc<dyn ProcessControl> {
        match self {
            Cluster::Local(t) => Arc::new(LocalProcesses::new(t.clone(), system.clone())),
            Cluster::Ssh { cluster, .. } => Arc::new(SshProcesses::new(cluster.clone())),
        }
    }

    /// The command ability (for network and clock faults), where the target has one here.
    #[allow(dead_code)] // for the network faults, which are merged separately
    pub fn control(&self) -> Option<Arc<dyn Control>> {
        match self {
            Cluster::Local(_) => None,
            Cluster::Ssh { cluster, .. } => Some(cluster.clone() as Arc<dyn Control>),
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

/// `faultline heal` for a run of `--target ssh` or `docker` (read from its `test.json`):
/// stop the daemons over SSH and take down the docker cluster unless it was to be left
/// running. `None` when the run was not over SSH.
pub fn heal_run(test_json: &serde_json::Value) -> Result<Option<Vec<String>>> {
    let Some(ssh) = test_json.get("ssh").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let mut ssh = ssh.clone();
    if ssh.pointer("/auth/password").is_some() {
        let password = std::env::var(super::options::PASSWORD_ENV).map_err(|_| {
            anyhow::anyhow!(
                "the run logged in with a password, which is never stored: set {} to heal it",
                super::options::PASSWORD_ENV
            )
        })?;
        ssh["auth"] = serde_json::json!({ "key-file": "" });
        let mut spec: super::SshSpec = serde_json::from_value(ssh)?;
        spec.auth = super::options::Auth::Password(password.parse().expect("infallible"));
        return heal_spec(spec, test_json).map(Some);
    }
    let spec: super::SshSpec =
        serde_json::from_value(ssh).context("test.json has unreadable SSH settings")?;
    heal_spec(spec, test_json).map(Some)
}

fn heal_spec(spec: super::SshSpec, test_json: &serde_json::Value) -> Result<Vec<String>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut undone = runtime.block_on(super::cluster::heal_nodes(spec))?;
    let docker = test_json.get("target").and_then(|t| t.as_str()) == Some("docker");
    let leave = test_json.get("leave_running").and_then(|v| v.as_bool()) == Some(true);
    if docker && !leave {
        DockerCluster::existing(false).down()?;
        undone.push("removed the docker cluster".to_string());
    }
    Ok(undone)
}
