//! The state every endpoint of a reference node shares ([`AppState`]: the node, the client
//! that forwards requests to the leader, the `lost-writes` bug's group commit) and where a
//! client request is handled ([`Route`]: here, at the leader, or nowhere). No endpoint is
//! defined here; [`super::api`] and [`super::membership_api`] build on it.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode};
use axum::Json;
use openraft::error::{ClientWriteError, RaftError};
use openraft::ServerState;
use serde_json::{json, Value};

use super::state_machine::KvData;
use super::{Command, CommandResult, KvRaft, NodeId};
use crate::systems::reference::Bug;

/// Marks a request a follower forwarded, so the receiver never forwards it again.
pub(super) const FORWARDED: &str = "x-faultline-forwarded";

/// What the API handlers need from the node.
pub(crate) struct NodeContext {
    pub id: NodeId,
    pub raft: KvRaft,
    pub kv: Arc<RwLock<KvData>>,
    pub peers: BTreeMap<NodeId, String>,
    pub bug: Option<Bug>,
    pub request_timeout: Duration,
}

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(super) node: Arc<NodeContext>,
    pub(super) forward: reqwest::Client,
    /// With the `lost-writes` bug: acknowledged writes waiting for the next group proposal.
    pub(super) group: Option<tokio::sync::mpsc::UnboundedSender<Command>>,
}

/// How long the `lost-writes` bug holds acknowledged writes before proposing them as a group.
pub(super) const GROUP_COMMIT_EVERY: Duration = Duration::from_millis(250);

impl AppState {
    /// Build the handler state and the client used to forward requests to the leader.
    pub(crate) fn new(node: NodeContext) -> anyhow::Result<AppState> {
        let forward = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(500))
            .build()?;
        let node = Arc::new(node);
        let group = (node.bug == Some(Bug::LostWrites)).then(|| {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Command>();
            let node = node.clone();
            // A group commit that acknowledges before the group is proposed: whatever is
            // still queued when the leader dies is lost although it was acknowledged.
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(GROUP_COMMIT_EVERY).await;
                    while let Ok(command) = rx.try_recv() {
                        if let Err(e) = node.raft.client_write_ff(command).await {
                            tracing::warn!("lost-writes bug: group proposal failed: {e}");
                        }
                    }
                    if rx.is_closed() {
                        break;
                    }
                }
            });
            tx
        });
        Ok(AppState {
            node,
            forward,
            group,
        })
    }
}

pub(super) type Reply = (StatusCode, Json<Value>);

pub(super) fn error(status: StatusCode, message: impl Into<String>) -> Reply {
    (status, Json(json!({ "error": message.into() })))
}

/// Where a client request is handled.
pub(super) enum Route {
    /// Here: this node is (or was told to act as) the leader.
    Local,
    /// At the leader, through the peer map.
    Forward { leader: NodeId, addr: String },
    /// Nowhere: answer 503 with this reason.
    Unavailable(String),
}

impl AppState {
    pub(super) fn route(&self, headers: &HeaderMap) -> Route {
        if headers.contains_key(FORWARDED) {
            return Route::Local;
        }
        let leader = self.node.raft.metrics().borrow().current_leader;
        match leader {
            Some(leader) if leader == self.node.id => Route::Local,
            Some(leader) => match self.node.peers.get(&leader) {
                Some(addr) => Route::Forward {
                    leader,
                    addr: addr.clone(),
                },
                None => {
                    Route::Unavailable(format!("leader n{leader} is not in this node's --peer map"))
                }
            },
            None => Route::Unavailable("no leader known".to_string()),
        }
    }

    pub(super) fn is_leader(&self) -> bool {
        matches!(self.node.raft.metrics().borrow().state, ServerState::Leader)
    }

    pub(super) fn local_value(&self, key: &str) -> Value {
        self.node
            .kv
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
    }

    /// Send the request on to the leader and pass its answer back. Certainly-not-sent
    /// (connection refused) is 503; a lost answer is 504.
    pub(super) async fn forward(
        &self,
        leader: NodeId,
        addr: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Reply {
        let mut request = self
            .forward
            .request(method, format!("http://{addr}{path}"))
            .header(FORWARDED, self.node.id.to_string())
            // Longer than the leader's own deadline, so its 504 reaches the client.
            .timeout(self.node.request_timeout + Duration::from_secs(1));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) if e.is_connect() => {
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("cannot reach leader n{leader}: {e}"),
                )
            }
            Err(e) => {
                return error(
                    StatusCode::GATEWAY_TIMEOUT,
                    format!("forwarded to leader n{leader}, answer lost: {e}"),
                )
            }
        };
        let status = StatusCode::from_u16(response.status().as_u16())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match response.json::<Value>().await {
            Ok(body) => (status, Json(body)),
            Err(e) => error(
                StatusCode::GATEWAY_TIMEOUT,
                format!("forwarded to leader n{leader}, answer lost or unreadable: {e}"),
            ),
        }
    }

    /// Run a future with the node's request deadline; `None` when it passed.
    pub(super) async fn deadline<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        tokio::time::timeout(self.node.request_timeout, work)
            .await
            .ok()
    }

    /// Propose `command` and wait until it is committed and applied.
    pub(super) async fn commit(&self, command: Command) -> Result<CommandResult, Reply> {
        match self.deadline(self.node.raft.client_write(command)).await {
            None => Err(error(
                StatusCode::GATEWAY_TIMEOUT,
                "not committed before the deadline; it may still be applied",
            )),
            Some(Ok(response)) => Ok(response.data),
            Some(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not leader (leader: {:?})", f.leader_id),
            )),
            Some(Err(e)) => Err(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("write failed: {e}"),
            )),
        }
    }

    /// The `lost-writes` bug: queue the write for the next group proposal and answer at
    /// once, before the entry is even proposed, let alone committed.
    pub(super) async fn propose_only(&self, command: Command) -> Result<(), Reply> {
        if !self.is_leader() {
            return Err(error(StatusCode::SERVICE_UNAVAILABLE, "not leader"));
        }
        let queued = self.group.as_ref().map(|group| group.send(command));
        match queued {
            Some(Ok(())) => Ok(()),
            _ => Err(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "proposal queue closed",
            )),
        }
    }
}
