//! The docker-compose cluster of `docker/`: builds the node image with no registry
//! (`docker/build-image.sh`: debootstrap + `docker import`, cached by a hash of its inputs),
//! makes an SSH key pair for the controller, brings up `node_count` containers on their
//! private network (a compose project and subnet of the run's own, see
//! [`crate::spec::docker`]), records each container's own host key in a known_hosts file of its
//! own (so host keys are checked strictly), and tears the cluster down when dropped unless
//! `--leave-running`.
//!
//! The scripts and the compose file are compiled into the binary and written to the cache
//! folder, so `faultline test --target docker` works from any directory. This module never
//! pulls an image and never touches containers outside its compose project.
//!
//! Runs at once may share the cache folder: a file lock (`docker/.lock`) makes them take
//! turns building the image and making the key pair (the later one then finds both made),
//! and the scripts and compose file are replaced whole (renamed into place), so a run reading
//! them meanwhile never sees a part.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::spec::docker::DockerProject;
use crate::spec::ssh::{cache_dir, lock_cache, write_atomically, MAX_NODES};

const BUILD_SCRIPT: &str = include_str!("../../../docker/build-image.sh");
const NODE_INIT: &str = include_str!("../../../docker/node-init.sh");
const COMPOSE: &str = include_str!("../../../docker/docker-compose.yml");

/// A running compose cluster; dropping it tears it down unless told to leave it.
pub struct DockerCluster {
    dir: PathBuf,
    leave_running: bool,
    /// Its compose project (containers `<project>-n1` ...) and subnet.
    project: DockerProject,
}

fn run(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot {what}: is it installed?"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        bail!(
            "cannot {what} ({}): {}",
            out.status,
            super::one_line(&stderr, 400)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn compose(dir: &Path, project: &DockerProject) -> Command {
    let mut cmd = if which("docker-compose") {
        Command::new("docker-compose")
    } else {
        let mut c = Command::new("docker");
        c.arg("compose");
        c
    };
    cmd.arg("-p")
        .arg(&project.project)
        .arg("-f")
        .arg(dir.join("docker-compose.yml"))
        .env("FAULTLINE_AUTHORIZED_KEYS", dir.join("id_ed25519.pub"))
        .env("FAULTLINE_PROJECT", &project.project)
        .env("FAULTLINE_SUBNET_PREFIX", &project.prefix);
    cmd
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|p| p.join(program).is_file()))
        .unwrap_or(false)
}

/// Write the embedded scripts into the cache and build (or find) the node image; its tag.
/// One run at a time (the cache's lock): another run building the image is waited for.
pub fn ensure_image() -> Result<String> {
    let dir = cache_dir().join("docker");
    let _turn = lock_cache(&dir)?;
    for (name, text) in [
        ("build-image.sh", BUILD_SCRIPT),
        ("node-init.sh", NODE_INIT),
        ("docker-compose.yml", COMPOSE),
    ] {
        write_atomically(&dir.join(name), text.as_bytes())
            .with_context(|| format!("cannot write {}", dir.join(name).display()))?;
    }
    let stdout = run(
        Command::new("bash")
            .arg(dir.join("build-image.sh"))
            .stderr(std::process::Stdio::inherit()),
        "build the node image with docker/build-image.sh (needs root, debootstrap and docker)",
    )
    .or_else(|e| {
        // `run` captured nothing from stderr (it went to the terminal): say where to look.
        Err(e).context("the image build failed; its output is above")
    })?;
    stdout
        .lines()
        .last()
        .map(|l| l.trim().to_string())
        .filter(|t| t.starts_with("faultline-node:"))
        .ok_or_else(|| anyhow::anyhow!("build-image.sh printed no image tag"))
}

