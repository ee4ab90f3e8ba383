//! Histories of sessions with no times (the academic checkers' text format, dbcop,
//! Cobra): each session becomes a process running its txns in order, and the sessions run
//! side by side in rounds (the first txn of every session, then every second one, ...).
//!
//! The rounds invent a real-time order between sessions: only each session's own order is
//! real, so such histories are meaningful for models without real time (`serializable`,
//! `snapshot-isolation`, their `strong-session-` forms) and not for strict ones.
//!
//! This module must never read a file: its callers hand it finished txns.

use serde_json::Value;

use crate::history::{History, Op, OpType, Process};
use crate::txn::simulate::invoked_mops;

/// One txn of a session: its micro-ops (`["r", k, v]` with `null` for the initial state,
/// `["w", k, v]`) and how it ended (`Ok`, `Fail`, or `Info` when unknown).
pub(crate) struct SessionTxn {
    pub(crate) mops: Vec<Value>,
    pub(crate) end: OpType,
}

/// Lay sessions out as a history: session `i` of `sessions` runs on process
/// `sessions[i].0`, its txns in order, all sessions side by side in rounds.
pub(crate) fn rounds(sessions: Vec<(u64, Vec<SessionTxn>)>) -> History {
    let mut queues: Vec<(u64, std::vec::IntoIter<SessionTxn>)> = sessions
        .into_iter()
        .map(|(process, txns)| (process, txns.into_iter()))
        .collect();
    let mut ops = Vec::new();
    loop {
        let round: Vec<(u64, SessionTxn)> = queues
            .iter_mut()
            .filter_map(|(process, queue)| queue.next().map(|t| (*process, t)))
            .collect();
        if round.is_empty() {
            break;
        }
        for (process, txn) in &round {
            ops.push(Op::new(
                Process::Client(*process),
                OpType::Invoke,
                "txn",
                Value::Array(invoked_mops(&txn.mops)),
            ));
        }
        for (process, txn) in round {
            ops.push(Op::new(
                Process::Client(process),
                txn.end,
                "txn",
                Value::Array(txn.mops),
            ));
        }
    }
    History::from_ops(ops)
}
