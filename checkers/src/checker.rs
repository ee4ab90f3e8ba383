//! The `Checker` role: a pure, synchronous function from a history to a verdict.
//!
//! Verdicts compose as Jepsen's do: `false` beats `unknown` beats `true`. A checker that
//! cannot finish within its budget answers `unknown`, never a guess; a checker that errs
//! (e.g. a malformed history) answers `unknown` with the error as its reason.
//!
//! This module must never perform I/O beyond what a caller hands it.
//!
//! ```
//! use faultline_checkers::checker::{CheckResult, Checker, Validity};
//! use faultline_checkers::history::History;
//!
//! struct NonEmpty;
//! impl Checker for NonEmpty {
//!     fn name(&self) -> &str { "non-empty" }
//!     fn check(&self, history: &History) -> CheckResult {
//!         if history.is_empty() {
//!             CheckResult::new(self.name(), Validity::Invalid).reason("the history has no ops")
//!         } else {
//!             CheckResult::new(self.name(), Validity::Valid)
//!         }
//!     }
//! }
//! assert_eq!(NonEmpty.check(&History::default()).valid, Validity::Invalid);
//! ```

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::history::History;

/// A verdict. Serialized as Jepsen does: `true`, `false` or `"unknown"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Validity {
    /// The history is legal under the checked property.
    Valid,
    /// The history is certainly not legal; the result says why.
    Invalid,
    /// The checker could not decide (budget exhausted, or it failed).
    Unknown,
}

impl Validity {
    /// Combine two verdicts: `Invalid` beats `Unknown` beats `Valid`.
    pub fn and(self, other: Validity) -> Validity {
        use Validity::*;
        match (self, other) {
            (Invalid, _) | (_, Invalid) => Invalid,
            (Unknown, _) | (_, Unknown) => Unknown,
            _ => Valid,
        }
    }

    /// The process exit code Jepsen's CLI uses for this verdict: 0, 1 or 2.
    pub fn exit_code(self) -> i32 {
        match self {
            Validity::Valid => 0,
            Validity::Invalid => 1,
            Validity::Unknown => 2,
        }
    }

    /// `valid`, `invalid` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Validity::Valid => "valid",
            Validity::Invalid => "invalid",
            Validity::Unknown => "unknown",
        }
    }
}

display_by_name!(Validity, as_str);

impl Serialize for Validity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Validity::Valid => s.serialize_bool(true),
            Validity::Invalid => s.serialize_bool(false),
            Validity::Unknown => s.serialize_str("unknown"),
        }
    }
}

impl<'de> Deserialize<'de> for Validity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Bool(true) => Ok(Validity::Valid),
            Value::Bool(false) => Ok(Validity::Invalid),
            Value::String(s) if s == "unknown" => Ok(Validity::Unknown),
            other => Err(serde::de::Error::custom(format!(
                "expected true, false or \"unknown\", found {other}"
            ))),
        }
    }
}

/// What a checker concluded and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The checker's name, e.g. `linearizable`.
    pub checker: String,
    /// The verdict.
    pub valid: Validity,
    /// Sentences a person reads: why invalid or unknown, naming ops by index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// Structured details (counts, counterexamples) for reports and `--json`.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub details: Value,
}

impl CheckResult {
    /// A result with no reasons or details.
    pub fn new(checker: impl Into<String>, valid: Validity) -> Self {
        CheckResult {
            checker: checker.into(),
            valid,
            reasons: Vec::new(),
            details: Value::Null,
        }
    }

    /// Add a reason.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reasons.push(reason.into());
        self
    }

    /// Set the structured details.
    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// `unknown`: the history cannot be checked, for the reason `why` (a malformed op,
    /// say).
    pub fn uncheckable(checker: impl Into<String>, why: impl fmt::Display) -> Self {
        CheckResult::new(checker, Validity::Unknown)
            .reason(format!("the history cannot be checked: {why}"))
    }

    /// `result`, or [`uncheckable`](Self::uncheckable) for its error.
    pub fn or_uncheckable<E: fmt::Display>(checker: &str, result: Result<Self, E>) -> Self {
        result.unwrap_or_else(|why| CheckResult::uncheckable(checker, why))
    }
}

