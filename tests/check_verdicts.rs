//! `faultline check` decides histories that real runs produce: one key plainly not
//! linearizable beside a key the search cannot finish (50 clients, 10% `info` ops, values
//! written over and over) is `invalid` at once, naming the invalid key, because proving one
//! key invalid cancels the others; and a long key of unique values (50 clients, 10% `info`
//! ops) is decided either way within a small memory budget, as the polynomial path allows.

mod common;

use std::io::Write;
use std::path::Path;

use common::faultline;
use faultline_checkers::history::Op;
use faultline_checkers::simulate::{generate, hard_and_invalid_keys, mutate_read, SimConfig};
use serde_json::json;

fn write_jsonl(path: &Path, ops: &[Op]) {
    let mut file = std::fs::File::create(path).unwrap();
    writeln!(file, "{{\"format\":\"faultline-history\",\"version\":1}}").unwrap();
    for (index, op) in ops.iter().enumerate() {
        let mut op = op.clone();
        op.index = index as u64;
        writeln!(file, "{}", serde_json::to_string(&op).unwrap()).unwrap();
    }
}

#[test]
fn an_invalid_key_is_named_at_once_while_a_hard_key_is_cancelled() {
    let ops = hard_and_invalid_keys().ops;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("history.jsonl");
    write_jsonl(&file, &ops);
    let out = faultline()
        .args([
            "check",
            "--json",
            "--model",
            "cas-register",
            "--timeout",
            "120",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let result = &report[0]["results"][0];
    assert_eq!(
        result["details"]["invalid_keys"],
        json!(["bad"]),
        "{result}"
    );
    assert_eq!(result["details"]["undecided_keys"][0]["key"], json!("hard"));
    assert!(
        result["details"]["budget_exhausted"].is_null(),
        "the hard key is cancelled, not out of budget: {result}"
    );
    assert!(stdout.contains("left undecided"), "{stdout}");
}

#[test]
fn a_long_key_of_unique_values_with_many_unknown_writes_is_decided() {
    let history = generate(&SimConfig {
        info_rate: 0.1,
        unique_values: true,
        ..SimConfig::register(50, 0, 20_000, 3)
    });
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.jsonl");
    write_jsonl(&good, &history.ops);
    let bad = dir.path().join("bad.jsonl");
    write_jsonl(&bad, &mutate_read(&history, 5).unwrap().ops);
    for (file, code) in [(&good, 0), (&bad, 1)] {
        let out = faultline()
            .args([
                "check",
                "--model",
                "cas-register",
                "--memory-limit",
                "64MiB",
            ])
            .arg(file)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}: {stdout}",
            file.display()
        );
    }
}
