//! The fault abilities of SSH nodes: the nemeses crate's [`Control`] on [`SshCluster`],
//! [`ProcessControl`] through [`SshProcesses`], [`UnsyncedWrites`] through [`SshUnsynced`],
//! and the heal of every node at the end of a run or from `faultline heal`.

use std::sync::Arc;

use async_trait::async_trait;
use faultline_nemeses::control::{Control, ControlError, ExecOutput, ProcessControl};
use faultline_nemeses::unfsynced::UnsyncedWrites;
use futures::future::join_all;

use super::nodes::{SshCluster, EXEC_LIMIT};
use super::one_line;
use super::session::quote;

#[async_trait]
impl Control for SshCluster {
    fn nodes(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }

    async fn exec(
        &self,
        node: &str,
        program: &str,
        args: &[String],
    ) -> Result<ExecOutput, ControlError> {
        self.index(node)?;
        let mut line = quote(program);
        for arg in args {
            line.push(' ');
            line.push_str(&quote(arg));
        }
        let out = self
            .shell(node, &format!("exec {line}"), EXEC_LIMIT)
            .await
            .map_err(|e| ControlError::failed(node, format!("exec {program}"), e.to_string()))?;
        if out.status == 127 {
            return Err(ControlError::failed(
                node,
                format!("exec {program}"),
                format!(
                    "{program} is not installed on {node}: {}",
                    one_line(&out.stderr, 200)
                ),
            ));
        }
        Ok(ExecOutput {
            status: out.status,
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    async fn read_file(&self, node: &str, path: &str) -> Result<Vec<u8>, ControlError> {
        let i = self.index(node)?;
        if !self.spec.sudo {
            let path_owned = path.to_string();
            return self.workers[i]
                .call(move |link| link.with(|c| c.download(&path_owned)))
                .await
                .map_err(|e| ControlError::failed(node, format!("read {path}"), e.to_string()));
        }
        // cat through sudo, so root-owned files can be read.
        let out = self
            .shell_ok(node, &format!("cat -- {}", quote(path)), EXEC_LIMIT)
            .await
            .map_err(|e| ControlError::failed(node, format!("read {path}"), e.to_string()))?;
        Ok(out.into_bytes())
    }
}

/// Process faults over SSH: the system's daemon on a node, by its pidfile.
pub struct SshProcesses {
    cluster: Arc<SshCluster>,
}

impl SshProcesses {
    /// Process control over `cluster`'s daemons.
    pub fn new(cluster: Arc<SshCluster>) -> Self {
        SshProcesses { cluster }
    }
}

#[async_trait]
impl ProcessControl for SshProcesses {
    fn nodes(&self) -> Vec<String> {
        Control::nodes(&*self.cluster)
    }
    async fn kill(&self, node: &str) -> Result<(), ControlError> {
        self.cluster.daemon(node, "kill").await.map(drop)
    }
    async fn start(&self, node: &str) -> Result<(), ControlError> {
        self.cluster.daemon(node, "start").await.map(drop)
    }
    async fn pause(&self, node: &str) -> Result<(), ControlError> {
        self.cluster.daemon(node, "pause").await.map(drop)
    }
    async fn resume(&self, node: &str) -> Result<(), ControlError> {
        self.cluster.daemon(node, "resume").await.map(drop)
    }
    async fn leader(&self) -> Option<String> {
        let system = self.cluster.system.as_ref()?;
        let id = system.leader(&self.cluster.nodes).await?;
        self.cluster
            .nodes
            .iter()
            .find(|n| n.id == id)
            .map(|n| n.name.clone())
    }
}

/// `faultline heal` for a run over SSH: reconnect with the run's stored settings, resume
/// and kill every daemon the run started (found by its pidfile), and say what was done.
pub async fn heal_nodes(cluster: &SshCluster) -> anyhow::Result<Vec<String>> {
    let mut undone = Vec::new();
    let results = join_all(cluster.nodes.iter().map(|n| async {
        let before = cluster.daemon(&n.name, "status").await;
        let killed = cluster.daemon(&n.name, "kill").await;
        (n.name.clone(), before, killed)
    }))
    .await;
    for (node, before, killed) in results {
        match (before, killed) {
            (Ok(state), Ok(_)) if state.starts_with("up") => {
                undone.push(format!("stopped the daemon on {node}"))
            }
            (_, Err(e)) => undone.push(format!("could not stop the daemon on {node}: {e}")),
            _ => {}
        }
    }
    // With the daemons gone, their lazyfs mounts (lose-unfsynced) can go.
    undone.extend(cluster.unmount_lazyfs().await);
    Ok(undone)
}

/// The [`UnsyncedWrites`] of SSH nodes: their lazyfs mounts, told through the control
/// client on the node (`faultline lazyfs --control SOCKET --send lose`).
pub struct SshUnsynced(pub Arc<SshCluster>);

#[async_trait]
impl UnsyncedWrites for SshUnsynced {
    async fn lose(&self, node: &str) -> Result<serde_json::Value, ControlError> {
        self.0.lose_unsynced(node).await
    }

    fn mechanism(&self) -> String {
        "fuse".to_string()
    }
}
