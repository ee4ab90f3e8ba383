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

use super::append_index::{list, AppendIndex, Elem, EMPTY, NONE};
use super::decode::{scalar, Decoded, KeyId, MopKind, Scalar, Status, TxnId};
use super::error::TxnError;
use super::explain::{Because, Explainer, NamedEdge};
use super::findings::{text, Case, Findings};
use super::graph::{Label, ReverseBuilder, RW, WR, WW};
use super::lattice::Anomaly;
use crate::fxhash::FxHashMap;

/// Micro-ops grouped by key: `(micro-op, txn)` pairs, each key's in txn order.
struct ByKey {
    start: Vec<u32>,
    entries: Vec<(u32, TxnId)>,
}

impl ByKey {
    /// The micro-ops `keep` selects, by the txn's status and the micro-op's kind.
    fn new(d: &Decoded<'_>, keep: impl Fn(Status, MopKind) -> bool) -> ByKey {
        let selected = || {
            (0..d.txns.len() as TxnId).flat_map(move |t| {
                let status = d.status(t);
                d.mop_range(t).map(move |gm| (gm, t, status))
            })
        };
        let mut start = vec![0u32; d.keys.len() + 1];
        for (gm, _, status) in selected() {
            if keep(status, d.mops[gm].kind) {
                start[d.mops[gm].key as usize + 1] += 1;
            }
        }
        for k in 0..d.keys.len() {
            start[k + 1] += start[k];
        }
        let mut cursor = start.clone();
        let mut entries = vec![(0, 0); start[d.keys.len()] as usize];
        for (gm, t, status) in selected() {
            if keep(status, d.mops[gm].kind) {
                let slot = &mut cursor[d.mops[gm].key as usize];
                entries[*slot as usize] = (gm as u32, t);
                *slot += 1;
            }
        }
        ByKey { start, entries }
    }

    fn of(&self, k: KeyId) -> &[(u32, TxnId)] {
        &self.entries[self.start[k as usize] as usize..self.start[k as usize + 1] as usize]
    }
}

/// Index a list-append history and record its non-cycle anomalies in `findings`. Keys are
/// taken one at a time, so that each key's values are interned in a small table.
pub(crate) fn analyze<'h>(
    d: &Decoded<'h>,
    findings: &mut Findings,
) -> Result<AppendIndex<'h>, TxnError> {
    let appends = ByKey::new(d, |_, kind| kind == MopKind::Write);
    let reads = ByKey::new(d, |status, kind| {
        status == Status::Ok && kind == MopKind::Read
    });
    let intermediate = intermediate_appends(d);
    let mut index = AppendIndex {
        elems: Vec::with_capacity(appends.entries.len()),
        order_start: Vec::with_capacity(d.keys.len() + 1),
        order: Vec::new(),
        mop_elem: vec![NONE; d.mops.len()],
        mop_state: vec![NONE; d.mops.len()],
        reader_start: Vec::new(),
        readers: Vec::new(),
    };
    let mut values: FxHashMap<Scalar<'h>, u32> = FxHashMap::default();
    for k in 0..d.keys.len() as KeyId {
        values.clear();
        index.intern_appends(d, k, appends.of(k), &intermediate, &mut values)?;
        let longest = reads
            .of(k)
            .iter()
            .fold(None, |best: Option<(u32, TxnId)>, &(gm, t)| match best {
                Some((b, _)) if d.mops[b as usize].list_len() >= d.mops[gm as usize].list_len() => {
                    best
                }
                _ => Some((gm, t)),
            });
        let full = longest.map_or(&[][..], |(gm, _)| list(d.mops[gm as usize].value));
        index.build_order(k, full, &mut values);
        let firsts = index.scan_order(d, k, findings);
        let longest = (full, longest.map_or(NONE, |(_, t)| t));
        index.resolve_reads(d, k, reads.of(k), longest, &values, firsts, findings);
    }
    index.order_start.push(index.order.len() as u32);
    drop((appends, reads, intermediate, values));
    super::append_checks::internal_cases(d, findings);
    index.lost_updates(d, findings);
    index.index_readers(d);
    Ok(index)
}

/// Which appends their txn follows with another append to the same key.
fn intermediate_appends(d: &Decoded<'_>) -> Vec<bool> {
    let mut intermediate = vec![false; d.mops.len()];
    for t in 0..d.txns.len() as TxnId {
        let range = d.mop_range(t);
        let mops = &d.mops[range.clone()];
        if mops.iter().filter(|m| m.kind == MopKind::Write).count() < 2 {
            continue;
        }
        for (i, mop) in mops.iter().enumerate() {
            intermediate[range.start + i] = mop.kind == MopKind::Write
                && mops[i + 1..]
                    .iter()
                    .any(|later| later.kind == MopKind::Write && later.key == mop.key);
        }
    }
    intermediate
}

