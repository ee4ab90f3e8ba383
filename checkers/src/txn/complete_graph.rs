//! The graphs complete checking walks: txn edges tagged with the version-order choice they
//! rest on, in two layers (the known edges, and the edges of the choices the SAT search has
//! made), read either plainly (serializable: every edge) or as Adya's snapshot-isolation
//! graph (PolySI's `(WW ∪ WR ∪ order) ; RW?`): each txn is split into two states, "came by
//! a dependency" and "came by an anti-dependency", and an rw edge may only leave the first,
//! so a cycle of states is a cycle of txns with no two rw edges in a row, which is exactly a
//! cycle of the composed graph.
//!
//! Here: a compressed-rows graph of tagged edges, a topological order (smallest state
//! first), the reachability closure over a chosen set of target states (bit rows), a cycle
//! finder and a shortest path finder.
//!
//! This module must never know what a txn reads or writes, nor talk to the SAT solver.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use super::graph::{tarjan, RW, SESSION_RW};

/// The tag of an edge that rests on no choice.
pub(super) const NO_TAG: u32 = u32::MAX;
/// The bit of a tag whose choice was forced by pruning (the rest is the choice's number).
pub(super) const FORCED: u32 = 1 << 31;
/// The anti-dependency kinds; every other kind is a dependency.
pub(super) const ANTI: u8 = RW | SESSION_RW;
const NONE: u32 = u32::MAX;

/// One txn edge: its kinds (graph.rs's bits) and the choice it rests on (a choice number
/// `2 * pair + side`, with [`FORCED`] set when pruning forced it; [`NO_TAG`] when known).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Edge {
    pub from: u32,
    pub to: u32,
    pub kind: u8,
    pub tag: u32,
}

/// Edges grouped by their source.
#[derive(Debug, Default)]
pub(super) struct Csr {
    offsets: Vec<u32>,
    edges: Vec<Edge>,
}

impl Csr {
    /// Group `edges` over `n` vertices (reusing this graph's buffers).
    pub(super) fn build<'e>(&mut self, n: usize, edges: impl Iterator<Item = &'e Edge> + Clone) {
        self.offsets.clear();
        self.offsets.resize(n + 1, 0);
        for e in edges.clone() {
            self.offsets[e.from as usize + 1] += 1;
        }
        for v in 0..n {
            self.offsets[v + 1] += self.offsets[v];
        }
        let total = self.offsets[n] as usize;
        self.edges.clear();
        self.edges.resize(
            total,
            Edge {
                from: 0,
                to: 0,
                kind: 0,
                tag: NO_TAG,
            },
        );
        let mut cursor: Vec<u32> = self.offsets[..n].to_vec();
        for e in edges {
            let slot = &mut cursor[e.from as usize];
            self.edges[*slot as usize] = *e;
            *slot += 1;
        }
    }

    pub(super) fn vertices(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    #[inline]
    pub(super) fn out(&self, v: u32) -> &[Edge] {
        &self.edges[self.offsets[v as usize] as usize..self.offsets[v as usize + 1] as usize]
    }
}

/// The known edges and, during the search, the chosen ones, read plainly or as the
/// snapshot-isolation state graph.
#[derive(Debug, Clone, Copy)]
pub(super) struct Layers<'a> {
    pub si: bool,
    pub known: &'a Csr,
    pub chosen: Option<&'a Csr>,
}

impl Layers<'_> {
    pub(super) fn states(&self) -> usize {
        self.known.vertices() * if self.si { 2 } else { 1 }
    }

    /// The txn of state `s`.
    #[inline]
    pub(super) fn txn(&self, s: u32) -> u32 {
        if self.si {
            s / 2
        } else {
            s
        }
    }

    /// The state an edge leads to from state `s`, if it may be taken from there.
    #[inline]
    pub(super) fn step(&self, s: u32, e: &Edge) -> Option<u32> {
        if !self.si {
            Some(e.to)
        } else if e.kind & !ANTI != 0 {
            Some(2 * e.to)
        } else if s & 1 == 0 {
            Some(2 * e.to + 1)
        } else {
            None
        }
    }

    /// The out-edges of state `s`'s txn: known first, then chosen.
    #[inline]
    fn edges(&self, s: u32) -> (&[Edge], &[Edge]) {
        let v = self.txn(s);
        (self.known.out(v), self.chosen.map_or(&[][..], |c| c.out(v)))
    }

    #[inline]
    fn edge(&self, s: u32, i: usize) -> Option<&Edge> {
        let (a, b) = self.edges(s);
        if i < a.len() {
            Some(&a[i])
        } else {
            b.get(i - a.len())
        }
    }

    /// Call `f(next state, edge)` for every step out of state `s`.
    #[inline]
    pub(super) fn each_step(&self, s: u32, mut f: impl FnMut(u32, &Edge)) {
        let (a, b) = self.edges(s);
        for e in a.iter().chain(b) {
            if let Some(t) = self.step(s, e) {
                f(t, e);
            }
        }
    }
}

