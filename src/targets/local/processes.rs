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

    /// Do `action` to `node`'s process through the target.
    fn act(
        &self,
        node: &str,
        action: &str,
        act: fn(&LocalTarget, &str) -> Result<(), NodeError>,
    ) -> Result<(), ControlError> {
        act(&self.target, node).map_err(|error| match error {
            NodeError::Unknown(_) => ControlError::unknown_node(
                node,
                &[], // the nemesis only names nodes it got from `nodes()`
            ),
            other => ControlError::failed(node, action, other.to_string()),
        })
    }
}

#[async_trait]
impl ProcessControl for LocalProcesses {
    fn nodes(&self) -> Vec<String> {
        self.target.nodes().iter().map(|n| n.name.clone()).collect()
    }

    async fn kill(&self, node: &str) -> Result<(), ControlError> {
        self.act(node, "kill", LocalTarget::kill)
    }

    async fn start(&self, node: &str) -> Result<(), ControlError> {
        self.act(node, "start", LocalTarget::start)
    }

    async fn pause(&self, node: &str) -> Result<(), ControlError> {
        self.act(node, "pause", LocalTarget::pause)
    }

    async fn resume(&self, node: &str) -> Result<(), ControlError> {
        self.act(node, "resume", LocalTarget::resume)
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
