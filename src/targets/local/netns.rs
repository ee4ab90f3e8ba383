//! Real hosts for local nodes (as root): every node gets its own network namespace with one
//! interface `eth0` and a private address `10.213.S.i/24`, plugged into a Linux bridge. The
//! bridge lives in a hub namespace of its own rather than in the root namespace, so the
//! host's firewall (e.g. docker's `FORWARD DROP` with `br_netfilter`) never sees node
//! traffic; the controller in the root namespace reaches the bridge through one veth pair
//! holding `10.213.S.254`.
//!
//! Names are short (`fl<tag>-n1`, `fl<tag>-hub`, root veth `fl<tag>h`), the subnet `S` is
//! claimed per run so parallel runs never share one, and the whole layout is written to
//! `nodes/netns.json` *before* anything is created, so `faultline heal` (a fresh process)
//! can remove a half-made layout too. Teardown is idempotent and reports what it removed.
//!
//! This module must never change anything it did not create: no route, rule or address of
//! the root namespace but its own veth.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::run_dir::RunDir;

/// Where subnet claims are kept, so parallel runs pick different subnets.
const CLAIMS: &str = "/run/faultline-netns";
/// The first two octets of every node address.
const PREFIX: &str = "10.213";

/// One node's place in the layout.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeNet {
    /// The node's namespace.
    pub ns: String,
    /// The node's address on the bridge.
    pub ip: String,
}

/// The namespaces, bridge and veths of one run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NetnsLayout {
    /// The third octet of the run's subnet.
    pub subnet: u8,
    /// The hub namespace holding the bridge.
    pub hub: String,
    /// The root namespace's end of the controller's veth.
    pub root_veth: String,
    /// The controller's address.
    pub controller_ip: String,
    /// Every node, by name.
    pub nodes: BTreeMap<String, NodeNet>,
}

/// The file the layout is saved to inside a run folder.
pub fn layout_file(run: &RunDir) -> PathBuf {
    run.path.join("nodes").join("netns.json")
}

impl NetnsLayout {
    /// Each node's namespace, by node name.
    pub fn namespaces(&self) -> BTreeMap<String, String> {
        self.nodes
            .iter()
            .map(|(name, n)| (name.clone(), n.ns.clone()))
            .collect()
    }

    /// Each node's address on the bridge, by node name.
    pub fn addresses(&self) -> BTreeMap<String, String> {
        self.nodes
            .iter()
            .map(|(name, n)| (name.clone(), n.ip.clone()))
            .collect()
    }

    /// Plan a layout for `names`, claim a free subnet, and save it to the run folder.
    pub fn plan(run: &RunDir, names: &[String]) -> Result<NetnsLayout> {
        if names.len() > 250 {
            bail!("network namespaces hold at most 250 nodes");
        }
        let tag = tag_of(&run.path);
        let subnet = claim_subnet(&tag)?;
        let nodes = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                (
                    name.clone(),
                    NodeNet {
                        ns: format!("fl{tag}-{name}"),
                        ip: format!("{PREFIX}.{subnet}.{}", i + 1),
                    },
                )
            })
            .collect();
        let layout = NetnsLayout {
            subnet,
            hub: format!("fl{tag}-hub"),
            root_veth: format!("fl{tag}h"),
            controller_ip: format!("{PREFIX}.{subnet}.254"),
            nodes,
        };
        let path = layout_file(run);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        fs::write(&path, serde_json::to_vec_pretty(&layout)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(layout)
    }

    /// Read the layout a run saved, if it used namespaces.
    pub fn load(run: &RunDir) -> Result<Option<NetnsLayout>> {
        let path = layout_file(run);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
                format!("{} is not a namespace layout", path.display())
            })?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Create the hub, the bridge, the controller's veth and every node's namespace.
    /// On failure whatever was made is removed again.
    pub fn create(&self) -> Result<()> {
        let made = self.try_create();
        if made.is_err() {
            self.teardown();
        }
        made
    }

    fn try_create(&self) -> Result<()> {
        let hub = self.hub.as_str();
        ip(&["netns", "add", hub])?;
        ip(&["-n", hub, "link", "set", "lo", "up"])?;
        ip(&["-n", hub, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", hub, "link", "set", "br0", "up"])?;
        ip(&[
            "link",
            "add",
            &self.root_veth,
            "type",
            "veth",
            "peer",
            "name",
            "up0",
            "netns",
            hub,
        ])?;
        ip(&["-n", hub, "link", "set", "up0", "master", "br0", "up"])?;
        let controller = format!("{}/24", self.controller_ip);
        ip(&["addr", "add", &controller, "dev", &self.root_veth])?;
        ip(&["link", "set", &self.root_veth, "up"])?;
        for (i, node) in self.nodes.values().enumerate() {
            let ns = node.ns.as_str();
            let port = format!("p{}", i + 1);
            ip(&["netns", "add", ns])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            ip(&[
                "-n", hub, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
                ns,
            ])?;
            ip(&["-n", hub, "link", "set", &port, "master", "br0", "up"])?;
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{}/24", node.ip),
                "dev",
                "eth0",
            ])?;
            ip(&["-n", ns, "link", "set", "eth0", "up"])?;
        }
        tracing::info!(hub, subnet = self.subnet, "created network namespaces");
        Ok(())
    }

    /// Remove every namespace, the bridge and the veths, and release the subnet. Safe to
    /// call again; returns what it removed. Node processes must be stopped first (a
    /// namespace lives on while a process is inside it).
    pub fn teardown(&self) -> Vec<String> {
        let mut removed = Vec::new();
        let existing = list_namespaces();
        for (name, node) in &self.nodes {
            if existing.contains(&node.ns) {
                removed.extend(kill_inside(&node.ns, name));
            }
            if existing.contains(&node.ns) && ip(&["netns", "del", &node.ns]).is_ok() {
                removed.push(format!("removed namespace {} ({name})", node.ns));
            }
        }
        if ip(&["link", "show", &self.root_veth]).is_ok()
            && ip(&["link", "del", &self.root_veth]).is_ok()
        {
            removed.push(format!("removed veth {}", self.root_veth));
        }
        if existing.contains(&self.hub) && ip(&["netns", "del", &self.hub]).is_ok() {
            removed.push(format!("removed namespace {} and its bridge", self.hub));
        }
        let _ = fs::remove_file(Path::new(CLAIMS).join(self.subnet.to_string()));
        removed
    }

    /// The namespace of `node`.
    pub fn namespace(&self, node: &str) -> Option<&str> {
        self.nodes.get(node).map(|n| n.ns.as_str())
    }
}

