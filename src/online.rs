//! Online checking: while a test runs, the run's checkers follow the history as it is
//! recorded and note when an anomaly first became provable; with `--stop-on-anomaly` the
//! main phase then ends at once (the nemesis heals and the run checks and reports as usual).
//!
//! Checking a prefix of the history is sound: an op still in flight counts as one whose
//! outcome is unknown, which may take effect or not, so a prefix that cannot be linearized
//! (or holds a dependency cycle) stays so however the history goes on. Every few seconds
//! the checker looks at what is new, with a short budget: an `unknown` on a prefix only
//! means "not yet".
//!
//! Each look costs what is new, not the whole run ([`Watch::ByKey`]): linearizability is
//! checked key by key, so a look checks again only the keys with new ops, and a key the
//! workload has retired whose ops have all completed is checked a last time and forgotten.
//! With the register workload's independent keys the checker thus holds a few keys at a
//! time, however long the run. Checkers that need the whole history (transactional and
//! classic ones, [`Watch::Whole`]) check all of it each look, which costs more as the run
//! goes on: after a look that took `t` of CPU the next waits at least `10 t`, and past
//! [`HELD_LIMIT`] ops the online checker stops and leaves the verdict to the final check.
//! Every look runs on one thread, whose CPU time is measured ([`OnlineStats`]).
//!
//! This module must never decide the run's verdict (the full check at the end does) nor
//! slow the workers: it reads the ops the recorder already wrote, on one core at most.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use faultline_checkers::checker::{check_all, Checker, Validity};
use faultline_checkers::history::{History, Op, OpType, Process};
use faultline_checkers::selection::Selection;
use faultline_workloads::Workload;
use serde::Serialize;

use crate::recorder::Feed;

/// How often the history is looked at, at the most.
const EVERY: Duration = Duration::from_secs(2);
/// After a look that took `t` of CPU, the next waits at least `BACKOFF × t`: the online
/// checker takes a tenth of a core at most.
const BACKOFF: u32 = 10;
/// Ops the online checker holds at most (a few hundred bytes each). Past it, it stops:
/// the final check, which reads the history from its file, decides.
pub const HELD_LIMIT: usize = 400_000;

/// When an anomaly first became provable while the test ran.
#[derive(Debug, Clone, Serialize)]
pub struct FirstAnomaly {
    /// Seconds since the main phase began.
    pub at_secs: f64,
    /// How many history lines the check had seen.
    pub ops: u64,
    /// The checker that proved it.
    pub checker: String,
    /// Its first reason.
    pub reason: String,
    /// Whether the main phase was ended for it (`--stop-on-anomaly`).
    pub stopped_the_run: bool,
}

/// What the online checker did, for `results.json` and the benchmarks.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OnlineStats {
    /// `by-key` or `whole`.
    pub mode: &'static str,
    /// Looks that checked something.
    pub looks: u64,
    /// History lines followed.
    pub ops: u64,
    /// Keys checked a last time and forgotten (by key only).
    pub keys_settled: u64,
    /// The most ops held at once.
    pub held_peak: usize,
    /// CPU seconds spent checking.
    pub cpu_secs: f64,
    /// Microseconds of CPU per history line followed.
    pub cpu_per_op_us: f64,
    /// Why it stopped before the end of the main phase, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// How a run's history is followed.
pub enum Watch {
    /// Key by key (linearizability partitioned by key); `workload` says which keys are
    /// retired.
    ByKey {
        checker: Box<dyn Checker>,
        workload: Arc<dyn Workload>,
    },
    /// The whole history each look.
    Whole(Vec<Box<dyn Checker>>),
}

impl Watch {
    /// How the checkers of `selection` (built with the online budget) can follow a run of
    /// `workload`; `None` when one of them cannot judge a prefix (Jepsen's `set-full`).
    pub fn of(selection: Selection, workload: Arc<dyn Workload>) -> Option<Watch> {
        if let Selection::Linearizable(checker) = &selection {
            if checker.options().partition {
                return Some(Watch::ByKey {
                    checker: Box::new(checker.clone()),
                    workload,
                });
            }
        }
        let checkers = selection.into_checkers();
        checkers
            .iter()
            .all(|c| c.prefix_closed())
            .then_some(Watch::Whole(checkers))
    }
}

