//! etcd (Debian's `etcd-server`, 3.4) as a system under test: an N-member cluster, one
//! `etcd` process per node with its own data folder, and a client over etcd's v3 JSON
//! gateway (`/v3/kv/range`, `/v3/kv/put`, `/v3/kv/txn`; keys and values base64).
//!
//! Each node listens for clients on its client address and for peers on its first extra
//! port, on the node's own host, so an address other than 127.0.0.1 works unchanged.
//!
//! Reads: `linearizable` (etcd's default: a read index through the leader) or
//! `serializable` (the member answers from its own state, which Jepsen found stale after
//! pauses and partitions; faultline finds it too).
//!
//! Faults: kill, pause and membership changes work (`member remove`, then `member add` with
//! the node restarted on an empty data directory: see [`super::etcd_membership`]). Clock faults
//! do not: etcd is a Go binary, and Go reads the
//! clock through the vDSO, which libfaketime cannot intercept.
//!
//! Transactions (`--workload append`, `wr`; an op `f = "txn"` whose value is a list of
//! micro-ops `[f, k, v]`) are optimistic, as Jepsen's etcd tests run them: one read-only
//! `Txn` of range requests reads every key the transaction touches (a snapshot, with each
//! key's `mod_revision`, 0 for an absent key); the micro-ops run on that snapshot (each read
//! seeing the transaction's own earlier writes; an append makes the new list, stored as
//! JSON text, from the list read); then, if the transaction writes, one `Txn` commits it
//! whose compare checks that every touched key's `mod_revision` is unchanged and whose
//! success branch puts the new values. A failed compare is a lost race: nothing was
//! applied, `fail`. A read-only transaction is the snapshot alone.
//!
//! Outcomes: a refused connection is `fail` (nothing was sent); a timeout, a lost connection
//! or an error answer after a put or txn was sent is `info`, except errors etcd gives
//! before proposing (invalid arguments); a failed read is `fail`. This module must never turn
//! an uncertain write into `ok` or `fail`.

use std::time::Duration;

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::{json, Value};

use super::install::{self, Program};
use super::node::NodeShell;
use super::reads::EtcdReads;
use super::versioned::{Failure, Version, Versioned, VersionedStore};
use super::{decode_value, node_logs, Client, NodeSpec, StartCommand, System, SystemError};
use super::{poll_ready, SystemResult};
use crate::spec::systems::InstallMode;

/// etcd on the nodes of one test.
#[derive(Debug)]
pub struct EtcdSystem {
    reads: EtcdReads,
    program: Program,
    install: InstallMode,
    http: reqwest::Client,
    /// How re-added members start (`--nemesis membership`).
    rejoins: Rejoins,
}

impl EtcdSystem {
    /// etcd whose clients read at `reads`; the binary is `/usr/bin/etcd` unless
    /// `FAULTLINE_ETCD_BIN` names another; installed on the nodes as `install` says.
    pub fn new(reads: EtcdReads, install: InstallMode) -> Self {
        EtcdSystem {
            reads,
            program: Program::new("/usr/bin/etcd", "etcd-server", "FAULTLINE_ETCD_BIN"),
            install,
            http: reqwest::Client::builder()
                .timeout(Duration::from_millis(800))
                .build()
                .unwrap_or_default(),
            rejoins: Rejoins::default(),
        }
    }

    async fn status(&self, node: &NodeSpec) -> Result<MemberStatus, String> {
        let response = self
            .http
            .post(format!("http://{}/v3/maintenance/status", node.client_addr))
            .json(&json!({}))
            .send()
            .await
            .map_err(|e| format!("no answer from http://{}: {e}", node.client_addr))?;
        let body: Value = response
            .json()
            .await
            .map_err(|e| format!("unreadable status: {e}"))?;
        let id = |v: &Value| match v {
            Value::String(s) => s.parse::<u64>().ok(),
            Value::Number(n) => n.as_u64(),
            _ => None,
        };
        Ok(MemberStatus {
            leader: id(&body["leader"]).filter(|&l| l != 0),
            member_id: id(&body["header"]["member_id"]),
        })
    }
}

/// What `/v3/maintenance/status` says about one member.
#[derive(Debug)]
struct MemberStatus {
    member_id: Option<u64>,
    leader: Option<u64>,
}

use super::etcd_membership::{peer_url, EtcdMembership, Rejoins};

#[async_trait]
impl System for EtcdSystem {
    fn name(&self) -> &str {
        "etcd"
    }

