//! The rw-register analysis: keys are registers that txns write unique values to and read,
//! so a read names the one txn whose write it saw, but the order of the writes must be
//! inferred.
//!
//! A txn's external read of a key is its first read before writing the key; its external
//! write is its last write. The version order of each key is built by [`super::versions`]
//! from what can be known or is assumed. From the version order: the external writer of
//! `v1` → ww → the external writer of `v2` for each `v1 < v2`, and each external reader of
//! `v1` → rw → that writer; a read of `v` → wr from `v`'s writer. An order that rests on a
//! session's own writes alone gives no ww edge (process edges order those writers already)
//! and marks its rw edges [`SESSION_RW`].
//!
//! Also found here: G1a and G1b reads, garbage reads (a value nobody wrote, which Elle's
//! rw-register does not report), internal inconsistency and lost updates.
//!
//! This module must never search for cycles; it only finds edges and local anomalies.

use serde_json::{json, Value};

use super::decode::{scalar, Decoded, KeyId, MopKind, Scalar, Status, TxnId};
use super::error::TxnError;
use super::explain::{Because, Explainer, NamedEdge};
use super::findings::{read_said, text, Case, Findings};
use super::graph::{Graph, Label, ReverseBuilder, RW, SESSION_RW, WR, WW};
use super::lattice::Anomaly;
use super::versions::{sources_text, VersionOrders, SESSION};
use crate::fxhash::FxHashMap;

pub(super) const NONE: u32 = u32::MAX;

/// One value of one key: `null` (the initial state), or a written (or read but never
/// written) value.
#[derive(Debug, Clone, Copy)]
pub(super) struct Version<'h> {
    pub(super) key: KeyId,
    pub(super) value: &'h Value,
    /// The txn whose write this is, or `NONE`.
    pub(super) writer: TxnId,
    /// Its writer wrote the key again later in the same txn.
    intermediate: bool,
}

/// A txn's external read and write of one key (version numbers, or `NONE`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Ext {
    pub(super) key: KeyId,
    pub(super) read: u32,
    pub(super) write: u32,
}

/// The versions, each txn's external reads and writes, and the version order.
#[derive(Debug)]
pub(crate) struct RegisterIndex<'h> {
    pub(super) versions: Vec<Version<'h>>,
    /// Txn `t`'s externals are `ext[ext_start[t]..ext_start[t + 1]]`.
    ext_start: Vec<u32>,
    ext: Vec<Ext>,
    /// The version order backwards: the out-edges of a version lead to the versions
    /// directly before it, the kinds being the sources that say so.
    pub(super) order_before: Graph,
    /// External readers of version `v`: `readers[reader_start[v]..reader_start[v + 1]]`.
    reader_start: Vec<u32>,
    readers: Vec<TxnId>,
}

static NULL: Value = Value::Null;

/// Index an rw-register history and record its non-cycle anomalies in `findings`. With
/// `session`, each session's own writes order its versions (see [`super::versions`]): only
/// when the models asked for forbid G0-process.
pub(crate) fn analyze<'h>(
    d: &Decoded<'h>,
    sources: VersionOrders,
    session: bool,
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
            let said = || read_said(d, t, gm);
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
    index.build_order(d, sources, session, findings);
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
    pub(super) fn externals(&self, t: TxnId) -> &[Ext] {
        &self.ext[self.ext_start[t as usize] as usize..self.ext_start[t as usize + 1] as usize]
    }

    /// The txn whose external write is version `v`, if any.
    pub(super) fn external_writer(&self, d: &Decoded<'_>, v: u32) -> Option<TxnId> {
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

    pub(super) fn readers_of(&self, v: u32) -> &[TxnId] {
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
                for (v1, kinds) in self.order_before.out(e.write) {
                    let session_only = kinds == SESSION;
                    if !session_only {
                        if let Some(w1) = self.external_writer(d, v1) {
                            into.edge_from(w1, WW);
                        }
                    }
                    let rw = if session_only { SESSION_RW } else { RW };
                    for &r in self.readers_of(v1) {
                        into.edge_from(r, rw);
                    }
                }
            }
        }
    }
}

impl Explainer for RegisterIndex<'_> {
    fn explain(&self, d: &Decoded<'_>, edge: &NamedEdge<'_>) -> Option<Because> {
        let NamedEdge {
            a,
            b,
            label,
            an,
            bn,
        } = *edge;
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
            Label::Ww | Label::Rw | Label::SessionRw => self.externals(b).iter().find_map(|eb| {
                if eb.write == NONE || self.external_writer(d, eb.write) != Some(b) {
                    return None;
                }
                let ea = self.externals(a).iter().find(|ea| ea.key == eb.key)?;
                let v1 = if label == Label::Ww { ea.write } else { ea.read };
                let kinds = self.order_before.kinds(eb.write, v1);
                // A data edge is explained by a key whose order does not rest on a
                // session alone; a session rw edge by one whose order does.
                if kinds == 0 || (kinds == SESSION) != (label == Label::SessionRw) {
                    return None;
                }
                if v1 == NONE || (label == Label::Ww && self.external_writer(d, v1) != Some(a)) {
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
                Some(if label != Label::Ww { because.with_read(value(v1).clone()) } else { because })
            }),
            Label::Process | Label::Realtime => None,
        }
    }
}
