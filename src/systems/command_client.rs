//! `--client-command CMD`: a client written in any language. faultline starts one process
//! (`sh -c CMD`) per worker process id and talks to it on stdin/stdout, one JSON object a
//! line, one op in flight at a time.
//!
//! - faultline → client: the op as `history.jsonl` holds it, without index, time and type:
//!   `{"process": 3, "f": "read", "key": 7, "value": null}` (no `key` for a txn).
//! - client → faultline: `{"type": "ok", "value": V}` (the completed value: what a read
//!   read, a txn's completed micro-ops), `{"type": "fail", "error": "..."}` (certainly did
//!   not happen) or `{"type": "info", "error": "..."}` (unknown).
//! - Environment: `FAULTLINE_NODE`, `FAULTLINE_ENDPOINT` (`host:port` of that node's client
//!   port), `FAULTLINE_ENDPOINTS` (`n1=host:port,...`), `FAULTLINE_NODES`,
//!   `FAULTLINE_WORKLOAD`, `FAULTLINE_PROCESS`.
//!
//! An op past `--op-timeout` (the first op of a process: 5 s more, while it starts) is
//! `info` and its process is killed; so is one whose process
//! exited or answered a line that is not such an object (the line is kept in the error). The
//! worker then goes on under a fresh process id, with a fresh client process, as Jepsen does.
//! Each process's stderr goes to `clients/<process>.log` in the run folder.
//!
//! This module never decides what an answer means beyond the three types: the client says
//! what happened.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use faultline_checkers::history::OpType;
use faultline_workloads::op::OpRequest;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::{Client, Completion, NodeSpec};

/// How long a fresh client process may take to start, on top of `--op-timeout` for its
/// first op.
const START_ALLOWANCE: Duration = Duration::from_secs(5);

/// What every client process of a run shares: the command and its environment.
#[derive(Debug, Clone)]
pub(crate) struct ClientCommand {
    /// The shell command line.
    pub command: String,
    /// Where `clients/<process>.log` go.
    pub log_dir: PathBuf,
    /// The workload's name, for `FAULTLINE_WORKLOAD`.
    pub workload: String,
    /// How long one op may take.
    pub op_timeout: Duration,
}

impl ClientCommand {
    /// The client of worker `worker`, talking to `node`; its first process id is `worker`.
    pub fn client(&self, worker: usize, node: &NodeSpec, nodes: &[NodeSpec]) -> CommandClient {
        let endpoints = nodes
            .iter()
            .map(|n| format!("{}={}", n.name, n.client_addr))
            .collect::<Vec<_>>()
            .join(",");
        let names = nodes
            .iter()
            .map(|n| n.name.clone())
            .collect::<Vec<_>>()
            .join(",");
        CommandClient {
            shared: self.clone(),
            env: vec![
                ("FAULTLINE_NODE", node.name.clone()),
                ("FAULTLINE_ENDPOINT", node.client_addr.clone()),
                ("FAULTLINE_ENDPOINTS", endpoints),
                ("FAULTLINE_NODES", names),
                ("FAULTLINE_WORKLOAD", self.workload.clone()),
            ],
            process: worker as u64,
            running: None,
        }
    }
}

/// Checks, before a run, that `command` can start at all: the shell must find its program.
/// A client that starts and then waits for ops passes.
pub(crate) fn check_starts(command: &str) -> Result<(), String> {
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run sh: {e}"))?;
    let deadline = std::time::Instant::now() + Duration::from_millis(500);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if matches!(status.code(), Some(126 | 127)) => {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    use std::io::Read;
                    let _ = pipe.read_to_string(&mut stderr);
                }
                return Err(format!(
                    "--client-command '{command}' cannot start: {}",
                    stderr
                        .trim()
                        .lines()
                        .last()
                        .unwrap_or("the shell could not run it")
                ));
            }
            Ok(Some(_)) => return Ok(()),
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Ok(());
            }
        }
    }
}