/// The states in a topological order, smallest state first among those ready (so txns
/// keep their invocation order where nothing says otherwise); `Err` with the states left
/// over when there is a cycle.
pub(super) fn topological(layers: &Layers<'_>) -> Result<Vec<u32>, Vec<u32>> {
    let n = layers.states();
    let mut indegree = vec![0u32; n];
    for s in 0..n as u32 {
        layers.each_step(s, |t, _| indegree[t as usize] += 1);
    }
    let mut ready: BinaryHeap<Reverse<u32>> = (0..n as u32)
        .filter(|&s| indegree[s as usize] == 0)
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(s)) = ready.pop() {
        order.push(s);
        layers.each_step(s, |t, _| {
            indegree[t as usize] -= 1;
            if indegree[t as usize] == 0 {
                ready.push(Reverse(t));
            }
        });
    }
    if order.len() == n {
        Ok(order)
    } else {
        Err((0..n as u32)
            .filter(|&s| indegree[s as usize] > 0)
            .collect())
    }
}

/// Which states each state reaches, over a set of target states (the columns): a bit row
/// per state.
#[derive(Debug)]
pub(super) struct Closure {
    words: usize,
    rows: Vec<u64>,
    column: Vec<u32>,
}

impl Closure {
    /// Bytes a closure of `states` rows over `columns` targets takes.
    pub(super) fn bytes(states: usize, columns: usize) -> u64 {
        states as u64 * columns.div_ceil(64) as u64 * 8
    }

    /// The closure of acyclic `layers`, given a topological `order`, over the states
    /// marked in `targets`.
    pub(super) fn compute(layers: &Layers<'_>, order: &[u32], targets: &[bool]) -> Closure {
        let mut column = vec![NONE; targets.len()];
        let mut columns = 0u32;
        for (s, &t) in targets.iter().enumerate() {
            if t {
                column[s] = columns;
                columns += 1;
            }
        }
        let words = (columns as usize).div_ceil(64);
        let mut rows = vec![0u64; order.len() * words];
        let mut row = vec![0u64; words];
        for &s in order.iter().rev() {
            row.fill(0);
            layers.each_step(s, |t, _| {
                let start = t as usize * words;
                for (w, r) in row.iter_mut().zip(&rows[start..start + words]) {
                    *w |= r;
                }
                let c = column[t as usize];
                if c != NONE {
                    row[c as usize / 64] |= 1 << (c % 64);
                }
            });
            rows[s as usize * words..(s as usize + 1) * words].copy_from_slice(&row);
        }
        Closure {
            words,
            rows,
            column,
        }
    }

    /// Whether state `from` reaches state `to` (a target state).
    #[inline]
    pub(super) fn reaches(&self, from: u32, to: u32) -> bool {
        let c = self.column[to as usize];
        debug_assert!(c != NONE, "{to} is not a target");
        self.rows[from as usize * self.words + c as usize / 64] & (1 << (c % 64)) != 0
    }

    /// Whether adding edge `e` to the graph closes a cycle.
    pub(super) fn closes(&self, si: bool, e: &Edge) -> bool {
        if !si {
            self.reaches(e.to, e.from)
        } else if e.kind & !ANTI != 0 {
            self.reaches(2 * e.to, 2 * e.from) || self.reaches(2 * e.to, 2 * e.from + 1)
        } else {
            self.reaches(2 * e.to + 1, 2 * e.from)
        }
    }
}

/// The target states [`Closure::closes`] asks about for edges leaving `from`.
pub(super) fn targets_of(si: bool, from: u32, targets: &mut [bool]) {
    if si {
        targets[2 * from as usize] = true;
        targets[2 * from as usize + 1] = true;
    } else {
        targets[from as usize] = true;
    }
}

/// Buffers for finding cycles and paths, reused between searches.
#[derive(Debug, Default)]
pub(super) struct Walker {
    color: Vec<u8>,
    stack: Vec<(u32, u32)>,
    parent: Vec<(u32, Edge)>,
    queue: VecDeque<u32>,
}

const WHITE: u8 = 0;
const GREY: u8 = 1;
const BLACK: u8 = 2;

