//! The [`Dispatcher`]: the one place the controller's workers ask for ops. It owns the
//! generator and the run's single seeded `StdRng`, serialises every poll behind one short
//! lock, and keeps the count of workers with an op in flight that [`Context::busy`] reports.
//!
//! It never sleeps, spawns or measures time: the controller passes `now` in and does the
//! waiting a [`Poll::Wait`] asks for.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::core::{Context, Generator, Poll};

/// Hands out ops from one generator to many workers; `Send + Sync`, shared by reference.
///
/// The controller's worker loop:
/// 1. `next(worker, process, now)`: on [`Poll::Op`] invoke it, then call
///    [`completed`](Dispatcher::completed) and go again; on [`Poll::Wait`] sleep for the
///    duration or until any worker completes an op (a `tokio::sync::Notify` is enough), then
///    go again; on [`Poll::Done`] stop.
///
/// With the same seed and the same sequence of calls the ops are the same: the schedule of
/// a run is reproducible even when the cluster's timing is not. For the final phase (after
/// healing), build a second dispatcher, e.g. with `seed.wrapping_add(1)`.
pub struct Dispatcher {
    workers: usize,
    state: Mutex<State>,
}

struct State {
    generator: Box<dyn Generator>,
    rng: StdRng,
    busy: Vec<bool>,
    busy_count: usize,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("workers", &self.workers)
            .field("busy", &self.busy())
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A dispatcher for `workers` workers (numbered `0..workers`), drawing its random numbers
    /// from a `StdRng` seeded with `seed`.
    pub fn new(generator: Box<dyn Generator>, workers: usize, seed: u64) -> Self {
        Dispatcher {
            workers,
            state: Mutex::new(State {
                generator,
                rng: StdRng::seed_from_u64(seed),
                busy: vec![false; workers],
                busy_count: 0,
            }),
        }
    }

    /// How many workers this dispatcher serves.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// The next op for `worker`, which now runs as `process`; `now` is the time since the
    /// test started. On [`Poll::Op`] the worker counts as busy until
    /// [`completed`](Dispatcher::completed) (or its next call to `next`, which implies it).
    ///
    /// A worker outside `0..workers` gets [`Poll::Done`], as does everyone once a generator
    /// has panicked: the run then ends and heals instead of hanging.
    pub fn next(&self, worker: usize, process: u64, now: Duration) -> Poll {
        if worker >= self.workers {
            return Poll::Done;
        }
        let Some(mut state) = self.lock() else {
            return Poll::Done;
        };
        let state = &mut *state;
        if state.busy[worker] {
            state.busy[worker] = false;
            state.busy_count -= 1;
        }
        let ctx = Context {
            time: now,
            worker,
            workers: self.workers,
            process,
            busy: state.busy_count,
        };
        let poll = state.generator.poll(&ctx, &mut state.rng);
        if let Poll::Op(_) = poll {
            state.busy[worker] = true;
            state.busy_count += 1;
        }
        poll
    }

    /// `worker`'s op finished (whatever its outcome); it is no longer busy.
    pub fn completed(&self, worker: usize) {
        if let Some(mut state) = self.lock() {
            if state.busy.get(worker).copied().unwrap_or(false) {
                state.busy[worker] = false;
                state.busy_count -= 1;
            }
        }
    }

    /// How many workers have an op in flight.
    pub fn busy(&self) -> usize {
        self.lock().map_or(0, |s| s.busy_count)
    }

    /// The state, or `None` when a generator panicked while holding the lock.
    fn lock(&self) -> Option<MutexGuard<'_, State>> {
        self.state.lock().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::core::{from_fn, repeat};
    use crate::generator::testkit::read;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn dispatcher_is_send_and_sync() {
        assert_send_sync::<Dispatcher>();
    }

    #[test]
    fn busy_counts_other_workers_in_flight() {
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let g = from_fn(move |ctx, _| {
            record
                .lock()
                .unwrap()
                .push((ctx.worker, ctx.busy, ctx.process));
            Poll::Op(read(0))
        });
        let d = Dispatcher::new(g, 3, 1);
        d.next(0, 10, Duration::ZERO);
        d.next(1, 11, Duration::ZERO);
        assert_eq!(d.busy(), 2);
        d.next(2, 12, Duration::ZERO);
        d.completed(0);
        d.completed(0); // twice is harmless
        d.next(0, 13, Duration::ZERO);
        // Asking again implies the previous op of that worker completed.
        d.next(2, 12, Duration::ZERO);
        assert_eq!(
            *seen.lock().unwrap(),
            vec![(0, 0, 10), (1, 1, 11), (2, 2, 12), (0, 2, 13), (2, 2, 12)]
        );
        assert_eq!(d.busy(), 3);
    }

    #[test]
    fn out_of_range_worker_is_done() {
        let d = Dispatcher::new(repeat(read(0)), 2, 1);
        d.completed(5); // ignored
        assert_eq!(d.next(2, 0, Duration::ZERO), Poll::Done);
        assert!(matches!(d.next(1, 0, Duration::ZERO), Poll::Op(_)));
        assert_eq!(d.busy(), 1);
    }

    #[test]
    fn a_panicking_generator_ends_the_run() {
        let g = from_fn(|ctx, _| {
            if ctx.worker == 1 {
                panic!("generator bug");
            }
            Poll::Op(read(0))
        });
        let d = std::sync::Arc::new(Dispatcher::new(g, 2, 1));
        assert!(matches!(d.next(0, 0, Duration::ZERO), Poll::Op(_)));
        let d2 = d.clone();
        let joined = std::thread::spawn(move || d2.next(1, 1, Duration::ZERO)).join();
        assert!(joined.is_err());
        assert_eq!(d.next(0, 0, Duration::ZERO), Poll::Done);
    }
}
