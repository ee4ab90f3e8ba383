//! The local target: every node is an OS process on this machine, with its own data folder
//! and log file under the run's `nodes/<node>/`, listening on its own loopback port.
//!
//! It starts, stops, kills (SIGKILL), pauses (SIGSTOP) and resumes (SIGCONT) node
//! processes, and it never leaves one behind: dropping the target resumes and kills every
//! node (unless `--leave-db-running`), and each node watches its parent and exits when the
//! harness is gone. The pids are written to `nodes/pids.json` so `faultline heal` can finish
//! the job after the harness itself was killed.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

use faultline_nemeses::net::Network;

use crate::run_dir::RunDir;
use crate::spec::fault_options::NetPlan;
use crate::spec::TestSpec;
use crate::systems::{NodeSpec, System};
use crate::targets::local::exec::LocalControl;
use crate::targets::local::netns::NetnsLayout;
use crate::targets::local::relay::Relays;

/// Environment variable through which a node learns the harness's pid, to exit with it.
pub const PARENT_PID_ENV: &str = "FAULTLINE_PARENT_PID";

/// Errors of one node process, naming the node and the log to read.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The process could not be spawned.
    #[error(
        "{node}: could not start {program}: {source}; check the path and that it is executable"
    )]
    Spawn {
        /// The node.
        node: String,
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// The process exited when it should be running.
    #[error("{node} exited ({status}); read its log {log}{tail}")]
    Exited {
        /// The node.
        node: String,
        /// Its exit status.
        status: String,
        /// Its log file.
        log: String,
        /// The last line of the log, if any.
        tail: String,
    },
    /// A signal could not be delivered.
    #[error("{node}: cannot send {signal}: {source}")]
    Signal {
        /// The node.
        node: String,
        /// The signal.
        signal: String,
        /// Why.
        source: nix::Error,
    },
    /// The node is not part of this cluster.
    #[error("no node named {0} in this cluster")]
    Unknown(String),
}

struct NodeProcess {
    child: Option<Child>,
    paused: bool,
}

/// The nodes of one run on this machine.
pub struct LocalTarget {
    nodes: Vec<NodeSpec>,
    system: Arc<dyn System>,
    processes: Mutex<BTreeMap<String, NodeProcess>>,
    pids_file: PathBuf,
    leave_running: bool,
    /// The nodes as the harness's clients reach them (through relays with link faults).
    clients: Vec<NodeSpec>,
    netns: Option<NetnsLayout>,
    relays: Option<Arc<Relays>>,
    /// libfaketime and each node's offset file, when clock faults are enabled.
    faketime: Option<(PathBuf, BTreeMap<String, PathBuf>)>,
    /// The nodes' data directories mounted through lazyfs (`--nemesis lose-unfsynced`);
    /// dropped after the nodes are stopped.
    lazyfs: Option<Arc<crate::lazyfs::mounts::LazyMounts>>,
}

/// The port every node listens on inside its own namespace.
const NETNS_PORT: u16 = 7000;

impl LocalTarget {
    /// Lay out `count` nodes under the run folder, on consecutive ports from `base_port`
    /// or on free ports.
    pub fn plan(run: &RunDir, count: usize, base_port: Option<u16>) -> Result<Vec<NodeSpec>> {
        // Each node gets a client port and `EXTRA_PORTS` more (consecutive blocks after the
        // client ports when a base port is given).
        let per_node = 1 + crate::systems::EXTRA_PORTS;
        let all = match base_port {
            Some(base) => (0..count * per_node)
                .map(|i| u16::try_from(base as usize + i))
                .collect::<Result<Vec<_>, _>>()
                .context("the nodes' ports do not fit below 65536: pick a lower --base-port")?,
            None => free_ports(count * per_node)?,
        };
        let ports = &all[..count];
        let mut nodes = Vec::with_capacity(count);
        for (i, &port) in ports.iter().enumerate() {
            let extra_ports = (1..per_node).map(|k| all[k * count + i]).collect();
            let name = format!("n{}", i + 1);
            let dir = run.node_dir(&name);
            fs::create_dir_all(dir.join("data"))
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let addr = format!("127.0.0.1:{port}");
            nodes.push(NodeSpec {
                id: i as u64 + 1,
                name,
                client_addr: addr.clone(),
                peer_addr: addr,
                data_dir: dir.join("data"),
                log_file: dir.join("node.log"),
                extra_ports,
            });
        }
        Ok(nodes)
    }

