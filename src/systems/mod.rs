//! Systems under test: the `System` role (Jepsen's DB — how the service is started on a node
//! and how the harness learns about the cluster) and the `Client` role (turns one requested
//! operation into a request and the response into `ok`, `fail` or `info`).
//!
//! What the system under test did is data, never an `Err`: a timeout or a refused connection
//! is a `fail` or `info` [`Completion`]. `Err` is only for the harness's own failures.
//!
//! Systems: `reference` (built in), `etcd`, `zookeeper`, `nats`, `galera`, `rabbitmq`
//! (Debian packages, installed on the nodes by [`System::setup`] when missing, see
//! [`install`]) and `http` (any service speaking faultline's generic HTTP protocol, started
//! by the user; see [`http`]).
//!
//! Every step of a system on a node that is not its process (install, configure, wipe)
//! goes through the target's [`node::NodeShell`], so over SSH it happens on the node.
//!
//! ```ignore
//! let system = systems::build(&spec)?;
//! let nodes = system.place(LocalTarget::plan(&run, n, None)?);
//! system.setup(shell, &nodes).await?;
//! let command = system.start_command(&node, &nodes); // None: not ours to start
//! let mut client = system.client(&node, &nodes, op_timeout);
//! let completion = client.invoke(&OpRequest::read("x")).await;
//! ```

pub mod command;
pub(crate) mod command_client;
mod command_membership;
mod command_steps;
pub mod etcd;
pub(crate) mod etcd_membership;
pub mod galera;
pub(crate) mod galera_client;
pub(crate) mod galera_membership;
pub mod http;
pub(crate) mod install;
pub(crate) mod key_path;
pub mod nats;
pub mod node;
pub(crate) mod ops;
pub(crate) mod optimistic_txn;
pub mod rabbitmq;
pub(crate) mod rabbitmq_membership;
pub mod reads;
pub mod reference;
pub(crate) mod rejoins;
pub(crate) mod versioned;
pub mod zookeeper;
pub(crate) mod zookeeper_membership;

use std::path::PathBuf;
use std::sync::Arc;

use node::NodeShell;
use std::time::Duration;

use async_trait::async_trait;
use faultline_checkers::history::OpType;
use faultline_nemeses::control::ProcessControl;
use faultline_nemeses::membership::Membership;
use faultline_workloads::op::OpRequest;
use serde_json::Value;

/// A node on its own loopback host `127.0.1.<id>` with a client port and extra ports, for
/// the systems' unit tests.
#[cfg(test)]
pub(crate) fn test_node(id: u64, port: u16, extra_ports: &[u16]) -> NodeSpec {
    NodeSpec {
        id,
        name: format!("n{id}"),
        client_addr: format!("127.0.1.{id}:{port}"),
        peer_addr: format!("127.0.1.{id}:{port}"),
        data_dir: PathBuf::from(format!("/run/n{id}/data")),
        log_file: PathBuf::from(format!("/run/n{id}/node.log")),
        extra_ports: extra_ports.to_vec(),
    }
}

/// Nodes `n1..=n<count>` as [`test_node`] lays them out, for the systems' unit tests.
#[cfg(test)]
pub(crate) fn test_cluster(count: u64, port: u16, extra_ports: &[u16]) -> Vec<NodeSpec> {
    (1..=count)
        .map(|id| test_node(id, port, extra_ports))
        .collect()
}

/// Fails unless `text` (a config file, a command line) has every one of `parts`; shows
/// `text` and the part it lacks. For the systems' unit tests.
#[cfg(test)]
pub(crate) fn assert_has_all(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "no {part:?} in:\n{text}");
    }
}

/// What building a system takes from a test spec; `faultline heal` reads the same fields
/// back from the run's `test.json`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct SystemInputs {
    /// `--system`.
    pub system: String,
    /// `--read-consistency`, `None` for the strict default.
    #[serde(default)]
    pub read_consistency: Option<String>,
    /// `--install-mode`.
    #[serde(default)]
    pub install_mode: crate::spec::systems::InstallMode,
    /// `--endpoints` of `--system http`.
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// `--db-command` of `--system command`.
    #[serde(default)]
    pub db_command: Option<PathBuf>,
    /// `--db-packages`.
    #[serde(default)]
    pub db_packages: Vec<String>,
    /// The reference service's `--bug`.
    #[serde(default)]
    pub bug: Option<String>,
    /// The executable started as each reference node.
    pub node_binary: PathBuf,
    /// The reference service's Raft timing.
    #[serde(default)]
    pub raft: Option<crate::spec::raft::RaftTiming>,
    /// `--isolation` of `--system galera`.
    #[serde(default)]
    pub isolation: Option<String>,
}

