//! The catalog of systems: what `--system` accepts, and what each system can take (read
//! consistency levels, faults, workloads, the reference service's bugs, HTTP endpoints).
//! The spec validates against it before anything starts; the systems read their own entries
//! from it. Pure data and parsing: nothing here reaches a node.

use std::fmt;
use std::str::FromStr;

/// etcd's `--read-consistency` levels, strict first.
pub const ETCD_READS: &[&str] = &["linearizable", "serializable"];
/// ZooKeeper's `--read-consistency` levels, strict first.
pub const ZOOKEEPER_READS: &[&str] = &["sync", "local"];
/// NATS JetStream's `--read-consistency` levels, strict first.
pub const NATS_READS: &[&str] = &["leader", "direct"];

/// MariaDB Galera's `--read-consistency` levels, strict first.
pub const GALERA_READS: &[&str] = &["causal", "local"];

/// What `--isolation` accepts (MariaDB's transaction isolation levels; `--system galera`).
pub const ISOLATIONS: &[&str] = &["read-committed", "repeatable-read", "serializable"];
/// The isolation of a galera test that names none: MariaDB's default.
pub const DEFAULT_ISOLATION: &str = "repeatable-read";

/// The consistency model a transactional history of a database run at `isolation` is
/// checked against, unless `--consistency-models` names others: what the level promises.
/// Galera's documentation promises snapshot isolation across the cluster at `REPEATABLE
/// READ` ("first committer wins" between nodes), and `SERIALIZABLE` within a node.
pub fn isolation_model(isolation: &str) -> &'static str {
    match isolation {
        "read-committed" => "read-committed",
        "serializable" => "serializable",
        _ => "snapshot-isolation",
    }
}

/// Every system `--system` accepts.
pub const SYSTEMS: &[&str] = &[
    "reference",
    "etcd",
    "zookeeper",
    "nats",
    "galera",
    "rabbitmq",
    "http",
    "command",
];

/// The `--read-consistency` levels a system accepts, strict (the default) first; empty when
/// the system has only one kind of read.
pub fn read_consistencies(system: &str) -> &'static [&'static str] {
    match system {
        "etcd" => ETCD_READS,
        "zookeeper" => ZOOKEEPER_READS,
        "nats" => NATS_READS,
        "galera" => GALERA_READS,
        _ => &[],
    }
}

/// Why `system` cannot take the fault `nemesis` (a `--nemesis` name), if it cannot. Clock
/// faults are any nemesis whose name starts with `clock`.
pub fn unsupported_nemesis(system: &str, nemesis: &str) -> Option<String> {
    match (system, nemesis) {
        // Network faults (partitions, netem) act on links, not processes: they apply to
        // nodes faultline starts, whatever the system.
        ("http", "kill" | "pause" | "lose-unfsynced") => Some(format!(
            "--system http drives nodes faultline did not start, so it cannot {nemesis} them: \
             pass --nemesis none (network faults need nodes faultline starts)"
        )),
        ("nats" | "http", "membership") => Some(format!(
            "{system} has no membership changes in faultline yet (they go through the system's \
             own API): --nemesis membership works with --system reference, etcd, zookeeper, \
             galera, rabbitmq and command"
        )),
        ("etcd" | "nats", clock) if clock.starts_with("clock") => Some(format!(
            "{system} is a Go binary: Go reads the clock through the vDSO, not libc, so \
             libfaketime cannot skew it; clock faults work for zookeeper (a JVM), galera and \
             rabbitmq"
        )),
        _ => None,
    }
}

/// Why `system` cannot run a workload whose history is checked against `model`, if it
/// cannot: the transactional models (`list-append`, `rw-register`) and `bank` need
/// multi-key atomic writes.
pub fn unsupported_workload(system: &str, workload: &str, model: &str) -> Option<String> {
    // Workloads whose ops write several keys in one atomic step.
    let multi_key = faultline_workloads::txn::is_txn_model(model) || model == "bank";
    match system {
        "rabbitmq" if workload != "queue" => Some(format!(
            "it runs only --workload queue (on its quorum queues), not {workload}"
        )),
        "nats" if multi_key => Some(format!(
            "--workload {workload} writes several keys in one atomic step, and NATS JetStream's \
             key-value store cannot (each key is its own stream subject); the systems that serve \
             {workload} are reference, etcd, zookeeper, galera and http"
        )),
        _ => None,
    }
}

/// A deliberate defect of the reference service (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bug {
    /// Any node answers reads from its own state machine.
    StaleReads,
    /// The leader acknowledges writes before they are committed.
    LostWrites,
    /// A transaction's reads are served by the receiving node's own state machine, apart
    /// from (and before) the Raft entry that commits its writes.
    TxnStaleReads,
    /// A guarded commit is judged against the receiving node's own state machine, and its
    /// writes proposed unguarded.
    LostUpdates,
    /// The Raft log is written but never fsynced, and acknowledged as durable all the same.
    NoFsync,
}

impl Bug {
    /// Every bug, by name.
    pub const ALL: [Bug; 5] = [
        Bug::StaleReads,
        Bug::LostWrites,
        Bug::TxnStaleReads,
        Bug::LostUpdates,
        Bug::NoFsync,
    ];

