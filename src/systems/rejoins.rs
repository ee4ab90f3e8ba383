//! The rejoins of a cluster's nodes under `--nemesis membership`, shared by a system's
//! membership API (which records them) and its start command (which reads them): a member
//! added back starts a fresh life on `data/rejoin-K`, a directory no earlier life used, so
//! no wipe is needed on any target, and joins the members of the time. etcd names them as
//! its `--initial-cluster`, the command system as a list.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use super::NodeSpec;

/// How a node starts after it rejoined the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejoin<M> {
    /// Which rejoin this is (1 for the first): its data directory is `data/rejoin-K`.
    pub generation: u32,
    /// The members it joins, as the system names them.
    pub members: M,
}

impl<M> Rejoin<M> {
    /// The data directory of this life of `node`.
    pub(crate) fn data_dir(&self, node: &NodeSpec) -> PathBuf {
        node.data_dir.join(format!("rejoin-{}", self.generation))
    }
}

/// The rejoins of a cluster's nodes, by node name; empty until a member is re-added.
#[derive(Debug, Clone)]
pub(crate) struct Rejoins<M>(Arc<Mutex<BTreeMap<String, Rejoin<M>>>>);

impl<M> Default for Rejoins<M> {
    fn default() -> Self {
        Rejoins(Arc::default())
    }
}

impl<M: Clone> Rejoins<M> {
    /// How `node` starts now, if it rejoined.
    pub(crate) fn get(&self, node: &str) -> Option<Rejoin<M>> {
        self.lock().get(node).cloned()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Rejoin<M>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `node` lived `generation` rejoins already (as `faultline heal` finds on disk): it
    /// starts on the latest data directory.
    pub(crate) fn resume(&self, node: &str, generation: u32, members: M) {
        self.lock().insert(
            node.to_string(),
            Rejoin {
                generation,
                members,
            },
        );
    }

    /// Record that `node` joins `members` on a fresh data directory.
    pub(crate) fn next(&self, node: &str, members: M) -> Rejoin<M> {
        let mut map = self.lock();
        let generation = map.get(node).map_or(1, |r| r.generation + 1);
        let rejoin = Rejoin {
            generation,
            members,
        };
        map.insert(node.to_string(), rejoin.clone());
        rejoin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rejoin_of_a_node_is_a_fresh_generation_on_its_own_data_directory() {
        let rejoins = Rejoins::default();
        assert_eq!(rejoins.get("n3"), None);
        assert_eq!(rejoins.next("n3", "a").generation, 1);
        let second = rejoins.next("n3", "b");
        assert_eq!((second.generation, second.members), (2, "b"));
        assert_eq!(rejoins.get("n3"), Some(second.clone()));
        assert_eq!(rejoins.next("n1", "c").generation, 1);
        let node = crate::systems::test_node(3, 2379, &[2380]);
        assert_eq!(
            second.data_dir(&node),
            PathBuf::from("/run/n3/data/rejoin-2")
        );
    }
}