/// The system a test spec names, ready to start on nodes.
pub fn build(spec: &crate::spec::TestSpec) -> anyhow::Result<Arc<dyn System>> {
    build_from(&SystemInputs {
        system: spec.system.clone(),
        read_consistency: spec.read_consistency.clone(),
        install_mode: spec.install_mode,
        endpoints: spec.endpoints.clone(),
        db_command: spec.db_command.clone(),
        db_packages: spec.db_packages.clone(),
        bug: spec.bug.clone(),
        node_binary: spec.node_binary.clone(),
        raft: spec.raft,
        isolation: spec.isolation.clone(),
    })
}

/// The system `inputs` name, ready to start on nodes.
pub fn build_from(spec: &SystemInputs) -> anyhow::Result<Arc<dyn System>> {
    let strict = crate::spec::systems::read_consistencies(&spec.system)
        .first()
        .copied();
    let consistency = spec.read_consistency.as_deref().or(strict).unwrap_or("");
    let install = spec.install_mode;
    match spec.system.as_str() {
        "etcd" => Ok(Arc::new(etcd::EtcdSystem::new(
            consistency.parse()?,
            install,
        ))),
        "zookeeper" => Ok(Arc::new(zookeeper::ZkSystem::new(
            consistency.parse()?,
            install,
        ))),
        "nats" => Ok(Arc::new(nats::NatsSystem::new(
            consistency.parse()?,
            install,
        ))),
        "galera" => Ok(Arc::new(galera::GaleraSystem::new(
            consistency.parse()?,
            spec.isolation
                .as_deref()
                .unwrap_or(crate::spec::systems::DEFAULT_ISOLATION)
                .parse()?,
            install,
        ))),
        "rabbitmq" => Ok(Arc::new(rabbitmq::RabbitSystem::new(install))),
        "http" => Ok(Arc::new(http::HttpSystem::new(&spec.endpoints)?)),
        "command" => match &spec.db_command {
            Some(script) => Ok(Arc::new(command::CommandSystem::new(
                script.clone(),
                &spec.db_packages,
                install,
            ))),
            None => anyhow::bail!("--system command needs --db-command"),
        },
        "reference" => {
            let bug = spec
                .bug
                .as_deref()
                .map(|b| b.parse::<reference::Bug>())
                .transpose()?;
            Ok(Arc::new(
                reference::ReferenceSystem::new(bug, spec.node_binary.clone())
                    .with_raft_timing(spec.raft.unwrap_or_default()),
            ))
        }
        other => anyhow::bail!("no system named {other}"),
    }
}

/// One node of the cluster, as the controller sees it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct NodeSpec {
    /// 1-based node id.
    pub id: u64,
    /// Name used in logs and the history (`n1`, `n2`, ...).
    pub name: String,
    /// Address clients use to reach this node (`127.0.0.1:PORT`).
    pub client_addr: String,
    /// Address other nodes use to reach this node's peer (Raft) endpoint. For the reference
    /// system this is the same HTTP listener as `client_addr`, but a relay may stand between.
    pub peer_addr: String,
    /// Where this node keeps its data.
    pub data_dir: PathBuf,
    /// Where this node's stdout and stderr go.
    pub log_file: PathBuf,
    /// Further free ports reserved for this node on its host, for systems that listen on
    /// more than one (etcd's peer port, ZooKeeper's quorum and election ports, NATS routes,
    /// Galera's group, IST and SST ports).
    pub extra_ports: Vec<u16>,
}

impl NodeSpec {
    /// The host part of the client address (`127.0.0.1`, or a namespace's address).
    pub fn host(&self) -> &str {
        self.client_addr
            .rsplit_once(':')
            .map_or(self.client_addr.as_str(), |(host, _)| host)
    }

    /// The port part of the client address.
    pub fn client_port(&self) -> u16 {
        self.client_addr
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .unwrap_or(0)
    }

    /// `host:port` of the `k`-th extra port, or an error naming the node when the target
    /// reserved too few.
    pub fn extra_addr(&self, k: usize) -> Result<String, SystemError> {
        match self.extra_ports.get(k) {
            Some(port) => Ok(format!("{}:{port}", self.host())),
            None => Err(SystemError::Setup {
                node: self.name.clone(),
                reason: format!(
                    "the target reserved {} extra ports for it, the system needs {}",
                    self.extra_ports.len(),
                    k + 1
                ),
            }),
        }
    }

    /// The folder that holds this node's data folder and log: where system configs go.
    pub fn node_dir(&self) -> PathBuf {
        self.data_dir
            .parent()
            .map_or_else(|| self.data_dir.clone(), PathBuf::from)
    }
}

/// How many extra ports [`NodeSpec::extra_ports`] the local target reserves per node.
pub const EXTRA_PORTS: usize = 3;

/// The command line that starts a system's process on a node.
#[derive(Debug, Clone)]
pub struct StartCommand {
    /// The program to run.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
}

