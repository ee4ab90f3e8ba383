//! The harness's client of the generic HTTP protocol (the `http` system and the reference
//! system, whose nodes speak it): turns one [`OpRequest`] of any workload
//! into an HTTP request to the worker's own node, and the answer into `ok`, `fail` or
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

use crate::systems::key_path::encode_key;
use crate::systems::versioned::{Failure, Version, Versioned, VersionedStore};
use crate::systems::{Completion, NodeSpec};

/// One worker's client, bound to one node.
#[derive(Debug)]
pub struct HttpClient {
    http: reqwest::Client,
    base: String,
    node: String,
    op_timeout: Duration,
}

impl HttpClient {
    /// A client talking to `node`'s client address, giving up on a request after `op_timeout`.
    pub fn new(node: &NodeSpec, op_timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(op_timeout)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        HttpClient {
            http,
            base: format!("http://{}", node.client_addr),
            node: node.name.clone(),
            op_timeout,
        }
    }

    /// Send `request`: the answer's JSON body when done (200).
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, Failure> {
        let response = request
            .timeout(self.op_timeout)
            .send()
            .await
            .map_err(|e| Failure::of_request(&self.node, self.op_timeout, &e))?;
        let status = response.status().as_u16();
        let body = response.json::<Value>().await;
        classify(status, body.map_err(|e| e.to_string()))
    }
}

/// Map a status and body to the body when done, or how the request failed.
fn classify(status: u16, body: Result<Value, String>) -> Result<Value, Failure> {
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
            Ok(body) => Ok(body),
            Err(e) => Err(Failure::Unknown(format!("unreadable answer: {e}"))),
        },
        503 => Err(Failure::NotApplied(format!(
            "unavailable: {}",
            reason(&body)
        ))),
        400..=499 => Err(Failure::NotApplied(format!(
            "rejected ({status}): {}",
            reason(&body)
        ))),
        _ => Err(Failure::Unknown(format!(
            "indeterminate ({status}): {}",
            reason(&body)
        ))),
    }
}

impl HttpClient {
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
            Ok(body) => match body.get("ops") {
                Some(Value::Array(done)) if done.len() == micro_ops.len() => {
                    Completion::ok(Value::Array(done.clone()))
                }
                _ => uncertain(format!("unexpected txn answer: {body}")),
            },
            Err(Failure::NotApplied(e)) => Completion::fail(op.value.clone(), e),
            Err(Failure::Unknown(e)) => uncertain(e),
        }
    }
}

/// The reference service as a versioned store whose versions are the values themselves: a
/// snapshot is `GET /kv/{key}` (several keys: a read-only `POST /txn`, one Raft entry); a
/// commit is `PUT` (blind), `POST /kv/{key}/cas` (one key guarded by its value) or
/// `POST /commit` (several).
#[async_trait]
impl VersionedStore for HttpClient {
    fn system(&self) -> &'static str {
        "reference"
    }

    /// A transaction is `POST /txn`: one Raft entry, reads and writes together.
    async fn native(&mut self, op: &OpRequest) -> Option<Completion> {
        match op.f.as_str() {
            "txn" => Some(self.transaction(op).await),
            _ => None,
        }
    }

    async fn snapshot(&mut self, paths: &[String]) -> Result<Vec<Versioned>, Failure> {
        let versioned = |value: Value| Versioned {
            value,
            version: Version::Value,
        };
        if let [path] = paths {
            let url = format!("{}/kv/{}", self.base, encode_key(path));
            let body = self.send(self.http.get(&url)).await?;
            return match body.get("value") {
                Some(value) => Ok(vec![versioned(value.clone())]),
                None => Err(Failure::NotApplied(format!(
                    "answer without a value: {body}"
                ))),
            };
        }
        let reads: Vec<Value> = paths.iter().map(|p| json!(["r", p, null])).collect();
        let request = self
            .http
            .post(format!("{}/txn", self.base))
            .json(&json!({ "ops": reads }));
        let body = self.send(request).await?;
        match body.get("ops").and_then(Value::as_array) {
            Some(done) if done.len() == paths.len() => Ok(done
                .iter()
                .map(|m| versioned(m.get(2).cloned().unwrap_or(Value::Null)))
                .collect()),
            _ => Err(Failure::NotApplied(format!(
                "unexpected txn answer: {body}"
            ))),
        }
    }

    async fn commit(
        &mut self,
        read: &[(String, Versioned)],
        writes: &[(String, Value)],
    ) -> Result<bool, Failure> {
        let (request, field) = match (read, writes) {
            ([], [(key, value)]) => {
                let url = format!("{}/kv/{}", self.base, encode_key(key));
                (self.http.put(url).json(&json!({ "value": value })), None)
            }
            ([(read_key, from)], [(key, to)]) if read_key == key => {
                let url = format!("{}/kv/{}/cas", self.base, encode_key(key));
                let body = json!({ "from": from.value, "to": to });
                (self.http.post(url).json(&body), Some("applied"))
            }
            _ => {
                let expect: Vec<(&String, &Value)> =
                    read.iter().map(|(k, v)| (k, &v.value)).collect();
                let body = json!({ "expect": expect, "writes": writes });
                let url = format!("{}/commit", self.base);
                (self.http.post(url).json(&body), Some("committed"))
            }
        };
        let body = self.send(request).await?;
        match field.map(|f| body.get(f)) {
            None => Ok(true),
            Some(Some(Value::Bool(done))) => Ok(*done),
            Some(_) => Err(Failure::Unknown(format!(
                "unexpected commit answer: {body}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use faultline_checkers::history::OpType;

    use super::*;
    use crate::systems::Client;

    #[test]
    fn status_codes_map_to_certain_or_unknown() {
        assert_eq!(classify(200, Ok(json!({}))), Ok(json!({})));
        assert!(
            matches!(classify(503, Ok(json!({"error": "no leader known"}))), Err(Failure::NotApplied(e)) if e.contains("no leader"))
        );
        assert!(matches!(
            classify(422, Err("bad".into())),
            Err(Failure::NotApplied(_))
        ));
        assert!(matches!(
            classify(504, Ok(json!({"error": "x"}))),
            Err(Failure::Unknown(_))
        ));
        assert!(matches!(
            classify(500, Ok(json!({"error": "x"}))),
            Err(Failure::Unknown(_))
        ));
        assert!(matches!(
            classify(200, Err("eof".into())),
            Err(Failure::Unknown(_))
        ));
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
        let mut client = HttpClient::new(&unreachable_node(), Duration::from_secs(1));
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
        assert!(unknown.error.unwrap().contains("append"));
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
