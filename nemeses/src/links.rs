//! Slow and lossy links where the kernel has no netem (many CI sandboxes, gVisor and
//! Firecracker guests, and every user without root): what [`crate::netem::NetemNemesis`]
//! falls back to, and what `faultline heal` needs to undo it.
//!
//! The same `--netem` fault is carried out by whichever mechanism the node offers, and the
//! mechanism is recorded with the fault ([`Mechanism`]):
//! - `netem`: the kernel qdisc (see [`crate::netem`]), where it exists;
//! - `statistic`: loss as `iptables -m statistic --mode random --probability P -j DROP`;
//! - `nfqueue`: delay, jitter, duplication, reordering and corruption by a user-space packet
//!   scheduler the target runs, fed by `-j NFQUEUE --queue-num` [`QUEUE_NUM`] `--queue-bypass`
//!   (so a scheduler that died lets packets through instead of black-holing the node);
//! - `tbf`: a rate limit as a `tbf` root qdisc;
//! - `relays`: the per-link TCP relays of an unprivileged run (Toxiproxy-style toxics).
//!
//! The kernel rules live in faultline's own chain [`LINK_CHAIN`], jumped to from the top of
//! `OUTPUT` for packets leaving the node's device (as netem acts on egress). Packets the
//! scheduler re-injects carry [`DUPLICATE_MARK`] and skip the chain. This module computes
//! plans and rules and runs them through [`Control`]; it must never touch a chain, rule or
//! qdisc it did not add. The packet scheduler itself (netlink, namespaces, raw sockets)
//! belongs to the target: this crate knows no way to reach a node but its seams.

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;
use serde_json::Value;

use crate::control::{exec_ok, owned, Control, ControlError};
use crate::iptables::remove_iptables_chain;
use crate::ledger::Ledger;
use crate::link_fault::NetemOptions;
pub use crate::link_fault::{describe, LinkRecord, Mechanism};
use crate::nemesis::Outcome;

/// The iptables chain of link faults (partitions use [`crate::iptables::CHAIN`]).
pub const LINK_CHAIN: &str = "FAULTLINE-LINK";
/// The NFQUEUE number the scheduler binds in each node's network namespace.
pub const QUEUE_NUM: u16 = 7213;
/// The firewall mark of packets the scheduler sends itself (duplicates): they skip the chain.
pub const DUPLICATE_MARK: u32 = 0x464c;
/// Linux's minimum TCP retransmission timeout: what one lost segment costs a TCP stream.
pub const MIN_RTO: Duration = Duration::from_millis(200);

/// How the kernel mechanisms split a `--netem` fault.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelPlan {
    /// Drop probability (0..1] for the `statistic` rule.
    pub loss: Option<f64>,
    /// Whether the packet scheduler is needed (delay, jitter, duplicate, reorder, corrupt).
    pub nfqueue: bool,
    /// A rate limit in kbit/s for `tbf`.
    pub rate_kbit: Option<u64>,
    /// Only packets to these addresses (one link); empty: every packet leaving the device.
    pub destinations: Vec<String>,
}

impl KernelPlan {
    /// The plan of `options`: loss to `statistic` (the kernel drops at random as netem
    /// does), rate to `tbf`, everything else to the scheduler.
    pub fn of(options: &NetemOptions) -> KernelPlan {
        KernelPlan {
            loss: (options.loss_pct > 0.0).then_some(options.loss_pct / 100.0),
            nfqueue: options.delay_ms > 0
                || options.duplicate_pct > 0.0
                || options.reorder_pct > 0.0
                || options.corrupt_pct > 0.0,
            rate_kbit: (options.rate_kbit > 0).then_some(options.rate_kbit),
            destinations: Vec::new(),
        }
    }

    /// This plan for packets to `addresses` only (the statistic and NFQUEUE rules match
    /// `-d ADDRESS`; a `tbf` qdisc cannot, so callers refuse a rate on one link).
    pub fn to(mut self, addresses: Vec<String>) -> KernelPlan {
        self.destinations = addresses;
        self
    }

