//! The resolved test spec: every option of `faultline test` validated into one value before
//! any I/O happens, and stored as `test.json` in the run folder.
//!
//! Validation errors are [`BadInput`](crate::exit::BadInput) (exit 254) and say what is wrong
//! and how to fix it. Nothing here starts a process or opens a file for writing.

pub mod docker;
pub mod fault_options;
pub mod raft;
mod rerun;
pub(crate) use rerun::shell_word;
pub mod ssh;
pub mod systems;
mod units;
mod workload;

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use crate::cli::TestArgs;
use crate::exit::bad_input;
use faultline_nemeses::process::Target;
use faultline_workloads::{ClassicOptions, Keys};
use systems::Bug;
use units::positive_secs;
pub use units::{parse_concurrency, parse_memory_limit};
pub(crate) use workload::parse_consistency_models;
pub use workload::workload_options;
use workload::{resolve_classic, resolve_keys, resolve_txn};

/// Systems `--system` accepts.
pub use systems::SYSTEMS;
/// Targets `--target` accepts.
pub const TARGETS: &[&str] = &["local", "ssh", "docker"];

/// One test, fully resolved.
#[derive(Debug, Clone, Serialize)]
pub struct TestSpec {
    /// Name of the test in the store.
    pub name: String,
    /// The system under test.
    pub system: String,
    /// How nodes are reached.
    pub target: String,
    /// Number of nodes.
    pub node_count: usize,
    /// The workload name.
    pub workload: String,
    /// Enabled faults (empty for none).
    pub nemeses: Vec<String>,
    /// `--nemesis-schedule`: exactly these faults at these offsets, instead of a random
    /// schedule (`nemeses` then names the nemeses it uses).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nemesis_schedule: Option<Vec<faultline_nemeses::explicit::ScheduledFault>>,
    /// `--stop-on-anomaly`: end the main phase once an anomaly is provable.
    pub stop_on_anomaly: bool,
    /// Which nodes process faults choose among.
    #[serde(serialize_with = "targets")]
    pub nemesis_targets: Vec<Target>,
    /// Time between fault starts and stops.
    #[serde(with = "secs")]
    pub nemesis_interval: Duration,
    /// Length of the main phase.
    #[serde(with = "secs")]
    pub time_limit: Duration,
    /// Number of client workers.
    pub concurrency: usize,
    /// Total ops per second, `None` for unlimited.
    pub rate: Option<f64>,
    /// `--keys`: the fixed key set of the register workload, `None` for independent keys.
    pub keys: Option<usize>,
    /// Independent keys: workers sharing a key (`--threads-per-key`), `None` with `--keys`.
    pub threads_per_key: Option<usize>,
    /// Independent keys: ops on a key before it is retired (`--ops-per-key`), `None` with
    /// `--keys`.
    pub ops_per_key: Option<u64>,
    /// Transactional workloads: keys active at once (`--key-count`), `None` otherwise.
    pub key_count: Option<usize>,
    /// Transactional workloads: fewest micro-ops per txn (`--min-txn-length`).
    pub min_txn_length: Option<usize>,
    /// Transactional workloads: most micro-ops per txn (`--max-txn-length`).
    pub max_txn_length: Option<usize>,
    /// Transactional workloads: writes a key takes before it is rotated
    /// (`--max-writes-per-key`).
    pub max_writes_per_key: Option<u64>,
    /// The classic workloads' options (`set`, `bank`, `counter`, `queue`).
    pub classic: ClassicOptions,
    /// Transactional workloads: the consistency models the history is checked against
    /// (`--consistency-models`); empty for the other workloads.
    pub consistency_models: Vec<String>,
    /// Client timeout per operation.
    #[serde(with = "secs")]
    pub op_timeout: Duration,
    /// How many times to run the test.
    pub test_count: u32,
    /// The seed of the first run (run k uses seed + k).
    pub seed: u64,
    /// Store folder.
    pub store: PathBuf,
    /// Keep nodes running after the test.
    pub leave_db_running: bool,
    /// Deliberate bug of the reference system.
    pub bug: Option<String>,
    /// The reference service's Raft timing (`--raft-heartbeat`, `--raft-election`), `None`
    /// for the other systems.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raft: Option<raft::RaftTiming>,
    /// `--read-consistency`, `None` for the system's strict default.
    pub read_consistency: Option<String>,
    /// `--isolation` of `--system galera` (its default when not given), `None` for the other
    /// systems.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isolation: Option<String>,
    /// `--endpoints` of `--system http` (base URLs), empty otherwise.
    pub endpoints: Vec<String>,
    /// `--client-command`: the shell command of a client in any language, run once per
    /// worker process instead of the system's own client.
    pub client_command: Option<String>,
    /// `--db-command` of `--system command`: the lifecycle script (absolute).
    pub db_command: Option<PathBuf>,
    /// `--db-packages`: what the command system's nodes need installed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub db_packages: Vec<String>,
    /// First port, or `None` for free ports.
    pub base_port: Option<u16>,
    /// The executable started as each reference node.
    pub node_binary: PathBuf,
    /// How the system's software is installed on nodes that lack it (`--install-mode`).
    pub install_mode: systems::InstallMode,
    /// How long to wait for the cluster to be ready.
    #[serde(with = "secs")]
    pub ready_timeout: Duration,
    /// Linearizability checker budget.
    #[serde(with = "secs")]
    pub check_timeout: Duration,
    /// Linearizability checker memory budget (`--memory-limit`), in bytes.
    pub memory_limit_bytes: u64,
    /// Whether to draw a progress bar.
    #[serde(skip)]
    pub progress: bool,
    /// The command line that reruns this test with the same seed.
    pub rerun: String,
    /// How to reach the nodes for `--target ssh` and `docker` (no secret is stored).
    pub ssh: Option<ssh::SshSpec>,
    /// Leave the docker cluster running after the test.
    pub leave_running: bool,
    /// Network and clock fault options, and how local nodes are networked.
    pub faults: fault_options::FaultOptions,
}