/// Errors of the harness while driving a system (not outcomes of operations).
#[derive(Debug, thiserror::Error)]
pub enum SystemError {
    /// Some nodes did not join the cluster in time.
    #[error("{detail} (waited {waited:?}); read the log of each node named")]
    NotJoined {
        /// How long the harness waited.
        waited: Duration,
        /// Each node that did not join, why, and its log file.
        detail: String,
    },
    /// The system's software is missing and could not be installed.
    #[error("{program} is not installed and could not be installed: {reason}")]
    Install {
        /// The program looked for.
        program: String,
        /// Why installing failed, and what to do.
        reason: String,
    },
    /// The software is missing on some nodes and `--install-mode none` forbids installing
    /// it: one line per node, naming what is missing and the flag that would install it.
    #[error("{lines}")]
    Missing {
        /// One line per node.
        lines: String,
    },
    /// Preparing a node (its config, its data folder) failed.
    #[error("{node}: cannot prepare the node: {reason}")]
    Setup {
        /// The node.
        node: String,
        /// Why.
        reason: String,
    },
}

/// Remove and recreate `node`'s data folder, on the node.
pub(crate) async fn wipe_data_dir(
    shell: &dyn NodeShell,
    node: &NodeSpec,
) -> Result<(), SystemError> {
    shell.wipe_dir(node, &node.data_dir).await
}

/// The `setup` of a system configured by one file a node: every node's file is built first
/// (so a bad cluster fails before anything is touched), `programs` are installed where
/// missing as `mode` says, then each node is wiped as `system` wipes it and its file written
/// at `path`.
pub(crate) async fn set_up_with_config_files(
    system: &dyn System,
    shell: &dyn NodeShell,
    cluster: &[NodeSpec],
    programs: &[&install::Program],
    mode: crate::spec::systems::InstallMode,
    config: impl Fn(&NodeSpec, &[NodeSpec]) -> Result<String, SystemError>,
    path: impl Fn(&NodeSpec) -> PathBuf,
) -> SystemResult {
    let configs = cluster
        .iter()
        .map(|node| config(node, cluster))
        .collect::<Result<Vec<_>, _>>()?;
    install::ensure(shell, cluster, programs, mode).await?;
    for (node, text) in cluster.iter().zip(configs) {
        system.wipe(shell, node, cluster).await?;
        shell.write_file(node, &path(node), text.as_bytes()).await?;
    }
    Ok(())
}

/// What a lifecycle step of a system answers ([`System::await_ready`], [`System::wipe`]).
pub type SystemResult = Result<(), SystemError>;

