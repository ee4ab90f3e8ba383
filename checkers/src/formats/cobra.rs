//! Cobra's client logs (github.com/DBCobra/CobraBench writes them, DBCobra/CobraVerifier
//! reads them): one binary file per client (`T0.log`, `T1.log`, ... in a folder), a
//! sequence of records of one type byte and big-endian 64-bit integers (Java's
//! `DataOutputStream`):
//!
//! ```text
//! 'S' txn_id [timestamp]     a txn starts          (9 bytes, 17 with timestamps)
//! 'C' txn_id [timestamp]     it commits
//! 'A' txn_id [timestamp]     it aborts (CobraBench drops aborted txns instead; read anyway)
//! 'W' write_id key_hash value_hash                  (25 bytes)
//! 'R' writer_txn_id write_id key_hash value_hash    (33 bytes)
//! ```
//!
//! The timestamps are there when CobraBench ran with `TIMESTAMP_ON` (the verifier's
//! `TIME_ORDER_ON`); a file is read without them first, then with them.
//!
//! Read into rw-register txns:
//!
//! - Each client log is a process (numbered from 0 in the order the files are given; a
//!   folder's `*.log` files in name order), its txns in order: committed txns are `:ok`,
//!   aborted ones `:fail`, and a txn still open at the end of a log (a log cut short)
//!   `:info`, with a warning.
//! - Keys are the key hashes and values the write ids (unique per write, as Cobra
//!   requires), as unsigned integers: a write is `["w", key_hash, write_id]`, a read
//!   `["r", key_hash, write_id]`. The value hashes, and the writer txn id a read names, are
//!   not used: the write id names the write.
//! - A read of the initial state (writer txn and write id both Cobra's `INIT` 0xbebeebee
//!   or `NULL` 0xdeadbeef) reads `null`, our initial state. Cobra's garbage-collection
//!   reads (write id 0x23332333 or 0x66666666 from the init txn) are skipped, with a
//!   warning.
//! - Cobra records no times usable across clients: the clients run in rounds (see
//!   `sessions`), so only models without real time are meaningful.
//!
//! Errors name the file and the byte offset: an unknown record type, a record cut short,
//! a read or write outside a txn, a txn that starts inside another, a commit naming
//! another txn, a write id written twice.
//!
//! This module must never check consistency: it only reads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::cursor::Cursor;
use super::sessions::{rounds, SessionTxn};
use crate::history::{History, HistoryError, OpType};

const INIT_ID: u64 = 0xbebe_ebee;
const NULL_ID: u64 = 0xdead_beef;
const GC_WIDS: [u64; 2] = [0x2333_2333, 0x6666_6666];

/// Whether `head` (the first bytes of a file) is a run of well-formed Cobra records
/// starting with a txn start, in either layout.
pub(crate) fn looks_like_cobra(head: &[u8]) -> bool {
    head.first() == Some(&b'S') && (scan(head, 9) || scan(head, 17))
}

/// Whether every record in `head` has a known type and txns nest properly; the last
/// record may be cut off by the end of `head`.
fn scan(head: &[u8], boundary: usize) -> bool {
    let (mut at, mut records, mut open) = (0, 0, None);
    while at < head.len() {
        let size = match head[at] {
            b'S' | b'C' | b'A' => boundary,
            b'W' => 25,
            b'R' => 33,
            _ => return false,
        };
        let id = head.get(at + 1..at + 9);
        match head[at] {
            b'S' if open.is_none() => open = Some(id),
            b'C' | b'A' if open.is_some() => {
                if let (Some(Some(a)), Some(b)) = (open, id) {
                    if a != b {
                        return false;
                    }
                }
                open = None;
            }
            b'W' | b'R' if open.is_some() => {}
            _ => return false,
        }
        at += size;
        records += 1;
    }
    records >= 2
}

