//! Membership changes of a `--system command`, through its lifecycle script, run on the
//! controller (as the client command is) with the cluster in its environment:
//!
//! - `SCRIPT members`: print the voting members' node names as a JSON list;
//! - `SCRIPT remove NODE`: remove `NODE` from the cluster (succeed when it is no member);
//! - `SCRIPT add NODE`: add `NODE` as a member (succeed when it already is).
//!
//! Exit 0 means done, exit 3 means the system refused (nothing changed); anything else, or no
//! answer in [`STEP_LIMIT`], means it is unknown whether it changed. After a removal faultline
//! stops the node's process; after an addition it starts the node again on a fresh data
//! folder (`FAULTLINE_DATA_DIR` is `data/rejoin-K`) with `FAULTLINE_JOIN=existing` and
//! `FAULTLINE_MEMBERS` (the members, itself included) in `SCRIPT start`'s environment, and
//! waits until it accepts connections on its client port.
//!
//! This module never talks to the system itself: the script does.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use faultline_nemeses::control::ProcessControl;
use faultline_nemeses::membership::{Membership, MembershipError};
use serde_json::{json, Value};

use super::command_steps::{controller_step, StepRun};
use super::rejoins::Rejoin;
use super::NodeSpec;

/// How long one script step may take.
const STEP_LIMIT: Duration = Duration::from_secs(30);
/// How long a re-added node may take to accept connections.
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The rejoins of the script's nodes, each with the names of the members it joins.
pub(crate) type Rejoins = super::rejoins::Rejoins<Vec<String>>;

/// The environment a rejoined node's `SCRIPT start` gets on top of its usual one.
pub(crate) fn rejoin_environment(
    node: &NodeSpec,
    rejoin: &Rejoin<Vec<String>>,
) -> Vec<(&'static str, String)> {
    vec![
        ("FAULTLINE_JOIN", "existing".to_string()),
        ("FAULTLINE_MEMBERS", rejoin.members.join(",")),
        (
            "FAULTLINE_DATA_DIR",
            rejoin.data_dir(node).display().to_string(),
        ),
    ]
}

/// The script's membership steps over one cluster.
pub(crate) struct CommandMembership {
    script: PathBuf,
    cluster: Vec<NodeSpec>,
    process: Arc<dyn ProcessControl>,
    rejoins: Rejoins,
}

impl CommandMembership {
    pub(crate) fn new(
        script: PathBuf,
        cluster: &[NodeSpec],
        process: Arc<dyn ProcessControl>,
        rejoins: Rejoins,
    ) -> Self {
        CommandMembership {
            script,
            cluster: cluster.to_vec(),
            process,
            rejoins,
        }
    }

    fn node(&self, name: &str) -> Result<&NodeSpec, MembershipError> {
        self.cluster
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| MembershipError::Refused(format!("no node named {name}")))
    }

    /// Run `SCRIPT step [node]` on the controller; its stdout, or the error its exit means.
    async fn step(&self, step: &str, node: Option<&NodeSpec>) -> Result<String, MembershipError> {
        let (what, run) =
            controller_step(&self.script, step, node, &self.cluster, STEP_LIMIT).await;
        let out = match run {
            StepRun::Exited(out) => out,
            StepRun::NotStarted(e) => return Err(MembershipError::Refused(format!("{what}: {e}"))),
            StepRun::TimedOut => {
                return Err(MembershipError::Unknown(format!(
                    "{what} did not finish within {STEP_LIMIT:?}"
                )))
            }
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.trim().lines().last().unwrap_or("").to_string();
        match out.status.code() {
            Some(0) => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
            Some(3) => Err(MembershipError::Refused(format!("{what}: {last}"))),
            code => Err(MembershipError::Unknown(format!(
                "{what} exited {code:?}: {last}"
            ))),
        }
    }
}

#[async_trait]
impl Membership for CommandMembership {
    async fn members(&self) -> Result<Vec<String>, MembershipError> {
        let out = self.step("members", None).await?;
        let mut members: Vec<String> = serde_json::from_str(out.trim()).map_err(|e| {
            MembershipError::Unknown(format!(
                "{} members printed {:?}, not a JSON list of node names: {e}",
                self.script.display(),
                out.trim()
            ))
        })?;
        members.sort();
        Ok(members)
    }

    async fn remove(&self, name: &str) -> Result<Value, MembershipError> {
        let node = self.node(name)?;
        self.step("remove", Some(node)).await?;
        let stopped = self.process.kill(name).await;
        Ok(json!({
            "mechanism": "SCRIPT remove",
            "process_stopped": stopped.is_ok(),
        }))
    }

    async fn add(&self, name: &str) -> Result<Value, MembershipError> {
        let node = self.node(name)?.clone();
        self.step("add", Some(&node)).await?;
        let unknown =
            |why: String| MembershipError::Unknown(format!("{name} was added, but {why}"));
        let members = self.members().await.map_err(|e| unknown(e.to_string()))?;
        // The old life must be gone before the new one starts on a fresh folder.
        let _ = self.process.kill(name).await;
        let rejoin = self.rejoins.next(name, members);
        self.process
            .start(name)
            .await
            .map_err(|e| unknown(format!("its process did not start: {e}")))?;
        let started = std::time::Instant::now();
        loop {
            let connect = tokio::net::TcpStream::connect(&node.client_addr);
            if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(500), connect).await {
                break;
            }
            if started.elapsed() > JOIN_TIMEOUT {
                return Err(unknown(format!(
                    "it accepts no connections on {} after {JOIN_TIMEOUT:?}",
                    node.client_addr
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(json!({
            "mechanism": "SCRIPT add",
            "data_dir": rejoin.data_dir(&node).display().to_string(),
            "joined_ms": started.elapsed().as_millis() as u64,
        }))
    }
}
