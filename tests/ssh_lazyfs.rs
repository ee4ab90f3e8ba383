//! End-to-end: `--nemesis lose-unfsynced` over SSH. Each lab node's data folder is mounted
//! through `faultline lazyfs`, run on the node as a daemon; against the reference service
//! `--bug no-fsync` then loses acknowledged writes (`invalid`) while the correct service
//! stays `valid`. After a run, and after `faultline heal` of a killed harness, no lazyfs
//! mount and no lazyfs server is left on the nodes. The lab's sshd processes run in mount
//! namespaces of their own (`ip netns exec`), so mounts are looked for in every process's
//! mountinfo. Needs root and /dev/fuse (as tests/ssh.rs needs root).

mod common;
mod sshlab;

use std::time::Instant;

use common::*;
use sshlab::{require_tools, Lab};

/// The lab's lazyfs mounts still present in any mount namespace.
fn lazyfs_mounts(lab: &Lab) -> Vec<String> {
    let marker = lab.remote_dir.display().to_string();
    let mut found = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if entry.file_name().to_string_lossy().parse::<u32>().is_err() {
            continue;
        }
        let text = std::fs::read_to_string(entry.path().join("mountinfo")).unwrap_or_default();
        for line in text.lines() {
            if line.contains(&marker) && line.contains("fuse") {
                found.insert(line.to_string());
            }
        }
    }
    found.into_iter().collect()
}

fn lazyfs_servers(lab: &Lab) -> Vec<u32> {
    lab.processes(|cmdline| cmdline.contains(" lazyfs "))
}

/// No lazyfs mount and no lazyfs server is left on the lab's nodes.
fn assert_no_lazyfs_left(lab: &Lab) {
    assert!(lazyfs_mounts(lab).is_empty(), "{:?}", lazyfs_mounts(lab));
    assert!(lazyfs_servers(lab).is_empty(), "{:?}", lazyfs_servers(lab));
}

fn fuse_available() -> bool {
    std::fs::metadata("/dev/fuse").is_ok()
}

fn args(lab: &Lab, extra: &[&str]) -> Vec<String> {
    lab.args(&[&["--system", "reference"], LOSE_UNFSYNCED, extra].concat())
}

#[test]
fn lose_unfsynced_over_ssh_finds_the_no_fsync_bug_and_heal_unmounts() {
    require_tools();
    if !fuse_available() {
        eprintln!("skipped: lazyfs needs /dev/fuse");
        return;
    }
    let lab = Lab::start(3);
    let store = tempfile::tempdir().unwrap();

    // The bug: acknowledged writes lost, invalid.
    let started = Instant::now();
    let a = args(&lab, &["--time-limit", "6", "--bug", "no-fsync"]);
    let out = run_test(store.path(), &a);
    eprintln!("no-fsync run took {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(out.status.code(), Some(1), "acknowledged writes were lost");
    let run = latest_run(store.path());
    let faults = applied(&history(&run), "start-lose-unfsynced");
    assert!(!faults.is_empty(), "a fault was applied");
    for value in &faults {
        assert_eq!(value["mechanism"], "fuse", "{value}");
        assert!(value["lost"][&lab.hosts[0]]["bytes"].is_u64(), "{value}");
    }
    assert_no_lazyfs_left(&lab);
    assert!(lab.daemons().is_empty(), "left: {:?}", lab.daemons());

    // The correct service: valid.
    let started = Instant::now();
    let a = args(&lab, &["--time-limit", "6"]);
    let out = run_test(store.path(), &a);
    eprintln!("correct run took {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(out.status.code(), Some(0), "nothing acknowledged was lost");
    assert!(!applied(&history(&latest_run(store.path())), "start-lose-unfsynced").is_empty());
    assert_no_lazyfs_left(&lab);

    // Kill the harness mid-run; `faultline heal` unmounts and stops the servers.
    let mut child = background_test(store.path())
        .args(args(&lab, &["--time-limit", "60"]))
        .spawn()
        .unwrap();
    // Setting up three nodes over ssh (lazyfs mounts, daemons) took 25–30 s of the 38 s
    // correct run above on a loaded CI machine: allow well beyond that.
    kill_when(&mut child, 120, "the nodes came up", || {
        lazyfs_mounts(&lab).len() >= 3 && lab.daemons().len() >= 6
    });
    assert!(
        !lazyfs_servers(&lab).is_empty(),
        "the killed harness left lazyfs"
    );
    let said = heal(&latest_run(store.path()));
    assert!(said.contains("stopped the lazyfs server"), "{said}");
    assert_no_lazyfs_left(&lab);
    assert!(lab.daemons().is_empty(), "heal left: {:?}", lab.daemons());
}
