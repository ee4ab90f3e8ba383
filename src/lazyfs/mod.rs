//! lazyfs: faultline's own FUSE filesystem for `--nemesis lose-unfsynced`, in the spirit of
//! Jepsen's lazyfs. Each node's data directory is mounted through it; writes that were not
//! fsynced stay in a volatile layer in memory, and on the fault the node is killed and that
//! layer dropped, so the node restarts on what was durable.
//!
//! - [`model`]: the file tree, its volatile layer and exactly what an fsync makes durable.
//! - [`overlay`]: the dirty extents of one file.
//! - [`fuse`]: the model served to the kernel (the `fuser` crate, no libfuse).
//! - [`server`]: `faultline lazyfs`, the mount's own process with its control socket.
//! - [`mounts`]: the harness's side for local nodes: mount every node's data directory, lose
//!   its writes, unmount, and undo leftovers for `faultline heal`. On SSH nodes the SSH
//!   target runs `faultline lazyfs` as a daemon and talks to it through `--send`.
//! - [`control`]: the client of a mount's control socket.
//! - [`mount_table`]: whether a path is mounted, and a lazy unmount.

pub mod control;
pub mod fuse;
pub mod model;
pub mod mount_table;
pub mod mounts;
pub mod overlay;
pub mod server;