/// A consistency checker: a pure, synchronous function of the history.
pub trait Checker: Send + Sync {
    /// A short stable name, used in results and reports.
    fn name(&self) -> &str;
    /// Decide whether the history is legal.
    fn check(&self, history: &History) -> CheckResult;
    /// Whether an `invalid` verdict on a prefix of a history (ops still pending) holds for
    /// every history that extends it, so the checker can watch a run as it goes. Jepsen's
    /// `set-full` is not: an element missing from the last read so far may be read later.
    fn prefix_closed(&self) -> bool {
        true
    }
}

/// A checker whose judgement can fail: on a history it cannot read (ops that do not pair,
/// values of the wrong shape) it answers `unknown` saying why, never a guess. Every `Judge`
/// is a [`Checker`].
pub trait Judge: Send + Sync {
    /// As [`Checker::name`].
    fn name(&self) -> &str;
    /// The verdict on `history`, or why it cannot be checked.
    fn judge(&self, history: &History) -> Result<CheckResult, String>;
    /// As [`Checker::prefix_closed`].
    fn prefix_closed(&self) -> bool {
        true
    }
}

impl<J: Judge> Checker for J {
    fn name(&self) -> &str {
        Judge::name(self)
    }

    fn check(&self, history: &History) -> CheckResult {
        CheckResult::or_uncheckable(Judge::name(self), self.judge(history))
    }

    fn prefix_closed(&self) -> bool {
        Judge::prefix_closed(self)
    }
}

/// Run several checkers and combine their verdicts (`false` > `unknown` > `true`).
///
/// A checker that panics yields `unknown` with the panic message, so one broken checker
/// never hides another's `false`.
pub fn check_all(checkers: &[Box<dyn Checker>], history: &History) -> (Validity, Vec<CheckResult>) {
    let mut overall = Validity::Valid;
    let mut results = Vec::with_capacity(checkers.len());
    for checker in checkers {
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| checker.check(history)))
                .unwrap_or_else(|panic| {
                    let message = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "unknown panic".to_string());
                    CheckResult::new(checker.name(), Validity::Unknown)
                        .reason(format!("the checker crashed: {message}"))
                });
        overall = overall.and(result.valid);
        results.push(result);
    }
    (overall, results)
}

#[cfg(test)]
impl CheckResult {
    /// Test support: panics unless the verdict is `valid` and the first reason contains
    /// `needle`, showing the whole result when it is not.
    #[track_caller]
    pub(crate) fn assert_verdict(&self, valid: Validity, needle: &str) {
        assert_eq!(self.valid, valid, "{self:?}");
        assert!(
            self.reasons.first().is_some_and(|r| r.contains(needle)),
            "no first reason containing {needle:?}: {:?}",
            self.reasons
        );
    }

    /// Test support: panics unless the verdict is `invalid` for one reason only, which
    /// starts with `reason` (a per-key checker's `key b: ...`).
    #[track_caller]
    pub(crate) fn assert_invalid_for(&self, reason: &str) {
        assert_eq!(self.valid, Validity::Invalid, "{self:?}");
        assert_eq!(self.reasons.len(), 1, "{:?}", self.reasons);
        assert!(self.reasons[0].starts_with(reason), "{:?}", self.reasons);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composition_order() {
        use Validity::*;
        assert_eq!(Valid.and(Unknown), Unknown);
        assert_eq!(Unknown.and(Invalid), Invalid);
        assert_eq!(Valid.and(Valid), Valid);
    }

    #[test]
    fn validity_serializes_like_jepsen() {
        assert_eq!(serde_json::to_string(&Validity::Valid).unwrap(), "true");
        assert_eq!(
            serde_json::to_string(&Validity::Unknown).unwrap(),
            "\"unknown\""
        );
        let v: Validity = serde_json::from_str("false").unwrap();
        assert_eq!(v, Validity::Invalid);
    }

    struct Panics;
    impl Checker for Panics {
        fn name(&self) -> &str {
            "panics"
        }
        fn check(&self, _: &History) -> CheckResult {
            panic!("boom")
        }
    }

    #[test]
    fn a_crashing_checker_is_unknown() {
        let (v, results) = check_all(&[Box::new(Panics)], &History::default());
        assert_eq!(v, Validity::Unknown);
        assert!(results[0].reasons[0].contains("boom"));
    }
}
