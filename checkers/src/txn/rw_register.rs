//! The rw-register analysis: keys are registers that txns write unique values to and read,
//! so a read names the one txn whose write it saw, but the order of the writes must be
//! inferred.
//!
//! A txn's external read of a key is its first read before writing the key; its external
//! write is its last write. The version order of each key is built from what can be known:
//! the initial state (`null`) comes before every value; a committed txn that read `v1` and
//! then wrote `v2` installed `v2` after `v1` (writes follow reads); optionally each process
//! sees a key's versions in order, and versions follow real time. Each source is added in
//! turn; when it makes a key's versions cyclic, that is a `cyclic-versions` anomaly and the
//! source is dropped for the key. From the version order: the external writer of `v1` → ww
//! → the external writer of `v2` for each `v1 < v2`, and each external reader of `v1` → rw
//! → that writer; a read of `v` → wr from `v`'s writer.
//!
//! Also found here: G1a and G1b reads, garbage reads (a value nobody wrote, which Elle's
//! rw-register does not report), internal inconsistency and lost updates.
//!
//! This module must never search for cycles; it only finds edges and local anomalies.

use serde_json::{json, Value};

use super::decode::{scalar, Decoded, KeyId, MopKind, Scalar, Status, TxnId};
use super::error::TxnError;
use super::explain::{Because, Explainer};
use super::findings::{text, Case, Findings};
use super::graph::{components, EdgeList, Graph, Label, ReverseBuilder, RW, WR, WW};
use super::lattice::Anomaly;
use crate::fxhash::FxHashMap;

/// Where an rw-register analysis may take the order of a key's versions from, besides the
/// initial state (`null` comes before every written value). List-append ignores these: its
/// reads give the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionOrders {
    /// A committed txn that read `x = 1` and then wrote `x = 2` installed 2 after 1.
    pub writes_follow_reads: bool,
    /// Each key is sequentially consistent: a process sees its versions in order.
    pub process: bool,
    /// Each key is linearizable: versions follow real time.
    pub realtime: bool,
}

impl Default for VersionOrders {
    /// Writes follow reads only.
    fn default() -> Self {
        VersionOrders {
            writes_follow_reads: true,
            process: false,
            realtime: false,
        }
    }
}

const NONE: u32 = u32::MAX;

/// Version-order sources, as edge kind bits of the version graph.
const INITIAL: u8 = 1;
const WFR: u8 = 2;
const BY_PROCESS: u8 = 4;
const BY_REALTIME: u8 = 8;

/// One value of one key: `null` (the initial state), or a written (or read but never
/// written) value.
#[derive(Debug, Clone, Copy)]
struct Version<'h> {
    key: KeyId,
    value: &'h Value,
    /// The txn whose write this is, or `NONE`.
    writer: TxnId,
    /// Its writer wrote the key again later in the same txn.
    intermediate: bool,
}

/// A txn's external read and write of one key (version numbers, or `NONE`).
#[derive(Debug, Clone, Copy)]
struct Ext {
    key: KeyId,
    read: u32,
    write: u32,
}

/// The versions, each txn's external reads and writes, and the version order.
#[derive(Debug)]
pub(crate) struct RegisterIndex<'h> {
    versions: Vec<Version<'h>>,
    /// Txn `t`'s externals are `ext[ext_start[t]..ext_start[t + 1]]`.
    ext_start: Vec<u32>,
    ext: Vec<Ext>,
    /// The version order backwards: the out-edges of a version lead to the versions
    /// directly before it, the kinds being the sources that say so.
    order_before: Graph,
    /// External readers of version `v`: `readers[reader_start[v]..reader_start[v + 1]]`.
    reader_start: Vec<u32>,
    readers: Vec<TxnId>,
}

static NULL: Value = Value::Null;

