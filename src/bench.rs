//! `faultline bench record`: how many ops per second the controller records — dispatcher,
//! workers, recorder and history file — against a trivially fast in-process client, so on
//! real clusters the harness is never the bottleneck. The recorded history is then checked,
//! so the figure is for real, legal work.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use async_trait::async_trait;
use faultline_checkers::checker::check_all;
use faultline_checkers::selection::{select, CheckBudget};
use faultline_workloads::generator::{time_limit, Dispatcher};
use faultline_workloads::op::OpRequest;
use faultline_workloads::Keys;
use serde_json::Value;

use crate::cli::BenchArgs;
use crate::exit::bad_input;
use crate::recorder::Recorder;
use crate::runner::run_phase;
use crate::spec::workload_options;
use crate::systems::{Client, Completion};

/// An atomic in-process register store: every op takes effect under one lock, so its
/// histories are linearizable.
#[derive(Clone, Default)]
pub struct InMemoryClient {
    registers: Arc<Mutex<HashMap<String, Value>>>,
}

#[async_trait]
impl Client for InMemoryClient {
    async fn invoke(&mut self, op: &OpRequest) -> Completion {
        let key = op.key.as_ref().map(|k| k.to_string()).unwrap_or_default();
        let mut registers = self.registers.lock().expect("registers");
        match op.f.as_str() {
            "read" => Completion::ok(registers.get(&key).cloned().unwrap_or(Value::Null)),
            "write" => {
                registers.insert(key, op.value.clone());
                Completion::ok(op.value.clone())
            }
            "cas" => {
                let (from, to) = match op.value.as_array().map(|v| v.as_slice()) {
                    Some([from, to]) => (from, to),
                    _ => return Completion::fail(op.value.clone(), "cas takes [from, to]"),
                };
                let current = registers.get(&key).unwrap_or(&Value::Null);
                if current == from {
                    registers.insert(key, to.clone());
                    Completion::ok(op.value.clone())
                } else {
                    Completion::fail(op.value.clone(), "cas mismatch")
                }
            }
            other => Completion::fail(op.value.clone(), format!("unknown function {other}")),
        }
    }
}

/// Run `faultline bench`.
pub async fn run(args: &BenchArgs) -> Result<()> {
    if args.concurrency == 0 || !args.seconds.is_finite() || args.seconds <= 0.0 {
        bad_input!("give --concurrency of at least 1 and a positive --seconds");
    }
    match args.what.as_str() {
        "record" => {}
        "client-command" => return crate::bench_client::run(args).await,
        "maelstrom" => return crate::maelstrom::bench::run(args).await,
        other => bad_input!(
            "unknown benchmark '{other}': faultline bench takes `record`, `client-command` or `maelstrom`"
        ),
    }
    let client = InMemoryClient::default();
    let run = drive(args, |_| Box::new(client.clone())).await?;
    let (elapsed, completed, history) = (run.elapsed, run.completed, run.history);
    let check_start = Instant::now();
    let checkers = select(
        run.workload.model(),
        run.workload.initial().as_ref(),
        &CheckBudget::default(),
    )
    .map_err(anyhow::Error::msg)?
    .into_checkers();
    let (verdict, results) = check_all(&checkers, &history);
    let reasons = results.iter().flat_map(|result| &result.reasons);
    println!(
        "record: {completed} ops in {:.2} s with {} workers = {:.0} ops/s recorded ({} history lines); check: {verdict} in {:.2} s",
        elapsed.as_secs_f64(),
        args.concurrency,
        completed as f64 / elapsed.as_secs_f64(),
        history.len(),
        check_start.elapsed().as_secs_f64()
    );
    for reason in reasons.take(3) {
        println!("  {reason}");
    }
    Ok(())
}

/// What one benchmark run of the register workload did.
pub(crate) struct Drive {
    /// The workload (five fixed keys).
    pub workload: Box<dyn faultline_workloads::Workload>,
    /// How long the run took.
    pub elapsed: Duration,
    /// Ops completed.
    pub completed: u64,
    /// Of them, `info`.
    pub info: u64,
    /// The recorded history.
    pub history: faultline_checkers::history::History,
}

/// Drive the register workload on five fixed keys (as the figures recorded before
/// independent keys were measured with) for `--seconds` through one client per worker,
/// recording every op as `faultline test` does.
pub(crate) async fn drive(
    args: &BenchArgs,
    mut client: impl FnMut(usize) -> Box<dyn Client>,
) -> Result<Drive> {
    let dir = tempfile::tempdir()?;
    let start = Instant::now();
    let (recorder, thread) = Recorder::create(&dir.path().join("history.jsonl"), start)?;
    let workload = faultline_workloads::by_name(
        "register",
        &workload_options(
            Keys::Fixed { count: 5 },
            Default::default(),
            Default::default(),
        ),
    )
    .map_err(anyhow::Error::msg)?;
    let generator = time_limit(Duration::from_secs_f64(args.seconds), workload.generator());
    let dispatcher = Arc::new(Dispatcher::new(generator, args.concurrency, 1));
    let clients: Vec<Box<dyn Client>> = (0..args.concurrency).map(&mut client).collect();
    let processes = (0..args.concurrency as u64).collect();
    let (_never, mut interrupt) = tokio::sync::watch::channel(false);
    run_phase(
        dispatcher,
        clients,
        processes,
        &recorder,
        start,
        args.concurrency,
        &mut interrupt,
    )
    .await;
    let elapsed = start.elapsed();
    let completed = recorder.counts().completed();
    let info = recorder
        .counts()
        .info
        .load(std::sync::atomic::Ordering::Relaxed);
    drop(recorder);
    let history = thread.finish()?;
    Ok(Drive {
        workload,
        elapsed,
        completed,
        info,
        history,
    })
}
