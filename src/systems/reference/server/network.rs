//! The Raft network of a reference node: openraft's RPCs (append, vote, snapshot) as JSON over
//! HTTP to the other nodes' `/raft/*` endpoints.
//!
//! Addresses come from the `--peer` map, never from the Raft membership, because the harness
//! may put a relay on each link. Every RPC has a short timeout, so a paused or partitioned peer
//! never stalls this node. This module must never retry on its own: openraft decides that.

use std::collections::BTreeMap;
use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{Backoff, RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{NodeId, TypeConfig};

/// Creates one [`PeerClient`] per replication target.
#[derive(Debug, Clone)]
pub(crate) struct Network {
    peers: BTreeMap<NodeId, String>,
    http: reqwest::Client,
    max_timeout: Duration,
}

impl Network {
    /// A network that reaches node `id` at `peers[id]`.
    pub(crate) fn new(
        peers: BTreeMap<NodeId, String>,
        max_timeout: Duration,
    ) -> anyhow::Result<Network> {
        // No connect timeout of its own: each RPC's deadline covers the connection too, so a
        // handshake over a slow link (a 200 ms delay each way) is not cut short.
        let http = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(10))
            .build()?;
        Ok(Network {
            peers,
            http,
            max_timeout,
        })
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, _node: &BasicNode) -> PeerClient {
        PeerClient {
            target,
            addr: self.peers.get(&target).cloned(),
            http: self.http.clone(),
            max_timeout: self.max_timeout,
        }
    }
}

/// The connection to one peer.
#[derive(Debug)]
pub(crate) struct PeerClient {
    target: NodeId,
    /// `None` when the peer map does not know the target (a membership we were not told about).
    addr: Option<String>,
    http: reqwest::Client,
    max_timeout: Duration,
}

/// Why an RPC failed before a reply came back.
#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error("node {0} is not in this node's --peer map")]
    UnknownPeer(NodeId),
    #[error("cannot connect to node {target}: {source}")]
    Connect {
        target: NodeId,
        source: reqwest::Error,
    },
    #[error("rpc to node {target} failed: {source}")]
    Other {
        target: NodeId,
        source: reqwest::Error,
    },
}

impl PeerClient {
    async fn call<Req, Resp, E>(
        &self,
        path: &str,
        request: &Req,
        timeout: Duration,
    ) -> Result<Resp, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let addr = self.addr.as_ref().ok_or_else(|| {
            RPCError::Unreachable(Unreachable::new(&SendError::UnknownPeer(self.target)))
        })?;
        let target = self.target;
        let response = self
            .http
            .post(format!("http://{addr}/raft/{path}"))
            // openraft's deadline for an append is one heartbeat: raised, as its own
            // timeout is (see `runtime`), or a slow link would cut every append short.
            .timeout(super::runtime::floored(timeout).min(self.max_timeout))
            .json(request)
            .send()
            .await
            .map_err(|source| {
                if source.is_connect() {
                    RPCError::Unreachable(Unreachable::new(&SendError::Connect { target, source }))
                } else {
                    RPCError::Network(NetworkError::new(&SendError::Other { target, source }))
                }
            })?;
        let result: Result<Resp, RaftError<NodeId, E>> =
            response.json().await.map_err(|source| {
                RPCError::Network(NetworkError::new(&SendError::Other { target, source }))
            })?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(target, e)))
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call("append", &rpc, option.hard_ttl()).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.call("snapshot", &rpc, option.hard_ttl()).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call("vote", &rpc, option.hard_ttl()).await
    }

    fn backoff(&self) -> Backoff {
        // A peer that refused a connection is retried soon: after a heal or a restart the
        // cluster should recover within a few heartbeats.
        Backoff::new(std::iter::repeat(Duration::from_millis(200)))
    }
}
