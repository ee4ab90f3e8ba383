//! The SAT half of complete checking: one boolean per open write pair (true: its side 0,
//! the smaller version first), and acyclicity by lazy cycle cuts, as Cobra does: the batsat
//! solver finds an assignment; its chosen sides' edges are laid over the known graph, and
//! each strongly connected component (plain, or of snapshot isolation's state graph) yields
//! cycles, each through a chosen edge and as short as a breadth-first search makes it
//! (up to 256 a round, no two sharing a choice); each cycle becomes the clause "not all of
//! these choices". Repeat until an assignment leaves no cycle (valid) or the clauses leave
//! none (invalid). The search stops at the deadline (undecided).
//!
//! This module must never prune or explain: it searches what [`super::complete`] hands it.

use std::time::Instant;

use batsat::{lbool, Callbacks, Lit, Solver, SolverInterface, SolverOpts, Var};

use super::complete::Problem;
use super::complete_graph::{components, Csr, Edge, Layers, Walker, ANTI, FORCED, NO_TAG};

/// What the search concluded.
#[derive(Debug)]
pub(super) enum SatResult {
    /// The side chosen for each open pair, in order.
    Sat(Vec<u8>),
    /// No assignment is acyclic; the last cycle met.
    Unsat(Vec<Edge>),
    /// The deadline came first.
    Unknown,
}

/// Stops the solver at the deadline.
struct Deadline(Option<Instant>);

impl Callbacks for Deadline {
    fn stop(&self) -> bool {
        self.0.is_some_and(|d| Instant::now() >= d)
    }
}

/// How many cycles one round cuts at most.
const CUTS_PER_ROUND: usize = 256;

/// Search for sides of the `open` pairs that keep the `known` graph acyclic, trying side 0
/// first where `first` says so; also the number of cycles cut.
pub(super) fn solve(
    problem: &Problem,
    known: &Csr,
    open: &[u32],
    first: &[bool],
    deadline: Option<Instant>,
) -> (SatResult, u64) {
    let si = problem.si;
    let mut solver = Solver::new(SolverOpts::default(), Deadline(deadline));
    let vars: Vec<Var> = first
        .iter()
        .map(|&f| solver.new_var(lbool::new(f), true))
        .collect();
    let mut slot = vec![u32::MAX; problem.pairs.len()];
    for (i, &p) in open.iter().enumerate() {
        slot[p as usize] = i as u32;
    }
    let mut edges: Vec<Edge> = Vec::new();
    let mut chosen = Csr::default();
    let mut walker = Walker::default();
    let mut used = vec![false; open.len()];
    let mut clause: Vec<Lit> = Vec::new();
    let mut last: Option<Vec<Edge>> = None;
    let mut cuts = 0u64;
    loop {
        let result = solver.solve_limited(&[]);
        if result == lbool::FALSE {
            return (SatResult::Unsat(last.unwrap_or_default()), cuts);
        }
        if result != lbool::TRUE || Deadline(deadline).stop() {
            return (SatResult::Unknown, cuts);
        }
        let sides: Vec<u8> = vars
            .iter()
            .map(|&v| u8::from(solver.value_var(v) != lbool::TRUE))
            .collect();
        edges.clear();
        for (&p, &side) in open.iter().zip(&sides) {
            edges.extend_from_slice(problem.side(2 * p + u32::from(side)));
        }
        chosen.build(problem.txns, edges.iter());
        let layers = Layers {
            si,
            known,
            chosen: Some(&chosen),
        };
        let (component, size) = components(&layers);
        used.fill(false);
        let mut found = 0;
        for e in &edges {
            if found >= CUTS_PER_ROUND {
                break;
            }
            let at = slot[(e.tag / 2) as usize] as usize;
            if used[at] {
                continue;
            }
            let froms: &[u32] = if !si {
                &[e.from]
            } else if e.kind & !ANTI != 0 {
                &[2 * e.from, 2 * e.from + 1]
            } else {
                &[2 * e.from]
            };
            for &from in froms {
                let Some(to) = layers.step(from, e) else {
                    continue;
                };
                let c = component[from as usize];
                if component[to as usize] != c || size[c as usize] < 2 {
                    continue;
                }
                let Some(back) = walker.path_within(&layers, to, from, Some((&component, c)))
                else {
                    continue;
                };
                let mut cycle = vec![*e];
                cycle.extend(back);
                clause.clear();
                for e in &cycle {
                    if e.tag != NO_TAG && e.tag & FORCED == 0 {
                        let at = slot[(e.tag / 2) as usize] as usize;
                        used[at] = true;
                        // The choice made is "side 0" or its negation; forbid it.
                        clause.push(!Lit::new(vars[at], e.tag % 2 == 0));
                    }
                }
                clause.sort_unstable();
                clause.dedup();
                solver.add_clause_reuse(&mut clause);
                last = Some(cycle);
                found += 1;
                cuts += 1;
                break;
            }
        }
        if found == 0 {
            return (SatResult::Sat(sides), cuts);
        }
    }
}
