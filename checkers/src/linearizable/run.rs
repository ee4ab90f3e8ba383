//! The `linearizable` checker: options and budget, the split into partitions, the
//! parallel search of the partitions, and the verdict with its counterexample.
//!
//! This file must never decide what an op means (the model does) nor how one partition is
//! searched (`search.rs` does); it only orchestrates and explains.

use std::time::Duration;

use rayon::prelude::*;
use serde_json::{json, Value};

use crate::checker::{CheckResult, Checker, Validity};
use crate::history::History;
use crate::models::{self, AnyModel, Model, ModelError, ValueSemantics};

use super::counterexample::{describe_call, Attempt, Counterexample};
use super::prepare::{key_value, prepare, Part, Prepared, SCall, NEVER};
use super::search::{search, Budget, Failure, Outcome, ProcessMemory, Spec, Workspace};
use super::unique::{self, Decision, Violation};
use crate::fxhash::FxHashMap;

/// Below this many calls the partitions are searched on the calling thread: handing tiny
/// searches to a thread pool costs more than it saves.
const PARALLEL_MIN_CALLS: usize = 4096;
/// How many invalid partitions the reasons name.
const NAMED_FAILURES: usize = 5;
/// The first round's step allowance per part (see [`search_rounds`]): enough for most
/// keys of a few thousand ops to be decided in the first round.
const FIRST_ROUND_STEPS: u64 = 1 << 16;
/// How long the searches that picture the unique-values path's refutations may take in all.
const EXPLAIN_TIME: Duration = Duration::from_millis(300);
/// And how much memory their memo tables may take.
const EXPLAIN_MEMORY: u64 = 256 << 20;

/// The search's budget and strategy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchOptions {
    /// Give up with `unknown` after this long (`None` = never).
    pub timeout: Option<Duration>,
    /// Give up with `unknown` when the memo tables of the running searches hold about this
    /// many bytes (`None` = no limit).
    pub memory_limit_bytes: Option<u64>,
    /// Check each key on its own (P-compositionality); `false` is `--no-partition`.
    pub partition: bool,
    /// Worker threads for the partitions (`None` = all cores).
    pub threads: Option<usize>,
    /// Decide keys whose values are each written once with the polynomial unique-values
    /// path (`false` = search every key, for comparison).
    pub unique_values: bool,
    /// The process's resident memory: with it, `memory_limit_bytes` holds for the whole
    /// process (`None` = for the memo tables only).
    pub process_memory: Option<ProcessMemory>,
}

impl Default for SearchOptions {
    /// 60 s, 2 GiB, partitioned by key, all cores.
    fn default() -> Self {
        SearchOptions {
            timeout: Some(Duration::from_secs(60)),
            memory_limit_bytes: Some(2 << 30),
            partition: true,
            threads: None,
            unique_values: true,
            process_memory: None,
        }
    }
}

/// The linearizability checker for one of the built-in models.
#[derive(Debug, Clone)]
pub struct Linearizable {
    model: AnyModel,
    options: SearchOptions,
}

impl Linearizable {
    /// A checker for the model called `model` (see [`models::MODEL_NAMES`]), every key
    /// starting at `initial` (`None` = the model's default).
    pub fn new(model: &str, initial: Option<Value>) -> Result<Linearizable, ModelError> {
        Ok(Linearizable {
            model: models::by_name(model, initial)?,
            options: SearchOptions::default(),
        })
    }

    /// The same checker with other search options.
    pub fn with_options(mut self, options: SearchOptions) -> Linearizable {
        self.options = options;
        self
    }

    /// Its search options.
    pub fn options(&self) -> &SearchOptions {
        &self.options
    }

    /// The model's name.
    pub fn model_name(&self) -> &str {
        self.model.name()
    }
}

impl Checker for Linearizable {
    fn name(&self) -> &str {
        "linearizable"
    }

    fn check(&self, history: &History) -> CheckResult {
        let o = &self.options;
        match &self.model {
            AnyModel::Register(m) => check_history(m, history, o),
            AnyModel::CasRegister(m) => check_history(m, history, o),
            AnyModel::Kv(m) => check_history(m, history, o),
            AnyModel::Mutex(m) => check_history(m, history, o),
            AnyModel::FifoQueue(m) => check_history(m, history, o),
            AnyModel::Set(m) => check_history(m, history, o),
        }
    }
}

