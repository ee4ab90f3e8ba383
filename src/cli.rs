//! The command line, as clap derive structs: doc comments are the `--help` text.
//!
//! Options take Jepsen's names where Jepsen has one (`--nodes`, `--concurrency`,
//! `--time-limit`, `--test-count`, `--leave-db-running`), so its users feel at home. This
//! module only parses; [`crate::spec`] validates into one resolved test spec before any I/O.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// A Jepsen-style black-box testing harness for consensus-backed services.
///
/// Exit codes, as Jepsen's CLI: 0 valid, 1 invalid, 2 unknown, 254 bad arguments or input,
/// 255 harness failure.
#[derive(Debug, Parser)]
#[command(name = "faultline", version, max_term_width = 100)]
pub struct Cli {
    /// Log filter for the terminal (e.g. `info`, `faultline=debug`); the run folder's
    /// `faultline.log` always gets `info` and above. The ZooKeeper client's reconnect
    /// warnings are hidden by default: under faults they are expected, and the history
    /// records their outcome.
    #[arg(
        long,
        global = true,
        env = "FAULTLINE_LOG",
        default_value = "warn,zookeeper_client=error"
    )]
    pub log: String,

    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once
pub enum Command {
    /// Run a test: start the cluster, drive the workload while injecting faults, heal, check.
    Test(TestArgs),
    /// Check stored histories without a cluster (Jepsen's `analyze`).
    Check(CheckArgs),
    /// Re-render a run's HTML report from its files.
    Report(ReportArgs),
    /// Browse the store's runs and reports over HTTP.
    Serve(ServeArgs),
    /// Undo every fault a run left applied and stop its node processes (after a crash of
    /// the harness itself).
    Heal(HealArgs),
    /// From an invalid run to the smallest run that still shows its anomaly: rerun the test
    /// with fewer, shorter faults, a shorter time limit and fewer workers.
    Shrink(ShrinkArgs),
    /// Measure the harness's own overhead: ops recorded per second against an in-process
    /// client.
    Bench(BenchArgs),
    /// Maelstrom's workbench: test node programs that speak Maelstrom's protocol, with
    /// Maelstrom's command lines (`faultline maelstrom test -w echo --bin ./node`).
    Maelstrom(MaelstromArgs),
}

/// `faultline maelstrom`.
#[derive(Debug, Args)]
pub struct MaelstromArgs {
    #[command(subcommand)]
    pub command: MaelstromCommand,
}

/// The commands of `faultline maelstrom`.
#[derive(Debug, Subcommand)]
pub enum MaelstromCommand {
    /// Run node programs under a workload, with faultline as their network and clients.
    Test(MaelstromTestArgs),
}

/// `faultline maelstrom test`: Maelstrom's own flags and defaults, plus `--seed` and `--store`.
#[derive(Debug, Clone, Args)]
pub struct MaelstromTestArgs {
    /// The workload: echo, unique-ids, broadcast, g-set, g-counter, pn-counter, lin-kv,
    /// txn-list-append, txn-rw-register, kafka.
    #[arg(short = 'w', long)]
    pub workload: String,

    /// The node program; arguments for it follow `--`.
    #[arg(long, value_name = "PATH")]
    pub bin: PathBuf,

    /// Arguments for the node program (after `--`).
    #[arg(last = true, value_name = "ARGS")]
    pub bin_args: Vec<String>,

    /// Number of nodes (`n1`, `n2`, ...).
    #[arg(long, default_value_t = 1)]
    pub node_count: usize,

    /// Seconds the workload runs.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub time_limit: f64,

    /// Requests per second, over all clients.
    #[arg(long, default_value_t = 5.0)]
    pub rate: f64,

    /// Clients: a number, or `Nn` for N per node.
    #[arg(long, default_value = "1n")]
    pub concurrency: String,

    /// Mean message latency in milliseconds.
    #[arg(long, default_value_t = 0.0, value_name = "MS")]
    pub latency: f64,

    /// How latencies are drawn: constant, uniform or exponential.
    #[arg(long, default_value = "constant")]
    pub latency_dist: String,

    /// Faults, comma-separated: `partition` (nodes split into halves), `pause` (a node's
    /// process stopped), `kill` (a node's process killed and restarted: a crash that loses
    /// its memory).
    #[arg(long, default_value = "")]
    pub nemesis: String,

