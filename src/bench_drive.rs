//! What `faultline bench record` and `bench client-command` share: the register workload
//! on five fixed keys driven for `--seconds` through one client per worker, recorded as
//! `faultline test` records, so the two figures compare.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use faultline_workloads::generator::{time_limit, Dispatcher};
use faultline_workloads::Keys;

use crate::cli::BenchArgs;
use crate::recorder::Recorder;
use crate::runner::run_phase;
use crate::spec::workload_options;
use crate::systems::Client;

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
    let path = dir.path().join("history.jsonl");
    let (recorder, thread) = Recorder::create(&path, start, false)?;
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
    thread.finish()?;
    let history = faultline_checkers::history::History::read_jsonl(&path)?;
    Ok(Drive {
        workload,
        elapsed,
        completed,
        info,
        history,
    })
}
