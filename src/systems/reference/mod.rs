//! faultline's built-in reference system: a replicated key-value service on openraft, one OS
//! process per node (`faultline node`, see [`server`]), and its harness side: the
//! [`ReferenceSystem`] (how to start a node, when the cluster is ready, who leads) and the
//! [`HttpClient`](crate::systems::http::HttpClient) (one HTTP client per worker: its nodes speak the generic HTTP protocol).
//!
//! # HTTP API of a node
//! Its `/kv` requests and status codes are faultline's generic HTTP protocol (see
//! [`super::http`]), so reference nodes started by hand can be tested with `--system http`.
//!
//! Keys are strings (URL path segments, percent-encoded); values are any JSON value, `null`
//! meaning absent.
//!
//! | request | answer (200) |
//! |---|---|
//! | `GET /kv/{key}` | `{"value": <json or null>}`, linearizable: read-index at the leader |
//! | `PUT /kv/{key}` with `{"value": v}` | `{}` once committed and applied |
//! | `POST /kv/{key}/cas` with `{"from": f, "to": t}` | `{"applied": true}` or `{"applied": false, "current": c}` |
//! | `POST /txn` with `{"ops": [[f, k, v], ...]}` | `{"ops": [[f, k, v], ...]}`, the micro-ops completed (reads filled in), once the whole txn committed as one Raft entry; 409 when it cannot apply (an append to a non-list) |
//! | `POST /commit` with `{"expect": [[k, v], ...], "writes": [[k, v], ...]}` | `{"committed": bool}`: the writes (`null` removes), as one Raft entry, if every `k` of `expect` still holds its `v` |
//! | `GET /status` | `{"id", "leader", "term", "state", "last_applied", "last_log_index", "bug"}` |
//! | `GET /membership`, `POST /membership/remove`, `/membership/add` with `{"id"}` | the voters; remove or add one through openraft's `change_membership` (see `server::members`) |
//! | `POST /raft/append`, `/raft/vote`, `/raft/snapshot` | openraft RPCs, JSON |
//!
//! A follower forwards client requests to the leader over its `--peer` map, so a client only
//! ever talks to its own node.
//!
//! # Status codes, and what they mean to the harness
//! | status | meaning | harness outcome |
//! |---|---|---|
//! | 200 | done (cas: `applied` says whether it matched) | `ok` (cas mismatch: `fail`) |
//! | 503 `{"error"}` | certainly not applied: no leader known, the leader could not be reached before the request was sent, this node is not the leader | `fail` |
//! | 504 `{"error"}` | indeterminate: the deadline passed before commit, or a forwarded request's answer was lost | `info` (reads: `fail`) |
//! | 500 `{"error"}` | indeterminate: openraft failed after the request may have been proposed | `info` (reads: `fail`) |
//! | 4xx | malformed request (bad JSON body), nothing done | `fail` |
//!
//! # Bug switches (`--bug NAME`)
//! They break the service on purpose, to prove the harness finds real anomalies:
//! - `stale-reads`: every node answers `GET /kv` from its own state machine, with no read-index
//!   and no forwarding, so a partitioned or lagging node serves old values.
//! - `lost-writes`: a group commit that acknowledges too early. The leader answers a `PUT`
//!   (and a cas, judged against its local state machine) at once, queues it, and proposes the
//!   queue as a group every 250 ms, so reads in the meantime miss acknowledged writes, and
//!   killing or partitioning the leader loses the queued ones.
//! - `txn-stale-reads`: transactions lose their isolation. The node a client asks runs the
//!   transaction's reads at once against its own state machine (no read index, no
//!   forwarding; a follower's state may lag), then commits only its writes through Raft as
//!   a separate entry. Reads and writes are no longer one atomic step, so concurrent
//!   transactions interleave: two txns each miss the other's append (G2-item, G-single),
//!   a read misses a write committed before the txn began (`-realtime` anomalies).
//! - `lost-updates`: guarded commits (`POST /commit`, and `/kv/{key}/cas`) are judged by the
//!   node against its own state machine, and their writes then proposed unguarded. Two
//!   read-modify-writes that read the same state both commit, the later overwriting the
//!   earlier: a set loses elements, a counter increments, a queue hands one element to two
//!   dequeues, ids repeat, and a bank's total drifts.
//! - `no-fsync`: the Raft log store writes records (entries and votes) but never fsyncs
//!   them, and still tells openraft they are durable. A killed process loses nothing (the
//!   kernel's page cache keeps the writes), but losing what was not fsynced
//!   (`--nemesis lose-unfsynced`) loses acknowledged writes.