    /// Seconds between faults (each lasts as long).
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub nemesis_interval: f64,

    /// The broadcast topology sent to the nodes: grid, line, tree2, tree3, tree4, total.
    #[arg(long, default_value = "grid")]
    pub topology: String,

    /// The least share of ops that must succeed (`ok`), as a fraction, or `total` (all).
    #[arg(long)]
    pub availability: Option<String>,

    /// txn workloads: most micro-ops in a transaction.
    #[arg(long, default_value_t = 4)]
    pub max_txn_length: usize,

    /// txn workloads: keys active at once.
    #[arg(long, default_value_t = 10)]
    pub key_count: usize,

    /// txn workloads: writes a key receives before a fresh key takes its place.
    #[arg(long, default_value_t = 16)]
    pub max_writes_per_key: u64,

    /// txn workloads: the consistency models to check, comma-separated.
    #[arg(long, default_value = "strict-serializable")]
    pub consistency_models: String,

    /// Run the whole test this many times; the exit code is the worst verdict.
    #[arg(long, default_value_t = 1)]
    pub test_count: u32,

    /// Copy every node's stderr to the terminal (it always goes to `nodes/<node>/node.log`).
    #[arg(long)]
    pub log_stderr: bool,

    /// Print every message when it is sent.
    #[arg(long)]
    pub log_net_send: bool,

    /// Print every message when it is delivered.
    #[arg(long)]
    pub log_net_recv: bool,

    /// Seed of the schedule of ops, faults and latencies (printed and stored with each run).
    #[arg(long)]
    pub seed: Option<u64>,

    /// Where runs are stored.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
}

/// The default `--nemesis`.
pub const DEFAULT_NEMESES: &str = "kill,pause";

/// The default of `--partition-shapes`.
pub const DEFAULT_SHAPES: &str = "one,halves,leader,bridge,ring";

/// The default `--consistency-models` of the transactional workloads.
pub const DEFAULT_CONSISTENCY_MODELS: &str = "strict-serializable";

/// The default `--memory-limit` of the linearizability checker.
pub const DEFAULT_MEMORY_LIMIT: &str = "2GiB";

/// `--memory-limit`'s long help (`--help`): how sizes are written.
const MEMORY_LIMIT_HELP: &str = "Memory budget of the linearizability checker's search \
    (its memo tables); past it the verdict is unknown, never a guess. A byte count or a \
    number with a unit: 512MiB, 2GiB, 1G, 800M, 1.5G. K, M, G, T (with or without iB) are \
    powers of 1024; kB, MB, GB, TB are powers of 1000.";

/// Options of `faultline test`.
#[derive(Debug, Clone, Args)]
pub struct TestArgs {
    /// The system under test: `reference` (built in), `etcd`, `zookeeper`, `nats` (their
    /// Debian packages are installed when missing, as root), or `http` (your own service
    /// speaking faultline's HTTP protocol at `--endpoints`; see the README).
    #[arg(long, default_value = "reference")]
    pub system: String,

    /// How clients read: etcd `linearizable` (default) or `serializable` (served by the local
    /// member, may be stale); zookeeper `sync` (default: sync, then read) or `local` (the
    /// session's server answers alone); nats `leader` (default: the stream leader answers)
    /// or `direct` (direct get: any replica answers); galera `causal` (default:
    /// `wsrep_sync_wait = 1`) or `local` (the node answers from what it applied).
    #[arg(long, value_name = "LEVEL")]
    pub read_consistency: Option<String>,

    /// For `--system galera`: every transaction's isolation level, `read-committed`,
    /// `repeatable-read` (default, MariaDB's) or `serializable`. Transactional histories are
    /// checked against what the level promises (read-committed, snapshot-isolation,
    /// serializable) unless --consistency-models names other models.
    #[arg(long, value_name = "LEVEL")]
    pub isolation: Option<String>,

    /// For `--system http`: the base URLs of the nodes, comma-separated
    /// (`http://127.0.0.1:8001,http://127.0.0.1:8002`). You start these nodes yourself.
    #[arg(long, value_name = "URL,...")]
    pub endpoints: Option<String>,

    /// Where the nodes run. `local` starts them as processes on this machine; `ssh` reaches
    /// the --nodes over SSH; `docker` starts the docker-compose cluster of `docker/` and
    /// reaches it over SSH.
    #[arg(long, default_value = "local")]
    pub target: String,

