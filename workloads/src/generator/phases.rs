//! [`phases`]: generators run one after another, with a barrier between them so that no op
//! of a phase starts while an op of the previous phase is still in flight.
//!
//! The barrier only reads [`Context::busy`](super::Context::busy); it never blocks: workers
//! that reach it early are told to wait.

use std::time::Duration;

use rand::rngs::StdRng;

use super::core::{Context, Generator, Poll};

/// How long a worker at the barrier waits before asking again. It is also woken whenever an
/// op completes, so this only bounds the delay after the last worker reaches the barrier.
pub const BARRIER_WAIT: Duration = Duration::from_millis(10);

struct Phases {
    phases: Vec<Box<dyn Generator>>,
    current: usize,
    /// Workers the current phase has answered `Done` to.
    done: Vec<bool>,
    done_count: usize,
}

impl Phases {
    fn mark_done(&mut self, ctx: &Context) {
        if self.done.len() <= ctx.worker {
            self.done
                .resize(ctx.worker.max(ctx.workers.saturating_sub(1)) + 1, false);
        }
        if !self.done[ctx.worker] {
            self.done[ctx.worker] = true;
            self.done_count += 1;
        }
    }

    fn is_done(&self, worker: usize) -> bool {
        self.done.get(worker).copied().unwrap_or(false)
    }
}

impl Generator for Phases {
    fn poll(&mut self, ctx: &Context, rng: &mut StdRng) -> Poll {
        loop {
            if self.current >= self.phases.len() {
                return Poll::Done;
            }
            if !self.is_done(ctx.worker) {
                match self.phases[self.current].poll(ctx, rng) {
                    Poll::Done => self.mark_done(ctx),
                    other => return other,
                }
            }
            // This worker is through the current phase: wait for everyone to be, and idle.
            if self.done_count >= ctx.workers && ctx.busy == 0 {
                self.current += 1;
                self.done.iter_mut().for_each(|d| *d = false);
                self.done_count = 0;
            } else {
                return Poll::Wait(BARRIER_WAIT);
            }
        }
    }
}

/// Runs each generator until it is `Done` for every worker, then waits until no worker has
/// an op in flight before starting the next one (Jepsen's `phases`, whose `synchronize`
/// barrier this includes). `Done` after the last phase. Each phase is first polled when it
/// starts, so a [`time_limit`](super::time_limit) inside a phase counts from there.
pub fn phases(phases: Vec<Box<dyn Generator>>) -> Box<dyn Generator> {
    Box::new(Phases {
        phases,
        current: 0,
        done: Vec::new(),
        done_count: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::combinators::{limit, sleep, time_limit};
    use crate::generator::core::{each_worker, repeat, sequence};
    use crate::generator::testkit::{read, Sim};
    use serde_json::json;

    #[test]
    fn no_op_of_a_phase_starts_before_the_previous_phase_is_idle() {
        // Worker 2 is slow: the second phase must wait for its last op.
        let mut sim = Sim::new(3, 7).with_latencies(vec![
            Duration::from_millis(1),
            Duration::from_millis(2),
            Duration::from_millis(50),
        ]);
        let g = phases(vec![limit(10, repeat(read(1))), limit(4, repeat(read(2)))]);
        let log = sim.run(g, Duration::ZERO);
        assert_eq!(log.len(), 14);
        let of_phase = |key: u64| log.iter().filter(move |e| e.op.key == Some(json!(key)));
        let first_end = of_phase(1).map(|e| e.end).max().unwrap();
        let second_start = of_phase(2).map(|e| e.start).min().unwrap();
        assert!(first_end >= Duration::from_millis(50), "{first_end:?}");
        assert!(
            second_start >= first_end,
            "{second_start:?} < {first_end:?}"
        );
        // The barrier costs at most one BARRIER_WAIT.
        assert!(second_start <= first_end + BARRIER_WAIT);
        assert_eq!(sim.finished, vec![true; 3]);
    }

    #[test]
    fn each_worker_phase_waits_for_all_workers() {
        let mut sim =
            Sim::new(2, 1).with_latencies(vec![Duration::from_millis(1), Duration::from_millis(5)]);
        let g = phases(vec![
            each_worker(|w| sequence(vec![read(w as u64), read(w as u64)])),
            sequence(vec![read(9)]),
        ]);
        let log = sim.run(g, Duration::ZERO);
        let keys: Vec<_> = log.iter().map(|e| e.op.key.clone().unwrap()).collect();
        assert_eq!(keys.last(), Some(&json!(9)));
        assert_eq!(log.last().unwrap().start, Duration::from_millis(10));
    }

    #[test]
    fn time_limit_inside_a_phase_counts_from_the_phase_start() {
        let mut sim = Sim::new(1, 1);
        let g = phases(vec![
            sleep(Duration::from_millis(100)),
            time_limit(Duration::from_millis(10), repeat(read(0))),
        ]);
        let log = sim.run(g, Duration::from_millis(1));
        assert_eq!(log.len(), 10);
        assert_eq!(log[0].start, Duration::from_millis(100));
        assert_eq!(log[9].start, Duration::from_millis(109));
    }

    #[test]
    fn empty_phases_end_at_once() {
        let mut sim = Sim::new(2, 1);
        assert!(sim.run(phases(vec![]), Duration::ZERO).is_empty());
        let log = sim.run(
            phases(vec![sequence(vec![]), sequence(vec![read(1)])]),
            Duration::ZERO,
        );
        assert_eq!(log.len(), 1);
    }
}
