//! The fault options of `faultline test`, resolved: which network the local nodes get,
//! partition shapes, `--netem`, clock options; what this machine cannot do is refused here
//! with a clear reason, before anything starts. Pure validation: this module never builds a
//! nemesis or touches a node (that is [`crate::faults`]).

use std::path::PathBuf;

use anyhow::Result;
use faultline_nemeses::net::{parse_grudge_shape, Shape};
use faultline_nemeses::netem::NetemOptions;
use faultline_nemeses::schedule::NemesisKind;
use serde::Serialize;

use crate::cli::{TestArgs, DEFAULT_SHAPES};
use crate::exit::bad_input;

/// Where libfaketime is looked for (Debian's `libfaketime` package), unless
/// `FAULTLINE_LIBFAKETIME` names the library.
const LIBFAKETIME: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
    "/usr/local/lib/faketime/libfaketime.so.1",
];

/// How local nodes are networked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetPlan {
    /// Each node in its own network namespace (root only): partitions with iptables, netem.
    Netns,
    /// Nodes on loopback, peers through per-link relays: partitions and link faults
    /// (Toxiproxy-style toxics) without privilege.
    Relays,
    /// Nodes on loopback talking directly: no network faults.
    Shared,
}

/// How partitions are made: `--partitioner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Partitioner {
    /// iptables in namespaces as root, relays otherwise.
    Auto,
    /// iptables (or nft) in each node's namespace; needs root.
    Iptables,
    /// Per-link TCP relays run by the harness.
    Relays,
}

/// The fault options of one test, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct FaultOptions {
    /// How the local nodes are networked.
    pub net: NetPlan,
    /// How partitions are made.
    pub partitioner: Partitioner,
    /// Partition shapes a partition chooses among (`grudge` for the explicit one).
    pub partition_shapes: Vec<String>,
    /// `--partition-grudge`, validated: components (`n1,n2|n3`) or a one-way cut (`n1>n2,n3`).
    pub partition_grudge: Option<String>,
    /// `--netem`, validated.
    pub netem: String,
    /// Clock offsets a skew chooses among, milliseconds.
    pub clock_offsets_ms: Vec<i64>,
    /// Whether a clock fault may skew.
    pub clock_skew: bool,
    /// Whether a clock fault may strobe.
    pub clock_strobe: bool,
    /// A strobe's half period, milliseconds.
    pub clock_strobe_period_ms: u64,
    /// The libfaketime library nodes are started under (clock faults on local nodes).
    pub libfaketime: Option<PathBuf>,
}