    /// Number of nodes to start (local target).
    #[arg(long, default_value_t = 5)]
    pub node_count: usize,

    /// The workload: what the clients do.
    #[arg(long, default_value = "register")]
    pub workload: String,

    /// Faults to inject, comma-separated (`kill`, `pause`, `partition`, `clock`, `netem`,
    /// `bitflip`, `truncate`, `membership`, `lose-unfsynced`), or `none`. `lose-unfsynced` mounts the
    /// nodes' data through faultline's FUSE layer (root and /dev/fuse, locally or on SSH nodes). Each fault start and stop is recorded in the history under `nemesis`.
    #[arg(long, default_value = DEFAULT_NEMESES)]
    pub nemesis: String,

    /// Run exactly the faults of this file instead of a random schedule: a JSON list of
    /// `{"at": SECS, "fault": "kill|pause|partition|clock|netem", "value": TARGETS,
    /// "duration": SECS}` (offsets from the start of the main phase; `value` as the nemesis
    /// takes it, e.g. `["n2"]`, `"leader"`, `"halves"`; without `duration` the fault lasts to
    /// the end). The faults it names are the nemeses enabled: do not also give `--nemesis`.
    #[arg(long, value_name = "FILE")]
    pub nemesis_schedule: Option<std::path::PathBuf>,

    /// End the main phase as soon as the online checker, which follows the history while
    /// the test runs, proves an anomaly; the nemesis heals and the run is checked and
    /// reported as usual. Without it the run goes on and results.json records when the
    /// first anomaly became provable.
    #[arg(long)]
    pub stop_on_anomaly: bool,

    /// Partition shapes to choose among: `one` (isolate a node), `halves` (random minority |
    /// majority), `leader` (the leader against the rest), `bridge` (two halves sharing one
    /// node), `ring` (every node sees a majority, no two the same), `one-way` (one node's
    /// packets are dropped by the others, it still hears them), `grudge` (see
    /// --partition-grudge).
    #[arg(long, default_value = DEFAULT_SHAPES, value_name = "SHAPES")]
    pub partition_shapes: String,

    /// An explicit partition: components separated by `|`, nodes by `,` (`n1,n2|n3,n4,n5`).
    /// Each component drops packets from the others; nodes in no component see everyone.
    /// `n1>n2,n3` is one-way: n2 and n3 drop what n1 sends (relays cut such links both ways).
    /// Given alone it replaces the default shapes.
    #[arg(long, value_name = "GRUDGE")]
    pub partition_grudge: Option<String>,

    /// How partitions are made: `iptables` (drops in chain FAULTLINE inside each node's
    /// network namespace; root), `relays` (per-link TCP relays; any user), `auto` (iptables
    /// as root, relays otherwise).
    #[arg(long, default_value = "auto")]
    pub partitioner: String,

    /// Do not give local nodes network namespaces even as root (nodes use loopback; partitions
    /// and netem go through relays).
    #[arg(long)]
    pub no_netns: bool,

    /// The netem link fault: `delay=50ms,jitter=10ms,loss=5%,duplicate=1%,reorder=10%,
    /// corrupt=1%,rate=1mbit,on=all` (`on`: `all`, `one` random node, a node name, or a link
    /// `n1>n2` / `n1<>n2`). Kernel
    /// netem, else (as root) an NFQUEUE scheduler with statistic drops and tbf, else (no root)
    /// the relays' toxics, which also take `slice=BYTES`, `stall=MS` and `reset=MS`.
    #[arg(long, default_value = faultline_nemeses::netem::DEFAULT_NETEM, value_name = "SPEC")]
    pub netem: String,

    /// Clock offsets a skew or strobe chooses among, in seconds, comma-separated; each is
    /// applied ahead or behind at random.
    #[arg(long, default_value = "60", value_name = "SECS")]
    pub clock_offset: String,

    /// Clock faults to choose among: `skew`, `strobe` (flip between the offset and true time),
    /// or `skew,strobe`.
    #[arg(long, default_value = "skew,strobe")]
    pub clock_faults: String,

    /// How long each state of a clock strobe lasts, in milliseconds.
    #[arg(long, default_value_t = 500, value_name = "MS")]
    pub clock_strobe_period_ms: u64,

