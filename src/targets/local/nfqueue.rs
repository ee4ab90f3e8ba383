//! Slow and lossy links for local nodes in network namespaces when the kernel has no netem:
//! the [`LinkShaper`] of the local target as root.
//!
//! Each affected node gets faultline's chain `FAULTLINE-LINK` in its own namespace (see
//! [`faultline_nemeses::links`]): `statistic` drops for loss, an `NFQUEUE` rule for
//! everything else, a `tbf` qdisc for a rate. NFQUEUE queues belong to a network namespace,
//! so each node's scheduler is a thread of the harness that enters the node's namespace
//! (`setns`) before it opens its netlink socket and binds the queue. The thread holds each
//! packet for its delay (± jitter), lets `reorder` percent through at once, flips a bit after
//! the IP header of `corrupt` percent (no checksum fixed: the receiver drops them, as with
//! netem), and for `duplicate` percent sends a copy through a raw socket of the namespace
//! carrying a firewall mark that skips the chain; then it gives the verdict.
//!
//! The rule uses `--queue-bypass`: if the scheduler is gone (the harness was SIGKILLed),
//! packets pass instead of being dropped, and `faultline heal` removes the rules from the
//! ledger's record. Stopping a scheduler first removes the rules, then releases every packet
//! it still holds. This module must never enter a namespace it was not given, nor add a rule
//! outside faultline's chain.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use faultline_nemeses::control::{Control, ControlError};
use faultline_nemeses::links::{
    corrupt_packet, describe, fate, install_chain, remove_chain, KernelPlan, LinkRecord,
    LinkShaper, DUPLICATE_MARK, QUEUE_NUM,
};
use faultline_nemeses::netem::NetemOptions;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Value};

/// The device every node's packets leave by (see `netns.rs`).
const DEVICE: &str = "eth0";

/// What one scheduler did, for the log.
#[derive(Debug, Default)]
struct Counts {
    packets: AtomicU64,
    corrupted: AtomicU64,
    duplicated: AtomicU64,
}

struct Scheduler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    counts: Arc<Counts>,
}

/// The NFQUEUE schedulers (and kernel rules) of one run's nodes.
pub struct NfqueueShaper {
    control: Arc<dyn Control>,
    namespaces: BTreeMap<String, String>,
    addresses: BTreeMap<String, String>,
    seed: u64,
    running: Mutex<BTreeMap<String, Scheduler>>,
}

impl NfqueueShaper {
    /// Shape the links of nodes living in `namespaces` (node → namespace name), running
    /// iptables and tc in them through `control`; `addresses` (node → IP) serve links.
    pub fn new(
        control: Arc<dyn Control>,
        namespaces: BTreeMap<String, String>,
        addresses: BTreeMap<String, String>,
        seed: u64,
    ) -> Self {
        NfqueueShaper {
            control,
            namespaces,
            addresses,
            seed,
            running: Mutex::default(),
        }
    }

    /// Start `node`'s scheduler and keep it; returns whether duplicates can be sent.
    async fn start_scheduler(&self, node: &str, options: &NetemOptions) -> Result<bool, String> {
        let ns = self
            .namespaces
            .get(node)
            .ok_or_else(|| format!("{node} has no network namespace"))?;
        let path = PathBuf::from("/run/netns").join(ns);
        let seed = self.seed ^ node.bytes().fold(0u64, |h, b| h.rotate_left(8) ^ b as u64);
        // One queue, one listener: a scheduler already there goes first.
        let old = self.running.lock().expect("schedulers").remove(node);
        if let Some(old) = old {
            let node = node.to_string();
            let _ = tokio::task::spawn_blocking(move || stop_scheduler(&node, old)).await;
        }
        let (name, options) = (node.to_string(), options.clone());
        // Binding waits for a thread to enter the namespace: keep it off the runtime.
        let (scheduler, duplicates) =
            tokio::task::spawn_blocking(move || spawn_scheduler(&name, path, options, seed))
                .await
                .map_err(|e| format!("the scheduler's start panicked: {e}"))??;
        self.running
            .lock()
            .expect("schedulers")
            .insert(node.to_string(), scheduler);
        Ok(duplicates)
    }
}

