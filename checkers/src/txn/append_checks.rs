//! The list-append anomalies that need no cycle, found from the index of
//! [`super::list_append`]: what one committed read shows on its own (G1a, garbage reads,
//! duplicate elements, G1b), what one txn shows (internal inconsistency, future reads), what
//! a key's order shows (dirty updates), and txns that read the same state of a key and
//! both appended to it (lost updates).
//!
//! This module must never add edges; it only reports anomalies.

use serde_json::{json, Value};

use super::append_index::{list, AppendIndex, Elem, EMPTY, NONE};
use super::decode::{scalar, Decoded, KeyId, MopKind, Scalar, Status, TxnId};
use super::findings::{read_said, text, Case, Findings};
use super::lattice::Anomaly;
use crate::fxhash::FxHashMap;

/// The values `values` holds more than once, with how many times, in order of first
/// appearance.
fn duplicates(values: &[Value]) -> Vec<(&Value, usize)> {
    let mut counts: FxHashMap<Scalar<'_>, usize> = FxHashMap::default();
    for v in values {
        if let Some(s) = scalar(v) {
            *counts.entry(s).or_default() += 1;
        }
    }
    let mut found: Vec<(&Value, usize)> = Vec::new();
    for v in values {
        if let Some(&c) = scalar(v).and_then(|s| counts.get(&s)) {
            if c > 1 && !found.iter().any(|(seen, _)| *seen == v) {
                found.push((v, c));
            }
        }
    }
    found
}

/// What a txn expects to read of a key from its own earlier micro-ops: what it last read
/// of it (when it read it), followed by what it appended since.
struct Expected<'h> {
    read: Option<&'h [Value]>,
    appended: Vec<&'h Value>,
}

