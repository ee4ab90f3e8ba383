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

use rayon::prelude::*;

use crate::checker::{check_all, CheckResult, Checker, Validity};
use crate::history::{History, HistoryError, Op, Process};
use crate::linearizable::{merge_parts, Linearizable, SearchOptions};
use crate::selection::Selection;

/// Ops held in memory past which the keys idle longest are written to a spill file: the
/// final reads put every key's last op at the end of the history, so without it a key's
/// ops would all wait there.
const HOLD_OPS: usize = 100_000;

/// The ops of the keys not yet complete, by key.
#[derive(Default)]
struct Held {
    keys: HashMap<String, HeldKey>,
    /// Ops held in all.
    ops: usize,
}

#[derive(Default)]
struct HeldKey {
    ops: Vec<Op>,
    /// Position of its latest op.
    seen: u64,
    /// Its earlier ops are in the spill file (a key is written out once at most).
    spilled: bool,
}

impl Held {
    fn push(&mut self, key: String, op: Op, position: u64) {
        let held = self.keys.entry(key).or_default();
        held.ops.push(op);
        held.seen = position;
        self.ops += 1;
    }

    fn was_spilled(&self, key: &str) -> bool {
        self.keys.get(key).is_some_and(|k| k.spilled)
    }

    /// The ops of `key` held in memory, forgetting the key.
    fn take(&mut self, key: &str) -> Vec<Op> {
        let ops = self.keys.remove(key).map(|k| k.ops).unwrap_or_default();
        self.ops -= ops.len();
        ops
    }

    /// Every key's ops still held.
    fn drain(&mut self) -> impl Iterator<Item = Vec<Op>> + '_ {
        self.ops = 0;
        self.keys.drain().map(|(_, k)| k.ops)
    }

    /// Write the ops of the keys idle longest (never written before) to `spill` until at
    /// most `keep` ops are held.
    fn spill_idlest(&mut self, spill: &mut Spill, keep: usize) -> Result<(), HistoryError> {
        let mut idle: Vec<(u64, String)> = self
            .keys
            .iter()
            .filter(|(_, k)| !k.spilled && !k.ops.is_empty())
            .map(|(key, k)| (k.seen, key.clone()))
            .collect();
        idle.sort_unstable();
        for (_, key) in idle {
            if self.ops <= keep {
                break;
            }
            if let Some(held) = self.keys.get_mut(&key) {
                let ops = std::mem::take(&mut held.ops);
                held.spilled = true;
                self.ops -= ops.len();
                spill.write(key, &ops)?;
            }
        }
        Ok(())
    }
}

/// A temporary file of ops written out by key, each key's ops together, in the order
/// `keys` lists; removed when dropped.
struct Spill {
    path: std::path::PathBuf,
    out: Option<std::io::BufWriter<std::fs::File>>,
    keys: Vec<String>,
    written: usize,
}

impl Spill {
    /// A spill file beside `history` (on the same disk, which holds the history already).
    fn new(history: &Path) -> Spill {
        let name = format!(
            ".{}.spill-{}",
            history
                .file_name()
                .map_or("history".into(), |n| n.to_string_lossy()),
            std::process::id()
        );
        Spill {
            path: history.with_file_name(name),
            out: None,
            keys: Vec::new(),
            written: 0,
        }
    }

