//! The pipeline of one test, as Jepsen runs it:
//! spec → set up nodes → start the system → workers + nemesis until the time limit →
//! heal everything → let the system recover → final reads → stop → check → results.
//!
//! Healing happens on every way out: a normal end, Ctrl-C (the `interrupt` signal), a panic
//! in a worker, and an error of the harness. What the system under test did is data in the
//! history; an `Err` here is the harness's own failure.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use faultline_checkers::checker::{CheckResult, Validity};
use faultline_checkers::history::{OpType, Process};
use faultline_checkers::selection::{select, CheckBudget, Selection, SelectionError};
use faultline_checkers::streamed::{check_file, Checked};
use faultline_workloads::generator::{stagger, time_limit, until, Dispatcher, Poll};
use serde::Serialize;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::exit::BadInput;
use crate::faults::start_nemesis;
use crate::logging::RunLog;
use crate::online::{FirstAnomaly, Online, OnlineStats, Watch};
use crate::progress::Progress;
use crate::recorder::{Counts, Recorder};
use crate::run_dir::RunDir;
use crate::spec::TestSpec;
use crate::systems::command_client::ClientCommand;
use crate::systems::{Client, SystemError};
use crate::targets::cluster::Cluster;

/// The budget of each look the online checker takes at the history so far.
pub(crate) const ONLINE_CHECK_BUDGET: Duration = Duration::from_secs(5);

/// What one run concluded.
#[derive(Debug)]
pub struct RunOutcome {
    /// The combined verdict.
    pub valid: Validity,
    /// Each checker's result.
    pub results: Vec<CheckResult>,
    /// How long the workload ran.
    pub duration_secs: f64,
}

/// `results.json`.
#[derive(Debug, Serialize)]
struct Results<'a> {
    valid: Validity,
    interrupted: bool,
    seed: u64,
    ops: usize,
    counts: OpCounts,
    results: &'a [CheckResult],
    duration_secs: f64,
    /// How long the checkers took.
    check_secs: f64,
    /// When the online checker first proved an anomaly, while the test ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    first_anomaly: Option<FirstAnomaly>,
    /// What the online checker did and cost.
    #[serde(skip_serializing_if = "Option::is_none")]
    online: Option<OnlineStats>,
    /// Whether the final check read the history a batch of keys at a time.
    checked_by_key: bool,
    healed: &'a [String],
    /// Each fault with its availability and recovery, as the report's faults table.
    faults: Vec<faultline_reports::FaultRecord>,
}

#[derive(Debug, Default, Serialize)]
struct OpCounts {
    ok: u64,
    fail: u64,
    info: u64,
    pending: u64,
    nemesis: u64,
}

impl OpCounts {
    fn of(counts: &Counts) -> OpCounts {
        OpCounts {
            ok: counts.ok.load(Ordering::Relaxed),
            fail: counts.fail.load(Ordering::Relaxed),
            info: counts.info.load(Ordering::Relaxed),
            pending: counts.pending(),
            nemesis: counts.nemesis.load(Ordering::Relaxed),
        }
    }
}

