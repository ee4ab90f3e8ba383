//! ZooKeeper (Debian's `zookeeper`, 3.8) as a system under test: an ensemble of one JVM per
//! node, run in the foreground (`java ... QuorumPeerMain zoo.cfg`) so the local target can
//! signal it, with `zoo.cfg` beside the node's data folder and `myid` inside it; and a client
//! on the `zookeeper-client` crate, one session per worker on the worker's own server.
//!
//! Each node listens for clients on its client address and for the quorum and leader
//! election on its two extra ports, on the node's own host.
//!
//! Keys are znodes `/faultline_<key>` holding the JSON value. Reads: `sync` (a `sync` first,
//! so the server catches up with the leader) or `local` (a plain read answered by the
//! session's server alone, which ZooKeeper allows to be stale). A cas reads the znode and
//! sets it with the version read, so the leader refuses it if anything came between.
//!
//! Transactions (`--workload append`, `wr`) are optimistic: the client reads every znode
//! the txn touches (after one `sync` under `sync` reads), runs the micro-ops on what it read
//! (an append stores the list read plus the element, as JSON), then sends one `multi`: for
//! each znode read with version `n`, `setData(path, new, n)` when the txn writes it, else
//! `check(path, n)`; for each znode that was absent, `create(path, new)` when the txn writes
//! it, else `create` then `delete` (which fails if someone created it meanwhile). The
//! `multi` goes through the leader and applies all of its ops or none: a failed check is a
//! lost race, nothing was applied, `fail`. Read-only txns send the checks too, so their
//! reads are validated as one snapshot at the commit point.
//!
//! Faults: kill, pause, clock skew through libfaketime (the JVM reads time through libc), and
//! membership changes through `reconfig` ([`super::zookeeper_membership`]).
//!
//! Outcomes: an operation that could not even get a session is `fail`; a write or cas that
//! was sent and then timed out or lost its connection is `info`; a failed read is `fail`.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zookeeper_client as zk;

use super::install::Program;
use super::key_path::encode_key;
use super::node::NodeShell;
use super::reads::ZkReads;
use super::versioned::{Failure, Version, Versioned, VersionedStore};
use super::zookeeper_membership::{ZkMembership, ZkRejoins};
use super::{decode_value, node_logs, Client, NodeSpec, StartCommand, System, SystemError};
use super::{poll_ready, SystemResult};
use crate::spec::systems::InstallMode;

/// The jar of the ZooKeeper server; its manifest names the libraries it needs.
const ZOOKEEPER_JAR: &str = "/usr/share/java/zookeeper.jar";
/// A logging backend for slf4j (from `libslf4j-java`, a dependency of the package), so the
/// server logs to stderr, which the local target writes to the node's log.
const SLF4J_SIMPLE_JAR: &str = "/usr/share/java/slf4j-simple.jar";

/// ZooKeeper on the nodes of one test.
#[derive(Debug)]
pub struct ZkSystem {
    reads: ZkReads,
    java: Program,
    jar: Program,
    install: InstallMode,
    rejoins: ZkRejoins,
}

impl ZkSystem {
    /// ZooKeeper whose clients read at `reads`, installed on the nodes as `install` says.
    pub fn new(reads: ZkReads, install: InstallMode) -> Self {
        ZkSystem {
            reads,
            install,
            java: Program::new(
                "/usr/bin/java",
                "default-jre-headless",
                "FAULTLINE_JAVA_BIN",
            ),
            jar: Program::new(ZOOKEEPER_JAR, "zookeeper", "FAULTLINE_ZOOKEEPER_JAR"),
            rejoins: ZkRejoins::default(),
        }
    }
}

fn config_path(node: &NodeSpec) -> PathBuf {
    node.node_dir().join("zoo.cfg")
}

/// The dynamic configuration file `zoo.cfg` names: the ensemble, which `reconfig` changes
/// (ZooKeeper then writes `zoo.cfg.dynamic.<version>` and points `zoo.cfg` at it).
fn dynamic_config_path(node: &NodeSpec) -> PathBuf {
    node.node_dir().join("zoo.cfg.dynamic")
}

