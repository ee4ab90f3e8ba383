//! A lab of SSH nodes for the SSH target's tests: one network namespace per node on a
//! private bridge (10.214.K.0/24, made here and nowhere else), each running its own real
//! `sshd` (Debian's openssh-server) with a host key of its own, a non-root user with
//! passwordless sudo and one without, and a client key pair. Everything is removed on drop
//! (namespaces, bridge, firewall rule, sshd processes, users, sudoers file, daemons), even
//! when the test fails.
//!
//! Needs root, iproute2, iptables, openssh-server and sudo (`.ci/test` installs them).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static LABS: AtomicU32 = AtomicU32::new(0);

/// A free third octet for a lab's subnet, held by an exclusive lock on a claim file until the
/// lab is dropped (the kernel releases it if the test process dies): tests in other
/// processes running at the same time never take the same subnet.
fn claim_subnet() -> (u32, std::fs::File) {
    let dir = std::env::temp_dir().join("faultline-sshlab-subnets");
    std::fs::create_dir_all(&dir).unwrap();
    let start = std::process::id() % 150;
    for i in 0..150 {
        let third = 100 + (start + i) % 150;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(third.to_string()))
            .unwrap();
        if file.try_lock().is_ok() {
            return (third, file);
        }
    }
    panic!("every 10.214.100-249 subnet is held by a running lab");
}

fn sh(program: &str, args: &[&str]) -> std::process::Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

