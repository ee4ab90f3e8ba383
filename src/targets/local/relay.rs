//! Per-link TCP relays, so an ordinary user can partition local nodes and slow their links:
//! node i reaches node j only through relay i→j, a loopback listener the harness runs, which
//! forwards to j's peer address.
//!
//! **Partitions.** Cutting a link closes every connection on it and refuses new ones
//! (accepted and closed at once); healing lets connections through again. Relays implement
//! the nemeses crate's [`Network`]. A one-way grudge (`n1>n2`, shape `one-way`) cuts the
//! whole link: a relay carries TCP streams, and over TCP a one-way drop stalls every
//! connection between the two nodes anyway (the data or its acknowledgements are lost), so
//! cutting both ways is what the nodes would see, only sooner; iptables in namespaces drops
//! one way only.
//!
//! **Link faults.** Relays implement [`LinkShaper`] with Toxiproxy's toxics ([`Toxics`]),
//! applied to the bytes a node *sends* (as netem acts on a device's egress; with
//! `--netem on=n1>n2` only to what it sends to that peer), on connections
//! open or new: `latency` with `jitter` (each chunk is held, order kept), `bandwidth`,
//! `slicer` (chunks cut into small writes), `timeout` (`stall`: no data passes; connections
//! close after the timeout, or never with 0) and `reset_peer` (`reset`: connections are reset
//! with a TCP RST after the timeout). `--netem` maps onto them: delay/jitter → latency,
//! rate → bandwidth, and loss and corrupt (which the receiver's checksum turns into loss) →
//! what a TCP stream shows of lost segments: a chunk is held a retransmission timeout
//! (200 ms, doubling while the draw repeats) with the loss probability
//! ([`faultline_nemeses::links::retransmission_delay`]). Duplication and reordering are
//! invisible through TCP and are not modelled; the fault's record says so (`approximated`).
//!
//! When link faults are enabled the harness's clients reach each node through a relay as
//! well ([`Relays::add_clients`]), so a slow node answers its clients slowly too, as it would
//! with netem; partitions never cut those links (the harness is no node).
//!
//! Relays and their toxics live in the harness's runtime and die with it, so a crashed
//! harness leaves no cut link and no toxic behind. This module must never listen on anything
//! but 127.0.0.1.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use async_trait::async_trait;
use faultline_nemeses::control::ControlError;
use faultline_nemeses::links::{retransmission_delay, LinkRecord, LinkShaper, Mechanism};
use faultline_nemeses::net::Network;
use faultline_nemeses::netem::NetemOptions;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

/// Toxiproxy's toxics on the bytes one node sends through the relays.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Toxics {
    /// Every chunk is held this long (Toxiproxy's `latency`).
    pub latency: Duration,
    /// ... plus or minus up to this much (`jitter`); chunks keep their order.
    pub jitter: Duration,
    /// Percent of chunks held a retransmission timeout (what TCP shows of packet loss).
    pub loss_pct: f64,
    /// A rate limit in kbit/s (`bandwidth`); 0 is none.
    pub bandwidth_kbit: u64,
    /// Chunks are written in pieces of about this many bytes (`slicer`); 0 is none.
    pub slice_bytes: usize,
    /// No data passes; connections close after this long (`timeout`), never with zero.
    pub stall: Option<Duration>,
    /// Connections are reset (RST) after this long (`reset_peer`).
    pub reset: Option<Duration>,
}

impl Toxics {
    /// The toxics that carry out `--netem` `o` on a byte stream, and notes on what could
    /// only be approximated.
    pub fn from_netem(o: &NetemOptions) -> (Toxics, Vec<String>) {
        let mut notes = Vec::new();
        let loss = o.loss_pct + o.corrupt_pct;
        if loss > 0.0 {
            notes.push(
                "loss and corrupt: a chunk is held a TCP retransmission timeout (200 ms, doubling) with that probability"
                    .to_string(),
            );
        }
        if o.duplicate_pct > 0.0 || o.reorder_pct > 0.0 {
            notes.push("duplicate and reorder: invisible through TCP, not modelled".to_string());
        }
        let toxics = Toxics {
            latency: Duration::from_millis(o.delay_ms),
            jitter: Duration::from_millis(o.jitter_ms),
            loss_pct: loss.min(95.0),
            bandwidth_kbit: o.rate_kbit,
            slice_bytes: o.slice_bytes as usize,
            stall: o.stall_ms.map(Duration::from_millis),
            reset: o.reset_ms.map(Duration::from_millis),
        };
        (toxics, notes)
    }