/// `server.N=HOST:QUORUM:ELECTION:participant;HOST:CLIENT`: `node` in the ensemble.
pub(crate) fn server_line(node: &NodeSpec) -> Result<String, SystemError> {
    let quorum = node.extra_addr(0)?;
    let election = node.extra_addr(1)?;
    let port = election.rsplit_once(':').map_or("", |(_, p)| p);
    Ok(format!(
        "server.{}={quorum}:{port}:participant;{}",
        node.id, node.client_addr
    ))
}

/// The ensemble's dynamic configuration: one [`server_line`] per node.
pub(crate) fn ensemble(cluster: &[NodeSpec]) -> Result<String, SystemError> {
    let mut text = String::new();
    for n in cluster {
        text.push_str(&server_line(n)?);
        text.push('\n');
    }
    Ok(text)
}

/// The static part of `node`'s configuration, its ensemble in `dynamic` (`None` for a
/// single node: a standalone server): short ticks so elections and failure detection take
/// seconds. An ensemble runs with dynamic reconfiguration on (`reconfig`, for the
/// `membership` nemesis), ACL checks skipped so any client may reconfigure it, and never
/// standalone, so it may shrink to two servers.
pub(crate) fn static_config(node: &NodeSpec, dynamic: Option<&std::path::Path>) -> String {
    let mut text = format!(
        "tickTime=500\ninitLimit=20\nsyncLimit=6\ndataDir={}\n\
         4lw.commands.whitelist=srvr,ruok\nadmin.enableServer=false\nmaxClientCnxns=0\n",
        node.data_dir.display(),
    );
    match dynamic {
        Some(path) => text.push_str(&format!(
            "reconfigEnabled=true\nstandaloneEnabled=false\nskipACL=yes\n\
             dynamicConfigFile={}\n",
            path.display()
        )),
        None => text.push_str(&format!(
            "clientPort={}\nclientPortAddress={}\n",
            node.client_port(),
            node.host()
        )),
    }
    text
}

/// `zoo.cfg` of `node` (see [`static_config`]); an ensemble's servers are in its dynamic file.
fn config(node: &NodeSpec, cluster: &[NodeSpec]) -> Result<String, SystemError> {
    if cluster.len() > 1 {
        // Every node's ports are checked before any file is written.
        ensemble(cluster)?;
        Ok(static_config(node, Some(&dynamic_config_path(node))))
    } else {
        Ok(static_config(node, None))
    }
}

/// `myid` in the data folder: which `server.N` line of `zoo.cfg` this node is.
async fn write_myid(shell: &dyn NodeShell, node: &NodeSpec) -> Result<(), SystemError> {
    shell
        .write_file(
            node,
            &node.data_dir.join("myid"),
            format!("{}\n", node.id).as_bytes(),
        )
        .await
}

/// What `srvr` says a server is: `leader`, `follower`, `standalone`, or nothing yet.
pub(crate) async fn mode(node: &NodeSpec) -> Result<String, String> {
    let ask = async {
        let mut stream = tokio::net::TcpStream::connect(&node.client_addr).await?;
        stream.write_all(b"srvr").await?;
        let mut text = String::new();
        stream.read_to_string(&mut text).await?;
        Ok::<_, std::io::Error>(text)
    };
    let text = tokio::time::timeout(Duration::from_millis(800), ask)
        .await
        .map_err(|_| format!("no answer from {}", node.client_addr))?
        .map_err(|e| format!("cannot ask {}: {e}", node.client_addr))?;
    text.lines()
        .find_map(|l| l.strip_prefix("Mode: "))
        .map(|m| m.trim().to_string())
        .ok_or_else(|| format!("not serving yet ({})", text.lines().next().unwrap_or("")))
}

#[async_trait]
impl System for ZkSystem {
    fn name(&self) -> &str {
        "zookeeper"
    }

    async fn setup(&self, shell: &dyn NodeShell, cluster: &[NodeSpec]) -> Result<(), SystemError> {
        let programs = [&self.java, &self.jar];
        super::set_up_with_config_files(
            self,
            shell,
            cluster,
            &programs,
            self.install,
            config,
            config_path,
        )
        .await
    }

