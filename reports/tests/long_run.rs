//! A long run's page: a history of two million lines, past the line count a page draws
//! in full, renders from the file in a page of bounded size whose counts and faults table
//! cover the whole run. Memory and time are measured by `examples/long_report.rs`, not here.

mod common;

use std::fs;

use faultline_reports::{fault_records_of_file, render_run};

#[test]
fn a_run_of_two_million_lines_renders_in_a_page_of_bounded_size() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("long-run/20260101T000000");
    let facts = common::long::write_long_run(&run, 2_000_000);
    let page = render_run(&run).unwrap();
    if let Some(keep) = std::env::var_os("KEEP_PAGE") {
        fs::copy(&page, keep).unwrap();
    }
    let size = fs::metadata(&page).unwrap().len();
    assert!(size < 3_000_000, "index.html is {size} bytes");
    let html = fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("id=\"long-run\""),
        "the page says it is a long run"
    );
    assert!(
        html.contains(&format!("<b>{}</b></td></tr></tbody></table>", facts.calls)),
        "every call is counted: {}",
        facts.calls
    );
    let culprit = facts.culprit;
    assert!(html.contains("around the ops the checkers named"));
    assert!(html.contains(&format!("<h3>linearizable: op #{culprit} cannot be placed")));
    let records = fault_records_of_file(&run.join("history.jsonl")).unwrap();
    assert_eq!(records.len() as u64, facts.faults);
    let measured = records
        .iter()
        .filter(|r| r.recovery.as_ref().is_some_and(|r| r.status == "measured"))
        .count();
    // The last fault is healed by the final heal, at the end of the main phase.
    assert!(
        measured as u64 + 1 >= facts.faults,
        "{measured} of {}",
        facts.faults
    );
    // Past 100 faults: a header, the first 100, the row of ops outside every fault, and
    // every fault summed up by kind.
    assert!(facts.faults > 100, "{} faults", facts.faults);
    let table = &html[html.find("<table class=\"faults\"").unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    assert_eq!(table.matches("<tr>").count(), 100 + 2);
    assert!(html.contains("<table class=\"fault-kinds\""));
}