/// Check that `history` is linearizable with respect to `model` (any [`Model`], your own
/// included). The result's checker name is `linearizable`.
///
/// Keys whose values are each written once are decided by the polynomial unique-values
/// path (see [`super::unique`]); the others by the search, smallest keys first, in rounds
/// of growing step allowances so that one hard key cannot hold up the refutation of an
/// easy one. The first key proven invalid stops every other search, and the result names
/// the keys left undecided.
pub fn check_history<M: Model>(
    model: &M,
    history: &History,
    options: &SearchOptions,
) -> CheckResult {
    let prepared = match prepare(model, history, options.partition) {
        Ok(p) => p,
        Err(e) => {
            return CheckResult::uncheckable("linearizable", &e)
                .details(json!({"model": model.name(), "error": e}))
        }
    };
    let budget = Budget::new(options.timeout, options.memory_limit_bytes)
        .for_process(options.process_memory.clone());
    let mixed = prepared.parts.iter().any(|p| p.key.is_none());
    if mixed {
        let spec = AllKeys(model, prepared.init.clone());
        let init = vec![0u32; prepared.keys.len()];
        let todo: Vec<usize> = (0..prepared.parts.len()).collect();
        let verdicts = search_rounds(&spec, &init, &prepared.parts, todo, &budget, options);
        let describe = |s: &Vec<M::State>| describe_keys(model, &prepared, s);
        verdict(
            model, history, &prepared, verdicts, &budget, options, &describe,
        )
    } else {
        let spec = PerKey(model);
        let mut verdicts = match model.value_semantics().filter(|_| options.unique_values) {
            Some(semantics) => decide_unique(model, &semantics, history, &prepared, options),
            None => (0..prepared.parts.len())
                .map(|_| PartVerdict::Search("the model has no unique-values view"))
                .collect(),
        };
        let refuted = verdicts
            .iter()
            .any(|v| matches!(v, PartVerdict::Refuted(..)));
        let unique_decided = verdicts
            .iter()
            .filter(|v| !matches!(v, PartVerdict::Search(_)))
            .count();
        let todo: Vec<usize> = (0..verdicts.len())
            .filter(|&i| matches!(verdicts[i], PartVerdict::Search(_)))
            .collect();
        if refuted {
            explain_refutations(&spec, &prepared, &mut verdicts);
        } else {
            let searched = search_rounds(
                &spec,
                &prepared.init,
                &prepared.parts,
                todo,
                &budget,
                options,
            );
            for (verdict, new) in verdicts.iter_mut().zip(searched) {
                *verdict = match (std::mem::replace(verdict, PartVerdict::Valid), new) {
                    (old, PartVerdict::Search(_)) => old,
                    (PartVerdict::Search(why), PartVerdict::Undecided { depth, .. }) => {
                        PartVerdict::Undecided { depth, why }
                    }
                    (_, new) => new,
                };
            }
        }
        let describe = |s: &M::State| model.describe_state(s, &prepared.values);
        let mut result = verdict(
            model, history, &prepared, verdicts, &budget, options, &describe,
        );
        result.details["unique_values_keys"] = json!(unique_decided);
        result
    }
}

