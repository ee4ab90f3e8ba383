//! The progress bar a person watches while a test runs: elapsed time against the time
//! limit, ops per second, outcomes and faults so far. Hidden with `--no-progress` or when
//! stderr is not a terminal (indicatif draws nothing there).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::recorder::Counts;

/// The bar of one run.
pub struct Progress {
    bar: ProgressBar,
    ticker: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Progress {
    /// A bar for a main phase of `time_limit`, drawn only when `enabled`.
    pub fn new(enabled: bool, time_limit: Duration) -> Self {
        let bar = ProgressBar::with_draw_target(
            Some(time_limit.as_secs().max(1)),
            if enabled {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len}s {msg}",
            )
            .expect("valid template"),
        );
        Progress {
            bar,
            ticker: Mutex::new(None),
        }
    }

    /// Say what the harness is doing now (between phases).
    pub fn stage(&self, message: &str) {
        if let Some(ticker) = self.ticker.lock().expect("ticker").take() {
            ticker.abort();
        }
        self.bar.set_message(message.to_string());
        self.bar.enable_steady_tick(Duration::from_millis(200));
    }

    /// Show live counts until the next stage.
    pub fn running(&self, counts: Arc<Counts>) {
        let bar = self.bar.clone();
        let started = Instant::now();
        let ticker = tokio::spawn(async move {
            let mut last = (Instant::now(), 0u64);
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let done = counts.completed();
                let now = Instant::now();
                let rate = (done - last.1) as f64 / now.duration_since(last.0).as_secs_f64();
                last = (now, done);
                bar.set_position(started.elapsed().as_secs());
                bar.set_message(format!(
                    "{rate:.0} ops/s | ok {} fail {} info {} | faults {}",
                    counts.ok.load(Ordering::Relaxed),
                    counts.fail.load(Ordering::Relaxed),
                    counts.info.load(Ordering::Relaxed),
                    counts.faults.load(Ordering::Relaxed),
                ));
            }
        });
        *self.ticker.lock().expect("ticker") = Some(ticker);
    }

    /// Remove the bar.
    pub fn finish(&self) {
        if let Some(ticker) = self.ticker.lock().expect("ticker").take() {
            ticker.abort();
        }
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
