//! The key-value state machine of a reference node, and its snapshots.
//!
//! The map lives in memory; durability comes from the Raft log (openraft re-applies the
//! committed entries after the last snapshot on start) and from the snapshot file
//! (`snapshot.json`, written to a temporary file, fsynced and renamed), which is written before
//! openraft may purge the log it covers.
//!
//! This module must never apply an entry twice or out of order, and never report a snapshot
//! that is not yet on disk.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use openraft::storage::RaftStateMachine;
use openraft::{
    AnyError, Entry, EntryPayload, LogId, RaftSnapshotBuilder, Snapshot, SnapshotMeta,
    StorageError, StorageIOError, StoredMembership,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Command, CommandResult, NodeId, TypeConfig};
use openraft::BasicNode;

const SNAPSHOT_FILE: &str = "snapshot.json";

/// The applied state: what a snapshot holds.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct KvData {
    pub last_applied: Option<LogId<NodeId>>,
    pub last_membership: StoredMembership<NodeId, BasicNode>,
    pub kv: BTreeMap<String, Value>,
}

impl KvData {
    /// Apply one command; `null` values mean "absent".
    fn apply(&mut self, command: &Command) -> CommandResult {
        match command {
            Command::Put { key, value } => {
                let current = self.set(key, value.clone());
                CommandResult {
                    applied: true,
                    current,
                }
            }
            Command::Cas { key, from, to } => {
                let current = self.get(key);
                if &current == from {
                    self.set(key, to.clone());
                    CommandResult {
                        applied: true,
                        current,
                    }
                } else {
                    CommandResult {
                        applied: false,
                        current,
                    }
                }
            }
            Command::Commit { expect, writes } => {
                let applied = expect.iter().all(|(key, value)| &self.get(key) == value);
                if applied {
                    for (key, value) in writes {
                        self.set(key, value.clone());
                    }
                }
                CommandResult {
                    applied,
                    current: Value::Null,
                }
            }
            // All of the txn's writes or none: it runs against the state, then its writes
            // are applied together.
            Command::Txn { ops } => match super::transactions::execute(ops, |key| self.get(key)) {
                Ok(executed) => {
                    for (key, value) in executed.writes {
                        self.set(&key, value);
                    }
                    CommandResult {
                        applied: true,
                        current: serde_json::to_value(executed.completed).unwrap_or(Value::Null),
                    }
                }
                Err(why) => CommandResult {
                    applied: false,
                    current: Value::String(why),
                },
            },
        }
    }

    /// The value of `key`, `null` if absent.
    pub(crate) fn get(&self, key: &str) -> Value {
        self.kv.get(key).cloned().unwrap_or(Value::Null)
    }

    fn set(&mut self, key: &str, value: Value) -> Value {
        let old = if value.is_null() {
            self.kv.remove(key)
        } else {
            self.kv.insert(key.to_string(), value)
        };
        old.unwrap_or(Value::Null)
    }
}

/// A snapshot as stored on disk.
#[derive(Debug, Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta<NodeId, BasicNode>,
    /// The serialized [`KvData`].
    data: Vec<u8>,
}

/// The state machine storage of one node. [`StateMachineStore::data`] shares the live map with
/// the HTTP API for local reads.
#[derive(Debug, Clone)]
pub(crate) struct StateMachineStore {
    data: Arc<RwLock<KvData>>,
    dir: PathBuf,
    snapshot: Arc<RwLock<Option<StoredSnapshot>>>,
}

fn read_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

fn snapshot_error(e: impl std::error::Error + 'static) -> StorageError<NodeId> {
    StorageIOError::write_snapshot(None, AnyError::new(&e)).into()
}

