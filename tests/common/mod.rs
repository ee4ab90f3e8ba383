//! Helpers for end-to-end tests: run the real `faultline` binary against real node
//! processes, in a temporary store, and read what it wrote.

#![allow(dead_code)]

pub mod hand_nodes;
pub mod membership;

use std::ffi::OsStr;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The reference service's stale-reads bug under partitions and pauses every 2 s: pauses
/// alone leave a follower stale only briefly; a partition keeps a minority serving old
/// values for seconds, so a run of 20 s is found invalid.
pub const STALE_READS_UNDER_PARTITIONS: &[&str] = &[
    "--bug",
    "stale-reads",
    "--nemesis",
    "partition,pause",
    "--nemesis-interval",
    "2",
];

/// `--nemesis lose-unfsynced` every 2 s over a fixed set of three keys (reads keep coming to
/// the keys whose writes were lost), seed 1: the runs of the lazyfs tests, local or over SSH.
pub const LOSE_UNFSYNCED: &[&str] = &[
    "--nemesis",
    "lose-unfsynced",
    "--nemesis-interval",
    "2",
    "--keys",
    "3",
    "--seed",
    "1",
];

/// A minute of `--nemesis pause` every second: a run to kill the harness in while a node is
/// paused, for `faultline heal` to resume it.
pub const PAUSES_FOR_A_MINUTE: &[&str] = &[
    "--time-limit",
    "60",
    "--nemesis",
    "pause",
    "--nemesis-interval",
    "1",
];

/// `--workload append` for 20 s with a fault every 3 s and two workers per node: the
/// strict-serializable append runs against the reference cluster and the real systems.
pub const APPEND_UNDER_FAULTS: &[&str] = &[
    "--workload",
    "append",
    "--nemesis-interval",
    "3",
    "--time-limit",
    "20",
    "--concurrency",
    "2n",
];

/// The faultline binary under test.
pub fn faultline() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_faultline"));
    cmd.env_remove("FAULTLINE_LOG");
    cmd
}

/// Run `faultline test` with a temporary store and the given extra arguments.
pub fn run_test<S: AsRef<OsStr> + Debug>(store: &Path, args: &[S]) -> Output {
    let mut cmd = faultline();
    cmd.arg("test")
        .arg("--store")
        .arg(store)
        .arg("--no-progress")
        .args(args);
    output_shown(&mut cmd, format_args!("faultline test {args:?}"))
}

