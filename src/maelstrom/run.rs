//! One `faultline maelstrom test`, as Maelstrom runs it: start the node processes, `init`
//! each (and send broadcast's `topology`), drive the workload's clients through the router
//! while the nemesis partitions, pauses or kills nodes, heal, let the nodes converge, do the
//! final reads, stop the nodes, check, and write the run folder and report exactly as
//! `faultline test` does (`test.json`, `history.jsonl`, `results.json` with Maelstrom's `net`
//! stats, `index.html`, `nodes/<node>/node.log`).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use async_trait::async_trait;
use faultline_checkers::checker::{check_all, CheckResult, Checker, Validity};
use faultline_checkers::history::{History, OpType, Process};
use faultline_workloads::generator::{stagger, time_limit, Dispatcher};
use faultline_workloads::op::OpRequest;
use faultline_workloads::TxnOptions;
use nix::sys::signal::Signal;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::{json, Value};

use super::kafka;
use super::net::{LatencyDist, Net, NetConfig, NetStats, Nodes};
use super::protocol::Message;
use super::workloads::{topology, MaelstromWorkload, SharedWorkload};
use crate::cli::MaelstromTestArgs;
use crate::exit::bad_input;
use crate::recorder::Recorder;
use crate::run_dir::RunDir;
use crate::runner::run_phase;
use crate::systems::{Client, Completion};

/// How long a client waits for a reply before the op is `info` (Maelstrom's client timeout).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the nodes get to converge after healing, before the final reads.
const SETTLE: Duration = Duration::from_secs(3);

/// `faultline maelstrom test`, validated.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct MaelstromSpec {
    pub name: String,
    pub system: String,
    pub workload: String,
    pub bin: PathBuf,
    pub bin_args: Vec<String>,
    pub node_count: usize,
    pub concurrency: usize,
    pub time_limit: f64,
    pub rate: f64,
    pub latency_ms: f64,
    pub latency_dist: LatencyDist,
    pub nemeses: Vec<String>,
    pub nemesis_interval: f64,
    pub topology: String,
    pub availability: Option<f64>,
    pub consistency_models: Vec<String>,
    pub key_count: usize,
    pub max_txn_length: usize,
    pub max_writes_per_key: u64,
    #[serde(skip)]
    pub txn: TxnOptions,
    pub seed: u64,
    pub store: PathBuf,
    pub rerun: String,
    #[serde(skip)]
    pub log_stderr: bool,
    #[serde(skip)]
    pub log_send: bool,
    #[serde(skip)]
    pub log_recv: bool,
}

