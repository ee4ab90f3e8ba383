//! Partitions with ordinary Linux packet filters, run on each node through
//! [`Control::exec`]: iptables where it exists, nft where it does not.
//!
//! Everything lives in faultline's own chain, so a user's rules are never touched:
//! - iptables: chain `FAULTLINE` in the filter table, jumped to from the top of `INPUT`, one
//!   `-s PEER -j DROP` rule per cut-off peer. Healing removes the jump, flushes and deletes
//!   the chain.
//! - nft: table `inet faultline` with an input chain hooked at priority -10, one
//!   `ip saddr PEER drop` rule per peer. Healing deletes the table.
//!
//! This module must never touch any chain or table but its own.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::control::{exec_ok, owned, Control, ControlError};
use crate::net::Network;

/// The iptables chain faultline owns on every node.
pub const CHAIN: &str = "FAULTLINE";
/// The nft table faultline owns on every node (family `inet`).
pub const NFT_TABLE: &str = "faultline";

/// Which packet filter a node has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    Iptables,
    Nft,
}

/// The [`Network`] of nodes reached through [`Control`], cutting links with packet filters.
pub struct PacketFilter {
    control: Arc<dyn Control>,
    addresses: BTreeMap<String, String>,
    tools: Mutex<BTreeMap<String, Tool>>,
}

impl PacketFilter {
    /// Cut links between `control`'s nodes; `addresses` maps each node to the IP address
    /// its packets come from as the other nodes see them.
    pub fn new(control: Arc<dyn Control>, addresses: BTreeMap<String, String>) -> Self {
        PacketFilter {
            control,
            addresses,
            tools: Mutex::default(),
        }
    }

    async fn tool(&self, node: &str) -> Result<Tool, ControlError> {
        if let Some(tool) = self.tools.lock().expect("tools").get(node) {
            return Ok(*tool);
        }
        let has = |program: &'static str| async move {
            matches!(
                self.control.exec(node, program, &["--version".to_string()]).await,
                Ok(out) if out.success()
            )
        };
        let tool = if has("iptables").await {
            Tool::Iptables
        } else if has("nft").await {
            Tool::Nft
        } else {
            return Err(ControlError::failed(
                node,
                "partition",
                "neither iptables nor nft runs there; install the iptables package (Debian: apt-get install iptables)",
            ));
        };
        self.tools
            .lock()
            .expect("tools")
            .insert(node.to_string(), tool);
        Ok(tool)
    }

    fn address(&self, node: &str, peer: &str) -> Result<&str, ControlError> {
        self.addresses.get(peer).map(String::as_str).ok_or_else(|| {
            ControlError::failed(node, "partition", format!("no address known for {peer}"))
        })
    }
}

#[async_trait]
impl Network for PacketFilter {
    fn nodes(&self) -> Vec<String> {
        self.control.nodes()
    }

    fn method(&self) -> String {
        "packet filter (iptables chain FAULTLINE, or nft table inet faultline)".to_string()
    }