    /// The target a spec asks for: lays out the nodes, creates their namespaces (as root)
    /// or relays, and prepares libfaketime files; nothing is started yet.
    pub fn build(run: &RunDir, spec: &TestSpec, system: Arc<dyn System>) -> Result<LocalTarget> {
        let faults = &spec.faults;
        let lazyfs = spec.nemeses.iter().any(|n| n == "lose-unfsynced");
        if lazyfs {
            if let Err(missing) = crate::lazyfs::mounts::check_available() {
                crate::exit::bad_input!("{missing}");
            }
        }
        let mut netns = None;
        let nodes = match faults.net {
            NetPlan::Netns => {
                let names: Vec<String> = (1..=spec.node_count).map(|i| format!("n{i}")).collect();
                let layout = NetnsLayout::plan(run, &names)?;
                layout.create().context(
                    "cannot create network namespaces for the nodes; run with --no-netns to use                      loopback and relays instead",
                )?;
                let port = spec.base_port.unwrap_or(NETNS_PORT);
                let mut nodes = Self::plan(run, spec.node_count, Some(port))?;
                for node in &mut nodes {
                    let addr = format!("{}:{port}", layout.nodes[&node.name].ip);
                    node.client_addr = addr.clone();
                    node.peer_addr = addr;
                }
                netns = Some(layout);
                nodes
            }
            _ => Self::plan(run, spec.node_count, spec.base_port)?,
        };
        let nodes = system.place(nodes);
        let mut client_addrs = BTreeMap::new();
        let relays = if faults.net == NetPlan::Relays {
            if !system.peer_relays() {
                crate::exit::bad_input!(
                    "--nemesis partition or netem without root needs per-link relays, which the {} system cannot                      use (its peers must reach each other at the addresses they listen on): run                      faultline as root so each node gets a network namespace, or drop partition and netem",
                    system.name()
                );
            }
            let pairs: Vec<(String, String)> = nodes
                .iter()
                .map(|n| (n.name.clone(), n.peer_addr.clone()))
                .collect();
            let mut relays = Relays::start(&pairs)?;
            if spec.nemeses.iter().any(|n| n == "netem") {
                let listeners: Vec<(String, String)> = nodes
                    .iter()
                    .map(|n| (n.name.clone(), n.client_addr.clone()))
                    .collect();
                client_addrs = relays.add_clients(&listeners)?;
            }
            Some(Arc::new(relays))
        } else {
            None
        };
        let faketime = match &faults.libfaketime {
            Some(lib) => {
                let mut files = BTreeMap::new();
                for node in &nodes {
                    let file = run.node_dir(&node.name).join("faketime");
                    fs::write(&file, "+0\n")
                        .with_context(|| format!("cannot write {}", file.display()))?;
                    files.insert(node.name.clone(), file);
                }
                Some((lib.clone(), files))
            }
            None => None,
        };
        let clients = nodes
            .iter()
            .map(|n| {
                let mut n = n.clone();
                if let Some(addr) = client_addrs.get(&n.name) {
                    n.client_addr = addr.clone();
                }
                n
            })
            .collect();
        let lazyfs = if lazyfs {
            match crate::lazyfs::mounts::LazyMounts::mount_all(run, &nodes) {
                Ok(mounts) => Some(Arc::new(mounts)),
                Err(e) => {
                    if let Some(layout) = &netns {
                        layout.teardown();
                    }
                    return Err(e);
                }
            }
        } else {
            None
        };
        // `faultline heal` restarts these nodes to add removed members back.
        let placed = serde_json::to_vec_pretty(&nodes).map_err(anyhow::Error::from)?;
        fs::write(run.node_specs(), placed)
            .with_context(|| format!("cannot write {}", run.node_specs().display()))?;
        let mut target = LocalTarget::new(run, nodes, system, spec.leave_db_running);
        target.lazyfs = lazyfs;
        target.clients = clients;
        target.netns = netns;
        target.relays = relays;
        target.faketime = faketime;
        Ok(target)
    }

