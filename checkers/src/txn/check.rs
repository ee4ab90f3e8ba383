//! The txn checkers: options, the pipeline from a history to a verdict, and the
//! [`Checker`] implementations `elle-list-append` and `elle-rw-register`.
//!
//! The pipeline: decode the txns; let the analysis of the history's kind find the local
//! anomalies and the data dependencies; add process and real-time edges when a model asked
//! for needs them; group the edges into one graph; find its strongly connected components;
//! search each (in parallel) for cycles; explain them; and judge the anomalies against the
//! models asked for. `invalid` when an anomaly those models forbid was found; `unknown`
//! when none was but a search the verdict depends on ran out of budget (named in the
//! reasons), or when no txn committed; `valid` otherwise.
//!
//! This module must never read files or print: it returns a [`CheckResult`].

use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde_json::{json, Map, Value};

use super::append_index::AppendIndex;
use super::complete_report::{complete_check, Completed};
use super::cycles::{search_component, Budget};
use super::decode::{decode, Decoded, Status, TxnId, TxnKind};
use super::error::TxnError;
use super::explain::{explain_cycle, rotate, Explainer};
use super::findings::Findings;
use super::graph::{
    components, Label, ReverseBuilder, DATA, MAX_VERTICES, PROCESS, REALTIME, SESSION_RW,
};
use super::lattice::{boundary, prohibited_anomalies, Anomaly, ConsistencyModel, OrderEdges};
use super::list_append;
use super::orders::{ProcessOrder, RealTime};
use super::rw_register;
use super::versions::VersionOrders;
use crate::checker::{CheckResult, Checker, Validity};
use crate::history::History;

/// How a txn check runs.
#[derive(Debug, Clone, PartialEq)]
pub struct TxnOptions {
    /// The models the history must satisfy (all of them); default `strict-serializable`.
    pub consistency_models: Vec<ConsistencyModel>,
    /// Give up with `unknown` for what is undecided after this long (`None` = never).
    pub timeout: Option<Duration>,
    /// Give up with `unknown` when the graph would need more bytes than this.
    pub memory_limit_bytes: Option<u64>,
    /// How many cases of each anomaly type to keep in the details (all are counted).
    pub cases_per_anomaly: usize,
    /// How many (txn, state) visits one anomaly's search of one component may make.
    pub visits_per_search: u64,
    /// rw-register: where version orders come from besides the initial state: Elle's
    /// `--wfr-keys`, `--sequential-keys` and `--linearizable-keys`. Whatever they say, when
    /// the models forbid G0-process each session's own writes order its versions too.
    pub version_orders: VersionOrders,
    /// rw-register, when the models ask for serializability or snapshot isolation (or
    /// stronger): decide completely, over every version order the inference left open,
    /// when at most this many pairs of writes are unordered (see `complete`); beyond it,
    /// or at 0, the inference's verdict stands and says so.
    pub complete_pairs: usize,
}

/// The default bound on unresolved write pairs for complete checking.
pub const COMPLETE_PAIRS: usize = 500_000;

impl Default for TxnOptions {
    /// Strict serializability, 60 s, 2 GiB, 8 cases per anomaly, 20 million visits per
    /// search, writes-follow-reads version orders, complete checking up to
    /// [`COMPLETE_PAIRS`] unresolved write pairs.
    fn default() -> Self {
        TxnOptions {
            consistency_models: vec![ConsistencyModel::STRICT_SERIALIZABLE],
            timeout: Some(Duration::from_secs(60)),
            memory_limit_bytes: Some(2 << 30),
            cases_per_anomaly: 8,
            visits_per_search: 20_000_000,
            version_orders: VersionOrders::default(),
            complete_pairs: COMPLETE_PAIRS,
        }
    }
}

/// A [`Checker`] for one [`TxnKind`], named by [`name_of`]: its options, `new`, and the
/// checker role.
macro_rules! txn_checker {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default)]
        pub struct $name {
            /// How it runs.
            pub options: TxnOptions,
        }

        impl $name {
            /// A checker with `options`.
            pub fn new(options: TxnOptions) -> $name {
                $name { options }
            }
        }

        impl Checker for $name {
            fn name(&self) -> &str {
                name_of($kind)
            }

            fn check(&self, history: &History) -> CheckResult {
                CheckResult::or_uncheckable(self.name(), check($kind, history, &self.options))
            }
        }
    };
}

