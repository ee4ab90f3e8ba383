//! The `partition` nemesis: `start-partition` builds a [`Grudge`] of one of the enabled
//! [`Shape`]s (or the one named by the request) and has the [`Network`] enforce it;
//! `stop-partition` heals every partitioned node. Every node's cut is written to the
//! [`Ledger`] before it is applied and cleared only after it was healed.
//!
//! A request's value: `null` (choose a shape with the seeded rng), a shape name (`"one"`,
//! `"halves"`, `"leader"`, `"bridge"`, `"ring"`, `"grudge"`), or a list of components
//! (`[["n1","n2"],["n3","n4","n5"]]`). This module must never reach a node except through
//! `Network` (and `ProcessControl::leader` to find the leader).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::control::{ControlError, ProcessControl};
use crate::ledger::Ledger;
use crate::nemesis::Outcome;
use crate::net::{Grudge, Network, Shape};
use crate::start_stop::StartStop;

/// The `partition` nemesis.
pub struct PartitionNemesis {
    network: Arc<dyn Network>,
    leader: Option<Arc<dyn ProcessControl>>,
    ledger: Arc<Ledger>,
    shapes: Vec<Shape>,
}

impl PartitionNemesis {
    /// Partitions enforced by `network`, choosing among `shapes` for `null` requests;
    /// `leader` names the leader for [`Shape::Leader`] (without it that shape is skipped).
    pub fn new(
        network: Arc<dyn Network>,
        leader: Option<Arc<dyn ProcessControl>>,
        ledger: Arc<Ledger>,
        shapes: Vec<Shape>,
    ) -> Self {
        PartitionNemesis {
            network,
            leader,
            ledger,
            shapes,
        }
    }

    fn shape_of(&self, value: &Value, rng: &mut StdRng) -> Result<Shape, String> {
        match value {
            Value::Null => self
                .shapes
                .choose(rng)
                .cloned()
                .ok_or_else(|| "no partition shape to choose from".to_string()),
            Value::String(name) if name == "grudge" => self
                .shapes
                .iter()
                .find(|s| matches!(s, Shape::Explicit(_) | Shape::Directed { .. }))
                .cloned()
                .ok_or_else(|| "no grudge was given (--partition-grudge)".to_string()),
            Value::String(name) => Shape::parse(name),
            Value::Array(_) => serde_json::from_value::<Vec<Vec<String>>>(value.clone())
                .map(Shape::Explicit)
                .map_err(|e| format!("a partition given as a list must list components of node names: {e}")),
            other => Err(format!("partition value {other} is not understood; give a shape name, a list of components, or null")),
        }
    }

    /// Apply (or heal) the cut of every node in `grudge` at once; the errors of those that
    /// failed, each starting with `node NAME:`.
    async fn on_each(&self, grudge: &Grudge, apply: bool) -> Vec<String> {
        let mut tasks = JoinSet::new();
        for (node, from) in &grudge.0 {
            let (network, node) = (self.network.clone(), node.clone());
            let from: Vec<String> = from.iter().cloned().collect();
            tasks.spawn(async move {
                let result = if apply {
                    network.isolate(&node, &from).await
                } else {
                    network.heal(&node).await
                };
                result.map_err(|e| match e {
                    ControlError::Failed { .. } | ControlError::Unsupported { .. } => e.to_string(),
                    other => format!("node {node}: {other}"),
                })
            });
        }
        let mut errors = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(())) => {}
                Ok(Err(e)) => errors.push(e),
                Err(e) => errors.push(format!("a network task failed: {e}")),
            }
        }
        errors.sort();
        errors
    }
}

#[async_trait]
impl StartStop for PartitionNemesis {
    const FAULT: &'static str = "partition";
    const NOTHING_TO_STOP: &'static str = "no node is partitioned";

    async fn start(&self, value: &Value, rng: &mut StdRng) -> Outcome {
        let shape = match self.shape_of(value, rng) {
            Ok(shape) => shape,
            Err(why) => return Outcome::Skipped(why),
        };
        let leader = match (&shape, &self.leader) {
            (Shape::Leader, Some(process)) => process.leader().await,
            _ => None,
        };
        let grudge = match shape.grudge(&self.network.nodes(), leader.as_deref(), rng) {
            Ok(grudge) => grudge,
            Err(why) => return Outcome::Skipped(why),
        };
        // A partition replaces the one in effect: heal it first.
        if let Some(Outcome::Indeterminate(why)) = self.stop().await {
            return Outcome::Indeterminate(format!(
                "could not heal the previous partition, so no new one was applied: {why}"
            ));
        }
        if let Err(e) = self.ledger.update(|s| {
            for (node, from) in &grudge.0 {
                s.partitioned.insert(node.clone(), from.clone());
            }
        }) {
            return Outcome::Skipped(format!(
                "the partition was not applied because it could not be recorded: {e}"
            ));
        }
        tracing::info!(shape = shape.name(), grudge = ?grudge.0, "partitioning");
        let errors = self.on_each(&grudge, true).await;
        let via = self.network.method();
        let mut detail = json!({
            "shape": shape.name(),
            "grudge": grudge.to_value(),
            "via": via,
        });
        let one_way = grudge
            .0
            .iter()
            .any(|(node, from)| from.iter().any(|peer| !grudge.drops(peer, node)));
        if one_way && via.starts_with("relays") {
            // A relay carries a TCP stream, which a one-way drop stalls whole anyway.
            detail["approximated"] = json!(["relays cut a one-way grudge's links both ways"]);
        }
        if errors.is_empty() {
            Outcome::Applied(detail)
        } else {
            Outcome::Indeterminate(format!("{detail}: {}", errors.join("; ")))
        }
    }