/// Where one part (key) stands.
#[derive(Debug)]
enum PartVerdict<S> {
    Valid,
    /// The search found no linearization.
    Invalid(Failure<S>),
    /// The unique-values path proved it invalid; with the failure a short search found
    /// for the report's picture, if it found one in time.
    Refuted(Violation, Option<Failure<S>>),
    /// The search stopped without a verdict, having linearized at most `depth` calls; the
    /// unique-values path did not apply, for the reason `why`.
    Undecided {
        depth: usize,
        why: &'static str,
    },
    /// Not decided yet (nor by the end, when another key was proven invalid first):
    /// the unique-values path did not apply, for this reason.
    Search(&'static str),
}

/// For the first keys the unique-values path refuted, a short search for the failure
/// the report pictures (the longest linearizable prefixes): the path proves, the search
/// illustrates. Bounded by [`EXPLAIN_TIME`] in all, so a hard key only loses its picture.
fn explain_refutations<M: Model>(
    spec: &PerKey<'_, M>,
    prepared: &Prepared<M>,
    verdicts: &mut [PartVerdict<M::State>],
) {
    let budget = Budget::new(Some(EXPLAIN_TIME), Some(EXPLAIN_MEMORY));
    let mut ws = Workspace::default();
    let refuted = verdicts
        .iter_mut()
        .enumerate()
        .filter(|(_, v)| matches!(v, PartVerdict::Refuted(..)))
        .take(NAMED_FAILURES);
    for (i, verdict) in refuted {
        if let PartVerdict::Refuted(_, picture) = verdict {
            let part = &prepared.parts[i];
            if let Outcome::Invalid(f) =
                search(spec, prepared.init.clone(), part, &budget, &mut ws, None)
            {
                *picture = Some(f);
            }
        }
    }
}

/// The unique-values path over every part, in parallel when there is enough work.
fn decide_unique<M: Model, S>(
    model: &M,
    semantics: &ValueSemantics,
    history: &History,
    prepared: &Prepared<M>,
    options: &SearchOptions,
) -> Vec<PartVerdict<S>> {
    let decide_part = |part: &Part<M::Input, M::Output>| {
        let name = |c: u32| name_call(model, history, &part.calls[c as usize]);
        unique::decide(model, semantics, history, part, &name)
    };
    let calls: usize = prepared.parts.iter().map(|p| p.calls.len()).sum();
    let decisions: Vec<Decision> =
        if prepared.parts.len() < 2 || calls < PARALLEL_MIN_CALLS || options.threads == Some(1) {
            prepared.parts.iter().map(decide_part).collect()
        } else {
            in_pool(options, || {
                prepared.parts.par_iter().map(decide_part).collect()
            })
        };
    decisions
        .into_iter()
        .map(|d| match d {
            Decision::Valid => PartVerdict::Valid,
            Decision::Invalid(v) => PartVerdict::Refuted(v, None),
            Decision::Search(why) => PartVerdict::Search(why),
        })
        .collect()
}

/// `#index (process 3, read key 1 -> 5)`.
fn name_call<M: Model, I, O>(model: &M, history: &History, call: &SCall<I, O>) -> String {
    let completion = (call.ret != NEVER).then_some(call.ret as usize);
    format!(
        "#{} ({})",
        history.ops[call.invoke as usize].index,
        describe_call(model, history, call.invoke as usize, completion)
    )
}

/// Run `work` on the thread pool the options ask for.
fn in_pool<T: Send>(options: &SearchOptions, work: impl FnOnce() -> T + Send) -> T {
    match options.threads {
        Some(n) => match rayon::ThreadPoolBuilder::new().num_threads(n).build() {
            Ok(pool) => pool.install(work),
            Err(_) => work(),
        },
        None => work(),
    }
}

/// One key's model, as the search's [`Spec`].
struct PerKey<'m, M>(&'m M);

impl<M: Model> Spec for PerKey<'_, M> {
    type State = M::State;
    type Input = M::Input;
    type Output = M::Output;
    type Scratch = ();
    type Shown = M::State;
    fn scratch(&self, _: &M::State) {}
    #[inline]
    fn step(
        &self,
        _: &mut (),
        state: &M::State,
        call: &SCall<M::Input, M::Output>,
    ) -> Option<M::State> {
        self.0.step(state, &call.input, call.output.as_ref())
    }
    fn heap_bytes(&self, _: &(), state: &M::State, _: &SCall<M::Input, M::Output>) -> usize {
        self.0.state_heap_bytes(state)
    }
    fn show(&self, _: &(), state: &M::State) -> M::State {
        state.clone()
    }
}

/// Every key's model at once (`--no-partition`). A state is one id per key into a
/// per-search table of the keys' distinct states, so stepping, hashing and storing a
/// state copies a few integers however large the keys' states are.
/// The model's initial state is id 0.
struct AllKeys<'m, M: Model>(&'m M, M::State);

/// The distinct per-key states one unsplit search has met, by id.
struct StateTable<S> {
    states: Vec<S>,
    ids: FxHashMap<S, u32>,
    /// Heap bytes the last [`StateTable::id`] added (0 when the state was known).
    added: usize,
}

impl<S: Clone + Eq + std::hash::Hash> StateTable<S> {
    fn id(&mut self, state: S, heap: impl FnOnce(&S) -> usize) -> u32 {
        if let Some(&id) = self.ids.get(&state) {
            self.added = 0;
            return id;
        }
        let id = self.states.len() as u32;
        self.added = heap(&state) + 2 * std::mem::size_of::<S>() + 16;
        self.states.push(state.clone());
        self.ids.insert(state, id);
        id
    }
}

