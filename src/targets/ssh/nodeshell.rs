//! The SSH target's [`NodeShell`]: a system's setup steps (install, configs, wipes) run on
//! the node through its session, as root (through `sudo -n` with `--sudo`), and the
//! controller's files are copied into `<remote-dir>/files/` on the node.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::scripts::local_sha256;
use super::session::quote;
use super::SshCluster;
use crate::systems::node::{NodeShell, ShellOutput, SETUP_LIMIT};
use crate::systems::{NodeSpec, SystemError};

/// The largest file [`NodeShell::write_file`] sends inside a command line (base64, well
/// within an SSH packet of 32 KiB); larger files are staged by scp.
const INLINE_MAX: usize = 12 * 1024;

fn failed(node: &NodeSpec, e: impl std::fmt::Display) -> SystemError {
    SystemError::Setup {
        node: node.name.clone(),
        reason: e.to_string(),
    }
}

/// The sha256 of a controller file, computed once per file, size and mtime (the same
/// packages are staged on every node).
fn digest_of(local: &Path) -> anyhow::Result<String> {
    use std::collections::HashMap;
    use std::sync::Mutex;
    type Key = (PathBuf, u64, Option<std::time::SystemTime>);
    static KNOWN: Mutex<Option<HashMap<Key, String>>> = Mutex::new(None);
    let meta = std::fs::metadata(local)?;
    let key = (local.to_path_buf(), meta.len(), meta.modified().ok());
    if let Some(digest) = KNOWN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashMap::new)
        .get(&key)
    {
        return Ok(digest.clone());
    }
    let digest = local_sha256(local)?;
    KNOWN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashMap::new)
        .insert(key, digest.clone());
    Ok(digest)
}

#[async_trait]
impl NodeShell for SshCluster {
    fn is_local(&self) -> bool {
        false
    }

    async fn run(
        &self,
        node: &NodeSpec,
        script: &str,
        limit: Duration,
    ) -> Result<ShellOutput, SystemError> {
        let out = self
            .shell(&node.name, script, limit)
            .await
            .map_err(|e| failed(node, e))?;
        Ok(ShellOutput {
            status: out.status,
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    async fn write_file(
        &self,
        node: &NodeSpec,
        path: &Path,
        contents: &[u8],
    ) -> Result<(), SystemError> {
        let to = quote(&path.display().to_string());
        let script = if contents.len() <= INLINE_MAX {
            format!(
                "mkdir -p \"$(dirname {to})\" && printf %s {} | base64 -d > {to}.tmp && mv -f {to}.tmp {to}",
                B64.encode(contents)
            )
        } else {
            let file = tempfile::NamedTempFile::new().map_err(|e| failed(node, e))?;
            std::fs::write(file.path(), contents).map_err(|e| failed(node, e))?;
            let staged = self.stage(node, file.path()).await?;
            format!(
                "mkdir -p \"$(dirname {to})\" && cp -f {} {to}",
                quote(&staged.display().to_string())
            )
        };
        self.shell_ok(&node.name, &script, SETUP_LIMIT)
            .await
            .map(drop)
            .map_err(|e| failed(node, e))
    }

    async fn stage(&self, node: &NodeSpec, local: &Path) -> Result<PathBuf, SystemError> {
        let name = local
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| failed(node, format!("{} has no file name", local.display())))?;
        let digest = digest_of(local).map_err(|e| failed(node, e))?;
        let remote = format!("{}/files/{name}", self.spec().remote_dir);
        // The copy keeps the file's permission bits: a staged script stays executable.
        let mode = std::fs::metadata(local)
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
            .unwrap_or(0o644);
        self.put(&node.name, local, &digest, &remote, mode as i32)
            .await
            .map_err(|e| failed(node, e))?;
        Ok(PathBuf::from(remote))
    }
}
