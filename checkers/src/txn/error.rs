//! What can make a transactional history unreadable to the txn checkers.
//!
//! Bad input is an error naming the op by its index (callers that read a file add the file
//! and line): a txn op whose value is not a list of micro-ops, an unknown micro-op, an
//! append or write of a value already written to that key, a list-append read that is not
//! a list. What the system under test did wrong is never an error: a duplicate element
//! read back, a value nobody wrote, are anomalies in the result.
//!
//! This module must never decide consistency; it only names what is malformed.

use crate::history::HistoryError;

/// A history the txn checkers cannot analyse.
#[derive(Debug, thiserror::Error)]
pub enum TxnError {
    /// An op is malformed; `index` is the op's index in the history.
    #[error("op #{index}: {message}")]
    BadOp {
        /// The op's `index` field.
        index: u64,
        /// What is wrong, in a sentence.
        message: String,
    },
    /// The history could not be read as ops at all.
    #[error("{0}")]
    History(HistoryError),
}

impl From<HistoryError> for TxnError {
    /// A pairing error names its op; it becomes [`TxnError::BadOp`] so that every error
    /// about one op reads the same.
    fn from(error: HistoryError) -> Self {
        match error {
            HistoryError::Malformed { index, message, .. } => TxnError::BadOp { index, message },
            other => TxnError::History(other),
        }
    }
}

impl TxnError {
    /// An error about op `index`.
    pub(crate) fn bad_op(index: u64, message: impl Into<String>) -> TxnError {
        TxnError::BadOp {
            index,
            message: message.into(),
        }
    }

    /// The index of the op the error is about, when it is about one op.
    pub fn op_index(&self) -> Option<u64> {
        match self {
            TxnError::BadOp { index, .. } => Some(*index),
            TxnError::History(_) => None,
        }
    }
}