    async fn setup(&self, shell: &dyn NodeShell, cluster: &[NodeSpec]) -> Result<(), SystemError> {
        for node in cluster {
            node.extra_addr(0)?;
        }
        install::ensure(shell, cluster, &[&self.program], self.install).await?;
        for node in cluster {
            // `--initial-cluster-state new` needs members without data.
            self.wipe(shell, node, cluster).await?;
        }
        Ok(())
    }

    fn start_command(&self, node: &NodeSpec, cluster: &[NodeSpec]) -> Option<StartCommand> {
        let mut initial_cluster = cluster
            .iter()
            .map(|n| format!("{}={}", n.name, peer_url(n)))
            .collect::<Vec<_>>()
            .join(",");
        let (mut data_dir, mut state) = (node.data_dir.clone(), "new");
        // A member re-added by the membership nemesis joins the cluster as it is now, on a
        // fresh data directory.
        if let Some(rejoin) = self.rejoins.get(&node.name) {
            data_dir = rejoin.data_dir(node);
            initial_cluster = rejoin.members;
            state = "existing";
        }
        let client_url = format!("http://{}", node.client_addr);
        let args = [
            ("--name", node.name.clone()),
            ("--data-dir", data_dir.display().to_string()),
            ("--listen-client-urls", client_url.clone()),
            ("--advertise-client-urls", client_url),
            ("--listen-peer-urls", peer_url(node)),
            ("--initial-advertise-peer-urls", peer_url(node)),
            ("--initial-cluster", initial_cluster),
            ("--initial-cluster-state", state.to_string()),
            ("--initial-cluster-token", "faultline".to_string()),
            ("--heartbeat-interval", "100".to_string()),
            ("--election-timeout", "1000".to_string()),
            ("--logger", "zap".to_string()),
            ("--log-outputs", "stderr".to_string()),
        ];
        Some(StartCommand {
            program: self.program.path.clone(),
            args: args
                .into_iter()
                .flat_map(|(flag, value)| [flag.to_string(), value])
                .collect(),
            env: Vec::new(),
        })
    }

    async fn await_ready(&self, cluster: &[NodeSpec], timeout: Duration) -> SystemResult {
        poll_ready("etcd", timeout, || async {
            let mut missing = Vec::new();
            let mut leaders = Vec::new();
            for node in cluster {
                match self.status(node).await {
                    Ok(MemberStatus {
                        leader: Some(leader),
                        ..
                    }) => leaders.push(leader),
                    Ok(_) => missing.push(format!(
                        "{} knows no leader; read its log {}",
                        node.name,
                        node.log_file.display()
                    )),
                    Err(e) => missing.push(format!(
                        "{} did not join: {e}; read its log {}",
                        node.name,
                        node.log_file.display()
                    )),
                }
            }
            leaders.dedup();
            if missing.is_empty() && leaders.len() != 1 {
                missing.push(format!(
                    "the members disagree on the leader; read the logs: {}",
                    node_logs(cluster)
                ));
            }
            missing
        })
        .await
    }

    async fn leader(&self, cluster: &[NodeSpec]) -> Option<u64> {
        let mut statuses = Vec::new();
        for node in cluster {
            if let Ok(status) = self.status(node).await {
                statuses.push((node.id, status));
            }
        }
        let leader = statuses.iter().find_map(|(_, s)| s.leader)?;
        statuses
            .iter()
            .find(|(_, s)| s.member_id == Some(leader))
            .map(|(id, _)| *id)
    }

    fn client(&self, node: &NodeSpec, _: &[NodeSpec], op_timeout: Duration) -> Box<dyn Client> {
        Box::new(EtcdClient::new(node, op_timeout, self.reads))
    }

    fn resume_rejoins(&self, node: &NodeSpec, cluster: &[NodeSpec], lives: u32) {
        let initial_cluster = cluster
            .iter()
            .map(|n| format!("{}={}", n.name, peer_url(n)))
            .collect::<Vec<_>>()
            .join(",");
        self.rejoins.resume(&node.name, lives, initial_cluster);
    }

    fn membership(
        &self,
        cluster: &[NodeSpec],
        process: std::sync::Arc<dyn faultline_nemeses::control::ProcessControl>,
        _shell: std::sync::Arc<dyn crate::systems::node::NodeShell>,
    ) -> Option<std::sync::Arc<dyn faultline_nemeses::membership::Membership>> {
        let membership = EtcdMembership::new(cluster, process, self.rejoins.clone());
        Some(std::sync::Arc::new(membership))
    }
}