    /// The [`Control`](faultline_nemeses::control::Control) of these nodes: commands run in
    /// each node's namespace (refused without namespaces), files are local.
    pub fn control(&self) -> Arc<LocalControl> {
        let names = self.nodes.iter().map(|n| n.name.clone()).collect();
        let namespaces = self.netns.as_ref().map(NetnsLayout::namespaces);
        Arc::new(LocalControl::new(names, namespaces))
    }

    /// How links are slowed where the kernel has no netem: an NFQUEUE scheduler in each
    /// node's namespace, or the relays' toxics; `None` when nodes share the network directly.
    pub fn links(&self, seed: u64) -> Option<Arc<dyn faultline_nemeses::links::LinkShaper>> {
        if let Some(layout) = &self.netns {
            return Some(Arc::new(
                crate::targets::local::nfqueue::NfqueueShaper::new(
                    self.control(),
                    layout.namespaces(),
                    layout.addresses(),
                    seed,
                ),
            ));
        }
        self.relays
            .clone()
            .map(|r| r as Arc<dyn faultline_nemeses::links::LinkShaper>)
    }

    /// How partitions are made in this run: iptables in the namespaces, or the relays.
    pub fn network(&self) -> Option<Arc<dyn Network>> {
        if let Some(layout) = &self.netns {
            return Some(Arc::new(faultline_nemeses::iptables::PacketFilter::new(
                self.control(),
                layout.addresses(),
            )));
        }
        self.relays.clone().map(|r| r as Arc<dyn Network>)
    }

    /// Whether the nodes have network namespaces (a kernel network of their own).
    pub fn has_netns(&self) -> bool {
        self.netns.is_some()
    }

    /// Each node's libfaketime offset file (empty without clock faults).
    pub fn faketime_files(&self) -> BTreeMap<String, PathBuf> {
        self.faketime
            .as_ref()
            .map(|(_, files)| files.clone())
            .unwrap_or_default()
    }

    /// The cluster as `node` must see it: with relays, each peer's `peer_addr` is the relay
    /// from `node` to that peer.
    fn cluster_seen_from(&self, node: &str) -> Vec<NodeSpec> {
        let mut cluster = self.nodes.clone();
        if let Some(relays) = &self.relays {
            for peer in cluster.iter_mut().filter(|p| p.name != node) {
                if let Some(addr) = relays.address(node, &peer.name) {
                    peer.peer_addr = addr.to_string();
                }
            }
        }
        cluster
    }

    /// A target for these nodes; nothing is started yet.
    pub fn new(
        run: &RunDir,
        nodes: Vec<NodeSpec>,
        system: Arc<dyn System>,
        leave_running: bool,
    ) -> Self {
        let processes = nodes
            .iter()
            .map(|n| {
                (
                    n.name.clone(),
                    NodeProcess {
                        child: None,
                        paused: false,
                    },
                )
            })
            .collect();
        LocalTarget {
            clients: nodes.clone(),
            nodes,
            system,
            processes: Mutex::new(processes),
            pids_file: run.node_pids(),
            leave_running,
            netns: None,
            relays: None,
            faketime: None,
            lazyfs: None,
        }
    }

    /// The same target, its nodes in the namespaces of `layout` (`faultline heal`).
    pub fn with_netns(mut self, layout: Option<NetnsLayout>) -> Self {
        self.netns = layout;
        self
    }

    /// The lazyfs mounts of the nodes' data directories, when `lose-unfsynced` is enabled.
    pub fn lazyfs(&self) -> Option<Arc<crate::lazyfs::mounts::LazyMounts>> {
        self.lazyfs.clone()
    }