/// The online checker's thread.
pub struct Online {
    done: Arc<AtomicBool>,
    found: Arc<Mutex<Option<FirstAnomaly>>>,
    stats: Arc<Mutex<OnlineStats>>,
    handle: JoinHandle<()>,
}

impl Online {
    /// Follow `feed` with `watch` from `start`; when an anomaly is proven and
    /// `stop_on_anomaly`, raise `stop` (the main generator's end).
    pub fn start(
        feed: Feed,
        watch: Watch,
        stop_on_anomaly: bool,
        stop: Arc<AtomicBool>,
        start: Instant,
    ) -> std::io::Result<Online> {
        let done = Arc::new(AtomicBool::new(false));
        let found = Arc::new(Mutex::new(None));
        let stats = Arc::new(Mutex::new(OnlineStats::default()));
        let (thread_done, thread_found, thread_stats) =
            (done.clone(), found.clone(), stats.clone());
        // Every look on one thread: the workers keep the other cores, and the thread's CPU
        // clock measures the whole cost.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(|_| "faultline-online-check".into())
            .build()
            .map_err(std::io::Error::other)?;
        let handle = std::thread::Builder::new()
            .name("faultline-online".into())
            .spawn(move || {
                let mut follower = Follower::new(watch);
                let mut wait = EVERY;
                while sleep_unless(&thread_done, wait) {
                    let new = feed.take();
                    if new.is_empty() {
                        continue;
                    }
                    let step = follower.absorb(new);
                    let Some(history) = (match step {
                        Ok(history) => history,
                        Err(why) => {
                            follower.stats.stopped = Some(why);
                            break;
                        }
                    }) else {
                        continue;
                    };
                    let (cpu, (valid, results)) = pool.install(|| {
                        let before = thread_cpu();
                        let checked = check_all(follower.checkers(), &history);
                        (thread_cpu().saturating_sub(before), checked)
                    });
                    drop(history);
                    follower.checked(cpu);
                    if let Ok(mut shared) = thread_stats.lock() {
                        *shared = follower.stats.clone();
                    }
                    wait = EVERY.max(cpu * BACKOFF);
                    if valid != Validity::Invalid {
                        continue;
                    }
                    let first = results.iter().find(|r| r.valid == Validity::Invalid);
                    let anomaly = FirstAnomaly {
                        at_secs: start.elapsed().as_secs_f64(),
                        ops: follower.stats.ops,
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
                    break;
                }
                feed.close();
                if let Some(why) = &follower.stats.stopped {
                    tracing::info!("online checking stopped: {why}");
                }
                if let Ok(mut shared) = thread_stats.lock() {
                    *shared = follower.stats.clone();
                }
            })?;
        Ok(Online {
            done,
            found,
            stats,
            handle,
        })
    }

    /// Stop following the history; the first anomaly found, if any, and what it cost.
    pub fn finish(self) -> (Option<FirstAnomaly>, OnlineStats) {
        self.done.store(true, Ordering::Relaxed);
        let _ = self.handle.join();
        let found = self.found.lock().ok().and_then(|mut slot| slot.take());
        let stats = self.stats.lock().map(|s| s.clone()).unwrap_or_default();
        (found, stats)
    }
}

/// The CPU time of the calling thread.
fn thread_cpu() -> Duration {
    use nix::time::{clock_gettime, ClockId};
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).map_or(Duration::ZERO, Duration::from)
}

/// One key's ops so far.
#[derive(Default)]
struct KeyOps {
    ops: Vec<Op>,
    /// Invocations without a completion yet.
    open: usize,
    /// New ops since the key was last checked.
    dirty: bool,
}