/// Index an rw-register history and record its non-cycle anomalies in `findings`.
pub(crate) fn analyze<'h>(
    d: &Decoded<'h>,
    sources: VersionOrders,
    findings: &mut Findings,
) -> Result<RegisterIndex<'h>, TxnError> {
    // Version `k` is key `k`'s initial state.
    let mut versions: Vec<Version<'h>> = (0..d.keys.len() as KeyId)
        .map(|key| Version {
            key,
            value: &NULL,
            writer: NONE,
            intermediate: false,
        })
        .collect();
    let mut ids: FxHashMap<(KeyId, Scalar<'h>), u32> = FxHashMap::default();
    let mut mop_version = vec![NONE; d.mops.len()];
    for t in 0..d.txns.len() as TxnId {
        let range = d.mop_range(t);
        for gm in range.clone() {
            let mop = d.mops[gm];
            if mop.kind != MopKind::Write {
                continue;
            }
            let value = scalar(mop.value).expect("decode checked written values");
            let id = versions.len() as u32;
            if let Some(&other) = ids.get(&(mop.key, value)) {
                let other = versions[other as usize].writer;
                return Err(d.written_twice(t, other, ("writes", "written"), mop.value, mop.key));
            }
            ids.insert((mop.key, value), id);
            let intermediate = d.mops[gm + 1..range.end]
                .iter()
                .any(|m| m.kind == MopKind::Write && m.key == mop.key);
            versions.push(Version {
                key: mop.key,
                value: mop.value,
                writer: t,
                intermediate,
            });
            mop_version[gm] = id;
        }
    }
    // Reads of committed txns: their versions, and what each read shows on its own.
    for t in 0..d.txns.len() as TxnId {
        if d.status(t) != Status::Ok {
            continue;
        }
        for gm in d.mop_range(t) {
            let mop = d.mops[gm];
            if mop.kind != MopKind::Read {
                continue;
            }
            let k = mop.key;
            let said = || {
                format!(
                    "op #{} read key {} = {}",
                    d.op_index(t),
                    text(d.key(k)),
                    text(mop.value)
                )
            };
            let v = match scalar(mop.value) {
                None => k,
                Some(s) => *ids.entry((k, s)).or_insert_with(|| {
                    versions.push(Version {
                        key: k,
                        value: mop.value,
                        writer: NONE,
                        intermediate: false,
                    });
                    versions.len() as u32 - 1
                }),
            };
            mop_version[gm] = v;
            let Version {
                writer,
                intermediate,
                ..
            } = versions[v as usize];
            if v >= d.keys.len() as u32 && writer == NONE {
                findings.add(Anomaly::GARBAGE_READ, || {
                    Case::new(
                        d,
                        &[t],
                        format!(
                            "{}, but no txn wrote {} to key {}",
                            said(),
                            text(mop.value),
                            text(d.key(k))
                        ),
                    )
                    .with("key", d.key(k).clone())
                    .with("value", mop.value.clone())
                });
            } else if writer != NONE && d.status(writer) == Status::Fail {
                findings.add(Anomaly::G1A, || {
                    Case::new(
                        d,
                        &[t, writer],
                        format!(
                            "{}, written by op #{}, which failed",
                            said(),
                            d.op_index(writer)
                        ),
                    )
                    .with("key", d.key(k).clone())
                    .with("value", mop.value.clone())
                });
            } else if writer != NONE && writer != t && intermediate {
                findings.add(Anomaly::G1B, || {
                    Case::new(d, &[t, writer], format!(
                        "{}, which op #{} wrote and then overwrote in the same txn: an intermediate state",
                        said(), d.op_index(writer)))
                        .with("key", d.key(k).clone())
                        .with("value", mop.value.clone())
                });
            }
        }
    }
    internal_cases(d, findings);
    let (ext_start, ext) = externals(d, &mop_version);
    let mut index = RegisterIndex {
        versions,
        ext_start,
        ext,
        order_before: Graph::default(),
        reader_start: Vec::new(),
        readers: Vec::new(),
    };
    index.lost_updates(d, findings);
    index.build_order(d, sources, findings);
    index.index_readers(d);
    Ok(index)
}

/// Internal inconsistency: within a committed txn, a read must return what the txn last
/// wrote or read of that key.
fn internal_cases(d: &Decoded<'_>, findings: &mut Findings) {
    for t in 0..d.txns.len() as TxnId {
        let mops = d.mops(t);
        if d.status(t) != Status::Ok || mops.len() < 2 {
            continue;
        }
        let mut state: Vec<(KeyId, &Value, bool)> = Vec::new();
        for (i, mop) in mops.iter().enumerate() {
            let slot = state.iter().position(|(k, _, _)| *k == mop.key);
            if mop.kind == MopKind::Read {
                if let Some(s) = slot {
                    let (_, expected, wrote) = state[s];
                    if expected != mop.value {
                        findings.add(Anomaly::INTERNAL, || {
                            Case::new(
                                d,
                                &[t],
                                format!(
                                    "op #{} read key {} = {}, but it {} {} earlier in the same txn",
                                    d.op_index(t),
                                    text(d.key(mop.key)),
                                    text(mop.value),
                                    if wrote { "wrote" } else { "read" },
                                    text(expected)
                                ),
                            )
                            .with("key", d.key(mop.key).clone())
                            .with("value", mop.value.clone())
                            .with("mop", json!(i))
                            .with("expected", expected.clone())
                        });
                        break;
                    }
                }
            }
            let entry = (mop.key, mop.value, mop.kind == MopKind::Write);
            match slot {
                Some(s) => state[s] = entry,
                None => state.push(entry),
            }
        }
    }
}

