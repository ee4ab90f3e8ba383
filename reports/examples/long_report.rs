//! Render the page of a long run and show what it costs, to be run under `/usr/bin/time -v`
//! for its peak memory (maximum resident set size):
//!
//! ```text
//! cargo run --release -p faultline-reports --example long_report -- generate DIR LINES
//! /usr/bin/time -v target/release/examples/long_report render DIR
//! /usr/bin/time -v target/release/examples/long_report faults DIR
//! ```
//!
//! `generate` writes a run folder whose `history.jsonl` has about LINES lines (20 workers at
//! about 1,500 calls a second, a fault every 10 s; `tests/common/long.rs`) in constant
//! memory. `render` draws its `index.html` with `render_run` and prints the time and the
//! page's size; `faults` computes `fault_records_of_file`, what the runner writes into
//! `results.json`.

#[path = "../tests/common/long.rs"]
mod long;

use std::path::Path;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: long_report generate DIR LINES | render DIR | faults DIR";
    let (Some(command), Some(dir)) = (args.first(), args.get(1)) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let dir = Path::new(dir);
    let t = Instant::now();
    match command.as_str() {
        "generate" => {
            let lines: u64 = args.get(2).and_then(|n| n.parse().ok()).unwrap_or_else(|| {
                eprintln!("{usage}");
                std::process::exit(2)
            });
            let facts = long::write_long_run(dir, lines);
            let size = std::fs::metadata(dir.join("history.jsonl")).map_or(0, |m| m.len());
            println!(
                "wrote {} lines ({} calls, {} faults; {:.0} MB) in {:.1} s",
                facts.lines,
                facts.calls,
                facts.faults,
                size as f64 / 1e6,
                t.elapsed().as_secs_f64()
            );
        }
        "render" => {
            let page = faultline_reports::render_run(dir).expect("render_run");
            let size = std::fs::metadata(&page).map_or(0, |m| m.len());
            println!(
                "render_run: {:.1} s, {} is {:.2} MB",
                t.elapsed().as_secs_f64(),
                page.display(),
                size as f64 / 1e6
            );
        }
        "faults" => {
            let records = faultline_reports::fault_records_of_file(&dir.join("history.jsonl"))
                .expect("fault_records_of_file");
            println!(
                "fault_records_of_file: {} faults in {:.1} s",
                records.len(),
                t.elapsed().as_secs_f64()
            );
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}