impl Expected<'_> {
    fn matches(&self, values: &[Value]) -> bool {
        let n = self.appended.len();
        let known = match self.read {
            Some(base) => values.len() == base.len() + n && values[..base.len()] == *base,
            None => values.len() >= n,
        };
        known
            && self
                .appended
                .iter()
                .zip(&values[values.len() - n..])
                .all(|(a, b)| *a == b)
    }

    fn describe(&self) -> String {
        match self.read {
            Some(base) => {
                let mut all: Vec<&Value> = base.iter().collect();
                all.extend(self.appended.iter().copied());
                text(&json!(all))
            }
            None => format!(
                "a list ending in {}",
                self.appended
                    .iter()
                    .map(|v| text(v))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// Internal inconsistency and future reads: within one committed txn, a read must agree
/// with the txn's own earlier reads and appends of the key, and must not include a value
/// the txn appends only later.
pub(super) fn internal_cases(d: &Decoded<'_>, findings: &mut Findings) {
    for t in 0..d.txns.len() as TxnId {
        let mops = d.mops(t);
        if d.status(t) != Status::Ok || mops.len() < 2 {
            continue;
        }
        let repeats = mops
            .iter()
            .enumerate()
            .any(|(i, m)| mops[i + 1..].iter().any(|n| n.key == m.key));
        if !repeats {
            continue;
        }
        let mut expected: Vec<(KeyId, Expected<'_>)> = Vec::new();
        let mut internal_found = false;
        let mut future_found = false;
        for (i, mop) in mops.iter().enumerate() {
            let slot = expected.iter().position(|(k, _)| *k == mop.key);
            match mop.kind {
                MopKind::Write => {
                    let earlier_read = mops[..i].iter().find(|m| {
                        m.kind == MopKind::Read
                            && m.key == mop.key
                            && list(m.value).contains(mop.value)
                    });
                    if let (Some(read), false) = (earlier_read, future_found) {
                        future_found = true;
                        findings.add(Anomaly::FUTURE_READ, || {
                            Case::new(d, &[t], format!(
                                "op #{} read key {} = {}, which includes {}, a value it only appends later in the same txn",
                                d.op_index(t), text(d.key(mop.key)), text(read.value), text(mop.value)))
                                .with("key", d.key(mop.key).clone())
                                .with("value", read.value.clone())
                                .with("element", mop.value.clone())
                        });
                    }
                    match slot {
                        Some(s) => expected[s].1.appended.push(mop.value),
                        None => expected.push((
                            mop.key,
                            Expected {
                                read: None,
                                appended: vec![mop.value],
                            },
                        )),
                    }
                }
                MopKind::Read => {
                    let values = list(mop.value);
                    if let Some(s) = slot {
                        if !expected[s].1.matches(values) && !internal_found {
                            internal_found = true;
                            let wanted = expected[s].1.describe();
                            findings.add(Anomaly::INTERNAL, || {
                                Case::new(d, &[t], format!(
                                    "op #{} read key {} = {}, but its own earlier micro-ops say it should read {}",
                                    d.op_index(t), text(d.key(mop.key)), text(mop.value), wanted))
                                    .with("key", d.key(mop.key).clone())
                                    .with("value", mop.value.clone())
                                    .with("mop", json!(i))
                                    .with("expected", json!(wanted))
                            });
                        }
                        expected[s].1 = Expected {
                            read: Some(values),
                            appended: Vec::new(),
                        };
                    } else {
                        expected.push((
                            mop.key,
                            Expected {
                                read: Some(values),
                                appended: Vec::new(),
                            },
                        ));
                    }
                }
            }
        }
    }
}

impl<'h> AppendIndex<'h> {
    /// The anomalies of one committed read `gm` of txn `t` that its elements show: G1a,
    /// garbage, duplicates, G1b. A read that is a prefix of a duplicate-free order is
    /// checked against the order's first failed and garbage positions; any other read
    /// element by element.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn read_elements(
        &self,
        d: &Decoded<'h>,
        t: TxnId,
        gm: usize,
        plain_prefix: bool,
        [first_failed, first_garbage]: [u32; 2],
        lookup: &impl Fn(&Value) -> Option<u32>,
        findings: &mut Findings,
    ) {
        let mop = d.mops[gm];
        let (k, values) = (mop.key, list(mop.value));
        let said = || read_said(d, t, gm);
        let (failed, garbage) = if plain_prefix {
            let at = |pos: u32| {
                (pos != NONE && (pos as usize) < values.len())
                    .then(|| self.order_of(k)[pos as usize])
            };
            (
                at(first_failed),
                at(first_garbage).map(|e| self.elems[e as usize].value),
            )
        } else {
            let mut failed = None;
            let mut garbage = None;
            for v in values {
                match lookup(v).map(|e| (e, self.elems[e as usize].writer)) {
                    Some((e, w)) if w != NONE && d.status(w) == Status::Fail => {
                        failed = failed.or(Some(e))
                    }
                    Some((_, w)) if w != NONE => {}
                    _ => garbage = garbage.or(Some(v)),
                }
            }
            (failed, garbage)
        };
        if let Some(e) = failed {
            let Elem { value, writer, .. } = self.elems[e as usize];
            findings.add(Anomaly::G1A, || {
                Case::new(
                    d,
                    &[t, writer],
                    format!(
                        "{}, which includes {}, appended by op #{}, which failed",
                        said(),
                        text(value),
                        d.op_index(writer)
                    ),
                )
                .with("key", d.key(k).clone())
                .with("value", mop.value.clone())
                .with("element", value.clone())
            });
        }
        if let Some(v) = garbage {
            findings.add(Anomaly::GARBAGE_READ, || {
                Case::new(
                    d,
                    &[t],
                    format!(
                        "{}, but no txn appended {} to key {}",
                        said(),
                        text(v),
                        text(d.key(k))
                    ),
                )
                .with("key", d.key(k).clone())
                .with("value", mop.value.clone())
                .with("element", v.clone())
            });
        }
        if !plain_prefix {
            let duplicates = duplicates(values);
            if !duplicates.is_empty() {
                findings.add(Anomaly::DUPLICATE_ELEMENTS, || {
                    let names: Vec<String> = duplicates.iter().map(|(v, _)| text(v)).collect();
                    let counts: Vec<Value> =
                        duplicates.iter().map(|(v, c)| json!([v, c])).collect();
                    Case::new(
                        d,
                        &[t],
                        format!(
                            "{}, which holds {} more than once; every value is appended once",
                            said(),
                            names.join(" and ")
                        ),
                    )
                    .with("key", d.key(k).clone())
                    .with("value", mop.value.clone())
                    .with("duplicates", Value::Array(counts))
                });
            }
        }
        let last = self.mop_elem[gm];
        if last < EMPTY {
            let Elem {
                value,
                writer,
                intermediate,
                ..
            } = self.elems[last as usize];
            if intermediate && writer != t {
                let after = d
                    .mops(writer)
                    .iter()
                    .rev()
                    .find(|m| m.kind == MopKind::Write && m.key == k)
                    .map(|m| m.value);
                findings.add(Anomaly::G1B, || {
                    Case::new(d, &[t, writer], format!(
                        "{}, ending in {}, which op #{} appended and then followed with {} in the same txn: an intermediate state",
                        said(), text(value), d.op_index(writer), after.map_or_else(String::new, text)))
                        .with("key", d.key(k).clone())
                        .with("value", mop.value.clone())
                        .with("element", value.clone())
                });
            }
        }
    }

    /// One pass over key `k`'s order: dirty updates (an element a failed txn appended
    /// followed, past any `info` ones, by one a committed txn appended), and the first
    /// position a failed txn wrote and the first nobody wrote (`NONE` if none), for the
    /// reads' checks.
    pub(super) fn scan_order(
        &self,
        d: &Decoded<'h>,
        k: KeyId,
        findings: &mut Findings,
    ) -> [u32; 2] {
        let mut first_failed = NONE;
        let mut first_garbage = NONE;
        let order = self.order_of(k);
        // The first failed writer since the last committed one, and where it is.
        let mut failed: Option<(TxnId, usize)> = None;
        for (pos, &e) in order.iter().enumerate() {
            let Elem { writer, value, .. } = self.elems[e as usize];
            let status = (writer != NONE).then(|| d.status(writer));
            match status {
                None if first_garbage == NONE => first_garbage = pos as u32,
                Some(Status::Fail) if first_failed == NONE => first_failed = pos as u32,
                _ => {}
            }
            match status {
                Some(Status::Ok) => {
                    if let Some((f, since)) = failed.take() {
                        let values: Vec<&Value> = order[since..=pos]
                            .iter()
                            .map(|&e| self.elems[e as usize].value)
                            .collect();
                        findings.add(Anomaly::DIRTY_UPDATE, || {
                            Case::new(
                                d,
                                &[f, writer],
                                format!(
                                    "key {}'s order has {}, appended by op #{}, which failed, \
                                     and later {}, appended by op #{}, which committed: a \
                                     committed update built on an aborted one",
                                    text(d.key(k)),
                                    text(values[0]),
                                    d.op_index(f),
                                    text(value),
                                    d.op_index(writer)
                                ),
                            )
                            .with("key", d.key(k).clone())
                            .with("values", json!(values))
                        });
                    }
                }
                Some(Status::Fail) if failed.is_none() => failed = Some((writer, pos)),
                _ => {}
            }
        }
        [first_failed, first_garbage]
    }

    /// Lost updates: committed txns that read the same state of a key and then appended to
    /// it.
    pub(super) fn lost_updates(&self, d: &Decoded<'h>, findings: &mut Findings) {
        let mut candidates: Vec<(KeyId, u32, TxnId, usize)> = Vec::new();
        for t in 0..d.txns.len() as TxnId {
            if d.status(t) != Status::Ok {
                continue;
            }
            let range = d.mop_range(t);
            for gm in range.clone() {
                let mop = d.mops[gm];
                if mop.kind != MopKind::Read || self.mop_elem[gm] == NONE {
                    continue;
                }
                let before = &d.mops[range.start..gm];
                let first_touch = !before.iter().any(|m| m.key == mop.key);
                let writes_after = d.mops[gm + 1..range.end]
                    .iter()
                    .any(|m| m.kind == MopKind::Write && m.key == mop.key);
                if first_touch && writes_after {
                    candidates.push((mop.key, self.mop_elem[gm], t, gm));
                }
            }
        }
        candidates.sort_unstable();
        for group in candidates.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            if group.len() < 2 {
                continue;
            }
            let (k, _, _, gm) = group[0];
            let txns: Vec<TxnId> = group.iter().map(|c| c.2).collect();
            findings.add(Anomaly::LOST_UPDATE, || {
                let ops: Vec<String> = txns.iter().map(|&t| format!("op #{}", d.op_index(t))).collect();
                Case::new(d, &txns, format!(
                    "{} all read key {} = {} and then appended to it: all but one of these updates is lost",
                    ops.join(", "), text(d.key(k)), text(d.mops[gm].value)))
                    .with("key", d.key(k).clone())
                    .with("value", d.mops[gm].value.clone())
            });
        }
    }
}
