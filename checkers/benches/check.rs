//! The linearizability checker's benchmark: time to parse and check every history under
//! `shared/histories` (median of several runs each), the kv log unsplit, a generated
//! 50-client kv history, a generated 1,000,000-op history with its peak memory, and the
//! unique-values path on generated histories (ops, clients, `info` ops, seconds, peak RSS).
//!
//! Run with `cargo bench -p faultline-checkers --bench check`. It prints a table; it
//! asserts nothing about speed (targets are read off the table), only about verdicts.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use faultline_checkers::checker::{CheckResult, Checker, Validity};
use faultline_checkers::formats::read_path;
use faultline_checkers::linearizable::{Linearizable, SearchOptions};
use faultline_checkers::simulate::{generate, SimConfig};

const RUNS: usize = 15;

fn shared() -> Option<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("shared/histories"))
        .find(|dir| dir.is_dir())
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Parse and check `path` `runs` times; the median time and the last result.
fn time_file(path: &Path, checker: &Linearizable, runs: usize) -> (Duration, CheckResult) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let history = read_path(path, None).unwrap_or_else(|e| panic!("{e}"));
        let result = checker.check(&history);
        times.push(start.elapsed());
        last = Some(result);
    }
    (median(times), last.unwrap_or_else(|| unreachable!()))
}

fn row(name: &str, time: Duration, verdict: Validity, note: &str) {
    println!(
        "{name:<34} {:>12.3} ms  {:<8} {note}",
        time.as_secs_f64() * 1e3,
        verdict.as_str()
    );
}

fn expected(dir: &Path) -> Vec<(String, Validity)> {
    std::fs::read_to_string(dir.join("VERDICTS"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let file = w.next()?.to_string();
            let v = if w.next()? == "linearizable" {
                Validity::Valid
            } else {
                Validity::Invalid
            };
            Some((file, v))
        })
        .collect()
}

/// Peak resident memory of this process so far (VmHWM), in bytes.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn current_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn main() {
    if let Ok(case) = std::env::var(CASE_VARIABLE) {
        let case: usize = case.parse().expect("a case number");
        let broken = std::env::var("FAULTLINE_BENCH_BROKEN").is_ok();
        std::process::exit(if run_unique_case(case, broken) { 0 } else { 1 });
    }
    // `cargo bench` passes `--bench`; a filter argument is ignored.
    println!(
        "{:<34} {:>15}  {:<8} note",
        "history", "median time", "verdict"
    );
    let mut mismatches = 0;
    if let Some(root) = shared() {
        let cas = Linearizable::new("cas-register", None).unwrap();
        let mut total = Duration::ZERO;
        let etcd = root.join("etcd-jepsen");
        for (file, want) in expected(&etcd) {
            let (t, r) = time_file(&etcd.join(&file), &cas, RUNS);
            total += t;
            mismatches += usize::from(r.valid != want);
            row(
                &file,
                t,
                r.valid,
                if r.valid == want { "" } else { "WRONG VERDICT" },
            );
        }
        row(
            "etcd-jepsen total (80 logs)",
            total,
            Validity::Valid,
            "sum of medians",
        );

        let kv = Linearizable::new("kv", Some(serde_json::json!(""))).unwrap();
        let kv_dir = root.join("kv");
        for (file, want) in expected(&kv_dir) {
            let (t, r) = time_file(&kv_dir.join(&file), &kv, RUNS);
            mismatches += usize::from(r.valid != want);
            row(&file, t, r.valid, "split by key");
        }
        let c10 = kv_dir.join("c10-ok.txt");
        let parse: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                let h = read_path(&c10, None).unwrap_or_else(|e| panic!("{e}"));
                let t = start.elapsed();
                drop(h);
                t
            })
            .collect();
        row("c10-ok.txt parse only", median(parse), Validity::Valid, "");
        let h = read_path(&c10, None).unwrap_or_else(|e| panic!("{e}"));
        let mut verdict = Validity::Unknown;
        let check: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                verdict = kv.check(&h).valid;
                start.elapsed()
            })
            .collect();
        row(
            "c10-ok.txt check only",
            median(check),
            verdict,
            "split by key",
        );
        let unsplit = kv.clone().with_options(SearchOptions {
            partition: false,
            ..SearchOptions::default()
        });
        let (t, r) = time_file(&kv_dir.join("c10-ok.txt"), &unsplit, 5);
        mismatches += usize::from(r.valid != Validity::Valid);
        row("c10-ok.txt --no-partition", t, r.valid, "");
    } else {
        println!(
            "shared/histories not found above {}; skipping the real histories",
            env!("CARGO_MANIFEST_DIR")
        );
    }

    let kv = Linearizable::new("kv", None).unwrap();
    let config = SimConfig::kv(50, 10, 1_700, 42);
    let history = generate(&config);
    let mut times = Vec::new();
    let mut verdict = Validity::Unknown;
    for _ in 0..RUNS {
        let start = Instant::now();
        verdict = kv.check(&history).valid;
        times.push(start.elapsed());
    }
    mismatches += usize::from(verdict != Validity::Valid);
    row(
        "generated kv 50 clients 1,700 ops",
        median(times),
        verdict,
        "10 keys, check only",
    );

    let config = SimConfig::register(50, 1_000, 1_000_000, 7);
    let start = Instant::now();
    let history = generate(&config);
    let generated = start.elapsed();
    let before = current_rss().unwrap_or(0);
    let checker = Linearizable::new(config.model_name(), None).unwrap();
    let start = Instant::now();
    let result = checker.check(&history);
    let took = start.elapsed();
    mismatches += usize::from(result.valid != Validity::Valid);
    let peak = peak_rss().unwrap_or(0);
    row(
        "generated 1M ops 1,000 keys 50 cl.",
        took,
        result.valid,
        &format!(
            "cas-register; generated in {:.2} s; peak RSS {} MiB (history alone {} MiB); \
             memo peak {} KiB",
            generated.as_secs_f64(),
            peak >> 20,
            before >> 20,
            result.details["memo_peak_bytes"].as_u64().unwrap_or(0) >> 10
        ),
    );

    // What `faultline bench record` checks: an atomic in-memory register, 8 clients, 5
    // keys, no indeterminate ops, ~1.2M history lines.
    let config = SimConfig {
        info_rate: 0.0,
        ..SimConfig::register(8, 5, 1_200_000, 3)
    };
    let history = generate(&config);
    let checker = Linearizable::new(config.model_name(), None).unwrap();
    let start = Instant::now();
    let result = checker.check(&history);
    let took = start.elapsed();
    mismatches += usize::from(result.valid != Validity::Valid);
    row(
        "generated 1.2M ops 5 keys 8 cl.",
        took,
        result.valid,
        &format!(
            "cas-register, no info ops; memo peak {} KiB {}",
            result.details["memo_peak_bytes"].as_u64().unwrap_or(0) >> 10,
            result.reasons.join("; ")
        ),
    );
    mismatches += unique_values_path();
    if mismatches > 0 {
        eprintln!("{mismatches} verdicts differ from what was expected");
        std::process::exit(1);
    }
}

