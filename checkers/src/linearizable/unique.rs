//! The unique-values path: a polynomial-time decision for one key whose every value is
//! written at most once, so that a read names the op whose value it saw (the read-mapping
//! is known). faultline's register workload writes unique values, and append workloads
//! append unique elements, so this decides every key they produce without search.
//!
//! # The method
//!
//! Gibbons and Korach ("Testing shared memories", SIAM J. Comput. 1997) decide a read/write
//! register with a known read-mapping in O(n log n): group each write with the reads of its
//! value (a *cluster*); the cluster must occupy one stretch of the linearization, so it
//! covers at least the *zone* from the earliest completion of its ops to the latest
//! invocation. A zone whose earliest completion comes first is *forward*: the cluster
//! spans all of it; otherwise it is *backward* and the whole cluster fits at any one point
//! of it. The history is linearizable iff every read follows its write, no two forward
//! zones overlap, and no backward zone lies inside a forward one.
//!
//! Here the unit is a *chain* instead of a cluster. A `cas [a b]` that took effect reads
//! `a` and writes `b` in one step, so the stretch of `b` starts right where the stretch of
//! `a` ends: values linked by cas form one chain, which begins at a blind write (or at the
//! initial value) and must occupy one stretch, its values in the order the links fix.
//! A kv `append` is the same link: every read shows the elements appended so far, so the
//! element a read ends with, and the string before it, name the link. A chain that can be
//! placed at all (each op after the ones the order puts before it) can be placed exactly in
//! its forward zone, or at any single point of its backward zone — the argument of
//! Gibbons and Korach carries over unchanged — so the same zone test decides it.
//!
//! Unknown outcomes (`info`, pending) are handled exactly: an op whose value somebody
//! observed certainly took effect (values are unique), before the first observer returned;
//! one whose value nobody observed may be taken never to have happened, since the op after
//! it in any linearization can only be a blind write; removing such ops is repeated until
//! nothing changes, because removing a cas may leave the op it read from unobserved.
//! An `ok` append nobody observed is a chain of its own: what follows it is a blind write,
//! exactly as for an unobserved write.
//!
//! A key is outside the class (and goes to the search) when a value is written twice (or
//! the initial value is written), an op is not a read, write, register cas or append, or,
//! for strings, the appended and put strings are not a suffix code (one is a suffix of
//! another, so reads cannot be split into elements unambiguously).
//!
//! This file must never search or allocate per configuration: it is linear in the key's
//! history apart from two sorts.

use serde_json::Value;

use crate::history::History;
use crate::models::{Effect, Interner, Model, OpView, ValueSemantics};

use super::prepare::{Part, NEVER};
use crate::fxhash::FxHashMap;