/// One micro-op as read, with the offset of its record.
struct Mop {
    write: bool,
    key: u64,
    /// The write id; `None` for a read of the initial state.
    value: Option<u64>,
    offset: usize,
}

struct Txn {
    mops: Vec<Mop>,
    end: OpType,
}

/// What one log holds: its txns, and how many garbage-collection reads were skipped.
struct Log {
    txns: Vec<Txn>,
    gc_reads: usize,
}

/// Read one client's log in one layout (`boundary` bytes per start, commit and abort).
fn read_log(bytes: &[u8], path: &Path, boundary: usize) -> Result<Log, HistoryError> {
    let mut c = Cursor::new(bytes, path);
    let mut log = Log {
        txns: Vec::new(),
        gc_reads: 0,
    };
    // The open txn: its id, the offset of its start, its micro-ops.
    let mut open: Option<(u64, usize, Vec<Mop>)> = None;
    while c.left() > 0 {
        let at = c.offset();
        let tag = c.byte("a record type")?;
        match tag {
            b'S' | b'C' | b'A' => {
                let what = format!("the '{}' record at byte {at}", tag as char);
                let id = c.u64_be(&what)?;
                if boundary > 9 {
                    c.u64_be(&what)?;
                }
                match (tag, open.take()) {
                    (b'S', None) => open = Some((id, at, Vec::new())),
                    (b'S', Some((other, started, _))) => {
                        return Err(c.error_at(
                            at,
                            format!(
                                "txn {id} starts while txn {other}, started at byte \
                                 {started}, has neither committed nor aborted"
                            ),
                        ))
                    }
                    (_, Some((other, started, _))) if other != id => {
                        return Err(c.error_at(
                            at,
                            format!(
                                "this record ends txn {id}, but the open txn is {other}, \
                                 started at byte {started}"
                            ),
                        ))
                    }
                    (_, Some((_, _, mops))) => log.txns.push(Txn {
                        mops,
                        end: if tag == b'C' {
                            OpType::Ok
                        } else {
                            OpType::Fail
                        },
                    }),
                    (_, None) => {
                        return Err(c.error_at(
                            at,
                            format!("this record ends txn {id}, but no txn has started"),
                        ))
                    }
                }
            }
            b'W' | b'R' => {
                let what = format!("the '{}' record at byte {at}", tag as char);
                let writer = if tag == b'R' { c.u64_be(&what)? } else { 0 };
                let wid = c.u64_be(&what)?;
                let key = c.u64_be(&what)?;
                c.u64_be(&what)?;
                let Some((_, _, mops)) = open.as_mut() else {
                    return Err(c.error_at(at, format!("{what} is outside any txn")));
                };
                let initial =
                    [INIT_ID, NULL_ID].contains(&writer) && [INIT_ID, NULL_ID].contains(&wid);
                if tag == b'R' && writer == INIT_ID && GC_WIDS.contains(&wid) {
                    log.gc_reads += 1;
                    continue;
                }
                mops.push(Mop {
                    write: tag == b'W',
                    key,
                    value: (tag == b'W' || !initial).then_some(wid),
                    offset: at,
                });
            }
            other => {
                return Err(c.error_at(
                    at,
                    format!(
                        "unknown record type {other:#04x}; a Cobra log holds 'S', 'C', 'A', \
                         'R' and 'W' records"
                    ),
                ))
            }
        }
    }
    if let Some((_, _, mops)) = open {
        log.txns.push(Txn {
            mops,
            end: OpType::Info,
        });
    }
    Ok(log)
}

/// Read one log, without timestamps first, then with; when neither fits, the error of the
/// layout the record after the first start fits (without timestamps if neither).
fn read_either(bytes: &[u8], path: &Path) -> Result<Log, HistoryError> {
    let plain = match read_log(bytes, path, 9) {
        Ok(log) => return Ok(log),
        Err(e) => e,
    };
    let stamped = match read_log(bytes, path, 17) {
        Ok(log) => return Ok(log),
        Err(e) => e,
    };
    let record_at = |at: usize| matches!(bytes.get(at), Some(b'S' | b'C' | b'A' | b'W' | b'R'));
    Err(if !record_at(9) && record_at(17) {
        stamped
    } else {
        plain
    })
}

