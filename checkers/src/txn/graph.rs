//! The transaction dependency graph: dense txn numbers as vertices, edges labelled with a
//! set of kinds (ww, wr, rw, process, real-time) in one flat adjacency array, and an
//! iterative Tarjan for its strongly connected components.
//!
//! Each edge is one `u32`: the other end, with the kinds packed into its top bits. The
//! dependency graph is built by [`ReverseBuilder`] one txn at a time from the edges *into*
//! it, straight into the adjacency array (so the graph held is the reverse one, which has
//! the same components and the same cycles read backwards); small graphs (a component,
//! version orders) are grouped from an [`EdgeList`] by a counting sort. Parallel edges
//! between the same two txns merge into one whose kinds are the union. Nothing is
//! allocated per edge.
//!
//! This module must never know what a txn reads or writes: it is only a graph.

/// A write followed by a later write of the same key.
pub(crate) const WW: u8 = 1;
/// A write read by a later read.
pub(crate) const WR: u8 = 2;
/// A read followed by a write it did not see (an anti-dependency).
pub(crate) const RW: u8 = 4;
/// The same process ran one txn and then the other.
pub(crate) const PROCESS: u8 = 8;
/// One txn completed before the other was invoked.
pub(crate) const REALTIME: u8 = 16;
/// An rw edge that holds only because a session's own writes order a key's versions (see
/// `versions`): true, or else a G0-process cycle exists. Only the `-process` and
/// `-realtime` searches use it, and a cycle through it is at least a `-process` anomaly.
pub(crate) const SESSION_RW: u8 = 32;
/// The data dependencies.
pub(crate) const DATA: u8 = WW | WR | RW;

const KIND_SHIFT: u32 = 26;
const TARGET_MASK: u32 = (1 << KIND_SHIFT) - 1;
/// The most txns a graph holds (the kinds share a word with the target).
pub(crate) const MAX_VERTICES: usize = TARGET_MASK as usize;

/// The one kind an edge counts as within a set of allowed kinds: the first of ww, wr, rw,
/// session rw, process, real-time that it has. An edge that is both ww and rw is a ww edge, as in
/// Elle, so a cycle is always classified as the weakest anomaly its edges allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Label {
    Ww,
    Wr,
    Rw,
    /// An rw edge resting on a session's order (see [`SESSION_RW`]): counts as rw and as
    /// process when a cycle is classified.
    SessionRw,
    Process,
    Realtime,
}

impl Label {
    /// The label of an edge with `kinds` when only `mask` may be used.
    #[inline]
    pub(crate) fn of(kinds: u8, mask: u8) -> Option<Label> {
        let k = kinds & mask;
        if k == 0 {
            None
        } else if k & WW != 0 {
            Some(Label::Ww)
        } else if k & WR != 0 {
            Some(Label::Wr)
        } else if k & RW != 0 {
            Some(Label::Rw)
        } else if k & SESSION_RW != 0 {
            Some(Label::SessionRw)
        } else if k & PROCESS != 0 {
            Some(Label::Process)
        } else {
            Some(Label::Realtime)
        }
    }

    /// Whether the edge is an anti-dependency (rw, of either kind).
    #[inline]
    pub(crate) fn is_rw(self) -> bool {
        matches!(self, Label::Rw | Label::SessionRw)
    }

    /// Whether the edge stands for (or rests on) a process's order.
    #[inline]
    pub(crate) fn is_process(self) -> bool {
        matches!(self, Label::Process | Label::SessionRw)
    }

    /// `ww`, `wr`, `rw`, `process` or `realtime`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Label::Ww => "ww",
            Label::Wr => "wr",
            Label::Rw | Label::SessionRw => "rw",
            Label::Process => "process",
            Label::Realtime => "realtime",
        }
    }
}

display_by_name!(Label, name);

/// Edges as they are found, before grouping.
#[derive(Debug, Default)]
pub(crate) struct EdgeList {
    from: Vec<u32>,
    to: Vec<u32>,
}

impl EdgeList {
    pub(crate) fn with_capacity(n: usize) -> EdgeList {
        EdgeList {
            from: Vec::with_capacity(n),
            to: Vec::with_capacity(n),
        }
    }

