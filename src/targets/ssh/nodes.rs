//! The nodes of one run over SSH: connecting to all of them (in parallel, checking login and
//! sudo up front), installing a program, and running the system's daemon on each node from
//! its `StartCommand`, tracked by a pidfile in `<remote-dir>/<node>/`.
//!
//! Every command of an all-node operation runs on each node's own worker thread at the same
//! time. It never leaves a daemon running or paused unless asked (`--leave-db-running`), and
//! never touches a process it did not start (the pidfile's pid must still run the program it
//! started). The fault abilities over these nodes are in [`super::control`]; the scripts it
//! runs in [`super::scripts`].
//!
//! With `--nemesis lose-unfsynced` it also mounts each node's data folder through lazyfs
//! ([`SshCluster::mount_lazyfs`]: `faultline lazyfs` as a daemon on the node, with its own
//! pidfile); the mounts go after the daemons at the end of the run and in `faultline heal`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use faultline_nemeses::control::ControlError;
use futures::future::join_all;

use super::scripts::*;
use super::session::{quote, Output};
use super::worker::Worker;
use super::{one_line, SshError};
use crate::spec::ssh::SshSpec;
use crate::systems::node::failures;
use crate::systems::{NodeSpec, System};

/// How long a plain command (`Control::exec`) may run.
pub(super) const EXEC_LIMIT: Duration = Duration::from_secs(120);

/// What connecting learned about one node.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// The controller's address as the node sees it (from `$SSH_CLIENT`): a partition must
    /// never cut it off.
    pub controller_addr: Option<String>,
}

/// The nodes of one run, each with its worker thread and session.
pub struct SshCluster {
    pub(super) spec: Arc<SshSpec>,
    pub(super) nodes: Vec<NodeSpec>,
    pub(super) workers: Vec<Worker>,
    pub(super) infos: Vec<NodeInfo>,
    pub(super) system: Option<Arc<dyn System>>,
    pub(super) leave_running: bool,
    /// The faultline binary on the nodes serving their lazyfs mounts (`--nemesis
    /// lose-unfsynced`), once [`SshCluster::mount_lazyfs`] mounted them.
    pub(super) lazyfs: Option<String>,
    /// libfaketime on the nodes, once [`SshCluster::start_under_faketime`] prepared them for
    /// clock faults: every daemon starts under it.
    pub(super) faketime: Option<String>,
}

