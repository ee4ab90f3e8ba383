//! The importers against real histories (the shared folder) and hand-written fixtures.

mod shared_dir;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use std::time::Instant;

use faultline_checkers::formats::{read_bytes, read_path, read_str, Format};
use faultline_checkers::history::{History, HistoryError, Op, OpType, Process};
use serde_json::{json, Value};
use shared_dir::shared;

fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    files
}

#[test]
fn every_etcd_log_parses_and_pairs() {
    let Some(dir) = shared() else { return };
    let logs = files(&dir.join("etcd-jepsen"), ".log");
    assert_eq!(logs.len(), 80);
    let mut total = 0;
    let mut kinds = HashMap::new();
    for log in &logs {
        let text = std::fs::read_to_string(log).unwrap();
        let h = read_path(log, None).unwrap_or_else(|e| panic!("{e}"));
        let lines = text
            .lines()
            .filter(|l| l.contains("jepsen.util - "))
            .count();
        assert_eq!(h.len(), lines, "{}", log.display());
        assert_eq!(Format::detect(&text), Some(Format::JepsenLog));
        assert!(h.ops.iter().all(|op| op.key.is_none()));
        h.pair().unwrap();
        total += h.len();
        for op in &h.ops {
            *kinds.entry(op.kind.as_str()).or_insert(0usize) += 1;
            assert!(matches!(op.f.as_str(), "read" | "write" | "cas"), "{op}");
            assert!(matches!(op.process, Process::Client(_)), "{op}");
            if op.kind == OpType::Info {
                // `:info :write :timed-out`: unknown result, so no value.
                assert_eq!(
                    (&op.value, op.error.as_deref()),
                    (&Value::Null, Some("timed-out"))
                );
            } else if op.f == "cas" {
                assert!(op.value.as_array().is_some_and(|a| a.len() == 2), "{op}");
            }
        }
    }
    assert_eq!(total, 13438);
    // Counted with grep over the logs: 6719 invocations, 4315 ok, 1409 fail, 995 info.
    let expected: HashMap<&str, usize> = [
        ("invoke", 6719),
        ("ok", 4315),
        ("fail", 1409),
        ("info", 995),
    ]
    .into();
    assert_eq!(kinds, expected);
}

