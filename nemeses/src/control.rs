//! The seams through which nemeses touch nodes: [`Control`] (run a command on a node, read a
//! file there) and [`ProcessControl`] (Jepsen's Kill and Pause abilities of a DB: SIGKILL,
//! restart, SIGSTOP and SIGCONT the system's process on a node, and ask who leads).
//!
//! The controller implements these once per target (local processes, SSH, docker); this
//! crate only calls them. This module must never know how a target reaches its nodes.
//!
//! A target implements the trait with `async_trait`, so nemeses hold it as
//! `Arc<dyn ProcessControl>`:
//!
//! ```
//! use std::collections::BTreeSet;
//! use std::sync::{Arc, Mutex};
//!
//! use async_trait::async_trait;
//! use faultline_nemeses::control::{ControlError, ProcessControl};
//!
//! /// Pretends to signal processes; remembers which nodes are down.
//! struct Pretend {
//!     down: Mutex<BTreeSet<String>>,
//! }
//!
//! #[async_trait]
//! impl ProcessControl for Pretend {
//!     fn nodes(&self) -> Vec<String> {
//!         vec!["n1".into(), "n2".into(), "n3".into()]
//!     }
//!     async fn kill(&self, node: &str) -> Result<(), ControlError> {
//!         self.down.lock().unwrap().insert(node.to_string());
//!         Ok(())
//!     }
//!     async fn start(&self, node: &str) -> Result<(), ControlError> {
//!         self.down.lock().unwrap().remove(node);
//!         Ok(())
//!     }
//!     async fn pause(&self, node: &str) -> Result<(), ControlError> {
//!         Err(ControlError::unsupported(node, "pause"))
//!     }
//!     async fn resume(&self, node: &str) -> Result<(), ControlError> {
//!         Err(ControlError::unsupported(node, "resume"))
//!     }
//!     async fn leader(&self) -> Option<String> {
//!         None
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let control: Arc<dyn ProcessControl> = Arc::new(Pretend { down: Mutex::default() });
//! control.kill("n2").await.unwrap();
//! let err = control.pause("n1").await.unwrap_err();
//! assert_eq!(err.node(), "n1");
//! # });
//! ```

use async_trait::async_trait;

/// What a command run on a node printed and how it exited.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecOutput {
    /// The exit status; `0` is success. A command ended by a signal reports `128 + signal`,
    /// as shells do.
    pub status: i32,
    /// Everything the command wrote to standard output.
    pub stdout: String,
    /// Everything the command wrote to standard error.
    pub stderr: String,
}

impl ExecOutput {
    /// Whether the command exited with status 0.
    pub fn success(&self) -> bool {
        self.status == 0
    }
}

/// A failure of the harness to act on a node: which node, which action, and why.
///
/// This is the target's failure (SSH down, no such process, permission denied), not an
/// outcome of the system under test; nemeses turn it into an `Indeterminate` outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// The node is not one of the target's nodes.
    #[error("unknown node {node:?}; the target's nodes are {known}")]
    UnknownNode {
        /// The name asked for.
        node: String,
        /// The target's nodes, comma separated.
        known: String,
    },
    /// The target cannot do this at all (e.g. pause on a target without signals).
    #[error("node {node}: {action} is not supported by this target")]
    Unsupported {
        /// The node asked about.
        node: String,
        /// What was asked (`pause`, `exec`, ...).
        action: String,
    },
    /// The action was attempted and failed; its effect on the node is unknown.
    #[error("node {node}: {action} failed: {message}")]
    Failed {
        /// The node acted on.
        node: String,
        /// What was attempted (`kill`, `start`, `exec iptables`, ...).
        action: String,
        /// Why it failed, in a sentence.
        message: String,
    },
}

impl ControlError {
    /// `action` on `node` was attempted and failed because of `message`.
    pub fn failed(
        node: impl Into<String>,
        action: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ControlError::Failed {
            node: node.into(),
            action: action.into(),
            message: message.into(),
        }
    }

    /// The target cannot do `action` at all.
    pub fn unsupported(node: impl Into<String>, action: impl Into<String>) -> Self {
        ControlError::Unsupported {
            node: node.into(),
            action: action.into(),
        }
    }

    /// `node` is not one of `known`.
    pub fn unknown_node(node: impl Into<String>, known: &[String]) -> Self {
        ControlError::UnknownNode {
            node: node.into(),
            known: known.join(", "),
        }
    }

