//! The controller's side of faults: resolves the fault options of `faultline test` (which
//! network the local nodes get, partition shapes, `--netem`, clock options) and refuses
//! what this machine cannot do with a clear reason; builds the enabled nemeses over the
//! target's abilities; runs their schedule beside the workers; and records every fault start
//! and stop in the history under process `nemesis`, so reports can shade fault intervals.
//!
//! The schedule heals everything it applied when told to stop; the ledger in the run folder
//! lets `faultline heal` finish the job after a crash of the harness.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use faultline_checkers::history::{OpType, Process};
use faultline_nemeses::clock::{ClockNemesis, ClockOptions, FaketimeClock};
use faultline_nemeses::disk::{DiskFault, DiskNemesis};
use faultline_nemeses::ledger::Ledger;
use faultline_nemeses::nemesis::{Nemesis, Outcome};
use faultline_nemeses::netem::{NetemNemesis, NetemOptions};
use faultline_nemeses::partition::PartitionNemesis;
use faultline_nemeses::process::ProcessNemesis;
use faultline_nemeses::schedule::{NemesisEvent, NemesisKind, Schedule};
use faultline_nemeses::start_stop::Serialised;
use tokio::sync::watch;

use crate::recorder::Recorder;
use crate::run_dir::RunDir;
use crate::spec::TestSpec;
use crate::systems::System;
use crate::targets::cluster::Cluster;

pub(crate) type NemesisTask = Option<tokio::task::JoinHandle<Vec<String>>>;

pub(crate) fn start_nemesis(
    spec: &TestSpec,
    seed: u64,
    run: &RunDir,
    cluster: &Cluster,
    system: &Arc<dyn System>,
    recorder: &Recorder,
) -> Result<(watch::Sender<bool>, NemesisTask)> {
    let (stop_tx, stop_rx) = watch::channel(false);
    if spec.nemeses.is_empty() {
        return Ok((stop_tx, None));
    }
    let kinds = faultline_nemeses::schedule::parse_nemeses(&spec.nemeses.join(","))
        .map_err(anyhow::Error::msg)?;
    let process = cluster.processes(system);
    let ledger = Arc::new(Ledger::create(run.nemesis_state()).map_err(anyhow::Error::msg)?);
    let faults = &spec.faults;
    let mut nemeses: Vec<Arc<dyn Nemesis>> = Vec::new();
    for kind in &kinds {
        let nemesis: Arc<dyn Nemesis> = match kind {
            NemesisKind::Kill => Arc::new(
                ProcessNemesis::kill(process.clone(), ledger.clone())
                    .with_targets(spec.nemesis_targets.clone()),
            ),
            NemesisKind::Pause => Arc::new(
                ProcessNemesis::pause(process.clone(), ledger.clone())
                    .with_targets(spec.nemesis_targets.clone()),
            ),
            NemesisKind::Partition => {
                let Some(network) = cluster.network() else {
                    anyhow::bail!("this target has no way to partition its nodes in this run");
                };
                Arc::new(Serialised::new(PartitionNemesis::new(
                    network,
                    Some(process.clone()),
                    ledger.clone(),
                    faults.shapes(),
                )))
            }
            NemesisKind::Netem => {
                let netem = NetemNemesis::new(
                    cluster.control(),
                    ledger.clone(),
                    NetemOptions::parse(&faults.netem).map_err(anyhow::Error::msg)?,
                );
                Arc::new(Serialised::new(match cluster.links(seed) {
                    // Kernel netem where it exists; the NFQUEUE scheduler or the relays
                    // otherwise. The history records which acted.
                    Some(shaper) => netem.with_shaper(shaper, cluster.kernel_links()),
                    None => netem,
                }))
            }
            NemesisKind::Bitflip | NemesisKind::Truncate => {
                let Some(files) = cluster.data_files() else {
                    anyhow::bail!(
                        "--nemesis {}: this target has no way to reach the nodes' data files",
                        kind.name()
                    );
                };
                let fault = if *kind == NemesisKind::Bitflip {
                    DiskFault::Bitflip
                } else {
                    DiskFault::Truncate
                };
                Arc::new(DiskNemesis::new(
                    fault,
                    files,
                    process.clone(),
                    ledger.clone(),
                ))
            }
            NemesisKind::Membership => crate::membership_nemesis::membership_nemesis(
                cluster,
                system,
                process.clone(),
                &ledger,
            )?,
            NemesisKind::LoseUnfsynced => {
                let Some(writes) = cluster.unsynced_writes() else {
                    anyhow::bail!(
                        "--nemesis lose-unfsynced: this target's data directories are not mounted through lazyfs"
                    );
                };
                Arc::new(faultline_nemeses::unfsynced::LoseUnfsyncedNemesis::new(
                    writes,
                    process.clone(),
                    ledger.clone(),
                ))
            }
            NemesisKind::Clock => {
                println!(
                    "clock faults: nodes run under libfaketime; C, Rust and Java services honour it, Go \
                     binaries such as etcd do not (they read the clock from the vDSO)"
                );
                let files = cluster
                    .faketime_files()
                    .into_iter()
                    .map(|(node, path)| (node, path.display().to_string()))
                    .collect();
                let clock = Arc::new(FaketimeClock::new(cluster.control(), files));
                Arc::new(Serialised::new(ClockNemesis::new(
                    clock,
                    ledger.clone(),
                    ClockOptions {
                        offsets_ms: faults.clock_offsets_ms.clone(),
                        skew: faults.clock_skew,
                        strobe: faults.clock_strobe,
                        strobe_period: Duration::from_millis(faults.clock_strobe_period_ms),
                    },
                )))
            }
        };
        nemeses.push(nemesis);
    }
    let nemesis_seed = seed ^ 0x6e656d65736973;
    let schedule = match &spec.nemesis_schedule {
        Some(faults) => {
            Schedule::explicit(nemeses, faults, nemesis_seed).map_err(anyhow::Error::msg)?
        }
        None => Schedule::new(nemeses, spec.nemesis_interval, nemesis_seed)
            .map_err(anyhow::Error::msg)?,
    };
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

pub(crate) fn describe_outcome(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Applied(value) => format!("undid {value}"),
        Outcome::Skipped(why) => format!("skipped: {why}"),
        Outcome::Indeterminate(why) => format!("could not undo: {why}"),
    }
}