mod membership;
pub mod server;

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use super::{node_logs, poll_ready, SystemResult};
use super::{Client, NodeSpec, StartCommand, System};
use crate::spec::raft::RaftTiming;
pub use crate::spec::systems::Bug;

/// What `GET /status` answers.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct NodeStatus {
    pub id: u64,
    pub leader: Option<u64>,
    pub term: u64,
    pub state: String,
}

/// The built-in reference system: a Raft key-value cluster of `faultline node` processes.
#[derive(Debug, Clone)]
pub struct ReferenceSystem {
    bug: Option<Bug>,
    exe: PathBuf,
    raft: RaftTiming,
    http: reqwest::Client,
}

impl ReferenceSystem {
    /// A reference system whose nodes run `exe node ...` (the faultline binary itself), with
    /// `bug` switched on in every node.
    pub fn new(bug: Option<Bug>, exe: PathBuf) -> Self {
        ReferenceSystem {
            bug,
            exe,
            raft: RaftTiming::default(),
            http: reqwest::Client::new(),
        }
    }

    /// The same system, its nodes started with this Raft timing.
    pub fn with_raft_timing(mut self, raft: RaftTiming) -> Self {
        self.raft = raft;
        self
    }

    async fn status(&self, node: &NodeSpec) -> Option<NodeStatus> {
        let response = self
            .http
            .get(format!("http://{}/status", node.client_addr))
            .timeout(Duration::from_millis(500))
            .send()
            .await
            .ok()?;
        response.json().await.ok()
    }

    async fn statuses(&self, cluster: &[NodeSpec]) -> Vec<Option<NodeStatus>> {
        let mut out = Vec::with_capacity(cluster.len());
        for node in cluster {
            out.push(self.status(node).await);
        }
        out
    }
}

/// The leader every node agrees on, if all answered and the leader says it leads.
fn agreed_leader(statuses: &[Option<NodeStatus>]) -> Option<u64> {
    let first = statuses.first()?.as_ref()?.leader?;
    let all_agree = statuses
        .iter()
        .all(|s| s.as_ref().is_some_and(|s| s.leader == Some(first)));
    let leader_leads = statuses
        .iter()
        .flatten()
        .any(|s| s.id == first && s.state == "Leader");
    (all_agree && leader_leads).then_some(first)
}

/// The node that says it leads in the highest term.
fn claimed_leader(statuses: &[Option<NodeStatus>]) -> Option<u64> {
    statuses
        .iter()
        .flatten()
        .filter(|s| s.state == "Leader")
        .max_by_key(|s| s.term)
        .map(|s| s.id)
}

#[async_trait]
impl System for ReferenceSystem {
    fn name(&self) -> &str {
        "reference"
    }

    fn peer_relays(&self) -> bool {
        true
    }

    fn start_command(&self, node: &NodeSpec, cluster: &[NodeSpec]) -> Option<StartCommand> {
        let mut args = vec![
            "node".to_string(),
            "--id".to_string(),
            node.id.to_string(),
            "--listen".to_string(),
            node.client_addr.clone(),
            "--data-dir".to_string(),
            node.data_dir.display().to_string(),
        ];
        for other in cluster.iter().filter(|other| other.id != node.id) {
            args.push("--peer".to_string());
            args.push(format!("{}={}", other.id, other.peer_addr));
        }
        if node.id == 1 {
            args.push("--bootstrap".to_string());
        }
        for (flag, ms) in [
            ("--heartbeat-ms", self.raft.heartbeat_ms),
            ("--election-min-ms", self.raft.election_min_ms()),
            ("--election-max-ms", self.raft.election_max_ms()),
        ] {
            args.push(flag.to_string());
            args.push(ms.to_string());
        }
        if let Some(bug) = self.bug {
            args.push("--bug".to_string());
            args.push(bug.to_string());
        }
        // Nodes log as the controller does (RUST_LOG), also on SSH and docker nodes, which do
        // not inherit the controller's environment.
        let env = std::env::var("RUST_LOG")
            .map(|filter| vec![("RUST_LOG".to_string(), filter)])
            .unwrap_or_default();
        Some(StartCommand {
            program: self.exe.clone(),
            args,
            env,
        })
    }