    /// The name used by `--bug`.
    pub fn name(self) -> &'static str {
        match self {
            Bug::StaleReads => "stale-reads",
            Bug::LostWrites => "lost-writes",
            Bug::TxnStaleReads => "txn-stale-reads",
            Bug::LostUpdates => "lost-updates",
            Bug::NoFsync => "no-fsync",
        }
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown `--bug` name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown bug \"{0}\"; the reference system knows: stale-reads, lost-writes, txn-stale-reads, lost-updates, no-fsync"
)]
pub struct UnknownBug(pub String);

impl FromStr for Bug {
    type Err = UnknownBug;

    fn from_str(s: &str) -> Result<Bug, UnknownBug> {
        Bug::ALL
            .into_iter()
            .find(|bug| bug.name() == s)
            .ok_or_else(|| UnknownBug(s.to_string()))
    }
}

/// How a system's software gets onto the nodes (`--install-mode`).
///
/// `auto` (the default) is `apt` on the local target (this machine's apt-get, as root) and
/// `copy` on SSH and docker nodes when the controller runs the same Debian release and
/// architecture as the node, else `apt` on the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstallMode {
    /// `copy` where the controller can, else `apt`.
    #[default]
    Auto,
    /// The controller downloads the packages (and the dependencies the node lacks) into its
    /// cache, copies them to the node and installs them there with dpkg.
    Copy,
    /// The node's own `apt-get install`.
    Apt,
    /// Install nothing: check that the software is there, and stop before starting
    /// anything when it is not.
    None,
}

/// What `--install-mode` accepts.
pub const INSTALL_MODES: &[&str] = &["auto", "copy", "apt", "none"];

impl InstallMode {
    /// The name `--install-mode` takes.
    pub fn name(self) -> &'static str {
        match self {
            InstallMode::Auto => "auto",
            InstallMode::Copy => "copy",
            InstallMode::Apt => "apt",
            InstallMode::None => "none",
        }
    }
}

impl fmt::Display for InstallMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for InstallMode {
    type Err = String;

    fn from_str(s: &str) -> Result<InstallMode, String> {
        match s {
            "auto" => Ok(InstallMode::Auto),
            "copy" => Ok(InstallMode::Copy),
            "apt" => Ok(InstallMode::Apt),
            "none" => Ok(InstallMode::None),
            other => Err(format!(
                "unknown install mode '{other}': --install-mode takes one of {}",
                INSTALL_MODES.join(", ")
            )),
        }
    }
}

/// `host:port` of an endpoint URL `http://host:port` (a trailing `/` is allowed), or why it
/// is not one.
pub fn parse_endpoint(url: &str) -> Result<String, String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!("'{url}' is not an http:// URL: give base URLs such as http://127.0.0.1:8001")
    })?;
    let authority = rest.trim_end_matches('/');
    if authority.contains('/') {
        return Err(format!(
            "'{url}' has a path: give the base URL only (http://host:port); the protocol's \
             paths start at /kv/"
        ));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
            Ok(authority.to_string())
        }
        _ => Err(format!(
            "'{url}' has no port: give http://host:port, e.g. http://127.0.0.1:8001"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_faults_are_refused_for_go_binaries_and_process_faults_for_http() {
        assert!(unsupported_nemesis("etcd", "clock")
            .unwrap()
            .contains("libfaketime"));
        assert!(unsupported_nemesis("nats", "clock-skew").is_some());
        assert!(unsupported_nemesis("zookeeper", "clock").is_none());
        assert!(unsupported_nemesis("etcd", "kill").is_none());
        assert!(unsupported_nemesis("etcd", "membership").is_none());
        assert!(unsupported_nemesis("reference", "membership").is_none());
        assert!(unsupported_nemesis("zookeeper", "membership").is_none());
        assert!(unsupported_nemesis("nats", "membership")
            .unwrap()
            .contains("reference, etcd, zookeeper, galera, rabbitmq and command"));
        assert!(unsupported_nemesis("http", "pause")
            .unwrap()
            .contains("--nemesis none"));
        assert_eq!(read_consistencies("etcd")[0], "linearizable");
        let nats = unsupported_workload("nats", "append", "list-append").unwrap();
        assert!(
            nats.contains("--workload append")
                && nats.contains("reference, etcd, zookeeper, galera and http"),
            "{nats}"
        );
        assert!(unsupported_workload("nats", "register", "cas-register").is_none());
        assert!(unsupported_workload("nats", "bank", "bank").is_some());
        assert!(unsupported_workload("nats", "queue", "total-queue").is_none());
        assert!(unsupported_workload("etcd", "wr", "rw-register").is_none());
        assert!(unsupported_workload("zookeeper", "append", "list-append").is_none());
        assert!(unsupported_workload("reference", "append", "list-append").is_none());
        assert!(read_consistencies("reference").is_empty());
        assert!(unsupported_workload("rabbitmq", "queue", "total-queue").is_none());
        let rabbit = unsupported_workload("rabbitmq", "register", "cas-register").unwrap();
        assert!(rabbit.contains("runs only --workload queue"), "{rabbit}");
        assert!(unsupported_nemesis("rabbitmq", "membership").is_none());
    }
}
