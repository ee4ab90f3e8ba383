//! End-to-end: `--nemesis-schedule FILE` runs exactly the faults of a hand-written schedule
//! at their offsets — the history's nemesis ops are the file's faults, in its order, with
//! its targets and durations — and a malformed schedule is a one-line error with file:line.

mod common;

use common::*;
use serde_json::{json, Value};

#[test]
fn a_schedule_file_runs_exactly_its_faults_at_their_offsets() {
    let (_dir, schedule) = temp_file(
        "schedule.json",
        r#"[
  {"at": 1.0, "fault": "kill", "value": ["n2"], "duration": 2.0},
  {"at": 4.0, "fault": "pause", "value": ["n3"], "duration": 1.5},
  {"at": 7.0, "fault": "kill", "value": "leader"}
]"#,
    );
    let schedule_arg = schedule.display().to_string();
    let (_store, run) = valid_run(&[
        "--node-count",
        "3",
        "--time-limit",
        "10",
        "--nemesis-schedule",
        &schedule_arg,
    ]);
    let nemesis: Vec<Value> = std::fs::read_to_string(run.join("history.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|op| op["process"] == json!("nemesis") && op["type"] == json!("invoke"))
        .collect();
    let fs: Vec<&str> = nemesis.iter().map(|op| op["f"].as_str().unwrap()).collect();
    assert_eq!(
        fs,
        [
            "start-kill",
            "stop-kill",
            "start-pause",
            "stop-pause",
            "start-kill",
            "heal"
        ],
        "{nemesis:#?}"
    );
    assert_eq!(nemesis[0]["value"], json!(["n2"]));
    assert_eq!(nemesis[2]["value"], json!(["n3"]));
    assert_eq!(nemesis[4]["value"], json!("leader"));
    let at = |i: usize| nemesis[i]["time"].as_f64().unwrap() / 1e9;
    // Offsets relative to the first fault: the file's 0, 2, 3, 4.5, 6 seconds.
    for (i, want) in [(1, 2.0), (2, 3.0), (3, 4.5), (4, 6.0)] {
        let got = at(i) - at(0);
        assert!(
            (got - want).abs() < 0.75,
            "request {i} ({}) came {got:.2} s after the first, not {want} s",
            fs[i]
        );
    }
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("test.json")).unwrap()).unwrap();
    assert_eq!(spec["nemesis_schedule"][1]["fault"], json!("pause"));
    let rerun = spec["rerun"].as_str().unwrap();
    assert!(
        rerun.contains("--nemesis-schedule") && !rerun.contains("--nemesis "),
        "{rerun}"
    );
}

#[test]
fn a_malformed_schedule_is_a_one_line_error_naming_the_line() {
    let (dir, schedule) = temp_file(
        "bad.json",
        "[\n  {\"at\": 1, \"fault\": \"kill\"},\n  {\"at\": 2, \"fault\": \"meteor\"}\n]\n",
    );
    let (_store, stderr) = failed_run(254, &["--nemesis-schedule", schedule.to_str().unwrap()]);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("faultline:"))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains("bad.json:3: unknown fault \"meteor\""),
        "{stderr}"
    );
    let good = write_file(dir.path(), "good.json", r#"[{"at": 1, "fault": "kill"}]"#);
    let (_store, stderr) = failed_run(
        254,
        &[
            "--nemesis",
            "partition",
            "--nemesis-schedule",
            good.to_str().unwrap(),
        ],
    );
    assert!(stderr.contains("drop --nemesis partition"), "{stderr}");
}
