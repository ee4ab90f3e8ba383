//! Anomalies and consistency models, and which models an anomaly rules out: the lattice of
//! Adya's and Cerone's isolation levels as Elle's `consistency-model` namespace draws it.
//!
//! Three small directed graphs, written as tables:
//!
//! - **models**: `a → b` when every history that satisfies `a` also satisfies `b`
//!   (`strict-serializable → serializable → repeatable-read → ...`);
//! - **proscribed**: the anomalies a model forbids directly, over what the models it
//!   implies forbid (`repeatable-read` adds `G2-item` and `lost-update`);
//! - **implied anomalies**: `a → b` when an `a` is also a `b` (`G0 → G1c`: a write cycle is a
//!   cycle of ww and wr edges; `lost-update → G2-item`).
//!
//! From these, [`boundary`] turns the anomalies found into the weakest models they rule
//! out (`not`) and the stronger ones that fall with them (`also-not`), and
//! [`prohibited_anomalies`] says which anomalies make a history invalid under the models a
//! user asks for. Names are Elle's friendly ones (`read-committed`, not `PL-2`); Adya's
//! names are accepted as aliases when parsing.
//!
//! Where faultline departs from Elle's tables, on purpose:
//!
//! - cycles are reported with Elle's `-item` names (`G-single-item`, `G-nonadjacent-item`):
//!   these workloads have no predicate reads, so every rw edge is an item anti-dependency,
//!   and such a cycle is a G2-item in Adya's sense, ruling out repeatable read;
//! - Elle's single-object models (`linearizable`, `sequential`, `causal`, `PRAM`, ...) and
//!   `view-serializable`, `session-serializable` and `1SR` are left out: nothing proscribes
//!   them and they lie below strict serializability, so no anomaly ever rules them out;
//! - `strict-serializable` is the friendly name where Elle prints `strong-serializable`
//!   (both are Elle's `PL-SS`);
//! - `garbage-read` (a read of a value nobody wrote) is faultline's own; it is proscribed by
//!   read uncommitted, as Elle proscribes `duplicate-elements` and `cyclic-versions`.
//!
//! This module must never look at a history: it is pure data about names.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// A kind of anomaly, by its Elle name (`G-single`, `lost-update`, ...).
///
/// Every anomaly this crate reports is one of [`Anomaly::REPORTED`]; the lattice knows a
/// few more names (such as `G1` or `G2`) that are only ever implied by those.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Anomaly(pub(crate) &'static str);