/// Start a scheduler thread for the namespace at `path`; returns once its queue is bound,
/// with whether duplicates can be sent.
fn spawn_scheduler(
    node: &str,
    path: PathBuf,
    options: NetemOptions,
    seed: u64,
) -> Result<(Scheduler, bool), String> {
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Counts::default());
    let (ready_tx, ready_rx) = mpsc::channel();
    let thread = {
        let (stop, counts) = (stop.clone(), counts.clone());
        std::thread::Builder::new()
            .name(format!("nfqueue-{node}"))
            .spawn(move || schedule(path, options, seed, stop, counts, ready_tx))
            .map_err(|e| format!("cannot start a scheduler thread: {e}"))?
    };
    let ready = ready_rx
        .recv_timeout(Duration::from_secs(10))
        .map_err(|_| "the scheduler did not bind its queue within 10 s".to_string())
        .and_then(|r| r);
    let scheduler = Scheduler {
        stop,
        thread: Some(thread),
        counts,
    };
    match ready {
        Ok(duplicates) => Ok((scheduler, duplicates)),
        Err(e) => {
            stop_scheduler(node, scheduler);
            Err(e)
        }
    }
}

fn stop_scheduler(node: &str, mut scheduler: Scheduler) {
    scheduler.stop.store(true, Ordering::Relaxed);
    if let Some(thread) = scheduler.thread.take() {
        let _ = thread.join();
    }
    let c = &scheduler.counts;
    tracing::info!(
        node,
        packets = c.packets.load(Ordering::Relaxed),
        corrupted = c.corrupted.load(Ordering::Relaxed),
        duplicated = c.duplicated.load(Ordering::Relaxed),
        "nfqueue scheduler stopped"
    );
}

impl Drop for NfqueueShaper {
    fn drop(&mut self) {
        let running = std::mem::take(&mut *self.running.lock().unwrap_or_else(|e| e.into_inner()));
        for (node, scheduler) in running {
            stop_scheduler(&node, scheduler);
        }
    }
}

#[async_trait]
impl LinkShaper for NfqueueShaper {
    fn plan(&self, node: &str, options: &NetemOptions) -> Result<LinkRecord, String> {
        if !self.namespaces.contains_key(node) {
            return Err(format!("{node} has no network namespace"));
        }
        let relay_only = options.relay_only();
        if !relay_only.is_empty() {
            return Err(format!(
                "{} are toxics of the relays (run without root or with --no-netns)",
                relay_only.join(", ")
            ));
        }
        if let Some(peers) = options.peers_of(node) {
            if options.rate_kbit > 0 {
                return Err("a rate on one link: tbf shapes the node's whole device; give the rate on=NODE, or run without root for the relays".to_string());
            }
            if let Some(peer) = peers.iter().find(|p| !self.addresses.contains_key(*p)) {
                return Err(format!("no address known for {peer}"));
            }
        }
        Ok(LinkRecord {
            mechanisms: KernelPlan::of(options).mechanisms(),
            devices: BTreeSet::from([DEVICE.to_string()]),
        })
    }

    async fn apply(&self, node: &str, options: &NetemOptions) -> Result<Value, ControlError> {
        let destinations = options
            .peers_of(node)
            .unwrap_or_default()
            .iter()
            .filter_map(|p| self.addresses.get(p).cloned())
            .collect();
        let plan = KernelPlan::of(options).to(destinations);
        let mut notes = Vec::new();
        if plan.nfqueue {
            let duplicates = self
                .start_scheduler(node, options)
                .await
                .map_err(|e| ControlError::failed(node, "nfqueue scheduler", e))?;
            if options.duplicate_pct > 0.0 && !duplicates {
                notes.push("duplicate: no raw socket in the namespace, so no copies are sent");
            }
        }
        install_chain(self.control.as_ref(), node, DEVICE, &plan).await?;
        let mut detail = json!({ "mechanism": describe(&plan.mechanisms()) });
        if !notes.is_empty() {
            detail["approximated"] = json!(notes);
        }
        Ok(detail)
    }

