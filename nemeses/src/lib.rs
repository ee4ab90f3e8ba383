//! faultline's nemeses: faults and fault schedules, written against a small `Control`
//! interface. This crate knows nothing of workloads, histories or checkers.
//!
//! - [`control`]: the traits a target implements to act on nodes ([`control::ProcessControl`],
//!   [`control::Control`]).
//! - [`nemesis`]: the Nemesis role and its [`nemesis::Outcome`]s.
//! - [`process`]: the `kill` and `pause` nemeses.
//! - [`net`]: partitions as data (grudges and Jepsen's shapes) and the [`net::Network`] seam.
//! - [`iptables`]: a `Network` over `Control` with iptables (or nft) in faultline's own chain.
//! - [`partition`]: the `partition` nemesis.
//! - [`netem`]: the `netem` nemesis (`tc qdisc ... netem`: delay, loss, duplication, ...).
//! - [`links`]: link faults without kernel netem (NFQUEUE, statistic, tbf, relays).
//! - [`disk`]: the `bitflip` and `truncate` nemeses (data files of stopped nodes).
//! - [`unfsynced`]: the `lose-unfsynced` nemesis (writes nodes did not fsync, dropped).
//! - [`clock`]: the `clock` nemesis (skew, strobe, reset) over libfaketime or `date -s`.
//! - [`membership`]: the `membership` nemesis (remove members, add them back) over a
//!   system's own [`membership::Membership`] API.
//! - [`ledger`]: which faults are applied, persisted for `faultline heal`.
//! - [`recover`]: undo everything a ledger holds.
//! - [`schedule`]: `--nemesis` parsing and the start/stop cycle that drives nemeses.
//! - [`explicit`]: explicit schedules (`--nemesis-schedule FILE`): exactly these faults at
//!   these offsets.

pub mod clock;
pub mod control;
pub mod disk;
pub mod explicit;
pub mod iptables;
pub mod ledger;
pub mod link_fault;
pub mod links;
pub mod membership;
pub mod nemesis;
pub mod net;
pub mod netem;
pub mod partition;
pub mod process;
pub mod recover;
pub mod schedule;
pub mod start_stop;
pub mod unfsynced;

#[cfg(test)]
mod testing;