/// What the path concluded about one key.
#[derive(Debug)]
pub(crate) enum Decision {
    Valid,
    Invalid(Violation),
    /// The key is outside the class; the reason says why, and the search decides it.
    Search(&'static str),
}

/// Why a key is not linearizable, in local call ids of its [`Part`].
#[derive(Debug, Clone)]
pub(crate) struct Violation {
    /// The op that cannot be placed.
    pub culprit: u32,
    /// The other ops the explanation names.
    pub involved: Vec<u32>,
    /// The explanation, naming ops by `#index (description)`.
    pub text: String,
}

impl Violation {
    /// A violation of `culprit` naming the `involved` ops that are ops (not the start).
    fn naming(culprit: u32, involved: [u32; 3], text: String) -> Violation {
        Violation {
            culprit,
            involved: involved.into_iter().filter(|&c| c != NONE).collect(),
            text,
        }
    }
}

/// Positions in the history, widened so that an unknown completion is +∞ and the
/// initial value's virtual write is −∞.
type Time = i64;
const BEFORE_ALL: Time = Time::MIN;
const AFTER_ALL: Time = Time::MAX;
const NONE: u32 = u32::MAX;

/// A value of the key: who created it and how.
#[derive(Debug, Clone)]
struct Version {
    /// The call that created it ([`NONE`] for the initial value, or a value never written).
    creator: u32,
    /// The value it replaced, when the creator is a cas or an observed append.
    pred: u32,
}

/// One key's values and reads, ready for the zone test. Version 0 is the initial value.
struct Graph {
    versions: Vec<Version>,
    /// `(version, call)` for every `ok` read.
    reads: Vec<(u32, u32)>,
}

/// Decide one key, or say why it is outside the class. `name` describes a call by its
/// local id (`#index (process 3, read key 1 -> 5)`).
pub(crate) fn decide<'a, M: Model>(
    model: &M,
    semantics: &'a ValueSemantics,
    history: &'a History,
    part: &'a Part<M::Input, M::Output>,
    name: &dyn Fn(u32) -> String,
) -> Decision {
    let view = |c: u32| {
        let call = &part.calls[c as usize];
        let inv = &history.ops[call.invoke as usize];
        OpView::of(inv, call.required.then(|| &history.ops[call.ret as usize]))
    };
    let n = part.calls.len() as u32;
    let built = if semantics.text {
        build_text(model, semantics, n, &view)
    } else {
        build_register(model, semantics, n, &view)
    };
    let (graph, describe) = match built {
        Built::Graph(graph, describe) => (graph, describe),
        Built::Search(why) => return Decision::Search(why),
        Built::Invalid(v) => return Decision::Invalid(v(name)),
    };
    let times = |c: u32| {
        let call = &part.calls[c as usize];
        let ret = if call.ret == NEVER {
            AFTER_ALL
        } else {
            Time::from(call.ret)
        };
        (Time::from(call.invoke), ret, call.required)
    };
    match check(&graph, &times, &|v| describe.value(v), name) {
        Ok(()) => Decision::Valid,
        Err(v) => Decision::Invalid(v),
    }
}

/// How the explanation names a value (only asked when there is something to explain).
enum Describe<'a> {
    /// Register values: version `v` is interned id `swap(v)` (see [`build_register`]).
    Values {
        values: Interner,
        initial: u32,
    },
    Texts(Vec<&'a str>),
}

impl Describe<'_> {
    fn value(&self, version: u32) -> String {
        match self {
            Describe::Values { values, initial } => {
                values.describe(swap_initial(version, *initial))
            }
            Describe::Texts(texts) => describe_text(texts[version as usize]),
        }
    }
}

/// Register versions are interned ids with the initial value's id and 0 swapped, so
/// that the initial value is version 0; the swap is its own inverse.
fn swap_initial(id: u32, initial: u32) -> u32 {
    if id == initial {
        0
    } else if id == 0 {
        initial
    } else {
        id
    }
}

type Explain = Box<dyn FnOnce(&dyn Fn(u32) -> String) -> Violation>;

enum Built<'a> {
    Graph(Graph, Describe<'a>),
    Search(&'static str),
    Invalid(Explain),
}

const WRITTEN_TWICE: &str = "a value is written more than once";
const NOT_READ_WRITE: &str = "an op is not a read, write, cas or append";

/// Registers: a value's id is its interned JSON; reads name versions directly.
fn build_register<'a, M: Model>(
    model: &M,
    semantics: &ValueSemantics,
    n: u32,
    view: &dyn Fn(u32) -> OpView<'a>,
) -> Built<'a> {
    let mut values = Interner::default();
    let initial = values.intern(&semantics.initial);
    let version_of = |id: u32| swap_initial(id, initial);
    let mut versions: Vec<Version> = Vec::with_capacity(n as usize / 2 + 1);
    let mut reads = Vec::new();
    let ensure = |versions: &mut Vec<Version>, v: u32| {
        if versions.len() <= v as usize {
            versions.resize(
                v as usize + 1,
                Version {
                    creator: NONE,
                    pred: NONE,
                },
            );
        }
    };
    ensure(&mut versions, 0);
    for c in 0..n {
        let (created, pred) = match model.effect(view(c)) {
            Effect::Read(seen) => {
                let v = version_of(values.intern(seen));
                ensure(&mut versions, v);
                reads.push((v, c));
                continue;
            }
            Effect::Write(value) => (values.intern(value), NONE),
            Effect::Cas { from, to } => {
                let from = version_of(values.intern(from));
                ensure(&mut versions, from);
                (values.intern(to), from)
            }
            Effect::Append(_) | Effect::Opaque => return Built::Search(NOT_READ_WRITE),
        };
        let v = version_of(created);
        ensure(&mut versions, v);
        if v == 0 || versions[v as usize].creator != NONE {
            return Built::Search(WRITTEN_TWICE);
        }
        versions[v as usize] = Version { creator: c, pred };
    }
    Built::Graph(
        Graph { versions, reads },
        Describe::Values { values, initial },
    )
}

