//! The list-append analysis: every key is a list that txns append unique values to and read
//! whole, so each read reveals the order of every append before it.
//!
//! For each key, every read must be a prefix of one order of its appends (the longest read;
//! otherwise `incompatible-order`). With that order the dependencies are exact, from
//! adjacent elements: the writer of element i-1 → ww → the writer of element i; the writer
//! of a read's last element → wr → the reader; a reader of the first i elements → rw → the
//! writer of element i. An append never read comes after every element read.
//!
//! The anomalies that need no cycle are found here too: G1a (a read includes an element a
//! failed txn appended), G1b (a read ends in an element its writer appended another after),
//! garbage reads (an element nobody appended), duplicate elements, internal inconsistency,
//! future reads, dirty updates and lost updates, as in Elle's `list-append`.
//!
//! Everything is indexed by number: elements are interned once per (key, value), a read is
//! compared element by element with its key's longest read, and the readers of each state
//! of each key sit in one flat array. Nothing here allocates per element of a read.
//!
//! This module must never search for cycles; it only finds edges and local anomalies.

use serde_json::{json, Value};

use super::decode::{scalar, Decoded, KeyId, MopKind, Scalar, Status, TxnId};
use super::error::TxnError;
use super::explain::{Because, Explainer};
use super::findings::{text, Case, Findings};
use super::graph::{EdgeList, Label, RW, WR, WW};
use super::lattice::Anomaly;
use crate::linearizable::fxhash::FxHashMap;

pub(super) const NONE: u32 = u32::MAX;
/// A read of the empty list, in `mop_elem`.
pub(super) const EMPTY: u32 = u32::MAX - 1;

/// One appended (or read but never appended) element of one key.
#[derive(Debug, Clone, Copy)]
pub(super) struct Elem<'h> {
    pub(super) key: KeyId,
    pub(super) value: &'h Value,
    /// The txn that appended it, or `NONE` (a garbage element).
    pub(super) writer: TxnId,
    /// Its position in its key's order, or `NONE` when no read saw it.
    pub(super) pos: u32,
    /// Its writer appended to the same key again later.
    pub(super) intermediate: bool,
}

/// What the reads say about each key, indexed for finding edges and explaining them.
#[derive(Debug)]
pub(crate) struct AppendIndex<'h> {
    pub(super) elems: Vec<Elem<'h>>,
    /// Key `k`'s order is `order[order_start[k]..order_start[k + 1]]`.
    pub(super) order_start: Vec<u32>,
    pub(super) order: Vec<u32>,
    /// Per micro-op: an append's element; a committed read's last element (or `EMPTY`).
    pub(super) mop_elem: Vec<u32>,
    /// Per micro-op: how many elements of the order a committed read saw (`NONE` if it is
    /// not a prefix and its last element is not in the order).
    pub(super) mop_state: Vec<u32>,
    /// Readers of state `s` of key `k`: `readers[reader_start[id]..reader_start[id + 1]]`
    /// with `id = order_start[k] + k + s`.
    pub(super) reader_start: Vec<u32>,
    pub(super) readers: Vec<TxnId>,
}

/// The values of a list read (`null` reads as the empty list).
pub(super) fn list(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}

/// Index a list-append history and record its non-cycle anomalies in `findings`.
pub(crate) fn analyze<'h>(
    d: &Decoded<'h>,
    findings: &mut Findings,
) -> Result<AppendIndex<'h>, TxnError> {
    let mut index = AppendIndex {
        elems: Vec::new(),
        order_start: Vec::with_capacity(d.keys.len() + 1),
        order: Vec::new(),
        mop_elem: vec![NONE; d.mops.len()],
        mop_state: vec![NONE; d.mops.len()],
        reader_start: Vec::new(),
        readers: Vec::new(),
    };
    let mut elem_ids = index.index_appends(d)?;
    let longest = longest_reads(d);
    index.build_orders(&longest, &mut elem_ids);
    index.resolve_reads(d, &longest, &elem_ids, findings);
    super::append_checks::internal_cases(d, findings);
    index.dirty_updates(d, findings);
    index.lost_updates(d, findings);
    index.index_readers(d);
    Ok(index)
}

