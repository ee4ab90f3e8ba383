//! The harness's side of lazyfs on local nodes: before the nodes start, each node's data
//! directory (`nodes/<node>/data`) is mounted through its own `faultline lazyfs` process over
//! `nodes/<node>/durable` (what survives a loss; after the run it holds the node's durable
//! files). The mounts are recorded in `nodes/lazyfs.json` (pid, mount point, control socket)
//! so `faultline heal` can unmount them and stop their servers after a crash of the harness;
//! dropping [`LazyMounts`] unmounts them in a normal run.
//!
//! Needs root (mount(2)) and `/dev/fuse`; [`check_available`] says what is missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use async_trait::async_trait;
use faultline_nemeses::control::ControlError;
use faultline_nemeses::unfsynced::UnsyncedWrites;
use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::mount_table::detach;
use crate::run_dir::RunDir;
use crate::systems::NodeSpec;

/// One mount as `nodes/lazyfs.json` records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    pid: u32,
    mount: PathBuf,
    backing: PathBuf,
    control: PathBuf,
}

/// Whether lazyfs can be mounted here: `Err` says what is missing.
pub fn check_available() -> Result<(), String> {
    let mut missing = Vec::new();
    if !nix::unistd::geteuid().is_root() {
        missing.push("root (mounting needs it)");
    }
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .is_err()
    {
        missing.push("/dev/fuse (load the fuse module; in a container, pass --device /dev/fuse)");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "--nemesis lose-unfsynced mounts each node's data directory through faultline's FUSE filesystem, which needs {}",
            missing.join(" and ")
        ))
    }
}

fn records_file(run: &RunDir) -> PathBuf {
    run.path.join("nodes").join("lazyfs.json")
}

/// The lazyfs mounts of one run's local nodes.
pub struct LazyMounts {
    mounts: BTreeMap<String, (Record, Child)>,
    file: PathBuf,
}

impl LazyMounts {
    /// Mount every node's data directory through lazyfs, and wait until each is up.
    pub fn mount_all(run: &RunDir, nodes: &[NodeSpec]) -> Result<LazyMounts> {
        let exe = std::env::current_exe().context("cannot find the faultline binary")?;
        let mut mounts = LazyMounts {
            mounts: BTreeMap::new(),
            file: records_file(run),
        };
        for node in nodes {
            let dir = run.node_dir(&node.name);
            let backing = dir.join("durable");
            std::fs::create_dir_all(&backing)
                .and_then(|()| std::fs::create_dir_all(&node.data_dir))
                .with_context(|| format!("cannot create {}", backing.display()))?;
            // Short, so it fits a socket address whatever the store path.
            let control = std::env::temp_dir().join(format!(
                "faultline-lazyfs-{}-{}.sock",
                std::process::id(),
                node.name
            ));
            let log = std::fs::File::create(dir.join("lazyfs.log"))
                .with_context(|| format!("cannot create {}", dir.join("lazyfs.log").display()))?;
            let child = Command::new(&exe)
                .arg("lazyfs")
                .arg("--backing")
                .arg(&backing)
                .arg("--mount")
                .arg(&node.data_dir)
                .arg("--control")
                .arg(&control)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
                .with_context(|| format!("cannot start lazyfs for {}", node.name))?;
            let record = Record {
                pid: child.id(),
                mount: std::fs::canonicalize(&node.data_dir)
                    .unwrap_or_else(|_| node.data_dir.clone()),
                backing,
                control,
            };
            mounts.mounts.insert(node.name.clone(), (record, child));
            mounts.write_records()?;
            mounts.await_up(&node.name, &dir.join("lazyfs.log"))?;
            tracing::info!(node = %node.name, "data directory mounted through lazyfs");
        }
        Ok(mounts)
    }

    fn write_records(&self) -> Result<()> {
        let records: BTreeMap<&String, &Record> =
            self.mounts.iter().map(|(n, (r, _))| (n, r)).collect();
        std::fs::write(&self.file, serde_json::to_vec_pretty(&records)?)
            .with_context(|| format!("cannot write {}", self.file.display()))
    }

