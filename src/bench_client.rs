//! `faultline bench client-command`: what a `--client-command` client costs per op. The
//! controller drives the register workload through one client process per worker (the
//! command given, by default a trivial Python client that answers at once) and reports ops/s
//! and the mean time per op, beside `bench record`'s in-process figure for the same
//! workers: the difference is the price of the subprocess and its JSON lines.

use std::time::Duration;

use anyhow::Result;

use crate::bench_drive::drive;
use crate::cli::BenchArgs;
use crate::systems::command_client::ClientCommand;

/// The default client: answers every op `ok` at once, so the figure is the transport's.
const TRIVIAL_CLIENT: &str = "python3 -u -c 'import sys\nfor line in sys.stdin: print(\"{\\\"type\\\": \\\"ok\\\"}\", flush=True)'";

/// Run `faultline bench client-command`.
pub async fn run(args: &BenchArgs) -> Result<()> {
    let command = args
        .client_command
        .clone()
        .unwrap_or_else(|| TRIVIAL_CLIENT.to_string());
    let dir = tempfile::tempdir()?;
    let shared = ClientCommand {
        command: command.clone(),
        log_dir: dir.path().join("clients"),
        workload: "register".to_string(),
        op_timeout: Duration::from_secs(5),
    };
    // The trivial client never connects anywhere: its node is only named.
    let node = crate::systems::NodeSpec {
        id: 1,
        name: "n1".to_string(),
        client_addr: "127.0.0.1:1".to_string(),
        peer_addr: "127.0.0.1:1".to_string(),
        data_dir: dir.path().join("data"),
        log_file: dir.path().join("node.log"),
        extra_ports: Vec::new(),
    };
    let nodes = [node];
    let run = drive(args, |w| Box::new(shared.client(w, &nodes[0], &nodes))).await?;
    let (elapsed, completed, info) = (run.elapsed, run.completed, run.info);
    let per_op = elapsed.as_secs_f64() * args.concurrency as f64 / completed.max(1) as f64;
    println!(
        "client-command: {completed} ops in {:.2} s with {} client processes = {:.0} ops/s; \
         {:.1} µs per op per process ({} info); command: {command}",
        elapsed.as_secs_f64(),
        args.concurrency,
        completed as f64 / elapsed.as_secs_f64(),
        per_op * 1e6,
        info,
        command = command.replace('\n', "\\n"),
    );
    Ok(())
}