    /// `[]` or `["-d", ADDRESS]` for each rule, one entry per rule to add.
    fn matches(&self) -> Vec<Vec<String>> {
        if self.destinations.is_empty() {
            vec![Vec::new()]
        } else {
            self.destinations
                .iter()
                .map(|d| vec!["-d".to_string(), d.clone()])
                .collect()
        }
    }

    /// The mechanisms this plan uses.
    pub fn mechanisms(&self) -> BTreeSet<Mechanism> {
        let mut set = BTreeSet::new();
        if self.loss.is_some() {
            set.insert(Mechanism::Statistic);
        }
        if self.nfqueue {
            set.insert(Mechanism::Nfqueue);
        }
        if self.rate_kbit.is_some() {
            set.insert(Mechanism::Tbf);
        }
        set
    }

    /// The iptables commands (arguments after `iptables`) that build [`LINK_CHAIN`] for
    /// packets leaving `device`, in order. The first (`-N`) fails when the chain exists,
    /// which is fine; the jump is added by [`install_chain`] only once.
    pub fn chain_rules(&self) -> Vec<Vec<String>> {
        let mut rules = vec![
            owned(&["-w", "-N", LINK_CHAIN]),
            owned(&["-w", "-F", LINK_CHAIN]),
            owned(&[
                "-w",
                "-A",
                LINK_CHAIN,
                "-m",
                "mark",
                "--mark",
                &format!("{DUPLICATE_MARK:#x}"),
                "-j",
                "RETURN",
            ]),
        ];
        for matching in self.matches() {
            let head = |rest: &[&str]| {
                let mut rule = owned(&["-w", "-A", LINK_CHAIN]);
                rule.extend(matching.iter().cloned());
                rule.extend(owned(rest));
                rule
            };
            if let Some(p) = self.loss {
                rules.push(head(&[
                    "-m",
                    "statistic",
                    "--mode",
                    "random",
                    "--probability",
                    &format!("{p:.6}"),
                    "-j",
                    "DROP",
                ]));
            }
            if self.nfqueue {
                rules.push(head(&[
                    "-j",
                    "NFQUEUE",
                    "--queue-num",
                    &QUEUE_NUM.to_string(),
                    "--queue-bypass",
                ]));
            }
        }
        rules
    }
}

/// Build [`LINK_CHAIN`] on `node` from `plan` and jump to it from `OUTPUT` for packets
/// leaving `device`; then the `tbf` qdisc if the plan limits the rate.
pub async fn install_chain(
    control: &dyn Control,
    node: &str,
    device: &str,
    plan: &KernelPlan,
) -> Result<(), ControlError> {
    for (i, rule) in plan.chain_rules().iter().enumerate() {
        if i == 0 {
            let _ = control.exec(node, "iptables", rule).await?;
            continue;
        }
        let args: Vec<&str> = rule.iter().map(String::as_str).collect();
        exec_ok(control, node, "iptables", &args).await?;
    }
    let jump = ["-w", "-C", "OUTPUT", "-o", device, "-j", LINK_CHAIN];
    if !control
        .exec(node, "iptables", &owned(&jump))
        .await?
        .success()
    {
        exec_ok(
            control,
            node,
            "iptables",
            &["-w", "-I", "OUTPUT", "1", "-o", device, "-j", LINK_CHAIN],
        )
        .await?;
    }
    if let Some(kbit) = plan.rate_kbit {
        // A burst of at least one MTU-sized packet and 10 ms at the rate; a queue of 400 ms.
        let burst = (kbit * 1000 / 8 / 100).max(3200);
        exec_ok(
            control,
            node,
            "tc",
            &[
                "qdisc",
                "replace",
                "dev",
                device,
                "root",
                "tbf",
                "rate",
                &format!("{kbit}kbit"),
                "burst",
                &burst.to_string(),
                "latency",
                "400ms",
            ],
        )
        .await?;
    }
    Ok(())
}