impl MaelstromSpec {
    pub fn resolve(args: &MaelstromTestArgs) -> Result<MaelstromSpec> {
        if args.node_count == 0 {
            bad_input!("--node-count must be at least 1");
        }
        let meta = std::fs::metadata(&args.bin);
        use std::os::unix::fs::PermissionsExt;
        if !meta
            .as_ref()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        {
            bad_input!(
                "--bin {}: not an executable file (chmod +x it, or give its path)",
                args.bin.display()
            );
        }
        let concurrency = crate::spec::parse_concurrency(&args.concurrency, args.node_count)?;
        if !(args.time_limit > 0.0 && args.rate > 0.0 && args.latency >= 0.0) {
            bad_input!("--time-limit and --rate must be positive and --latency not negative");
        }
        if args.nemesis_interval <= 0.0 {
            bad_input!("--nemesis-interval must be positive");
        }
        let latency_dist: LatencyDist = match args.latency_dist.parse() {
            Ok(d) => d,
            Err(e) => bad_input!("{e}"),
        };
        let nemeses: Vec<String> = args
            .nemesis
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty() && *n != "none")
            .map(str::to_string)
            .collect();
        if let Some(bad) = nemeses
            .iter()
            .find(|n| !["partition", "pause", "kill"].contains(&n.as_str()))
        {
            bad_input!("unknown --nemesis '{bad}': it takes partition, pause and kill");
        }
        let availability = match args.availability.as_deref() {
            None => None,
            Some("total") => Some(1.0),
            Some(text) => match text.parse::<f64>() {
                Ok(a) if (0.0..=1.0).contains(&a) => Some(a),
                _ => bad_input!("--availability takes a fraction from 0 to 1, or total"),
            },
        };
        let txn = TxnOptions {
            key_count: args.key_count,
            max_txn_length: args.max_txn_length,
            max_writes_per_key: args.max_writes_per_key,
            ..TxnOptions::default()
        };
        if let Err(e) = MaelstromWorkload::new(&args.workload, txn, concurrency) {
            bad_input!("{e}");
        }
        let nodes: Vec<String> = (1..=args.node_count).map(|i| format!("n{i}")).collect();
        if let Err(e) = topology(&args.topology, &nodes) {
            bad_input!("{e}");
        }
        let consistency_models = crate::spec::parse_consistency_models(&args.consistency_models)?;
        let seed = args.seed.unwrap_or_else(rand::random);
        let bin = std::fs::canonicalize(&args.bin).unwrap_or_else(|_| args.bin.clone());
        let mut rerun = format!(
            "faultline maelstrom test -w {} --bin {} --node-count {} --time-limit {} --rate {} \
             --concurrency {} --latency {} --latency-dist {} --topology {} --seed {seed}",
            args.workload,
            crate::spec::shell_word(&bin.display().to_string()),
            args.node_count,
            args.time_limit,
            args.rate,
            args.concurrency,
            args.latency,
            args.latency_dist,
            args.topology,
        );
        if !nemeses.is_empty() {
            rerun.push_str(&format!(
                " --nemesis {} --nemesis-interval {}",
                nemeses.join(","),
                args.nemesis_interval
            ));
        }
        if let Some(a) = &args.availability {
            rerun.push_str(&format!(" --availability {a}"));
        }
        if args.store != std::path::Path::new("store") {
            rerun.push_str(&format!(" --store {}", args.store.display()));
        }
        if !args.bin_args.is_empty() {
            let words: Vec<String> = args
                .bin_args
                .iter()
                .map(|a| crate::spec::shell_word(a))
                .collect();
            rerun.push_str(&format!(" -- {}", words.join(" ")));
        }
        Ok(MaelstromSpec {
            name: format!("maelstrom-{}", args.workload),
            system: "maelstrom".to_string(),
            workload: args.workload.clone(),
            bin,
            bin_args: args.bin_args.clone(),
            node_count: args.node_count,
            concurrency,
            time_limit: args.time_limit,
            rate: args.rate,
            latency_ms: args.latency,
            latency_dist,
            nemeses,
            nemesis_interval: args.nemesis_interval,
            topology: args.topology.clone(),
            availability,
            consistency_models,
            key_count: txn.key_count,
            max_txn_length: txn.max_txn_length,
            max_writes_per_key: txn.max_writes_per_key,
            txn,
            seed,
            store: args.store.clone(),
            rerun,
            log_stderr: args.log_stderr,
            log_send: args.log_net_send,
            log_recv: args.log_net_recv,
        })
    }
}

/// A Maelstrom client `cN` bound to one node: every op is one request and its reply (kafka's
/// ops are a few, with the client's offsets kept between them).
struct MaelstromClient {
    worker: usize,
    rpc: Rpc,
    workload: SharedWorkload,
    cursor: kafka::Cursor,
}

/// Requests from one client to one node.
#[derive(Clone)]
struct Rpc {
    id: String,
    node: String,
    net: Net,
    next_msg_id: Arc<AtomicU64>,
}

impl Rpc {
    /// Send `body` (given a fresh `msg_id`) and wait for the reply's body.
    async fn call(&self, mut body: Value) -> Option<Value> {
        body["msg_id"] = json!(self.next_msg_id.fetch_add(1, Ordering::Relaxed));
        let message = Message {
            src: self.id.clone(),
            dest: self.node.clone(),
            body,
        };
        self.net.rpc(message, CLIENT_TIMEOUT).await
    }
}