/// Look at the cluster with `probe` every 200 ms until it finds nothing missing, or
/// `timeout` passes; then what the last look found missing (one line per node that is not
/// ready, or one for the cluster) is the error. Every system's `await_ready` is one probe.
pub(crate) async fn poll_ready<F, Fut>(
    system: &str,
    timeout: Duration,
    mut probe: F,
) -> SystemResult
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Vec<String>>,
{
    let start = std::time::Instant::now();
    loop {
        let missing = probe().await;
        if missing.is_empty() {
            tracing::info!(waited = ?start.elapsed(), "the {system} cluster is ready");
            return Ok(());
        }
        if start.elapsed() >= timeout {
            return Err(SystemError::NotJoined {
                waited: timeout,
                detail: missing.join("; "),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `name (log)` for each node, for errors that send the user to the logs.
pub(crate) fn node_logs<'a>(nodes: impl IntoIterator<Item = &'a NodeSpec>) -> String {
    nodes
        .into_iter()
        .map(|n| format!("{} ({})", n.name, n.log_file.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The result of one operation as the client saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// `Ok`, `Fail` or `Info` (never `Invoke`).
    pub kind: OpType,
    /// The value read, or the value written; `null` when unknown.
    pub value: Value,
    /// Why it failed or is indeterminate.
    pub error: Option<String>,
}

impl Completion {
    /// The operation happened, with this value.
    pub fn ok(value: Value) -> Self {
        Completion {
            kind: OpType::Ok,
            value,
            error: None,
        }
    }
    /// The operation certainly did not happen.
    pub fn fail(value: Value, error: impl Into<String>) -> Self {
        Completion {
            kind: OpType::Fail,
            value,
            error: Some(error.into()),
        }
    }
    /// Unknown whether the operation happened.
    pub fn info(value: Value, error: impl Into<String>) -> Self {
        Completion {
            kind: OpType::Info,
            value,
            error: Some(error.into()),
        }
    }
}

/// The service under test: how to start it on a node and what the harness can ask it.
#[async_trait]
pub trait System: Send + Sync {
    /// The name given to `--system`.
    fn name(&self) -> &str;
    /// Adjust the nodes the target planned (e.g. to the endpoints of nodes someone else
    /// runs). The default keeps them.
    fn place(&self, planned: Vec<NodeSpec>) -> Vec<NodeSpec> {
        planned
    }
    /// Prepare every node before the first start, on the node through `shell`: install the
    /// software when missing, wipe what an earlier run left, write configs and ids. The
    /// default wipes the data folder of each node faultline starts (a second run on nodes
    /// left running starts clean).
    async fn setup(&self, shell: &dyn NodeShell, cluster: &[NodeSpec]) -> Result<(), SystemError> {
        for node in cluster {
            if self.start_command(node, cluster).is_some() {
                self.wipe(shell, node, cluster).await?;
            }
        }
        Ok(())
    }
    /// Erase `node`'s data so its next start is a fresh member (the node must be stopped).
    /// The default empties the data folder; systems that keep an identity there put it back.
    async fn wipe(&self, shell: &dyn NodeShell, node: &NodeSpec, _: &[NodeSpec]) -> SystemResult {
        wipe_data_dir(shell, node).await
    }
    /// The command that starts this system on `node` of `cluster`, or `None` when faultline
    /// does not run the system's processes (they are started by the user). Other nodes are
    /// to be reached at their `peer_addr` as given here: the local target may put a per-link
    /// relay there (see [`System::peer_relays`]).
    fn start_command(&self, node: &NodeSpec, cluster: &[NodeSpec]) -> Option<StartCommand>;
    /// Whether a node can reach each peer at a different address than the peer itself
    /// listens on (a per-link relay): what partitions on the local target need without
    /// root. Systems whose peers must match advertised addresses say no.
    fn peer_relays(&self) -> bool {
        false
    }
    /// Undo what `setup` did that outlives the nodes, after they stopped at the end of the
    /// run (a `--db-command`'s `teardown`). The default does nothing.
    async fn teardown(&self, _shell: &dyn NodeShell, _cluster: &[NodeSpec]) -> SystemResult {
        Ok(())
    }
    /// Wait until the cluster can serve requests (e.g. has elected a leader).
    async fn await_ready(&self, cluster: &[NodeSpec], timeout: Duration) -> SystemResult;
    /// The node id the cluster currently names as its leader, if it can tell.
    async fn leader(&self, cluster: &[NodeSpec]) -> Option<u64>;
    /// Membership changes through the system's own API (`--nemesis membership`) over the
    /// nodes of `cluster` (as the harness reaches them), stopping and starting a node's
    /// process through `process` and running a system's own tools on a node through `shell`
    /// where the system needs it; `None` when the system has none ([`unsupported_nemesis`]
    /// refuses the nemesis for it up front).
    fn membership(
        &self,
        _cluster: &[NodeSpec],
        _process: Arc<dyn ProcessControl>,
        _shell: Arc<dyn NodeShell>,
    ) -> Option<Arc<dyn Membership>> {
        None
    }
    /// `node` already lived `lives` rejoins of the membership nemesis in this run (found on
    /// disk by `faultline heal`, whose fresh system knows none): its next start uses the
    /// latest, and a later rejoin counts on from there.
    fn resume_rejoins(&self, _node: &NodeSpec, _cluster: &[NodeSpec], _lives: u32) {}
    /// A client bound to `node`. Called once per worker.
    fn client(
        &self,
        node: &NodeSpec,
        cluster: &[NodeSpec],
        op_timeout: Duration,
    ) -> Box<dyn Client>;
}

/// One worker's connection to the system.
#[async_trait]
pub trait Client: Send {
    /// Perform one operation. Never errs: failures are `fail` (certainly did not happen)
    /// or `info` (may have happened).
    async fn invoke(&mut self, op: &OpRequest) -> Completion;

    /// The worker goes on as `process` (its first, or a fresh one after an `info`). A
    /// client that keeps per-process state (a `--client-command` process) starts anew.
    fn new_process(&mut self, _process: u64) {}
}

/// What the harness learned from a read's raw bytes: the JSON value it stored.
pub(crate) fn decode_value(bytes: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "the stored value {:?} is not JSON written by faultline: {e}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(80)])
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_addresses_split_into_host_and_ports() {
        let node = NodeSpec {
            id: 1,
            name: "n1".into(),
            client_addr: "127.0.2.1:2379".into(),
            peer_addr: "127.0.2.1:2379".into(),
            data_dir: PathBuf::from("/run/nodes/n1/data"),
            log_file: PathBuf::from("/run/nodes/n1/node.log"),
            extra_ports: vec![2380],
        };
        assert_eq!(node.host(), "127.0.2.1");
        assert_eq!(node.client_port(), 2379);
        assert_eq!(node.extra_addr(0).unwrap(), "127.0.2.1:2380");
        assert!(node.extra_addr(1).unwrap_err().to_string().contains("n1"));
        assert_eq!(node.node_dir(), PathBuf::from("/run/nodes/n1"));
    }
}