    /// Heal every node the ledger holds as partitioned; `None` when there is none.
    async fn stop(&self) -> Option<Outcome> {
        let nodes: BTreeMap<String, _> = self.ledger.snapshot().partitioned;
        if nodes.is_empty() {
            return None;
        }
        let grudge = Grudge(nodes);
        let errors = self.on_each(&grudge, false).await;
        let failed: Vec<&String> = grudge
            .0
            .keys()
            .filter(|n| errors.iter().any(|e| e.starts_with(&format!("node {n}:"))))
            .collect();
        let healed: Vec<String> = grudge
            .0
            .keys()
            .filter(|n| !failed.contains(n))
            .cloned()
            .collect();
        if let Err(e) = self.ledger.update(|s| {
            for node in &healed {
                s.partitioned.remove(node);
            }
        }) {
            return Some(Outcome::Indeterminate(format!(
                "healed {} but could not update the ledger: {e}",
                healed.join(", ")
            )));
        }
        Some(if errors.is_empty() {
            Outcome::Applied(json!({ "healed": healed }))
        } else {
            Outcome::Indeterminate(format!(
                "healed {}; {}",
                healed.join(", "),
                errors.join("; ")
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iptables::PacketFilter;
    use crate::nemesis::{FaultRequest, Nemesis};
    use crate::start_stop::Serialised;
    use crate::testing::{FakeCluster, FakeShell};
    use rand::SeedableRng;

    fn setup(shapes: Vec<Shape>) -> (Arc<FakeShell>, Arc<Ledger>, Serialised<PartitionNemesis>) {
        let shell = Arc::new(FakeShell::new(5, &["iptables"]));
        let addresses = (1..=5)
            .map(|i| (format!("n{i}"), format!("10.0.0.{i}")))
            .collect();
        let network = Arc::new(PacketFilter::new(shell.clone(), addresses));
        let ledger = Arc::new(Ledger::in_memory());
        let cluster = Arc::new(FakeCluster::new(5));
        cluster.set_leader(Some("n4"));
        let nemesis = Serialised::new(PartitionNemesis::new(
            network,
            Some(cluster),
            ledger.clone(),
            shapes,
        ));
        (shell, ledger, nemesis)
    }

    #[tokio::test]
    async fn a_partition_is_recorded_applied_and_healed() {
        let (shell, ledger, nemesis) = setup(Shape::defaults());
        let mut rng = StdRng::seed_from_u64(9);
        let out = nemesis
            .invoke(
                &FaultRequest::new("start-partition", json!("leader")),
                &mut rng,
            )
            .await;
        let Outcome::Applied(detail) = out else {
            panic!("{out:?}")
        };
        assert_eq!(detail["shape"], "leader");
        assert_eq!(detail["grudge"]["n4"], json!(["n1", "n2", "n3", "n5"]));
        assert!((1..=5).all(|i| shell.has_chain(&format!("n{i}"))));
        assert_eq!(ledger.snapshot().partitioned.len(), 5);

        let healed = nemesis.heal().await;
        assert!(healed[0].is_applied(), "{healed:?}");
        assert!((1..=5).all(|i| !shell.has_chain(&format!("n{i}"))));
        assert!(ledger.snapshot().is_empty());
        assert!(nemesis.heal().await.is_empty(), "heal is idempotent");
    }

    #[tokio::test]
    async fn a_failed_heal_keeps_the_node_in_the_ledger() {
        let grudge = Shape::Explicit(vec![vec!["n1".into()], vec!["n2".into(), "n3".into()]]);
        let (shell, ledger, nemesis) = setup(vec![grudge]);
        let mut rng = StdRng::seed_from_u64(1);
        let start = FaultRequest::new("start-partition", Value::Null);
        assert!(nemesis.invoke(&start, &mut rng).await.is_applied());
        shell.fail("n2");
        let out = nemesis.heal().await;
        assert!(out[0].is_indeterminate(), "{out:?}");
        assert_eq!(
            ledger.snapshot().partitioned.keys().collect::<Vec<_>>(),
            ["n2"]
        );
        shell.recover("n2");
        assert!(nemesis.heal().await[0].is_applied());
        assert!(!shell.has_chain("n2") && ledger.snapshot().is_empty());
    }

    #[tokio::test]
    async fn requests_it_cannot_serve_are_skipped_with_why() {
        let (_, _, nemesis) = setup(vec![]);
        let mut rng = StdRng::seed_from_u64(1);
        let out = nemesis
            .invoke(&FaultRequest::new("start-partition", Value::Null), &mut rng)
            .await;
        assert_eq!(
            out,
            Outcome::Skipped("no partition shape to choose from".into())
        );
        let out = nemesis
            .invoke(
                &FaultRequest::new("start-partition", json!("grudge")),
                &mut rng,
            )
            .await;
        assert!(matches!(out, Outcome::Skipped(why) if why.contains("--partition-grudge")));
        let out = nemesis
            .invoke(&FaultRequest::new("stop-partition", Value::Null), &mut rng)
            .await;
        assert!(matches!(out, Outcome::Skipped(_)));
    }
}
