//! Complete checking of rw-register histories for serializability and snapshot isolation,
//! where the inferred version orders leave pairs of writes unordered: the NP-complete case
//! Cobra (serializable) and PolySI (snapshot isolation) solve with pruning and SAT.
//!
//! What is known comes from the inference ([`super::versions`]): the wr edges, the version
//! orders the sources given fix (taken transitively per key), and the process and real-time
//! edges the models ask for. What is left is, per key, the order of each pair of external
//! writes no source orders: a choice between two sides. The side "`v1` before `v2`" brings
//! the edge `w1 -ww-> w2` and `r -rw-> w2` for every external reader `r` of `v1`; the other
//! side the mirror. A history is serializable iff some choice for every pair leaves the
//! graph acyclic, and snapshot-isolated iff some choice leaves PolySI's graph
//! `(WW ∪ WR ∪ order) ∪ ((WW ∪ WR ∪ order) ; RW)` acyclic (see [`super::complete_graph`]).
//!
//! The search, as in Cobra and PolySI: **pruning** computes which txns reach which in the
//! known graph, and a side one of whose edges would close a cycle is impossible, so the
//! other side is forced and joins the known graph; rounds repeat until nothing more is
//! forced (both sides impossible: a cycle under either order, so the history is invalid).
//! What remains goes to a **SAT solver** (batsat), one variable per pair, with acyclicity by
//! lazy cycle cuts ([`super::complete_sat`]): each assignment's graph is searched for
//! cycles, and each cycle found becomes a clause forbidding the choices it rests on, until
//! an assignment leaves no cycle (valid, with its version orders as the witness) or the
//! clauses leave no assignment (invalid; the cycle reported is the last one cut). The SAT
//! variables' first polarity follows a topological order of the known graph, so a valid
//! history is usually confirmed by the first assignment.
//!
//! An `info` txn's writes are taken as committed (it can always be put last, so this costs
//! no completeness for these models); garbage, aborted and intermediate reads are anomalies
//! the inference reports, which already make these models fail, so complete checking is
//! not asked then.
//!
//! This module must never touch the version orders the inference built, nor decide the
//! verdict: it returns what it found, and the check reports it.

use std::time::Instant;

use serde_json::{json, Value};

use super::complete_graph::{
    targets_of, topological, Closure, Csr, Edge, Layers, Walker, FORCED, NO_TAG,
};
use super::complete_sat::{solve, SatResult};
use super::decode::{Decoded, KeyId};
use super::findings::text;
use super::graph::{Graph, Label, DATA, PROCESS, REALTIME, RW, SESSION_RW, WW};
use super::lattice::{prohibited_anomalies, Anomaly, ConsistencyModel};
use super::rw_register::RegisterIndex;

/// How far complete checking may go.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    /// Skip when more write pairs than this are unresolved.
    pub max_pairs: usize,
    /// Give up (undecided) at this instant.
    pub deadline: Option<Instant>,
    /// Skip pruning when its reachability bits would need more bytes than this.
    pub closure_bytes: u64,
}

/// Which acyclicity complete checking decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Serializable,
    SnapshotIsolation,
}

/// What to check: the mode and the edge kinds the graph holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    pub mode: Mode,
    pub mask: u8,
}

impl Plan {
    /// The plan for `models`, or why complete checking does not apply to them.
    pub(crate) fn of(models: &[ConsistencyModel]) -> Result<Plan, String> {
        let p = prohibited_anomalies(models);
        let (mode, variants) = if p.contains(&Anomaly::G2_ITEM) {
            (
                Mode::Serializable,
                [Anomaly::G2_ITEM_PROCESS, Anomaly::G2_ITEM_REALTIME],
            )
        } else if p.contains(&Anomaly::G_NONADJACENT_ITEM) {
            (
                Mode::SnapshotIsolation,
                [
                    Anomaly::G_NONADJACENT_ITEM_PROCESS,
                    Anomaly::G_NONADJACENT_ITEM_REALTIME,
                ],
            )
        } else {
            return Err(
                "complete checking decides serializability and snapshot isolation \
                        only, and the models asked for are weaker"
                    .into(),
            );
        };
        let mut mask = DATA;
        if p.contains(&variants[0]) || p.contains(&variants[1]) {
            mask |= PROCESS | SESSION_RW;
        }
        if p.contains(&variants[1]) {
            mask |= REALTIME;
        }
        if p.contains(&Anomaly::G0_PROCESS) && mask & PROCESS == 0 {
            return Err(
                "the models asked for order versions by sessions without making \
                        the serializability or snapshot isolation asked for session-strong"
                    .into(),
            );
        }
        Ok(Plan { mode, mask })
    }