impl<M: Model> Spec for AllKeys<'_, M> {
    type State = Vec<u32>;
    type Input = M::Input;
    type Output = M::Output;
    type Scratch = StateTable<M::State>;
    type Shown = Vec<M::State>;
    /// Every key starts at id 0, the model's initial state: `init` must be all zeros.
    fn scratch(&self, _: &Vec<u32>) -> StateTable<M::State> {
        let mut table = StateTable {
            states: Vec::new(),
            ids: FxHashMap::default(),
            added: 0,
        };
        table.id(self.1.clone(), |_| 0);
        table
    }
    #[inline]
    fn step(
        &self,
        table: &mut StateTable<M::State>,
        state: &Vec<u32>,
        call: &SCall<M::Input, M::Output>,
    ) -> Option<Vec<u32>> {
        let key = call.key as usize;
        let before = &table.states[state[key] as usize];
        let after = self.0.step(before, &call.input, call.output.as_ref())?;
        let id = table.id(after, |s| self.0.state_heap_bytes(s));
        let mut next = state.clone();
        next[key] = id;
        Some(next)
    }
    /// The ids, and the stepped key's state if the table met it just now.
    fn heap_bytes(
        &self,
        table: &StateTable<M::State>,
        state: &Vec<u32>,
        _: &SCall<M::Input, M::Output>,
    ) -> usize {
        state.len() * 4 + 16 + table.added
    }
    fn show(&self, table: &StateTable<M::State>, state: &Vec<u32>) -> Vec<M::State> {
        state
            .iter()
            .map(|&id| table.states[id as usize].clone())
            .collect()
    }
}

fn describe_keys<M: Model>(model: &M, prepared: &Prepared<M>, states: &[M::State]) -> String {
    let changed: Vec<String> = states
        .iter()
        .enumerate()
        .filter(|(_, s)| **s != prepared.init)
        .map(|(k, s)| {
            let key = prepared.keys.describe(k as u32);
            format!("{key}: {}", model.describe_state(s, &prepared.values))
        })
        .collect();
    format!("{{{}}}", changed.join(", "))
}

/// Search the parts `todo` (indices into `parts`), smallest first. While more than one is
/// left, each round gives every part the same step allowance, eight times the last one's;
/// a part that runs out of it is searched again from scratch in the next round (at most
/// about 1/7 more work in all), so a part that is quick to refute is never stuck behind
/// a hard one, on any number of cores. Returns a verdict for every index of `parts`
/// (`Search` for those not in `todo`).
fn search_rounds<S: Spec>(
    spec: &S,
    init: &S::State,
    parts: &[Part<S::Input, S::Output>],
    mut todo: Vec<usize>,
    budget: &Budget,
    options: &SearchOptions,
) -> Vec<PartVerdict<S::Shown>> {
    let mut verdicts: Vec<PartVerdict<S::Shown>> = (0..parts.len())
        .map(|_| PartVerdict::Search("not searched"))
        .collect();
    todo.sort_by_key(|&i| parts[i].calls.len());
    let mut allowance = FIRST_ROUND_STEPS;
    while !todo.is_empty() {
        let steps = (todo.len() > 1).then_some(allowance);
        let work = |ws: &mut Workspace<S::State>, &i: &usize| {
            if budget.stopped() {
                return Outcome::Stopped { depth: 0 };
            }
            let outcome = search(spec, init.clone(), &parts[i], budget, ws, steps);
            if matches!(outcome, Outcome::Invalid(_)) {
                budget.stop();
            }
            outcome
        };
        let calls: usize = todo.iter().map(|&i| parts[i].calls.len()).sum();
        let outcomes: Vec<Outcome<S::Shown>> =
            if todo.len() < 2 || calls < PARALLEL_MIN_CALLS || options.threads == Some(1) {
                let mut ws = Workspace::default();
                todo.iter().map(|i| work(&mut ws, i)).collect()
            } else {
                in_pool(options, || {
                    todo.par_iter().map_init(Workspace::default, work).collect()
                })
            };
        let mut paused = Vec::new();
        for (&i, outcome) in todo.iter().zip(outcomes) {
            verdicts[i] = match outcome {
                Outcome::Valid => PartVerdict::Valid,
                Outcome::Invalid(f) => PartVerdict::Invalid(f),
                Outcome::Stopped { depth } => PartVerdict::Undecided { depth, why: "" },
                Outcome::Paused { depth } if budget.stopped() => {
                    PartVerdict::Undecided { depth, why: "" }
                }
                Outcome::Paused { depth } => {
                    paused.push(i);
                    PartVerdict::Undecided { depth, why: "" }
                }
            };
        }
        todo = paused;
        allowance = allowance.saturating_mul(8);
    }
    verdicts
}