txn_checker!(
    /// Elle's list-append analysis as a [`Checker`] named `elle-list-append`.
    ListAppend,
    TxnKind::ListAppend
);

txn_checker!(
    /// Elle's rw-register analysis as a [`Checker`] named `elle-rw-register`.
    RwRegister,
    TxnKind::RwRegister
);

/// The checker for histories of `kind`.
pub fn checker(kind: TxnKind, options: TxnOptions) -> Box<dyn Checker> {
    match kind {
        TxnKind::ListAppend => Box::new(ListAppend::new(options)),
        TxnKind::RwRegister => Box::new(RwRegister::new(options)),
    }
}

/// The checker name for `kind`.
fn name_of(kind: TxnKind) -> &'static str {
    match kind {
        TxnKind::ListAppend => "elle-list-append",
        TxnKind::RwRegister => "elle-rw-register",
    }
}

/// Check `history` as a `kind` history. Malformed input is an `Err` naming the op; what
/// the system under test did wrong is in the result.
pub fn check(
    kind: TxnKind,
    history: &History,
    options: &TxnOptions,
) -> Result<CheckResult, TxnError> {
    let started = Instant::now();
    let deadline = options.timeout.map(|t| started + t);
    let mut phases = Phases::new();
    let d = decode(history, kind)?;
    phases.lap("decode");
    let mut findings = Findings::new(options.cases_per_anomaly);
    let models = if options.consistency_models.is_empty() {
        vec![ConsistencyModel::STRICT_SERIALIZABLE]
    } else {
        options.consistency_models.clone()
    };
    let orders = ConsistencyModel::needs(&models);
    let analysis: Box<dyn Analysis + '_> = match kind {
        TxnKind::ListAppend => Box::new(list_append::analyze(&d, &mut findings)?),
        TxnKind::RwRegister => Box::new(rw_register::analyze(
            &d,
            options.version_orders,
            // A session's own writes order its versions whenever G0-process is forbidden.
            prohibited_anomalies(&models).contains(&Anomaly::G0_PROCESS),
            &mut findings,
        )?),
    };
    phases.lap("analyze");
    let mut report = Report {
        kind,
        models: &models,
        d: &d,
        started,
        graph: Map::new(),
        phases: Map::new(),
        undecided: Vec::new(),
        complete: None,
    };
    if d.txns.len() > MAX_VERTICES {
        return Ok(report.unknown(
            &findings,
            format!(
                "{} txns are more than one graph holds ({MAX_VERTICES})",
                d.txns.len()
            ),
        ));
    }
    let n = d.txns.len();
    let mut builder = ReverseBuilder::new(n, d.mops.len() * 2 + n * 4);
    let mut process = ProcessOrder::default();
    let mut realtime = (orders >= OrderEdges::Realtime).then(|| RealTime::new(&d));
    for t in 0..n as TxnId {
        analysis.edges_into(&d, t, &mut builder);
        if orders >= OrderEdges::Process {
            process.edges_into(&d, t, &mut builder);
        }
        if let Some(realtime) = &mut realtime {
            realtime.edges_into(&d, t, &mut builder);
        }
        builder.next_vertex();
    }
    drop(realtime);
    // The graph is built backwards (see `ReverseBuilder`): cycles come out reversed.
    let graph = builder.finish();
    phases.lap("graph");
    let needed = (graph.bytes() + analysis.bytes() + d.txns.len() * 32 + d.mops.len() * 16) as u64;
    if let Some(limit) = options.memory_limit_bytes {
        if needed > limit {
            return Ok(report.unknown(
                &findings,
                format!(
                    "the dependency graph of {} txns and {} edges needs about {} MiB, over the \
                     memory budget of {} MiB; cycles were not searched",
                    n,
                    graph.edge_count(),
                    needed >> 20,
                    limit >> 20
                ),
            ));
        }
    }
    let all =
        DATA | if orders >= OrderEdges::Process {
            PROCESS | SESSION_RW
        } else {
            0
        } | if orders >= OrderEdges::Realtime {
            REALTIME
        } else {
            0
        };
    let sccs = components(&graph, all).nontrivial();
    phases.lap("components");
    report
        .graph
        .insert("vertices".into(), json!(graph.vertices()));
    report
        .graph
        .insert("edges".into(), json!(graph.edge_count()));
    report
        .graph
        .insert("cyclic-components".into(), json!(sccs.len()));
    report.graph.insert(
        "largest-component".into(),
        json!(sccs.iter().map(Vec::len).max().unwrap_or(0)),
    );
    report
        .graph
        .insert("bytes".into(), json!(graph.bytes() + analysis.bytes()));
    let budget = Budget {
        deadline,
        visits_per_search: options.visits_per_search,
    };
    let results: Vec<_> = sccs
        .par_iter()
        .map(|members| search_component(&graph, members, orders, &budget))
        .collect();
    for (members, result) in sccs.iter().zip(results) {
        for (anomaly, cycle) in result.cycles {
            let cycle = rotate(&d, forwards(cycle));
            findings.add(anomaly, || {
                explain_cycle(&d, analysis.explainer(), &cycle, members.len())
            });
        }
        for anomaly in result.undecided {
            report.undecided.push((anomaly, members.len()));
        }
    }
    phases.lap("cycles");
    if let Some(index) = analysis.register() {
        report.complete = Some(complete_check(
            &d,
            index,
            &graph,
            &models,
            options,
            deadline,
            &mut findings,
            &mut report.undecided,
        ));
        phases.lap("complete");
    }
    report.phases = phases.seconds;
    Ok(report.finish(&findings))
}

