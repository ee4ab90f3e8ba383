//! Searching a strongly connected component of the dependency graph for the cycles Elle
//! names, worst first: G0, G1c, G-single, G-nonadjacent and G2-item on data edges, then
//! each again through process edges (`-process`), then through real time (`-realtime`).
//!
//! Each search is anchored on the edge its anomaly needs (an rw edge for G-single, a wr
//! edge for G1c, two adjacent rw edges for G2-item, a process or real-time edge for the
//! variants) and looks for the shortest way back with a breadth-first search over (txn,
//! state), the state a few bits (was the last edge rw, was an rw seen, was the required
//! kind seen). A cycle lies inside one component of the edges it may use, so every search
//! first splits the component by those edges and skips anchors that cross the split. A
//! search that finds nothing from `v` records everything it reached: a later anchor `u → v`
//! whose `v` was reached but whose `u` never was cannot close a cycle either.
//!
//! A search stops when the time or work budget runs out; its anomaly is then undecided.
//! Whatever happens, every component that holds a cycle of some model's edges yields a
//! cycle (the first one a plain search finds), classified by its edges: a component is
//! never reported as clean because a search gave up.
//!
//! This module must never explain cycles in words; [`super::explain`] does.

use std::collections::VecDeque;
use std::time::Instant;

use super::cycle_specs::{
    spec, Anchor, Rules, Spec, Variant, BASES, CYCLE_MODELS, LAST_RW, SEEN_REQUIRED,
};
use super::graph::{components, Components, Graph, Label, PROCESS, REALTIME};
use super::lattice::{implied_by, impossible_models, Anomaly, OrderEdges};

pub(crate) use super::cycle_specs::classify;

/// How much a search may do.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    /// Stop every search at this instant.
    pub deadline: Option<Instant>,
    /// Stop one anomaly's search in one component after visiting this many (txn, state)
    /// pairs over all its anchors.
    pub visits_per_search: u64,
}

/// What searching one component found: cycles in local numbering with their anomaly, and
/// the anomalies whose search ran out of budget.
#[derive(Debug, Default)]
pub(crate) struct ComponentResult {
    pub cycles: Vec<(Anomaly, Vec<(u32, Label)>)>,
    pub undecided: Vec<Anomaly>,
}

enum Outcome {
    Found(Vec<(u32, Label)>),
    Absent,
    OutOfBudget,
}

/// Search the component `members` (sorted global txn numbers) of `graph`, whose edges
/// include process and real-time edges as `orders` says. Cycles come back in global
/// numbering.
pub(crate) fn search_component(
    graph: &Graph,
    members: &[u32],
    orders: OrderEdges,
    budget: &Budget,
) -> ComponentResult {
    let local = graph.induced(members);
    let mut searcher = Searcher::new(&local, budget);
    let variants: &[Variant] = match orders {
        OrderEdges::None => &[Variant::Data],
        OrderEdges::Process => &[Variant::Data, Variant::Process],
        OrderEdges::Realtime => &[Variant::Data, Variant::Process, Variant::Realtime],
    };
    let mut result = ComponentResult::default();
    let mut found: Vec<Anomaly> = Vec::new();
    for &variant in variants {
        for base in BASES {
            let spec = spec(base, variant);
            if implied_by(&found).contains(&spec.anomaly) {
                continue;
            }
            match searcher.find(&spec) {
                Outcome::Found(cycle) => {
                    let a = classify(&cycle.iter().map(|&(_, l)| l).collect::<Vec<_>>())
                        .unwrap_or(spec.anomaly);
                    found.push(a);
                    result.cycles.push((a, cycle));
                }
                Outcome::Absent => {}
                Outcome::OutOfBudget => result.undecided.push(spec.anomaly),
            }
        }
    }
    // Whatever the searches did, a cycle of a model's edges must rule that model out.
    for (mask, model) in CYCLE_MODELS {
        if mask & (PROCESS | REALTIME) & !orders_mask(orders) != 0 {
            continue;
        }
        if impossible_models(&found).contains(&model) {
            continue;
        }
        if let Some(cycle) = searcher.any_cycle(mask) {
            if let Some(a) = classify(&cycle.iter().map(|&(_, l)| l).collect::<Vec<_>>()) {
                found.push(a);
                result.cycles.push((a, cycle));
            }
        }
    }
    let implied = implied_by(&found);
    result.undecided.retain(|a| !implied.contains(a));
    for cycle in &mut result.cycles {
        for step in &mut cycle.1 {
            step.0 = members[step.0 as usize];
        }
    }
    result
}

fn orders_mask(orders: OrderEdges) -> u8 {
    match orders {
        OrderEdges::None => 0,
        OrderEdges::Process => PROCESS,
        OrderEdges::Realtime => PROCESS | REALTIME,
    }
}

