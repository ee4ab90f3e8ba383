//! The SSH options of `faultline test`, resolved and validated into an [`SshSpec`] before any
//! connection is made, and stored (without any secret) in the run's `test.json`, so
//! `faultline heal` can reach the same nodes again.
//!
//! A password never reaches a log, an error message or a file: it lives in a [`Secret`],
//! whose `Debug` and serialisation print nothing.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::exit::bad_input;

/// The environment variable `--password` may come from.
pub const PASSWORD_ENV: &str = "FAULTLINE_SSH_PASSWORD";

/// A password: shown as `***` by `Debug`, never serialised.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The password itself, for the one call that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

/// How to log in.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Auth {
    /// A private key file (`--ssh-private-key`).
    KeyFile(PathBuf),
    /// A password (`--password` or `FAULTLINE_SSH_PASSWORD`); stored as "password" only.
    #[serde(skip_deserializing, serialize_with = "password_marker")]
    Password(Secret),
    /// Every identity of the running ssh-agent.
    #[default]
    Agent,
}

fn password_marker<S: serde::Serializer>(_: &Secret, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("from --password or FAULTLINE_SSH_PASSWORD")
}

/// Everything the SSH target needs to reach the nodes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SshSpec {
    /// The nodes' host names or addresses, in order; they are also the node names.
    pub hosts: Vec<String>,
    /// The login user.
    pub username: String,
    /// How to log in.
    pub auth: Auth,
    /// sshd's port on every node.
    pub port: u16,
    /// Run node commands through `sudo -n` (for a non-root user).
    pub sudo: bool,
    /// The known_hosts file host keys are checked against.
    pub known_hosts: PathBuf,
    /// Add unknown host keys to `known_hosts` instead of refusing them.
    pub accept_new_host_keys: bool,
    /// Timeout of every SSH call (connect, each read or write).
    #[serde(with = "secs")]
    pub timeout: Duration,
    /// The folder on each node that holds `<node>/` (pidfile, log, data, programs).
    pub remote_dir: String,
    /// The port the system listens on, on every node.
    pub db_port: u16,
}

mod secs {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = <f64 as serde::Deserialize>::deserialize(d)?;
        Ok(Duration::from_secs_f64(secs.max(0.1)))
    }
}

/// The options of `faultline test --target ssh` (and `docker`), with Jepsen's names.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "SSH target (--target ssh)")]
pub struct SshFlags {
    /// The nodes' host names or addresses, comma separated (`n1,n2,n3`); they are also
    /// the node names.
    #[arg(long, value_name = "HOSTS")]
    pub nodes: Option<String>,
    /// A file listing the nodes, one a line (`#` starts a comment).
    #[arg(long, value_name = "FILE")]
    pub nodes_file: Option<PathBuf>,
    /// The login user on the nodes; a user other than root needs --sudo.
    #[arg(long, default_value = "root")]
    pub username: String,
    /// Private key to log in with. Without it (and without --password) every identity of
    /// the ssh-agent is tried.
    #[arg(long, value_name = "FILE")]
    pub ssh_private_key: Option<PathBuf>,
    /// Password to log in with (better: set FAULTLINE_SSH_PASSWORD). Never logged or
    /// stored.
    #[arg(long, env = PASSWORD_ENV, hide_env_values = true, value_name = "PASSWORD")]
    pub password: Option<Secret>,
    /// sshd's port on every node.
    #[arg(long, default_value_t = 22)]
    pub ssh_port: u16,
    /// Run node commands through `sudo -n` (passwordless sudo) for a non-root --username.
    #[arg(long)]
    pub sudo: bool,
    /// The known_hosts file host keys are checked against (default ~/.ssh/known_hosts).
    /// Unlike Jepsen, host keys are checked strictly: an unknown host is refused.
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// Learn the host keys of nodes not yet in known_hosts (a changed key is still refused).
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// Timeout of every SSH step (connect, each read or write), in seconds: a cut-off or
    /// paused node never hangs the controller longer.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub ssh_timeout: f64,
    /// Folder on each node for faultline's files: `<dir>/<node>/` holds the daemon's
    /// pidfile, log and data, `<dir>/bin/` uploaded programs.
    #[arg(long, default_value = "/var/tmp/faultline", value_name = "DIR")]
    pub remote_dir: String,
    /// Leave the docker cluster running after the test (--target docker).
    #[arg(long)]
    pub leave_running: bool,
}

/// The default known_hosts file: `~/.ssh/known_hosts`.
pub fn default_known_hosts() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    home.join(".ssh/known_hosts")
}