/// Every network namespace `ip netns list` shows.
pub fn list_namespaces() -> Vec<String> {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// SIGKILL what still runs in the node namespace `ns` once its node was stopped: daemons
/// the node's system forked off (RabbitMQ's `epmd`), which would keep the namespace alive.
fn kill_inside(ns: &str, node: &str) -> Option<String> {
    let out = Command::new("ip")
        .args(["netns", "pids", ns])
        .output()
        .ok()?;
    let pids: Vec<i32> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    for pid in &pids {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    (!pids.is_empty()).then(|| format!("stopped {pids:?} left in {node}'s namespace"))
}

/// Run `ip ARGS`, failing with its stderr.
fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("cannot run ip (install iproute2)")?;
    if !out.status.success() {
        bail!(
            "ip {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Five hex digits naming a run folder (namespace and interface names are short).
fn tag_of(path: &Path) -> String {
    let canonical = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    // FNV-1a: stable across builds, unlike the std hasher.
    let mut hash: u64 = 0xcbf29ce484222325;
    for byte in canonical.to_string_lossy().bytes() {
        hash ^= byte as u64;
        hash = hash.wrapping_mul(0x100000001b3);
    }
    format!("{:05x}", hash & 0xfffff)
}

/// Claim a subnet no other run (live or left behind) uses: a claim file created
/// exclusively, and no address of it on this machine.
fn claim_subnet(tag: &str) -> Result<u8> {
    fs::create_dir_all(CLAIMS).with_context(|| format!("cannot create {CLAIMS}"))?;
    let used = Command::new("ip")
        .args(["-o", "-4", "addr", "show"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let start = u8::from_str_radix(&tag[..2], 16).unwrap_or(1);
    for k in 0..254u16 {
        let subnet = ((start as u16 + k) % 254 + 1) as u8;
        if used.contains(&format!(" {PREFIX}.{subnet}.")) {
            continue;
        }
        let claim = Path::new(CLAIMS).join(subnet.to_string());
        let fresh = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&claim);
        match fresh {
            Ok(_) => {
                let _ = fs::write(&claim, tag);
                return Ok(subnet);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // A claim without its address is stale once a minute old (a run that
                // died before or after creating its veth).
                let stale = fs::metadata(&claim)
                    .and_then(|m| m.modified())
                    .map(|t| t.elapsed().unwrap_or_default().as_secs() > 60)
                    .unwrap_or(false);
                if stale {
                    let _ = fs::remove_file(&claim);
                }
            }
            Err(e) => return Err(e).with_context(|| format!("cannot claim {}", claim.display())),
        }
    }
    bail!("every subnet {PREFIX}.1-254.0/24 is in use; run `faultline heal` on old runs or remove {CLAIMS}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_short_and_stable() {
        let a = tag_of(Path::new("/no/such/run/1"));
        assert_eq!(a.len(), 5);
        assert_eq!(a, tag_of(Path::new("/no/such/run/1")));
        assert_ne!(a, tag_of(Path::new("/no/such/run/2")));
        // Interface names must fit in 15 bytes.
        assert!(format!("fl{a}h").len() <= 15 && format!("fl{a}-n15").len() <= 15);
    }
}
