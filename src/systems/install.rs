//! Installing a system's software on its nodes, through the target's [`NodeShell`], so it
//! lands on the node and never on the controller by accident (unless the node is this
//! machine). Each program a system needs is looked for on every node first; only what is
//! missing is installed, as `--install-mode` says:
//!
//! - `copy`: the controller asks its own apt what installing the packages on that node would
//!   take (`apt-get install -s` against the node's dpkg status file: the package and the
//!   dependencies the node lacks, in apt's order), downloads those `.deb` files once into
//!   its cache (`~/.cache/faultline/debs/`, reused by every later run), copies them to the
//!   node and unpacks and configures them there with dpkg in that order. The node needs no
//!   route to a mirror; the controller needs apt and the node's Debian release.
//! - `apt`: the node's own `apt-get install` (`apt-get update` first when that fails).
//! - `none`: nothing is installed; every node that lacks something is named, with the flag
//!   that would install it, and the run stops before anything starts.
//! - `auto`: `apt` on the local target, `copy` on remote nodes when the controller can
//!   (same release and architecture), else `apt`.
//!
//! While packages install, a `policy-rc.d` that forbids starting services is in place (when
//! the node has none), so no package starts its own daemon beside the one faultline runs.
//! A program given by path (`FAULTLINE_ETCD_BIN` ...) is copied to the same path on remote
//! nodes instead. Nothing but the packages asked for and their dependencies is installed.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use futures::future::join_all;
use tokio::process::Command;

use super::node::{failures, one_line, quote, NodeShell};
use super::{NodeSpec, SystemError};
use crate::spec::systems::InstallMode;

/// How long installing on one node may take (a JRE is large).
const INSTALL_LIMIT: Duration = Duration::from_secs(900);

/// A program a system needs, where it is looked for, and the package that ships it.
#[derive(Debug, Clone)]
pub(crate) struct Program {
    /// Where the program is expected.
    pub path: PathBuf,
    /// The Debian package that installs it.
    pub package: String,
    /// The environment variable that overrides `path`, if it was set.
    pub overridden_by: Option<&'static str>,
}

impl Program {
    /// `default`, unless the environment variable `var` names another path.
    pub fn new(default: &str, package: &str, var: &'static str) -> Program {
        match std::env::var_os(var) {
            Some(path) if !path.is_empty() => Program {
                path: PathBuf::from(path),
                package: package.to_string(),
                overridden_by: Some(var),
            },
            _ => Program {
                path: PathBuf::from(default),
                package: package.to_string(),
                overridden_by: None,
            },
        }
    }

    /// A Debian package as such (`--db-packages`): present when dpkg lists its files
    /// (`/var/lib/dpkg/info/PACKAGE.list`, as for every package that is not Multi-Arch:
    /// same, which servers and tools are not).
    pub fn package(package: &str) -> Program {
        Program {
            path: PathBuf::from(format!("/var/lib/dpkg/info/{package}.list")),
            package: package.to_string(),
            overridden_by: None,
        }
    }
}

