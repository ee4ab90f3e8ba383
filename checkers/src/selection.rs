//! Which checkers a history goes to, chosen once by its model's name: Elle's analyses for
//! the transactional models, the classic checkers for Jepsen's classic workloads, and
//! linearizability for every other model, each with the caller's time and memory budget.
//!
//! `faultline test`, `faultline check` and the recording benchmark all choose here, so a
//! model means the same checkers everywhere. This file must never run a check nor know
//! where a history came from.

use std::time::Duration;

use serde_json::Value;
use thiserror::Error;

use crate::checker::Checker;
use crate::classic;
use crate::linearizable::{Linearizable, ProcessMemory, SearchOptions};
use crate::models::ModelError;
use crate::txn::{self, ConsistencyModel, TxnKind, TxnOptions, VersionOrders};

/// The budget and options every chosen checker runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckBudget {
    /// Give up with `unknown` after this long.
    pub timeout: Duration,
    /// Give up with `unknown` when the search or graph would need more bytes than this.
    pub memory_limit_bytes: u64,
    /// Linearizability: check each key on its own (`false` is `--no-partition`).
    pub partition: bool,
    /// Transactional models: the consistency models the history must satisfy, by name as
    /// `--consistency-models` takes them; none means `strict-serializable`.
    pub consistency_models: Vec<String>,
    /// rw-register histories: where version orders come from (Elle's `--wfr-keys`,
    /// `--sequential-keys`, `--linearizable-keys`); default writes follow reads.
    pub version_orders: VersionOrders,
    /// The process's resident memory, for linearizability to hold `memory_limit_bytes` for
    /// the whole process (see [`ProcessMemory`]).
    pub process_memory: Option<ProcessMemory>,
}

impl Default for CheckBudget {
    /// The linearizability checker's defaults: 60 s, 2 GiB, partitioned by key,
    /// strict serializability.
    fn default() -> Self {
        let search = SearchOptions::default();
        CheckBudget {
            timeout: search.timeout.unwrap_or(Duration::from_secs(60)),
            memory_limit_bytes: search.memory_limit_bytes.unwrap_or(2 << 30),
            partition: search.partition,
            consistency_models: Vec::new(),
            version_orders: VersionOrders::default(),
            process_memory: None,
        }
    }
}

/// The checkers chosen for a model.
pub enum Selection {
    /// A transactional model: Elle's analysis of `kind` with these options. Kept apart so
    /// a caller can run [`txn::check`] and report malformed input as an error.
    Txn { kind: TxnKind, options: TxnOptions },
    /// One of Jepsen's classic workloads' checkers (a queue may add a linearizability one).
    Classic(Vec<Box<dyn Checker>>),
    /// Linearizability against one of the built-in sequential models.
    Linearizable(Linearizable),
}

impl Selection {
    /// The chosen checkers, ready for [`check_all`](crate::checker::check_all).
    pub fn into_checkers(self) -> Vec<Box<dyn Checker>> {
        match self {
            Selection::Txn { kind, options } => vec![txn::checker(kind, options)],
            Selection::Classic(checkers) => checkers,
            Selection::Linearizable(checker) => vec![Box::new(checker)],
        }
    }
}

impl std::fmt::Debug for Selection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selection::Txn { kind, options } => f
                .debug_struct("Txn")
                .field("kind", kind)
                .field("options", options)
                .finish(),
            Selection::Classic(checkers) => f
                .debug_tuple("Classic")
                .field(&checkers.iter().map(|c| c.name()).collect::<Vec<_>>())
                .finish(),
            Selection::Linearizable(checker) => {
                f.debug_tuple("Linearizable").field(checker).finish()
            }
        }
    }
}