impl<'h> AppendIndex<'h> {
    /// Intern key `k`'s appended elements, rejecting a value appended twice.
    fn intern_appends(
        &mut self,
        d: &Decoded<'h>,
        k: KeyId,
        appends: &[(u32, TxnId)],
        intermediate: &[bool],
        values: &mut FxHashMap<Scalar<'h>, u32>,
    ) -> Result<(), TxnError> {
        for &(gm, t) in appends {
            let mop = d.mops[gm as usize];
            let value = scalar(mop.value).expect("decode checked appended values");
            let id = self.elems.len() as u32;
            if let Some(&other) = values.get(&value) {
                let other = self.elems[other as usize].writer;
                return Err(d.written_twice(t, other, ("appends", "appended"), mop.value, k));
            }
            values.insert(value, id);
            self.elems.push(Elem {
                key: k,
                value: mop.value,
                writer: t,
                pos: NONE,
                intermediate: intermediate[gm as usize],
            });
            self.mop_elem[gm as usize] = id;
        }
        Ok(())
    }

    /// Key `k`'s order: the distinct elements of its longest read `full`, interning
    /// elements nobody appended.
    fn build_order(
        &mut self,
        k: KeyId,
        full: &'h [Value],
        values: &mut FxHashMap<Scalar<'h>, u32>,
    ) {
        let start = self.order.len() as u32;
        self.order_start.push(start);
        for value in full {
            let garbage = Elem {
                key: k,
                value,
                writer: NONE,
                pos: NONE,
                intermediate: false,
            };
            let e = match scalar(value) {
                Some(s) => *values.entry(s).or_insert_with(|| {
                    self.elems.push(garbage);
                    self.elems.len() as u32 - 1
                }),
                None => {
                    self.elems.push(garbage);
                    self.elems.len() as u32 - 1
                }
            };
            if self.elems[e as usize].pos == NONE {
                self.elems[e as usize].pos = self.order.len() as u32 - start;
                self.order.push(e);
            }
        }
    }

    pub(super) fn order_of(&self, k: KeyId) -> &[u32] {
        let start = self.order_start[k as usize] as usize;
        // While key `k` is being built its end is the order's end.
        let end = self
            .order_start
            .get(k as usize + 1)
            .map_or(self.order.len(), |&e| e as usize);
        &self.order[start..end]
    }

    /// Where each committed read of key `k` stands in its order, and the anomalies each
    /// read shows on its own.
    #[allow(clippy::too_many_arguments)]
    fn resolve_reads(
        &mut self,
        d: &Decoded<'h>,
        k: KeyId,
        reads: &[(u32, TxnId)],
        (full, longest_reader): (&'h [Value], TxnId),
        values: &FxHashMap<Scalar<'h>, u32>,
        firsts: [u32; 2],
        findings: &mut Findings,
    ) {
        let lookup = |v: &Value| scalar(v).and_then(|s| values.get(&s).copied());
        let distinct = self.order_of(k).len() == full.len();
        let mut incompatible = false;
        for &(gm, t) in reads {
            let gm = gm as usize;
            let mop = d.mops[gm];
            let read = list(mop.value);
            let prefix = read.len() <= full.len() && read == &full[..read.len()];
            let (last, state) = if read.is_empty() {
                (EMPTY, 0)
            } else if prefix && distinct {
                (self.order_of(k)[read.len() - 1], read.len() as u32)
            } else {
                let e = lookup(&read[read.len() - 1]).unwrap_or(NONE);
                let pos = if e == NONE {
                    NONE
                } else {
                    self.elems[e as usize].pos
                };
                (e, if pos == NONE { NONE } else { pos + 1 })
            };
            self.mop_elem[gm] = last;
            self.mop_state[gm] = state;
            if !prefix && !incompatible {
                incompatible = true;
                findings.add(Anomaly::INCOMPATIBLE_ORDER, || {
                    Case::new(
                        d,
                        &[longest_reader, t],
                        format!(
                            "key {} was read as {} by op #{} and as {} by op #{}: neither is a \
                             prefix of the other, so no one order of appends explains both",
                            text(d.key(k)),
                            text(&json!(full)),
                            d.op_index(longest_reader),
                            text(mop.value),
                            d.op_index(t)
                        ),
                    )
                    .with("key", d.key(k).clone())
                    .with("values", json!([full, read]))
                });
            }
            self.read_elements(d, t, gm, prefix && distinct, firsts, &lookup, findings);
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

    /// Push the ww, wr and rw edges into txn `t` from txns that may have happened.
    pub(crate) fn edges_into(&self, d: &Decoded<'h>, t: TxnId, into: &mut ReverseBuilder) {
        let status = d.status(t);
        if status == Status::Fail {
            return;
        }
        for gm in d.mop_range(t) {
            let mop = d.mops[gm];
            let e = self.mop_elem[gm];
            match mop.kind {
                MopKind::Read if status == Status::Ok && e < EMPTY => {
                    let w = self.elems[e as usize].writer;
                    if w != NONE && d.possible(w) {
                        into.edge_from(w, WR);
                    }
                }
                MopKind::Write => {
                    if let Some((w, _)) = self.previous_writer(e) {
                        if w != NONE && d.possible(w) {
                            into.edge_from(w, WW);
                        }
                    }
                    for &r in self.readers_of(mop.key, self.before(e)) {
                        into.edge_from(r, RW);
                    }
                }
                MopKind::Read => {}
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
    fn explain(&self, d: &Decoded<'_>, edge: &NamedEdge<'_>) -> Option<Because> {
        let NamedEdge {
            a,
            b,
            label,
            an,
            bn,
        } = *edge;
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
            Label::SessionRw | Label::Process | Label::Realtime => None,
        }
    }
}