/// Make sure every program is on every node, installing what is missing as `mode` says.
pub(crate) async fn ensure(
    shell: &dyn NodeShell,
    nodes: &[NodeSpec],
    programs: &[&Program],
    mode: InstallMode,
) -> Result<(), SystemError> {
    let (given, packaged): (Vec<&Program>, Vec<&Program>) =
        programs.iter().partition(|p| p.overridden_by.is_some());
    for program in given {
        copy_given(shell, nodes, program).await?;
    }
    if packaged.is_empty() {
        return Ok(());
    }
    let missing = join_all(nodes.iter().map(|n| missing_on(shell, n, &packaged))).await;
    let mut todo: Vec<(&NodeSpec, Vec<&Program>)> = Vec::new();
    for (node, missing) in nodes.iter().zip(missing) {
        let missing = missing?;
        if !missing.is_empty() {
            todo.push((node, missing));
        }
    }
    if todo.is_empty() {
        return Ok(());
    }
    if mode == InstallMode::None {
        return Err(SystemError::Missing {
            lines: todo
                .iter()
                .map(|(node, missing)| missing_line(&node.name, missing))
                .collect::<Vec<_>>()
                .join("\n"),
        });
    }
    let controller = if mode == InstallMode::Apt || shell.is_local() {
        None
    } else {
        Some(Controller::learn().await)
    };
    let installs = todo.iter().map(|(node, missing)| {
        let controller = controller.as_ref();
        async move {
            let packages: BTreeSet<&str> = missing.iter().map(|p| p.package.as_str()).collect();
            let packages: Vec<&str> = packages.into_iter().collect();
            let how = choose(shell, node, mode, controller).await?;
            tracing::info!(
                node = %node.name,
                packages = %packages.join(" "),
                mode = how.name(),
                "installing"
            );
            match how {
                InstallMode::Copy => install_by_copy(shell, node, &packages).await?,
                _ => install_by_apt(shell, node, &packages).await?,
            }
            let still = missing_on(shell, node, missing).await?;
            if let Some(program) = still.first() {
                return Err(SystemError::Install {
                    program: format!("{}: {}", node.name, program.path.display()),
                    reason: format!(
                        "the package {} installed, but it does not ship this path",
                        program.package
                    ),
                });
            }
            tracing::info!(node = %node.name, mode = how.name(), "installed");
            Ok(())
        }
    });
    let errors = failures(installs).await;
    if !errors.is_empty() {
        return Err(SystemError::Install {
            program: programs
                .iter()
                .map(|p| p.package.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            reason: errors.join("; "),
        });
    }
    Ok(())
}

/// `n2: /usr/bin/etcd is missing (package etcd-server); pass --install-mode copy or apt to
/// install it`.
fn missing_line(node: &str, missing: &[&Program]) -> String {
    let what: Vec<String> = missing
        .iter()
        .map(|p| format!("{} is missing (package {})", p.path.display(), p.package))
        .collect();
    format!(
        "{node}: {}; pass --install-mode copy or apt to install it",
        what.join(", ")
    )
}

/// The programs not on `node`.
async fn missing_on<'p>(
    shell: &dyn NodeShell,
    node: &NodeSpec,
    programs: &[&'p Program],
) -> Result<Vec<&'p Program>, SystemError> {
    let mut script = String::new();
    for (i, p) in programs.iter().enumerate() {
        script.push_str(&format!(
            "[ -e {} ] || echo {i}\n",
            quote(&p.path.display().to_string())
        ));
    }
    let out = shell
        .run_ok(node, &script, super::node::SETUP_LIMIT)
        .await?;
    Ok(out
        .lines()
        .filter_map(|l| l.trim().parse::<usize>().ok())
        .filter_map(|i| programs.get(i).copied())
        .collect())
}

/// A program given by path: it must exist on the controller, and is copied to the same
/// path on remote nodes (unless the node has the same file).
async fn copy_given(
    shell: &dyn NodeShell,
    nodes: &[NodeSpec],
    program: &Program,
) -> Result<(), SystemError> {
    let var = program.overridden_by.unwrap_or("");
    if !program.path.is_file() {
        return Err(SystemError::Install {
            program: program.path.display().to_string(),
            reason: format!(
                "{var} names it, and there is no such file: point {var} at the program, \
                 or unset it to use (and install) the {} package",
                program.package
            ),
        });
    }
    if shell.is_local() {
        return Ok(());
    }
    let copies = nodes.iter().map(|node| async move {
        let staged = shell.stage(node, &program.path).await?;
        let to = quote(&program.path.display().to_string());
        let script = format!(
            "mkdir -p \"$(dirname {to})\" && {{ cmp -s {from} {to} || cp -f {from} {to}; }} \
             && chmod 755 {to}",
            from = quote(&staged.display().to_string()),
        );
        shell
            .run_ok(node, &script, super::node::SETUP_LIMIT)
            .await
            .map(drop)
    });
    for result in join_all(copies).await {
        result?;
    }
    tracing::info!(program = %program.path.display(), var, "copied to the nodes");
    Ok(())
}

/// What the controller's apt can do for a node: its release and architecture.
#[derive(Debug)]
struct Controller {
    /// `(release codename, architecture)`, or why copying cannot work here.
    facts: Result<(String, String), String>,
}

impl Controller {
    async fn learn() -> Controller {
        let facts = async {
            let arch = local_output(Command::new("dpkg").arg("--print-architecture")).await?;
            local_output(Command::new("apt-get").arg("--version")).await?;
            let release = local_output(
                Command::new("sh").args(["-c", ". /etc/os-release && echo \"$VERSION_CODENAME\""]),
            )
            .await?;
            Ok((release.trim().to_string(), arch.trim().to_string()))
        }
        .await;
        Controller { facts }
    }
}