/// Each txn's external read (first read before a write) and external write (last write)
/// of each key it touches; reads only for committed txns, nothing for failed ones.
fn externals(d: &Decoded<'_>, mop_version: &[u32]) -> (Vec<u32>, Vec<Ext>) {
    let mut start = Vec::with_capacity(d.txns.len() + 1);
    let mut ext: Vec<Ext> = Vec::with_capacity(d.mops.len());
    for t in 0..d.txns.len() as TxnId {
        start.push(ext.len() as u32);
        let status = d.status(t);
        if status == Status::Fail {
            continue;
        }
        let first = ext.len();
        for gm in d.mop_range(t) {
            let mop = d.mops[gm];
            let slot = ext[first..]
                .iter()
                .position(|e| e.key == mop.key)
                .map(|i| first + i);
            let e = match slot {
                Some(i) => &mut ext[i],
                None => {
                    ext.push(Ext {
                        key: mop.key,
                        read: NONE,
                        write: NONE,
                    });
                    ext.last_mut().expect("just pushed")
                }
            };
            match mop.kind {
                MopKind::Write => e.write = mop_version[gm],
                MopKind::Read if status == Status::Ok && e.write == NONE && e.read == NONE => {
                    e.read = mop_version[gm]
                }
                MopKind::Read => {}
            }
        }
        // An info txn's reads are unknown: keep only keys it wrote.
        let mut i = first;
        while i < ext.len() {
            if ext[i].read == NONE && ext[i].write == NONE {
                ext.swap_remove(i);
            } else {
                i += 1;
            }
        }
    }
    start.push(ext.len() as u32);
    (start, ext)
}

impl<'h> RegisterIndex<'h> {
    fn externals(&self, t: TxnId) -> &[Ext] {
        &self.ext[self.ext_start[t as usize] as usize..self.ext_start[t as usize + 1] as usize]
    }

    /// The txn whose external write is version `v`, if any.
    fn external_writer(&self, d: &Decoded<'_>, v: u32) -> Option<TxnId> {
        let w = self.versions[v as usize].writer;
        (w != NONE && d.possible(w) && !self.versions[v as usize].intermediate).then_some(w)
    }