    /// Empties the data folder and writes `myid` back: the server's identity lives there.
    /// An ensemble's configuration is written afresh too, as ZooKeeper rewrites `zoo.cfg`
    /// when its membership changes.
    async fn wipe(
        &self,
        shell: &dyn NodeShell,
        node: &NodeSpec,
        cluster: &[NodeSpec],
    ) -> SystemResult {
        super::wipe_data_dir(shell, node).await?;
        write_myid(shell, node).await?;
        self.rejoins.forget(&node.name);
        if cluster.len() > 1 {
            let dynamic = dynamic_config_path(node);
            shell
                .write_file(node, &dynamic, ensemble(cluster)?.as_bytes())
                .await?;
            let text = static_config(node, Some(&dynamic));
            shell
                .write_file(node, &config_path(node), text.as_bytes())
                .await?;
        }
        Ok(())
    }

    fn start_command(&self, node: &NodeSpec, _cluster: &[NodeSpec]) -> Option<StartCommand> {
        // The JVM skips a classpath entry that is not there: the jar is named whether or not
        // the node has it (it is on the node, not the controller, that it matters).
        let classpath = format!("{}:{SLF4J_SIMPLE_JAR}", self.jar.path.display());
        let args = [
            "-Xmx256m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Djava.net.preferIPv4Stack=true",
            "-Dorg.slf4j.simpleLogger.showDateTime=true",
            "-Dzookeeper.admin.enableServer=false",
            "-cp",
            &classpath,
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
        ];
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let Some(rejoin) = self.rejoins.get(&node.name) else {
            args.push(config_path(node).display().to_string());
            return Some(StartCommand {
                program: self.java.path.clone(),
                args,
                env: Vec::new(),
            });
        };
        // A rejoined server starts on a configuration naming the ensemble it joins, written
        // by its first start on the node itself (any target) and kept up to date by
        // ZooKeeper from then on; `exec` keeps the pid the target watches.
        let cfg = node
            .node_dir()
            .join(format!("zoo-rejoin-{}.cfg", rejoin.generation));
        let dynamic = node
            .node_dir()
            .join(format!("zoo-rejoin-{}.cfg.dynamic", rejoin.generation));
        let word = |p: &std::path::Path| crate::spec::shell_word(&p.display().to_string());
        let mut java = vec![word(&self.java.path)];
        java.extend(args.iter().map(|a| crate::spec::shell_word(a)));
        java.push(word(&cfg));
        let script = format!(
            "[ -e {cfg} ] || {{ printf '%s' \"$FAULTLINE_ZK_ENSEMBLE\" > {dynamic} && \
             printf '%s' \"$FAULTLINE_ZK_STATIC\" > {cfg}; }} && exec {}",
            java.join(" "),
            cfg = word(&cfg),
            dynamic = word(&dynamic),
        );
        Some(StartCommand {
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".to_string(), script],
            env: vec![
                ("FAULTLINE_ZK_ENSEMBLE".to_string(), rejoin.ensemble),
                (
                    "FAULTLINE_ZK_STATIC".to_string(),
                    static_config(node, Some(&dynamic)),
                ),
            ],
        })
    }

    fn resume_rejoins(&self, node: &NodeSpec, cluster: &[NodeSpec], lives: u32) {
        if let Ok(ensemble) = ensemble(cluster) {
            self.rejoins.resume(&node.name, lives, ensemble);
        }
    }

    fn membership(
        &self,
        cluster: &[NodeSpec],
        process: std::sync::Arc<dyn faultline_nemeses::control::ProcessControl>,
        _shell: std::sync::Arc<dyn crate::systems::node::NodeShell>,
    ) -> Option<std::sync::Arc<dyn faultline_nemeses::membership::Membership>> {
        let membership = ZkMembership::new(cluster, process, self.rejoins.clone());
        Some(std::sync::Arc::new(membership))
    }

    async fn await_ready(&self, cluster: &[NodeSpec], timeout: Duration) -> SystemResult {
        poll_ready("zookeeper", timeout, || async {
            let mut missing = Vec::new();
            let mut leaders = 0;
            for node in cluster {
                match mode(node).await.as_deref() {
                    Ok("leader") | Ok("standalone") => leaders += 1,
                    Ok("follower") => {}
                    Ok(other) => missing.push(format!(
                        "{} is {other}; read its log {}",
                        node.name,
                        node.log_file.display()
                    )),
                    Err(e) => missing.push(format!(
                        "{} did not join: {e}; read its log {}",
                        node.name,
                        node.log_file.display()
                    )),
                }
            }
            if missing.is_empty() && leaders != 1 {
                missing.push(format!(
                    "{leaders} servers say they lead; read the logs: {}",
                    node_logs(cluster)
                ));
            }
            missing
        })
        .await
    }