impl DockerCluster {
    /// Build the image if needed, make the key pair, start `node_count` nodes (or keep the
    /// ones already running), and write their host keys to the cluster's known_hosts.
    pub fn up(
        node_count: usize,
        leave_running: bool,
        project: &DockerProject,
    ) -> Result<DockerCluster> {
        if node_count == 0 || node_count > MAX_NODES {
            bail!("the docker cluster has 1 to {MAX_NODES} nodes; give --node-count in that range");
        }
        let image = ensure_image()?;
        let dir = cache_dir().join("docker");
        let key = dir.join("id_ed25519");
        // Under the cache's lock: another run making the pair is waited for, not half read.
        let turn = lock_cache(&dir)?;
        if !key.is_file() || !dir.join("id_ed25519.pub").is_file() {
            let _ = std::fs::remove_file(&key);
            run(
                Command::new("ssh-keygen")
                    .args([
                        "-q",
                        "-t",
                        "ed25519",
                        "-N",
                        "",
                        "-C",
                        "faultline-controller",
                        "-f",
                    ])
                    .arg(&key),
                "make an SSH key pair with ssh-keygen (apt-get install openssh-client)",
            )?;
        }
        drop(turn);
        let cluster = DockerCluster {
            dir: dir.clone(),
            leave_running,
            project: project.clone(),
        };
        let services: Vec<String> = (1..=node_count).map(|i| format!("n{i}")).collect();
        run(
            compose(&dir, project)
                .env("FAULTLINE_NODE_IMAGE", &image)
                .args(["up", "-d", "--no-build"])
                .args(&services),
            "start the docker cluster with docker-compose",
        )?;
        let mut known = String::new();
        for (i, service) in services.iter().enumerate() {
            let addr = project.node_addr(i + 1);
            let host_key = wait_for_sshd(&project.project, service, &addr)?;
            known.push_str(&format!("{addr} {host_key}\n"));
        }
        let known_hosts = dir.join(format!("known_hosts-{}", project.project));
        std::fs::write(&known_hosts, known)
            .with_context(|| format!("cannot write {}", known_hosts.display()))?;
        tracing::info!(
            nodes = node_count,
            image,
            project = project.project,
            subnet = project.subnet(),
            "docker cluster is up"
        );
        Ok(cluster)
    }

    /// The cluster of `project` a crashed run left (for `faultline heal`).
    pub fn existing(leave_running: bool, project: &DockerProject) -> DockerCluster {
        DockerCluster {
            dir: cache_dir().join("docker"),
            leave_running,
            project: project.clone(),
        }
    }

    /// Its compose project name.
    pub fn project(&self) -> &str {
        &self.project.project
    }

    /// Remove the cluster's containers and network.
    pub fn down(&self) -> Result<()> {
        run(
            compose(&self.dir, &self.project).args([
                "down",
                "--volumes",
                "--remove-orphans",
                "--timeout",
                "1",
            ]),
            "stop the docker cluster",
        )
        .map(drop)
    }
}

impl Drop for DockerCluster {
    fn drop(&mut self) {
        if !self.leave_running {
            if let Err(e) = self.down() {
                tracing::warn!("{e:#}");
            }
        }
    }
}

/// Wait until the container's sshd accepts connections; its ed25519 host key line.
fn wait_for_sshd(project: &str, service: &str, addr: &str) -> Result<String> {
    let container = format!("{project}-{service}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let key = Command::new("docker")
            .args([
                "exec",
                &container,
                "cat",
                "/etc/ssh/ssh_host_ed25519_key.pub",
            ])
            .output();
        let reachable = std::net::TcpStream::connect_timeout(
            &format!("{addr}:22").parse().expect("a socket address"),
            Duration::from_secs(1),
        )
        .is_ok();
        if let Ok(out) = key {
            let text = String::from_utf8_lossy(&out.stdout);
            let mut words = text.split_whitespace();
            if let (true, Some(kind), Some(key)) = (
                out.status.success() && reachable,
                words.next(),
                words.next(),
            ) {
                return Ok(format!("{kind} {key}"));
            }
        }
        if Instant::now() > deadline {
            bail!(
                "{service}: sshd did not come up at {addr}:22 within 60 s; read `docker logs {container}`"
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
