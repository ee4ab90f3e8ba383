//! The `netem` nemesis: slow and lossy links. Where the kernel has netem, `tc qdisc ...
//! netem` on each chosen node's network devices (every device but `lo`, found with
//! `ip -o link show`), run through [`Control::exec`]; where it has none (probed once, by the
//! first attempt) or the nodes have no kernel of their own (relays), the target's
//! [`LinkShaper`] carries out the same fault (see [`crate::links`]). Either way the fault is
//! written to the [`Ledger`] before it is applied, and the history records the `mechanism`
//! that acted (`netem`, `nfqueue`, `statistic`, `tbf`, `relays`). `stop-netem` removes it all.
//!
//! [`NetemOptions`] is `--netem`: `delay=50ms,jitter=10ms,loss=5%,duplicate=1%,reorder=10%,
//! corrupt=1%,rate=1mbit,on=all` (`on` is `all`, `one`, or a node name), plus three of
//! Toxiproxy's toxics only the relays can carry out: `slice=BYTES` (slicer), `stall=MS`
//! (timeout: no data passes, connections close after MS, never with 0) and `reset=MS`
//! (reset_peer). This module must never touch a qdisc it did not add.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use serde_json::{json, Value};

use crate::control::{exec_ok, Control, ControlError};
use crate::ledger::Ledger;
use crate::links::{self, LinkShaper, Mechanism};
use crate::nemesis::Outcome;
use crate::start_stop::StartStop;

pub use crate::link_fault::{NetemOn, NetemOptions, DEFAULT_NETEM};

/// The network devices of `node` but `lo`, from `ip -o link show`.
pub async fn devices(control: &dyn Control, node: &str) -> Result<Vec<String>, ControlError> {
    let out = exec_ok(control, node, "ip", &["-o", "link", "show"]).await?;
    let devices: Vec<String> = out
        .stdout
        .lines()
        .filter_map(|line| line.split(':').nth(1))
        .map(|name| name.trim().split('@').next().unwrap_or("").to_string())
        .filter(|name| !name.is_empty() && name != "lo")
        .collect();
    if devices.is_empty() {
        return Err(ControlError::failed(
            node,
            "netem",
            "the node has no network device but lo",
        ));
    }
    Ok(devices)
}

/// Remove the netem root qdisc of `device` on `node`; succeeds when there is none.
pub async fn remove_netem(
    control: &dyn Control,
    node: &str,
    device: &str,
) -> Result<(), ControlError> {
    let show = exec_ok(control, node, "tc", &["qdisc", "show", "dev", device]).await;
    match show {
        Ok(out) if !out.stdout.contains("netem") => return Ok(()),
        // The device is gone (its namespace was removed): nothing left to undo.
        Err(ControlError::Failed { message, .. }) if message.contains("Cannot find device") => {
            return Ok(())
        }
        _ => {}
    }
    links::delete_root_qdisc(control, node, device).await
}

/// The `netem` nemesis.
pub struct NetemNemesis {
    control: Arc<dyn Control>,
    ledger: Arc<Ledger>,
    options: NetemOptions,
    shaper: Option<Arc<dyn LinkShaper>>,
    /// Whether kernel netem is tried first; cleared once a node's kernel says it has none.
    kernel: std::sync::atomic::AtomicBool,
}

impl NetemNemesis {
    /// Link faults described by `options` on `control`'s nodes, with kernel netem only.
    pub fn new(control: Arc<dyn Control>, ledger: Arc<Ledger>, options: NetemOptions) -> Self {
        NetemNemesis {
            control,
            ledger,
            options,
            shaper: None,
            kernel: std::sync::atomic::AtomicBool::new(true),
        }
    }

    /// Fall back to `shaper` where the kernel has no netem; with `try_kernel` false the
    /// shaper is used from the start (the nodes have no kernel of their own: relays).
    pub fn with_shaper(mut self, shaper: Arc<dyn LinkShaper>, try_kernel: bool) -> Self {
        self.shaper = Some(shaper);
        self.kernel = std::sync::atomic::AtomicBool::new(try_kernel);
        self
    }

