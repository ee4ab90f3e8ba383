//! One linearizability result from the results of several parts of a history whose keys do
//! not overlap (a history checked a batch of keys at a time): the verdicts compose, counts
//! add up, key lists join, and the first counterexample stands for them all.
//!
//! This module must never check anything: it only combines what [`super::check_history`]
//! said of each part.

use serde_json::{json, Value};

use crate::checker::{CheckResult, Validity};

/// Counts in a result's details that add up across parts.
const SUMMED: [&str; 5] = [
    "ops",
    "failed_ops",
    "dropped_unknown_reads",
    "partitions",
    "unique_values_keys",
];

/// The result of a whole history from its parts' results, in history order; the parts
/// hold disjoint keys. Reasons are those of the first part with the combined verdict, and a
/// line counting the keys of the other parts that share it.
pub fn merge_parts(parts: Vec<CheckResult>) -> CheckResult {
    let valid = parts.iter().fold(Validity::Valid, |v, p| v.and(p.valid));
    let mut details = json!({"parts": parts.len()});
    let mut first_reasons: Option<Vec<String>> = None;
    let mut later_keys = 0usize;
    for part in &parts {
        let d = &part.details;
        for field in SUMMED {
            let sum = details[field].as_u64().unwrap_or(0) + d[field].as_u64().unwrap_or(0);
            details[field] = json!(sum);
        }
        let peak = details["memo_peak_bytes"].as_u64().unwrap_or(0);
        details["memo_peak_bytes"] = json!(peak.max(d["memo_peak_bytes"].as_u64().unwrap_or(0)));
        for field in ["model", "partitioned"] {
            if details[field].is_null() {
                details[field] = d[field].clone();
            }
        }
        for field in ["budget_exhausted", "counterexample"] {
            if details[field].is_null() && !d[field].is_null() {
                details[field] = d[field].clone();
            }
        }
        for field in ["invalid_keys", "undecided_keys"] {
            if let Some(keys) = d[field].as_array() {
                let joined = details[field].as_array_mut();
                match joined {
                    Some(joined) => joined.extend(keys.iter().cloned()),
                    None => details[field] = Value::Array(keys.clone()),
                }
            }
        }
        if part.valid == valid && valid != Validity::Valid {
            match first_reasons {
                None => first_reasons = Some(part.reasons.clone()),
                Some(_) => {
                    let field = if valid == Validity::Invalid {
                        "invalid_keys"
                    } else {
                        "undecided_keys"
                    };
                    later_keys += d[field].as_array().map_or(1, Vec::len);
                }
            }
        }
    }
    let mut result = CheckResult::new("linearizable", valid);
    for reason in first_reasons.unwrap_or_default() {
        result = result.reason(reason);
    }
    if later_keys > 0 {
        result = result.reason(format!(
            "and {later_keys} more {} in later parts of the history",
            if valid == Validity::Invalid {
                "keys cannot be linearized"
            } else {
                "keys are undecided"
            }
        ));
    }
    result.details(details)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Checker;
    use crate::history::History;
    use crate::linearizable::Linearizable;
    use crate::simulate::{generate, mutate_read, SimConfig};

    /// A history split into parts by key, checked part by part and merged, gives the
    /// verdict, counts and invalid keys the whole history gives.
    #[test]
    fn parts_merge_into_the_whole_histories_result() {
        let checker = Linearizable::new("cas-register", None).unwrap();
        let valid = generate(&SimConfig {
            unique_values: true,
            ..SimConfig::register(20, 30, 6_000, 3)
        });
        let invalid = (1..4).fold(valid.clone(), |h, seed| mutate_read(&h, seed).unwrap());
        for (case, history) in [("valid", valid), ("invalid", invalid)] {
            let whole = checker.check(&history);
            let keys: Vec<Value> = {
                let mut keys: Vec<Value> = Vec::new();
                for op in &history.ops {
                    if let Some(k) = &op.key {
                        if !keys.contains(k) {
                            keys.push(k.clone());
                        }
                    }
                }
                keys
            };
            let parts: Vec<CheckResult> = keys
                .chunks(7)
                .map(|chunk| {
                    let ops = history
                        .ops
                        .iter()
                        .filter(|op| op.key.as_ref().is_some_and(|k| chunk.contains(k)))
                        .cloned()
                        .collect();
                    checker.check(&History {
                        ops,
                        warnings: Vec::new(),
                    })
                })
                .collect();
            let merged = merge_parts(parts);
            assert_eq!(merged.valid, whole.valid, "{case}");
            for field in ["ops", "failed_ops", "partitions"] {
                assert_eq!(
                    merged.details[field], whole.details[field],
                    "{case}: {field}"
                );
            }
            let sorted = |v: &Value| {
                let mut keys: Vec<String> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(Value::to_string)
                    .collect();
                keys.sort();
                keys
            };
            if whole.valid == Validity::Invalid {
                assert_eq!(
                    sorted(&merged.details["invalid_keys"]),
                    sorted(&whole.details["invalid_keys"]),
                    "{case}"
                );
                assert!(!merged.details["counterexample"].is_null(), "{case}");
                assert!(!merged.reasons.is_empty(), "{case}");
            } else {
                assert!(merged.reasons.is_empty(), "{case}: {:?}", merged.reasons);
            }
        }
    }
}