#[test]
fn every_kv_log_parses_and_pairs() {
    let Some(dir) = shared() else { return };
    let logs = files(&dir.join("kv"), ".txt");
    assert_eq!(logs.len(), 4);
    for log in &logs {
        let text = std::fs::read_to_string(log).unwrap();
        assert_eq!(Format::detect(&text), Some(Format::KvLog));
        let h = read_path(log, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            h.len(),
            text.lines().filter(|l| !l.trim().is_empty()).count()
        );
        assert!(h.ops.iter().all(|op| op.key.is_some()));
        h.pair().unwrap();
    }
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let e = read_path(Path::new("/nonexistent/h.edn"), None).unwrap_err();
    assert!(matches!(e, HistoryError::Io { .. }));
    assert!(e.to_string().contains("/nonexistent/h.edn"), "{e}");
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The path of a fixture, asserting that its text is detected as `format`.
fn detected_fixture(name: &str, format: Format) -> PathBuf {
    let path = fixture(name);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(Format::detect(&text), Some(format), "{name}");
    path
}

#[allow(clippy::too_many_arguments)]
fn op(
    index: u64,
    time: u64,
    process: Process,
    kind: OpType,
    f: &str,
    key: Option<Value>,
    value: Value,
    error: Option<&str>,
) -> Op {
    Op {
        index,
        time,
        process,
        kind,
        f: f.to_string(),
        key,
        value,
        error: error.map(str::to_string),
    }
}

#[test]
fn jepsen_03_cas_register_history_edn() {
    use OpType::*;
    use Process::{Client as C, Nemesis as N};
    let path = detected_fixture("cas-register.history.edn", Format::JepsenEdn);
    let h = read_path(&path, None).unwrap();
    let expected = vec![
        op(0, 14035290, C(0), Invoke, "read", None, json!(null), None),
        op(1, 14189331, C(1), Invoke, "write", None, json!(3), None),
        op(2, 16250113, C(0), Ok, "read", None, json!(null), None),
        op(3, 17093571, C(1), Ok, "write", None, json!(3), None),
        op(4, 18002113, C(2), Invoke, "cas", None, json!([3, 4]), None),
        op(5, 18107000, C(0), Invoke, "cas", None, json!([1, 2]), None),
        op(6, 19980211, C(2), Ok, "cas", None, json!([3, 4]), None),
        op(
            7,
            20120400,
            C(0),
            Fail,
            "cas",
            None,
            json!([1, 2]),
            Some("precondition-failed"),
        ),
        op(
            8,
            5000313224,
            N,
            Info,
            "start-partition",
            None,
            json!("majority"),
            None,
        ),
        op(
            9,
            5012872101,
            N,
            Info,
            "start-partition",
            None,
            json!(["isolated", {"n1": ["n4", "n5"], "n4": ["n1"]}]),
            None,
        ),
        op(10, 5100000000, C(1), Invoke, "write", None, json!(0), None),
        op(
            11,
            5200000000,
            C(2),
            Invoke,
            "read",
            None,
            json!(null),
            None,
        ),
        op(
            12,
            10100000000,
            C(1),
            Info,
            "write",
            None,
            json!(0),
            Some("timeout"),
        ),
        op(
            13,
            10200000000,
            C(2),
            Info,
            "read",
            None,
            json!(null),
            Some(r#"["timeout","read timed out after 5000 ms"]"#),
        ),
        op(
            14,
            10300000000,
            C(6),
            Invoke,
            "read",
            None,
            json!(null),
            None,
        ),
        op(
            15,
            10400000000,
            N,
            Info,
            "stop-partition",
            None,
            json!(null),
            None,
        ),
        op(
            16,
            10500000000,
            N,
            Info,
            "stop-partition",
            None,
            json!("network-healed"),
            None,
        ),
        op(17, 10612000000, C(6), Ok, "read", None, json!(4), None),
        op(
            18,
            10700000000,
            C(7),
            Invoke,
            "cas",
            None,
            json!([4, 1]),
            None,
        ),
    ];
    assert_eq!(h.ops, expected);
    let calls = h.pair().unwrap();
    assert_eq!(calls.len(), 8);
    assert_eq!(calls.last().unwrap().completion, None);
}

#[test]
fn knossos_style_independent_history_splits_keys() {
    use OpType::*;
    use Process::{Client as C, Nemesis as N};
    let path = detected_fixture("independent.history.edn", Format::JepsenEdn);
    let h = read_path(&path, Some(Format::JepsenEdn)).unwrap();
    let k = |k: i64| Some(json!(k));
    let expected = vec![
        op(0, 100, C(0), Invoke, "write", k(0), json!(1), None),
        op(1, 110, C(1), Invoke, "read", k(1), json!(null), None),
        op(2, 120, C(0), Ok, "write", k(0), json!(1), None),
        op(3, 130, C(1), Ok, "read", k(1), json!(null), None),
        op(4, 140, C(0), Invoke, "cas", k(0), json!([1, 2]), None),
        op(5, 145, N, Info, "start", None, json!(null), None),
        op(6, 150, C(1), Invoke, "write", k(1), json!(3), None),
        op(7, 160, C(0), Fail, "cas", k(0), json!([1, 2]), None),
        op(8, 170, C(1), Info, "write", k(1), json!(3), Some("timeout")),
        op(9, 180, C(2), Invoke, "read", k(0), json!(null), None),
        op(10, 190, C(2), Ok, "read", k(0), json!(1), None),
        op(11, 195, N, Info, "stop", None, json!(null), None),
    ];
    assert_eq!(h.ops, expected);
}

#[test]
fn small_kv_log() {
    use OpType::*;
    use Process::Client as C;
    let path = detected_fixture("small.kv.log", Format::KvLog);
    let h = read_path(&path, None).unwrap();
    let k = |k: &str| Some(json!(k));
    let expected = vec![
        op(0, 0, C(0), Invoke, "put", k("a"), json!("x 0 0 y"), None),
        op(1, 0, C(1), Invoke, "get", k("b"), json!(null), None),
        op(2, 0, C(0), Ok, "put", k("a"), json!("x 0 0 y"), None),
        op(3, 0, C(1), Ok, "get", k("b"), json!(""), None),
        op(
            4,
            0,
            C(1),
            Invoke,
            "append",
            k("a"),
            json!("say \"hi\"\n"),
            None,
        ),
        op(
            5,
            0,
            C(1),
            Ok,
            "append",
            k("a"),
            json!("say \"hi\"\n"),
            None,
        ),
        op(6, 0, C(0), Invoke, "get", k("a"), json!(null), None),
        op(
            7,
            0,
            C(0),
            Ok,
            "get",
            k("a"),
            json!("x 0 0 ysay \"hi\"\n"),
            None,
        ),
    ];
    assert_eq!(h.ops, expected);
    // The same text read as jepsen-edn keeps the keys too.
    assert_eq!(read_path(&path, Some(Format::JepsenEdn)).unwrap(), h);
}

#[test]
fn faultline_history_is_delegated_to_the_jsonl_reader() {
    let text = "{\"format\":\"faultline-history\",\"version\":1}\n\
                {\"index\":0,\"time\":5,\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n";
    assert_eq!(Format::detect(text), Some(Format::Faultline));
    let h = read_str(text, Path::new("h.jsonl"), None).unwrap();
    assert_eq!(
        h,
        History::read_jsonl_from(text.as_bytes(), Path::new("h.jsonl")).unwrap()
    );
    assert_eq!(h.ops[0].time, 5);
}

/// `read_str` must fail with a message that starts `file:line:` and contains `needle`.
fn assert_error(text: &str, format: Option<Format>, line: usize, needle: &str) {
    let err = read_str(text, Path::new("bad/history.edn"), format)
        .expect_err("bad input must be an error");
    let message = err.to_string();
    let prefix = format!("bad/history.edn:{line}: ");
    assert!(
        message.starts_with(&prefix) && message.contains(needle),
        "expected {prefix}...{needle}..., got: {message}"
    );
}

const INVOKE: &str = "{:type :invoke, :f :read, :value nil, :process 0}\n";

#[test]
fn bad_edn_inputs_name_file_and_line() {
    let e = Some(Format::JepsenEdn);
    assert_error(
        &format!("{INVOKE}{{:type :bogus, :f :read, :value nil, :process 1}}\n"),
        e,
        2,
        "expected :type to be one of :invoke :ok :fail :info, found :bogus",
    );
    assert_error(
        &format!("{INVOKE}{{:type :ok, :f :read,\n :value [1 2\n"),
        e,
        2,
        "unterminated op map: the op that starts on line 2 is cut off; unterminated vector",
    );
    assert_error(
        &format!("{INVOKE}{{:type :ok, :f :read, :value \"abc\n\n"),
        e,
        2,
        "unterminated string",
    );
    assert_error(
        &format!("[{INVOKE}{{:type :ok, :f :read, :value [1 2], :process 0}}\n"),
        e,
        1,
        "unterminated history",
    );
    assert_error(
        &format!("{INVOKE}{{:type :ok, :f :read, :value [1 2}}\n"),
        e,
        2,
        "expected ']' to close the vector opened on line 2, found '}'",
    );
    assert_error(
        "{:process 0, :f :read}",
        e,
        1,
        "missing required field :type",
    );
    assert_error(
        "\n\n{:process 0, :type :invoke}",
        e,
        3,
        "missing required field :f",
    );
    assert_error(
        "{:process -1, :type :invoke, :f :read}",
        e,
        1,
        "expected :process to be a non-negative integer or :nemesis, found -1",
    );
    assert_error(
        "{:process 0, :type :invoke, :f 12}",
        e,
        1,
        "expected :f to be a keyword",
    );
    assert_error(
        "{:process 0, :type :invoke, :f :read, :time -5}",
        e,
        1,
        "expected :time to be a non-negative integer",
    );
    assert_error(
        "{:process 0, :type :invoke, :type :ok, :f :read}",
        e,
        1,
        ":type twice",
    );
    assert_error("[1 2]", e, 1, "expected an op map");
    assert_error(
        "{:process 0, :type :invoke, :f :read, :value \"\\x\"}",
        e,
        1,
        "unknown string escape",
    );
}

#[test]
fn bad_jepsen_log_inputs_name_file_and_line() {
    let l = Some(Format::JepsenLog);
    let invoke = "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n";
    assert_error(
        &format!("{invoke}INFO  jepsen.util - 0\t:bogus\t:read\tnil\n"),
        l,
        2,
        "expected :type to be one of :invoke :ok :fail :info, found :bogus",
    );
    assert_error(
        &format!("{invoke}INFO  jepsen.util - 1\t:invoke\t:cas\t[1"),
        l,
        2,
        "unterminated vector",
    );
    assert_error(
        &format!("{invoke}INFO  jepsen.util - 1\t:invoke"),
        l,
        2,
        "ends before its f",
    );
    assert_error(
        &format!("{invoke}INFO  jepsen.util - x\t:invoke\t:read\tnil"),
        l,
        2,
        "expected :process to be a non-negative integer or :nemesis, found the symbol x",
    );
    assert_error(
        &format!("{invoke}this is not a log line\n"),
        l,
        2,
        "expected a Jepsen log line",
    );
}

/// What Elle reads leniently is read, with one warning per kind naming the first line.
#[test]
fn elle_lenient_input_is_read_with_warnings() {
    let read = |text: &str, format| read_str(text, Path::new("l.edn"), format).unwrap();
    // A second invocation on a process crashes the open op: an :info completion is added.
    let h = read(&format!("{INVOKE}{INVOKE}"), Some(Format::JepsenEdn));
    let kinds: Vec<OpType> = h.ops.iter().map(|op| op.kind).collect();
    assert_eq!(kinds, [OpType::Invoke, OpType::Info, OpType::Invoke]);
    assert!(h.pair().is_ok());
    assert_eq!(h.warnings.len(), 1);
    assert!(
        h.warnings[0].starts_with(
            "l.edn:2: process 0 invokes :read while its :read invoked on line 1 is still open"
        ),
        "{:?}",
        h.warnings
    );
    // A completion with no invocation is dropped.
    let h = read(
        &format!("{INVOKE}\n{{:type :ok, :f :read, :value 1, :process 3}}\n{{:type :ok, :f :read, :value 1, :process 3}}"),
        None,
    );
    assert_eq!(h.len(), 1);
    assert_eq!(
        h.warnings,
        [
            "l.edn:3: :ok completion of :read on process 3 has no open invocation; as Elle does, \
          it is dropped (1 more such ops)"
        ]
    );
    let log =
        "INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:invoke\t:read\tnil\n\
               INFO  jepsen.util - 4\t:ok\t:read\t3\n";
    let h = read(log, None);
    assert_eq!(h.len(), 3);
    assert_eq!(h.warnings.len(), 2);
    // Elle's hand-written txn histories: no :process, no :f, only completions.
    let h = read(
        "{:process 7, :type :invoke, :f :txn, :value [[:r :x nil]]}\n\
         {:type :ok, :value [[:append :x 1]]}\n\
         {:type :ok, :value [[:r :x [1]] [:w :y 2]]}\n\
         {:index 3, :type :invoke, :f :txn, :value [[:r :x]]}\n",
        None,
    );
    let shown: Vec<String> = h
        .ops
        .iter()
        .map(|op| format!("{}{}{}", op.process, op.kind, op.f))
        .collect();
    assert_eq!(
        shown,
        [
            "7invoketxn",
            "8invoketxn",
            "8oktxn",
            "9invoketxn",
            "9oktxn",
            "10invoketxn"
        ]
    );
    assert!(h.pair().is_ok());
    assert_eq!(h.warnings.len(), 2, "{:?}", h.warnings);
    assert!(h.warnings[0].starts_with("l.edn:2: the op has no :process"));
    assert!(h.warnings[0].ends_with("(2 more such ops)"));
    assert!(h.warnings[1].starts_with("l.edn:2: the op has no :f"));
    // Without :f, a value that is not micro-ops is still an error.
    assert_error(
        "{:process 0, :type :invoke, :value 3}",
        None,
        1,
        "missing required field :f",
    );
}

#[test]
fn other_bad_inputs() {
    assert_error("", None, 1, "holds no ops");
    assert_error("\n; only a comment\n", None, 1, "holds no ops");
    assert_error("\nhello world\n", None, 2, "cannot tell the history format");
    assert_error(
        "{:process 0, :type :invoke, :f :get, :key \"a\"}\n{:process 1, :type :invoke, :f :get}\n",
        Some(Format::KvLog),
        2,
        "kv-log op has no :key",
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("binary.edn");
    std::fs::write(&path, b"{:process 0,\n :f \xff\xfe}").unwrap();
    let e = read_path(&path, None).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}:2: ", path.display())) && e.contains("not UTF-8"),
        "{e}"
    );
    let path = dir.path().join("two.edn");
    std::fs::write(
        &path,
        format!("{INVOKE}{{:type :ok, :f :read, :process 0}}\n{{:type :what}}"),
    )
    .unwrap();
    let e = read_path(&path, None).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}:3: ", path.display())) && e.contains(":what"),
        "{e}"
    );
}

