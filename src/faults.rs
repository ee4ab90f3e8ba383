//! The controller's side of faults: builds the enabled nemeses over the target's abilities,
//! runs their schedule beside the workers, and records every fault start and stop in the
//! history under process `nemesis`, so reports can shade fault intervals.
//!
//! The schedule heals everything it applied when told to stop; the ledger in the run folder
//! lets `faultline heal` finish the job after a crash of the harness.

use std::sync::Arc;

use anyhow::Result;
use faultline_checkers::history::{OpType, Process};
use faultline_nemeses::ledger::Ledger;
use faultline_nemeses::nemesis::{Nemesis, Outcome};
use faultline_nemeses::process::ProcessNemesis;
use faultline_nemeses::schedule::{NemesisEvent, NemesisKind, Schedule};
use tokio::sync::watch;

use crate::recorder::Recorder;
use crate::spec::TestSpec;
use crate::store::RunDir;
use faultline_nemeses::control::ProcessControl;

pub(crate) type NemesisTask = Option<tokio::task::JoinHandle<Vec<String>>>;

pub(crate) fn start_nemesis(
    spec: &TestSpec,
    seed: u64,
    run: &RunDir,
    control: Arc<dyn ProcessControl>,
    recorder: &Recorder,
) -> Result<(watch::Sender<bool>, NemesisTask)> {
    let (stop_tx, stop_rx) = watch::channel(false);
    if spec.nemeses.is_empty() {
        return Ok((stop_tx, None));
    }
    let kinds = faultline_nemeses::schedule::parse_nemeses(&spec.nemeses.join(","))
        .map_err(anyhow::Error::msg)?;
    let ledger = Arc::new(Ledger::create(run.nemesis_state()).map_err(anyhow::Error::msg)?);
    let nemeses: Vec<Arc<dyn Nemesis>> = kinds
        .iter()
        .map(|kind| {
            let nemesis = match kind {
                NemesisKind::Kill => ProcessNemesis::kill(control.clone(), ledger.clone()),
                NemesisKind::Pause => ProcessNemesis::pause(control.clone(), ledger.clone()),
            };
            Arc::new(nemesis.with_targets(spec.nemesis_targets.clone())) as Arc<dyn Nemesis>
        })
        .collect();
    let schedule = Schedule::new(nemeses, spec.nemesis_interval, seed ^ 0x6e656d65736973)
        .map_err(anyhow::Error::msg)?;
    let (events_tx, mut events_rx) = tokio::sync::mpsc::unbounded_channel::<NemesisEvent>();
    let recorder = recorder.clone();
    let forward = tokio::spawn(async move {
        while let Some(event) = events_rx.recv().await {
            record_nemesis_event(&recorder, event);
        }
    });
    let task = tokio::spawn(async move {
        let outcomes = schedule.run(events_tx, stop_rx).await;
        let _ = forward.await;
        outcomes.iter().map(describe_outcome).collect()
    });
    Ok((stop_tx, Some(task)))
}

fn record_nemesis_event(recorder: &Recorder, event: NemesisEvent) {
    match event {
        NemesisEvent::Invoke { f, value, .. } => {
            if f.starts_with("start") {
                recorder
                    .counts()
                    .faults
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            recorder.record(Process::Nemesis, OpType::Invoke, &f, None, value, None)
        }
        NemesisEvent::Complete { f, outcome, .. } => {
            let error = match &outcome {
                Outcome::Applied(_) => None,
                Outcome::Skipped(why) => Some(format!("skipped: {why}")),
                Outcome::Indeterminate(why) => Some(format!("indeterminate: {why}")),
            };
            recorder.record(
                Process::Nemesis,
                OpType::Info,
                &f,
                None,
                outcome.to_value(),
                error,
            )
        }
    }
}

fn describe_outcome(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Applied(value) => format!("undid {value}"),
        Outcome::Skipped(why) => format!("skipped: {why}"),
        Outcome::Indeterminate(why) => format!("could not undo: {why}"),
    }
}