#[async_trait]
impl Client for MaelstromClient {
    async fn invoke(&mut self, op: &OpRequest) -> Completion {
        if let Some(shared) = &self.workload.kafka {
            let rpc = &self.rpc;
            return kafka::invoke(shared, &mut self.cursor, self.worker, op, |body| {
                rpc.call(body)
            })
            .await;
        }
        match self.rpc.call(self.workload.request(op)).await {
            Some(reply) => self.workload.completion(op, &reply),
            // A read changes nothing: one without an answer certainly did not happen.
            None if op.f == "read" => Completion::fail(Value::Null, "timeout (no reply in 5 s)"),
            None => Completion::info(Value::Null, "timeout (no reply in 5 s)"),
        }
    }
}

/// Send `init` (and broadcast's `topology`) to every node, and wait for the replies.
async fn initialize(
    net: &Net,
    spec: &MaelstromSpec,
    nodes: &[String],
    only: Option<&str>,
) -> Result<()> {
    static SETUP_IDS: AtomicU64 = AtomicU64::new(1);
    let topology = topology(&spec.topology, nodes).map_err(anyhow::Error::msg)?;
    for node in nodes.iter().filter(|n| only.is_none_or(|o| o == *n)) {
        let id = SETUP_IDS.fetch_add(1, Ordering::Relaxed);
        let init = Message {
            src: "c0".to_string(),
            dest: node.clone(),
            body: json!({"type": "init", "msg_id": id, "node_id": node, "node_ids": nodes}),
        };
        match net.rpc(init, Duration::from_secs(10)).await {
            Some(reply) if reply["type"] == "init_ok" => {}
            Some(reply) => anyhow::bail!(
                "{node} answered init with {reply}, not init_ok; read its log nodes/{node}/node.log"
            ),
            None => anyhow::bail!(
                "{node} did not answer init within 10 s; read its log nodes/{node}/node.log"
            ),
        }
        if spec.workload == "broadcast" {
            let id = SETUP_IDS.fetch_add(1, Ordering::Relaxed);
            let message = Message {
                src: "c0".to_string(),
                dest: node.clone(),
                body: json!({"type": "topology", "msg_id": id, "topology": topology}),
            };
            if net.rpc(message, Duration::from_secs(10)).await.is_none() {
                anyhow::bail!("{node} did not answer topology within 10 s");
            }
        }
    }
    Ok(())
}

/// Run the nemesis until `stop`: every interval a fault starts, the next interval it stops.
async fn nemesis(
    spec: MaelstromSpec,
    net: Net,
    nodes: Arc<Nodes>,
    recorder: Recorder,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut rng = StdRng::seed_from_u64(spec.seed ^ 0xfa17);
    let interval = Duration::from_secs_f64(spec.nemesis_interval);
    let names = nodes.names.clone();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
        let kind = spec.nemeses[rng.random_range(0..spec.nemeses.len())].clone();
        let start = format!("start-{kind}");
        recorder.record(
            Process::Nemesis,
            OpType::Invoke,
            &start,
            None,
            Value::Null,
            None,
        );
        let value = match kind.as_str() {
            "partition" => {
                let mut shuffled = names.clone();
                shuffled.shuffle(&mut rng);
                let (a, b) = shuffled.split_at(shuffled.len() / 2);
                let mut blocked = HashSet::new();
                for x in a {
                    for y in b {
                        blocked.insert((x.clone(), y.clone()));
                        blocked.insert((y.clone(), x.clone()));
                    }
                }
                net.partition(blocked);
                json!({"grudge": [a, b]})
            }
            victim_kind => {
                let victim = names[rng.random_range(0..names.len())].clone();
                if victim_kind == "pause" {
                    nodes.signal(&victim, Signal::SIGSTOP);
                } else {
                    nodes.kill(&victim).await;
                }
                json!({"nodes": [victim]})
            }
        };
        recorder.record(
            Process::Nemesis,
            OpType::Ok,
            &start,
            None,
            value.clone(),
            None,
        );
        let stopped = tokio::select! {
            _ = tokio::time::sleep(interval) => false,
            _ = stop.changed() => true,
        };
        heal(&spec, &net, &nodes, &recorder, &kind, &value).await;
        if stopped {
            return;
        }
    }
}

