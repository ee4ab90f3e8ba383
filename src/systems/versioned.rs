//! The one primitive every system's client implements: a versioned key-value store. A client
//! reads a snapshot of some keys, each with a version, and commits writes guarded by those
//! versions (all of them or none). [`invoke`] runs every workload's op over it, as
//! [`ops`](super::ops) defines it: so each system implements its primitive once, and each
//! workload is written once.
//!
//! A guarded commit that loses a race (a key changed after the snapshot) applied nothing, so
//! the op is tried again on a fresh snapshot, a few times, then `fail`s. How an uncertain
//! answer maps to `ok`, `fail` or `info` is decided here, once: a failed read is a `fail`
//! (it had no effect), an uncertain commit is `info`.
//!
//! ```ignore
//! #[async_trait]
//! impl VersionedStore for MyClient {
//!     fn system(&self) -> &'static str { "mine" }
//!     fn path(&self, key: &str) -> String { format!("/faultline/{key}") }
//!     async fn snapshot(&mut self, paths: &[String]) -> Result<Vec<Versioned>, Failure> { ... }
//!     async fn commit(&mut self, read: &[(String, Versioned)], writes: &[(String, Value)])
//!         -> Result<bool, Failure> { ... }
//! }
//! let completion = versioned::invoke(&mut client, &op).await;
//! ```

use async_trait::async_trait;
use faultline_workloads::op::OpRequest;
use serde_json::Value;

use super::ops::{self, Applied};
use super::{Client, Completion};

/// How many snapshots an op may take before it gives up on a contended key. A transaction
/// gets one, as in Jepsen's and Elle's clients: a lost race is a `fail` the history shows.
const ATTEMPTS: usize = 8;

/// What a request to the system did, when it did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Failure {
    /// Certainly not applied (refused connection, rejected request).
    NotApplied(String),
    /// May have been applied (timeout, lost connection after sending).
    Unknown(String),
}

impl Failure {
    /// An HTTP request to `node` that got no answer: a refused connection applied nothing;
    /// a timeout after `op_timeout`, or any other error once sent, may have applied it.
    pub fn of_request(node: &str, op_timeout: std::time::Duration, e: &reqwest::Error) -> Self {
        if e.is_connect() {
            Failure::NotApplied(format!("cannot connect to {node}: {e}"))
        } else if e.is_timeout() {
            Failure::Unknown(format!("no answer from {node} within {op_timeout:?}"))
        } else {
            Failure::Unknown(format!("request to {node} failed: {e}"))
        }
    }

    /// The reason, whichever kind.
    pub fn reason(&self) -> &str {
        match self {
            Failure::NotApplied(why) | Failure::Unknown(why) => why,
        }
    }
}

/// How a commit recognises that a key is unchanged since the snapshot.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Version {
    /// A revision the system keeps per key (etcd's `mod_revision`, ZooKeeper's `version`,
    /// a NATS KV revision); `None` when the key was absent.
    Revision(Option<u64>),
    /// The value itself: the commit compares values (enough for a guarded write: if the value
    /// is the one read, applying the op's writes now equals running the op now).
    Value,
}

/// One key of a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Versioned {
    /// Its value; `null` when absent.
    pub value: Value,
    /// Its version.
    pub version: Version,
}

impl Versioned {
    /// A key read with the revision the system keeps for it: `Some((value, revision))`, or
    /// `None` when the key is absent.
    pub fn at_revision(found: Option<(Value, u64)>) -> Versioned {
        match found {
            Some((value, revision)) => Versioned {
                value,
                version: Version::Revision(Some(revision)),
            },
            None => Versioned {
                value: Value::Null,
                version: Version::Revision(None),
            },
        }
    }
}

/// A system's client as a versioned key-value store.
#[async_trait]
pub(crate) trait VersionedStore: Send {
    /// The system's name, for errors.
    fn system(&self) -> &'static str;
    /// Where the system stores a key of the history: by default the key itself.
    fn path(&self, key: &str) -> String {
        key.to_string()
    }
    /// Whether one commit may write several keys (NATS JetStream's key-value store cannot).
    fn multi_key_commits(&self) -> bool {
        true
    }
    /// Whether a snapshot of several keys is consistent on its own (one request that reads
    /// them all at one point); when not, a multi-key read is validated by an empty guarded
    /// commit.
    fn consistent_snapshots(&self) -> bool {
        true
    }
    /// Run `op` the system's own way instead of over the store, when it has one (the
    /// reference service runs a transaction as one Raft entry); `None`, the default, runs it
    /// over the store.
    async fn native(&mut self, _op: &OpRequest) -> Option<Completion> {
        None
    }
    /// Read `paths` at the read consistency the test asked for.
    async fn snapshot(&mut self, paths: &[String]) -> Result<Vec<Versioned>, Failure>;
    /// Write `writes` (`null` deletes) if every key of `read` still has its version; `false`
    /// when one changed (nothing was written). `read` may be empty (a blind write).
    async fn commit(
        &mut self,
        read: &[(String, Versioned)],
        writes: &[(String, Value)],
    ) -> Result<bool, Failure>;
}

/// Every versioned store is a client: it runs each op natively if it can, else over the
/// store.
#[async_trait]
impl<T: VersionedStore> Client for T {
    async fn invoke(&mut self, op: &OpRequest) -> Completion {
        match self.native(op).await {
            Some(done) => done,
            None => invoke(self, op).await,
        }
    }
}