    /// How clocks are skewed: `faketime` (nodes run under libfaketime, the host clock is never
    /// touched; honoured by C, Rust and Java services, not Go binaries such as etcd) or
    /// `real` (`date -s` on the node: not built yet, refused). faketime works on local, SSH and
    /// docker nodes (on remote nodes with the node's own libfaketime).
    #[arg(long, default_value = "faketime")]
    pub clock_mode: String,

    /// Which nodes process faults hit, comma-separated, chosen at random each time: `one`,
    /// `minority`, `majority`, `leader`, `all`.
    #[arg(long, default_value = "one,minority,majority,leader,all")]
    pub nemesis_targets: String,

    /// Seconds between fault starts and stops.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    pub nemesis_interval: f64,

    /// How long the main phase of the test runs, in seconds.
    #[arg(long, default_value_t = 60.0, value_name = "SECS")]
    pub time_limit: f64,

    /// Client workers: a number, or `Nn` for N workers per node (`3n`).
    #[arg(long, default_value = "2n")]
    pub concurrency: String,

    /// Total operations per second across all workers (0 = as fast as the system answers).
    #[arg(long, default_value_t = 100.0, value_name = "HZ")]
    pub rate: f64,

    /// A fixed set of keys `0..N`: every worker spreads its ops over all of them for the
    /// whole run, as before independent keys. Without it keys are independent (see
    /// --threads-per-key and --ops-per-key); it cannot be combined with them.
    #[arg(long, value_name = "N")]
    pub keys: Option<usize>,

    /// Independent keys (the default, as Jepsen's `independent/concurrent-generator`):
    /// workers are split into groups of this many, and each group works on a key of its own
    /// (worker i is in group i / T; more than --concurrency means one key at a time)
    /// [default: 10].
    #[arg(long, value_name = "T")]
    pub threads_per_key: Option<usize>,

    /// Independent keys: once this many ops have been generated on a key, its group retires
    /// it and takes a fresh one, never used before, so each key's history stays small enough
    /// to check [default: 200].
    #[arg(long, value_name = "N")]
    pub ops_per_key: Option<u64>,

    /// Transactional workloads (append, wr): keys active at once, as Elle's `:key-count`
    /// (its exponential key distribution: the i-th active key is 2^i times as likely as the
    /// first) [default: 10].
    #[arg(long, value_name = "N")]
    pub key_count: Option<usize>,

    /// Transactional workloads: fewest micro-ops in a transaction [default: 1].
    #[arg(long, value_name = "N")]
    pub min_txn_length: Option<usize>,

    /// Transactional workloads: most micro-ops in a transaction [default: 2].
    #[arg(long, value_name = "N")]
    pub max_txn_length: Option<usize>,

    /// Transactional workloads: writes (appends) a key takes before a fresh key replaces it,
    /// so no key grows without bound [default: 32].
    #[arg(long, value_name = "N")]
    pub max_writes_per_key: Option<u64>,

    /// Transactional workloads: the consistency models the history must satisfy,
    /// comma-separated, with Elle's names (`strict-serializable`, `serializable`,
    /// `snapshot-isolation`, `repeatable-read`, `read-committed`, ...).
    #[arg(long, default_value = DEFAULT_CONSISTENCY_MODELS, value_name = "MODELS")]
    pub consistency_models: String,

    /// `--workload bank`: how many accounts [default: 8].
    #[arg(long, value_name = "N")]
    pub accounts: Option<usize>,

    /// `--workload bank`: the total of all balances, spread evenly [default: 100].
    #[arg(long, value_name = "N")]
    pub total_amount: Option<i64>,

    /// `--workload bank`: the largest amount one transfer moves [default: 5].
    #[arg(long, value_name = "N")]
    pub max_transfer: Option<i64>,

    /// `--workload bank`: balances may go below zero (a negative balance is then no error).
    #[arg(long)]
    pub negative_balances: bool,

    /// `--workload set` and `queue`: the system claims linearizability, so a stale set read
    /// fails the run and queue histories also go to the `fifo-queue` model.
    #[arg(long)]
    pub linearizable: bool,

    /// `--workload counter`: generate decrements too, not only increments.
    #[arg(long)]
    pub decrements: bool,

    /// Seconds a client waits for one operation before recording it as indeterminate.
    #[arg(long, default_value_t = 1.0, value_name = "SECS")]
    pub op_timeout: f64,