fn must(program: &str, args: &[&str]) {
    let out = sh(program, args);
    assert!(
        out.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The lab; see the module doc.
pub struct Lab {
    pub id: String,
    pub dir: tempfile::TempDir,
    pub hosts: Vec<String>,
    pub user: String,
    pub user_no_sudo: String,
    pub key: PathBuf,
    pub wrong_key: PathBuf,
    pub known_hosts: PathBuf,
    pub remote_dir: PathBuf,
    subnet: String,
    /// Holds the subnet for this lab (see [`claim_subnet`]).
    _subnet_claim: std::fs::File,
    bridge: String,
    pub namespaces: Vec<String>,
    sshd: Vec<Child>,
    users: Vec<String>,
    sudoers: PathBuf,
}

impl Lab {
    /// Start `count` nodes (failing at once, saying what to do, without the tools the lab
    /// needs: see [`require_tools`]).
    pub fn start(count: usize) -> Lab {
        require_tools();
        let k = LABS.fetch_add(1, Ordering::Relaxed);
        let id = format!("{:04x}{k}", std::process::id() % 0xffff);
        let (third, subnet_claim) = claim_subnet();
        let subnet = format!("10.214.{third}");
        let dir = tempfile::Builder::new()
            .prefix("faultline-sshlab")
            .tempdir()
            .unwrap();
        let mut lab = Lab {
            id: id.clone(),
            hosts: Vec::new(),
            user: format!("fl{id}"),
            user_no_sudo: format!("fl{id}n"),
            key: dir.path().join("id_ed25519"),
            wrong_key: dir.path().join("wrong_ed25519"),
            known_hosts: dir.path().join("known_hosts"),
            remote_dir: dir.path().join("remote"),
            subnet: subnet.clone(),
            bridge: format!("flb{id}"),
            namespaces: Vec::new(),
            sshd: Vec::new(),
            users: Vec::new(),
            sudoers: PathBuf::from(format!("/etc/sudoers.d/faultline-{id}")),
            dir,
            _subnet_claim: subnet_claim,
        };
        let root = lab.dir.path().to_path_buf();
        std::fs::set_permissions(&root, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        for key in [&lab.key, &lab.wrong_key] {
            must(
                "ssh-keygen",
                &["-q", "-t", "ed25519", "-N", "", "-f", key.to_str().unwrap()],
            );
        }
        // Users: one with passwordless sudo, one without ('*' = no password, not locked).
        for user in [lab.user.clone(), lab.user_no_sudo.clone()] {
            must(
                "useradd",
                &["-M", "-d", "/nonexistent", "-s", "/bin/sh", &user],
            );
            lab.users.push(user.clone());
            must("usermod", &["-p", "*", &user]);
        }
        std::fs::write(
            &lab.sudoers,
            format!("{} ALL=(ALL) NOPASSWD:ALL\n", lab.user),
        )
        .unwrap();
        let keys_dir = root.join("authorized_keys");
        std::fs::create_dir_all(&keys_dir).unwrap();
        let public = std::fs::read_to_string(lab.key.with_extension("pub")).unwrap();
        for user in [&lab.user, &lab.user_no_sudo, &"root".to_string()] {
            std::fs::write(keys_dir.join(user), &public).unwrap();
        }
        // The bridge, with a firewall exception (docker's FORWARD policy drops bridged
        // traffic when br_netfilter is loaded).
        must("ip", &["link", "add", &lab.bridge, "type", "bridge"]);
        must(
            "ip",
            &["addr", "add", &format!("{subnet}.1/24"), "dev", &lab.bridge],
        );
        must("ip", &["link", "set", &lab.bridge, "up"]);
        let _ = sh(
            "iptables",
            &[
                "-I",
                "FORWARD",
                "-i",
                &lab.bridge,
                "-o",
                &lab.bridge,
                "-j",
                "ACCEPT",
            ],
        );
        let mut known = String::new();
        for i in 1..=count {
            let ns = format!("fl{id}-{i}");
            let addr = format!("{subnet}.{}", 10 + i);
            must("ip", &["netns", "add", &ns]);
            lab.namespaces.push(ns.clone());
            let host_if = format!("fl{id}h{i}");
            let node_if = format!("fl{id}p{i}");
            must(
                "ip",
                &[
                    "link", "add", &host_if, "type", "veth", "peer", "name", &node_if,
                ],
            );
            must(
                "ip",
                &["link", "set", &host_if, "master", &lab.bridge, "up"],
            );
            must("ip", &["link", "set", &node_if, "netns", &ns]);
            let in_ns = |args: &[&str]| {
                let mut full = vec!["netns", "exec", &ns];
                full.extend_from_slice(args);
                must("ip", &full);
            };
            in_ns(&["ip", "link", "set", "lo", "up"]);
            in_ns(&["ip", "link", "set", &node_if, "name", "eth0"]);
            in_ns(&["ip", "addr", "add", &format!("{addr}/24"), "dev", "eth0"]);
            in_ns(&["ip", "link", "set", "eth0", "up"]);
            in_ns(&[
                "ip",
                "route",
                "add",
                "default",
                "via",
                &format!("{subnet}.1"),
            ]);
            let host_key = root.join(format!("host_key_{i}"));
            must(
                "ssh-keygen",
                &[
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-f",
                    host_key.to_str().unwrap(),
                ],
            );
            let config = root.join(format!("sshd_config_{i}"));
            std::fs::write(
                &config,
                format!(
                    "ListenAddress {addr}\nPort 22\nHostKey {}\nPidFile {}\n\
                     AuthorizedKeysFile {}/%u\nStrictModes no\nUsePAM no\n\
                     PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                     PermitRootLogin prohibit-password\nMaxSessions 64\nMaxStartups 64\n\
                     Subsystem sftp internal-sftp\n",
                    host_key.display(),
                    root.join(format!("sshd_{i}.pid")).display(),
                    keys_dir.display(),
                ),
            )
            .unwrap();
            std::fs::create_dir_all("/run/sshd").unwrap();
            let child = Command::new("ip")
                .args(["netns", "exec", &ns, "/usr/sbin/sshd", "-D", "-e", "-f"])
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(root.join(format!("sshd_{i}.log"))).unwrap())
                .spawn()
                .expect("sshd (apt-get install openssh-server)");
            lab.sshd.push(child);
            let public = std::fs::read_to_string(host_key.with_extension("pub")).unwrap();
            let mut words = public.split_whitespace();
            known.push_str(&format!(
                "{addr} {} {}\n",
                words.next().unwrap(),
                words.next().unwrap()
            ));
            lab.hosts.push(addr);
        }
        std::fs::write(&lab.known_hosts, known).unwrap();
        std::fs::create_dir_all(&lab.remote_dir).unwrap();
        for host in &lab.hosts {
            wait_for_port(host, 22);
        }
        lab
    }

    /// `--target ssh` options reaching the lab as the sudo user with the right key.
    pub fn ssh_args(&self) -> Vec<String> {
        vec![
            "--target".into(),
            "ssh".into(),
            "--nodes".into(),
            self.hosts.join(","),
            "--username".into(),
            self.user.clone(),
            "--sudo".into(),
            "--ssh-private-key".into(),
            self.key.display().to_string(),
            "--known-hosts".into(),
            self.known_hosts.display().to_string(),
            "--remote-dir".into(),
            self.remote_dir.display().to_string(),
            "--ssh-timeout".into(),
            "3".into(),
        ]
    }

    /// The `--target ssh` options of `ssh_args`, then `extra`.
    pub fn args(&self, extra: &[&str]) -> Vec<String> {
        let mut args = self.ssh_args();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    /// The lines of faultline's packet-filter chain in each node's namespace (empty when
    /// no faultline rule is left).
    pub fn faultline_rules(&self) -> Vec<String> {
        let mut rules = Vec::new();
        for ns in &self.namespaces {
            for tool in [["iptables", "-S"], ["nft", "list ruleset"]] {
                let out = Command::new("ip")
                    .args([
                        "netns",
                        "exec",
                        ns,
                        "sh",
                        "-c",
                        &format!("{} {} 2>/dev/null", tool[0], tool[1]),
                    ])
                    .output();
                if let Ok(out) = out {
                    for line in String::from_utf8_lossy(&out.stdout).lines() {
                        if line.to_lowercase().contains("faultline") {
                            rules.push(format!("{ns}: {line}"));
                        }
                    }
                }
            }
        }
        rules
    }

    /// Pids of the processes whose command line (its words joined by spaces) mentions the
    /// lab's remote folder and satisfies `matches`.
    pub fn processes(&self, matches: impl Fn(&str) -> bool) -> Vec<u32> {
        let marker = self.remote_dir.display().to_string();
        crate::common::processes_whose("cmdline", |cmdline| {
            let cmdline = cmdline.replace('\0', " ");
            cmdline.contains(&marker) && matches(&cmdline)
        })
    }

    /// The daemons faultline started (their data lives under the lab's remote folder) and
    /// their state letters (`T`: stopped), zombies left out.
    pub fn daemons(&self) -> Vec<(u32, char)> {
        self.processes(|cmdline| !cmdline.starts_with("sshd"))
            .into_iter()
            .map(|pid| (pid, crate::common::process_state(pid).unwrap_or('?')))
            .filter(|&(_, state)| state != 'Z')
            .collect()
    }
}

fn wait_for_port(host: &str, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let addr = format!("{host}:{port}").parse().unwrap();
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err() {
        assert!(
            Instant::now() < deadline,
            "sshd at {host}:{port} did not come up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for (pid, _) in self.daemons() {
            let _ = sh("kill", &["-CONT", &pid.to_string()]);
            let _ = sh("kill", &["-KILL", &pid.to_string()]);
        }
        for child in &mut self.sshd {
            let _ = child.kill();
            let _ = child.wait();
        }
        // sshd forks per connection; its children die with their sessions. Kill any left.
        for i in 1..=self.namespaces.len() {
            let pidfile = self.dir.path().join(format!("sshd_{i}.pid"));
            if let Ok(pid) = std::fs::read_to_string(&pidfile) {
                let _ = sh("kill", &[pid.trim()]);
            }
        }
        for ns in &self.namespaces {
            let _ = sh("ip", &["netns", "del", ns]);
        }
        let _ = sh(
            "iptables",
            &[
                "-D",
                "FORWARD",
                "-i",
                &self.bridge,
                "-o",
                &self.bridge,
                "-j",
                "ACCEPT",
            ],
        );
        let _ = sh("ip", &["link", "del", &self.bridge]);
        for user in &self.users {
            let _ = sh("userdel", &[user]);
        }
        let _ = std::fs::remove_file(&self.sudoers);
    }
}

/// The path of a file in the lab's folder.
pub fn in_dir(lab: &Lab, name: &str) -> PathBuf {
    lab.dir.path().join(name)
}

/// Whether this machine can run the lab (root, sshd, ip); the tests fail, not skip,
/// when it cannot, with the reason.
pub fn require_tools() {
    assert!(
        Path::new("/usr/sbin/sshd").exists(),
        "the SSH tests need sshd: apt-get install openssh-server (or run .ci/test as root)"
    );
    let out = sh("id", &["-u"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "0",
        "the SSH tests make network namespaces and users: run them as root"
    );
}
