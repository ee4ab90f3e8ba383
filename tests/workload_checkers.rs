//! Every workload's `(model, initial)` selects checkers, and the classic workloads get the
//! checker of their kind: the seam between `faultline-workloads` and `faultline-checkers`,
//! tested here because only the controller's package depends on both.
//!
//! Needs no cluster; it must never start one.

use faultline_checkers::selection::{select, CheckBudget};
use faultline_workloads::{by_name, names, ClassicOptions, WorkloadOptions};
use serde_json::json;

fn linearizable() -> WorkloadOptions {
    WorkloadOptions {
        classic: ClassicOptions {
            linearizable: true,
            ..ClassicOptions::default()
        },
        ..WorkloadOptions::default()
    }
}

#[test]
fn every_workload_selects_checkers() {
    for name in names() {
        let w = by_name(name, &linearizable()).unwrap();
        let selected = select(w.model(), w.initial().as_ref(), &CheckBudget::default());
        assert!(selected.is_ok(), "{name}: {:?}", selected.err());
    }
}

#[test]
fn every_classic_workload_names_a_checker_its_initial_builds() {
    for (name, model, checkers) in [
        ("set", "set-full", 1),
        ("bank", "bank", 1),
        ("counter", "counter", 1),
        ("unique-ids", "unique-ids", 1),
        ("queue", "total-queue", 2),
    ] {
        let w = by_name(name, &linearizable()).unwrap();
        assert_eq!((w.name(), w.model()), (name, model));
        let built = faultline_checkers::classic::checkers(model, w.initial().as_ref())
            .unwrap()
            .unwrap();
        assert_eq!(built.len(), checkers, "{name}");
        assert_eq!(built[0].name(), model);
    }
    let set = by_name("set", &WorkloadOptions::default()).unwrap();
    assert_eq!(set.initial(), Some(json!({"linearizable": false})));
}