/// Breadth-first searches over one component, with buffers reused between them.
struct Searcher<'g> {
    graph: &'g Graph,
    budget: &'g Budget,
    /// Components of the subgraph of each mask used so far.
    split: Vec<(u8, Components)>,
    /// Per (vertex, state): the visited bit, as a mask of states per vertex.
    visited: Vec<u8>,
    /// Per (vertex, state): how it was reached (previous vertex, state, label).
    parent: Vec<(u32, u8, Label)>,
    touched: Vec<u32>,
    queue: VecDeque<(u32, u8)>,
    /// Vertices a failed plain search reached (see the module docs).
    reached_by_failure: Vec<bool>,
    visits: u64,
    checks: u32,
    /// Ignore the budget (the fallback search, which is linear).
    unlimited: bool,
}

impl<'g> Searcher<'g> {
    fn new(graph: &'g Graph, budget: &'g Budget) -> Searcher<'g> {
        let n = graph.vertices();
        Searcher {
            graph,
            budget,
            split: Vec::new(),
            visited: vec![0; n],
            parent: Vec::new(),
            touched: Vec::new(),
            queue: VecDeque::new(),
            reached_by_failure: vec![false; n],
            visits: 0,
            checks: 0,
            unlimited: false,
        }
    }

    fn components(&mut self, mask: u8) -> usize {
        if let Some(i) = self.split.iter().position(|(m, _)| *m == mask) {
            return i;
        }
        self.split.push((mask, components(self.graph, mask)));
        self.split.len() - 1
    }

    fn out_of_budget(&mut self) -> bool {
        if self.unlimited {
            return false;
        }
        if self.visits > self.budget.visits_per_search {
            return true;
        }
        self.checks += 1;
        if self.checks.is_multiple_of(1024) {
            if let Some(deadline) = self.budget.deadline {
                return Instant::now() >= deadline;
            }
        }
        false
    }

    /// Search for a cycle matching `spec`.
    fn find(&mut self, spec: &Spec) -> Outcome {
        let split = self.components(spec.mask);
        if !self.split[split].1.any_cycle() {
            return Outcome::Absent;
        }
        self.visits = 0;
        self.reached_by_failure.fill(false);
        let graph = self.graph;
        let n = graph.vertices() as u32;
        for u in 0..n {
            let comp = &self.split[split].1;
            if !comp.cyclic(u) {
                continue;
            }
            let c = comp.component[u as usize];
            for (v, kinds) in graph.out(u) {
                let Some(label) = Label::of(kinds, spec.mask) else {
                    continue;
                };
                if self.split[split].1.component[v as usize] != c {
                    continue;
                }
                let outcome = match spec.anchor {
                    Anchor::Edge(want) if label == want || (want == Label::Rw && label.is_rw()) => {
                        let start = self.start_state(spec, label);
                        self.anchored(spec, split, c, (u, label), v, start, None)
                    }
                    Anchor::RwPair if label.is_rw() => {
                        self.search_rw_pair(spec, split, c, (u, label), v)
                    }
                    _ => continue,
                };
                match outcome {
                    Outcome::Absent => {}
                    other => return other,
                }
            }
        }
        Outcome::Absent
    }

    fn start_state(&self, spec: &Spec, anchor: Label) -> u8 {
        let mut s = 0;
        if spec.rules.nonadjacent && anchor.is_rw() {
            s |= LAST_RW;
        }
        if spec.rules.satisfies(anchor) {
            s |= SEEN_REQUIRED;
        }
        s
    }

    /// After `u -rw-> v`, every `v -rw-> w` in the same component, then back to `u`
    /// avoiding `v`.
    fn search_rw_pair(
        &mut self,
        spec: &Spec,
        split: usize,
        c: u32,
        (u, first): (u32, Label),
        v: u32,
    ) -> Outcome {
        let graph = self.graph;
        for (w, kinds) in graph.out(v) {
            let Some(second) = Label::of(kinds, spec.mask).filter(|l| l.is_rw()) else {
                continue;
            };
            if self.split[split].1.component[w as usize] != c {
                continue;
            }
            let state = if spec.rules.satisfies(first) || spec.rules.satisfies(second) {
                SEEN_REQUIRED
            } else {
                0
            };
            if w == u {
                if spec.rules.accepts(state) {
                    return Outcome::Found(vec![(u, first), (v, second)]);
                }
                continue;
            }
            match self.anchored(spec, split, c, (u, first), w, state, Some((v, second))) {
                Outcome::Found(mut cycle) => {
                    cycle.insert(1, (v, second));
                    return Outcome::Found(cycle);
                }
                Outcome::Absent => {}
                out => return out,
            }
        }
        Outcome::Absent
    }

    /// The shortest way from `v` (in `state`) back to the anchor's source `u` that the
    /// rules accept, within component `c`; the cycle starts with the anchor. `blocked` is
    /// a vertex the way may not pass (the middle of an rw pair).
    #[allow(clippy::too_many_arguments)]
    fn anchored(
        &mut self,
        spec: &Spec,
        split: usize,
        c: u32,
        (u, anchor): (u32, Label),
        v: u32,
        state: u8,
        blocked: Option<(u32, Label)>,
    ) -> Outcome {
        let plain = spec.rules.stateless() && blocked.is_none();
        if plain && self.reached_by_failure[v as usize] && !self.reached_by_failure[u as usize] {
            return Outcome::Absent;
        }
        if v == u {
            return if spec.rules.accepts(state) {
                Outcome::Found(vec![(u, anchor)])
            } else {
                Outcome::Absent
            };
        }
        let outcome = self.bfs(
            spec.mask,
            &spec.rules,
            split,
            c,
            v,
            state,
            u,
            blocked.map(|b| b.0),
        );
        if plain {
            if let Outcome::Absent = outcome {
                for &x in &self.touched {
                    self.reached_by_failure[x as usize] = true;
                }
            }
        }
        self.clear();
        match outcome {
            Outcome::Found(mut path) => {
                path.insert(0, (u, anchor));
                Outcome::Found(path)
            }
            other => other,
        }
    }

    fn clear(&mut self) {
        for &x in &self.touched {
            self.visited[x as usize] = 0;
        }
        self.touched.clear();
        self.queue.clear();
    }

    fn mark(&mut self, x: u32, state: u8, from: (u32, u8, Label)) -> bool {
        let bits = &mut self.visited[x as usize];
        if *bits & (1 << state) != 0 {
            return false;
        }
        if *bits == 0 {
            self.touched.push(x);
        }
        *bits |= 1 << state;
        let slot = x as usize * 8 + state as usize;
        if self.parent.len() <= slot {
            self.parent
                .resize((self.graph.vertices() * 8).max(slot + 1), (0, 0, Label::Ww));
        }
        self.parent[slot] = from;
        true
    }

    /// Breadth-first from `(start, state)` to `target` in an accepted state, within
    /// component `c` of `split`. The path returned runs from `start` to `target`, each
    /// vertex with the label of its out-edge.
    #[allow(clippy::too_many_arguments)]
    fn bfs(
        &mut self,
        mask: u8,
        rules: &Rules,
        split: usize,
        c: u32,
        start: u32,
        state: u8,
        target: u32,
        blocked: Option<u32>,
    ) -> Outcome {
        let graph = self.graph;
        self.mark(start, state, (u32::MAX, 0, Label::Ww));
        if let Some(b) = blocked {
            self.touched.push(b);
            self.visited[b as usize] = 0xff;
        }
        self.queue.push_back((start, state));
        while let Some((x, s)) = self.queue.pop_front() {
            self.visits += 1;
            if self.out_of_budget() {
                return Outcome::OutOfBudget;
            }
            for (y, kinds) in graph.out(x) {
                let Some(label) = Label::of(kinds, mask) else {
                    continue;
                };
                let Some(next) = rules.step(s, label) else {
                    continue;
                };
                if self.split[split].1.component[y as usize] != c {
                    continue;
                }
                if y == target {
                    if rules.accepts(next) {
                        return Outcome::Found(self.path((x, s, label)));
                    }
                    continue;
                }
                if self.mark(y, next, (x, s, label)) {
                    self.queue.push_back((y, next));
                }
            }
        }
        Outcome::Absent
    }

    /// The path from `start` ending with the edge `last` (its source, state and label).
    fn path(&self, last: (u32, u8, Label)) -> Vec<(u32, Label)> {
        let mut path = vec![(last.0, last.2)];
        let (mut x, mut s) = (last.0, last.1);
        loop {
            let (px, ps, label) = self.parent[x as usize * 8 + s as usize];
            if px == u32::MAX {
                break;
            }
            path.push((px, label));
            x = px;
            s = ps;
        }
        path.reverse();
        path
    }

    /// Any cycle of the edges in `mask`, for a component it holds one in: the shortest
    /// from the first such vertex back to itself.
    fn any_cycle(&mut self, mask: u8) -> Option<Vec<(u32, Label)>> {
        let split = self.components(mask);
        let n = self.graph.vertices() as u32;
        let u = (0..n).find(|&u| self.split[split].1.cyclic(u))?;
        let c = self.split[split].1.component[u as usize];
        let rules = Rules {
            allowed: 0xff,
            nonadjacent: false,
            required: None,
        };
        let graph = self.graph;
        let found = graph.out(u).find_map(|(v, kinds)| {
            let label = Label::of(kinds, mask)?;
            (self.split[split].1.component[v as usize] == c).then_some((v, label))
        });
        let (v, label) = found?;
        if v == u {
            return None;
        }
        self.unlimited = true;
        let outcome = self.bfs(mask, &rules, split, c, v, 0, u, None);
        self.unlimited = false;
        self.clear();
        match outcome {
            Outcome::Found(mut path) => {
                path.insert(0, (u, label));
                Some(path)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::graph::{EdgeList, RW, WR, WW};

    fn graph(n: usize, edges: &[(u32, u32, u8)]) -> Graph {
        let mut e = EdgeList::default();
        for &(a, b, k) in edges {
            e.push(a, b, k);
        }
        Graph::build(n, e)
    }

    fn budget() -> Budget {
        Budget {
            deadline: None,
            visits_per_search: u64::MAX,
        }
    }

    fn found(g: &Graph, orders: OrderEdges) -> Vec<Anomaly> {
        let members: Vec<u32> = (0..g.vertices() as u32).collect();
        let r = search_component(g, &members, orders, &budget());
        assert!(r.undecided.is_empty());
        r.cycles.into_iter().map(|(a, _)| a).collect()
    }

    #[test]
    fn classification_follows_elle() {
        use Label::*;
        assert_eq!(classify(&[Ww, Ww]), Some(Anomaly::G0));
        assert_eq!(classify(&[Ww, Wr]), Some(Anomaly::G1C));
        assert_eq!(classify(&[Wr, Rw]), Some(Anomaly::G_SINGLE_ITEM));
        assert_eq!(
            classify(&[Rw, Wr, Rw, Wr]),
            Some(Anomaly::G_NONADJACENT_ITEM)
        );
        assert_eq!(classify(&[Rw, Rw]), Some(Anomaly::G2_ITEM));
        assert_eq!(classify(&[Rw, Wr, Rw]), Some(Anomaly::G2_ITEM));
        assert_eq!(
            classify(&[Rw, Realtime]),
            Some(Anomaly::G_SINGLE_ITEM_REALTIME)
        );
        assert_eq!(classify(&[Ww, Process]), Some(Anomaly::G0_PROCESS));
        assert_eq!(classify(&[Process, Realtime]), None);
    }

    #[test]
    fn each_base_is_found_in_its_own_cycle() {
        // A cycle (its vertices and edges), the order edges searched, and what it is.
        type Case = (usize, &'static [(u32, u32, u8)], OrderEdges, Anomaly);
        let cases: [Case; 7] = [
            (2, &[(0, 1, WW), (1, 0, WW)], OrderEdges::None, Anomaly::G0),
            (2, &[(0, 1, WW), (1, 0, WR)], OrderEdges::None, Anomaly::G1C),
            (
                2,
                &[(0, 1, WR), (1, 0, RW)],
                OrderEdges::None,
                Anomaly::G_SINGLE_ITEM,
            ),
            (
                2,
                &[(0, 1, RW), (1, 0, RW)],
                OrderEdges::None,
                Anomaly::G2_ITEM,
            ),
            (
                4,
                &[(0, 1, RW), (1, 2, WR), (2, 3, RW), (3, 0, WR)],
                OrderEdges::None,
                Anomaly::G_NONADJACENT_ITEM,
            ),
            (
                2,
                &[(0, 1, RW), (1, 0, REALTIME)],
                OrderEdges::Realtime,
                Anomaly::G_SINGLE_ITEM_REALTIME,
            ),
            (
                3,
                &[(0, 1, WW), (1, 2, PROCESS | REALTIME), (2, 0, WW)],
                OrderEdges::Realtime,
                Anomaly::G0_PROCESS,
            ),
        ];
        for (vertices, edges, orders, anomaly) in cases {
            assert_eq!(
                found(&graph(vertices, edges), orders),
                [anomaly],
                "{anomaly}"
            );
        }
    }

    #[test]
    fn a_worse_cycle_hides_what_it_implies_but_not_the_rest() {
        // 0 -ww-> 1 -ww-> 0 (G0), and 1 -rw-> 2 -wr-> 1 (G-single).
        let g = graph(3, &[(0, 1, WW), (1, 0, WW), (1, 2, RW), (2, 1, WR)]);
        assert_eq!(
            found(&g, OrderEdges::Realtime),
            [Anomaly::G0, Anomaly::G_SINGLE_ITEM]
        );
    }

    #[test]
    fn a_spent_budget_still_yields_a_cycle() {
        let g = graph(3, &[(0, 1, RW), (1, 2, WR), (2, 0, WR)]);
        let spent = Budget {
            deadline: None,
            visits_per_search: 0,
        };
        let r = search_component(&g, &[0, 1, 2], OrderEdges::None, &spent);
        assert_eq!(r.cycles.len(), 1);
        assert_eq!(r.cycles[0].0, Anomaly::G_SINGLE_ITEM);
        assert!(r.undecided.is_empty(), "{:?}", r.undecided);
    }
}
