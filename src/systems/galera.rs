//! MariaDB with Galera (Debian's `mariadb-server`, `galera-4`, `mariadb-backup`) as a system
//! under test: one `mariadbd` per node, replicating synchronously through the Galera provider
//! (group communication on the node's first extra port, incremental state transfer on the
//! second, full state transfers by `mariadb-backup` over `socat` on the third), and a client
//! on the `mysql_async` crate ([`super::galera_client`]).
//!
//! Set-up: every node's `my.cnf` is written; the first node's data folder is initialised
//! (`mariadb-install-db`, then the `faultline` user, database and tables, with replication
//! off); the other nodes start empty and receive the first node's data by a state snapshot
//! transfer (SST) when they join. The first node bootstraps the cluster
//! (`--wsrep-new-cluster`) on its first start only; every later start of any node rejoins
//! the cluster named in `wsrep_cluster_address`. A node killed mid-run recovers its position
//! from InnoDB first (`--wsrep-recover`, as Debian's `galera_recovery` does) so that it can
//! catch up by an incremental transfer (IST) instead of a full SST.
//!
//! Reads: `causal` (the default: `wsrep_sync_wait = 1`, Galera's causality check, so a read
//! waits until its node applied everything committed before it began) or `local` (the node
//! answers from what it applied so far, which may be stale). Isolation: `--isolation
//! read-committed | repeatable-read | serializable` is every session's transaction isolation.
//!
//! Faults: kill, pause, partition, clock (mariadbd is a C++ program: libfaketime skews it)
//! and membership ([`super::galera_membership`]: a node leaves the cluster by a clean
//! shutdown and rejoins).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use faultline_nemeses::control::ProcessControl;
use faultline_nemeses::membership::Membership;

use super::galera_client::{connect, status, GaleraClient, Isolation, Reads};
use super::install::Program;
use super::node::{quote, NodeShell, SETUP_LIMIT};
use super::{poll_ready, Client, NodeSpec, StartCommand, System, SystemError, SystemResult};
use crate::spec::systems::InstallMode;

/// The user, database and tables every client uses, created on the first node before the
/// cluster forms (so the first state transfer carries them to every other node).
pub(crate) const SCHEMA: &str = "FLUSH PRIVILEGES;\n\
     CREATE USER 'faultline'@'%';\n\
     GRANT ALL ON *.* TO 'faultline'@'%';\n\
     CREATE DATABASE faultline;\n\
     CREATE TABLE faultline.kv (k VARCHAR(191) PRIMARY KEY, v LONGTEXT NOT NULL) ENGINE=InnoDB;\n\
     CREATE TABLE faultline.lists (k VARCHAR(191) PRIMARY KEY, v LONGTEXT NOT NULL) \
     ENGINE=InnoDB;\n";

/// MariaDB Galera on the nodes of one test.
#[derive(Debug)]
pub struct GaleraSystem {
    reads: Reads,
    isolation: Isolation,
    install: InstallMode,
    server: Program,
    provider: Program,
    install_db: Program,
    backup: Program,
    socat: Program,
}

impl GaleraSystem {
    /// Galera whose clients read at `reads` and run every transaction at `isolation`,
    /// installed on the nodes as `install` says.
    pub fn new(reads: Reads, isolation: Isolation, install: InstallMode) -> Self {
        GaleraSystem {
            reads,
            isolation,
            install,
            server: Program::new(
                "/usr/sbin/mariadbd",
                "mariadb-server",
                "FAULTLINE_MARIADBD_BIN",
            ),
            provider: Program::new(
                "/usr/lib/galera/libgalera_smm.so",
                "galera-4",
                "FAULTLINE_GALERA_PROVIDER",
            ),
            install_db: Program::new(
                "/usr/bin/mariadb-install-db",
                "mariadb-server",
                "FAULTLINE_MARIADB_INSTALL_DB",
            ),
            backup: Program::new(
                "/usr/bin/mariadb-backup",
                "mariadb-backup",
                "FAULTLINE_MARIADB_BACKUP",
            ),
            socat: Program::new("/usr/bin/socat", "socat", "FAULTLINE_SOCAT_BIN"),
        }
    }
}

fn config_path(node: &NodeSpec) -> PathBuf {
    node.node_dir().join("my.cnf")
}