/// Read one Cobra client log; `path` is only used in messages.
pub fn read_cobra(bytes: &[u8], path: &Path) -> Result<History, HistoryError> {
    read_cobra_logs(&[(path.to_path_buf(), bytes.to_vec())])
}

/// Read the logs of every client of one run, each `(path, bytes)` a process in order.
pub fn read_cobra_logs(logs: &[(PathBuf, Vec<u8>)]) -> Result<History, HistoryError> {
    let mut sessions = Vec::with_capacity(logs.len());
    let mut warnings = Vec::new();
    let mut written: HashMap<u64, (usize, usize)> = HashMap::new();
    for (process, (path, bytes)) in logs.iter().enumerate() {
        let log = read_either(bytes, path)?;
        if log.gc_reads > 0 {
            warnings.push(format!(
                "{}: {} garbage-collection reads of Cobra's epoch keys skipped",
                path.display(),
                log.gc_reads
            ));
        }
        let mut txns = Vec::with_capacity(log.txns.len());
        for txn in log.txns {
            if txn.end == OpType::Info {
                warnings.push(format!(
                    "{}: the log ends inside a txn (cut short?); that txn may or may not \
                     have committed",
                    path.display()
                ));
            }
            let mut mops = Vec::with_capacity(txn.mops.len());
            for m in txn.mops {
                let value = m.value.map_or(Value::Null, |v| json!(v));
                if m.write {
                    if let Some((file, first)) =
                        written.insert(m.value.unwrap_or(0), (process, m.offset))
                    {
                        return Err(HistoryError::Binary {
                            path: path.clone(),
                            offset: m.offset as u64,
                            message: format!(
                                "write id {value} is written again; {} byte {first} wrote it \
                                 first, and Cobra's write ids are unique",
                                logs[file].0.display()
                            ),
                        });
                    }
                }
                mops.push(json!([if m.write { "w" } else { "r" }, m.key, value]));
            }
            txns.push(SessionTxn { mops, end: txn.end });
        }
        sessions.push((process as u64, txns));
    }
    let mut history = rounds(sessions);
    history.warnings = warnings;
    Ok(history)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(tag: u8, fields: &[u64]) -> Vec<u8> {
        let mut out = vec![tag];
        for f in fields {
            out.extend_from_slice(&f.to_be_bytes());
        }
        out
    }

    #[test]
    fn both_layouts_read_and_detect() {
        let mut plain = record(b'S', &[7]);
        plain.extend(record(b'W', &[70, 1, 99]));
        plain.extend(record(b'R', &[INIT_ID, INIT_ID, 2, 0]));
        plain.extend(record(b'C', &[7]));
        let mut stamped = record(b'S', &[7, 1000]);
        stamped.extend(record(b'W', &[70, 1, 99]));
        stamped.extend(record(b'R', &[INIT_ID, INIT_ID, 2, 0]));
        stamped.extend(record(b'C', &[7, 1001]));
        for bytes in [&plain, &stamped] {
            assert!(looks_like_cobra(bytes));
            let h = read_cobra(bytes, Path::new("T0.log")).unwrap();
            assert_eq!(h.ops[1].value, json!([["w", 1, 70], ["r", 2, null]]));
            assert_eq!(h.ops[1].kind, OpType::Ok);
        }
        assert!(!looks_like_cobra(
            b"Sorry, this is text, not a log at all\n"
        ));
        let e = read_cobra(&plain[..plain.len() - 3], Path::new("T0.log"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("T0.log: byte 68: the file ends inside the 'C' record at byte 67"),
            "{e}"
        );
    }
}