    fn io_error(&self, source: std::io::Error) -> HistoryError {
        HistoryError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn write(&mut self, key: String, ops: &[Op]) -> Result<(), HistoryError> {
        use std::io::Write;
        if self.out.is_none() {
            let file = std::fs::File::create(&self.path).map_err(|e| self.io_error(e))?;
            self.out = Some(std::io::BufWriter::with_capacity(1 << 20, file));
        }
        let lines: Vec<u8> = ops
            .par_iter()
            .map(|op| {
                let mut line = serde_json::to_vec(op).unwrap_or_default();
                line.push(b'\n');
                line
            })
            .flatten_iter()
            .collect();
        if let Some(out) = &mut self.out {
            out.write_all(&lines).map_err(|e| HistoryError::Io {
                path: self.path.clone(),
                source: e,
            })?;
        }
        self.keys.push(key);
        self.written += ops.len();
        Ok(())
    }

    fn finish(&mut self) -> Result<(), HistoryError> {
        use std::io::Write;
        match self.out.as_mut().map(Write::flush) {
            Some(Err(e)) => Err(self.io_error(e)),
            _ => Ok(()),
        }
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// History lines checked together: large enough that the checker's threads stay busy, small
/// enough that a batch is a few tens of MB.
const BATCH_OPS: usize = 25_000;

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
    /// Ops written to a spill file and read back (keys waiting for their final reads).
    pub spilled: usize,
}

/// Check the `history.jsonl` at `path` with the checkers of `selection`, key by key in
/// bounded memory where the selection allows it (see the module doc), else read whole.
pub fn check_file(selection: Selection, path: &Path) -> Result<Checked, HistoryError> {
    if let Selection::Linearizable(checker) = &selection {
        if checker.options().partition {
            if let Some(checked) = linearizable_by_key(checker, path, HOLD_OPS)? {
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
        spilled: 0,
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
    hold: usize,
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
    let mut batch: Vec<Op> = Vec::new();
    let mut parts = Vec::new();
    let mut add = |mut ops: Vec<Op>, parts: &mut Vec<CheckResult>| {
        batch.append(&mut ops);
        if batch.len() >= BATCH_OPS {
            parts.push(check_batch(std::mem::take(&mut batch)));
        }
    };
    let mut held = Held::default();
    let mut spill = Spill::new(path);
    let mut position = 0u64;
    let mut spill_error = None;
    let warnings = History::visit_jsonl(path, |op| {
        let here = position;
        position += 1;
        if op.process == Process::Nemesis {
            return;
        }
        let Some(key) = key_text(&op) else { return };
        let done = last.get(&key) == Some(&here);
        held.push(key.clone(), op, here);
        if done && !held.was_spilled(&key) {
            add(held.take(&key), &mut parts);
        } else if held.ops > hold && spill_error.is_none() {
            if let Err(e) = held.spill_idlest(&mut spill, hold / 2) {
                spill_error = Some(e);
            }
        }
    })?;
    if let Some(e) = spill_error {
        return Err(e);
    }
    // The keys written out, in the order they were: each one's earlier ops from the spill
    // file, then what came after (its final reads, say). Then keys whose last line was torn
    // off, if any, with what was read.
    spill.finish()?;
    let mut spilled = spill.keys.iter();
    let mut current: Option<(&String, Vec<Op>)> = None;
    if spill.written > 0 {
        History::visit_jsonl(&spill.path, |op| {
            let key = key_text(&op).unwrap_or_default();
            match &mut current {
                Some((k, ops)) if **k == key => ops.push(op),
                _ => {
                    if let Some((k, mut ops)) = current.take() {
                        ops.append(&mut held.take(k));
                        add(ops, &mut parts);
                    }
                    let next = spilled.next().filter(|k| **k == key);
                    current = next.map(|k| (k, vec![op]));
                }
            }
        })?;
    }
    if let Some((k, mut ops)) = current.take() {
        ops.append(&mut held.take(k));
        add(ops, &mut parts);
    }
    for ops in held.drain() {
        add(ops, &mut parts);
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
        spilled: spill.written,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::OpType;
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

    /// Every key read once more at the very end (the register workload's final reads): with
    /// little room, the keys idle longest go to a spill file and come back for their final
    /// read; the verdict, counts and counterexample are the whole history's, and the spill
    /// file is gone.
    #[test]
    fn final_reads_of_every_key_are_checked_through_a_spill_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut ops = rolling_keys(400).ops;
        for key in 0..400u64 {
            let process = 100_000 + key;
            ops.push(
                Op::new(
                    Process::Client(process),
                    OpType::Invoke,
                    "read",
                    json!(null),
                )
                .with_key(json!(key)),
            );
            let seen = if key == 123 {
                json!(1_000_000_007u64)
            } else {
                json!(null)
            };
            ops.push(
                Op::new(Process::Client(process), OpType::Ok, "read", seen).with_key(json!(key)),
            );
        }
        // The final reads of keys never written read nil; others read what was last written,
        // which the whole-history check decides too: both checks must agree.
        let history = History::from_ops(ops);
        let path = write(dir.path(), &history);
        let checker = Linearizable::new("cas-register", Some(serde_json::Value::Null)).unwrap();
        let whole = checker.check(&history);
        let streamed = linearizable_by_key(&checker, &path, 500).unwrap().unwrap();
        assert!(streamed.spilled > 10_000, "{}", streamed.spilled);
        assert_eq!(streamed.valid, whole.valid);
        assert_eq!(
            whole.valid,
            Validity::Invalid,
            "key 123 read a value never written"
        );
        let (a, b) = (&streamed.results[0].details, &whole.details);
        assert_eq!(a["ops"], b["ops"]);
        assert_eq!(a["partitions"], b["partitions"]);
        assert_eq!(a["invalid_keys"], b["invalid_keys"]);
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["history.jsonl"], "the spill file is removed");
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
