//! `faultline lazyfs --backing DIR --mount DIR --control SOCKET` (hidden): mount `DIR`
//! through lazyfs over the backing directory and serve it until told to unmount. It runs as
//! its own process, so a harness killed with SIGKILL does not take the mount's server with
//! it (`faultline heal` unmounts it and stops the process).
//!
//! `faultline lazyfs --control SOCKET --send COMMAND` is the control client: it sends one
//! command and prints the JSON answer (how the SSH target talks to a node's mount).
//!
//! The control socket (a Unix stream socket, created once the mount is up) takes one command
//! per connection and answers one JSON line:
//! - `lose`: drop every write not fsynced; answers what was dropped (`{"files", "bytes", "names"}`).
//! - `pending`: what is volatile now.
//! - `unmount`: answers `{}`, unmounts and exits.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use fuser::{MountOption, SessionACL};
use serde_json::{json, Value};

use super::fuse::LazyFs;
use super::model::Model;

/// `faultline lazyfs`: serve one lazyfs mount (started by the local target for `--nemesis
/// lose-unfsynced`).
#[derive(Debug, clap::Parser)]
#[command(name = "faultline lazyfs", bin_name = "faultline lazyfs")]
pub struct LazyfsCommand {
    /// The mount's arguments.
    #[command(flatten)]
    pub args: LazyfsArgs,
}

/// Arguments of `faultline lazyfs`.
#[derive(Debug, Clone, clap::Args)]
pub struct LazyfsArgs {
    /// The directory holding what is durable.
    #[arg(long, required_unless_present = "send")]
    pub backing: Option<PathBuf>,
    /// Where to mount the filesystem (an empty directory).
    #[arg(long, required_unless_present = "send")]
    pub mount: Option<PathBuf>,
    /// The control socket to create (or, with `--send`, to connect to).
    #[arg(long)]
    pub control: PathBuf,
    /// Do not mount: send this command (`lose`, `pending`, `unmount`) to the mount serving
    /// `--control`, print its JSON answer and exit.
    #[arg(long, conflicts_with_all = ["backing", "mount"])]
    pub send: Option<String>,
}

/// `faultline lazyfs`: with `--send`, be the control client; otherwise serve the mount.
pub fn main(args: &LazyfsArgs) -> Result<()> {
    match &args.send {
        Some(command) => {
            println!("{}", super::control::send(&args.control, command)?);
            Ok(())
        }
        None => run(args),
    }
}

/// Mount, serve, and answer the control socket until `unmount` (or an unmount from
/// outside); then exit the process.
pub fn run(args: &LazyfsArgs) -> Result<()> {
    let (Some(backing), Some(mount)) = (&args.backing, &args.mount) else {
        anyhow::bail!("give --backing and --mount (or --send)");
    };
    let model = Model::open(backing)
        .with_context(|| format!("cannot read the backing directory {}", backing.display()))?;
    let model = Arc::new(Mutex::new(model));
    let mut config = fuser::Config::default();
    config.mount_options = vec![
        MountOption::FSName("faultline-lazyfs".to_string()),
        MountOption::Subtype("lazyfs".to_string()),
        MountOption::RW,
    ];
    // Nodes may run as another user than the one who mounts.
    config.acl = SessionACL::All;
    let session = fuser::spawn_mount(LazyFs::new(model.clone()), mount, &config)
        .with_context(|| format!("cannot mount lazyfs on {}", mount.display()))?;
    let _ = std::fs::remove_file(&args.control);
    let listener = UnixListener::bind(&args.control)
        .with_context(|| format!("cannot create {}", args.control.display()))?;
    listener.set_nonblocking(true)?;
    tracing::info!(mount = %mount.display(), backing = %backing.display(), "lazyfs mounted");
    loop {
        if session.guard.is_finished() {
            tracing::warn!("lazyfs was unmounted from outside");
            break;
        }
        match listener.accept() {
            Ok((stream, _)) => {
                if answer(stream, &model) {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e).context("the control socket failed"),
        }
    }
    let _ = std::fs::remove_file(&args.control);
    // Detach rather than unmount, and do not wait for the session to end: a process that
    // entered a new mount namespace meanwhile (`ip netns exec`, here or in another run)
    // holds a copy of the mount, which keeps the connection open. Exiting closes
    // /dev/fuse, which ends the connection for every copy.
    let mount = mount.canonicalize().unwrap_or_else(|_| mount.clone());
    super::mount_table::detach(&mount);
    tracing::info!("lazyfs unmounted");
    drop(listener);
    std::mem::forget(session);
    std::process::exit(0)
}

/// Serve one control connection; whether it asked to unmount.
fn answer(stream: UnixStream, model: &Mutex<Model>) -> bool {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut line = String::new();
    if BufReader::new(&stream).read_line(&mut line).is_err() {
        return false;
    }
    let lock = || model.lock().unwrap_or_else(|p| p.into_inner());
    let (reply, unmount): (Value, bool) = match line.trim() {
        "lose" => match lock().lose() {
            Ok(lost) => {
                tracing::info!(%lost, "dropped every write not fsynced");
                (json!({ "lost": lost }), false)
            }
            Err(e) => (json!({ "error": e.to_string() }), false),
        },
        "pending" => (lock().pending(), false),
        "unmount" => (json!({}), true),
        other => (
            json!({ "error": format!("unknown command {other:?}") }),
            false,
        ),
    };
    let mut stream = stream;
    let _ = writeln!(stream, "{reply}");
    unmount
}
