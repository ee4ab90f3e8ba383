//! The network of a Maelstrom test: the node processes (`--bin`, one per node, reading
//! messages on stdin and writing them on stdout) and the router every message goes through:
//! between nodes, from clients to nodes and back, and to the services. The router delays
//! each message by the latency distribution, drops what crosses a partition (between nodes;
//! clients and services always reach the nodes), and counts messages as Maelstrom's `net`
//! stats do.
//!
//! A line a node writes that is not a message is logged with the line and dropped; a node that
//! exits is logged, and the run goes on, as in Maelstrom. Every node process is killed when
//! the network is dropped. Nothing here knows workloads or checkers.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::fs::File;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::protocol::{error_body, parse_line, Message};
use super::services::{is_service, Services};

/// How message delays are drawn (`--latency-dist`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LatencyDist {
    /// Every message takes `--latency`.
    Constant,
    /// Uniform between 0 and twice `--latency`.
    Uniform,
    /// Exponential with mean `--latency`.
    Exponential,
}

impl std::str::FromStr for LatencyDist {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "constant" => Ok(LatencyDist::Constant),
            "uniform" => Ok(LatencyDist::Uniform),
            "exponential" => Ok(LatencyDist::Exponential),
            other => Err(format!(
                "unknown --latency-dist '{other}': it takes constant, uniform or exponential"
            )),
        }
    }
}

/// Message counts, as Maelstrom's `net` stats (`all`, `clients`, `servers`).
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct NetStats {
    /// Every message sent, and delivered.
    pub all: Counts,
    /// Messages from or to a client.
    pub clients: Counts,
    /// Messages between nodes (and between nodes and services).
    pub servers: Counts,
    /// Messages dropped by a partition.
    pub dropped: u64,
}

/// Sent and received counts of one kind of message.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct Counts {
    pub send_count: u64,
    pub recv_count: u64,
}

fn is_client(name: &str) -> bool {
    name.starts_with('c')
}

/// How the network was configured.
#[derive(Debug, Clone)]
pub(crate) struct NetConfig {
    pub latency: Duration,
    pub dist: LatencyDist,
    pub seed: u64,
    pub log_send: bool,
    pub log_recv: bool,
}

enum Command_ {
    /// A message a node, a client or the harness sends.
    Send(Message),
    /// A client's request, whose reply goes to `reply`.
    Rpc(Message, oneshot::Sender<Value>),
    /// A node's (new) stdin.
    Attach(String, mpsc::UnboundedSender<String>),
    /// The directed pairs of nodes that cannot reach each other from now on.
    Partition(HashSet<(String, String)>),
    /// The counts so far.
    Stats(oneshot::Sender<NetStats>),
    /// From now on, write every message delivered or dropped to this file, with times
    /// from this instant (the history's own zero).
    Journal(File, Instant),
    /// Flush and close the journal; answer when done.
    CloseJournal(oneshot::Sender<std::io::Result<()>>),
}

/// The router's handle: cheap to clone, shared by clients and node readers.
#[derive(Clone)]
pub(crate) struct Net {
    tx: mpsc::UnboundedSender<Command_>,
}

impl Net {
    /// Start the router.
    pub fn start(config: NetConfig) -> Net {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(route(config, rx));
        Net { tx }
    }

    /// Send a message (delivered after its delay, unless a partition drops it).
    pub fn send(&self, message: Message) {
        let _ = self.tx.send(Command_::Send(message));
    }

    /// Send a request and wait for the body of its reply (`None`: no reply in `timeout`).
    pub async fn rpc(&self, message: Message, timeout: Duration) -> Option<Value> {
        let (reply_tx, reply_rx) = oneshot::channel();
        let _ = self.tx.send(Command_::Rpc(message, reply_tx));
        tokio::time::timeout(timeout, reply_rx).await.ok()?.ok()
    }

    /// Cut the network along these directed pairs (empty: heal).
    pub fn partition(&self, blocked: HashSet<(String, String)>) {
        let _ = self.tx.send(Command_::Partition(blocked));
    }

