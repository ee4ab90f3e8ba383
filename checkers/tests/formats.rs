//! The importers against real histories (the shared folder) and hand-written fixtures.

use std::path::{Path, PathBuf};

use faultline_checkers::formats::{read_path, Format};
use faultline_checkers::history::{HistoryError, OpType, Process};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/histories");

fn shared() -> Option<PathBuf> {
    let dir = PathBuf::from(SHARED);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: shared histories not found at {SHARED} (expected etcd-jepsen/ and kv/ there)");
        None
    }
}

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
    }
    assert_eq!(total, 13438);
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
    let _ = (OpType::Ok, Process::Nemesis);
}