/// How to install on `node`: `auto` resolved.
async fn choose(
    shell: &dyn NodeShell,
    node: &NodeSpec,
    mode: InstallMode,
    controller: Option<&Controller>,
) -> Result<InstallMode, SystemError> {
    if shell.is_local() {
        if mode == InstallMode::Copy {
            tracing::info!("--install-mode copy on the local target: the nodes are this machine, using its apt-get");
        }
        let uid = shell
            .run_ok(node, "id -u", super::node::SETUP_LIMIT)
            .await?;
        if uid.trim() != "0" {
            return Err(SystemError::Install {
                program: node.name.clone(),
                reason: "faultline installs packages only as root; install them with apt-get \
                         (as root), or run faultline as root"
                    .to_string(),
            });
        }
        return Ok(InstallMode::Apt);
    }
    let Some(controller) = controller else {
        return Ok(InstallMode::Apt);
    };
    let why_not = match &controller.facts {
        Err(e) => Some(format!("the controller has no usable apt ({e})")),
        Ok((release, arch)) => {
            let theirs = shell
                .run_ok(
                    node,
                    ". /etc/os-release; echo \"$VERSION_CODENAME\"; dpkg --print-architecture",
                    super::node::SETUP_LIMIT,
                )
                .await?;
            let mut lines = theirs.lines().map(str::trim);
            let (their_release, their_arch) =
                (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
            if (their_release, their_arch) == (release.as_str(), arch.as_str()) {
                None
            } else {
                Some(format!(
                    "the node runs {their_release}/{their_arch}, the controller {release}/{arch}"
                ))
            }
        }
    };
    match (why_not, mode) {
        (None, _) => Ok(InstallMode::Copy),
        (Some(why), InstallMode::Copy) => Err(SystemError::Install {
            program: node.name.clone(),
            reason: format!(
                "--install-mode copy needs the controller's apt to serve the node's Debian \
                 release: {why}; use --install-mode apt (the node's own apt-get)"
            ),
        }),
        (Some(why), _) => {
            tracing::info!(node = %node.name, why, "cannot copy packages: using the node's apt-get");
            Ok(InstallMode::Apt)
        }
    }
}

/// The shell lines that forbid services to start while packages install, and lift it
/// after (only when the node had no `policy-rc.d` of its own).
const QUIET_SERVICES: &str = "export DEBIAN_FRONTEND=noninteractive\n\
    guard=\n\
    if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d \
    && chmod 0755 /usr/sbin/policy-rc.d && guard=1; fi\n\
    trap '[ -z \"$guard\" ] || rm -f /usr/sbin/policy-rc.d' EXIT\n";

async fn install_by_apt(
    shell: &dyn NodeShell,
    node: &NodeSpec,
    packages: &[&str],
) -> Result<(), SystemError> {
    let list = packages.join(" ");
    let install =
        format!("apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends {list}");
    let script = format!(
        "{QUIET_SERVICES}{install} >/dev/null 2>&1 || {{ apt-get -o DPkg::Lock::Timeout=300 \
         update -qq && {install}; }}"
    );
    shell
        .run_ok(node, &script, INSTALL_LIMIT)
        .await
        .map(drop)
        .map_err(|e| SystemError::Install {
            program: list.clone(),
            reason: format!("apt-get install on {} failed: {e}", node.name),
        })
}

/// One step of apt's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// Unpack `(package, version, architecture)`.
    Unpack(String, String, String),
    /// Configure the package.
    Configure(String),
}

/// apt's plan from `apt-get install -s` output (`Inst NAME [OLD] (VERSION ... [ARCH])`,
/// `Conf NAME (...)`).
fn parse_plan(simulation: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    for line in simulation.lines() {
        let (kind, rest) = match line.split_once(' ') {
            Some(("Inst", rest)) => ("Inst", rest),
            Some(("Conf", rest)) => ("Conf", rest),
            _ => continue,
        };
        let name = rest.split_whitespace().next().unwrap_or("");
        let name = name.split(':').next().unwrap_or(name).to_string();
        if kind == "Conf" {
            steps.push(Step::Configure(name));
            continue;
        }
        let Some((_, details)) = rest.split_once('(') else {
            continue;
        };
        let version = details.split_whitespace().next().unwrap_or("").to_string();
        let arch = details
            .rsplit_once('[')
            .and_then(|(_, a)| a.split(']').next())
            .unwrap_or("")
            .to_string();
        steps.push(Step::Unpack(name, version, arch));
    }
    steps
}

