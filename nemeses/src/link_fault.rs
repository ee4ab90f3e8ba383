//! What a link fault is, apart from how it is carried out: `--netem` read into
//! [`NetemOptions`] (which nodes, what delay, loss, rate ...), the [`Mechanism`]s that can
//! act, and the [`LinkRecord`] of one node that the ledger keeps for `faultline heal`.
//! `netem.rs` (the nemesis), `links.rs` (the kernel and relay shapers) and `ledger.rs` all
//! share these; keeping them here lets each of those use it without using each other.
//!
//! This module must never run a command on a node nor touch the ledger.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// How a link fault was carried out on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mechanism {
    /// The kernel's netem qdisc.
    Netem,
    /// faultline's user-space packet scheduler on an NFQUEUE.
    Nfqueue,
    /// iptables' `statistic` match dropping packets at random.
    Statistic,
    /// A `tbf` qdisc limiting the rate.
    Tbf,
    /// The per-link TCP relays of the harness.
    Relays,
}

impl Mechanism {
    /// The lowercase word used in the history, the ledger and the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::Netem => "netem",
            Mechanism::Nfqueue => "nfqueue",
            Mechanism::Statistic => "statistic",
            Mechanism::Tbf => "tbf",
            Mechanism::Relays => "relays",
        }
    }
}

/// `nfqueue+statistic`: the mechanisms of one fault, joined, for the history.
pub fn describe(mechanisms: &BTreeSet<Mechanism>) -> String {
    mechanisms
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join("+")
}

/// What a link fault installs on one node, written to the ledger *before* it is applied so
/// `faultline heal` knows what to remove after a crash of the harness.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkRecord {
    /// The mechanisms that act (or may act) on the node.
    pub mechanisms: BTreeSet<Mechanism>,
    /// The devices whose egress is shaped (the chain's `-o` and the tbf qdisc).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub devices: BTreeSet<String>,
}

/// Which nodes a netem fault hits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetemOn {
    /// Every node: every link is slow or lossy.
    All,
    /// One random node each time.
    One,
    /// This node.
    Node(String),
    /// Only packets `from` sends to `to` (`on=n1>n2`), and with `both` those `to` sends to
    /// `from` as well (`on=n1<>n2`). Carried out by the NFQUEUE scheduler (rules matching
    /// the peer's address) or the relays; kernel netem acts on a whole device.
    Link {
        /// The sending node.
        from: String,
        /// The receiving node.
        to: String,
        /// Whether the other direction is slowed as well.
        both: bool,
    },
}

/// The link fault `--netem` describes.
#[derive(Debug, Clone, PartialEq)]
pub struct NetemOptions {
    /// Added delay, milliseconds.
    pub delay_ms: u64,
    /// Jitter of the delay, milliseconds.
    pub jitter_ms: u64,
    /// Percent of packets dropped.
    pub loss_pct: f64,
    /// Percent of packets duplicated.
    pub duplicate_pct: f64,
    /// Percent of packets sent at once, ahead of delayed ones (needs a delay).
    pub reorder_pct: f64,
    /// Percent of packets with a flipped bit.
    pub corrupt_pct: f64,
    /// A rate limit, kbit/s (0: none).
    pub rate_kbit: u64,
    /// Toxiproxy's slicer: pieces of about this many bytes (0: none; relays only).
    pub slice_bytes: u64,
    /// Toxiproxy's timeout: no data passes, connections close after this many ms (0: never;
    /// relays only).
    pub stall_ms: Option<u64>,
    /// Toxiproxy's reset_peer: connections are reset after this many ms (relays only).
    pub reset_ms: Option<u64>,
    /// Which nodes.
    pub on: NetemOn,
}

/// The default of `--netem`.
pub const DEFAULT_NETEM: &str = "delay=50ms,jitter=10ms,loss=2%,on=all";

