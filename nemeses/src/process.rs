//! Process nemeses: `kill` (`start-kill` SIGKILLs the chosen nodes' processes, `stop-kill`
//! restarts every killed one) and `pause` (`start-pause` SIGSTOPs, `stop-pause` SIGCONTs),
//! acting only through [`ProcessControl`] and remembering every fault in the [`Ledger`].
//!
//! Targets take Jepsen's names: `"one"`, `"minority"` (the largest minority), `"majority"`,
//! `"leader"`, `"all"`, or a list of node names; a `null` value picks one of the nemesis's
//! targets at random from the seeded rng. Sizes are counted over the whole cluster, and
//! chosen among nodes not already killed or paused (a node is never faulted twice before it
//! is healed), so a request may fault fewer nodes than its target names.
//!
//! ```
//! use std::sync::Arc;
//! # use async_trait::async_trait;
//! # use faultline_nemeses::control::{ControlError, ProcessControl};
//! use faultline_nemeses::ledger::Ledger;
//! use faultline_nemeses::nemesis::{FaultRequest, Nemesis, Outcome};
//! use faultline_nemeses::process::ProcessNemesis;
//! use rand::{rngs::StdRng, SeedableRng};
//! use serde_json::json;
//! # struct Local;
//! # #[async_trait]
//! # impl ProcessControl for Local {
//! #     fn nodes(&self) -> Vec<String> { vec!["n1".into(), "n2".into(), "n3".into()] }
//! #     async fn kill(&self, _: &str) -> Result<(), ControlError> { Ok(()) }
//! #     async fn start(&self, _: &str) -> Result<(), ControlError> { Ok(()) }
//! #     async fn pause(&self, _: &str) -> Result<(), ControlError> { Ok(()) }
//! #     async fn resume(&self, _: &str) -> Result<(), ControlError> { Ok(()) }
//! #     async fn leader(&self) -> Option<String> { Some("n1".into()) }
//! # }
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let control: Arc<dyn ProcessControl> = Arc::new(Local); // the controller's target
//! let ledger = Arc::new(Ledger::in_memory());
//! let kill = ProcessNemesis::kill(control, ledger.clone());
//! let mut rng = StdRng::seed_from_u64(42);
//! let outcome = kill.invoke(&FaultRequest::new("start-kill", json!("leader")), &mut rng).await;
//! assert_eq!(outcome, Outcome::Applied(json!({"target": "leader", "nodes": ["n1"]})));
//! let healed = kill.heal().await;
//! assert_eq!(healed, vec![Outcome::Applied(json!({"f": "stop-kill", "nodes": ["n1"]}))]);
//! # });
//! ```
//!
//! This module must never act on a node except through `ProcessControl`.

use std::sync::Arc;

use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::control::{ControlError, ProcessControl};
use crate::ledger::{Fault, Ledger};
use crate::nemesis::{FaultRequest, Nemesis, Outcome};

/// Which nodes a process fault hits (Jepsen's node specs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One random node.
    One,
    /// The largest minority, at random: `(n - 1) / 2` of `n` nodes.
    Minority,
    /// A random majority: `n / 2 + 1` of `n` nodes.
    Majority,
    /// The node the system names as leader.
    Leader,
    /// Every node.
    All,
    /// Exactly these nodes.
    Nodes(Vec<String>),
}

impl Target {
    /// The targets a `null` request chooses among, by default.
    pub fn defaults() -> Vec<Target> {
        vec![
            Target::One,
            Target::Minority,
            Target::Majority,
            Target::Leader,
            Target::All,
        ]
    }

    /// Read a request's value: `null` (let the nemesis choose) gives `None`.
    pub fn from_value(value: &Value) -> Result<Option<Target>, String> {
        const HELP: &str = "use \"one\", \"minority\", \"majority\", \"leader\", \"all\", a list of node names, or null";
        match value {
            Value::Null => Ok(None),
            Value::String(s) => match s.as_str() {
                "one" => Ok(Some(Target::One)),
                "minority" => Ok(Some(Target::Minority)),
                "majority" => Ok(Some(Target::Majority)),
                "leader" | "primaries" => Ok(Some(Target::Leader)),
                "all" => Ok(Some(Target::All)),
                other => Err(format!("unknown target {other:?}; {HELP}")),
            },
            Value::Array(items) => {
                let mut nodes = Vec::with_capacity(items.len());
                for item in items {
                    match item.as_str() {
                        Some(node) if !nodes.iter().any(|n| n == node) => {
                            nodes.push(node.to_string())
                        }
                        Some(_) => {}
                        None => {
                            return Err(format!("target lists {item}, not a node name; {HELP}"))
                        }
                    }
                }
                if nodes.is_empty() {
                    return Err(format!("the target lists no node; {HELP}"));
                }
                Ok(Some(Target::Nodes(nodes)))
            }
            other => Err(format!("target {other} is not understood; {HELP}")),
        }
    }