#[allow(clippy::too_many_arguments)]
fn verdict<M: Model, S>(
    model: &M,
    history: &History,
    prepared: &Prepared<M>,
    verdicts: Vec<PartVerdict<S>>,
    budget: &Budget,
    options: &SearchOptions,
    describe_state: &dyn Fn(&S) -> String,
) -> CheckResult {
    let mut details = json!({
        "model": model.name(),
        "ops": prepared.calls,
        "failed_ops": prepared.failed,
        "dropped_unknown_reads": prepared.dropped_reads,
        "partitions": prepared.parts.len(),
        "partitioned": options.partition,
        "memo_peak_bytes": budget.peak_memory(),
        "budget_exhausted": budget.exhausted(),
    });
    let key_of = |part: usize| {
        prepared.parts[part]
            .key
            .and_then(|k| key_value(&prepared.keys, k))
    };
    let mut failures = Vec::new();
    let mut undecided = Vec::new();
    for (i, v) in verdicts.into_iter().enumerate() {
        match v {
            PartVerdict::Valid => {}
            PartVerdict::Invalid(f) => failures.push((i, None, Some(f))),
            PartVerdict::Refuted(violation, f) => failures.push((i, Some(violation), f)),
            PartVerdict::Undecided { depth, why } => undecided.push((i, Some(depth), why)),
            PartVerdict::Search(why) => undecided.push((i, None, why)),
        }
    }
    let undecided_keys: Vec<Value> = undecided
        .iter()
        .map(|&(i, depth, _)| {
            json!({
                "key": key_of(i),
                "ops": prepared.parts[i].calls.len(),
                "searched": depth.is_some(),
                "linearized": depth,
            })
        })
        .collect();
    if !undecided_keys.is_empty() {
        details["undecided_keys"] = Value::Array(undecided_keys);
    }
    if failures.is_empty() {
        if undecided.is_empty() {
            return CheckResult::new("linearizable", Validity::Valid).details(details);
        }
        let mut result = CheckResult::new("linearizable", Validity::Unknown).reason(
            budget
                .exhausted()
                .unwrap_or_else(|| "the search stopped early".to_string()),
        );
        let named: Vec<String> = undecided
            .iter()
            .take(NAMED_FAILURES)
            .map(|&(i, depth, why)| {
                let key = key_of(i).map_or("the history".to_string(), |k| {
                    format!("key {}", models::compact(&k))
                });
                let n = prepared.parts[i].calls.len();
                let progress = match depth {
                    Some(d) => format!("the search linearized at most {d} of its {n} ops"),
                    None => format!("its {n} ops were not searched"),
                };
                format!("{key} ({progress}; it is outside the unique-values path because {why})")
            })
            .collect();
        let more = undecided.len().saturating_sub(NAMED_FAILURES);
        result = result.reason(format!(
            "{} undecided: {}{}. Raise --memory-limit or the time limit, or keep each key's \
             history small (the register workload's --ops-per-key) and its written values \
             unique, which the polynomial path decides",
            if undecided.len() == 1 {
                "1 key is".to_string()
            } else {
                format!("{} keys are", undecided.len())
            },
            named.join("; "),
            if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            }
        ));
        return result.details(details);
    }
    let mut result = CheckResult::new("linearizable", Validity::Invalid);
    let mut first = None;
    let mut invalid_keys = Vec::new();
    for (n, (part_index, violation, failure)) in failures.iter().enumerate() {
        let part = &prepared.parts[*part_index];
        let key = key_of(*part_index);
        invalid_keys.push(key.clone().unwrap_or(Value::Null));
        if n >= NAMED_FAILURES {
            continue;
        }
        let ce = match (violation, failure) {
            (_, Some(failure)) => {
                let (ce, names) =
                    counterexample(model, history, part, key, failure, describe_state);
                result =
                    result.reason(ce.reason(&|op| names.get(&op).cloned().unwrap_or_default()));
                ce
            }
            (Some(violation), None) => {
                let ce = unique_counterexample(model, history, part, key, violation);
                result = result.reason(ce.reason(&|_| String::new()));
                ce
            }
            (None, None) => continue,
        };
        first.get_or_insert(ce);
    }
    if failures.len() > NAMED_FAILURES {
        result = result.reason(format!(
            "{} more keys cannot be linearized",
            failures.len() - NAMED_FAILURES
        ));
    }
    if !undecided.is_empty() {
        result = result.reason(format!(
            "{} other key{} left undecided: the check stops every search once a key is \
             proven invalid",
            undecided.len(),
            if undecided.len() == 1 {
                " was"
            } else {
                "s were"
            }
        ));
    }
    details["invalid_keys"] = Value::Array(invalid_keys);
    details["counterexample"] = serde_json::to_value(first).unwrap_or(Value::Null);
    result.details(details)
}