    /// The message counts so far.
    pub async fn stats(&self) -> NetStats {
        let (tx, rx) = oneshot::channel();
        let _ = self.tx.send(Command_::Stats(tx));
        rx.await.unwrap_or_default()
    }

    /// Write every message from now on to `file` (`net.jsonl`: one line per message with
    /// `sent` and `recv` nanoseconds since `epoch`, `recv` null when a partition dropped it,
    /// then `src`, `dest` and `body`), for the report's sequence diagram.
    pub fn journal(&self, file: File, epoch: std::time::Instant) {
        let _ = self
            .tx
            .send(Command_::Journal(file, Instant::from_std(epoch)));
    }

    /// Flush and close the journal.
    pub async fn close_journal(&self) -> std::io::Result<()> {
        let (tx, rx) = oneshot::channel();
        let _ = self.tx.send(Command_::CloseJournal(tx));
        rx.await.unwrap_or(Ok(()))
    }

    fn attach(&self, node: &str, stdin: mpsc::UnboundedSender<String>) {
        let _ = self.tx.send(Command_::Attach(node.to_string(), stdin));
    }
}

/// A message waiting for its delivery time (ordered by time, then by sending order).
struct Delayed {
    at: Instant,
    seq: u64,
    sent: Instant,
    message: Message,
}

impl PartialEq for Delayed {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Delayed {}
impl PartialOrd for Delayed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Delayed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

struct Router {
    config: NetConfig,
    rng: StdRng,
    nodes: HashMap<String, mpsc::UnboundedSender<String>>,
    waiting: HashMap<(String, u64), oneshot::Sender<Value>>,
    blocked: HashSet<(String, String)>,
    services: Services,
    stats: NetStats,
    queue: BinaryHeap<Reverse<Delayed>>,
    seq: u64,
    journal: Option<(std::io::BufWriter<File>, Instant)>,
}

/// One line of `net.jsonl`.
#[derive(Serialize)]
struct JournalLine<'a> {
    sent: u64,
    recv: Option<u64>,
    src: &'a str,
    dest: &'a str,
    body: &'a Value,
}

impl Router {
    fn delay(&mut self) -> Duration {
        let mean = self.config.latency;
        if mean.is_zero() {
            return Duration::ZERO;
        }
        match self.config.dist {
            LatencyDist::Constant => mean,
            LatencyDist::Uniform => mean.mul_f64(self.rng.random_range(0.0..2.0)),
            LatencyDist::Exponential => {
                let u: f64 = self.rng.random_range(f64::EPSILON..1.0);
                mean.mul_f64(-u.ln())
            }
        }
    }

    fn count(&mut self, message: &Message, sent: bool) {
        let kind = if is_client(&message.src) || is_client(&message.dest) {
            &mut self.stats.clients
        } else {
            &mut self.stats.servers
        };
        for counts in [kind, &mut self.stats.all] {
            if sent {
                counts.send_count += 1;
            } else {
                counts.recv_count += 1;
            }
        }
    }

    fn accept(&mut self, message: Message) {
        if self.config.log_send {
            eprintln!("send {} -> {}: {}", message.src, message.dest, message.body);
        }
        self.count(&message, true);
        let delay = self.delay();
        let now = Instant::now();
        if delay.is_zero() {
            self.deliver(message, now);
        } else {
            self.seq += 1;
            self.queue.push(Reverse(Delayed {
                at: now + delay,
                seq: self.seq,
                sent: now,
                message,
            }));
        }
    }

    fn record(&mut self, message: &Message, sent: Instant, delivered: bool) {
        let Some((out, epoch)) = &mut self.journal else {
            return;
        };
        let nanos = |t: Instant| t.saturating_duration_since(*epoch).as_nanos() as u64;
        let line = JournalLine {
            sent: nanos(sent),
            recv: delivered.then(|| nanos(Instant::now())),
            src: &message.src,
            dest: &message.dest,
            body: &message.body,
        };
        use std::io::Write as _;
        let written = serde_json::to_writer(&mut *out, &line)
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n"));
        if let Err(e) = written {
            tracing::warn!("net.jsonl: {e}; the message journal stops here");
            self.journal = None;
        }
    }

