//! Targets: how the controller reaches nodes. Only `local` (processes on this machine)
//! exists so far; SSH and docker targets will implement the same abilities.
//!
//! - [`local`]: node processes, their network and their clocks.
//! - [`netns`]: a network namespace per node (as root).
//! - [`relay`]: per-link TCP relays (partitions without privilege).
//! - [`exec`]: the local [`faultline_nemeses::control::Control`] (commands in a node's namespace).
//! - [`processes`]: the local `ProcessControl`.

pub mod exec;
pub mod local;
pub mod netns;
pub mod processes;
pub mod relay;
