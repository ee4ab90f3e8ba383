//! The `unique-ids` checker, as Jepsen's `unique-ids`: every `generate` that completed `ok`
//! must have returned an id no other `generate` returned. Ids are any JSON values, equal
//! when their JSON is equal.
//!
//! Details: `attempted_count` (generate invocations), `acknowledged_count` (ok ones),
//! `duplicated_count` (ids returned more than once), `duplicated: [{"id", "count"}]` (the 48
//! most duplicated, most first), `range: [lowest, highest]` when every id is a number.
//! This module never reads files or draws.

use serde_json::{json, Value};

use crate::checker::{CheckResult, Checker, Validity};
use crate::history::{History, OpType};

use super::common::{by_key, first_named, values_text, Multiset};

/// The checker's name, and the model name workloads give for it.
pub const NAME: &str = "unique-ids";

/// How many duplicated ids the details list.
const LISTED: usize = 48;

/// Jepsen's `unique-ids` checker.
#[derive(Debug, Clone, Default)]
pub struct UniqueIds;

impl Checker for UniqueIds {
    fn name(&self) -> &str {
        NAME
    }

    fn check(&self, history: &History) -> CheckResult {
        let split = match by_key(history) {
            Ok(s) => s,
            Err(e) => return CheckResult::uncheckable(NAME, e),
        };
        let mut attempted = 0u64;
        let mut ids = Multiset::default();
        let (mut lo, mut hi): (Option<Value>, Option<Value>) = (None, None);
        let mut numeric = true;
        for (_, events) in &split.keys {
            for e in events.iter().filter(|e| e.invoke.f == "generate") {
                match e.op.kind {
                    OpType::Invoke => attempted += 1,
                    OpType::Ok => {
                        let id = &e.op.value;
                        ids.add(id);
                        match id.as_f64() {
                            Some(x) => {
                                if lo.as_ref().and_then(Value::as_f64).is_none_or(|l| x < l) {
                                    lo = Some(id.clone());
                                }
                                if hi.as_ref().and_then(Value::as_f64).is_none_or(|h| x > h) {
                                    hi = Some(id.clone());
                                }
                            }
                            None => numeric = false,
                        }
                    }
                    _ => {}
                }
            }
        }
        let duplicated: Vec<(Value, u64)> =
            ids.counted().into_iter().filter(|(_, n)| *n > 1).collect();
        let range = match (numeric, lo, hi) {
            (true, Some(lo), Some(hi)) => json!([lo, hi]),
            _ => Value::Null,
        };
        let details = json!({
            "attempted_count": attempted,
            "acknowledged_count": ids.len(),
            "duplicated_count": duplicated.len(),
            "duplicated": duplicated.iter().take(LISTED)
                .map(|(id, n)| json!({"id": id, "count": n})).collect::<Vec<_>>(),
            "range": range,
        });
        if duplicated.is_empty() {
            let valid = if ids.len() == 0 {
                Validity::Unknown
            } else {
                Validity::Valid
            };
            let mut r = CheckResult::new(NAME, valid).details(details);
            if valid == Validity::Unknown {
                r = r.reason("no generate completed ok: there is nothing to check");
            }
            return r;
        }
        let named = first_named(duplicated.iter().map(|(id, n)| format!("{id} ×{n}")));
        let all: Vec<Value> = duplicated.iter().map(|(id, _)| id.clone()).collect();
        CheckResult::new(NAME, Validity::Invalid)
            .reason(format!(
                "{} ids were returned more than once (of {} acknowledged): {named}",
                duplicated.len(),
                ids.len(),
            ))
            .reason(format!(
                "the duplicated ids, in order: {}",
                values_text(&all)
            ))
            .details(details)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classic::testkit::{history, info, inv, ok};
    use serde_json::json;

    #[test]
    fn distinct_ids_are_valid() {
        let h = history(vec![
            inv(0, "generate", json!(null)),
            inv(1, "generate", json!(null)),
            ok(0, "generate", json!(3)),
            ok(1, "generate", json!(1)),
            inv(0, "generate", json!(null)),
            info(0, "generate", json!(null)),
        ]);
        let r = UniqueIds.check(&h);
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!(r.details["attempted_count"], json!(3));
        assert_eq!(r.details["acknowledged_count"], json!(2));
        assert_eq!(r.details["range"], json!([1, 3]));
    }

    #[test]
    fn duplicated_ids_are_named_with_their_counts() {
        let mut ops = Vec::new();
        for (p, id) in [
            (0, json!(7)),
            (1, json!("a")),
            (2, json!(7)),
            (3, json!("a")),
            (4, json!(7)),
            (5, json!(8)),
        ] {
            ops.push(inv(p, "generate", json!(null)));
            ops.push(ok(p, "generate", id));
        }
        let r = UniqueIds.check(&history(ops));
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(
            r.reasons[0],
            "2 ids were returned more than once (of 6 acknowledged): 7 ×3, \"a\" ×2"
        );
        assert_eq!(r.details["duplicated_count"], json!(2));
        assert_eq!(
            r.details["duplicated"],
            json!([{"id": 7, "count": 3}, {"id": "a", "count": 2}])
        );
        assert_eq!(r.details["range"], Value::Null);
    }

    #[test]
    fn no_acknowledged_id_is_unknown() {
        let h = history(vec![
            inv(0, "generate", json!(null)),
            info(0, "generate", json!(null)),
        ]);
        assert_eq!(UniqueIds.check(&h).valid, Validity::Unknown);
    }
}