    async fn leader(&self, cluster: &[NodeSpec]) -> Option<u64> {
        for node in cluster {
            if mode(node).await.as_deref() == Ok("leader") {
                return Some(node.id);
            }
        }
        None
    }

    fn client(&self, node: &NodeSpec, _: &[NodeSpec], op_timeout: Duration) -> Box<dyn Client> {
        Box::new(ZkClient {
            addr: node.client_addr.clone(),
            node: node.name.clone(),
            op_timeout,
            reads: self.reads,
            session: None,
        })
    }
}

/// One worker's ZooKeeper session, on its own node's server only (so `local` reads are that
/// server's), reopened after it is lost.
pub struct ZkClient {
    addr: String,
    node: String,
    op_timeout: Duration,
    reads: ZkReads,
    session: Option<zk::Client>,
}

/// Why an operation did not complete.
enum ZkFailure {
    /// Nothing was sent.
    NotSent(String),
    /// The server answered with an error.
    Answered(zk::Error),
    /// No answer in time.
    TimedOut,
}

impl ZkClient {
    async fn session(&mut self) -> Result<zk::Client, ZkFailure> {
        if let Some(session) = &self.session {
            if !session.state().is_terminated() {
                return Ok(session.clone());
            }
        }
        let connect = zk::Client::connector()
            .with_session_timeout(Duration::from_secs(4))
            .with_connection_timeout(self.op_timeout)
            .with_fail_eagerly()
            .connect(&self.addr);
        let session = match tokio::time::timeout(self.op_timeout, connect).await {
            Ok(Ok(session)) => session,
            Ok(Err(e)) => {
                return Err(ZkFailure::NotSent(format!(
                    "no session with {}: {e}",
                    self.node
                )))
            }
            Err(_) => {
                return Err(ZkFailure::NotSent(format!(
                    "no session with {} within {:?}",
                    self.node, self.op_timeout
                )))
            }
        };
        self.session = Some(session.clone());
        Ok(session)
    }