impl SshCluster {
    /// Connect to every node at once; every node that cannot be reached, logged into, or
    /// (with `--sudo`) cannot run sudo gives its own error, all joined in one.
    pub async fn connect(spec: SshSpec) -> anyhow::Result<SshCluster> {
        let spec = Arc::new(spec);
        let nodes: Vec<NodeSpec> = spec
            .hosts
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let name = spec.node_name(i).to_string();
                let dir = format!("{}/{name}", spec.remote_dir);
                NodeSpec {
                    id: i as u64 + 1,
                    name,
                    client_addr: format!("{host}:{}", spec.db_port),
                    peer_addr: format!("{host}:{}", spec.db_port),
                    data_dir: PathBuf::from(format!("{dir}/data")),
                    log_file: PathBuf::from(format!("{dir}/node.log")),
                    // Peer and election ports of systems that need more than one (etcd,
                    // ZooKeeper, NATS), right after the client port on every host.
                    extra_ports: (1..=crate::systems::EXTRA_PORTS as u16)
                        .map(|k| spec.db_port + k)
                        .collect(),
                }
            })
            .collect();
        let workers: Vec<Worker> = nodes
            .iter()
            .zip(&spec.hosts)
            .map(|(n, host)| Worker::spawn(&n.name, host, spec.clone()))
            .collect();
        let probes = workers.iter().zip(&nodes).map(|(worker, node)| {
            let spec = spec.clone();
            let name = node.name.clone();
            let dir = format!("{}/{}", spec.remote_dir, node.name);
            worker.call(move |link| link.with(|c| probe(c, &name, &spec, &dir)))
        });
        let results = join_all(probes).await;
        let mut infos = Vec::new();
        let mut errors = Vec::new();
        for result in results {
            match result {
                Ok(info) => infos.push(info),
                Err(e) => errors.push(e.to_string()),
            }
        }
        if !errors.is_empty() {
            anyhow::bail!("{}", errors.join("; "));
        }
        for (node, info) in nodes.iter().zip(&infos) {
            tracing::info!(node = %node.name, controller = ?info.controller_addr, "connected");
        }
        Ok(SshCluster {
            spec,
            nodes,
            workers,
            infos,
            system: None,
            leave_running: false,
            lazyfs: None,
            faketime: None,
        })
    }

    /// The system whose daemon this cluster runs, and whether to leave it running at the end.
    pub fn with_system(mut self, system: Arc<dyn System>, leave_running: bool) -> Self {
        self.system = Some(system);
        self.leave_running = leave_running;
        self
    }

    /// The nodes.
    pub fn nodes(&self) -> &[NodeSpec] {
        &self.nodes
    }

    /// The SSH settings.
    pub fn spec(&self) -> &SshSpec {
        &self.spec
    }

    /// The controller's address as `node` sees it (a partition nemesis must exempt it).
    #[allow(dead_code)] // for the partition nemesis, which is merged separately
    pub fn controller_addr(&self, node: &str) -> Option<&str> {
        let i = self.index(node).ok()?;
        self.infos[i].controller_addr.as_deref()
    }

    pub(super) fn index(&self, node: &str) -> Result<usize, ControlError> {
        self.nodes
            .iter()
            .position(|n| n.name == node)
            .ok_or_else(|| {
                let known: Vec<String> = self.nodes.iter().map(|n| n.name.clone()).collect();
                ControlError::unknown_node(node, &known)
            })
    }

    pub(super) fn node_dir(&self, node: &str) -> String {
        format!("{}/{node}", self.spec.remote_dir)
    }

    /// Run a shell script on `node` (through `sudo -n` with `--sudo`).
    pub async fn shell(
        &self,
        node: &str,
        script: &str,
        limit: Duration,
    ) -> Result<Output, SshError> {
        let i = self.index(node).map_err(|e| SshError::Local {
            what: "no such node".into(),
            why: e.to_string(),
        })?;
        let command = wrap(&self.spec, script);
        self.workers[i]
            .call(move |link| link.with(|c| c.exec(&command, limit)))
            .await
    }

    /// Run a shell script on `node` and require exit status 0.
    pub async fn shell_ok(
        &self,
        node: &str,
        script: &str,
        limit: Duration,
    ) -> Result<String, SshError> {
        let out = self.shell(node, script, limit).await?;
        if out.status != 0 {
            return Err(SshError::CommandFailed {
                node: node.to_string(),
                command: one_line(script, 120),
                status: out.status,
                stderr: one_line(&out.stderr, 300),
            });
        }
        Ok(out.stdout)
    }

    /// Copy `local` to `<remote-dir>/bin/<name>` on every node, in parallel, skipping nodes
    /// that already have the same file (by sha256). Returns the remote path.
    pub async fn install(&self, local: &Path) -> anyhow::Result<String> {
        let name = local
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| anyhow::anyhow!("{} has no file name", local.display()))?
            .to_string();
        self.install_as(local, &name).await
    }

    /// Copy `local` to `<remote-dir>/bin/<name>` on every node, as [`SshCluster::install`].
    pub async fn install_as(&self, local: &Path, name: &str) -> anyhow::Result<String> {
        let digest = local_sha256(local)?;
        let remote = format!("{}/bin/{name}", self.spec.remote_dir);
        let tasks = self
            .nodes
            .iter()
            .map(|node| self.put(&node.name, local, &digest, &remote, 0o755));
        on_every_node(tasks).await?;
        Ok(remote)
    }

    /// Copy `local` (whose sha256 is `digest`) to `remote` on `node`, a path under
    /// `--remote-dir`, unless the node has the same file there already.
    pub(crate) async fn put(
        &self,
        node: &str,
        local: &Path,
        digest: &str,
        remote: &str,
        mode: i32,
    ) -> Result<(), SshError> {
        let i = self.index(node).map_err(|e| SshError::Local {
            what: "no such node".into(),
            why: e.to_string(),
        })?;
        let local = local.to_path_buf();
        let remote = remote.to_string();
        let digest = digest.to_string();
        let node = node.to_string();
        let spec = self.spec.clone();
        self.workers[i]
            .call(move |link| {
                link.with(|c| {
                    let limit = Duration::from_secs(120);
                    let folder = Path::new(&remote)
                        .parent()
                        .map_or_else(|| spec.remote_dir.clone(), |p| p.display().to_string());
                    // The folder belongs to the login user, so scp can write it.
                    let prepare = if spec.sudo {
                        wrap(
                            &spec,
                            &format!(
                                "mkdir -p {folder} && chown {user} {dir} {folder}",
                                dir = quote(&spec.remote_dir),
                                folder = quote(&folder),
                                user = quote(&spec.username)
                            ),
                        )
                    } else {
                        format!("mkdir -p {}", quote(&folder))
                    };
                    let out = c.exec(&prepare, limit)?;
                    require(&node, &prepare, &out)?;
                    let check = format!("sha256sum {} 2>/dev/null", quote(&remote));
                    let have = c.exec(&check, limit)?;
                    if have.stdout.split_whitespace().next() == Some(digest.as_str()) {
                        return Ok(());
                    }
                    let tmp = format!("{remote}.{node}.tmp");
                    c.upload(&local, &tmp, mode)?;
                    let finish = format!("mv -f {} {}", quote(&tmp), quote(&remote));
                    let out = c.exec(&finish, limit)?;
                    require(&node, &finish, &out)
                })
            })
            .await
    }

    /// Mount every node's data folder through lazyfs (`--nemesis lose-unfsynced`), served
    /// by `binary` (faultline on the nodes) as a daemon over `<node dir>/durable`, with its
    /// control socket in the node folder; wait until each is mounted. Every node without
    /// `/dev/fuse` gives its own line, before anything is mounted (bad input).
    pub async fn mount_lazyfs(&mut self, binary: &str) -> anyhow::Result<()> {
        // Whatever mounts is torn down at the end (or by `faultline heal`), even on failure.
        self.lazyfs = Some(binary.to_string());
        self.mount_lazyfs_all(binary).await
    }

    pub(super) async fn mount_lazyfs_all(&self, binary: &str) -> anyhow::Result<()> {
        let checks = join_all(self.nodes.iter().map(|n| async move {
            let out = self
                .shell_ok(
                    &n.name,
                    "if [ -c /dev/fuse ]; then echo ok; else echo missing; fi",
                    EXEC_LIMIT,
                )
                .await;
            (n, out)
        }))
        .await;
        let mut missing = Vec::new();
        for (node, out) in checks {
            match out {
                Ok(out) if out.trim() == "ok" => {}
                Ok(_) => missing.push(format!(
                    "{}: --nemesis lose-unfsynced mounts the data folder through FUSE, and the node has no /dev/fuse                      (load the fuse module; in a container, pass the device /dev/fuse and the SYS_ADMIN capability)",
                    node.name
                )),
                Err(e) => missing.push(e.to_string()),
            }
        }
        if !missing.is_empty() {
            crate::exit::bad_input!("{}", missing.join("\n"));
        }
        let results = join_all(self.nodes.iter().map(|n| {
            let script = format!(
                "{prelude}{teardown}\
                 rm -rf \"$D/durable\" \"$M\" && mkdir -p \"$D/durable\" \"$M\" || exit 1\n\
                 printf %s \"$PROG\" > \"$D/lazyfs.prog\"\n\
                 setsid nohup \"$PROG\" lazyfs --backing \"$D/durable\" --mount \"$M\" --control \"$S\" \
                 > \"$D/lazyfs.log\" 2>&1 < /dev/null &\n\
                 echo $! > \"$P\"\n\
                 i=0; while ! {{ mounted && [ -S \"$S\" ]; }}; do\n\
                 if [ $i -gt 20 ] && ! alive; then echo \"lazyfs exited: $(tail -n 2 \"$D/lazyfs.log\" | tr '\\n' ' ')\" >&2; exit 1; fi\n\
                 if [ $i -ge 200 ]; then echo \"lazyfs did not mount within 10 s; read $D/lazyfs.log\" >&2; exit 1; fi\n\
                 sleep 0.05; i=$((i+1)); done\n\
                 echo \"mounted $(cat \"$P\")\"",
                prelude = lazyfs_prelude(&self.node_dir(&n.name), n, binary),
                teardown = LAZYFS_TEARDOWN,
            );
            async move { (n, self.shell_ok(&n.name, &script, EXEC_LIMIT).await) }
        }))
        .await;
        let mut errors = Vec::new();
        for (node, result) in results {
            match result {
                Ok(out) => {
                    tracing::info!(node = %node.name, out = %one_line(&out, 200), "data folder mounted through lazyfs")
                }
                Err(e) => errors.push(format!("cannot mount lazyfs: {e}")),
            }
        }
        if !errors.is_empty() {
            anyhow::bail!("{}", errors.join("; "));
        }
        Ok(())
    }

    /// Whether the nodes' data folders are mounted through lazyfs.
    pub fn has_lazyfs(&self) -> bool {
        self.lazyfs.is_some()
    }

    /// Drop `node`'s writes that were not fsynced; what was dropped.
    pub(super) async fn lose_unsynced(
        &self,
        node: &str,
    ) -> Result<serde_json::Value, ControlError> {
        let i = self.index(node)?;
        let binary = self.lazyfs.as_deref().ok_or_else(|| {
            ControlError::failed(node, "drop un-fsynced writes", "no lazyfs mount")
        })?;
        let script = format!(
            "exec {} lazyfs --control {} --send lose",
            quote(binary),
            quote(&format!(
                "{}/lazyfs.sock",
                self.node_dir(&self.nodes[i].name)
            ))
        );
        let what = "drop un-fsynced writes";
        let out = self
            .shell_ok(node, &script, EXEC_LIMIT)
            .await
            .map_err(|e| ControlError::failed(node, what, e.to_string()))?;
        let reply: serde_json::Value = serde_json::from_str(out.trim()).map_err(|e| {
            ControlError::failed(
                node,
                what,
                format!("lazyfs answered {:?}: {e}", one_line(&out, 200)),
            )
        })?;
        match reply.get("lost") {
            Some(lost) => Ok(lost.clone()),
            None => Err(ControlError::failed(
                node,
                what,
                format!("lazyfs answered {reply}"),
            )),
        }
    }

    /// Unmount every node's lazyfs and stop its server; what was undone. Idempotent: a
    /// node without a mount says nothing.
    pub async fn unmount_lazyfs(&self) -> Vec<String> {
        let results = join_all(self.nodes.iter().map(|n| {
            let script = format!(
                "{}{LAZYFS_TEARDOWN}echo \"$did\"",
                lazyfs_prelude(&self.node_dir(&n.name), n, "")
            );
            async move { (n, self.shell_ok(&n.name, &script, EXEC_LIMIT).await) }
        }))
        .await;
        let mut undone = Vec::new();
        for (node, result) in results {
            match result {
                Ok(out) if out.trim().is_empty() => {}
                Ok(out) => undone.push(format!(
                    "{}: {}",
                    node.name,
                    out.trim().trim_start_matches("; ")
                )),
                Err(e) => undone.push(format!(
                    "could not unmount the lazyfs of {}: {e}",
                    node.name
                )),
            }
        }
        undone
    }

    pub(super) fn start_script(&self, node: &NodeSpec) -> Result<String, SshError> {
        let system = self.system.as_ref().ok_or_else(|| SshError::Local {
            what: "cannot start a daemon".into(),
            why: "no system was given to the SSH target".into(),
        })?;
        let Some(command) = system.start_command(node, &self.nodes) else {
            return Err(SshError::Local {
                what: "cannot start a daemon".into(),
                why: format!(
                    "faultline does not run the {} system's processes",
                    system.name()
                ),
            });
        };
        let program = command.program.display().to_string();
        let mut line = String::from("env");
        for (k, v) in command
            .env
            .iter()
            .chain(&self.faketime_environment(&node.name))
        {
            line.push(' ');
            line.push_str(&quote(&format!("{k}={v}")));
        }
        line.push_str(" setsid nohup ");
        line.push_str(&quote(&program));
        for arg in &command.args {
            line.push(' ');
            line.push_str(&quote(arg));
        }
        Ok(format!(
            "{prelude}mkdir -p \"$D/data\" && cd \"$D\" || exit 1\n\
             if alive; then echo \"running $pid\"; exit 0; fi\n\
             printf %s \"$PROG\" > \"$D/daemon.prog\"\n\
             {line} >> \"$D/node.log\" 2>&1 < /dev/null &\n\
             pid=$!; s=$(started $pid); printf %s \"${{s#* }}\" > \"$D/daemon.start\"\n\
             echo $pid > \"$P\"\n\
             echo \"started $pid\"",
            prelude = prelude(&self.node_dir(&node.name), &program),
        ))
    }

    pub(super) fn program(&self, node: &NodeSpec) -> String {
        self.system
            .as_ref()
            .and_then(|s| s.start_command(node, &self.nodes))
            .map(|c| c.program.display().to_string())
            .unwrap_or_default()
    }

    pub(super) async fn daemon(&self, node: &str, action: &str) -> Result<String, ControlError> {
        let i = self.index(node)?;
        let spec = &self.nodes[i];
        let body = match action {
            "start" => self
                .start_script(spec)
                .map_err(|e| ControlError::failed(node, action, e.to_string()))?,
            "kill" => format!(
                "{}if alive; then kill -CONT $pid; kill -KILL $pid; i=0; \
                 while alive && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; \
                 if alive; then echo \"pid $pid survived SIGKILL\" >&2; exit 1; fi; fi; rm -f \"$P\"",
                prelude(&self.node_dir(node), &self.program(spec))
            ),
            "pause" => format!(
                "{}if alive; then kill -STOP $pid; fi",
                prelude(&self.node_dir(node), &self.program(spec))
            ),
            "resume" => format!(
                "{}if alive; then kill -CONT $pid; fi",
                prelude(&self.node_dir(node), &self.program(spec))
            ),
            "status" => format!(
                "{}if alive; then echo up; else echo down; tail -n 3 \"$D/node.log\" 2>/dev/null; fi",
                prelude(&self.node_dir(node), &self.program(spec))
            ),
            other => return Err(ControlError::unsupported(node, other)),
        };
        let limit = self.spec.timeout.max(Duration::from_secs(10)) + Duration::from_secs(10);
        let out = self
            .shell_ok(node, &body, limit)
            .await
            .map_err(|e| ControlError::failed(node, action, e.to_string()))?;
        tracing::info!(node, action, out = %one_line(&out, 200), "daemon");
        Ok(out)
    }

    /// Stop any daemon an earlier run left on the nodes (`--leave-db-running`), whatever
    /// system it ran (its program is in the node folder's `daemon.prog`), so this run's
    /// setup wipes stopped members and starts its own, and keep the earlier run's log as
    /// `node.log.previous`, so this run's log is its own; what it stopped.
    pub async fn stop_leftovers(&self) -> anyhow::Result<Vec<String>> {
        let results = join_all(self.nodes.iter().map(|n| {
            let script = format!(
                "{}if alive; then kill -CONT $pid; kill -KILL $pid; echo \"stopped $PROG ($pid)\"; fi; \
                 rm -f \"$P\"; if [ -e \"$D/node.log\" ]; then mv -f \"$D/node.log\" \"$D/node.log.previous\"; fi",
                prelude(&self.node_dir(&n.name), "")
            );
            async move { (n, self.shell_ok(&n.name, &script, EXEC_LIMIT).await) }
        }))
        .await;
        let mut stopped = Vec::new();
        for (node, result) in results {
            let out = result?;
            if !out.trim().is_empty() {
                tracing::info!(node = %node.name, "{}", out.trim());
                stopped.push(format!("{}: {}", node.name, out.trim()));
            }
        }
        Ok(stopped)
    }

    /// Start the daemon on every node, in parallel.
    pub async fn start_all(&self) -> anyhow::Result<()> {
        on_every_node(self.nodes.iter().map(|n| self.daemon(&n.name, "start"))).await
    }

    /// The first node whose daemon is not running, with the end of its log.
    pub async fn exited_node(&self) -> Option<String> {
        let results = join_all(self.nodes.iter().map(|n| self.daemon(&n.name, "status"))).await;
        for (node, result) in self.nodes.iter().zip(results) {
            match result {
                Ok(out) if out.starts_with("up") => {}
                Ok(out) => {
                    return Some(format!(
                        "{}: the daemon exited; read its log {} on the node: {}",
                        node.name,
                        node.log_file.display(),
                        one_line(out.trim_start_matches("down"), 300)
                    ))
                }
                Err(e) => return Some(e.to_string()),
            }
        }
        None
    }

    /// Resume every daemon and start every one that is not running; says what it did.
    pub async fn heal_all(&self) -> Vec<String> {
        let tasks = self.nodes.iter().map(|n| async move {
            let mut done = Vec::new();
            match self.daemon(&n.name, "resume").await {
                Ok(_) => {}
                Err(e) => done.push(format!("could not resume {}: {e}", n.name)),
            }
            match self.daemon(&n.name, "start").await {
                Ok(out) if out.starts_with("started") => done.push(format!("restarted {}", n.name)),
                Ok(_) => {}
                Err(e) => done.push(format!("could not start {}: {e}", n.name)),
            }
            done
        });
        join_all(tasks).await.into_iter().flatten().collect()
    }

    /// Kill every daemon (resuming it first), in parallel, then unmount the nodes' lazyfs
    /// mounts; says what went wrong.
    pub async fn stop_all(&self) -> Vec<String> {
        let results = join_all(self.nodes.iter().map(|n| self.daemon(&n.name, "kill"))).await;
        let mut problems: Vec<String> = self
            .nodes
            .iter()
            .zip(results)
            .filter_map(|(n, r)| r.err().map(|e| format!("could not stop {}: {e}", n.name)))
            .collect();
        if self.lazyfs.is_some() {
            for line in self.unmount_lazyfs().await {
                if line.starts_with("could not") {
                    problems.push(line);
                } else {
                    tracing::info!("{line}");
                }
            }
        }
        problems
    }

    /// Remove every node's data folder (call it once the daemons are stopped); one line per node that
    /// had one, and per node where that failed.
    pub async fn wipe_data(&self) -> Vec<String> {
        let tasks = self.nodes.iter().map(|n| async move {
            let data = quote(&n.data_dir.display().to_string());
            let script = format!("if [ -e {data} ]; then rm -rf {data} && echo wiped; fi");
            (n, self.shell_ok(&n.name, &script, EXEC_LIMIT).await)
        });
        let mut lines = Vec::new();
        for (node, result) in join_all(tasks).await {
            match result {
                Ok(out) if out.trim() == "wiped" => lines.push(format!(
                    "wiped the data of {} ({})",
                    node.name,
                    node.data_dir.display()
                )),
                Ok(_) => {}
                Err(e) => lines.push(format!("could not wipe the data of {}: {e}", node.name)),
            }
        }
        lines
    }

    /// Copy every node's daemon log into `folder/<node>/node.log`.
    pub async fn download_logs(&self, folder: &Path) {
        let tasks = self.nodes.iter().map(|n| async move {
            let log = n.log_file.display().to_string();
            let text = self
                .shell_ok(
                    &n.name,
                    &format!("cat {} 2>/dev/null || true", quote(&log)),
                    EXEC_LIMIT,
                )
                .await;
            (n.name.clone(), text)
        });
        for (node, text) in join_all(tasks).await {
            let dir = folder.join(&node);
            match text {
                Ok(text) => {
                    let _ = std::fs::create_dir_all(&dir);
                    let _ = std::fs::write(dir.join("node.log"), text);
                }
                Err(e) => tracing::warn!("cannot download the log of {node}: {e}"),
            }
        }
    }

    /// Stop the daemons unless told to leave them running (blocking; for `Drop` and
    /// for error paths outside the runtime).
    pub(super) fn stop_blocking(&self) {
        for (i, node) in self.nodes.iter().enumerate() {
            let program = self.program(node);
            let script = format!(
                "{}if alive; then kill -CONT $pid; {} fi",
                prelude(&self.node_dir(&node.name), &program),
                if self.leave_running {
                    ""
                } else {
                    "kill -KILL $pid; rm -f \"$P\";"
                }
            );
            let script = if self.lazyfs.is_some() && !self.leave_running {
                format!(
                    "{script}\n{}{LAZYFS_TEARDOWN}",
                    lazyfs_prelude(&self.node_dir(&node.name), node, "")
                )
            } else {
                script
            };
            let command = wrap(&self.spec, &script);
            let limit = self.spec.timeout.max(Duration::from_secs(10));
            let result =
                self.workers[i].call_blocking(move |link| link.with(|c| c.exec(&command, limit)));
            if let Err(e) = result {
                tracing::warn!("{e}");
            }
        }
    }
}

