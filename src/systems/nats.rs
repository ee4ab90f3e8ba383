//! NATS JetStream key-value (Debian's `nats-server`, 2.9) as a system under test: one
//! `nats-server -c nats.conf` per node, clustered by routes (on the node's first extra port)
//! with a JetStream store in the node's data folder; and a client on the `async-nats` crate
//! using the KV bucket `faultline`, replicated on every node (at most 5, NATS's limit).
//!
//! Reads: `leader` (the stream's message-get API, answered by the stream leader) or `direct`
//! (the crate's `get`: a direct get that any current replica may answer). Writes are `put`;
//! a cas is `update(key, value, revision)` with the revision read from the leader, or
//! `create` when the expected value is `null` (absent).
//!
//! Faults: kill and pause work. Clock faults do not: nats-server is a Go binary, and Go reads
//! the clock through the vDSO, which libfaketime cannot intercept.
//!
//! Outcomes: no connection is `fail`; a put, update or create that was published and whose
//! acknowledgement did not come (timeout, lost connection, an error) is `info`, except
//! `wrong last sequence` and `already exists`, which the leader checked before storing; a
//! failed read is `fail`.

use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::{self, kv, stream};
use async_trait::async_trait;
use bytes::Bytes;
use serde_json::Value;

use super::install::Program;
use super::key_path::escape_bytes;
use super::node::NodeShell;
use super::reads::NatsReads;
use super::versioned::{Failure, Version, Versioned, VersionedStore};
use super::{decode_value, Client, NodeSpec, StartCommand, System, SystemError};
use super::{poll_ready, SystemResult};
use crate::spec::systems::InstallMode;

/// The KV bucket the workload uses.
const BUCKET: &str = "faultline";

/// NATS JetStream on the nodes of one test.
#[derive(Debug)]
pub struct NatsSystem {
    reads: NatsReads,
    program: Program,
    install: InstallMode,
}

impl NatsSystem {
    /// NATS whose clients read at `reads`, installed on the nodes as `install` says.
    pub fn new(reads: NatsReads, install: InstallMode) -> Self {
        NatsSystem {
            reads,
            program: Program::new("/usr/sbin/nats-server", "nats-server", "FAULTLINE_NATS_BIN"),
            install,
        }
    }
}

fn config_path(node: &NodeSpec) -> PathBuf {
    node.node_dir().join("nats.conf")
}

/// `nats.conf` of `node`.
fn config(node: &NodeSpec, cluster: &[NodeSpec]) -> Result<String, SystemError> {
    let mut text = format!(
        "server_name: \"{}\"\nlisten: \"{}\"\njetstream {{\n  store_dir: \"{}\"\n  \
         max_memory_store: 67108864\n  max_file_store: 1073741824\n}}\n",
        node.name,
        node.client_addr,
        node.data_dir.display()
    );
    if cluster.len() > 1 {
        let routes = cluster
            .iter()
            .filter(|n| n.id != node.id)
            .map(|n| n.extra_addr(0).map(|a| format!("\"nats-route://{a}\"")))
            .collect::<Result<Vec<_>, _>>()?;
        text.push_str(&format!(
            "cluster {{\n  name: \"faultline\"\n  listen: \"{}\"\n  routes: [{}]\n}}\n",
            node.extra_addr(0)?,
            routes.join(", ")
        ));
    }
    Ok(text)
}

/// A connection to one node only (no reconnecting to servers it learns about), bounded by
/// `timeout`.
async fn connect(node: &NodeSpec, timeout: Duration) -> Result<async_nats::Client, String> {
    let options = async_nats::ConnectOptions::new()
        .ignore_discovered_servers()
        .connection_timeout(timeout)
        .request_timeout(Some(timeout));
    match tokio::time::timeout(timeout, options.connect(node.client_addr.as_str())).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(format!("cannot connect to {}: {e}", node.name)),
        Err(_) => Err(format!("no connection to {} within {timeout:?}", node.name)),
    }
}

