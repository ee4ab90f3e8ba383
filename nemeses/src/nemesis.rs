//! The Nemesis role: something that understands a few fault functions (`start-kill`,
//! `stop-kill`, ...), applies them when asked, and can undo everything it still has applied.
//!
//! What the system under test did is data: a nemesis answers every request with an
//! [`Outcome`] (`Applied`, `Skipped` with why, or `Indeterminate`), never an `Err`. This
//! module must never know about histories: the controller turns outcomes into ops.
//!
//! ```
//! use async_trait::async_trait;
//! use faultline_nemeses::nemesis::{FaultRequest, Nemesis, Outcome};
//! use rand::{rngs::StdRng, SeedableRng};
//! use serde_json::json;
//!
//! /// A nemesis that only counts how often it was started.
//! struct Counter(std::sync::atomic::AtomicUsize);
//!
//! #[async_trait]
//! impl Nemesis for Counter {
//!     fn name(&self) -> &str {
//!         "counter"
//!     }
//!     fn fs(&self) -> Vec<String> {
//!         vec!["start-count".into(), "stop-count".into()]
//!     }
//!     async fn invoke(&self, request: &FaultRequest, _rng: &mut StdRng) -> Outcome {
//!         match request.f.as_str() {
//!             "start-count" => {
//!                 let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
//!                 Outcome::Applied(json!({ "count": n + 1 }))
//!             }
//!             "stop-count" => Outcome::Applied(json!(null)),
//!             other => Outcome::Skipped(format!("counter does not understand {other}")),
//!         }
//!     }
//!     async fn heal(&self) -> Vec<Outcome> {
//!         Vec::new()
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let nemesis = Counter(Default::default());
//! let mut rng = StdRng::seed_from_u64(7);
//! let outcome = nemesis.invoke(&FaultRequest::new("start-count", json!(null)), &mut rng).await;
//! assert_eq!(outcome, Outcome::Applied(json!({ "count": 1 })));
//! # });
//! ```

use async_trait::async_trait;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One request to a nemesis: a fault function and its argument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRequest {
    /// The fault function, e.g. `start-kill`, `stop-kill`, `start-pause`, `stop-pause`.
    pub f: String,
    /// Its argument: for process faults the target (`"one"`, `"majority"`, `["n1"]`), or
    /// `null` to let the nemesis choose.
    pub value: Value,
}

impl FaultRequest {
    /// A request for `f` with `value`.
    pub fn new(f: impl Into<String>, value: Value) -> Self {
        FaultRequest { f: f.into(), value }
    }
}

/// What came of one request to a nemesis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "lowercase")]
pub enum Outcome {
    /// The fault was applied (or undone): what was done to which node, e.g.
    /// `{"nodes": ["n2"]}`.
    Applied(Value),
    /// Nothing was done, and why (no node left to fault, the leader is unknown, ...).
    Skipped(String),
    /// The action was attempted and its effect is unknown; heal will retry it.
    Indeterminate(String),
}

impl Outcome {
    /// Whether the fault was applied.
    pub fn is_applied(&self) -> bool {
        matches!(self, Outcome::Applied(_))
    }

    /// Whether the action's effect is unknown.
    pub fn is_indeterminate(&self) -> bool {
        matches!(self, Outcome::Indeterminate(_))
    }

    /// The value to record for this outcome: the applied value itself, or
    /// `{"skipped": why}` / `{"indeterminate": why}`.
    pub fn to_value(&self) -> Value {
        match self {
            Outcome::Applied(v) => v.clone(),
            Outcome::Skipped(why) => serde_json::json!({ "skipped": why }),
            Outcome::Indeterminate(why) => serde_json::json!({ "indeterminate": why }),
        }
    }
}

/// A fault injector: Jepsen's Nemesis.
///
/// Implementations must be safe to call from several tasks: the controller may call `heal`
/// from its Ctrl-C handler while a schedule is running. `heal` undoes everything still
/// applied, reports one outcome per undo it attempted (nothing to undo: an empty list), and
/// is idempotent: a second call right after a successful one returns an empty list.
#[async_trait]
pub trait Nemesis: Send + Sync {
    /// The name given to `--nemesis` (`kill`, `pause`).
    fn name(&self) -> &str;
    /// The fault functions it understands, start/stop pairs first (`start-kill`, `stop-kill`).
    fn fs(&self) -> Vec<String>;
    /// Apply one request. Random choices (which node) come from `rng`, so a seed replays them.
    async fn invoke(&self, request: &FaultRequest, rng: &mut StdRng) -> Outcome;
    /// Undo everything still applied; idempotent.
    async fn heal(&self) -> Vec<Outcome>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outcomes_serialize_with_their_kind() {
        let applied = Outcome::Applied(json!({"nodes": ["n2"]}));
        assert_eq!(
            serde_json::to_value(&applied).unwrap(),
            json!({"outcome": "applied", "detail": {"nodes": ["n2"]}})
        );
        let skipped = Outcome::Skipped("no node left".into());
        let text = serde_json::to_string(&skipped).unwrap();
        assert_eq!(text, r#"{"outcome":"skipped","detail":"no node left"}"#);
        assert_eq!(serde_json::from_str::<Outcome>(&text).unwrap(), skipped);
    }

    #[test]
    fn to_value_keeps_the_reason() {
        assert_eq!(
            Outcome::Indeterminate("timeout".into()).to_value(),
            json!({"indeterminate": "timeout"})
        );
        assert_eq!(Outcome::Applied(json!([1])).to_value(), json!([1]));
        assert!(Outcome::Applied(json!(null)).is_applied());
        assert!(!Outcome::Skipped(String::new()).is_indeterminate());
    }
}
