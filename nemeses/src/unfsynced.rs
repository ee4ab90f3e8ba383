//! The `lose-unfsynced` nemesis, as Jepsen's lazyfs nemesis: `start-lose-unfsynced` kills
//! the chosen nodes (SIGKILL), drops every write their data directories hold that was not
//! fsynced, and starts them again on what was durable. How writes are held back is the
//! target's business ([`UnsyncedWrites`]: faultline's FUSE layer on local nodes); this
//! module only orders the steps and records them.
//!
//! Targets: a request's value names them as the `kill` nemesis's do (`"one"`, `"majority"`,
//! `"all"`, a list of nodes ...); a `null` value takes **every** node, because a write that
//! is un-fsynced on a minority only is still held by the others: losing it everywhere at
//! once is what shows a service that acknowledges before fsync. Every chosen node is killed
//! before any loses its writes, so none can fsync in between.
//!
//! The history records, per node, what was dropped (`lost: {node: {files, bytes, names}}`)
//! and whether it started again. A node that does not start is data: it stays in the
//! [`Ledger`] as killed, `stop-lose-unfsynced` and the final heal try again. A loss cannot
//! be undone.

use std::sync::Arc;

use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use serde_json::{json, Map, Value};

use crate::control::{ControlError, ProcessControl};
use crate::ledger::{Fault, Ledger};
use crate::nemesis::{FaultRequest, Nemesis, Outcome};
use crate::process::{heal_ledger, irreversible_fault, Target};

/// Writes a node's data directory holds back until they are fsynced.
#[async_trait]
pub trait UnsyncedWrites: Send + Sync {
    /// Drop every write to `node`'s data that was not fsynced (the node is down); what was
    /// dropped, as the target describes it (e.g. `{"files": [...], "bytes": N}`).
    async fn lose(&self, node: &str) -> Result<Value, ControlError>;
    /// How writes are held back, recorded with each fault (`fuse`).
    fn mechanism(&self) -> String;
}

/// The `lose-unfsynced` nemesis.
pub struct LoseUnfsyncedNemesis {
    writes: Arc<dyn UnsyncedWrites>,
    process: Arc<dyn ProcessControl>,
    ledger: Arc<Ledger>,
    busy: tokio::sync::Mutex<()>,
}

const NAME: &str = "lose-unfsynced";

impl LoseUnfsyncedNemesis {
    /// Lose the writes `writes` holds back, stopping and starting nodes with `process`.
    pub fn new(
        writes: Arc<dyn UnsyncedWrites>,
        process: Arc<dyn ProcessControl>,
        ledger: Arc<Ledger>,
    ) -> Self {
        LoseUnfsyncedNemesis {
            writes,
            process,
            ledger,
            busy: tokio::sync::Mutex::new(()),
        }
    }

    async fn choose(&self, value: &Value, rng: &mut StdRng) -> Result<Vec<String>, String> {
        let all = self.process.nodes();
        let target = Target::from_value(value)?.unwrap_or(Target::All);
        let free: Vec<String> = all
            .iter()
            .filter(|n| !self.ledger.is_faulted(n))
            .cloned()
            .collect();
        let count = match &target {
            Target::One => 1,
            Target::Minority => all.len().saturating_sub(1) / 2,
            Target::Majority => all.len() / 2 + 1,
            Target::All => all.len(),
            Target::Leader => {
                let leader = self
                    .process
                    .leader()
                    .await
                    .ok_or("the system cannot name its leader")?;
                return Ok(free.into_iter().filter(|n| *n == leader).collect());
            }
            Target::Nodes(nodes) => {
                if let Some(unknown) = nodes.iter().find(|n| !all.contains(n)) {
                    return Err(format!("{unknown} is not one of the nodes"));
                }
                return Ok(free.into_iter().filter(|n| nodes.contains(n)).collect());
            }
        };
        let chosen: Vec<&String> = free.choose_multiple(rng, count).collect();
        Ok(all.iter().filter(|n| chosen.contains(n)).cloned().collect())
    }