/// Strings built by put and append: a read is split, from its end, into the put (or the
/// initial string) it starts with and the elements appended since.
fn build_text<'a, M: Model>(
    model: &M,
    semantics: &'a ValueSemantics,
    n: u32,
    view: &dyn Fn(u32) -> OpView<'a>,
) -> Built<'a> {
    let initial: &'a str = match &semantics.initial {
        Value::String(s) => s,
        Value::Null => "",
        _ => return Built::Search("the initial value is not a string"),
    };
    fn text(value: &Value) -> Option<&str> {
        match value {
            Value::String(s) => Some(s),
            Value::Null => Some(""),
            _ => None,
        }
    }
    // Version 0 is the initial string; every put and append creates one version.
    let mut versions = vec![Version {
        creator: NONE,
        pred: NONE,
    }];
    let mut texts: Vec<&'a str> = vec![initial];
    let mut is_put = vec![true];
    let mut tokens: FxHashMap<&'a [u8], u32> = FxHashMap::default();
    let mut raw_reads: Vec<(&'a str, u32)> = Vec::new();
    for c in 0..n {
        let (s, put) = match model.effect(view(c)) {
            Effect::Read(seen) => match text(seen) {
                Some(s) => {
                    raw_reads.push((s, c));
                    continue;
                }
                None => return Built::Search("a read returned something other than a string"),
            },
            Effect::Write(v) => (text(v), true),
            Effect::Append(v) => (text(v), false),
            Effect::Cas { .. } | Effect::Opaque => return Built::Search(NOT_READ_WRITE),
        };
        let Some(s) = s else {
            return Built::Search("a put or append is not a string");
        };
        if s.is_empty() || s == initial {
            return Built::Search(WRITTEN_TWICE);
        }
        let v = versions.len() as u32;
        if tokens.insert(s.as_bytes(), v).is_some() {
            return Built::Search(WRITTEN_TWICE);
        }
        versions.push(Version {
            creator: c,
            pred: NONE,
        });
        texts.push(s);
        is_put.push(put);
    }
    // Reads are split from the end, which is unambiguous when no string is a suffix of
    // another: sorted by their reversed bytes, a suffix sorts right before its extensions.
    let mut by_reverse: Vec<&[u8]> = tokens.keys().copied().collect();
    if !initial.is_empty() {
        by_reverse.push(initial.as_bytes());
    }
    by_reverse.sort_unstable_by(|a, b| a.iter().rev().cmp(b.iter().rev()));
    if by_reverse.windows(2).any(|w| w[1].ends_with(w[0])) {
        return Built::Search("one put or appended string is a suffix of another");
    }
    let mut lengths: Vec<usize> = tokens.keys().map(|t| t.len()).collect();
    lengths.sort_unstable();
    lengths.dedup();

    // The whole string of each version a read revealed, and the read that revealed it.
    let mut whole: Vec<Option<(&'a [u8], u32)>> = vec![None; versions.len()];
    whole[0] = Some((initial.as_bytes(), NONE));
    for (v, text) in texts.iter().enumerate().skip(1) {
        if is_put[v] {
            whole[v] = Some((text.as_bytes(), NONE));
        }
    }
    let mut reads = Vec::with_capacity(raw_reads.len());
    let mut pending: Vec<(u32, usize)> = Vec::new();
    // The read (plus one) that last put a version on `pending`: an element twice in one
    // string is garbage, not a loop.
    let mut stamp = vec![0u32; versions.len()];
    for (&(s, read), stamp_now) in raw_reads.iter().zip(1u32..) {
        let s = s.as_bytes();
        let mut end = s.len();
        pending.clear();
        let base = loop {
            let prefix = &s[..end];
            if prefix == initial.as_bytes() {
                break 0;
            }
            let last = lengths
                .iter()
                .take_while(|&&l| l <= end)
                .find_map(|&l| tokens.get(&prefix[end - l..]).map(|&v| (v, l)));
            let Some((v, len)) = last else {
                return garbage(read, s, describe_text(initial));
            };
            match whole[v as usize] {
                Some((known, _)) if known == prefix => break v,
                Some((_, by)) if is_put[v as usize] || by == NONE => {
                    return garbage(read, s, describe_text(initial));
                }
                Some((_, by)) => {
                    let creator = versions[v as usize].creator;
                    let element = texts[v as usize].to_string();
                    return Built::Invalid(Box::new(move |name: &dyn Fn(u32) -> String| {
                        Violation {
                            culprit: read,
                            involved: vec![by, creator],
                            text: format!(
                                "reads {} and {} both end with the element {element:?} that \
                                 {} appended, after different strings; each element is \
                                 appended once, so it follows one string only",
                                name(by),
                                name(read),
                                name(creator)
                            ),
                        }
                    }));
                }
                None if stamp[v as usize] == stamp_now => {
                    return garbage(read, s, describe_text(initial));
                }
                None => {
                    stamp[v as usize] = stamp_now;
                    pending.push((v, end));
                    end -= len;
                }
            }
        };
        let mut pred = base;
        for &(v, end) in pending.iter().rev() {
            versions[v as usize].pred = pred;
            whole[v as usize] = Some((&s[..end], read));
            pred = v;
        }
        let top = pending.first().map_or(base, |&(v, _)| v);
        reads.push((top, read));
    }
    // Puts are blind writes; an append nobody saw has no known predecessor (its `pred`
    // stays NONE): it stands alone, like a blind write.
    Built::Graph(Graph { versions, reads }, Describe::Texts(texts))
}

fn describe_text(text: &str) -> String {
    format!("{text:?}")
}

fn garbage<'a>(read: u32, seen: &[u8], initial: String) -> Built<'a> {
    let seen = describe_text(&String::from_utf8_lossy(seen));
    Built::Invalid(Box::new(move |name: &dyn Fn(u32) -> String| Violation {
        culprit: read,
        involved: Vec::new(),
        text: format!(
            "{} read {seen}, which no order of the key's puts and appends (starting from \
             {initial}) produces",
            name(read)
        ),
    }))
}

/// A chain's extent: the earliest completion and the latest invocation of its ops, with
/// the calls that set them ([`NONE`] for the initial value's virtual write).
#[derive(Debug, Clone, Copy)]
struct Zone {
    first_return: (Time, u32),
    last_invoke: (Time, u32),
    /// A version of the chain, to name it.
    version: u32,
}

impl Zone {
    /// When the zone's value had to stay current: from the first completion until the
    /// last invocation.
    fn current(&self, name: &dyn Fn(u32) -> String) -> String {
        format!(
            "from {} until the invocation of {}",
            completion_of(self.first_return.1, name),
            name(self.last_invoke.1)
        )
    }
}

/// The zone test over a built graph.
fn check(
    graph: &Graph,
    times: &dyn Fn(u32) -> (Time, Time, bool),
    value: &dyn Fn(u32) -> String,
    name: &dyn Fn(u32) -> String,
) -> Result<(), Violation> {
    let versions = &graph.versions;
    let nv = versions.len();
    // Reads grouped by version.
    let mut reads = graph.reads.clone();
    reads.sort_unstable();
    let mut first_read = vec![0u32; nv + 1];
    for &(v, _) in &reads {
        first_read[v as usize + 1] += 1;
    }
    for v in 0..nv {
        first_read[v + 1] += first_read[v];
    }
    let readers =
        |v: u32| &reads[first_read[v as usize] as usize..first_read[v as usize + 1] as usize];

    // Which versions certainly exist: those an `ok` op created or somebody observed.
    let mut kept = vec![false; nv];
    let mut observed = vec![false; nv];
    let mut work: Vec<u32> = Vec::new();
    for (v, version) in versions.iter().enumerate() {
        if version.creator != NONE && times(version.creator).2 {
            kept[v] = true;
            if version.pred != NONE {
                work.push(version.pred);
            }
        }
        if !readers(v as u32).is_empty() {
            work.push(v as u32);
        }
    }
    while let Some(v) = work.pop() {
        if observed[v as usize] {
            continue;
        }
        observed[v as usize] = true;
        let version = &versions[v as usize];
        if version.creator != NONE && !kept[v as usize] {
            kept[v as usize] = true;
            if version.pred != NONE {
                work.push(version.pred);
            }
        }
    }
    // Everything observed must have been written, and each value replaced at most once.
    let mut next = vec![NONE; nv];
    for v in 0..nv as u32 {
        let version = &versions[v as usize];
        if v != 0 && version.creator == NONE && observed[v as usize] {
            return Err(never_written(v, readers(v), versions, value, name));
        }
        if !kept[v as usize] || version.pred == NONE {
            continue;
        }
        let pred = version.pred as usize;
        if next[pred] != NONE {
            let other = versions[next[pred] as usize].creator;
            return Err(Violation {
                culprit: version.creator,
                involved: vec![other],
                text: format!(
                    "{} and {} both replaced the value {}, but it was written once, so only \
                     one of them can have seen it",
                    name(other),
                    name(version.creator),
                    value(pred as u32)
                ),
            });
        }
        next[pred] = v;
    }

    // Walk every chain from its head, placing each op as early as the order allows.
    let mut zones: Vec<Zone> = Vec::new();
    let mut placed = vec![false; nv];
    let heads = (0..nv as u32)
        .filter(|&v| v == 0 || (kept[v as usize] && versions[v as usize].pred == NONE));
    for head in heads {
        let mut zone = Zone {
            first_return: if head == 0 {
                (BEFORE_ALL, NONE)
            } else {
                (AFTER_ALL, NONE)
            },
            last_invoke: (BEFORE_ALL, NONE),
            version: head,
        };
        let mut ops = 0usize;
        // The earliest point the next op may take, and the op whose invocation set it.
        let mut at: (Time, u32, u32) = (BEFORE_ALL, NONE, head);
        let mut v = head;
        while v != NONE {
            placed[v as usize] = true;
            let creator = [(v, versions[v as usize].creator)];
            let creator: &[(u32, u32)] = if v == 0 { &[] } else { &creator };
            for stage in [creator, readers(v)] {
                let mut latest = at;
                for &(_, c) in stage {
                    let (inv, ret, _) = times(c);
                    ops += 1;
                    if inv.max(at.0) > ret {
                        return Err(out_of_order(c, v, at, versions, value, name));
                    }
                    if inv > latest.0 {
                        latest = (inv, c, v);
                    }
                    if ret < zone.first_return.0 {
                        zone.first_return = (ret, c);
                    }
                    if inv > zone.last_invoke.0 {
                        zone.last_invoke = (inv, c);
                    }
                }
                at = latest;
            }
            v = next[v as usize];
        }
        if ops > 0 {
            zones.push(zone);
        }
    }
    if let Some(v) = (0..nv).find(|&v| kept[v] && !placed[v]) {
        let creator = versions[v].creator;
        return Err(Violation {
            culprit: creator,
            involved: Vec::new(),
            text: format!(
                "{} is part of a cycle of cas ops, each replacing the value the next one \
                 wrote, so none of them can go first",
                name(creator)
            ),
        });
    }

    // Forward zones must not overlap; a backward zone must not lie inside a forward one.
    let (mut forward, backward): (Vec<Zone>, Vec<Zone>) = zones
        .into_iter()
        .partition(|z| z.first_return.0 < z.last_invoke.0);
    forward.sort_unstable_by_key(|z| z.first_return.0);
    for w in forward.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        if b.first_return.0 < a.last_invoke.0 {
            return Err(overlap(a, b, value, name));
        }
    }
    for b in &backward {
        let (start, end) = (b.last_invoke.0, b.first_return.0);
        let i = forward.partition_point(|a| a.first_return.0 < start);
        if let Some(a) = i.checked_sub(1).map(|i| &forward[i]) {
            if a.last_invoke.0 > end {
                return Err(inside(a, b, value, name));
            }
        }
    }
    Ok(())
}