    /// The value a request uses to name this target.
    pub fn to_value(&self) -> Value {
        match self {
            Target::One => json!("one"),
            Target::Minority => json!("minority"),
            Target::Majority => json!("majority"),
            Target::Leader => json!("leader"),
            Target::All => json!("all"),
            Target::Nodes(nodes) => json!(nodes),
        }
    }
}

/// Which process fault a [`ProcessNemesis`] injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Kill,
    Pause,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Kill => "kill",
            Kind::Pause => "pause",
        }
    }
    fn fault(self) -> Fault {
        match self {
            Kind::Kill => Fault::Killed,
            Kind::Pause => Fault::Paused,
        }
    }
    fn start_f(self) -> &'static str {
        match self {
            Kind::Kill => "start-kill",
            Kind::Pause => "start-pause",
        }
    }
    fn stop_f(self) -> &'static str {
        match self {
            Kind::Kill => "stop-kill",
            Kind::Pause => "stop-pause",
        }
    }
    fn undo_verb(self) -> &'static str {
        match self {
            Kind::Kill => "restarted",
            Kind::Pause => "resumed",
        }
    }
    async fn apply(self, control: &dyn ProcessControl, node: &str) -> Result<(), ControlError> {
        match self {
            Kind::Kill => control.kill(node).await,
            Kind::Pause => control.pause(node).await,
        }
    }
    async fn undo(self, control: &dyn ProcessControl, node: &str) -> Result<(), ControlError> {
        match self {
            Kind::Kill => control.start(node).await,
            Kind::Pause => control.resume(node).await,
        }
    }
}

/// The `kill` or `pause` nemesis.
pub struct ProcessNemesis {
    kind: Kind,
    control: Arc<dyn ProcessControl>,
    ledger: Arc<Ledger>,
    targets: Vec<Target>,
    /// Serialises invoke and heal, so a heal from a Ctrl-C handler waits for a fault that is
    /// being applied instead of racing it and leaving it behind.
    busy: tokio::sync::Mutex<()>,
}

impl ProcessNemesis {
    /// The `kill` nemesis: `start-kill` SIGKILLs, `stop-kill` restarts every killed node.
    pub fn kill(control: Arc<dyn ProcessControl>, ledger: Arc<Ledger>) -> Self {
        Self::new(Kind::Kill, control, ledger)
    }

    /// The `pause` nemesis: `start-pause` SIGSTOPs, `stop-pause` SIGCONTs every paused node.
    pub fn pause(control: Arc<dyn ProcessControl>, ledger: Arc<Ledger>) -> Self {
        Self::new(Kind::Pause, control, ledger)
    }

    fn new(kind: Kind, control: Arc<dyn ProcessControl>, ledger: Arc<Ledger>) -> Self {
        ProcessNemesis {
            kind,
            control,
            ledger,
            targets: Target::defaults(),
            busy: tokio::sync::Mutex::new(()),
        }
    }

    /// Choose among `targets` (instead of [`Target::defaults`]) when a request's value is
    /// `null`. With an empty list such requests are skipped.
    pub fn with_targets(mut self, targets: Vec<Target>) -> Self {
        self.targets = targets;
        self
    }

