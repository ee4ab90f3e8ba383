//! Systems under test: the `System` role (Jepsen's DB — how the service is started on a node
//! and how the harness learns about the cluster) and the `Client` role (turns one requested
//! operation into a request and the response into `ok`, `fail` or `info`).
//!
//! What the system under test did is data, never an `Err`: a timeout or a refused connection
//! is a `fail` or `info` [`Completion`]. `Err` is only for the harness's own failures.
//!
//! ```ignore
//! let system = systems::by_name("reference", &options)?;
//! let command = system.start_command(&node, &cluster);
//! let mut client = system.client(&node, &cluster);
//! let completion = client.invoke(&OpRequest::read("x")).await;
//! ```

pub mod reference;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use faultline_checkers::history::OpType;
use faultline_workloads::op::OpRequest;
use serde_json::Value;

/// The system a test spec names, ready to start on nodes.
pub fn build(spec: &crate::spec::TestSpec) -> anyhow::Result<Arc<dyn System>> {
    match spec.system.as_str() {
        "reference" => {
            let bug = spec
                .bug
                .as_deref()
                .map(|b| b.parse::<reference::Bug>())
                .transpose()?;
            Ok(Arc::new(reference::ReferenceSystem::new(
                bug,
                spec.node_binary.clone(),
            )))
        }
        other => anyhow::bail!("no system named {other}"),
    }
}

/// One node of the cluster, as the controller sees it.
#[derive(Debug, Clone, serde::Serialize)]
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
}

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
    /// The cluster did not become ready in time.
    #[error("the cluster did not elect a leader within {waited:?}; read the node logs: {logs}")]
    NotReady {
        /// How long the harness waited.
        waited: Duration,
        /// The log files to read.
        logs: String,
    },
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
    /// The command that starts this system on `node` of `cluster`. Other nodes are to be
    /// reached at their `peer_addr` as given here: the local target may put a per-link relay
    /// there (see [`System::peer_relays`]).
    fn start_command(&self, node: &NodeSpec, cluster: &[NodeSpec]) -> StartCommand;
    /// Whether a node can reach each peer at a different address than the peer itself
    /// listens on (a per-link relay): what partitions on the local target need without
    /// root. Systems whose peers must match advertised addresses say no.
    fn peer_relays(&self) -> bool {
        false
    }
    /// Wait until the cluster can serve requests (e.g. has elected a leader).
    async fn await_ready(&self, cluster: &[NodeSpec], timeout: Duration)
        -> Result<(), SystemError>;
    /// The node id the cluster currently names as its leader, if it can tell.
    async fn leader(&self, cluster: &[NodeSpec]) -> Option<u64>;
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
}