    /// When a chunk read now must be written, at the earliest.
    fn hold(&self, rng: &mut StdRng) -> Duration {
        let mut hold = self.latency;
        if !self.jitter.is_zero() {
            let j = self.jitter.as_millis() as i64;
            let ms = self.latency.as_millis() as i64 + rng.random_range(-j..=j);
            hold = Duration::from_millis(ms.max(0) as u64);
        }
        if self.loss_pct > 0.0 {
            hold += retransmission_delay(self.loss_pct, rng);
        }
        hold
    }
}

/// The sending end of the links the harness's clients use (never a node, never cut).
pub const CLIENTS: &str = "(clients)";

/// The receiver of a toxic that acts on everything its sender sends.
const ANY: &str = "*";

/// The toxics in effect, by sending node and receiving node (or [`ANY`]).
type ToxicMap = BTreeMap<(String, String), Arc<Toxics>>;

/// The toxics on what `sender` sends to `receiver`: the link's own, else the sender's.
fn toxics_on(map: &ToxicMap, sender: &str, receiver: &str) -> Option<Arc<Toxics>> {
    map.get(&(sender.to_string(), receiver.to_string()))
        .or_else(|| map.get(&(sender.to_string(), ANY.to_string())))
        .cloned()
}

/// One directed link: the relay `from` uses to reach `to`.
struct Link {
    from: String,
    to: String,
    addr: String,
    cut: watch::Sender<bool>,
}

/// Every relay of one run.
pub struct Relays {
    nodes: Vec<String>,
    links: Vec<Link>,
    drops: Mutex<BTreeMap<String, BTreeSet<String>>>,
    toxics: watch::Sender<ToxicMap>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Relays {
    /// Start a relay for every ordered pair of `nodes` (name, peer address), on free
    /// loopback ports. Must be called inside a tokio runtime.
    pub fn start(nodes: &[(String, String)]) -> Result<Relays> {
        let (toxics, _) = watch::channel(ToxicMap::new());
        let mut relays = Relays {
            nodes: nodes.iter().map(|(n, _)| n.clone()).collect(),
            links: Vec::new(),
            drops: Mutex::default(),
            toxics,
            tasks: Vec::new(),
        };
        for (from, _) in nodes {
            for (to, target) in nodes.iter().filter(|(n, _)| n != from) {
                relays.open(from, to, target)?;
            }
        }
        Ok(relays)
    }

    /// Put the harness's clients behind relays too (from [`CLIENTS`] to each node, at its
    /// client address), so a node's toxics slow its answers to clients as netem on its
    /// device would. Returns each node's client address as the clients must use it.
    pub fn add_clients(&mut self, nodes: &[(String, String)]) -> Result<BTreeMap<String, String>> {
        let mut addresses = BTreeMap::new();
        for (to, target) in nodes {
            let addr = self.open(CLIENTS, to, target)?;
            addresses.insert(to.clone(), addr);
        }
        Ok(addresses)
    }

    /// Start the relay `from` uses to reach `to` (listening at `target`) on a free loopback
    /// port; its address.
    fn open(&mut self, from: &str, to: &str, target: &str) -> Result<String> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")
            .context("cannot open a loopback port for a relay")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?.to_string();
        let listener = TcpListener::from_std(std_listener)?;
        let (cut, cut_rx) = watch::channel(false);
        let ends = Ends {
            from: from.to_string(),
            to: to.to_string(),
            target: target.to_string(),
        };
        self.tasks.push(tokio::spawn(serve(
            listener,
            ends,
            cut_rx,
            self.toxics.subscribe(),
        )));
        self.links.push(Link {
            from: from.to_string(),
            to: to.to_string(),
            addr: addr.clone(),
            cut,
        });
        Ok(addr)
    }