    pub(crate) fn name(&self) -> &'static str {
        match (
            self.mode,
            self.mask & REALTIME != 0,
            self.mask & PROCESS != 0,
        ) {
            (Mode::Serializable, true, _) => "strict serializability",
            (Mode::Serializable, false, true) => "strong-session serializability",
            (Mode::Serializable, false, false) => "serializability",
            (Mode::SnapshotIsolation, true, _) => "strong snapshot isolation",
            (Mode::SnapshotIsolation, false, true) => "strong-session snapshot isolation",
            (Mode::SnapshotIsolation, false, false) => "snapshot isolation",
        }
    }
}

/// Two external writes of one key whose order nothing known fixes; `v[0] < v[1]` by id.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pair {
    pub key: KeyId,
    pub v: [u32; 2],
}

/// One key's external versions and which come before which (known), for the witness.
#[derive(Debug)]
struct KeyOrder {
    key: KeyId,
    versions: Vec<u32>,
    words: usize,
    /// Row `i`: the bits of the versions known to come before `versions[i]`.
    before: Vec<u64>,
}

impl KeyOrder {
    fn known_before(&self, i: usize, j: usize) -> bool {
        self.before[i * self.words + j / 64] & (1 << (j % 64)) != 0
    }
}

/// The choice problem: the known edges and, per unresolved pair, the edges of each side.
#[derive(Debug)]
pub(super) struct Problem {
    pub si: bool,
    pub txns: usize,
    pub known: Vec<Edge>,
    pub pairs: Vec<Pair>,
    /// Choice `c = 2 * pair + side` has edges `side_edges[side_start[c]..side_start[c + 1]]`;
    /// side 0 puts `v[0]` first.
    side_start: Vec<u32>,
    side_edges: Vec<Edge>,
    keys: Vec<KeyOrder>,
}

impl Problem {
    /// The edges of choice `c` (`2 * pair + side`).
    pub(super) fn side(&self, c: u32) -> &[Edge] {
        &self.side_edges
            [self.side_start[c as usize] as usize..self.side_start[c as usize + 1] as usize]
    }
}

/// How an invalid verdict was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum How {
    /// Pruning forced choices until the known graph closed a cycle.
    Forced,
    /// Both orders of one pair close a cycle with what is known.
    BothOrders,
    /// The SAT solver refuted every assignment.
    Search,
}

/// What complete checking concluded.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Not run; why.
    Skipped(String),
    /// Some version order leaves no cycle the plan forbids.
    Valid,
    /// No version order does; a cycle met on the way.
    Invalid { cycle: Vec<Edge>, how: How },
    /// The budget ran out; why.
    Undecided(String),
}

/// Complete checking's conclusion, with what it chose and counted.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub plan: Option<Plan>,
    pub verdict: Verdict,
    pub pairs: usize,
    pub forced: usize,
    pub rounds: usize,
    pub sat_variables: usize,
    pub conflicts: u64,
    pub seconds: f64,
    problem: Option<Problem>,
    /// Per pair, the side chosen or forced (`Some(0)`: `v[0]` first), when known.
    choice: Vec<Option<u8>>,
}

impl Outcome {
    fn skipped(plan: Option<Plan>, why: String, pairs: usize) -> Outcome {
        Outcome {
            plan,
            verdict: Verdict::Skipped(why),
            pairs,
            forced: 0,
            rounds: 0,
            sat_variables: 0,
            conflicts: 0,
            seconds: 0.0,
            problem: None,
            choice: Vec::new(),
        }
    }

