//! The controller's side of `--nemesis membership`: the system's membership ability over
//! this run's nodes, wrapped in the nemeses crate's [`MembershipNemesis`], which starts from
//! every node as a member and restores that membership when it heals.

use std::sync::Arc;

use anyhow::Result;
use faultline_nemeses::control::ProcessControl;
use faultline_nemeses::ledger::Ledger;
use faultline_nemeses::membership::MembershipNemesis;
use faultline_nemeses::nemesis::Nemesis;
use faultline_nemeses::start_stop::Serialised;

use crate::systems::System;
use crate::targets::cluster::Cluster;

/// The `membership` nemesis of a run, or an error when the system has no membership API
/// (spec validation refuses that earlier, with the same reason).
pub(crate) fn membership_nemesis(
    cluster: &Cluster,
    system: &Arc<dyn System>,
    process: Arc<dyn ProcessControl>,
    ledger: &Arc<Ledger>,
) -> Result<Arc<dyn Nemesis>> {
    let Some(membership) = system.membership(cluster.nodes(), process, cluster.shared_shell())
    else {
        anyhow::bail!(
            "--nemesis membership: {}",
            crate::spec::systems::unsupported_nemesis(system.name(), "membership")
                .unwrap_or_else(|| format!("the {} system has no membership API", system.name()))
        );
    };
    let members = cluster.nodes().iter().map(|n| n.name.clone()).collect();
    Ok(Arc::new(Serialised::new(MembershipNemesis::new(
        membership,
        members,
        ledger.clone(),
    ))))
}