impl Anomaly {
    /// A write cycle: ww edges only.
    pub const G0: Anomaly = Anomaly("G0");
    /// G0 through a process order edge.
    pub const G0_PROCESS: Anomaly = Anomaly("G0-process");
    /// G0 through a real-time edge.
    pub const G0_REALTIME: Anomaly = Anomaly("G0-realtime");
    /// Aborted read: a committed txn read what a failed txn wrote.
    pub const G1A: Anomaly = Anomaly("G1a");
    /// Intermediate read: a txn read a state another txn overwrote before committing.
    pub const G1B: Anomaly = Anomaly("G1b");
    /// Circular information flow: a cycle of ww and wr edges with at least one wr.
    pub const G1C: Anomaly = Anomaly("G1c");
    /// G1c through a process order edge.
    pub const G1C_PROCESS: Anomaly = Anomaly("G1c-process");
    /// G1c through a real-time edge.
    pub const G1C_REALTIME: Anomaly = Anomaly("G1c-realtime");
    /// A cycle with exactly one rw (anti-dependency) edge: read skew. Implied only (by
    /// G-single-item): these workloads have no predicate reads.
    pub const G_SINGLE: Anomaly = Anomaly("G-single");
    /// G-single through a process order edge.
    pub const G_SINGLE_PROCESS: Anomaly = Anomaly("G-single-process");
    /// G-single through a real-time edge.
    pub const G_SINGLE_REALTIME: Anomaly = Anomaly("G-single-realtime");
    /// G-single whose rw edge is on an item (not a predicate): every G-single these
    /// workloads find. In Adya's terms also a G2-item, so repeatable read falls with it.
    pub const G_SINGLE_ITEM: Anomaly = Anomaly("G-single-item");
    /// G-single-item through a process order edge.
    pub const G_SINGLE_ITEM_PROCESS: Anomaly = Anomaly("G-single-item-process");
    /// G-single-item through a real-time edge.
    pub const G_SINGLE_ITEM_REALTIME: Anomaly = Anomaly("G-single-item-realtime");
    /// A cycle with several rw edges, no two of them adjacent.
    pub const G_NONADJACENT: Anomaly = Anomaly("G-nonadjacent");
    /// G-nonadjacent through a process order edge.
    pub const G_NONADJACENT_PROCESS: Anomaly = Anomaly("G-nonadjacent-process");
    /// G-nonadjacent through a real-time edge.
    pub const G_NONADJACENT_REALTIME: Anomaly = Anomaly("G-nonadjacent-realtime");
    /// G-nonadjacent whose rw edges are all on items: every G-nonadjacent these workloads
    /// find; also a G2-item.
    pub const G_NONADJACENT_ITEM: Anomaly = Anomaly("G-nonadjacent-item");
    /// G-nonadjacent-item through a process order edge.
    pub const G_NONADJACENT_ITEM_PROCESS: Anomaly = Anomaly("G-nonadjacent-item-process");
    /// G-nonadjacent-item through a real-time edge.
    pub const G_NONADJACENT_ITEM_REALTIME: Anomaly = Anomaly("G-nonadjacent-item-realtime");
    /// A cycle with two adjacent rw edges on items: write skew.
    pub const G2_ITEM: Anomaly = Anomaly("G2-item");
    /// G2-item through a process order edge.
    pub const G2_ITEM_PROCESS: Anomaly = Anomaly("G2-item-process");
    /// G2-item through a real-time edge.
    pub const G2_ITEM_REALTIME: Anomaly = Anomaly("G2-item-realtime");
    /// Adya's G2: anti-dependency cycles including predicate reads. These workloads have no
    /// predicate reads, so it is only ever implied (by G2-item, G-nonadjacent, write skew).
    pub const G2: Anomaly = Anomaly("G2");
    /// G2 through a process order edge (implied only).
    pub const G2_PROCESS: Anomaly = Anomaly("G2-process");
    /// G2 through a real-time edge (implied only).
    pub const G2_REALTIME: Anomaly = Anomaly("G2-realtime");
    /// A txn's read disagrees with its own earlier reads and writes of the key.
    pub const INTERNAL: Anomaly = Anomaly("internal");
    /// Two committed txns read the same version of a key and both wrote it.
    pub const LOST_UPDATE: Anomaly = Anomaly("lost-update");
    /// A read returned a list holding the same appended element twice.
    pub const DUPLICATE_ELEMENTS: Anomaly = Anomaly("duplicate-elements");
    /// A committed write built on the state a failed txn left.
    pub const DIRTY_UPDATE: Anomaly = Anomaly("dirty-update");
    /// A txn read a value it only wrote later itself.
    pub const FUTURE_READ: Anomaly = Anomaly("future-read");
    /// A read returned a value no txn ever wrote.
    pub const GARBAGE_READ: Anomaly = Anomaly("garbage-read");
    /// Two reads of a key that no single order of its appends can explain.
    pub const INCOMPATIBLE_ORDER: Anomaly = Anomaly("incompatible-order");
    /// The version order inferred for a key (rw-register) has a cycle.
    pub const CYCLIC_VERSIONS: Anomaly = Anomaly("cyclic-versions");

