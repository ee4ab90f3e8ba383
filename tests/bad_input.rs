//! End-to-end: bad input gives a one-line error saying what is wrong and what to do, exit
//! code 254 (bad arguments) or 255 (a failure while running), with every node stopped.

mod common;

use std::path::Path;
use std::process::Output;

use common::*;

/// `faultline check ARGS FILE`, run to its end.
fn check(args: &[&str], file: &Path) -> Output {
    faultline()
        .arg("check")
        .args(args)
        .arg(file)
        .output()
        .unwrap()
}

/// The stdout of `out`, which must have ended with the exit code `code` of its verdict.
fn verdict(out: &Output, code: i32) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(code), "{stdout}");
    stdout
}

fn assert_one_line_error(out: &Output, code: i32, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("faultline:"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line: {stderr}");
    assert!(errors[0].contains(needle), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Each `faultline test` with these options is refused with one line naming the needle, and
/// nothing runs.
fn refused_before_running(cases: &[(&[&str], &str)]) {
    let store = tempfile::tempdir().unwrap();
    for (args, needle) in cases {
        let out = run_test(store.path(), args);
        assert_one_line_error(&out, 254, needle);
    }
    assert!(!store.path().join("latest").exists(), "nothing ran");
}

#[test]
fn unknown_names_are_bad_arguments() {
    refused_before_running(&[
        (&["--system", "mongo"], "unknown system 'mongo'"),
        (&["--workload", "bogus"], "bogus"),
        (&["--nemesis", "meteor"], "meteor"),
        (&["--bug", "typo"], "typo"),
        (&["--concurrency", "lots"], "--concurrency"),
    ]);
}

#[test]
fn a_port_in_use_is_a_bad_argument() {
    let store = tempfile::tempdir().unwrap();
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let out = run_test(store.path(), &["--base-port", &port, "--node-count", "1"]);
    assert_one_line_error(&out, 254, &format!("port {port}"));
}

#[test]
fn a_node_binary_that_will_not_start_is_a_harness_failure_naming_the_log() {
    let finished = finished_run(&[
        "--node-binary",
        "/bin/false",
        "--node-count",
        "3",
        "--ready-timeout",
        "10",
    ]);
    assert_one_line_error(&finished.out, 255, "node.log");
    assert!(wait_gone(&finished.run.display().to_string(), 5).is_empty());
}

#[test]
fn check_reports_bad_files_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.jsonl");
    assert_one_line_error(&check(&[], &missing), 254, "nope.jsonl");
    let bad = write_file(
        dir.path(),
        "bad.jsonl",
        "{\"format\":\"faultline-history\",\"version\":1}\n{\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"value\":1}\n",
    );
    assert_one_line_error(&check(&[], &bad), 254, "bad.jsonl");
}

#[test]
fn bad_key_and_memory_options_are_one_line_bad_arguments() {
    refused_before_running(&[
        (&["--ops-per-key", "0"], "--ops-per-key 0"),
        (&["--threads-per-key", "0"], "--threads-per-key 0"),
        (
            &["--keys", "5", "--ops-per-key", "100"],
            "--keys 5 gives a fixed key set, and --ops-per-key is for independent keys",
        ),
        (&["--memory-limit", "2XB"], "--memory-limit '2XB'"),
    ]);
    let out = faultline()
        .args(["check", "--memory-limit", "lots", "/nonexistent"])
        .output()
        .unwrap();
    assert_one_line_error(
        &out,
        254,
        "--memory-limit 'lots': no number; give a size such as 512MiB",
    );
}

/// A faultline history whose last line was cut mid-write, after `ops` complete op lines.
fn torn_history(ops: &[&str]) -> String {
    let mut text = String::from("{\"format\":\"faultline-history\",\"version\":1}\n");
    for op in ops {
        text.push_str(op);
        text.push('\n');
    }
    text.push_str("{\"index\":4,\"time\":900,\"process\":0,\"type\":\"inv");
    text
}

#[test]
fn check_warns_of_a_torn_last_line_and_checks_the_lines_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let write = [
        r#"{"index":0,"time":100,"process":0,"type":"invoke","f":"write","key":0,"value":1}"#,
        r#"{"index":1,"time":200,"process":0,"type":"ok","f":"write","key":0,"value":1}"#,
        r#"{"index":2,"time":300,"process":1,"type":"invoke","f":"read","key":0,"value":null}"#,
    ];
    let warning = |path: &Path| {
        format!(
            "{}:6: the last line is incomplete (the harness was probably killed while writing \
             it); skipped",
            path.display()
        )
    };
    for (read, code) in [(1, 0), (2, 1)] {
        let read_ok = format!(
            r#"{{"index":3,"time":400,"process":1,"type":"ok","f":"read","key":0,"value":{read}}}"#
        );
        let path = dir.path().join(format!("read-{read}.jsonl"));
        let ops: Vec<&str> = write.iter().copied().chain([read_ok.as_str()]).collect();
        std::fs::write(&path, torn_history(&ops)).unwrap();

        let out = check(&[], &path);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Reading 1 after writing 1 is valid; reading 2, never written, is not: the four
        // complete op lines were checked, the torn sixth line (after the header) skipped.
        assert_eq!(out.status.code(), Some(code), "{stdout}\n{stderr}");
        assert!(stdout.contains("(4 ops, faultline"), "{stdout}");
        assert_eq!(
            stderr.lines().collect::<Vec<_>>(),
            vec![format!("warning: {}", warning(&path))],
            "{stderr}"
        );

        let out = check(&["--json"], &path);
        assert_eq!(out.status.code(), Some(code));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json[0]["ops"], 4);
        assert_eq!(json[0]["warnings"], serde_json::json!([warning(&path)]));
    }
}

