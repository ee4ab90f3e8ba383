//! Targets: how the controller reaches nodes — local processes, SSH hosts, docker-compose
//! containers (reached over SSH) — each implementing the nemeses crate's `Control` and
//! `ProcessControl`, so every fault works on every target.
//!
//! - [`local`]: node processes, their network and their clocks.
//! - [`netns`]: a network namespace per node (as root).
//! - [`relay`]: per-link TCP relays (partitions without privilege).
//! - [`exec`]: the local [`faultline_nemeses::control::Control`] (commands in a node's namespace).
//! - [`processes`]: the local `ProcessControl`.
//! - [`ssh`]: the SSH and docker targets, and [`ssh::either::Cluster`] over all of them.

pub mod datafiles;
pub mod exec;
pub mod local;
pub mod netns;
pub mod nfqueue;
pub mod processes;
pub mod relay;
pub mod ssh;
