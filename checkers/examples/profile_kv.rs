//! A fixed workload for instruction-count profiling (`valgrind --tool=callgrind`): parse
//! and check one kv log a number of times, split by key. Instruction counts are stable on
//! a loaded machine where wall-clock benchmarks are not.
//!
//! `cargo build --profile bench -p faultline-checkers --example profile_kv`, then
//! `valgrind --tool=callgrind target/release/examples/profile_kv [FILE] [RUNS] [parse|check|both]`.
//! It must never be used to judge speed targets: that is the `check` benchmark's job.

use std::path::PathBuf;

use faultline_checkers::checker::Checker;
use faultline_checkers::formats::read_path;
use faultline_checkers::linearizable::Linearizable;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .ancestors()
                .map(|d| d.join("shared/histories/kv/c10-ok.txt"))
                .find(|p| p.is_file())
                .unwrap_or_else(|| PathBuf::from("c10-ok.txt"))
        },
        PathBuf::from,
    );
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(100);
    let what = args.next().unwrap_or_else(|| "both".to_string());
    let kv = Linearizable::new("kv", Some(serde_json::json!(""))).expect("the kv model exists");
    let fixed = read_path(&path, None).unwrap_or_else(|e| panic!("{e}"));
    let mut valid = 0;
    for _ in 0..runs {
        let result = match what.as_str() {
            "parse" => {
                let h = read_path(&path, None).unwrap_or_else(|e| panic!("{e}"));
                valid += h.ops.len();
                continue;
            }
            "check" => kv.check(&fixed),
            _ => kv.check(&read_path(&path, None).unwrap_or_else(|e| panic!("{e}"))),
        };
        valid += usize::from(result.valid == faultline_checkers::checker::Validity::Valid);
    }
    println!("{valid}");
}