    async fn start(&self, value: &Value, rng: &mut StdRng) -> Outcome {
        let target = match Target::from_value(value) {
            Ok(Some(target)) => target,
            Ok(None) => match self.targets.choose(rng) {
                Some(target) => target.clone(),
                None => return Outcome::Skipped("no target to choose from".to_string()),
            },
            Err(why) => return Outcome::Skipped(why),
        };
        let nodes = match self.select(&target, rng).await {
            Ok(nodes) => nodes,
            Err(why) => return Outcome::Skipped(why),
        };
        if let Err(e) = self.ledger.record(self.kind.fault(), &nodes) {
            tracing::error!(nemesis = self.kind.name(), error = %e, "cannot record fault");
            return Outcome::Skipped(format!(
                "the fault was not applied because it could not be recorded: {e}"
            ));
        }
        tracing::info!(nemesis = self.kind.name(), ?nodes, "applying fault");
        let (done, errors) = self.on_each(&nodes, true).await;
        if errors.is_empty() {
            Outcome::Applied(json!({ "target": target.to_value(), "nodes": done }))
        } else {
            // Every chosen node stays in the ledger: heal retries those whose effect is unknown.
            Outcome::Indeterminate(describe("did", self.kind.name(), &done, &errors))
        }
    }

    /// The nodes `target` names, among those not already faulted, in cluster order.
    async fn select(&self, target: &Target, rng: &mut StdRng) -> Result<Vec<String>, String> {
        let all = self.control.nodes();
        let free: Vec<String> = all
            .iter()
            .filter(|n| !self.ledger.is_faulted(n))
            .cloned()
            .collect();
        let majority = all.len() / 2 + 1;
        let count = match target {
            Target::One => 1,
            // Strictly fewer than half, so the others can still form a majority (Jepsen
            // takes `majority - 1`, which is half of an even cluster).
            Target::Minority => (all.len().saturating_sub(1)) / 2,
            Target::Majority => majority,
            Target::All => all.len(),
            Target::Leader => {
                let Some(leader) = self.control.leader().await else {
                    return Err("the system cannot name its leader".to_string());
                };
                return self.explicit(&all, &[leader]);
            }
            Target::Nodes(nodes) => return self.explicit(&all, nodes),
        };
        if count == 0 {
            return Err(format!(
                "a cluster of {} node(s) has no minority to fault",
                all.len()
            ));
        }
        if free.is_empty() {
            return Err("every node is already killed or paused".to_string());
        }
        let chosen: Vec<&String> = free.choose_multiple(rng, count).collect();
        Ok(all.iter().filter(|n| chosen.contains(n)).cloned().collect())
    }

    fn explicit(&self, all: &[String], nodes: &[String]) -> Result<Vec<String>, String> {
        if let Some(unknown) = nodes.iter().find(|n| !all.contains(n)) {
            return Err(format!(
                "{unknown} is not one of the nodes ({})",
                all.join(", ")
            ));
        }
        let (busy, free): (Vec<&String>, Vec<&String>) =
            nodes.iter().partition(|n| self.ledger.is_faulted(n));
        if free.is_empty() {
            let busy: Vec<&str> = busy.iter().map(|n| n.as_str()).collect();
            let verb = if busy.len() == 1 { "is" } else { "are" };
            return Err(format!(
                "{} {verb} already killed or paused",
                busy.join(", ")
            ));
        }
        Ok(all.iter().filter(|n| free.contains(n)).cloned().collect())
    }

    /// Undo the fault on every node the ledger holds for it. `None` when there is none.
    async fn undo_all(&self) -> Option<Outcome> {
        let fault = self.kind.fault();
        let nodes = self.ledger.nodes(fault);
        if nodes.is_empty() {
            return None;
        }
        tracing::info!(nemesis = self.kind.name(), ?nodes, "undoing fault");
        let (done, errors) = self.on_each(&nodes, false).await;
        if let Err(e) = self.ledger.clear(fault, &done) {
            tracing::error!(nemesis = self.kind.name(), error = %e, "cannot update the ledger");
            return Some(Outcome::Indeterminate(format!(
                "{} {} but could not update the ledger, so heal will try them again: {e}",
                self.kind.undo_verb(),
                done.join(", ")
            )));
        }
        Some(if errors.is_empty() {
            Outcome::Applied(json!({ "nodes": done }))
        } else {
            Outcome::Indeterminate(describe(
                self.kind.undo_verb(),
                self.kind.name(),
                &done,
                &errors,
            ))
        })
    }