    async fn isolate(&self, node: &str, from: &[String]) -> Result<(), ControlError> {
        let control = self.control.as_ref();
        let ips = from
            .iter()
            .map(|peer| self.address(node, peer).map(str::to_string))
            .collect::<Result<Vec<_>, _>>()?;
        match self.tool(node).await? {
            Tool::Iptables => {
                // -N fails when the chain exists; either way it exists afterwards.
                let _ = control
                    .exec(node, "iptables", &owned(&["-w", "-N", CHAIN]))
                    .await?;
                exec_ok(control, node, "iptables", &["-w", "-F", CHAIN]).await?;
                let jump = control
                    .exec(
                        node,
                        "iptables",
                        &owned(&["-w", "-C", "INPUT", "-j", CHAIN]),
                    )
                    .await?;
                if !jump.success() {
                    exec_ok(
                        control,
                        node,
                        "iptables",
                        &["-w", "-I", "INPUT", "1", "-j", CHAIN],
                    )
                    .await?;
                }
                for ip in &ips {
                    exec_ok(
                        control,
                        node,
                        "iptables",
                        &["-w", "-A", CHAIN, "-s", ip, "-j", "DROP"],
                    )
                    .await?;
                }
            }
            Tool::Nft => {
                let _ = control
                    .exec(node, "nft", &owned(&["delete", "table", "inet", NFT_TABLE]))
                    .await?;
                exec_ok(control, node, "nft", &["add", "table", "inet", NFT_TABLE]).await?;
                exec_ok(
                    control,
                    node,
                    "nft",
                    &[
                        "add", "chain", "inet", NFT_TABLE, "input", "{", "type", "filter", "hook",
                        "input", "priority", "-10", ";", "policy", "accept", ";", "}",
                    ],
                )
                .await?;
                for ip in &ips {
                    exec_ok(
                        control,
                        node,
                        "nft",
                        &[
                            "add", "rule", "inet", NFT_TABLE, "input", "ip", "saddr", ip, "drop",
                        ],
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }

    async fn heal(&self, node: &str) -> Result<(), ControlError> {
        let control = self.control.as_ref();
        match self.tool(node).await? {
            Tool::Iptables => {
                // Remove every jump (a crashed run may have left more than one).
                for _ in 0..16 {
                    let out = control
                        .exec(
                            node,
                            "iptables",
                            &owned(&["-w", "-D", "INPUT", "-j", CHAIN]),
                        )
                        .await?;
                    if !out.success() {
                        break;
                    }
                }
                remove_iptables_chain(control, node, CHAIN).await?;
            }
            Tool::Nft => {
                let exists = control
                    .exec(node, "nft", &owned(&["list", "table", "inet", NFT_TABLE]))
                    .await?;
                if exists.success() {
                    exec_ok(
                        control,
                        node,
                        "nft",
                        &["delete", "table", "inet", NFT_TABLE],
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }
}

/// Flush and delete the iptables `chain` on `node`, when it exists (jumps to it must be
/// gone first).
pub(crate) async fn remove_iptables_chain(
    control: &dyn Control,
    node: &str,
    chain: &str,
) -> Result<(), ControlError> {
    let exists = control
        .exec(node, "iptables", &owned(&["-w", "-L", chain, "-n"]))
        .await?;
    if exists.success() {
        exec_ok(control, node, "iptables", &["-w", "-F", chain]).await?;
        exec_ok(control, node, "iptables", &["-w", "-X", chain]).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeShell;

    #[tokio::test]
    async fn iptables_rules_live_in_faultlines_chain_only() {
        let shell = Arc::new(FakeShell::new(3, &["iptables"]));
        let addresses = (1..=3)
            .map(|i| (format!("n{i}"), format!("10.0.0.{i}")))
            .collect();
        let filter = PacketFilter::new(shell.clone(), addresses);
        filter
            .isolate("n1", &["n2".to_string(), "n3".to_string()])
            .await
            .unwrap();
        let commands = shell.commands("n1");
        assert!(commands.contains(&"iptables -w -I INPUT 1 -j FAULTLINE".to_string()));
        assert!(commands.contains(&"iptables -w -A FAULTLINE -s 10.0.0.3 -j DROP".to_string()));
        assert!(commands
            .iter()
            .filter(|c| c.starts_with("iptables"))
            .all(|c| c.contains("FAULTLINE") || c.ends_with("--version")));
        filter.heal("n1").await.unwrap();
        let commands = shell.commands("n1");
        assert!(commands.ends_with(&[
            "iptables -w -D INPUT -j FAULTLINE".to_string(),
            "iptables -w -L FAULTLINE -n".to_string(),
            "iptables -w -F FAULTLINE".to_string(),
            "iptables -w -X FAULTLINE".to_string(),
        ]));
        assert!(filter.isolate("n2", &["n9".to_string()]).await.is_err());
    }

    #[tokio::test]
    async fn nft_is_used_where_iptables_is_missing_and_neither_is_an_error() {
        let shell = Arc::new(FakeShell::new(2, &["nft"]));
        let addresses = [("n1", "10.0.0.1"), ("n2", "10.0.0.2")]
            .map(|(n, a)| (n.to_string(), a.to_string()))
            .into();
        let filter = PacketFilter::new(shell.clone(), addresses);
        filter.isolate("n1", &["n2".to_string()]).await.unwrap();
        assert!(shell
            .commands("n1")
            .contains(&"nft add rule inet faultline input ip saddr 10.0.0.2 drop".to_string()));
        let bare = PacketFilter::new(Arc::new(FakeShell::new(2, &[])), BTreeMap::new());
        let err = bare.heal("n1").await.unwrap_err().to_string();
        assert!(err.contains("apt-get install iptables"), "{err}");
    }
}
