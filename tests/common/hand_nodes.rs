//! Reference nodes started by hand (`faultline node`), as a user would start their own
//! service for `--system http`; killed when dropped.

use std::collections::BTreeMap;
use std::fs::File;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

/// Reference nodes started by hand; killed on drop.
pub struct Nodes {
    _dir: tempfile::TempDir,
    pub ports: BTreeMap<u64, u16>,
    children: Vec<Child>,
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A loopback port nothing listens on (right now).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Nodes {
    /// Start `n` nodes (node 1 bootstraps the cluster), each with `extra` arguments.
    pub fn start(n: u64, extra: &[&str]) -> Nodes {
        let dir = tempfile::tempdir().unwrap();
        let ports: BTreeMap<u64, u16> = (1..=n).map(|id| (id, free_port())).collect();
        let mut children = Vec::new();
        for id in 1..=n {
            let log = File::create(dir.path().join(format!("n{id}.log"))).unwrap();
            let mut command = Command::new(env!("CARGO_BIN_EXE_faultline"));
            command
                .args(["node", "--id", &id.to_string(), "--listen"])
                .arg(format!("127.0.0.1:{}", ports[&id]))
                .arg("--data-dir")
                .arg(dir.path().join(format!("n{id}")))
                .args(extra)
                .stdout(Stdio::null())
                .stderr(log);
            for (peer, port) in ports.iter().filter(|(&p, _)| p != id) {
                command
                    .arg("--peer")
                    .arg(format!("{peer}=127.0.0.1:{port}"));
            }
            if id == 1 {
                command.arg("--bootstrap");
            }
            children.push(command.spawn().unwrap());
        }
        Nodes {
            _dir: dir,
            ports,
            children,
        }
    }

    /// Their base URLs, comma-separated, as `--endpoints` takes them.
    pub fn endpoints(&self) -> String {
        self.ports
            .values()
            .map(|p| format!("http://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The arguments of `faultline test --system http` against these nodes with `extra`
    /// options.
    pub fn args(&self, extra: &[&str]) -> Vec<String> {
        let endpoints = self.endpoints();
        [&["--system", "http", "--endpoints", &endpoints], extra]
            .concat()
            .into_iter()
            .map(String::from)
            .collect()
    }
}
