//! The version order of an rw-register history's keys, built from what can be known or
//! assumed: the initial state (`null` comes before every value); Elle's `--wfr-keys` (a
//! committed txn that read `v1` and then wrote `v2` installed `v2` after `v1`),
//! `--sequential-keys` (each process sees a key's versions in order) and
//! `--linearizable-keys` (versions follow real time); and, when the models asked for forbid
//! G0-process, each session's own writes.
//!
//! The session source is sound without any assumption about the database: if a process
//! committed a write of `v1` and later one of `v2`, then `v2` before `v1` would make a
//! G0-process cycle (the later txn -ww-> the earlier -process-> the later), which the
//! models asked for forbid anyway; so `v1 < v2` may be assumed. What rests on it alone is
//! marked: its ww edges are left out (process edges already order the two writers) and its
//! rw edges are of kind [`SESSION_RW`](super::graph::SESSION_RW), which only the `-process`
//! and `-realtime` searches use; a cycle through one is a `-process` anomaly at least,
//! which is all either way of the truth supports. When it contradicts the other sources for
//! a key, it is dropped for the key without a `cyclic-versions` (the contradiction is a
//! G0-process cycle through the other sources' edges).
//!
//! Each source is added in turn; when it makes a key's versions cyclic, that is a
//! `cyclic-versions` anomaly and the source is dropped for the key.
//!
//! This module must never add txn edges; [`super::rw_register`] does, from the order.

use serde_json::{json, Value};

use super::decode::{Decoded, KeyId, Status, TxnId};
use super::findings::{text, Case, Findings};
use super::graph::{components, EdgeList, Graph};
use super::lattice::Anomaly;
use super::orders::committed_by_completion;
use super::rw_register::{Ext, RegisterIndex, NONE};
use crate::fxhash::FxHashMap;

/// Where an rw-register analysis may take the order of a key's versions from, besides the
/// initial state (`null` comes before every written value), as Elle's options of the same
/// names. List-append ignores these: its reads give the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionOrders {
    /// `--wfr-keys`: a committed txn that read `x = 1` and then wrote `x = 2` installed 2
    /// after 1 (writes follow reads within a txn).
    pub wfr_keys: bool,
    /// `--sequential-keys`: each key is sequentially consistent, so each process sees its
    /// versions in order (its committed txns, as Elle's process order).
    pub sequential_keys: bool,
    /// `--linearizable-keys`: each key is linearizable, so versions follow real time (a
    /// committed txn's last version comes before the first of every txn invoked after it
    /// completed).
    pub linearizable_keys: bool,
}

impl Default for VersionOrders {
    /// Writes follow reads only.
    fn default() -> Self {
        VersionOrders {
            wfr_keys: true,
            sequential_keys: false,
            linearizable_keys: false,
        }
    }
}

/// Version-order sources, as edge kind bits of the version graph.
pub(super) const INITIAL: u8 = 1;
pub(super) const WFR: u8 = 2;
pub(super) const BY_PROCESS: u8 = 4;
pub(super) const BY_REALTIME: u8 = 8;
/// A session's own writes, in its order (see the module docs).
pub(super) const SESSION: u8 = 16;

impl<'h> RegisterIndex<'h> {
    /// The first version of key `k` txn `t` saw or made, and the last.
    fn first_and_last(e: &Ext) -> (u32, u32) {
        let first = if e.read != NONE { e.read } else { e.write };
        let last = if e.write != NONE { e.write } else { e.read };
        (first, last)
    }

    /// Build the version order from each source in turn, dropping a source for a key it
    /// would make cyclic.
    pub(super) fn build_order(
        &mut self,
        d: &Decoded<'h>,
        sources: VersionOrders,
        session: bool,
        findings: &mut Findings,
    ) {
        // Initial state: null before every value a txn read or wrote.
        let mut all: Vec<(u32, u32, u8)> = Vec::new();
        for t in 0..d.txns.len() as TxnId {
            for e in self.externals(t) {
                for v in [e.read, e.write] {
                    if v != NONE && v != e.key {
                        all.push((e.key, v, INITIAL));
                    }
                }
            }
        }
        let mut candidates: Vec<(u8, Vec<(u32, u32)>)> = Vec::new();
        if sources.wfr_keys {
            let mut wfr = Vec::new();
            for t in 0..d.txns.len() as TxnId {
                if d.status(t) == Status::Ok {
                    for e in self.externals(t) {
                        if e.read != NONE && e.write != NONE && e.read != e.key {
                            wfr.push((e.read, e.write));
                        }
                    }
                }
            }
            candidates.push((WFR, wfr));
        }
        if sources.sequential_keys {
            candidates.push((BY_PROCESS, self.process_order(d, false)));
        }
        if sources.linearizable_keys {
            candidates.push((BY_REALTIME, self.realtime_order(d)));
        }
        if session {
            candidates.push((SESSION, self.process_order(d, true)));
        }
        for (source, mut pairs) in candidates {
            pairs.retain(|(a, b)| a != b);
            if pairs.is_empty() {
                continue;
            }
            let mut trial = all.clone();
            trial.extend(pairs.iter().map(|&(a, b)| (a, b, source)));
            let cycles = components(&self.version_graph(&trial), 0xff).nontrivial();
            let mut bad_keys: Vec<KeyId> = cycles
                .iter()
                .map(|c| self.versions[c[0] as usize].key)
                .collect();
            bad_keys.sort_unstable();
            bad_keys.dedup();
            if source != SESSION {
                for group in &cycles {
                    self.cyclic_versions(d, group, source, findings);
                }
            }
            all.extend(
                pairs
                    .into_iter()
                    .filter(|(a, _)| {
                        bad_keys
                            .binary_search(&self.versions[*a as usize].key)
                            .is_err()
                    })
                    .map(|(a, b)| (a, b, source)),
            );
        }
        self.order_before = self.version_graph(&all);
    }

