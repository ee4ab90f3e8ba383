//! What a `--system command` lifecycle script is given, and how the controller runs the
//! script's own steps: the environment that names the node and its cluster for every call,
//! and [`controller_step`], which runs `SCRIPT STEP [NODE]` on the controller (the membership
//! steps, `leader`) with a time limit. Both [`super::command`] and
//! [`super::command_membership`] build on it; this module never interprets a step's answer.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use super::NodeSpec;

/// The environment of every call of the script on `node`.
pub(crate) fn environment(node: &NodeSpec, cluster: &[NodeSpec]) -> Vec<(&'static str, String)> {
    let list = |addr: &dyn Fn(&NodeSpec) -> String| {
        cluster
            .iter()
            .map(|n| format!("{}={}", n.name, addr(n)))
            .collect::<Vec<_>>()
            .join(",")
    };
    let peer = |n: &NodeSpec| n.extra_addr(0).unwrap_or_else(|_| n.peer_addr.clone());
    vec![
        ("FAULTLINE_NODE", node.name.clone()),
        ("FAULTLINE_NODE_INDEX", node.id.to_string()),
        (
            "FAULTLINE_NODES",
            cluster
                .iter()
                .map(|n| n.name.clone())
                .collect::<Vec<_>>()
                .join(","),
        ),
        ("FAULTLINE_HOST", node.host().to_string()),
        ("FAULTLINE_CLIENT_PORT", node.client_port().to_string()),
        (
            "FAULTLINE_PEER_PORT",
            node.extra_ports
                .first()
                .map_or(String::new(), u16::to_string),
        ),
        ("FAULTLINE_PEERS", list(&peer)),
        ("FAULTLINE_CLIENTS", list(&|n| n.client_addr.clone())),
        ("FAULTLINE_DATA_DIR", node.data_dir.display().to_string()),
        (
            "FAULTLINE_LOG_DIR",
            node.log_file
                .parent()
                .map_or(String::new(), |p| p.display().to_string()),
        ),
    ]
}

/// How one `SCRIPT STEP [NODE]` run on the controller ended.
pub(crate) enum StepRun {
    /// It exited (with whatever code): its output.
    Exited(Output),
    /// It could not be started: why.
    NotStarted(String),
    /// It did not finish within the limit (it was killed).
    TimedOut,
}

/// Run `script step [node]` on the controller with `node`'s environment (the first node's
/// when none is named), stdin closed, killed after `limit`; also a printable `what` it ran.
pub(crate) async fn controller_step(
    script: &Path,
    step: &str,
    node: Option<&NodeSpec>,
    cluster: &[NodeSpec],
    limit: Duration,
) -> (String, StepRun) {
    let about = node.unwrap_or(&cluster[0]);
    let mut command = tokio::process::Command::new(script);
    command
        .arg(step)
        .args(node.map(|n| n.name.clone()))
        .envs(environment(about, cluster))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let what = format!(
        "{} {step}{}",
        script.display(),
        node.map(|n| format!(" {}", n.name)).unwrap_or_default()
    );
    let run = match tokio::time::timeout(limit, command.output()).await {
        Ok(Ok(out)) => StepRun::Exited(out),
        Ok(Err(e)) => StepRun::NotStarted(e.to_string()),
        Err(_) => StepRun::TimedOut,
    };
    (what, run)
}
