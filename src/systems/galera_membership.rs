//! Galera's membership as the `membership` nemesis asks for it. A Galera cluster has no
//! member list to edit: its members are the nodes in the primary component, and a node
//! leaves by shutting down cleanly (it tells the group it goes, so the others shrink the
//! quorum at once instead of waiting to suspect it) and joins by starting again, catching up
//! by IST or SST. So `remove` is SQL `SHUTDOWN` on the node, `add` is a start, and the view
//! is `information_schema.WSREP_MEMBERSHIP` as a node of the primary component reports it.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use faultline_nemeses::control::ProcessControl;
use faultline_nemeses::membership::{Membership, MembershipError};
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};

use super::galera::node_state;
use super::galera_client::{connect, status};
use super::NodeSpec;

/// How long one question to a node may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a leaving node may take to leave the view, and a joining one to be `Synced`.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(60);

/// The membership of one Galera cluster.
pub(crate) struct GaleraMembership {
    cluster: Vec<NodeSpec>,
    process: std::sync::Arc<dyn ProcessControl>,
}

impl GaleraMembership {
    pub(crate) fn new(cluster: &[NodeSpec], process: std::sync::Arc<dyn ProcessControl>) -> Self {
        GaleraMembership {
            cluster: cluster.to_vec(),
            process,
        }
    }

    fn node(&self, name: &str) -> Result<&NodeSpec, MembershipError> {
        self.cluster
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| MembershipError::Refused(format!("no node named {name}")))
    }

    /// The members as the first node of the primary component that answers names them
    /// (other than `except`), sorted.
    async fn view(&self, except: Option<&str>) -> Result<Vec<String>, String> {
        let mut why = Vec::new();
        for node in self
            .cluster
            .iter()
            .filter(|n| Some(n.name.as_str()) != except)
        {
            match primary_view(node).await {
                Ok(mut names) => {
                    names.sort();
                    return Ok(names);
                }
                Err(e) => why.push(e),
            }
        }
        Err(format!(
            "no node of the primary component answered: {}",
            why.join("; ")
        ))
    }

    /// Wait until `done` holds of the view (asked of nodes other than `except`).
    async fn await_view(
        &self,
        except: Option<&str>,
        done: impl Fn(&[String]) -> bool,
    ) -> Result<Duration, String> {
        let started = Instant::now();
        loop {
            let view = self.view(except).await;
            if view.as_ref().is_ok_and(|v| done(v)) {
                return Ok(started.elapsed());
            }
            if started.elapsed() >= CHANGE_TIMEOUT {
                return Err(format!(
                    "the view did not change within {CHANGE_TIMEOUT:?}: {}",
                    match view {
                        Ok(v) => v.join(", "),
                        Err(e) => e,
                    }
                ));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// The node names `node` reports in its view, if it is in the primary component.
async fn primary_view(node: &NodeSpec) -> Result<Vec<String>, String> {
    let mut conn = connect(node, REQUEST_TIMEOUT).await?;
    let ask = async {
        let primary = status(&mut conn, "wsrep_cluster_status").await?;
        if primary != "Primary" {
            return Err(format!("{} is in a {primary} component", node.name));
        }
        conn.query::<String, _>("SELECT NAME FROM information_schema.WSREP_MEMBERSHIP")
            .await
            .map_err(|e| format!("{}: {e}", node.name))
    };
    let view = tokio::time::timeout(REQUEST_TIMEOUT, ask)
        .await
        .map_err(|_| format!("no answer from {} within {REQUEST_TIMEOUT:?}", node.name))?;
    let _ = tokio::time::timeout(Duration::from_millis(500), conn.disconnect()).await;
    view
}

#[async_trait]
impl Membership for GaleraMembership {
    async fn members(&self) -> Result<Vec<String>, MembershipError> {
        self.view(None).await.map_err(MembershipError::Unknown)
    }

    async fn remove(&self, name: &str) -> Result<Value, MembershipError> {
        let node = self.node(name)?;
        let before = self
            .view(Some(name))
            .await
            .map_err(MembershipError::Refused)?;
        if !before.iter().any(|n| n == name) {
            return Ok(json!({ "mechanism": "galera clean shutdown", "changed": false }));
        }
        let mut conn = connect(node, REQUEST_TIMEOUT)
            .await
            .map_err(MembershipError::Refused)?;
        // The connection ends with the server: an error here says nothing.
        let _ = tokio::time::timeout(REQUEST_TIMEOUT, conn.query_drop("SHUTDOWN")).await;
        let unknown = |why: String| MembershipError::Unknown(format!("{name}: {why}"));
        let waited = self
            .await_view(Some(name), |view| !view.iter().any(|n| n == name))
            .await
            .map_err(unknown)?;
        // The target learns that the node is down (its process already exited).
        let _ = self.process.kill(name).await;
        Ok(json!({
            "mechanism": "galera clean shutdown",
            "waited_ms": waited.as_millis() as u64,
        }))
    }

    async fn add(&self, name: &str) -> Result<Value, MembershipError> {
        let node = self.node(name)?;
        let view = self
            .view(Some(name))
            .await
            .map_err(MembershipError::Refused)?;
        let member = view.iter().any(|n| n == name);
        if member
            && node_state(node)
                .await
                .is_ok_and(|(state, _)| state == "Synced")
        {
            return Ok(json!({ "mechanism": "galera join", "changed": false }));
        }
        let unknown = |why: String| MembershipError::Unknown(format!("{name}: {why}"));
        self.process
            .start(name)
            .await
            .map_err(|e| unknown(format!("its server did not start: {e}")))?;
        let started = Instant::now();
        loop {
            let state = node_state(node).await;
            if state.as_ref().is_ok_and(|(s, _)| s == "Synced") {
                break;
            }
            if started.elapsed() >= CHANGE_TIMEOUT {
                return Err(unknown(format!(
                    "it was not Synced within {CHANGE_TIMEOUT:?} ({}); read its log {}",
                    match state {
                        Ok((s, size)) => format!("{s} in a cluster of {size}"),
                        Err(e) => e,
                    },
                    node.log_file.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let waited = self
            .await_view(None, |view| view.iter().any(|n| n == name))
            .await
            .map_err(unknown)?;
        Ok(json!({
            "mechanism": "galera join",
            "synced_ms": started.elapsed().as_millis() as u64,
            "in_view_ms": waited.as_millis() as u64,
        }))
    }
}
