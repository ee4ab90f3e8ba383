//! The orders the history itself gives, besides the data: each process's order of its
//! txns, and real time (one txn completed before another was invoked).
//!
//! Real time would relate every txn to every later one, n² edges. As Elle does, only a
//! transitive reduction is kept: a buffer of committed txns not yet known to precede a
//! later completion; every invocation is linked from the whole buffer, and a completion
//! removes from the buffer every txn linked to it (they reach later txns through it). The
//! buffer is an antichain of overlapping intervals, so it never holds more txns than ran
//! at once: the edges are O(n × concurrency).
//!
//! Failed txns get no edges (they never happened); `info` and pending txns get edges in but
//! never out (they may have taken effect at any later time, or never).
//!
//! This module must never read micro-ops.

use super::decode::{Decoded, Status, TxnId};
use super::graph::{EdgeList, PROCESS, REALTIME};
use crate::linearizable::fxhash::FxHashMap;

/// Link each process's committed txns to the next txn of that process that may have
/// happened.
pub(crate) fn process_edges(d: &Decoded<'_>, edges: &mut EdgeList) {
    let mut last_ok: FxHashMap<u64, TxnId> = FxHashMap::default();
    for (t, txn) in d.txns.iter().enumerate() {
        if txn.status == Status::Fail {
            continue;
        }
        if let Some(&previous) = last_ok.get(&txn.process) {
            edges.push(previous, t as TxnId, PROCESS);
        }
        if txn.status == Status::Ok {
            last_ok.insert(txn.process, t as TxnId);
        }
    }
}

/// What happens at one position of the history.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Event {
    None,
    Invoke(TxnId),
    Complete(TxnId),
}

/// The real-time edges, as a transitive reduction (see the module docs).
pub(crate) fn realtime_edges(d: &Decoded<'_>, edges: &mut EdgeList) {
    let mut events = vec![Event::None; d.history.ops.len()];
    for (t, txn) in d.txns.iter().enumerate() {
        if txn.status == Status::Fail {
            continue;
        }
        events[txn.invoke as usize] = Event::Invoke(t as TxnId);
        if txn.completion != txn.invoke && txn.status == Status::Ok {
            events[txn.completion as usize] = Event::Complete(t as TxnId);
        }
    }
    // For each txn, the range of `edges` holding its real-time in-edges.
    let mut linked_from: Vec<(u32, u32)> = vec![(0, 0); d.txns.len()];
    let mut superseded_by: Vec<TxnId> = vec![TxnId::MAX; d.txns.len()];
    let mut buffer: Vec<TxnId> = Vec::new();
    for event in events {
        match event {
            Event::None => {}
            Event::Invoke(t) => {
                let start = edges.len() as u32;
                for &a in &buffer {
                    edges.push(a, t, REALTIME);
                }
                linked_from[t as usize] = (start, edges.len() as u32);
            }
            Event::Complete(t) => {
                let (start, end) = linked_from[t as usize];
                for i in start..end {
                    superseded_by[edges.source(i as usize) as usize] = t;
                }
                buffer.retain(|&a| superseded_by[a as usize] != t);
                buffer.push(t);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{History, Op, OpType, Process};
    use crate::txn::decode::{decode, TxnKind};
    use crate::txn::graph::Graph;
    use serde_json::json;

    fn op(p: u64, kind: OpType) -> Op {
        Op::new(Process::Client(p), kind, "txn", json!([["r", 1, null]]))
    }

    #[test]
    fn realtime_keeps_a_reduction_that_reaches_every_later_txn() {
        use OpType::*;
        // a:0 completes, then b:1 and d:3 overlap, c:2 starts after b, e:4 after c and d.
        let h = History::from_ops(vec![
            op(0, Invoke), // a
            op(0, Ok),
            op(1, Invoke), // b
            op(3, Invoke), // d
            op(1, Ok),
            op(2, Invoke), // c
            op(2, Ok),
            op(3, Ok),
            op(4, Invoke), // e
            op(4, Ok),
        ]);
        let d = decode(&h, TxnKind::ListAppend).unwrap();
        let mut e = EdgeList::default();
        realtime_edges(&d, &mut e);
        let g = Graph::build(d.txns.len(), e);
        let out = |v| g.out(v).map(|(w, _)| w).collect::<Vec<_>>();
        // Txns in invocation order: a=0, b=1, d=2, c=3, e=4.
        assert_eq!(out(0), vec![1, 2]);
        assert_eq!(out(1), vec![3]);
        assert_eq!(out(2), vec![4]);
        assert_eq!(out(3), vec![4]);
        assert!(out(4).is_empty());
    }

    #[test]
    fn process_order_skips_failures_and_ends_at_info() {
        use OpType::*;
        let h = History::from_ops(vec![
            op(0, Invoke),
            op(0, Ok),
            op(0, Invoke),
            op(0, Fail),
            op(0, Invoke),
            op(0, Info),
        ]);
        let d = decode(&h, TxnKind::ListAppend).unwrap();
        let mut e = EdgeList::default();
        process_edges(&d, &mut e);
        let g = Graph::build(d.txns.len(), e);
        assert_eq!(g.out(0).collect::<Vec<_>>(), vec![(2, PROCESS)]);
    }
}