/// Validate the fault options of `faultline test` for `nemeses` on `node_count` nodes.
pub fn resolve_options(args: &TestArgs, nemeses: &[NemesisKind]) -> Result<FaultOptions> {
    let has = |k| nemeses.contains(&k);
    let partitioner = match args.partitioner.as_str() {
        "auto" => Partitioner::Auto,
        "iptables" => Partitioner::Iptables,
        "relays" => Partitioner::Relays,
        other => bad_input!("--partitioner {other}: give auto, iptables or relays"),
    };
    let root = nix::unistd::geteuid().is_root();
    let local = args.target == "local";
    if !local && (has(NemesisKind::Bitflip) || has(NemesisKind::Truncate)) {
        bad_input!(
            "--nemesis bitflip and truncate damage the data files of local nodes; over SSH they are not available yet"
        );
    }
    let net = if !local {
        // Remote nodes are real hosts: their own iptables and tc do the work.
        NetPlan::Shared
    } else if root && !args.no_netns && partitioner != Partitioner::Relays {
        NetPlan::Netns
    } else if has(NemesisKind::Partition) || has(NemesisKind::Netem) {
        NetPlan::Relays
    } else {
        NetPlan::Shared
    };
    let why_not_netns = if !root {
        "faultline is not running as root"
    } else {
        "--no-netns or --partitioner relays was given"
    };
    if local && net != NetPlan::Netns && partitioner == Partitioner::Iptables {
        bad_input!(
            "--partitioner iptables needs each local node in its own network namespace, and {why_not_netns}: \
             run faultline as root without --no-netns, or use --partitioner relays"
        );
    }
    let mut partition_shapes = Vec::new();
    for name in args
        .partition_shapes
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if name != "grudge" {
            if let Err(e) = Shape::parse(name) {
                bad_input!("--partition-shapes: {e}");
            }
        }
        partition_shapes.push(name.to_string());
    }
    let partition_grudge = match &args.partition_grudge {
        None => None,
        Some(text) => {
            let shape = parse_grudge_shape(text).map_err(|e| {
                anyhow::Error::new(crate::exit::BadInput(format!("--partition-grudge: {e}")))
            })?;
            let named: Vec<String> = match &shape {
                Shape::Explicit(components) => components.iter().flatten().cloned().collect(),
                Shape::Directed { from, to } => from.iter().chain(to).cloned().collect(),
                _ => Vec::new(),
            };
            let names: Vec<String> = (1..=args.node_count).map(|i| format!("n{i}")).collect();
            if let Some(unknown) = named.iter().find(|n| !names.contains(n)) {
                bad_input!(
                    "--partition-grudge names {unknown}, but the nodes are {}",
                    names.join(", ")
                );
            }
            // A grudge given alone replaces the default shapes.
            if args.partition_shapes == DEFAULT_SHAPES {
                partition_shapes = vec!["grudge".to_string()];
            } else if !partition_shapes.iter().any(|s| s == "grudge") {
                partition_shapes.push("grudge".to_string());
            }
            Some(text.clone())
        }
    };
    if partition_shapes.iter().any(|s| s == "grudge") && partition_grudge.is_none() {
        bad_input!("--partition-shapes names grudge, but no --partition-grudge was given");
    }
    if has(NemesisKind::Partition) && partition_shapes.is_empty() {
        bad_input!("--partition-shapes is empty: give e.g. one,halves,leader,bridge,ring");
    }
    match NetemOptions::parse(&args.netem) {
        Err(e) => bad_input!("{e}"),
        Ok(o)
            if has(NemesisKind::Netem) && net != NetPlan::Relays && !o.relay_only().is_empty() =>
        {
            bad_input!(
                "--netem {}: {} are toxics of faultline's per-link relays, which this run does not use \
                 (its nodes have network namespaces or are remote): run without root or with --no-netns, or drop them",
                args.netem,
                o.relay_only().join(", ")
            )
        }
        Ok(_) => {}
    }
    let mut clock_offsets_ms = Vec::new();
    for item in args.clock_offset.split(',').map(str::trim) {
        match item.parse::<f64>() {
            Ok(secs) if secs.is_finite() && secs != 0.0 && secs.abs() < 1e7 => {
                clock_offsets_ms.push((secs.abs() * 1000.0).round() as i64)
            }
            _ => bad_input!(
                "--clock-offset {item:?}: give seconds other than 0, comma separated (e.g. 60 or 0.5,60,3600); each is used ahead and behind"
            ),
        }
    }
    let (clock_strobe, skew) = match args.clock_faults.as_str() {
        "skew,strobe" | "strobe,skew" => (true, true),
        "skew" => (false, true),
        "strobe" => (true, false),
        other => bad_input!("--clock-faults {other}: give skew, strobe, or skew,strobe"),
    };
    if args.clock_strobe_period_ms == 0 {
        bad_input!("--clock-strobe-period-ms 0: give the milliseconds each strobe state lasts");
    }
    match args.clock_mode.as_str() {
        "faketime" => {}
        "real" if local => bad_input!(
            "--clock-mode real sets a node's real clock with date -s; the local target's nodes share this \
             machine's clock, so it is refused here (it is meant for SSH or docker nodes). Use --clock-mode faketime"
        ),
        "real" => bad_input!(
            "--clock-mode real (date -s on the nodes) is not available over SSH yet: use --clock-mode \
             faketime, which starts each node's daemon under the node's libfaketime"
        ),
        other => bad_input!("--clock-mode {other}: give faketime or real"),
    }
    // Remote nodes use their own libfaketime (installed there as --install-mode says).
    let libfaketime = if has(NemesisKind::Clock) && local {
        let found = std::env::var_os("FAULTLINE_LIBFAKETIME")
            .map(PathBuf::from)
            .into_iter()
            .chain(LIBFAKETIME.iter().map(PathBuf::from))
            .find(|p| p.is_file());
        match found {
            Some(path) => Some(path),
            None => bad_input!(
                "--nemesis clock starts local nodes under libfaketime, which is not installed: install it \
                 (Debian: apt-get install libfaketime) or set FAULTLINE_LIBFAKETIME to libfaketime.so.1"
            ),
        }
    } else {
        None
    };
    Ok(FaultOptions {
        net,
        partitioner,
        partition_shapes,
        partition_grudge,
        netem: args.netem.clone(),
        clock_offsets_ms,
        clock_skew: skew,
        clock_strobe,
        clock_strobe_period_ms: args.clock_strobe_period_ms,
        libfaketime,
    })
}

/// The fault flags of `args` that differ from their defaults, for the rerun command line.
pub fn rerun_args(args: &TestArgs) -> String {
    let mut out = String::new();
    let quote = |s: &str| format!("'{}'", s.replace('\'', ""));
    if args.partition_shapes != DEFAULT_SHAPES {
        out.push_str(&format!(" --partition-shapes {}", args.partition_shapes));
    }
    if let Some(grudge) = &args.partition_grudge {
        out.push_str(&format!(" --partition-grudge {}", quote(grudge)));
    }
    if args.partitioner != "auto" {
        out.push_str(&format!(" --partitioner {}", args.partitioner));
    }
    if args.no_netns {
        out.push_str(" --no-netns");
    }
    if args.netem != faultline_nemeses::netem::DEFAULT_NETEM {
        out.push_str(&format!(" --netem {}", quote(&args.netem)));
    }
    if args.clock_offset != "60" {
        out.push_str(&format!(" --clock-offset {}", args.clock_offset));
    }
    if args.clock_faults != "skew,strobe" {
        out.push_str(&format!(" --clock-faults {}", args.clock_faults));
    }
    if args.clock_strobe_period_ms != 500 {
        out.push_str(&format!(
            " --clock-strobe-period-ms {}",
            args.clock_strobe_period_ms
        ));
    }
    out
}

impl FaultOptions {
    pub(crate) fn shapes(&self) -> Vec<Shape> {
        self.partition_shapes
            .iter()
            .filter_map(|name| match name.as_str() {
                "grudge" => self
                    .partition_grudge
                    .as_deref()
                    .and_then(|g| parse_grudge_shape(g).ok()),
                other => Shape::parse(other).ok(),
            })
            .collect()
    }
}