    /// Lost updates: committed txns that read the same version of a key and then wrote it.
    fn lost_updates(&self, d: &Decoded<'h>, findings: &mut Findings) {
        let mut candidates: Vec<(KeyId, u32, TxnId)> = Vec::new();
        for t in 0..d.txns.len() as TxnId {
            if d.status(t) == Status::Ok {
                for e in self.externals(t) {
                    if e.read != NONE && e.write != NONE {
                        candidates.push((e.key, e.read, t));
                    }
                }
            }
        }
        candidates.sort_unstable();
        for group in candidates.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            if group.len() > 1 {
                let (k, v, _) = group[0];
                let txns: Vec<TxnId> = group.iter().map(|c| c.2).collect();
                let value = self.versions[v as usize].value;
                findings.add(Anomaly::LOST_UPDATE, || {
                    let ops: Vec<String> = txns.iter().map(|&t| format!("op #{}", d.op_index(t))).collect();
                    Case::new(d, &txns, format!(
                        "{} all read key {} = {} and then wrote it: all but one of these updates is lost",
                        ops.join(", "), text(d.key(k)), text(value)))
                        .with("key", d.key(k).clone())
                        .with("value", value.clone())
                });
            }
        }
    }

    /// The first version of key `k` txn `t` saw or made, and the last.
    fn first_and_last(e: &Ext) -> (u32, u32) {
        let first = if e.read != NONE { e.read } else { e.write };
        let last = if e.write != NONE { e.write } else { e.read };
        (first, last)
    }

    /// Build the version order from each source in turn, dropping a source for a key it
    /// would make cyclic.
    fn build_order(&mut self, d: &Decoded<'h>, sources: VersionOrders, findings: &mut Findings) {
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
        if sources.writes_follow_reads {
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
        if sources.process {
            candidates.push((BY_PROCESS, self.process_order(d)));
        }
        if sources.realtime {
            candidates.push((BY_REALTIME, self.realtime_order(d)));
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
            for group in &cycles {
                self.cyclic_versions(d, group, source, findings);
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

    /// Per process and key, the last version one txn touched before the first the next
    /// txn of that process touched.
    fn process_order(&self, d: &Decoded<'h>) -> Vec<(u32, u32)> {
        let mut last: FxHashMap<(u64, KeyId), u32> = FxHashMap::default();
        let mut pairs = Vec::new();
        for t in 0..d.txns.len() as TxnId {
            let process = d.txns[t as usize].process;
            for e in self.externals(t) {
                let (first, final_) = Self::first_and_last(e);
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
        let mut completions: Vec<(u32, TxnId)> = txns
            .iter()
            .enumerate()
            .filter(|(_, txn)| txn.status == Status::Ok && txn.completion != txn.invoke)
            .map(|(t, txn)| (txn.completion, t as TxnId))
            .collect();
        completions.sort_unstable();
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

    /// Index the external readers of every version.
    fn index_readers(&mut self, d: &Decoded<'h>) {
        let n = self.versions.len();
        let mut start = vec![0u32; n + 1];
        for t in 0..d.txns.len() as TxnId {
            if d.status(t) == Status::Ok {
                for e in self.externals(t) {
                    if e.read != NONE {
                        start[e.read as usize + 1] += 1;
                    }
                }
            }
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut cursor = start.clone();
        let mut readers = vec![0; start[n] as usize];
        for t in 0..d.txns.len() as TxnId {
            if d.status(t) == Status::Ok {
                for e in self.externals(t) {
                    if e.read != NONE {
                        readers[cursor[e.read as usize] as usize] = t;
                        cursor[e.read as usize] += 1;
                    }
                }
            }
        }
        self.reader_start = start;
        self.readers = readers;
    }

    fn readers_of(&self, v: u32) -> &[TxnId] {
        &self.readers
            [self.reader_start[v as usize] as usize..self.reader_start[v as usize + 1] as usize]
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.versions.capacity() * std::mem::size_of::<Version<'_>>()
            + self.ext.capacity() * std::mem::size_of::<Ext>()
            + (self.ext_start.capacity() + self.reader_start.capacity() + self.readers.capacity())
                * 4
            + self.order_before.bytes()
    }

    /// Push the ww, wr and rw edges into txn `t` from txns that may have happened: from
    /// the writers of the versions it read, and, for each version it wrote, from the writer
    /// and the readers of each version directly before it.
    pub(crate) fn edges_into(&self, d: &Decoded<'h>, t: TxnId, into: &mut ReverseBuilder) {
        let status = d.status(t);
        for e in self.externals(t) {
            if e.read != NONE && status == Status::Ok {
                if let Some(w) = self.external_writer(d, e.read) {
                    into.edge_from(w, WR);
                }
            }
            if e.write != NONE {
                for (v1, _) in self.order_before.out(e.write) {
                    if let Some(w1) = self.external_writer(d, v1) {
                        into.edge_from(w1, WW);
                    }
                    for &r in self.readers_of(v1) {
                        into.edge_from(r, RW);
                    }
                }
            }
        }
    }
}

fn source_name(source: u8) -> &'static str {
    match source {
        INITIAL => "the initial state",
        WFR => "writes follow reads",
        BY_PROCESS => "process order",
        _ => "real time",
    }
}

fn sources_text(kinds: u8) -> String {
    let names: Vec<&str> = [INITIAL, WFR, BY_PROCESS, BY_REALTIME]
        .into_iter()
        .filter(|s| kinds & s != 0)
        .map(source_name)
        .collect();
    names.join(" and ")
}

impl Explainer for RegisterIndex<'_> {
    fn explain(
        &self,
        d: &Decoded<'_>,
        a: TxnId,
        b: TxnId,
        label: Label,
        an: &str,
        bn: &str,
    ) -> Option<Because> {
        let value = |v: u32| self.versions[v as usize].value;
        match label {
            Label::Wr => self.externals(b).iter().find_map(|e| {
                (e.read != NONE && self.external_writer(d, e.read) == Some(a)).then(|| {
                    Because::new(
                        format!("{bn} read {an}'s write of {} to key {}", text(value(e.read)), text(d.key(e.key))),
                        d.key(e.key).clone(),
                        value(e.read).clone(),
                    )
                })
            }),
            Label::Ww | Label::Rw => self.externals(b).iter().find_map(|eb| {
                if eb.write == NONE || self.external_writer(d, eb.write) != Some(b) {
                    return None;
                }
                let ea = self.externals(a).iter().find(|ea| ea.key == eb.key)?;
                let v1 = if label == Label::Ww { ea.write } else { ea.read };
                if v1 == NONE || (label == Label::Ww && self.external_writer(d, v1) != Some(a)) {
                    return None;
                }
                let kinds = self.order_before.kinds(eb.write, v1);
                if kinds == 0 {
                    return None;
                }
                let (k, v2) = (text(d.key(eb.key)), text(value(eb.write)));
                let why = sources_text(kinds);
                let sentence = if label == Label::Ww {
                    format!("{bn}'s write of {v2} to key {k} follows {an}'s write of {} in the version order (by {why})", text(value(v1)))
                } else if v1 == eb.key {
                    format!("{an}'s read of key {k} saw the initial null, so it did not see {bn}'s write of {v2}")
                } else {
                    format!("{an}'s read of key {k} (= {}) did not see {bn}'s write of {v2}, which follows it in the version order (by {why})", text(value(v1)))
                };
                let because = Because::new(sentence, d.key(eb.key).clone(), value(eb.write).clone());
                Some(if label == Label::Rw { because.with_read(value(v1).clone()) } else { because })
            }),
            Label::Process | Label::Realtime => None,
        }
    }
}
