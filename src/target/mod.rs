//! Targets: how the controller reaches nodes. Only `local` (processes on this machine)
//! exists so far; SSH and docker targets will implement the same abilities.

pub mod local;
pub mod processes;
pub mod ssh;