/// Undo one fault and record its stop.
async fn heal(
    spec: &MaelstromSpec,
    net: &Net,
    nodes: &Nodes,
    recorder: &Recorder,
    kind: &str,
    value: &Value,
) {
    let stop = format!("stop-{kind}");
    recorder.record(
        Process::Nemesis,
        OpType::Invoke,
        &stop,
        None,
        Value::Null,
        None,
    );
    let victims: Vec<String> = value["nodes"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut error = None;
    match kind {
        "partition" => net.partition(HashSet::new()),
        "pause" => victims
            .iter()
            .for_each(|v| nodes.signal(v, Signal::SIGCONT)),
        _ => {
            for victim in &victims {
                let restarted = match nodes.spawn(victim) {
                    Ok(()) => initialize(net, spec, &nodes.names, Some(victim)).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = restarted {
                    error = Some(format!("{victim} did not come back: {e:#}"));
                }
            }
        }
    }
    let kind = if error.is_some() {
        OpType::Info
    } else {
        OpType::Ok
    };
    recorder.record(Process::Nemesis, kind, &stop, None, value.clone(), error);
}

#[derive(Serialize)]
struct Results<'a> {
    valid: Validity,
    seed: u64,
    ops: usize,
    counts: Value,
    results: &'a [CheckResult],
    duration_secs: f64,
    check_secs: f64,
    net: Value,
    malformed_lines: Vec<String>,
    faults: Value,
}

/// Run one test; its verdict.
pub(crate) async fn run_test(spec: &MaelstromSpec) -> Result<Validity> {
    let run = RunDir::create(&spec.store, &spec.name)?;
    run.write_json(&run.test_json(), spec)?;
    let workload: SharedWorkload = Arc::new(
        MaelstromWorkload::new(&spec.workload, spec.txn, spec.concurrency)
            .map_err(anyhow::Error::msg)?,
    );
    let net = Net::start(NetConfig {
        latency: Duration::from_secs_f64(spec.latency_ms / 1000.0),
        dist: spec.latency_dist,
        seed: spec.seed,
        log_send: spec.log_send,
        log_recv: spec.log_recv,
    });
    let nodes = Arc::new(
        Nodes::start(
            spec.node_count,
            spec.bin.clone(),
            spec.bin_args.clone(),
            run.path.clone(),
            spec.log_stderr,
            net.clone(),
        )
        .await?,
    );
    let outcome = drive(spec, &run, &net, nodes.clone(), workload.clone()).await;
    nodes.stop().await;
    let (history, started) = outcome?;

    let checkers = checkers(spec, &workload)?;
    let check_started = Instant::now();
    let history = Arc::new(history);
    let (mut valid, mut results) = {
        let history = history.clone();
        tokio::task::spawn_blocking(move || check_all(&checkers, &history))
            .await
            .context("the checker thread failed")?
    };
    let counts = op_counts(&history);
    if let Some(required) = spec.availability {
        let total = counts["ok"].as_u64().unwrap_or(0)
            + counts["fail"].as_u64().unwrap_or(0)
            + counts["info"].as_u64().unwrap_or(0);
        let share = counts["ok"].as_u64().unwrap_or(0) as f64 / total.max(1) as f64;
        let ok = share >= required;
        let result = CheckResult::new(
            "availability",
            if ok {
                Validity::Valid
            } else {
                Validity::Invalid
            },
        )
        .reason(format!(
            "{:.1}% of ops succeeded; --availability asks for {:.1}%",
            share * 100.0,
            required * 100.0
        ));
        valid = valid.and(result.valid);
        results.push(result);
    }
    let stats = net.stats().await;
    let net_json = net_json(
        &stats,
        counts["ok"].as_u64().unwrap_or(0)
            + counts["fail"].as_u64().unwrap_or(0)
            + counts["info"].as_u64().unwrap_or(0),
    );
    run.write_json(
        &run.results_json(),
        &Results {
            valid,
            seed: spec.seed,
            ops: history.len(),
            counts: counts.clone(),
            results: &results,
            duration_secs: started,
            check_secs: check_started.elapsed().as_secs_f64(),
            net: net_json.clone(),
            malformed_lines: nodes.malformed(),
            faults: serde_json::to_value(faultline_reports::fault_records(&history))?,
        },
    )?;
    println!(
        "{} on {} nodes of {}, seed {}: {} ok, {} fail, {} info; net: {} messages between servers, {} with clients, {:.2} msgs per op",
        spec.workload,
        spec.node_count,
        spec.bin.display(),
        spec.seed,
        counts["ok"],
        counts["fail"],
        counts["info"],
        stats.servers.send_count,
        stats.clients.send_count,
        net_json["msgs_per_op"].as_f64().unwrap_or(0.0),
    );
    for result in &results {
        println!("  {}: {}", result.checker, result.valid);
        for reason in result.reasons.iter().take(3) {
            println!("    {reason}");
        }
    }
    for line in nodes.malformed().iter().take(3) {
        println!("  a node wrote a line that is not a message: {line}");
    }
    println!("verdict: {valid}");
    println!("store: {}", run.path.display());
    match faultline_reports::render_run(&run.path) {
        Ok(page) => println!("report: {}", page.display()),
        Err(e) => tracing::warn!("the report could not be rendered: {e}"),
    }
    if let Err(e) = faultline_reports::render_store_index(&spec.store) {
        tracing::warn!("the store index could not be rendered: {e}");
    }
    Ok(valid)
}

/// The main phase with the nemesis, the heal, and the final reads: the history, and how long
/// the workload ran.
async fn drive(
    spec: &MaelstromSpec,
    run: &RunDir,
    net: &Net,
    nodes: Arc<Nodes>,
    workload: SharedWorkload,
) -> Result<(History, f64)> {
    initialize(net, spec, &nodes.names, None).await?;
    let start = Instant::now();
    let journal = run.net_journal();
    net.journal(
        std::fs::File::create(&journal).with_context(|| journal.display().to_string())?,
        start,
    );
    let (recorder, thread) = Recorder::create(&run.history(), start, false)?;
    let msg_ids = Arc::new(AtomicU64::new(1));
    let client = |w: usize, node: &str| -> Box<dyn Client> {
        Box::new(MaelstromClient {
            worker: w,
            rpc: Rpc {
                id: format!("c{}", w + 1),
                node: node.to_string(),
                net: net.clone(),
                next_msg_id: msg_ids.clone(),
            },
            workload: workload.clone(),
            cursor: kafka::Cursor::default(),
        })
    };
    let generator = stagger(spec.rate, workload.generator()).map_err(anyhow::Error::msg)?;
    let generator = time_limit(Duration::from_secs_f64(spec.time_limit), generator);
    let dispatcher = Arc::new(Dispatcher::new(generator, spec.concurrency, spec.seed));
    let clients: Vec<Box<dyn Client>> = (0..spec.concurrency)
        .map(|w| client(w, &nodes.names[w % nodes.names.len()]))
        .collect();
    let processes: Vec<u64> = (0..spec.concurrency as u64).collect();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let nemesis_task = (!spec.nemeses.is_empty()).then(|| {
        tokio::spawn(nemesis(
            spec.clone(),
            net.clone(),
            nodes.clone(),
            recorder.clone(),
            stop_rx,
        ))
    });
    let (_never, mut interrupt) = tokio::sync::watch::channel(false);
    let _ = run_phase(
        dispatcher,
        clients,
        processes,
        &recorder,
        start,
        spec.concurrency,
        &mut interrupt,
    )
    .await;
    let _ = stop_tx.send(true);
    if let Some(task) = nemesis_task {
        let _ = task.await;
    }
    let duration = start.elapsed().as_secs_f64();
    // Every fault is undone by now; the final heal marks where the final phase begins.
    recorder.record(
        Process::Nemesis,
        OpType::Invoke,
        "heal",
        None,
        Value::Null,
        None,
    );
    recorder.record(
        Process::Nemesis,
        OpType::Ok,
        "heal",
        None,
        Value::Null,
        None,
    );
    tokio::time::sleep(SETTLE).await;
    // Final reads: on every node (eventually consistent workloads), or faultline's own.
    let base = 10 * spec.concurrency as u64 + 1000;
    let (final_generator, final_clients) = if workload.reads_every_node() {
        let clients: Vec<Box<dyn Client>> = nodes
            .names
            .iter()
            .enumerate()
            .map(|(i, n)| client(spec.concurrency + i, n))
            .collect();
        (Some(MaelstromWorkload::final_reads()), clients)
    } else {
        let clients = (0..spec.concurrency)
            .map(|w| client(w, &nodes.names[w % nodes.names.len()]))
            .collect();
        (workload.final_generator(), clients)
    };
    if let Some(generator) = final_generator {
        let count = final_clients.len();
        let dispatcher = Arc::new(Dispatcher::new(generator, count, spec.seed ^ 1));
        let processes = (base..base + count as u64).collect();
        let _ = run_phase(
            dispatcher,
            final_clients,
            processes,
            &recorder,
            start,
            count,
            &mut interrupt,
        )
        .await;
    }
    drop(recorder);
    if let Err(e) = net.close_journal().await {
        tracing::warn!("{}: {e}", journal.display());
    }
    thread.finish()?;
    let history = History::read_jsonl(&run.history()).context("reading back the history")?;
    Ok((history, duration))
}

/// The checkers of the run's history: Maelstrom's own, or the checkers faultline's
/// selection gives the model of the workload behind it.
fn checkers(spec: &MaelstromSpec, workload: &MaelstromWorkload) -> Result<Vec<Box<dyn Checker>>> {
    if let Some(checkers) = workload.checkers() {
        return Ok(checkers);
    }
    let inner = workload.inner().context("a workload without checkers")?;
    let budget = faultline_checkers::selection::CheckBudget {
        consistency_models: spec.consistency_models.clone(),
        ..Default::default()
    };
    let selection =
        faultline_checkers::selection::select(inner.model(), inner.initial().as_ref(), &budget)
            .map_err(anyhow::Error::msg)?;
    Ok(selection.into_checkers())
}

fn op_counts(history: &History) -> Value {
    let (mut ok, mut fail, mut info) = (0u64, 0u64, 0u64);
    for op in history.ops.iter().filter(|o| o.process != Process::Nemesis) {
        match op.kind {
            OpType::Ok => ok += 1,
            OpType::Fail => fail += 1,
            OpType::Info => info += 1,
            OpType::Invoke => {}
        }
    }
    let nemesis = history
        .ops
        .iter()
        .filter(|o| o.process == Process::Nemesis && o.kind == OpType::Invoke)
        .count();
    json!({"ok": ok, "fail": fail, "info": info, "nemesis": nemesis})
}

/// Maelstrom's `net` stats, with msgs-per-op: server messages per client op.
fn net_json(stats: &NetStats, ops: u64) -> Value {
    let mut value = serde_json::to_value(stats).unwrap_or_default();
    value["msgs_per_op"] = json!(stats.servers.send_count as f64 / ops.max(1) as f64);
    value
}
