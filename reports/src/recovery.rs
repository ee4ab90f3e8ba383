//! Recovery after each heal: how long after a fault was healed the service answered again,
//! measured only on the keys the fault was acting on (`fault_table` shows the figures on
//! the page and in `results.json`).
//!
//! Definitions (the README's description of the faults table says the same):
//! - A key **spans** a heal when some op on it was invoked before the heal and another at
//!   or after it, before the main phase ended. A key the workload opened after the heal, or
//!   retired during the fault, says nothing about this fault and is not charged to it.
//! - **Time to first ok** on a key: from the heal (the stop's completion) to the completion
//!   of the first `ok` op invoked on it at or after the heal. **Time to first answer**: the
//!   same, where a `fail` the service gave (a cas mismatch, a rejected request) also counts;
//!   a `fail` saying the service could not be reached or could not serve (a timeout, a
//!   refused connection, "unavailable") does not.
//! - The figure of a fault is the slowest spanning key's. Only ops invoked before the end of
//!   the main phase count: the final reads come after the harness itself waited for the
//!   cluster, so they would measure that wait. A figure is therefore never longer than the
//!   time from its heal to the end of the main phase.
//!
//! This module must never draw or read files.

use crate::faults::FaultInterval;
use crate::stats::{human_ns, CallInfo, Calls, Outcome};
use faultline_checkers::history::{History, OpType, Process};

/// Words in a `fail`'s reason that say the service was out of reach or could not serve, so
/// the `fail` is no answer from it.
const UNREACHABLE: [&str; 13] = [
    "timeout",
    "timed out",
    "no answer",
    "cannot connect",
    "connection",
    "error sending",
    "unavailable",
    "unreachable",
    "no leader",
    "not leader",
    "deadline",
    "refused",
    "cannot reach",
];

/// Whether a `fail` with this reason is the service answering (a cas mismatch, a lost race,
/// a rejected request). A `fail` with no reason cannot be told apart and does not count.
pub(crate) fn is_definite_answer(reason: Option<&str>) -> bool {
    let Some(reason) = reason.map(str::to_ascii_lowercase) else {
        return false;
    };
    !reason.trim().is_empty() && !UNREACHABLE.iter().any(|w| reason.contains(w))
}

/// The end of the main phase (ns): when the last client op invoked before the final `heal`
/// completed. faultline's nemesis invokes that heal once every worker has stopped, and the
/// final reads follow it. A history with no `heal` (a crash, another tool) ends its main
/// phase with its last op.
pub(crate) fn main_phase_end(history: &History, calls: &Calls) -> u64 {
    let final_heal = history
        .ops
        .iter()
        .filter(|op| op.process == Process::Nemesis && op.kind == OpType::Invoke && op.f == "heal")
        .map(|op| op.time)
        .next_back();
    match final_heal {
        None => calls.end_time,
        Some(heal) => calls
            .calls
            .iter()
            .take_while(|c| c.start < heal)
            .map(|c| c.end.unwrap_or(c.start).min(heal))
            .max()
            .unwrap_or(heal),
    }
}

/// What one spanning key saw after a heal.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KeyRecovery {
    /// Index into [`Calls::keys`].
    pub key: u32,
    /// Invocation time of the key's first op (ns since the start).
    pub first_invoked: u64,
    /// ns from the heal to the first ok; `None` when none came in the main phase.
    pub to_ok: Option<u64>,
    /// ns from the heal to the first answer (ok or definite fail); `None` when none came.
    pub to_answer: Option<u64>,
    /// For a key missing a figure: ns from the heal to the completion of the last op invoked
    /// on it in the main phase, how long it was watched; it took longer than this (it was
    /// retired, or the main phase ended, first). 0 for a key with both figures.
    pub watched: u64,
}

/// After one heal: the keys spanning it and what each saw.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Recovery {
    /// The heal time (ns): the interval's end.
    pub heal: u64,
    /// The end of the main phase (ns), see [`main_phase_end`].
    pub main_end: u64,
    /// Whether any client op was invoked between the heal and the end of the main phase.
    pub ops_after: bool,
    /// The spanning keys, in order of their first op.
    pub keys: Vec<KeyRecovery>,
}

/// Whether a recovery has figures, and why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Measured,
    NoKeySpans,
    HealedAtTheEnd,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Measured => "measured",
            Status::NoKeySpans => "no key spans this fault",
            Status::HealedAtTheEnd => "healed at the end of the main phase",
        }
    }
}

