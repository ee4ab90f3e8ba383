//! The resolved test spec: every option of `faultline test` validated into one value before
//! any I/O happens, and stored as `test.json` in the run folder.
//!
//! Validation errors are [`BadInput`](crate::exit::BadInput) (exit 254) and say what is wrong
//! and how to fix it. Nothing here starts a process or opens a file for writing.

pub mod faults;
pub mod ssh;
pub mod systems;

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use crate::cli::TestArgs;
use crate::exit::bad_input;
use faultline_nemeses::process::Target;
use faultline_workloads::{
    ClassicOptions, Keys, TxnOptions, DEFAULT_KEY_COUNT, DEFAULT_MAX_TXN_LENGTH,
    DEFAULT_MAX_WRITES_PER_KEY, DEFAULT_MIN_TXN_LENGTH, DEFAULT_OPS_PER_KEY,
    DEFAULT_THREADS_PER_KEY,
};
use systems::Bug;

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
    /// `--read-consistency`, `None` for the system's strict default.
    pub read_consistency: Option<String>,
    /// `--endpoints` of `--system http` (base URLs), empty otherwise.
    pub endpoints: Vec<String>,
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
    pub faults: faults::FaultOptions,
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
                Some(ssh::docker_spec(node_count, timeout, args.base_port))
            }
            other => bad_input!(
                "unknown target '{other}': --target takes one of {}",
                TARGETS.join(", ")
            ),
        };
        let endpoints = resolve_endpoints(args)?;
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
        let consistency_models = match txn {
            Some(_) => parse_consistency_models(&args.consistency_models)?,
            None => Vec::new(),
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
        let faults = faults::resolve_options(args, &nemeses)?;
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
        let mut rerun = format!(
            "faultline test --system {} --node-count {} --workload {}{} \
             --nemesis-targets {} --nemesis-interval {} --time-limit {} --concurrency {} --rate {}{} \
             --op-timeout {} --seed {seed}",
            args.system,
            node_count,
            args.workload,
            match (&args.nemesis_schedule, nemesis_names.is_empty()) {
                // The schedule file names the nemeses (added below).
                (Some(_), _) => String::new(),
                (None, true) => " --nemesis none".to_string(),
                (None, false) => format!(" --nemesis {}", nemesis_names.join(",")),
            },
            args.nemesis_targets,
            args.nemesis_interval,
            args.time_limit,
            args.concurrency,
            args.rate,
            match txn {
                Some(txn) => txn_args(txn, &consistency_models),
                None => keys_args(keys),
            },
            args.op_timeout,
        );
        rerun.push_str(&classic_args(classic));
        rerun.push_str(&faults::rerun_args(args));
        if args.stop_on_anomaly {
            rerun.push_str(" --stop-on-anomaly");
        }
        if let Some(path) = &args.nemesis_schedule {
            // The file itself is in test.json (`nemesis_schedule`), should it move.
            rerun.push_str(&format!(" --nemesis-schedule {}", path.display()));
        }
        if let Some(bug) = &bug {
            rerun.push_str(&format!(" --bug {bug}"));
        }
        if let Some(level) = &read_consistency {
            rerun.push_str(&format!(" --read-consistency {level}"));
        }
        if !endpoints.is_empty() {
            rerun.push_str(&format!(" --endpoints {}", endpoints.join(",")));
        }
        rerun.push_str(&target_args(args, install_mode));
        Ok(TestSpec {
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
            read_consistency,
            endpoints,
            base_port: args.base_port,
            node_binary,
            install_mode,
            ready_timeout,
            check_timeout,
            memory_limit_bytes,
            progress: !args.no_progress,
            rerun,
            ssh,
            leave_running: args.ssh.leave_running,
            faults,
        })
    }
}

/// `word` quoted for a POSIX shell when it needs it.
fn shell_word(word: &str) -> String {
    shlex::try_quote(word).map_or_else(|_| format!("'{word}'"), |q| q.into_owned())
}