/// Run test number `index` (0-based) of the spec.
pub async fn run_test(
    spec: &TestSpec,
    index: u32,
    run_log: &RunLog,
    interrupt: watch::Receiver<bool>,
) -> Result<RunOutcome> {
    let seed = spec.seed.wrapping_add(index as u64);
    let run = RunDir::create(&spec.store, &spec.name)?;
    run_log.open(&run.log())?;
    tracing::info!(run = %run.path.display(), seed, "starting test");
    let mut stored_spec = spec.clone();
    stored_spec.seed = seed;
    stored_spec.rerun = spec
        .rerun
        .replace(&format!("--seed {}", spec.seed), &format!("--seed {seed}"));
    run.write_json(&run.test_json(), &stored_spec)?;

    let (target, system) = Cluster::create(spec, &run).await?;

    let progress = Progress::new(spec.progress, spec.time_limit);
    progress.stage(&format!(
        "starting {} {} nodes",
        spec.node_count, spec.system
    ));
    match system.setup(target.shell(), target.nodes()).await {
        Ok(()) => {}
        // What the nodes lack under --install-mode none is the user's to fix: bad input.
        Err(missing @ SystemError::Missing { .. }) => {
            return Err(anyhow::Error::new(BadInput(missing.to_string())))
        }
        Err(e) => return Err(anyhow::Error::new(e).context("the nodes could not be prepared")),
    }
    target.start_all().await?;
    target
        .await_ready(&system, spec.ready_timeout)
        .await
        .context("the cluster did not come up")?;

    let workload: Arc<dyn faultline_workloads::Workload> =
        faultline_workloads::by_name(&spec.workload, &spec.workload_options())
            .map_err(anyhow::Error::msg)?
            .into();
    // Only checkers whose anomalies on a prefix stay anomalies can watch the run, each look
    // with a short budget: an `unknown` on a prefix only means "not yet".
    let watch = {
        let mut online_spec = spec.clone();
        online_spec.check_timeout = spec.check_timeout.min(ONLINE_CHECK_BUDGET);
        match selection_for(workload.as_ref(), &online_spec)? {
            Ok(selection) => Watch::of(selection, workload.clone()),
            Err(_) => None,
        }
    };
    let start = Instant::now();
    let (recorder, recorder_thread) = Recorder::create(&run.history(), start, watch.is_some())?;

    // Main phase: workers and the nemesis until the time limit.
    let mut generator = workload.generator();
    if let Some(rate) = spec.rate {
        generator = stagger(rate, generator).map_err(anyhow::Error::msg)?;
    }
    // The main phase ends at the time limit, or when the online checker proves an anomaly
    // under --stop-on-anomaly.
    let anomaly_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let generator = until(anomaly_stop.clone(), time_limit(spec.time_limit, generator));
    let dispatcher = Arc::new(Dispatcher::new(generator, spec.concurrency, seed));
    let client_command = spec.client_command.as_ref().map(|command| ClientCommand {
        command: command.clone(),
        log_dir: run.path.join("clients"),
        workload: spec.workload.clone(),
        op_timeout: spec.op_timeout,
    });
    let mut clients: Vec<Box<dyn Client>> = (0..spec.concurrency)
        .map(|w| {
            let node = &target.nodes()[w % spec.node_count];
            match &client_command {
                Some(command) => Box::new(command.client(w, node, target.nodes())),
                None => system.client(node, target.nodes(), spec.op_timeout),
            }
        })
        .collect();
    run_setup_ops(workload.setup(), clients[0].as_mut(), spec.ready_timeout).await?;
    let processes: Vec<u64> = (0..spec.concurrency as u64).collect();

    let (stop_nemesis, nemesis_task) =
        start_nemesis(spec, seed, &run, &target, &system, &recorder)?;
    let online = match (watch, recorder_thread.feed()) {
        (Some(watch), Some(feed)) => Some(
            Online::start(feed, watch, spec.stop_on_anomaly, anomaly_stop, start)
                .context("cannot start the online checker")?,
        ),
        _ => None,
    };
    progress.running(recorder.counts().clone());

    let mut interrupt_main = interrupt.clone();
    let phase = run_phase(
        dispatcher,
        clients,
        processes,
        &recorder,
        start,
        spec.concurrency,
        &mut interrupt_main,
    )
    .await;
    let (first_anomaly, online_stats) = match online.map(Online::finish) {
        Some((anomaly, stats)) => (anomaly, Some(stats)),
        None => (None, None),
    };
    if let Some(anomaly) = &first_anomaly {
        println!(
            "an anomaly was provable {:.1} s into the run ({} history lines){}",
            anomaly.at_secs,
            anomaly.ops,
            if anomaly.stopped_the_run {
                ": the main phase ended there (--stop-on-anomaly)"
            } else {
                ""
            }
        );
    }
    let _ = stop_nemesis.send(true);
    let mut healed = match nemesis_task {
        Some(task) => task
            .await
            .unwrap_or_else(|e| vec![format!("the nemesis task failed: {e}")]),
        None => Vec::new(),
    };
    healed.extend(target.heal_all().await);
    let (clients, processes, mut failure) = match phase {
        PhaseEnd::Finished { clients, processes } => (clients, processes, None),
        PhaseEnd::Stopped {
            clients,
            processes,
            why,
        } => (clients, processes, Some(why)),
    };

    // Recovery and final reads, unless the run was interrupted or a worker crashed.
    if failure.is_none() {
        progress.stage("healed; waiting for the cluster to recover");
        if let Err(e) = target.await_ready(&system, spec.ready_timeout).await {
            tracing::warn!("the cluster did not recover after healing: {e:#}");
        }
        if let Some(final_generator) = workload.final_generator() {
            progress.stage("final reads");
            let dispatcher = Arc::new(Dispatcher::new(
                final_generator,
                spec.concurrency,
                seed ^ 0x5eed,
            ));
            let mut interrupt_final = interrupt.clone();
            if let PhaseEnd::Stopped { why, .. } = run_phase(
                dispatcher,
                clients,
                processes,
                &recorder,
                start,
                spec.concurrency,
                &mut interrupt_final,
            )
            .await
            {
                failure = Some(why);
            }
        }
    }
    let duration = start.elapsed();
    if !spec.leave_db_running {
        progress.stage("stopping nodes");
        target.stop_all(&run).await;
        if let Err(e) = system.teardown(target.shell(), target.nodes()).await {
            tracing::warn!("the system's teardown failed: {e}");
        }
    }
    let counts = recorder.counts().clone();
    drop(recorder);
    let lines = recorder_thread.finish()?;

    progress.stage(&format!("checking {lines} ops"));
    let check_started = Instant::now();
    let checked = {
        let selection = selection_for(workload.as_ref(), spec)?;
        let path = run.history();
        tokio::task::spawn_blocking(move || check_recorded(selection, &path))
            .await
            .context("the checker thread failed")??
    };
    let Checked {
        valid,
        results,
        warnings,
        by_key,
        ..
    } = checked;
    let (valid, results) = nothing_succeeded_is_unknown(valid, results, &OpCounts::of(&counts));
    for warning in &warnings {
        tracing::warn!("{warning}");
    }
    let check_secs = check_started.elapsed().as_secs_f64();
    progress.finish();
    let interrupted = failure.is_some();
    let faults = faultline_reports::fault_records_of_file(&run.history()).unwrap_or_else(|e| {
        tracing::warn!("the faults' availability and recovery could not be computed: {e}");
        Vec::new()
    });
    let op_counts = OpCounts::of(&counts);
    run.write_json(
        &run.results_json(),
        &Results {
            valid,
            interrupted,
            seed,
            ops: lines as usize,
            counts: OpCounts::of(&counts),
            results: &results,
            duration_secs: duration.as_secs_f64(),
            check_secs,
            first_anomaly,
            online: online_stats,
            checked_by_key: by_key,
            healed: &healed,
            faults,
        },
    )?;
    print_summary(spec, system.name(), seed, &run, &op_counts, valid, &results);
    match faultline_reports::render_run(&run.path) {
        Ok(page) => println!("report: {}", page.display()),
        Err(e) => tracing::warn!("the report could not be rendered: {e}"),
    }
    if let Err(e) = faultline_reports::render_store_index(&spec.store) {
        tracing::warn!("the store index could not be rendered: {e}");
    }
    run_log.close();
    if let Some(why) = failure {
        anyhow::bail!(
            "{why}; the nodes were healed and stopped, and the history so far is in {}",
            run.history().display()
        );
    }
    Ok(RunOutcome {
        valid,
        results,
        duration_secs: duration.as_secs_f64(),
    })
}

