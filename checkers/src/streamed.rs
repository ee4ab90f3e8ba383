//! Checking a `history.jsonl` without holding it: a run of hours writes more history than
//! memory holds, so where the chosen checkers allow it the file is read twice, a block of
//! lines at a time, and checked a batch of keys at a time.
//!
//! Linearizability checked key by key (P-compositionality, the default) allows it: the
//! first pass notes the last line of every key, the second gathers each key's ops and,
//! once its last line has passed, moves them to a batch; a full batch is checked and
//! dropped, and the batches' results merge into one ([`merge_parts`]). Memory holds the keys
//! in use at one point of the history plus one batch: with the register workload's
//! independent keys, a few keys, however long the run. Every other selection (transactional
//! and classic checkers, one key, keyless ops) reads the whole file, as `faultline check`
//! always did.
//!
//! This module must never decide anything itself: the verdicts are the checkers'.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::checker::{check_all, CheckResult, Checker, Validity};
use crate::history::{History, HistoryError, Op, Process};
use crate::linearizable::{merge_parts, Linearizable, SearchOptions};
use crate::selection::Selection;

/// History lines checked together: large enough that the checker's threads stay busy, small
/// enough that a batch is a few tens of MB.
const BATCH_OPS: usize = 50_000;

/// What checking a file gave.
#[derive(Debug)]
pub struct Checked {
    /// The combined verdict.
    pub valid: Validity,
    /// Each checker's result.
    pub results: Vec<CheckResult>,
    /// What reading the file skipped (a torn last line).
    pub warnings: Vec<String>,
    /// Whether the file was checked a batch of keys at a time (`false`: read whole).
    pub by_key: bool,
}

/// Check the `history.jsonl` at `path` with the checkers of `selection`, key by key in
/// bounded memory where the selection allows it (see the module doc), else read whole.
pub fn check_file(selection: Selection, path: &Path) -> Result<Checked, HistoryError> {
    if let Selection::Linearizable(checker) = &selection {
        if checker.options().partition {
            if let Some(checked) = linearizable_by_key(checker, path)? {
                return Ok(checked);
            }
        }
    }
    let history = History::read_jsonl(path)?;
    let (valid, results) = check_all(&selection.into_checkers(), &history);
    Ok(Checked {
        valid,
        results,
        warnings: history.warnings,
        by_key: false,
    })
}

/// A key as text, to index maps by (JSON values do not hash).
fn key_text(op: &Op) -> Option<String> {
    op.key.as_ref().map(|k| k.to_string())
}

/// The first pass: the position (among the file's ops) of every key's last op; `None`
/// when a client op has no key, so the history cannot be checked key by key.
fn last_op_of_each_key(path: &Path) -> Result<Option<HashMap<String, u64>>, HistoryError> {
    let mut last = HashMap::new();
    let mut position = 0u64;
    let mut keyless = false;
    History::visit_jsonl(path, |op| {
        if op.process != Process::Nemesis && !keyless {
            match key_text(&op) {
                Some(key) => {
                    last.insert(key, position);
                }
                None => keyless = true,
            }
        }
        position += 1;
    })?;
    Ok((!keyless).then_some(last))
}