    /// Every anomaly the txn checkers can report, in the order they are listed. Cycles are
    /// reported with Elle's `-item` names, as every rw edge here is on an item.
    pub const REPORTED: [Anomaly; 25] = [
        Anomaly::G0,
        Anomaly::G0_PROCESS,
        Anomaly::G0_REALTIME,
        Anomaly::G1A,
        Anomaly::G1B,
        Anomaly::G1C,
        Anomaly::G1C_PROCESS,
        Anomaly::G1C_REALTIME,
        Anomaly::G_SINGLE_ITEM,
        Anomaly::G_SINGLE_ITEM_PROCESS,
        Anomaly::G_SINGLE_ITEM_REALTIME,
        Anomaly::G_NONADJACENT_ITEM,
        Anomaly::G_NONADJACENT_ITEM_PROCESS,
        Anomaly::G_NONADJACENT_ITEM_REALTIME,
        Anomaly::G2_ITEM,
        Anomaly::G2_ITEM_PROCESS,
        Anomaly::G2_ITEM_REALTIME,
        Anomaly::INTERNAL,
        Anomaly::LOST_UPDATE,
        Anomaly::DUPLICATE_ELEMENTS,
        Anomaly::DIRTY_UPDATE,
        Anomaly::FUTURE_READ,
        Anomaly::GARBAGE_READ,
        Anomaly::INCOMPATIBLE_ORDER,
        Anomaly::CYCLIC_VERSIONS,
    ];

    /// The Elle name, e.g. `G-single-realtime`.
    pub fn name(self) -> &'static str {
        self.0
    }

    /// Whether this anomaly is a dependency cycle (G0, G1c, G-single, ...).
    pub fn is_cycle(self) -> bool {
        self.0.starts_with("G0")
            || self.0.starts_with("G1c")
            || self.0.starts_with("G-")
            || self.0.starts_with("G2")
    }
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for Anomaly {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

/// A consistency model, by its friendly Elle name (`snapshot-isolation`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConsistencyModel(pub(crate) &'static str);

impl ConsistencyModel {
    /// The default a checker is asked for: serializable, and consistent with real time.
    pub const STRICT_SERIALIZABLE: ConsistencyModel = ConsistencyModel("strict-serializable");
    /// Conflict serializability (Adya's PL-3).
    pub const SERIALIZABLE: ConsistencyModel = ConsistencyModel("serializable");
    /// Adya's PL-SI.
    pub const SNAPSHOT_ISOLATION: ConsistencyModel = ConsistencyModel("snapshot-isolation");
    /// Adya's PL-2.99.
    pub const REPEATABLE_READ: ConsistencyModel = ConsistencyModel("repeatable-read");
    /// Adya's PL-2.
    pub const READ_COMMITTED: ConsistencyModel = ConsistencyModel("read-committed");
    /// Adya's PL-1.
    pub const READ_UNCOMMITTED: ConsistencyModel = ConsistencyModel("read-uncommitted");

    /// Every model, weakest first within each family.
    pub fn all() -> impl Iterator<Item = ConsistencyModel> {
        MODELS.iter().map(|(name, _)| ConsistencyModel(name))
    }

    /// The friendly name.
    pub fn name(self) -> &'static str {
        self.0
    }

    /// Whether checking this model needs real-time edges, process edges, or neither.
    pub fn needs(models: &[ConsistencyModel]) -> OrderEdges {
        let prohibited = prohibited_anomalies(models);
        let any = |suffix: &str| prohibited.iter().any(|a| a.0.ends_with(suffix));
        if any("-realtime") {
            OrderEdges::Realtime
        } else if any("-process") {
            OrderEdges::Process
        } else {
            OrderEdges::None
        }
    }
}

/// Which order edges besides the data dependencies a check needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OrderEdges {
    /// ww, wr and rw only.
    None,
    /// Plus each process's order of txns.
    Process,
    /// Plus process order and real time.
    Realtime,
}

impl fmt::Display for ConsistencyModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for ConsistencyModel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

/// A model name that is neither a friendly name nor an alias.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown consistency model \"{0}\"; known models are {known}", known = known_models())]
pub struct UnknownModel(pub String);

fn known_models() -> String {
    let names: Vec<&str> = MODELS.iter().map(|(name, _)| *name).collect();
    names.join(", ")
}

impl FromStr for ConsistencyModel {
    type Err = UnknownModel;