fn targets<S: serde::Serializer>(targets: &[Target], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(targets.iter().map(Target::to_value))
}

mod secs {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

impl TestSpec {
    /// Validate the arguments of `faultline test`.
    pub fn resolve(args: &TestArgs) -> Result<TestSpec> {
        if !SYSTEMS.contains(&args.system.as_str()) {
            bad_input!(
                "unknown system '{}': --system takes one of {}",
                args.system,
                SYSTEMS.join(", ")
            );
        }
        let mut node_count = args.node_count;
        let ssh = match args.target.as_str() {
            "local" => None,
            "ssh" => {
                let ssh = ssh::SshSpec::resolve(&args.ssh, args.base_port)?;
                node_count = ssh.hosts.len();
                Some(ssh)
            }
            "docker" => {
                if node_count > ssh::MAX_NODES {
                    bad_input!(
                        "--node-count {node_count}: the docker cluster has at most {} nodes",
                        ssh::MAX_NODES
                    );
                }
                let timeout = positive_secs("--ssh-timeout", args.ssh.ssh_timeout)?;
                // A cluster of its own per store and test name (`--name`).
                let name = args
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("{}-{}", args.system, args.workload));
                let project = docker::choose(&args.store, &name);
                Some(ssh::docker_spec(
                    node_count,
                    timeout,
                    args.base_port,
                    &project,
                ))
            }
            other => bad_input!(
                "unknown target '{other}': --target takes one of {}",
                TARGETS.join(", ")
            ),
        };
        let endpoints = resolve_endpoints(args)?;
        let client_command = match &args.client_command {
            Some(command) if command.trim().is_empty() => {
                bad_input!("--client-command is empty: give the command that runs your client")
            }
            Some(command) => {
                if let Err(why) = crate::systems::command_client::check_starts(command) {
                    bad_input!("{why}");
                }
                Some(command.clone())
            }
            None => None,
        };
        let db_command = resolve_db_command(args, client_command.is_some())?;
        let node_count = if endpoints.is_empty() {
            node_count
        } else {
            endpoints.len()
        };
        let read_consistency = resolve_read_consistency(args)?;
        if node_count == 0 || node_count > 15 {
            bad_input!("--node-count {node_count} is out of range: give 1 to 15 nodes");
        }
        let txn = resolve_txn(args)?;
        let keys = match txn {
            Some(_) => Keys::default(),
            None => resolve_keys(args)?,
        };
        let classic = resolve_classic(args)?;
        let workload = faultline_workloads::by_name(
            &args.workload,
            &workload_options(keys, txn.unwrap_or_default(), classic),
        )
        .map_err(|e| anyhow::Error::new(crate::exit::BadInput(format!("--workload: {e}"))))?;
        if let Some(why) =
            systems::unsupported_workload(&args.system, &args.workload, workload.model())
        {
            bad_input!("--system {}: {why}", args.system);
        }
        let isolation = resolve_isolation(args)?;
        let consistency_models = match (txn, &isolation) {
            (Some(_), Some(level))
                if args.consistency_models == crate::cli::DEFAULT_CONSISTENCY_MODELS =>
            {
                vec![systems::isolation_model(level).to_string()]
            }
            (Some(_), _) => parse_consistency_models(&args.consistency_models)?,
            (None, _) => Vec::new(),
        };
        let nemesis_schedule = match &args.nemesis_schedule {
            None => None,
            Some(path) => {
                if args.nemesis != crate::cli::DEFAULT_NEMESES {
                    bad_input!(
                        "--nemesis-schedule {} names its own faults: drop --nemesis {}",
                        path.display(),
                        args.nemesis
                    );
                }
                let text = std::fs::read_to_string(path).map_err(|e| {
                    anyhow::Error::new(crate::exit::BadInput(format!(
                        "--nemesis-schedule {}: {e}",
                        path.display()
                    )))
                })?;
                let faults = faultline_nemeses::explicit::parse_schedule(&text, path)
                    .map_err(|e| anyhow::Error::new(crate::exit::BadInput(e.to_string())))?;
                Some(faults)
            }
        };
        let nemeses = match &nemesis_schedule {
            Some(faults) => faultline_nemeses::explicit::kinds(faults),
            None => faultline_nemeses::schedule::parse_nemeses(&args.nemesis).map_err(|e| {
                anyhow::Error::new(crate::exit::BadInput(format!("--nemesis: {e}")))
            })?,
        };
        for kind in &nemeses {
            if let Some(why) = systems::unsupported_nemesis(&args.system, kind.name()) {
                bad_input!("--nemesis {}: {why}", kind.name());
            }
        }
        let faults = fault_options::resolve_options(args, &nemeses)?;
        let mut nemesis_targets = Vec::new();
        for name in args.nemesis_targets.split(',').map(str::trim) {
            match Target::from_value(&serde_json::Value::String(name.to_string())) {
                Ok(Some(target)) => nemesis_targets.push(target),
                Ok(None) | Err(_) => bad_input!(
                    "--nemesis-targets: unknown target '{name}'; give a comma-separated list of one, minority, majority, leader, all"
                ),
            }
        }
        let bug = match &args.bug {
            None => None,
            Some(name) => {
                let parsed = match name.parse::<Bug>() {
                    Ok(bug) => bug,
                    Err(e) => bad_input!("--bug: {e}"),
                };
                // A bug the workload never reaches would pass as a valid run: refuse it.
                match (parsed, txn.is_some()) {
                    (Bug::TxnStaleReads, false) => bad_input!(
                        "--bug txn-stale-reads breaks transactions (POST /txn), which --workload \
                         {} never runs: use it with --workload append or wr",
                        args.workload
                    ),
                    (Bug::LostUpdates, true) => bad_input!(
                        "--bug lost-updates breaks guarded commits (POST /commit, /kv/KEY/cas), \
                         which --workload {} never uses: its transactions go to POST /txn; use \
                         --bug txn-stale-reads",
                        args.workload
                    ),
                    (Bug::StaleReads | Bug::LostWrites, true) => bad_input!(
                        "--bug {name} breaks single-key reads and writes (/kv), which --workload \
                         {} never uses: its transactions go to POST /txn; use --bug \
                         txn-stale-reads",
                        args.workload
                    ),
                    (Bug::NoFsync, _)
                        if !nemeses
                            .contains(&faultline_nemeses::schedule::NemesisKind::LoseUnfsynced) =>
                    {
                        bad_input!(
                            "--bug no-fsync loses acknowledged writes only when what was not fsynced \
                             is lost, which a killed process never does: add --nemesis lose-unfsynced"
                        )
                    }
                    _ => {}
                }
                Some(name.clone())
            }
        };
        let raft = raft::RaftTiming::resolve(
            &args.system,
            args.raft_heartbeat.as_deref(),
            args.raft_election.as_deref(),
        )?;
        let concurrency = parse_concurrency(&args.concurrency, node_count)?;
        let time_limit = positive_secs("--time-limit", args.time_limit)?;
        let nemesis_interval = positive_secs("--nemesis-interval", args.nemesis_interval)?;
        let op_timeout = positive_secs("--op-timeout", args.op_timeout)?;
        let ready_timeout = positive_secs("--ready-timeout", args.ready_timeout)?;
        let check_timeout = positive_secs("--check-timeout", args.check_timeout)?;
        let memory_limit_bytes = parse_memory_limit(&args.memory_limit)?;
        if !(args.rate >= 0.0 && args.rate.is_finite()) {
            bad_input!(
                "--rate {} is not a rate: give ops per second, or 0 for unlimited",
                args.rate
            );
        }
        if args.test_count == 0 {
            bad_input!("--test-count 0: give at least 1");
        }
        if let (Some(base), None) = (args.base_port, &ssh) {
            check_ports_free(base, node_count)?;
        }
        let node_binary = match &args.node_binary {
            Some(path) => {
                if !path.is_file() {
                    bad_input!(
                        "--node-binary {}: no such file; give the path of a faultline executable",
                        path.display()
                    );
                }
                path.clone()
            }
            None => std::env::current_exe()
                .map_err(|e| anyhow::anyhow!("cannot find the faultline executable: {e}"))?,
        };
        let install_mode: systems::InstallMode = match args.install_mode.parse() {
            Ok(mode) => mode,
            Err(e) => bad_input!("{e}"),
        };
        let seed = args.seed.unwrap_or_else(rand::random);
        let name = args
            .name
            .clone()
            .unwrap_or_else(|| format!("{}-{}", args.system, args.workload));
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            bad_input!("--name '{name}' cannot be a folder name: use letters, digits and dashes");
        }
        let nemesis_names: Vec<String> = nemeses.iter().map(|k| k.name().to_string()).collect();
        let mut spec = TestSpec {
            name,
            system: args.system.clone(),
            target: args.target.clone(),
            node_count,
            workload: args.workload.clone(),
            nemeses: nemesis_names,
            nemesis_schedule,
            stop_on_anomaly: args.stop_on_anomaly,
            nemesis_targets,
            nemesis_interval,
            time_limit,
            concurrency,
            rate: (args.rate > 0.0).then_some(args.rate),
            keys: match (txn, keys) {
                (None, Keys::Fixed { count }) => Some(count),
                _ => None,
            },
            threads_per_key: match (txn, keys) {
                (
                    None,
                    Keys::Independent {
                        threads_per_key, ..
                    },
                ) => Some(threads_per_key),
                _ => None,
            },
            ops_per_key: match (txn, keys) {
                (None, Keys::Independent { ops_per_key, .. }) => Some(ops_per_key),
                _ => None,
            },
            key_count: txn.map(|t| t.key_count),
            min_txn_length: txn.map(|t| t.min_txn_length),
            max_txn_length: txn.map(|t| t.max_txn_length),
            max_writes_per_key: txn.map(|t| t.max_writes_per_key),
            classic,
            consistency_models,
            op_timeout,
            test_count: args.test_count,
            seed,
            store: args.store.clone(),
            leave_db_running: args.leave_db_running,
            bug,
            raft,
            read_consistency,
            isolation,
            endpoints,
            client_command,
            db_command,
            db_packages: args.db_packages.clone(),
            base_port: args.base_port,
            node_binary,
            install_mode,
            ready_timeout,
            check_timeout,
            memory_limit_bytes,
            progress: !args.no_progress,
            rerun: String::new(),
            ssh,
            leave_running: args.ssh.leave_running,
            faults,
        };
        spec.rerun = rerun::rerun_line(args, &spec);
        Ok(spec)
    }
}

