//! The local target's [`Control`]: run a command on a node, read and write a file there.
//!
//! With network namespaces a node is a host of its own: `exec` runs the program inside the
//! node's namespace (`ip netns exec NS ...`), so iptables and tc act on that node alone.
//! Without them every node shares this machine's network, so `exec` refuses (running
//! iptables or tc here would fault the host, not a node). Files are this machine's files in
//! both cases: node namespaces share the filesystem.
//!
//! This module must never run a command in the root namespace on a node's behalf.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use faultline_nemeses::control::{Control, ControlError, ExecOutput};

/// How long one command on a node may take.
const EXEC_TIMEOUT: Duration = Duration::from_secs(20);

/// Commands and files on local nodes.
pub struct LocalControl {
    nodes: Vec<String>,
    namespaces: Option<BTreeMap<String, String>>,
}

impl LocalControl {
    /// Control of `nodes`; `namespaces` maps each to its network namespace, or `None` when
    /// the nodes share this machine's network.
    pub fn new(nodes: Vec<String>, namespaces: Option<BTreeMap<String, String>>) -> Self {
        LocalControl { nodes, namespaces }
    }

    fn check(&self, node: &str) -> Result<(), ControlError> {
        if self.nodes.iter().any(|n| n == node) {
            Ok(())
        } else {
            Err(ControlError::unknown_node(node, &self.nodes))
        }
    }
}

#[async_trait]
impl Control for LocalControl {
    fn nodes(&self) -> Vec<String> {
        self.nodes.clone()
    }

    async fn exec(
        &self,
        node: &str,
        program: &str,
        args: &[String],
    ) -> Result<ExecOutput, ControlError> {
        self.check(node)?;
        let Some(ns) = self.namespaces.as_ref().and_then(|m| m.get(node)) else {
            return Err(ControlError::failed(
                node,
                format!("exec {program}"),
                "local nodes without network namespaces share this machine's network, so commands \
                 such as iptables or tc cannot act on one node; run faultline as root (without \
                 --no-netns) to give each node a namespace",
            ));
        };
        let mut command = tokio::process::Command::new("ip");
        command
            .args(["netns", "exec", ns, program])
            .args(args)
            .kill_on_drop(true);
        let output = tokio::time::timeout(EXEC_TIMEOUT, command.output())
            .await
            .map_err(|_| {
                ControlError::failed(
                    node,
                    format!("exec {program}"),
                    format!("no exit within {EXEC_TIMEOUT:?}"),
                )
            })?
            .map_err(|e| {
                ControlError::failed(
                    node,
                    format!("exec {program}"),
                    format!("cannot run ip netns exec: {e}"),
                )
            })?;
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        // `ip netns exec` exits 255 when it cannot exec the program at all.
        if output.status.code() == Some(255) && stderr.contains("exec of") {
            return Err(ControlError::failed(
                node,
                format!("exec {program}"),
                format!("{program} is not installed: {}", stderr.trim()),
            ));
        }
        Ok(ExecOutput {
            status: output.status.code().unwrap_or(128),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr,
        })
    }

    async fn read_file(&self, node: &str, path: &str) -> Result<Vec<u8>, ControlError> {
        self.check(node)?;
        tokio::fs::read(path)
            .await
            .map_err(|e| ControlError::failed(node, format!("read {path}"), e.to_string()))
    }

    async fn write_file(&self, node: &str, path: &str, content: &str) -> Result<(), ControlError> {
        self.check(node)?;
        let temp = format!("{path}.tmp");
        let fail =
            |e: std::io::Error| ControlError::failed(node, format!("write {path}"), e.to_string());
        tokio::fs::write(&temp, content).await.map_err(fail)?;
        tokio::fs::rename(&temp, path).await.map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_namespaces_exec_refuses_and_files_work() {
        let control = LocalControl::new(vec!["n1".into()], None);
        let err = control.exec("n1", "iptables", &[]).await.unwrap_err();
        assert!(err.to_string().contains("run faultline as root"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f").display().to_string();
        control.write_file("n1", &path, "+60.000\n").await.unwrap();
        assert_eq!(control.read_file("n1", &path).await.unwrap(), b"+60.000\n");
        assert!(control.read_file("n2", &path).await.is_err());
    }
}
