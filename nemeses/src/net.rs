//! Network partitions as data: a [`Grudge`] (which node drops packets from which peers),
//! the partition shapes Jepsen uses to build one ([`Shape`]: isolate one node, random halves,
//! the leader against the rest, a bridge, a majorities ring, an explicit grudge) plus one-way
//! partitions (Maelstrom users' asymmetric cuts: `one-way` drops one random node's packets at
//! every other node, while it still hears them; `n1>n2,n3` drops n1's packets at n2 and n3),
//! and the
//! [`Network`] seam a target implements to enforce a grudge (iptables on each node through
//! [`crate::control::Control`], or the local target's per-link relays).
//!
//! This module only computes; it must never act on a node itself.
//!
//! ```
//! use faultline_nemeses::net::{parse_grudge, Shape};
//! use rand::{rngs::StdRng, SeedableRng};
//!
//! let nodes: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
//! let grudge = parse_grudge("n1,n2|n3,n4,n5", &nodes).unwrap();
//! assert!(grudge.drops("n1", "n3") && grudge.drops("n3", "n1") && !grudge.drops("n1", "n2"));
//! let mut rng = StdRng::seed_from_u64(1);
//! let ring = Shape::MajoritiesRing.grudge(&nodes, None, &mut rng).unwrap();
//! // In a ring of five, every node still hears from itself and two others: a majority.
//! assert!(nodes.iter().all(|n| ring.dropped_by(n).len() == 2));
//! ```

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::{json, Value};

use crate::control::ControlError;

/// Which peers each node drops packets from. Nodes absent from the map drop nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grudge(pub BTreeMap<String, BTreeSet<String>>);

impl Grudge {
    /// Every node of each component drops packets from every node outside it; nodes in no
    /// component keep hearing from everyone and are heard by everyone (Jepsen's
    /// `complete-grudge`, plus bridging bystanders).
    pub fn complete(components: &[Vec<String>]) -> Grudge {
        let mut map = BTreeMap::new();
        for (i, component) in components.iter().enumerate() {
            let others: BTreeSet<String> = components
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .flat_map(|(_, c)| c.iter().cloned())
                .collect();
            if others.is_empty() {
                continue;
            }
            for node in component {
                map.insert(node.clone(), others.clone());
            }
        }
        Grudge(map)
    }

    /// Whether `node` drops packets from `from`.
    pub fn drops(&self, node: &str, from: &str) -> bool {
        self.0.get(node).is_some_and(|s| s.contains(from))
    }

    /// The peers `node` drops packets from.
    pub fn dropped_by(&self, node: &str) -> BTreeSet<String> {
        self.0.get(node).cloned().unwrap_or_default()
    }

    /// Whether the link between `a` and `b` is cut in either direction. Over TCP a one-way
    /// drop stalls every connection between the two, so relays cut such links whole.
    pub fn cuts(&self, a: &str, b: &str) -> bool {
        self.drops(a, b) || self.drops(b, a)
    }

    /// Whether nothing is dropped.
    pub fn is_empty(&self) -> bool {
        self.0.values().all(BTreeSet::is_empty)
    }

    /// `{"n1": ["n3", "n4"], ...}`, as recorded in the history.
    pub fn to_value(&self) -> Value {
        json!(self.0)
    }
}

/// A partition shape, chosen anew (with the seeded rng) each time a partition starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// One random node cut off from all others.
    One,
    /// The nodes shuffled and cut into a minority and a majority.
    Halves,
    /// The node the system names as leader cut off from all others.
    Leader,
    /// Two halves that cannot hear each other, and one node in the middle that hears both.
    Bridge,
    /// Every node hears a majority, and no two nodes hear the same majority.
    MajoritiesRing,
    /// Exactly these components (`--partition-grudge`).
    Explicit(Vec<Vec<String>>),
    /// One random node's packets are dropped by all others; it still hears them.
    OneWay,
    /// Packets from each of `from` are dropped by each of `to`, and nothing else
    /// (`--partition-grudge 'n1>n2,n3'`).
    Directed {
        /// The nodes whose packets are dropped.
        from: Vec<String>,
        /// The nodes that drop them.
        to: Vec<String>,
    },
}

impl Shape {
    /// The shapes a `null` partition request chooses among, by default.
    pub fn defaults() -> Vec<Shape> {
        vec![
            Shape::One,
            Shape::Halves,
            Shape::Leader,
            Shape::Bridge,
            Shape::MajoritiesRing,
        ]
    }