    /// A friendly name (`serializable`) or an alias (`PL-3`, `conflict-serializable`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = ALIASES
            .iter()
            .find(|(alias, _)| *alias == s)
            .map_or(s, |(_, name)| name);
        MODELS
            .iter()
            .find(|(model, _)| *model == name)
            .map(|(model, _)| ConsistencyModel(model))
            .ok_or_else(|| UnknownModel(s.to_string()))
    }
}

/// `a → [b...]`: a history satisfying `a` satisfies each `b`.
const MODELS: &[(&str, &[&str])] = &[
    ("read-uncommitted", &[]),
    ("read-committed", &["read-uncommitted"]),
    ("cursor-stability", &["read-committed"]),
    ("monotonic-view", &["read-committed"]),
    ("monotonic-snapshot-read", &["read-committed"]),
    ("monotonic-atomic-view", &["read-committed"]),
    ("consistent-view", &["cursor-stability", "monotonic-view"]),
    ("forward-consistent-view", &["consistent-view"]),
    ("read-atomic", &["monotonic-atomic-view"]),
    ("causal-cerone", &["read-atomic"]),
    ("update-atomic", &["read-atomic"]),
    ("prefix", &["causal-cerone"]),
    (
        "parallel-snapshot-isolation",
        &["causal-cerone", "update-atomic"],
    ),
    (
        "repeatable-read",
        &["cursor-stability", "monotonic-atomic-view"],
    ),
    ("update-serializable", &["forward-consistent-view"]),
    (
        "snapshot-isolation",
        &[
            "forward-consistent-view",
            "monotonic-atomic-view",
            "monotonic-snapshot-read",
            "parallel-snapshot-isolation",
            "prefix",
        ],
    ),
    (
        "serializable",
        &[
            "repeatable-read",
            "update-serializable",
            "snapshot-isolation",
        ],
    ),
    ("strong-session-read-uncommitted", &["read-uncommitted"]),
    (
        "strong-session-read-committed",
        &["read-committed", "strong-session-read-uncommitted"],
    ),
    (
        "strong-read-uncommitted",
        &["strong-session-read-uncommitted"],
    ),
    (
        "strong-read-committed",
        &["strong-session-read-committed", "strong-read-uncommitted"],
    ),
    (
        "strong-session-snapshot-isolation",
        &["snapshot-isolation", "strong-session-read-committed"],
    ),
    (
        "strong-snapshot-isolation",
        &["strong-session-snapshot-isolation", "strong-read-committed"],
    ),
    (
        "strong-session-serializable",
        &["serializable", "strong-session-snapshot-isolation"],
    ),
    (
        "strict-serializable",
        &[
            "serializable",
            "snapshot-isolation",
            "strong-snapshot-isolation",
            "strong-session-serializable",
        ],
    ),
];

/// Adya's and other names for the friendly ones.
const ALIASES: &[(&str, &str)] = &[
    ("PL-1", "read-uncommitted"),
    ("PL-2", "read-committed"),
    ("PL-CS", "cursor-stability"),
    ("PL-2L", "monotonic-view"),
    ("PL-MSR", "monotonic-snapshot-read"),
    ("PL-2+", "consistent-view"),
    ("PL-FCV", "forward-consistent-view"),
    ("PL-2.99", "repeatable-read"),
    ("PL-3U", "update-serializable"),
    ("PL-SI", "snapshot-isolation"),
    ("PL-3", "serializable"),
    ("conflict-serializable", "serializable"),
    ("PL-SS", "strict-serializable"),
    ("strong-serializable", "strict-serializable"),
    ("strong-session-PL-1", "strong-session-read-uncommitted"),
    ("strong-session-PL-2", "strong-session-read-committed"),
    ("strong-PL-1", "strong-read-uncommitted"),
    ("strong-PL-2", "strong-read-committed"),
    // Elle names ROLA's guarantee update atomicity (Cerone); faultline once called it ROLA.
    ("ROLA", "update-atomic"),
];