/// One worker's etcd client, bound to one member.
#[derive(Debug)]
pub struct EtcdClient {
    http: reqwest::Client,
    base: String,
    node: String,
    op_timeout: Duration,
    reads: EtcdReads,
}

impl EtcdClient {
    /// A client of `node`'s member, giving up on a request after `op_timeout`.
    pub fn new(node: &NodeSpec, op_timeout: Duration, reads: EtcdReads) -> Self {
        EtcdClient {
            http: reqwest::Client::builder()
                .timeout(op_timeout)
                .build()
                .unwrap_or_default(),
            base: format!("http://{}", node.client_addr),
            node: node.name.clone(),
            op_timeout,
            reads,
        }
    }

    /// POST `body` to the gateway's `path`: the answer's JSON body when done (200).
    async fn call(&self, path: &str, body: Value) -> Result<Value, Failure> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .map_err(|e| Failure::of_request(&self.node, self.op_timeout, &e))?;
        let status = response.status().as_u16();
        match response.json::<Value>().await {
            Ok(body) if status == 200 => Ok(body),
            Ok(body) => Err(classify_error(status, &body)),
            Err(e) => Err(Failure::Unknown(format!(
                "unreadable answer ({status}) from {}: {e}",
                self.node
            ))),
        }
    }
}

/// The keys of a read-only `Txn`'s range answers, in order.
fn snapshot_values(body: &Value, keys: usize) -> Result<Vec<Versioned>, String> {
    let responses = body
        .get("responses")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("a txn answer without responses: {body}"))?;
    if responses.len() != keys {
        return Err(format!(
            "asked for {keys} ranges, got {} answers",
            responses.len()
        ));
    }
    responses
        .iter()
        .map(|r| {
            let range = r
                .get("response_range")
                .ok_or_else(|| format!("not a range answer: {r}"))?;
            let value = first_value(range)?;
            let mod_revision = match range
                .get("kvs")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
            {
                None => None,
                Some(kv) => Some(
                    revision(&kv["mod_revision"])
                        .ok_or_else(|| format!("a key-value without mod_revision: {kv}"))?,
                ),
            };
            Ok(Versioned {
                value,
                version: Version::Revision(mod_revision),
            })
        })
        .collect()
}

/// An int64 of the gateway's JSON: a string of digits (proto3 JSON) or a number.
fn revision(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// etcd as a versioned store: a snapshot is one read-only `Txn` of ranges; a commit is a
/// `Txn` comparing each key's `mod_revision` (0 for a key that must be absent).
#[async_trait]
impl VersionedStore for EtcdClient {
    fn system(&self) -> &'static str {
        "etcd"
    }

    fn path(&self, key: &str) -> String {
        format!("faultline/{key}")
    }

    async fn snapshot(&mut self, paths: &[String]) -> Result<Vec<Versioned>, Failure> {
        let serializable = self.reads == EtcdReads::Serializable;
        let ranges: Vec<Value> = paths
            .iter()
            .map(|k| json!({"request_range": {"key": B64.encode(k), "serializable": serializable}}))
            .collect();
        let body = self
            .call("/v3/kv/txn", json!({ "success": ranges }))
            .await?;
        snapshot_values(&body, paths.len()).map_err(Failure::NotApplied)
    }

    async fn commit(
        &mut self,
        read: &[(String, Versioned)],
        writes: &[(String, Value)],
    ) -> Result<bool, Failure> {
        let compare: Vec<Value> = read
            .iter()
            .map(|(k, v)| {
                let revision = match v.version {
                    Version::Revision(r) => r.unwrap_or(0),
                    Version::Value => unreachable!("etcd snapshots carry revisions"),
                };
                json!({"key": B64.encode(k), "target": "MOD", "result": "EQUAL",
                       "mod_revision": revision.to_string()})
            })
            .collect();
        let requests: Vec<Value> = writes
            .iter()
            .map(|(k, v)| match v {
                Value::Null => json!({"request_delete_range": {"key": B64.encode(k)}}),
                v => json!({"request_put": {"key": B64.encode(k), "value": B64.encode(v.to_string())}}),
            })
            .collect();
        let body = self
            .call(
                "/v3/kv/txn",
                json!({ "compare": compare, "success": requests }),
            )
            .await?;
        match body.get("succeeded") {
            Some(Value::Bool(true)) => Ok(true),
            // proto3 JSON leaves out `false`.
            None | Some(Value::Bool(false)) => Ok(false),
            Some(other) => Err(Failure::Unknown(format!(
                "unexpected txn answer: succeeded = {other}"
            ))),
        }
    }
}