    /// Who decided, for the details: `complete (pruning)` or `complete (SAT)`, or `None`
    /// when complete checking decided nothing.
    pub(crate) fn decided_by(&self) -> Option<&'static str> {
        match &self.verdict {
            Verdict::Valid | Verdict::Invalid { .. } if self.sat_variables > 0 => {
                Some("complete (SAT)")
            }
            Verdict::Valid | Verdict::Invalid { .. } => Some("complete (pruning)"),
            _ => None,
        }
    }

    /// The version order found for each key that had unresolved pairs (values, first to
    /// last), when valid; at most `limit` keys.
    pub(crate) fn witness(
        &self,
        d: &Decoded<'_>,
        index: &RegisterIndex<'_>,
        limit: usize,
    ) -> Value {
        let Some(problem) = &self.problem else {
            return Value::Null;
        };
        if !matches!(self.verdict, Verdict::Valid) {
            return Value::Null;
        }
        let mut keys = serde_json::Map::new();
        for order in problem.keys.iter().take(limit) {
            let values: Vec<Value> = self
                .version_order(problem, order)
                .into_iter()
                .map(|v| index.versions[v as usize].value.clone())
                .collect();
            keys.insert(text(d.key(order.key)), Value::Array(values));
        }
        Value::Object(keys)
    }

    /// Key `order`'s versions sorted by how many come before each (known or chosen).
    fn version_order(&self, problem: &Problem, order: &KeyOrder) -> Vec<u32> {
        let m = order.versions.len();
        let mut rank = vec![0usize; m];
        let mut pair_of = std::collections::HashMap::new();
        for (p, pair) in problem.pairs.iter().enumerate() {
            if pair.key == order.key {
                pair_of.insert((pair.v[0], pair.v[1]), p);
            }
        }
        for (i, rank) in rank.iter_mut().enumerate() {
            for j in 0..m {
                if i == j {
                    continue;
                }
                let (a, b) = (order.versions[i], order.versions[j]);
                let before = if order.known_before(i, j) {
                    true
                } else if let Some(&p) = pair_of.get(&(a.min(b), a.max(b))) {
                    // Side 0 puts the smaller id first.
                    (self.choice[p] == Some(0)) == (b < a)
                } else {
                    false
                };
                *rank += usize::from(before);
            }
        }
        let mut sorted: Vec<(usize, u32)> = rank
            .into_iter()
            .zip(order.versions.iter().copied())
            .collect();
        sorted.sort_unstable();
        sorted.into_iter().map(|(_, v)| v).collect()
    }

    /// The problem decided, when it was built.
    pub(super) fn problem(&self) -> Option<&Problem> {
        self.problem.as_ref()
    }
}

/// Decide the history completely for `plan`'s models, from the inferred `index` and the
/// pipeline's (reversed) dependency `graph`.
pub(crate) fn run(
    d: &Decoded<'_>,
    index: &RegisterIndex<'_>,
    graph: &Graph,
    models: &[ConsistencyModel],
    settings: &Settings,
) -> Outcome {
    let started = Instant::now();
    let plan = match Plan::of(models) {
        Ok(plan) => plan,
        Err(why) => return Outcome::skipped(None, why, 0),
    };
    let problem = match build(d, index, graph, plan, settings.max_pairs) {
        Ok(problem) => problem,
        Err(pairs) => {
            return Outcome::skipped(
                Some(plan),
                format!(
                    "complete checking skipped: {pairs} unresolved write pairs, over the bound \
                     of {}",
                    settings.max_pairs
                ),
                pairs,
            )
        }
    };
    let mut outcome = Outcome {
        plan: Some(plan),
        verdict: Verdict::Valid,
        pairs: problem.pairs.len(),
        forced: 0,
        rounds: 0,
        sat_variables: 0,
        conflicts: 0,
        seconds: 0.0,
        choice: vec![None; problem.pairs.len()],
        problem: None,
    };
    outcome.verdict = decide(&problem, settings, &mut outcome);
    outcome.seconds = started.elapsed().as_secs_f64();
    outcome.problem = Some(problem);
    outcome
}

