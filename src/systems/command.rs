//! `--system command --db-command SCRIPT`: a system whose lifecycle is one executable of the
//! user's, in any language, run on each node (locally in the node's namespace; copied to SSH
//! and docker nodes):
//!
//! - `SCRIPT setup`: install and configure (idempotent), after faultline emptied the data folder;
//! - `SCRIPT start`: run the node **in the foreground** (`exec` the server): that process is
//!   the node, so kill, pause and clock faults act on it as on a built-in system;
//! - `SCRIPT teardown`: after the nodes stopped, at the end of the run.
//!
//! For `--nemesis membership`, `SCRIPT members`, `SCRIPT remove NODE` and `SCRIPT add NODE`
//! run on the controller (see [`super::command_membership`]). `SCRIPT leader`, also on the
//! controller and optional, prints the current leader's node name, for faults aimed at the
//! leader (without it they are skipped, saying the system cannot name its leader).
//!
//! `--db-packages` names the Debian packages the script needs; they are installed where
//! missing before `SCRIPT setup`, as `--install-mode` installs the built-in systems' own.
//!
//! Each call gets the node in its environment: `FAULTLINE_NODE`, `FAULTLINE_NODE_INDEX`
//! (1-based), `FAULTLINE_NODES`, `FAULTLINE_HOST`, `FAULTLINE_CLIENT_PORT`,
//! `FAULTLINE_PEER_PORT`, `FAULTLINE_PEERS` (`n1=host:peerport,...`), `FAULTLINE_CLIENTS`
//! (`n1=host:clientport,...`), `FAULTLINE_DATA_DIR` and `FAULTLINE_LOG_DIR`. The cluster is
//! ready when every node accepts connections on its client port. The client is the user's
//! too (`--client-command`): faultline ships none for this system.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use faultline_workloads::op::OpRequest;
use serde_json::Value;

use super::command_membership::{rejoin_environment, CommandMembership, Rejoins};
use super::command_steps::{controller_step, environment, StepRun};
use super::install::{self, Program};
use super::node::{NodeShell, SETUP_LIMIT};
use super::{poll_ready, wipe_data_dir, Client, Completion, NodeSpec, StartCommand, System};
use super::{SystemError, SystemResult};
use crate::spec::systems::InstallMode;
use faultline_nemeses::control::ProcessControl;
use faultline_nemeses::membership::Membership;
use std::sync::Arc;

/// How long `SCRIPT leader` may take.
const LEADER_LIMIT: Duration = Duration::from_secs(10);

/// The `command` system over one lifecycle script.
pub struct CommandSystem {
    /// The script on the controller.
    script: PathBuf,
    /// Where `setup` put the script on each node (the same path on the local target).
    staged: Mutex<BTreeMap<String, PathBuf>>,
    /// `--db-packages`, installed where missing before `SCRIPT setup`.
    packages: Vec<Program>,
    install: InstallMode,
    /// Nodes the membership nemesis added back, and how they start now.
    rejoins: Rejoins,
}

impl CommandSystem {
    /// The system of `script` (an executable file on the controller), whose nodes need the
    /// Debian `packages`, installed as `install` says.
    pub fn new(script: PathBuf, packages: &[String], install: InstallMode) -> Self {
        CommandSystem {
            script,
            staged: Mutex::new(BTreeMap::new()),
            packages: packages.iter().map(|p| Program::package(p)).collect(),
            install,
            rejoins: Rejoins::default(),
        }
    }

    fn script_on(&self, node: &NodeSpec) -> PathBuf {
        self.staged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&node.name)
            .cloned()
            .unwrap_or_else(|| self.script.clone())
    }

    /// Run `SCRIPT action` on `node` with its environment; an error with its last stderr.
    async fn call(
        &self,
        shell: &dyn NodeShell,
        node: &NodeSpec,
        cluster: &[NodeSpec],
        action: &str,
    ) -> SystemResult {
        let mut line = String::new();
        for (name, value) in environment(node, cluster) {
            line.push_str(&format!("{name}={} ", quote(&value)));
        }
        line.push_str(&format!(
            "{} {action}",
            quote(&self.script_on(node).display().to_string())
        ));
        let out = shell.run(node, &line, SETUP_LIMIT).await?;
        if out.status != 0 {
            return Err(SystemError::Setup {
                node: node.name.clone(),
                reason: format!(
                    "`{} {action}` exited with {}: {}",
                    self.script.display(),
                    out.status,
                    last_lines(&out.stderr, 5)
                ),
            });
        }
        Ok(())
    }
}

/// Checks, before a run, that `script` is a file this user can execute.
pub(crate) fn check_script(script: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let meta =
        std::fs::metadata(script).map_err(|e| format!("--db-command {}: {e}", script.display()))?;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err(format!(
            "--db-command {} is not an executable file: chmod +x it (it is run as `SCRIPT setup|start|teardown`)",
            script.display()
        ));
    }
    Ok(())
}

fn quote(word: &str) -> String {
    shlex::try_quote(word).map_or_else(|_| format!("'{word}'"), |q| q.into_owned())
}

/// The last `n` non-empty lines of `text`, on one line.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

#[async_trait]
impl System for CommandSystem {
    fn name(&self) -> &str {
        "command"
    }