impl Walker {
    /// Some cycle of `layers` (its edges in order), looking first from `roots`, or `None`
    /// when the graph is acyclic. The cycle is then shortened: the shortest way back through
    /// its first edge that rests on a choice (or its first edge).
    pub(super) fn cycle(&mut self, layers: &Layers<'_>, roots: &[u32]) -> Option<Vec<Edge>> {
        let n = layers.states();
        self.color.clear();
        self.color.resize(n, WHITE);
        let mut found = None;
        for root in roots.iter().copied().chain(0..n as u32) {
            if self.color[root as usize] != WHITE {
                continue;
            }
            if let Some(c) = self.dfs(layers, root) {
                found = Some(c);
                break;
            }
        }
        let cycle = found?;
        let pick = cycle.iter().position(|e| e.tag != NO_TAG).unwrap_or(0);
        let first = cycle[pick];
        let from = cycle_state(layers, &cycle, pick);
        let next = layers.step(from, &first)?;
        match self.path(layers, next, from) {
            Some(mut rest) if rest.len() + 1 < cycle.len() => {
                rest.insert(0, first);
                Some(rest)
            }
            _ => {
                let mut cycle = cycle;
                cycle.rotate_left(pick);
                Some(cycle)
            }
        }
    }

    /// Depth-first from `root`; the edges of a cycle when a back edge is met.
    fn dfs(&mut self, layers: &Layers<'_>, root: u32) -> Option<Vec<Edge>> {
        self.stack.clear();
        self.color[root as usize] = GREY;
        self.stack.push((root, 0));
        // The edge by which each state on the stack was entered (parallel to the stack).
        let mut entered: Vec<Edge> = Vec::new();
        while let Some(&mut (s, ref mut pos)) = self.stack.last_mut() {
            let mut descend = None;
            while let Some(e) = layers.edge(s, *pos as usize) {
                *pos += 1;
                let Some(t) = layers.step(s, e) else {
                    continue;
                };
                match self.color[t as usize] {
                    WHITE => {
                        descend = Some((t, *e));
                        break;
                    }
                    GREY => {
                        let at = self
                            .stack
                            .iter()
                            .position(|&(x, _)| x == t)
                            .expect("a grey state is on the stack");
                        let mut cycle: Vec<Edge> = entered[at..].to_vec();
                        cycle.push(*e);
                        return Some(cycle);
                    }
                    _ => {}
                }
            }
            match descend {
                Some((t, e)) => {
                    self.color[t as usize] = GREY;
                    self.stack.push((t, 0));
                    entered.push(e);
                }
                None => {
                    self.color[s as usize] = BLACK;
                    self.stack.pop();
                    entered.pop();
                }
            }
        }
        None
    }

    /// The shortest path of steps from state `from` to state `to`, as edges.
    pub(super) fn path(&mut self, layers: &Layers<'_>, from: u32, to: u32) -> Option<Vec<Edge>> {
        self.path_within(layers, from, to, None)
    }

    /// [`Walker::path`] through the states of one component only (`component[s] == c`).
    pub(super) fn path_within(
        &mut self,
        layers: &Layers<'_>,
        from: u32,
        to: u32,
        within: Option<(&[u32], u32)>,
    ) -> Option<Vec<Edge>> {
        let n = layers.states();
        let unseen = (
            NONE,
            Edge {
                from: NONE,
                to: NONE,
                kind: 0,
                tag: NO_TAG,
            },
        );
        self.parent.clear();
        self.parent.resize(n, unseen);
        self.queue.clear();
        self.parent[from as usize].0 = from;
        self.queue.push_back(from);
        while let Some(s) = self.queue.pop_front() {
            if s == to {
                let mut edges = Vec::new();
                let mut x = to;
                while x != from {
                    let (p, e) = self.parent[x as usize];
                    edges.push(e);
                    x = p;
                }
                edges.reverse();
                return Some(edges);
            }
            let parent = &mut self.parent;
            let queue = &mut self.queue;
            layers.each_step(s, |t, e| {
                if within.is_some_and(|(component, c)| component[t as usize] != c) {
                    return;
                }
                if parent[t as usize].0 == NONE {
                    parent[t as usize] = (s, *e);
                    queue.push_back(t);
                }
            });
        }
        None
    }
}

/// The strongly connected components of `layers`' states (Tarjan, without recursion):
/// each state's component, and each component's size.
pub(super) fn components(layers: &Layers<'_>) -> (Vec<u32>, Vec<u32>) {
    tarjan(
        layers.states(),
        |_| 0,
        |v, pos| {
            while let Some(e) = layers.edge(v, *pos as usize) {
                *pos += 1;
                if let Some(w) = layers.step(v, e) {
                    return Some(w);
                }
            }
            None
        },
    )
}

/// The state from which edge `i` of a cycle (as found by [`Walker::dfs`]) leaves: the
/// state the previous edge led to.
fn cycle_state(layers: &Layers<'_>, cycle: &[Edge], i: usize) -> u32 {
    if !layers.si {
        return cycle[i].from;
    }
    let prev = &cycle[(i + cycle.len() - 1) % cycle.len()];
    if prev.kind & !ANTI != 0 {
        2 * prev.to
    } else {
        2 * prev.to + 1
    }
}