/// Every prefix of a valid history parses or fails cleanly; none panics.
fn every_prefix_is_ok_or_a_clean_error(text: &str, format: Option<Format>, step: usize) {
    let mut cut = 0;
    while cut <= text.len() {
        if text.is_char_boundary(cut) {
            if let Err(e) = read_str(&text[..cut], Path::new("p"), format) {
                assert!(e.to_string().starts_with("p:"), "{e}");
            }
        }
        cut += step;
    }
}

#[test]
fn truncations_never_panic() {
    for name in [
        "cas-register.history.edn",
        "independent.history.edn",
        "small.kv.log",
    ] {
        let text = std::fs::read_to_string(fixture(name)).unwrap();
        every_prefix_is_ok_or_a_clean_error(&text, None, 1);
        every_prefix_is_ok_or_a_clean_error(&text, Some(Format::JepsenEdn), 1);
    }
    let Some(dir) = shared() else { return };
    for file in [
        dir.join("etcd-jepsen/etcd_000.log"),
        dir.join("etcd-jepsen/etcd_042.log"),
        dir.join("kv/c01-ok.txt"),
        dir.join("kv/c10-bad.txt"),
    ] {
        let text = std::fs::read_to_string(&file).unwrap();
        every_prefix_is_ok_or_a_clean_error(&text[..text.len().min(3000)], None, 1);
        every_prefix_is_ok_or_a_clean_error(&text, None, 97);
    }
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    const PIECES: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        "(",
        ")",
        "#{",
        "#_",
        "#tag",
        "\"",
        "\\",
        "\\u00",
        ";",
        "\n",
        " ",
        ",",
        ":type",
        ":invoke",
        ":ok",
        ":info",
        ":f",
        ":read",
        ":process",
        ":nemesis",
        "0",
        "-1",
        "1.5",
        "nil",
        "99999999999999999999",
        "1e999",
        "\t",
        "INFO  jepsen.util - ",
        ":value",
        ":key",
        "é",
    ];

    proptest! {
        #[test]
        fn arbitrary_token_soup_never_panics(picks in prop::collection::vec(0..PIECES.len(), 0..60)) {
            let text: String = picks.iter().map(|&i| PIECES[i]).collect();
            for format in [None, Some(Format::JepsenEdn), Some(Format::JepsenLog), Some(Format::KvLog), Some(Format::Faultline), Some(Format::TxnText), Some(Format::Dbcop), Some(Format::Cobra)] {
                let _ = read_str(&text, Path::new("p"), format);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = Format::detect_bytes(&bytes);
            for format in std::iter::once(None).chain(Format::ALL.map(Some)) {
                let _ = read_bytes(&bytes, Path::new("p"), format);
            }
        }
    }
}

