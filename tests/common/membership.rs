//! Reading the membership nemesis's records back from a run's history.

use std::path::Path;

use serde_json::Value;

fn nemesis_infos(run: &Path) -> Vec<Value> {
    std::fs::read_to_string(run.join("history.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|o| o["process"] == "nemesis" && o["type"] == "info")
        .collect()
}

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
