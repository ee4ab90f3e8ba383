//! The Wing–Gong–Lowe depth-first search for a linearization of one partition, with
//! Lowe's memoisation of (set of linearized calls, model state), as in Porcupine's
//! `checkSingle`.
//!
//! Calls live in a doubly linked list of invocation and return nodes in history order.
//! The search repeatedly takes the first invocation in the list whose call the model
//! accepts in the current state, and "lifts" it (and its return) out of the list; meeting
//! a return node means the call it closes could not be placed before it returned, so the
//! search backtracks. Configurations already seen are skipped.
//!
//! This file must never look at `serde_json::Value`s or the history: it works on the
//! compact calls [`super::prepare`] built, and reports in local call ids.

use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::prepare::{Part, SCall};
use crate::fxhash::{hash_one, mix, FxHashMap};

/// How many distinct orders ending at the deepest failure a counterexample keeps.
const MAX_ATTEMPTS: usize = 4;
/// How many linearized calls before the failing one an attempt shows at most.
const MAX_WINDOW: usize = 24;
/// Search steps between two looks at the clock and the memory budget.
const CHECK_EVERY: u32 = 1024;

/// A model as the search sees it: states, and a step that may depend on the call's key.
/// A search may keep per-search scratch (e.g. a table its states index into), and shows
/// the states of a failure as [`Spec::Shown`] once it is done with the scratch.
pub(crate) trait Spec: Sync {
    type State: Clone + Eq + Hash + Send + Sync;
    type Input: Sync;
    type Output: Sync;
    type Scratch;
    type Shown: Send;
    /// Fresh scratch for one search, which starts at `init`.
    fn scratch(&self, init: &Self::State) -> Self::Scratch;
    fn step(
        &self,
        scratch: &mut Self::Scratch,
        state: &Self::State,
        call: &SCall<Self::Input, Self::Output>,
    ) -> Option<Self::State>;
    /// Heap bytes a new state adds to the memo after `call` produced it.
    fn heap_bytes(
        &self,
        scratch: &Self::Scratch,
        state: &Self::State,
        call: &SCall<Self::Input, Self::Output>,
    ) -> usize;
    /// A state as the failure report shows it.
    fn show(&self, scratch: &Self::Scratch, state: &Self::State) -> Self::Shown;
}

/// How often, at most, the process's resident memory is asked for (milliseconds).
const PROBE_EVERY_MS: u64 = 20;
/// `Budget::probed_at` before the first measure.
const NEVER_PROBED: u64 = u64::MAX;

/// The resident memory of the whole process in bytes, as the caller measures it (the checkers
/// never read it themselves). Given one, the search holds its memory limit for the process,
/// history and all, not only for its memo tables: those are accounted as they grow, but the
/// allocator's own overhead is not.
#[derive(Clone)]
pub struct ProcessMemory(pub std::sync::Arc<dyn Fn() -> u64 + Send + Sync>);

impl std::fmt::Debug for ProcessMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProcessMemory")
    }
}

/// Options compare by their limits: two probes of the same process are the same.
impl PartialEq for ProcessMemory {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for ProcessMemory {}

/// The limits shared by every partition of one check.
#[derive(Debug)]
pub(crate) struct Budget {
    pub started: Instant,
    pub timeout: Option<Duration>,
    pub memory_limit: Option<u64>,
    process: Option<ProcessMemory>,
    /// When the process was last measured (ms since `started`).
    probed_at: AtomicU64,
    memory_used: AtomicU64,
    peak_memory: AtomicU64,
    /// Set when any partition is invalid or the budget ran out: the others stop.
    stop: AtomicBool,
    exhausted: Mutex<Option<String>>,
}

impl Budget {
    pub(crate) fn new(timeout: Option<Duration>, memory_limit: Option<u64>) -> Budget {
        Budget {
            started: Instant::now(),
            timeout,
            memory_limit,
            process: None,
            probed_at: AtomicU64::new(NEVER_PROBED),
            memory_used: AtomicU64::new(0),
            peak_memory: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            exhausted: Mutex::new(None),
        }
    }

    /// The same budget, holding its memory limit for the whole process as `process` measures
    /// it.
    pub(crate) fn for_process(mut self, process: Option<ProcessMemory>) -> Budget {
        self.process = process;
        self
    }

