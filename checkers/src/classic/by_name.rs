//! Building a classic checker from a workload's model name and `initial` JSON: the one
//! place that maps `set-full`, `bank`, `counter`, `unique-ids` and `total-queue` to their
//! checkers and parses their parameters. It never checks anything itself.

use serde_json::Value;

use crate::checker::Checker;

use super::common;
use super::{bank, counter, set_full, total_queue, unique_ids};
use super::{
    Bank, BankParams, Counter, QueueLinearizable, QueueParams, SetFull, SetFullParams, TotalQueue,
    UniqueIds,
};

/// The model names [`checker`] knows, in the order `--help` lists them.
pub const MODEL_NAMES: &[&str] = &[
    set_full::NAME,
    bank::NAME,
    counter::NAME,
    unique_ids::NAME,
    total_queue::NAME,
];

/// The checker for `model` with the parameters in `initial` (`None` or `null`: the
/// defaults), `None` when `model` is not one of [`MODEL_NAMES`], `Some(Err)` naming the
/// bad parameter otherwise.
///
/// ```
/// use faultline_checkers::classic;
/// use serde_json::json;
///
/// let bank = classic::checker("bank", Some(&json!({"accounts": [0, 1], "total": 10})));
/// assert_eq!(bank.unwrap().unwrap().name(), "bank");
/// assert!(classic::checker("cas-register", None).is_none());
/// let err = classic::checker("set-full", Some(&json!({"linearisable": true}))).unwrap();
/// assert!(err.err().unwrap().contains("unknown field `linearisable`"));
/// ```
pub fn checker(model: &str, initial: Option<&Value>) -> Option<Result<Box<dyn Checker>, String>> {
    let built: Result<Box<dyn Checker>, String> = match model {
        set_full::NAME => common::params::<SetFullParams>(model, initial)
            .map(|p| Box::new(SetFull::new(p)) as Box<dyn Checker>),
        bank::NAME => common::params::<BankParams>(model, initial)
            .and_then(Bank::new)
            .map(|b| Box::new(b) as Box<dyn Checker>),
        counter::NAME => no_params(model, initial).map(|_| Box::new(Counter) as Box<dyn Checker>),
        unique_ids::NAME => {
            no_params(model, initial).map(|_| Box::new(UniqueIds) as Box<dyn Checker>)
        }
        total_queue::NAME => common::params::<QueueParams>(model, initial)
            .map(|p| Box::new(TotalQueue::new(p)) as Box<dyn Checker>),
        _ => return None,
    };
    Some(built)
}

/// Every checker a `model` history goes to: [`checker`]'s, and for `total-queue` with
/// `"linearizable": true` also [`QueueLinearizable`]. `None` for models not in
/// [`MODEL_NAMES`].
pub fn checkers(
    model: &str,
    initial: Option<&Value>,
) -> Option<Result<Vec<Box<dyn Checker>>, String>> {
    let main = match checker(model, initial)? {
        Ok(c) => c,
        Err(e) => return Some(Err(e)),
    };
    let mut all = vec![main];
    if model == total_queue::NAME {
        if let Ok(p) = common::params::<QueueParams>(model, initial) {
            if p.linearizable {
                all.push(Box::new(QueueLinearizable::new()));
            }
        }
    }
    Some(Ok(all))
}

/// Counter and unique-ids take no parameters: `initial` must be absent, `null` or `{}`.
fn no_params(model: &str, initial: Option<&Value>) -> Result<(), String> {
    match initial {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(o)) if o.is_empty() => Ok(()),
        Some(other) => Err(format!("{model}: takes no parameters, got {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builds_every_model_by_name_and_rejects_bad_parameters() {
        for model in MODEL_NAMES {
            let c = checker(model, None).unwrap().unwrap();
            assert_eq!(c.name(), *model);
        }
        assert!(checker("fifo-queue", None).is_none());
        assert_eq!(
            checker("counter", Some(&json!(5))).unwrap().err().unwrap(),
            "counter: takes no parameters, got 5"
        );
        assert!(checker("bank", Some(&json!({"accounts": []})))
            .unwrap()
            .is_err());
        let queue = checkers("total-queue", Some(&json!({"linearizable": true})))
            .unwrap()
            .unwrap();
        let names: Vec<&str> = queue.iter().map(|c| c.name()).collect();
        assert_eq!(names, vec!["total-queue", "linearizable"]);
        assert_eq!(checkers("counter", None).unwrap().unwrap().len(), 1);
    }
}