/// Remove every jump to [`LINK_CHAIN`] from `OUTPUT` on `node`, then the chain, then a `tbf`
/// root qdisc on each of `devices`. Succeeds when there is nothing to remove (or the node's
/// namespace is gone).
pub async fn remove_chain(
    control: &dyn Control,
    node: &str,
    devices: &BTreeSet<String>,
) -> Result<(), ControlError> {
    let rules = control
        .exec(node, "iptables", &owned(&["-w", "-S", "OUTPUT"]))
        .await?;
    for line in rules.stdout.lines().filter(|l| l.contains(LINK_CHAIN)) {
        // "-A OUTPUT -o eth0 -j FAULTLINE-LINK" → "-D OUTPUT -o eth0 -j FAULTLINE-LINK"
        let mut args = vec!["-w".to_string()];
        args.extend(line.split_whitespace().map(str::to_string));
        if args.get(1).map(String::as_str) == Some("-A") {
            args[1] = "-D".to_string();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            exec_ok(control, node, "iptables", &args).await?;
        }
    }
    remove_iptables_chain(control, node, LINK_CHAIN).await?;
    for device in devices {
        let show = control
            .exec(node, "tc", &owned(&["qdisc", "show", "dev", device]))
            .await?;
        if show.success() && show.stdout.contains("qdisc tbf") {
            delete_root_qdisc(control, node, device).await?;
        }
    }
    Ok(())
}

/// Delete the root qdisc of `device` on `node` (netem's or tbf's).
pub(crate) async fn delete_root_qdisc(
    control: &dyn Control,
    node: &str,
    device: &str,
) -> Result<(), ControlError> {
    exec_ok(
        control,
        node,
        "tc",
        &["qdisc", "del", "dev", device, "root"],
    )
    .await?;
    Ok(())
}

/// A target's own way to shape links when the kernel has no netem (or the nodes have no
/// kernel of their own): the NFQUEUE scheduler in node namespaces, or the relays.
///
/// `plan` says what `apply` will install, so the nemesis can record it in the ledger first;
/// `heal` removes everything on a node and succeeds when nothing is applied.
#[async_trait]
pub trait LinkShaper: Send + Sync {
    /// What `apply(node, options)` would install, or why this shaper cannot do it.
    fn plan(&self, node: &str, options: &NetemOptions) -> Result<LinkRecord, String>;
    /// Make `node`'s links slow or lossy as `options` say; the value describes what acted
    /// (it must hold a `mechanism` and may hold `approximated`, notes on what was modelled).
    async fn apply(&self, node: &str, options: &NetemOptions) -> Result<Value, ControlError>;
    /// Remove every link fault on `node`.
    async fn heal(&self, node: &str) -> Result<(), ControlError>;
}

/// Remove every link fault `ledger` holds and forget it; `None` when it holds none.
///
/// A live `shaper` removes its own (scheduler, rules, toxics). Without one (a fresh
/// `faultline heal` after the harness died) the kernel rules and qdiscs are removed through
/// `control`, and faults carried out by the relays or a scheduler are gone with the harness.
pub async fn undo_links(
    control: Option<&dyn Control>,
    shaper: Option<&dyn LinkShaper>,
    ledger: &Ledger,
) -> Option<Outcome> {
    let held = ledger.snapshot().links;
    if held.is_empty() {
        return None;
    }
    let mut undos = Vec::new();
    for (node, record) in &held {
        let kernel = record.mechanisms.iter().any(|m| {
            matches!(
                m,
                Mechanism::Nfqueue | Mechanism::Statistic | Mechanism::Tbf
            )
        });
        let result = match (shaper, control) {
            (Some(shaper), _) => shaper.heal(node).await,
            (None, Some(control)) if kernel => remove_chain(control, node, &record.devices).await,
            (None, None) if kernel => Err(ControlError::unsupported(node, "remove link rules")),
            // Relays live in the harness: once it is gone, so are their toxics.
            (None, _) => Ok(()),
        };
        undos.push((node.clone(), result.map_err(|e| e.to_string())));
    }
    Some(ledger.forget_healed(|s| &mut s.links, undos, "removed link faults"))
}