/// The controller's cache of downloaded packages.
fn deb_cache() -> PathBuf {
    crate::spec::ssh::cache_dir().join("debs")
}

async fn install_by_copy(
    shell: &dyn NodeShell,
    node: &NodeSpec,
    packages: &[&str],
) -> Result<(), SystemError> {
    let fail = |reason: String| SystemError::Install {
        program: packages.join(" "),
        reason: format!("{}: cannot install by copy: {reason}", node.name),
    };
    let status = shell
        .run_ok(node, "cat /var/lib/dpkg/status", super::node::SETUP_LIMIT)
        .await?;
    let dir = tempfile::tempdir().map_err(|e| fail(format!("no temporary folder: {e}")))?;
    let status_file = dir.path().join("status");
    std::fs::write(&status_file, status).map_err(|e| fail(e.to_string()))?;
    let simulation = local_output(
        Command::new("apt-get")
            .args(["install", "-s", "--no-install-recommends", "-o"])
            .arg(format!("Dir::State::status={}", status_file.display()))
            .args(["-o", "Debug::NoLocking=1"])
            .args(packages),
    )
    .await
    .map_err(|e| {
        fail(format!(
            "the controller's apt cannot plan it ({e}); run apt-get update on the controller, \
             or use --install-mode apt"
        ))
    })?;
    let plan = parse_plan(&simulation);
    let debs = fetch(&plan).await.map_err(fail)?;
    // apt's order, with runs of unpacks (and of configures) in one dpkg call each.
    let mut script = String::from(QUIET_SERVICES);
    script.push_str(
        "set -e\n\
         conf() { todo=; for p in \"$@\"; do \
         [ \"$(dpkg-query -W -f='${db:Status-Status}' \"$p\" 2>/dev/null)\" = installed ] \
         || todo=\"$todo $p\"; done; [ -z \"$todo\" ] || dpkg --configure $todo >/dev/null; }\n",
    );
    let mut last = "";
    for step in &plan {
        let (kind, word) = match step {
            Step::Unpack(name, ..) => {
                let staged = shell.stage(node, &debs[name.as_str()]).await?;
                ("unpack", quote(&staged.display().to_string()))
            }
            Step::Configure(name) => ("conf", quote(name)),
        };
        if kind != last {
            script.push_str(match kind {
                // No fsync per file: a node that crashes mid-install installs again.
                "unpack" => "\ndpkg --force-unsafe-io --unpack",
                _ => " >/dev/null\nconf",
            });
            last = kind;
        }
        script.push(' ');
        script.push_str(&word);
    }
    if last == "unpack" {
        script.push_str(" >/dev/null");
    }
    script.push_str("\ndpkg --configure -a >/dev/null\n");
    // The script is long (a JRE is a hundred packages): it goes to the node as a file.
    let file = node.node_dir().join("install-packages.sh");
    shell.write_file(node, &file, script.as_bytes()).await?;
    tracing::info!(
        node = %node.name,
        debs = debs.len(),
        "installing the copied packages with dpkg"
    );
    shell
        .run_ok(
            node,
            &format!("sh {}", quote(&file.display().to_string())),
            INSTALL_LIMIT,
        )
        .await
        .map(drop)
        .map_err(|e| fail(e.to_string()))
}

