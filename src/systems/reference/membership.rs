//! The reference system's membership API as the `membership` nemesis asks for it: the node
//! endpoints `GET /membership`, `POST /membership/remove` and `/membership/add` (see
//! [`super::server`]), which run openraft's `change_membership` at the leader.
//!
//! A request goes to any node (a follower forwards it to the leader); a node that certainly
//! did nothing (503: no leader known, not reachable) is followed by the next, for a few
//! seconds, so a change right after an election still goes through. A removed node keeps
//! running, so nothing is stopped or started here.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use faultline_nemeses::membership::{Membership, MembershipError};
use serde_json::{json, Value};

use crate::systems::NodeSpec;

/// How long a request keeps trying nodes that certainly did nothing.
const RETRY_FOR: Duration = Duration::from_secs(8);
/// How long one request may take: the node's own deadline for a change is three request
/// timeouts (9 s by default), and a forwarded answer adds a second.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(12);

/// Membership changes of a reference cluster.
pub(crate) struct ReferenceMembership {
    nodes: Vec<NodeSpec>,
    http: reqwest::Client,
}

impl ReferenceMembership {
    /// Membership changes over `nodes`, as the harness reaches them.
    pub(crate) fn new(nodes: &[NodeSpec]) -> Self {
        ReferenceMembership {
            nodes: nodes.to_vec(),
            http: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .connect_timeout(Duration::from_millis(500))
                .build()
                .unwrap_or_default(),
        }
    }

    fn id(&self, name: &str) -> Result<u64, MembershipError> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .map(|n| n.id)
            .ok_or_else(|| MembershipError::Refused(format!("no node named {name}")))
    }

    fn names(&self, ids: &Value) -> Vec<String> {
        let mut names: Vec<String> = ids
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_u64)
            .map(|id| match self.nodes.iter().find(|n| n.id == id) {
                Some(node) => node.name.clone(),
                None => format!("id {id}"),
            })
            .collect();
        names.sort();
        names
    }

    /// Send one request, trying the nodes in turn (those other than `avoid` first) while
    /// they certainly did nothing; the first answer that did something, or why none did.
    async fn request(
        &self,
        path: &str,
        body: Option<Value>,
        avoid: Option<&str>,
    ) -> Result<Value, MembershipError> {
        let mut order: Vec<&NodeSpec> = self.nodes.iter().collect();
        order.sort_by_key(|n| Some(n.name.as_str()) == avoid);
        let started = Instant::now();
        let mut last = String::from("no node to ask");
        loop {
            for node in &order {
                let url = format!("http://{}{path}", node.client_addr);
                let request = match &body {
                    Some(body) => self.http.post(&url).json(body),
                    None => self.http.get(&url),
                };
                let response = match request.send().await {
                    Ok(response) => response,
                    Err(e) if e.is_connect() => {
                        last = format!("{}: {e}", node.name);
                        continue;
                    }
                    Err(e) if body.is_none() => {
                        last = format!("{}: {e}", node.name);
                        continue;
                    }
                    Err(e) => {
                        return Err(MembershipError::Unknown(format!(
                            "{path} at {}: {e}",
                            node.name
                        )))
                    }
                };
                let status = response.status().as_u16();
                let answer: Value = response.json().await.unwrap_or(Value::Null);
                let why = || {
                    answer["error"]
                        .as_str()
                        .map_or_else(|| answer.to_string(), str::to_string)
                };
                match status {
                    200 => return Ok(answer),
                    503 => last = format!("{}: {}", node.name, why()),
                    400 | 409 => {
                        return Err(MembershipError::Refused(format!(
                            "{path} at {}: {}",
                            node.name,
                            why()
                        )))
                    }
                    _ if body.is_none() => last = format!("{}: {}", node.name, why()),
                    _ => {
                        return Err(MembershipError::Unknown(format!(
                            "{path} at {} answered {status}: {}",
                            node.name,
                            why()
                        )))
                    }
                }
            }
            if started.elapsed() >= RETRY_FOR {
                return Err(MembershipError::Refused(format!(
                    "no node could take {path} within {RETRY_FOR:?}; last: {last}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn change(&self, path: &str, node: &str) -> Result<Value, MembershipError> {
        let id = self.id(node)?;
        let answer = self
            .request(path, Some(json!({ "id": id })), Some(node))
            .await?;
        Ok(json!({
            "mechanism": "openraft change_membership",
            "node_id": id,
            "changed": answer["changed"],
        }))
    }
}

#[async_trait]
impl Membership for ReferenceMembership {
    async fn members(&self) -> Result<Vec<String>, MembershipError> {
        let answer = self.request("/membership", None, None).await?;
        if answer["joint"] == true {
            tracing::info!(%answer, "the membership is a joint configuration");
        }
        Ok(self.names(&answer["voters"]))
    }

    async fn remove(&self, node: &str) -> Result<Value, MembershipError> {
        self.change("/membership/remove", node).await
    }

    async fn add(&self, node: &str) -> Result<Value, MembershipError> {
        self.change("/membership/add", node).await
    }
}