    /// The nodes, as the harness's clients reach them (their `client_addr` is a relay when
    /// link faults run through relays; the nodes themselves listen where they were placed).
    #[allow(clippy::misnamed_getters)]
    pub fn nodes(&self) -> &[NodeSpec] {
        &self.clients
    }

    fn node(&self, name: &str) -> Result<&NodeSpec, NodeError> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| NodeError::Unknown(name.to_string()))
    }

    /// Start every node.
    pub fn start_all(&self) -> Result<(), NodeError> {
        for node in &self.nodes {
            self.start(&node.name)?;
        }
        Ok(())
    }

    /// Start the system's process on a node (a no-op when it is already running).
    pub fn start(&self, name: &str) -> Result<(), NodeError> {
        let node = self.node(name)?;
        let mut processes = self.processes.lock().expect("node table");
        let entry = processes.get_mut(name).expect("every node has an entry");
        if let Some(child) = &mut entry.child {
            if matches!(child.try_wait(), Ok(None)) {
                return Ok(());
            }
        }
        let cluster = self.cluster_seen_from(name);
        let Some(mut command) = self.system.start_command(node, &cluster) else {
            // Someone else runs this system's processes.
            return Ok(());
        };
        if let Some((lib, files)) = &self.faketime {
            command.env.extend([
                ("LD_PRELOAD".to_string(), lib.display().to_string()),
                (
                    "FAKETIME_TIMESTAMP_FILE".to_string(),
                    files[name].display().to_string(),
                ),
                ("FAKETIME_NO_CACHE".to_string(), "1".to_string()),
                // Only the wall clock is skewed, as a real clock change would: timers run on
                // the monotonic clock.
                ("FAKETIME_DONT_FAKE_MONOTONIC".to_string(), "1".to_string()),
            ]);
        }
        if let Some(ns) = self.netns.as_ref().and_then(|l| l.namespace(name)) {
            let mut args = vec![
                "netns".to_string(),
                "exec".to_string(),
                ns.to_string(),
                command.program.display().to_string(),
            ];
            args.append(&mut command.args);
            command.program = PathBuf::from("ip");
            command.args = args;
        }
        // Its own session (`setsid` execs in place: the pid stays the node's), so its process
        // group is every process the node started (a database's state-transfer helpers) and
        // a kill or pause reaches them all, as a crash of its machine would. A session, not
        // just a group: a group orphaned only when the harness dies would then be sent
        // SIGHUP and SIGCONT by the kernel, resuming a paused node behind the ledger's back.
        let mut args = vec![command.program.display().to_string()];
        args.append(&mut command.args);
        command.program = PathBuf::from(SETSID);
        command.args = args;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log_file)
            .map_err(|source| NodeError::Spawn {
                node: name.to_string(),
                program: command.program.display().to_string(),
                source,
            })?;
        let mut cmd = Command::new(&command.program);
        cmd.args(&command.args)
            .envs(command.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|source| NodeError::Spawn {
                node: name.to_string(),
                program: command.program.display().to_string(),
                source,
            })?)
            .stderr(log);
        if !self.leave_running {
            cmd.env(PARENT_PID_ENV, std::process::id().to_string());
        }
        let child = cmd.spawn().map_err(|source| NodeError::Spawn {
            node: name.to_string(),
            program: command.program.display().to_string(),
            source,
        })?;
        tracing::info!(node = name, pid = child.id(), "started");
        entry.child = Some(child);
        entry.paused = false;
        self.write_pids(&processes);
        Ok(())
    }

    /// SIGKILL the node's process and reap it.
    pub fn kill(&self, name: &str) -> Result<(), NodeError> {
        self.node(name)?;
        let mut processes = self.processes.lock().expect("node table");
        let entry = processes.get_mut(name).expect("every node has an entry");
        if let Some(mut child) = entry.child.take() {
            let _ = signal_group(&child, Signal::SIGKILL);
            let _ = child.wait();
            tracing::info!(node = name, "killed");
        }
        entry.paused = false;
        self.write_pids(&processes);
        Ok(())
    }

    /// SIGSTOP the node's process.
    pub fn pause(&self, name: &str) -> Result<(), NodeError> {
        self.signal(name, Signal::SIGSTOP, true)
    }

    /// SIGCONT the node's process.
    pub fn resume(&self, name: &str) -> Result<(), NodeError> {
        self.signal(name, Signal::SIGCONT, false)
    }

    fn signal(&self, name: &str, sig: Signal, paused: bool) -> Result<(), NodeError> {
        self.node(name)?;
        let mut processes = self.processes.lock().expect("node table");
        let entry = processes.get_mut(name).expect("every node has an entry");
        let Some(child) = &entry.child else {
            // A killed node is neither paused nor resumable; restarting is the kill
            // nemesis's job.
            return Ok(());
        };
        signal_group(child, sig).map_err(|source| NodeError::Signal {
            node: name.to_string(),
            signal: sig.to_string(),
            source,
        })?;
        entry.paused = paused;
        tracing::info!(node = name, signal = %sig, "signalled");
        Ok(())
    }

    /// Resume every paused node and start every node that is not running.
    pub fn heal_all(&self) -> Vec<String> {
        let mut undone = Vec::new();
        for node in &self.nodes {
            let (paused, dead) = {
                let mut processes = self.processes.lock().expect("node table");
                let entry = processes.get_mut(&node.name).expect("entry");
                let dead = match &mut entry.child {
                    None => true,
                    Some(child) => !matches!(child.try_wait(), Ok(None)),
                };
                (entry.paused, dead)
            };
            if paused && self.resume(&node.name).is_ok() {
                undone.push(format!("resumed {}", node.name));
            }
            let ours = self.system.start_command(node, &self.nodes).is_some();
            if dead && ours && self.start(&node.name).is_ok() {
                undone.push(format!("restarted {}", node.name));
            }
        }
        undone
    }

    /// The first node whose process has exited on its own, as an error naming its log.
    pub fn exited_node(&self) -> Option<NodeError> {
        let mut processes = self.processes.lock().expect("node table");
        for node in &self.nodes {
            let entry = processes.get_mut(&node.name).expect("entry");
            if let Some(child) = &mut entry.child {
                if let Ok(Some(status)) = child.try_wait() {
                    return Some(NodeError::Exited {
                        node: node.name.clone(),
                        status: status.to_string(),
                        log: node.log_file.display().to_string(),
                        tail: last_line(&node.log_file)
                            .map(|l| format!(": {l}"))
                            .unwrap_or_default(),
                    });
                }
            }
        }
        None
    }

    /// Resume and kill every node process, and wait for them to exit.
    pub fn stop_all(&self) {
        let mut processes = self.processes.lock().expect("node table");
        for (name, entry) in processes.iter_mut() {
            if let Some(mut child) = entry.child.take() {
                let _ = signal_group(&child, Signal::SIGCONT);
                let _ = signal_group(&child, Signal::SIGKILL);
                let _ = child.wait();
                tracing::info!(node = %name, "stopped");
            }
            entry.paused = false;
        }
        self.write_pids(&processes);
    }

    fn write_pids(&self, processes: &BTreeMap<String, NodeProcess>) {
        let pids: BTreeMap<&str, u32> = processes
            .iter()
            .filter_map(|(name, p)| p.child.as_ref().map(|c| (name.as_str(), c.id())))
            .collect();
        let tmp = self.pids_file.with_extension("json.tmp");
        let written = serde_json::to_vec(&pids)
            .map_err(std::io::Error::other)
            .and_then(|bytes| fs::write(&tmp, bytes))
            .and_then(|()| fs::rename(&tmp, &self.pids_file));
        if let Err(e) = written {
            tracing::warn!("cannot write {}: {e}", self.pids_file.display());
        }
    }
}