/// `--read-consistency`, checked against what the system offers.
fn resolve_read_consistency(args: &TestArgs) -> Result<Option<String>> {
    let Some(level) = &args.read_consistency else {
        return Ok(None);
    };
    let levels = systems::read_consistencies(&args.system);
    if levels.is_empty() {
        bad_input!(
            "--read-consistency does not apply to --system {}: it has one kind of read \
             (etcd, zookeeper, nats and galera have several)",
            args.system
        );
    }
    if !levels.contains(&level.as_str()) {
        bad_input!(
            "unknown read consistency '{level}' for {}: --read-consistency takes one of {}",
            args.system,
            levels.join(", ")
        );
    }
    Ok(Some(level.clone()))
}

/// `--isolation`: only galera takes it, and a galera test records its default.
fn resolve_isolation(args: &TestArgs) -> Result<Option<String>> {
    match (&args.isolation, args.system.as_str()) {
        (None, "galera") => Ok(Some(systems::DEFAULT_ISOLATION.to_string())),
        (None, _) => Ok(None),
        (Some(_), system) if system != "galera" => bad_input!(
            "--isolation applies to --system galera (a SQL database); --system {system} has \
             no transaction isolation levels to choose"
        ),
        (Some(level), _) if !systems::ISOLATIONS.contains(&level.as_str()) => bad_input!(
            "unknown isolation '{level}': --isolation takes one of {}",
            systems::ISOLATIONS.join(", ")
        ),
        (Some(level), _) => Ok(Some(level.clone())),
    }
}