/// The longest committed read of each key: its list and the txn that read it.
fn longest_reads<'h>(d: &Decoded<'h>) -> Vec<(&'h [Value], TxnId)> {
    let mut longest: Vec<(&'h [Value], TxnId)> = vec![(&[], NONE); d.keys.len()];
    for (t, txn) in d.txns.iter().enumerate() {
        if txn.status != Status::Ok {
            continue;
        }
        for mop in d.mops(t as TxnId) {
            if mop.kind == MopKind::Read {
                let values = list(mop.value);
                let slot = &mut longest[mop.key as usize];
                if slot.1 == NONE || values.len() > slot.0.len() {
                    *slot = (values, t as TxnId);
                }
            }
        }
    }
    longest
}

impl<'h> AppendIndex<'h> {
    /// Intern every appended element, rejecting a value appended twice to one key.
    fn index_appends(
        &mut self,
        d: &Decoded<'h>,
    ) -> Result<FxHashMap<(KeyId, Scalar<'h>), u32>, TxnError> {
        let appends = d.mops.iter().filter(|m| m.kind == MopKind::Write).count();
        self.elems.reserve(appends);
        let mut ids: FxHashMap<(KeyId, Scalar<'h>), u32> = FxHashMap::default();
        ids.reserve(appends);
        for t in 0..d.txns.len() as TxnId {
            let range = d.mop_range(t);
            let mut writes = 0;
            for gm in range.clone() {
                let mop = d.mops[gm];
                if mop.kind != MopKind::Write {
                    continue;
                }
                writes += 1;
                let value = scalar(mop.value).expect("decode checked appended values");
                let id = self.elems.len() as u32;
                match ids.entry((mop.key, value)) {
                    std::collections::hash_map::Entry::Occupied(e) => {
                        let other = self.elems[*e.get() as usize].writer;
                        let also = if other == t {
                            "which it also appends earlier in the same txn".to_string()
                        } else {
                            format!("which op #{} also appends", d.op_index(other))
                        };
                        return Err(TxnError::bad_op(
                            d.op_index(t),
                            format!(
                                "appends {} to key {}, {also}; appended values must be unique \
                                 per key",
                                text(mop.value),
                                text(d.key(mop.key))
                            ),
                        ));
                    }
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(id);
                    }
                }
                self.elems.push(Elem {
                    key: mop.key,
                    value: mop.value,
                    writer: t,
                    pos: NONE,
                    intermediate: false,
                });
                self.mop_elem[gm] = id;
            }
            if writes > 1 {
                for gm in range.clone() {
                    let mop = d.mops[gm];
                    if mop.kind == MopKind::Write
                        && d.mops[gm + 1..range.end]
                            .iter()
                            .any(|later| later.kind == MopKind::Write && later.key == mop.key)
                    {
                        self.elems[self.mop_elem[gm] as usize].intermediate = true;
                    }
                }
            }
        }
        Ok(ids)
    }

    /// The element for `value` of key `k`, interning an element nobody appended.
    fn element(
        &mut self,
        ids: &mut FxHashMap<(KeyId, Scalar<'h>), u32>,
        k: KeyId,
        value: &'h Value,
    ) -> u32 {
        let garbage = Elem {
            key: k,
            value,
            writer: NONE,
            pos: NONE,
            intermediate: false,
        };
        match scalar(value) {
            Some(s) => *ids.entry((k, s)).or_insert_with(|| {
                self.elems.push(garbage);
                self.elems.len() as u32 - 1
            }),
            None => {
                self.elems.push(garbage);
                self.elems.len() as u32 - 1
            }
        }
    }

    /// Each key's order: the distinct elements of its longest read.
    fn build_orders(
        &mut self,
        longest: &[(&'h [Value], TxnId)],
        ids: &mut FxHashMap<(KeyId, Scalar<'h>), u32>,
    ) {
        for (k, (values, _)) in longest.iter().enumerate() {
            let start = self.order.len() as u32;
            self.order_start.push(start);
            for value in *values {
                let e = self.element(ids, k as KeyId, value);
                if self.elems[e as usize].pos == NONE {
                    self.elems[e as usize].pos = self.order.len() as u32 - start;
                    self.order.push(e);
                }
            }
        }
        self.order_start.push(self.order.len() as u32);
    }

    pub(super) fn order_of(&self, k: KeyId) -> &[u32] {
        &self.order
            [self.order_start[k as usize] as usize..self.order_start[k as usize + 1] as usize]
    }

    /// Where each committed read stands in its key's order, and the anomalies each read
    /// shows on its own.
    fn resolve_reads(
        &mut self,
        d: &Decoded<'h>,
        longest: &[(&'h [Value], TxnId)],
        ids: &FxHashMap<(KeyId, Scalar<'h>), u32>,
        findings: &mut Findings,
    ) {
        // Per key: the first position of the order a failed txn wrote, or nobody did.
        let mut first_failed = vec![NONE; d.keys.len()];
        let mut first_garbage = vec![NONE; d.keys.len()];
        for k in 0..d.keys.len() {
            for (pos, &e) in self.order_of(k as KeyId).iter().enumerate() {
                let w = self.elems[e as usize].writer;
                if w == NONE && first_garbage[k] == NONE {
                    first_garbage[k] = pos as u32;
                } else if w != NONE && d.status(w) == Status::Fail && first_failed[k] == NONE {
                    first_failed[k] = pos as u32;
                }
            }
        }
        let mut incompatible_keys = vec![false; d.keys.len()];
        let lookup = |k: KeyId, v: &Value| scalar(v).and_then(|s| ids.get(&(k, s)).copied());
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
                let values = list(mop.value);
                let full = longest[k as usize].0;
                let order_len = self.order_of(k).len();
                let prefix = values.len() <= full.len() && values == &full[..values.len()];
                let distinct = order_len == full.len();
                let (last, state) = if values.is_empty() {
                    (EMPTY, 0)
                } else if prefix && distinct {
                    let e = self.order_of(k)[values.len() - 1];
                    (e, values.len() as u32)
                } else {
                    let e = lookup(k, &values[values.len() - 1]).unwrap_or(NONE);
                    let pos = if e == NONE {
                        NONE
                    } else {
                        self.elems[e as usize].pos
                    };
                    (e, if pos == NONE { NONE } else { pos + 1 })
                };
                self.mop_elem[gm] = last;
                self.mop_state[gm] = state;
                if !prefix && !incompatible_keys[k as usize] {
                    incompatible_keys[k as usize] = true;
                    let other = longest[k as usize].1;
                    findings.add(Anomaly::INCOMPATIBLE_ORDER, || {
                        Case::new(
                            d,
                            &[other, t],
                            format!(
                                "key {} was read as {} by op #{} and as {} by op #{}: neither \
                                 is a prefix of the other, so no one order of appends explains \
                                 both",
                                text(d.key(k)),
                                text(&json!(full)),
                                d.op_index(other),
                                text(mop.value),
                                d.op_index(t)
                            ),
                        )
                        .with("key", d.key(k).clone())
                        .with("values", json!([full, values]))
                    });
                }
                self.read_elements(
                    d,
                    t,
                    gm,
                    prefix && distinct,
                    [first_failed[k as usize], first_garbage[k as usize]],
                    &lookup,
                    findings,
                );
            }
        }
    }
}

impl<'h> AppendIndex<'h> {
    /// The id of state `s` (the first `s` elements) of key `k`.
    fn state_id(&self, k: KeyId, s: u32) -> usize {
        (self.order_start[k as usize] + k + s) as usize
    }

    /// Index the committed readers of every state of every key.
    fn index_readers(&mut self, d: &Decoded<'h>) {
        let states = self.order.len() + d.keys.len();
        let mut start = vec![0u32; states + 1];
        let reads = || {
            (0..d.txns.len() as TxnId)
                .filter(|&t| d.status(t) == Status::Ok)
                .flat_map(move |t| d.mop_range(t).map(move |gm| (t, gm)))
                .filter(|&(_, gm)| d.mops[gm].kind == MopKind::Read && self.mop_state[gm] != NONE)
        };
        for (_, gm) in reads() {
            start[self.state_id(d.mops[gm].key, self.mop_state[gm]) + 1] += 1;
        }
        for i in 0..states {
            start[i + 1] += start[i];
        }
        let mut cursor = start.clone();
        let mut readers = vec![0; start[states] as usize];
        for (t, gm) in reads() {
            let slot = &mut cursor[self.state_id(d.mops[gm].key, self.mop_state[gm])];
            readers[*slot as usize] = t;
            *slot += 1;
        }
        self.reader_start = start;
        self.readers = readers;
    }

    fn readers_of(&self, k: KeyId, s: u32) -> &[TxnId] {
        let id = self.state_id(k, s);
        &self.readers[self.reader_start[id] as usize..self.reader_start[id + 1] as usize]
    }

    /// How many elements precede append element `e` in its key's order (all of them when no
    /// read saw it: it came after every element read).
    fn before(&self, e: u32) -> u32 {
        let elem = &self.elems[e as usize];
        if elem.pos == NONE {
            self.order_of(elem.key).len() as u32
        } else {
            elem.pos
        }
    }

    /// The writer of the element before append element `e`, when there is one.
    fn previous_writer(&self, e: u32) -> Option<(TxnId, &'h Value)> {
        let s = self.before(e);
        let k = self.elems[e as usize].key;
        (s > 0).then(|| {
            let p = self.elems[self.order_of(k)[s as usize - 1] as usize];
            (p.writer, p.value)
        })
    }

    /// Add the ww, wr and rw edges between txns that may have happened.
    pub(crate) fn dependency_edges(&self, d: &Decoded<'h>, edges: &mut EdgeList) {
        for t in 0..d.txns.len() as TxnId {
            let status = d.status(t);
            if status == Status::Fail {
                continue;
            }
            for gm in d.mop_range(t) {
                let mop = d.mops[gm];
                let e = self.mop_elem[gm];
                match mop.kind {
                    MopKind::Read if status == Status::Ok && e < EMPTY => {
                        let w = self.elems[e as usize].writer;
                        if w != NONE && d.possible(w) {
                            edges.push(w, t, WR);
                        }
                    }
                    MopKind::Write => {
                        if let Some((w, _)) = self.previous_writer(e) {
                            if w != NONE && d.possible(w) {
                                edges.push(w, t, WW);
                            }
                        }
                        for &r in self.readers_of(mop.key, self.before(e)) {
                            edges.push(r, t, RW);
                        }
                    }
                    MopKind::Read => {}
                }
            }
        }
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.elems.capacity() * std::mem::size_of::<Elem<'_>>()
            + (self.order_start.capacity()
                + self.order.capacity()
                + self.mop_elem.capacity()
                + self.mop_state.capacity()
                + self.reader_start.capacity()
                + self.readers.capacity())
                * 4
    }
}

impl Explainer for AppendIndex<'_> {
    /// Why `a` precedes `b` by an edge labelled `label`, naming them `an` and `bn`.
    fn explain(
        &self,
        d: &Decoded<'_>,
        a: TxnId,
        b: TxnId,
        label: Label,
        an: &str,
        bn: &str,
    ) -> Option<Because> {
        let key = |k: KeyId| d.key(k).clone();
        match label {
            Label::Ww => d.mop_range(b).find_map(|gm| {
                let mop = d.mops[gm];
                if mop.kind != MopKind::Write {
                    return None;
                }
                let (w, prev) = self.previous_writer(self.mop_elem[gm])?;
                (w == a).then(|| {
                    Because::new(
                        format!(
                            "{bn} appended {} after {an} appended {} to key {}",
                            text(mop.value),
                            text(prev),
                            text(d.key(mop.key))
                        ),
                        key(mop.key),
                        mop.value.clone(),
                    )
                })
            }),
            Label::Wr => d.mop_range(b).find_map(|gm| {
                let mop = d.mops[gm];
                let e = self.mop_elem[gm];
                if mop.kind != MopKind::Read
                    || d.status(b) != Status::Ok
                    || e >= EMPTY
                    || self.elems[e as usize].writer != a
                {
                    return None;
                }
                let value = self.elems[e as usize].value;
                Some(Because::new(
                    format!(
                        "{bn} read {an}'s append of {} to key {}",
                        text(value),
                        text(d.key(mop.key))
                    ),
                    key(mop.key),
                    value.clone(),
                ))
            }),
            Label::Rw => d.mop_range(b).find_map(|gm| {
                let mop = d.mops[gm];
                if mop.kind != MopKind::Write {
                    return None;
                }
                let s = self.before(self.mop_elem[gm]);
                let read = d.mop_range(a).find(|&rm| {
                    d.mops[rm].kind == MopKind::Read
                        && d.mops[rm].key == mop.key
                        && self.mop_state[rm] == s
                        && d.status(a) == Status::Ok
                })?;
                Some(
                    Because::new(
                        format!(
                            "{an}'s read of key {} did not see {bn}'s append of {}",
                            text(d.key(mop.key)),
                            text(mop.value)
                        ),
                        key(mop.key),
                        mop.value.clone(),
                    )
                    .with_read(d.mops[read].value.clone()),
                )
            }),
            Label::Process | Label::Realtime => None,
        }
    }
}