    fn deliver(&mut self, message: Message, sent: Instant) {
        let dropped = self
            .blocked
            .contains(&(message.src.clone(), message.dest.clone()));
        self.record(&message, sent, !dropped);
        if dropped {
            self.stats.dropped += 1;
            return;
        }
        self.count(&message, false);
        if self.config.log_recv {
            eprintln!("recv {} -> {}: {}", message.src, message.dest, message.body);
        }
        if is_service(&message.dest) {
            let reply = self
                .services
                .handle(&message.dest, &message.src, &message.body);
            self.accept(Message {
                src: message.dest,
                dest: message.src,
                body: reply,
            });
        } else if let Some(stdin) = self.nodes.get(&message.dest) {
            let _ = stdin.send(serde_json::to_string(&message).unwrap_or_default());
        } else if is_client(&message.dest) {
            if let Some(reply_to) = message.in_reply_to() {
                if let Some(waiting) = self.waiting.remove(&(message.dest.clone(), reply_to)) {
                    let _ = waiting.send(message.body);
                }
            }
        } else if message.msg_id().is_some() && !is_client(&message.src) {
            // A node asked for a node that does not exist: Maelstrom answers node-not-found.
            let body = error_body(message.msg_id(), 1, &format!("no node {}", message.dest));
            self.accept(Message {
                src: message.dest,
                dest: message.src,
                body,
            });
        }
    }
}

async fn route(config: NetConfig, mut rx: mpsc::UnboundedReceiver<Command_>) {
    let mut router = Router {
        rng: StdRng::seed_from_u64(config.seed),
        services: Services::new(config.seed ^ 0x5eed),
        config,
        nodes: HashMap::new(),
        waiting: HashMap::new(),
        blocked: HashSet::new(),
        stats: NetStats::default(),
        queue: BinaryHeap::new(),
        seq: 0,
        journal: None,
    };
    loop {
        let next = router.queue.peek().map(|Reverse(d)| d.at);
        let command = match next {
            Some(at) => tokio::select! {
                command = rx.recv() => command,
                _ = tokio::time::sleep_until(at) => {
                    let now = Instant::now();
                    while router.queue.peek().is_some_and(|Reverse(d)| d.at <= now) {
                        let Reverse(due) = router.queue.pop().expect("peeked");
                        router.deliver(due.message, due.sent);
                    }
                    continue;
                }
            },
            None => rx.recv().await,
        };
        let Some(command) = command else {
            return;
        };
        match command {
            Command_::Send(message) => router.accept(message),
            Command_::Rpc(message, reply) => {
                if let Some(id) = message.msg_id() {
                    router.waiting.insert((message.src.clone(), id), reply);
                }
                router.accept(message);
            }
            Command_::Attach(node, stdin) => {
                router.nodes.insert(node, stdin);
            }
            Command_::Partition(blocked) => router.blocked = blocked,
            Command_::Stats(reply) => {
                let _ = reply.send(router.stats.clone());
            }
            Command_::Journal(file, epoch) => {
                router.journal = Some((std::io::BufWriter::new(file), epoch));
            }
            Command_::CloseJournal(reply) => {
                use std::io::Write as _;
                let flushed = match router.journal.take() {
                    Some((mut out, _)) => out.flush(),
                    None => Ok(()),
                };
                let _ = reply.send(flushed);
            }
        }
    }
}

/// The node processes of a run.
pub(crate) struct Nodes {
    pub names: Vec<String>,
    bin: PathBuf,
    args: Vec<String>,
    run_dir: PathBuf,
    log_stderr: bool,
    net: Net,
    children: Mutex<HashMap<String, (Child, Arc<AtomicBool>)>>,
    malformed: Arc<Mutex<Vec<String>>>,
}

impl Nodes {
    /// Start `count` nodes `n1..` of `bin args`, their stderr in `nodes/<node>/node.log`.
    pub async fn start(
        count: usize,
        bin: PathBuf,
        args: Vec<String>,
        run_dir: PathBuf,
        log_stderr: bool,
        net: Net,
    ) -> Result<Nodes> {
        let nodes = Nodes {
            names: (1..=count).map(|i| format!("n{i}")).collect(),
            bin,
            args,
            run_dir,
            log_stderr,
            net,
            children: Mutex::new(HashMap::new()),
            malformed: Arc::new(Mutex::new(Vec::new())),
        };
        for name in nodes.names.clone() {
            nodes.spawn(&name)?;
        }
        Ok(nodes)
    }

