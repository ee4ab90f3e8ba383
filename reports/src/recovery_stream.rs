//! `recovery`'s figures for a history read as a stream of finished calls, in bounded
//! memory: a small record per key (its first invocation, which heals it has reached) and
//! per key spanning a heal (the first ok and answer seen after it, how long it was watched),
//! never the calls. The definitions are `recovery`'s; on a history whose op times never
//! decrease in file order (as faultline writes them) the figures are the same.
//!
//! Two things are only known at the end of the history: the end of the main phase, which
//! bounds the calls that count, and whether a key spans a heal. A call is counted when it
//! finishes, unless it was invoked at the latest invocation time seen so far; such calls
//! wait in a tiny buffer, because the main phase may end exactly at their invocation (which
//! excludes them). A (heal, key) record that has both figures, and that no later call can
//! improve, is settled and leaves the working set. This module must never draw or read files.

use crate::faults::FaultInterval;
use crate::recovery::{KeyRecovery, Recovery};
use crate::stats::Outcome;

/// What bounds the calls that count: the end of the main phase when it is known up front
/// (no final `heal`: the end of the history), else the final `heal`'s invocation time.
#[derive(Debug, Clone, Copy)]
enum Cut {
    Known(u64),
    Heal(u64),
}

/// One finished call as recovery needs it.
#[derive(Debug, Clone, Copy)]
struct Contribution {
    key: u32,
    start: u64,
    /// Completion time when it was an ok.
    ok_end: Option<u64>,
    /// Completion time when it was an answer (an ok, or a fail the service gave).
    answer_end: Option<u64>,
    /// Its completion (its invocation when pending), capped at the main phase's end.
    last: u64,
}

/// A key spanning one heal, while its figures may still change.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Position in [`RecoveryStream::heals`].
    heal: u32,
    ok: Option<u64>,
    answer: Option<u64>,
    watched: u64,
}

#[derive(Debug, Default)]
struct KeyState {
    first_invoked: u64,
    /// The next heal (position in the sorted heals) this key has not reached yet.
    next: u32,
    entries: Vec<Entry>,
    live: bool,
}

/// The streamed recovery of every healed fault; feed it every call in invocation order
/// ([`RecoveryStream::key`], [`RecoveryStream::invoked`]) and when it finishes
/// ([`RecoveryStream::finished`]), then [`RecoveryStream::finish`].
pub(crate) struct RecoveryStream {
    /// (heal time, interval position), healed intervals only, by heal time.
    heals: Vec<(u64, usize)>,
    intervals: usize,
    cut: Cut,
    /// For the final heal: the latest completion (capped at the heal) of a call invoked
    /// before it, and whether there was any.
    main_end: Option<u64>,
    /// The latest invocation time of a call that counts, and the finished calls invoked then.
    latest: Option<u64>,
    waiting: Vec<Contribution>,
    /// Per sorted heal: the invocation time of the first call invoked at or after it.
    first_after: Vec<Option<u64>>,
    reached: usize,
    keys: Vec<KeyState>,
    live: Vec<u32>,
    settled: Vec<Vec<KeyRecovery>>,
}

impl RecoveryStream {
    /// For these fault intervals, a history ending at `end_time` whose last `heal` was
    /// invoked at `final_heal`.
    pub(crate) fn new(intervals: &[FaultInterval], end_time: u64, final_heal: Option<u64>) -> Self {
        let mut heals: Vec<(u64, usize)> = intervals
            .iter()
            .enumerate()
            .filter(|(_, iv)| iv.healed)
            .map(|(i, iv)| (iv.end, i))
            .collect();
        heals.sort_unstable();
        RecoveryStream {
            first_after: vec![None; heals.len()],
            settled: vec![Vec::new(); heals.len()],
            heals,
            intervals: intervals.len(),
            cut: final_heal.map_or(Cut::Known(end_time), Cut::Heal),
            main_end: None,
            latest: None,
            waiting: Vec::new(),
            reached: 0,
            keys: Vec::new(),
            live: Vec::new(),
        }
    }

    /// A key's first call, invoked at `first_invoked`; keys are numbered in this order.
    pub(crate) fn key(&mut self, first_invoked: u64) {
        let next = self.heals.partition_point(|h| h.0 <= first_invoked) as u32;
        self.keys.push(KeyState {
            first_invoked,
            next,
            ..KeyState::default()
        });
    }

    /// A call invoked at `start`; whether it counts toward the main phase's end (it came
    /// before the first call invoked at or after the final heal).
    pub(crate) fn invoked(&mut self, start: u64, before_final_heal: bool) {
        while self.reached < self.heals.len() && self.heals[self.reached].0 <= start {
            self.first_after[self.reached] = Some(start);
            self.reached += 1;
        }
        if matches!(self.cut, Cut::Heal(_))
            && before_final_heal
            && self.latest.is_none_or(|l| start > l)
        {
            for c in std::mem::take(&mut self.waiting) {
                self.apply(c);
            }
            self.latest = Some(start);
        }
    }