    /// Add `from → to` of `kind` (no self edges: they are dropped).
    #[inline]
    pub(crate) fn push(&mut self, from: u32, to: u32, kind: u8) {
        if from != to {
            self.from.push(from);
            self.to.push(to | (u32::from(kind) << KIND_SHIFT));
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.from.len()
    }
}

/// A graph in compressed sparse rows: the out-edges of `v` are
/// `targets[offsets[v]..offsets[v + 1]]`, each a target with its kinds.
#[derive(Debug, Default)]
pub(crate) struct Graph {
    offsets: Vec<u32>,
    targets: Vec<u32>,
}

impl Graph {
    /// Group `edges` over `vertices` vertices, merging parallel edges.
    pub(crate) fn build(vertices: usize, edges: EdgeList) -> Graph {
        assert!(vertices <= MAX_VERTICES, "too many txns for one graph");
        let mut offsets = vec![0u32; vertices + 1];
        for &from in &edges.from {
            offsets[from as usize + 1] += 1;
        }
        for v in 0..vertices {
            offsets[v + 1] += offsets[v];
        }
        let mut cursor: Vec<u32> = offsets[..vertices].to_vec();
        let mut targets = vec![0u32; edges.len()];
        let EdgeList { from, to } = edges;
        for (f, t) in from.into_iter().zip(to) {
            let slot = &mut cursor[f as usize];
            targets[*slot as usize] = t;
            *slot += 1;
        }
        drop(cursor);
        // Sort each row by target and merge parallel edges, compacting in place.
        let mut write = 0usize;
        let mut start = 0usize;
        for v in 0..vertices {
            let end = offsets[v + 1] as usize;
            let row = &mut targets[start..end];
            row.sort_unstable_by_key(|t| t & TARGET_MASK);
            let row_start = write;
            for i in start..end {
                let t = targets[i];
                if write > row_start && targets[write - 1] & TARGET_MASK == t & TARGET_MASK {
                    targets[write - 1] |= t;
                } else {
                    targets[write] = t;
                    write += 1;
                }
            }
            offsets[v] = row_start as u32;
            start = end;
        }
        offsets[vertices] = write as u32;
        targets.truncate(write);
        targets.shrink_to_fit();
        Graph { offsets, targets }
    }

    pub(crate) fn vertices(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub(crate) fn edge_count(&self) -> usize {
        self.targets.len()
    }

    /// The out-edges of `v`: `(target, kinds)`.
    #[inline]
    pub(crate) fn out(&self, v: u32) -> impl Iterator<Item = (u32, u8)> + '_ {
        let row =
            &self.targets[self.offsets[v as usize] as usize..self.offsets[v as usize + 1] as usize];
        row.iter()
            .map(|&t| (t & TARGET_MASK, (t >> KIND_SHIFT) as u8))
    }

    /// The kinds of the edge `from → to`, 0 when there is none.
    pub(crate) fn kinds(&self, from: u32, to: u32) -> u8 {
        let row = &self.targets
            [self.offsets[from as usize] as usize..self.offsets[from as usize + 1] as usize];
        row.binary_search_by_key(&to, |t| t & TARGET_MASK)
            .map_or(0, |i| (row[i] >> KIND_SHIFT) as u8)
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> usize {
        (self.offsets.capacity() + self.targets.capacity()) * 4
    }

    /// The subgraph on `members` (sorted global vertex numbers), renumbered
    /// `0..members.len()` in that order; edges leaving the set are dropped.
    pub(crate) fn induced(&self, members: &[u32]) -> Graph {
        let mut edges = EdgeList::default();
        for (i, &v) in members.iter().enumerate() {
            for (w, kinds) in self.out(v) {
                if let Ok(local) = members.binary_search(&w) {
                    edges.push(i as u32, local as u32, kinds);
                }
            }
        }
        Graph::build(members.len(), edges)
    }
}

/// Builds a graph one vertex at a time from the edges *into* each vertex, in vertex order,
/// straight into the flat adjacency array: the graph built is the reverse of the one
/// described (its out-edges are the in-edges pushed). Strongly connected components, and
/// cycles read backwards, are the same in both.
#[derive(Debug)]
pub(crate) struct ReverseBuilder {
    offsets: Vec<u32>,
    targets: Vec<u32>,
}

impl ReverseBuilder {
    /// A builder for `vertices` vertices, with room for about `edges` edges.
    pub(crate) fn new(vertices: usize, edges: usize) -> ReverseBuilder {
        assert!(vertices <= MAX_VERTICES, "too many txns for one graph");
        let mut offsets = Vec::with_capacity(vertices + 1);
        offsets.push(0);
        ReverseBuilder {
            offsets,
            targets: Vec::with_capacity(edges),
        }
    }