    /// Whether the process (when measured) could pass the memory limit: its resident bytes,
    /// plus the memo tables' `used` bytes again, as a table about to double allocates its
    /// new size beside its old one. Asked at most every [`PROBE_EVERY_MS`].
    fn process_over(&self, limit: u64, used: u64) -> bool {
        let Some(process) = &self.process else {
            return false;
        };
        let now = self.started.elapsed().as_millis() as u64;
        let last = self.probed_at.load(Ordering::Relaxed);
        if (last != NEVER_PROBED && now < last.saturating_add(PROBE_EVERY_MS))
            || self
                .probed_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return false;
        }
        let resident = (process.0)();
        if resident.saturating_add(used) <= limit {
            return false;
        }
        self.exhaust(format!(
            "the process grew to {} MiB, and its memo tables' next growth ({} MiB) would take \
             it past the memory limit of {} MiB; raise --memory-limit or check fewer ops at once",
            resident >> 20,
            used >> 20,
            limit >> 20
        ));
        true
    }

    /// Ask every running search to stop (a partition was found invalid).
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Why the budget ran out, if it did.
    pub(crate) fn exhausted(&self) -> Option<String> {
        self.exhausted.lock().ok().and_then(|g| g.clone())
    }

    /// The largest approximate memo size seen, in bytes, over all partitions at once.
    pub(crate) fn peak_memory(&self) -> u64 {
        self.peak_memory.load(Ordering::Relaxed)
    }

    fn exhaust(&self, why: String) {
        if let Ok(mut slot) = self.exhausted.lock() {
            slot.get_or_insert(why);
        }
        self.stop();
    }

    /// Account for a memo that grew (or shrank) by `delta` bytes; false when over budget.
    fn charge(&self, delta: i64) -> bool {
        let used = if delta >= 0 {
            self.memory_used.fetch_add(delta as u64, Ordering::Relaxed) + delta as u64
        } else {
            self.give_back(delta.unsigned_abs())
        };
        self.peak_memory.fetch_max(used, Ordering::Relaxed);
        match self.memory_limit {
            Some(limit) if self.process_over(limit, used) => false,
            Some(limit) if used > limit => {
                self.exhaust(format!(
                    "the search's memo tables grew past the memory limit of {} MiB; \
                     raise --memory-limit or check fewer ops at once",
                    limit >> 20
                ));
                false
            }
            _ => true,
        }
    }

    /// A search ended holding `bytes`, of which `charged` were accounted for: note the
    /// peak (without judging it: the verdict is already known) and give them back.
    fn release(&self, charged: i64, bytes: u64) {
        let used = self.memory_used.load(Ordering::Relaxed);
        let peak = used.saturating_sub(charged.max(0) as u64) + bytes;
        self.peak_memory.fetch_max(peak, Ordering::Relaxed);
        self.give_back(charged.max(0) as u64);
    }

    /// Subtract `bytes` from the memory in use, never below zero (a search resumed after a
    /// pause shrinks memos whose bytes its pause already gave back), and return what is left.
    fn give_back(&self, bytes: u64) -> u64 {
        let before = self
            .memory_used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                Some(used.saturating_sub(bytes))
            })
            .unwrap_or(0);
        before.saturating_sub(bytes)
    }

    fn over_time(&self) -> bool {
        match self.timeout {
            Some(limit) if self.started.elapsed() > limit => {
                self.exhaust(format!(
                    "the search ran past its time limit of {:.1} s; raise --timeout or \
                     check fewer ops at once",
                    limit.as_secs_f64()
                ));
                true
            }
            _ => false,
        }
    }
}

/// One order of linearized calls leading up to the failing call.
#[derive(Debug, Clone)]
pub(crate) struct Trail<S> {
    /// Local call ids in linearization order.
    pub order: Vec<u32>,
    /// `order.len() + 1` states: before the first call, then after each.
    pub states: Vec<S>,
}

/// Why a partition has no linearization: at the deepest point the search reached, `blocked`
/// could not be placed before it returned.
#[derive(Debug, Clone)]
pub(crate) struct Failure<S> {
    pub blocked: u32,
    /// How many calls were linearized at that point.
    pub depth: usize,
    pub attempts: Vec<Trail<S>>,
}

#[derive(Debug)]
pub(crate) enum Outcome<S> {
    Valid,
    Invalid(Failure<S>),
    /// Stopped early: the budget ran out, or another partition was invalid. `depth` is
    /// the most calls the search had linearized at once.
    Stopped {
        depth: usize,
    },
    /// Took its step allowance without a verdict; a later round may search it again with
    /// a larger one.
    Paused {
        depth: usize,
    },
}

