//! One SSH connection to one node (libssh2 through the `ssh2` crate), blocking: connect with
//! a timeout, check the host key against `known_hosts`, authenticate (key file, password,
//! or every identity of the ssh-agent), run commands reading stdout and stderr together,
//! and copy files both ways.
//!
//! Every call here blocks its thread; it must only ever run on the node's own worker
//! thread (see `worker.rs`), never on the async runtime. Every session has a timeout set,
//! so a partitioned or paused node turns into an error, never a hang. The password is never
//! logged or put into an error message.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::{Duration, Instant};

use ssh2::{CheckResult, HostKeyType, KnownHostFileKind, KnownHostKeyFormat, KnownHosts, Session};

use super::SshError;
use crate::spec::ssh::{Auth, SshSpec};

/// What a command printed and how it ended.
#[derive(Debug, Clone, Default)]
pub(crate) struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A live, authenticated session to one node.
pub(crate) struct Connection {
    node: String,
    session: Session,
    timeout: Duration,
}

pub(crate) use crate::systems::node::quote;

impl Connection {
    /// Connect to `host:port`, check its host key and log in as the spec says.
    pub(crate) fn open(node: &str, host: &str, spec: &SshSpec) -> Result<Connection, SshError> {
        let port = spec.port;
        let timeout = spec.timeout;
        let unreachable = |why: String| SshError::Unreachable {
            node: node.to_string(),
            addr: format!("{host}:{port}"),
            why,
        };
        let addr = (host, port)
            .to_socket_addrs()
            .map_err(|e| unreachable(format!("cannot resolve {host}: {e}")))?
            .next()
            .ok_or_else(|| unreachable(format!("{host} has no address")))?;
        let tcp =
            TcpStream::connect_timeout(&addr, timeout).map_err(|e| unreachable(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let mut session = Session::new().map_err(|e| unreachable(e.to_string()))?;
        session.set_tcp_stream(tcp);
        session.set_timeout(timeout.as_millis().min(u32::MAX as u128) as u32);
        session
            .handshake()
            .map_err(|e| unreachable(format!("SSH handshake failed: {e}")))?;
        check_host_key(node, host, &session, spec)?;
        authenticate(node, &session, spec)?;
        Ok(Connection {
            node: node.to_string(),
            session,
            timeout,
        })
    }

    fn lost(&self, what: &str, e: impl std::fmt::Display) -> SshError {
        SshError::Lost {
            node: self.node.clone(),
            what: what.to_string(),
            why: e.to_string(),
        }
    }

    /// Run `command` through the remote shell and wait for it, at most `limit`.
    ///
    /// stdout and stderr are drained together in non-blocking mode: reading one to its end
    /// while the other fills the channel's window would deadlock.
    pub(crate) fn exec(&mut self, command: &str, limit: Duration) -> Result<Output, SshError> {
        let mut channel = self
            .session
            .channel_session()
            .map_err(|e| self.lost("open a channel", e))?;
        channel
            .exec(command)
            .map_err(|e| self.lost("start a command", e))?;
        let deadline = Instant::now() + limit;
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let mut buf = [0u8; 32 * 1024];
        self.session.set_blocking(false);
        let drained: Result<(), SshError> = (|| {
            let mut idle = 0u32;
            loop {
                let mut progressed = false;
                for (stream_id, sink) in [(0, &mut stdout), (1, &mut stderr)] {
                    match channel.stream(stream_id).read(&mut buf) {
                        Ok(0) => {}
                        Ok(n) => {
                            sink.extend_from_slice(&buf[..n]);
                            progressed = true;
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                        Err(e) => return Err(self.lost("read the command's output", e)),
                    }
                }
                if progressed {
                    idle = 0;
                    continue;
                }
                if channel.eof() {
                    return Ok(());
                }
                if Instant::now() >= deadline {
                    return Err(SshError::Timeout {
                        node: self.node.clone(),
                        command: command.to_string(),
                        after: limit,
                    });
                }
                idle = (idle + 1).min(10);
                std::thread::sleep(Duration::from_micros(200 * idle as u64));
            }
        })();
        self.session.set_blocking(true);
        drained?;
        channel
            .wait_close()
            .map_err(|e| self.lost("close the channel", e))?;
        let mut status = channel
            .exit_status()
            .map_err(|e| self.lost("read the exit status", e))?;
        if let Ok(Some(signal)) = channel.exit_signal().map(|s| s.exit_signal) {
            status = 128 + signal_number(&signal);
        }
        Ok(Output {
            status,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }

    /// Copy the local file `from` to `to` on the node (scp), with its mode.
    pub(crate) fn upload(&mut self, from: &Path, to: &str, mode: i32) -> Result<(), SshError> {
        let mut file = std::fs::File::open(from).map_err(|e| SshError::Local {
            what: format!("cannot read {}", from.display()),
            why: e.to_string(),
        })?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let what = format!("upload {} to {to}", from.display());
        let mut channel = self
            .session
            .scp_send(Path::new(to), mode, size, None)
            .map_err(|e| self.lost(&what, e))?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = file.read(&mut buf).map_err(|e| SshError::Local {
                what: format!("cannot read {}", from.display()),
                why: e.to_string(),
            })?;
            if n == 0 {
                break;
            }
            channel
                .write_all(&buf[..n])
                .map_err(|e| self.lost(&what, e))?;
        }
        channel.send_eof().map_err(|e| self.lost(&what, e))?;
        channel.wait_eof().map_err(|e| self.lost(&what, e))?;
        channel.close().map_err(|e| self.lost(&what, e))?;
        channel.wait_close().map_err(|e| self.lost(&what, e))?;
        Ok(())
    }

    /// The content of `path` on the node (scp), as the logged-in user reads it.
    pub(crate) fn download(&mut self, path: &str) -> Result<Vec<u8>, SshError> {
        let what = format!("download {path}");
        let (mut channel, stat) = self
            .session
            .scp_recv(Path::new(path))
            .map_err(|e| self.lost(&what, e))?;
        let mut data = Vec::with_capacity(stat.size() as usize);
        channel
            .read_to_end(&mut data)
            .map_err(|e| self.lost(&what, e))?;
        let _ = channel.send_eof();
        let _ = channel.wait_eof();
        let _ = channel.close();
        let _ = channel.wait_close();
        Ok(data)
    }

    /// The session's per-call timeout.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }
}

fn signal_number(name: &str) -> i32 {
    match name.trim_start_matches("SIG") {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ABRT" => 6,
        "KILL" => 9,
        "SEGV" => 11,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        _ => 0,
    }
}

/// The `--known-hosts` file as libssh2 reads it (empty when the file does not exist yet).
fn read_known_hosts(session: &Session, spec: &SshSpec) -> Result<KnownHosts, SshError> {
    let mut known = session.known_hosts().map_err(|e| SshError::Local {
        what: "cannot set up known_hosts".to_string(),
        why: e.to_string(),
    })?;
    if spec.known_hosts.exists() {
        known
            .read_file(&spec.known_hosts, KnownHostFileKind::OpenSSH)
            .map_err(|e| SshError::Local {
                what: format!("cannot read {}", spec.known_hosts.display()),
                why: e.to_string(),
            })?;
    }
    Ok(known)
}

fn known_hosts_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

fn check_host_key(
    node: &str,
    host: &str,
    session: &Session,
    spec: &SshSpec,
) -> Result<(), SshError> {
    let file = spec.known_hosts.display().to_string();
    let (key, kind) = session.host_key().ok_or_else(|| SshError::Unreachable {
        node: node.to_string(),
        addr: format!("{host}:{}", spec.port),
        why: "the server sent no host key".to_string(),
    })?;
    let key = key.to_vec();
    let known = read_known_hosts(session, spec)?;
    match known.check_port(host, spec.port, &key) {
        CheckResult::Match => Ok(()),
        CheckResult::Mismatch => Err(SshError::HostKeyChanged {
            node: node.to_string(),
            host: known_hosts_name(host, spec.port),
            file,
        }),
        CheckResult::NotFound | CheckResult::Failure if spec.accept_new_host_keys => {
            let format = match kind {
                HostKeyType::Rsa => KnownHostKeyFormat::SshRsa,
                HostKeyType::Dss => KnownHostKeyFormat::SshDss,
                HostKeyType::Ecdsa256 => KnownHostKeyFormat::Ecdsa256,
                HostKeyType::Ecdsa384 => KnownHostKeyFormat::Ecdsa384,
                HostKeyType::Ecdsa521 => KnownHostKeyFormat::Ecdsa521,
                HostKeyType::Ed25519 => KnownHostKeyFormat::Ed25519,
                HostKeyType::Unknown => KnownHostKeyFormat::Unknown,
            };
            // Every node learns its key on its own thread at the same time: one writer at a
            // time, each adding to what the others wrote.
            static LEARNING: std::sync::Mutex<()> = std::sync::Mutex::new(());
            let _one = LEARNING.lock().unwrap_or_else(|e| e.into_inner());
            // Read again under the lock: another node's thread may have added its key.
            let mut known = read_known_hosts(session, spec)?;
            known
                .add(&known_hosts_name(host, spec.port), &key, node, format)
                .and_then(|()| {
                    if let Some(dir) = spec.known_hosts.parent() {
                        let _ = std::fs::create_dir_all(dir);
                    }
                    known.write_file(&spec.known_hosts, KnownHostFileKind::OpenSSH)
                })
                .map_err(|e| SshError::Local {
                    what: format!("cannot add {node}'s host key to {file}"),
                    why: e.to_string(),
                })?;
            tracing::info!(node, file = %file, "learned the host key");
            Ok(())
        }
        CheckResult::NotFound | CheckResult::Failure => Err(SshError::UnknownHostKey {
            node: node.to_string(),
            host: host.to_string(),
            port: spec.port,
            file,
        }),
    }
}

fn authenticate(node: &str, session: &Session, spec: &SshSpec) -> Result<(), SshError> {
    let user = spec.username.as_str();
    let refused = |how: String| SshError::AuthRefused {
        node: node.to_string(),
        user: user.to_string(),
        how,
    };
    match &spec.auth {
        Auth::KeyFile(path) => {
            if !path.is_file() {
                return Err(SshError::Local {
                    what: format!("--ssh-private-key {}", path.display()),
                    why: "no such file; give the path of a private key".to_string(),
                });
            }
            session
                .userauth_pubkey_file(user, None, path, None)
                .map_err(|e| refused(format!("key {} ({e})", path.display())))?;
        }
        Auth::Password(password) => {
            session
                .userauth_password(user, password.expose())
                .map_err(|_| refused("the password".to_string()))?;
        }
        Auth::Agent => {
            let mut agent = session
                .agent()
                .map_err(|e| refused(format!("ssh-agent ({e})")))?;
            agent.connect().map_err(|e| {
                refused(format!(
                    "ssh-agent (cannot reach it: {e}; is SSH_AUTH_SOCK set?)"
                ))
            })?;
            agent
                .list_identities()
                .map_err(|e| refused(format!("ssh-agent ({e})")))?;
            let identities = agent
                .identities()
                .map_err(|e| refused(format!("ssh-agent ({e})")))?;
            let tried = identities.len();
            // Try every identity: the first one the agent lists is often not the node's.
            let accepted = identities
                .iter()
                .any(|identity| agent.userauth(user, identity).is_ok());
            let _ = agent.disconnect();
            if !accepted {
                return Err(refused(format!("all {tried} ssh-agent identities")));
            }
        }
    }
    if !session.authenticated() {
        return Err(refused("every method".to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_the_shell() {
        assert_eq!(quote("abc-1.2/x"), "abc-1.2/x");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf %s {}", quote("$HOME `x` 'q' \"d\"")))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "$HOME `x` 'q' \"d\"");
    }

    #[test]
    fn known_hosts_names_bracket_other_ports() {
        assert_eq!(known_hosts_name("n1", 22), "n1");
        assert_eq!(known_hosts_name("10.0.0.1", 2222), "[10.0.0.1]:2222");
    }
}
