//! Fault schedules: which nemeses a run enables (`--nemesis kill,pause`) and the loop that
//! drives them (Jepsen's start/stop cycle): wait about `--nemesis-interval`, start one enabled
//! fault chosen with the seeded rng, wait, stop it, and so on until told to stop; then heal
//! everything and return.
//!
//! Every request is reported to the caller as a [`NemesisEvent`]: `Invoke` just before acting,
//! `Complete` with the [`Outcome`] just after, so the controller can write them into the
//! history under process `nemesis` (an invoke and an `info` completion, as Jepsen does). This
//! module must never know about histories or workloads.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! # use async_trait::async_trait;
//! # use faultline_nemeses::control::{ControlError, ProcessControl};
//! use faultline_nemeses::ledger::Ledger;
//! use faultline_nemeses::schedule::{build_nemeses, parse_nemeses, NemesisEvent, Schedule};
//! # struct Local;
//! # #[async_trait]
//! # impl ProcessControl for Local {
//! #     fn nodes(&self) -> Vec<String> { vec!["n1".into(), "n2".into(), "n3".into()] }
//! #     async fn kill(&self, _: &str) -> Result<(), ControlError> { Ok(()) }
//! #     async fn start(&self, _: &str) -> Result<(), ControlError> { Ok(()) }
//! #     async fn pause(&self, _: &str) -> Result<(), ControlError> { Ok(()) }
//! #     async fn resume(&self, _: &str) -> Result<(), ControlError> { Ok(()) }
//! #     async fn leader(&self) -> Option<String> { None }
//! # }
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let kinds = parse_nemeses("kill,pause").unwrap();
//! let control: Arc<dyn ProcessControl> = Arc::new(Local); // the controller's target
//! let nemeses = build_nemeses(&kinds, control, Arc::new(Ledger::in_memory()));
//! let schedule = Schedule::new(nemeses, Duration::from_millis(20), 42).unwrap();
//!
//! let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
//! let (stop, stopped) = tokio::sync::watch::channel(false);
//! let running = tokio::spawn(schedule.run(events, stopped));
//! tokio::time::sleep(Duration::from_millis(100)).await; // the test's time limit
//! stop.send(true).unwrap();
//! let heal = running.await.unwrap();
//! assert!(heal.iter().all(|o| o.is_applied()));
//! while let Some(event) = received.recv().await {
//!     match event {
//!         NemesisEvent::Invoke { f, value, .. } => { /* history: nemesis invoke f value */ }
//!         NemesisEvent::Complete { f, outcome, .. } => { /* history: nemesis info f outcome */ }
//!     }
//! }
//! # });
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::watch;

use crate::control::ProcessControl;
use crate::explicit::{self, ScheduledFault, Step};
use crate::ledger::Ledger;
use crate::nemesis::{FaultRequest, Nemesis, Outcome};
use crate::process::ProcessNemesis;

/// The default of `--nemesis-interval`.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

/// A nemesis `--nemesis` can enable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NemesisKind {
    /// SIGKILL the system's process on some nodes, later restart it.
    Kill,
    /// SIGSTOP the system's process on some nodes, later SIGCONT it.
    Pause,
    /// Cut the network between groups of nodes, later heal it.
    Partition,
    /// Skew or strobe a node's clock, later reset it.
    Clock,
    /// Slow, lossy, duplicating or reordering links (`tc netem`), later restore them.
    Netem,
    /// Flip bits of a node's data file (the node stopped first, then restarted).
    Bitflip,
    /// Cut bytes off the end of a node's data file (stopped first, then restarted).
    Truncate,
    /// Remove a member from the cluster through the system's API, later add it back.
    Membership,
    /// Kill nodes, drop the writes they did not fsync, restart them (lazyfs).
    LoseUnfsynced,
}

impl NemesisKind {
    /// Every nemesis available now, in the order `--help` lists them.
    pub const ALL: [NemesisKind; 9] = [
        NemesisKind::Kill,
        NemesisKind::Pause,
        NemesisKind::Partition,
        NemesisKind::Clock,
        NemesisKind::Netem,
        NemesisKind::Bitflip,
        NemesisKind::Truncate,
        NemesisKind::Membership,
        NemesisKind::LoseUnfsynced,
    ];

