//! The local target: every node is a process on this machine (in its own network namespace
//! as root), reached through loopback or the namespaces' bridge.
//!
//! - [`target`]: node processes, their data folders, logs and pids ([`LocalTarget`]).
//! - [`netns`]: a network namespace per node (as root).
//! - [`relay`]: per-link TCP relays (partitions and link faults without privilege).
//! - [`nfqueue`]: faultline's packet scheduler for slow and lossy links where the kernel has no netem.
//! - [`exec`]: the local [`faultline_nemeses::control::Control`] (commands in a node's namespace).
//! - [`processes`]: the local `ProcessControl` (kill, pause, resume).
//! - [`datafiles`]: the nodes' data files, for disk faults.

pub mod datafiles;
pub mod exec;
pub mod netns;
pub mod nfqueue;
pub mod processes;
pub mod relay;
pub mod target;

pub use target::{leftover_nodes, stop_leftover_nodes, LocalTarget, NodeError, PARENT_PID_ENV};
