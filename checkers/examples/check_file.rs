//! Check a faultline `history.jsonl` as `faultline test` checks its own history at the end:
//! a batch of keys at a time, in bounded memory where the model allows it. Run it under
//! `/usr/bin/time -v` to see the memory a long run's check takes:
//!
//! ```text
//! cargo run --release -p faultline-checkers --example check_file -- store/latest/history.jsonl cas-register
//! ```

use std::path::PathBuf;
use std::time::Instant;

use faultline_checkers::selection::{select, CheckBudget};
use faultline_checkers::streamed::check_file;
use serde_json::Value;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(path), model) = (args.next(), args.next()) else {
        eprintln!("usage: check_file HISTORY.jsonl [MODEL (default cas-register)]");
        std::process::exit(254);
    };
    let model = model.unwrap_or_else(|| "cas-register".to_string());
    let started = Instant::now();
    let selection = match select(&model, Some(&Value::Null), &CheckBudget::default()) {
        Ok(selection) => selection,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(254);
        }
    };
    match check_file(selection, &PathBuf::from(&path)) {
        Ok(checked) => {
            println!(
                "{path}: {} in {:.2} s ({})",
                checked.valid,
                started.elapsed().as_secs_f64(),
                if checked.by_key { "by key" } else { "whole" }
            );
            for result in &checked.results {
                println!("  {}: {} {}", result.checker, result.valid, result.details);
            }
            std::process::exit(checked.valid.exit_code());
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(254);
        }
    }
}