/// One worker's client process, started on its first op and after every `info`.
pub(crate) struct CommandClient {
    shared: ClientCommand,
    env: Vec<(&'static str, String)>,
    process: u64,
    running: Option<Running>,
}

struct Running {
    /// Whether it answered an op yet (it has started).
    answered: bool,
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl CommandClient {
    fn spawn(&self) -> Result<Running, String> {
        let log = log_file(&self.shared.log_dir, self.process)?;
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(&self.shared.command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .env("FAULTLINE_PROCESS", self.process.to_string());
        for (name, value) in &self.env {
            command.env(name, value);
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start the client command: {e}"))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        Ok(Running {
            answered: false,
            child,
            stdin,
            stdout,
        })
    }

    /// Send `op` and read one answer line; `Err` is why the process can no longer be trusted.
    async fn exchange(&mut self, op: &OpRequest) -> Result<Completion, String> {
        if self.running.is_none() {
            self.running = Some(self.spawn()?);
        }
        let running = self.running.as_mut().expect("just started");
        let mut line = request_line(self.process, op);
        line.push('\n');
        running
            .stdin
            .write_all(line.as_bytes())
            .await
            .map_err(|e| format!("the client process did not take the op: {e}"))?;
        running
            .stdin
            .flush()
            .await
            .map_err(|e| format!("the client process did not take the op: {e}"))?;
        match running.stdout.next_line().await {
            Ok(Some(answer)) => {
                running.answered = true;
                parse_answer(&answer)
            }
            Ok(None) => {
                let status = running.child.wait().await.ok();
                Err(format!(
                    "the client process exited ({}) without answering",
                    status.map_or("status unknown".to_string(), |s| s.to_string())
                ))
            }
            Err(e) => Err(format!("cannot read the client process's answer: {e}")),
        }
    }
}

#[async_trait]
impl Client for CommandClient {
    async fn invoke(&mut self, op: &OpRequest) -> Completion {
        // A process that has not answered yet may still be starting (an interpreter
        // loading): its first op gets the start allowance on top of --op-timeout.
        let timeout = match &self.running {
            Some(running) if running.answered => self.shared.op_timeout,
            _ => self.shared.op_timeout + START_ALLOWANCE,
        };
        let outcome = match tokio::time::timeout(timeout, self.exchange(op)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!(
                "no answer from the client process within {timeout:?}"
            )),
        };
        match outcome {
            Ok(completion) => completion,
            Err(why) => {
                // The process may still act on the op: it is not asked again.
                self.running = None;
                Completion::info(Value::Null, why)
            }
        }
    }

    fn new_process(&mut self, process: u64) {
        if process != self.process {
            self.running = None;
            self.process = process;
        }
    }
}

/// `clients/<process>.log`, appended to.
fn log_file(dir: &Path, process: u64) -> Result<std::fs::File, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(format!("{process}.log"));
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))
}

/// The op as the client reads it.
fn request_line(process: u64, op: &OpRequest) -> String {
    let mut request = json!({ "process": process, "f": op.f, "value": op.value });
    if let Some(key) = &op.key {
        request["key"] = key.clone();
    }
    request.to_string()
}

/// The client's answer as a completion, or why it is not one.
fn parse_answer(line: &str) -> Result<Completion, String> {
    let shown = || line.chars().take(200).collect::<String>();
    let answer: Value = serde_json::from_str(line)
        .map_err(|e| format!("the client answered {:?}, not JSON: {e}", shown()))?;
    let error = answer
        .get("error")
        .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_string));
    let kind = match answer.get("type").and_then(Value::as_str) {
        Some("ok") => OpType::Ok,
        Some("fail") => OpType::Fail,
        Some("info") => OpType::Info,
        _ => {
            return Err(format!(
                "the client answered {:?}: \"type\" must be \"ok\", \"fail\" or \"info\"",
                shown()
            ))
        }
    };
    Ok(Completion {
        kind,
        value: answer.get("value").cloned().unwrap_or(Value::Null),
        error: if kind == OpType::Ok { None } else { error },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_the_process_and_leave_out_a_missing_key() {
        let read = OpRequest::new("read", Some(json!(7)), Value::Null);
        assert_eq!(
            serde_json::from_str::<Value>(&request_line(3, &read)).unwrap(),
            json!({"process": 3, "f": "read", "key": 7, "value": null})
        );
        let txn = OpRequest::new("txn", None, json!([["append", 5, 2], ["r", 6, null]]));
        assert_eq!(
            serde_json::from_str::<Value>(&request_line(0, &txn)).unwrap(),
            json!({"process": 0, "f": "txn", "value": [["append", 5, 2], ["r", 6, null]]})
        );
    }

    #[test]
    fn answers_are_the_three_types_and_anything_else_is_refused() {
        let ok = parse_answer(r#"{"type": "ok", "value": 4}"#).unwrap();
        assert_eq!((ok.kind, ok.value), (OpType::Ok, json!(4)));
        let fail = parse_answer(r#"{"type": "fail", "error": "cas mismatch"}"#).unwrap();
        assert_eq!(fail.kind, OpType::Fail);
        assert_eq!(fail.error.as_deref(), Some("cas mismatch"));
        let info = parse_answer(r#"{"type": "info", "error": {"code": 0}}"#).unwrap();
        assert_eq!(info.error.as_deref(), Some(r#"{"code":0}"#));
        let not_json = parse_answer("hello").unwrap_err();
        assert!(not_json.contains("\"hello\", not JSON"), "{not_json}");
        let bad_type = parse_answer(r#"{"type": "done"}"#).unwrap_err();
        assert!(bad_type.contains("must be"), "{bad_type}");
    }

    #[test]
    fn a_program_the_shell_cannot_find_is_refused_and_a_waiting_one_passes() {
        let err = check_starts("faultline-no-such-client --x").unwrap_err();
        assert!(err.contains("faultline-no-such-client"), "{err}");
        check_starts("cat").unwrap();
        check_starts("true").unwrap();
    }
}
