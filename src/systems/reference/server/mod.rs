//! The reference node process (`faultline node`): one member of a replicated key-value service
//! built on openraft. This module parses the node's arguments, opens its durable storage, wires
//! openraft (type config, log store, state machine, network), bootstraps the cluster when asked,
//! and serves the HTTP API (client requests and Raft RPCs on one listener).
//!
//! The HTTP contract, status codes and bug switches are documented on the parent module
//! ([`super`]). This module must never reach another node except through the `--peer` map: the
//! harness may put a per-link relay between two nodes, so addresses in the Raft membership are
//! informational only.

mod api;
mod app_state;
mod membership_api;
mod network;
mod raft_log;
mod runtime;
mod state_machine;
pub(crate) mod transactions;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use openraft::{BasicNode, Config, Raft, SnapshotPolicy};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Bug;

/// The Raft node id type: the 1-based node number the harness gives.
pub(crate) type NodeId = u64;

openraft::declare_raft_types!(
    /// openraft's type configuration for the reference key-value service.
    pub(crate) TypeConfig:
        D = Command,
        R = CommandResult,
        NodeId = NodeId,
        Node = BasicNode,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = runtime::NodeRuntime,
);

/// The openraft instance of one reference node.
pub(crate) type KvRaft = Raft<TypeConfig>;

/// A state-machine command, replicated through the Raft log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Command {
    /// Set `key` to `value` (`null` removes the key).
    Put { key: String, value: Value },
    /// Set `key` to `to` if its current value is `from` (`null` = absent).
    Cas { key: String, from: Value, to: Value },
    /// Run these micro-ops in order, atomically: all of their writes or none (see [`txn`]).
    Txn { ops: Vec<transactions::MicroOp> },
    /// Set every key of `writes` (`null` removes) if every key of `expect` still has the
    /// value given there: a guarded commit, all or nothing.
    Commit {
        expect: Vec<(String, Value)>,
        writes: Vec<(String, Value)>,
    },
}

/// What applying a [`Command`] did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct CommandResult {
    /// Whether the command changed the state (a put always does; a cas only on a match; a
    /// txn unless it was malformed).
    pub applied: bool,
    /// The key's value before the command (`null` = absent). For a txn: its completed
    /// micro-ops when applied, or why it was not.
    pub current: Value,
}

/// One entry of `--peer`: how this node reaches node `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The other node's id.
    pub id: NodeId,
    /// The address (`HOST:PORT`) this node dials to reach it (may be a relay).
    pub addr: String,
}

fn parse_peer(text: &str) -> Result<Peer, String> {
    let (id, addr) = text.split_once('=').ok_or_else(|| {
        format!("peer \"{text}\" is not of the form ID=HOST:PORT (e.g. 2=127.0.0.1:7002)")
    })?;
    let id: NodeId = id
        .trim()
        .parse()
        .map_err(|_| format!("peer id \"{id}\" in \"{text}\" is not a positive integer"))?;
    if id == 0 {
        return Err(format!(
            "peer id in \"{text}\" must be 1 or more (ids are 1-based)"
        ));
    }
    let addr = addr.trim();
    if addr
        .rsplit_once(':')
        .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
    {
        return Err(format!(
            "peer address \"{addr}\" in \"{text}\" is not HOST:PORT"
        ));
    }
    Ok(Peer {
        id,
        addr: addr.to_string(),
    })
}

/// `faultline node`: run one node of the built-in reference service (started by the local
/// target, or over SSH by the remote ones).
#[derive(Debug, clap::Parser)]
#[command(name = "faultline node", bin_name = "faultline node")]
pub struct NodeCommand {
    /// The node's arguments.
    #[command(flatten)]
    pub args: NodeArgs,
}

/// Arguments of `faultline node`: run one node of the built-in reference service.
#[derive(Debug, Clone, clap::Args)]
pub struct NodeArgs {
    /// This node's id (1-based, unique in the cluster).
    #[arg(long)]
    pub id: NodeId,
    /// Address of the HTTP listener serving both the client API and the Raft RPCs.
    #[arg(long)]
    pub listen: SocketAddr,
    /// How this node reaches another node: `ID=HOST:PORT`, repeated or comma-separated.
    #[arg(long = "peer", value_parser = parse_peer, value_delimiter = ',')]
    pub peers: Vec<Peer>,
    /// Directory holding this node's Raft log, vote and snapshot (created if missing).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Initialize the cluster with this node and all peers as voters, if the log is empty.
    #[arg(long)]
    pub bootstrap: bool,
    /// Deliberately break the service to prove the harness finds anomalies:
    /// `stale-reads`, `lost-writes`, `txn-stale-reads` or `no-fsync`.
    #[arg(long)]
    pub bug: Option<Bug>,
    /// Leader heartbeat interval in milliseconds (etcd's default). A peer RPC may take up to
    /// `--election-max-ms` to answer (openraft alone would give it one heartbeat), so a link
    /// slower than the heartbeat delays heartbeats instead of losing the leader.
    #[arg(long, default_value_t = 100)]
    pub heartbeat_ms: u64,
    /// Lower bound of openraft's randomized election timeout, in milliseconds. A follower
    /// that knew a leader waits out its lease (`--election-max-ms`) first, so it stands
    /// 1000–2000 ms after the last heartbeat by default: etcd's window.
    #[arg(long, default_value_t = 500)]
    pub election_min_ms: u64,
    /// Upper bound of openraft's randomized election timeout, and the leader's lease, in
    /// milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub election_max_ms: u64,
    /// How long the node waits for a client request to commit (or for a forwarded request's
    /// answer) before answering 504 (indeterminate).
    #[arg(long, default_value_t = 3000)]
    pub request_timeout_ms: u64,
    /// Build a snapshot after this many new log entries (then the log before it is purged).
    #[arg(long, default_value_t = 1000)]
    pub snapshot_every: u64,
}

