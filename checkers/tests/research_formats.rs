//! The research checkers' formats: dbcop's `history.bincode` and Cobra's client logs,
//! written by hand here, read into rw-register histories and decided by complete checking
//! (serializability and snapshot isolation), and their truncated or garbage forms refused
//! with one-line errors naming the file.

mod txn_support;

use std::path::Path;

use faultline_checkers::checker::{CheckResult, Validity};
use faultline_checkers::formats::{detect_path, read_bytes, read_path, Format};
use faultline_checkers::history::{History, Op, OpType};
use faultline_checkers::txn::{check, detect, ConsistencyModel, TxnKind, TxnOptions};
use serde_json::json;

/// A dbcop event: a write (or read) of `variable` with `value`, executed or not.
#[derive(Clone, Copy)]
struct Ev {
    write: bool,
    variable: u64,
    value: u64,
    success: bool,
}

fn r(variable: u64, value: u64) -> Ev {
    Ev {
        write: false,
        variable,
        value,
        success: true,
    }
}

fn w(variable: u64, value: u64) -> Ev {
    Ev {
        write: true,
        variable,
        value,
        success: true,
    }
}

fn string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// dbcop's `History` in bincode v1: params, info, start, end, then the sessions of
/// `(events, committed)` txns.
fn dbcop(sessions: &[Vec<(Vec<Ev>, bool)>]) -> Vec<u8> {
    let mut out = Vec::new();
    for param in [0u64, sessions.len() as u64, 2, 2, 3] {
        out.extend_from_slice(&param.to_le_bytes());
    }
    string(&mut out, "galera cluster of 3");
    string(&mut out, "2020-11-02T22:38:30.123456789+01:00");
    string(&mut out, "2020-11-02T22:38:31.000000001+01:00");
    out.extend_from_slice(&(sessions.len() as u64).to_le_bytes());
    for session in sessions {
        out.extend_from_slice(&(session.len() as u64).to_le_bytes());
        for (events, committed) in session {
            out.extend_from_slice(&(events.len() as u64).to_le_bytes());
            for e in events {
                out.push(e.write as u8);
                out.extend_from_slice(&e.variable.to_le_bytes());
                out.extend_from_slice(&e.value.to_le_bytes());
                out.push(e.success as u8);
            }
            out.push(*committed as u8);
        }
    }
    out
}

/// Cobra's `INIT` txn and write id: a read of the initial state.
const INIT: u64 = 0xbebe_ebee;

/// One Cobra client log of txns `(txn id, records, committed)`; a record is `W wid key` or
/// `R writer_txn wid key` (value hashes are written as 0).
enum Rec {
    W(u64, u64),
    R(u64, u64, u64),
}

fn cobra(txns: &[(u64, Vec<Rec>, bool)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut put = |tag: u8, fields: &[u64]| {
        out.push(tag);
        for f in fields {
            out.extend_from_slice(&f.to_be_bytes());
        }
    };
    for (id, records, committed) in txns {
        put(b'S', &[*id]);
        for rec in records {
            match *rec {
                Rec::W(wid, key) => put(b'W', &[wid, key, 0]),
                Rec::R(writer, wid, key) => put(b'R', &[writer, wid, key, 0]),
            }
        }
        put(if *committed { b'C' } else { b'A' }, &[*id]);
    }
    out
}

fn decide(history: &History, model: &str) -> CheckResult {
    let options = TxnOptions {
        consistency_models: vec![model.parse::<ConsistencyModel>().unwrap()],
        ..TxnOptions::default()
    };
    check(TxnKind::RwRegister, history, &options).unwrap_or_else(|e| panic!("{e}"))
}

/// Assert that `history` is `valid` both as serializable and as snapshot isolation.
fn assert_under_both_models(history: &History, valid: Validity) {
    for model in ["serializable", "snapshot-isolation"] {
        let result = decide(history, model);
        assert_eq!(result.valid, valid, "{model}: {:#}", json!(result));
    }
}

/// The ops of `history` that failed (the txns that aborted).
fn failed_ops(history: &History) -> Vec<&Op> {
    history
        .ops
        .iter()
        .filter(|op| op.kind == OpType::Fail)
        .collect()
}

fn read(bytes: &[u8], name: &str) -> (Format, History) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let format = detect_path(&path).unwrap();
    (format, read_path(&path, None).unwrap())
}