/// The counterexample of a key the unique-values path refuted (and a short search could
/// not picture): the op it names, the ops its explanation involves, and the explanation.
fn unique_counterexample<M: Model, I, O>(
    model: &M,
    history: &History,
    part: &Part<I, O>,
    key: Option<Value>,
    violation: &Violation,
) -> Counterexample {
    let index = |c: u32| history.ops[part.calls[c as usize].invoke as usize].index;
    let culprit = &part.calls[violation.culprit as usize];
    let completion = (culprit.ret != NEVER).then_some(culprit.ret as usize);
    Counterexample {
        key,
        op: index(violation.culprit),
        completion: completion.map(|c| history.ops[c].index),
        description: describe_call(model, history, culprit.invoke as usize, completion),
        linearized: 0,
        concurrent: violation.involved.iter().map(|&c| index(c)).collect(),
        attempts: Vec::new(),
        explanation: Some(violation.text.clone()),
        read_note: None,
    }
}

/// Translate a failure in local call ids into op indices and described states, with the
/// descriptions of every op it names.
fn counterexample<M: Model, I, O, S>(
    model: &M,
    history: &History,
    part: &Part<I, O>,
    key: Option<Value>,
    failure: &Failure<S>,
    describe_state: &dyn Fn(&S) -> String,
) -> (Counterexample, FxHashMap<u64, String>) {
    let mut names: FxHashMap<u64, String> = FxHashMap::default();
    let mut name = |c: &SCall<I, O>| {
        let index = history.ops[c.invoke as usize].index;
        names.entry(index).or_insert_with(|| {
            let completion = (c.ret != NEVER).then_some(c.ret as usize);
            describe_call(model, history, c.invoke as usize, completion)
        });
        index
    };
    let blocked = &part.calls[failure.blocked as usize];
    let op = name(blocked);
    let concurrent: Vec<u64> = part
        .calls
        .iter()
        .filter(|c| !std::ptr::eq(*c, blocked) && c.invoke < blocked.ret && c.ret > blocked.invoke)
        .map(&mut name)
        .collect();
    let attempts: Vec<Attempt> = failure
        .attempts
        .iter()
        .map(|t| Attempt {
            order: t
                .order
                .iter()
                .map(|&c| name(&part.calls[c as usize]))
                .collect(),
            states: t.states.iter().map(describe_state).collect(),
        })
        .collect();
    let description = names[&op].clone();
    let position = |c: &SCall<I, O>| {
        (
            c.invoke as usize,
            (c.ret != NEVER).then_some(c.ret as usize),
        )
    };
    let calls: Vec<(usize, Option<usize>)> = part.calls.iter().map(position).collect();
    let states: Vec<String> = attempts
        .iter()
        .filter_map(|a| a.states.last().cloned())
        .collect();
    let read_note =
        super::counterexample::read_note(model, history, &calls, position(blocked), &states);
    let ce = Counterexample {
        key,
        op,
        completion: (blocked.ret != NEVER).then(|| history.ops[blocked.ret as usize].index),
        description,
        linearized: failure.depth,
        concurrent,
        attempts,
        explanation: None,
        read_note,
    };
    (ce, names)
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