    async fn heal(&self, node: &str) -> Result<(), ControlError> {
        let removed = remove_chain(
            self.control.as_ref(),
            node,
            &BTreeSet::from([DEVICE.to_string()]),
        )
        .await;
        let scheduler = self.running.lock().expect("schedulers").remove(node);
        if let Some(scheduler) = scheduler {
            let node = node.to_string();
            let _ = tokio::task::spawn_blocking(move || stop_scheduler(&node, scheduler)).await;
        }
        removed
    }
}

/// A held packet waiting for its release time.
struct Held {
    due: Instant,
    msg: nfq::Message,
}

/// The scheduler thread: enter the namespace at `ns`, bind the queue, then hold, alter and
/// release packets until told to stop; then release everything still held.
fn schedule(
    ns: PathBuf,
    options: NetemOptions,
    seed: u64,
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
    ready: mpsc::Sender<Result<bool, String>>,
) {
    let setup = || -> Result<(nfq::Queue, Option<socket2::Socket>), String> {
        let file = File::open(&ns).map_err(|e| format!("cannot open {}: {e}", ns.display()))?;
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| format!("cannot enter {}: {e}", ns.display()))?;
        let mut queue = nfq::Queue::open().map_err(|e| format!("cannot open nfqueue: {e}"))?;
        queue
            .bind(QUEUE_NUM)
            .map_err(|e| format!("cannot bind queue {QUEUE_NUM}: {e}"))?;
        let _ = queue.set_queue_max_len(QUEUE_NUM, 16 * 1024);
        let _ = queue.set_fail_open(QUEUE_NUM, true);
        queue.set_nonblocking(true);
        let raw = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::RAW,
            Some(socket2::Protocol::from(255)), // IPPROTO_RAW: we write the IP header
        )
        .and_then(|s| s.set_mark(DUPLICATE_MARK).map(|()| s))
        .ok();
        Ok((queue, raw))
    };
    let (mut queue, raw) = match setup() {
        Ok(q) => q,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(raw.is_some()));
    let mut rng = StdRng::seed_from_u64(seed);
    let mut held: BTreeMap<(Instant, u64), Held> = BTreeMap::new();
    let mut seq = 0u64;
    let release = |queue: &mut nfq::Queue, mut msg: nfq::Message| {
        msg.set_verdict(nfq::Verdict::Accept);
        let _ = queue.verdict(msg);
    };
    while !stop.load(Ordering::Relaxed) {
        loop {
            let mut msg = match queue.recv() {
                Ok(msg) => msg,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::debug!(error = %e, "nfqueue recv");
                    break;
                }
            };
            counts.packets.fetch_add(1, Ordering::Relaxed);
            let f = fate(&options, &mut rng);
            if f.duplicate {
                if let Some(raw) = &raw {
                    let packet = msg.get_payload();
                    if packet.len() >= 20 && packet[0] >> 4 == 4 {
                        let dst = Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]);
                        let to = socket2::SockAddr::from(SocketAddrV4::new(dst, 0));
                        if raw.send_to(packet, &to).is_ok() {
                            counts.duplicated.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
            if f.corrupt && corrupt_packet(msg.get_payload_mut(), &mut rng) {
                counts.corrupted.fetch_add(1, Ordering::Relaxed);
            }
            if f.hold.is_zero() {
                release(&mut queue, msg);
            } else {
                seq += 1;
                let due = Instant::now() + f.hold;
                held.insert((due, seq), Held { due, msg });
            }
        }
        let now = Instant::now();
        while let Some(entry) = held.first_entry() {
            if entry.get().due > now {
                break;
            }
            let Held { msg, .. } = entry.remove();
            release(&mut queue, msg);
        }
        let next = held
            .first_key_value()
            .map(|(_, h)| h.due.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_millis(1));
        std::thread::sleep(next.min(Duration::from_millis(1)));
    }
    for (_, h) in std::mem::take(&mut held) {
        release(&mut queue, h.msg);
    }
    let _ = queue.unbind(QUEUE_NUM);
}

#[cfg(test)]
mod tests {
    //! The scheduler on the wire: two namespaces joined by a veth pair, UDP datagrams from
    //! one to the other, the shaper acting on the sender. Needs root (skipped otherwise).

    use super::*;
    use crate::targets::local::exec::LocalControl;
    use std::net::UdpSocket;
    use std::process::Command;