/// What the online checker holds between looks.
struct Follower {
    watch: Watch,
    /// By key: each key still followed.
    keys: HashMap<String, KeyOps>,
    /// By key: keys checked a last time; a late op on one (an invocation the generator
    /// handed out just before retiring it) is left to the final check.
    settled: HashSet<String>,
    /// Whole: the history so far.
    history: History,
    held: usize,
    stats: OnlineStats,
}

impl Follower {
    fn new(watch: Watch) -> Follower {
        let mode = match watch {
            Watch::ByKey { .. } => "by-key",
            Watch::Whole(_) => "whole",
        };
        Follower {
            watch,
            keys: HashMap::new(),
            settled: HashSet::new(),
            history: History::default(),
            held: 0,
            stats: OnlineStats {
                mode,
                ..OnlineStats::default()
            },
        }
    }

    fn checkers(&self) -> &[Box<dyn Checker>] {
        match &self.watch {
            Watch::ByKey { checker, .. } => std::slice::from_ref(checker),
            Watch::Whole(checkers) => checkers,
        }
    }

    /// Take in new ops; what to check now (`None`: nothing), or why to stop following.
    fn absorb(&mut self, new: Vec<Op>) -> Result<Option<History>, String> {
        self.stats.ops += new.len() as u64;
        let held_before = self.held;
        if let Watch::Whole(_) = self.watch {
            self.held += new.len();
            self.history.ops.extend(new);
        } else {
            for op in new {
                if op.process == Process::Nemesis {
                    continue;
                }
                let Some(key) = op.key.as_ref().map(|k| k.to_string()) else {
                    return Err(
                        "a client op has no key, so the run cannot be checked key by \
                                key as it goes"
                            .to_string(),
                    );
                };
                if self.settled.contains(&key) {
                    continue;
                }
                let entry = self.keys.entry(key).or_default();
                if op.kind == OpType::Invoke {
                    entry.open += 1;
                } else {
                    entry.open = entry.open.saturating_sub(1);
                }
                entry.dirty = true;
                entry.ops.push(op);
                self.held += 1;
            }
        }
        self.stats.held_peak = self.stats.held_peak.max(self.held);
        if self.held > HELD_LIMIT {
            return Err(format!(
                "it held {} ops, more than its limit of {HELD_LIMIT}; the final check decides",
                self.held
            ));
        }
        if self.held == held_before {
            return Ok(None);
        }
        Ok(Some(match &self.watch {
            Watch::Whole(_) => self.history.clone(),
            Watch::ByKey { .. } => History {
                ops: self
                    .keys
                    .values()
                    .filter(|k| k.dirty)
                    .flat_map(|k| k.ops.iter().cloned())
                    .collect(),
                warnings: Vec::new(),
            },
        }))
    }

