//! The local target's process abilities as the nemeses crate asks for them
//! ([`ProcessControl`]): kill, start, pause and resume the system's process on a node, and
//! ask the system which node leads.

use std::sync::Arc;

use async_trait::async_trait;
use faultline_nemeses::control::{ControlError, ProcessControl};

use crate::systems::System;
use crate::targets::local::{LocalTarget, NodeError};

/// Process faults on local nodes.
pub struct LocalProcesses {
    target: Arc<LocalTarget>,
    system: Arc<dyn System>,
}

impl LocalProcesses {
    /// Process control over `target`'s nodes, asking `system` for the leader.
    pub fn new(target: Arc<LocalTarget>, system: Arc<dyn System>) -> Self {
        LocalProcesses { target, system }
    }
}

fn control_error(node: &str, action: &str, error: NodeError) -> ControlError {
    match error {
        NodeError::Unknown(_) => ControlError::unknown_node(
            node,
            &[], // the nemesis only names nodes it got from `nodes()`
        ),
        other => ControlError::failed(node, action, other.to_string()),
    }
}

#[async_trait]
impl ProcessControl for LocalProcesses {
    fn nodes(&self) -> Vec<String> {
        self.target.nodes().iter().map(|n| n.name.clone()).collect()
    }

    async fn kill(&self, node: &str) -> Result<(), ControlError> {
        self.target
            .kill(node)
            .map_err(|e| control_error(node, "kill", e))
    }

    async fn start(&self, node: &str) -> Result<(), ControlError> {
        self.target
            .start(node)
            .map_err(|e| control_error(node, "start", e))
    }

    async fn pause(&self, node: &str) -> Result<(), ControlError> {
        self.target
            .pause(node)
            .map_err(|e| control_error(node, "pause", e))
    }

    async fn resume(&self, node: &str) -> Result<(), ControlError> {
        self.target
            .resume(node)
            .map_err(|e| control_error(node, "resume", e))
    }

    async fn leader(&self) -> Option<String> {
        let id = self.system.leader(self.target.nodes()).await?;
        self.target
            .nodes()
            .iter()
            .find(|n| n.id == id)
            .map(|n| n.name.clone())
    }
}