impl NodeArgs {
    fn validate(&self) -> anyhow::Result<BTreeMap<NodeId, String>> {
        if self.id == 0 {
            bail!("--id must be 1 or more (node ids are 1-based)");
        }
        let mut peers = BTreeMap::new();
        for peer in &self.peers {
            if peer.id == self.id {
                bail!(
                    "--peer {}={} names this node itself (--id {}); list only the other nodes",
                    peer.id,
                    peer.addr,
                    self.id
                );
            }
            if peers.insert(peer.id, peer.addr.clone()).is_some() {
                bail!(
                    "--peer lists node {} twice; give each other node exactly once",
                    peer.id
                );
            }
        }
        if self.heartbeat_ms == 0 || self.election_min_ms <= self.heartbeat_ms {
            bail!(
                "--election-min-ms ({}) must be greater than --heartbeat-ms ({}), which must be positive",
                self.election_min_ms,
                self.heartbeat_ms
            );
        }
        if self.election_max_ms <= self.election_min_ms {
            bail!(
                "--election-max-ms ({}) must be greater than --election-min-ms ({})",
                self.election_max_ms,
                self.election_min_ms
            );
        }
        if self.request_timeout_ms == 0 || self.snapshot_every == 0 {
            bail!("--request-timeout-ms and --snapshot-every must be positive");
        }
        Ok(peers)
    }
}

/// Install the stderr log subscriber (RFC 3339 timestamps, no colours: it goes to a file).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=warn"));
    // `try_init` fails only if a subscriber is already installed; then keep that one.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init();
}

/// Run one reference node until it is killed.
pub async fn run_node(args: NodeArgs) -> anyhow::Result<()> {
    init_logging();
    let peers = args.validate()?;
    runtime::set_timeout_floor(Duration::from_millis(args.election_max_ms));
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create --data-dir {}", args.data_dir.display()))?;

    let config = Config {
        cluster_name: "faultline-reference".to_string(),
        heartbeat_interval: args.heartbeat_ms,
        election_timeout_min: args.election_min_ms,
        election_timeout_max: args.election_max_ms,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(args.snapshot_every),
        max_in_snapshot_log_to_keep: args.snapshot_every / 2,
        ..Default::default()
    }
    .validate()
    .context("invalid Raft timing flags")?;

    let log_store = raft_log::LogStore::open(&args.data_dir, args.bug != Some(Bug::NoFsync))
        .with_context(|| format!("cannot open the Raft log in {}", args.data_dir.display()))?;
    let state_machine = state_machine::StateMachineStore::open(&args.data_dir)
        .with_context(|| format!("cannot open the snapshot in {}", args.data_dir.display()))?;
    let kv = state_machine.data();
    let network = network::Network::new(
        peers.clone(),
        Duration::from_millis(args.request_timeout_ms),
    )?;

    let raft = Raft::new(args.id, Arc::new(config), network, log_store, state_machine)
        .await
        .context("openraft failed to start")?;

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(id = args.id, listen = %args.listen, peers = ?peers, bug = ?args.bug, "node started");

    if args.bootstrap {
        bootstrap(&raft, &args, &peers).await?;
    }
    // A line a second under `RUST_LOG=faultline::clock=debug`, so tests can watch the node's
    // wall clock (e.g. under a clock fault) in its log.
    tokio::spawn(async {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            tracing::debug!(target: "faultline::clock", "tick");
        }
    });

    let state = app_state::AppState::new(app_state::NodeContext {
        id: args.id,
        raft: raft.clone(),
        kv,
        peers,
        bug: args.bug,
        request_timeout: Duration::from_millis(args.request_timeout_ms),
    })?;
    axum::serve(listener, api::router(state))
        .await
        .context("the HTTP server stopped")?;
    Ok(())
}

/// Initialize the cluster with every known node as a voter, unless this node already has state.
async fn bootstrap(
    raft: &KvRaft,
    args: &NodeArgs,
    peers: &BTreeMap<NodeId, String>,
) -> anyhow::Result<()> {
    if raft.is_initialized().await.context("openraft stopped")? {
        tracing::info!("log is not empty: not re-initializing the cluster");
        return Ok(());
    }
    let mut members = BTreeMap::new();
    members.insert(args.id, BasicNode::new(args.listen.to_string()));
    for (id, addr) in peers {
        members.insert(*id, BasicNode::new(addr.clone()));
    }
    tracing::info!(members = ?members.keys().collect::<Vec<_>>(), "initializing the cluster");
    raft.initialize(members)
        .await
        .context("cannot initialize the cluster")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_parse_and_reject_bad_input() {
        assert_eq!(
            parse_peer("2=127.0.0.1:7002").unwrap(),
            Peer {
                id: 2,
                addr: "127.0.0.1:7002".into()
            }
        );
        assert!(parse_peer("127.0.0.1:7002")
            .unwrap_err()
            .contains("ID=HOST:PORT"));
        assert!(parse_peer("0=127.0.0.1:1")
            .unwrap_err()
            .contains("1 or more"));
        assert!(parse_peer("x=127.0.0.1:1")
            .unwrap_err()
            .contains("positive integer"));
        assert!(parse_peer("2=localhost").unwrap_err().contains("HOST:PORT"));
    }
}
