//! Installing a system's Debian package when its program is missing: `apt-get install` as
//! root (with `apt-get update` first when that fails), or a clear error saying what to
//! install when not root. It must never install anything but the package it is asked for.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;

use super::SystemError;

/// A program a system needs, where it is looked for, and the package that ships it.
#[derive(Debug, Clone)]
pub(crate) struct Program {
    /// Where the program is expected.
    pub path: PathBuf,
    /// The Debian package that installs it.
    pub package: &'static str,
    /// The environment variable that overrides `path`, if it was set.
    pub overridden_by: Option<&'static str>,
}

impl Program {
    /// `default`, unless the environment variable `var` names another path.
    pub fn new(default: &str, package: &'static str, var: &'static str) -> Program {
        match std::env::var_os(var) {
            Some(path) if !path.is_empty() => Program {
                path: PathBuf::from(path),
                package,
                overridden_by: Some(var),
            },
            _ => Program {
                path: PathBuf::from(default),
                package,
                overridden_by: None,
            },
        }
    }

    /// Make sure the program exists: install its package when it is missing.
    pub async fn ensure(&self) -> Result<(), SystemError> {
        if self.path.is_file() {
            return Ok(());
        }
        let program = self.path.display().to_string();
        if let Some(var) = self.overridden_by {
            return Err(SystemError::Install {
                program,
                reason: format!(
                    "{var} names it, and there is no such file: point {var} at the program, \
                     or unset it to use (and install) the {} package",
                    self.package
                ),
            });
        }
        install_package(self.package, &self.path).await
    }
}

/// `apt-get install -y PACKAGE` (after `apt-get update` if the first try fails), then check
/// that `expected` exists.
async fn install_package(package: &str, expected: &Path) -> Result<(), SystemError> {
    let program = expected.display().to_string();
    if !nix::unistd::geteuid().is_root() {
        return Err(SystemError::Install {
            program,
            reason: format!(
                "faultline installs it only as root; run `apt-get install -y {package}` \
                 (as root), or run faultline as root"
            ),
        });
    }
    tracing::info!(package, "installing");
    let first = apt_get(&["install", "-y", "-qq", "--no-install-recommends", package]).await;
    let result = match first {
        Ok(()) => Ok(()),
        Err(_) => {
            apt_get(&["update", "-qq"]).await.ok();
            apt_get(&["install", "-y", "-qq", "--no-install-recommends", package]).await
        }
    };
    if let Err(reason) = result {
        return Err(SystemError::Install {
            program,
            reason: format!("apt-get install {package} failed: {reason}"),
        });
    }
    if !expected.is_file() {
        return Err(SystemError::Install {
            program,
            reason: format!("the package {package} installed, but it does not ship this path"),
        });
    }
    Ok(())
}

/// Whether this process runs as root (the owner of `/proc/self` is the effective user).
async fn apt_get(args: &[&str]) -> Result<(), String> {
    let output = Command::new("apt-get")
        // Another apt may hold the lock (a parallel test, an unattended upgrade): wait.
        .args(["-o", "DPkg::Lock::Timeout=300"])
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(900), output)
        .await
        .map_err(|_| "apt-get took longer than 15 minutes".to_string())?
        .map_err(|e| format!("cannot run apt-get: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
    Err(format!(
        "apt-get {} exited {}: {}",
        args.join(" "),
        output.status,
        tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_override_that_names_no_file_is_an_error_naming_the_variable() {
        let program = Program {
            path: PathBuf::from("/nonexistent/etcd"),
            package: "etcd-server",
            overridden_by: Some("FAULTLINE_ETCD_BIN"),
        };
        let err = program.ensure().await.unwrap_err().to_string();
        assert!(err.contains("/nonexistent/etcd"), "{err}");
        assert!(err.contains("FAULTLINE_ETCD_BIN"), "{err}");
    }

    #[tokio::test]
    async fn an_existing_program_needs_nothing() {
        let program = Program::new("/bin/sh", "dash", "FAULTLINE_TEST_UNSET_VARIABLE");
        program.ensure().await.unwrap();
    }
}
