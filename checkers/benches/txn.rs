//! The txn checkers' benchmark: generated list-append histories of 100,000, 200,000 and
//! 1,000,000 txns (and rw-register, and a stale-read variant) checked against strict
//! serializability, with txns per second and peak memory. The last row is the whole of
//! `faultline check` on a file: a 200,000-txn list-append `history.jsonl` read (detected,
//! parsed, paired) and checked, timed and measured from the child's start.
//!
//! Each case runs in a child process of its own (this binary again, told which case by an
//! environment variable), so that its peak resident memory (VmHWM) is its own: the
//! generated history plus everything the check allocates. Run with
//! `cargo bench -p faultline-checkers --bench txn`; it prints a table and asserts only
//! verdicts, never speed.

use std::process::Command;
use std::time::Instant;

use faultline_checkers::checker::Validity;
use faultline_checkers::formats::{detect_path, read_path};
use faultline_checkers::history::{History, HistoryWriter};
use faultline_checkers::txn::simulate::{generate, mutate_stale_read, TxnSimConfig};
use faultline_checkers::txn::{check, TxnKind, TxnOptions};

const CASE_VARIABLE: &str = "FAULTLINE_TXN_BENCH_CASE";
/// Set for the whole-process row: the history file to read and check.
const FILE_VARIABLE: &str = "FAULTLINE_TXN_BENCH_FILE";

/// The cases: a name, the history's shape, whether one read is made stale.
fn cases() -> Vec<(&'static str, TxnSimConfig, bool)> {
    vec![
        (
            "list-append 100k txns",
            TxnSimConfig::list_append(10, 100_000, 1),
            false,
        ),
        (
            "list-append 200k txns",
            TxnSimConfig::list_append(10, 200_000, 5),
            false,
        ),
        (
            "list-append 100k, one stale read",
            TxnSimConfig::list_append(10, 100_000, 1),
            true,
        ),
        (
            "list-append 1M txns",
            TxnSimConfig::list_append(10, 1_000_000, 2),
            false,
        ),
        (
            "rw-register 100k txns",
            TxnSimConfig::rw_register(10, 100_000, 3),
            false,
        ),
        (
            "rw-register 1M txns",
            TxnSimConfig::rw_register(10, 1_000_000, 4),
            false,
        ),
    ]
}

/// A field of /proc/self/status in bytes (VmHWM: peak resident; VmRSS: resident now).
fn status_bytes(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with(field))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}

fn main() {
    if let Some(file) = std::env::var_os(FILE_VARIABLE) {
        let ok = read_and_check(std::path::Path::new(&file));
        std::process::exit(if ok { 0 } else { 1 });
    }
    if let Ok(case) = std::env::var(CASE_VARIABLE) {
        let ok = run_case(case.parse().expect("a case number"));
        std::process::exit(if ok { 0 } else { 1 });
    }
    // `cargo bench` passes `--bench`; a filter argument is ignored.
    println!(
        "{:<34} {:>9} {:>9} {:>8} {:>10} {:>9} {:>9}  verdict",
        "txn history (each in its own process)",
        "txns",
        "gen. s",
        "check s",
        "txn/s",
        "peak MiB",
        "hist. MiB"
    );
    let exe = std::env::current_exe().expect("the bench's own path");
    let mut wrong = 0;
    for case in 0..cases().len() {
        let status = Command::new(&exe)
            .env(CASE_VARIABLE, case.to_string())
            .status()
            .expect("run the bench's child");
        wrong += usize::from(!status.success());
    }
    // FAULTLINE_TXN_BENCH_HISTORY keeps the file, e.g. to time `faultline check` on it.
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = std::env::var_os("FAULTLINE_TXN_BENCH_HISTORY")
        .map_or_else(|| dir.path().join("history.jsonl"), Into::into);
    let config = TxnSimConfig::list_append(10, 200_000, 5);
    write_history(&generate(&config), &file);
    let status = Command::new(&exe)
        .env(FILE_VARIABLE, &file)
        .status()
        .expect("run the bench's child");
    wrong += usize::from(!status.success());
    if wrong > 0 {
        eprintln!("{wrong} cases ended with a verdict other than the expected one");
        std::process::exit(1);
    }
}

/// Run one case in this process and print its row; true when the verdict is the expected
/// one.
fn run_case(case: usize) -> bool {
    let (name, config, stale) = cases().swap_remove(case);
    let started = Instant::now();
    let mut history = generate(&config);
    let want = if stale {
        history = mutate_stale_read(&history, 3).expect("a read to make stale");
        Validity::Invalid
    } else {
        Validity::Valid
    };
    let generated = started.elapsed();
    let held = status_bytes("VmRSS:");
    let started = Instant::now();
    let result =
        check(config.kind, &history, &TxnOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let took = started.elapsed();
    let peak = status_bytes("VmHWM:");
    println!(
        "{:<34} {:>9} {:>9.2} {:>8.3} {:>10.0} {:>9} {:>9}  {} {}",
        name,
        config.txns,
        generated.as_secs_f64(),
        took.as_secs_f64(),
        config.txns as f64 / took.as_secs_f64(),
        peak >> 20,
        held >> 20,
        result.valid,
        if result.valid == want {
            result.details["anomaly-types"].to_string()
        } else {
            format!("UNEXPECTED: {:?}", result.reasons)
        }
    );
    if std::env::var("FAULTLINE_TXN_BENCH_PHASES").is_ok() {
        println!("    phases: {}", result.details["phase-seconds"]);
    }
    result.valid == want
}

/// Write `history` as faultline's own `history.jsonl`.
fn write_history(history: &History, file: &std::path::Path) {
    let mut writer = HistoryWriter::create(file).expect("create the history file");
    for op in &history.ops {
        writer
            .append_buffered(&mut op.clone())
            .expect("write an op");
    }
    writer.flush().expect("flush the history file");
}

/// The whole-process row: what `faultline check FILE` does (detect, read, parse, pair,
/// check against strict serializability), timed from here; true when it is valid.
fn read_and_check(file: &std::path::Path) -> bool {
    let started = Instant::now();
    let format = detect_path(file).unwrap_or_else(|e| panic!("{e}"));
    let history = read_path(file, Some(format)).unwrap_or_else(|e| panic!("{e}"));
    history.pair().unwrap_or_else(|e| panic!("{e}"));
    let read = started.elapsed();
    let result = check(TxnKind::ListAppend, &history, &TxnOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let took = started.elapsed();
    let txns = history.ops.len() / 2;
    println!(
        "{:<34} {:>9} {:>9} {:>8.3} {:>10.0} {:>9} {:>9}  {} (read {:.2} s of it; file {} MiB)",
        "list-append 200k, file read+check",
        txns,
        "-",
        took.as_secs_f64(),
        txns as f64 / took.as_secs_f64(),
        status_bytes("VmHWM:") >> 20,
        "-",
        result.valid,
        read.as_secs_f64(),
        std::fs::metadata(file).map_or(0, |m| m.len()) >> 20,
    );
    // As `faultline check` does: the process ends without freeing what the check built.
    std::mem::forget(history);
    result.valid == Validity::Valid
}