/// The target, store and install options of the rerun command line, with a leading space:
/// enough to reach the same nodes the same way. A password is never in it: a run that
/// logged in with one says to set `FAULTLINE_SSH_PASSWORD` (in a trailing comment).
fn target_args(args: &TestArgs, install_mode: systems::InstallMode) -> String {
    let mut out = String::new();
    let mut push = |flag: &str, value: Option<String>| {
        out.push(' ');
        out.push_str(flag);
        if let Some(value) = value {
            out.push(' ');
            out.push_str(&shell_word(&value));
        }
    };
    let ssh = &args.ssh;
    let defaults = crate::cli::SshFlags::default_values();
    if args.target != "local" {
        push("--target", Some(args.target.clone()));
        if let Some(port) = args.base_port {
            push("--base-port", Some(port.to_string()));
        }
        if ssh.ssh_timeout != defaults.ssh_timeout {
            push("--ssh-timeout", Some(ssh.ssh_timeout.to_string()));
        }
    }
    if args.target == "docker" && ssh.leave_running {
        push("--leave-running", None);
    }
    if args.target == "ssh" {
        if let Some(nodes) = &ssh.nodes {
            push("--nodes", Some(nodes.clone()));
        }
        if let Some(file) = &ssh.nodes_file {
            push("--nodes-file", Some(file.display().to_string()));
        }
        if ssh.username != defaults.username {
            push("--username", Some(ssh.username.clone()));
        }
        if let Some(key) = &ssh.ssh_private_key {
            push("--ssh-private-key", Some(key.display().to_string()));
        }
        if ssh.ssh_port != defaults.ssh_port {
            push("--ssh-port", Some(ssh.ssh_port.to_string()));
        }
        if ssh.sudo {
            push("--sudo", None);
        }
        if let Some(file) = &ssh.known_hosts {
            push("--known-hosts", Some(file.display().to_string()));
        }
        if ssh.accept_new_host_keys {
            push("--accept-new-host-keys", None);
        }
        if ssh.remote_dir != defaults.remote_dir {
            push("--remote-dir", Some(ssh.remote_dir.clone()));
        }
    }
    if install_mode != systems::InstallMode::Auto {
        push("--install-mode", Some(install_mode.to_string()));
    }
    if args.leave_db_running {
        push("--leave-db-running", None);
    }
    if let Some(name) = &args.name {
        push("--name", Some(name.clone()));
    }
    if args.store != std::path::Path::new("store") {
        push("--store", Some(args.store.display().to_string()));
    }
    if args.target == "ssh" && ssh.password.is_some() {
        out.push_str(&format!(
            " # log in with the same password: set {}",
            crate::cli::PASSWORD_ENV
        ));
    }
    out
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
             (etcd, zookeeper and nats have several)",
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

impl TestSpec {
    /// How the workload spreads its ops over keys, as resolved from the command line.
    pub fn keys(&self) -> Keys {
        match (self.keys, self.threads_per_key, self.ops_per_key) {
            (Some(count), _, _) => Keys::Fixed { count },
            (None, threads_per_key, ops_per_key) => Keys::Independent {
                threads_per_key: threads_per_key.unwrap_or(DEFAULT_THREADS_PER_KEY),
                ops_per_key: ops_per_key.unwrap_or(DEFAULT_OPS_PER_KEY),
            },
        }
    }
}

impl TestSpec {
    /// The transaction options of a transactional workload, as resolved from the command line
    /// (the defaults for any value the spec leaves out).
    pub fn txn(&self) -> TxnOptions {
        TxnOptions {
            key_count: self.key_count.unwrap_or(DEFAULT_KEY_COUNT),
            min_txn_length: self.min_txn_length.unwrap_or(DEFAULT_MIN_TXN_LENGTH),
            max_txn_length: self.max_txn_length.unwrap_or(DEFAULT_MAX_TXN_LENGTH),
            max_writes_per_key: self
                .max_writes_per_key
                .unwrap_or(DEFAULT_MAX_WRITES_PER_KEY),
        }
    }

    /// The workload options the spec resolves to.
    pub fn workload_options(&self) -> faultline_workloads::WorkloadOptions {
        workload_options(self.keys(), self.txn(), self.classic)
    }
}

/// Whether `--workload` names a transactional workload (`append`, `wr`).
fn is_txn_workload(workload: &str) -> bool {
    faultline_workloads::by_name(workload, &faultline_workloads::WorkloadOptions::default())
        .is_ok_and(|w| faultline_workloads::txn::is_txn_model(w.model()))
}

/// The transaction options of `--workload append|wr` (`None` for other workloads), refusing
/// the options of the other kind of workload.
fn resolve_txn(args: &TestArgs) -> Result<Option<TxnOptions>> {
    let txn_flags = [
        args.key_count.map(|_| "--key-count"),
        args.min_txn_length.map(|_| "--min-txn-length"),
        args.max_txn_length.map(|_| "--max-txn-length"),
        args.max_writes_per_key.map(|_| "--max-writes-per-key"),
        (args.consistency_models != crate::cli::DEFAULT_CONSISTENCY_MODELS)
            .then_some("--consistency-models"),
    ];
    if !is_txn_workload(&args.workload) {
        if let Some(flag) = txn_flags.into_iter().flatten().next() {
            bad_input!(
                "{flag} is for the transactional workloads (--workload append or wr), not \
                 --workload {}",
                args.workload
            );
        }
        return Ok(None);
    }
    let key_flags = [
        args.keys.map(|_| "--keys"),
        args.threads_per_key.map(|_| "--threads-per-key"),
        args.ops_per_key.map(|_| "--ops-per-key"),
    ];
    if let Some(flag) = key_flags.into_iter().flatten().next() {
        bad_input!(
            "{flag} is for the register workload; --workload {} spreads its transactions over \
             --key-count keys, rotated after --max-writes-per-key writes",
            args.workload
        );
    }
    let min_txn_length = args.min_txn_length.unwrap_or(DEFAULT_MIN_TXN_LENGTH);
    let options = TxnOptions {
        key_count: args.key_count.unwrap_or(DEFAULT_KEY_COUNT),
        min_txn_length,
        // A --min-txn-length above the default maximum raises the maximum with it.
        max_txn_length: args
            .max_txn_length
            .unwrap_or(DEFAULT_MAX_TXN_LENGTH.max(min_txn_length)),
        max_writes_per_key: args
            .max_writes_per_key
            .unwrap_or(DEFAULT_MAX_WRITES_PER_KEY),
    };
    match options.validate() {
        Ok(options) => Ok(Some(options)),
        Err(e) => bad_input!("{e}"),
    }
}

/// `--consistency-models`: a comma-separated list of model names (Elle's, or their aliases
/// such as `PL-3`), each named once, as the transactional checker knows them.
pub(crate) fn parse_consistency_models(text: &str) -> Result<Vec<String>> {
    let mut models: Vec<String> = Vec::new();
    for name in text.split(',').map(str::trim) {
        if name.is_empty() {
            bad_input!(
                "--consistency-models '{text}': '{name}' is not a model name; give names \
                 separated by commas, e.g. strict-serializable or serializable,snapshot-isolation"
            );
        }
        if let Err(e) = name.parse::<faultline_checkers::txn::ConsistencyModel>() {
            bad_input!("--consistency-models: {e}");
        }
        if models.iter().any(|m| m == name) {
            bad_input!("--consistency-models '{text}': {name} is named twice");
        }
        models.push(name.to_string());
    }
    Ok(models)
}

/// The transaction options of the rerun command line, with a leading space.
fn txn_args(txn: TxnOptions, consistency_models: &[String]) -> String {
    format!(
        " --key-count {} --min-txn-length {} --max-txn-length {} --max-writes-per-key {} \
         --consistency-models {}",
        txn.key_count,
        txn.min_txn_length,
        txn.max_txn_length,
        txn.max_writes_per_key,
        consistency_models.join(",")
    )
}

/// `--keys`, or independent keys from `--threads-per-key` and `--ops-per-key` (the default).
fn resolve_keys(args: &TestArgs) -> Result<Keys> {
    if let Some(count) = args.keys {
        if let Some(flag) = [
            args.threads_per_key.map(|_| "--threads-per-key"),
            args.ops_per_key.map(|_| "--ops-per-key"),
        ]
        .into_iter()
        .flatten()
        .next()
        {
            bad_input!(
                "--keys {count} gives a fixed key set, and {flag} is for independent keys \
                 (the default without --keys): give one or the other"
            );
        }
        if count == 0 {
            bad_input!(
                "--keys 0: the workload needs at least one key; give e.g. --keys 5, or leave \
                 --keys out for independent keys"
            );
        }
        return Ok(Keys::Fixed { count });
    }
    let threads_per_key = args.threads_per_key.unwrap_or(DEFAULT_THREADS_PER_KEY);
    if threads_per_key == 0 {
        bad_input!(
            "--threads-per-key 0: every key needs at least one worker; give e.g. \
             --threads-per-key {DEFAULT_THREADS_PER_KEY}"
        );
    }
    let ops_per_key = args.ops_per_key.unwrap_or(DEFAULT_OPS_PER_KEY);
    if ops_per_key == 0 {
        bad_input!(
            "--ops-per-key 0: a key needs at least one op before it is retired; give e.g. \
             --ops-per-key {DEFAULT_OPS_PER_KEY}"
        );
    }
    Ok(Keys::Independent {
        threads_per_key,
        ops_per_key,
    })
}

/// The key options of the rerun command line, with a leading space.
fn keys_args(keys: Keys) -> String {
    match keys {
        Keys::Fixed { count } => format!(" --keys {count}"),
        Keys::Independent {
            threads_per_key,
            ops_per_key,
        } => format!(" --threads-per-key {threads_per_key} --ops-per-key {ops_per_key}"),
    }
}

/// The workload options derived from the command line.
pub fn workload_options(
    keys: Keys,
    txn: TxnOptions,
    classic: ClassicOptions,
) -> faultline_workloads::WorkloadOptions {
    faultline_workloads::WorkloadOptions {
        keys,
        txn,
        classic,
        ..Default::default()
    }
}

/// The options of the classic workloads, refusing each on a workload that does not use it.
fn resolve_classic(args: &TestArgs) -> Result<ClassicOptions> {
    let defaults = ClassicOptions::default();
    let flags: [(&str, bool, &[&str]); 6] = [
        ("--accounts", args.accounts.is_some(), &["bank"]),
        ("--total-amount", args.total_amount.is_some(), &["bank"]),
        ("--max-transfer", args.max_transfer.is_some(), &["bank"]),
        ("--negative-balances", args.negative_balances, &["bank"]),
        ("--linearizable", args.linearizable, &["set", "queue"]),
        ("--decrements", args.decrements, &["counter"]),
    ];
    for (flag, given, workloads) in flags {
        if given && !workloads.contains(&args.workload.as_str()) {
            bad_input!(
                "{flag} is for --workload {}, not --workload {}: drop it",
                workloads.join(" and "),
                args.workload
            );
        }
    }
    Ok(ClassicOptions {
        linearizable: args.linearizable,
        decrements: args.decrements,
        accounts: args.accounts.unwrap_or(defaults.accounts),
        total: args.total_amount.unwrap_or(defaults.total),
        max_transfer: args.max_transfer.unwrap_or(defaults.max_transfer),
        negative_balances: args.negative_balances,
    })
}

/// The classic workloads' flags that differ from their defaults, with a leading space.
fn classic_args(classic: ClassicOptions) -> String {
    let defaults = ClassicOptions::default();
    let mut out = String::new();
    if classic.accounts != defaults.accounts {
        out.push_str(&format!(" --accounts {}", classic.accounts));
    }
    if classic.total != defaults.total {
        out.push_str(&format!(" --total-amount {}", classic.total));
    }
    if classic.max_transfer != defaults.max_transfer {
        out.push_str(&format!(" --max-transfer {}", classic.max_transfer));
    }
    for (flag, on) in [
        (" --negative-balances", classic.negative_balances),
        (" --linearizable", classic.linearizable),
        (" --decrements", classic.decrements),
    ] {
        if on {
            out.push_str(flag);
        }
    }
    out
}

/// Parses `--memory-limit` (of `test` and `check`): bytes, or a size such as `512MiB`.
pub fn parse_memory_limit(text: &str) -> Result<u64> {
    match parse_size(text) {
        Ok(bytes) => Ok(bytes),
        Err(why) => bad_input!(
            "--memory-limit '{text}': {why}; give a size such as 512MiB, 2GiB, 1G or a byte count"
        ),
    }
}

/// A size in bytes from `N`, or `N` with a unit: `K`, `M`, `G`, `T` (optionally followed by
/// `iB`) are powers of 1024, as `ulimit`, Docker and the JVM read them; `kB`, `MB`, `GB`,
/// `TB` are powers of 1000; `B` is bytes. Units are case-insensitive, `N` may have a
/// fraction when it has a unit (`1.5G`), and the size must be positive.
fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = (&text[..split], text[split..].trim());
    if number.is_empty() {
        return Err("no number".to_string());
    }
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => return Err(format!("unknown unit '{unit}'")),
    };
    let bytes = if multiplier == 1 {
        number
            .parse::<u64>()
            .map_err(|_| format!("'{number}' is not a whole number of bytes"))?
    } else {
        let n: f64 = number
            .parse()
            .map_err(|_| format!("'{number}' is not a number"))?;
        let bytes = (n * multiplier as f64).round();
        if bytes >= u64::MAX as f64 {
            return Err("too large".to_string());
        }
        bytes as u64
    };
    if bytes == 0 {
        return Err("the checker needs some memory".to_string());
    }
    Ok(bytes)
}