    struct Pair {
        a: String,
        b: String,
        subnet: u32,
    }

    impl Pair {
        fn new() -> Pair {
            let id = std::process::id();
            let pair = Pair {
                a: format!("flq{id}a"),
                b: format!("flq{id}b"),
                subnet: 100 + id % 100,
            };
            let ip = |args: &[&str]| {
                let ok = Command::new("ip").args(args).status().unwrap().success();
                assert!(ok, "ip {args:?}");
            };
            ip(&["netns", "add", &pair.a]);
            ip(&["netns", "add", &pair.b]);
            ip(&[
                "-n", &pair.a, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0",
                "netns", &pair.b,
            ]);
            for (ns, host) in [(&pair.a, 1), (&pair.b, 2)] {
                let addr = format!("10.214.{}.{host}/24", pair.subnet);
                ip(&["-n", ns, "addr", "add", &addr, "dev", "eth0"]);
                ip(&["-n", ns, "link", "set", "eth0", "up"]);
                ip(&["-n", ns, "link", "set", "lo", "up"]);
            }
            pair
        }
    }

    impl Drop for Pair {
        fn drop(&mut self) {
            for ns in [&self.a, &self.b] {
                let _ = Command::new("ip").args(["netns", "del", ns]).status();
            }
        }
    }

    /// Send `n` datagrams from namespace `from` to `to` and return how many arrived and
    /// the median one-way delay.
    fn send_and_count(pair: &Pair, n: usize) -> (usize, Duration) {
        let enter = |ns: &str| {
            let file = File::open(format!("/run/netns/{ns}")).unwrap();
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        };
        let (b, a) = (pair.b.clone(), pair.a.clone());
        let (bound_tx, bound_rx) = mpsc::channel();
        let receiver = std::thread::spawn(move || {
            enter(&b);
            let socket = UdpSocket::bind("0.0.0.0:9999").unwrap();
            socket
                .set_read_timeout(Some(Duration::from_millis(600)))
                .unwrap();
            bound_tx.send(()).unwrap();
            let mut arrivals = Vec::new();
            let mut buf = [0u8; 64];
            while let Ok(len) = socket.recv(&mut buf) {
                arrivals.push((Instant::now(), buf[..len].to_vec()));
            }
            arrivals
        });
        bound_rx.recv().unwrap();
        let to = format!("10.214.{}.2:9999", pair.subnet);
        let sent = std::thread::spawn(move || {
            enter(&a);
            let socket = UdpSocket::bind("0.0.0.0:0").unwrap();
            let mut sent = Vec::new();
            for i in 0..n {
                sent.push(Instant::now());
                // A DROP in OUTPUT answers the sender with EPERM: the datagram is lost.
                let _ = socket.send_to(&(i as u32).to_be_bytes(), &to);
                std::thread::sleep(Duration::from_millis(5));
            }
            sent
        })
        .join()
        .unwrap();
        let arrivals = receiver.join().unwrap();
        let mut delays: Vec<Duration> = arrivals
            .iter()
            .filter_map(|(at, payload)| {
                let i = u32::from_be_bytes(payload[..4].try_into().ok()?) as usize;
                sent.get(i).map(|s| at.duration_since(*s))
            })
            .collect();
        delays.sort();
        let median = delays.get(delays.len() / 2).copied().unwrap_or_default();
        (arrivals.len(), median)
    }

