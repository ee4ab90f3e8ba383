//! Targets: how the controller reaches nodes — local processes, SSH hosts, docker-compose
//! containers (reached over SSH) — each implementing the nemeses crate's `Control` and
//! `ProcessControl`, so every fault works on every target.
//!
//! - [`cluster`]: the runner's one view of a run's nodes, whatever the target ([`cluster::Cluster`]).
//! - [`local`]: node processes on this machine, their network and their clocks.
//! - [`ssh`]: nodes over SSH, and the docker-compose cluster reached over SSH.

pub mod cluster;
pub mod local;
pub mod ssh;
