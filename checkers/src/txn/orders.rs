//! The orders the history itself gives, besides the data: each process's order of its
//! txns, and real time (one txn completed before another was invoked).
//!
//! Real time would relate every txn to every later one, n² edges. As Elle does, only a
//! transitive reduction is kept: a buffer of committed txns not yet known to precede a
//! later completion; every invocation is linked from the whole buffer, and a completion
//! removes from the buffer every txn that completed before it was invoked (those were
//! linked to it, and reach later txns through it). The
//! buffer is an antichain of overlapping intervals, so it never holds more txns than ran
//! at once: the edges are O(n × concurrency).
//!
//! Failed txns get no edges (they never happened); `info` and pending txns get edges in but
//! never out (they may have taken effect at any later time, or never).
//!
//! Both are fed txns in order (the order of their invocations) and push the edges into
//! each txn, as [`ReverseBuilder`] wants them.
//!
//! This module must never read micro-ops.

use super::decode::{Decoded, Status, TxnId};
use super::graph::{ReverseBuilder, PROCESS, REALTIME};
use crate::fxhash::FxHashMap;

/// Each process's order: its committed txns, each linked to the next txn of that process
/// that may have happened. Fed txns in order.
#[derive(Debug, Default)]
pub(crate) struct ProcessOrder {
    last_ok: FxHashMap<u64, TxnId>,
}

impl ProcessOrder {
    /// Push the process edge into txn `t` (the txn before it must have been fed already).
    pub(crate) fn edges_into(&mut self, d: &Decoded<'_>, t: TxnId, into: &mut ReverseBuilder) {
        let txn = &d.txns[t as usize];
        if txn.status == Status::Fail {
            return;
        }
        if let Some(&previous) = self.last_ok.get(&txn.process) {
            into.edge_from(previous, PROCESS);
        }
        if txn.status == Status::Ok {
            self.last_ok.insert(txn.process, t);
        }
    }
}

/// Real time, as a transitive reduction (see the module docs). Fed txns in order, which
/// is the order of their invocations.
#[derive(Debug)]
pub(crate) struct RealTime {
    /// Committed txns by the position of their completion.
    completions: Vec<(u32, TxnId)>,
    next: usize,
    buffer: Vec<TxnId>,
}

/// The committed txns (those that completed after their invocation) by the position of
/// their completion: `(completion, txn)`, in order.
pub(super) fn committed_by_completion(d: &Decoded<'_>) -> Vec<(u32, TxnId)> {
    let mut completions: Vec<(u32, TxnId)> = d
        .txns
        .iter()
        .enumerate()
        .filter(|(_, txn)| txn.status == Status::Ok && txn.completion != txn.invoke)
        .map(|(t, txn)| (txn.completion, t as TxnId))
        .collect();
    completions.sort_unstable();
    completions
}

impl RealTime {
    pub(crate) fn new(d: &Decoded<'_>) -> RealTime {
        RealTime {
            completions: committed_by_completion(d),
            next: 0,
            buffer: Vec::new(),
        }
    }

    /// Push the real-time edges into txn `t`: from every buffered txn, once every
    /// completion before `t`'s invocation has updated the buffer. A completing txn
    /// supersedes every buffered txn that completed before it was invoked (those were
    /// linked to it).
    pub(crate) fn edges_into(&mut self, d: &Decoded<'_>, t: TxnId, into: &mut ReverseBuilder) {
        let txns = &d.txns;
        let invoked = txns[t as usize].invoke;
        while let Some(&(at, done)) = self.completions.get(self.next) {
            if at > invoked {
                break;
            }
            let began = txns[done as usize].invoke;
            self.buffer.retain(|&a| txns[a as usize].completion > began);
            self.buffer.push(done);
            self.next += 1;
        }
        if txns[t as usize].status != Status::Fail {
            for &a in &self.buffer {
                into.edge_from(a, REALTIME);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{History, Op, OpType, Process};
    use crate::txn::decode::{decode, TxnKind};
    use serde_json::json;

    fn op(p: u64, kind: OpType) -> Op {
        Op::new(Process::Client(p), kind, "txn", json!([["r", 1, null]]))
    }

    /// The order edges of `history`, as out-edges of each txn.
    fn order_edges(history: &History) -> Vec<Vec<(u32, u8)>> {
        let d = decode(history, TxnKind::ListAppend).unwrap();
        let mut b = ReverseBuilder::new(d.txns.len(), 16);
        let (mut process, mut realtime) = (ProcessOrder::default(), RealTime::new(&d));
        for t in 0..d.txns.len() as TxnId {
            process.edges_into(&d, t, &mut b);
            realtime.edges_into(&d, t, &mut b);
            b.next_vertex();
        }
        let reversed = b.finish();
        let mut out = vec![Vec::new(); d.txns.len()];
        for to in 0..d.txns.len() as u32 {
            for (from, kinds) in reversed.out(to) {
                out[from as usize].push((to, kinds));
            }
        }
        out
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
        let out = order_edges(&h);
        let targets = |v: usize| out[v].iter().map(|&(w, _)| w).collect::<Vec<_>>();
        // Txns in invocation order: a=0, b=1, d=2, c=3, e=4.
        assert_eq!(targets(0), vec![1, 2]);
        assert_eq!(targets(1), vec![3]);
        assert_eq!(targets(2), vec![4]);
        assert_eq!(targets(3), vec![4]);
        assert!(targets(4).is_empty());
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
        assert_eq!(order_edges(&h)[0], vec![(2, PROCESS | REALTIME)]);
    }
}