fn completion_of(op: u32, name: &dyn Fn(u32) -> String) -> String {
    if op == NONE {
        "the start".to_string()
    } else {
        format!("the completion of {}", name(op))
    }
}

fn overlap(
    a: &Zone,
    b: &Zone,
    value: &dyn Fn(u32) -> String,
    name: &dyn Fn(u32) -> String,
) -> Violation {
    Violation::naming(
        a.last_invoke.1,
        [a.first_return.1, b.first_return.1, b.last_invoke.1],
        format!(
            "the value {} (and the values cas or append ops made from it) had to stay \
             current {}, and the value {} {}; these overlap, and a value written once \
             cannot come back",
            value(a.version),
            a.current(name),
            value(b.version),
            b.current(name),
        ),
    )
}

fn inside(
    a: &Zone,
    b: &Zone,
    value: &dyn Fn(u32) -> String,
    name: &dyn Fn(u32) -> String,
) -> Violation {
    let during = if b.first_return.1 == b.last_invoke.1 {
        format!("during {}", name(b.last_invoke.1))
    } else {
        format!(
            "between the invocation of {} and the completion of {}",
            name(b.last_invoke.1),
            name(b.first_return.1)
        )
    };
    Violation::naming(
        b.first_return.1,
        [b.last_invoke.1, a.first_return.1, a.last_invoke.1],
        format!(
            "the ops of the value {} had to take effect {during}, but all that time the \
             value {} had to stay current ({})",
            value(b.version),
            value(a.version),
            a.current(name),
        ),
    )
}