/// Write `snapshot` durably: temp file, fsync, rename, fsync the directory.
fn save_snapshot(dir: &Path, snapshot: &StoredSnapshot) -> io::Result<()> {
    let tmp = dir.join(format!("{SNAPSHOT_FILE}.tmp"));
    let mut file = File::create(&tmp)?;
    file.write_all(&serde_json::to_vec(snapshot)?)?;
    file.sync_all()?;
    std::fs::rename(&tmp, dir.join(SNAPSHOT_FILE))?;
    File::open(dir)?.sync_all()
}

impl StateMachineStore {
    /// Open the state machine in `dir`: start from the stored snapshot, if any.
    pub(crate) fn open(dir: &Path) -> io::Result<StateMachineStore> {
        let path = dir.join(SNAPSHOT_FILE);
        let (data, snapshot) = if path.exists() {
            let stored: StoredSnapshot =
                serde_json::from_slice(&std::fs::read(&path)?).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}: {e}", path.display()),
                    )
                })?;
            let data: KvData = serde_json::from_slice(&stored.data).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })?;
            tracing::info!(snapshot = %stored.meta, keys = data.kv.len(), "loaded the snapshot");
            (data, Some(stored))
        } else {
            (KvData::default(), None)
        };
        Ok(StateMachineStore {
            data: Arc::new(RwLock::new(data)),
            dir: dir.to_path_buf(),
            snapshot: Arc::new(RwLock::new(snapshot)),
        })
    }

    /// The live applied state, shared with the HTTP API.
    pub(crate) fn data(&self) -> Arc<RwLock<KvData>> {
        self.data.clone()
    }

    async fn store_snapshot(&self, stored: StoredSnapshot) -> Result<(), StorageError<NodeId>> {
        let dir = self.dir.clone();
        let stored =
            tokio::task::spawn_blocking(move || save_snapshot(&dir, &stored).map(|()| stored))
                .await
                .map_err(snapshot_error)?
                .map_err(snapshot_error)?;
        *write_lock(&self.snapshot) = Some(stored);
        Ok(())
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachineStore {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let (bytes, meta) = {
            let data = read_lock(&self.data);
            let bytes = serde_json::to_vec(&*data).map_err(snapshot_error)?;
            let snapshot_id = match data.last_applied {
                Some(id) => format!(
                    "{}-{}-{}",
                    id.leader_id.term, id.leader_id.node_id, id.index
                ),
                None => "empty".to_string(),
            };
            let meta = SnapshotMeta {
                last_log_id: data.last_applied,
                last_membership: data.last_membership.clone(),
                snapshot_id,
            };
            (bytes, meta)
        };
        self.store_snapshot(StoredSnapshot {
            meta: meta.clone(),
            data: bytes.clone(),
        })
        .await?;
        tracing::info!(snapshot = %meta, "built a snapshot");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = StateMachineStore;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, BasicNode>), StorageError<NodeId>>
    {
        let data = read_lock(&self.data);
        Ok((data.last_applied, data.last_membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<CommandResult>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let mut data = write_lock(&self.data);
        let mut results = Vec::new();
        for entry in entries {
            data.last_applied = Some(entry.log_id);
            let result = match entry.payload {
                EntryPayload::Blank => CommandResult::default(),
                EntryPayload::Normal(ref command) => data.apply(command),
                EntryPayload::Membership(ref membership) => {
                    data.last_membership =
                        StoredMembership::new(Some(entry.log_id), membership.clone());
                    CommandResult::default()
                }
            };
            results.push(result);
        }
        Ok(results)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        let bytes = snapshot.into_inner();
        let new_data: KvData = serde_json::from_slice(&bytes).map_err(|e| {
            StorageError::from(StorageIOError::read_snapshot(
                Some(meta.signature()),
                AnyError::new(&e),
            ))
        })?;
        // Durable first, then visible: a crash in between restarts from the new snapshot.
        self.store_snapshot(StoredSnapshot {
            meta: meta.clone(),
            data: bytes,
        })
        .await?;
        tracing::info!(snapshot = %meta, keys = new_data.kv.len(), "installed a snapshot from the leader");
        *write_lock(&self.data) = KvData {
            last_applied: meta.last_log_id,
            last_membership: meta.last_membership.clone(),
            kv: new_data.kv,
        };
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        Ok(read_lock(&self.snapshot).as_ref().map(|stored| Snapshot {
            meta: stored.meta.clone(),
            snapshot: Box::new(Cursor::new(stored.data.clone())),
        }))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn put_and_cas_follow_register_semantics() {
        let mut data = KvData::default();
        let put = |key: &str, value| Command::Put {
            key: key.into(),
            value,
        };
        let cas = |from, to| Command::Cas {
            key: "x".into(),
            from,
            to,
        };
        assert_eq!(
            data.apply(&cas(json!(1), json!(2))),
            CommandResult {
                applied: false,
                current: Value::Null
            }
        );
        assert_eq!(
            data.apply(&cas(Value::Null, json!(1))),
            CommandResult {
                applied: true,
                current: Value::Null
            }
        );
        assert_eq!(
            data.apply(&put("x", json!(5))),
            CommandResult {
                applied: true,
                current: json!(1)
            }
        );
        assert_eq!(
            data.apply(&cas(json!(1), json!(2))),
            CommandResult {
                applied: false,
                current: json!(5)
            }
        );
        assert_eq!(
            data.apply(&cas(json!(5), json!({"a": [1]}))).current,
            json!(5)
        );
        assert_eq!(data.get("x"), json!({"a": [1]}));
        data.apply(&put("x", Value::Null));
        assert!(data.kv.is_empty());
    }

    #[test]
    fn a_txn_applies_all_its_writes_or_none() {
        let mut data = KvData::default();
        let txn = |ops: Value| Command::Txn {
            ops: serde_json::from_value(ops).unwrap(),
        };
        let done = data.apply(&txn(json!([["append", 1, 1], ["w", 2, 5], ["r", 1, null]])));
        assert!(done.applied);
        assert_eq!(
            done.current,
            json!([["append", 1, 1], ["w", 2, 5], ["r", 1, [1]]])
        );
        assert_eq!((data.get("1"), data.get("2")), (json!([1]), json!(5)));
        // The append to key 2 (a register) fails the txn: key 1 keeps [1].
        let refused = data.apply(&txn(json!([["append", 1, 2], ["append", 2, 1]])));
        assert!(!refused.applied);
        assert!(refused.current.as_str().unwrap().contains("not a list"));
        assert_eq!(data.get("1"), json!([1]));
    }

    #[test]
    fn a_commit_writes_only_when_every_expected_value_holds() {
        let mut data = KvData::default();
        let commit = |expect: Value, writes: Value| Command::Commit {
            expect: serde_json::from_value(expect).unwrap(),
            writes: serde_json::from_value(writes).unwrap(),
        };
        assert!(
            data.apply(&commit(json!([["a", null]]), json!([["a", 1], ["b", 2]])))
                .applied
        );
        assert!(
            !data
                .apply(&commit(json!([["a", null]]), json!([["a", 3]])))
                .applied
        );
        assert_eq!((data.get("a"), data.get("b")), (json!(1), json!(2)));
        assert!(
            data.apply(&commit(json!([["a", 1], ["b", 2]]), json!([["b", null]])))
                .applied
        );
        assert_eq!(data.get("b"), Value::Null);
    }

    #[test]
    fn a_saved_snapshot_is_loaded_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut data = KvData::default();
        data.apply(&Command::Put {
            key: "k".into(),
            value: json!("v"),
        });
        let stored = StoredSnapshot {
            meta: SnapshotMeta::default(),
            data: serde_json::to_vec(&data).unwrap(),
        };
        save_snapshot(dir.path(), &stored).unwrap();
        let store = StateMachineStore::open(dir.path()).unwrap();
        assert_eq!(read_lock(&store.data()).get("k"), json!("v"));
        assert!(read_lock(&store.snapshot).is_some());
    }
}