/// Which of the two figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Figure {
    FirstOk,
    FirstAnswer,
}

impl Figure {
    fn of(self, k: &KeyRecovery) -> Option<u64> {
        match self {
            Figure::FirstOk => k.to_ok,
            Figure::FirstAnswer => k.to_answer,
        }
    }
    fn word(self) -> &'static str {
        match self {
            Figure::FirstOk => "ok",
            Figure::FirstAnswer => "answer",
        }
    }
}

impl Recovery {
    pub(crate) fn status(&self) -> Status {
        if !self.ops_after {
            Status::HealedAtTheEnd
        } else if self.keys.is_empty() {
            Status::NoKeySpans
        } else {
            Status::Measured
        }
    }

    /// The time until every spanning key had its figure; `None` when some key never did
    /// (or no key spans).
    pub(crate) fn every_key(&self, figure: Figure) -> Option<u64> {
        if self.keys.is_empty() {
            return None;
        }
        self.keys
            .iter()
            .map(|k| figure.of(k))
            .collect::<Option<Vec<u64>>>()?
            .into_iter()
            .max()
    }

    /// When some spanning key never had its figure: the longest any such key was watched,
    /// which the time until every key had it must exceed.
    pub(crate) fn at_least(&self, figure: Figure) -> Option<u64> {
        self.keys
            .iter()
            .filter(|k| figure.of(k).is_none())
            .map(|k| k.watched)
            .max()
    }

    /// How many spanning keys had their figure.
    pub(crate) fn keys_with(&self, figure: Figure) -> usize {
        self.keys.iter().filter(|k| figure.of(k).is_some()).count()
    }

    /// The key that took longest to its first ok (one that never had one first).
    pub(crate) fn slowest(&self) -> Option<&KeyRecovery> {
        self.keys.iter().max_by_key(|k| {
            (
                k.to_ok.is_none(),
                k.to_ok,
                k.to_answer.is_none(),
                k.to_answer,
            )
        })
    }

    /// The figure as the table and the plots say it.
    pub(crate) fn text(&self, figure: Figure) -> String {
        match self.status() {
            Status::Measured => {}
            other => return other.as_str().to_string(),
        }
        match self.every_key(figure) {
            Some(t) => human_ns(t),
            None => format!(
                "over {}: {} of {} keys saw no {} while in use after the heal",
                human_ns(self.at_least(figure).unwrap_or(0)),
                self.keys.len() - self.keys_with(figure),
                self.keys.len(),
                figure.word()
            ),
        }
    }
}

/// Recovery after each healed interval (`None` for intervals the history ended in).
pub(crate) fn recovery(
    history: &History,
    calls: &Calls,
    intervals: &[FaultInterval],
) -> Vec<Option<Recovery>> {
    let main_end = main_phase_end(history, calls);
    let answered = |c: &CallInfo| match c.outcome {
        Outcome::Ok => true,
        Outcome::Fail => {
            is_definite_answer(c.completion.and_then(|at| history.ops[at].error.as_deref()))
        }
        _ => false,
    };
    // Per key, its calls (positions in `calls.calls`, in invocation order); keys in order
    // of their first call.
    let mut by_key: Vec<Vec<usize>> = vec![Vec::new(); calls.keys.len()];
    for (i, c) in calls.calls.iter().enumerate() {
        by_key[c.key as usize].push(i);
    }
    // ns from the heal to the first completion among those that pass `counts`; later
    // invocations cannot complete before the best so far.
    let first_after = |positions: &[usize], heal: u64, counts: &dyn Fn(&CallInfo) -> bool| {
        let mut best: Option<u64> = None;
        for c in calls_between(calls, positions, heal, main_end) {
            if best.is_some_and(|b| c.start >= b) {
                break;
            }
            if let (true, Some(end)) = (counts(c), c.end) {
                best = Some(best.map_or(end, |b| b.min(end)));
            }
        }
        best.map(|end| end.saturating_sub(heal))
    };
    intervals
        .iter()
        .map(|iv| {
            iv.healed.then(|| {
                let heal = iv.end;
                let lo = calls.calls.partition_point(|c| c.start < heal);
                let ops_after = calls.calls.get(lo).is_some_and(|c| c.start < main_end);
                let mut keys: Vec<KeyRecovery> = Vec::new();
                for (key, positions) in by_key.iter().enumerate() {
                    let Some(&first) = positions.first() else {
                        continue;
                    };
                    let first_invoked = calls.calls[first].start;
                    if first_invoked >= heal
                        || calls_between(calls, positions, heal, main_end)
                            .next()
                            .is_none()
                    {
                        continue;
                    }
                    let to_ok = first_after(positions, heal, &|c| c.outcome == Outcome::Ok);
                    let to_answer = first_after(positions, heal, &answered);
                    // Only a key without a figure needs how long it was watched.
                    let watched = if to_ok.is_some() && to_answer.is_some() {
                        0
                    } else {
                        calls_between(calls, positions, heal, main_end)
                            .map(|c| c.end.unwrap_or(c.start).min(main_end))
                            .max()
                            .map_or(0, |last| last.saturating_sub(heal))
                    };
                    keys.push(KeyRecovery {
                        key: key as u32,
                        first_invoked,
                        to_ok,
                        to_answer,
                        watched,
                    });
                }
                keys.sort_by_key(|k| (k.first_invoked, k.key));
                Recovery {
                    heal,
                    main_end,
                    ops_after,
                    keys,
                }
            })
        })
        .collect()
}