/// What the packet scheduler does with one queued packet (loss is the `statistic` rule's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fate {
    /// How long to hold the packet before accepting it.
    pub hold: Duration,
    /// Flip one bit after the IP header, leaving the checksums wrong (the receiver drops it).
    pub corrupt: bool,
    /// Send a copy as well.
    pub duplicate: bool,
}

/// Netem's choices for one packet: `reorder` percent go out at once (ahead of the held
/// ones), the rest wait `delay` ± a uniform `jitter`; independent draws for corruption and
/// duplication.
pub fn fate(options: &NetemOptions, rng: &mut impl Rng) -> Fate {
    let chance = |pct: f64, rng: &mut dyn rand::RngCore| pct > 0.0 && rng.random_bool(pct / 100.0);
    let corrupt = chance(options.corrupt_pct, rng);
    let duplicate = chance(options.duplicate_pct, rng);
    let reorder = chance(options.reorder_pct, rng);
    let hold = if reorder || options.delay_ms == 0 {
        Duration::ZERO
    } else {
        let delay = options.delay_ms as i64;
        let jitter = options.jitter_ms as i64;
        let ms = if jitter > 0 {
            delay + rng.random_range(-jitter..=jitter)
        } else {
            delay
        };
        Duration::from_millis(ms.max(0) as u64)
    };
    Fate {
        hold,
        corrupt,
        duplicate,
    }
}

/// Flip one bit of an IPv4 or IPv6 packet after its IP header (in the transport header or
/// payload), fixing no checksum; `false` when there is nothing after the header.
pub fn corrupt_packet(packet: &mut [u8], rng: &mut impl Rng) -> bool {
    let header = match packet.first().map(|b| b >> 4) {
        Some(4) => usize::from(packet[0] & 0x0f) * 4,
        Some(6) => 40,
        _ => return false,
    };
    if packet.len() <= header {
        return false;
    }
    let at = rng.random_range(header..packet.len());
    packet[at] ^= 1 << rng.random_range(0..8);
    true
}

