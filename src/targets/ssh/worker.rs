//! One worker thread per node: it owns the node's SSH session and runs the jobs sent to it
//! one after another, so the blocking libssh2 calls never run on the async runtime and the
//! nodes are worked on in parallel. A broken session is dropped and reopened by the next
//! job, so a node that was cut off or paused is reachable again once it is back.
//!
//! This module knows nothing of daemons or faults; it only runs closures on a connection.

use std::sync::mpsc;
use std::sync::Arc;

use super::session::Connection;
use super::SshError;
use crate::spec::ssh::SshSpec;

type Job = Box<dyn FnOnce(&mut NodeLink) + Send>;

/// The worker's view of its node: the session, opened on first use.
pub(crate) struct NodeLink {
    pub node: String,
    host: String,
    spec: Arc<SshSpec>,
    connection: Option<Connection>,
}

impl NodeLink {
    /// Run `f` on the node's session, opening it first if needed; a broken session is
    /// dropped so the next call reconnects.
    pub(crate) fn with<T>(
        &mut self,
        f: impl FnOnce(&mut Connection) -> Result<T, SshError>,
    ) -> Result<T, SshError> {
        if self.connection.is_none() {
            self.connection = Some(Connection::open(&self.node, &self.host, &self.spec)?);
        }
        let connection = self.connection.as_mut().expect("just opened");
        let result = f(connection);
        if let Err(e) = &result {
            if e.breaks_session() {
                tracing::warn!(node = %self.node, "dropping the SSH session: {e}");
                self.connection = None;
            }
        }
        result
    }
}

/// The handle to one node's worker thread.
pub(crate) struct Worker {
    node: String,
    jobs: mpsc::Sender<Job>,
}

impl Worker {
    /// Start the worker of `node` at `host`; it connects on its first job.
    pub(crate) fn spawn(node: &str, host: &str, spec: Arc<SshSpec>) -> Worker {
        let (jobs, queue) = mpsc::channel::<Job>();
        let mut link = NodeLink {
            node: node.to_string(),
            host: host.to_string(),
            spec,
            connection: None,
        };
        std::thread::Builder::new()
            .name(format!("ssh-{node}"))
            .spawn(move || {
                for job in queue {
                    job(&mut link);
                }
            })
            .expect("cannot start a thread");
        Worker {
            node: node.to_string(),
            jobs,
        }
    }

    /// Run `job` on the node's thread and wait for its result without blocking the runtime.
    pub(crate) async fn call<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut NodeLink) -> Result<T, SshError> + Send + 'static,
    ) -> Result<T, SshError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sent = self.jobs.send(Box::new(move |link: &mut NodeLink| {
            let _ = tx.send(job(link));
        }));
        if sent.is_err() {
            return Err(SshError::WorkerGone {
                node: self.node.clone(),
            });
        }
        rx.await.unwrap_or_else(|_| {
            Err(SshError::WorkerGone {
                node: self.node.clone(),
            })
        })
    }

    /// Run `job` on the node's thread and block this (non-runtime) thread for its result.
    pub(crate) fn call_blocking<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut NodeLink) -> Result<T, SshError> + Send + 'static,
    ) -> Result<T, SshError> {
        let (tx, rx) = mpsc::channel();
        let sent = self.jobs.send(Box::new(move |link: &mut NodeLink| {
            let _ = tx.send(job(link));
        }));
        if sent.is_err() {
            return Err(SshError::WorkerGone {
                node: self.node.clone(),
            });
        }
        rx.recv().unwrap_or_else(|_| {
            Err(SshError::WorkerGone {
                node: self.node.clone(),
            })
        })
    }
}