/// The anomalies each model forbids directly (over the models it implies).
const PROSCRIBED: &[(&str, &[&str])] = &[
    (
        "read-uncommitted",
        &[
            "G0",
            "duplicate-elements",
            "cyclic-versions",
            "garbage-read",
        ],
    ),
    ("read-committed", &["G1"]),
    ("cursor-stability", &["G1", "G-cursor", "lost-update"]),
    ("monotonic-view", &["G1", "G-monotonic"]),
    ("monotonic-snapshot-read", &["G1", "G-MSR"]),
    ("consistent-view", &["G1", "G-single"]),
    ("forward-consistent-view", &["G1", "G-SIb"]),
    ("read-atomic", &["internal", "G1a", "future-read"]),
    ("causal-cerone", &["internal", "G1a"]),
    ("update-atomic", &["lost-update"]),
    ("prefix", &["internal", "G1a"]),
    ("parallel-snapshot-isolation", &["internal", "G1a"]),
    ("repeatable-read", &["G1", "G2-item", "lost-update"]),
    ("update-serializable", &["G1", "G-update"]),
    (
        "snapshot-isolation",
        &["internal", "G1", "G-SI", "G-nonadjacent"],
    ),
    ("serializable", &["G1", "G2", "internal"]),
    ("strong-session-read-uncommitted", &["G0-process"]),
    ("strong-session-read-committed", &["G1c-process"]),
    ("strong-read-uncommitted", &["G0-realtime"]),
    ("strong-read-committed", &["G1c-realtime"]),
    (
        "strong-session-snapshot-isolation",
        &["internal", "G1-process", "G-nonadjacent-process"],
    ),
    (
        "strong-snapshot-isolation",
        &["internal", "G1-realtime", "G-nonadjacent-realtime"],
    ),
    ("strong-session-serializable", &["G1-process", "G2-process"]),
    (
        "strict-serializable",
        &["G1", "G1c-realtime", "G2-realtime"],
    ),
];

/// `a → [b...]`: an anomaly `a` is also a `b`.
const IMPLIED: &[(&str, &[&str])] = &[
    ("G0", &["G1c", "G0-process"]),
    ("G0-process", &["G1c-process", "G0-realtime"]),
    ("G0-realtime", &["G1c-realtime"]),
    ("G1a", &["G1"]),
    ("G1b", &["G1"]),
    ("G1c", &["G1", "G1c-process"]),
    ("G1c-process", &["G1c-realtime", "G1-process"]),
    ("G1c-realtime", &["G1-realtime"]),
    ("G1", &["G1-process"]),
    ("G1-process", &["G1-realtime"]),
    (
        "G-single-item",
        &["G-single", "G-single-item-process", "G-nonadjacent-item"],
    ),
    (
        "G-single-item-process",
        &[
            "G-single-process",
            "G-single-item-realtime",
            "G-nonadjacent-item-process",
        ],
    ),
    (
        "G-single-item-realtime",
        &["G-single-realtime", "G-nonadjacent-item-realtime"],
    ),
    // Elle writes this `:GSIb`, which no model proscribes (they name `:G-SIb`); either way
    // G-single already rules out forward-consistent-view (through consistent-view) and
    // snapshot-isolation (through G-nonadjacent), so no model set differs.
    ("G-single", &["G-nonadjacent", "G-SIb", "G-single-process"]),
    (
        "G-single-process",
        &["G-nonadjacent-process", "G-single-realtime"],
    ),
    ("G-single-realtime", &["G-nonadjacent-realtime"]),
    (
        "G-nonadjacent-item",
        &["G-nonadjacent", "G2-item", "G-nonadjacent-item-process"],
    ),
    (
        "G-nonadjacent-item-process",
        &[
            "G-nonadjacent-process",
            "G2-item-process",
            "G-nonadjacent-item-realtime",
        ],
    ),
    (
        "G-nonadjacent-item-realtime",
        &["G2-item-realtime", "G-nonadjacent-realtime"],
    ),
    ("G-nonadjacent", &["G2", "G-nonadjacent-process"]),
    (
        "G-nonadjacent-process",
        &["G2-process", "G-nonadjacent-realtime"],
    ),
    ("G-nonadjacent-realtime", &["G2-realtime"]),
    ("G2", &["G2-process"]),
    ("G2-item", &["G2", "G2-item-process"]),
    ("G2-item-process", &["G2-process", "G2-item-realtime"]),
    ("G2-item-realtime", &["G2-realtime"]),
    ("G2-process", &["G2-realtime"]),
    ("G-SIa", &["G-SI"]),
    ("G-SIb", &["G-SI"]),
    ("incompatible-order", &["G1a"]),
    ("future-read", &["G1c"]),
    ("dirty-update", &["G1a"]),
    ("lost-update", &["write-skew", "G2-item"]),
    ("write-skew", &["G2"]),
];

