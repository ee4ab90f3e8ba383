//! The `netem` nemesis: lossy and slow links with `tc qdisc ... netem` on each chosen node's
//! network devices (every device but `lo`, found with `ip -o link show`), run through
//! [`Control::exec`]. `start-netem` records the node and its devices in the [`Ledger`],
//! then replaces the root qdisc with netem; `stop-netem` deletes that root qdisc again.
//!
//! [`NetemOptions`] is `--netem`: `delay=50ms,jitter=10ms,loss=5%,duplicate=1%,reorder=10%,
//! corrupt=1%,on=all` (`on` is `all`, `one`, or a node name). This module must never touch
//! a qdisc it did not add.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use serde_json::{json, Value};

use crate::control::{exec_ok, Control, ControlError};
use crate::ledger::Ledger;
use crate::nemesis::{FaultRequest, Nemesis, Outcome};

/// Which nodes a netem fault hits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetemOn {
    /// Every node: every link is slow or lossy.
    All,
    /// One random node each time.
    One,
    /// This node.
    Node(String),
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
    /// Which nodes.
    pub on: NetemOn,
}

/// The default of `--netem`.
pub const DEFAULT_NETEM: &str = "delay=50ms,jitter=10ms,loss=2%,on=all";

impl NetemOptions {
    /// Read `--netem` (see the module docs).
    pub fn parse(text: &str) -> Result<NetemOptions, String> {
        const HELP: &str = "give e.g. 'delay=50ms,jitter=10ms,loss=5%,duplicate=1%,reorder=10%,corrupt=1%,on=all' (on: all, one or a node name)";
        let mut o = NetemOptions {
            delay_ms: 0,
            jitter_ms: 0,
            loss_pct: 0.0,
            duplicate_pct: 0.0,
            reorder_pct: 0.0,
            corrupt_pct: 0.0,
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
                "on" => {
                    o.on = match value {
                        "all" => NetemOn::All,
                        "one" => NetemOn::One,
                        "" => return Err(format!("--netem on= names no node; {HELP}")),
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
        if o.tc_args().is_empty() {
            return Err(format!("--netem {text:?} asks for no fault; {HELP}"));
        }
        Ok(o)
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
        args
    }
}

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
    exec_ok(
        control,
        node,
        "tc",
        &["qdisc", "del", "dev", device, "root"],
    )
    .await?;
    Ok(())
}

/// The `netem` nemesis.
pub struct NetemNemesis {
    control: Arc<dyn Control>,
    ledger: Arc<Ledger>,
    options: NetemOptions,
    busy: tokio::sync::Mutex<()>,
}

impl NetemNemesis {
    /// Link faults described by `options` on `control`'s nodes.
    pub fn new(control: Arc<dyn Control>, ledger: Arc<Ledger>, options: NetemOptions) -> Self {
        NetemNemesis {
            control,
            ledger,
            options,
            busy: tokio::sync::Mutex::new(()),
        }
    }

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
        };
        if let Some(unknown) = nodes.iter().find(|n| !all.contains(n)) {
            return Outcome::Skipped(format!(
                "{unknown} is not one of the nodes ({})",
                all.join(", ")
            ));
        }
        if let Some(Outcome::Indeterminate(why)) = self.undo_all().await {
            return Outcome::Indeterminate(format!("could not remove the previous netem: {why}"));
        }
        let args = self.options.tc_args();
        let mut errors = Vec::new();
        let mut done = Vec::new();
        for node in &nodes {
            let devices = match devices(self.control.as_ref(), node).await {
                Ok(d) => d,
                Err(e) => {
                    errors.push(e.to_string());
                    continue;
                }
            };
            if let Err(e) = self.ledger.update(|s| {
                s.netem
                    .insert(node.clone(), devices.iter().cloned().collect());
            }) {
                errors.push(format!(
                    "node {node}: not applied, the ledger could not record it: {e}"
                ));
                continue;
            }
            let mut ok = true;
            for device in &devices {
                let mut tc: Vec<&str> = vec!["qdisc", "replace", "dev", device, "root", "netem"];
                tc.extend(args.iter().map(String::as_str));
                if let Err(e) = exec_ok(self.control.as_ref(), node, "tc", &tc).await {
                    let mut e = e.to_string();
                    if e.contains("qdisc kind is unknown") {
                        e.push_str(" (this kernel has no netem: load it with modprobe sch_netem, or use a kernel built with CONFIG_NET_SCH_NETEM)");
                    }
                    errors.push(e);
                    ok = false;
                }
            }
            if ok {
                done.push(node.clone());
            }
        }
        let detail = json!({ "nodes": done, "netem": args.join(" ") });
        if errors.is_empty() {
            Outcome::Applied(detail)
        } else {
            Outcome::Indeterminate(format!("{detail}: {}", errors.join("; ")))
        }
    }

