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

    /// Txn `t` writes (or appends) `value` to `key`, which txn `other` (perhaps `t` itself,
    /// earlier) already wrote: values must be unique per key for reads to name their writer.
    /// `verb` and `participle` are `appends`/`appended` or `writes`/`written`.
    pub(crate) fn written_twice(
        d: &super::decode::Decoded<'_>,
        t: super::decode::TxnId,
        other: super::decode::TxnId,
        (verb, participle): (&str, &str),
        value: &serde_json::Value,
        key: super::decode::KeyId,
    ) -> TxnError {
        let also = if other == t {
            format!("which it also {verb} earlier in the same txn")
        } else {
            format!("which op #{} also {verb}", d.op_index(other))
        };
        TxnError::bad_op(
            d.op_index(t),
            format!(
                "{verb} {} to key {}, {also}; {participle} values must be unique per key",
                super::findings::text(value),
                super::findings::text(d.key(key))
            ),
        )
    }

    /// The index of the op the error is about, when it is about one op.
    pub fn op_index(&self) -> Option<u64> {
        match self {
            TxnError::BadOp { index, .. } => Some(*index),
            TxnError::History(_) => None,
        }
    }
}
