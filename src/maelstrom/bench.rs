//! `faultline bench maelstrom`: how many messages per second the router moves, and the
//! harness's CPU per message, between trivial echo nodes (`faultline maelstrom-echo-node`,
//! faultline's own binary acting as a Maelstrom node that answers at once), so the figure is
//! the router's and not a node program's. Clients keep `--concurrency` echo requests in
//! flight for `--seconds`.

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{json, Value};

use super::net::{LatencyDist, Net, NetConfig, Nodes};
use super::protocol::Message;
use crate::cli::BenchArgs;

/// The hidden `faultline maelstrom-echo-node`: a Maelstrom node that answers `init` and
/// `echo`, and nothing else.
pub(crate) fn echo_node() -> std::process::ExitCode {
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut id = String::new();
    for line in stdin.lines() {
        let Ok(line) = line else { break };
        let Ok(message) = serde_json::from_str::<Message>(&line) else {
            continue;
        };
        let body = &message.body;
        let reply = match body["type"].as_str() {
            Some("init") => {
                id = body["node_id"].as_str().unwrap_or("").to_string();
                json!({"type": "init_ok", "in_reply_to": body["msg_id"]})
            }
            Some("echo") => {
                json!({"type": "echo_ok", "echo": body["echo"], "in_reply_to": body["msg_id"]})
            }
            _ => continue,
        };
        let reply = Message {
            src: id.clone(),
            dest: message.src,
            body: reply,
        };
        let _ = serde_json::to_writer(&mut out, &reply);
        let _ = out.write_all(b"\n");
        let _ = out.flush();
    }
    std::process::ExitCode::SUCCESS
}

/// CPU seconds this process has used (user + system).
fn cpu_seconds() -> f64 {
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF);
    usage.map_or(0.0, |u| {
        let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
        t(u.user_time()) + t(u.system_time())
    })
}

/// Run `faultline bench maelstrom`.
pub(crate) async fn run(args: &BenchArgs) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let net = Net::start(NetConfig {
        latency: Duration::ZERO,
        dist: LatencyDist::Constant,
        seed: 1,
        log_send: false,
        log_recv: false,
    });
    let nodes = Nodes::start(
        3,
        std::env::current_exe()?,
        vec!["maelstrom-echo-node".to_string()],
        dir.path().to_path_buf(),
        false,
        net.clone(),
    )
    .await?;
    for node in &nodes.names {
        let init = Message {
            src: "c0".into(),
            dest: node.clone(),
            body: json!({"type": "init", "msg_id": 0, "node_id": node, "node_ids": nodes.names}),
        };
        anyhow::ensure!(
            net.rpc(init, Duration::from_secs(10)).await.is_some(),
            "{node} did not start"
        );
    }
    // As in a test: every message is written to the journal the report draws from.
    let journal = std::fs::File::create(dir.path().join("net.jsonl"))?;
    net.journal(journal, std::time::Instant::now());
    let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
    let replies = Arc::new(AtomicU64::new(0));
    let (cpu_before, start) = (cpu_seconds(), Instant::now());
    let before = net.stats().await.all.send_count;
    let mut tasks = Vec::new();
    for c in 0..args.concurrency.max(1) {
        let (net, replies, node) = (net.clone(), replies.clone(), nodes.names[c % 3].clone());
        tasks.push(tokio::spawn(async move {
            let mut msg_id = 0u64;
            while Instant::now() < deadline {
                msg_id += 1;
                let request = Message {
                    src: format!("c{}", c + 1),
                    dest: node.clone(),
                    body: json!({"type": "echo", "msg_id": msg_id, "echo": msg_id}),
                };
                if let Some(Value::Object(_)) = net.rpc(request, Duration::from_secs(5)).await {
                    replies.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    let messages = net.stats().await.all.send_count - before;
    net.close_journal().await?;
    nodes.stop().await;
    println!(
        "maelstrom: {messages} messages in {elapsed:.2} s through the router = {:.0} messages/s \
         ({} echo round trips, {} clients, 3 echo nodes, every message journaled); harness CPU {:.2} µs per message",
        messages as f64 / elapsed,
        replies.load(Ordering::Relaxed),
        args.concurrency,
        cpu / messages.max(1) as f64 * 1e6,
    );
    Ok(())
}
