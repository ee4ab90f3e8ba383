//! End-to-end clock faults: a reference node started under libfaketime logs timestamps
//! skewed by the chosen offset while the fault lasts, and true ones again after the heal,
//! whether faultline starts it (`--system reference`) or a user's lifecycle script `exec`s it
//! (`--system command`).

mod common;
mod netfaults;

use common::*;
use netfaults::*;

fn skew_shows_and_heals(offset_secs: &str, seed: &str, system: &[&str]) -> i64 {
    if is_root() {
        require_root_with_tools();
    }
    let store = tempfile::tempdir().unwrap();
    let mut cmd = faultline();
    let out = cmd
        .args([
            "test",
            "--no-progress",
            "--nemesis",
            "clock",
            "--clock-faults",
            "skew",
        ])
        .args([
            "--clock-offset",
            offset_secs,
            "--nemesis-interval",
            "4",
            "--time-limit",
            "14",
        ])
        .args(system)
        .args(["--seed", seed, "--store"])
        .arg(store.path())
        .env("RUST_LOG", "info,faultline::clock=debug")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout.contains("Go binaries such as etcd do not"),
        "the runtimes that honour libfaketime are named"
    );
    let run = latest_run(store.path());
    let ops = history(&run);
    let intervals = fault_intervals(&ops, "clock");
    assert!(!intervals.is_empty(), "no clock fault was applied");
    let (_, _, value) = &intervals[0];
    let node = value["node"].as_str().unwrap();
    let offset = value["offset_ms"].as_i64().unwrap();
    assert_eq!(offset.abs(), 60_000);
    let ticks = ticks(&run.join("nodes").join(node).join("node.log"));
    let steps: Vec<i64> = ticks.windows(2).map(|w| w[1] - w[0]).collect();
    let near = |step: i64, want: i64| (step - want).abs() < 5_000;
    let into = steps.iter().position(|s| near(*s, offset));
    let Some(into) = into else {
        panic!("{node}'s log never jumps by {offset} ms: steps {steps:?}");
    };
    let back = steps[into + 1..].iter().position(|s| near(*s, -offset));
    assert!(
        back.is_some(),
        "{node}'s clock never came back: steps {steps:?}"
    );
    // After the last heal the node's clock is true again: its last tick is close to the
    // log file's modification time, which the host clock stamps.
    let modified = std::fs::metadata(run.join("nodes").join(node).join("node.log"))
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let last = *ticks.last().unwrap();
    assert!(
        (modified - last).abs() < 5_000,
        "last tick {last} vs file time {modified}"
    );
    let state = std::fs::read_to_string(run.join("nodes").join(node).join("faketime")).unwrap();
    assert_eq!(state.trim(), "+0");
    offset
}

#[test]
fn a_skew_of_a_minute_shows_in_the_node_log_and_is_gone_after_heal() {
    // Until one run has skewed ahead and one behind.
    let mut signs = std::collections::BTreeSet::new();
    for seed in 5..10 {
        signs.insert(skew_shows_and_heals("60", &seed.to_string(), &[]).signum());
        if signs.len() == 2 {
            break;
        }
    }
    assert_eq!(signs.len(), 2, "five seeds all skewed the same way");
}

/// A lifecycle script of the user's that `exec`s a server written in Rust (faultline's own
/// reference node, which logs a tick a second): the clock fault reaches it through the
/// script, as it reaches a node faultline starts itself.
#[test]
fn a_command_system_server_is_skewed_through_its_lifecycle_script() {
    let (_dir, script) = temp_file(
        "lifecycle.sh",
        format!(
            r#"#!/bin/sh
set -eu
case "$1" in
setup | teardown) ;;
start)
    # FAULTLINE_CLIENTS is n1=HOST:PORT,...: the reference node serves peers on that port too.
    set -- node --id "$FAULTLINE_NODE_INDEX" --listen "$FAULTLINE_HOST:$FAULTLINE_CLIENT_PORT" \
        --data-dir "$FAULTLINE_DATA_DIR"
    for peer in $(printf '%s' "$FAULTLINE_CLIENTS" | tr ',' ' '); do
        [ "${{peer%%=*}}" = "$FAULTLINE_NODE" ] || set -- "$@" --peer "${{peer#n}}"
    done
    [ "$FAULTLINE_NODE_INDEX" = 1 ] && set -- "$@" --bootstrap
    exec {faultline} "$@"
    ;;
*) exit 2 ;;
esac
"#,
            faultline = env!("CARGO_BIN_EXE_faultline")
        ),
    );
    make_executable(&script);
    let client = format!(
        "python3 {}/tests/client_commands/http_kv.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let script = script.display().to_string();
    let mut system = command_system(&script, &client);
    system.extend(["--op-timeout".into(), "5".into()]);
    let system: Vec<&str> = system.iter().map(String::as_str).collect();
    let offset = skew_shows_and_heals("60", "5", &system);
    assert_eq!(offset.abs(), 60_000);
}