    /// The name used on the command line and in the history.
    pub fn name(&self) -> &'static str {
        match self {
            Shape::One => "one",
            Shape::Halves => "halves",
            Shape::Leader => "leader",
            Shape::Bridge => "bridge",
            Shape::MajoritiesRing => "ring",
            Shape::Explicit(_) | Shape::Directed { .. } => "grudge",
            Shape::OneWay => "one-way",
        }
    }

    /// Read one shape name (`one`, `halves`, `leader`, `bridge`, `ring`); `grudge` is built
    /// by [`parse_grudge`] instead.
    pub fn parse(name: &str) -> Result<Shape, String> {
        match name {
            "one" | "isolate" => Ok(Shape::One),
            "halves" | "majority" | "minority" => Ok(Shape::Halves),
            "leader" | "primaries" => Ok(Shape::Leader),
            "bridge" => Ok(Shape::Bridge),
            "ring" | "majorities-ring" => Ok(Shape::MajoritiesRing),
            "one-way" | "oneway" => Ok(Shape::OneWay),
            other => Err(format!(
                "unknown partition shape {other:?}; use one, halves, leader, bridge, ring, one-way (or grudge with --partition-grudge)"
            )),
        }
    }

    /// The grudge of this shape over `nodes`. `leader` is the node the system names as
    /// leader, needed by [`Shape::Leader`]. `Err` says why the shape cannot be made.
    pub fn grudge(
        &self,
        nodes: &[String],
        leader: Option<&str>,
        rng: &mut StdRng,
    ) -> Result<Grudge, String> {
        if nodes.len() < 2 {
            return Err(format!(
                "a cluster of {} node(s) cannot be partitioned",
                nodes.len()
            ));
        }
        let mut shuffled = nodes.to_vec();
        shuffled.shuffle(rng);
        let grudge = match self {
            Shape::One => {
                let (one, rest) = shuffled.split_at(1);
                Grudge::complete(&[one.to_vec(), rest.to_vec()])
            }
            Shape::Halves => {
                let (minority, majority) = shuffled.split_at(nodes.len() / 2);
                Grudge::complete(&[minority.to_vec(), majority.to_vec()])
            }
            Shape::Leader => {
                let leader = leader.ok_or("the system cannot name its leader")?;
                let rest: Vec<String> = nodes.iter().filter(|n| *n != leader).cloned().collect();
                Grudge::complete(&[vec![leader.to_string()], rest])
            }
            Shape::Bridge => {
                if nodes.len() < 3 {
                    return Err("a bridge needs at least 3 nodes".to_string());
                }
                let middle = nodes.len() / 2;
                let left = shuffled[..middle].to_vec();
                let right = shuffled[middle + 1..].to_vec();
                Grudge::complete(&[left, right])
            }
            Shape::MajoritiesRing => majorities_ring(&shuffled),
            Shape::OneWay => {
                let (one, rest) = shuffled.split_at(1);
                directed(one, rest)
            }
            Shape::Directed { from, to } => {
                if let Some(node) = from.iter().chain(to).find(|n| !nodes.contains(n)) {
                    return Err(format!(
                        "the grudge names {node}, not one of the nodes ({})",
                        nodes.join(", ")
                    ));
                }
                directed(from, to)
            }
            Shape::Explicit(components) => {
                for node in components.iter().flatten() {
                    if !nodes.contains(node) {
                        return Err(format!(
                            "the grudge names {node}, not one of the nodes ({})",
                            nodes.join(", ")
                        ));
                    }
                }
                Grudge::complete(components)
            }
        };
        Ok(grudge)
    }
}

/// Each of `to` drops packets from each of `from` (one way only).
fn directed(from: &[String], to: &[String]) -> Grudge {
    let from: BTreeSet<String> = from.iter().cloned().collect();
    Grudge(to.iter().map(|node| (node.clone(), from.clone())).collect())
}