/// A checker the run needs but cannot have: its name, and why (the run's verdict is then
/// `unknown`, with this reason).
#[derive(Debug)]
pub(crate) struct NoChecker {
    checker: String,
    reason: String,
}

/// The checkers a workload's history goes to, chosen by the workload's model (see
/// [`faultline_checkers::selection`]), each with the run's `--check-timeout`,
/// `--memory-limit` and `--consistency-models`.
///
/// `Err` (outer) is the harness's failure (a model the linearizability checker does not
/// know); `Ok(Err)` is a checker that cannot be built, which makes the verdict `unknown`.
pub(crate) fn selection_for(
    workload: &dyn faultline_workloads::Workload,
    spec: &TestSpec,
) -> Result<Result<Selection, NoChecker>> {
    let budget = CheckBudget {
        timeout: spec.check_timeout,
        memory_limit_bytes: spec.memory_limit_bytes,
        consistency_models: spec.consistency_models.clone(),
        process_memory: Some(crate::memory::process_memory()),
        ..CheckBudget::default()
    };
    match select(workload.model(), workload.initial().as_ref(), &budget) {
        Ok(selection) => Ok(Ok(selection)),
        Err(SelectionError::Unavailable { checker, reason }) => {
            Ok(Err(NoChecker { checker, reason }))
        }
        Err(unknown @ SelectionError::UnknownModel(_)) => Err(anyhow::Error::msg(unknown)),
    }
}

