//! The harness's client of the reference system: turns one [`OpRequest`] of the register
//! workload into an HTTP request to the worker's own node, and the answer into `ok`, `fail` or
//! `info` (the status table is in the parent module's docs).
//!
//! Conventions: `read` (value `null`) → `ok` with the value read (`null` = absent); `write v`
//! → `ok` with `v`; `cas [from, to]` → `ok` if applied, `fail` ("cas mismatch") if not. A
//! request that certainly was not applied (refused connection, 503, 4xx) is `fail`; one that
//! may have been (timeout, connection lost after sending, 500, 504) is `info`, except reads,
//! which have no effect and so always `fail` (Jepsen's convention). A `txn` (value: a list
//! of micro-ops `[f, k, v]`) is `POST /txn` with `{"ops": value}` → `ok` with the completed
//! micro-ops the node answers; a 409 (the txn could not apply) is `fail`, and an uncertain
//! answer is `info`, or `fail` for a read-only txn. This module must never turn an uncertain
//! write into `ok` or `fail`.

use std::time::Duration;

use async_trait::async_trait;
use faultline_workloads::op::OpRequest;
use serde_json::{json, Value};

use super::encode_key;
use crate::systems::{Client, Completion, NodeSpec};

/// The key used when an operation carries none (a single-register workload).
const DEFAULT_KEY: &str = "register";

/// One worker's client, bound to one node.
#[derive(Debug)]
pub struct ReferenceClient {
    http: reqwest::Client,
    base: String,
    node: String,
    op_timeout: Duration,
}

/// What came back from one HTTP request.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// 200, with its JSON body.
    Done(Value),
    /// Certainly not applied.
    NotApplied(String),
    /// May have been applied.
    Unknown(String),
}

