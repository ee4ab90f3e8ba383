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

    #[test]
    fn levels_parse_in_the_catalogs_order_and_unknown_ones_list_the_valid() {
        assert_eq!(
            "serializable".parse::<EtcdReads>().unwrap(),
            EtcdReads::Serializable
        );
        assert_eq!("sync".parse::<ZkReads>().unwrap(), ZkReads::Sync);
        assert_eq!("direct".parse::<NatsReads>().unwrap(), NatsReads::Direct);
        let err = "strong".parse::<NatsReads>().unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown read consistency 'strong' for nats: it takes one of leader, direct"
        );
    }
}