    /// The address `from` must use to reach `to`.
    pub fn address(&self, from: &str, to: &str) -> Option<&str> {
        self.links
            .iter()
            .find(|l| l.from == from && l.to == to)
            .map(|l| l.addr.as_str())
    }

    /// Put `toxics` on the bytes `node` sends to each of `to` (to everyone with `None`),
    /// replacing any it had.
    pub fn set_toxics(&self, node: &str, to: Option<&[String]>, toxics: Toxics) {
        let toxics = Arc::new(toxics);
        self.toxics.send_modify(|map| {
            map.retain(|(sender, _), _| sender != node);
            match to {
                None => {
                    map.insert((node.to_string(), ANY.to_string()), toxics);
                }
                Some(peers) => {
                    for peer in peers {
                        map.insert((node.to_string(), peer.clone()), toxics.clone());
                    }
                }
            }
        });
    }

    /// Remove every toxic on what `node` sends.
    pub fn clear_toxics(&self, node: &str) {
        self.toxics.send_if_modified(|map| {
            let before = map.len();
            map.retain(|(sender, _), _| sender != node);
            map.len() != before
        });
    }

    /// The nodes that have toxics now.
    #[cfg(test)]
    pub fn toxic_nodes(&self) -> Vec<String> {
        let map = self.toxics.borrow();
        let nodes: BTreeSet<String> = map.keys().map(|(sender, _)| sender.clone()).collect();
        nodes.into_iter().collect()
    }

    /// Cut or restore every link from the grudges in effect.
    fn apply(&self) {
        let drops = self.drops.lock().expect("drops");
        let drop = |a: &str, b: &str| drops.get(a).is_some_and(|s| s.contains(b));
        for link in &self.links {
            let cut = drop(&link.from, &link.to) || drop(&link.to, &link.from);
            link.cut
                .send_if_modified(|c| std::mem::replace(c, cut) != cut);
        }
    }

    fn check(&self, node: &str) -> Result<(), ControlError> {
        if self.nodes.iter().any(|n| n == node) {
            Ok(())
        } else {
            Err(ControlError::unknown_node(node, &self.nodes))
        }
    }
}

