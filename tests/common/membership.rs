//! Reading the membership nemesis's records back from a run's history, and crashing a
//! membership run's harness for `faultline heal`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{background_test, kill_when_else_heal, latest_run, results};

fn nemesis_infos(run: &Path) -> Vec<Value> {
    std::fs::read_to_string(run.join("history.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|o| o["process"] == "nemesis" && o["type"] == "info")
        .collect()
}

/// A RabbitMQ queue membership run at 50 ops/s (give it `--time-limit 180` or more): each
/// change runs RabbitMQ's CLI (an Erlang VM) several times, so on a loaded 2-core machine a
/// 60 s run made one change, a 120 s run two; fewer ops leave the CLI more of the machine.
pub const RABBITMQ_MEMBERSHIP: &[&str] = &[
    "--rate",
    "50",
    "--system",
    "rabbitmq",
    "--workload",
    "queue",
    "--ready-timeout",
    "120",
    "--nemesis",
    "membership",
    "--nemesis-interval",
    "2",
    "--seed",
    "5",
];

/// Every applied membership change (`removed n3`, `added n3`) in history order, and every
/// view the nemesis read back from the system (`view_before` of the first change, then
/// each `view_after`).
pub fn changes_and_views(run: &Path) -> (Vec<String>, Vec<Value>) {
    let mut changes = Vec::new();
    let mut views = Vec::new();
    for op in nemesis_infos(run) {
        // A heal's value is the list of what each nemesis undid.
        let values: Vec<Value> = match (op["f"].as_str(), &op["value"]) {
            (Some("heal"), Value::Array(items)) => items.clone(),
            (Some(f), value) if f.ends_with("-membership") => vec![value.clone()],
            _ => continue,
        };
        for value in values {
            if let Some(node) = value["removed"].as_str() {
                changes.push(format!("removed {node}"));
                if views.is_empty() {
                    views.push(value["view_before"].clone());
                }
            }
            for node in value["added"].as_array().into_iter().flatten() {
                changes.push(format!("added {}", node.as_str().unwrap()));
            }
            if !value["view_after"].is_null() {
                views.push(value["view_after"].clone());
            }
        }
    }
    (changes, views)
}

/// A membership run ended `valid` with at least three changes, never fewer than a majority
/// of its `nodes` original members, and the membership read back after the last change
/// equal to the starting one; nothing is left recorded as removed, and the report draws the
/// membership faults.
pub fn assert_membership_changed_and_restored(run: &Path, nodes: usize) {
    assert_eq!(results(run)["valid"], true);
    assert_membership_restored(run, nodes);
}

/// At least three membership changes, never fewer than a majority of the `nodes` original
/// members, and the membership after the last change equal to the starting one; nothing
/// is left recorded as removed, and the report draws the membership faults.
pub fn assert_membership_restored(run: &Path, nodes: usize) {
    let (changes, views) = changes_and_views(run);
    eprintln!("membership changes: {changes:?}");
    assert!(changes.len() >= 3, "{changes:?}");
    let start = Value::Array((1..=nodes).map(|i| Value::from(format!("n{i}"))).collect());
    assert_eq!(
        views.first(),
        Some(&start),
        "the run started with every node"
    );
    assert_eq!(
        views.last(),
        Some(&start),
        "the membership after the run equals the starting one: {views:?}"
    );
    // Never fewer than a majority of the original members.
    assert!(
        views
            .iter()
            .all(|v| v.as_array().is_some_and(|a| a.len() > nodes / 2)),
        "{views:?}"
    );
    // Nothing is left recorded as removed.
    if let Ok(text) = std::fs::read_to_string(run.join("nemesis-state.json")) {
        let ledger: Value = serde_json::from_str(&text).unwrap();
        assert!(ledger.get("removed_members").is_none(), "{ledger}");
    }
    // The report draws the membership faults in its fault bands.
    let report = std::fs::read_to_string(run.join("index.html")).unwrap();
    assert!(report.contains(r#"data-fault="membership""#));
}

/// Whether the history in `run` so far ends with a member removed (the last membership op
/// of the nemesis is a `start-membership` that removed one): the moment to kill a harness
/// for `faultline heal` to add it back.
pub fn a_member_is_removed(run: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(run.join("history.jsonl")) else {
        return false;
    };
    let last = text
        .lines()
        .filter(|l| l.contains(r#""process":"nemesis","type":"info""#))
        .rfind(|l| l.contains("-membership"));
    last.is_some_and(|l| l.contains("start-membership") && l.contains(r#""removed":"#))
}

/// Start `faultline test ARGS` in `store` in the background and SIGKILL it as soon as a member
/// is removed (within `secs`); the run folder and the member the ledger records as removed.
pub fn killed_while_a_member_is_removed<S: AsRef<OsStr>>(
    store: &Path,
    args: &[S],
    secs: u64,
) -> (PathBuf, String) {
    let mut child = background_test(store).args(args).spawn().unwrap();
    kill_when_else_heal(&mut child, store, secs, "a member removed", || {
        std::fs::canonicalize(store.join("latest")).is_ok_and(|run| a_member_is_removed(&run))
    });
    let run = latest_run(store);
    let ledger: Value =
        serde_json::from_slice(&std::fs::read(run.join("nemesis-state.json")).unwrap()).unwrap();
    let removed = ledger["removed_members"][0].as_str().unwrap().to_string();
    (run, removed)
}