    async fn undo_all(&self) -> Option<Outcome> {
        undo_netem(self.control.as_ref(), &self.ledger).await
    }
}

/// Remove every netem qdisc `ledger` holds; `None` when it holds none.
pub async fn undo_netem(control: &dyn Control, ledger: &Ledger) -> Option<Outcome> {
    let held = ledger.snapshot().netem;
    if held.is_empty() {
        return None;
    }
    let mut errors = Vec::new();
    let mut healed = Vec::new();
    for (node, devices) in &held {
        let mut left = BTreeSet::new();
        for device in devices {
            if let Err(e) = remove_netem(control, node, device).await {
                errors.push(e.to_string());
                left.insert(device.clone());
            }
        }
        if left.is_empty() {
            healed.push(node.clone());
        }
    }
    if let Err(e) = ledger.update(|s| {
        for node in &healed {
            s.netem.remove(node);
        }
    }) {
        errors.push(format!("could not update the ledger: {e}"));
    }
    Some(if errors.is_empty() {
        Outcome::Applied(json!({ "healed": healed }))
    } else {
        Outcome::Indeterminate(format!(
            "removed netem on {}; {}",
            healed.join(", "),
            errors.join("; ")
        ))
    })
}

#[async_trait]
impl Nemesis for NetemNemesis {
    fn name(&self) -> &str {
        "netem"
    }

    fn fs(&self) -> Vec<String> {
        vec!["start-netem".into(), "stop-netem".into()]
    }

    async fn invoke(&self, request: &FaultRequest, rng: &mut StdRng) -> Outcome {
        let _busy = self.busy.lock().await;
        match request.f.as_str() {
            "start-netem" => self.start(&request.value, rng).await,
            "stop-netem" => self
                .undo_all()
                .await
                .unwrap_or_else(|| Outcome::Skipped("no node has netem".to_string())),
            other => Outcome::Skipped(format!(
                "the netem nemesis does not understand {other:?}; it understands start-netem, stop-netem"
            )),
        }
    }

    async fn heal(&self) -> Vec<Outcome> {
        let _busy = self.busy.lock().await;
        match self.undo_all().await {
            Some(Outcome::Applied(mut value)) => {
                value["f"] = json!("stop-netem");
                vec![Outcome::Applied(value)]
            }
            Some(other) => vec![other],
            None => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeShell;
    use rand::SeedableRng;

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
        assert!(NetemOptions::parse("reorder=10%")
            .unwrap_err()
            .contains("needs a delay"));
        assert!(NetemOptions::parse("loss=120%")
            .unwrap_err()
            .contains("0 to 100"));
        assert!(NetemOptions::parse("speed=1")
            .unwrap_err()
            .contains("no option"));
        assert!(NetemOptions::parse("on=all")
            .unwrap_err()
            .contains("no fault"));
        assert!(NetemOptions::parse("delay")
            .unwrap_err()
            .contains("key=value"));
    }

    #[tokio::test]
    async fn netem_is_recorded_applied_and_removed() {
        let shell = Arc::new(FakeShell::new(3, &[]));
        let ledger = Arc::new(Ledger::in_memory());
        let options = NetemOptions::parse("delay=50ms,loss=5%,on=one").unwrap();
        let nemesis = NetemNemesis::new(shell.clone(), ledger.clone(), options);
        let mut rng = StdRng::seed_from_u64(4);
        let out = nemesis
            .invoke(&FaultRequest::new("start-netem", Value::Null), &mut rng)
            .await;
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
}