    fn kernel(&self) -> bool {
        self.kernel.load(std::sync::atomic::Ordering::Relaxed)
            && self.options.relay_only().is_empty()
    }

    /// Kernel netem on every device of `node`, recorded first. A kernel without netem
    /// leaves nothing applied, so its record is dropped again.
    async fn start_kernel(&self, node: &str) -> Result<(), String> {
        let devices = devices(self.control.as_ref(), node)
            .await
            .map_err(|e| e.to_string())?;
        self.ledger
            .update(|s| {
                s.netem
                    .insert(node.to_string(), devices.iter().cloned().collect());
            })
            .map_err(|e| {
                format!("node {node}: not applied, the ledger could not record it: {e}")
            })?;
        let args = self.options.tc_args();
        let mut errors = Vec::new();
        let mut unknown = false;
        for device in &devices {
            let mut tc: Vec<&str> = vec!["qdisc", "replace", "dev", device, "root", "netem"];
            tc.extend(args.iter().map(String::as_str));
            if let Err(e) = exec_ok(self.control.as_ref(), node, "tc", &tc).await {
                let mut e = e.to_string();
                if e.contains("qdisc kind is unknown") {
                    unknown = true;
                    e.push_str(" (this kernel has no netem: load it with modprobe sch_netem, or use a kernel built with CONFIG_NET_SCH_NETEM)");
                }
                errors.push(e);
            }
        }
        if unknown && errors.len() == devices.len() && self.shaper.is_some() {
            let _ = self.ledger.update(|s| {
                s.netem.remove(node);
            });
        }
        all_ok(errors)
    }
}

/// `Ok` when there are no `errors`, else all of them.
fn all_ok(errors: Vec<String>) -> Result<(), String> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// Remove every netem qdisc `ledger` holds; `None` when it holds none.
pub async fn undo_netem(control: &dyn Control, ledger: &Ledger) -> Option<Outcome> {
    let held = ledger.snapshot().netem;
    if held.is_empty() {
        return None;
    }
    let mut undos = Vec::new();
    for (node, devices) in &held {
        let mut errors = Vec::new();
        for device in devices {
            if let Err(e) = remove_netem(control, node, device).await {
                errors.push(e.to_string());
            }
        }
        undos.push((node.clone(), all_ok(errors)));
    }
    Some(ledger.forget_healed(|s| &mut s.netem, undos, "removed netem"))
}

/// One outcome of two undos: applied when both were (or one was and the other had nothing).
pub(crate) fn merge(a: Option<Outcome>, b: Option<Outcome>) -> Option<Outcome> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(Outcome::Applied(x)), Some(Outcome::Applied(y))) => {
            let mut healed: BTreeSet<String> = BTreeSet::new();
            for v in [&x, &y] {
                if let Some(list) = v["healed"].as_array() {
                    healed.extend(list.iter().filter_map(|n| n.as_str().map(str::to_string)));
                }
            }
            Some(Outcome::Applied(json!({ "healed": healed })))
        }
        (Some(x), Some(y)) => {
            let why = [x, y]
                .iter()
                .filter_map(|o| match o {
                    Outcome::Indeterminate(why) | Outcome::Skipped(why) => Some(why.clone()),
                    Outcome::Applied(_) => None,
                })
                .collect::<Vec<_>>();
            Some(Outcome::Indeterminate(why.join("; ")))
        }
    }
}

#[async_trait]
impl StartStop for NetemNemesis {
    const FAULT: &'static str = "netem";
    const NOTHING_TO_STOP: &'static str = "no node has netem";