impl Drop for SshCluster {
    fn drop(&mut self) {
        if self.system.is_some() {
            self.stop_blocking();
        }
    }
}

/// Learn who we are on the node and check that we may act as root; make the node folder.
fn probe(
    c: &mut super::session::Connection,
    node: &str,
    spec: &SshSpec,
    dir: &str,
) -> Result<NodeInfo, SshError> {
    let limit = c.timeout().max(Duration::from_secs(5));
    let out = c.exec("echo \"$SSH_CLIENT\"; id -u", limit)?;
    let mut lines = out.stdout.lines();
    let controller_addr = lines
        .next()
        .and_then(|l| l.split_whitespace().next())
        .map(str::to_string);
    let uid = lines.next().unwrap_or("").trim().to_string();
    if spec.sudo {
        let out = c.exec("sudo -n true", limit)?;
        if out.status == 127 || out.stderr.contains("not found") {
            return Err(SshError::NoSudo {
                node: node.to_string(),
            });
        }
        if out.status != 0 {
            return Err(SshError::SudoRefused {
                node: node.to_string(),
                user: spec.username.clone(),
                why: one_line(
                    &out.stderr
                        .lines()
                        .filter(|l| !l.contains("chdir to home"))
                        .collect::<Vec<_>>()
                        .join("\n"),
                    200,
                ),
            });
        }
    } else if uid != "0" {
        return Err(SshError::NotRoot {
            node: node.to_string(),
            user: spec.username.clone(),
        });
    }
    let command = wrap(spec, &format!("mkdir -p {}", quote(dir)));
    let out = c.exec(&command, limit)?;
    require(node, &command, &out)?;
    Ok(NodeInfo { controller_addr })
}

/// Run `tasks`, one a node, at once; the error names every node's failure.
async fn on_every_node<T, E: std::fmt::Display>(
    tasks: impl IntoIterator<Item = impl std::future::Future<Output = Result<T, E>>>,
) -> anyhow::Result<()> {
    let errors = failures(tasks).await;
    if !errors.is_empty() {
        anyhow::bail!("{}", errors.join("; "));
    }
    Ok(())
}
