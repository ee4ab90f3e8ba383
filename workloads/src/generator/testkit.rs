//! Test support: a discrete-event simulation of the controller's workers on a fake clock,
//! driving a real [`Dispatcher`], so generator tests can assert exact schedules.
//!
//! It mirrors the controller's contract: a worker polls, invokes the op it gets (which takes
//! its latency), reports the completion, and polls again; a worker told to wait sleeps for
//! the wait or until any op completes; a worker told `Done` stops. Test-only code.

use std::time::Duration;

use serde_json::{json, Value};

use super::{Dispatcher, Generator, Poll};
use crate::op::OpRequest;

/// A read of `key`, the op most tests hand around.
pub(crate) fn read(key: u64) -> OpRequest {
    OpRequest::new("read", Some(json!(key)), Value::Null)
}

/// One op handed out during a simulation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    /// When it was handed out.
    pub start: Duration,
    /// When it completed.
    pub end: Duration,
    pub worker: usize,
    pub op: OpRequest,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Will poll at this time.
    Ready(Duration),
    /// Has the op at this log index in flight until this time.
    Busy(Duration, usize),
    /// Sleeping because of a `Wait`, until this time at the latest.
    Waiting(Duration),
    Finished,
}

/// The simulated controller.
pub(crate) struct Sim {
    workers: usize,
    seed: u64,
    /// Per-worker latency of every op; defaults to the latency given to `run`.
    latencies: Option<Vec<Duration>>,
    /// Timer resolution: a wait ends at the next multiple of it (tokio's is 1 ms).
    tick: Option<Duration>,
    /// Which workers ended with `Done` in the last run.
    pub finished: Vec<bool>,
    /// The fake clock at the end of the last run.
    pub now: Duration,
}

const MAX_STEPS: usize = 1_000_000;

impl Sim {
    pub(crate) fn new(workers: usize, seed: u64) -> Self {
        Sim {
            workers,
            seed,
            latencies: None,
            tick: None,
            finished: vec![false; workers],
            now: Duration::ZERO,
        }
    }

    /// Give each worker its own op latency.
    pub(crate) fn with_latencies(mut self, latencies: Vec<Duration>) -> Self {
        assert_eq!(latencies.len(), self.workers);
        self.latencies = Some(latencies);
        self
    }

    /// Round every wait up to a multiple of `tick`, as a coarse timer does.
    pub(crate) fn with_timer_tick(mut self, tick: Duration) -> Self {
        self.tick = Some(tick);
        self
    }

    fn wake_at(&self, t: Duration) -> Duration {
        match self.tick {
            Some(tick) => {
                let tick = tick.as_nanos();
                let ticks = t.as_nanos().div_ceil(tick);
                Duration::from_nanos((ticks * tick) as u64)
            }
            None => t,
        }
    }

    /// Run until every worker is done.
    pub(crate) fn run(&mut self, generator: Box<dyn Generator>, latency: Duration) -> Vec<Entry> {
        self.run_for(generator, latency, usize::MAX)
    }

    /// Run until every worker is done or `max_ops` ops were handed out.
    pub(crate) fn run_for(
        &mut self,
        generator: Box<dyn Generator>,
        latency: Duration,
        max_ops: usize,
    ) -> Vec<Entry> {
        let dispatcher = Dispatcher::new(generator, self.workers, self.seed);
        let latencies = self
            .latencies
            .clone()
            .unwrap_or_else(|| vec![latency; self.workers]);
        let mut states = vec![State::Ready(Duration::ZERO); self.workers];
        let mut log: Vec<Entry> = Vec::new();
        let mut now = Duration::ZERO;
        for _ in 0..MAX_STEPS {
            if log.len() >= max_ops {
                break;
            }
            // The earliest event; completions before polls at the same instant, then by worker.
            let next = states
                .iter()
                .enumerate()
                .filter_map(|(w, s)| match *s {
                    State::Busy(t, _) => Some((t, 0, w)),
                    State::Ready(t) | State::Waiting(t) => Some((t, 1, w)),
                    State::Finished => None,
                })
                .min();
            let Some((time, _, worker)) = next else {
                break;
            };
            now = time;
            match states[worker] {
                State::Busy(_, _) => {
                    dispatcher.completed(worker);
                    states[worker] = State::Ready(now);
                    for s in states.iter_mut() {
                        if let State::Waiting(t) = *s {
                            *s = State::Waiting(t.min(now));
                        }
                    }
                }
                State::Ready(_) | State::Waiting(_) => {
                    match dispatcher.next(worker, worker as u64, now) {
                        Poll::Op(op) => {
                            let end = now + latencies[worker];
                            states[worker] = State::Busy(end, log.len());
                            log.push(Entry {
                                start: now,
                                end,
                                worker,
                                op,
                            });
                        }
                        Poll::Wait(d) => states[worker] = State::Waiting(self.wake_at(now + d)),
                        Poll::Done => states[worker] = State::Finished,
                    }
                }
                State::Finished => unreachable!(),
            }
        }
        assert!(
            log.len() >= max_ops || states.iter().all(|s| *s == State::Finished),
            "simulation did not finish in {MAX_STEPS} steps"
        );
        self.finished = states.iter().map(|s| *s == State::Finished).collect();
        self.now = now;
        log
    }
}