    /// `Udp: InCsumErrors` of namespace `ns`.
    fn udp_checksum_errors(ns: &str) -> i64 {
        let out = Command::new("ip")
            .args(["netns", "exec", ns, "cat", "/proc/net/snmp"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let udp: Vec<Vec<&str>> = text
            .lines()
            .filter(|l| l.starts_with("Udp:"))
            .map(|l| l.split_whitespace().collect())
            .collect();
        let at = udp[0].iter().position(|f| *f == "InCsumErrors").unwrap();
        udp[1][at].parse().unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_scheduler_delays_duplicates_and_corrupts_on_the_wire() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: the NFQUEUE scheduler needs root (namespaces, iptables)");
            return;
        }
        let pair = Pair::new();
        let namespaces = BTreeMap::from([("a".to_string(), pair.a.clone())]);
        let control = Arc::new(LocalControl::new(
            vec!["a".to_string()],
            Some(namespaces.clone()),
        ));
        let addresses = BTreeMap::from([
            ("a".to_string(), format!("10.214.{}.1", pair.subnet)),
            ("b".to_string(), format!("10.214.{}.2", pair.subnet)),
            ("c".to_string(), format!("10.214.{}.3", pair.subnet)),
        ]);
        let shaper = NfqueueShaper::new(control.clone(), namespaces, addresses, 9);
        let rules = || {
            let out = Command::new("ip")
                .args(["netns", "exec", &pair.a, "iptables", "-S"])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        };

        let (n, quick) = tokio::task::block_in_place(|| send_and_count(&pair, 20));
        assert_eq!(n, 20);
        assert!(quick < Duration::from_millis(50), "{quick:?}");

        let delay = NetemOptions::parse("delay=100ms").unwrap();
        let detail = shaper.apply("a", &delay).await.unwrap();
        assert_eq!(detail["mechanism"], "nfqueue");
        let (n, slow) = tokio::task::block_in_place(|| send_and_count(&pair, 20));
        assert_eq!(n, 20);
        assert!(
            slow >= Duration::from_millis(100) && slow < Duration::from_millis(200),
            "{slow:?}"
        );

        // A fault on the link a>c leaves a>b alone; on a>b it acts.
        shaper.heal("a").await.unwrap();
        let other = NetemOptions::parse("delay=100ms,on=a>c").unwrap();
        shaper.apply("a", &other).await.unwrap();
        let (n, quick) = tokio::task::block_in_place(|| send_and_count(&pair, 20));
        assert!(
            n == 20 && quick < Duration::from_millis(50),
            "{n} {quick:?}"
        );
        let this = NetemOptions::parse("delay=100ms,on=a>b").unwrap();
        shaper.apply("a", &this).await.unwrap();
        let (n, slow) = tokio::task::block_in_place(|| send_and_count(&pair, 20));
        assert!(
            n == 20 && slow >= Duration::from_millis(100),
            "{n} {slow:?}"
        );
        let rate = NetemOptions::parse("rate=1mbit,on=a>b").unwrap();
        assert!(shaper
            .plan("a", &rate)
            .unwrap_err()
            .contains("whole device"));

        shaper.heal("a").await.unwrap();
        let dup = NetemOptions::parse("duplicate=100%").unwrap();
        shaper.apply("a", &dup).await.unwrap();
        let (n, _) = tokio::task::block_in_place(|| send_and_count(&pair, 20));
        assert_eq!(n, 40, "every datagram arrives twice");

        shaper.heal("a").await.unwrap();
        let corrupt = NetemOptions::parse("corrupt=100%").unwrap();
        shaper.apply("a", &corrupt).await.unwrap();
        let errors_before = udp_checksum_errors(&pair.b);
        let (n, _) = tokio::task::block_in_place(|| send_and_count(&pair, 20));
        assert_eq!(n, 0, "corrupted datagrams fail the receiver's checksum");
        // One bit flipped anywhere after the IP header: in the UDP length field the datagram
        // is dropped as malformed before its checksum is checked; everywhere else the
        // checksum fails.
        let checksum_errors = udp_checksum_errors(&pair.b) - errors_before;
        assert!(
            (12..=20).contains(&checksum_errors),
            "{checksum_errors} of 20 datagrams failed the receiver's checksum"
        );

        shaper.heal("a").await.unwrap();
        let loss = NetemOptions::parse("loss=50%").unwrap();
        let detail = shaper.apply("a", &loss).await.unwrap();
        assert_eq!(detail["mechanism"], "statistic");
        let (n, _) = tokio::task::block_in_place(|| send_and_count(&pair, 40));
        assert!((8..=32).contains(&n), "{n} of 40 arrived");

        shaper.heal("a").await.unwrap();
        assert!(!rules().contains("FAULTLINE"), "{}", rules());
        let (n, quick) = tokio::task::block_in_place(|| send_and_count(&pair, 20));
        assert_eq!(n, 20);
        assert!(quick < Duration::from_millis(50), "{quick:?}");
    }
}
