//! End-to-end tests of the SSH target against real sshd processes, one per network
//! namespace that the test makes itself (see `sshlab`). The etcd system is not on this
//! branch yet, so the system under test is the reference system: its binary is uploaded
//! to the nodes and run there as a daemon, as any system's `StartCommand` would be.

mod common;
mod sshlab;

use std::time::Instant;

use common::*;
use sshlab::Lab;

#[test]
fn three_etcd_nodes_over_ssh_with_partitions_are_valid_and_heal_cleans_up() {
    let lab = Lab::start(3);
    let first = run_exiting(
        0,
        "expected valid",
        &lab.args(&[
            "--system",
            "etcd",
            "--time-limit",
            "20",
            "--nemesis",
            "partition,kill,pause",
            "--nemesis-interval",
            "2",
            "--rate",
            "50",
            "--seed",
            "7",
        ]),
    );
    let (store, run, stdout) = (&first.store, &first.run, first.stdout());
    assert!(stdout.contains("verdict: valid"), "{stdout}");
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert!(history.contains("start-partition"), "no partition ran");
    assert!(
        lab.faultline_rules().is_empty(),
        "rules left: {:?}",
        lab.faultline_rules()
    );
    // The node logs came back into the run folder; no daemon is left.
    assert!(run
        .join("nodes")
        .join(&lab.hosts[0])
        .join("node.log")
        .is_file());
    assert!(lab.daemons().is_empty(), "left: {:?}", lab.daemons());

    // Kill the harness while a pause is applied; `faultline heal` over SSH undoes it.
    let mut child = background_test(store.path())
        .args(lab.args(&[PAUSES_FOR_A_MINUTE, &["--nemesis-targets", "all"]].concat()))
        .spawn()
        .unwrap();
    kill_when(&mut child, 90, "a node paused", || {
        lab.daemons().iter().any(|(_, state)| *state == 'T')
    });
    assert!(
        !lab.daemons().is_empty(),
        "the killed harness left its daemons"
    );
    let killed = latest_run(store.path());
    let said = heal(&killed);
    assert!(said.contains("stopped the daemon on"), "{said}");
    assert!(lab.daemons().is_empty(), "heal left: {:?}", lab.daemons());
    // Heal fetched each node's log into the run folder and wiped its data on the node.
    for host in &lab.hosts {
        assert!(
            said.contains(&format!("wiped the data of {host}")),
            "{said}"
        );
        assert!(!lab.remote_dir.join(host).join("data").exists());
        assert!(killed.join("nodes").join(host).join("node.log").is_file());
    }

    // Kill the harness while a partition is applied; `faultline heal` over SSH removes
    // every rule it added.
    let mut child = background_test(store.path())
        .args(lab.args(&[
            "--system",
            "etcd",
            "--time-limit",
            "60",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "1",
        ]))
        .spawn()
        .unwrap();
    kill_when(&mut child, 90, "a partition applied", || {
        lab.faultline_rules()
            .iter()
            .any(|r| r.contains("DROP") || r.contains("drop"))
    });
    assert!(
        !lab.faultline_rules().is_empty(),
        "the killed harness left its rules"
    );
    heal(&latest_run(store.path()));
    assert!(
        lab.faultline_rules().is_empty(),
        "heal left: {:?}",
        lab.faultline_rules()
    );
    assert!(lab.daemons().is_empty(), "heal left: {:?}", lab.daemons());
}

