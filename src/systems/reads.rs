//! The read consistency levels of the systems that have more than one kind of read, as
//! types the clients match on, parsed from `--read-consistency` with the names the catalog
//! ([`crate::spec::systems`]) lists, strict first. Only names and parsing live here.

use crate::spec::systems::{ETCD_READS, NATS_READS, ZOOKEEPER_READS};

/// An unknown `--read-consistency` for a system.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown read consistency '{given}' for {system}: it takes one of {valid}")]
pub struct UnknownReadConsistency {
    /// The system.
    pub system: &'static str,
    /// What was given.
    pub given: String,
    /// The valid levels.
    pub valid: String,
}

/// A system's read levels: an enum whose variants follow the catalog's names in order.
macro_rules! read_levels {
    ($(#[$doc:meta])* $name:ident, $system:literal, $names:expr, [$($(#[$vdoc:meta])* $variant:ident),+ $(,)?]) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl std::str::FromStr for $name {
            type Err = UnknownReadConsistency;
            fn from_str(given: &str) -> Result<Self, Self::Err> {
                const LEVELS: &[$name] = &[$($name::$variant),+];
                $names
                    .iter()
                    .position(|name| *name == given)
                    .and_then(|i| LEVELS.get(i).copied())
                    .ok_or_else(|| UnknownReadConsistency {
                        system: $system,
                        given: given.to_string(),
                        valid: $names.join(", "),
                    })
            }
        }
    };
}

read_levels!(
    /// How etcd clients read.
    EtcdReads, "etcd", ETCD_READS, [
        /// Through the leader's read index.
        Linearizable,
        /// From the member's local state (may be stale).
        Serializable,
    ]
);

read_levels!(
    /// How ZooKeeper clients read.
    ZkReads, "zookeeper", ZOOKEEPER_READS, [
        /// `sync` before each read.
        Sync,
        /// A plain read from the session's server.
        Local,
    ]
);

read_levels!(
    /// How NATS clients read.
    NatsReads, "nats", NATS_READS, [
        /// Message-get through the stream leader.
        Leader,
        /// Direct get: any replica answers.
        Direct,
    ]
);

#[cfg(test)]
mod tests {
    use super::*;

    /// `names` parse to `levels` in order; an unknown name is refused naming the system and
    /// every valid name.
    fn parse_in_order<L>(system: &str, names: &[&str], levels: &[L])
    where
        L: std::str::FromStr<Err = UnknownReadConsistency> + PartialEq + std::fmt::Debug,
    {
        assert_eq!(names.len(), levels.len(), "{system}");
        for (name, level) in names.iter().zip(levels) {
            assert_eq!(&name.parse::<L>().unwrap(), level, "{system}: {name}");
        }
        let err = "strong".parse::<L>().unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "unknown read consistency 'strong' for {system}: it takes one of {}",
                names.join(", ")
            )
        );
    }

    #[test]
    fn levels_parse_in_the_catalogs_order_and_unknown_ones_list_the_valid() {
        use EtcdReads::*;
        parse_in_order(
            "etcd",
            &["linearizable", "serializable"],
            &[Linearizable, Serializable],
        );
        parse_in_order(
            "zookeeper",
            &["sync", "local"],
            &[ZkReads::Sync, ZkReads::Local],
        );
        parse_in_order(
            "nats",
            &["leader", "direct"],
            &[NatsReads::Leader, NatsReads::Direct],
        );
    }
}