/// Prune, then search; fills in the counts and choices of `outcome`.
fn decide(problem: &Problem, settings: &Settings, outcome: &mut Outcome) -> Verdict {
    let n = problem.txns;
    let si = problem.si;
    let mut forced_edges: Vec<Edge> = Vec::new();
    let mut known = Csr::default();
    let mut walker = Walker::default();
    let mut open: Vec<u32> = (0..problem.pairs.len() as u32).collect();
    loop {
        known.build(n, problem.known.iter().chain(&forced_edges));
        let layers = Layers {
            si,
            known: &known,
            chosen: None,
        };
        let order = match topological(&layers) {
            Ok(order) => order,
            Err(left) => {
                let cycle = walker
                    .cycle(&layers, &left)
                    .expect("a cycle among the states left");
                return Verdict::Invalid {
                    cycle,
                    how: How::Forced,
                };
            }
        };
        if open.is_empty() {
            return Verdict::Valid;
        }
        if settings.deadline.is_some_and(|d| Instant::now() >= d) {
            return Verdict::Undecided("complete checking ran out of time while pruning".into());
        }
        let mut targets = vec![false; layers.states()];
        for &p in &open {
            for c in [2 * p, 2 * p + 1] {
                for e in problem.side(c) {
                    targets_of(si, e.from, &mut targets);
                }
            }
        }
        let columns = targets.iter().filter(|&&t| t).count();
        if outcome.rounds >= 16 || Closure::bytes(layers.states(), columns) > settings.closure_bytes
        {
            return search(problem, &known, &order, &open, settings, outcome);
        }
        outcome.rounds += 1;
        let closure = Closure::compute(&layers, &order, &targets);
        let mut still = Vec::with_capacity(open.len());
        for &p in &open {
            let bad = |c: u32| {
                problem
                    .side(c)
                    .iter()
                    .find(|e| closure.closes(si, e))
                    .copied()
            };
            match (bad(2 * p), bad(2 * p + 1)) {
                (Some(e), Some(_)) => {
                    // Either order closes a cycle: show the one through side 0's edge.
                    let back = layers
                        .returns(&e)
                        .into_iter()
                        .find_map(|to| walker.path(&layers, layers.step_to(&e), to))
                        .expect("the closure said it reaches");
                    let mut cycle = vec![Edge { tag: 2 * p, ..e }];
                    cycle.extend(back);
                    outcome.choice[p as usize] = Some(0);
                    return Verdict::Invalid {
                        cycle,
                        how: How::BothOrders,
                    };
                }
                (Some(_), None) => force(problem, p, 1, &mut forced_edges, outcome),
                (None, Some(_)) => force(problem, p, 0, &mut forced_edges, outcome),
                (None, None) => still.push(p),
            }
        }
        if still.len() == open.len() {
            return search(problem, &known, &order, &open, settings, outcome);
        }
        open = still;
    }
}

fn force(problem: &Problem, p: u32, side: u8, into: &mut Vec<Edge>, outcome: &mut Outcome) {
    let c = 2 * p + u32::from(side);
    into.extend(problem.side(c).iter().map(|e| Edge {
        tag: c | FORCED,
        ..*e
    }));
    outcome.choice[p as usize] = Some(side);
    outcome.forced += 1;
}

/// The SAT search over the pairs still open, the known graph (with what pruning forced)
/// being acyclic with topological `order`.
fn search(
    problem: &Problem,
    known: &Csr,
    order: &[u32],
    open: &[u32],
    settings: &Settings,
    outcome: &mut Outcome,
) -> Verdict {
    let si = problem.si;
    let mut rank = vec![0u32; problem.txns];
    for (i, &s) in order.iter().enumerate() {
        if !si || s % 2 == 0 {
            rank[if si { s / 2 } else { s } as usize] = i as u32;
        }
    }
    let first: Vec<bool> = open
        .iter()
        .map(|&p| {
            // Side 0 first when its writer comes first in the known graph's order.
            let pair = problem.pairs[p as usize];
            let w = |side: u32| problem.side(2 * p + side).first().map(|e| e.from);
            match (w(0), w(1)) {
                (Some(a), Some(b)) => rank[a as usize] <= rank[b as usize],
                _ => pair.v[0] < pair.v[1],
            }
        })
        .collect();
    outcome.sat_variables = open.len();
    let (result, conflicts) = solve(problem, known, open, &first, settings.deadline);
    outcome.conflicts = conflicts;
    match result {
        SatResult::Sat(sides) => {
            for (&p, side) in open.iter().zip(sides) {
                outcome.choice[p as usize] = Some(side);
            }
            Verdict::Valid
        }
        SatResult::Unsat(cycle) => {
            for e in &cycle {
                if e.tag != NO_TAG && e.tag & FORCED == 0 {
                    outcome.choice[(e.tag / 2) as usize] = Some((e.tag % 2) as u8);
                }
            }
            Verdict::Invalid {
                cycle,
                how: How::Search,
            }
        }
        SatResult::Unknown => Verdict::Undecided(format!(
            "complete checking ran out of time in the SAT search over {} pairs",
            open.len()
        )),
    }
}