/// Seen configurations: a hash table from the configuration's hash to a chain of entries,
/// whose linearized-call bitsets live in one flat arena.
///
/// A bitset is stored as its window only: the words from the first one that is not all
/// ones to the last one that is not zero. Calls are numbered in invocation order and a
/// call that returned long ago is linearized in every configuration the search still
/// visits, so the window stays about as wide as the concurrency, and a long history costs
/// a few words per configuration instead of one bit per call.
struct Memo<S> {
    heads: FxHashMap<u64, u32>,
    entries: Vec<Entry<S>>,
    words: Vec<u64>,
    heap: usize,
}

struct Entry<S> {
    state: S,
    /// The next entry with the same hash, or [`END`].
    next: u32,
    /// The index of the window's first word in the whole bitset.
    lo: u32,
    /// The window's length in words.
    len: u32,
    /// Where the window starts in [`Memo::words`].
    at: usize,
}

const END: u32 = u32::MAX;

impl<S: Clone + Eq> Memo<S> {
    /// A memo sized for a search that visits about `expect` configurations, which a
    /// history with little backtracking does (one per call).
    fn new(expect: usize) -> Self {
        Memo {
            heads: FxHashMap::with_capacity_and_hasher(expect, Default::default()),
            entries: Vec::with_capacity(expect),
            words: Vec::with_capacity(expect),
            heap: 0,
        }
    }

    /// Empty the memo for a new search of about `expect` configurations, keeping its
    /// tables' capacity.
    fn reset(&mut self, expect: usize) {
        self.heads.clear();
        self.heads.reserve(expect);
        self.entries.clear();
        self.entries.reserve(expect);
        self.words.clear();
        self.words.reserve(expect);
        self.heap = 0;
    }

    /// Record the configuration whose bitset's window `window` starts at word `lo`; false
    /// if it was already seen.
    fn insert(&mut self, hash: u64, lo: usize, window: &[u64], state: &S, heap: usize) -> bool {
        let slot = self.heads.entry(hash).or_insert(END);
        let head = *slot;
        let mut at = head;
        while at != END {
            let e = &self.entries[at as usize];
            if e.lo as usize == lo
                && e.len as usize == window.len()
                && e.state == *state
                && self.words[e.at..e.at + window.len()] == *window
            {
                return false;
            }
            at = e.next;
        }
        let id = self.entries.len() as u32;
        self.entries.push(Entry {
            state: state.clone(),
            next: head,
            lo: lo as u32,
            len: window.len() as u32,
            at: self.words.len(),
        });
        self.words.extend_from_slice(window);
        *slot = id;
        self.heap += heap;
        true
    }

    /// Approximate bytes held, counting the tables' spare capacity.
    fn bytes(&self) -> u64 {
        (self.heads.capacity() * 13
            + self.entries.capacity() * std::mem::size_of::<Entry<S>>()
            + self.words.capacity() * 8
            + self.heap) as u64
    }
}

/// The set of linearized calls, with the bounds of its window (see [`Memo`]).
struct Linearized {
    bits: Vec<u64>,
    /// The first word that is not all ones.
    lo: usize,
    /// One past the last word that is not zero (never below `lo`).
    hi: usize,
}

impl Linearized {
    /// Empty, for `calls` calls, keeping the buffer's capacity.
    fn reset(&mut self, calls: usize) {
        self.bits.clear();
        self.bits.resize(calls.div_ceil(64), 0);
        self.lo = 0;
        self.hi = 0;
    }

    fn insert(&mut self, c: u32) {
        let w = c as usize / 64;
        self.bits[w] |= 1u64 << (c % 64);
        if w == self.lo {
            while self.lo < self.bits.len() && self.bits[self.lo] == u64::MAX {
                self.lo += 1;
            }
        }
        self.hi = self.hi.max(w + 1).max(self.lo);
    }

    fn remove(&mut self, c: u32) {
        let w = c as usize / 64;
        self.bits[w] &= !(1u64 << (c % 64));
        self.lo = self.lo.min(w);
        while self.hi > self.lo && self.bits[self.hi - 1] == 0 {
            self.hi -= 1;
        }
    }

    fn window(&self) -> &[u64] {
        &self.bits[self.lo..self.hi]
    }
}