/// `my.cnf` of `node`: small InnoDB files, every commit flushed, and the Galera provider
/// with its three ports on the node's own address.
fn config(
    node: &NodeSpec,
    cluster: &[NodeSpec],
    provider: &std::path::Path,
) -> Result<String, SystemError> {
    let peers = cluster
        .iter()
        .map(|n| n.extra_addr(0))
        .collect::<Result<Vec<_>, _>>()?;
    let dir = node.node_dir();
    Ok(format!(
        "[mariadbd]\n\
         datadir={data}\n\
         socket={dir}/mariadbd.sock\n\
         pid-file={dir}/mariadbd.pid\n\
         tmpdir={dir}/tmp\n\
         port={port}\n\
         bind-address={host}\n\
         user=root\n\
         skip-name-resolve\n\
         performance_schema=OFF\n\
         innodb_buffer_pool_size=32M\n\
         innodb_log_file_size=16M\n\
         innodb_flush_log_at_trx_commit=1\n\
         binlog_format=ROW\n\
         default_storage_engine=InnoDB\n\
         innodb_autoinc_lock_mode=2\n\
         plugin-load-add=wsrep_info\n\
         wsrep_on=ON\n\
         wsrep_provider={provider}\n\
         wsrep_cluster_name=faultline\n\
         wsrep_cluster_address=gcomm://{peers}\n\
         wsrep_node_name={name}\n\
         wsrep_node_address={host}\n\
         wsrep_provider_options=\"gmcast.listen_addr=tcp://{gcomm};ist.recv_addr={ist};\
         gcache.size=64M\"\n\
         wsrep_sst_method=mariabackup\n\
         wsrep_sst_receive_address={sst}\n",
        data = node.data_dir.display(),
        dir = dir.display(),
        port = node.client_port(),
        host = node.host(),
        provider = provider.display(),
        peers = peers.join(","),
        name = node.name,
        gcomm = node.extra_addr(0)?,
        ist = node.extra_addr(1)?,
        sst = node.extra_addr(2)?,
    ))
}

/// The shell script that starts `node`: the first node bootstraps a new cluster when it has
/// never run (no `grastate.dat` yet); a node that crashed (`seqno: -1`) recovers its
/// position from InnoDB first, so it can rejoin by IST; `exec` keeps the pid the target
/// watches. The recovery runs under `setpriv --pdeathsig KILL`: a kill of the script while
/// it recovers must not leave that server behind holding the InnoDB files, or the node's
/// next start could not lock them and would exit.
fn start_script(node: &NodeSpec, first: bool, server: &std::path::Path) -> String {
    let word = |p: &std::path::Path| quote(&p.display().to_string());
    let cfg = word(&config_path(node));
    let state = word(&node.data_dir.join("grastate.dat"));
    let recovered = word(&node.node_dir().join("recover.log"));
    let mariadbd = word(server);
    let bootstrap = if first {
        format!("if [ ! -e {state} ]; then set -- --wsrep-new-cluster; fi\n")
    } else {
        String::new()
    };
    let tmp = word(&node.node_dir().join("tmp"));
    format!(
        "mkdir -p {tmp}\nset --\n{bootstrap}\
         if grep -q '^seqno: *-1' {state} 2>/dev/null; then\n  \
         rm -f {recovered}\n  \
         setpriv --pdeathsig KILL {mariadbd} --defaults-file={cfg} --wsrep-recover \
         --log-error={recovered} \
         >/dev/null 2>&1\n  \
         position=$(sed -n 's/.*Recovered position: *//p' {recovered} | tail -n 1)\n  \
         if [ -n \"$position\" ]; then set -- --wsrep-start-position=$position; fi\n\
         fi\n\
         exec {mariadbd} --defaults-file={cfg} \"$@\"\n"
    )
}

/// Initialise the first node's data folder: system tables, then [`SCHEMA`] with replication
/// off.
fn init_script(node: &NodeSpec, install_db: &std::path::Path, server: &std::path::Path) -> String {
    let word = |p: &std::path::Path| quote(&p.display().to_string());
    format!(
        "mkdir -p {tmp}\n\
         {install_db} --no-defaults --datadir={data} --tmpdir={tmp} --user=root \
         --auth-root-authentication-method=normal --skip-test-db >{log} 2>&1 || {failed}\n\
         printf '%s' {schema} | {server} --defaults-file={cfg} --bootstrap --wsrep-on=OFF \
         >>{log} 2>&1 || {failed}\n",
        install_db = word(install_db),
        server = word(server),
        data = word(&node.data_dir),
        tmp = word(&node.node_dir().join("tmp")),
        cfg = word(&config_path(node)),
        log = word(&node.node_dir().join("install-db.log")),
        schema = quote(SCHEMA),
        failed = format!(
            "{{ grep -m 3 ERROR {log} >&2 || tail -n 5 {log} >&2; exit 1; }}",
            log = word(&node.node_dir().join("install-db.log"))
        ),
    )
}

#[async_trait]
impl System for GaleraSystem {
    fn name(&self) -> &str {
        "galera"
    }

    async fn setup(&self, shell: &dyn NodeShell, cluster: &[NodeSpec]) -> Result<(), SystemError> {
        let programs = [
            &self.server,
            &self.provider,
            &self.install_db,
            &self.backup,
            &self.socat,
        ];
        let provider = self.provider.path.clone();
        super::set_up_with_config_files(
            self,
            shell,
            cluster,
            &programs,
            self.install,
            |node, cluster| config(node, cluster, &provider),
            config_path,
        )
        .await?;
        // The config must be on the node before the first node's data is made from it.
        let first = &cluster[0];
        shell
            .run_ok(
                first,
                &init_script(first, &self.install_db.path, &self.server.path),
                SETUP_LIMIT,
            )
            .await
            .map(drop)
    }