/// Debian's rule for package names: lower-case letters, digits, `+`, `-` and `.`, starting
/// with a letter or digit, at least two characters.
fn is_package_name(name: &str) -> bool {
    name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
}

/// `--db-command`: required by `--system command` (with `--client-command`: it has no
/// client of faultline's), refused by the others; an executable file.
fn resolve_db_command(args: &TestArgs, has_client_command: bool) -> Result<Option<PathBuf>> {
    let Some(script) = &args.db_command else {
        if args.system == "command" {
            bad_input!(
                "--system command needs --db-command SCRIPT: the executable that sets up, \
                 starts and tears down a node (see the README)"
            );
        }
        return Ok(None);
    };
    if args.system != "command" {
        bad_input!(
            "--db-command is for --system command; --system {} has its own lifecycle",
            args.system
        );
    }
    if !has_client_command {
        bad_input!(
            "--system command needs --client-command CMD too: faultline has no client for \
             your service"
        );
    }
    if let Err(why) = crate::systems::command::check_script(script) {
        bad_input!("{why}");
    }
    if let Some(bad) = args.db_packages.iter().find(|p| !is_package_name(p)) {
        bad_input!("--db-packages: '{bad}' is not a Debian package name (e.g. etcd-server)");
    }
    Ok(Some(
        std::fs::canonicalize(script).unwrap_or_else(|_| script.clone()),
    ))
}