/// The buffers one search needs, kept between the searches of one thread so that many
/// small partitions do not each allocate (and free) their own.
pub(crate) struct Workspace<S> {
    next: Vec<u32>,
    prev: Vec<u32>,
    linearized: Linearized,
    memo: Memo<S>,
    stack: Vec<(u32, S)>,
}

impl<S: Clone + Eq> Default for Workspace<S> {
    fn default() -> Self {
        Workspace {
            next: Vec::new(),
            prev: Vec::new(),
            linearized: Linearized {
                bits: Vec::new(),
                lo: 0,
                hi: 0,
            },
            memo: Memo::new(0),
            stack: Vec::new(),
        }
    }
}

/// Search one partition for a linearization starting from `init`, in buffers from `ws`
/// (which it leaves holding nothing of this search but capacity), for at most about
/// `steps` steps (`None` = until a verdict or the budget's end).
pub(crate) fn search<P: Spec>(
    spec: &P,
    init: P::State,
    part: &Part<P::Input, P::Output>,
    budget: &Budget,
    ws: &mut Workspace<P::State>,
    steps_allowed: Option<u64>,
) -> Outcome<P::Shown> {
    let calls = &part.calls;
    let n = calls.len();
    let mut required_left = calls.iter().filter(|c| c.required).count();
    if required_left == 0 {
        return Outcome::Valid;
    }
    let Workspace {
        next,
        prev,
        linearized,
        memo,
        stack,
    } = ws;
    // Node 0 is the head, 2n + 1 the tail; call c has nodes 2c + 1 and 2c + 2.
    let tail = 2 * n as u32 + 1;
    next.clear();
    next.resize(2 * n + 2, 0);
    prev.clear();
    prev.resize(2 * n + 2, 0);
    let mut last = 0u32;
    for &node in part.events.iter().chain(std::iter::once(&tail)) {
        next[last as usize] = node;
        prev[node as usize] = last;
        last = node;
    }
    let zobrist = |c: u32| mix(u64::from(c).wrapping_add(0x9e37_79b9_7f4a_7c15));

    linearized.reset(n);
    let mut config = 0u64;
    let mut scratch = spec.scratch(&init);
    memo.reset(n + 1);
    let mut charged = 0i64;
    stack.clear();
    stack.reserve(n);
    let mut state = init;
    let mut best: Option<Failure<P::State>> = None;
    let mut node = next[0];
    let mut steps = 0u32;
    let mut steps_taken = 0u64;
    let mut depth = 0usize;

    let outcome = loop {
        steps += 1;
        if steps == CHECK_EVERY {
            steps = 0;
            steps_taken += u64::from(CHECK_EVERY);
            depth = depth
                .max(stack.len())
                .max(best.as_ref().map_or(0, |b| b.depth));
            let bytes = memo.bytes() as i64;
            let verdict = checkpoint(budget, bytes - charged, steps_taken, steps_allowed);
            charged = bytes;
            match verdict {
                Checkpoint::Go => {}
                Checkpoint::Stop => break Outcome::Stopped { depth },
                Checkpoint::Pause => break Outcome::Paused { depth },
            }
        }
        if node % 2 == 1 {
            let c = (node - 1) / 2;
            let call = &calls[c as usize];
            if let Some(after) = spec.step(&mut scratch, &state, call) {
                linearized.insert(c);
                config ^= zobrist(c);
                let hash = config ^ hash_one(&after);
                let heap = spec.heap_bytes(&scratch, &after, call);
                if memo.insert(hash, linearized.lo, linearized.window(), &after, heap) {
                    stack.push((c, std::mem::replace(&mut state, after)));
                    if call.required {
                        required_left -= 1;
                        if required_left == 0 {
                            break Outcome::Valid;
                        }
                    }
                    lift(next, prev, c);
                    node = next[0];
                    continue;
                }
                linearized.remove(c);
                config ^= zobrist(c);
            }
            node = next[node as usize];
        } else {
            // A return node (or the tail): its call could not be placed in time.
            let blocked = if node == tail { END } else { (node - 2) / 2 };
            record(&mut best, blocked, stack, &state, calls);
            let Some((c, before)) = stack.pop() else {
                break Outcome::Invalid(best.take().unwrap_or(Failure {
                    blocked,
                    depth: 0,
                    attempts: Vec::new(),
                }));
            };
            state = before;
            linearized.remove(c);
            config ^= zobrist(c);
            if calls[c as usize].required {
                required_left += 1;
            }
            unlift(next, prev, c);
            node = next[2 * c as usize + 1];
        }
    };
    budget.release(charged, memo.bytes());
    // Drop this search's states now; the buffers keep only their capacity.
    memo.entries.clear();
    stack.clear();
    match outcome {
        Outcome::Valid => Outcome::Valid,
        Outcome::Stopped { depth } => Outcome::Stopped { depth },
        Outcome::Paused { depth } => Outcome::Paused { depth },
        Outcome::Invalid(f) => Outcome::Invalid(Failure {
            blocked: f.blocked,
            depth: f.depth,
            attempts: f
                .attempts
                .into_iter()
                .map(|t| Trail {
                    order: t.order,
                    states: t.states.iter().map(|s| spec.show(&scratch, s)).collect(),
                })
                .collect(),
        }),
    }
}