/// `c` (of version `v`) returned before the op that the order of values puts before it
/// was invoked.
fn out_of_order(
    c: u32,
    v: u32,
    at: (Time, u32, u32),
    versions: &[Version],
    value: &dyn Fn(u32) -> String,
    name: &dyn Fn(u32) -> String,
) -> Violation {
    let (_, before, before_version) = at;
    let role = |op: u32, version: u32| {
        if versions[version as usize].creator == op {
            format!("wrote {}", value(version))
        } else {
            format!("read {}", value(version))
        }
    };
    let why = if before_version == v {
        format!("{} {}", name(before), role(before, v))
    } else {
        format!(
            "{} {}, and {} only came after it (cas or append ops fix that order)",
            name(before),
            role(before, before_version),
            value(v)
        )
    };
    Violation {
        culprit: c,
        involved: vec![before],
        text: format!(
            "{} {} but completed before {} was invoked: {why}",
            name(c),
            role(c, v),
            name(before)
        ),
    }
}

fn never_written(
    v: u32,
    readers: &[(u32, u32)],
    versions: &[Version],
    value: &dyn Fn(u32) -> String,
    name: &dyn Fn(u32) -> String,
) -> Violation {
    let by = readers.first().map(|&(_, c)| c).unwrap_or_else(|| {
        // Observed only by a cas that expected it.
        versions
            .iter()
            .find(|w| w.pred == v)
            .map_or(NONE, |w| w.creator)
    });
    Violation {
        culprit: by,
        involved: Vec::new(),
        text: format!("{} saw the value {}, which no op wrote", name(by), value(v)),
    }
}

#[cfg(test)]
#[path = "unique_tests.rs"]
mod tests;