    /// The vertex whose in-edges are being pushed.
    pub(crate) fn current(&self) -> u32 {
        self.offsets.len() as u32 - 1
    }

    /// Add the edge `from → current` of `kind` (a self edge is dropped).
    #[inline]
    pub(crate) fn edge_from(&mut self, from: u32, kind: u8) {
        if from != self.current() {
            self.targets.push(from | (u32::from(kind) << KIND_SHIFT));
        }
    }

    /// Close the current vertex (merging parallel edges) and move to the next.
    pub(crate) fn next_vertex(&mut self) {
        let start = *self.offsets.last().expect("an offset") as usize;
        let row = &mut self.targets[start..];
        if row.len() > 1 {
            row.sort_unstable_by_key(|t| t & TARGET_MASK);
            let mut write = start;
            for i in start..self.targets.len() {
                let t = self.targets[i];
                if write > start && self.targets[write - 1] & TARGET_MASK == t & TARGET_MASK {
                    self.targets[write - 1] |= t;
                } else {
                    self.targets[write] = t;
                    write += 1;
                }
            }
            self.targets.truncate(write);
        }
        self.offsets.push(self.targets.len() as u32);
    }

    /// The graph, once every vertex is closed.
    pub(crate) fn finish(self) -> Graph {
        Graph {
            offsets: self.offsets,
            targets: self.targets,
        }
    }
}

/// Strongly connected components of the edges whose kinds meet `mask`.
#[derive(Debug)]
pub(crate) struct Components {
    /// Component number of each vertex, in Tarjan's order (reverse topological).
    pub component: Vec<u32>,
    /// Size of each component.
    pub size: Vec<u32>,
}

impl Components {
    /// Whether `v` lies on some cycle.
    pub(crate) fn cyclic(&self, v: u32) -> bool {
        self.size[self.component[v as usize] as usize] > 1
    }

    /// Whether any component has more than one vertex.
    pub(crate) fn any_cycle(&self) -> bool {
        self.size.iter().any(|&s| s > 1)
    }