#[test]
fn report_logs_a_torn_last_line_and_shows_it_on_the_page() {
    let (run, history) = temp_file(
        "history.jsonl",
        torn_history(&[
            r#"{"index":0,"time":100,"process":0,"type":"invoke","f":"write","key":0,"value":1}"#,
        ]),
    );
    let out = faultline().arg("report").arg(run.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let warning = format!("{}:3: the last line is incomplete", history.display());
    assert!(stderr.contains(&warning), "{stderr}");
    let page = std::fs::read_to_string(run.path().join("index.html")).unwrap();
    assert!(page.contains(&warning), "the page states it");
}

#[test]
fn check_passes_memory_limit_to_the_checker() {
    // A real Jepsen history that needs a search (a value is written twice): under a budget
    // of one byte its verdict is unknown (exit 2); under the default, invalid (exit 1).
    let Some(log) = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("shared/histories/etcd-jepsen/etcd_000.log"))
        .find(|file| file.is_file())
    else {
        eprintln!("skipping: shared/histories/etcd-jepsen/etcd_000.log not found above the crate");
        return;
    };
    let stdout = verdict(&check(&["--memory-limit", "1"], &log), 2);
    assert!(stdout.contains("memory"), "{stdout}");
    assert_eq!(check(&[], &log).status.code(), Some(1));
}

/// A transactional history in Jepsen's EDN, one op a line: T0 appends 1 to key 1, then a
/// second txn (lines 3 and 4) carrying `second` on invoke and `second_ok` on completion.
fn txn_edn(second: &str, second_ok: &str) -> String {
    format!(
        "{{:type :invoke, :f :txn, :value [[:append 1 1]], :process 0}}\n\
         {{:type :ok, :f :txn, :value [[:append 1 1]], :process 0}}\n\
         {{:type :invoke, :f :txn, :value {second}, :process 1}}\n\
         {{:type :ok, :f :txn, :value {second_ok}, :process 1}}\n"
    )
}

#[test]
fn malformed_transactions_are_one_line_errors_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    for (name, second, second_ok, line, needle) in [
        (
            "duplicate-append",
            "[[:append 1 1]]",
            "[[:append 1 1]]",
            4,
            "appended values must be unique per key",
        ),
        (
            "read-not-a-list",
            "[[:r 1 nil]]",
            "[[:r 1 5]]",
            4,
            "not a list",
        ),
        ("no-list-value", "3", "3", 3, "must be a list of micro-ops"),
        (
            "unknown-micro-op",
            "[[:frob 1 nil]]",
            "[[:frob 1 nil]]",
            4,
            "frob",
        ),
    ] {
        let file = dir.path().join(format!("{name}.edn"));
        std::fs::write(&file, txn_edn(second, second_ok)).unwrap();
        let out = check(&[], &file);
        assert_one_line_error(&out, 254, &format!("{name}.edn:{line}: op #"));
        assert_one_line_error(&out, 254, needle);
    }
}

#[test]
fn a_duplicate_element_read_back_is_an_anomaly_not_an_error() {
    let (_dir, file) = temp_file(
        "duplicate-read.edn",
        txn_edn("[[:r 1 nil]]", "[[:r 1 [1 1]]]"),
    );
    let stdout = verdict(&check(&[], &file), 1);
    assert!(stdout.contains("duplicate-elements"), "{stdout}");
    assert!(stdout.contains("model list-append"), "{stdout}");
}

#[test]
fn check_judges_transactions_against_the_consistency_models_asked_for() {
    let (_dir, file) = temp_file(
        "write-skew.edn",
        "{:type :invoke, :f :txn, :value [[:append :x 1] [:r :y nil]], :process 0}\n\
         {:type :invoke, :f :txn, :value [[:append :y 1] [:r :x nil]], :process 1}\n\
         {:type :ok, :f :txn, :value [[:append :x 1] [:r :y []]], :process 0}\n\
         {:type :ok, :f :txn, :value [[:append :y 1] [:r :x []]], :process 1}\n",
    );
    let against = |models: &str| check(&["--consistency-models", models], &file);
    let stdout = verdict(&against("strict-serializable"), 1);
    assert!(stdout.contains("G2-item"), "{stdout}");
    // Write skew is what snapshot isolation allows.
    assert_eq!(against("snapshot-isolation").status.code(), Some(0));
    assert_one_line_error(&against("serialisable"), 254, "--consistency-models");
}

#[test]
fn the_isolation_checkers_text_format_is_detected_and_its_bad_lines_named() {
    // Write skew: each session read the key the other wrote as the initial value (0).
    let (dir, skew) = temp_file(
        "skew.txt",
        "w(1,1,0,0)\nr(2,0,0,0)\nw(2,1,1,1)\nr(1,0,1,1)\n",
    );
    let stdout = verdict(&check(&["--consistency-models", "serializable"], &skew), 1);
    assert!(
        stdout.contains("txn-text, model rw-register") && stdout.contains("G2-item"),
        "{stdout}"
    );
    let bad = write_file(dir.path(), "bad.txt", "w(1,1,0,0)\nr(1,1,1,1)\nx(3)\n");
    assert_one_line_error(&check(&[], &bad), 254, "bad.txt:3: expected a micro-op");
}