/// Why no checker could be chosen.
#[derive(Debug, Error)]
pub enum SelectionError {
    /// The model is none the checkers know: the caller's input is wrong.
    #[error("{0}")]
    UnknownModel(#[from] ModelError),
    /// The model is known but its checker cannot be built with these parameters; a run
    /// gives `unknown` with this reason.
    #[error("{checker}: {reason}")]
    Unavailable { checker: String, reason: String },
}

/// The checkers for histories of `model` (with the workload's `initial` parameters):
/// the transactional models first, then the classic ones, then linearizability.
pub fn select(
    model: &str,
    initial: Option<&Value>,
    budget: &CheckBudget,
) -> Result<Selection, SelectionError> {
    let unavailable = |reason: String| SelectionError::Unavailable {
        checker: model.to_string(),
        reason,
    };
    if let Ok(kind) = model.parse::<TxnKind>() {
        let mut consistency_models = budget
            .consistency_models
            .iter()
            .map(|name| name.parse::<ConsistencyModel>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| unavailable(format!("--consistency-models: {e}")))?;
        if consistency_models.is_empty() {
            consistency_models.push(ConsistencyModel::STRICT_SERIALIZABLE);
        }
        let options = TxnOptions {
            consistency_models,
            timeout: Some(budget.timeout),
            memory_limit_bytes: Some(budget.memory_limit_bytes),
            version_orders: budget.version_orders,
            ..TxnOptions::default()
        };
        return Ok(Selection::Txn { kind, options });
    }
    if let Some(classic) = classic::checkers(model, initial) {
        return classic.map(Selection::Classic).map_err(unavailable);
    }
    let checker = Linearizable::new(model, initial.cloned())?.with_options(SearchOptions {
        timeout: Some(budget.timeout),
        memory_limit_bytes: Some(budget.memory_limit_bytes),
        partition: budget.partition,
        process_memory: budget.process_memory.clone(),
        ..SearchOptions::default()
    });
    Ok(Selection::Linearizable(checker))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(selection: Selection) -> Vec<String> {
        selection
            .into_checkers()
            .iter()
            .map(|c| c.name().to_string())
            .collect()
    }

    #[test]
    fn each_family_of_models_gets_its_checkers() {
        let budget = CheckBudget::default();
        let chosen = |model, initial: Option<Value>| {
            names(select(model, initial.as_ref(), &budget).unwrap())
        };
        assert_eq!(chosen("list-append", None), ["elle-list-append"]);
        assert_eq!(chosen("rw-register", None), ["elle-rw-register"]);
        assert_eq!(chosen("bank", None), ["bank"]);
        assert_eq!(
            chosen("total-queue", Some(json!({"linearizable": true}))).len(),
            2
        );
        assert_eq!(chosen("cas-register", None), ["linearizable"]);
    }

    #[test]
    fn the_budget_reaches_the_chosen_checker() {
        let budget = CheckBudget {
            timeout: Duration::from_secs(3),
            memory_limit_bytes: 1 << 20,
            partition: false,
            consistency_models: vec!["serializable".into()],
            version_orders: VersionOrders {
                wfr_keys: false,
                sequential_keys: true,
                linearizable_keys: true,
            },
            process_memory: None,
        };
        match select("list-append", None, &budget).unwrap() {
            Selection::Txn { options, .. } => {
                assert_eq!(options.version_orders, budget.version_orders);
                assert_eq!(options.timeout, Some(Duration::from_secs(3)));
                assert_eq!(options.memory_limit_bytes, Some(1 << 20));
                assert_eq!(options.consistency_models, [ConsistencyModel::SERIALIZABLE]);
            }
            other => panic!("{other:?}"),
        }
        let default = select("list-append", None, &CheckBudget::default()).unwrap();
        match default {
            Selection::Txn { options, .. } => assert_eq!(
                options.consistency_models,
                [ConsistencyModel::STRICT_SERIALIZABLE]
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_models_and_parameters_are_told_apart() {
        let budget = CheckBudget::default();
        assert!(matches!(
            select("no-such-model", None, &budget),
            Err(SelectionError::UnknownModel(_))
        ));
        let bad = select("counter", Some(&json!({"x": 1})), &budget).unwrap_err();
        assert!(
            matches!(&bad, SelectionError::Unavailable { checker, .. } if checker == "counter"),
            "{bad}"
        );
        let bad_model = CheckBudget {
            consistency_models: vec!["no-such".into()],
            ..CheckBudget::default()
        };
        let e = select("rw-register", None, &bad_model).unwrap_err();
        assert!(e.to_string().contains("--consistency-models"), "{e}");
    }
}