    fn start_command(&self, node: &NodeSpec, cluster: &[NodeSpec]) -> Option<StartCommand> {
        let first = cluster.first().is_some_and(|n| n.id == node.id);
        Some(StartCommand {
            program: PathBuf::from("/bin/sh"),
            args: vec![
                "-c".to_string(),
                start_script(node, first, &self.server.path),
            ],
            env: Vec::new(),
        })
    }

    /// Ready when every node takes connections, is `Synced` and sees the whole cluster.
    async fn await_ready(&self, cluster: &[NodeSpec], timeout: Duration) -> SystemResult {
        poll_ready("galera", timeout, || async {
            let mut missing = Vec::new();
            for node in cluster {
                match node_state(node).await {
                    Ok((state, size)) if state == "Synced" && size == cluster.len() => {}
                    Ok((state, size)) => missing.push(format!(
                        "{} is {state} in a cluster of {size} (of {}); read its log {}",
                        node.name,
                        cluster.len(),
                        node.log_file.display()
                    )),
                    Err(e) => {
                        missing.push(format!("{e}; read its log {}", node.log_file.display()))
                    }
                }
            }
            missing
        })
        .await
    }

    /// Galera has no leader: every node takes writes.
    async fn leader(&self, _cluster: &[NodeSpec]) -> Option<u64> {
        None
    }

    fn membership(
        &self,
        cluster: &[NodeSpec],
        process: Arc<dyn ProcessControl>,
        _shell: Arc<dyn super::node::NodeShell>,
    ) -> Option<Arc<dyn Membership>> {
        Some(Arc::new(super::galera_membership::GaleraMembership::new(
            cluster, process,
        )))
    }

    fn client(&self, node: &NodeSpec, _: &[NodeSpec], op_timeout: Duration) -> Box<dyn Client> {
        Box::new(GaleraClient::new(
            node.clone(),
            op_timeout,
            self.reads,
            self.isolation,
        ))
    }
}

/// `node`'s `wsrep_local_state_comment` (`Synced`, `Joining`, `Donor/Desynced` ...) and the
/// size of the cluster it is in.
pub(crate) async fn node_state(node: &NodeSpec) -> Result<(String, usize), String> {
    let mut conn = connect(node, Duration::from_millis(1500)).await?;
    let state = status(&mut conn, "wsrep_local_state_comment").await?;
    let size = status(&mut conn, "wsrep_cluster_size").await?;
    let _ = tokio::time::timeout(Duration::from_millis(500), conn.disconnect()).await;
    Ok((state, size.parse().unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_names_every_peer_and_the_nodes_own_ports() {
        let cluster = crate::systems::test_cluster(3, 3306, &[4567, 4568, 4444]);
        let provider = std::path::Path::new("/usr/lib/galera/libgalera_smm.so");
        let text = config(&cluster[1], &cluster, provider).unwrap();
        crate::systems::assert_has_all(
            &text,
            &[
                "datadir=/run/n2/data\n",
                "port=3306\n",
                "bind-address=127.0.1.2\n",
                "wsrep_cluster_address=gcomm://127.0.1.1:4567,127.0.1.2:4567,127.0.1.3:4567\n",
                "wsrep_node_name=n2\n",
                "gmcast.listen_addr=tcp://127.0.1.2:4567;ist.recv_addr=127.0.1.2:4568;",
                "wsrep_sst_receive_address=127.0.1.2:4444\n",
                "wsrep_sst_method=mariabackup\n",
            ],
        );
        let short = crate::systems::test_cluster(3, 3306, &[4567]);
        let err = config(&short[0], &short, provider).unwrap_err();
        assert!(err.to_string().contains("needs 2"), "{err}");
    }

    #[test]
    fn only_the_first_node_bootstraps_and_a_crashed_node_recovers_its_position() {
        let cluster = crate::systems::test_cluster(3, 3306, &[4567, 4568, 4444]);
        let server = std::path::Path::new("/usr/sbin/mariadbd");
        let first = start_script(&cluster[0], true, server);
        crate::systems::assert_has_all(
            &first,
            &[
                "if [ ! -e /run/n1/data/grastate.dat ]; then set -- --wsrep-new-cluster; fi",
                "setpriv --pdeathsig KILL /usr/sbin/mariadbd --defaults-file=/run/n1/my.cnf \
                 --wsrep-recover",
                "set -- --wsrep-start-position=$position",
                "exec /usr/sbin/mariadbd --defaults-file=/run/n1/my.cnf \"$@\"",
            ],
        );
        assert!(!start_script(&cluster[1], false, server).contains("new-cluster"));
    }

    #[test]
    fn the_first_node_gets_the_schema_with_replication_off() {
        let node = crate::systems::test_node(1, 3306, &[4567, 4568, 4444]);
        let script = init_script(
            &node,
            std::path::Path::new("/usr/bin/mariadb-install-db"),
            std::path::Path::new("/usr/sbin/mariadbd"),
        );
        crate::systems::assert_has_all(
            &script,
            &[
                "--datadir=/run/n1/data",
                "--bootstrap --wsrep-on=OFF",
                "CREATE TABLE faultline.lists",
            ],
        );
    }
}