    /// The node this error is about.
    pub fn node(&self) -> &str {
        match self {
            ControlError::UnknownNode { node, .. }
            | ControlError::Unsupported { node, .. }
            | ControlError::Failed { node, .. } => node,
        }
    }
}

/// Run commands on nodes and read files there (used by network, clock and link faults).
///
/// `exec` reports a command's non-zero exit as data in [`ExecOutput::status`]; an `Err` means
/// the command could not be run at all (node unreachable, program missing).
#[async_trait]
pub trait Control: Send + Sync {
    /// The names of the nodes this target reaches, in a stable order.
    fn nodes(&self) -> Vec<String>;
    /// Run `program` with `args` on `node` (no shell in between) and wait for it to exit.
    async fn exec(
        &self,
        node: &str,
        program: &str,
        args: &[String],
    ) -> Result<ExecOutput, ControlError>;
    /// The whole content of the file at `path` on `node`.
    async fn read_file(&self, node: &str, path: &str) -> Result<Vec<u8>, ControlError>;
    /// Replace the file at `path` on `node` with `content`. The default runs `sh` on the
    /// node; targets that reach files directly override it.
    async fn write_file(&self, node: &str, path: &str, content: &str) -> Result<(), ControlError> {
        let args = [
            "-c".to_string(),
            "printf '%s' \"$1\" > \"$2\".tmp && mv \"$2\".tmp \"$2\"".to_string(),
            "sh".to_string(),
            content.to_string(),
            path.to_string(),
        ];
        let out = self.exec(node, "sh", &args).await?;
        if out.success() {
            Ok(())
        } else {
            Err(ControlError::failed(
                node,
                format!("write {path}"),
                format!("sh exited with {}: {}", out.status, out.stderr.trim()),
            ))
        }
    }
}

/// `args` as the owned strings [`Control::exec`] takes (which reports a non-zero exit as
/// data: for probes such as `iptables -C`, and commands allowed to fail).
pub(crate) fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// Run `program` on `node` and turn a non-zero exit into a [`ControlError::Failed`] naming
/// the command and what it printed.
pub async fn exec_ok(
    control: &dyn Control,
    node: &str,
    program: &str,
    args: &[&str],
) -> Result<ExecOutput, ControlError> {
    let out = control.exec(node, program, &owned(args)).await?;
    if out.success() {
        Ok(out)
    } else {
        Err(ControlError::failed(
            node,
            format!("{program} {}", args.join(" ")),
            format!("exit status {}: {}", out.status, out.stderr.trim()),
        ))
    }
}

/// Jepsen's Kill and Pause abilities of a DB: the system's process on a node.
///
/// `start` and `resume` must succeed when the process already runs: heal retries them after a
/// failure whose effect was unknown, so they have to be safe to repeat.
#[async_trait]
pub trait ProcessControl: Send + Sync {
    /// The names of the nodes this target reaches, in a stable order.
    fn nodes(&self) -> Vec<String>;
    /// SIGKILL the system's process on `node`.
    async fn kill(&self, node: &str) -> Result<(), ControlError>;
    /// (Re)start the system's process on `node`; succeeds if it already runs.
    async fn start(&self, node: &str) -> Result<(), ControlError>;
    /// SIGSTOP the system's process on `node`.
    async fn pause(&self, node: &str) -> Result<(), ControlError>;
    /// SIGCONT the system's process on `node`; succeeds if it is not stopped.
    async fn resume(&self, node: &str) -> Result<(), ControlError>;
    /// The node the system names as its leader, if it can tell.
    async fn leader(&self) -> Option<String>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_node_and_the_action() {
        let e = ControlError::failed("n2", "kill", "no such process");
        assert_eq!(e.to_string(), "node n2: kill failed: no such process");
        assert_eq!(e.node(), "n2");
        let e = ControlError::unknown_node("n9", &["n1".into(), "n2".into()]);
        assert_eq!(
            e.to_string(),
            "unknown node \"n9\"; the target's nodes are n1, n2"
        );
        assert_eq!(
            ControlError::unsupported("n1", "pause").to_string(),
            "node n1: pause is not supported by this target"
        );
    }

    #[test]
    fn exec_output_success_is_status_zero() {
        assert!(ExecOutput::default().success());
        let out = ExecOutput {
            status: 137,
            ..ExecOutput::default()
        };
        assert!(!out.success());
    }
}