/// Check the history file a run recorded with its selection: a batch of keys at a time
/// where the checkers allow, so a run of hours is checked in bounded memory. A checker that
/// cannot run gives `unknown`, naming why: never a guess.
/// A run in which no client op succeeded gave the checkers nothing to judge: an empty
/// history is trivially legal, so a `valid` verdict becomes `unknown`, with a `stats` result
/// saying why (as Jepsen's `stats` checker fails a run with no `ok` op).
fn nothing_succeeded_is_unknown(
    valid: Validity,
    mut results: Vec<CheckResult>,
    counts: &OpCounts,
) -> (Validity, Vec<CheckResult>) {
    if counts.ok > 0 || counts.fail + counts.info == 0 || valid != Validity::Valid {
        return (valid, results);
    }
    results.push(CheckResult::new("stats", Validity::Unknown).reason(format!(
        "no client operation succeeded ({} failed, {} indeterminate): nothing was judged; \
             the clients' errors in history.jsonl and the nodes' logs say why",
        counts.fail, counts.info
    )));
    (Validity::Unknown, results)
}

pub(crate) fn check_recorded(
    selection: Result<Selection, NoChecker>,
    path: &Path,
) -> Result<Checked> {
    match selection {
        Ok(selection) => check_file(selection, path)
            .with_context(|| format!("cannot read back the history {}", path.display())),
        Err(why) => Ok(Checked {
            valid: Validity::Unknown,
            results: vec![CheckResult::new(why.checker, Validity::Unknown).reason(why.reason)],
            warnings: Vec::new(),
            by_key: false,
            spilled: 0,
        }),
    }
}