    /// A client in any language instead of the system's built-in one: faultline runs
    /// `sh -c CMD` once per worker process and exchanges one JSON object a line with it on
    /// stdin/stdout (the op; then `{"type": "ok"|"fail"|"info", "value": ..., "error": ...}`).
    /// It reaches its node through `FAULTLINE_ENDPOINT`; see the README.
    #[arg(long, value_name = "CMD")]
    pub client_command: Option<String>,

    /// `--system command`: the system's lifecycle as one executable of yours, run on each
    /// node as `SCRIPT setup`, `SCRIPT start` (the node itself, in the foreground) and
    /// `SCRIPT teardown`, with the node in its environment (`FAULTLINE_NODE`,
    /// `FAULTLINE_CLIENT_PORT`, `FAULTLINE_PEERS`, ...; see the README).
    #[arg(long, value_name = "SCRIPT")]
    pub db_command: Option<std::path::PathBuf>,

    /// `--system command`: Debian packages your lifecycle needs on every node (comma-separated,
    /// e.g. `etcd-server`), installed where missing as `--install-mode` says, before
    /// `SCRIPT setup`, as the built-in systems install theirs.
    #[arg(long, value_name = "PACKAGES", value_delimiter = ',')]
    pub db_packages: Vec<String>,

    /// Run the whole test this many times; the exit code is the worst verdict.
    #[arg(long, default_value_t = 1)]
    pub test_count: u32,

    /// Seed of every random choice the harness makes (ops and faults); printed and stored
    /// with every run so `--seed` reproduces its schedule. Random when absent.
    #[arg(long)]
    pub seed: Option<u64>,

    /// The store folder runs are written to.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,

    /// Name of the test in the store (default: `<system>-<workload>`).
    #[arg(long)]
    pub name: Option<String>,

    /// Leave the nodes running after the test (their pids are in the run folder).
    #[arg(long)]
    pub leave_db_running: bool,

    /// Deliberate bug in the reference system: `stale-reads`, `lost-writes`,
    /// `txn-stale-reads` (transactions' reads apart from their writes; for --workload append
    /// and wr), or `no-fsync` (the Raft log is never fsynced; shows with --nemesis
    /// lose-unfsynced).
    #[arg(long, value_name = "NAME")]
    pub bug: Option<String>,

    /// The reference service's Raft heartbeat interval (default 100ms, etcd's): `100ms`, `0.2s`.
    #[arg(long, value_name = "DURATION")]
    pub raft_heartbeat: Option<String>,

    /// The reference service's election timeout (default 1000ms, etcd's; each follower draws
    /// its own from [this, twice this)); at least 5 × --raft-heartbeat.
    #[arg(long, value_name = "DURATION")]
    pub raft_election: Option<String>,

    /// First port of the local nodes (n1 gets it, n2 the next ...); free ports when absent.
    #[arg(long)]
    pub base_port: Option<u16>,

    /// The executable started as each reference node (default: this faultline binary).
    #[arg(long, value_name = "PATH")]
    pub node_binary: Option<PathBuf>,

    /// How the system's software (etcd, ZooKeeper, NATS) gets onto nodes that lack it:
    /// `copy` (this machine downloads the Debian packages and the dependencies the node
    /// lacks into ~/.cache/faultline/debs, copies them over SSH and installs them with dpkg:
    /// the node needs no mirror), `apt` (the node's own apt-get), `none` (install nothing:
    /// stop before starting anything, naming what each node lacks), or `auto`: apt on the
    /// local target, copy on SSH and docker nodes when this machine runs the node's Debian
    /// release, else apt.
    #[arg(long, default_value = "auto", value_name = "MODE")]
    pub install_mode: String,

    /// Seconds to wait for the cluster to elect a leader at start and after healing.
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub ready_timeout: f64,

    /// Budget of the linearizability checker, in seconds; past it the verdict is unknown.
    #[arg(long, default_value_t = 120.0, value_name = "SECS")]
    pub check_timeout: f64,

    /// Memory budget of the linearizability checker; past it the verdict is unknown.
    #[arg(long, default_value = DEFAULT_MEMORY_LIMIT, value_name = "SIZE", long_help = MEMORY_LIMIT_HELP)]
    pub memory_limit: String,

    /// Hide the progress bar.
    #[arg(long)]
    pub no_progress: bool,