/// Parse `--concurrency`: `N` workers, or `Nn` for N workers per node.
pub fn parse_concurrency(text: &str, node_count: usize) -> Result<usize> {
    let (digits, per_node) = match text.strip_suffix('n') {
        Some(digits) => (digits, true),
        None => (text, false),
    };
    let Ok(n) = digits.parse::<usize>() else {
        bad_input!("--concurrency '{text}' is not a number of workers: give e.g. 10, or 3n for three per node");
    };
    let workers = if per_node { n * node_count } else { n };
    if workers == 0 {
        bad_input!("--concurrency '{text}' gives no workers: give at least 1");
    }
    Ok(workers)
}

fn positive_secs(flag: &str, secs: f64) -> Result<Duration> {
    if !(secs > 0.0 && secs.is_finite() && secs < 1e9) {
        bad_input!("{flag} {secs} is not a positive number of seconds");
    }
    Ok(Duration::from_secs_f64(secs))
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
mod tests {
    use super::*;

    #[test]
    fn concurrency_per_node() {
        assert_eq!(parse_concurrency("3n", 5).unwrap(), 15);
        assert_eq!(parse_concurrency("7", 5).unwrap(), 7);
        assert!(parse_concurrency("x", 5).is_err());
        assert!(parse_concurrency("0n", 5).is_err());
    }

    fn resolve(args: &[&str]) -> Result<TestSpec> {
        use clap::Parser;
        let cli =
            crate::cli::Cli::try_parse_from(["faultline", "test"].iter().chain(args).copied())
                .unwrap();
        let crate::cli::Command::Test(args) = cli.command else {
            unreachable!()
        };
        TestSpec::resolve(&args)
    }

    /// Resolves the spec's own rerun line again.
    fn rerun(spec: &TestSpec) -> TestSpec {
        let words = shlex::split(&spec.rerun).unwrap();
        let words: Vec<&str> = words.iter().skip(2).map(String::as_str).collect();
        resolve(&words).unwrap()
    }

    #[test]
    fn the_rerun_line_of_an_ssh_run_reaches_the_same_nodes_the_same_way() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("my key");
        std::fs::write(&key, "").unwrap();
        let key = key.display().to_string();
        let spec = resolve(&[
            "--target",
            "ssh",
            "--nodes",
            "n1=10.0.0.1,n2=10.0.0.2,n3=10.0.0.3",
            "--username",
            "admin",
            "--ssh-private-key",
            &key,
            "--ssh-port",
            "2222",
            "--sudo",
            "--known-hosts",
            "/tmp/kh",
            "--remote-dir",
            "/srv/fl",
            "--install-mode",
            "copy",
            "--ssh-timeout",
            "4",
            "--password",
            "hunter2",
        ])
        .unwrap_err();
        // A key and a password together are refused; with the key alone:
        assert!(spec.to_string().contains("not both"), "{spec}");
        let spec = resolve(&[
            "--target",
            "ssh",
            "--nodes",
            "n1=10.0.0.1,n2=10.0.0.2,n3=10.0.0.3",
            "--username",
            "admin",
            "--ssh-private-key",
            &key,
            "--ssh-port",
            "2222",
            "--sudo",
            "--known-hosts",
            "/tmp/kh",
            "--remote-dir",
            "/srv/fl",
            "--install-mode",
            "copy",
            "--ssh-timeout",
            "4",
            "--store",
            "/tmp/my store",
            "--name",
            "mine",
        ])
        .unwrap();
        let again = rerun(&spec);
        let json = |s: &TestSpec| {
            let mut v = serde_json::to_value(s).unwrap();
            v["rerun"] = serde_json::Value::Null;
            v["node_binary"] = serde_json::Value::Null;
            v
        };
        assert_eq!(json(&spec), json(&again), "{}", spec.rerun);
        assert_eq!(again.rerun, spec.rerun);
        assert_eq!(again.ssh.as_ref().unwrap().node_name(2), "n3");
        assert_eq!(again.install_mode, systems::InstallMode::Copy);

        // A password is never in it; the line says where it comes from instead.
        let spec =
            resolve(&["--target", "ssh", "--nodes", "a,b", "--password", "hunter2"]).unwrap();
        assert!(!spec.rerun.contains("hunter2"), "{}", spec.rerun);
        assert!(
            spec.rerun.contains("FAULTLINE_SSH_PASSWORD"),
            "{}",
            spec.rerun
        );

        let spec =
            resolve(&["--target", "docker", "--node-count", "3", "--leave-running"]).unwrap();
        assert!(
            spec.rerun.contains(" --node-count 3 ")
                && spec.rerun.contains(" --target docker")
                && spec.rerun.contains(" --leave-running"),
            "{}",
            spec.rerun
        );
        assert_eq!(json(&rerun(&spec)), json(&spec));
    }

    #[test]
    fn independent_keys_are_the_default_in_spec_json_and_rerun() {
        let spec = resolve(&["--seed", "1"]).unwrap();
        assert_eq!(
            spec.keys(),
            Keys::Independent {
                threads_per_key: 10,
                ops_per_key: 200
            }
        );
        assert!(
            spec.rerun
                .contains(" --threads-per-key 10 --ops-per-key 200 "),
            "{}",
            spec.rerun
        );
        assert!(!spec.rerun.contains("--keys"), "{}", spec.rerun);
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["keys"], serde_json::Value::Null);
        assert_eq!(json["threads_per_key"], 10);
        assert_eq!(json["ops_per_key"], 200);
        assert_eq!(json["memory_limit_bytes"], 2u64 << 30);

        let spec = resolve(&[
            "--seed",
            "1",
            "--threads-per-key",
            "3",
            "--ops-per-key",
            "50",
        ])
        .unwrap();
        let again = rerun(&spec);
        assert_eq!(again.keys(), spec.keys());
        assert_eq!(
            again.keys(),
            Keys::Independent {
                threads_per_key: 3,
                ops_per_key: 50
            }
        );
    }

    #[test]
    fn fixed_keys_from_keys_in_spec_json_and_rerun() {
        let spec = resolve(&["--seed", "1", "--keys", "3", "--memory-limit", "512MiB"]).unwrap();
        assert_eq!(spec.keys(), Keys::Fixed { count: 3 });
        assert!(spec.rerun.contains(" --keys 3 "), "{}", spec.rerun);
        assert!(!spec.rerun.contains("-per-key"), "{}", spec.rerun);
        assert_eq!(rerun(&spec).keys(), Keys::Fixed { count: 3 });
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["keys"], 3);
        assert_eq!(json["threads_per_key"], serde_json::Value::Null);
        assert_eq!(json["memory_limit_bytes"], 512u64 << 20);
    }

    #[test]
    fn bad_key_options_are_one_line_bad_input_naming_the_flag() {
        for (args, message) in [
            (
                &["--keys", "0"][..],
                "--keys 0: the workload needs at least one key; give e.g. --keys 5, or leave \
                 --keys out for independent keys",
            ),
            (
                &["--threads-per-key", "0"],
                "--threads-per-key 0: every key needs at least one worker; give e.g. \
                 --threads-per-key 10",
            ),
            (
                &["--ops-per-key", "0", "--threads-per-key", "2"],
                "--ops-per-key 0: a key needs at least one op before it is retired; give e.g. \
                 --ops-per-key 200",
            ),
            (
                &["--keys", "5", "--ops-per-key", "10"],
                "--keys 5 gives a fixed key set, and --ops-per-key is for independent keys \
                 (the default without --keys): give one or the other",
            ),
            (
                &["--threads-per-key", "2", "--keys", "5"],
                "--keys 5 gives a fixed key set, and --threads-per-key is for independent \
                 keys (the default without --keys): give one or the other",
            ),
            (
                &["--memory-limit", "2XB"],
                "--memory-limit '2XB': unknown unit 'XB'; give a size such as 512MiB, 2GiB, \
                 1G or a byte count",
            ),
        ] {
            let err = resolve(args).unwrap_err();
            assert_eq!(
                crate::exit::code_for(&err),
                crate::exit::BAD_INPUT,
                "{args:?}"
            );
            assert_eq!(err.to_string(), message);
        }
        // More workers per key than workers is one key at a time, not an error.
        let spec = resolve(&["--threads-per-key", "1000", "--concurrency", "2"]).unwrap();
        assert_eq!(spec.threads_per_key, Some(1000));
    }

    #[test]
    fn txn_workloads_take_elles_options_into_spec_json_and_rerun() {
        let spec = resolve(&["--seed", "1", "--workload", "append"]).unwrap();
        assert_eq!(spec.txn(), TxnOptions::default());
        assert_eq!(spec.consistency_models, vec!["strict-serializable"]);
        assert!(
            spec.rerun.contains(
                " --key-count 10 --min-txn-length 1 --max-txn-length 2 \
                 --max-writes-per-key 32 --consistency-models strict-serializable "
            ),
            "{}",
            spec.rerun
        );
        assert!(!spec.rerun.contains("-per-key 200"), "{}", spec.rerun);
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["key_count"], 10);
        assert_eq!(json["max_writes_per_key"], 32);
        assert_eq!(json["threads_per_key"], serde_json::Value::Null);
        assert_eq!(
            json["consistency_models"],
            serde_json::json!(["strict-serializable"])
        );

        let spec = resolve(&[
            "--seed",
            "1",
            "--workload",
            "wr",
            "--key-count",
            "3",
            "--min-txn-length",
            "4",
            "--max-writes-per-key",
            "5",
            "--consistency-models",
            "serializable, snapshot-isolation",
        ])
        .unwrap();
        let again = rerun(&spec);
        assert_eq!(again.workload, "wr");
        assert_eq!(
            again.txn(),
            TxnOptions {
                key_count: 3,
                min_txn_length: 4,
                max_txn_length: 4,
                max_writes_per_key: 5
            }
        );
        assert_eq!(
            again.consistency_models,
            vec!["serializable", "snapshot-isolation"]
        );
        // The register's spec and rerun line carry none of it.
        let register = resolve(&["--seed", "1"]).unwrap();
        assert!(
            !register.rerun.contains("--key-count"),
            "{}",
            register.rerun
        );
        assert!(register.consistency_models.is_empty());
        assert_eq!(register.key_count, None);
    }

    #[test]
    fn bad_txn_options_are_one_line_bad_input_naming_the_flag() {
        for (args, message) in [
            (
                &["--workload", "append", "--key-count", "0"][..],
                "--key-count 0: a transaction needs at least one key; give e.g. --key-count 10",
            ),
            (
                &[
                    "--workload",
                    "wr",
                    "--min-txn-length",
                    "3",
                    "--max-txn-length",
                    "2",
                ],
                "--max-txn-length 2: it is below --min-txn-length 3; give at least that",
            ),
            (
                &["--workload", "wr", "--max-writes-per-key", "0"],
                "--max-writes-per-key 0: a key must take at least one write before it is \
                 rotated; give e.g. --max-writes-per-key 32",
            ),
            (
                &["--key-count", "3"],
                "--key-count is for the transactional workloads (--workload append or wr), \
                 not --workload register",
            ),
            (
                &["--consistency-models", "serializable"],
                "--consistency-models is for the transactional workloads (--workload append or \
                 wr), not --workload register",
            ),
            (
                &["--workload", "append", "--ops-per-key", "5"],
                "--ops-per-key is for the register workload; --workload append spreads its \
                 transactions over --key-count keys, rotated after --max-writes-per-key writes",
            ),
            (
                &[
                    "--workload",
                    "append",
                    "--consistency-models",
                    "serializable,,x",
                ],
                "--consistency-models 'serializable,,x': '' is not a model name; give names \
                 separated by commas, e.g. strict-serializable or serializable,snapshot-isolation",
            ),
            (
                &[
                    "--workload",
                    "append",
                    "--consistency-models",
                    "serializable,serializable",
                ],
                "--consistency-models 'serializable,serializable': serializable is named twice",
            ),
            (
                &[
                    "--workload",
                    "append",
                    "--consistency-models",
                    "serializable,linearizible",
                ],
                "--consistency-models: unknown consistency model \"linearizible\"; known models \
                 are ",
            ),
            (
                &["--bug", "txn-stale-reads"],
                "--bug txn-stale-reads breaks transactions (POST /txn), which --workload \
                 register never runs: use it with --workload append or wr",
            ),
            (
                &["--workload", "wr", "--bug", "lost-writes"],
                "--bug lost-writes breaks single-key reads and writes (/kv), which --workload wr \
                 never uses: its transactions go to POST /txn; use --bug txn-stale-reads",
            ),
            (
                &["--workload", "counter", "--accounts", "3"],
                "--accounts is for --workload bank, not --workload counter: drop it",
            ),
            (
                &["--workload", "bank", "--linearizable"],
                "--linearizable is for --workload set and queue, not --workload bank: drop it",
            ),
            (
                &["--workload", "bank", "--system", "nats"],
                "--system nats: --workload bank writes several keys in one atomic step, and \
                 NATS JetStream's key-value store cannot (each key is its own stream subject); \
                 the systems that serve bank are reference, etcd, zookeeper and http",
            ),
            (
                &["--workload", "append", "--system", "nats"],
                "--system nats: --workload append writes several keys in one atomic step, and \
                 NATS JetStream's key-value store cannot (each key is its own stream subject); \
                 the systems that serve append are reference, etcd, zookeeper and http",
            ),
        ] {
            let err = resolve(args).unwrap_err();
            assert_eq!(
                crate::exit::code_for(&err),
                crate::exit::BAD_INPUT,
                "{args:?}"
            );
            let err = err.to_string();
            assert!(err.starts_with(message), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn sizes_with_and_without_units() {
        for (text, bytes) in [
            ("512MiB", 512 << 20),
            ("2GiB", 2 << 30),
            ("1G", 1 << 30),
            ("800M", 800 << 20),
            ("800m", 800 << 20),
            ("64k", 64 << 10),
            ("1.5G", 3 << 29),
            ("1TiB", 1 << 40),
            ("1GB", 1_000_000_000),
            ("500 MB", 500_000_000),
            ("4096", 4096),
            ("4096B", 4096),
        ] {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
        for (text, why) in [
            ("", "no number"),
            ("GiB", "no number"),
            ("2XB", "unknown unit 'XB'"),
            ("1.5", "not a whole number"),
            ("-1G", "no number"),
            ("0", "needs some memory"),
            ("0.0000000001K", "needs some memory"),
            ("1.2.3G", "not a number"),
            ("99999999999T", "too large"),
        ] {
            let err = parse_size(text).unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
        let err = parse_memory_limit("lots").unwrap_err();
        assert_eq!(crate::exit::code_for(&err), crate::exit::BAD_INPUT);
        assert_eq!(
            err.to_string(),
            "--memory-limit 'lots': no number; give a size such as 512MiB, 2GiB, 1G or a byte count"
        );
    }

    #[test]
    fn port_in_use_is_bad_input() {
        let held = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let err = check_ports_free(port, 1).unwrap_err();
        assert_eq!(crate::exit::code_for(&err), crate::exit::BAD_INPUT);
        assert!(err.to_string().contains(&format!("port {port}")), "{err}");
    }
}