#[test]
fn a_serializable_dbcop_history_reads_and_is_valid() {
    let bytes = dbcop(&[
        vec![(vec![w(0, 1), w(1, 1)], true), (vec![r(1, 2)], true)],
        vec![
            (vec![r(0, 1), w(1, 2)], true),
            // Aborted, and one event that never ran: neither counts.
            (vec![w(0, 2)], false),
            (
                vec![Ev {
                    success: false,
                    ..w(0, 3)
                }],
                true,
            ),
        ],
        vec![(vec![r(0, 0), r(1, 0)], true)],
    ]);
    let (format, history) = read(&bytes, "history.bincode");
    assert_eq!(format, Format::Dbcop);
    assert_eq!(format.name(), "dbcop");
    assert_eq!(detect(&history), Some(TxnKind::RwRegister));
    let first = history.ops.iter().find(|op| op.kind == OpType::Ok).unwrap();
    assert_eq!(first.value, json!([["w", 0, 1], ["w", 1, 1]]));
    // A read of 0 is a read of the initial state.
    let last = history
        .ops
        .iter()
        .rev()
        .find(|op| op.process.client() == Some(2));
    assert_eq!(last.unwrap().value, json!([["r", 0, null], ["r", 1, null]]));
    let failed = failed_ops(&history);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].value, json!([["w", 0, 2]]));
    assert!(history.pair().is_ok());
    assert_under_both_models(&history, Validity::Valid);
}

/// Write skew whose version orders only complete checking can settle: T0 writes x = 1 and
/// y = 1; T1 reads y = 1 and writes x = 2; T2 reads x = 1 and writes y = 2.
#[test]
fn dbcop_write_skew_is_snapshot_isolated_but_not_serializable() {
    let bytes = dbcop(&[
        vec![(vec![w(0, 1), w(1, 1)], true)],
        vec![(vec![r(1, 1), w(0, 2)], true)],
        vec![(vec![r(0, 1), w(1, 2)], true)],
    ]);
    let (_, history) = read(&bytes, "skew.bincode");
    let serializable = decide(&history, "serializable");
    assert_eq!(serializable.valid, Validity::Invalid);
    assert!(
        serializable.details["decided-by"]
            .as_str()
            .is_some_and(|d| d.starts_with("complete")),
        "{:#}",
        serializable.details
    );
    let si = decide(&history, "snapshot-isolation");
    assert_eq!(si.valid, Validity::Valid, "{:?}", si.reasons);
}

#[test]
fn a_dbcop_lost_update_is_neither_serializable_nor_snapshot_isolated() {
    let bytes = dbcop(&[
        vec![(vec![w(0, 1)], true)],
        vec![(vec![r(0, 1), w(0, 2)], true)],
        vec![(vec![r(0, 1), w(0, 3)], true)],
    ]);
    let (_, history) = read(&bytes, "lost.bincode");
    assert_under_both_models(&history, Validity::Invalid);
}