impl Drop for LocalTarget {
    fn drop(&mut self) {
        if self.leave_running {
            // Make sure nothing is left paused even when left running.
            for node in &self.nodes {
                let _ = self.resume(&node.name);
            }
        } else {
            self.stop_all();
            if let Some(layout) = &self.netns {
                for line in layout.teardown() {
                    tracing::info!("{line}");
                }
            }
        }
    }
}

/// Pick `count` free loopback ports below the kernel's ephemeral range
/// (`ip_local_port_range`), so no outgoing connection (a client's, a relay's, another
/// test's) can take one between the pick and the node's bind; each is checked by binding it.
/// Falls back to ports the OS hands out when that range is too small.
fn free_ports(count: usize) -> Result<Vec<u16>> {
    use rand::Rng;
    let ephemeral_low = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    const LOWEST: u16 = 10_000;
    let mut rng = rand::rng();
    let mut held = Vec::with_capacity(count);
    let mut tries = 0;
    while held.len() < count && ephemeral_low > LOWEST + 1000 && tries < 1000 {
        tries += 1;
        let port = rng.random_range(LOWEST..ephemeral_low);
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
            held.push(listener);
        }
    }
    while held.len() < count {
        held.push(TcpListener::bind("127.0.0.1:0").context("cannot find free loopback ports")?);
    }
    held.iter().map(|l| Ok(l.local_addr()?.port())).collect()
}