/// The bucket's stream, as `node` reports it: its leader and how many replicas are current.
async fn stream_state(node: &NodeSpec) -> Result<(Option<String>, usize), String> {
    let client = connect(node, Duration::from_secs(1)).await?;
    let js = jetstream::new(client);
    let mut stream = js
        .get_stream(format!("KV_{BUCKET}"))
        .await
        .map_err(|e| format!("{}: no stream info: {e}", node.name))?;
    let info = stream
        .info()
        .await
        .map_err(|e| format!("{}: no stream info: {e}", node.name))?;
    let cluster = info.cluster.clone();
    let leader = cluster.as_ref().and_then(|c| c.leader.clone());
    let current = cluster.map_or(0, |c| {
        c.replicas
            .iter()
            .filter(|r| r.current && !r.offline)
            .count()
    });
    Ok((leader, current))
}

#[async_trait]
impl System for NatsSystem {
    fn name(&self) -> &str {
        "nats"
    }

    async fn setup(&self, shell: &dyn NodeShell, cluster: &[NodeSpec]) -> Result<(), SystemError> {
        let programs = [&self.program];
        super::set_up_with_config_files(
            self,
            shell,
            cluster,
            &programs,
            self.install,
            config,
            config_path,
        )
        .await
    }

    fn start_command(&self, node: &NodeSpec, _cluster: &[NodeSpec]) -> Option<StartCommand> {
        Some(StartCommand {
            program: self.program.path.clone(),
            args: vec!["-c".to_string(), config_path(node).display().to_string()],
            env: Vec::new(),
        })
    }

    /// Ready when every node takes connections and the bucket exists with a leader and every
    /// follower current (the bucket is created on the first call).
    async fn await_ready(&self, cluster: &[NodeSpec], timeout: Duration) -> SystemResult {
        let replicas = cluster.len().min(5);
        poll_ready("nats", timeout, || async {
            let mut missing = Vec::new();
            for node in cluster {
                if let Err(e) = connect(node, Duration::from_millis(800)).await {
                    missing.push(format!("{e}; read its log {}", node.log_file.display()));
                }
            }
            if !missing.is_empty() {
                return missing;
            }
            match ensure_bucket(&cluster[0], replicas).await {
                Err(e) => missing.push(format!(
                    "the bucket is not there yet ({e}); read the log of {} ({})",
                    cluster[0].name,
                    cluster[0].log_file.display()
                )),
                Ok(()) => match stream_state(&cluster[0]).await {
                    Ok((Some(_), current)) if current + 1 >= replicas => {}
                    Ok((leader, current)) => missing.push(format!(
                        "the bucket's stream has leader {leader:?} and {current} current \
                         followers of {}; read the logs: {}",
                        replicas - 1,
                        super::node_logs(cluster)
                    )),
                    Err(e) => missing.push(e),
                },
            }
            missing
        })
        .await
    }

    async fn leader(&self, cluster: &[NodeSpec]) -> Option<u64> {
        for node in cluster {
            if let Ok((Some(leader), _)) = stream_state(node).await {
                return cluster.iter().find(|n| n.name == leader).map(|n| n.id);
            }
        }
        None
    }

    fn client(&self, node: &NodeSpec, _: &[NodeSpec], op_timeout: Duration) -> Box<dyn Client> {
        Box::new(NatsClient {
            node: node.clone(),
            op_timeout,
            reads: self.reads,
            store: None,
        })
    }
}