    /// The name given to `--nemesis`.
    pub fn name(self) -> &'static str {
        match self {
            NemesisKind::Kill => "kill",
            NemesisKind::Pause => "pause",
            NemesisKind::Partition => "partition",
            NemesisKind::Clock => "clock",
            NemesisKind::Netem => "netem",
            NemesisKind::Bitflip => "bitflip",
            NemesisKind::Truncate => "truncate",
            NemesisKind::Membership => "membership",
            NemesisKind::LoseUnfsynced => "lose-unfsynced",
        }
    }

    /// The process nemesis itself, acting through `process` and recording into `ledger`;
    /// `None` for nemeses that need more than process control (partition, clock, netem,
    /// membership: build them from [`crate::partition`], [`crate::clock`], [`crate::netem`],
    /// [`crate::membership`]).
    pub fn build(
        self,
        process: Arc<dyn ProcessControl>,
        ledger: Arc<Ledger>,
    ) -> Option<Arc<dyn Nemesis>> {
        match self {
            NemesisKind::Kill => Some(Arc::new(ProcessNemesis::kill(process, ledger))),
            NemesisKind::Pause => Some(Arc::new(ProcessNemesis::pause(process, ledger))),
            NemesisKind::Partition
            | NemesisKind::Clock
            | NemesisKind::Netem
            | NemesisKind::Bitflip
            | NemesisKind::Truncate
            | NemesisKind::Membership
            | NemesisKind::LoseUnfsynced => None,
        }
    }
}

/// A bad nemesis option: what is wrong and what to give instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NemesisError {
    /// A name that is no nemesis.
    #[error("unknown nemesis {name:?}; known: {known}, or none")]
    Unknown {
        /// The name given.
        name: String,
        /// What could be given instead.
        known: String,
    },
    /// A nemesis that is planned but not built yet.
    #[error("the {name} nemesis is not available yet; available now: {available}, or none")]
    NotAvailable {
        /// The name given.
        name: String,
        /// The nemeses available now.
        available: String,
    },
    /// An empty name in the list (`kill,,pause`, or nothing at all).
    #[error(
        "empty nemesis name in {spec:?}; give a comma separated list such as kill,pause, or none"
    )]
    Empty {
        /// The whole option.
        spec: String,
    },
    /// `none` together with real nemeses.
    #[error("{spec:?} combines none with other nemeses; give either none or a list")]
    NoneWithOthers {
        /// The whole option.
        spec: String,
    },
    /// An interval of zero.
    #[error("the nemesis interval must be greater than zero")]
    ZeroInterval,
    /// A nemesis a schedule cannot cycle: it has no `start-X` with a matching `stop-X`.
    #[error("the {name} nemesis has no start-/stop- pair of functions (it has {fs}), so a schedule cannot cycle it")]
    NoStartStop {
        /// The nemesis.
        name: String,
        /// Its functions.
        fs: String,
    },
}

