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

use crate::cli::{Secret, SshFlags, PASSWORD_ENV};
use crate::exit::bad_input;

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
    /// The nodes' host names or addresses, in order.
    pub hosts: Vec<String>,
    /// The nodes' names in logs and the history (`--nodes n1=10.0.0.1,...`), one per host;
    /// empty when the hosts are the names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
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
    /// For `--target docker`: the run's compose project and subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker: Option<super::docker::DockerProject>,
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
        let listed = parse_hosts(&listed);
        if listed.is_empty() {
            bad_input!("no nodes given: list host names or addresses, comma or line separated");
        }
        let mut hosts = Vec::new();
        let mut names = Vec::new();
        for entry in &listed {
            let (name, host) = entry.split_once('=').unwrap_or((entry, entry));
            hosts.push(host.to_string());
            names.push(name.to_string());
        }
        let named = listed.iter().any(|e| e.contains('='));
        if named && listed.iter().any(|e| !e.contains('=')) {
            bad_input!("--nodes: name every node (n1=HOST,n2=HOST) or none of them (HOST,HOST)");
        }
        let mut seen = std::collections::BTreeSet::new();
        for (name, host) in names.iter().zip(&hosts) {
            if !seen.insert(name) {
                bad_input!("node {name} is listed twice: list each node once");
            }
            for word in [name, host] {
                if word.is_empty()
                    || word.contains(['/', ' ', '\'', '"', '='])
                    || word.starts_with('-')
                {
                    bad_input!("'{word}' is not a node name, host name or address");
                }
            }
        }
        let names = if named { names } else { Vec::new() };
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
            names,
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
            docker: None,
        })
    }
}

impl SshSpec {
    /// The name of the `i`-th node: its given name, else its host.
    pub fn node_name(&self, i: usize) -> &str {
        self.names.get(i).unwrap_or(&self.hosts[i])
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

// The docker cluster of `docker/`, as SSH nodes.

/// The most nodes the compose file defines.
pub const MAX_NODES: usize = 5;

/// The folder that caches the key pair, the scripts and the known_hosts file.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FAULTLINE_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    home.join(".cache/faultline")
}

/// An exclusive lock on the file `.lock` of the cache folder `dir` (created if missing),
/// held until the returned value is dropped: runs that share the cache (two test suites, two
/// `faultline test --target docker` at once) take turns filling it, and the later one finds
/// what the earlier one made. Waits as long as another run holds it.
pub fn lock_cache(dir: &std::path::Path) -> Result<nix::fcntl::Flock<std::fs::File>> {
    use anyhow::Context;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(".lock");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    loop {
        match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive) {
            Ok(lock) => return Ok(lock),
            Err((again, nix::errno::Errno::EINTR)) => file = again,
            Err((_, e)) => anyhow::bail!("cannot lock {}: {e}", path.display()),
        }
    }
}

/// Write `text` to `path` unless it holds it already, through a temporary file renamed into
/// place: a run reading the file meanwhile (the compose file, a script) sees the old text
/// or the new, never a part.
pub fn write_atomically(path: &std::path::Path, text: &[u8]) -> std::io::Result<()> {
    if std::fs::read(path).is_ok_and(|have| have == text) {
        return Ok(());
    }
    let dir = path.parent().unwrap_or_else(|| std::path::Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut temp, text)?;
    // As `std::fs::write` makes it (a temporary file is the owner's only).
    temp.as_file()
        .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    temp.persist(path).map(drop).map_err(|e| e.error)
}

/// The SSH settings that reach the docker nodes of `project` (root, the generated key, the
/// cluster's own known_hosts); the nodes are named `n1`... as their containers' host names.
pub fn docker_spec(
    node_count: usize,
    timeout: Duration,
    db_port: Option<u16>,
    project: &super::docker::DockerProject,
) -> SshSpec {
    let dir = cache_dir().join("docker");
    SshSpec {
        hosts: (1..=node_count).map(|i| project.node_addr(i)).collect(),
        names: (1..=node_count).map(|i| format!("n{i}")).collect(),
        username: "root".to_string(),
        auth: Auth::KeyFile(dir.join("id_ed25519")),
        port: 22,
        sudo: false,
        known_hosts: dir.join(format!("known_hosts-{}", project.project)),
        accept_new_host_keys: false,
        timeout,
        remote_dir: "/var/lib/faultline".to_string(),
        db_port: db_port.unwrap_or(7001),
        docker: Some(project.clone()),
    }
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
    fn nodes_may_be_named() {
        let spec = SshSpec::resolve(&flags("n1=10.0.0.1,n2=10.0.0.2"), None).unwrap();
        assert_eq!(spec.hosts, ["10.0.0.1", "10.0.0.2"]);
        assert_eq!(spec.node_name(1), "n2");
        let plain = SshSpec::resolve(&flags("a,b"), None).unwrap();
        assert_eq!(plain.node_name(0), "a");
        for bad in ["n1=a,b", "n1=a,n1=b", "=a", "n1="] {
            let err = SshSpec::resolve(&flags(bad), None).unwrap_err();
            assert_eq!(
                crate::exit::code_for(&err),
                crate::exit::BAD_INPUT,
                "{bad}: {err}"
            );
        }
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