/// The calls at `positions` (in invocation order) invoked in `[from, to)`.
fn calls_between<'a>(
    calls: &'a Calls,
    positions: &'a [usize],
    from: u64,
    to: u64,
) -> impl Iterator<Item = &'a CallInfo> + 'a {
    let first = positions.partition_point(|&i| calls.calls[i].start < from);
    positions[first..]
        .iter()
        .map(|&i| &calls.calls[i])
        .take_while(move |c| c.start < to)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use faultline_checkers::history::Op;
    use serde_json::{json, Value};

    const MS: u64 = 1_000_000;

    /// One client call on `key` by process `p`, invoked at `t0` ms and completed at `t1` ms
    /// as `kind` (with `error`, if any).
    fn call(p: u64, key: u64, t0: u64, t1: u64, kind: OpType, error: Option<&str>) -> [Op; 2] {
        let invoke = Op::new(Process::Client(p), OpType::Invoke, "read", Value::Null)
            .with_key(json!(key))
            .at(t0 * MS);
        let done = Op {
            error: error.map(str::to_string),
            ..Op::new(Process::Client(p), kind, "read", Value::Null)
                .with_key(json!(key))
                .at(t1 * MS)
        };
        [invoke, done]
    }

    pub(crate) fn ok(p: u64, key: u64, t0: u64, t1: u64) -> [Op; 2] {
        call(p, key, t0, t1, OpType::Ok, None)
    }

    pub(crate) fn fail(p: u64, key: u64, t0: u64, t1: u64, why: &str) -> [Op; 2] {
        call(p, key, t0, t1, OpType::Fail, Some(why))
    }

    /// A nemesis op pair `f` from `t0` to `t1` ms.
    pub(crate) fn nemesis(f: &str, t0: u64, t1: u64) -> [Op; 2] {
        [
            Op::new(Process::Nemesis, OpType::Invoke, f, Value::Null).at(t0 * MS),
            Op::new(Process::Nemesis, OpType::Info, f, Value::Null).at(t1 * MS),
        ]
    }

    /// A history of these op pairs, in time order (stable: an invoke stays before its
    /// completion at the same instant).
    /// A kill healed by its stop, with one key failing then ok again after it, then a
    /// pause the final heal ends: the faults table's and `results.json`'s example.
    pub(crate) fn kill_then_pause() -> History {
        history(vec![
            ok(0, 7, 0, 10),
            nemesis("start-kill", 100, 101),
            fail(0, 7, 120, 190, "cas mismatch"),
            nemesis("stop-kill", 199, 200),
            fail(0, 7, 200, 220, "cas mismatch"),
            ok(0, 7, 220, 260),
            ok(1, 8, 230, 240),
            nemesis("start-pause", 300, 301),
            nemesis("heal", 400, 401),
        ])
    }

    pub(crate) fn history(pairs: Vec<[Op; 2]>) -> History {
        let mut ops: Vec<Op> = pairs.into_iter().flatten().collect();
        ops.sort_by_key(|op| op.time);
        History::from_ops(ops)
    }

    fn recoveries(h: &History) -> (Calls, Vec<Option<Recovery>>) {
        let calls = Calls::from_history(h);
        let intervals = crate::faults::fault_intervals(h);
        let r = recovery(h, &calls, &intervals);
        (calls, r)
    }

    /// The recovery from the first fault of `h`, and the names of the keys spanning it.
    fn first_recovery(h: &History) -> (Recovery, Vec<String>) {
        let (calls, r) = recoveries(h);
        let r = r
            .into_iter()
            .next()
            .flatten()
            .expect("the first fault was healed");
        let names = r
            .keys
            .iter()
            .map(|k| calls.keys[k.key as usize].clone())
            .collect();
        (r, names)
    }

    #[test]
    fn a_key_opened_after_the_heal_is_not_charged_to_it() {
        // Kill from 100 to 200 ms. Key 1 spans it; key 2 opens 5 s later and is slow.
        let h = history(vec![
            ok(0, 1, 50, 60),
            nemesis("start-kill", 100, 101),
            fail(0, 1, 120, 190, "cannot connect to n1: connection refused"),
            nemesis("stop-kill", 199, 200),
            ok(0, 1, 210, 240),
            fail(1, 2, 5_000, 5_100, "unavailable: no leader known"),
            ok(1, 2, 5_100, 9_000),
            nemesis("heal", 10_000, 10_001),
        ]);
        let (r, keys) = first_recovery(&h);
        assert_eq!(keys, vec!["1"]);
        assert_eq!(r.status(), Status::Measured);
        assert_eq!(r.every_key(Figure::FirstOk), Some(40 * MS));
        assert_eq!(r.text(Figure::FirstOk), "40.0 ms");
    }

    #[test]
    fn a_key_retired_during_the_fault_is_not_charged_and_one_opened_in_it_is() {
        // Key 1 is retired during the pause; key 2 opens during it and goes on after.
        let h = history(vec![
            ok(0, 1, 0, 10),
            nemesis("start-pause", 100, 101),
            ok(0, 1, 110, 120),
            ok(0, 2, 150, 160),
            nemesis("stop-pause", 299, 300),
            fail(0, 2, 310, 330, "cas mismatch"),
            ok(0, 2, 330, 390),
            nemesis("heal", 1_000, 1_001),
        ]);
        let (r, keys) = first_recovery(&h);
        assert_eq!(keys, vec!["2"]);
        assert_eq!(r.keys[0].first_invoked, 150 * MS);
        assert_eq!(r.every_key(Figure::FirstOk), Some(90 * MS));
        // The cas mismatch is the service answering.
        assert_eq!(r.every_key(Figure::FirstAnswer), Some(30 * MS));
    }

    #[test]
    fn a_fault_no_key_spans_says_so_rather_than_give_a_number() {
        let h = history(vec![
            ok(0, 1, 0, 10),
            nemesis("start-kill", 100, 101),
            ok(0, 1, 110, 120),
            nemesis("stop-kill", 299, 300),
            ok(0, 2, 400, 900),
            nemesis("heal", 1_000, 1_001),
        ]);
        let (r, _) = first_recovery(&h);
        assert_eq!(r.status(), Status::NoKeySpans);
        assert!(r.keys.is_empty());
        assert_eq!(r.every_key(Figure::FirstOk), None);
        assert_eq!(r.text(Figure::FirstOk), "no key spans this fault");
        assert_eq!(r.text(Figure::FirstAnswer), "no key spans this fault");
    }

    #[test]
    fn with_three_fixed_keys_every_key_spans_and_the_slowest_sets_the_figure() {
        // --keys 3: keys 0, 1, 2 all the run. Partition 1 000 to 2 000 ms.
        let mut pairs = vec![
            ok(0, 0, 0, 10),
            ok(1, 1, 0, 10),
            ok(2, 2, 0, 10),
            nemesis("start-partition", 1_000, 1_001),
            fail(0, 0, 1_100, 1_200, "no answer from n3 within 1s"),
            fail(1, 1, 1_100, 1_200, "unavailable: no leader known"),
            nemesis("stop-partition", 1_999, 2_000),
            // Key 0: a timeout, then an ok 500 ms after the heal.
            fail(0, 0, 2_000, 2_300, "no answer from n3 within 1s"),
            ok(0, 0, 2_300, 2_500),
            // Key 1: a lost race at +50 ms, ok at +120 ms.
            fail(1, 1, 2_010, 2_050, "lost a race 3 time(s)"),
            ok(1, 1, 2_050, 2_120),
            // Key 2: ok at +30 ms.
            ok(2, 2, 2_010, 2_030),
        ];
        pairs.push(nemesis("heal", 5_000, 5_001));
        let h = history(pairs);
        let (r, keys) = first_recovery(&h);
        assert_eq!(keys, vec!["0", "1", "2"]);
        let slowest = r
            .keys
            .iter()
            .position(|k| k.key == r.slowest().unwrap().key);
        assert_eq!(keys[slowest.unwrap()], "0");
        assert_eq!(r.every_key(Figure::FirstOk), Some(500 * MS));
        // Key 0 only answered with its ok: the timeout is no answer.
        assert_eq!(r.every_key(Figure::FirstAnswer), Some(500 * MS));
        assert_eq!(r.keys[1].to_answer, Some(50 * MS));
        assert_eq!(r.keys[1].to_ok, Some(120 * MS));
    }

    #[test]
    fn a_key_never_ok_again_gives_no_figure_longer_than_the_main_phase() {
        // The main phase ends when the last op before the final heal completes (3 000 ms);
        // the final reads after it (ok at once) do not count.
        let h = history(vec![
            ok(0, 0, 0, 10),
            ok(1, 1, 0, 10),
            nemesis("start-kill", 1_000, 1_001),
            nemesis("stop-kill", 1_999, 2_000),
            ok(0, 0, 2_000, 2_100),
            fail(1, 1, 2_000, 3_000, "no answer from n2 within 1s"),
            nemesis("start-pause", 2_900, 2_901),
            nemesis("heal", 3_100, 3_200),
            ok(0, 0, 4_000, 4_001),
            ok(1, 1, 4_000, 4_001),
        ]);
        let (calls, r) = recoveries(&h);
        assert_eq!(main_phase_end(&h, &calls), 3_000 * MS);
        let kill = r[0].as_ref().unwrap();
        assert_eq!(kill.main_end - kill.heal, 1_000 * MS);
        assert_eq!(kill.every_key(Figure::FirstOk), None);
        assert_eq!(kill.keys_with(Figure::FirstOk), 1);
        assert_eq!(kill.at_least(Figure::FirstOk), Some(1_000 * MS));
        assert_eq!(
            kill.text(Figure::FirstOk),
            "over 1.00 s: 1 of 2 keys saw no ok while in use after the heal"
        );
        assert_eq!(calls.keys[kill.slowest().unwrap().key as usize], "1");
        // The pause was healed by the final heal: nothing followed it in the main phase.
        let pause = r[1].as_ref().unwrap();
        assert_eq!(pause.status(), Status::HealedAtTheEnd);
        assert_eq!(
            pause.text(Figure::FirstOk),
            "healed at the end of the main phase"
        );
    }

    #[test]
    fn a_key_retired_before_it_recovered_bounds_the_figure_from_below() {
        // Key 1 spans the heal at 200 ms but is retired 300 ms later with no ok; the main
        // phase goes on for seconds on key 2.
        let h = history(vec![
            ok(0, 1, 50, 60),
            nemesis("start-pause", 100, 101),
            nemesis("stop-pause", 199, 200),
            fail(0, 1, 210, 250, "unavailable: no leader known"),
            fail(0, 1, 450, 500, "unavailable: no leader known"),
            ok(0, 2, 900, 950),
            ok(0, 2, 5_000, 5_010),
            nemesis("heal", 6_000, 6_001),
        ]);
        let (r, _) = first_recovery(&h);
        assert_eq!(r.keys.len(), 1);
        assert_eq!(r.keys[0].watched, 300 * MS);
        assert_eq!(r.every_key(Figure::FirstOk), None);
        assert_eq!(r.at_least(Figure::FirstOk), Some(300 * MS));
        assert_eq!(
            r.text(Figure::FirstAnswer),
            "over 300.0 ms: 1 of 1 keys saw no answer while in use after the heal"
        );
    }

    #[test]
    fn only_fails_the_service_gave_are_answers() {
        for reason in [
            "cas mismatch",
            "lost a race 3 time(s): a key changed between the read and the commit",
            "rejected (400): bad key",
            "wrong last sequence: 12",
        ] {
            assert!(is_definite_answer(Some(reason)), "{reason}");
        }
        for reason in [
            "no answer from n3 within 1s",
            "cannot connect to n2: error sending request for url",
            "unavailable: no leader known",
            "unavailable: not leader (leader: None)",
            "request timed out",
            "connection refused",
            "context deadline exceeded",
            "",
        ] {
            assert!(!is_definite_answer(Some(reason)), "{reason}");
        }
        assert!(!is_definite_answer(None));
    }
}
