//! The HTTP API of a reference node: the client key-value endpoints (with forwarding to the
//! leader), `/status`, and the `/raft/*` endpoints the peers' Raft network calls.
//!
//! The status codes follow the table in the parent module's docs ([`crate::systems::reference`]):
//! 503 only when the request certainly had no effect, 504/500 when it may have had one. This
//! module must never answer 200 to a write before it is committed and applied, unless the
//! `lost-writes` bug is switched on, and never read without a read-index round through the
//! leader, unless the `stale-reads` bug is switched on. A transaction (`POST /txn`) is one
//! Raft entry, reads and writes together, unless the `txn-stale-reads` bug is switched on.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use openraft::error::{CheckIsLeaderError, InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::app_state::{error, AppState, Reply, Route};
use super::transactions::{self, MicroOp};
use super::{Command, CommandResult, NodeId, TypeConfig};
use crate::systems::key_path::encode_key;
use crate::systems::reference::Bug;

/// The router serving every endpoint of a node.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/status", get(status))
        .route("/kv/{key}", get(read).put(write))
        .route("/kv/{key}/cas", post(cas))
        .route("/txn", post(transaction))
        .route("/commit", post(guarded_commit))
        .route("/membership", get(super::membership_api::members))
        .route("/membership/remove", post(super::membership_api::remove))
        .route("/membership/add", post(super::membership_api::add))
        .route("/raft/append", post(raft_append))
        .route("/raft/vote", post(raft_vote))
        .route("/raft/snapshot", post(raft_snapshot))
        .with_state(state)
}

async fn status(State(state): State<AppState>) -> Json<Value> {
    let metrics = state.node.raft.metrics().borrow().clone();
    Json(json!({
        "id": state.node.id,
        "leader": metrics.current_leader,
        "term": metrics.current_term,
        "state": format!("{:?}", metrics.state),
        "last_applied": metrics.last_applied.map(|id| id.index),
        "last_log_index": metrics.last_log_index,
        "bug": state.node.bug.map(|b| b.to_string()),
    }))
}

async fn read(State(state): State<AppState>, Path(key): Path<String>, headers: HeaderMap) -> Reply {
    if state.node.bug == Some(Bug::StaleReads) {
        return (
            StatusCode::OK,
            Json(json!({ "value": state.local_value(&key) })),
        );
    }
    match state.route(&headers) {
        Route::Unavailable(why) => error(StatusCode::SERVICE_UNAVAILABLE, why),
        Route::Forward { leader, addr } => {
            state
                .forward(
                    leader,
                    &addr,
                    Method::GET,
                    &format!("/kv/{}", encode_key(&key)),
                    None,
                )
                .await
        }
        Route::Local => match state.deadline(state.node.raft.ensure_linearizable()).await {
            None => error(
                StatusCode::GATEWAY_TIMEOUT,
                "read index not confirmed before the deadline",
            ),
            Some(Ok(_)) => (
                StatusCode::OK,
                Json(json!({ "value": state.local_value(&key) })),
            ),
            Some(Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)))) => error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not leader (leader: {:?})", f.leader_id),
            ),
            Some(Err(RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(e)))) => error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("leadership not confirmed: {e}"),
            ),
            Some(Err(e)) => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("read failed: {e}"),
            ),
        },
    }
}

#[derive(Debug, Deserialize)]
struct PutBody {
    value: Value,
}

async fn write(
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
    Json(body): Json<PutBody>,
) -> Reply {
    match state.route(&headers) {
        Route::Unavailable(why) => error(StatusCode::SERVICE_UNAVAILABLE, why),
        Route::Forward { leader, addr } => {
            let body = json!({ "value": body.value });
            state
                .forward(
                    leader,
                    &addr,
                    Method::PUT,
                    &format!("/kv/{}", encode_key(&key)),
                    Some(&body),
                )
                .await
        }
        Route::Local => {
            let command = Command::Put {
                key,
                value: body.value,
            };
            let done = if state.node.bug == Some(Bug::LostWrites) {
                state.propose_only(command).await
            } else {
                state.commit(command).await.map(|_| ())
            };
            match done {
                Ok(()) => (StatusCode::OK, Json(json!({}))),
                Err(reply) => reply,
            }
        }
    }
}

#[derive(Debug, Deserialize)]
struct CasBody {
    from: Value,
    to: Value,
}

fn cas_reply(result: CommandResult) -> Reply {
    if result.applied {
        (StatusCode::OK, Json(json!({ "applied": true })))
    } else {
        (
            StatusCode::OK,
            Json(json!({ "applied": false, "current": result.current })),
        )
    }
}

async fn cas(
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
    Json(body): Json<CasBody>,
) -> Reply {
    match state.route(&headers) {
        Route::Unavailable(why) => error(StatusCode::SERVICE_UNAVAILABLE, why),
        Route::Forward { leader, addr } => {
            let body = json!({ "from": body.from, "to": body.to });
            let path = format!("/kv/{}/cas", encode_key(&key));
            state
                .forward(leader, &addr, Method::POST, &path, Some(&body))
                .await
        }
        Route::Local if state.node.bug == Some(Bug::LostWrites) => {
            let current = state.local_value(&key);
            if current != body.from {
                return cas_reply(CommandResult {
                    applied: false,
                    current,
                });
            }
            let command = Command::Cas {
                key,
                from: body.from,
                to: body.to,
            };
            match state.propose_only(command).await {
                Ok(()) => cas_reply(CommandResult {
                    applied: true,
                    current,
                }),
                Err(reply) => reply,
            }
        }
        Route::Local if state.node.bug == Some(Bug::LostUpdates) => {
            // Judged against this node's state machine, then written unguarded.
            let current = state.local_value(&key);
            if current != body.from {
                return cas_reply(CommandResult {
                    applied: false,
                    current,
                });
            }
            match state
                .commit(Command::Put {
                    key,
                    value: body.to,
                })
                .await
            {
                Ok(_) => cas_reply(CommandResult {
                    applied: true,
                    current,
                }),
                Err(reply) => reply,
            }
        }
        Route::Local => match state
            .commit(Command::Cas {
                key,
                from: body.from,
                to: body.to,
            })
            .await
        {
            Ok(result) => cas_reply(result),
            Err(reply) => reply,
        },
    }
}

