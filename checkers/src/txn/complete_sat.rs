//! The SAT half of complete checking: one boolean per open write pair (true: its side 0,
//! the smaller version first), and acyclicity as a lazy theory of the batsat solver. Each
//! time the solver has a complete assignment, the theory lays the chosen sides' edges over
//! the known graph and looks for a cycle (plain, or in snapshot isolation's state graph);
//! a cycle becomes a lemma, the clause "not all of these choices", which the solver keeps
//! and learns from. The search stops at the deadline (undecided).
//!
//! This module must never prune or explain: it searches what [`super::complete`] hands it.

use std::time::Instant;

use batsat::{lbool, Callbacks, Lit, Solver, SolverInterface, SolverOpts, Theory, TheoryArg, Var};

use super::complete::Problem;
use super::complete_graph::{Csr, Edge, Layers, Walker, FORCED, NO_TAG};

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

/// Acyclicity of the known graph with the chosen sides' edges.
struct Acyclic<'a> {
    problem: &'a Problem,
    known: &'a Csr,
    open: &'a [u32],
    vars: Vec<Var>,
    /// Pair → its place in `open`.
    slot: Vec<u32>,
    edges: Vec<Edge>,
    chosen: Csr,
    roots: Vec<u32>,
    walker: Walker,
    lemma: Vec<Lit>,
    last: Option<Vec<Edge>>,
    conflicts: u64,
    levels: usize,
}

impl Theory for Acyclic<'_> {
    fn final_check(&mut self, acts: &mut TheoryArg) {
        let si = self.problem.si;
        self.edges.clear();
        self.roots.clear();
        for (i, &p) in self.open.iter().enumerate() {
            let side = u32::from(acts.value(self.vars[i]) != lbool::TRUE);
            let c = 2 * p + side;
            for e in self.problem.side(c) {
                self.edges.push(*e);
                self.roots.push(if si { 2 * e.from } else { e.from });
            }
        }
        self.chosen.build(self.problem.txns, self.edges.iter());
        let layers = Layers {
            si,
            known: self.known,
            chosen: Some(&self.chosen),
        };
        let Some(cycle) = self.walker.cycle(&layers, &self.roots) else {
            return;
        };
        self.lemma.clear();
        for e in &cycle {
            if e.tag != NO_TAG && e.tag & FORCED == 0 {
                let var = self.vars[self.slot[(e.tag / 2) as usize] as usize];
                // The choice made is the literal "side 0" or its negation; forbid it.
                self.lemma.push(!Lit::new(var, e.tag % 2 == 0));
            }
        }
        self.lemma.sort_unstable();
        self.lemma.dedup();
        debug_assert!(!self.lemma.is_empty(), "the known graph is acyclic");
        self.last = Some(cycle);
        if !self.lemma.is_empty() {
            self.conflicts += 1;
            acts.raise_conflict(&self.lemma, true);
        }
    }

    fn create_level(&mut self) {
        self.levels += 1;
    }

    fn pop_levels(&mut self, n: usize) {
        self.levels -= n;
    }

    fn n_levels(&self) -> usize {
        self.levels
    }

    fn explain_propagation(&mut self, _p: Lit) -> &[Lit] {
        // This theory never propagates.
        &[]
    }
}

/// Search for sides of the `open` pairs that keep the `known` graph acyclic, trying side 0
/// first where `first` says so; also the number of cycles the theory refuted.
pub(super) fn solve(
    problem: &Problem,
    known: &Csr,
    open: &[u32],
    first: &[bool],
    deadline: Option<Instant>,
) -> (SatResult, u64) {
    let mut solver = Solver::new(SolverOpts::default(), Deadline(deadline));
    let vars: Vec<Var> = first
        .iter()
        .map(|&f| solver.new_var(lbool::new(f), true))
        .collect();
    let mut slot = vec![u32::MAX; problem.pairs.len()];
    for (i, &p) in open.iter().enumerate() {
        slot[p as usize] = i as u32;
    }
    let mut theory = Acyclic {
        problem,
        known,
        open,
        vars,
        slot,
        edges: Vec::new(),
        chosen: Csr::default(),
        roots: Vec::new(),
        walker: Walker::default(),
        lemma: Vec::new(),
        last: None,
        conflicts: 0,
        levels: 0,
    };
    let result = solver.solve_limited_th(&mut theory, &[]);
    let conflicts = theory.conflicts;
    let result = if result == lbool::TRUE {
        SatResult::Sat(
            theory
                .vars
                .iter()
                .map(|&v| u8::from(solver.value_var(v) != lbool::TRUE))
                .collect(),
        )
    } else if result == lbool::FALSE {
        SatResult::Unsat(theory.last.take().unwrap_or_default())
    } else {
        SatResult::Unknown
    };
    (result, conflicts)
}