    /// After a look: every key is checked up to date, and retired keys with nothing in
    /// flight are settled.
    fn checked(&mut self, cpu: Duration) {
        self.stats.looks += 1;
        self.stats.cpu_secs += cpu.as_secs_f64();
        self.stats.cpu_per_op_us = self.stats.cpu_secs * 1e6 / self.stats.ops.max(1) as f64;
        let Watch::ByKey { workload, .. } = &self.watch else {
            return;
        };
        let mut done = Vec::new();
        for (key, ops) in &mut self.keys {
            ops.dirty = false;
            let retired = ops.open == 0
                && ops
                    .ops
                    .first()
                    .and_then(|op| op.key.as_ref())
                    .is_some_and(|k| workload.is_retired(k));
            if retired {
                done.push(key.clone());
            }
        }
        for key in done {
            if let Some(ops) = self.keys.remove(&key) {
                self.held -= ops.ops.len();
            }
            self.settled.insert(key);
            self.stats.keys_settled += 1;
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checkers::linearizable::Linearizable;
    use serde_json::{json, Value};

    /// A workload whose keys below `retired_below` are retired.
    struct Retiring(std::sync::atomic::AtomicU64);

    impl Workload for Retiring {
        fn name(&self) -> &str {
            "retiring"
        }
        fn generator(&self) -> Box<dyn faultline_workloads::generator::Generator> {
            unreachable!("not generated from")
        }
        fn final_generator(&self) -> Option<Box<dyn faultline_workloads::generator::Generator>> {
            None
        }
        fn model(&self) -> &str {
            "cas-register"
        }
        fn initial(&self) -> Option<Value> {
            Some(Value::Null)
        }
        fn is_retired(&self, key: &Value) -> bool {
            key.as_u64()
                .is_some_and(|k| k < self.0.load(Ordering::Relaxed))
        }
    }

    fn op(process: u64, kind: OpType, f: &str, key: u64, value: Value) -> Op {
        Op::new(Process::Client(process), kind, f, value).with_key(json!(key))
    }

    /// A write then a read of it on `key`, by `process`; `seen` is what the read returns.
    fn write_read(process: u64, key: u64, value: u64, seen: u64) -> Vec<Op> {
        vec![
            op(process, OpType::Invoke, "write", key, json!(value)),
            op(process, OpType::Ok, "write", key, json!(value)),
            op(process, OpType::Invoke, "read", key, Value::Null),
            op(process, OpType::Ok, "read", key, json!(seen)),
        ]
    }

    fn by_key(workload: Arc<Retiring>) -> Follower {
        let checker = Linearizable::new("cas-register", Some(Value::Null)).unwrap();
        Follower::new(Watch::ByKey {
            checker: Box::new(checker),
            workload,
        })
    }

    /// Only keys with new ops are checked again; a retired key with nothing in flight is
    /// settled and forgotten; a late op on it is left alone.
    #[test]
    fn a_look_checks_what_is_new_and_settles_retired_keys() {
        let workload = Arc::new(Retiring(0.into()));
        let mut follower = by_key(workload.clone());
        let mut first = write_read(0, 0, 1, 1);
        first.extend(write_read(1, 1, 2, 2));
        first.push(op(2, OpType::Invoke, "read", 2, Value::Null));
        let look = follower.absorb(first).unwrap().unwrap();
        assert_eq!(look.len(), 9);
        workload.0.store(3, Ordering::Relaxed);
        follower.checked(Duration::ZERO);
        // Keys 0 and 1 are done; key 2 still has a read in flight.
        assert_eq!(follower.stats.keys_settled, 2);
        assert_eq!(follower.held, 1);
        let look = follower
            .absorb(vec![op(2, OpType::Ok, "read", 2, Value::Null)])
            .unwrap()
            .unwrap();
        assert_eq!(look.len(), 2, "only key 2 is looked at again");
        follower.checked(Duration::ZERO);
        assert_eq!(follower.held, 0);
        assert_eq!(follower.stats.keys_settled, 3);
        assert!(follower.absorb(write_read(5, 0, 9, 9)).unwrap().is_none());
        assert_eq!(follower.stats.ops, 14);
    }

    /// A stale read on a key is found by a look, as the final check would find it.
    #[test]
    fn a_look_finds_an_anomaly_on_a_key() {
        let mut follower = by_key(Arc::new(Retiring(0.into())));
        let mut ops = write_read(0, 0, 1, 1);
        ops.extend(write_read(0, 0, 2, 1));
        let look = follower.absorb(ops).unwrap().unwrap();
        let (valid, _) = check_all(follower.checkers(), &look);
        assert_eq!(valid, Validity::Invalid);
    }

    /// Past its limit the follower stops, saying why.
    #[test]
    fn holding_too_much_stops_following() {
        let mut follower = by_key(Arc::new(Retiring(0.into())));
        let ops: Vec<Op> = (0..HELD_LIMIT as u64 / 4 + 1)
            .flat_map(|i| write_read(i, i, i + 1, i + 1))
            .collect();
        let why = follower.absorb(ops).unwrap_err();
        assert!(why.contains("limit"), "{why}");
    }
}
