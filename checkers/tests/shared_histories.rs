//! Every real history under `shared/histories` gets the verdict its authors assert in the
//! folder's `VERDICTS` file: etcd logs with `cas-register` (initial nil), kv logs with `kv`
//! (initial ""), each split by key and, for the kv logs, also unsplit.

mod shared_dir;

use std::path::{Path, PathBuf};

use faultline_checkers::checker::{Checker, Validity};
use faultline_checkers::formats::read_path;
use faultline_checkers::linearizable::{Linearizable, SearchOptions};
use shared_dir::shared;

/// `(file, expected verdict)` pairs from a folder's VERDICTS file.
fn verdicts(dir: &Path) -> Vec<(PathBuf, Validity)> {
    let text = std::fs::read_to_string(dir.join("VERDICTS")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut words = line.split_whitespace();
            let file = words.next().unwrap();
            let verdict = match words.next() {
                Some("linearizable") => Validity::Valid,
                Some("not-linearizable") => Validity::Invalid,
                other => panic!("VERDICTS line {line:?}: unknown verdict {other:?}"),
            };
            (dir.join(file), verdict)
        })
        .collect()
}

fn check_folder(folder: &str, model: &str, initial: Option<serde_json::Value>, partition: bool) {
    let Some(root) = shared() else { return };
    let checker = Linearizable::new(model, initial)
        .unwrap()
        .with_options(SearchOptions {
            partition,
            ..SearchOptions::default()
        });
    let expected = verdicts(&root.join(folder));
    assert!(!expected.is_empty(), "{folder}/VERDICTS lists no files");
    let mut wrong = Vec::new();
    for (path, want) in &expected {
        let history = read_path(path, None).unwrap_or_else(|e| panic!("{e}"));
        let result = checker.check(&history);
        if result.valid != *want {
            wrong.push(format!(
                "{}: expected {want}, got {} {:?}",
                path.display(),
                result.valid,
                result.reasons
            ));
        }
        if result.valid == Validity::Invalid {
            let ce = &result.details["counterexample"];
            assert!(
                ce["op"].is_u64(),
                "{}: no counterexample op",
                path.display()
            );
            assert!(
                result.reasons[0].starts_with("op #"),
                "{:?}",
                result.reasons
            );
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong verdicts:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn etcd_logs_match_their_verdicts() {
    check_folder("etcd-jepsen", "cas-register", None, true);
}

#[test]
fn kv_logs_match_their_verdicts_split_by_key() {
    check_folder("kv", "kv", Some(serde_json::json!("")), true);
}

#[test]
fn kv_logs_match_their_verdicts_unsplit() {
    check_folder("kv", "kv", None, false);
}
