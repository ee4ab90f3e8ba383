//! `faultline bench soak`: a run of minutes or hours through the controller's own pipeline —
//! dispatcher, workers, recorder, online checker, final reads, the final check read back
//! from `history.jsonl`, the faults' records and the report — against the in-process
//! register store (no cluster), at a fixed rate on the register workload's independent keys.
//! It prints ops/s, the process's resident memory over time, the online checker's CPU per
//! op, and how long the check and the report took once the run ended: the figures that say
//! whether a run of hours fits the machine.
//!
//! This module measures; it must never change how `faultline test` runs: it calls the same
//! functions, in the same order.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use faultline_checkers::checker::Validity;
use faultline_workloads::generator::{stagger, time_limit, Dispatcher};
use faultline_workloads::{Keys, Workload, DEFAULT_OPS_PER_KEY, DEFAULT_THREADS_PER_KEY};

use crate::bench::InMemoryClient;
use crate::cli::BenchArgs;
use crate::exit::bad_input;
use crate::online::{Online, Watch};
use crate::recorder::Recorder;
use crate::run_dir::RunDir;
use crate::runner::{check_recorded, run_phase, PhaseEnd, ONLINE_CHECK_BUDGET};
use crate::spec::workload_options;
use crate::systems::Client;

/// The resident and peak resident memory of this process, in MiB.
fn memory_mib() -> (f64, f64) {
    let mib = |bytes: u64| bytes as f64 / 1048576.0;
    (
        mib(crate::memory::resident_bytes()),
        mib(crate::memory::peak_resident_bytes()),
    )
}

/// Samples the resident memory every second while the run goes on.
struct Sampler {
    samples: Arc<Mutex<Vec<(f64, f64)>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    handle: std::thread::JoinHandle<()>,
}

impl Sampler {
    fn start(start: Instant, print_every: Duration) -> Result<Sampler> {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (thread_samples, thread_stop) = (samples.clone(), stop.clone());
        let handle = std::thread::Builder::new()
            .name("faultline-soak-rss".into())
            .spawn(move || {
                let mut next_print = print_every;
                while !thread_stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(250));
                    let at = start.elapsed();
                    let (rss, _) = memory_mib();
                    if let Ok(mut s) = thread_samples.lock() {
                        if s.last().is_none_or(|&(t, _)| at.as_secs_f64() - t >= 1.0) {
                            s.push((at.as_secs_f64(), rss));
                        }
                    }
                    if at >= next_print {
                        println!("  {:>7.0} s  rss {rss:>6.1} MiB", at.as_secs_f64());
                        next_print += print_every;
                    }
                }
            })?;
        Ok(Sampler {
            samples,
            stop,
            handle,
        })
    }

    fn finish(self) -> Vec<(f64, f64)> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.handle.join();
        self.samples.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// Run `faultline bench soak`.