/// Run `op` against `store`: `ok` with what the op answers, `fail` when it certainly did not
/// happen, `info` when it may have.
pub(crate) async fn invoke(store: &mut dyn VersionedStore, op: &OpRequest) -> Completion {
    let planned = {
        let path = |key: &str| store.path(key);
        ops::plan(op, &path)
    };
    let plan = match planned {
        Ok(plan) => plan,
        Err(why) => return Completion::fail(op.value.clone(), why),
    };
    let read_only = ops::is_read_only(&plan);
    let attempts = if op.f == "txn" { 1 } else { ATTEMPTS };
    for _ in 0..attempts {
        let snapshot = if plan.reads.is_empty() {
            Vec::new()
        } else {
            match store.snapshot(&plan.reads).await {
                Ok(snapshot) => snapshot,
                // A snapshot is a read: however it failed, nothing was applied.
                Err(e) => return Completion::fail(op.value.clone(), e.reason()),
            }
        };
        let values: Vec<Value> = snapshot.iter().map(|v| v.value.clone()).collect();
        let (value, writes) = match ops::apply(op, &plan, &values) {
            Ok(Applied::Done { value, writes }) => (value, writes),
            Ok(Applied::Refused(why)) => return Completion::fail(op.value.clone(), why),
            Err(why) => return Completion::fail(op.value.clone(), why),
        };
        if writes.is_empty() && (snapshot.len() <= 1 || store.consistent_snapshots()) {
            // One key read at the asked consistency, or a multi-key snapshot the store
            // promises is consistent: nothing to commit.
            return Completion::ok(value);
        }
        if writes.len() > 1 && !store.multi_key_commits() {
            return Completion::fail(
                op.value.clone(),
                format!(
                    "{} cannot write {} keys in one commit",
                    store.system(),
                    writes.len()
                ),
            );
        }
        let read: Vec<(String, Versioned)> = plan.reads.iter().cloned().zip(snapshot).collect();
        match store.commit(&read, &writes).await {
            Ok(true) => return Completion::ok(value),
            Ok(false) => continue,
            Err(Failure::NotApplied(why)) => return Completion::fail(op.value.clone(), why),
            Err(Failure::Unknown(why)) if read_only => {
                return Completion::fail(op.value.clone(), why)
            }
            Err(Failure::Unknown(why)) => return Completion::info(op.value.clone(), why),
        }
    }
    Completion::fail(
        op.value.clone(),
        format!("lost a race {attempts} time(s): a key changed between the read and the commit"),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;
    use faultline_checkers::history::OpType;

    /// A store in memory that can lose races and answer uncertainly on demand.
    #[derive(Default)]
    struct Memory {
        kv: HashMap<String, (Value, u64)>,
        races_to_lose: usize,
        uncertain_commits: bool,
        inconsistent_snapshots: bool,
    }

    #[async_trait]
    impl VersionedStore for Memory {
        fn system(&self) -> &'static str {
            "memory"
        }
        fn consistent_snapshots(&self) -> bool {
            !self.inconsistent_snapshots
        }
        async fn snapshot(&mut self, paths: &[String]) -> Result<Vec<Versioned>, Failure> {
            Ok(paths
                .iter()
                .map(|p| match self.kv.get(p) {
                    Some((v, rev)) => Versioned {
                        value: v.clone(),
                        version: Version::Revision(Some(*rev)),
                    },
                    None => Versioned {
                        value: Value::Null,
                        version: Version::Revision(None),
                    },
                })
                .collect())
        }
        async fn commit(
            &mut self,
            read: &[(String, Versioned)],
            writes: &[(String, Value)],
        ) -> Result<bool, Failure> {
            if self.uncertain_commits {
                return Err(Failure::Unknown("timed out".into()));
            }
            if self.races_to_lose > 0 {
                self.races_to_lose -= 1;
                return Ok(false);
            }
            for (p, v) in read {
                let now = self.kv.get(p).map(|(_, r)| *r);
                if v.version != Version::Revision(now) {
                    return Ok(false);
                }
            }
            for (p, v) in writes {
                let rev = self.kv.get(p).map_or(1, |(_, r)| r + 1);
                self.kv.insert(p.clone(), (v.clone(), rev));
            }
            Ok(true)
        }
    }

    fn run(store: &mut Memory, f: &str, key: Option<Value>, value: Value) -> Completion {
        futures_lite(invoke(store, &OpRequest::new(f, key, value)))
    }

    fn futures_lite<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn ops_run_over_the_store_and_retry_lost_races() {
        let mut store = Memory {
            races_to_lose: 3,
            ..Memory::default()
        };
        let key = Some(json!("counter"));
        assert_eq!(
            run(&mut store, "add", key.clone(), json!(2)).kind,
            OpType::Ok
        );
        assert_eq!(
            run(&mut store, "add", key.clone(), json!(3)).kind,
            OpType::Ok
        );
        assert_eq!(run(&mut store, "read", key, Value::Null).value, json!(5));
        store.races_to_lose = ATTEMPTS;
        let lost = run(&mut store, "enqueue", Some(json!("queue")), json!(1));
        assert_eq!(lost.kind, OpType::Fail, "{lost:?}");
    }

    #[test]
    fn uncertain_commits_are_info_and_refusals_fail() {
        let mut store = Memory::default();
        let init = run(&mut store, "init", None, json!({"0": 1, "1": 0}));
        assert_eq!(init.kind, OpType::Ok);
        let overdraft = run(
            &mut store,
            "transfer",
            None,
            json!({"from": 0, "to": 1, "amount": 2}),
        );
        assert_eq!(overdraft.kind, OpType::Fail);
        store.uncertain_commits = true;
        store.inconsistent_snapshots = true;
        let unknown = run(&mut store, "generate", None, Value::Null);
        assert_eq!(unknown.kind, OpType::Info);
        // A multi-key read validates its snapshot with a commit: uncertain is still a fail.
        let read = run(&mut store, "read", None, json!([0, 1]));
        assert_eq!(read.kind, OpType::Fail, "{read:?}");
    }
}
