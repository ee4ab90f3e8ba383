//! Combinators that shape other generators: choice ([`mix`], [`weighted`]), pacing
//! ([`stagger`], [`sleep`]) and bounds ([`limit`], [`time_limit`]).
//!
//! They only transform polls; none of them sleeps, reads a clock or knows what an op means.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng;

use super::{Context, Generator, Poll};

/// Errors building a generator from bad parameters.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GeneratorError {
    /// A rate that is not a positive number.
    #[error("rate {0} is not a positive number of ops per second (try e.g. 100)")]
    InvalidRate(f64),
}

/// Chooses a child at random, by weight, on every poll.
struct Weighted {
    children: Vec<(u32, Box<dyn Generator>)>,
    /// `done[child][worker]`: the child answered `Done` to that worker.
    done: Vec<Vec<bool>>,
}

impl Weighted {
    fn is_done(&self, child: usize, worker: usize) -> bool {
        self.done[child].get(worker).copied().unwrap_or(false)
    }

    fn pick(&self, worker: usize, rng: &mut StdRng) -> Option<usize> {
        let live = |i: &usize| !self.is_done(*i, worker);
        let total: u64 = (0..self.children.len())
            .filter(live)
            .map(|i| u64::from(self.children[i].0))
            .sum();
        if total == 0 {
            return None;
        }
        let mut x = rng.random_range(0..total);
        for i in (0..self.children.len()).filter(live) {
            let w = u64::from(self.children[i].0);
            if x < w {
                return Some(i);
            }
            x -= w;
        }
        None
    }
}

impl Generator for Weighted {
    fn poll(&mut self, ctx: &Context, rng: &mut StdRng) -> Poll {
        while let Some(i) = self.pick(ctx.worker, rng) {
            match self.children[i].1.poll(ctx, rng) {
                Poll::Done => {
                    let done = &mut self.done[i];
                    if done.len() <= ctx.worker {
                        done.resize(ctx.worker.max(ctx.workers.saturating_sub(1)) + 1, false);
                    }
                    done[ctx.worker] = true;
                }
                other => return other,
            }
        }
        Poll::Done
    }
}

/// On every poll, one of `children` chosen uniformly at random answers (as Jepsen's `mix`).
/// A child that answers `Done` to a worker is not asked again for that worker; the mix is
/// `Done` for a worker once all its children are. A child's `Wait` is passed on as is.
pub fn mix(children: Vec<Box<dyn Generator>>) -> Box<dyn Generator> {
    weighted(children.into_iter().map(|g| (1, g)).collect())
}

/// Like [`mix`], with child `i` chosen with probability `weight_i / sum of weights`.
/// Children of weight 0 are never asked; with no positive weight the result is `Done`.
pub fn weighted(children: Vec<(u32, Box<dyn Generator>)>) -> Box<dyn Generator> {
    let done = vec![Vec::new(); children.len()];
    Box::new(Weighted { children, done })
}

/// How far behind its schedule [`stagger`] may fall and still catch up: several timer
/// ticks (tokio's timers have millisecond resolution), so that at most this long's worth of
/// ops is handed out in a burst after a stall.
pub const CATCH_UP: Duration = Duration::from_millis(10);

/// Spaces ops out to a total rate across all workers.
struct Stagger {
    /// The mean gap between two ops, in nanoseconds (0: no pacing).
    mean: u64,
    /// When the next op may be handed out.
    next: Option<Duration>,
    inner: Box<dyn Generator>,
}

impl Generator for Stagger {
    fn poll(&mut self, ctx: &Context, rng: &mut StdRng) -> Poll {
        let next = *self.next.get_or_insert(ctx.time);
        if ctx.time < next {
            return Poll::Wait(next - ctx.time);
        }
        let poll = self.inner.poll(ctx, rng);
        if let Poll::Op(_) = poll {
            if self.mean > 0 {
                let gap = Duration::from_nanos(rng.random_range(0..2 * self.mean));
                // Late by up to CATCH_UP (or one mean gap, if longer): keep the schedule, so
                // that coarse timers and wake-up latency do not lower the rate. Later than
                // that (a stall): restart from now rather than burst.
                let slack = CATCH_UP.max(Duration::from_nanos(self.mean));
                let base = next.max(ctx.time.saturating_sub(slack));
                self.next = Some(base + gap);
            }
        }
        poll
    }
}