pub async fn run(args: &BenchArgs) -> Result<()> {
    let minutes = args.minutes;
    if !minutes.is_finite() || minutes <= 0.0 || !args.rate.is_finite() || args.rate <= 0.0 {
        bad_input!("give a positive --minutes and --rate (ops/s) to `faultline bench soak`");
    }
    let store = tempfile::tempdir()?;
    let run = RunDir::create(store.path(), "soak")?;
    let workload: Arc<dyn Workload> = faultline_workloads::by_name(
        "register",
        &workload_options(
            Keys::Independent {
                threads_per_key: DEFAULT_THREADS_PER_KEY,
                ops_per_key: DEFAULT_OPS_PER_KEY,
            },
            Default::default(),
            Default::default(),
        ),
    )
    .map_err(anyhow::Error::msg)?
    .into();
    let budget = |timeout| faultline_checkers::selection::CheckBudget {
        timeout,
        process_memory: Some(crate::memory::process_memory()),
        ..Default::default()
    };
    let select = |timeout| {
        faultline_checkers::selection::select(
            workload.model(),
            workload.initial().as_ref(),
            &budget(timeout),
        )
        .map_err(anyhow::Error::msg)
    };
    let watch = Watch::of(select(ONLINE_CHECK_BUDGET)?, workload.clone());
    let length = Duration::from_secs_f64(minutes * 60.0);
    println!(
        "soak: register on independent keys, {} workers at {} ops/s for {minutes} min, \
         in-process store; resident memory of this process:",
        args.concurrency, args.rate
    );
    let start = Instant::now();
    let sampler = Sampler::start(
        start,
        (length / 10).clamp(Duration::from_secs(5), Duration::from_secs(300)),
    )?;
    let (recorder, recorder_thread) = Recorder::create(&run.history(), start, watch.is_some())?;
    let (never, _) = tokio::sync::watch::channel(false);
    let online = match (watch, recorder_thread.feed()) {
        (Some(watch), Some(feed)) => Some(Online::start(
            feed,
            watch,
            false,
            Default::default(),
            start,
        )?),
        _ => None,
    };
    let client = InMemoryClient::default();
    let clients: Vec<Box<dyn Client>> = (0..args.concurrency)
        .map(|_| Box::new(client.clone()) as Box<dyn Client>)
        .collect();
    let generator = time_limit(
        length,
        stagger(args.rate, workload.generator()).map_err(anyhow::Error::msg)?,
    );
    let processes = (0..args.concurrency as u64).collect();
    let phase = |generator, clients, processes| {
        let dispatcher = Arc::new(Dispatcher::new(generator, args.concurrency, 1));
        let mut interrupt = never.subscribe();
        let recorder = &recorder;
        async move {
            run_phase(
                dispatcher,
                clients,
                processes,
                recorder,
                start,
                args.concurrency,
                &mut interrupt,
            )
            .await
        }
    };
    let PhaseEnd::Finished { clients, processes } = phase(generator, clients, processes).await
    else {
        anyhow::bail!("a worker stopped the main phase");
    };
    let main_secs = start.elapsed().as_secs_f64();
    let online_stats = online.map(Online::finish).map(|(_, stats)| stats);
    if let Some(finals) = workload.final_generator() {
        phase(finals, clients, processes).await;
    }
    let completed = recorder.counts().completed();
    drop(recorder);
    let lines = recorder_thread.finish()?;
    let ended = Instant::now();
    let checked = check_recorded(Ok(select(Duration::from_secs(600))?), &run.history())?;
    let check_secs = ended.elapsed().as_secs_f64();
    faultline_reports::fault_records_of_file(&run.history()).context("the faults' records")?;
    faultline_reports::render_run(&run.path).context("the report")?;
    let after_end = ended.elapsed().as_secs_f64();
    let samples = sampler.finish();
    let (rss_end, peak) = memory_mib();
    let at_one_minute = samples
        .iter()
        .find(|&&(t, _)| t >= 60.0)
        .map(|&(_, rss)| rss);
    let max_after = samples
        .iter()
        .filter(|&&(t, _)| t >= 60.0)
        .map(|&(_, rss)| rss)
        .fold(f64::NAN, f64::max);
    let html = std::fs::metadata(run.path.join("index.html")).map_or(0, |m| m.len());
    println!(
        "soak: {completed} ops in {main_secs:.0} s = {:.0} ops/s ({lines} history lines, {:.0} MiB file)",
        completed as f64 / start.elapsed().as_secs_f64(),
        std::fs::metadata(run.history()).map_or(0, |m| m.len()) as f64 / 1048576.0
    );
    println!(
        "  memory: peak {peak:.1} MiB, {rss_end:.1} MiB at the end{}",
        match at_one_minute {
            Some(first) => format!(
                ", {first:.1} MiB at 1 min, growth after it {:.1} MiB",
                (max_after - first).max(0.0)
            ),
            None => String::new(),
        }
    );
    if let Some(stats) = online_stats {
        println!(
            "  online check: {} looks, {:.2} µs CPU per op ({:.2} s in all), {} keys settled, at most {} ops held",
            stats.looks, stats.cpu_per_op_us, stats.cpu_secs, stats.keys_settled, stats.held_peak
        );
    }
    println!(
        "  after the run: checked in {check_secs:.2} s ({}), results and report {:.2} s later \
         ({after_end:.2} s in all; page {:.1} MiB); verdict {}",
        if checked.by_key {
            "by key, from the file"
        } else {
            "whole"
        },
        after_end - check_secs,
        html as f64 / 1048576.0,
        checked.valid
    );
    if checked.valid != Validity::Valid {
        anyhow::bail!(
            "the soak's history should be valid, and is {}",
            checked.valid
        );
    }
    Ok(())
}