impl ReferenceClient {
    /// A client talking to `node`'s client address, giving up on a request after `op_timeout`.
    pub fn new(node: &NodeSpec, op_timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(op_timeout)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        ReferenceClient {
            http,
            base: format!("http://{}", node.client_addr),
            node: node.name.clone(),
            op_timeout,
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Outcome {
        let response = match request.timeout(self.op_timeout).send().await {
            Ok(response) => response,
            Err(e) if e.is_connect() => {
                return Outcome::NotApplied(format!("cannot connect to {}: {e}", self.node))
            }
            Err(e) if e.is_timeout() => {
                return Outcome::Unknown(format!(
                    "no answer from {} within {:?}",
                    self.node, self.op_timeout
                ))
            }
            Err(e) => return Outcome::Unknown(format!("request to {} failed: {e}", self.node)),
        };
        let status = response.status().as_u16();
        let body = response.json::<Value>().await;
        classify(status, body.map_err(|e| e.to_string()))
    }
}

/// Map a status and body to an outcome.
fn classify(status: u16, body: Result<Value, String>) -> Outcome {
    let reason = |body: &Result<Value, String>| match body {
        Ok(v) => v
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string()),
        Err(e) => e.clone(),
    };
    match status {
        200 => match body {
            Ok(body) => Outcome::Done(body),
            Err(e) => Outcome::Unknown(format!("unreadable answer: {e}")),
        },
        503 => Outcome::NotApplied(format!("unavailable: {}", reason(&body))),
        400..=499 => Outcome::NotApplied(format!("rejected ({status}): {}", reason(&body))),
        _ => Outcome::Unknown(format!("indeterminate ({status}): {}", reason(&body))),
    }
}

/// The key's string form, as used in the URL.
fn key_string(key: Option<&Value>) -> Result<String, String> {
    match key {
        None | Some(Value::Null) => Ok(DEFAULT_KEY.to_string()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(other) => Err(format!("key {other} is neither a string nor an integer")),
    }
}

impl ReferenceClient {
    /// `POST /txn` with the op's micro-ops.
    async fn transaction(&self, op: &OpRequest) -> Completion {
        let Some(micro_ops) = op.value.as_array() else {
            return Completion::fail(
                op.value.clone(),
                format!(
                    "a txn's value must be a list of micro-ops, got {}",
                    op.value
                ),
            );
        };
        let read_only = micro_ops
            .iter()
            .all(|m| m.get(0).and_then(Value::as_str) == Some("r"));
        let request = self
            .http
            .post(format!("{}/txn", self.base))
            .json(&json!({ "ops": op.value }));
        let uncertain = |why: String| {
            if read_only {
                Completion::fail(op.value.clone(), why)
            } else {
                Completion::info(op.value.clone(), why)
            }
        };
        match self.send(request).await {
            Outcome::Done(body) => match body.get("ops") {
                Some(Value::Array(done)) if done.len() == micro_ops.len() => {
                    Completion::ok(Value::Array(done.clone()))
                }
                _ => uncertain(format!("unexpected txn answer: {body}")),
            },
            Outcome::NotApplied(e) => Completion::fail(op.value.clone(), e),
            Outcome::Unknown(e) => uncertain(e),
        }
    }
}

#[async_trait]
impl Client for ReferenceClient {
    async fn invoke(&mut self, op: &OpRequest) -> Completion {
        if op.f == "txn" {
            return self.transaction(op).await;
        }
        let key = match key_string(op.key.as_ref()) {
            Ok(key) => encode_key(&key),
            Err(e) => return Completion::fail(op.value.clone(), e),
        };
        let url = format!("{}/kv/{key}", self.base);
        match op.f.as_str() {
            "read" => match self.send(self.http.get(&url)).await {
                Outcome::Done(body) => match body.get("value") {
                    Some(value) => Completion::ok(value.clone()),
                    None => Completion::fail(Value::Null, format!("answer without a value: {body}")),
                },
                Outcome::NotApplied(e) | Outcome::Unknown(e) => Completion::fail(Value::Null, e),
            },
            "write" => {
                let request = self.http.put(&url).json(&json!({ "value": op.value }));
                match self.send(request).await {
                    Outcome::Done(_) => Completion::ok(op.value.clone()),
                    Outcome::NotApplied(e) => Completion::fail(op.value.clone(), e),
                    Outcome::Unknown(e) => Completion::info(op.value.clone(), e),
                }
            }
            "cas" => {
                let Some([from, to]) = op.value.as_array().and_then(|a| <&[Value; 2]>::try_from(a.as_slice()).ok())
                else {
                    return Completion::fail(op.value.clone(), format!("cas value must be [from, to], got {}", op.value));
                };
                let request = self.http.post(format!("{url}/cas")).json(&json!({ "from": from, "to": to }));
                match self.send(request).await {
                    Outcome::Done(body) if body.get("applied") == Some(&Value::Bool(true)) => {
                        Completion::ok(op.value.clone())
                    }
                    Outcome::Done(body) if body.get("applied") == Some(&Value::Bool(false)) => {
                        Completion::fail(op.value.clone(), "cas mismatch")
                    }
                    Outcome::Done(body) => Completion::info(op.value.clone(), format!("unexpected cas answer: {body}")),
                    Outcome::NotApplied(e) => Completion::fail(op.value.clone(), e),
                    Outcome::Unknown(e) => Completion::info(op.value.clone(), e),
                }
            }
            other => Completion::fail(
                op.value.clone(),
                format!("the reference system does not support f \"{other}\"; it supports read, write, cas, txn"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use faultline_checkers::history::OpType;

    use super::*;

    #[test]
    fn status_codes_map_to_certain_or_unknown() {
        assert_eq!(classify(200, Ok(json!({}))), Outcome::Done(json!({})));
        assert!(
            matches!(classify(503, Ok(json!({"error": "no leader known"}))), Outcome::NotApplied(e) if e.contains("no leader"))
        );
        assert!(matches!(
            classify(422, Err("bad".into())),
            Outcome::NotApplied(_)
        ));
        assert!(matches!(
            classify(504, Ok(json!({"error": "x"}))),
            Outcome::Unknown(_)
        ));
        assert!(matches!(
            classify(500, Ok(json!({"error": "x"}))),
            Outcome::Unknown(_)
        ));
        assert!(matches!(
            classify(200, Err("eof".into())),
            Outcome::Unknown(_)
        ));
    }

    #[test]
    fn keys_take_their_string_form() {
        assert_eq!(key_string(Some(&json!(7))).unwrap(), "7");
        assert_eq!(key_string(Some(&json!("x"))).unwrap(), "x");
        assert_eq!(key_string(None).unwrap(), DEFAULT_KEY);
        assert!(key_string(Some(&json!([1]))).is_err());
    }

    fn unreachable_node() -> NodeSpec {
        // A port nobody listens on: bind, note it, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        NodeSpec {
            id: 1,
            name: "n1".into(),
            client_addr: format!("127.0.0.1:{port}"),
            peer_addr: format!("127.0.0.1:{port}"),
            data_dir: PathBuf::from("/nonexistent"),
            log_file: PathBuf::from("/nonexistent.log"),
            extra_ports: Vec::new(),
        }
    }

    #[tokio::test]
    async fn refused_connections_fail_and_bad_requests_never_reach_the_network() {
        let mut client = ReferenceClient::new(&unreachable_node(), Duration::from_secs(1));
        let write = client
            .invoke(&OpRequest::new("write", Some(json!(1)), json!(5)))
            .await;
        assert_eq!(write.kind, OpType::Fail, "{write:?}");
        let cas = client
            .invoke(&OpRequest::new("cas", Some(json!(1)), json!([1])))
            .await;
        assert!(cas.error.unwrap().contains("[from, to]"));
        let unknown = client
            .invoke(&OpRequest::new("append", Some(json!(1)), json!(1)))
            .await;
        assert_eq!(unknown.kind, OpType::Fail);
        assert!(unknown.error.unwrap().contains("read, write, cas, txn"));
        let txn = client
            .invoke(&OpRequest::new("txn", None, json!([["append", 1, 1]])))
            .await;
        assert_eq!(txn.kind, OpType::Fail, "refused: nothing was sent");
        let txn = client
            .invoke(&OpRequest::new("txn", None, json!({"r": 1})))
            .await;
        assert!(txn.error.unwrap().contains("list of micro-ops"));
    }
}