/// Seconds spent in each phase of a check, for the details.
struct Phases {
    last: Instant,
    seconds: Map<String, Value>,
}

impl Phases {
    fn new() -> Phases {
        Phases {
            last: Instant::now(),
            seconds: Map::new(),
        }
    }

    fn lap(&mut self, phase: &str) {
        let now = Instant::now();
        let took = now.duration_since(self.last).as_secs_f64();
        self.seconds.insert(phase.into(), json!(took));
        self.last = now;
    }
}

/// A cycle of the reversed graph, `(vertex, label of its edge to the next)`, turned
/// forwards: the edge `x[i] → x[i+1]` of the reversed graph is `x[i+1] → x[i]`.
fn forwards(reversed: Vec<(TxnId, Label)>) -> Vec<(TxnId, Label)> {
    let n = reversed.len();
    (0..n)
        .rev()
        .map(|i| (reversed[(i + 1) % n].0, reversed[i].1))
        .collect()
}

/// What an analysis of one kind offers the pipeline.
trait Analysis: Sync {
    /// Push the ww, wr and rw edges into txn `t`.
    fn edges_into(&self, d: &Decoded<'_>, t: TxnId, into: &mut ReverseBuilder);
    /// Explain the data edges it added.
    fn explainer(&self) -> &dyn Explainer;
    /// About how many bytes it holds.
    fn bytes(&self) -> usize;
    /// The rw-register index, for complete checking.
    fn register(&self) -> Option<&rw_register::RegisterIndex<'_>> {
        None
    }
}

impl Analysis for AppendIndex<'_> {
    fn edges_into(&self, d: &Decoded<'_>, t: TxnId, into: &mut ReverseBuilder) {
        AppendIndex::edges_into(self, d, t, into)
    }
    fn explainer(&self) -> &dyn Explainer {
        self
    }
    fn bytes(&self) -> usize {
        AppendIndex::bytes(self)
    }
}

impl Analysis for rw_register::RegisterIndex<'_> {
    fn edges_into(&self, d: &Decoded<'_>, t: TxnId, into: &mut ReverseBuilder) {
        rw_register::RegisterIndex::edges_into(self, d, t, into)
    }
    fn explainer(&self) -> &dyn Explainer {
        self
    }
    fn bytes(&self) -> usize {
        rw_register::RegisterIndex::bytes(self)
    }
    fn register(&self) -> Option<&rw_register::RegisterIndex<'_>> {
        Some(self)
    }
}

/// Builds the result from what the pipeline found.
struct Report<'a, 'h> {
    kind: TxnKind,
    models: &'a [ConsistencyModel],
    d: &'a Decoded<'h>,
    started: Instant,
    graph: Map<String, Value>,
    phases: Map<String, Value>,
    /// Anomalies whose search ran out of budget, with the size of the component.
    undecided: Vec<(Anomaly, usize)>,
    /// rw-register: what complete checking said.
    complete: Option<Completed>,
}

