//! Online checking: while a test runs, the run's checkers follow the history as it is
//! recorded and note when an anomaly first became provable; with `--stop-on-anomaly` the
//! main phase then ends at once (the nemesis heals and the run checks and reports as usual).
//!
//! Checking a prefix of the history is sound: an op still in flight counts as one whose
//! outcome is unknown, which may take effect or not, so a prefix that cannot be linearized
//! (or holds a dependency cycle) stays so however the history goes on. Every few seconds
//! the checker looks at the history so far, with a short budget: an `unknown` on a prefix
//! only means "not yet". This module must never decide the run's verdict — the full check
//! at the end does — nor slow the workers: it reads the ops the recorder already wrote.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use faultline_checkers::checker::{check_all, Checker, Validity};
use faultline_checkers::history::History;
use serde::Serialize;

use crate::recorder::{lock, SharedOps};

/// How often the history so far is checked.
const EVERY: Duration = Duration::from_secs(2);

/// When an anomaly first became provable while the test ran.
#[derive(Debug, Clone, Serialize)]
pub struct FirstAnomaly {
    /// Seconds since the main phase began.
    pub at_secs: f64,
    /// How many history lines the check had seen.
    pub ops: usize,
    /// The checker that proved it.
    pub checker: String,
    /// Its first reason.
    pub reason: String,
    /// Whether the main phase was ended for it (`--stop-on-anomaly`).
    pub stopped_the_run: bool,
}

/// The online checker's thread.
pub struct Online {
    done: Arc<AtomicBool>,
    found: Arc<Mutex<Option<FirstAnomaly>>>,
    handle: JoinHandle<()>,
}

impl Online {
    /// Follow `ops` with `checkers` (built with a short budget) from `start`; when an
    /// anomaly is proven and `stop_on_anomaly`, raise `stop` (the main generator's end).
    pub fn start(
        ops: SharedOps,
        checkers: Vec<Box<dyn Checker>>,
        stop_on_anomaly: bool,
        stop: Arc<AtomicBool>,
        start: Instant,
    ) -> std::io::Result<Online> {
        let done = Arc::new(AtomicBool::new(false));
        let found = Arc::new(Mutex::new(None));
        let (thread_done, thread_found) = (done.clone(), found.clone());
        let handle = std::thread::Builder::new()
            .name("faultline-online-check".into())
            .spawn(move || {
                let mut history = History::default();
                let mut checked = 0usize;
                while sleep_unless(&thread_done, EVERY) {
                    {
                        let ops = lock(&ops);
                        history.ops.extend_from_slice(&ops[history.ops.len()..]);
                    }
                    if history.ops.len() == checked {
                        continue;
                    }
                    checked = history.ops.len();
                    let (valid, results) = check_all(&checkers, &history);
                    if valid != Validity::Invalid {
                        continue;
                    }
                    let first = results.iter().find(|r| r.valid == Validity::Invalid);
                    let anomaly = FirstAnomaly {
                        at_secs: start.elapsed().as_secs_f64(),
                        ops: checked,
                        checker: first.map(|r| r.checker.clone()).unwrap_or_default(),
                        reason: first
                            .and_then(|r| r.reasons.first().cloned())
                            .unwrap_or_default(),
                        stopped_the_run: stop_on_anomaly,
                    };
                    tracing::warn!(
                        at_secs = anomaly.at_secs,
                        checker = anomaly.checker,
                        "an anomaly is provable: {}",
                        anomaly.reason
                    );
                    if stop_on_anomaly {
                        stop.store(true, Ordering::Relaxed);
                    }
                    if let Ok(mut slot) = thread_found.lock() {
                        *slot = Some(anomaly);
                    }
                    return;
                }
            })?;
        Ok(Online {
            done,
            found,
            handle,
        })
    }

    /// Stop following the history; the first anomaly found, if any.
    pub fn finish(self) -> Option<FirstAnomaly> {
        self.done.store(true, Ordering::Relaxed);
        let _ = self.handle.join();
        self.found.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// Sleep `length` in short steps; `false` as soon as `done` is raised.
fn sleep_unless(done: &AtomicBool, length: Duration) -> bool {
    let until = Instant::now() + length;
    while Instant::now() < until {
        if done.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    !done.load(Ordering::Relaxed)
}