/// Run `cmd` (faultline, named `what` in the test's output) to its end and show its exit
/// code, stdout and stderr; its output.
pub fn output_shown(cmd: &mut Command, what: std::fmt::Arguments) -> Output {
    let output = cmd.output().expect("run faultline");
    eprintln!(
        "{what} exited {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Run `faultline test` with `args` in a fresh temporary store: the store (kept while it
/// lives) and what the run returned.
pub fn run_fresh<S: AsRef<OsStr> + Debug>(args: &[S]) -> (tempfile::TempDir, Output) {
    let store = tempfile::tempdir().unwrap();
    let out = run_test(store.path(), args);
    (store, out)
}

/// A `faultline test` that ended with a run folder, in a temporary store of its own.
pub struct Finished {
    /// The store, kept while this lives.
    pub store: tempfile::TempDir,
    /// The run's folder (`store/latest`).
    pub run: PathBuf,
    /// What the run returned.
    pub out: Output,
}

impl Finished {
    fn of(store: tempfile::TempDir, out: Output) -> Finished {
        Finished {
            run: latest_run(store.path()),
            store,
            out,
        }
    }

    /// The run's `results.json`.
    pub fn results(&self) -> serde_json::Value {
        results(&self.run)
    }

    /// What it printed.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
}

/// Run `faultline test` with `args` in a fresh temporary store, to a run folder whatever
/// its exit code.
pub fn finished_run<S: AsRef<OsStr> + Debug>(args: &[S]) -> Finished {
    let (store, out) = run_fresh(args);
    Finished::of(store, out)
}

/// Run `faultline test` with `args` in a fresh temporary store and require the exit code
/// `code` (`meaning` says what it means when it fails: "expected valid").
pub fn run_exiting<S: AsRef<OsStr> + Debug>(code: i32, meaning: &str, args: &[S]) -> Finished {
    let (store, out) = run_fresh(args);
    assert_eq!(out.status.code(), Some(code), "{meaning}");
    Finished::of(store, out)
}

/// Run `faultline test` with `args` in a fresh temporary store and require `valid`; the
/// store (kept while it lives) and the run's folder.
pub fn valid_run<S: AsRef<OsStr> + Debug>(args: &[S]) -> (tempfile::TempDir, PathBuf) {
    let Finished { store, run, .. } = run_exiting(0, "expected valid", args);
    (store, run)
}

/// Run `faultline test` with `args` in a fresh temporary store and require `invalid`; the
/// store (kept while it lives) and the run's folder.
pub fn invalid_run<S: AsRef<OsStr> + Debug>(args: &[S]) -> (tempfile::TempDir, PathBuf) {
    let Finished { store, run, .. } = run_exiting(1, "expected invalid", args);
    (store, run)
}

/// Run `faultline test` with `args` in a fresh temporary store and require the exit code
/// `code` of a run that failed (254: bad input, 255: the harness failed); the store (kept
/// while it lives) and the run's stderr, which says why.
pub fn failed_run<S: AsRef<OsStr> + Debug>(code: i32, args: &[S]) -> (tempfile::TempDir, String) {
    let (store, out) = run_fresh(args);
    assert_eq!(out.status.code(), Some(code), "{args:?}");
    (store, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `faultline test` with a temporary store, to be given its arguments and spawned in the
/// background: its stdout is dropped, its stderr is the test's.
pub fn background_test(store: &Path) -> Command {
    let mut cmd = faultline();
    cmd.arg("test")
        .arg("--store")
        .arg(store)
        .arg("--no-progress")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    cmd
}

/// Wait up to `secs` for `ready` while the harness `child` still runs, then SIGKILL it;
/// fails naming `what` never happened (or that the harness exited first).
pub fn kill_when(child: &mut Child, secs: u64, what: &str, ready: impl FnMut() -> bool) {
    if let Some(failure) = kill_when_or_why(child, secs, what, ready) {
        panic!("{failure}");
    }
}

/// [`kill_when`] for a harness with its store in `store`: when `what` never happened, its
/// newest run is healed (its nodes stopped) before the test fails, so a failure leaves no
/// cluster running beside the tests that follow.
pub fn kill_when_else_heal(
    child: &mut Child,
    store: &Path,
    secs: u64,
    what: &str,
    ready: impl FnMut() -> bool,
) {
    if let Some(failure) = kill_when_or_why(child, secs, what, ready) {
        if let Ok(run) = std::fs::canonicalize(store.join("latest")) {
            let _ = faultline().arg("heal").arg(run).output();
        }
        panic!("{failure}");
    }
}

/// [`kill_when`]'s wait and kill; why it failed, if it did.
fn kill_when_or_why(
    child: &mut Child,
    secs: u64,
    what: &str,
    mut ready: impl FnMut() -> bool,
) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let failure = loop {
        if ready() {
            break None;
        }
        if let Some(status) = child.try_wait().unwrap() {
            break Some(format!("the harness exited early ({status}): {what}"));
        }
        if Instant::now() > deadline {
            break Some(format!("not within {secs} s: {what}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    failure
}

/// Run `faultline heal RUN`, which must succeed; what it printed.
pub fn heal(run: &Path) -> String {
    let out = faultline().arg("heal").arg(run).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!(
        "faultline heal:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "faultline heal failed");
    text
}

/// What `faultline heal` said (`text`) and left of the local run in `run`: every node's data
/// folder wiped, each named, and its log kept.
pub fn assert_data_wiped(run: &Path, text: &str) {
    let nodes = std::fs::read_dir(run.join("nodes")).unwrap();
    let mut seen = 0;
    for node in nodes.filter_map(|e| e.ok()).filter(|e| e.path().is_dir()) {
        let name = node.file_name().to_string_lossy().into_owned();
        assert!(!node.path().join("data").exists(), "{name}'s data is left");
        assert!(
            node.path().join("node.log").is_file(),
            "{name}'s log is gone"
        );
        assert!(
            text.contains(&format!("wiped the data of {name} (")),
            "{text}"
        );
        seen += 1;
    }
    assert!(seen > 0, "the run has no node folders");
}

/// The run folder `store/latest` points at.
pub fn latest_run(store: &Path) -> PathBuf {
    std::fs::canonicalize(store.join("latest")).expect("store/latest points at a run")
}

/// `results.json` of a run.
pub fn results(run: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(run.join("results.json")).expect("results.json");
    serde_json::from_str(&text).expect("results.json is JSON")
}

/// Every op of a run's history.
pub fn history(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("history.jsonl"))
        .expect("history.jsonl")
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("process").is_some())
        .collect()
}

/// The values of the nemesis ops `f` (say `start-pause`) of `ops` that were applied: the
/// completions (`info`) without an error.
pub fn applied(ops: &[serde_json::Value], f: &str) -> Vec<serde_json::Value> {
    ops.iter()
        .filter(|o| {
            o["f"] == f && o["type"] == "info" && o.get("error").is_none_or(|e| e.is_null())
        })
        .map(|o| o["value"].clone())
        .collect()
}

/// Pids of processes whose command line mentions `needle` (other than this test).
pub fn processes_mentioning(needle: &str) -> Vec<u32> {
    processes_whose("cmdline", |cmdline| cmdline.contains(needle))
}

/// Pids of processes (other than this test) whose `/proc/PID/FILE` (`cmdline`, `environ`)
/// satisfies `matches`.
pub fn processes_whose(file: &str, matches: impl Fn(&str) -> bool) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(text) = std::fs::read(format!("/proc/{pid}/{file}")) else {
            continue;
        };
        if matches(&String::from_utf8_lossy(&text)) && pid != std::process::id() {
            pids.push(pid);
        }
    }
    pids
}

/// The state letter of a process (`R`, `S`, `T` for stopped, `Z` ...), if it exists.
pub fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.trim().chars().next()
}

/// Wait up to `secs` for no process to mention `needle`; returns those still there.
pub fn wait_gone(needle: &str, secs: u64) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let left: Vec<u32> = processes_mentioning(needle)
            .into_iter()
            .filter(|&p| process_state(p) != Some('Z'))
            .collect();
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The arguments of `--system command` with lifecycle `script` and client command `client`.
pub fn command_system(script: &str, client: &str) -> Vec<String> {
    [
        "--system",
        "command",
        "--db-command",
        script,
        "--client-command",
        client,
    ]
    .map(String::from)
    .to_vec()
}

/// `examples/etcd-command/` (a shell lifecycle, a Python client with `client_flags`) as a
/// command system.
pub fn etcd_by_command(client_flags: &str) -> Vec<String> {
    let client = format!(
        "python3 {} {client_flags}",
        example("etcd-command", "client.py")
    );
    command_system(&example("etcd-command", "lifecycle.sh"), client.trim_end())
}

/// Write `text` to the file `name` in `dir`; its path.
pub fn write_file(dir: &Path, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Write `text` to the file `name` of a fresh temporary folder: the folder (kept while it
/// lives) and the file's path.
pub fn temp_file(name: &str, text: impl AsRef<[u8]>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), name, text);
    (dir, path)
}

/// Make `path` executable by everyone (a script a test writes for faultline to run).
pub fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The `tick` lines a reference node logs every second (with `RUST_LOG` naming
/// `faultline::clock=debug`), as milliseconds since the epoch by the node's clock, in order.
pub fn ticks(log: &Path) -> Vec<i64> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter(|l| l.contains("faultline::clock") && l.contains("tick"))
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp_millis())
        .collect()
}

/// A file of `examples/` (`example("etcd-command", "client.py")`), as a path string.
pub fn example(pair: &str, file: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "examples", pair, file]
        .iter()
        .collect();
    path.display().to_string()
}

/// A run ended decided: exit 0 with `valid: true`, or exit 1 with `valid: false` and the
/// reasons of every failing checker named, never unknown (2) or a harness failure; `what`
/// names the run in failures.
pub fn assert_decided(code: Option<i32>, results: &serde_json::Value, what: &str) {
    assert!(
        matches!(code, Some(0 | 1)),
        "{what}: the verdict is not decided (exit {code:?}): {results}"
    );
    assert_eq!(
        results["valid"] == true,
        code == Some(0),
        "{what}: {results}"
    );
    if code == Some(1) {
        let named = results["results"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["valid"] == false)
            .any(|r| r["reasons"].as_array().is_some_and(|why| !why.is_empty()));
        assert!(named, "{what}: an invalid verdict names why: {results}");
    }
}

/// Seven faults in 60 s, each applied whatever the seed draws: kills (a named node, a
/// minority), pauses and partitions (a split in halves, one the seed picks). Named targets,
/// so it works over SSH too, where a system may name no leader for a "leader" kill.
pub const KILL_PAUSE_PARTITION_60S: &str = r#"[
  {"at": 3.0, "fault": "kill", "value": ["n2"], "duration": 5.0},
  {"at": 12.0, "fault": "pause", "value": ["n3"], "duration": 4.0},
  {"at": 20.0, "fault": "partition", "value": "halves", "duration": 6.0},
  {"at": 30.0, "fault": "kill", "value": "minority", "duration": 5.0},
  {"at": 39.0, "fault": "pause", "value": "one", "duration": 3.0},
  {"at": 45.0, "fault": "partition", "duration": 6.0},
  {"at": 53.0, "fault": "kill", "value": ["n1"], "duration": 4.0}
]"#;