impl Report<'_, '_> {
    fn counts(&self) -> Value {
        let count = |s: Status| self.d.txns.iter().filter(|t| t.status == s).count();
        json!({"ok": count(Status::Ok), "info": count(Status::Info), "fail": count(Status::Fail), "other-ops": self.d.other_ops})
    }

    /// A result that could not search for cycles at all.
    fn unknown(&mut self, findings: &Findings, why: String) -> CheckResult {
        let mut result = self.finish(findings);
        if result.valid == Validity::Valid {
            result.valid = Validity::Unknown;
        }
        result.reasons.push(why.clone());
        if let Value::Object(details) = &mut result.details {
            details.insert(
                "undecided".into(),
                json!([{"anomaly": "every cycle", "why": why}]),
            );
        }
        result
    }

    fn finish(&mut self, findings: &Findings) -> CheckResult {
        let prohibited = prohibited_anomalies(self.models);
        let found = findings.types();
        let (bad, allowed): (Vec<Anomaly>, Vec<Anomaly>) =
            found.iter().partition(|a| prohibited.contains(a));
        let implied = super::lattice::implied_by(&found);
        let undecided: Vec<(Anomaly, usize)> = self
            .undecided
            .iter()
            .filter(|(a, _)| prohibited.contains(a) && !implied.contains(a))
            .copied()
            .collect();
        let committed = self.d.txns.iter().any(|t| t.status == Status::Ok);
        let valid = if !bad.is_empty() {
            Validity::Invalid
        } else if !undecided.is_empty() || !committed {
            Validity::Unknown
        } else {
            Validity::Valid
        };
        let limits = boundary(&found);
        let mut anomalies = Map::new();
        let mut counts = Map::new();
        for (anomaly, cases) in &findings.by_type {
            anomalies.insert(
                anomaly.name().into(),
                Value::Array(cases.kept.iter().map(|c| c.to_json(*anomaly)).collect()),
            );
            counts.insert(anomaly.name().into(), json!(cases.count));
        }
        let mut reasons = Vec::new();
        let names = |list: &[Anomaly]| {
            let named: Vec<String> = list
                .iter()
                .map(|a| format!("{a} ({})", findings.by_type[a].count))
                .collect();
            match named.split_last() {
                Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
                _ => named.join(""),
            }
        };
        if !bad.is_empty() {
            let asked: Vec<&str> = self.models.iter().map(|m| m.name()).collect();
            let not: Vec<&str> = limits.not.iter().map(|m| m.name()).collect();
            reasons.push(format!(
                "found {}, which {} {}: the history is not {}, nor any stronger model",
                names(&bad),
                asked.join(" and "),
                if asked.len() > 1 { "forbid" } else { "forbids" },
                not.join(" or ")
            ));
            for anomaly in &bad {
                if let Some(case) = findings.by_type[anomaly].kept.first() {
                    reasons.push(format!("{anomaly}: {}", case.explanation));
                }
            }
        }
        if !allowed.is_empty() {
            reasons.push(format!(
                "also found, which the models asked for allow: {}",
                names(&allowed)
            ));
        }
        for (anomaly, size) in &undecided {
            reasons.push(format!(
                "undecided: the search for {anomaly} in a cycle of {size} txns ran out of its budget"
            ));
        }
        if !committed {
            reasons.push("no txn committed, so there was nothing to check".into());
        }
        if let Some(complete) = &self.complete {
            if let Some(reason) = &complete.reason {
                reasons.push(reason.clone());
            }
        }
        let mut details = json!({
            "kind": self.kind.name(),
            "consistency-models": self.models,
            "txns": self.counts(),
            "graph": Value::Object(self.graph.clone()),
            "anomaly-types": bad,
            "other-anomaly-types": allowed,
            "anomalies": Value::Object(anomalies),
            "anomaly-counts": Value::Object(counts),
            "not": limits.not,
            "also-not": limits.also_not,
            "undecided": undecided.iter().map(|(a, size)| json!({"anomaly": a, "component-size": size})).collect::<Vec<_>>(),
            "seconds": self.started.elapsed().as_secs_f64(),
            "phase-seconds": Value::Object(self.phases.clone()),
        });
        if let Some(complete) = &self.complete {
            details["decided-by"] = json!(complete.decided_by);
            details["complete"] = complete.details.clone();
        }
        let mut result = CheckResult::new(name_of(self.kind), valid).details(details);
        result.reasons = reasons;
        result
    }
}
