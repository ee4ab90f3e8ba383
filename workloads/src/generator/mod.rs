//! Generators: where the ops of a test come from, in the spirit of Jepsen's generators.
//!
//! The controller runs N workers. Each asks the shared [`Dispatcher`] for its next op,
//! invokes it, records the completion, and asks again. The dispatcher asks a [`Generator`],
//! a small state machine answering each [`Context`] with a [`Poll`]: an op, a wait, or the
//! end for that worker. Generators compose: [`mix`] and [`weighted`] choose, [`stagger`]
//! paces, [`limit`] and [`time_limit`] bound, [`phases`] sequences with a barrier,
//! [`each_worker`] gives each worker its own generator; [`from_fn`], [`repeat`],
//! [`sequence`], [`once`] and [`empty`] are the leaves.
//!
//! All randomness comes from the dispatcher's one `StdRng`, seeded by the run's `--seed`,
//! and all time from the `now` the controller passes in: a seed reproduces the schedule.
//! This module never sleeps, spawns or reads a clock.
//!
//! ```
//! use std::time::Duration;
//! use faultline_workloads::generator::{self, Dispatcher, Poll};
//! use faultline_workloads::op::OpRequest;
//! use serde_json::{json, Value};
//!
//! let read = OpRequest::new("read", Some(json!(0)), Value::Null);
//! let write = OpRequest::new("write", Some(json!(0)), json!(1));
//! // Reads and writes at random, 100 ops/s in total, for at most 3 ops.
//! let g = generator::limit(3, generator::stagger(100.0,
//!     generator::mix(vec![generator::repeat(read), generator::repeat(write)]))?);
//! let dispatcher = Dispatcher::new(g, 2, 42);
//! let mut now = Duration::ZERO;
//! let mut ops = 0;
//! loop {
//!     match dispatcher.next(0, 0, now) {
//!         Poll::Op(op) => { ops += 1; dispatcher.completed(0); }
//!         Poll::Wait(d) => now += d,
//!         Poll::Done => break,
//!     }
//! }
//! assert_eq!(ops, 3);
//! # Ok::<(), generator::GeneratorError>(())
//! ```

mod combinators;
mod core;
mod dispatcher;
mod phases;
#[cfg(test)]
pub(crate) mod testkit;

pub use self::combinators::{
    limit, mix, sleep, stagger, time_limit, until, weighted, GeneratorError, CATCH_UP,
};
pub use self::core::{
    each_worker, empty, from_fn, once, repeat, sequence, Context, Generator, Poll,
};
pub use self::dispatcher::Dispatcher;
pub use self::phases::{phases, BARRIER_WAIT};