impl Drop for Relays {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The two nodes of a link and the address the relay forwards to.
#[derive(Clone)]
struct Ends {
    from: String,
    to: String,
    target: String,
}

/// Accept connections for one link and forward them to `target` while the link is whole.
async fn serve(
    listener: TcpListener,
    ends: Ends,
    cut: watch::Receiver<bool>,
    toxics: watch::Receiver<ToxicMap>,
) {
    let mut count: u64 = 0;
    loop {
        let Ok((inbound, _)) = listener.accept().await else {
            continue;
        };
        if *cut.borrow() {
            drop(inbound);
            continue;
        }
        count += 1;
        let seed = count ^ fnv(&ends.from) ^ fnv(&ends.to).rotate_left(17);
        tokio::spawn(relay_connection(
            inbound,
            ends.clone(),
            cut.clone(),
            toxics.clone(),
            seed,
        ));
    }
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

/// How a connection's life was ended by a toxic.
enum Doom {
    Close,
    Reset,
}

async fn relay_connection(
    inbound: TcpStream,
    ends: Ends,
    mut cut: watch::Receiver<bool>,
    toxics: watch::Receiver<ToxicMap>,
    seed: u64,
) {
    let Ok(outbound) = TcpStream::connect(&ends.target).await else {
        return;
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (mut in_read, mut in_write) = inbound.into_split();
    let (mut out_read, mut out_write) = outbound.into_split();
    let doom = tokio::select! {
        _ = futures::future::join(
            pump(&mut in_read, &mut out_write, (&ends.from, &ends.to), toxics.clone(), seed),
            pump(&mut out_read, &mut in_write, (&ends.to, &ends.from), toxics.clone(), seed.rotate_left(1)),
        ) => None,
        _ = cut.wait_for(|c| *c) => None,
        doom = doomed(&ends, toxics.clone()) => Some(doom),
    };
    if let Some(Doom::Reset) = doom {
        // Closing with a zero linger sends RST; a write half alone would send FIN first.
        for (read, write) in [(in_read, in_write), (out_read, out_write)] {
            if let Ok(stream) = read.reunite(write) {
                let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
            }
        }
    }
}

/// Resolves when a `stall` with a timeout or a `reset` toxic on either end of the link
/// has been in effect for its timeout.
async fn doomed(ends: &Ends, mut toxics: watch::Receiver<ToxicMap>) -> Doom {
    loop {
        let due = {
            let map = toxics.borrow_and_update();
            [(&ends.from, &ends.to), (&ends.to, &ends.from)]
                .iter()
                .filter_map(|(sender, receiver)| toxics_on(&map, sender, receiver))
                .filter_map(|t| match (t.reset, t.stall) {
                    (Some(after), _) => Some((after, true)),
                    (None, Some(after)) if !after.is_zero() => Some((after, false)),
                    _ => None,
                })
                .min()
        };
        match due {
            Some((after, reset)) => {
                tokio::select! {
                    _ = tokio::time::sleep(after) => {
                        return if reset { Doom::Reset } else { Doom::Close };
                    }
                    // The toxic changed (or was removed) before it fired: look again.
                    changed = toxics.changed() => if changed.is_err() { std::future::pending::<()>().await },
                }
            }
            None => {
                if toxics.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}

/// Forward what `sender` writes from `read` to `write`, through the sender's toxics.
async fn pump(
    read: &mut OwnedReadHalf,
    write: &mut OwnedWriteHalf,
    (sender, receiver): (&str, &str),
    toxics: watch::Receiver<ToxicMap>,
    seed: u64,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let current =
        |toxics: &watch::Receiver<ToxicMap>| toxics_on(&toxics.borrow(), sender, receiver);
    let reading_toxics = toxics.clone();
    let reading = async move {
        let toxics = reading_toxics;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut buf = vec![0u8; 16 * 1024];
        let mut last = Instant::now();
        loop {
            let n = match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let toxic = current(&toxics);
            let hold = match &toxic {
                // The timeout toxic: nothing passes while it is in effect.
                Some(t) if t.stall.is_some() => continue,
                Some(t) => t.hold(&mut rng),
                None => Duration::ZERO,
            };
            // Chunks keep their order, as TCP would deliver them.
            let due = (Instant::now() + hold).max(last);
            last = due;
            if tx.send((due, buf[..n].to_vec())).is_err() {
                break;
            }
        }
    };
    let writing = async {
        while let Some((due, data)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            let toxic = current(&toxics);
            let slice = toxic.as_ref().map_or(0, |t| t.slice_bytes);
            let pieces: Vec<&[u8]> = if slice > 0 {
                data.chunks(slice).collect()
            } else {
                vec![&data[..]]
            };
            for piece in pieces {
                if write.write_all(piece).await.is_err() {
                    return;
                }
                if let Some(kbit) = toxic.as_ref().map(|t| t.bandwidth_kbit).filter(|k| *k > 0) {
                    let micros = piece.len() as u64 * 8 * 1000 / kbit;
                    tokio::time::sleep(Duration::from_micros(micros)).await;
                }
            }
        }
        let _ = write.shutdown().await;
    };
    // `reading` owns the sender: when it ends, the writer drains what is held and ends too.
    futures::future::join(reading, writing).await;
}

#[async_trait]
impl Network for Relays {
    fn nodes(&self) -> Vec<String> {
        self.nodes.clone()
    }

    fn method(&self) -> String {
        "relays".to_string()
    }

    async fn isolate(&self, node: &str, from: &[String]) -> Result<(), ControlError> {
        self.check(node)?;
        self.drops
            .lock()
            .expect("drops")
            .insert(node.to_string(), from.iter().cloned().collect());
        self.apply();
        Ok(())
    }

    async fn heal(&self, node: &str) -> Result<(), ControlError> {
        self.drops.lock().expect("drops").remove(node);
        self.apply();
        Ok(())
    }
}

#[async_trait]
impl LinkShaper for Relays {
    fn plan(&self, _node: &str, _options: &NetemOptions) -> Result<LinkRecord, String> {
        Ok(LinkRecord {
            mechanisms: BTreeSet::from([Mechanism::Relays]),
            devices: BTreeSet::new(),
        })
    }

    async fn apply(&self, node: &str, options: &NetemOptions) -> Result<Value, ControlError> {
        self.check(node)?;
        let (toxics, notes) = Toxics::from_netem(options);
        let peers = options.peers_of(node);
        if let Some(unknown) = peers.iter().flatten().find(|p| !self.nodes.contains(p)) {
            return Err(ControlError::unknown_node(unknown.as_str(), &self.nodes));
        }
        self.set_toxics(node, peers.as_deref(), toxics);
        let mut detail = json!({ "mechanism": Mechanism::Relays.as_str() });
        if !notes.is_empty() {
            detail["approximated"] = json!(notes);
        }
        Ok(detail)
    }

    async fn heal(&self, node: &str) -> Result<(), ControlError> {
        self.clear_toxics(node);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An echo server; returns its address.
    async fn echo() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut buf = [0u8; 64];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    /// Relays between `n` nodes n1, n2, ... that each run an echo server.
    async fn echo_relays(n: usize) -> Relays {
        let mut nodes = Vec::new();
        for i in 1..=n {
            nodes.push((format!("n{i}"), echo().await));
        }
        Relays::start(&nodes).unwrap()
    }

    async fn round_trip(addr: &str) -> bool {
        let Ok(mut s) = TcpStream::connect(addr).await else {
            return false;
        };
        if s.write_all(b"hi").await.is_err() {
            return false;
        }
        let mut buf = [0u8; 2];
        matches!(
            tokio::time::timeout(std::time::Duration::from_secs(2), s.read_exact(&mut buf)).await,
            Ok(Ok(_))
        )
    }

    #[tokio::test]
    async fn a_cut_link_closes_connections_and_refuses_new_ones_until_healed() {
        let relays = echo_relays(3).await;
        let n1_to_n2 = relays.address("n1", "n2").unwrap().to_string();
        let n1_to_n3 = relays.address("n1", "n3").unwrap().to_string();
        assert!(round_trip(&n1_to_n2).await);

        let mut open = TcpStream::connect(&n1_to_n2).await.unwrap();
        open.write_all(b"x").await.unwrap();
        let mut one = [0u8; 1];
        open.read_exact(&mut one).await.unwrap();

        // n2 drops packets from n1: the link is cut both ways.
        relays.isolate("n2", &["n1".to_string()]).await.unwrap();
        assert!(!round_trip(&n1_to_n2).await);
        assert!(!round_trip(relays.address("n2", "n1").unwrap()).await);
        assert!(round_trip(&n1_to_n3).await, "other links stay whole");
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            open.read_to_end(&mut rest),
        )
        .await;
        assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "{closed:?}");

        Network::heal(&relays, "n2").await.unwrap();
        assert!(round_trip(&n1_to_n2).await);
        assert!(relays.isolate("n9", &[]).await.is_err());
    }

    /// The time of one round trip through `addr` on a fresh connection.
    async fn timed_round_trip(addr: &str) -> Option<std::time::Duration> {
        let start = std::time::Instant::now();
        round_trip(addr).await.then(|| start.elapsed())
    }

    #[tokio::test]
    async fn latency_acts_on_the_senders_bytes_and_heals() {
        let relays = echo_relays(2).await;
        let n1_to_n2 = relays.address("n1", "n2").unwrap().to_string();
        let quick = timed_round_trip(&n1_to_n2).await.unwrap();
        assert!(quick < std::time::Duration::from_millis(100), "{quick:?}");
        // An open connection is slowed too, as persistent peer connections must be.
        let mut open = TcpStream::connect(&n1_to_n2).await.unwrap();
        let options = NetemOptions::parse("delay=150ms,loss=0%,on=n1").unwrap();
        let detail = LinkShaper::apply(&relays, "n1", &options).await.unwrap();
        assert_eq!(detail["mechanism"], "relays");
        let start = std::time::Instant::now();
        open.write_all(b"x").await.unwrap();
        let mut one = [0u8; 1];
        open.read_exact(&mut one).await.unwrap();
        let slow = start.elapsed();
        // n1's request is held; n2's echo is not (the fault is on n1's egress only).
        assert!(slow >= std::time::Duration::from_millis(150), "{slow:?}");
        assert!(slow < std::time::Duration::from_millis(290), "{slow:?}");
        let both = NetemOptions::parse("delay=150ms").unwrap();
        LinkShaper::apply(&relays, "n2", &both).await.unwrap();
        let slower = timed_round_trip(&n1_to_n2).await.unwrap();
        assert!(
            slower >= std::time::Duration::from_millis(300),
            "{slower:?}"
        );
        LinkShaper::heal(&relays, "n1").await.unwrap();
        LinkShaper::heal(&relays, "n2").await.unwrap();
        assert!(relays.toxic_nodes().is_empty());
        let healed = timed_round_trip(&n1_to_n2).await.unwrap();
        assert!(healed < std::time::Duration::from_millis(100), "{healed:?}");
    }

    #[tokio::test]
    async fn stall_drops_data_and_reset_resets_connections() {
        let relays = echo_relays(2).await;
        let addr = relays.address("n1", "n2").unwrap().to_string();
        let stall = NetemOptions::parse("stall=0").unwrap();
        LinkShaper::apply(&relays, "n1", &stall).await.unwrap();
        assert!(!round_trip(&addr).await, "nothing passes a stall");
        let reset = NetemOptions::parse("reset=100").unwrap();
        LinkShaper::apply(&relays, "n1", &reset).await.unwrap();
        let mut open = TcpStream::connect(&addr).await.unwrap();
        let mut rest = Vec::new();
        let ended = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            open.read_to_end(&mut rest),
        )
        .await
        .expect("the connection ends within the timeout");
        assert!(
            matches!(&ended, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
            "{ended:?}"
        );
        let (slices, _) = Toxics::from_netem(&NetemOptions::parse("slice=8,rate=1000").unwrap());
        assert_eq!((slices.slice_bytes, slices.bandwidth_kbit), (8, 1000));
        relays.set_toxics("n1", None, slices);
        assert!(round_trip(&addr).await, "sliced data still arrives whole");
        let (_, notes) = Toxics::from_netem(&NetemOptions::parse("loss=30%,duplicate=1%").unwrap());
        assert_eq!(notes.len(), 2, "{notes:?}");
    }

    #[tokio::test]
    async fn a_fault_on_one_link_leaves_the_others_alone() {
        let relays = echo_relays(3).await;
        let options = NetemOptions::parse("delay=150ms,on=n1>n2").unwrap();
        LinkShaper::apply(&relays, "n1", &options).await.unwrap();
        let to_n2 = timed_round_trip(relays.address("n1", "n2").unwrap())
            .await
            .unwrap();
        let to_n3 = timed_round_trip(relays.address("n1", "n3").unwrap())
            .await
            .unwrap();
        assert!(to_n2 >= std::time::Duration::from_millis(150), "{to_n2:?}");
        assert!(to_n3 < std::time::Duration::from_millis(100), "{to_n3:?}");
        LinkShaper::heal(&relays, "n1").await.unwrap();
        assert!(relays.toxic_nodes().is_empty());
    }
}