    /// The vertices of every component with more than one vertex, each list sorted.
    pub(crate) fn nontrivial(&self) -> Vec<Vec<u32>> {
        let mut slot = vec![u32::MAX; self.size.len()];
        let mut groups: Vec<Vec<u32>> = Vec::new();
        for (v, &c) in self.component.iter().enumerate() {
            if self.size[c as usize] > 1 {
                if slot[c as usize] == u32::MAX {
                    slot[c as usize] = groups.len() as u32;
                    groups.push(Vec::with_capacity(self.size[c as usize] as usize));
                }
                groups[slot[c as usize] as usize].push(v as u32);
            }
        }
        groups
    }
}

/// Tarjan's algorithm without recursion, over edges whose kinds meet `mask`.
pub(crate) fn components(graph: &Graph, mask: u8) -> Components {
    let (component, size) = tarjan(
        graph.vertices(),
        |v| graph.offsets[v as usize],
        |v, pos| {
            let end = graph.offsets[v as usize + 1];
            while *pos < end {
                let t = graph.targets[*pos as usize];
                *pos += 1;
                if (t >> KIND_SHIFT) as u8 & mask != 0 {
                    return Some(t & TARGET_MASK);
                }
            }
            None
        },
    );
    Components { component, size }
}

/// The strongly connected components of a graph of `n` vertices (Tarjan's algorithm,
/// without recursion): each vertex's component, and each component's size.
///
/// The graph is given by a cursor over each vertex's successors: `first(v)` is where
/// `v`'s cursor starts, and `next(v, &mut pos)` moves it on and gives the next
/// successor, or `None` when there are no more.
pub(super) fn tarjan(
    n: usize,
    first: impl Fn(u32) -> u32,
    mut next: impl FnMut(u32, &mut u32) -> Option<u32>,
) -> (Vec<u32>, Vec<u32>) {
    const UNSEEN: u32 = u32::MAX;
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut component = vec![UNSEEN; n];
    let mut size: Vec<u32> = Vec::new();
    let mut stack: Vec<u32> = Vec::new();
    // (vertex, its cursor: where to look for its next successor)
    let mut calls: Vec<(u32, u32)> = Vec::new();
    let mut next_index = 0u32;
    for root in 0..n as u32 {
        if index[root as usize] != UNSEEN {
            continue;
        }
        let mut visit = Some(root);
        loop {
            if let Some(w) = visit.take() {
                index[w as usize] = next_index;
                low[w as usize] = next_index;
                next_index += 1;
                stack.push(w);
                on_stack[w as usize] = true;
                calls.push((w, first(w)));
            }
            let Some(&mut (v, ref mut pos)) = calls.last_mut() else {
                break;
            };
            while let Some(w) = next(v, pos) {
                if index[w as usize] == UNSEEN {
                    visit = Some(w);
                    break;
                } else if on_stack[w as usize] {
                    low[v as usize] = low[v as usize].min(index[w as usize]);
                }
            }
            if visit.is_some() {
                continue;
            }
            calls.pop();
            if low[v as usize] == index[v as usize] {
                let c = size.len() as u32;
                let mut count = 0;
                while let Some(w) = stack.pop() {
                    on_stack[w as usize] = false;
                    component[w as usize] = c;
                    count += 1;
                    if w == v {
                        break;
                    }
                }
                size.push(count);
            }
            if let Some(&(parent, _)) = calls.last() {
                low[parent as usize] = low[parent as usize].min(low[v as usize]);
            }
        }
    }
    (component, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_edges_merge_and_rows_sort() {
        let mut e = EdgeList::default();
        e.push(0, 2, WW);
        e.push(0, 1, RW);
        e.push(0, 2, REALTIME);
        e.push(1, 1, WW);
        let g = Graph::build(3, e);
        assert_eq!(
            g.out(0).collect::<Vec<_>>(),
            vec![(1, RW), (2, WW | REALTIME)]
        );
        assert_eq!(g.out(1).count(), 0);
        assert_eq!(g.kinds(0, 2), WW | REALTIME);
        assert_eq!(g.kinds(2, 0), 0);
    }

    #[test]
    fn the_reverse_builder_merges_and_reverses() {
        let mut b = ReverseBuilder::new(3, 4);
        b.next_vertex(); // nothing into 0
        b.edge_from(2, WW);
        b.edge_from(0, RW);
        b.edge_from(2, REALTIME);
        b.edge_from(1, WW);
        b.next_vertex(); // into 1: 2 (ww, realtime) and 0 (rw)
        b.edge_from(0, WR);
        b.next_vertex();
        let g = b.finish();
        assert_eq!(
            g.out(1).collect::<Vec<_>>(),
            vec![(0, RW), (2, WW | REALTIME)]
        );
        assert_eq!(g.out(2).collect::<Vec<_>>(), vec![(0, WR)]);
        assert_eq!(g.vertices(), 3);
    }

    #[test]
    fn components_respect_the_mask() {
        // 0 -ww-> 1 -rw-> 0, and 1 -ww-> 2 -ww-> 1.
        let mut e = EdgeList::default();
        e.push(0, 1, WW);
        e.push(1, 0, RW);
        e.push(1, 2, WW);
        e.push(2, 1, WW);
        let g = Graph::build(4, e);
        let all = components(&g, DATA);
        assert_eq!(all.nontrivial(), vec![vec![0, 1, 2]]);
        let ww = components(&g, WW);
        assert_eq!(ww.nontrivial(), vec![vec![1, 2]]);
        assert!(!ww.cyclic(0) && ww.cyclic(2) && !ww.cyclic(3));
        let sub = g.induced(&[1, 2]);
        assert_eq!(sub.out(0).collect::<Vec<_>>(), vec![(1, WW)]);
    }

    #[test]
    fn a_long_chain_does_not_recurse() {
        let n = 200_000u32;
        let mut e = EdgeList::default();
        for v in 0..n - 1 {
            e.push(v, v + 1, WW);
        }
        e.push(n - 1, 0, WR);
        let g = Graph::build(n as usize, e);
        assert_eq!(components(&g, WW | WR).nontrivial()[0].len(), n as usize);
        assert!(!components(&g, WW).any_cycle());
    }
}