#[test]
fn cobra_logs_read_from_a_file_and_a_folder() {
    // The same write skew: keys 10 (x) and 11 (y), write ids unique.
    let t0 = cobra(&[
        (1, vec![Rec::W(101, 10), Rec::W(102, 11)], true),
        (4, vec![Rec::R(INIT, INIT, 12)], true),
    ]);
    let t1 = cobra(&[(2, vec![Rec::R(1, 102, 11), Rec::W(201, 10)], true)]);
    let t2 = cobra(&[
        (3, vec![Rec::R(1, 101, 10), Rec::W(301, 11)], true),
        (5, vec![Rec::W(302, 12)], false),
    ]);
    let (format, one) = read(&t0, "T0.log");
    assert_eq!((format, format.name()), (Format::Cobra, "cobra"));
    assert_eq!(one.ops[1].value, json!([["w", 10, 101], ["w", 11, 102]]));
    assert_eq!(one.ops[3].value, json!([["r", 12, null]]));
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [("T0.log", &t0), ("T1.log", &t1), ("T2.log", &t2)] {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    std::fs::write(dir.path().join("notes.txt"), "not a log").unwrap();
    assert_eq!(detect_path(dir.path()).unwrap(), Format::Cobra);
    let history = read_path(dir.path(), None).unwrap();
    assert_eq!(read_path(dir.path(), Some(Format::Cobra)).unwrap(), history);
    assert!(history.warnings.is_empty(), "{:?}", history.warnings);
    assert!(history.pair().is_ok());
    let aborted = failed_ops(&history);
    assert_eq!(aborted.len(), 1);
    assert_eq!(aborted[0].process.client(), Some(2));
    let serializable = decide(&history, "serializable");
    assert_eq!(
        serializable.valid,
        Validity::Invalid,
        "{:#}",
        serializable.details
    );
    let si = decide(&history, "snapshot-isolation");
    assert_eq!(si.valid, Validity::Valid, "{:?}", si.reasons);
    // With T1 reading y's initial value instead, T1, T0, T2 is a serial order.
    let t1 = cobra(&[(2, vec![Rec::R(INIT, INIT, 11), Rec::W(201, 10)], true)]);
    let t2 = cobra(&[(3, vec![Rec::R(1, 101, 10), Rec::W(301, 11)], true)]);
    std::fs::write(dir.path().join("T1.log"), &t1).unwrap();
    std::fs::write(dir.path().join("T2.log"), &t2).unwrap();
    let history = read_path(dir.path(), None).unwrap();
    assert_under_both_models(&history, Validity::Valid);
    let e = read_path(dir.path(), Some(Format::JepsenEdn))
        .unwrap_err()
        .to_string();
    assert!(e.contains("is a folder"), "{e}");
    let empty = tempfile::tempdir().unwrap();
    let e = read_path(empty.path(), None).unwrap_err().to_string();
    assert!(e.contains("no Cobra client logs"), "{e}");
}

/// Every prefix of `bytes` but the whole is an error of one line naming the file.
fn every_prefix_fails_cleanly(bytes: &[u8], format: Option<Format>) {
    for cut in 0..bytes.len() {
        let e = read_bytes(&bytes[..cut], Path::new("run/h.bin"), format)
            .err()
            .unwrap_or_else(|| panic!("the prefix of {cut} bytes was read"));
        let message = e.to_string();
        assert!(
            message.starts_with("run/h.bin:") && !message.contains('\n'),
            "{message}"
        );
    }
}

#[test]
fn truncated_and_garbage_files_are_one_line_errors_naming_the_file() {
    let db = dbcop(&[
        vec![(vec![w(0, 1), r(0, 1)], true)],
        vec![(vec![r(0, 1)], true)],
    ]);
    every_prefix_fails_cleanly(&db, Some(Format::Dbcop));
    let cut = read_bytes(&db[..db.len() - 5], Path::new("h.bincode"), None)
        .unwrap_err()
        .to_string();
    assert!(
        cut.starts_with("h.bincode: byte ") && cut.contains("truncated"),
        "{cut}"
    );
    let mut longer = db.clone();
    longer.push(0);
    let e = read_bytes(&longer, Path::new("h.bincode"), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("1 bytes follow the end of the history"), "{e}");
    let mut bad_bool = db.clone();
    let last = bad_bool.len() - 1;
    bad_bool[last] = 7;
    let e = read_bytes(&bad_bool, Path::new("h.bincode"), None)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "h.bincode: byte {last}: the success flag of txn 0 of session 1 is a bool, 0 or 1, \
             but the byte is 7"
        )
    );
    let twice = dbcop(&[vec![(vec![w(0, 1)], true)], vec![(vec![w(0, 1)], true)]]);
    let e = read_bytes(&twice, Path::new("h"), None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("written values must be unique per variable"),
        "{e}"
    );

    let log = cobra(&[(1, vec![Rec::W(7, 1), Rec::R(INIT, INIT, 2)], true)]);
    for cut in 0..log.len() {
        if let Err(e) = read_bytes(&log[..cut], Path::new("run/T0.log"), Some(Format::Cobra)) {
            let message = e.to_string();
            assert!(
                message.starts_with("run/T0.log: byte ") && !message.contains('\n'),
                "{message}"
            );
        }
    }
    let e = read_bytes(
        &log[..log.len() - 4],
        Path::new("T0.log"),
        Some(Format::Cobra),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("T0.log: byte ") && e.contains("truncated"),
        "{e}"
    );
    // A log cut between records ends inside a txn: read, with a warning.
    let open = read_bytes(
        &log[..log.len() - 9],
        Path::new("T0.log"),
        Some(Format::Cobra),
    )
    .unwrap();
    assert_eq!(open.ops[1].kind, OpType::Info);
    assert!(
        open.warnings[0].contains("ends inside a txn"),
        "{:?}",
        open.warnings
    );
    let mut garbage = log.clone();
    garbage[9] = b'Z';
    let e = read_bytes(&garbage, Path::new("T0.log"), Some(Format::Cobra))
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown record type 0x5a"), "{e}");

    // Bytes that are no format at all: the error names every format tried.
    let noise: Vec<u8> = (0..200u32).map(|i| (i * 97 % 251) as u8 | 0x80).collect();
    let e = read_bytes(&noise, Path::new("noise.bin"), None)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("noise.bin:1: the file is not UTF-8 text")
            && e.contains("dbcop")
            && e.contains("cobra")
            && !e.contains('\n'),
        "{e}"
    );
    let e = read_bytes(b"hello\n", Path::new("t.txt"), None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("tried faultline, jepsen-edn, jepsen-log, kv-log, txn-text, dbcop, cobra"),
        "{e}"
    );
}
