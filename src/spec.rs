//! The resolved test spec: every option of `faultline test` validated into one value before
//! any I/O happens, and stored as `test.json` in the run folder.
//!
//! Validation errors are [`BadInput`](crate::exit::BadInput) (exit 254) and say what is wrong
//! and how to fix it. Nothing here starts a process or opens a file for writing.

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use crate::cli::TestArgs;
use crate::exit::bad_input;
use crate::systems::reference::Bug;
use faultline_nemeses::process::Target;

/// Systems `--system` accepts.
pub use crate::systems::SYSTEMS;
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
    /// Keys of the register workload.
    pub keys: usize,
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
    /// How long to wait for the cluster to be ready.
    #[serde(with = "secs")]
    pub ready_timeout: Duration,
    /// Linearizability checker budget.
    #[serde(with = "secs")]
    pub check_timeout: Duration,
    /// Whether to draw a progress bar.
    #[serde(skip)]
    pub progress: bool,
    /// The command line that reruns this test with the same seed.
    pub rerun: String,
    /// How to reach the nodes for `--target ssh` and `docker` (no secret is stored).
    pub ssh: Option<crate::target::ssh::SshSpec>,
    /// Leave the docker cluster running after the test.
    pub leave_running: bool,
    /// Network and clock fault options, and how local nodes are networked.
    pub faults: crate::faults::FaultOptions,
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
                let ssh = crate::target::ssh::SshSpec::resolve(&args.ssh, args.base_port)?;
                node_count = ssh.hosts.len();
                Some(ssh)
            }
            "docker" => {
                if node_count > crate::target::ssh::docker::MAX_NODES {
                    bad_input!(
                        "--node-count {node_count}: the docker cluster has at most {} nodes",
                        crate::target::ssh::docker::MAX_NODES
                    );
                }
                let timeout = positive_secs("--ssh-timeout", args.ssh.ssh_timeout)?;
                Some(crate::target::ssh::docker::ssh_spec(
                    node_count,
                    timeout,
                    args.base_port,
                ))
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
        faultline_workloads::by_name(&args.workload, &workload_options(args.keys))
            .map_err(|e| anyhow::Error::new(crate::exit::BadInput(format!("--workload: {e}"))))?;
        let nemeses = faultline_nemeses::schedule::parse_nemeses(&args.nemesis)
            .map_err(|e| anyhow::Error::new(crate::exit::BadInput(format!("--nemesis: {e}"))))?;
        for kind in &nemeses {
            if let Some(why) = crate::systems::unsupported_nemesis(&args.system, kind.name()) {
                bad_input!("--nemesis {}: {why}", kind.name());
            }
        }
        let faults = crate::faults::resolve_options(args, &nemeses)?;
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
                if let Err(e) = name.parse::<Bug>() {
                    bad_input!("--bug: {e}");
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
        if !(args.rate >= 0.0 && args.rate.is_finite()) {
            bad_input!(
                "--rate {} is not a rate: give ops per second, or 0 for unlimited",
                args.rate
            );
        }
        if args.keys == 0 {
            bad_input!("--keys 0: the workload needs at least one key");
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
            "faultline test --system {} --node-count {} --workload {} --nemesis {} \
             --nemesis-targets {} --nemesis-interval {} --time-limit {} --concurrency {} --rate {} --keys {} \
             --op-timeout {} --seed {seed}",
            args.system,
            node_count,
            args.workload,
            if nemesis_names.is_empty() { "none".to_string() } else { nemesis_names.join(",") },
            args.nemesis_targets,
            args.nemesis_interval,
            args.time_limit,
            args.concurrency,
            args.rate,
            args.keys,
            args.op_timeout,
        );
        rerun.push_str(&crate::faults::rerun_args(args));
        if let Some(bug) = &bug {
            rerun.push_str(&format!(" --bug {bug}"));
        }
        if let Some(level) = &read_consistency {
            rerun.push_str(&format!(" --read-consistency {level}"));
        }
        if !endpoints.is_empty() {
            rerun.push_str(&format!(" --endpoints {}", endpoints.join(",")));
        }
        Ok(TestSpec {
            name,
            system: args.system.clone(),
            target: args.target.clone(),
            node_count,
            workload: args.workload.clone(),
            nemeses: nemesis_names,
            nemesis_targets,
            nemesis_interval,
            time_limit,
            concurrency,
            rate: (args.rate > 0.0).then_some(args.rate),
            keys: args.keys,
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
            ready_timeout,
            check_timeout,
            progress: !args.no_progress,
            rerun,
            ssh,
            leave_running: args.ssh.leave_running,
            faults,
        })
    }
}

/// `--read-consistency`, checked against what the system offers.
fn resolve_read_consistency(args: &TestArgs) -> Result<Option<String>> {
    let Some(level) = &args.read_consistency else {
        return Ok(None);
    };
    let levels = crate::systems::read_consistencies(&args.system);
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
        if let Err(e) = crate::systems::http::parse_endpoint(url) {
            bad_input!("--endpoints: {e}");
        }
        endpoints.push(url.trim_end_matches('/').to_string());
    }
    if endpoints.is_empty() {
        bad_input!("--endpoints is empty: give at least one base URL");
    }
    Ok(endpoints)
}

/// The workload options derived from the command line.
pub fn workload_options(keys: usize) -> faultline_workloads::WorkloadOptions {
    faultline_workloads::WorkloadOptions {
        keys,
        ..Default::default()
    }
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

    #[test]
    fn port_in_use_is_bad_input() {
        let held = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let err = check_ports_free(port, 1).unwrap_err();
        assert_eq!(crate::exit::code_for(&err), crate::exit::BAD_INPUT);
        assert!(err.to_string().contains(&format!("port {port}")), "{err}");
    }
}