/// What a TCP stream sees of `loss` percent packet loss (and of corruption, which the
/// receiver's checksum turns into loss): each chunk is delayed by a retransmission timeout
/// with probability `p`, again with `p` at twice the timeout, and so on (TCP's exponential
/// backoff). The relays use it, since a byte stream cannot lose bytes.
pub fn retransmission_delay(loss_pct: f64, rng: &mut impl Rng) -> Duration {
    let p = (loss_pct / 100.0).clamp(0.0, 0.95);
    let mut delay = Duration::ZERO;
    let mut rto = MIN_RTO;
    while p > 0.0 && rng.random_bool(p) && delay < Duration::from_secs(60) {
        delay += rto;
        rto *= 2;
    }
    delay
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeShell;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn plans_split_a_fault_among_kernel_mechanisms() {
        let o = NetemOptions::parse("delay=200ms,loss=30%,rate=1mbit").unwrap();
        let plan = KernelPlan::of(&o);
        assert_eq!(describe(&plan.mechanisms()), "nfqueue+statistic+tbf");
        let rules: Vec<String> = plan.chain_rules().iter().map(|r| r.join(" ")).collect();
        assert!(rules.contains(&format!(
            "-w -A {LINK_CHAIN} -m statistic --mode random --probability 0.300000 -j DROP"
        )));
        assert!(rules
            .last()
            .unwrap()
            .ends_with("NFQUEUE --queue-num 7213 --queue-bypass"));
        let link = KernelPlan::of(&NetemOptions::parse("delay=5ms,on=n1>n2").unwrap())
            .to(vec!["10.0.0.2".to_string()]);
        assert!(link.chain_rules().iter().any(|r| r.join(" ")
            == format!(
                "-w -A {LINK_CHAIN} -d 10.0.0.2 -j NFQUEUE --queue-num 7213 --queue-bypass"
            )));
        let loss_only = KernelPlan::of(&NetemOptions::parse("loss=5%").unwrap());
        assert_eq!(describe(&loss_only.mechanisms()), "statistic");
        assert!(!loss_only
            .chain_rules()
            .iter()
            .any(|r| r.contains(&"NFQUEUE".to_string())));
    }

    #[tokio::test]
    async fn the_chain_is_installed_once_and_removed_whole() {
        let shell = FakeShell::new(1, &["iptables"]);
        let plan = KernelPlan::of(&NetemOptions::parse("delay=20ms,rate=800kbit").unwrap());
        install_chain(&shell, "n1", "eth0", &plan).await.unwrap();
        let cmds = shell.commands("n1");
        assert!(cmds.contains(&format!("iptables -w -I OUTPUT 1 -o eth0 -j {LINK_CHAIN}")));
        assert!(cmds.contains(
            &"tc qdisc replace dev eth0 root tbf rate 800kbit burst 3200 latency 400ms".to_string()
        ));
        remove_chain(&shell, "n1", &BTreeSet::from(["eth0".to_string()]))
            .await
            .unwrap();
        let cmds = shell.commands("n1");
        assert!(
            cmds.contains(&format!("iptables -w -X {LINK_CHAIN}")),
            "{cmds:?}"
        );
        assert!(cmds
            .iter()
            .filter(|c| c.starts_with("iptables") && !c.contains("OUTPUT"))
            .all(|c| c.contains(LINK_CHAIN)));
    }

    #[test]
    fn fates_follow_the_options() {
        let mut rng = StdRng::seed_from_u64(7);
        let o = NetemOptions::parse("delay=100ms,jitter=20ms,reorder=25%,duplicate=10%").unwrap();
        let fates: Vec<Fate> = (0..4000).map(|_| fate(&o, &mut rng)).collect();
        let at_once = fates.iter().filter(|f| f.hold.is_zero()).count();
        assert!(
            (800..1200).contains(&at_once),
            "{at_once} of 4000 reordered"
        );
        assert!(fates
            .iter()
            .filter(|f| !f.hold.is_zero())
            .all(|f| (80..=120).contains(&f.hold.as_millis())));
        let dups = fates.iter().filter(|f| f.duplicate).count();
        assert!((300..500).contains(&dups), "{dups}");
        assert!(fates.iter().all(|f| !f.corrupt));
    }

    #[test]
    fn corruption_flips_one_bit_after_the_ip_header() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut packet = vec![0u8; 60];
        packet[0] = 0x45; // IPv4, 20-byte header
        let before = packet.clone();
        assert!(corrupt_packet(&mut packet, &mut rng));
        let diff: Vec<usize> = (0..60).filter(|&i| packet[i] != before[i]).collect();
        assert_eq!(diff.len(), 1);
        assert!(diff[0] >= 20 && (packet[diff[0]] ^ before[diff[0]]).count_ones() == 1);
        assert!(!corrupt_packet(&mut [0x45; 20], &mut rng));
        assert!(!corrupt_packet(&mut [], &mut rng));
    }

    #[test]
    fn loss_over_tcp_costs_retransmission_timeouts() {
        let mut rng = StdRng::seed_from_u64(3);
        let delays: Vec<Duration> = (0..1000)
            .map(|_| retransmission_delay(30.0, &mut rng))
            .collect();
        let hit = delays.iter().filter(|d| !d.is_zero()).count();
        assert!((230..370).contains(&hit), "{hit}");
        assert!(delays.iter().all(|d| d.as_millis() % 200 == 0));
        assert!(retransmission_delay(0.0, &mut rng).is_zero());
    }
}