    async fn setup(&self, shell: &dyn NodeShell, cluster: &[NodeSpec]) -> SystemResult {
        let packages: Vec<&Program> = self.packages.iter().collect();
        install::ensure(shell, cluster, &packages, self.install).await?;
        for node in cluster {
            wipe_data_dir(shell, node).await?;
            let staged = shell.stage(node, &self.script).await?;
            self.staged
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(node.name.clone(), staged);
            self.call(shell, node, cluster, "setup").await?;
        }
        Ok(())
    }

    fn start_command(&self, node: &NodeSpec, cluster: &[NodeSpec]) -> Option<StartCommand> {
        let mut env = environment(node, cluster);
        if let Some(rejoin) = self.rejoins.get(&node.name) {
            // A later variable of the same name wins (FAULTLINE_DATA_DIR).
            env.extend(rejoin_environment(node, &rejoin));
        }
        Some(StartCommand {
            program: self.script_on(node),
            args: vec!["start".to_string()],
            env: env
                .into_iter()
                .map(|(name, value)| (name.to_string(), value))
                .collect(),
        })
    }

    fn resume_rejoins(&self, node: &NodeSpec, cluster: &[NodeSpec], lives: u32) {
        let members = cluster.iter().map(|n| n.name.clone()).collect();
        self.rejoins.resume(&node.name, lives, members);
    }

    fn membership(
        &self,
        cluster: &[NodeSpec],
        process: Arc<dyn ProcessControl>,
        _shell: Arc<dyn super::node::NodeShell>,
    ) -> Option<Arc<dyn Membership>> {
        Some(Arc::new(CommandMembership::new(
            self.script.clone(),
            cluster,
            process,
            self.rejoins.clone(),
        )))
    }

    async fn teardown(&self, shell: &dyn NodeShell, cluster: &[NodeSpec]) -> SystemResult {
        for node in cluster {
            self.call(shell, node, cluster, "teardown").await?;
        }
        Ok(())
    }

    async fn await_ready(&self, cluster: &[NodeSpec], timeout: Duration) -> SystemResult {
        poll_ready("command", timeout, || async {
            let mut missing = Vec::new();
            for node in cluster {
                let connect = tokio::net::TcpStream::connect(&node.client_addr);
                match tokio::time::timeout(Duration::from_millis(500), connect).await {
                    Ok(Ok(_)) => {}
                    _ => missing.push(format!(
                        "{} does not accept connections on {} (FAULTLINE_CLIENT_PORT); its \
                         `start` wrote: {}",
                        node.name,
                        node.client_addr,
                        std::fs::read_to_string(&node.log_file)
                            .map(|log| last_lines(&log, 5))
                            .unwrap_or_else(|_| format!("see {}", node.log_file.display()))
                    )),
                }
            }
            missing
        })
        .await
    }

    /// `SCRIPT leader`, run on the controller, prints the leader's node name. A script
    /// without the step (any exit but 0), or an answer naming no node, means no leader is
    /// known, and faults aimed at the leader are skipped.
    async fn leader(&self, cluster: &[NodeSpec]) -> Option<u64> {
        let (what, run) =
            controller_step(&self.script, "leader", None, cluster, LEADER_LIMIT).await;
        let StepRun::Exited(out) = run else {
            tracing::debug!("{what}: no answer");
            return None;
        };
        let name = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let leader = cluster
            .iter()
            .find(|n| out.status.success() && n.name == name);
        if leader.is_none() {
            tracing::debug!(status = ?out.status.code(), stdout = %name, "{what}: no leader named");
        }
        leader.map(|n| n.id)
    }

    fn client(&self, _node: &NodeSpec, _: &[NodeSpec], _: Duration) -> Box<dyn Client> {
        Box::new(NoClient)
    }
}

/// `--system command` has no client of faultline's: the spec refuses it without
/// `--client-command`, so this one only says so should it ever be asked.
struct NoClient;

#[async_trait]
impl Client for NoClient {
    async fn invoke(&mut self, _op: &OpRequest) -> Completion {
        Completion::fail(
            Value::Null,
            "--system command has no built-in client: give --client-command",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_names_the_node_its_ports_and_its_peers() {
        let cluster = [
            crate::systems::test_node(1, 9000, &[9100]),
            crate::systems::test_node(2, 9000, &[9100]),
        ];
        let env: BTreeMap<_, _> = environment(&cluster[1], &cluster).into_iter().collect();
        assert_eq!(env["FAULTLINE_NODE"], "n2");
        assert_eq!(env["FAULTLINE_NODE_INDEX"], "2");
        assert_eq!(env["FAULTLINE_NODES"], "n1,n2");
        assert_eq!(env["FAULTLINE_HOST"], "127.0.1.2");
        assert_eq!(env["FAULTLINE_CLIENT_PORT"], "9000");
        assert_eq!(env["FAULTLINE_PEER_PORT"], "9100");
        assert_eq!(
            env["FAULTLINE_PEERS"],
            "n1=127.0.1.1:9100,n2=127.0.1.2:9100"
        );
        assert_eq!(
            env["FAULTLINE_CLIENTS"],
            "n1=127.0.1.1:9000,n2=127.0.1.2:9000"
        );
        assert_eq!(env["FAULTLINE_DATA_DIR"], "/run/n2/data");
    }

    #[test]
    fn a_script_must_be_an_executable_file() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("db.sh");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        let err = check_script(&script).unwrap_err();
        assert!(err.contains("not an executable file: chmod +x"), "{err}");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        check_script(&script).unwrap();
        assert!(check_script(&dir.path().join("missing")).is_err());
    }
}