/// Linearizability a batch of keys at a time; `None` when a client op has no key.
fn linearizable_by_key(
    checker: &Linearizable,
    path: &Path,
) -> Result<Option<Checked>, HistoryError> {
    let Some(last) = last_op_of_each_key(path)? else {
        return Ok(None);
    };
    let started = Instant::now();
    let timeout = checker.options().timeout;
    let check_batch = |ops: Vec<Op>| {
        let remaining = timeout.map(|t| t.saturating_sub(started.elapsed()));
        if remaining == Some(Duration::ZERO) {
            let keys = {
                let mut keys: Vec<String> = ops.iter().filter_map(key_text).collect();
                keys.sort();
                keys.dedup();
                keys.len()
            };
            return CheckResult::new("linearizable", Validity::Unknown).reason(format!(
                "the time limit ran out before {keys} keys were checked; raise --check-timeout"
            ));
        }
        let batch = checker.clone().with_options(SearchOptions {
            timeout: remaining,
            ..checker.options().clone()
        });
        // The ops keep their indices in the file, so counterexamples name its lines.
        batch.check(&History {
            ops,
            warnings: Vec::new(),
        })
    };
    let mut open: HashMap<String, Vec<Op>> = HashMap::new();
    let mut batch: Vec<Op> = Vec::new();
    let mut parts = Vec::new();
    let mut position = 0u64;
    let warnings = History::visit_jsonl(path, |op| {
        let here = position;
        position += 1;
        if op.process == Process::Nemesis {
            return;
        }
        let Some(key) = key_text(&op) else { return };
        if last.get(&key) == Some(&here) {
            batch.append(&mut open.remove(&key).unwrap_or_default());
            batch.push(op);
            if batch.len() >= BATCH_OPS {
                parts.push(check_batch(std::mem::take(&mut batch)));
            }
        } else {
            open.entry(key).or_default().push(op);
        }
    })?;
    // Keys whose last line was torn off, if any, are checked with what was read.
    for (_, mut ops) in open.drain() {
        batch.append(&mut ops);
    }
    if !batch.is_empty() || parts.is_empty() {
        parts.push(check_batch(batch));
    }
    let result = merge_parts(parts);
    Ok(Some(Checked {
        valid: result.valid,
        results: vec![result],
        warnings,
        by_key: true,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selection::{select, CheckBudget};
    use crate::simulate::{generate, mutate_read, on_key, SimConfig};
    use serde_json::json;

    /// A history of short-lived keys, as the register workload's independent keys give:
    /// key after key, a few overlapping at a time.
    fn rolling_keys(keys: u64) -> History {
        let mut ops = Vec::new();
        for key in 0..keys {
            let one = generate(&SimConfig {
                unique_values: true,
                ..SimConfig::register(3, 0, 120, key)
            });
            ops.extend(on_key(one, &json!(key), key * 10));
        }
        History::from_ops(ops)
    }

    fn write(dir: &Path, history: &History) -> std::path::PathBuf {
        let path = dir.join("history.jsonl");
        history.write_jsonl(&path).unwrap();
        path
    }

    /// Key by key from the file, the verdict and counts are those of the history checked
    /// whole, valid or not, and a counterexample names the file's own op.
    #[test]
    fn by_key_from_the_file_decides_as_the_whole_history() {
        let dir = tempfile::tempdir().unwrap();
        let valid = rolling_keys(3_000);
        let invalid = mutate_read(&valid, 9).unwrap();
        let budget = CheckBudget::default();
        for (case, history) in [("valid", valid), ("invalid", invalid)] {
            let path = write(dir.path(), &history);
            let whole = check_all(
                &select("cas-register", None, &budget)
                    .unwrap()
                    .into_checkers(),
                &history,
            );
            let streamed =
                check_file(select("cas-register", None, &budget).unwrap(), &path).unwrap();
            assert!(streamed.by_key, "{case}");
            assert_eq!(streamed.valid, whole.0, "{case}");
            let (a, b) = (&streamed.results[0].details, &whole.1[0].details);
            assert_eq!(a["ops"], b["ops"], "{case}");
            assert_eq!(a["partitions"], b["partitions"], "{case}");
            assert!(a["parts"].as_u64().unwrap() >= 2, "{case}: {a}");
            assert_eq!(a["invalid_keys"], b["invalid_keys"], "{case}");
            assert_eq!(
                a["counterexample"]["op"], b["counterexample"]["op"],
                "{case}"
            );
        }
    }

    /// Keyless ops cannot be split by key: the file is read whole and checked as before.
    #[test]
    fn keyless_histories_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let history = generate(&SimConfig::register(3, 0, 400, 1));
        let path = write(dir.path(), &history);
        let budget = CheckBudget::default();
        let checked = check_file(select("cas-register", None, &budget).unwrap(), &path).unwrap();
        assert!(!checked.by_key);
        assert_eq!(checked.valid, Validity::Valid);
    }
}