    /// A call finished (or found pending at the end): its key, invocation, completion,
    /// outcome, whether a fail was the service's answer, and whether it was invoked before
    /// the final heal (as [`RecoveryStream::invoked`] was told).
    pub(crate) fn finished(
        &mut self,
        key: u32,
        (start, end): (u64, Option<u64>),
        outcome: Outcome,
        answered: bool,
        before_final_heal: bool,
    ) {
        let cap = match self.cut {
            Cut::Known(end) => end,
            Cut::Heal(heal) => heal,
        };
        let c = Contribution {
            key,
            start,
            ok_end: end.filter(|_| outcome == Outcome::Ok),
            answer_end: end
                .filter(|_| outcome == Outcome::Ok || (outcome == Outcome::Fail && answered)),
            last: end.unwrap_or(start).min(cap),
        };
        match self.cut {
            Cut::Known(main_end) => {
                if start < main_end {
                    self.apply(c);
                }
            }
            Cut::Heal(_) => {
                if !before_final_heal {
                    return;
                }
                self.main_end = Some(self.main_end.map_or(c.last, |m| m.max(c.last)));
                if Some(start) == self.latest {
                    self.waiting.push(c);
                } else {
                    self.apply(c);
                }
            }
        }
    }

    fn apply(&mut self, c: Contribution) {
        let heals = &self.heals;
        let k = &mut self.keys[c.key as usize];
        while (k.next as usize) < heals.len() && heals[k.next as usize].0 <= c.start {
            k.entries.push(Entry {
                heal: k.next,
                ok: None,
                answer: None,
                watched: 0,
            });
            k.next += 1;
        }
        if !k.live && !k.entries.is_empty() {
            k.live = true;
            self.live.push(c.key);
        }
        let min = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        for e in k
            .entries
            .iter_mut()
            .filter(|e| heals[e.heal as usize].0 <= c.start)
        {
            e.ok = min(e.ok, c.ok_end);
            e.answer = min(e.answer, c.answer_end);
            e.watched = e.watched.max(c.last);
        }
    }

    /// Settle every record no call invoked at or after `low` can change: both figures
    /// found, at or before `low`. `low` must be at most the invocation of every call not
    /// yet given to [`RecoveryStream::finished`].
    pub(crate) fn settle(&mut self, low: u64) {
        let low = self.waiting.iter().map(|c| c.start).fold(low, u64::min);
        let heals = &self.heals;
        let settled = &mut self.settled;
        let keys = &mut self.keys;
        self.live.retain(|&key| {
            let k = &mut keys[key as usize];
            let first_invoked = k.first_invoked;
            k.entries.retain(|e| {
                let (Some(ok), Some(answer)) = (e.ok, e.answer) else {
                    return true;
                };
                if ok.max(answer) > low {
                    return true;
                }
                let heal = heals[e.heal as usize].0;
                settled[e.heal as usize].push(KeyRecovery {
                    key,
                    first_invoked,
                    to_ok: Some(ok.saturating_sub(heal)),
                    to_answer: Some(answer.saturating_sub(heal)),
                    watched: 0,
                });
                false
            });
            k.live = !k.entries.is_empty();
            k.live
        });
    }

    /// The recovery after each interval (`None` for those never healed), once every call
    /// has finished.
    pub(crate) fn finish(mut self) -> Vec<Option<Recovery>> {
        let main_end = match self.cut {
            Cut::Known(end) => end,
            Cut::Heal(heal) => {
                let main_end = self.main_end.unwrap_or(heal);
                // A call invoked exactly at the main phase's end does not count.
                if self.latest.is_some_and(|l| main_end > l) {
                    for c in std::mem::take(&mut self.waiting) {
                        self.apply(c);
                    }
                }
                main_end
            }
        };
        let mut settled = std::mem::take(&mut self.settled);
        for (key, k) in self.keys.iter().enumerate() {
            for e in &k.entries {
                let heal = self.heals[e.heal as usize].0;
                let both = e.ok.is_some() && e.answer.is_some();
                settled[e.heal as usize].push(KeyRecovery {
                    key: key as u32,
                    first_invoked: k.first_invoked,
                    to_ok: e.ok.map(|t| t.saturating_sub(heal)),
                    to_answer: e.answer.map(|t| t.saturating_sub(heal)),
                    watched: if both {
                        0
                    } else {
                        e.watched.saturating_sub(heal)
                    },
                });
            }
        }
        let mut out: Vec<Option<Recovery>> = vec![None; self.intervals];
        for (((heal, interval), mut keys), first_after) in
            self.heals.into_iter().zip(settled).zip(self.first_after)
        {
            keys.sort_by_key(|k| (k.first_invoked, k.key));
            out[interval] = Some(Recovery {
                heal,
                main_end,
                ops_after: first_after.is_some_and(|s| s < main_end),
                keys,
            });
        }
        out
    }
}