/// Run the workload's setup ops (not recorded) through one client, each until it is `ok`,
/// for at most `timeout` in all.
async fn run_setup_ops(
    ops: Vec<faultline_workloads::op::OpRequest>,
    client: &mut dyn Client,
    timeout: Duration,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    for op in ops {
        loop {
            let done = client.invoke(&op).await;
            if done.kind == faultline_checkers::history::OpType::Ok {
                tracing::info!(f = %op.f, value = %done.value, "setup op done");
                break;
            }
            let why = done.error.unwrap_or_default();
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "the workload's setup op {} {} did not succeed within {timeout:?}: {why}",
                    op.f,
                    op.value
                );
            }
            tracing::debug!(f = %op.f, %why, "setup op not done yet; retrying");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

pub(crate) enum PhaseEnd {
    Finished {
        clients: Vec<Box<dyn Client>>,
        processes: Vec<u64>,
    },
    Stopped {
        clients: Vec<Box<dyn Client>>,
        processes: Vec<u64>,
        why: String,
    },
}

/// Run workers until the dispatcher says every worker is done, an interrupt arrives, or a
/// worker panics. Returns the clients (reused by the next phase) and each worker's current
/// process id.
pub(crate) async fn run_phase(
    dispatcher: Arc<Dispatcher>,
    clients: Vec<Box<dyn Client>>,
    processes: Vec<u64>,
    recorder: &Recorder,
    start: Instant,
    workers: usize,
    interrupt: &mut watch::Receiver<bool>,
) -> PhaseEnd {
    let completed = Arc::new(Notify::new());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut set = JoinSet::new();
    for (worker, (client, process)) in clients.into_iter().zip(processes).enumerate() {
        let dispatcher = dispatcher.clone();
        let recorder = recorder.clone();
        let completed = completed.clone();
        let stop = stop_rx.clone();
        let span = tracing::info_span!("worker", worker, first_process = process);
        set.spawn(
            async move {
                let (client, process) = worker_loop(
                    worker,
                    workers,
                    client,
                    process,
                    &dispatcher,
                    &recorder,
                    start,
                    &completed,
                    stop,
                )
                .await;
                (worker, client, process)
            }
            .instrument(span),
        );
    }
    let mut slots: Vec<Option<(Box<dyn Client>, u64)>> = (0..workers).map(|_| None).collect();
    let mut why = None;
    loop {
        tokio::select! {
            joined = set.join_next() => match joined {
                None => break,
                Some(Ok((worker, client, process))) => slots[worker] = Some((client, process)),
                Some(Err(e)) => {
                    let message = if e.is_panic() { "a worker panicked" } else { "a worker was cancelled" };
                    tracing::error!("{message}: {e}");
                    why.get_or_insert_with(|| message.to_string());
                    let _ = stop_tx.send(true);
                }
            },
            changed = interrupt.changed(), if why.is_none() => {
                if changed.is_ok() && *interrupt.borrow() {
                    why = Some("interrupted".to_string());
                    let _ = stop_tx.send(true);
                }
            }
        }
    }
    // A worker that panicked lost its client; later phases get none for it.
    let mut clients = Vec::new();
    let mut processes = Vec::new();
    for (worker, slot) in slots.into_iter().enumerate() {
        if let Some((client, process)) = slot {
            clients.push(client);
            processes.push(process);
        } else {
            tracing::warn!(worker, "worker lost");
        }
    }
    match why {
        None => PhaseEnd::Finished { clients, processes },
        Some(why) => PhaseEnd::Stopped {
            clients,
            processes,
            why,
        },
    }
}

#[allow(clippy::too_many_arguments)]
async fn worker_loop(
    worker: usize,
    workers: usize,
    mut client: Box<dyn Client>,
    mut process: u64,
    dispatcher: &Dispatcher,
    recorder: &Recorder,
    start: Instant,
    completed: &Notify,
    mut stop: watch::Receiver<bool>,
) -> (Box<dyn Client>, u64) {
    client.new_process(process);
    loop {
        if *stop.borrow() {
            break;
        }
        match dispatcher.next(worker, process, start.elapsed()) {
            Poll::Done => break,
            Poll::Wait(wait) => {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = completed.notified() => {}
                    _ = stop.changed() => {}
                }
            }
            Poll::Op(request) => {
                let p = Process::Client(process);
                recorder.record(
                    p,
                    OpType::Invoke,
                    &request.f,
                    request.key.as_ref(),
                    request.value.clone(),
                    None,
                );
                let completion = tokio::select! {
                    c = client.invoke(&request) => Some(c),
                    _ = stop.changed() => None,
                };
                let Some(completion) = completion else {
                    // Interrupted mid-flight: the op stays pending (indeterminate).
                    break;
                };
                let indeterminate = completion.kind == OpType::Info;
                recorder.record(
                    p,
                    completion.kind,
                    &request.f,
                    request.key.as_ref(),
                    completion.value,
                    completion.error,
                );
                dispatcher.completed(worker);
                completed.notify_waiters();
                panic_hook_for_tests();
                if indeterminate {
                    // The old process may still have an op in flight: continue as a new one.
                    process += workers as u64;
                    client.new_process(process);
                }
            }
        }
    }
    (client, process)
}

fn print_summary(
    spec: &TestSpec,
    system: &str,
    seed: u64,
    run: &RunDir,
    counts: &OpCounts,
    valid: Validity,
    results: &[CheckResult],
) {
    println!(
        "{} on {} {} nodes, seed {seed}: {} ok, {} fail, {} info, {} faults",
        spec.workload, spec.node_count, system, counts.ok, counts.fail, counts.info, counts.nemesis
    );
    for result in results {
        println!("  {}: {}", result.checker, result.valid);
        for reason in result.reasons.iter().take(5) {
            println!("    {reason}");
        }
    }
    println!("verdict: {valid}");
    println!("store: {}", run.path.display());
}

/// `FAULTLINE_PANIC_AFTER_OPS=N` makes a worker panic after N completed ops in total: the
/// end-to-end tests use it to prove that a crashing worker still leaves every node healed
/// and stopped. Unset, it costs one relaxed load per op.
fn panic_hook_for_tests() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static LIMIT: OnceLock<Option<u64>> = OnceLock::new();
    static DONE: AtomicU64 = AtomicU64::new(0);
    let limit = LIMIT.get_or_init(|| {
        std::env::var("FAULTLINE_PANIC_AFTER_OPS")
            .ok()
            .and_then(|v| v.parse().ok())
    });
    if let Some(limit) = limit {
        if DONE.fetch_add(1, Ordering::Relaxed) + 1 == *limit {
            panic!("FAULTLINE_PANIC_AFTER_OPS={limit} reached: deliberate worker panic");
        }
    }
}