    /// Also write a JUnit XML file with one test case per checker, for CI.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    #[command(flatten)]
    pub ssh: SshFlags,
}

/// Options of `faultline check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// History files: faultline's history.jsonl, Jepsen's history.edn or logs, kv logs,
    /// r(k,v,s,t) txn text, dbcop's history.bincode, Cobra's client logs (a file or a folder
    /// of *.log files).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// The file format: faultline, jepsen-edn, jepsen-log, kv-log, txn-text, dbcop, cobra
    /// (detected from the content when absent).
    #[arg(long)]
    pub format: Option<String>,

    /// The model to check against: register, cas-register, kv, mutex, fifo-queue, set, or
    /// the transactional list-append and rw-register. Default: list-append or rw-register
    /// for histories of txns, kv for kv logs, else cas-register.
    #[arg(long)]
    pub model: Option<String>,

    /// The model's initial value, as JSON (`0`, `"x"`, `null`).
    #[arg(long, value_name = "JSON")]
    pub initial: Option<String>,

    /// Budget per file, in seconds; past it the verdict is unknown.
    #[arg(long, default_value_t = 60.0, value_name = "SECS")]
    pub timeout: f64,

    /// Memory budget of the checker per file; past it the verdict is unknown.
    #[arg(long, default_value = DEFAULT_MEMORY_LIMIT, value_name = "SIZE", long_help = MEMORY_LIMIT_HELP)]
    pub memory_limit: String,

    /// Transactional histories (`f = "txn"`, detected from the content or named by
    /// `--model list-append|rw-register`): the consistency models they must satisfy,
    /// comma-separated, with Elle's names (`strict-serializable`, `serializable`,
    /// `snapshot-isolation`, `repeatable-read`, `read-committed`, ...).
    #[arg(long, default_value = DEFAULT_CONSISTENCY_MODELS, value_name = "MODELS")]
    pub consistency_models: String,

    /// rw-register: each key's versions follow each process's order (Elle's option). The
    /// three version-order flags name the sources used; none given means --wfr-keys.
    #[arg(long)]
    pub sequential_keys: bool,

    /// rw-register: each key's versions follow real time (Elle's option).
    #[arg(long)]
    pub linearizable_keys: bool,

    /// rw-register: a txn's write of a key follows its read of it (Elle's option).
    #[arg(long)]
    pub wfr_keys: bool,

    /// Check the history as one whole instead of splitting it by key.
    #[arg(long)]
    pub no_partition: bool,

    /// Print a machine-readable JSON result instead of text.
    #[arg(long)]
    pub json: bool,

    /// Also render an HTML report of each file into DIR (one subfolder per file when
    /// several are given).
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
}

/// Options of `faultline report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// The run folder (default: the newest run, `store/latest`).
    pub run_dir: Option<PathBuf>,

    /// The store folder used to find `latest`.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,

    /// A Maelstrom run's sequence diagram: the messages sent between these offsets from the
    /// start, in seconds (e.g. `2.5..3`). By default, around the first op the checkers name.
    #[arg(long, value_name = "FROM..TO", value_parser = parse_window)]
    pub messages: Option<(f64, f64)>,
}

/// `FROM..TO` in seconds, FROM < TO.
fn parse_window(text: &str) -> Result<(f64, f64), String> {
    let bad = || format!("'{text}' is not FROM..TO in seconds with FROM < TO, e.g. 2.5..3");
    let (from, to) = text.split_once("..").ok_or_else(bad)?;
    let (from, to): (f64, f64) = (
        from.trim().parse().map_err(|_| bad())?,
        to.trim().parse().map_err(|_| bad())?,
    );
    if from.is_finite() && to.is_finite() && from < to {
        Ok((from, to))
    } else {
        Err(bad())
    }
}

/// Options of `faultline serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The store folder to browse.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,

    /// Address to listen on (loopback by default; a report may name your hosts).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,

    /// Port to listen on.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
}

/// Options of `faultline shrink`.
#[derive(Debug, Clone, Args)]
pub struct ShrinkArgs {
    /// The invalid run to shrink (a run folder of the store).
    pub run_dir: PathBuf,

    /// Reruns of each candidate.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub tries: usize,

    /// Invalid reruns (of --tries) that make a candidate reproduce the anomaly.
    #[arg(long, default_value_t = 2, value_name = "K")]
    pub min_repro: usize,

