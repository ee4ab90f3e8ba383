//! Test doubles: an in-memory cluster implementing [`ProcessControl`] that tracks each node's
//! process state like a real one would, records every call, can be told to fail, and can
//! look at the ledger file at the moment of each call. Compiled for tests only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::control::{ControlError, ProcessControl};
use crate::ledger::{Ledger, LedgerState};

/// One of the four process actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Action {
    Kill,
    Start,
    Pause,
    Resume,
}

/// The state of a node's process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proc {
    Running,
    Killed,
    Paused,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Call {
    pub(crate) action: Action,
    pub(crate) node: String,
    /// The ledger file's content when the call was made, if observed.
    pub(crate) ledger: Option<LedgerState>,
}

#[derive(Default)]
struct Inner {
    procs: BTreeMap<String, Proc>,
    calls: Vec<Call>,
    failing: BTreeSet<(Action, String)>,
    leader: Option<String>,
    observe: Option<PathBuf>,
}

/// An in-memory cluster of `n1..nN`, every process running.
pub(crate) struct FakeCluster {
    nodes: Vec<String>,
    inner: Mutex<Inner>,
}

impl FakeCluster {
    pub(crate) fn new(n: usize) -> Self {
        let nodes: Vec<String> = (1..=n).map(|i| format!("n{i}")).collect();
        let procs = nodes.iter().map(|n| (n.clone(), Proc::Running)).collect();
        FakeCluster {
            nodes,
            inner: Mutex::new(Inner {
                procs,
                ..Inner::default()
            }),
        }
    }

    pub(crate) fn set_leader(&self, leader: Option<&str>) {
        self.inner.lock().unwrap().leader = leader.map(str::to_string);
    }

    /// Make `action` on `node` fail (without effect) until [`FakeCluster::recover`].
    pub(crate) fn fail(&self, action: Action, node: &str) {
        let mut inner = self.inner.lock().unwrap();
        inner.failing.insert((action, node.to_string()));
    }

    pub(crate) fn recover(&self, action: Action, node: &str) {
        let mut inner = self.inner.lock().unwrap();
        inner.failing.remove(&(action, node.to_string()));
    }

    /// Read the ledger file at `path` at every call and keep what it said.
    pub(crate) fn observe_ledger(&self, path: PathBuf) {
        self.inner.lock().unwrap().observe = Some(path);
    }

    pub(crate) fn calls(&self) -> Vec<Call> {
        self.inner.lock().unwrap().calls.clone()
    }

    /// The nodes `action` was called on, sorted.
    pub(crate) fn called(&self, action: Action) -> Vec<String> {
        let mut nodes: Vec<String> = self
            .calls()
            .into_iter()
            .filter(|c| c.action == action)
            .map(|c| c.node)
            .collect();
        nodes.sort();
        nodes
    }

    pub(crate) fn proc(&self, node: &str) -> Proc {
        self.inner.lock().unwrap().procs[node]
    }

    pub(crate) fn all_running(&self) -> bool {
        let inner = self.inner.lock().unwrap();
        inner.procs.values().all(|p| *p == Proc::Running)
    }

    fn act(&self, action: Action, node: &str) -> Result<(), ControlError> {
        let mut inner = self.inner.lock().unwrap();
        let ledger = inner
            .observe
            .as_ref()
            .map(|path| Ledger::load(path).expect("ledger file readable").snapshot());
        inner.calls.push(Call {
            action,
            node: node.to_string(),
            ledger,
        });
        if inner.failing.contains(&(action, node.to_string())) {
            return Err(ControlError::failed(node, name(action), "injected failure"));
        }
        let Some(proc) = inner.procs.get_mut(node) else {
            return Err(ControlError::unknown_node(node, &self.nodes));
        };
        let next = match (action, *proc) {
            (Action::Kill, Proc::Killed) | (Action::Pause | Action::Resume, Proc::Killed) => {
                return Err(ControlError::failed(node, name(action), "no such process"))
            }
            (Action::Kill, _) => Proc::Killed,
            (Action::Start, Proc::Killed) => Proc::Running,
            (Action::Start, p) => p,
            (Action::Pause, _) => Proc::Paused,
            (Action::Resume, _) => Proc::Running,
        };
        *proc = next;
        Ok(())
    }
}

fn name(action: Action) -> &'static str {
    match action {
        Action::Kill => "kill",
        Action::Start => "start",
        Action::Pause => "pause",
        Action::Resume => "resume",
    }
}

#[async_trait]
impl ProcessControl for FakeCluster {
    fn nodes(&self) -> Vec<String> {
        self.nodes.clone()
    }
    async fn kill(&self, node: &str) -> Result<(), ControlError> {
        self.act(Action::Kill, node)
    }
    async fn start(&self, node: &str) -> Result<(), ControlError> {
        self.act(Action::Start, node)
    }
    async fn pause(&self, node: &str) -> Result<(), ControlError> {
        self.act(Action::Pause, node)
    }
    async fn resume(&self, node: &str) -> Result<(), ControlError> {
        self.act(Action::Resume, node)
    }
    async fn leader(&self) -> Option<String> {
        self.inner.lock().unwrap().leader.clone()
    }
}
