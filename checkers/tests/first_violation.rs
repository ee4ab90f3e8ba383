//! Stop at the first proven violation: a history with one key that the search cannot
//! finish in reasonable time (50 concurrent clients, 10% `info` ops, five values written
//! over and over, so the unique-values path does not apply) and one small key that is
//! plainly not linearizable. The check must answer `invalid`, name the small key, and
//! leave the hard key undecided because it was cancelled — not because a budget ran out.

use std::time::{Duration, Instant};

use faultline_checkers::checker::{Checker, Validity};
use faultline_checkers::history::History;
use faultline_checkers::linearizable::{Linearizable, SearchOptions};
use faultline_checkers::simulate::hard_and_invalid_keys;
use serde_json::json;

#[test]
fn an_invalid_key_cancels_a_hard_one() {
    let history = hard_and_invalid_keys();
    let checker = Linearizable::new("cas-register", None)
        .unwrap()
        .with_options(SearchOptions {
            timeout: Some(Duration::from_secs(60)),
            ..SearchOptions::default()
        });
    let started = Instant::now();
    let result = checker.check(&history);
    eprintln!("checked in {:?}: {:?}", started.elapsed(), result.reasons);
    assert_eq!(result.valid, Validity::Invalid, "{:?}", result.reasons);
    assert_eq!(result.details["invalid_keys"], json!(["bad"]));
    assert_eq!(result.details["counterexample"]["key"], json!("bad"));
    let undecided = &result.details["undecided_keys"];
    assert_eq!(undecided[0]["key"], json!("hard"), "{undecided}");
    assert!(
        result.details["budget_exhausted"].is_null(),
        "the hard key must be cancelled, not run out of budget: {}",
        result.details
    );
    assert!(
        result.reasons.iter().any(|r| r.contains("left undecided")),
        "{:?}",
        result.reasons
    );
}

#[test]
fn the_hard_key_alone_is_undecided_within_a_small_budget() {
    // The other half of the argument: without the invalid key, the hard key really is
    // beyond a budget the test above would have hit.
    let history = History::from_ops(
        hard_and_invalid_keys()
            .ops
            .into_iter()
            .filter(|op| op.key == Some(json!("hard")))
            .collect(),
    );
    let checker = Linearizable::new("cas-register", None)
        .unwrap()
        .with_options(SearchOptions {
            timeout: Some(Duration::from_secs(2)),
            ..SearchOptions::default()
        });
    let result = checker.check(&history);
    assert_eq!(result.valid, Validity::Unknown, "{:?}", result.reasons);
    assert!(
        result.reasons[1].contains("key \"hard\"")
            && result.reasons[1].contains("written more than once"),
        "{:?}",
        result.reasons
    );
}