/// Read `--nemesis`: a comma separated list of nemesis names, or `none` for no faults.
pub fn parse_nemeses(spec: &str) -> Result<Vec<NemesisKind>, NemesisError> {
    let spec_trimmed = spec.trim();
    if spec_trimmed == "none" {
        return Ok(Vec::new());
    }
    let mut kinds = Vec::new();
    for name in spec_trimmed.split(',').map(str::trim) {
        if name.is_empty() {
            return Err(NemesisError::Empty {
                spec: spec.to_string(),
            });
        }
        if name == "none" {
            return Err(NemesisError::NoneWithOthers {
                spec: spec.to_string(),
            });
        }
        let available = || {
            NemesisKind::ALL
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some(kind) = NemesisKind::ALL.into_iter().find(|k| k.name() == name) else {
            return Err(NemesisError::Unknown {
                name: name.to_string(),
                known: available(),
            });
        };
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    Ok(kinds)
}

/// The process nemeses among `kinds`, sharing one `ledger` (the others are skipped: see
/// [`NemesisKind::build`]).
pub fn build_nemeses(
    kinds: &[NemesisKind],
    process: Arc<dyn ProcessControl>,
    ledger: Arc<Ledger>,
) -> Vec<Arc<dyn Nemesis>> {
    kinds
        .iter()
        .filter_map(|k| k.build(process.clone(), ledger.clone()))
        .collect()
}

/// Heal every nemesis in turn and gather what each undid (Ctrl-C, a worker's panic, the end
/// of a run that had no schedule).
pub async fn heal_all(nemeses: &[Arc<dyn Nemesis>]) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for nemesis in nemeses {
        outcomes.extend(nemesis.heal().await);
    }
    outcomes
}

/// One step of a schedule, for the history (process `nemesis`).
#[derive(Debug, Clone, PartialEq)]
pub enum NemesisEvent {
    /// About to request `f` with `value`.
    Invoke {
        /// The fault function (`start-kill`, `stop-kill`, ..., or `heal`).
        f: String,
        /// The request's value (`null`: the nemesis chooses its target).
        value: Value,
        /// When the request was made.
        at: Instant,
    },
    /// The request for `f` finished with `outcome`.
    Complete {
        /// The fault function.
        f: String,
        /// The request's value, as in the invoke.
        value: Value,
        /// What came of it; [`Outcome::to_value`] gives the value to record.
        outcome: Outcome,
        /// When the request finished.
        at: Instant,
    },
}

impl NemesisEvent {
    /// The fault function of this event.
    pub fn f(&self) -> &str {
        match self {
            NemesisEvent::Invoke { f, .. } | NemesisEvent::Complete { f, .. } => f,
        }
    }
}

/// One start/stop pair a schedule can cycle.
struct Cycle {
    nemesis: Arc<dyn Nemesis>,
    start: String,
    stop: String,
}

/// Which requests a schedule makes.
enum Plan {
    /// `--nemesis`: a random start/stop pair at a time, about `interval` apart.
    Cycles {
        cycles: Vec<Cycle>,
        interval: Duration,
    },
    /// `--nemesis-schedule`: exactly these requests at their offsets.
    Steps(Vec<Step>),
}

/// The enabled nemeses, the requests to make of them and the seed of every random choice.
pub struct Schedule {
    nemeses: Vec<Arc<dyn Nemesis>>,
    plan: Plan,
    seed: u64,
}

impl Schedule {
    /// A schedule cycling every start/stop pair of `nemeses` (none: it only waits), waiting
    /// about `interval` (between half and one and a half of it) before each request.
    pub fn new(
        nemeses: Vec<Arc<dyn Nemesis>>,
        interval: Duration,
        seed: u64,
    ) -> Result<Self, NemesisError> {
        if interval.is_zero() {
            return Err(NemesisError::ZeroInterval);
        }
        let mut cycles = Vec::new();
        for nemesis in &nemeses {
            let fs = nemesis.fs();
            let before = cycles.len();
            for start in fs.iter().filter(|f| f.starts_with("start-")) {
                let stop = format!("stop-{}", &start["start-".len()..]);
                if fs.contains(&stop) {
                    cycles.push(Cycle {
                        nemesis: nemesis.clone(),
                        start: start.clone(),
                        stop,
                    });
                }
            }
            if cycles.len() == before {
                return Err(NemesisError::NoStartStop {
                    name: nemesis.name().to_string(),
                    fs: fs.join(", "),
                });
            }
        }
        Ok(Schedule {
            nemeses,
            plan: Plan::Cycles { cycles, interval },
            seed,
        })
    }

    /// The schedule of `faults` (`--nemesis-schedule`), each acted out by the nemesis in
    /// `nemeses` whose name is its `fault`; errs naming a fault no nemesis is given for.
    pub fn explicit(
        nemeses: Vec<Arc<dyn Nemesis>>,
        faults: &[ScheduledFault],
        seed: u64,
    ) -> Result<Self, String> {
        let steps = explicit::steps(&nemeses, faults)?;
        Ok(Schedule {
            nemeses,
            plan: Plan::Steps(steps),
            seed,
        })
    }

    /// Make requests until `stop` holds `true` (or its sender is dropped): cycle faults, then
    /// stop the fault in effect; or make an explicit schedule's requests due by then. Then
    /// heal every nemesis, and return what the heal undid. Reports every request to
    /// `events` (a dropped receiver does not stop the schedule: faults must still be undone).
    ///
    /// Signal `stop` rather than aborting the task: an aborted schedule may leave a fault
    /// applied, which only [`heal_all`] (or `faultline heal`) then undoes.
    pub async fn run(
        self,
        events: UnboundedSender<NemesisEvent>,
        mut stop: watch::Receiver<bool>,
    ) -> Vec<Outcome> {
        let mut rng = StdRng::seed_from_u64(self.seed);
        match &self.plan {
            Plan::Cycles { cycles, .. } if cycles.is_empty() => {
                stopped(&mut stop).await;
                return Vec::new();
            }
            Plan::Cycles { cycles, interval } => {
                cycle(cycles, *interval, &events, &mut stop, &mut rng).await
            }
            Plan::Steps(steps) => {
                explicit::act_out(steps, &events, &mut stop, &mut rng).await;
                stopped(&mut stop).await;
            }
        }
        heal_reported(&events, &self.nemeses).await
    }
}

/// Start and stop a random one of `cycles` (not empty) at a time, about `interval` apart,
/// until told to stop; the fault in effect then is stopped.
async fn cycle(
    cycles: &[Cycle],
    interval: Duration,
    events: &UnboundedSender<NemesisEvent>,
    stop: &mut watch::Receiver<bool>,
    rng: &mut StdRng,
) {
    // Sleep about one interval; `false` when told to stop first.
    async fn wait(interval: Duration, rng: &mut StdRng, stop: &mut watch::Receiver<bool>) -> bool {
        let pause = interval.mul_f64(rng.random_range(0.5..1.5));
        sleep_unless_stopped(pause, stop).await
    }
    while wait(interval, rng, stop).await {
        let cycle = cycles.choose(rng).expect("cycles is not empty");
        let nemesis = cycle.nemesis.as_ref();
        request(events, nemesis, &cycle.start, Value::Null, rng).await;
        let go_on = wait(interval, rng, stop).await;
        request(events, nemesis, &cycle.stop, Value::Null, rng).await;
        if !go_on {
            break;
        }
    }
}

/// Sleep `pause`; `false` when told to stop first (or already told). Both schedules wait
/// through this, so a stop cuts any wait short the same way.
pub(crate) async fn sleep_unless_stopped(
    pause: Duration,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(pause) => !*stop.borrow(),
        _ = stopped(stop) => false,
    }
}