    async fn start(&self, value: &Value, rng: &mut StdRng) -> Outcome {
        let all = self.control.nodes();
        let nodes: Vec<String> = match (value, &self.options.on) {
            (Value::Array(list), _) => list
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            (Value::String(node), _) => vec![node.clone()],
            (_, NetemOn::All) => all.clone(),
            (_, NetemOn::One) => all.choose(rng).cloned().into_iter().collect(),
            (_, NetemOn::Node(node)) => vec![node.clone()],
            (_, NetemOn::Link { from, to, both }) => {
                let mut nodes = vec![from.clone()];
                if *both {
                    nodes.push(to.clone());
                }
                nodes
            }
        };
        let link = matches!(self.options.on, NetemOn::Link { .. });
        if let NetemOn::Link { to, .. } = &self.options.on {
            if !all.contains(to) {
                return Outcome::Skipped(format!(
                    "{to} is not one of the nodes ({})",
                    all.join(", ")
                ));
            }
        }
        if let Some(unknown) = nodes.iter().find(|n| !all.contains(n)) {
            return Outcome::Skipped(format!(
                "{unknown} is not one of the nodes ({})",
                all.join(", ")
            ));
        }
        if let Some(Outcome::Indeterminate(why)) = self.stop().await {
            return Outcome::Indeterminate(format!("could not remove the previous netem: {why}"));
        }
        let mut errors = Vec::new();
        let mut skipped = Vec::new();
        let mut done = Vec::new();
        let mut mechanisms = BTreeSet::new();
        let mut notes = BTreeSet::new();
        for node in &nodes {
            // Kernel netem acts on a whole device: a single link goes to the shaper.
            if self.kernel() && !link {
                match self.start_kernel(node).await {
                    Ok(()) => {
                        mechanisms.insert(Mechanism::Netem.as_str().to_string());
                        done.push(node.clone());
                        continue;
                    }
                    Err(e) if self.shaper.is_some() && e.contains("qdisc kind is unknown") => {
                        tracing::info!(node, "no netem in this kernel; shaping links without it");
                        self.kernel
                            .store(false, std::sync::atomic::Ordering::Relaxed);
                    }
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                }
            }
            let Some(shaper) = &self.shaper else {
                if link {
                    skipped.push(format!(
                        "node {node}: netem on one link needs faultline's packet scheduler or relays, which this target has not (kernel netem acts on a whole device)"
                    ));
                } else {
                    errors.push(format!(
                        "node {node}: this target has no way to shape links"
                    ));
                }
                continue;
            };
            let record = match shaper.plan(node, &self.options) {
                Ok(record) => record,
                Err(why) => {
                    skipped.push(format!("node {node}: {why}"));
                    continue;
                }
            };
            if let Err(e) = self.ledger.update(|s| {
                s.links.insert(node.clone(), record.clone());
            }) {
                errors.push(format!(
                    "node {node}: not applied, the ledger could not record it: {e}"
                ));
                continue;
            }
            match shaper.apply(node, &self.options).await {
                Ok(detail) => {
                    if let Some(m) = detail["mechanism"].as_str() {
                        mechanisms.insert(m.to_string());
                    }
                    if let Some(list) = detail["approximated"].as_array() {
                        notes.extend(list.iter().filter_map(|n| n.as_str().map(str::to_string)));
                    }
                    done.push(node.clone());
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        let mut detail = json!({
            "nodes": done,
            "netem": self.options.describe(),
            "mechanism": mechanisms.into_iter().collect::<Vec<_>>().join(","),
        });
        if !notes.is_empty() {
            detail["approximated"] = json!(notes);
        }
        if errors.is_empty() && done.is_empty() && !skipped.is_empty() {
            Outcome::Skipped(skipped.join("; "))
        } else if errors.is_empty() && skipped.is_empty() {
            Outcome::Applied(detail)
        } else {
            errors.extend(skipped);
            Outcome::Indeterminate(format!("{detail}: {}", errors.join("; ")))
        }
    }

    async fn stop(&self) -> Option<Outcome> {
        let netem = undo_netem(self.control.as_ref(), &self.ledger).await;
        let links = links::undo_links(
            Some(self.control.as_ref()),
            self.shaper.as_deref(),
            &self.ledger,
        )
        .await;
        merge(netem, links)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nemesis::{FaultRequest, Nemesis};
    use crate::start_stop::Serialised;
    use crate::testing::FakeShell;
    use rand::SeedableRng;

    /// `start-netem` with a null value, random choices from `seed`.
    async fn start(nemesis: &Serialised<NetemNemesis>, seed: u64) -> Outcome {
        let request = FaultRequest::new("start-netem", Value::Null);
        nemesis
            .invoke(&request, &mut StdRng::seed_from_u64(seed))
            .await
    }

    #[test]
    fn options_parse_into_tc_arguments() {
        let o = NetemOptions::parse("delay=50ms,jitter=10ms,loss=5%,on=n2").unwrap();
        assert_eq!(o.tc_args().join(" "), "delay 50ms 10ms loss 5%");
        assert_eq!(o.on, NetemOn::Node("n2".into()));
        let o = NetemOptions::parse(DEFAULT_NETEM).unwrap();
        assert_eq!(o.on, NetemOn::All);
        let o = NetemOptions::parse("delay=20,reorder=10%,duplicate=1%,corrupt=0.5%").unwrap();
        assert_eq!(
            o.tc_args().join(" "),
            "delay 20ms duplicate 1% reorder 10% corrupt 0.5%"
        );
    }

    #[test]
    fn bad_options_are_refused_saying_why() {
        for (options, why) in [
            ("reorder=10%", "needs a delay"),
            ("loss=120%", "0 to 100"),
            ("speed=1", "no option"),
            ("on=all", "no fault"),
            ("delay", "key=value"),
        ] {
            let err = NetemOptions::parse(options).unwrap_err();
            assert!(err.contains(why), "{options}: {err}");
        }
    }

    #[tokio::test]
    async fn netem_is_recorded_applied_and_removed() {
        let shell = Arc::new(FakeShell::new(3, &[]));
        let ledger = Arc::new(Ledger::in_memory());
        let options = NetemOptions::parse("delay=50ms,loss=5%,on=one").unwrap();
        let nemesis = Serialised::new(NetemNemesis::new(shell.clone(), ledger.clone(), options));
        let out = start(&nemesis, 4).await;
        let Outcome::Applied(detail) = out else {
            panic!("{out:?}")
        };
        let node = detail["nodes"][0].as_str().unwrap().to_string();
        assert!(shell.has_qdisc(&node));
        assert!(shell
            .commands(&node)
            .contains(&"tc qdisc replace dev eth0 root netem delay 50ms loss 5%".to_string()));
        assert_eq!(
            ledger.snapshot().netem[&node],
            BTreeSet::from(["eth0".to_string()])
        );
        let healed = nemesis.heal().await;
        assert!(healed[0].is_applied(), "{healed:?}");
        assert!(!shell.has_qdisc(&node) && ledger.snapshot().is_empty());
        assert!(nemesis.heal().await.is_empty());
    }

    /// A shaper that records what it was asked and checks the ledger was written first.
    struct Shaper {
        ledger: Arc<Ledger>,
        applied: std::sync::Mutex<BTreeSet<String>>,
    }

    #[async_trait]
    impl LinkShaper for Shaper {
        fn plan(&self, _node: &str, o: &NetemOptions) -> Result<links::LinkRecord, String> {
            Ok(links::LinkRecord {
                mechanisms: links::KernelPlan::of(o).mechanisms(),
                devices: BTreeSet::from(["eth0".to_string()]),
            })
        }
        async fn apply(&self, node: &str, o: &NetemOptions) -> Result<Value, ControlError> {
            assert!(
                self.ledger.snapshot().links.contains_key(node),
                "recorded first"
            );
            self.applied.lock().unwrap().insert(node.to_string());
            Ok(json!({ "mechanism": links::describe(&links::KernelPlan::of(o).mechanisms()) }))
        }
        async fn heal(&self, node: &str) -> Result<(), ControlError> {
            self.applied.lock().unwrap().remove(node);
            Ok(())
        }
    }

    #[tokio::test]
    async fn without_kernel_netem_the_shaper_acts_and_says_so() {
        let shell = Arc::new(FakeShell::new(3, &["iptables"]).without_netem());
        let ledger = Arc::new(Ledger::in_memory());
        let shaper = Arc::new(Shaper {
            ledger: ledger.clone(),
            applied: Default::default(),
        });
        let options = NetemOptions::parse("delay=200ms,loss=30%,on=all").unwrap();
        let nemesis = Serialised::new(
            NetemNemesis::new(shell.clone(), ledger.clone(), options)
                .with_shaper(shaper.clone(), true),
        );
        let out = start(&nemesis, 1).await;
        let Outcome::Applied(detail) = out else {
            panic!("{out:?}")
        };
        assert_eq!(detail["mechanism"], "nfqueue+statistic");
        assert_eq!(shaper.applied.lock().unwrap().len(), 3);
        // The kernel was probed once, on the first node only.
        let probes = |n: &str| {
            shell
                .commands(n)
                .iter()
                .filter(|c| c.contains("netem"))
                .count()
        };
        assert_eq!((probes("n1"), probes("n2")), (1, 0));
        let state = ledger.snapshot();
        assert!(
            state.netem.is_empty() && state.links.len() == 3,
            "{state:?}"
        );
        let healed = nemesis.heal().await;
        assert!(healed[0].is_applied(), "{healed:?}");
        assert!(ledger.snapshot().is_empty() && shaper.applied.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn without_netem_or_shaper_the_attempt_is_indeterminate_and_recorded() {
        let shell = Arc::new(FakeShell::new(1, &[]).without_netem());
        let ledger = Arc::new(Ledger::in_memory());
        let options = NetemOptions::parse("delay=20ms").unwrap();
        let nemesis = Serialised::new(NetemNemesis::new(shell, ledger.clone(), options));
        let out = start(&nemesis, 1).await;
        assert!(
            matches!(&out, Outcome::Indeterminate(why) if why.contains("this kernel has no netem")),
            "{out:?}"
        );
        assert!(!ledger.snapshot().netem.is_empty());
    }

    #[test]
    fn rates_and_relay_only_toxics_parse() {
        let o = NetemOptions::parse("rate=2mbit,slice=64,stall=0,reset=500").unwrap();
        assert_eq!(o.rate_kbit, 2000);
        assert_eq!(o.relay_only(), vec!["slice", "stall", "reset"]);
        assert_eq!(
            o.describe(),
            "rate 2000kbit slice 64B stall 0ms reset 500ms"
        );
        assert!(NetemOptions::parse("stall=0").is_ok());
        assert!(NetemOptions::parse("rate=fast")
            .unwrap_err()
            .contains("rate=1mbit"));
    }

    #[tokio::test]
    async fn a_link_fault_goes_to_the_shaper_on_its_ends_only() {
        let o = NetemOptions::parse("delay=10ms,on=n1>n3").unwrap();
        assert_eq!(o.peers_of("n1"), Some(vec!["n3".to_string()]));
        assert_eq!(o.peers_of("n3"), Some(vec![]));
        assert_eq!(o.peers_of("n2"), Some(vec![]));
        let both = NetemOptions::parse("delay=10ms,on=n1<>n3").unwrap();
        assert_eq!(both.peers_of("n3"), Some(vec!["n1".to_string()]));
        assert!(NetemOptions::parse("delay=1,on=n1>n1")
            .unwrap_err()
            .contains("two different"));
        assert!(NetemOptions::parse("delay=1,on=>n2").is_err());

        // Kernel netem exists here, but acts on whole devices: the shaper takes the link.
        let shell = Arc::new(FakeShell::new(3, &["iptables"]));
        let ledger = Arc::new(Ledger::in_memory());
        let shaper = Arc::new(Shaper {
            ledger: ledger.clone(),
            applied: Default::default(),
        });
        let nemesis = Serialised::new(
            NetemNemesis::new(shell.clone(), ledger.clone(), both)
                .with_shaper(shaper.clone(), true),
        );
        let out = start(&nemesis, 2).await;
        assert!(out.is_applied(), "{out:?}");
        assert_eq!(
            *shaper.applied.lock().unwrap(),
            BTreeSet::from(["n1".to_string(), "n3".to_string()])
        );
        assert!(!shell.has_qdisc("n1"));
        nemesis.heal().await;
        // Without a shaper a link fault is skipped, with the reason.
        let bare = Serialised::new(NetemNemesis::new(shell, Arc::new(Ledger::in_memory()), o));
        let out = start(&bare, 2).await;
        assert!(
            matches!(&out, Outcome::Skipped(why) if why.contains("whole device")),
            "{out:?}"
        );
    }
}
