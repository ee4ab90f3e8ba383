//! The plain text format of the academic isolation checkers (PolySI, IsoVista, Viper's
//! converters): one micro-op a line, `r(key,value,session,txn)` or
//! `w(key,value,session,txn)`, all non-negative integers, read into rw-register txns.
//!
//! - A txn is every line with its txn id, in file order; it belongs to one session, and a
//!   session's txns run in the order they first appear. Each session becomes a process.
//! - Value `0` is every key's initial value (PolySI gives each key an initial write of
//!   0): a read of `0` becomes a read of `null`, and a write of `0` is an error.
//! - Txn id `-1` marks the writes of an aborted txn (IsoVista): consecutive such lines of
//!   one session become one failed txn.
//! - Blank lines and lines starting with `#` or `//` are skipped.
//!
//! The format records no times, so the history's real-time order is invented: sessions run
//! in rounds (see `sessions`). Check such histories against models without real time
//! (`serializable`, `strong-session-snapshot-isolation`, ...): only each session's order
//! is real.
//!
//! Errors name the file and line: a line that is not a micro-op, a txn id seen in two
//! sessions, a write of 0, a value written twice to one key.
//!
//! This module must never check consistency: it only reads.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{json, Value};

use super::sessions::{rounds, SessionTxn};
use crate::history::{History, HistoryError, OpType};

/// One micro-op line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Line {
    write: bool,
    key: u64,
    value: u64,
    session: u64,
    txn: i64,
}

/// Parse `r(k,v,s,t)` or `w(k,v,s,t)`, spaces allowed around the numbers.
fn parse_line(text: &str) -> Option<Line> {
    let write = match text.as_bytes().first()? {
        b'r' => false,
        b'w' => true,
        _ => return None,
    };
    let inner = text[1..]
        .trim_start()
        .strip_prefix('(')?
        .strip_suffix(')')?;
    let mut fields = inner.split(',').map(str::trim);
    let mut number = || fields.next().and_then(|f| f.parse::<u64>().ok());
    let (key, value, session) = (number()?, number()?, number()?);
    let txn = fields.next()?.parse::<i64>().ok()?;
    if fields.next().is_some() || txn < -1 {
        return None;
    }
    Some(Line {
        write,
        key,
        value,
        session,
        txn,
    })
}

/// Whether `head` (the first lines of a file) looks like this format: its first line
/// that is not blank or a comment is a micro-op.
pub fn looks_like_txn_text(head: &str) -> bool {
    head.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("//"))
        .is_some_and(|l| parse_line(l).is_some())
}

/// A txn being read: its session, micro-ops, and whether it aborted.
struct Txn {
    session: u64,
    mops: Vec<Value>,
    aborted: bool,
}

/// Read text in this format into a history of rw-register txns; `path` is only used in
/// messages.
pub fn read_txn_text(text: &str, path: &Path) -> Result<History, HistoryError> {
    let error = |line: usize, message: String| HistoryError::Parse {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut txns: Vec<Txn> = Vec::new();
    let mut txn_of_id: HashMap<i64, usize> = HashMap::new();
    // The open aborted txn of each session, while its lines run on.
    let mut open_abort: HashMap<u64, usize> = HashMap::new();
    let mut written: HashMap<(u64, u64), usize> = HashMap::new();
    let mut sessions: Vec<u64> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let number = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("//") {
            continue;
        }
        let line = parse_line(trimmed).ok_or_else(|| {
            let shown: String = trimmed.chars().take(60).collect();
            error(
                number,
                format!(
                    "expected a micro-op r(key,value,session,txn) or w(key,value,session,txn) \
                     of integers, found {shown:?}"
                ),
            )
        })?;
        if line.write && line.value == 0 {
            return Err(error(
                number,
                format!(
                    "writes 0 to key {}, but 0 is every key's initial value in this format",
                    line.key
                ),
            ));
        }
        if line.write {
            if let Some(first) = written.insert((line.key, line.value), number) {
                return Err(error(
                    number,
                    format!(
                        "writes {} to key {}, which line {first} also writes; written values \
                         must be unique per key",
                        line.value, line.key
                    ),
                ));
            }
        }
        if !sessions.contains(&line.session) {
            sessions.push(line.session);
        }
        let slot = if line.txn == -1 {
            match open_abort.get(&line.session) {
                Some(&slot) => slot,
                None => {
                    txns.push(Txn {
                        session: line.session,
                        mops: Vec::new(),
                        aborted: true,
                    });
                    open_abort.insert(line.session, txns.len() - 1);
                    txns.len() - 1
                }
            }
        } else {
            open_abort.remove(&line.session);
            match txn_of_id.get(&line.txn) {
                Some(&slot) if txns[slot].session != line.session => {
                    return Err(error(
                        number,
                        format!(
                            "txn {} is in session {}, but an earlier line put it in session {}",
                            line.txn, line.session, txns[slot].session
                        ),
                    ))
                }
                Some(&slot) => slot,
                None => {
                    txns.push(Txn {
                        session: line.session,
                        mops: Vec::new(),
                        aborted: false,
                    });
                    txn_of_id.insert(line.txn, txns.len() - 1);
                    txns.len() - 1
                }
            }
        };
        let value = if !line.write && line.value == 0 {
            Value::Null
        } else {
            json!(line.value)
        };
        let f = if line.write { "w" } else { "r" };
        txns[slot].mops.push(json!([f, line.key, value]));
    }
    Ok(by_session(&sessions, txns))
}

/// Group txns by session, in the order sessions first appear, and lay them out in rounds.
fn by_session(sessions: &[u64], txns: Vec<Txn>) -> History {
    let mut queues: Vec<(u64, Vec<SessionTxn>)> =
        sessions.iter().map(|&s| (s, Vec::new())).collect();
    let slot: HashMap<u64, usize> = sessions.iter().enumerate().map(|(i, &s)| (s, i)).collect();
    for txn in txns {
        if let Some(&i) = slot.get(&txn.session) {
            queues[i].1.push(SessionTxn {
                mops: txn.mops,
                end: if txn.aborted {
                    OpType::Fail
                } else {
                    OpType::Ok
                },
            });
        }
    }
    rounds(queues)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_strictly() {
        assert_eq!(
            parse_line("w(4,1,15,1)"),
            Some(Line {
                write: true,
                key: 4,
                value: 1,
                session: 15,
                txn: 1
            })
        );
        assert_eq!(parse_line("r( 2, 0, 15, -1 )").map(|l| l.txn), Some(-1));
        for bad in [
            "x(1,2,3,4)",
            "r(1,2,3)",
            "r(1,2,3,4,5)",
            "r(1,-2,3,4)",
            "r(1,2,3,-2)",
            "r1,2,3,4",
        ] {
            assert_eq!(parse_line(bad), None, "{bad}");
        }
        assert!(looks_like_txn_text("# PolySI\n\nw(1,1,0,0)\n"));
        assert!(!looks_like_txn_text("{:type :ok}"));
    }
}
