//! Per-link TCP relays, so an ordinary user can partition local nodes: node i reaches node j
//! only through relay i→j, a loopback listener the harness runs, which forwards to j's peer
//! address. Cutting a link closes every connection on it and refuses new ones (accepted and
//! closed at once); healing lets connections through again.
//!
//! Relays implement the nemeses crate's [`Network`]. A one-way grudge cuts the whole link:
//! over TCP a one-way drop stalls every connection anyway. Relays live in the harness's
//! runtime and die with it, so a crashed harness leaves no cut link behind.
//!
//! This module must never listen on anything but 127.0.0.1.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use anyhow::{Context, Result};
use async_trait::async_trait;
use faultline_nemeses::control::ControlError;
use faultline_nemeses::net::Network;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

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
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Relays {
    /// Start a relay for every ordered pair of `nodes` (name, peer address), on free
    /// loopback ports. Must be called inside a tokio runtime.
    pub fn start(nodes: &[(String, String)]) -> Result<Relays> {
        let mut links = Vec::new();
        let mut tasks = Vec::new();
        for (from, _) in nodes {
            for (to, target) in nodes.iter().filter(|(n, _)| n != from) {
                let std_listener = std::net::TcpListener::bind("127.0.0.1:0")
                    .context("cannot open a loopback port for a relay")?;
                std_listener.set_nonblocking(true)?;
                let addr = std_listener.local_addr()?.to_string();
                let listener = TcpListener::from_std(std_listener)?;
                let (cut, cut_rx) = watch::channel(false);
                tasks.push(tokio::spawn(serve(listener, target.clone(), cut_rx)));
                links.push(Link {
                    from: from.clone(),
                    to: to.clone(),
                    addr,
                    cut,
                });
            }
        }
        Ok(Relays {
            nodes: nodes.iter().map(|(n, _)| n.clone()).collect(),
            links,
            drops: Mutex::default(),
            tasks,
        })
    }

    /// The address `from` must use to reach `to`.
    pub fn address(&self, from: &str, to: &str) -> Option<&str> {
        self.links
            .iter()
            .find(|l| l.from == from && l.to == to)
            .map(|l| l.addr.as_str())
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
}

impl Drop for Relays {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Accept connections for one link and forward them to `target` while the link is whole.
async fn serve(listener: TcpListener, target: String, cut: watch::Receiver<bool>) {
    loop {
        let Ok((inbound, _)) = listener.accept().await else {
            continue;
        };
        if *cut.borrow() {
            drop(inbound);
            continue;
        }
        let mut cut = cut.clone();
        let target = target.clone();
        tokio::spawn(async move {
            let Ok(mut outbound) = TcpStream::connect(&target).await else {
                return;
            };
            let mut inbound = inbound;
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                _ = cut.wait_for(|c| *c) => {}
            }
        });
    }
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
        if !self.nodes.iter().any(|n| n == node) {
            return Err(ControlError::unknown_node(node, &self.nodes));
        }
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
        let nodes = vec![
            ("n1".to_string(), echo().await),
            ("n2".to_string(), echo().await),
            ("n3".to_string(), echo().await),
        ];
        let relays = Relays::start(&nodes).unwrap();
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

        relays.heal("n2").await.unwrap();
        assert!(round_trip(&n1_to_n2).await);
        assert!(relays.isolate("n9", &[]).await.is_err());
    }
}