/// Every name reachable from `start` in `graph` (following `a → b` when `forward`, else
/// `b → a`), `start` included.
fn closure(
    graph: &[(&'static str, &'static [&'static str])],
    start: impl IntoIterator<Item = &'static str>,
    forward: bool,
) -> BTreeSet<&'static str> {
    let mut seen: BTreeSet<&'static str> = BTreeSet::new();
    let mut todo: Vec<&'static str> = start.into_iter().collect();
    while let Some(name) = todo.pop() {
        if !seen.insert(name) {
            continue;
        }
        for (from, tos) in graph {
            if forward && *from == name {
                todo.extend(tos.iter().copied());
            } else if !forward && tos.contains(&name) {
                todo.push(from);
            }
        }
    }
    seen
}

/// The interned `&'static str` for a name in the tables, so found anomalies and table
/// entries compare by value.
fn anomaly(name: &'static str) -> Anomaly {
    Anomaly(name)
}

/// The anomalies that make a history invalid when all of `models` must hold: what every
/// model they imply forbids, and every anomaly that implies one of those.
pub fn prohibited_anomalies(models: &[ConsistencyModel]) -> BTreeSet<Anomaly> {
    let implied = closure(MODELS, models.iter().map(|m| m.0), true);
    let direct = PROSCRIBED
        .iter()
        .filter(|(model, _)| implied.contains(model))
        .flat_map(|(_, anomalies)| anomalies.iter().copied());
    closure(IMPLIED, direct, false)
        .into_iter()
        .map(anomaly)
        .collect()
}

/// The models that cannot hold in a history with `anomalies`: those forbidding any
/// anomaly implied by them, and every model stronger than those.
pub fn impossible_models(anomalies: &[Anomaly]) -> BTreeSet<ConsistencyModel> {
    let implied = closure(IMPLIED, anomalies.iter().map(|a| a.0), true);
    let direct = PROSCRIBED
        .iter()
        .filter(|(_, forbidden)| forbidden.iter().any(|a| implied.contains(a)))
        .map(|(model, _)| *model);
    closure(MODELS, direct, false)
        .into_iter()
        .map(ConsistencyModel)
        .collect()
}

/// The models ruled out by `anomalies`, split as Elle's `boundary`: the weakest ones
/// (`not`: none of them implies another of the set) and the rest (`also-not`).
pub fn boundary(anomalies: &[Anomaly]) -> Boundary {
    let impossible = impossible_models(anomalies);
    let mut not = BTreeSet::new();
    let mut also_not = BTreeSet::new();
    for model in &impossible {
        let weaker = closure(MODELS, [model.0], true);
        let implies_another = weaker
            .iter()
            .any(|w| *w != model.0 && impossible.contains(&ConsistencyModel(w)));
        if implies_another {
            also_not.insert(*model);
        } else {
            not.insert(*model);
        }
    }
    Boundary { not, also_not }
}

/// The models a set of anomalies rules out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Boundary {
    /// The weakest models ruled out.
    pub not: BTreeSet<ConsistencyModel>,
    /// Every stronger model ruled out with them.
    #[serde(rename = "also-not")]
    pub also_not: BTreeSet<ConsistencyModel>,
}

/// Every anomaly implied by `found` (themselves included); used to skip searching for
/// what a found anomaly already implies.
pub(crate) fn implied_by(found: &[Anomaly]) -> BTreeSet<Anomaly> {
    closure(IMPLIED, found.iter().map(|a| a.0), true)
        .into_iter()
        .map(anomaly)
        .collect()
}

#[cfg(test)]
#[path = "lattice_tests.rs"]
mod tests;