/// Paces `inner` to `rate_hz` ops per second in total, across all workers: the gaps between
/// ops are uniformly random in `[0, 2/rate)` seconds (as Jepsen's `stagger`), and a worker
/// asking early is told to [`Wait`](Poll::Wait) until its turn. The rate is a ceiling: when
/// the workers fall behind by more than [`CATCH_UP`] (or one mean gap, if longer) the
/// schedule restarts from now rather than catching up in a burst. `f64::INFINITY` means no
/// pacing.
pub fn stagger(
    rate_hz: f64,
    inner: impl Generator + 'static,
) -> Result<Box<dyn Generator>, GeneratorError> {
    if rate_hz.is_nan() || rate_hz <= 0.0 {
        return Err(GeneratorError::InvalidRate(rate_hz));
    }
    // At least 1 ns: rates above 1e9/s are indistinguishable from no pacing.
    let mean = if rate_hz.is_infinite() || rate_hz >= 1e9 {
        0
    } else {
        (1e9 / rate_hz).round().max(1.0) as u64
    };
    Ok(Box::new(Stagger {
        mean,
        next: None,
        inner: Box::new(inner),
    }))
}

/// At most `n` ops in total.
struct Limit {
    remaining: u64,
    inner: Box<dyn Generator>,
}

impl Generator for Limit {
    fn poll(&mut self, ctx: &Context, rng: &mut StdRng) -> Poll {
        if self.remaining == 0 {
            return Poll::Done;
        }
        let poll = self.inner.poll(ctx, rng);
        if let Poll::Op(_) = poll {
            self.remaining -= 1;
        }
        poll
    }
}

/// Hands out at most `n` ops of `inner` in total (across all workers), then `Done` to all.
pub fn limit(n: u64, inner: impl Generator + 'static) -> Box<dyn Generator> {
    Box::new(Limit {
        remaining: n,
        inner: Box::new(inner),
    })
}

/// Ends `inner` once a duration has passed since the first poll.
struct TimeLimit {
    limit: Duration,
    deadline: Option<Duration>,
    inner: Box<dyn Generator>,
}

impl Generator for TimeLimit {
    fn poll(&mut self, ctx: &Context, rng: &mut StdRng) -> Poll {
        let deadline = *self
            .deadline
            .get_or_insert_with(|| ctx.time.saturating_add(self.limit));
        if ctx.time >= deadline {
            return Poll::Done;
        }
        match self.inner.poll(ctx, rng) {
            Poll::Wait(d) => Poll::Wait(d.min(deadline - ctx.time)),
            other => other,
        }
    }
}

/// `inner`, until `limit` has passed since this generator was first polled; then `Done` to
/// every worker. A wait from `inner` is shortened so that workers learn of the end on time.
pub fn time_limit(limit: Duration, inner: impl Generator + 'static) -> Box<dyn Generator> {
    Box::new(TimeLimit {
        limit,
        deadline: None,
        inner: Box::new(inner),
    })
}

/// Ends `inner` once a flag is raised.
struct Until {
    stop: Arc<AtomicBool>,
    inner: Box<dyn Generator>,
}

impl Generator for Until {
    fn poll(&mut self, ctx: &Context, rng: &mut StdRng) -> Poll {
        if self.stop.load(Ordering::Relaxed) {
            return Poll::Done;
        }
        self.inner.poll(ctx, rng)
    }
}

/// `inner`, until `stop` is raised (e.g. by a checker that proved an anomaly while the
/// test runs); then `Done` to every worker. Workers see the flag at their next poll.
pub fn until(stop: Arc<AtomicBool>, inner: impl Generator + 'static) -> Box<dyn Generator> {
    Box::new(Until {
        stop,
        inner: Box::new(inner),
    })
}

/// No ops for a while.
struct Sleep {
    length: Duration,
    until: Option<Duration>,
}

impl Generator for Sleep {
    fn poll(&mut self, ctx: &Context, _rng: &mut StdRng) -> Poll {
        let until = *self
            .until
            .get_or_insert_with(|| ctx.time.saturating_add(self.length));
        if ctx.time >= until {
            Poll::Done
        } else {
            Poll::Wait(until - ctx.time)
        }
    }
}

/// No ops: workers wait until `length` has passed since the first poll, then `Done`.
/// Useful as a phase (e.g. a pause between two phases).
pub fn sleep(length: Duration) -> Box<dyn Generator> {
    Box::new(Sleep {
        length,
        until: None,
    })
}

#[cfg(test)]
#[path = "combinators_tests.rs"]
mod tests;