    /// Run one request, with the op timeout; a lost session is dropped for the next op.
    async fn run<T>(
        &mut self,
        request: impl std::future::Future<Output = Result<T, zk::Error>>,
    ) -> Result<T, ZkFailure> {
        match tokio::time::timeout(self.op_timeout, request).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                if matches!(
                    e,
                    zk::Error::ConnectionLoss
                        | zk::Error::SessionExpired
                        | zk::Error::ClientClosed
                        | zk::Error::Timeout
                ) {
                    self.session = None;
                }
                Err(ZkFailure::Answered(e))
            }
            Err(_) => {
                self.session = None;
                Err(ZkFailure::TimedOut)
            }
        }
    }

    fn describe(&self, failure: &ZkFailure) -> String {
        match failure {
            ZkFailure::NotSent(e) => e.clone(),
            ZkFailure::Answered(e) => format!("{}: {e}", self.node),
            ZkFailure::TimedOut => {
                format!("no answer from {} within {:?}", self.node, self.op_timeout)
            }
        }
    }

    /// What a failed request means for a write: certainly not applied, or maybe.
    fn failure(&self, failure: ZkFailure) -> Failure {
        let why = self.describe(&failure);
        match failure {
            ZkFailure::NotSent(_)
            | ZkFailure::Answered(
                zk::Error::NoNode
                | zk::Error::NodeExists
                | zk::Error::BadVersion
                | zk::Error::BadArguments(_)
                | zk::Error::NoAuth
                | zk::Error::NotReadOnly,
            ) => Failure::NotApplied(why),
            _ => Failure::Unknown(why),
        }
    }

    /// Write one znode whatever its version: set it, or create it when absent.
    async fn blind_write(&mut self, path: &str, value: &Value) -> Result<(), ZkFailure> {
        let session = self.session().await?;
        let data = value.to_string().into_bytes();
        let mut result = self
            .run(session.set_data(path, &data, None))
            .await
            .map(|_| ());
        if let Err(ZkFailure::Answered(zk::Error::NoNode)) = result {
            let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
            result = self
                .run(session.create(path, &data, &options))
                .await
                .map(|_| ());
            if let Err(ZkFailure::Answered(zk::Error::NodeExists)) = result {
                result = self
                    .run(session.set_data(path, &data, None))
                    .await
                    .map(|_| ());
            }
        }
        result
    }

    async fn read_node(&mut self, path: &str) -> Result<Option<(Value, i32)>, ZkFailure> {
        let session = self.session().await?;
        if self.reads == ZkReads::Sync {
            self.run(session.sync(path)).await?;
        }
        match self.run(session.get_data(path)).await {
            Ok((data, stat)) => decode_value(&data)
                .map(|v| Some((v, stat.version)))
                .map_err(ZkFailure::NotSent),
            Err(ZkFailure::Answered(zk::Error::NoNode)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// ZooKeeper as a versioned store: a snapshot reads each znode (after a `sync` when reads
/// are `sync`) with its `version`; a commit is one `multi` that checks or sets every znode read
/// at the version read (creating the ones that were absent), so it applies all or nothing.
/// Reads of several znodes are not one request, so a multi-key read is checked by a `multi`
/// of version checks.
#[async_trait]
impl VersionedStore for ZkClient {
    fn system(&self) -> &'static str {
        "zookeeper"
    }

    fn path(&self, key: &str) -> String {
        format!("/faultline_{}", encode_key(key))
    }

    fn consistent_snapshots(&self) -> bool {
        false
    }

    async fn snapshot(&mut self, paths: &[String]) -> Result<Vec<Versioned>, Failure> {
        let mut snapshot = Vec::with_capacity(paths.len());
        for path in paths {
            let read = match self.read_node(path).await {
                Ok(read) => read,
                Err(e) => return Err(Failure::NotApplied(self.describe(&e))),
            };
            snapshot.push(Versioned::at_revision(read.map(|(v, n)| (v, n as u64))));
        }
        Ok(snapshot)
    }

    async fn commit(
        &mut self,
        read: &[(String, Versioned)],
        writes: &[(String, Value)],
    ) -> Result<bool, Failure> {
        if read.is_empty() {
            return match writes {
                [(path, value)] => match self.blind_write(path, value).await {
                    Ok(()) => Ok(true),
                    Err(e) => Err(self.failure(e)),
                },
                _ => Err(Failure::NotApplied(
                    "zookeeper writes blindly one znode at a time".to_string(),
                )),
            };
        }
        let session = match self.session().await {
            Ok(session) => session,
            Err(e) => return Err(self.failure(e)),
        };
        let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
        let mut multi = session.new_multi_writer();
        for (path, versioned) in read {
            let version = match versioned.version {
                Version::Revision(v) => v.map(|v| v as i32),
                Version::Value => unreachable!("zookeeper snapshots carry versions"),
            };
            let written = writes
                .iter()
                .find(|(p, _)| p == path)
                .map(|(_, v)| v.to_string().into_bytes());
            let added = match (version, written) {
                (Some(version), Some(data)) => multi.add_set_data(path, &data, Some(version)),
                (Some(version), None) => multi.add_check_version(path, version),
                (None, Some(data)) => multi.add_create(path, &data, &options).map(|_| ()),
                (None, None) => multi
                    .add_create(path, b"null", &options)
                    .and_then(|_| multi.add_delete(path, None)),
            };
            if let Err(e) = added {
                return Err(Failure::NotApplied(format!("cannot build the multi: {e}")));
            }
        }
        let commit = multi.commit();
        let committed = self
            .run(async move {
                match commit.await {
                    Ok(_) => Ok(true),
                    // One op failed (a version changed): the server applied none of them.
                    Err(zk::MultiWriteError::OperationFailed { .. }) => Ok(false),
                    Err(zk::MultiWriteError::RequestFailed { source }) => Err(source),
                }
            })
            .await;
        committed.map_err(|e| self.failure(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: u64) -> NodeSpec {
        crate::systems::test_node(id, 2181, &[2888, 3888])
    }

    #[test]
    fn an_ensemble_is_reconfigurable_and_lists_every_server_on_its_own_host() {
        let cluster = [node(1), node(2), node(3)];
        let text = config(&cluster[1], &cluster).unwrap();
        crate::systems::assert_has_all(
            &text,
            &[
                "reconfigEnabled=true\nstandaloneEnabled=false\nskipACL=yes\n",
                "dynamicConfigFile=/run/n2/zoo.cfg.dynamic\n",
                "dataDir=/run/n2/data\n",
            ],
        );
        assert!(
            !text.contains("server.") && !text.contains("clientPort"),
            "{text}"
        );
        let servers = ensemble(&cluster).unwrap();
        crate::systems::assert_has_all(
            &servers,
            &[
                "server.1=127.0.1.1:2888:3888:participant;127.0.1.1:2181\n",
                "server.3=127.0.1.3:2888:3888:participant;127.0.1.3:2181\n",
            ],
        );
        let alone = config(&cluster[0], &cluster[..1]).unwrap();
        assert!(
            !alone.contains("server.") && !alone.contains("reconfig"),
            "{alone}"
        );
        assert!(alone.contains("clientPort=2181\nclientPortAddress=127.0.1.1\n"));
    }

    #[test]
    fn too_few_ports_is_an_error_naming_the_node() {
        let mut short = node(2);
        short.extra_ports.truncate(1);
        let err = config(&node(1), &[node(1), short]).unwrap_err().to_string();
        assert!(err.contains("n2"), "{err}");
    }

    #[tokio::test]
    async fn wiping_a_node_empties_its_data_but_keeps_its_id() {
        let dir = tempfile::tempdir().unwrap();
        let mut n = node(3);
        n.data_dir = dir.path().join("data");
        std::fs::create_dir_all(n.data_dir.join("version-2")).unwrap();
        std::fs::write(n.data_dir.join("version-2/log.1"), "x").unwrap();
        ZkSystem::new(ZkReads::Sync, InstallMode::None)
            .wipe(&super::super::node::LocalShell, &n, &[])
            .await
            .unwrap();
        assert!(!n.data_dir.join("version-2").exists());
        assert_eq!(
            std::fs::read_to_string(n.data_dir.join("myid")).unwrap(),
            "3\n"
        );
    }

    #[test]
    fn the_jvm_runs_in_the_foreground_on_the_node_config() {
        let cluster = [node(1)];
        let command = ZkSystem::new(ZkReads::Sync, InstallMode::None)
            .start_command(&cluster[0], &cluster)
            .unwrap();
        let args = command.args.join(" ");
        assert!(args.contains("QuorumPeerMain /run/n1/zoo.cfg"), "{args}");
        assert!(args.contains("zookeeper.jar"), "{args}");
    }

    #[test]
    fn a_rejoined_server_starts_on_the_ensemble_it_joins_written_once() {
        let cluster = [node(1), node(2)];
        let system = ZkSystem::new(ZkReads::Sync, InstallMode::None);
        system.rejoins.forget("n2");
        let ensemble = ensemble(&cluster).unwrap();
        let _ = system_rejoin(&system, "n2", &ensemble);
        let command = system.start_command(&cluster[1], &cluster).unwrap();
        assert_eq!(command.program, PathBuf::from("/bin/sh"));
        let script = &command.args[1];
        assert!(
            script.starts_with("[ -e /run/n2/zoo-rejoin-1.cfg ] ||"),
            "{script}"
        );
        assert!(script.contains("exec /usr/bin/java"), "{script}");
        assert!(
            script.ends_with("QuorumPeerMain /run/n2/zoo-rejoin-1.cfg"),
            "{script}"
        );
        let env: std::collections::BTreeMap<_, _> = command.env.into_iter().collect();
        assert_eq!(env["FAULTLINE_ZK_ENSEMBLE"], ensemble);
        assert!(env["FAULTLINE_ZK_STATIC"]
            .contains("dynamicConfigFile=/run/n2/zoo-rejoin-1.cfg.dynamic\n"));
        let first = system.start_command(&cluster[0], &cluster).unwrap();
        assert_eq!(first.program, PathBuf::from("/usr/bin/java"));
    }

    fn system_rejoin(system: &ZkSystem, node: &str, ensemble: &str) -> u32 {
        system.rejoins.next_for_tests(node, ensemble)
    }
}
