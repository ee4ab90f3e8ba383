//! The generator vocabulary ([`Context`], [`Poll`], [`Generator`]) and the leaf generators
//! that produce ops themselves: [`from_fn`], [`repeat`], [`sequence`], [`once`], [`empty`],
//! and [`each_worker`], which gives every worker a generator of its own.
//!
//! Nothing here knows about clocks, threads or clients: time comes in through
//! [`Context::time`] and randomness through the caller's seeded `StdRng`.

use std::time::Duration;

use rand::rngs::StdRng;

use crate::op::OpRequest;

/// What a generator knows when a worker asks it for the next op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    /// Time since the test started (the controller's clock, or a fake one in tests).
    pub time: Duration,
    /// The asking worker, `0..workers`.
    pub worker: usize,
    /// How many workers the controller runs.
    pub workers: usize,
    /// The worker's current process id (it changes after an indeterminate result).
    pub process: u64,
    /// How many other workers have an op in flight right now.
    pub busy: usize,
}

/// A generator's answer to a worker.
#[derive(Debug, Clone, PartialEq)]
pub enum Poll {
    /// Invoke this op.
    Op(OpRequest),
    /// Nothing now: ask again after at most this long, or sooner when any op completes.
    Wait(Duration),
    /// Nothing more for this worker, ever.
    Done,
}

/// A source of ops, asked by each worker in turn for its next op.
///
/// A generator is a state machine driven by `poll`; it is shared by all workers (the
/// [`Dispatcher`](super::Dispatcher) serialises the calls), so it sees every request in the
/// order they were made. It must be deterministic given the contexts it is polled with and
/// the random numbers it draws from `rng`: that is what makes a `--seed` reproduce a run's
/// schedule of ops.
///
/// Answering [`Poll::Done`] to a worker promises never to give that worker another op;
/// shared generators (such as [`limit`](super::limit)) answer `Done` to every worker once
/// they are exhausted.
pub trait Generator: Send {
    /// The next op for `ctx.worker`, a wait, or the end.
    fn poll(&mut self, ctx: &Context, rng: &mut StdRng) -> Poll;
}

impl Generator for Box<dyn Generator> {
    fn poll(&mut self, ctx: &Context, rng: &mut StdRng) -> Poll {
        (**self).poll(ctx, rng)
    }
}

/// A generator backed by a closure; the closure is its whole state machine.
struct FromFn<F>(F);

impl<F> Generator for FromFn<F>
where
    F: FnMut(&Context, &mut StdRng) -> Poll + Send,
{
    fn poll(&mut self, ctx: &Context, rng: &mut StdRng) -> Poll {
        (self.0)(ctx, rng)
    }
}

/// A generator that calls `f` for every poll.
pub fn from_fn<F>(f: F) -> Box<dyn Generator>
where
    F: FnMut(&Context, &mut StdRng) -> Poll + Send + 'static,
{
    Box::new(FromFn(f))
}

/// A generator that hands out `op` forever, to every worker.
pub fn repeat(op: OpRequest) -> Box<dyn Generator> {
    from_fn(move |_, _| Poll::Op(op.clone()))
}

/// Hands out its ops in order, one per poll, to whichever worker asks; then `Done`.
struct Sequence {
    ops: std::vec::IntoIter<OpRequest>,
}

impl Generator for Sequence {
    fn poll(&mut self, _ctx: &Context, _rng: &mut StdRng) -> Poll {
        match self.ops.next() {
            Some(op) => Poll::Op(op),
            None => Poll::Done,
        }
    }
}

/// A generator that hands out `ops` in order (each op once, to whichever worker asks), then
/// answers `Done` to everyone.
pub fn sequence(ops: Vec<OpRequest>) -> Box<dyn Generator> {
    Box::new(Sequence {
        ops: ops.into_iter(),
    })
}

/// A generator that hands out one op, then answers `Done` to everyone.
pub fn once(op: OpRequest) -> Box<dyn Generator> {
    sequence(vec![op])
}

/// A generator with no ops at all.
pub fn empty() -> Box<dyn Generator> {
    from_fn(|_, _| Poll::Done)
}

/// One generator per worker, made on the worker's first poll.
struct EachWorker<F> {
    make: F,
    generators: Vec<Option<Box<dyn Generator>>>,
}

impl<F> Generator for EachWorker<F>
where
    F: FnMut(usize) -> Box<dyn Generator> + Send,
{
    fn poll(&mut self, ctx: &Context, rng: &mut StdRng) -> Poll {
        if self.generators.len() <= ctx.worker {
            self.generators
                .resize_with(ctx.worker.max(ctx.workers.saturating_sub(1)) + 1, || None);
        }
        let make = &mut self.make;
        self.generators[ctx.worker]
            .get_or_insert_with(|| make(ctx.worker))
            .poll(ctx, rng)
    }
}

/// An independent generator for each worker, made by `make(worker)` when that worker first
/// asks: e.g. `each_worker(|_| sequence(reads))` makes every worker perform every read once.
/// It is `Done` for a worker when that worker's own generator is.
pub fn each_worker<F>(make: F) -> Box<dyn Generator>
where
    F: FnMut(usize) -> Box<dyn Generator> + Send + 'static,
{
    Box::new(EachWorker {
        make,
        generators: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::testkit::{read, Sim};
    use serde_json::json;

    #[test]
    fn sequence_hands_each_op_once_then_done_to_all() {
        let mut sim = Sim::new(2, 1);
        let g = sequence(vec![read(0), read(1), read(2)]);
        let log = sim.run(g, Duration::from_millis(10));
        let keys: Vec<_> = log.iter().map(|e| e.op.key.clone().unwrap()).collect();
        assert_eq!(keys, vec![json!(0), json!(1), json!(2)]);
        // Both workers took ops and both ended.
        assert!(log.iter().any(|e| e.worker == 0));
        assert!(log.iter().any(|e| e.worker == 1));
        assert_eq!(sim.finished, vec![true, true]);
    }

    #[test]
    fn each_worker_gives_every_worker_its_own_sequence() {
        let mut sim = Sim::new(3, 1);
        let g = each_worker(|w| sequence(vec![read(w as u64 * 10), read(w as u64 * 10 + 1)]));
        let log = sim.run(g, Duration::from_millis(10));
        for w in 0..3 {
            let keys: Vec<_> = log
                .iter()
                .filter(|e| e.worker == w)
                .map(|e| e.op.key.clone().unwrap())
                .collect();
            assert_eq!(keys, vec![json!(w * 10), json!(w * 10 + 1)]);
        }
        assert_eq!(log.len(), 6);
    }

    #[test]
    fn repeat_and_from_fn_never_end_by_themselves() {
        let mut sim = Sim::new(1, 1);
        let log = sim.run_for(repeat(read(7)), Duration::from_millis(1), 50);
        assert_eq!(log.len(), 50);
        let mut n = 0u64;
        let g = from_fn(move |_, _| {
            n += 1;
            Poll::Op(read(n))
        });
        let log = sim.run_for(g, Duration::from_millis(1), 5);
        let keys: Vec<_> = log.iter().map(|e| e.op.key.clone().unwrap()).collect();
        assert_eq!(keys, vec![json!(1), json!(2), json!(3), json!(4), json!(5)]);
    }

    #[test]
    fn empty_and_once() {
        let mut sim = Sim::new(2, 1);
        assert!(sim.run(empty(), Duration::from_millis(1)).is_empty());
        assert_eq!(sim.run(once(read(1)), Duration::from_millis(1)).len(), 1);
    }
}