/// Create the bucket if it is not there.
async fn ensure_bucket(node: &NodeSpec, replicas: usize) -> Result<(), String> {
    let js = jetstream::new(connect(node, Duration::from_secs(2)).await?);
    if js.get_key_value(BUCKET).await.is_ok() {
        return Ok(());
    }
    // The stream a KV bucket is, created directly: the crate's `create_key_value` first
    // reads the account info, whose shape changed after server 2.9.
    js.create_stream(stream::Config {
        name: format!("KV_{BUCKET}"),
        subjects: vec![format!("$KV.{BUCKET}.>")],
        max_messages_per_subject: 1,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        num_replicas: replicas,
        discard: stream::DiscardPolicy::New,
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// One worker's NATS client, connected to its own node only.
pub struct NatsClient {
    node: NodeSpec,
    op_timeout: Duration,
    reads: NatsReads,
    store: Option<kv::Store>,
}

impl NatsClient {
    async fn store(&mut self) -> Result<kv::Store, String> {
        if let Some(store) = &self.store {
            return Ok(store.clone());
        }
        let js = jetstream::new(connect(&self.node, self.op_timeout).await?);
        let store = tokio::time::timeout(self.op_timeout, js.get_key_value(BUCKET))
            .await
            .map_err(|_| {
                format!(
                    "no bucket info from {} within {:?}",
                    self.node.name, self.op_timeout
                )
            })?
            .map_err(|e| format!("{}: cannot open the bucket: {e}", self.node.name))?;
        self.store = Some(store.clone());
        Ok(store)
    }

    /// The key's current value and revision, from the stream leader.
    async fn leader_entry(
        &self,
        store: &kv::Store,
        key: &str,
    ) -> Result<Option<(Value, u64)>, String> {
        use async_nats::jetstream::stream::LastRawMessageErrorKind;
        let subject = format!("{}{key}", store.prefix);
        let get = store.stream.get_last_raw_message_by_subject(&subject);
        match tokio::time::timeout(self.op_timeout, get).await {
            Err(_) => Err(self.timed_out()),
            Ok(Ok(message)) => decode_value(&message.payload).map(|v| Some((v, message.sequence))),
            Ok(Err(e)) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
            Ok(Err(e)) => Err(format!("{}: {e}", self.node.name)),
        }
    }

    /// The key's value and revision as this node's replica has it (may be stale).
    async fn direct_entry(
        &self,
        store: &kv::Store,
        key: &str,
    ) -> Result<Option<(Value, u64)>, String> {
        match tokio::time::timeout(self.op_timeout, store.entry(key)).await {
            Err(_) => Err(self.timed_out()),
            Ok(Ok(Some(entry))) if entry.operation == kv::Operation::Put => {
                decode_value(&entry.value).map(|v| Some((v, entry.revision)))
            }
            Ok(Ok(_)) => Ok(None),
            Ok(Err(e)) => Err(format!("{}: {e}", self.node.name)),
        }
    }

    fn timed_out(&self) -> String {
        format!(
            "no answer from {} within {:?}",
            self.node.name, self.op_timeout
        )
    }

    /// What a write came to within the op timeout: written (`true`); a lost race (`false`:
    /// for a guarded write, an error of kind `conflict` or the server's words for one);
    /// refused before it applied (an `invalid` key); or unknown.
    async fn outcome<K>(
        &self,
        write: impl std::future::Future<Output = Result<u64, async_nats::error::Error<K>>>,
        conflict: Option<K>,
        invalid: K,
    ) -> Result<bool, Failure>
    where
        K: Clone + std::fmt::Debug + std::fmt::Display + PartialEq,
    {
        let lost = |e: &async_nats::error::Error<K>| {
            conflict
                .as_ref()
                .is_some_and(|kind| e.kind() == *kind || lost_race(e))
        };
        match tokio::time::timeout(self.op_timeout, write).await {
            Err(_) => Err(Failure::Unknown(self.timed_out())),
            Ok(Ok(_)) => Ok(true),
            Ok(Err(e)) if lost(&e) => Ok(false),
            Ok(Err(e)) if e.kind() == invalid => Err(Failure::NotApplied(e.to_string())),
            Ok(Err(e)) => Err(Failure::Unknown(format!("{}: {e}", self.node.name))),
        }
    }
}

/// NATS JetStream's key-value store as a versioned store, one key at a time: a snapshot is
/// the key's entry with its revision (from the stream leader, or this node's replica for
/// `direct` reads); a commit is `create` (the key must be absent) or `update` at the revision
/// read. It has no multi-key commit, so workloads that need one are refused up front.
#[async_trait]
impl VersionedStore for NatsClient {
    fn system(&self) -> &'static str {
        "nats"
    }

    fn path(&self, key: &str) -> String {
        kv_key(key)
    }

    fn multi_key_commits(&self) -> bool {
        false
    }

    fn consistent_snapshots(&self) -> bool {
        false
    }

    async fn snapshot(&mut self, paths: &[String]) -> Result<Vec<Versioned>, Failure> {
        let store = self.store().await.map_err(Failure::NotApplied)?;
        let mut snapshot = Vec::with_capacity(paths.len());
        for key in paths {
            let entry = match self.reads {
                NatsReads::Leader => self.leader_entry(&store, key).await,
                NatsReads::Direct => self.direct_entry(&store, key).await,
            };
            snapshot.push(Versioned::at_revision(entry.map_err(Failure::NotApplied)?));
        }
        Ok(snapshot)
    }

    async fn commit(
        &mut self,
        read: &[(String, Versioned)],
        writes: &[(String, Value)],
    ) -> Result<bool, Failure> {
        let store = self.store().await.map_err(Failure::NotApplied)?;
        let (key, value) = match writes {
            [(key, value)] => (key, value),
            _ => {
                return Err(Failure::NotApplied(format!(
                    "nats commits one key at a time; this op writes {} and reads {}",
                    writes.len(),
                    read.len()
                )))
            }
        };
        let data = Bytes::from(value.to_string());
        let version = match read {
            [] => None,
            [(read_key, versioned)] if read_key == key => Some(&versioned.version),
            _ => {
                return Err(Failure::NotApplied(
                    "nats commits one key at a time, guarded by that key only".to_string(),
                ))
            }
        };
        match version {
            None => {
                let put = store.put(key, data);
                self.outcome(put, None, kv::PutErrorKind::InvalidKey).await
            }
            Some(Version::Revision(None)) => {
                let create = store.create(key, data);
                let exists = Some(kv::CreateErrorKind::AlreadyExists);
                self.outcome(create, exists, kv::CreateErrorKind::InvalidKey)
                    .await
            }
            Some(Version::Revision(Some(revision))) => {
                let update = store.update(key, data, *revision);
                let moved = Some(kv::UpdateErrorKind::WrongLastRevision);
                self.outcome(update, moved, kv::UpdateErrorKind::InvalidKey)
                    .await
            }
            Some(Version::Value) => unreachable!("nats snapshots carry revisions"),
        }
    }
}

/// Whether a refused `create` or `update` was refused because the key's last revision was
/// not the expected one: a lost race, nothing written. Servers from 2.10 on refuse with
/// JetStream error 10164, which the client reports under another kind than 10071's, so the
/// server's words are what tells.
fn lost_race(error: &impl std::fmt::Display) -> bool {
    error.to_string().contains("wrong last sequence")
}

/// A KV key for a workload key: NATS keys allow `[-/_=.a-zA-Z0-9]`; anything else is
/// written as `_xx` hex.
fn kv_key(key: &str) -> String {
    let escaped = escape_bytes(
        key,
        |byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'='),
        |byte| format!("_{byte:02x}"),
    );
    format!("k{escaped}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_routes_to_every_other_node() {
        let cluster = crate::systems::test_cluster(3, 4222, &[6222, 6223]);
        let text = config(&cluster[0], &cluster).unwrap();
        crate::systems::assert_has_all(
            &text,
            &[
                "server_name: \"n1\"",
                "listen: \"127.0.1.1:4222\"",
                "listen: \"127.0.1.1:6222\"",
                "routes: [\"nats-route://127.0.1.2:6222\", \"nats-route://127.0.1.3:6222\"]",
                "store_dir: \"/run/n1/data\"",
            ],
        );
        assert!(!config(&cluster[0], &cluster[..1])
            .unwrap()
            .contains("cluster"));
    }

    #[test]
    fn keys_are_valid_nats_keys() {
        assert_eq!(kv_key("3"), "k3");
        assert_eq!(kv_key("a b"), "ka_20b");
    }
}