impl Layers<'_> {
    /// The state edge `e` leads to from its source's dependency state.
    fn step_to(&self, e: &Edge) -> u32 {
        self.step(if self.si { 2 * e.from } else { e.from }, e)
            .expect("every edge leaves a dependency state")
    }

    /// The states of `e`'s source a cycle through `e` may return to: either state for a
    /// dependency edge (both may take it), the dependency state for an rw edge.
    fn returns(&self, e: &Edge) -> Vec<u32> {
        if !self.si {
            vec![e.from]
        } else if e.kind & !(RW | SESSION_RW) != 0 {
            vec![2 * e.from, 2 * e.from + 1]
        } else {
            vec![2 * e.from]
        }
    }
}

/// Build the choice problem; `Err(pairs)` when more than `max_pairs` are unresolved.
fn build(
    d: &Decoded<'_>,
    index: &RegisterIndex<'_>,
    graph: &Graph,
    plan: Plan,
    max_pairs: usize,
) -> Result<Problem, usize> {
    let n = d.txns.len();
    // Versions grouped by key.
    let keys = d.keys.len();
    let mut start = vec![0u32; keys + 1];
    for v in &index.versions {
        start[v.key as usize + 1] += 1;
    }
    for k in 0..keys {
        start[k + 1] += start[k];
    }
    let mut cursor = start.clone();
    let mut by_key = vec![0u32; index.versions.len()];
    for (i, v) in index.versions.iter().enumerate() {
        by_key[cursor[v.key as usize] as usize] = i as u32;
        cursor[v.key as usize] += 1;
    }
    drop(cursor);
    let mut local = vec![u32::MAX; index.versions.len()];
    let mut pairs: Vec<Pair> = Vec::new();
    let mut orders: Vec<KeyOrder> = Vec::new();
    let mut count = 0usize;
    for k in 0..keys {
        let all = &by_key[start[k] as usize..start[k + 1] as usize];
        let versions: Vec<u32> = all
            .iter()
            .copied()
            .filter(|&v| index.external_writer(d, v).is_some())
            .collect();
        let m = versions.len();
        if m < 2 {
            continue;
        }
        let order = key_order(index, k as KeyId, all, versions, &mut local);
        let before = count;
        for i in 0..m {
            for j in i + 1..m {
                if !order.known_before(i, j) && !order.known_before(j, i) {
                    count += 1;
                    if count <= max_pairs {
                        let (a, b) = (order.versions[i], order.versions[j]);
                        pairs.push(Pair {
                            key: k as KeyId,
                            v: [a.min(b), a.max(b)],
                        });
                    }
                }
            }
        }
        if count > before && count <= max_pairs {
            orders.push(order);
        }
    }
    if count > max_pairs {
        return Err(count);
    }
    let mut known = Vec::with_capacity(graph.edge_count());
    for v in 0..n as u32 {
        for (u, kinds) in graph.out(v) {
            let kind = kinds & plan.mask;
            if kind != 0 {
                known.push(Edge {
                    from: u,
                    to: v,
                    kind,
                    tag: NO_TAG,
                });
            }
        }
    }
    let mut side_start = Vec::with_capacity(pairs.len() * 2 + 1);
    let mut side_edges = Vec::new();
    side_start.push(0);
    for (p, pair) in pairs.iter().enumerate() {
        for side in 0..2 {
            let (first, then) = (pair.v[side], pair.v[1 - side]);
            let tag = (2 * p + side) as u32;
            let w1 = index
                .external_writer(d, first)
                .expect("an external version");
            let w2 = index.external_writer(d, then).expect("an external version");
            side_edges.push(Edge {
                from: w1,
                to: w2,
                kind: WW,
                tag,
            });
            for &r in index.readers_of(first) {
                if r != w2 {
                    side_edges.push(Edge {
                        from: r,
                        to: w2,
                        kind: RW,
                        tag,
                    });
                }
            }
            side_start.push(side_edges.len() as u32);
        }
    }
    Ok(Problem {
        si: plan.mode == Mode::SnapshotIsolation,
        txns: n,
        known,
        pairs,
        side_start,
        side_edges,
        keys: orders,
    })
}

