//! The `membership` nemesis (Jepsen's `membership` package): `start-membership` removes one
//! member from the cluster through the system's own API, `stop-membership` (and heal) adds
//! every removed member back, so the cluster ends with the membership it started with.
//!
//! It knows nothing of any system: the controller implements [`Membership`] per system (etcd's
//! `member remove`/`member add`, openraft's `change_membership`, ...). The nemesis reads the
//! current view before every change and never removes a member when that would leave fewer
//! than a majority of the original members in the view, nor fewer healthy members (not
//! killed or paused, by the [`Ledger`]) than the smaller cluster's quorum. A removed member is
//! recorded in the ledger *before* it is removed and forgotten only once it was added back.
//!
//! Every applied change is recorded with the view before and after, read back from the
//! system: `{"removed": "n3", "view_before": [...], "view_after": [...]}` and
//! `{"added": ["n3"], "view_after": [...], "restored": true}`.
//!
//! ```
//! use std::collections::BTreeSet;
//! use std::sync::{Arc, Mutex};
//!
//! use async_trait::async_trait;
//! use faultline_nemeses::ledger::Ledger;
//! use faultline_nemeses::membership::{Membership, MembershipError, MembershipNemesis};
//! use faultline_nemeses::nemesis::{FaultRequest, Nemesis, Outcome};
//! use faultline_nemeses::start_stop::Serialised;
//! use rand::{rngs::StdRng, SeedableRng};
//! use serde_json::{json, Value};
//!
//! /// A cluster whose membership is a set of names.
//! struct Set(Mutex<BTreeSet<String>>);
//!
//! #[async_trait]
//! impl Membership for Set {
//!     async fn members(&self) -> Result<Vec<String>, MembershipError> {
//!         Ok(self.0.lock().unwrap().iter().cloned().collect())
//!     }
//!     async fn remove(&self, node: &str) -> Result<Value, MembershipError> {
//!         self.0.lock().unwrap().remove(node);
//!         Ok(json!({}))
//!     }
//!     async fn add(&self, node: &str) -> Result<Value, MembershipError> {
//!         self.0.lock().unwrap().insert(node.to_string());
//!         Ok(json!({}))
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let nodes: Vec<String> = ["n1", "n2", "n3"].map(String::from).to_vec();
//! let set = Arc::new(Set(Mutex::new(nodes.iter().cloned().collect())));
//! let ledger = Arc::new(Ledger::in_memory());
//! let nemesis = Serialised::new(MembershipNemesis::new(set.clone(), nodes, ledger));
//! let mut rng = StdRng::seed_from_u64(1);
//! let out = nemesis.invoke(&FaultRequest::new("start-membership", json!("n3")), &mut rng).await;
//! assert_eq!(out.to_value()["view_after"], json!(["n1", "n2"]));
//! // A second removal would leave 1 of 3 original members: refused.
//! let out = nemesis.invoke(&FaultRequest::new("start-membership", Value::Null), &mut rng).await;
//! assert!(matches!(out, Outcome::Skipped(_)));
//! let healed = nemesis.heal().await;
//! assert_eq!(healed[0].to_value()["view_after"], json!(["n1", "n2", "n3"]));
//! # });
//! ```
//!
//! This module must never act on a node except through [`Membership`].

use std::sync::Arc;

use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use serde_json::{json, Value};

use crate::ledger::Ledger;
use crate::nemesis::Outcome;
use crate::start_stop::StartStop;

/// Why a membership request did not (certainly) take effect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MembershipError {
    /// The system refused, or the request was never sent: the membership is unchanged.
    #[error("not changed: {0}")]
    Refused(String),
    /// The request may have taken effect (a timeout, a lost answer).
    #[error("unknown whether it changed: {0}")]
    Unknown(String),
}

/// A system's membership API, as the controller implements it for one cluster.
///
/// `remove` and `add` must be safe to repeat: removing a node that is no member and adding
/// one that already is succeed without changing anything (heal retries them after a failure
/// whose effect was unknown). Nodes are named as the target names them (`n1`, ...).
#[async_trait]
pub trait Membership: Send + Sync {
    /// The voting members the cluster names now, in name order.
    async fn members(&self) -> Result<Vec<String>, MembershipError>;
    /// Remove `node` from the cluster; what was done (ids, mechanism), as JSON.
    async fn remove(&self, node: &str) -> Result<Value, MembershipError>;
    /// Add `node` back (or as a fresh member), and wait until it serves; what was done.
    async fn add(&self, node: &str) -> Result<Value, MembershipError>;
}

/// The `membership` nemesis.
pub struct MembershipNemesis {
    membership: Arc<dyn Membership>,
    original: Vec<String>,
    ledger: Arc<Ledger>,
}

impl MembershipNemesis {
    /// Change the membership of a cluster that starts with `original` as its members.
    pub fn new(
        membership: Arc<dyn Membership>,
        original: Vec<String>,
        ledger: Arc<Ledger>,
    ) -> Self {
        let mut original = original;
        original.sort();
        MembershipNemesis {
            membership,
            original,
            ledger,
        }
    }

