//! Complete checking within a txn check: when to run it, and what its outcome adds to the
//! result: a cycle anomaly (explained and drawn like every other cycle) when no version
//! order avoids one, the version orders found when one does, a sentence saying which mode
//! decided ("inference", "complete (pruning)" or "complete (SAT)"), and the counts.
//!
//! This module must never search: [`super::complete`] does.

use std::time::Instant;

use serde_json::{json, Value};

use super::check::TxnOptions;
use super::complete::{self, details, label, How, Outcome, Problem, Settings, Verdict};
use super::complete_graph::{Edge, FORCED, NO_TAG};
use super::cycles::classify;
use super::decode::{Decoded, TxnId};
use super::explain::{explain_cycle, rotate, Because, Explainer, NamedEdge};
use super::findings::{text, Findings};
use super::graph::{Graph, Label, WW};
use super::lattice::{prohibited_anomalies, Anomaly, ConsistencyModel};
use super::rw_register::RegisterIndex;

/// What complete checking adds to the result.
#[derive(Debug)]
pub(super) struct Completed {
    /// `inference`, `complete (pruning)` or `complete (SAT)`.
    pub decided_by: &'static str,
    pub reason: Option<String>,
    pub details: Value,
}

/// Run complete checking when the inference found nothing the models forbid, and record
/// what it found: a cycle in `findings`; when it proves validity, the cycle searches left
/// `undecided` no longer matter.
#[allow(clippy::too_many_arguments)]
pub(super) fn complete_check(
    d: &Decoded<'_>,
    index: &RegisterIndex<'_>,
    graph: &Graph,
    models: &[ConsistencyModel],
    options: &TxnOptions,
    deadline: Option<Instant>,
    findings: &mut Findings,
    undecided: &mut Vec<(Anomaly, usize)>,
) -> Completed {
    let inference = |reason: Option<String>, skipped: &str| Completed {
        decided_by: "inference",
        reason,
        details: json!({ "skipped": skipped }),
    };
    let prohibited = prohibited_anomalies(models);
    if findings.types().iter().any(|a| prohibited.contains(a)) {
        return inference(None, "the inference already found what the models forbid");
    }
    if options.complete_pairs == 0 {
        return inference(
            Some(
                "complete checking is off: the verdict rests on the inferred version orders".into(),
            ),
            "off",
        );
    }
    let settings = Settings {
        max_pairs: options.complete_pairs,
        deadline,
        closure_bytes: options.memory_limit_bytes.map_or(1 << 30, |m| m / 4),
    };
    let outcome = complete::run(d, index, graph, models, &settings);
    let witness = outcome.witness(d, index, options.cases_per_anomaly);
    let mut details = details(&outcome, witness);
    let plan = outcome.plan.map_or("", |p| p.name());
    let counts = |o: &Outcome| {
        format!(
            "{} unresolved write pairs ({} forced by pruning, {} left to the SAT search)",
            o.pairs, o.forced, o.sat_variables
        )
    };
    let (decided_by, reason) = match &outcome.verdict {
        Verdict::Skipped(why) | Verdict::Undecided(why) => {
            details["skipped"] = json!(why);
            (
                "inference",
                format!("{why}; the verdict rests on the inferred version orders"),
            )
        }
        Verdict::Valid if outcome.pairs == 0 => (
            "inference",
            format!(
                "every key's version order was inferred (no two writes left unordered), so the \
                 inferred graph decides {plan}"
            ),
        ),
        Verdict::Valid => {
            undecided.retain(|(a, _)| !a.is_cycle());
            let by = outcome.decided_by().unwrap_or("complete");
            (
                by,
                format!(
                    "{by}: version orders for all {} leave no cycle that {plan} forbids",
                    counts(&outcome)
                ),
            )
        }
        Verdict::Invalid { cycle, how } => {
            let by = outcome.decided_by().unwrap_or("complete");
            let si = outcome
                .plan
                .is_some_and(|p| p.mode == complete::Mode::SnapshotIsolation);
            let steps: Vec<(TxnId, Label)> = cycle.iter().map(|e| (e.from, label(e, si))).collect();
            let labels: Vec<Label> = steps.iter().map(|s| s.1).collect();
            let anomaly = classify(&labels).unwrap_or(Anomaly::G0);
            let preface = match how {
                How::Forced => format!(
                    "No version order avoids a cycle: pruning forced the order of {} write pairs \
                     (the other order of each closes a cycle with what is known), and the forced \
                     orders close this one. ",
                    outcome.forced
                ),
                How::BothOrders => "No version order avoids a cycle: both orders of two writes \
                                    close one with what is known; under one of them: "
                    .to_string(),
                How::Search => format!(
                    "No version order avoids a cycle: the SAT search refuted every order of the \
                     {} open write pairs ({} cycles cut); the last cycle it cut: ",
                    outcome.sat_variables, outcome.conflicts
                ),
            };
            let explainer = CycleExplainer {
                index,
                problem: outcome.problem(),
                cycle,
                how: *how,
            };
            findings.add(anomaly, || {
                let steps = rotate(d, steps.clone());
                let mut case = explain_cycle(d, &explainer, &steps, steps.len());
                case.explanation = format!("{preface}{}", case.explanation);
                case.with("decided-by", json!(by))
            });
            (
                by,
                format!(
                    "{by}: no version order of the {} avoids a cycle that {plan} forbids \
                     ({anomaly})",
                    counts(&outcome)
                ),
            )
        }
    };
    Completed {
        decided_by,
        reason: Some(reason),
        details,
    }
}

/// Explains a cycle complete checking reports: edges resting on a choice in words of the
/// choice, known edges as the inference explains them.
pub(super) struct CycleExplainer<'a> {
    pub index: &'a RegisterIndex<'a>,
    pub problem: Option<&'a Problem>,
    pub cycle: &'a [Edge],
    pub how: How,
}

impl Explainer for CycleExplainer<'_> {
    fn explain(&self, d: &Decoded<'_>, named: &NamedEdge<'_>) -> Option<Because> {
        let NamedEdge { a, b, an, bn, .. } = *named;
        let edge = self.cycle.iter().find(|e| e.from == a && e.to == b)?;
        let (Some(problem), false) = (self.problem, edge.tag == NO_TAG) else {
            return self.index.explain(d, named);
        };
        let c = edge.tag & !FORCED;
        let pair = problem.pairs[(c / 2) as usize];
        let side = (c % 2) as usize;
        let value = |v: u32| self.index.versions[v as usize].value;
        let (first, then) = (value(pair.v[side]), value(pair.v[1 - side]));
        let k = text(d.key(pair.key));
        let why = if edge.tag & FORCED != 0 {
            "forced: the other order closes a cycle with what is known"
        } else if self.how == How::BothOrders {
            "supposing this order; the other closes a cycle too"
        } else {
            "as the complete search last chose"
        };
        let because =
            |sentence: String| Because::new(sentence, d.key(pair.key).clone(), then.clone());
        Some(if edge.kind & WW != 0 {
            because(format!(
                "{bn}'s write of {} to key {k} follows {an}'s write of {} in the version order ({why})",
                text(then),
                text(first)
            ))
        } else {
            because(format!(
                "{an}'s read of key {k} (= {}) did not see {bn}'s write of {}, which follows it in the version order ({why})",
                text(first),
                text(then)
            ))
            .with_read(first.clone())
        })
    }
}
