//! The docker cluster end to end: `docker/build-image.sh` builds the node image from
//! nothing (debootstrap from this machine's apt mirror, `docker import`, no registry; a
//! cached image is reused), `faultline test --target docker` brings up three containers,
//! runs the reference system on them over SSH with kill and pause faults, and tears the
//! cluster down. A guard removes the cluster even when the test fails.

mod common;

use std::process::Command;

use common::*;

/// Takes the compose cluster down on drop (whatever the test did).
struct Teardown;

impl Drop for Teardown {
    fn drop(&mut self) {
        for i in 1..=5 {
            let _ = Command::new("docker")
                .args(["rm", "-f", &format!("faultline-n{i}")])
                .output();
        }
        let _ = Command::new("docker")
            .args(["network", "rm", "faultline_faultline"])
            .output();
    }
}

fn faultline_containers() -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            "name=faultline-n",
            "--format",
            "{{.Names}}",
        ])
        .output()
        .expect("docker (apt-get install docker.io docker-compose)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_docker_cluster_built_without_a_registry_runs_a_valid_test_over_ssh() {
    let _teardown = Teardown;
    let cache = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let mut cmd = faultline();
    cmd.env("FAULTLINE_CACHE", cache.path())
        .arg("test")
        .arg("--store")
        .arg(store.path())
        .args([
            "--no-progress",
            "--target",
            "docker",
            "--node-count",
            "3",
            "--time-limit",
            "10",
            "--nemesis",
            "kill,pause",
            "--nemesis-interval",
            "2",
            "--rate",
            "50",
        ]);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("verdict: valid"), "{stdout}");
    assert!(stdout.contains("on 3 reference nodes"), "{stdout}");
    let run = latest_run(store.path());
    assert!(run.join("nodes/10.215.0.11/node.log").is_file());
    assert!(
        faultline_containers().is_empty(),
        "left: {:?}",
        faultline_containers()
    );
    // The image is tagged by the hash of its inputs and exists locally.
    let images = Command::new("docker")
        .args(["images", "faultline-node", "--format", "{{.Tag}}"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&images.stdout).lines().count() >= 2);
}