/// Not a speed assertion (those live in benchmarks): prints how long parsing every shared
/// history takes, for the record. Run with `--release -- --nocapture` for real numbers.
#[test]
fn print_parse_time_of_shared_histories() {
    let Some(dir) = shared() else { return };
    let etcd = files(&dir.join("etcd-jepsen"), ".log");
    let kv = files(&dir.join("kv"), ".txt");
    let best_of_5 = |paths: &[PathBuf], from_memory: bool| {
        let texts: Vec<String> = paths
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect();
        let mut best = f64::MAX;
        let mut ops = 0;
        for _ in 0..5 {
            let start = Instant::now();
            ops = 0;
            for (p, text) in paths.iter().zip(&texts) {
                let h = if from_memory {
                    read_str(text, p, None)
                } else {
                    read_path(p, None)
                };
                ops += h.unwrap().len();
            }
            best = best.min(start.elapsed().as_secs_f64());
        }
        (ops, best * 1e3)
    };
    for (name, paths) in [("etcd logs", &etcd), ("kv logs", &kv)] {
        let (ops, file_ms) = best_of_5(paths, false);
        let (_, mem_ms) = best_of_5(paths, true);
        eprintln!(
            "{} {name} ({ops} ops): {file_ms:.2} ms with file reads, {mem_ms:.2} ms parsing \
             alone (best of 5)",
            paths.len()
        );
    }
}