#[derive(Debug, Deserialize)]
struct TxnBody {
    ops: Vec<MicroOp>,
}

/// `POST /txn`: the micro-ops run in order, atomically, as one Raft entry at the leader;
/// 200 `{"ops": completed}`, 409 when the txn cannot apply (nothing was), 400 when it is
/// malformed (nothing was proposed).
async fn transaction(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<TxnBody>,
) -> Reply {
    if let Err(why) = transactions::validate(&body.ops) {
        return error(StatusCode::BAD_REQUEST, why);
    }
    if state.node.bug == Some(Bug::TxnStaleReads) && body.ops.iter().any(|op| !op.is_write()) {
        return stale_transaction(&state, &headers, body.ops).await;
    }
    commit_transaction(&state, &headers, body.ops).await
}

/// The correct path: forward to the leader, or propose the whole txn as one entry.
async fn commit_transaction(state: &AppState, headers: &HeaderMap, ops: Vec<MicroOp>) -> Reply {
    match state.route(headers) {
        Route::Unavailable(why) => error(StatusCode::SERVICE_UNAVAILABLE, why),
        Route::Forward { leader, addr } => {
            let body = json!({ "ops": ops });
            state
                .forward(leader, &addr, Method::POST, "/txn", Some(&body))
                .await
        }
        Route::Local => match state.commit(Command::Txn { ops }).await {
            Ok(result) if result.applied => {
                (StatusCode::OK, Json(json!({ "ops": result.current })))
            }
            Ok(result) => error(
                StatusCode::CONFLICT,
                format!(
                    "the txn cannot apply, nothing was: {}",
                    result.current.as_str().unwrap_or("no reason")
                ),
            ),
            Err(reply) => reply,
        },
    }
}

/// The `txn-stale-reads` bug: the reads run now, against this node's own state machine
/// (with the txn's own earlier writes overlaid, so each txn stays internally consistent);
/// the writes alone are then committed as a separate txn, at whatever state the leader has
/// by then. Reads and writes are no longer one atomic step.
async fn stale_transaction(state: &AppState, headers: &HeaderMap, ops: Vec<MicroOp>) -> Reply {
    let executed = match transactions::execute(&ops, |key| state.local_value(key)) {
        Ok(executed) => executed,
        Err(why) => return error(StatusCode::CONFLICT, format!("the txn cannot apply: {why}")),
    };
    let writes: Vec<MicroOp> = ops.into_iter().filter(MicroOp::is_write).collect();
    if !writes.is_empty() {
        let (status, answer) = commit_transaction(state, headers, writes).await;
        if status != StatusCode::OK {
            return (status, answer);
        }
    }
    (StatusCode::OK, Json(json!({ "ops": executed.completed })))
}

#[derive(Debug, Deserialize)]
struct CommitBody {
    expect: Vec<(String, Value)>,
    writes: Vec<(String, Value)>,
}

/// `POST /commit`: the writes, if every expected value still holds, as one Raft entry at
/// the leader; 200 `{"committed": bool}`.
async fn guarded_commit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<CommitBody>,
) -> Reply {
    let command = if state.node.bug == Some(Bug::LostUpdates) {
        // The bug: the expectations are judged here, against this node's own state
        // machine, and the writes then proposed unguarded; two commits that read the same
        // state both pass, and the later overwrites the earlier.
        if body.expect.iter().any(|(k, v)| &state.local_value(k) != v) {
            return (StatusCode::OK, Json(json!({ "committed": false })));
        }
        Command::Commit {
            expect: Vec::new(),
            writes: body.writes,
        }
    } else {
        Command::Commit {
            expect: body.expect,
            writes: body.writes,
        }
    };
    match state.route(&headers) {
        Route::Unavailable(why) => error(StatusCode::SERVICE_UNAVAILABLE, why),
        Route::Forward { leader, addr } => {
            let Command::Commit { expect, writes } = command else {
                unreachable!("built above")
            };
            let body = json!({ "expect": expect, "writes": writes });
            state
                .forward(leader, &addr, Method::POST, "/commit", Some(&body))
                .await
        }
        Route::Local => match state.commit(command).await {
            Ok(result) => (StatusCode::OK, Json(json!({ "committed": result.applied }))),
            Err(reply) => reply,
        },
    }
}

async fn raft_append(
    State(state): State<AppState>,
    Json(request): Json<AppendEntriesRequest<TypeConfig>>,
) -> Json<Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>> {
    Json(state.node.raft.append_entries(request).await)
}

async fn raft_vote(
    State(state): State<AppState>,
    Json(request): Json<VoteRequest<NodeId>>,
) -> Json<Result<VoteResponse<NodeId>, RaftError<NodeId>>> {
    Json(state.node.raft.vote(request).await)
}

async fn raft_snapshot(
    State(state): State<AppState>,
    Json(request): Json<InstallSnapshotRequest<TypeConfig>>,
) -> Json<Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>> {
    Json(state.node.raft.install_snapshot(request).await)
}