impl SshSpec {
    /// Validate the flags of `--target ssh`.
    pub fn resolve(flags: &SshFlags, db_port: Option<u16>) -> Result<SshSpec> {
        let listed = match (&flags.nodes, &flags.nodes_file) {
            (Some(_), Some(_)) => bad_input!("give either --nodes or --nodes-file, not both"),
            (Some(list), None) => list.clone(),
            (None, Some(file)) => match std::fs::read_to_string(file) {
                Ok(text) => text,
                Err(e) => bad_input!(
                    "--nodes-file {}: {e}; give a file with one host per line",
                    file.display()
                ),
            },
            (None, None) => bad_input!(
                "--target ssh needs the nodes: --nodes n1,n2,n3 or --nodes-file FILE (one host a line)"
            ),
        };
        let hosts = parse_hosts(&listed);
        if hosts.is_empty() {
            bad_input!("no nodes given: list host names or addresses, comma or line separated");
        }
        let mut seen = std::collections::BTreeSet::new();
        for host in &hosts {
            if !seen.insert(host) {
                bad_input!("node {host} is listed twice: list each node once");
            }
            if host.contains(['/', ' ', '\'', '"']) || host.starts_with('-') {
                bad_input!("'{host}' is not a host name or address");
            }
        }
        let auth = match (&flags.ssh_private_key, &flags.password) {
            (Some(_), Some(_)) => {
                bad_input!("give either --ssh-private-key or --password ({PASSWORD_ENV}), not both")
            }
            (Some(key), None) => {
                if !key.is_file() {
                    bad_input!(
                        "--ssh-private-key {}: no such file; give the path of a private key",
                        key.display()
                    );
                }
                Auth::KeyFile(key.clone())
            }
            (None, Some(password)) => Auth::Password(password.clone()),
            (None, None) => Auth::Agent,
        };
        if flags.username.is_empty() {
            bad_input!("--username is empty: give the login user (root, or a user with --sudo)");
        }
        if !(flags.ssh_timeout > 0.0 && flags.ssh_timeout.is_finite() && flags.ssh_timeout < 3600.0)
        {
            bad_input!(
                "--ssh-timeout {} is not a number of seconds below 3600",
                flags.ssh_timeout
            );
        }
        if !flags.remote_dir.starts_with('/') || flags.remote_dir.contains(['\'', '"', ' ']) {
            bad_input!(
                "--remote-dir {}: give an absolute path without quotes or spaces",
                flags.remote_dir
            );
        }
        Ok(SshSpec {
            hosts,
            username: flags.username.clone(),
            auth,
            port: flags.ssh_port,
            sudo: flags.sudo,
            known_hosts: flags
                .known_hosts
                .clone()
                .unwrap_or_else(default_known_hosts),
            accept_new_host_keys: flags.accept_new_host_keys,
            timeout: Duration::from_secs_f64(flags.ssh_timeout),
            remote_dir: flags.remote_dir.trim_end_matches('/').to_string(),
            db_port: db_port.unwrap_or(7001),
        })
    }
}

/// Hosts from `--nodes` or a nodes file: comma, space or line separated; `#` starts a
/// comment.
pub fn parse_hosts(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or(""))
        .flat_map(|line| line.split([',', ' ', '\t']))
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(nodes: &str) -> SshFlags {
        SshFlags {
            nodes: Some(nodes.to_string()),
            username: "root".into(),
            ssh_port: 22,
            ssh_timeout: 10.0,
            remote_dir: "/var/tmp/faultline".into(),
            ..SshFlags::default()
        }
    }

    #[test]
    fn hosts_from_lists_and_files() {
        assert_eq!(parse_hosts("n1,n2, n3"), ["n1", "n2", "n3"]);
        assert_eq!(parse_hosts("# nodes\nn1\n\nn2 # second\n"), ["n1", "n2"]);
    }

    #[test]
    fn bad_flags_are_bad_input() {
        for bad in [flags("n1,n1"), flags(""), flags("-oProxyCommand=x")] {
            let err = SshSpec::resolve(&bad, None).unwrap_err();
            assert_eq!(crate::exit::code_for(&err), crate::exit::BAD_INPUT, "{err}");
        }
        let mut no_key = flags("n1");
        no_key.ssh_private_key = Some("/nonexistent/key".into());
        let err = SshSpec::resolve(&no_key, None).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/key"), "{err}");
    }

    #[test]
    fn the_password_is_never_shown_or_stored() {
        let mut f = flags("n1");
        f.password = Some("hunter2".parse().unwrap());
        let spec = SshSpec::resolve(&f, None).unwrap();
        assert!(!format!("{spec:?}").contains("hunter2"));
        let json = serde_json::to_string(&spec).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
        assert_eq!(spec.db_port, 7001);
    }
}