/// An error answer of the gateway: `{"error", "code", "message"}` with a gRPC code.
fn classify_error(status: u16, body: &Value) -> Failure {
    let message = body
        .get("message")
        .or_else(|| body.get("error"))
        .and_then(Value::as_str)
        .unwrap_or("no message")
        .to_string();
    match body.get("code").and_then(Value::as_u64) {
        // InvalidArgument, PermissionDenied, Unauthenticated, Unimplemented: refused before
        // anything was proposed.
        Some(3 | 7 | 16 | 12) => Failure::NotApplied(format!("rejected ({status}): {message}")),
        _ => Failure::Unknown(format!("error ({status}): {message}")),
    }
}

/// The value of the first key-value of a range answer, `null` when there is none.
fn first_value(body: &Value) -> Result<Value, String> {
    let Some(kv) = body
        .get("kvs")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    else {
        return Ok(Value::Null);
    };
    let encoded = kv.get("value").and_then(Value::as_str).unwrap_or("");
    let bytes = B64
        .decode(encoded)
        .map_err(|e| format!("the value {encoded:?} is not base64: {e}"))?;
    decode_value(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_workloads::op::OpRequest;

    #[test]
    fn start_command_names_every_member_on_its_own_host() {
        let cluster = crate::systems::test_cluster(3, 2379, &[2380, 2381]);
        let system = EtcdSystem::new(EtcdReads::Linearizable, InstallMode::None);
        let args = system
            .start_command(&cluster[1], &cluster)
            .unwrap()
            .args
            .join(" ");
        crate::systems::assert_has_all(
            &args,
            &[
                "--name n2",
                "--initial-cluster n1=http://127.0.1.1:2380,n2=http://127.0.1.2:2380,n3=http://127.0.1.3:2380",
                "--listen-client-urls http://127.0.1.2:2379",
                "--listen-peer-urls http://127.0.1.2:2380",
                "--data-dir /run/n2/data",
            ],
        );
    }

    #[test]
    fn range_answers_decode_to_json_values() {
        let body = json!({"kvs": [{"key": B64.encode("k"), "value": B64.encode("42")}]});
        assert_eq!(first_value(&body).unwrap(), json!(42));
        assert_eq!(first_value(&json!({"count": "0"})).unwrap(), Value::Null);
        assert!(first_value(&json!({"kvs": [{"value": B64.encode("x{")}]})).is_err());
    }

    #[test]
    fn gateway_errors_are_uncertain_unless_refused_up_front() {
        let timeout = json!({"error": "etcdserver: request timed out", "code": 14});
        assert!(matches!(classify_error(503, &timeout), Failure::Unknown(_)));
        let invalid = json!({"message": "etcdserver: key is not provided", "code": 3});
        assert!(matches!(
            classify_error(400, &invalid),
            Failure::NotApplied(_)
        ));
    }

    #[test]
    fn snapshots_decode_values_and_mod_revisions() {
        let body = json!({"succeeded": true, "responses": [
            {"response_range": {"kvs": [{"key": B64.encode("faultline/1"), "mod_revision": "17",
                                          "value": B64.encode("[1,2]")}], "count": "1"}},
            {"response_range": {}}
        ]});
        assert_eq!(
            snapshot_values(&body, 2).unwrap(),
            vec![
                Versioned {
                    value: json!([1, 2]),
                    version: Version::Revision(Some(17))
                },
                Versioned {
                    value: Value::Null,
                    version: Version::Revision(None)
                }
            ]
        );
        assert!(snapshot_values(&body, 3).is_err());
        assert!(snapshot_values(&json!({}), 1).is_err());
    }

    #[tokio::test]
    async fn a_refused_connection_fails_and_reads_never_become_info() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut n = crate::systems::test_node(1, 2379, &[2380, 2381]);
        n.client_addr = format!("127.0.0.1:{port}");
        let mut client = EtcdClient::new(&n, Duration::from_secs(1), EtcdReads::Linearizable);
        let write = client
            .invoke(&OpRequest::new("write", Some(json!(1)), json!(5)))
            .await;
        assert_eq!(
            write.kind,
            faultline_checkers::history::OpType::Fail,
            "{write:?}"
        );
        let read = client
            .invoke(&OpRequest::new("read", Some(json!(1)), Value::Null))
            .await;
        assert_eq!(read.kind, faultline_checkers::history::OpType::Fail);
    }
}