    async fn await_ready(&self, cluster: &[NodeSpec], timeout: Duration) -> SystemResult {
        poll_ready("reference", timeout, || async {
            let statuses = self.statuses(cluster).await;
            match agreed_leader(&statuses) {
                Some(_) => Vec::new(),
                None => vec![format!(
                    "the nodes do not agree on a leader; read the logs: {}",
                    node_logs(cluster)
                )],
            }
        })
        .await
    }

    async fn leader(&self, cluster: &[NodeSpec]) -> Option<u64> {
        claimed_leader(&self.statuses(cluster).await)
    }

    fn membership(
        &self,
        cluster: &[NodeSpec],
        _process: std::sync::Arc<dyn faultline_nemeses::control::ProcessControl>,
        _shell: std::sync::Arc<dyn crate::systems::node::NodeShell>,
    ) -> Option<std::sync::Arc<dyn faultline_nemeses::membership::Membership>> {
        Some(std::sync::Arc::new(membership::ReferenceMembership::new(
            cluster,
        )))
    }

    fn client(&self, node: &NodeSpec, _: &[NodeSpec], op_timeout: Duration) -> Box<dyn Client> {
        Box::new(crate::systems::http::HttpClient::new(node, op_timeout))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::systems::Completion;

    fn node(id: u64) -> NodeSpec {
        NodeSpec {
            id,
            name: format!("n{id}"),
            client_addr: format!("127.0.0.1:{}", 7000 + id),
            peer_addr: format!("127.0.0.1:{}", 8000 + id),
            data_dir: PathBuf::from(format!("/tmp/d{id}")),
            log_file: PathBuf::from(format!("/tmp/n{id}.log")),
            extra_ports: Vec::new(),
        }
    }

    #[test]
    fn bug_names_round_trip_and_unknown_names_list_the_valid_ones() {
        for bug in Bug::ALL {
            assert_eq!(bug.to_string().parse::<Bug>().unwrap(), bug);
        }
        let err = "stale".parse::<Bug>().unwrap_err().to_string();
        assert!(
            err.contains("stale-reads") && err.contains("lost-writes"),
            "{err}"
        );
    }

    #[test]
    fn start_command_lists_peers_and_bootstraps_node_one() {
        let cluster = [node(1), node(2), node(3)];
        let system = ReferenceSystem::new(Some(Bug::LostWrites), PathBuf::from("/bin/faultline"))
            .with_raft_timing(RaftTiming {
                heartbeat_ms: 150,
                election_ms: 900,
            });
        let one = system
            .start_command(&cluster[0], &cluster)
            .unwrap()
            .args
            .join(" ");
        assert_eq!(
            one,
            "node --id 1 --listen 127.0.0.1:7001 --data-dir /tmp/d1 --peer 2=127.0.0.1:8002 \
             --peer 3=127.0.0.1:8003 --bootstrap --heartbeat-ms 150 --election-min-ms 450 \
             --election-max-ms 900 --bug lost-writes"
        );
        let two = system.start_command(&cluster[1], &cluster).unwrap().args;
        assert!(!two.contains(&"--bootstrap".to_string()));
        assert!(two.contains(&"1=127.0.0.1:8001".to_string()));
    }

    #[test]
    fn leader_agreement_needs_every_node_and_a_leader_that_leads() {
        let st = |id, leader, state: &str| {
            Some(NodeStatus {
                id,
                leader,
                term: 3,
                state: state.into(),
            })
        };
        let good = [
            st(1, Some(2), "Follower"),
            st(2, Some(2), "Leader"),
            st(3, Some(2), "Follower"),
        ];
        assert_eq!(agreed_leader(&good), Some(2));
        assert_eq!(claimed_leader(&good), Some(2));
        let missing = [st(1, Some(2), "Follower"), st(2, Some(2), "Leader"), None];
        assert_eq!(agreed_leader(&missing), None);
        let split = [
            st(1, Some(1), "Follower"),
            st(2, Some(2), "Leader"),
            st(3, Some(2), "Follower"),
        ];
        assert_eq!(agreed_leader(&split), None);
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    /// Run the nodes of `cluster` inside this process (each `run_node` on the runtime).
    fn run_in_process(cluster: &[NodeSpec], bootstrap: bool) {
        // Installed first, so `run_node` keeps it: node logs go to the captured test output.
        let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        for node in cluster {
            let peers = cluster
                .iter()
                .filter(|n| n.id != node.id)
                .map(|n| server::Peer {
                    id: n.id,
                    addr: n.peer_addr.clone(),
                })
                .collect();
            let args = server::NodeArgs {
                id: node.id,
                listen: node.client_addr.parse().unwrap(),
                peers,
                data_dir: node.data_dir.clone(),
                bootstrap: bootstrap && node.id == 1,
                bug: None,
                heartbeat_ms: 100,
                election_min_ms: 400,
                election_max_ms: 800,
                request_timeout_ms: 1000,
                snapshot_every: 1000,
            };
            tokio::spawn(server::run_node(args));
        }
    }

    fn local_cluster(dir: &std::path::Path, n: u64) -> Vec<NodeSpec> {
        (1..=n)
            .map(|id| {
                let port = free_port();
                NodeSpec {
                    id,
                    name: format!("n{id}"),
                    client_addr: format!("127.0.0.1:{port}"),
                    peer_addr: format!("127.0.0.1:{port}"),
                    data_dir: dir.join(format!("n{id}")),
                    log_file: dir.join(format!("n{id}.log")),
                    extra_ports: Vec::new(),
                }
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn system_and_client_drive_a_real_cluster() {
        use faultline_workloads::op::OpRequest;
        use serde_json::json;

        let dir = tempfile::tempdir().unwrap();
        let cluster = local_cluster(dir.path(), 3);
        run_in_process(&cluster, true);
        let system = ReferenceSystem::new(None, PathBuf::from("unused"));
        system
            .await_ready(&cluster, Duration::from_secs(20))
            .await
            .unwrap();
        let leader = system.leader(&cluster).await.expect("a leader");
        let follower = cluster.iter().find(|n| n.id != leader).unwrap();

        let mut client = system.client(follower, &cluster, Duration::from_secs(5));
        let op = |f: &str, v| OpRequest::new(f, Some(json!(3)), v);
        assert_eq!(
            client.invoke(&op("read", Value::Null)).await,
            Completion::ok(Value::Null)
        );
        assert_eq!(
            client.invoke(&op("write", json!(1))).await,
            Completion::ok(json!(1))
        );
        assert_eq!(
            client.invoke(&op("cas", json!([1, 2]))).await,
            Completion::ok(json!([1, 2]))
        );
        let mismatch = client.invoke(&op("cas", json!([1, 3]))).await;
        assert_eq!(mismatch, Completion::fail(json!([1, 3]), "cas mismatch"));
        assert_eq!(
            client.invoke(&op("read", Value::Null)).await,
            Completion::ok(json!(2))
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cluster_without_a_leader_fails_operations_and_is_not_ready() {
        use faultline_checkers::history::OpType;
        use faultline_workloads::op::OpRequest;
        use serde_json::json;

        let dir = tempfile::tempdir().unwrap();
        let cluster = local_cluster(dir.path(), 2);
        run_in_process(&cluster, false);
        let system = ReferenceSystem::new(None, PathBuf::from("unused"));
        let err = system
            .await_ready(&cluster, Duration::from_millis(800))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("n1.log"), "{err}");
        assert_eq!(system.leader(&cluster).await, None);
        let mut client = system.client(&cluster[0], &cluster, Duration::from_secs(2));
        let write = client
            .invoke(&OpRequest::new("write", Some(json!("k")), json!(1)))
            .await;
        assert_eq!(write.kind, OpType::Fail, "{write:?}");
        assert!(write.error.unwrap().contains("no leader known"));
        let read = client
            .invoke(&OpRequest::new("read", Some(json!("k")), Value::Null))
            .await;
        assert_eq!(read.kind, OpType::Fail);
    }
}