/// The unique-values path's cases: faultline's shape, every value written once.
fn unique_cases() -> Vec<(&'static str, SimConfig)> {
    vec![
        (
            "kv get/put/append, 1M ops",
            SimConfig::kv(50, 1_000, 1_000_000, 5),
        ),
        (
            "cas-register, one key, 5,000 ops",
            SimConfig {
                info_rate: 0.1,
                unique_values: true,
                ..SimConfig::register(50, 0, 5_000, 9)
            },
        ),
        (
            "cas-register, one key, 100,000 ops",
            SimConfig {
                info_rate: 0.1,
                unique_values: true,
                ..SimConfig::register(50, 0, 100_000, 9)
            },
        ),
    ]
}

const CASE_VARIABLE: &str = "FAULTLINE_BENCH_UNIQUE_CASE";

/// Each case runs in a child process of its own, so that its peak resident memory
/// (VmHWM) is its own: the generated history plus everything the check allocates.
/// Returns how many verdicts were not the expected ones.
fn unique_values_path() -> usize {
    println!();
    println!(
        "{:<44} {:>9} {:>7} {:>5} {:>6} {:>8} {:>9} {:>9}  verdict",
        "unique-values path (each in its own process)",
        "ops",
        "clients",
        "keys",
        "info",
        "seconds",
        "peak MiB",
        "hist. MiB"
    );
    let exe = std::env::current_exe().expect("the bench's own path");
    let mut mismatches = 0;
    for case in 0..unique_cases().len() {
        for broken in [false, true] {
            let mut child = std::process::Command::new(&exe);
            child.env(CASE_VARIABLE, case.to_string());
            if broken {
                child.env("FAULTLINE_BENCH_BROKEN", "1");
            }
            let status = child.status().expect("run the bench's child");
            mismatches += usize::from(!status.success());
        }
    }
    mismatches
}

/// One case in this process; true when the verdict is the expected one and every key
/// was decided by the path.
fn run_unique_case(case: usize, broken: bool) -> bool {
    let (name, config) = unique_cases().swap_remove(case);
    let mut history = generate(&config);
    let mut label = name.to_string();
    let want = if broken {
        history = faultline_checkers::simulate::mutate_read(&history, 3).expect("a read");
        label.push_str(", a read broken");
        Validity::Invalid
    } else {
        Validity::Valid
    };
    let info = history
        .ops
        .iter()
        .filter(|op| op.kind == faultline_checkers::history::OpType::Info)
        .count();
    let held = current_rss().unwrap_or(0);
    let checker = Linearizable::new(config.model_name(), None).unwrap();
    let start = Instant::now();
    let result = checker.check(&history);
    let took = start.elapsed();
    let peak = peak_rss().unwrap_or(0);
    let all_keys = result.details["unique_values_keys"] == result.details["partitions"];
    println!(
        "{:<44} {:>9} {:>7} {:>5} {:>6} {:>8.3} {:>9} {:>9}  {}{}",
        label,
        history.len(),
        config.clients,
        config.keys.max(1),
        info,
        took.as_secs_f64(),
        peak >> 20,
        held >> 20,
        result.valid,
        if all_keys {
            ""
        } else {
            " (NOT all keys on the path)"
        },
    );
    result.valid == want && all_keys
}