    /// Total time for all reruns, in seconds; the smallest reproducing run found by then wins.
    #[arg(long, default_value_t = 900.0, value_name = "SECS")]
    pub budget: f64,

    /// Where the reruns are stored (default: the store holding RUN_DIR).
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
}

/// Options of `faultline heal`.
#[derive(Debug, Clone, Args)]
pub struct HealArgs {
    /// The run folder (default: the newest run, `store/latest`).
    pub run_dir: Option<PathBuf>,

    /// The store folder used to find `latest`.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,

    /// Keep each node's data folder for a post-mortem; by default heal removes it once the
    /// node is stopped (its log stays in the run folder).
    #[arg(long)]
    pub keep_data: bool,
}

/// Options of `faultline bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// What to measure: `record` (ops/s the controller records against an in-process
    /// client), `client-command` (the same through one `--client-command` process per
    /// worker), `maelstrom` (messages/s through the Maelstrom router between echo nodes) or
    /// `soak` (a run of `--minutes` at `--rate` through the whole pipeline against the
    /// in-process client: memory over time, online-check CPU per op, time to verdict).
    #[arg(default_value = "record")]
    pub what: String,

    /// `client-command`: the client to measure (default: a trivial Python client that
    /// answers every op at once).
    #[arg(long, value_name = "CMD")]
    pub client_command: Option<String>,

    /// Client workers.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,

    /// Seconds to run.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,

    /// `soak`: minutes to run.
    #[arg(long, default_value_t = 1.0)]
    pub minutes: f64,

    /// `soak`: ops per second, all workers together.
    #[arg(long, default_value_t = 3000.0)]
    pub rate: f64,
}

/// The options of `faultline test --target ssh` (and `docker`), with Jepsen's names.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "SSH target (--target ssh)")]
pub struct SshFlags {
    /// The nodes' host names or addresses, comma separated (`n1,n2,n3`); they are also
    /// the node names, unless each is named: `n1=10.0.0.1,n2=10.0.0.2`.
    #[arg(long, value_name = "HOSTS")]
    pub nodes: Option<String>,
    /// A file listing the nodes, one a line (`#` starts a comment).
    #[arg(long, value_name = "FILE")]
    pub nodes_file: Option<PathBuf>,
    /// The login user on the nodes; a user other than root needs --sudo.
    #[arg(long, default_value = "root")]
    pub username: String,
    /// Private key to log in with. Without it (and without --password) every identity of
    /// the ssh-agent is tried.
    #[arg(long, value_name = "FILE")]
    pub ssh_private_key: Option<PathBuf>,
    /// Password to log in with (better: set FAULTLINE_SSH_PASSWORD). Never logged or
    /// stored.
    #[arg(long, env = PASSWORD_ENV, hide_env_values = true, value_name = "PASSWORD")]
    pub password: Option<Secret>,
    /// sshd's port on every node.
    #[arg(long, default_value_t = 22)]
    pub ssh_port: u16,
    /// Run node commands through `sudo -n` (passwordless sudo) for a non-root --username.
    #[arg(long)]
    pub sudo: bool,
    /// The known_hosts file host keys are checked against (default ~/.ssh/known_hosts).
    /// Unlike Jepsen, host keys are checked strictly: an unknown host is refused.
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// Learn the host keys of nodes not yet in known_hosts (a changed key is still refused).
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// Timeout of every SSH step (connect, each read or write), in seconds: a cut-off or
    /// paused node never hangs the controller longer.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub ssh_timeout: f64,
    /// Folder on each node for faultline's files: `<dir>/<node>/` holds the daemon's
    /// pidfile, log and data, `<dir>/bin/` uploaded programs.
    #[arg(long, default_value = "/var/tmp/faultline", value_name = "DIR")]
    pub remote_dir: String,
    /// Leave the docker cluster running after the test (--target docker).
    #[arg(long)]
    pub leave_running: bool,
}

impl SshFlags {
    /// The flags as the command line gives them when none is passed (clap's defaults).
    pub fn default_values() -> SshFlags {
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            ssh: SshFlags,
        }
        Only::parse_from(["faultline"]).ssh
    }
}

/// The environment variable `--password` may come from.
pub const PASSWORD_ENV: &str = "FAULTLINE_SSH_PASSWORD";

/// A password: shown as `***` by `Debug`, never serialised.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The password itself, for the one call that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}