enum Checkpoint {
    Go,
    Stop,
    Pause,
}

/// The periodic look at the budget, the clock and the step allowance, kept out of the
/// search loop's body.
#[cold]
#[inline(never)]
fn checkpoint(budget: &Budget, grown: i64, steps_taken: u64, allowed: Option<u64>) -> Checkpoint {
    let ok = budget.charge(grown);
    if !ok || budget.stopped() || budget.over_time() {
        Checkpoint::Stop
    } else if allowed.is_some_and(|allowed| steps_taken >= allowed) {
        Checkpoint::Pause
    } else {
        Checkpoint::Go
    }
}

fn lift(next: &mut [u32], prev: &mut [u32], c: u32) {
    for node in [2 * c + 1, 2 * c + 2] {
        let (p, n) = (prev[node as usize], next[node as usize]);
        next[p as usize] = n;
        prev[n as usize] = p;
    }
}

fn unlift(next: &mut [u32], prev: &mut [u32], c: u32) {
    for node in [2 * c + 2, 2 * c + 1] {
        let (p, n) = (prev[node as usize], next[node as usize]);
        next[p as usize] = node;
        prev[n as usize] = node;
    }
}

/// Keep the deepest failures: a deeper one replaces what was kept, an equally deep one
/// with the same blocked call adds its order if new.
fn record<S: Clone + Eq, I, O>(
    best: &mut Option<Failure<S>>,
    blocked: u32,
    stack: &[(u32, S)],
    state: &S,
    calls: &[SCall<I, O>],
) {
    let depth = stack.len();
    if let Some(b) = best.as_ref() {
        if depth < b.depth
            || (depth == b.depth && (b.blocked != blocked || b.attempts.len() >= MAX_ATTEMPTS))
        {
            return;
        }
    }
    // The window: the calls linearized last, back to the first that returned before the
    // blocked call was invoked (the ones before it are fixed by real time anyway).
    let invoked = calls.get(blocked as usize).map_or(0, |c| c.invoke);
    let mut start = depth;
    while start > 0 && depth - start < MAX_WINDOW {
        if calls[stack[start - 1].0 as usize].ret < invoked {
            break;
        }
        start -= 1;
    }
    let window = &stack[start..];
    let trail = || Trail {
        order: window.iter().map(|(c, _)| *c).collect(),
        states: window
            .iter()
            .map(|(_, s)| s.clone())
            .chain(std::iter::once(state.clone()))
            .collect(),
    };
    match best {
        Some(b) if b.depth == depth => {
            let order = window.iter().map(|(c, _)| *c);
            if b.attempts
                .iter()
                .all(|a| !a.order.iter().copied().eq(order.clone()))
            {
                b.attempts.push(trail());
            }
        }
        Some(b) => {
            // Deeper than what was kept (a valid search meets many such on its way):
            // refill the kept failure's buffers rather than allocate new ones.
            b.blocked = blocked;
            b.depth = depth;
            b.attempts.truncate(1);
            match b.attempts.first_mut() {
                Some(t) => {
                    t.order.clear();
                    t.order.extend(window.iter().map(|(c, _)| *c));
                    t.states.clear();
                    t.states.extend(window.iter().map(|(_, s)| s.clone()));
                    t.states.push(state.clone());
                }
                None => b.attempts.push(trail()),
            }
        }
        None => {
            *best = Some(Failure {
                blocked,
                depth,
                attempts: vec![trail()],
            });
        }
    }
}