/// Read `--partition-grudge` as a shape: components `n1,n2|n3,n4,n5` (cut both ways) or a
/// one-way cut `n1>n2,n3` (packets from the nodes left of `>` are dropped by those right of
/// it), checked for form but not against a node list.
pub fn parse_grudge_shape(text: &str) -> Result<Shape, String> {
    const HELP: &str = "give 'n1>n2,n3' (packets from n1 are dropped at n2 and n3; more than one node may stand left of '>')";
    let Some((left, right)) = text.split_once('>') else {
        return parse_components(text).map(Shape::Explicit);
    };
    let list = |side: &str| -> Result<Vec<String>, String> {
        let nodes: Vec<String> = side.split(',').map(|n| n.trim().to_string()).collect();
        if nodes.iter().any(String::is_empty) {
            return Err(format!("empty node name in grudge {text:?}; {HELP}"));
        }
        Ok(nodes)
    };
    let (from, to) = (list(left)?, list(right)?);
    if let Some(both) = from.iter().find(|n| to.contains(n)) {
        return Err(format!(
            "the grudge {text:?} names {both} on both sides; {HELP}"
        ));
    }
    if right.contains('>') || right.contains('|') || left.contains('|') {
        return Err(format!(
            "the grudge {text:?} mixes '>' with '|' or another '>'; {HELP}"
        ));
    }
    Ok(Shape::Directed { from, to })
}

/// Jepsen's majorities ring over nodes already in ring order: each node hears the window
/// of a majority centred on itself and drops the rest.
fn majorities_ring(ring: &[String]) -> Grudge {
    let n = ring.len();
    let m = n / 2 + 1;
    let before = m / 2;
    let mut map = BTreeMap::new();
    for (p, node) in ring.iter().enumerate() {
        let heard: BTreeSet<usize> = (0..m).map(|k| (p + n - before + k) % n).collect();
        let dropped: BTreeSet<String> = (0..n)
            .filter(|q| !heard.contains(q))
            .map(|q| ring[q].clone())
            .collect();
        if !dropped.is_empty() {
            map.insert(node.clone(), dropped);
        }
    }
    Grudge(map)
}

/// Read `--partition-grudge`: components separated by `|`, nodes by `,`
/// (`n1,n2|n3,n4,n5`). Every component drops packets from the others; nodes in no component
/// keep full connectivity.
pub fn parse_grudge(text: &str, nodes: &[String]) -> Result<Grudge, String> {
    let components = parse_components(text)?;
    Shape::Explicit(components).grudge(nodes, None, &mut rand::SeedableRng::seed_from_u64(0))
}

/// The components of a grudge text, checked for shape but not against a node list.
pub fn parse_components(text: &str) -> Result<Vec<Vec<String>>, String> {
    const HELP: &str = "give components separated by '|' and nodes by ',', e.g. 'n1,n2|n3,n4,n5'";
    let mut seen = BTreeSet::new();
    let mut components = Vec::new();
    for part in text.split('|') {
        let mut component = Vec::new();
        for node in part.split(',').map(str::trim) {
            if node.is_empty() {
                return Err(format!("empty node name in grudge {text:?}; {HELP}"));
            }
            if !seen.insert(node.to_string()) {
                return Err(format!("the grudge {text:?} names {node} twice; {HELP}"));
            }
            component.push(node.to_string());
        }
        components.push(component);
    }
    if components.len() < 2 {
        return Err(format!(
            "the grudge {text:?} has one component, so nothing is cut; {HELP}"
        ));
    }
    Ok(components)
}

