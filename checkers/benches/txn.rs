//! The txn checkers' benchmark: generated list-append histories of 100,000, 200,000 and
//! 1,000,000 txns (and rw-register, and a stale-read variant) checked against strict
//! serializability, with txns per second and peak memory.
//!
//! Each case runs in a child process of its own (this binary again, told which case by an
//! environment variable), so that its peak resident memory (VmHWM) is its own: the
//! generated history plus everything the check allocates. Run with
//! `cargo bench -p faultline-checkers --bench txn`; it prints a table and asserts only
//! verdicts, never speed.

use std::process::Command;
use std::time::Instant;

use faultline_checkers::checker::Validity;
use faultline_checkers::txn::simulate::{generate, mutate_stale_read, TxnSimConfig};
use faultline_checkers::txn::{check, TxnOptions};

const CASE_VARIABLE: &str = "FAULTLINE_TXN_BENCH_CASE";

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
