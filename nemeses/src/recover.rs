//! Undo every fault a [`Ledger`] holds, whichever nemesis recorded it: what the end of a
//! run, Ctrl-C, a panic and `faultline heal RUN_DIR` (a fresh process that read the ledger
//! back from the run folder) all come down to.
//!
//! Each kind of fault is undone through the seam that applied it; a fault whose seam the
//! caller cannot provide is reported as still in effect, never silently dropped.

use std::sync::Arc;

use serde_json::json;

use crate::clock::{reset_ledger_clocks, Clock};
use crate::control::{Control, ProcessControl};
use crate::ledger::Ledger;
use crate::nemesis::Outcome;
use crate::net::Network;
use crate::netem::undo_netem;
use crate::process::heal_ledger;

/// The seams through which faults are undone; `None` for those the target cannot offer.
#[derive(Clone, Default)]
pub struct Healers {
    /// Resumes paused and restarts killed processes.
    pub process: Option<Arc<dyn ProcessControl>>,
    /// Heals partitions.
    pub network: Option<Arc<dyn Network>>,
    /// Runs `tc` to remove netem qdiscs.
    pub control: Option<Arc<dyn Control>>,
    /// Resets clocks.
    pub clock: Option<Arc<dyn Clock>>,
}

/// Undo everything `ledger` holds: resume paused processes, heal partitions, remove netem,
/// reset clocks, restart killed processes. One outcome per kind of fault undone (or not).
pub async fn heal_everything(ledger: Arc<Ledger>, healers: &Healers) -> Vec<Outcome> {
    let state = ledger.snapshot();
    let mut outcomes = Vec::new();
    let missing = |what: &str, nodes: Vec<&String>| {
        let nodes: Vec<&str> = nodes.into_iter().map(String::as_str).collect();
        Outcome::Indeterminate(format!(
            "{what} on {} cannot be undone: this target offers no way to",
            nodes.join(", ")
        ))
    };
    if !state.paused.is_empty() || !state.killed.is_empty() {
        match &healers.process {
            Some(process) => outcomes.extend(heal_ledger(ledger.clone(), process.clone()).await),
            None => {
                let nodes = state.paused.iter().chain(&state.killed).collect();
                outcomes.push(missing("process faults", nodes));
            }
        }
    }
    if !state.partitioned.is_empty() {
        match &healers.network {
            Some(network) => {
                let mut undos = Vec::new();
                for node in state.partitioned.keys() {
                    let undo = network.heal(node).await.map_err(|e| e.to_string());
                    undos.push((node.clone(), undo));
                }
                let outcome =
                    ledger.forget_healed(|s| &mut s.partitioned, undos, "healed partitions");
                outcomes.push(tag(outcome, "stop-partition"));
            }
            None => outcomes.push(missing("partitions", state.partitioned.keys().collect())),
        }
    }
    if !state.netem.is_empty() {
        match &healers.control {
            Some(control) => {
                if let Some(outcome) = undo_netem(control.as_ref(), &ledger).await {
                    outcomes.push(tag(outcome, "stop-netem"));
                }
            }
            None => outcomes.push(missing("netem", state.netem.keys().collect())),
        }
    }
    if !state.links.is_empty() {
        // No live shaper here: the harness's own heal goes through the netem nemesis.
        if let Some(outcome) =
            crate::links::undo_links(healers.control.as_deref(), None, &ledger).await
        {
            outcomes.push(tag(outcome, "stop-netem"));
        }
    }
    if !state.clock.is_empty() {
        match &healers.clock {
            Some(clock) => {
                if let Some(outcome) = reset_ledger_clocks(clock, &ledger).await {
                    outcomes.push(tag(outcome, "stop-clock"));
                }
            }
            None => outcomes.push(missing("clock skew", state.clock.keys().collect())),
        }
    }
    if !state.removed_members.is_empty() {
        // Adding a member back takes the system's own API and a running cluster: only the
        // membership nemesis of a live run can (its heal does, at the end of every run).
        outcomes.push(missing(
            "membership changes",
            state.removed_members.iter().collect(),
        ));
    }
    outcomes
}

fn tag(outcome: Outcome, f: &str) -> Outcome {
    match outcome {
        Outcome::Applied(mut value) => {
            value["f"] = json!(f);
            Outcome::Applied(value)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FaketimeClock;
    use crate::iptables::PacketFilter;
    use crate::ledger::Fault;
    use crate::testing::{FakeCluster, FakeShell, Proc};

    #[tokio::test]
    async fn a_reloaded_ledger_is_healed_whole_and_twice_is_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nemesis-state.json");
        {
            let ledger = Ledger::create(&path).unwrap();
            ledger.record(Fault::Paused, &["n1".to_string()]).unwrap();
            ledger
                .update(|s| {
                    s.partitioned.insert("n2".into(), ["n3".to_string()].into());
                    s.netem.insert("n3".into(), ["eth0".to_string()].into());
                    s.clock.insert("n1".into(), 60_000);
                })
                .unwrap();
        }
        let shell = Arc::new(FakeShell::new(3, &["iptables"]));
        let cluster = Arc::new(FakeCluster::new(3));
        let files = [("n1".to_string(), "/f1".to_string())].into();
        let addresses = (1..=3)
            .map(|i| (format!("n{i}"), format!("10.0.0.{i}")))
            .collect();
        let healers = Healers {
            process: Some(cluster.clone()),
            network: Some(Arc::new(PacketFilter::new(shell.clone(), addresses))),
            control: Some(shell.clone()),
            clock: Some(Arc::new(FaketimeClock::new(shell.clone(), files))),
        };
        let ledger = Arc::new(Ledger::load(&path).unwrap());
        let outcomes = heal_everything(ledger.clone(), &healers).await;
        assert_eq!(outcomes.len(), 4, "{outcomes:?}");
        assert!(outcomes.iter().all(Outcome::is_applied), "{outcomes:?}");
        assert!(Ledger::load(&path).unwrap().snapshot().is_empty());
        assert_eq!(shell.file("n1", "/f1").unwrap(), "+0\n");
        assert_eq!(cluster.proc("n1"), Proc::Running);
        assert!(heal_everything(ledger, &healers).await.is_empty());
    }

    #[tokio::test]
    async fn faults_without_a_healer_are_reported_not_dropped() {
        let ledger = Arc::new(Ledger::in_memory());
        ledger
            .update(|s| {
                s.clock.insert("n1".into(), 5);
            })
            .unwrap();
        let out = heal_everything(ledger.clone(), &Healers::default()).await;
        assert!(matches!(&out[0], Outcome::Indeterminate(why) if why.contains("clock skew on n1")));
        assert!(!ledger.snapshot().is_empty());
    }

    #[tokio::test]
    async fn removed_members_are_reported_not_dropped() {
        let ledger = Arc::new(Ledger::in_memory());
        ledger
            .update(|s| {
                s.removed_members.insert("n3".into());
            })
            .unwrap();
        let out = heal_everything(ledger.clone(), &Healers::default()).await;
        assert!(
            matches!(&out[0], Outcome::Indeterminate(why) if why.contains("membership changes on n3")),
            "{out:?}"
        );
        assert_eq!(
            ledger.snapshot().describe(),
            vec!["n3 is removed from the cluster's membership".to_string()]
        );
    }
}