    async fn start(&self, value: &Value, rng: &mut StdRng) -> Outcome {
        let nodes = match self.choose(value, rng).await {
            Ok(nodes) if nodes.is_empty() => {
                return Outcome::Skipped("every chosen node is already killed or paused".into())
            }
            Ok(nodes) => nodes,
            Err(why) => return Outcome::Skipped(why),
        };
        if let Err(e) = self.ledger.record(Fault::Killed, &nodes) {
            return Outcome::Skipped(format!("not applied, the ledger could not record it: {e}"));
        }
        let mut detail = json!({
            "nodes": nodes,
            "fault": NAME,
            "mechanism": self.writes.mechanism(),
        });
        let mut errors = Map::new();
        let mut down = Vec::new();
        for node in &nodes {
            match self.process.kill(node).await {
                Ok(()) => down.push(node.clone()),
                Err(e) => {
                    errors.insert(node.clone(), json!(format!("not killed: {e}")));
                }
            }
        }
        let mut lost = Map::new();
        for node in &down {
            match self.writes.lose(node).await {
                Ok(what) => {
                    lost.insert(node.clone(), what);
                }
                Err(e) => {
                    errors.insert(node.clone(), json!(format!("writes not dropped: {e}")));
                }
            }
        }
        let mut restarted = Vec::new();
        for node in &nodes {
            match self.process.start(node).await {
                Ok(()) => {
                    let _ = self.ledger.clear(Fault::Killed, std::slice::from_ref(node));
                    restarted.push(node.clone());
                }
                Err(e) => {
                    errors.insert(node.clone(), json!(format!("not restarted: {e}")));
                }
            }
        }
        detail["lost"] = Value::Object(lost.clone());
        detail["restarted"] = json!(restarted);
        if !errors.is_empty() {
            detail["errors"] = Value::Object(errors);
        }
        if lost.is_empty() {
            Outcome::Indeterminate(detail.to_string())
        } else {
            Outcome::Applied(detail)
        }
    }
}

#[async_trait]
impl Nemesis for LoseUnfsyncedNemesis {
    fn name(&self) -> &str {
        NAME
    }

    fn fs(&self) -> Vec<String> {
        vec![format!("start-{NAME}"), format!("stop-{NAME}")]
    }

    async fn invoke(&self, request: &FaultRequest, rng: &mut StdRng) -> Outcome {
        let _busy = self.busy.lock().await;
        // What was lost stays lost.
        let start = self.start(&request.value, rng);
        irreversible_fault(
            NAME,
            request,
            start,
            self.ledger.clone(),
            self.process.clone(),
        )
        .await
    }

    async fn heal(&self) -> Vec<Outcome> {
        let _busy = self.busy.lock().await;
        heal_ledger(self.ledger.clone(), self.process.clone()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeCluster, Proc};
    use rand::SeedableRng;
    use std::sync::Mutex;

    /// Records which nodes lost their writes, and whether each was down then.
    struct Writes {
        cluster: Arc<FakeCluster>,
        calls: Mutex<Vec<(String, bool)>>,
    }

    #[async_trait]
    impl UnsyncedWrites for Writes {
        async fn lose(&self, node: &str) -> Result<Value, ControlError> {
            let everyone_down = self
                .cluster
                .nodes()
                .iter()
                .all(|n| self.cluster.proc(n) != Proc::Running);
            self.calls
                .lock()
                .unwrap()
                .push((node.to_string(), everyone_down));
            Ok(json!({"files": ["raft-log.jsonl"], "bytes": 10}))
        }
        fn mechanism(&self) -> String {
            "test".into()
        }
    }

    #[tokio::test]
    async fn every_node_is_killed_before_any_loses_and_all_restart() {
        let cluster = Arc::new(FakeCluster::new(3));
        let writes = Arc::new(Writes {
            cluster: cluster.clone(),
            calls: Mutex::new(Vec::new()),
        });
        let ledger = Arc::new(Ledger::in_memory());
        let nemesis = LoseUnfsyncedNemesis::new(writes.clone(), cluster.clone(), ledger.clone());
        let mut rng = StdRng::seed_from_u64(1);
        let out = nemesis
            .invoke(
                &FaultRequest::new("start-lose-unfsynced", Value::Null),
                &mut rng,
            )
            .await;
        let Outcome::Applied(detail) = out else {
            panic!("{out:?}")
        };
        assert_eq!(detail["nodes"], json!(["n1", "n2", "n3"]));
        assert_eq!(detail["lost"]["n2"]["bytes"], 10);
        assert_eq!(detail["restarted"], json!(["n1", "n2", "n3"]));
        let calls = writes.calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 3);
        assert!(calls.iter().all(|(_, all_down)| *all_down), "{calls:?}");
        assert!(cluster
            .nodes()
            .iter()
            .all(|n| cluster.proc(n) == Proc::Running));
        assert!(ledger.snapshot().is_empty());

        let out = nemesis
            .invoke(
                &FaultRequest::new("start-lose-unfsynced", json!(["n2"])),
                &mut rng,
            )
            .await;
        let Outcome::Applied(detail) = out else {
            panic!("{out:?}")
        };
        assert_eq!(detail["nodes"], json!(["n2"]));
        let out = nemesis
            .invoke(
                &FaultRequest::new("stop-lose-unfsynced", Value::Null),
                &mut rng,
            )
            .await;
        assert!(matches!(out, Outcome::Skipped(_)), "{out:?}");
    }
}