/// `--endpoints`: required by `--system http`, refused by the others.
fn resolve_endpoints(args: &TestArgs) -> Result<Vec<String>> {
    let Some(text) = &args.endpoints else {
        if args.system == "http" {
            bad_input!(
                "--system http needs --endpoints: the base URLs of the nodes you started, \
                 e.g. --endpoints http://127.0.0.1:8001,http://127.0.0.1:8002"
            );
        }
        return Ok(Vec::new());
    };
    if args.system != "http" {
        bad_input!(
            "--endpoints is for --system http (nodes you start yourself); --system {} \
             starts its own nodes",
            args.system
        );
    }
    let mut endpoints = Vec::new();
    for url in text.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        if let Err(e) = systems::parse_endpoint(url) {
            bad_input!("--endpoints: {e}");
        }
        endpoints.push(url.trim_end_matches('/').to_string());
    }
    if endpoints.is_empty() {
        bad_input!("--endpoints is empty: give at least one base URL");
    }
    Ok(endpoints)
}

fn check_ports_free(base: u16, node_count: usize) -> Result<()> {
    for i in 0..node_count {
        let Some(port) = base.checked_add(i as u16) else {
            bad_input!("--base-port {base} leaves no room for {node_count} nodes below 65536");
        };
        if let Err(e) = TcpListener::bind(("127.0.0.1", port)) {
            bad_input!(
                "port {port} (for n{}) is not free on 127.0.0.1 ({e}): pick another --base-port \
                 or stop what holds it",
                i + 1
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