    /// The members `view` may lose one of: original members, each leaving a majority of the
    /// original members and a quorum of healthy ones.
    fn removable(&self, view: &[String]) -> Result<Vec<String>, String> {
        let majority = self.original.len() / 2 + 1;
        if view.len() <= majority {
            return Err(format!(
                "the cluster has {} member(s) ({}); removing one would leave fewer than a majority \
                 ({majority}) of the original {}",
                view.len(),
                view.join(", "),
                self.original.len()
            ));
        }
        let quorum = (view.len() - 1) / 2 + 1;
        let candidates: Vec<String> = view
            .iter()
            .filter(|n| self.original.contains(n))
            .filter(|n| {
                let healthy = view
                    .iter()
                    .filter(|m| m != n && !self.ledger.is_faulted(m))
                    .count();
                healthy >= quorum
            })
            .cloned()
            .collect();
        if candidates.is_empty() {
            return Err(format!(
                "removing any member of {} would leave fewer than {quorum} healthy (not killed or \
                 paused) members",
                view.join(", ")
            ));
        }
        Ok(candidates)
    }

    /// The membership read back after a change (`null` with the reason when it cannot be).
    async fn view_after(&self) -> Value {
        match self.membership.members().await {
            Ok(view) => json!(view),
            Err(e) => json!({ "unreadable": e.to_string() }),
        }
    }
}

fn merge_into(target: &mut Value, extra: Value) {
    if let (Some(t), Value::Object(e)) = (target.as_object_mut(), extra) {
        t.extend(e);
    }
}

#[async_trait]
impl StartStop for MembershipNemesis {
    const FAULT: &'static str = "membership";
    const NOTHING_TO_STOP: &'static str = "no member is removed";

    async fn start(&self, value: &Value, rng: &mut StdRng) -> Outcome {
        let view = match self.membership.members().await {
            Ok(view) => view,
            Err(e) => return Outcome::Skipped(format!("cannot read the membership: {e}")),
        };
        let candidates = match self.removable(&view) {
            Ok(candidates) => candidates,
            Err(why) => return Outcome::Skipped(why),
        };
        let node = match value {
            Value::Null => candidates.choose(rng).expect("not empty").clone(),
            Value::String(node) if candidates.contains(node) => node.clone(),
            Value::String(node) => {
                return Outcome::Skipped(format!(
                    "{node} cannot be removed now; removable: {}",
                    candidates.join(", ")
                ))
            }
            other => {
                return Outcome::Skipped(format!(
                    "start-membership takes a node name or null, not {other}"
                ))
            }
        };
        if let Err(e) = self.ledger.update(|s| {
            s.removed_members.insert(node.clone());
        }) {
            return Outcome::Skipped(format!(
                "not removed, because the removal could not be recorded: {e}"
            ));
        }
        tracing::info!(nemesis = "membership", %node, ?view, "removing a member");
        match self.membership.remove(&node).await {
            Ok(detail) => {
                let mut value = json!({ "removed": node, "view_before": view });
                merge_into(&mut value, detail);
                value["view_after"] = self.view_after().await;
                Outcome::Applied(value)
            }
            Err(MembershipError::Refused(why)) => {
                let _ = self.ledger.update(|s| {
                    s.removed_members.remove(&node);
                });
                Outcome::Skipped(format!("{node} was not removed: {why}"))
            }
            // The node stays recorded as removed: adding it back is safe either way.
            Err(e @ MembershipError::Unknown(_)) => {
                Outcome::Indeterminate(format!("removing {node}: {e}"))
            }
        }
    }

    /// Add back every removed member; `None` when none is removed.
    async fn stop(&self) -> Option<Outcome> {
        let removed: Vec<String> = self.ledger.snapshot().removed_members.into_iter().collect();
        if removed.is_empty() {
            return None;
        }
        tracing::info!(nemesis = "membership", ?removed, "adding members back");
        let mut added = Vec::new();
        let mut details = serde_json::Map::new();
        let mut errors = Vec::new();
        for node in &removed {
            match self.membership.add(node).await {
                Ok(detail) => {
                    if let Err(e) = self.ledger.update(|s| {
                        s.removed_members.remove(node);
                    }) {
                        errors.push(format!("added {node} but could not update the ledger: {e}"));
                    }
                    added.push(node.clone());
                    if !detail.is_null() && detail != json!({}) {
                        details.insert(node.clone(), detail);
                    }
                }
                Err(e) => errors.push(format!("adding {node}: {e}")),
            }
        }
        let view_after = self.view_after().await;
        let restored = view_after == json!(self.original);
        if errors.is_empty() {
            let mut value =
                json!({ "added": added, "view_after": view_after, "restored": restored });
            if !details.is_empty() {
                value["detail"] = Value::Object(details);
            }
            Some(Outcome::Applied(value))
        } else {
            let done = if added.is_empty() {
                String::new()
            } else {
                format!("added {}; ", added.join(", "))
            };
            Some(Outcome::Indeterminate(format!(
                "{done}{}; the membership now: {view_after}",
                errors.join("; ")
            )))
        }
    }
}

#[cfg(test)]
#[path = "membership_tests.rs"]
mod tests;