/// Request `f` from `nemesis` with `value` (`null`: the nemesis picks its target with
/// `rng`), reporting the invoke and the completion.
pub(crate) async fn request(
    events: &UnboundedSender<NemesisEvent>,
    nemesis: &dyn Nemesis,
    f: &str,
    value: Value,
    rng: &mut StdRng,
) {
    let request = FaultRequest::new(f, value);
    send(
        events,
        NemesisEvent::Invoke {
            f: request.f.clone(),
            value: request.value.clone(),
            at: Instant::now(),
        },
    );
    let outcome = nemesis.invoke(&request, rng).await;
    tracing::info!(
        nemesis = nemesis.name(),
        f,
        ?outcome,
        "nemesis request done"
    );
    send(
        events,
        NemesisEvent::Complete {
            f: request.f,
            value: request.value,
            outcome,
            at: Instant::now(),
        },
    );
}

/// Heal every nemesis, reported as one `heal` request; what the heal undid.
pub(crate) async fn heal_reported(
    events: &UnboundedSender<NemesisEvent>,
    nemeses: &[Arc<dyn Nemesis>],
) -> Vec<Outcome> {
    send(
        events,
        NemesisEvent::Invoke {
            f: "heal".to_string(),
            value: Value::Null,
            at: Instant::now(),
        },
    );
    let outcomes = heal_all(nemeses).await;
    send(
        events,
        NemesisEvent::Complete {
            f: "heal".to_string(),
            value: Value::Null,
            outcome: merge(&outcomes),
            at: Instant::now(),
        },
    );
    outcomes
}

fn send(events: &UnboundedSender<NemesisEvent>, event: NemesisEvent) {
    // The receiver may be gone (the controller is shutting down); healing goes on anyway.
    let _ = events.send(event);
}

/// Returns once `stop` holds `true` or its sender is gone.
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    loop {
        if *stop.borrow_and_update() {
            return;
        }
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// One outcome for the whole heal: the undone faults, or why some are still in effect.
fn merge(outcomes: &[Outcome]) -> Outcome {
    let problems: Vec<&str> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Applied(_) => None,
            Outcome::Skipped(why) | Outcome::Indeterminate(why) => Some(why.as_str()),
        })
        .collect();
    if problems.is_empty() {
        Outcome::Applied(json!(outcomes
            .iter()
            .map(Outcome::to_value)
            .collect::<Vec<_>>()))
    } else {
        Outcome::Indeterminate(problems.join("; "))
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