/// Which of key `k`'s external `versions` come before which, from the version order
/// (`all` being every version of the key); `local` is scratch, left all `u32::MAX`.
fn key_order(
    index: &RegisterIndex<'_>,
    key: KeyId,
    all: &[u32],
    versions: Vec<u32>,
    local: &mut [u32],
) -> KeyOrder {
    let m = versions.len();
    let words = m.div_ceil(64);
    for (i, &v) in all.iter().enumerate() {
        local[v as usize] = i as u32;
    }
    let mut column = vec![u32::MAX; all.len()];
    for (j, &v) in versions.iter().enumerate() {
        column[local[v as usize] as usize] = j as u32;
    }
    // Depth-first postorder over "comes after" edges: what comes before is done first.
    let mut reach = vec![0u64; all.len() * words];
    let mut done = vec![false; all.len()];
    let mut stack: Vec<(u32, bool)> = Vec::new();
    for root in 0..all.len() as u32 {
        if done[root as usize] {
            continue;
        }
        stack.push((root, false));
        while let Some((x, expanded)) = stack.pop() {
            if expanded {
                let mut row = vec![0u64; words];
                for (u, _) in index.order_before.out(all[x as usize]) {
                    let lu = local[u as usize] as usize;
                    for (w, r) in row.iter_mut().zip(&reach[lu * words..(lu + 1) * words]) {
                        *w |= r;
                    }
                    if column[lu] != u32::MAX {
                        row[column[lu] as usize / 64] |= 1 << (column[lu] % 64);
                    }
                }
                reach[x as usize * words..(x as usize + 1) * words].copy_from_slice(&row);
                done[x as usize] = true;
                continue;
            }
            if done[x as usize] {
                continue;
            }
            stack.push((x, true));
            for (u, _) in index.order_before.out(all[x as usize]) {
                let lu = local[u as usize];
                if !done[lu as usize] {
                    stack.push((lu, false));
                }
            }
        }
    }
    let mut before = vec![0u64; m * words];
    for (j, &v) in versions.iter().enumerate() {
        let x = local[v as usize] as usize;
        before[j * words..(j + 1) * words].copy_from_slice(&reach[x * words..(x + 1) * words]);
    }
    for &v in all {
        local[v as usize] = u32::MAX;
    }
    KeyOrder {
        key,
        versions,
        words,
        before,
    }
}

/// The label an edge of a reported cycle counts as (a known edge may merge several kinds:
/// in snapshot isolation's graph a dependency wins, as the state graph takes it so).
pub(crate) fn label(e: &Edge, si: bool) -> Label {
    let kind = if si && e.kind & !(RW | SESSION_RW) != 0 {
        e.kind & !(RW | SESSION_RW)
    } else {
        e.kind
    };
    Label::of(kind, 0xff).unwrap_or(Label::Ww)
}

/// Details of an outcome, for the result.
pub(crate) fn details(outcome: &Outcome, witness: Value) -> Value {
    json!({
        "models": outcome.plan.map(|p| p.name()),
        "decided": outcome.decided_by().is_some(),
        "unresolved-pairs": outcome.pairs,
        "forced-by-pruning": outcome.forced,
        "pruning-rounds": outcome.rounds,
        "sat-variables": outcome.sat_variables,
        "sat-cycles-cut": outcome.conflicts,
        "seconds": outcome.seconds,
        "witness": witness,
    })
}
