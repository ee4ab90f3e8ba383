//! The SSH target: nodes are machines (or containers) reached over SSH, one session per
//! node reused for every command, each on its own worker thread so a fault lands on all
//! nodes at once. The system runs on each node as a daemon started from its
//! [`StartCommand`](crate::systems::StartCommand) and tracked through a pidfile, so every
//! process fault (kill, pause) works as on the local target, and network faults run their
//! commands through [`Control`](faultline_nemeses::control::Control).
//!
//! `docker` brings up the docker-compose cluster of `docker/` and reaches it through this
//! same target. This module never shells out to a local `ssh` and never logs a password.

pub mod control;
pub mod docker;
mod faketime;
pub mod nodes;
mod nodeshell;
mod scripts;
pub(crate) mod session;
pub(crate) mod worker;

pub use control::SshProcesses;
pub use nodes::SshCluster;

use std::time::Duration;

/// Failures of the SSH target, each naming the node and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// No TCP connection or SSH handshake.
    #[error("{node}: cannot reach sshd at {addr}: {why}; check that the node is up and that sshd listens there (--ssh-port)")]
    Unreachable {
        /// The node.
        node: String,
        /// host:port.
        addr: String,
        /// Why.
        why: String,
    },
    /// The host key is in no known_hosts entry.
    #[error("{node}: the host key of {host} is not in {file}; check it and add it (ssh-keyscan -p {port} {host} >> {file}), or pass --accept-new-host-keys to learn it")]
    UnknownHostKey {
        /// The node.
        node: String,
        /// The host.
        host: String,
        /// sshd's port.
        port: u16,
        /// The known_hosts file.
        file: String,
    },
    /// The host key differs from the known one.
    #[error("{node}: the host key of {host} differs from the one in {file} (reinstalled, or not the node you meant); if expected, remove the old key with ssh-keygen -f {file} -R '{host}'")]
    HostKeyChanged {
        /// The node.
        node: String,
        /// The known_hosts name.
        host: String,
        /// The known_hosts file.
        file: String,
    },
    /// Authentication failed.
    #[error("{node}: user {user} was refused with {how}; install the matching public key in ~{user}/.ssh/authorized_keys on {node}, or fix --username, --ssh-private-key or --password")]
    AuthRefused {
        /// The node.
        node: String,
        /// The login user.
        user: String,
        /// The method tried (never the password itself).
        how: String,
    },
    /// `--sudo` but no sudo on the node.
    #[error("{node}: --sudo needs sudo, which is not installed there; install it (apt-get install sudo) or log in as root")]
    NoSudo {
        /// The node.
        node: String,
    },
    /// sudo asks for a password or refuses.
    #[error("{node}: {user} cannot run sudo without a password ({why}); add '{user} ALL=(ALL) NOPASSWD:ALL' to /etc/sudoers.d/faultline on {node}, or log in as root")]
    SudoRefused {
        /// The node.
        node: String,
        /// The login user.
        user: String,
        /// What sudo said.
        why: String,
    },
    /// A non-root user without `--sudo`.
    #[error("{node}: {user} is not root and --sudo was not given; pass --sudo (with passwordless sudo) or --username root")]
    NotRoot {
        /// The node.
        node: String,
        /// The login user.
        user: String,
    },
    /// The session broke mid-way.
    #[error("{node}: the SSH session failed to {what}: {why}")]
    Lost {
        /// The node.
        node: String,
        /// What was being done.
        what: String,
        /// Why.
        why: String,
    },
    /// A command ran past its time.
    #[error(
        "{node}: `{command}` did not finish within {after:?}; the node may be paused or cut off"
    )]
    Timeout {
        /// The node.
        node: String,
        /// The command (shortened).
        command: String,
        /// The limit.
        after: Duration,
    },
    /// A command exited non-zero where success was required.
    #[error("{node}: `{command}` exited with {status}: {stderr}")]
    CommandFailed {
        /// The node.
        node: String,
        /// The command (shortened).
        command: String,
        /// Its exit status.
        status: i32,
        /// The end of its stderr, on one line.
        stderr: String,
    },
    /// A problem on the controller's side.
    #[error("{what}: {why}")]
    Local {
        /// What failed.
        what: String,
        /// Why.
        why: String,
    },
    /// The node's worker thread is gone.
    #[error("{node}: the SSH worker thread stopped; this is a bug in faultline")]
    WorkerGone {
        /// The node.
        node: String,
    },
}

impl SshError {
    /// Whether the session is unusable after this error (and must be reopened).
    pub(crate) fn breaks_session(&self) -> bool {
        matches!(self, SshError::Lost { .. } | SshError::Timeout { .. })
    }
}

pub(crate) use crate::systems::node::one_line;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_keeps_the_end() {
        assert_eq!(one_line("a\n\n b \nc", 100), "a | b | c");
        assert_eq!(one_line("0123456789", 4), "...6789");
    }

    #[test]
    fn errors_name_the_node_and_the_fix() {
        let e = SshError::UnknownHostKey {
            node: "n1".into(),
            host: "10.0.0.1".into(),
            port: 22,
            file: "/root/.ssh/known_hosts".into(),
        };
        let text = e.to_string();
        assert!(text.starts_with("n1: "), "{text}");
        assert!(text.contains("--accept-new-host-keys"), "{text}");
        assert!(!text.contains('\n'));
    }
}