/// util-linux's `setsid`, on every Debian system.
const SETSID: &str = "setsid";

/// Send `sig` to a node's process group (it leads its own, see [`LocalTarget::start`]).
fn signal_group(child: &Child, sig: Signal) -> nix::Result<()> {
    signal::killpg(Pid::from_raw(child.id() as i32), sig)
}

/// Send `sig` to the process group `pid` leads, or to `pid` alone when it leads none (a node
/// started before nodes had groups of their own).
fn signal_leader(pid: Pid, sig: Signal) -> nix::Result<()> {
    if nix::unistd::getpgid(Some(pid)) == Ok(pid) {
        signal::killpg(pid, sig)
    } else {
        signal::kill(pid, sig)
    }
}

fn last_line(path: &Path) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.chars().take(300).collect())
}

/// Stop the node processes a crashed harness left behind, from `nodes/pids.json`: resume
/// them (so a paused node is not left stopped) and kill them. Only processes whose command
/// line names this run folder are touched, so a recycled pid is never killed.
pub fn stop_leftover_nodes(run: &RunDir) -> Result<Vec<String>> {
    let mut undone = Vec::new();
    for (node, pid) in leftover_nodes(run)? {
        let pid = Pid::from_raw(pid as i32);
        let _ = signal_leader(pid, Signal::SIGCONT);
        if signal_leader(pid, Signal::SIGKILL).is_ok() {
            undone.push(format!("stopped {node} (pid {pid})"));
        }
    }
    Ok(undone)
}

/// The node processes a crashed harness left running, by node, from `nodes/pids.json`:
/// only processes whose command line (or environment) names this run folder.
pub fn leftover_nodes(run: &RunDir) -> Result<BTreeMap<String, u32>> {
    let path = run.node_pids();
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let pids: BTreeMap<String, u32> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a pid table", path.display()))?;
    let marker = fs::canonicalize(&run.path).unwrap_or_else(|_| run.path.clone());
    let mut ours = BTreeMap::new();
    for (node, pid) in pids {
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        // A Maelstrom node program's command line is the user's: it carries the run folder
        // in its environment instead.
        let environ = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let environ = String::from_utf8_lossy(&environ);
        let is_ours = cmdline.contains(&*marker.to_string_lossy())
            || cmdline.contains(&*run.path.to_string_lossy())
            || environ.contains(&format!("FAULTLINE_RUN_DIR={}", run.path.display()))
            || environ.contains(&format!("FAULTLINE_RUN_DIR={}", marker.display()));
        if is_ours {
            ours.insert(node, pid);
        }
    }
    Ok(ours)
}