    fn cyclic_versions(&self, d: &Decoded<'h>, group: &[u32], source: u8, findings: &mut Findings) {
        let k = self.versions[group[0] as usize].key;
        let values: Vec<&Value> = group
            .iter()
            .map(|&v| self.versions[v as usize].value)
            .collect();
        let writers: Vec<TxnId> = group
            .iter()
            .map(|&v| self.versions[v as usize].writer)
            .filter(|&w| w != NONE)
            .collect();
        findings.add(Anomaly::CYCLIC_VERSIONS, || {
            Case::new(
                d,
                &writers,
                format!(
                    "the versions {} of key {} are ordered in a cycle once {} is assumed; that \
                     assumption is dropped for this key",
                    text(&json!(values)),
                    text(d.key(k)),
                    source_name(source)
                ),
            )
            .with("key", d.key(k).clone())
            .with("values", json!(values))
            .with("source", json!(source_name(source)))
        });
    }

    fn version_graph(&self, edges: &[(u32, u32, u8)]) -> Graph {
        let mut list = EdgeList::with_capacity(edges.len());
        for &(before, after, source) in edges {
            list.push(after, before, source);
        }
        Graph::build(self.versions.len(), list)
    }

    /// Per process and key, over its committed txns, the last version one txn touched
    /// before the first the next txn of that process touched (as Elle's process order,
    /// which relates `ok` ops only); with `writes_only`, only the versions they wrote.
    fn process_order(&self, d: &Decoded<'h>, writes_only: bool) -> Vec<(u32, u32)> {
        let mut last: FxHashMap<(u64, KeyId), u32> = FxHashMap::default();
        let mut pairs = Vec::new();
        for t in 0..d.txns.len() as TxnId {
            if d.status(t) != Status::Ok {
                continue;
            }
            let process = d.txns[t as usize].process;
            for e in self.externals(t) {
                if writes_only && e.write == NONE {
                    continue;
                }
                let (first, final_) = if writes_only {
                    (e.write, e.write)
                } else {
                    Self::first_and_last(e)
                };
                if let Some(&before) = last.get(&(process, e.key)) {
                    pairs.push((before, first));
                }
                last.insert((process, e.key), final_);
            }
        }
        pairs
    }

    /// Per key, real time between txns touching it: the last version of each txn that
    /// completed before another was invoked comes before the other's first version. Kept
    /// to a reduction as the real-time graph is (see `orders`): per key, a buffer of
    /// committed txns, each completion superseding those that completed before it began.
    fn realtime_order(&self, d: &Decoded<'h>) -> Vec<(u32, u32)> {
        let txns = &d.txns;
        let completions = committed_by_completion(d);
        let mut next = 0;
        let mut buffers: FxHashMap<KeyId, Vec<(TxnId, u32)>> = FxHashMap::default();
        let mut pairs = Vec::new();
        for t in 0..txns.len() as TxnId {
            let invoked = txns[t as usize].invoke;
            while let Some(&(at, done)) = completions.get(next) {
                if at > invoked {
                    break;
                }
                let began = txns[done as usize].invoke;
                for e in self.externals(done) {
                    let buffer = buffers.entry(e.key).or_default();
                    buffer.retain(|&(a, _)| txns[a as usize].completion > began);
                    buffer.push((done, Self::first_and_last(e).1));
                }
                next += 1;
            }
            for e in self.externals(t) {
                let (first, _) = Self::first_and_last(e);
                if let Some(buffer) = buffers.get(&e.key) {
                    pairs.extend(buffer.iter().map(|&(_, last)| (last, first)));
                }
            }
        }
        pairs
    }
}

pub(super) fn source_name(source: u8) -> &'static str {
    match source {
        INITIAL => "the initial state",
        WFR => "writes follow reads",
        BY_PROCESS => "process order",
        BY_REALTIME => "real time",
        _ => "the order of a session's own writes",
    }
}

pub(super) fn sources_text(kinds: u8) -> String {
    let names: Vec<&str> = [INITIAL, WFR, BY_PROCESS, BY_REALTIME, SESSION]
        .into_iter()
        .filter(|s| kinds & s != 0)
        .map(source_name)
        .collect();
    names.join(" and ")
}

#[cfg(test)]
#[path = "versions_tests.rs"]
mod tests;
