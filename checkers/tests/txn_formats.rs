//! Txn histories from files: faultline's JSONL, Jepsen's EDN (through the existing reader:
//! keywords become strings), and the text format of the academic isolation checkers, with
//! the kind of history detected from the content.

mod txn_support;

use std::path::Path;

use faultline_checkers::checker::{Checker, Validity};
use faultline_checkers::formats::{looks_like_txn_text, read_str, read_txn_text, Format};
use faultline_checkers::history::{History, HistoryWriter, OpType};
use faultline_checkers::txn::{detect, ListAppend, RwRegister, TxnKind, TxnOptions};
use serde_json::json;
use txn_support::check_as;

#[test]
fn jepsen_edn_txns_read_into_the_json_shape() {
    let text = "\
{:type :invoke, :f :txn, :value [[:append 8 1] [:append 8 2]], :process 1, :time 1, :index 0}
{:type :ok, :f :txn, :value [[:append 8 1] [:append 8 2]], :process 1, :time 2, :index 1}
{:type :invoke, :f :txn, :value [[:append 9 2] [:r 8 nil]], :process 0, :time 3, :index 2}
{:type :ok, :f :txn, :value [[:append 9 2] [:r 8 [1 2]]], :process 0, :time 4, :index 3}
";
    assert_eq!(Format::detect(text), Some(Format::JepsenEdn));
    let history = read_str(text, Path::new("history.edn"), None).unwrap();
    assert_eq!(
        history.ops[3].value,
        json!([["append", 9, 2], ["r", 8, [1, 2]]])
    );
    assert_eq!(
        history.ops[2].value,
        json!([["append", 9, 2], ["r", 8, null]])
    );
    assert_eq!(history.ops[3].f, "txn");
    assert_eq!(detect(&history), Some(TxnKind::ListAppend));
    assert_eq!(ListAppend::default().check(&history).valid, Validity::Valid);
    // The whole history as one vector of tagged ops reads the same.
    let vector = format!(
        "[{}]",
        text.lines()
            .map(|l| format!("#jepsen.history.Op{l}"))
            .collect::<Vec<_>>()
            .join("\n ")
    );
    assert_eq!(
        read_str(&vector, Path::new("h.edn"), None).unwrap(),
        history
    );
}

#[test]
fn faultline_jsonl_txns_round_trip() {
    let events = [
        (0, "invoke", json!([["w", "x", 1], ["r", "y", null]])),
        (0, "ok", json!([["w", "x", 1], ["r", "y", null]])),
        (1, "invoke", json!([["r", "x", null]])),
        (1, "ok", json!([["r", "x", 1]])),
    ];
    let history = txn_support::history(&events);
    let mut bytes = Vec::new();
    {
        let mut writer = HistoryWriter::new(&mut bytes).unwrap();
        for op in &history.ops {
            writer.append(&mut op.clone()).unwrap();
        }
    }
    let text = String::from_utf8(bytes).unwrap();
    let back = read_str(&text, Path::new("history.jsonl"), None).unwrap();
    assert_eq!(back, history);
    assert_eq!(detect(&back), Some(TxnKind::RwRegister));
    assert_eq!(RwRegister::default().check(&back).valid, Validity::Valid);
}

/// The example the Elle-to-text converters document: one list-append txn of session 15.
const CONVERTED: &str = "\
w(4,1,15,1)
r(2,0,15,1)
r(4,1,15,1)
w(4,2,15,1)
r(2,0,15,1)
r(3,0,15,1)
r(3,0,15,1)
r(4,2,15,1)
";

#[test]
fn text_format_reads_into_rw_register_txns() {
    assert!(looks_like_txn_text(CONVERTED));
    let history = read_txn_text(CONVERTED, Path::new("h.txt")).unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history.ops[1].kind, OpType::Ok);
    assert_eq!(history.ops[1].value[1], json!(["r", 2, null]));
    assert_eq!(history.ops[1].value[7], json!(["r", 4, 2]));
    assert_eq!(history.ops[0].value[2], json!(["r", 4, null]));
    assert_eq!(detect(&history), Some(TxnKind::RwRegister));
    let result = check_as(TxnKind::RwRegister, &history, &["serializable"]);
    assert_eq!(result.valid, Validity::Valid, "{:?}", result.reasons);
}

#[test]
fn text_format_sessions_keep_their_order_and_anomalies_show() {
    // Write skew between sessions 1 and 2; session 1's second txn reads its first's write.
    let text = "\
# two sessions
r(1,0,1,10)
w(2,5,1,10)
r(2,0,2,20)
w(1,7,2,20)

r(2,5,1,11)
";
    let history = read_txn_text(text, Path::new("skew.txt")).unwrap();
    let processes: Vec<String> = history
        .ops
        .iter()
        .map(|op| format!("{}{}", op.process, op.kind))
        .collect();
    assert_eq!(
        processes,
        ["1invoke", "2invoke", "1ok", "2ok", "1invoke", "1ok"]
    );
    let result = check_as(
        TxnKind::RwRegister,
        &history,
        &["strong-session-serializable"],
    );
    assert_eq!(result.details["anomaly-types"], json!(["G2-item"]));
    assert_eq!(result.details["not"], json!(["repeatable-read"]));
    // IsoVista's aborted writes (txn -1) are failed txns: reading one is G1a.
    let aborted = "w(1,3,4,-1)\nr(1,3,5,8)\n";
    let history = read_txn_text(aborted, Path::new("a.txt")).unwrap();
    assert_eq!(history.ops[2].kind, OpType::Fail);
    let result = check_as(TxnKind::RwRegister, &history, &["serializable"]);
    assert_eq!(result.details["anomaly-types"], json!(["G1a"]));
}

#[test]
fn text_format_errors_name_file_and_line() {
    let err = |text: &str| {
        read_txn_text(text, Path::new("run/h.txt"))
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err("w(1,1,0,0)\nw(1,x,0,0)\n"),
        "run/h.txt:2: expected a micro-op r(key,value,session,txn) or w(key,value,session,txn) \
         of integers, found \"w(1,x,0,0)\""
    );
    assert_eq!(
        err("w(1,1,0,0)\n\nw(1,1,0,1)\n"),
        "run/h.txt:3: writes 1 to key 1, which line 1 also writes; written values must be \
         unique per key"
    );
    assert!(err("r(1,0,0,3)\nr(2,0,1,3)\n").starts_with("run/h.txt:2: txn 3 is in session 1"));
    assert!(err("w(1,0,0,0)\n").starts_with("run/h.txt:1: writes 0 to key 1"));
}

#[test]
fn detection_tells_the_kinds_apart_and_options_default_to_strict() {
    assert_eq!(detect(&History::default()), None);
    assert_eq!(
        TxnOptions::default().consistency_models[0].name(),
        "strict-serializable"
    );
    assert_eq!("rw-register".parse::<TxnKind>(), Ok(TxnKind::RwRegister));
    assert_eq!("list-append".parse::<TxnKind>(), Ok(TxnKind::ListAppend));
    assert!("bank".parse::<TxnKind>().is_err());
}
