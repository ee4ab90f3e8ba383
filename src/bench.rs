//! `faultline bench record`: how many ops per second the controller records — dispatcher,
//! workers, recorder and history file — against a trivially fast in-process client, so on
//! real clusters the harness is never the bottleneck. The recorded history is then checked,
//! so the figure is for real, legal work.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Result;
use async_trait::async_trait;
use faultline_checkers::checker::check_all;
use faultline_checkers::selection::{select, CheckBudget};
use faultline_workloads::op::OpRequest;
use serde_json::Value;

use crate::bench_drive::drive;
use crate::cli::BenchArgs;
use crate::exit::bad_input;
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
        "soak" => return crate::bench_soak::run(args).await,
        other => bad_input!(
            "unknown benchmark '{other}': faultline bench takes `record`, `client-command`, `maelstrom` or `soak`"
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
