//! The node side of a system's lifecycle: [`NodeShell`], what a target offers a system so
//! that installing, configuring and wiping happen on the node itself (this machine for the
//! local target, the remote host for SSH and docker), never on the controller by accident.
//!
//! The interface is small on purpose: run a shell script as root, write a file, stage a file
//! of the controller on the node. Everything else (wiping a folder, checking a program) is
//! written once here on top of it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;

use super::{NodeSpec, SystemError};

/// How long a setup command may run before it counts as hung.
pub const SETUP_LIMIT: Duration = Duration::from_secs(120);

/// What a script printed and how it ended.
#[derive(Debug, Clone, Default)]
pub struct ShellOutput {
    /// Exit status (0 is success).
    pub status: i32,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

/// A target's hands on its nodes, for the steps of a system that are not processes.
#[async_trait]
pub trait NodeShell: Send + Sync {
    /// Whether the nodes are this machine (the local target): the controller's own files and
    /// packages are the nodes'.
    fn is_local(&self) -> bool;

    /// Run `script` with `sh -c` as root on `node` (through sudo where the target was told
    /// to). A non-zero exit is an [`Ok`] output; `Err` means the script could not be run.
    async fn run(
        &self,
        node: &NodeSpec,
        script: &str,
        limit: Duration,
    ) -> Result<ShellOutput, SystemError>;

    /// Write `contents` to `path` on `node`, creating its folder.
    async fn write_file(
        &self,
        node: &NodeSpec,
        path: &Path,
        contents: &[u8],
    ) -> Result<(), SystemError>;

    /// Make the controller's file `local` readable on `node`, with its permission bits (a
    /// copy when the node is remote, unless the same file is there already); its path on the
    /// node.
    async fn stage(&self, node: &NodeSpec, local: &Path) -> Result<PathBuf, SystemError>;
}

impl dyn NodeShell + '_ {
    /// Run `script` on `node` and require exit status 0; its stdout.
    pub async fn run_ok(
        &self,
        node: &NodeSpec,
        script: &str,
        limit: Duration,
    ) -> Result<String, SystemError> {
        let out = self.run(node, script, limit).await?;
        if out.status != 0 {
            return Err(SystemError::Setup {
                node: node.name.clone(),
                reason: format!(
                    "`{}` exited with {}: {}",
                    one_line(script, 120),
                    out.status,
                    one_line(&out.stderr, 300)
                ),
            });
        }
        Ok(out.stdout)
    }

    /// Empty `dir` on `node` (creating it when missing). The folder itself stays: it may be
    /// a mount point (lazyfs under `--nemesis lose-unfsynced`), which cannot be removed.
    pub async fn wipe_dir(&self, node: &NodeSpec, dir: &Path) -> Result<(), SystemError> {
        let dir = quote(&dir.display().to_string());
        self.run_ok(
            node,
            &format!("mkdir -p {dir} && find {dir} -mindepth 1 -maxdepth 1 -exec rm -rf {{}} +"),
            SETUP_LIMIT,
        )
        .await
        .map(drop)
    }
}

/// Run `tasks` (one a node, say) at once: the errors of those that failed, as text.
pub async fn failures<T, E: std::fmt::Display>(
    tasks: impl IntoIterator<Item = impl std::future::Future<Output = Result<T, E>>>,
) -> Vec<String> {
    futures::future::join_all(tasks)
        .await
        .into_iter()
        .filter_map(|r| r.err().map(|e| e.to_string()))
        .collect()
}

/// Quote `word` for a POSIX shell.
pub fn quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@+%".contains(&b))
    {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// `text` on one line, at most `max` characters, ending with its last lines.
pub fn one_line(text: &str, max: usize) -> String {
    let joined = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ");
    let count = joined.chars().count();
    if count <= max {
        joined
    } else {
        let tail: String = joined.chars().skip(count - max).collect();
        format!("...{tail}")
    }
}

/// The nodes are this machine (the local target): scripts run here as this user, files are
/// written directly, and staging a file is a no-op.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalShell;

#[async_trait]
impl NodeShell for LocalShell {
    fn is_local(&self) -> bool {
        true
    }

    async fn run(
        &self,
        node: &NodeSpec,
        script: &str,
        limit: Duration,
    ) -> Result<ShellOutput, SystemError> {
        let failed = |reason: String| SystemError::Setup {
            node: node.name.clone(),
            reason,
        };
        let output = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(limit, output)
            .await
            .map_err(|_| failed(format!("`{}` ran past {limit:?}", one_line(script, 120))))?
            .map_err(|e| failed(format!("cannot run sh: {e}")))?;
        Ok(ShellOutput {
            status: output.status.code().unwrap_or(128),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    async fn write_file(
        &self,
        node: &NodeSpec,
        path: &Path,
        contents: &[u8],
    ) -> Result<(), SystemError> {
        let failed = |e: std::io::Error| SystemError::Setup {
            node: node.name.clone(),
            reason: format!("cannot write {}: {e}", path.display()),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(failed)?;
        }
        std::fs::write(path, contents).map_err(failed)
    }

    async fn stage(&self, _node: &NodeSpec, local: &Path) -> Result<PathBuf, SystemError> {
        Ok(local.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_local_shell_wipes_writes_and_reports_failures() {
        let dir = tempfile::tempdir().unwrap();
        let mut node = super::super::test_node(1, 7000, &[]);
        node.data_dir = dir.path().join("a b/data");
        let shell: &dyn NodeShell = &LocalShell;
        std::fs::create_dir_all(node.data_dir.join("old")).unwrap();
        shell.wipe_dir(&node, &node.data_dir).await.unwrap();
        assert!(node.data_dir.is_dir() && !node.data_dir.join("old").exists());
        let file = node.data_dir.join("x/y.conf");
        shell.write_file(&node, &file, b"z").await.unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "z");
        let err = shell
            .run_ok(&node, "echo oops >&2; exit 3", SETUP_LIMIT)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("n1") && err.contains("oops") && err.contains('3'),
            "{err}"
        );
    }
}
