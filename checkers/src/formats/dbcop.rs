//! dbcop's `history.bincode` (github.com/rnbguy/dbcop, the format PolySI, AWDIT, Plume and
//! IsoVista also read): bincode v1 (little-endian, `u64` lengths and `usize`s, bools as
//! one byte 0 or 1) of dbcop's `History`:
//!
//! ```text
//! History { params: HistParams { id, n_node, n_variable, n_transaction, n_event: usize },
//!           info: String, start: DateTime<Local>, end: DateTime<Local>,  // RFC 3339 strings
//!           data: Vec<Session> }
//! Session = Vec<Transaction { events: Vec<Event>, success: bool }>
//! Event { write: bool, variable: usize, value: usize, success: bool }
//! ```
//!
//! Read into rw-register txns:
//!
//! - Each session is a process (numbered from 0 in file order), its txns in order; a txn
//!   whose `success` is true is an `:ok` txn, any other a `:fail` txn.
//! - Only events whose `success` is true happened (dbcop's verifier skips the others); each
//!   becomes `["w", variable, value]` or `["r", variable, value]`.
//! - Value 0 is every variable's initial value (dbcop writes 1, 2, ... per variable): a
//!   read of 0 becomes a read of `null`, our initial state; a write of 0 is an error, and so
//!   is a value written twice to one variable.
//! - dbcop records no times: the sessions run in rounds (see `sessions`), so only models
//!   without real time are meaningful for these histories.
//! - A history where no txn committed (a generated `hist-*.bincode` never run against a
//!   database) is read, with a warning.
//!
//! Errors name the file and the byte offset: a truncated file, a length larger than what
//! is left, a bool that is not 0 or 1, bytes after the history's end.
//!
//! This module must never check consistency: it only reads.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{json, Value};

use super::cursor::Cursor;
use super::sessions::{rounds, SessionTxn};
use crate::history::{History, HistoryError, OpType};

/// The bytes of one event: `write`, `variable`, `value`, `success`.
const EVENT_BYTES: usize = 1 + 8 + 8 + 1;
/// The least bytes of one txn: an empty event list and `success`.
const TXN_BYTES: usize = 8 + 1;

/// Whether `head` (the first bytes of a file) starts like a dbcop history: five `usize`
/// parameters, an info string, and two RFC 3339 times.
pub(crate) fn looks_like_dbcop(head: &[u8]) -> bool {
    let path = Path::new("");
    header(&mut Cursor::new(head, path)).unwrap_or(false)
}

fn header(c: &mut Cursor<'_>) -> Result<bool, HistoryError> {
    for _ in 0..5 {
        if c.u64_le("")? > 1 << 40 {
            return Ok(false);
        }
    }
    c.string("")?;
    Ok(is_time(c.string("")?) && is_time(c.string("")?))
}

/// `2020-11-02T22:38:30.123+01:00` and the like, as chrono writes a `DateTime`.
fn is_time(text: &str) -> bool {
    let b = text.as_bytes();
    (19..=64).contains(&b.len())
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[10] == b'T'
        && b.is_ascii()
}

/// Read a dbcop `history.bincode`; `path` is only used in messages.
pub fn read_dbcop(bytes: &[u8], path: &Path) -> Result<History, HistoryError> {
    let mut c = Cursor::new(bytes, path);
    for field in ["id", "n_node", "n_variable", "n_transaction", "n_event"] {
        c.u64_le(&format!("the parameter {field}"))?;
    }
    c.string("the info string")?;
    for field in ["start", "end"] {
        let at = c.offset();
        let time = c.string(&format!("the {field} time"))?;
        if !is_time(time) {
            let shown: String = time.chars().take(40).collect();
            return Err(c.error_at(
                at,
                format!(
                    "the {field} time is {shown:?}, not an RFC 3339 time; is this a dbcop \
                     history.bincode?"
                ),
            ));
        }
    }
    let n_sessions = c.len("the number of sessions", 8)?;
    let mut sessions = Vec::with_capacity(n_sessions);
    let mut written: HashMap<(u64, u64), usize> = HashMap::new();
    let mut committed = 0usize;
    for s in 0..n_sessions {
        let n_txns = c.len(&format!("the number of txns of session {s}"), TXN_BYTES)?;
        let mut txns = Vec::with_capacity(n_txns);
        for t in 0..n_txns {
            let what = format!("txn {t} of session {s}");
            let n_events = c.len(&format!("the number of events of {what}"), EVENT_BYTES)?;
            let mut mops = Vec::with_capacity(n_events);
            for _ in 0..n_events {
                let at = c.offset();
                let write = c.bool(&format!("an event's write flag in {what}"))?;
                let variable = c.u64_le(&format!("an event's variable in {what}"))?;
                let value = c.u64_le(&format!("an event's value in {what}"))?;
                if !c.bool(&format!("an event's success flag in {what}"))? {
                    continue;
                }
                if write {
                    if value == 0 {
                        return Err(c.error_at(
                            at,
                            format!(
                                "{what} writes 0 to variable {variable}, but 0 is every \
                                 variable's initial value in dbcop"
                            ),
                        ));
                    }
                    if let Some(first) = written.insert((variable, value), at) {
                        return Err(c.error_at(
                            at,
                            format!(
                                "{what} writes {value} to variable {variable}, which the \
                                 event at byte {first} also writes; written values must be \
                                 unique per variable"
                            ),
                        ));
                    }
                    mops.push(json!(["w", variable, value]));
                } else {
                    let read = if value == 0 {
                        Value::Null
                    } else {
                        json!(value)
                    };
                    mops.push(json!(["r", variable, read]));
                }
            }
            let success = c.bool(&format!("the success flag of {what}"))?;
            committed += usize::from(success);
            txns.push(SessionTxn {
                mops,
                end: if success { OpType::Ok } else { OpType::Fail },
            });
        }
        sessions.push((s as u64, txns));
    }
    if c.left() > 0 {
        return Err(c.error_at(
            c.offset(),
            format!(
                "{} bytes follow the end of the history; is this one dbcop history.bincode?",
                c.left()
            ),
        ));
    }
    let mut history = rounds(sessions);
    if committed == 0 && !history.ops.is_empty() {
        history.warnings.push(format!(
            "{}: no txn committed (every success flag is false); is this a generated dbcop \
             history never run against a database?",
            path.display()
        ));
    }
    Ok(history)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_recognised() {
        assert!(is_time("2020-11-02T22:38:30.123456789+01:00"));
        assert!(!is_time("2020-11-02 22:38"));
        assert!(!is_time("hello"));
        assert!(!looks_like_dbcop(b""));
        assert!(!looks_like_dbcop(&[0xff; 100]));
    }
}
