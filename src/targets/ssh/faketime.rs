//! Clock faults on SSH and docker nodes: each node's daemon is started under the node's own
//! libfaketime (Debian's `libfaketime`, installed where missing as `--install-mode` says),
//! reading its offset from `REMOTE_DIR/NODE/faketime`, which the clock nemesis rewrites over
//! SSH (`+60.000`, `+0`). As on the local target, only the wall clock moves
//! (`FAKETIME_DONT_FAKE_MONOTONIC`), and Go binaries, which read the clock through the vDSO,
//! do not see it. This module only prepares the nodes and says how to start under it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use futures::future::join_all;

use super::nodes::{SshCluster, EXEC_LIMIT};
use super::session::quote;
use crate::spec::systems::InstallMode;
use crate::systems::install::{self, Program};

/// Where Debian's libfaketime is on a node of this machine's architecture.
fn library_on_nodes() -> String {
    let triple = match std::env::consts::ARCH {
        "aarch64" => "aarch64-linux-gnu",
        "arm" => "arm-linux-gnueabihf",
        "x86" => "i386-linux-gnu",
        _ => "x86_64-linux-gnu",
    };
    format!("/usr/lib/{triple}/faketime/libfaketime.so.1")
}

impl SshCluster {
    /// Install libfaketime where missing and give every node a true clock file (`+0`):
    /// from now on every daemon starts under it.
    pub async fn start_under_faketime(&mut self, mode: InstallMode) -> anyhow::Result<()> {
        let library = Program::new(&library_on_nodes(), "libfaketime", "FAULTLINE_LIBFAKETIME");
        install::ensure(&*self, &self.nodes, &[&library], mode)
            .await
            .context("clock faults need libfaketime on every node")?;
        let this = &*self;
        let results = join_all(this.nodes.iter().map(|n| {
            let script = format!(
                "mkdir -p {dir} && printf '+0\\n' > {dir}/faketime",
                dir = quote(&this.node_dir(&n.name))
            );
            async move { this.shell_ok(&n.name, &script, EXEC_LIMIT).await }
        }))
        .await;
        for result in results {
            result.context("cannot write a node's clock file")?;
        }
        self.faketime = Some(library.path.display().to_string());
        Ok(())
    }

    /// Each node's libfaketime offset file (empty unless started under libfaketime).
    pub fn faketime_files(&self) -> BTreeMap<String, PathBuf> {
        if self.faketime.is_none() {
            return BTreeMap::new();
        }
        self.clock_files()
    }

    /// Where each node's offset file is when its daemon runs under libfaketime, whether or
    /// not this cluster started it so (`faultline heal` sets a run's clocks back through them).
    pub fn clock_files(&self) -> BTreeMap<String, PathBuf> {
        self.nodes
            .iter()
            .map(|n| {
                let file = PathBuf::from(self.node_dir(&n.name)).join("faketime");
                (n.name.clone(), file)
            })
            .collect()
    }

    /// The environment a daemon on `node` starts with under libfaketime (none without it).
    pub(super) fn faketime_environment(&self, node: &str) -> Vec<(String, String)> {
        let Some(library) = &self.faketime else {
            return Vec::new();
        };
        vec![
            ("LD_PRELOAD".into(), library.clone()),
            (
                "FAKETIME_TIMESTAMP_FILE".into(),
                format!("{}/faketime", self.node_dir(node)),
            ),
            ("FAKETIME_NO_CACHE".into(), "1".into()),
            ("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into()),
        ]
    }
}