    fn await_up(&mut self, node: &str, log: &Path) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let (record, child) = self.mounts.get_mut(node).expect("just inserted");
        loop {
            if command(&record.control, "pending").is_ok() {
                return Ok(());
            }
            if let Ok(Some(status)) = child.try_wait() {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                bail!(
                    "lazyfs for {node} exited ({status}): {}",
                    text.lines().last().unwrap_or("no output")
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "lazyfs for {node} did not come up within 10 s; read {}",
                    log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Drop `node`'s un-fsynced writes; what was dropped.
    pub fn lose(&self, node: &str) -> Result<Value> {
        let (record, _) = self
            .mounts
            .get(node)
            .with_context(|| format!("{node} has no lazyfs mount"))?;
        let reply = command(&record.control, "lose")?;
        match reply.get("lost") {
            Some(lost) => Ok(lost.clone()),
            None => bail!("lazyfs for {node} could not drop its writes: {reply}"),
        }
    }
}

/// Send one control command and read its JSON answer.
fn command(socket: &Path, command: &str) -> Result<Value> {
    super::control::send(socket, command)
}

impl Drop for LazyMounts {
    fn drop(&mut self) {
        for (node, (record, child)) in &mut self.mounts {
            let _ = command(&record.control, "unmount");
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
            if matches!(child.try_wait(), Ok(None)) {
                tracing::warn!(node = %node, "lazyfs did not unmount in time; detaching it");
                let _ = child.kill();
                let _ = child.wait();
                detach(&record.mount);
            }
            let _ = std::fs::remove_file(&record.control);
        }
        let _ = std::fs::remove_file(&self.file);
    }
}

/// For `faultline heal`: unmount the lazyfs mounts a crashed harness left (from
/// `nodes/lazyfs.json`) and stop their servers; what was undone. What the volatile layers
/// held is lost, as in a crash; the durable files stay in `nodes/<node>/durable`.
pub fn heal_leftovers(run: &RunDir) -> Vec<String> {
    let file = records_file(run);
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Vec::new();
    };
    let records: BTreeMap<String, Record> = match serde_json::from_str(&text) {
        Ok(records) => records,
        Err(e) => {
            return vec![format!(
                "could not undo: {} is unreadable: {e}",
                file.display()
            )]
        }
    };
    let run_path = std::fs::canonicalize(&run.path).unwrap_or_else(|_| run.path.clone());
    let mut undone = Vec::new();
    for (node, record) in records {
        if detach(&record.mount) {
            undone.push(format!(
                "unmounted the lazyfs of {node} ({})",
                record.mount.display()
            ));
        }
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", record.pid)).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let ours = cmdline.contains(" lazyfs ")
            && (cmdline.contains(&*run_path.to_string_lossy())
                || cmdline.contains(&*run.path.to_string_lossy()));
        if ours && signal::kill(Pid::from_raw(record.pid as i32), Signal::SIGKILL).is_ok() {
            undone.push(format!(
                "stopped the lazyfs server of {node} (pid {})",
                record.pid
            ));
        }
        let _ = std::fs::remove_file(&record.control);
    }
    let _ = std::fs::remove_file(&file);
    undone
}

/// The [`UnsyncedWrites`] of local nodes: their lazyfs mounts.
pub struct LocalUnsynced(pub std::sync::Arc<LazyMounts>);

#[async_trait]
impl UnsyncedWrites for LocalUnsynced {
    async fn lose(&self, node: &str) -> Result<Value, ControlError> {
        let mounts = self.0.clone();
        let name = node.to_string();
        tokio::task::spawn_blocking(move || mounts.lose(&name))
            .await
            .map_err(|e| ControlError::failed(node, "drop un-fsynced writes", e.to_string()))?
            .map_err(|e| ControlError::failed(node, "drop un-fsynced writes", format!("{e:#}")))
    }

    fn mechanism(&self) -> String {
        "fuse".to_string()
    }
}