    fn log_path(&self, node: &str) -> PathBuf {
        self.run_dir.join("nodes").join(node).join("node.log")
    }

    /// Start (or restart) `node`'s process and attach it to the network.
    pub fn spawn(&self, node: &str) -> Result<()> {
        let log = self.log_path(node);
        std::fs::create_dir_all(log.parent().expect("a folder"))?;
        let stderr = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("cannot open {}", log.display()))?;
        let mut child = Command::new(&self.bin)
            .args(&self.args)
            .env("FAULTLINE_RUN_DIR", &self.run_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if self.log_stderr {
                Stdio::inherit()
            } else {
                Stdio::from(stderr)
            })
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start --bin {}", self.bin.display()))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            let mut out = BufWriter::new(stdin);
            while let Some(line) = rx.recv().await {
                let mut ok = out.write_all(line.as_bytes()).await.is_ok()
                    && out.write_all(b"\n").await.is_ok();
                // Batch what is already queued, then flush once.
                while ok {
                    match rx.try_recv() {
                        Ok(line) => {
                            ok = out.write_all(line.as_bytes()).await.is_ok()
                                && out.write_all(b"\n").await.is_ok();
                        }
                        Err(_) => break,
                    }
                }
                if !ok || out.flush().await.is_err() {
                    return;
                }
            }
        });
        self.net.attach(node, tx);
        let net = self.net.clone();
        let name = node.to_string();
        let malformed = self.malformed.clone();
        // Set when the harness ends this process itself: its exit is then no news.
        let retired = Arc::new(AtomicBool::new(false));
        let ours = retired.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                match parse_line(&line) {
                    Ok(message) => net.send(message),
                    Err(why) => {
                        tracing::warn!(node = %name, "{why}: {line}");
                        let mut m = malformed.lock().unwrap_or_else(|e| e.into_inner());
                        if m.len() < 100 {
                            m.push(format!(
                                "{name}: {why}: {}",
                                line.chars().take(200).collect::<String>()
                            ));
                        }
                    }
                }
            }
            if !ours.load(Ordering::Relaxed) {
                tracing::warn!(node = %name, "the node closed its stdout (exited?); the run goes on");
            }
        });
        if let Some(old) = self
            .children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(node.to_string(), (child, retired))
        {
            old.1.store(true, Ordering::Relaxed);
            drop(old);
        }
        self.write_pids();
        Ok(())
    }

    /// For `faultline heal` after a crash of the harness: the pid of every node.
    fn write_pids(&self) {
        let pids: std::collections::BTreeMap<String, u32> = self
            .children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(|(n, (c, _))| c.id().map(|pid| (n.clone(), pid)))
            .collect();
        let path = self.run_dir.join("nodes").join("pids.json");
        if let Ok(bytes) = serde_json::to_vec(&pids) {
            let _ = std::fs::write(path, bytes);
        }
    }

    /// Send a signal to `node`'s process.
    pub fn signal(&self, node: &str, signal: nix::sys::signal::Signal) {
        if let Some(pid) = self
            .children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(node)
            .and_then(|(c, _)| c.id())
        {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal);
        }
    }

    /// Kill `node`'s process: its memory is lost.
    pub async fn kill(&self, node: &str) {
        let child = self
            .children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(node);
        if let Some((mut child, retired)) = child {
            retired.store(true, Ordering::Relaxed);
            let _ = child.kill().await;
        }
    }

    /// Lines nodes wrote that were not messages (at most 100).
    pub fn malformed(&self) -> Vec<String> {
        self.malformed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Kill every node process.
    pub async fn stop(&self) {
        for name in self.names.clone() {
            self.signal(&name, nix::sys::signal::Signal::SIGCONT);
            self.kill(&name).await;
        }
    }
}
