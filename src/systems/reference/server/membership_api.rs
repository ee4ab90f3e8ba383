//! The membership endpoints of a reference node, for the `membership` nemesis: read the
//! voters, remove one, add one back, through openraft's `change_membership` at the leader.
//! A follower forwards them to the leader like client writes.
//!
//! | request | answer (200) |
//! |---|---|
//! | `GET /membership` | `{"voters": [ids], "learners": [ids], "joint": bool, "leader"}`, the leader's view |
//! | `POST /membership/remove` with `{"id": n}` | `{"changed": bool, "voters": [ids]}` once the configuration without `n` is committed |
//! | `POST /membership/add` with `{"id": n}` | `{"changed": bool, "voters": [ids]}` once `n` caught up as a learner and the configuration with it as a voter is committed |
//!
//! A removed node keeps running; it is no member any more (not even a learner), so it
//! neither votes nor campaigns once it learned of its removal. Adding it back makes it a
//! learner first (`add_learner`, waiting until it caught up), then a voter. Both requests
//! succeed without a change when there is nothing to do, so they are safe to repeat.
//!
//! Status codes: 503 when nothing changed (this node is not the leader, no leader known), 409
//! when openraft refused the change (another change in progress, an unknown learner), 400
//! for a node id not in the `--peer` map, 504 when the deadline passed and 500 when openraft
//! failed after the change may have been proposed (both: the change may take effect).

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::Json;
use openraft::error::{ClientWriteError, RaftError};
use openraft::{BasicNode, ChangeMembers};
use serde::Deserialize;
use serde_json::json;

use super::app_state::{error, AppState, Reply, Route};
use super::NodeId;

/// How many request deadlines a membership change may take (two log entries, and for an
/// add the learner's catching up).
const DEADLINES: u32 = 3;

/// The body of `POST /membership/remove` and `/membership/add`.
#[derive(Debug, Deserialize)]
pub(super) struct MemberBody {
    id: NodeId,
}

fn voters(state: &AppState) -> Vec<NodeId> {
    let metrics = state.node.raft.metrics().borrow().clone();
    metrics.membership_config.membership().voter_ids().collect()
}

/// `GET /membership`.
pub(super) async fn members(State(state): State<AppState>, headers: HeaderMap) -> Reply {
    match state.route(&headers) {
        Route::Unavailable(why) => error(StatusCode::SERVICE_UNAVAILABLE, why),
        Route::Forward { leader, addr } => {
            state
                .forward(leader, &addr, Method::GET, "/membership", None)
                .await
        }
        Route::Local => {
            let metrics = state.node.raft.metrics().borrow().clone();
            let membership = metrics.membership_config.membership();
            (
                StatusCode::OK,
                Json(json!({
                    "voters": membership.voter_ids().collect::<Vec<_>>(),
                    "learners": membership.learner_ids().collect::<Vec<_>>(),
                    "joint": membership.get_joint_config().len() > 1,
                    "leader": metrics.current_leader,
                })),
            )
        }
    }
}

/// Run a membership change on `id` at the leader: forwarded there from a follower, refused
/// (503) by a node that is no longer a voter, else `change` here.
async fn at_the_leader<F, Fut>(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
    id: NodeId,
    change: F,
) -> Reply
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    match state.route(headers) {
        Route::Unavailable(why) => error(StatusCode::SERVICE_UNAVAILABLE, why),
        Route::Forward { leader, addr } => {
            let body = json!({ "id": id });
            state
                .forward(leader, &addr, Method::POST, path, Some(&body))
                .await
        }
        Route::Local => match removed_here(state) {
            Some(reply) => reply,
            None => change().await,
        },
    }
}

/// `POST /membership/remove`.
pub(super) async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<MemberBody>,
) -> Reply {
    at_the_leader(&state, &headers, "/membership/remove", body.id, || async {
        if !voters(&state).contains(&body.id) {
            return unchanged(&state);
        }
        let change = ChangeMembers::RemoveVoters(BTreeSet::from([body.id]));
        change_membership(&state, change, None).await
    })
    .await
}

/// `POST /membership/add`.
pub(super) async fn add(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<MemberBody>,
) -> Reply {
    at_the_leader(&state, &headers, "/membership/add", body.id, || async {
        if voters(&state).contains(&body.id) {
            return unchanged(&state);
        }
        let Some(addr) = state.node.peers.get(&body.id).cloned() else {
            return error(
                StatusCode::BAD_REQUEST,
                format!("node {} is not in this node's --peer map", body.id),
            );
        };
        let change = ChangeMembers::AddVoterIds(BTreeSet::from([body.id]));
        change_membership(&state, change, Some((body.id, addr))).await
    })
    .await
}

/// A node the membership no longer has as a voter may still believe it leads (it removed
/// itself, or the others have not told it of their new leader yet): it certainly changes
/// nothing (503), so the caller asks another node.
fn removed_here(state: &AppState) -> Option<Reply> {
    (!voters(state).contains(&state.node.id)).then(|| {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "n{} is no longer a voter, so it does not lead the current membership",
                state.node.id
            ),
        )
    })
}

fn unchanged(state: &AppState) -> Reply {
    (
        StatusCode::OK,
        Json(json!({ "changed": false, "voters": voters(state) })),
    )
}

/// Propose `change` (after adding `learner` and waiting until it caught up) and wait until
/// the new configuration is committed.
async fn change_membership(
    state: &AppState,
    change: ChangeMembers<NodeId, BasicNode>,
    learner: Option<(NodeId, String)>,
) -> Reply {
    let raft = &state.node.raft;
    let before = raft
        .metrics()
        .borrow()
        .membership_config
        .log_id()
        .to_owned();
    let work = async {
        if let Some((id, addr)) = learner {
            raft.add_learner(id, BasicNode::new(addr), true).await?;
        }
        raft.change_membership(change, false).await
    };
    let deadline = state.node.request_timeout * DEADLINES;
    match tokio::time::timeout(deadline, work).await {
        Err(_) => error(
            StatusCode::GATEWAY_TIMEOUT,
            "the membership change was not committed before the deadline; it may still be",
        ),
        Ok(Ok(_)) => (
            StatusCode::OK,
            Json(json!({ "changed": true, "voters": voters(state) })),
        ),
        Ok(Err(RaftError::APIError(e))) => {
            let proposed = raft.metrics().borrow().membership_config.log_id() != &before;
            match e {
                ClientWriteError::ForwardToLeader(f) if !proposed => error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("not leader (leader: {:?})", f.leader_id),
                ),
                ClientWriteError::ChangeMembershipError(e) if !proposed => {
                    error(StatusCode::CONFLICT, format!("refused: {e}"))
                }
                other => error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("the membership change failed after it was proposed: {other}"),
                ),
            }
        }
        Ok(Err(e)) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the membership change failed: {e}"),
        ),
    }
}