/// How a target enforces a grudge: each node drops packets from some peers.
///
/// `isolate` replaces whatever `node` dropped before; `heal` undoes everything on `node`
/// and succeeds when nothing was applied, so heal can repeat it safely.
#[async_trait]
pub trait Network: Send + Sync {
    /// The names of the nodes, in a stable order.
    fn nodes(&self) -> Vec<String>;
    /// A short name of how the cut is made (`iptables`, `nft`, `relays`), for the history.
    fn method(&self) -> String;
    /// Make `node` drop every packet from each of `from` (an empty list drops nothing).
    async fn isolate(&self, node: &str, from: &[String]) -> Result<(), ControlError>;
    /// Remove every cut on `node`.
    async fn heal(&self, node: &str) -> Result<(), ControlError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn nodes(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    /// Who `node` still hears (itself included).
    fn heard(g: &Grudge, all: &[String], node: &str) -> BTreeSet<String> {
        all.iter().filter(|p| !g.drops(node, p)).cloned().collect()
    }

    #[test]
    fn shapes_cut_what_jepsen_cuts() {
        let all = nodes(5);
        for seed in 0..20 {
            let mut rng = StdRng::seed_from_u64(seed);
            let one = Shape::One.grudge(&all, None, &mut rng).unwrap();
            let isolated: Vec<&String> = all
                .iter()
                .filter(|n| one.dropped_by(n).len() == 4)
                .collect();
            assert_eq!(isolated.len(), 1, "{one:?}");

            let halves = Shape::Halves.grudge(&all, None, &mut rng).unwrap();
            let sizes: BTreeSet<usize> =
                all.iter().map(|n| heard(&halves, &all, n).len()).collect();
            assert_eq!(sizes, BTreeSet::from([2, 3]));

            let bridge = Shape::Bridge.grudge(&all, None, &mut rng).unwrap();
            let middle: Vec<&String> = all
                .iter()
                .filter(|n| bridge.dropped_by(n).is_empty())
                .collect();
            assert_eq!(middle.len(), 1);
            assert!(all.iter().all(|n| !bridge.drops(n, middle[0])));

            let ring = Shape::MajoritiesRing.grudge(&all, None, &mut rng).unwrap();
            let views: BTreeSet<BTreeSet<String>> =
                all.iter().map(|n| heard(&ring, &all, n)).collect();
            assert_eq!(views.len(), 5, "no two nodes hear the same majority");
            assert!(views.iter().all(|v| v.len() == 3));
        }
    }

    #[test]
    fn one_way_partitions_drop_in_one_direction_only() {
        let all = nodes(5);
        for seed in 0..10 {
            let mut rng = StdRng::seed_from_u64(seed);
            let g = Shape::OneWay.grudge(&all, None, &mut rng).unwrap();
            let silenced: Vec<&String> =
                all.iter().filter(|n| g.dropped_by(n).is_empty()).collect();
            assert_eq!(silenced.len(), 1, "{g:?}");
            let a = silenced[0];
            assert!(all
                .iter()
                .filter(|n| *n != a)
                .all(|n| g.drops(n, a) && !g.drops(a, n)));
        }
        let shape = parse_grudge_shape("n1>n2,n3").unwrap();
        let g = shape
            .grudge(&all, None, &mut StdRng::seed_from_u64(0))
            .unwrap();
        assert!(g.drops("n2", "n1") && g.drops("n3", "n1") && !g.drops("n1", "n2"));
        assert!(!g.drops("n4", "n1") && g.cuts("n1", "n2"));
        assert_eq!(shape.name(), "grudge");
        for (text, why) in [
            ("n1>n1", "both sides"),
            ("n1>", "empty node"),
            ("n1>n2|n3", "mixes"),
        ] {
            let err = parse_grudge_shape(text).unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
        assert!(parse_grudge_shape("n1|n2").is_ok());
        let unknown = parse_grudge_shape("n1>n9").unwrap();
        assert!(unknown
            .grudge(&all, None, &mut StdRng::seed_from_u64(0))
            .is_err());
    }

    #[test]
    fn leader_shape_needs_a_leader() {
        let all = nodes(3);
        let mut rng = StdRng::seed_from_u64(3);
        assert!(Shape::Leader.grudge(&all, None, &mut rng).is_err());
        let g = Shape::Leader.grudge(&all, Some("n2"), &mut rng).unwrap();
        assert_eq!(
            g.dropped_by("n2"),
            BTreeSet::from(["n1".to_string(), "n3".to_string()])
        );
        assert_eq!(g.dropped_by("n1"), BTreeSet::from(["n2".to_string()]));
    }

    #[test]
    fn explicit_grudges_are_checked() {
        let all = nodes(5);
        let g = parse_grudge("n1|n2,n3", &all).unwrap();
        assert!(g.cuts("n1", "n2") && !g.cuts("n2", "n3"));
        assert!(g.dropped_by("n4").is_empty() && !g.drops("n1", "n4"));
        assert!(parse_grudge("n1,n2", &all)
            .unwrap_err()
            .contains("one component"));
        assert!(parse_grudge("n1,|n2", &all)
            .unwrap_err()
            .contains("empty node"));
        assert!(parse_grudge("n1|n1", &all).unwrap_err().contains("twice"));
        assert!(parse_grudge("n1|n9", &all).unwrap_err().contains("n9"));
        assert!(Shape::parse("square").unwrap_err().contains("ring"));
        assert!(Shape::One
            .grudge(&nodes(1), None, &mut StdRng::seed_from_u64(0))
            .is_err());
    }
}