/// Run a test expected to fail on connecting; its one-line error.
fn failing(lab: &Lab, args: Vec<String>) -> String {
    let store = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let out = faultline()
        .arg("test")
        .arg("--store")
        .arg(store.path())
        .args(["--no-progress", "--time-limit", "5"])
        .args(&args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    eprintln!("{stderr} ({:?})", start.elapsed());
    assert_eq!(out.status.code(), Some(255), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    assert!(
        lab.daemons().is_empty(),
        "a daemon was left: {:?}",
        lab.daemons()
    );
    stderr
}

fn replace(args: &mut [String], flag: &str, value: &str) {
    let i = args.iter().position(|a| a == flag).unwrap();
    args[i + 1] = value.to_string();
}

#[test]
fn bad_keys_hosts_and_sudo_give_one_line_naming_the_node_and_the_fix() {
    let lab = Lab::start(3);
    let n2 = lab.hosts[1].clone();

    let mut args = lab.ssh_args();
    replace(
        &mut args,
        "--ssh-private-key",
        lab.wrong_key.to_str().unwrap(),
    );
    let e = failing(&lab, args);
    assert!(
        e.contains(&format!("{n2}: user {} was refused", lab.user)),
        "{e}"
    );
    assert!(e.contains("authorized_keys"), "{e}");

    let mut args = lab.ssh_args();
    let empty = sshlab::in_dir(&lab, "empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    replace(&mut args, "--known-hosts", empty.to_str().unwrap());
    let e = failing(&lab, args);
    assert!(
        e.contains(&format!("{n2}: the host key of {n2} is not in")),
        "{e}"
    );
    assert!(
        e.contains("--accept-new-host-keys") && e.contains("ssh-keyscan"),
        "{e}"
    );

    let mut args = lab.ssh_args();
    let unreachable = lab.hosts[0].rsplit_once('.').unwrap().0.to_string() + ".99";
    let nodes = format!("{},{},{unreachable}", lab.hosts[0], lab.hosts[1]);
    replace(&mut args, "--nodes", &nodes);
    replace(&mut args, "--ssh-timeout", "2");
    let e = failing(&lab, args);
    assert!(
        e.contains(&format!(
            "{unreachable}: cannot reach sshd at {unreachable}:22"
        )),
        "{e}"
    );
    assert!(
        !e.contains(&format!("{n2}:")),
        "only the unreachable node is named: {e}"
    );

    let mut args = lab.ssh_args();
    replace(&mut args, "--username", &lab.user_no_sudo);
    let e = failing(&lab, args);
    assert!(
        e.contains(&format!(
            "{n2}: {} cannot run sudo without a password",
            lab.user_no_sudo
        )),
        "{e}"
    );
    assert!(e.contains("NOPASSWD"), "{e}");

    // Without --sudo a non-root user is told to pass it.
    let mut args = lab.ssh_args();
    args.retain(|a| a != "--sudo");
    let e = failing(&lab, args);
    assert!(e.contains("is not root and --sudo was not given"), "{e}");

    // --accept-new-host-keys learns the keys of a fresh known_hosts file.
    let learned = sshlab::in_dir(&lab, "learned_known_hosts");
    let mut args = lab.ssh_args();
    replace(&mut args, "--known-hosts", learned.to_str().unwrap());
    args.extend(
        [
            "--accept-new-host-keys",
            "--nemesis",
            "none",
            "--time-limit",
            "2",
        ]
        .map(String::from),
    );
    let store = tempfile::tempdir().unwrap();
    let out = run_test(store.path(), &args);
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(&learned).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
}

#[test]
fn a_fault_on_five_nodes_lands_on_all_of_them_within_one_second() {
    let lab = Lab::start(5);
    let (_store, run) = valid_run(&lab.args(&[
        "--time-limit",
        "8",
        "--nemesis",
        "pause",
        "--nemesis-targets",
        "all",
        "--nemesis-interval",
        "1.5",
        "--rate",
        "20",
        "--seed",
        "3",
    ]));
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    // Each nemesis op completes only once every node did it: invoke to completion bounds
    // how far apart the five pauses (and resumes) landed.
    let ops: Vec<serde_json::Value> = history
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|op: &serde_json::Value| op["process"] == "nemesis")
        .collect();
    let mut checked = 0;
    for pair in ops.windows(2) {
        let (invoke, done) = (&pair[0], &pair[1]);
        if invoke["type"] != "invoke" || done["type"] != "info" || invoke["f"] != done["f"] {
            continue;
        }
        let text = done["value"].to_string();
        if !lab.hosts.iter().all(|h| text.contains(h)) {
            continue;
        }
        let spread = done["time"].as_u64().unwrap() - invoke["time"].as_u64().unwrap();
        eprintln!("{} on 5 nodes took {:.3} s", done["f"], spread as f64 / 1e9);
        assert!(
            spread < 1_000_000_000,
            "{} took {spread} ns: {done}",
            done["f"]
        );
        checked += 1;
    }
    assert!(checked >= 2, "no fault on all five nodes in {history}");
}
