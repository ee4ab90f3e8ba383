//! Test doubles: an in-memory cluster implementing [`ProcessControl`] that tracks each node's
//! process state like a real one would, records every call, can be told to fail, and can
//! look at the ledger file at the moment of each call; and [`FakeShell`], a fake of
//! [`Control`] for the network and clock nemeses. Compiled for tests only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::control::{Control, ControlError, ExecOutput, ProcessControl};
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

/// A fake of [`Control`] for nodes `n1..nN`: records every command per node and simulates
/// just enough of iptables, nft, ip, tc and files for the network and clock nemeses.
/// `programs` lists the packet filters that exist (`iptables`, `nft`).
pub(crate) struct FakeShell {
    nodes: Vec<String>,
    programs: Vec<String>,
    inner: Mutex<ShellState>,
    no_netem: bool,
}

#[derive(Default)]
struct ShellState {
    commands: BTreeMap<String, Vec<String>>,
    chains: BTreeSet<String>,
    jumps: BTreeMap<String, usize>,
    tables: BTreeSet<String>,
    qdiscs: BTreeSet<String>,
    files: BTreeMap<(String, String), String>,
    failing: BTreeSet<String>,
}

impl FakeShell {
    pub(crate) fn new(n: usize, programs: &[&str]) -> Self {
        FakeShell {
            nodes: (1..=n).map(|i| format!("n{i}")).collect(),
            programs: programs.iter().map(|p| p.to_string()).collect(),
            inner: Mutex::default(),
            no_netem: false,
        }
    }

    /// A shell whose kernel has no netem qdisc.
    pub(crate) fn without_netem(mut self) -> Self {
        self.no_netem = true;
        self
    }

    /// Every command run on `node`, as `program arg arg ...`.
    pub(crate) fn commands(&self, node: &str) -> Vec<String> {
        let inner = self.inner.lock().unwrap();
        inner.commands.get(node).cloned().unwrap_or_default()
    }

    /// Make every command on `node` fail to run until [`FakeShell::recover`].
    pub(crate) fn fail(&self, node: &str) {
        self.inner.lock().unwrap().failing.insert(node.to_string());
    }

    pub(crate) fn recover(&self, node: &str) {
        self.inner.lock().unwrap().failing.remove(node);
    }

    pub(crate) fn has_chain(&self, node: &str) -> bool {
        let inner = self.inner.lock().unwrap();
        inner.chains.contains(node) || inner.jumps.get(node).is_some_and(|j| *j > 0)
    }

    pub(crate) fn has_qdisc(&self, node: &str) -> bool {
        self.inner.lock().unwrap().qdiscs.contains(node)
    }

    pub(crate) fn file(&self, node: &str, path: &str) -> Option<String> {
        let inner = self.inner.lock().unwrap();
        inner
            .files
            .get(&(node.to_string(), path.to_string()))
            .cloned()
    }

    fn run(&self, node: &str, program: &str, args: &[String]) -> Result<ExecOutput, ControlError> {
        let mut inner = self.inner.lock().unwrap();
        if !self.nodes.iter().any(|n| n == node) {
            return Err(ControlError::unknown_node(node, &self.nodes));
        }
        if inner.failing.contains(node) {
            return Err(ControlError::failed(node, program, "injected failure"));
        }
        let line = std::iter::once(program.to_string())
            .chain(args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        inner
            .commands
            .entry(node.to_string())
            .or_default()
            .push(line);
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let ok = |b: bool| ExecOutput {
            status: if b { 0 } else { 1 },
            ..ExecOutput::default()
        };
        let present = self.programs.iter().any(|p| p == program);
        let out = match (program, a.as_slice()) {
            ("iptables" | "nft", _) if !present => ExecOutput {
                status: 127,
                stderr: format!("{program}: not found"),
                ..ExecOutput::default()
            },
            (_, ["--version"]) => ok(true),
            ("iptables", ["-w", "-N", _]) => ok(inner.chains.insert(node.to_string())),
            ("iptables", ["-w", "-C", "INPUT" | "OUTPUT", ..]) => {
                ok(inner.jumps.get(node).is_some_and(|j| *j > 0))
            }
            ("iptables", ["-w", "-I", "INPUT" | "OUTPUT", ..]) => {
                *inner.jumps.entry(node.to_string()).or_default() += 1;
                ok(true)
            }
            ("iptables", ["-w", "-D", "INPUT", ..]) => {
                let j = inner.jumps.entry(node.to_string()).or_default();
                let had = *j > 0;
                *j = j.saturating_sub(1);
                ok(had)
            }
            ("iptables", ["-w", "-L", ..]) => ok(inner.chains.contains(node)),
            ("iptables", ["-w", "-X", ..]) => ok(inner.chains.remove(node)),
            ("nft", ["list", "table", ..]) => ok(inner.tables.contains(node)),
            ("nft", ["add", "table", ..]) => {
                inner.tables.insert(node.to_string());
                ok(true)
            }
            ("nft", ["delete", "table", ..]) => ok(inner.tables.remove(node)),
            ("ip", ["-o", "link", "show"]) => ExecOutput {
                stdout: "1: lo: <LOOPBACK,UP> mtu 65536\n2: eth0@if7: <BROADCAST,UP> mtu 1500\n"
                    .to_string(),
                ..ExecOutput::default()
            },
            ("tc", ["qdisc", "replace", ..]) if self.no_netem && a.contains(&"netem") => {
                ExecOutput {
                    status: 2,
                    stderr: "Error: Specified qdisc kind is unknown.".to_string(),
                    ..ExecOutput::default()
                }
            }
            ("tc", ["qdisc", "replace", ..]) => {
                inner.qdiscs.insert(node.to_string());
                ok(true)
            }
            ("tc", ["qdisc", "del", ..]) => ok(inner.qdiscs.remove(node)),
            ("tc", ["qdisc", "show", ..]) => ExecOutput {
                stdout: if inner.qdiscs.contains(node) {
                    "qdisc netem 8001: root refcnt 2 limit 1000 delay 50ms\n".to_string()
                } else {
                    "qdisc noqueue 0: root refcnt 2\n".to_string()
                },
                ..ExecOutput::default()
            },
            _ => ok(true),
        };
        Ok(out)
    }
}

#[async_trait]
impl Control for FakeShell {
    fn nodes(&self) -> Vec<String> {
        self.nodes.clone()
    }
    async fn exec(
        &self,
        node: &str,
        program: &str,
        args: &[String],
    ) -> Result<ExecOutput, ControlError> {
        self.run(node, program, args)
    }
    async fn read_file(&self, node: &str, path: &str) -> Result<Vec<u8>, ControlError> {
        self.file(node, path)
            .map(String::into_bytes)
            .ok_or_else(|| ControlError::failed(node, "read", "no such file"))
    }
    async fn write_file(&self, node: &str, path: &str, content: &str) -> Result<(), ControlError> {
        self.run(node, "write", &[path.to_string(), content.to_string()])?;
        let mut inner = self.inner.lock().unwrap();
        inner
            .files
            .insert((node.to_string(), path.to_string()), content.to_string());
        Ok(())
    }
}
