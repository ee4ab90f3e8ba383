//! What each cycle anomaly is, as a search: the edges it may use, the edge it is anchored
//! on, and the rules the rest of the cycle follows; and how a found cycle is classified
//! from its edges, as Elle's cycle explainer does (one rw edge: G-single-item; several, two
//! of them adjacent: G2-item; several, none adjacent: G-nonadjacent-item; else wr: G1c;
//! else G0; with `-realtime` or `-process` when such an edge takes part). Every rw edge
//! here is on an item (there are no predicate reads), hence Elle's `-item` names.
//!
//! This module must never search: it only describes searches.

use super::graph::{Label, DATA, PROCESS, REALTIME, RW, SESSION_RW, WR, WW};
use super::lattice::{Anomaly, ConsistencyModel};

/// The cycle anomalies without a variant, in the order they are searched.
pub(super) const BASES: [Base; 5] = [
    Base::G0,
    Base::G1c,
    Base::GSingle,
    Base::GNonadjacent,
    Base::G2Item,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Base {
    G0,
    G1c,
    GSingle,
    GNonadjacent,
    G2Item,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Variant {
    Data,
    Process,
    Realtime,
}

impl Variant {
    /// The extra edge kinds a variant may use.
    pub(super) fn mask(self) -> u8 {
        match self {
            Variant::Data => 0,
            Variant::Process => PROCESS,
            Variant::Realtime => PROCESS | REALTIME,
        }
    }

    /// The rw kinds a variant may use: session rw edges only with process or real time.
    pub(super) fn rw(self) -> u8 {
        match self {
            Variant::Data => RW,
            _ => RW | SESSION_RW,
        }
    }

    /// The label a cycle of this variant must contain.
    pub(super) fn required(self) -> Option<Label> {
        match self {
            Variant::Data => None,
            Variant::Process => Some(Label::Process),
            Variant::Realtime => Some(Label::Realtime),
        }
    }
}

/// The anomaly a cycle's labels make, as Elle's cycle explainer classifies it.
pub(crate) fn classify(labels: &[Label]) -> Option<Anomaly> {
    let count = |l: Label| labels.iter().filter(|&&x| x == l).count();
    let rw = labels.iter().filter(|l| l.is_rw()).count();
    let adjacent =
        (0..labels.len()).any(|i| labels[i].is_rw() && labels[(i + 1) % labels.len()].is_rw());
    let base = if rw == 1 {
        Base::GSingle
    } else if rw > 1 && adjacent {
        Base::G2Item
    } else if rw > 1 {
        Base::GNonadjacent
    } else if count(Label::Wr) > 0 {
        Base::G1c
    } else if count(Label::Ww) > 0 {
        Base::G0
    } else {
        return None;
    };
    let variant = if count(Label::Realtime) > 0 {
        Variant::Realtime
    } else if labels.iter().any(|l| l.is_process()) {
        Variant::Process
    } else {
        Variant::Data
    };
    Some(anomaly(base, variant))
}

pub(super) fn anomaly(base: Base, variant: Variant) -> Anomaly {
    use Anomaly as A;
    let names = match base {
        Base::G0 => [A::G0, A::G0_PROCESS, A::G0_REALTIME],
        Base::G1c => [A::G1C, A::G1C_PROCESS, A::G1C_REALTIME],
        Base::GSingle => [
            A::G_SINGLE_ITEM,
            A::G_SINGLE_ITEM_PROCESS,
            A::G_SINGLE_ITEM_REALTIME,
        ],
        Base::GNonadjacent => [
            A::G_NONADJACENT_ITEM,
            A::G_NONADJACENT_ITEM_PROCESS,
            A::G_NONADJACENT_ITEM_REALTIME,
        ],
        Base::G2Item => [A::G2_ITEM, A::G2_ITEM_PROCESS, A::G2_ITEM_REALTIME],
    };
    names[variant as usize]
}

/// What a search anchors on (an `Edge(Rw)` anchor takes a session rw edge too).
#[derive(Debug, Clone, Copy)]
pub(super) enum Anchor {
    Edge(Label),
    RwPair,
}

pub(super) const LAST_RW: u8 = 1;
pub(super) const SEEN_RW: u8 = 2;
pub(super) const SEEN_REQUIRED: u8 = 4;

/// How the rest of a cycle, after its anchor, may go.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rules {
    /// Label bits (the edge kind bits) the rest may use.
    pub(super) allowed: u8,
    /// No two rw edges adjacent, at least one rw in the rest, none last.
    pub(super) nonadjacent: bool,
    /// A label the rest must contain (when the anchor is not it).
    pub(super) required: Option<Label>,
}

impl Rules {
    pub(super) fn stateless(&self) -> bool {
        !self.nonadjacent && self.required.is_none()
    }

    #[inline]
    pub(super) fn step(&self, state: u8, label: Label) -> Option<u8> {
        if bit(label) & self.allowed == 0 {
            return None;
        }
        let mut s = state;
        if self.nonadjacent {
            if label.is_rw() {
                if s & LAST_RW != 0 {
                    return None;
                }
                s |= LAST_RW | SEEN_RW;
            } else {
                s &= !LAST_RW;
            }
        }
        if self.satisfies(label) {
            s |= SEEN_REQUIRED;
        }
        Some(s)
    }

    /// Whether `label` is the kind the rest must contain (a session rw edge counts as a
    /// process edge).
    #[inline]
    pub(super) fn satisfies(&self, label: Label) -> bool {
        match self.required {
            Some(Label::Process) => label.is_process(),
            Some(r) => label == r,
            None => false,
        }
    }

    #[inline]
    pub(super) fn accepts(&self, state: u8) -> bool {
        (!self.nonadjacent || state & (LAST_RW | SEEN_RW) == SEEN_RW)
            && (self.required.is_none() || state & SEEN_REQUIRED != 0)
    }
}

pub(super) fn bit(label: Label) -> u8 {
    match label {
        Label::Ww => WW,
        Label::Wr => WR,
        Label::Rw => RW,
        Label::SessionRw => SESSION_RW,
        Label::Process => PROCESS,
        Label::Realtime => REALTIME,
    }
}

/// One search: the anomaly, the edges it labels with, its anchor and rules.
#[derive(Debug, Clone, Copy)]
pub(super) struct Spec {
    pub(super) anomaly: Anomaly,
    pub(super) mask: u8,
    pub(super) anchor: Anchor,
    pub(super) rules: Rules,
}

pub(super) fn spec(base: Base, variant: Variant) -> Spec {
    let v = variant.mask();
    let required = variant.required();
    let data = match base {
        Base::G0 => WW,
        Base::G1c => WW | WR,
        _ => WW | WR | variant.rw(),
    };
    let (anchor, allowed, nonadjacent, rest_required) = match (base, required) {
        (Base::G0, None) => (Anchor::Edge(Label::Ww), WW, false, None),
        (Base::G0, Some(r)) => (Anchor::Edge(r), WW | v, false, None),
        (Base::G1c, None) => (Anchor::Edge(Label::Wr), WW | WR, false, None),
        (Base::G1c, Some(r)) => (Anchor::Edge(r), WW | WR | v, false, Some(Label::Wr)),
        (Base::GSingle, r) => (Anchor::Edge(Label::Rw), WW | WR | v, false, r),
        (Base::GNonadjacent, r) => (Anchor::Edge(Label::Rw), data | v, true, r),
        (Base::G2Item, r) => (Anchor::RwPair, data | v, false, r),
    };
    Spec {
        anomaly: anomaly(base, variant),
        mask: data | v,
        anchor,
        rules: Rules {
            allowed,
            nonadjacent,
            required: rest_required,
        },
    }
}

/// The subgraph whose cycles rule out a model, for the fallback search.
pub(super) const CYCLE_MODELS: [(u8, ConsistencyModel); 9] = [
    (WW, ConsistencyModel("read-uncommitted")),
    (WW | WR, ConsistencyModel("read-committed")),
    (DATA, ConsistencyModel("serializable")),
    (
        WW | PROCESS,
        ConsistencyModel("strong-session-read-uncommitted"),
    ),
    (
        WW | WR | PROCESS,
        ConsistencyModel("strong-session-read-committed"),
    ),
    (
        DATA | SESSION_RW | PROCESS,
        ConsistencyModel("strong-session-serializable"),
    ),
    (
        WW | PROCESS | REALTIME,
        ConsistencyModel("strong-read-uncommitted"),
    ),
    (
        WW | WR | PROCESS | REALTIME,
        ConsistencyModel("strong-read-committed"),
    ),
    (
        DATA | SESSION_RW | PROCESS | REALTIME,
        ConsistencyModel("strict-serializable"),
    ),
];
