//! The shell scripts the SSH target runs on a node: the prelude every daemon script starts
//! with (its folder, pidfile and liveness test), the lazyfs mount and teardown, sudo
//! wrapping, and the probes and checks around them. Pure text: nothing here connects.

use std::path::Path;

use super::session::{quote, Output};
use super::{one_line, SshError};
use crate::spec::ssh::SshSpec;
use crate::systems::NodeSpec;

/// The shell functions every daemon script starts with: `$D` the node folder, `$P` the
/// pidfile, `$PROG` the program started (`program`, or as the start recorded it in
/// `daemon.prog`), `started PID` (the process's start time, in clock ticks since boot, from
/// `/proc/PID/stat`), and `alive`, true while the pidfile's process is the one started:
/// its start time is the one recorded in `daemon.start` and it is not a zombie. The process
/// is recognised by pid and start time, not by its command line, because a lifecycle script
/// may `exec` its server (`exec etcd ...`), and a recycled pid has another start time.
pub(super) fn prelude(dir: &str, program: &str) -> String {
    format!(
        "D={dir}; P=\"$D/daemon.pid\"; PROG={program}\n\
         [ -n \"$PROG\" ] || PROG=$(cat \"$D/daemon.prog\" 2>/dev/null)\n\
         started() {{ sed 's/^.*) //' /proc/$1/stat 2>/dev/null | cut -d ' ' -f 1,20; }}\n\
         alive() {{ pid=$(cat \"$P\" 2>/dev/null) && [ -n \"$pid\" ] && s=$(started $pid) && \
         [ \"${{s%% *}}\" != Z ] && [ \"${{s#* }}\" = \"$(cat \"$D/daemon.start\" 2>/dev/null)\" ]; }}\n",
        dir = quote(dir),
        program = quote(program),
    )
}

/// The shell functions of the lazyfs scripts: `$D` the node folder, `$M` the mount point
/// (the node's data folder), `$S` the control socket, `$P` the server's pidfile, `$PROG` the
/// faultline binary serving it (`program`, or as the mount recorded it in `lazyfs.prog`);
/// `alive` is true while the pidfile's process still runs `$PROG`, `mounted` while `$M` is
/// a mount point.
pub(super) fn lazyfs_prelude(dir: &str, node: &NodeSpec, program: &str) -> String {
    format!(
        "D={dir}; M={mount}; S=\"$D/lazyfs.sock\"; P=\"$D/lazyfs.pid\"; PROG={program}\n\
         [ -n \"$PROG\" ] || PROG=$(cat \"$D/lazyfs.prog\" 2>/dev/null)\n\
         alive() {{ pid=$(cat \"$P\" 2>/dev/null) && [ -n \"$pid\" ] && [ -n \"$PROG\" ] && \
         tr '\\0' '\\n' < /proc/$pid/cmdline 2>/dev/null | head -n 1 | grep -qxF -- \"$PROG\"; }}\n\
         mounted() {{ awk -v m=\"$M\" '$2 == m {{ f = 1 }} END {{ exit !f }}' /proc/mounts; }}\n",
        dir = quote(dir),
        mount = quote(&node.data_dir.display().to_string()),
        program = quote(program),
    )
}

/// After [`lazyfs_prelude`]: ask the server to unmount (SIGKILL when it does not exit),
/// detach a mount left behind, and say what was done in `$did`.
pub(super) const LAZYFS_TEARDOWN: &str = "did=\n\
    if alive; then \"$PROG\" lazyfs --control \"$S\" --send unmount >/dev/null 2>&1; i=0; \
    while alive && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; \
    if alive; then kill -KILL $pid; fi; did=\"stopped the lazyfs server ($pid)\"; fi\n\
    if mounted; then fusermount3 -u -z \"$M\" 2>/dev/null || fusermount -u -z \"$M\" 2>/dev/null || \
    umount -l \"$M\" || exit 1; did=\"$did; unmounted the lazyfs on $M\"; fi\n\
    rm -f \"$P\" \"$S\"\n";

/// The command line that runs `script` on a node: `sh -c`, through `sudo -n` with `--sudo`.
pub(super) fn wrap(spec: &SshSpec, script: &str) -> String {
    if spec.sudo {
        format!("sudo -n sh -c {}", quote(script))
    } else {
        format!("sh -c {}", quote(script))
    }
}

pub(super) fn require(node: &str, command: &str, out: &Output) -> Result<(), SshError> {
    if out.status == 0 {
        Ok(())
    } else {
        Err(SshError::CommandFailed {
            node: node.to_string(),
            command: one_line(command, 120),
            status: out.status,
            stderr: one_line(&out.stderr, 300),
        })
    }
}

pub(crate) fn local_sha256(path: &Path) -> anyhow::Result<String> {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .map_err(|e| anyhow::anyhow!("cannot run sha256sum on {}: {e}", path.display()))?;
    if !out.status.success() {
        anyhow::bail!(
            "sha256sum {} failed: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string())
}