    /// Apply (or undo) the fault on every node at once. Returns the nodes where it worked,
    /// in the given order, and the errors of the others.
    async fn on_each(&self, nodes: &[String], apply: bool) -> (Vec<String>, Vec<String>) {
        let mut tasks = JoinSet::new();
        for (i, node) in nodes.iter().enumerate() {
            let (control, node, kind) = (self.control.clone(), node.clone(), self.kind);
            tasks.spawn(async move {
                let result = if apply {
                    kind.apply(control.as_ref(), &node).await
                } else {
                    kind.undo(control.as_ref(), &node).await
                };
                (i, result)
            });
        }
        let mut results: Vec<Option<Result<(), String>>> = vec![None; nodes.len()];
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((i, r)) => results[i] = Some(r.map_err(|e| e.to_string())),
                Err(e) => tracing::error!(error = %e, "a process control task failed"),
            }
        }
        let mut done = Vec::new();
        let mut errors = Vec::new();
        for (node, result) in nodes.iter().zip(results) {
            match result {
                Some(Ok(())) => done.push(node.clone()),
                Some(Err(e)) => errors.push(e),
                None => errors.push(format!("node {node}: the control task panicked")),
            }
        }
        (done, errors)
    }
}

/// `"did kill n1; node n2: kill failed: ..."`
fn describe(verb: &str, what: &str, done: &[String], errors: &[String]) -> String {
    let mut parts = Vec::new();
    if !done.is_empty() {
        parts.push(if verb == "did" {
            format!("did {what} {}", done.join(", "))
        } else {
            format!("{verb} {}", done.join(", "))
        });
    }
    parts.extend(errors.iter().cloned());
    parts.join("; ")
}

#[async_trait]
impl Nemesis for ProcessNemesis {
    fn name(&self) -> &str {
        self.kind.name()
    }

    fn fs(&self) -> Vec<String> {
        vec![
            self.kind.start_f().to_string(),
            self.kind.stop_f().to_string(),
        ]
    }

    async fn invoke(&self, request: &FaultRequest, rng: &mut StdRng) -> Outcome {
        let _busy = self.busy.lock().await;
        if request.f == self.kind.start_f() {
            self.start(&request.value, rng).await
        } else if request.f == self.kind.stop_f() {
            self.undo_all().await.unwrap_or_else(|| {
                Outcome::Skipped(format!("no node is {}", self.kind.fault().as_str()))
            })
        } else {
            Outcome::Skipped(format!(
                "the {} nemesis does not understand {:?}; it understands {}",
                self.kind.name(),
                request.f,
                self.fs().join(", ")
            ))
        }
    }

    async fn heal(&self) -> Vec<Outcome> {
        let _busy = self.busy.lock().await;
        match self.undo_all().await {
            Some(Outcome::Applied(value)) => {
                let mut value = value;
                value["f"] = json!(self.kind.stop_f());
                vec![Outcome::Applied(value)]
            }
            Some(other) => vec![other],
            None => Vec::new(),
        }
    }
}

/// The requests of a fault that cannot be undone (damaged files, lost writes): `start-NAME`
/// runs `start`; `stop-NAME` only starts again a node the fault left down; anything else
/// is skipped, naming the request.
pub(crate) async fn irreversible_fault(
    name: &str,
    request: &FaultRequest,
    start: impl std::future::Future<Output = Outcome>,
    ledger: Arc<Ledger>,
    control: Arc<dyn ProcessControl>,
) -> Outcome {
    if request.f == format!("start-{name}") {
        start.await
    } else if request.f == format!("stop-{name}") {
        match heal_ledger(ledger, control).await.into_iter().next() {
            Some(outcome) => outcome,
            None => Outcome::Skipped(format!("a {name} cannot be undone, and every node is up")),
        }
    } else {
        Outcome::Skipped(format!(
            "the {name} nemesis does not understand {:?}",
            request.f
        ))
    }
}

/// Undo every process fault `ledger` holds (resume paused nodes, then restart killed ones),
/// whichever nemeses recorded them: what `faultline heal RUN_DIR` runs after
/// [`Ledger::load`].
pub async fn heal_ledger(ledger: Arc<Ledger>, control: Arc<dyn ProcessControl>) -> Vec<Outcome> {
    let mut outcomes = ProcessNemesis::pause(control.clone(), ledger.clone())
        .heal()
        .await;
    outcomes.extend(ProcessNemesis::kill(control, ledger).heal().await);
    outcomes
}

#[cfg(test)]
#[path = "process_tests.rs"]
mod tests;