impl NetemOptions {
    /// Read `--netem` (see the module docs).
    pub fn parse(text: &str) -> Result<NetemOptions, String> {
        const HELP: &str = "give e.g. 'delay=50ms,jitter=10ms,loss=5%,duplicate=1%,reorder=10%,corrupt=1%,rate=1mbit,on=all' (on: all, one or a node name; relays also take slice=BYTES, stall=MS, reset=MS)";
        let mut o = NetemOptions {
            delay_ms: 0,
            jitter_ms: 0,
            loss_pct: 0.0,
            duplicate_pct: 0.0,
            reorder_pct: 0.0,
            corrupt_pct: 0.0,
            rate_kbit: 0,
            slice_bytes: 0,
            stall_ms: None,
            reset_ms: None,
            on: NetemOn::All,
        };
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((key, value)) = item.split_once('=') else {
                return Err(format!("--netem item {item:?} is not key=value; {HELP}"));
            };
            let ms = |v: &str| -> Result<u64, String> {
                let digits = v.strip_suffix("ms").unwrap_or(v);
                digits.parse::<u64>().map_err(|_| {
                    format!("--netem {key}={v}: give whole milliseconds, e.g. {key}=50ms")
                })
            };
            let pct = |v: &str| -> Result<f64, String> {
                let digits = v.strip_suffix('%').unwrap_or(v);
                match digits.parse::<f64>() {
                    Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
                    _ => Err(format!(
                        "--netem {key}={v}: give a percentage from 0 to 100, e.g. {key}=5%"
                    )),
                }
            };
            match key.trim() {
                "delay" => o.delay_ms = ms(value)?,
                "jitter" => o.jitter_ms = ms(value)?,
                "loss" => o.loss_pct = pct(value)?,
                "duplicate" => o.duplicate_pct = pct(value)?,
                "reorder" => o.reorder_pct = pct(value)?,
                "corrupt" => o.corrupt_pct = pct(value)?,
                "rate" => o.rate_kbit = parse_rate(value)?,
                "slice" => {
                    o.slice_bytes = value
                        .strip_suffix('b')
                        .unwrap_or(value)
                        .parse::<u64>()
                        .ok()
                        .filter(|b| *b > 0)
                        .ok_or_else(|| {
                            format!("--netem slice={value}: give bytes, e.g. slice=64")
                        })?
                }
                "stall" => o.stall_ms = Some(ms(value)?),
                "reset" => o.reset_ms = Some(ms(value)?),
                "on" => {
                    o.on = match value {
                        "all" => NetemOn::All,
                        "one" => NetemOn::One,
                        "" => return Err(format!("--netem on= names no node; {HELP}")),
                        link if link.contains('>') => {
                            let (from, to, both) = match link.split_once("<>") {
                                Some((a, b)) => (a, b, true),
                                None => {
                                    let (a, b) = link.split_once('>').expect("contains >");
                                    (a, b, false)
                                }
                            };
                            let (from, to) = (from.trim(), to.trim());
                            if from.is_empty() || to.is_empty() || from == to || to.contains('>') {
                                return Err(format!(
                                    "--netem on={link}: a link is two different nodes, n1>n2 (one way) or n1<>n2 (both ways)"
                                ));
                            }
                            NetemOn::Link {
                                from: from.to_string(),
                                to: to.to_string(),
                                both,
                            }
                        }
                        node => NetemOn::Node(node.to_string()),
                    }
                }
                other => return Err(format!("--netem has no option {other:?}; {HELP}")),
            }
        }
        if o.jitter_ms > 0 && o.delay_ms == 0 {
            return Err("--netem jitter needs a delay (e.g. delay=50ms,jitter=10ms)".to_string());
        }
        if o.reorder_pct > 0.0 && o.delay_ms == 0 {
            return Err("--netem reorder needs a delay: netem reorders by sending some packets without it (e.g. delay=50ms,reorder=10%)".to_string());
        }
        if o.tc_args().is_empty() && o.relay_only().is_empty() {
            return Err(format!("--netem {text:?} asks for no fault; {HELP}"));
        }
        Ok(o)
    }

    /// The peers whose packets from `node` this fault slows: `None` for all of them (the
    /// node's whole egress), or the other end of the link `on=` names.
    pub fn peers_of(&self, node: &str) -> Option<Vec<String>> {
        match &self.on {
            NetemOn::Link { from, to, .. } if from == node => Some(vec![to.clone()]),
            NetemOn::Link {
                from,
                to,
                both: true,
            } if to == node => Some(vec![from.clone()]),
            NetemOn::Link { .. } => Some(Vec::new()),
            _ => None,
        }
    }

    /// The options only the relays can carry out (`slice`, `stall`, `reset`), by name.
    pub fn relay_only(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.slice_bytes > 0 {
            names.push("slice");
        }
        if self.stall_ms.is_some() {
            names.push("stall");
        }
        if self.reset_ms.is_some() {
            names.push("reset");
        }
        names
    }

    /// The netem arguments of `tc qdisc replace dev DEV root netem ...`.
    pub fn tc_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if self.delay_ms > 0 {
            args.push("delay".to_string());
            args.push(format!("{}ms", self.delay_ms));
            if self.jitter_ms > 0 {
                args.push(format!("{}ms", self.jitter_ms));
            }
        }
        for (name, pct) in [
            ("loss", self.loss_pct),
            ("duplicate", self.duplicate_pct),
            ("reorder", self.reorder_pct),
            ("corrupt", self.corrupt_pct),
        ] {
            if pct > 0.0 {
                args.push(name.to_string());
                args.push(format!("{pct}%"));
            }
        }
        if self.rate_kbit > 0 {
            args.push("rate".to_string());
            args.push(format!("{}kbit", self.rate_kbit));
        }
        args
    }

    /// `delay 50ms 10ms loss 5%` plus the relay-only toxics, for the history.
    pub fn describe(&self) -> String {
        let mut parts = self.tc_args();
        if self.slice_bytes > 0 {
            parts.push(format!("slice {}B", self.slice_bytes));
        }
        if let Some(ms) = self.stall_ms {
            parts.push(format!("stall {ms}ms"));
        }
        if let Some(ms) = self.reset_ms {
            parts.push(format!("reset {ms}ms"));
        }
        parts.join(" ")
    }
}

/// `rate=1mbit`, `500kbit`, `2gbit` or a bare number of kbit/s, in kbit/s.
fn parse_rate(value: &str) -> Result<u64, String> {
    let lower = value.to_ascii_lowercase();
    let (digits, factor) = if let Some(d) = lower.strip_suffix("gbit") {
        (d, 1_000_000)
    } else if let Some(d) = lower.strip_suffix("mbit") {
        (d, 1000)
    } else if let Some(d) = lower.strip_suffix("kbit") {
        (d, 1)
    } else {
        (lower.as_str(), 1)
    };
    digits
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .map(|n| n * factor)
        .ok_or_else(|| format!("--netem rate={value}: give e.g. rate=1mbit or rate=500kbit"))
}