/// Download the packages the plan unpacks into the cache (those not there yet); each
/// package's file.
async fn fetch(plan: &[Step]) -> Result<std::collections::BTreeMap<String, PathBuf>, String> {
    // One download at a time: the nodes' plans mostly overlap, and the second finds the
    // first's files in the cache. Within this run a mutex, across runs sharing the cache
    // (two at once) the cache's file lock, waited for off the async threads.
    static FETCHING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one = FETCHING.lock().await;
    let cache = deb_cache();
    let _turn = {
        let cache = cache.clone();
        tokio::task::spawn_blocking(move || crate::spec::ssh::lock_cache(&cache))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("{e:#}"))?
    };
    let wanted: Vec<String> = plan
        .iter()
        .filter_map(|s| match s {
            Step::Unpack(name, version, arch) if arch.is_empty() || arch == "all" => {
                Some(format!("{name}={version}"))
            }
            Step::Unpack(name, version, arch) => Some(format!("{name}:{arch}={version}")),
            Step::Configure(_) => None,
        })
        .collect();
    if wanted.is_empty() {
        return Ok(Default::default());
    }
    // `'URL' FILE SIZE HASH` per package (from an empty folder: apt names no file that is
    // in the current folder already).
    let empty = tempfile::tempdir().map_err(|e| e.to_string())?;
    let uris = local_output(
        Command::new("apt-get")
            .args(["download", "--print-uris"])
            .args(&wanted)
            .current_dir(empty.path()),
    )
    .await?;
    let mut files = std::collections::BTreeMap::new();
    let mut absent = Vec::new();
    for line in uris.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (Some(file), Some(size)) = (words.get(1), words.get(2)) else {
            return Err(format!("apt-get download --print-uris said {line:?}"));
        };
        // `NAME_VERSION_ARCH.deb`: package names have no `_`.
        let name = file.split('_').next().unwrap_or(file).to_string();
        let path = cache.join(file);
        let have = std::fs::metadata(&path).map(|m| m.len().to_string()).ok();
        if have.as_deref() != Some(*size) {
            if let Some(want) = wanted
                .iter()
                .find(|w| w.split([':', '=']).next() == Some(name.as_str()))
            {
                absent.push(want.clone());
            }
        }
        files.insert(name, path);
    }
    let unnamed: Vec<&String> = wanted
        .iter()
        .filter(|w| !files.contains_key(w.split([':', '=']).next().unwrap_or("")))
        .collect();
    if !unnamed.is_empty() {
        return Err(format!(
            "apt-get download --print-uris named no file for {unnamed:?}"
        ));
    }
    if !absent.is_empty() {
        tracing::info!(count = absent.len(), cache = %cache.display(), "downloading packages");
        // Into a folder of its own first, so a broken download never sits in the cache.
        let partial = tempfile::tempdir_in(&cache).map_err(|e| e.to_string())?;
        let mut cmd = Command::new("apt-get");
        if nix::unistd::geteuid().is_root() {
            // The _apt user could not write a private temporary folder.
            cmd.args(["-o", "APT::Sandbox::User=root"]);
        }
        local_output(
            cmd.arg("download")
                .arg("-qq")
                .args(&absent)
                .current_dir(partial.path()),
        )
        .await?;
        for entry in std::fs::read_dir(partial.path()).map_err(|e| e.to_string())? {
            let entry = entry.map_err(|e| e.to_string())?;
            std::fs::rename(entry.path(), cache.join(entry.file_name()))
                .map_err(|e| format!("cannot move a download into {}: {e}", cache.display()))?;
        }
    }
    Ok(files)
}

/// Run a command on the controller; its stdout, or why it failed.
async fn local_output(cmd: &mut Command) -> Result<String, String> {
    let program = format!("{:?}", cmd.as_std().get_program());
    let output = cmd
        .env("DEBIAN_FRONTEND", "noninteractive")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(INSTALL_LIMIT, output)
        .await
        .map_err(|_| format!("{program} took longer than {INSTALL_LIMIT:?}"))?
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    Err(format!(
        "{program} exited {}: {}",
        output.status,
        one_line(&String::from_utf8_lossy(&output.stderr), 300)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apts_plan_is_read_in_order() {
        let text = "NOTE: This is only a simulation!\n\
            Inst libfoo1 (1.2-3 Debian:12.5/stable [amd64])\n\
            Inst etcd-server [3.4.0] (3.4.23-4+b4 Debian:12.5/stable [amd64])\n\
            Conf libfoo1 (1.2-3 Debian:12.5/stable [amd64])\n\
            Inst zookeeper (3.8.0-11+deb12u2 Debian-Security:12/stable-security [all])\n\
            Conf etcd-server (3.4.23-4+b4 Debian:12.5/stable [amd64])\n";
        assert_eq!(
            parse_plan(text),
            vec![
                Step::Unpack("libfoo1".into(), "1.2-3".into(), "amd64".into()),
                Step::Unpack("etcd-server".into(), "3.4.23-4+b4".into(), "amd64".into()),
                Step::Configure("libfoo1".into()),
                Step::Unpack("zookeeper".into(), "3.8.0-11+deb12u2".into(), "all".into()),
                Step::Configure("etcd-server".into()),
            ]
        );
    }

    #[test]
    fn a_missing_program_names_the_node_the_package_and_the_flag() {
        let etcd = Program {
            path: PathBuf::from("/usr/bin/etcd"),
            package: "etcd-server".to_string(),
            overridden_by: None,
        };
        assert_eq!(
            missing_line("n2", &[&etcd]),
            "n2: /usr/bin/etcd is missing (package etcd-server); pass --install-mode copy or \
             apt to install it"
        );
    }
}
