//! The durable Raft log of a reference node: vote, log entries (append, truncate on conflict,
//! purge) and the committed log id, kept in memory and recorded in one append-only file.
//!
//! File format (`raft-log.jsonl` in the data dir): one record per line,
//! `<fnv1a-64 of the JSON, 16 hex digits> <JSON record>\n`. Replaying the records in order
//! rebuilds the state. A torn or corrupt tail (a crash in the middle of a write) is cut off on
//! open; everything before it was fsynced before openraft was told it is durable.
//! When the file holds far more records than live entries, it is rewritten to a temporary
//! file, fsynced and renamed over the old one.
//!
//! This module must never acknowledge an append or a vote (callback or return) before the
//! records are fsynced — unless the `no-fsync` bug is switched on, which writes records
//! without fsyncing them and acknowledges them all the same — and never block the async
//! runtime on a disk write.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{
    AnyError, Entry, LogId, LogState, RaftLogId, RaftLogReader, StorageError, StorageIOError, Vote,
};
use serde::{Deserialize, Serialize};

use super::{NodeId, TypeConfig};

const LOG_FILE: &str = "raft-log.jsonl";
/// Rewrite the file when it has this many more records than live entries.
const COMPACT_SLACK: u64 = 20_000;

/// One line of the log file.
#[derive(Debug, Serialize, Deserialize)]
enum Record {
    Vote(Vote<NodeId>),
    Committed(Option<LogId<NodeId>>),
    Entry(Entry<TypeConfig>),
    /// Delete every entry with index >= this.
    Truncate(u64),
    /// Delete every entry up to and including this log id.
    Purge(LogId<NodeId>),
}

/// The log's state as replayed from the file.
#[derive(Debug, Default, Clone)]
struct LogData {
    vote: Option<Vote<NodeId>>,
    committed: Option<LogId<NodeId>>,
    last_purged: Option<LogId<NodeId>>,
    entries: BTreeMap<u64, Entry<TypeConfig>>,
}

impl LogData {
    fn apply(&mut self, record: Record) {
        match record {
            Record::Vote(vote) => self.vote = Some(vote),
            Record::Committed(committed) => self.committed = committed,
            Record::Entry(entry) => {
                self.entries.insert(entry.get_log_id().index, entry);
            }
            Record::Truncate(index) => {
                self.entries.split_off(&index);
            }
            Record::Purge(log_id) => {
                self.entries = self.entries.split_off(&(log_id.index + 1));
                self.last_purged = Some(log_id);
            }
        }
    }

    /// The records that rebuild this state from nothing.
    fn as_records(&self) -> Vec<Record> {
        let mut records = Vec::with_capacity(self.entries.len() + 3);
        if let Some(vote) = self.vote {
            records.push(Record::Vote(vote));
        }
        if let Some(purged) = self.last_purged {
            records.push(Record::Purge(purged));
        }
        records.extend(self.entries.values().cloned().map(Record::Entry));
        records.push(Record::Committed(self.committed));
        records
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn encode(records: &[Record]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    for record in records {
        let json = serde_json::to_vec(record)?;
        write!(out, "{:016x} ", fnv1a(&json))?;
        out.extend_from_slice(&json);
        out.push(b'\n');
    }
    Ok(out)
}

/// Parse one line; `None` if it is torn or corrupt.
fn decode(line: &[u8]) -> Option<Record> {
    let line = line.strip_suffix(b"\n")?;
    if line.len() < 17 || line[16] != b' ' {
        return None;
    }
    let hash = u64::from_str_radix(std::str::from_utf8(&line[..16]).ok()?, 16).ok()?;
    let json = &line[17..];
    (fnv1a(json) == hash).then(|| serde_json::from_slice(json).ok())?
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The open log file.
#[derive(Debug)]
struct LogFile {
    dir: PathBuf,
    file: File,
    records: u64,
    /// Whether appended records are fsynced (false only with the `no-fsync` bug).
    fsync: bool,
}

impl LogFile {
    /// Open (or create) the file and replay it; cut off a torn tail.
    fn open(dir: &Path) -> io::Result<(LogFile, LogData)> {
        let path = dir.join(LOG_FILE);
        let mut data = LogData::default();
        let mut records = 0;
        let mut good_len = 0u64;
        if path.exists() {
            let mut reader = BufReader::new(File::open(&path)?);
            let mut line = Vec::new();
            loop {
                line.clear();
                let n = reader.read_until(b'\n', &mut line)?;
                if n == 0 {
                    break;
                }
                let Some(record) = decode(&line) else {
                    tracing::warn!(
                        offset = good_len,
                        "cutting a torn or corrupt tail off the Raft log"
                    );
                    break;
                };
                data.apply(record);
                records += 1;
                good_len += n as u64;
            }
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        if file.metadata()?.len() != good_len {
            file.set_len(good_len)?;
            file.sync_all()?;
        }
        sync_dir(dir)?;
        Ok((
            LogFile {
                dir: dir.to_path_buf(),
                file,
                records,
                fsync: true,
            },
            data,
        ))
    }

    /// Append records and fsync them.
    fn write(&mut self, records: &[Record]) -> io::Result<()> {
        self.file.write_all(&encode(records)?)?;
        if self.fsync {
            self.file.sync_data()?;
        }
        self.records += records.len() as u64;
        Ok(())
    }

    /// Replace the file by the minimal records for `data`.
    fn rewrite(&mut self, data: &LogData) -> io::Result<()> {
        let records = data.as_records();
        let tmp = self.dir.join(format!("{LOG_FILE}.tmp"));
        let mut file = File::create(&tmp)?;
        file.write_all(&encode(&records)?)?;
        file.sync_all()?;
        std::fs::rename(&tmp, self.dir.join(LOG_FILE))?;
        sync_dir(&self.dir)?;
        self.file = OpenOptions::new()
            .append(true)
            .open(self.dir.join(LOG_FILE))?;
        self.records = records.len() as u64;
        Ok(())
    }
}

/// The Raft log storage (and log reader) of one node. Clones share the same log.
#[derive(Debug, Clone)]
pub(crate) struct LogStore {
    data: Arc<Mutex<LogData>>,
    file: Arc<Mutex<LogFile>>,
}

fn io_error(e: &io::Error) -> StorageError<NodeId> {
    StorageIOError::write_logs(AnyError::new(e)).into()
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the plain data half-updated in a way that
    // matters more than stopping the node would, so keep going with the inner value.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl LogStore {
    /// Open the log in `dir`, replaying what is on disk. With `fsync` false (the `no-fsync`
    /// bug) appended records are written but not fsynced.
    pub(crate) fn open(dir: &Path, fsync: bool) -> io::Result<LogStore> {
        let (mut file, data) = LogFile::open(dir)?;
        file.fsync = fsync;
        tracing::info!(
            entries = data.entries.len(),
            vote = ?data.vote,
            committed = ?data.committed,
            "opened the Raft log"
        );
        Ok(LogStore {
            data: Arc::new(Mutex::new(data)),
            file: Arc::new(Mutex::new(file)),
        })
    }

    /// Write records and fsync them on a blocking thread.
    async fn persist(&self, records: Vec<Record>) -> Result<(), io::Error> {
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || lock(&file).write(&records))
            .await
            .map_err(io::Error::other)?
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<NodeId>> {
        let data = lock(&self.data);
        Ok(data.entries.range(range).map(|(_, e)| e.clone()).collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<NodeId>> {
        let data = lock(&self.data);
        let last = data.entries.values().next_back().map(|e| *e.get_log_id());
        Ok(LogState {
            last_purged_log_id: data.last_purged,
            last_log_id: last.or(data.last_purged),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.persist(vec![Record::Vote(*vote)])
            .await
            .map_err(|e| StorageError::from(StorageIOError::write_vote(AnyError::new(&e))))?;
        lock(&self.data).vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        Ok(lock(&self.data).vote)
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError<NodeId>> {
        // Fsynced like everything else. openraft restores a node that led before a restart as
        // leader at once, and its read index is then max(its first entry of the term, the
        // committed id): a committed id that was written but not fsynced, and lost, lets it
        // serve linearizable reads from a state machine that has not yet re-applied entries
        // it acknowledged (found by `--nemesis lose-unfsynced`).
        self.persist(vec![Record::Committed(committed)])
            .await
            .map_err(|e| io_error(&e))?;
        lock(&self.data).committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
        Ok(lock(&self.data).committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry<TypeConfig>> = entries.into_iter().collect();
        // Visible to readers at once (replication may read them before they are flushed);
        // acknowledged as durable only after the fsync.
        {
            let mut data = lock(&self.data);
            for entry in &entries {
                data.entries.insert(entry.get_log_id().index, entry.clone());
            }
        }
        let records = entries.into_iter().map(Record::Entry).collect();
        let result = self.persist(records).await;
        let failed = result.as_ref().err().map(io_error);
        callback.log_io_completed(result);
        match failed {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        tracing::info!(since = %log_id, "truncating conflicting log entries");
        lock(&self.data).apply(Record::Truncate(log_id.index));
        self.persist(vec![Record::Truncate(log_id.index)])
            .await
            .map_err(|e| io_error(&e))
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        lock(&self.data).apply(Record::Purge(log_id));
        self.persist(vec![Record::Purge(log_id)])
            .await
            .map_err(|e| io_error(&e))?;
        let snapshot = {
            let data = lock(&self.data);
            let file = lock(&self.file);
            (file.records > data.entries.len() as u64 + COMPACT_SLACK).then(|| data.clone())
        };
        if let Some(data) = snapshot {
            let file = self.file.clone();
            tokio::task::spawn_blocking(move || lock(&file).rewrite(&data))
                .await
                .map_err(io::Error::other)
                .and_then(|r| r)
                .map_err(|e| io_error(&e))?;
            tracing::info!("compacted the Raft log file");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use openraft::{CommittedLeaderId, EntryPayload};

    use super::*;
    use crate::systems::reference::server::Command;

    fn entry(term: u64, index: u64) -> Entry<TypeConfig> {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(term, 1), index),
            payload: EntryPayload::Normal(Command::Put {
                key: format!("k{index}"),
                value: serde_json::json!(index),
            }),
        }
    }

    #[test]
    fn replay_applies_truncate_purge_and_cuts_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut file, _) = LogFile::open(dir.path()).unwrap();
            let mut records: Vec<Record> = (1..=5).map(|i| Record::Entry(entry(1, i))).collect();
            records.push(Record::Truncate(4));
            records.push(Record::Entry(entry(2, 4)));
            records.push(Record::Purge(LogId::new(CommittedLeaderId::new(1, 1), 1)));
            records.push(Record::Vote(Vote::new(2, 1)));
            file.write(&records).unwrap();
        }
        // A torn write at the end.
        let path = dir.path().join(LOG_FILE);
        let mut raw = std::fs::read(&path).unwrap();
        raw.extend_from_slice(b"0123456789abcdef {\"Trunc");
        std::fs::write(&path, &raw).unwrap();

        let (file, data) = LogFile::open(dir.path()).unwrap();
        assert_eq!(file.records, 9);
        assert_eq!(
            data.entries.keys().copied().collect::<Vec<_>>(),
            vec![2, 3, 4]
        );
        assert_eq!(data.entries[&4].log_id.leader_id.term, 2);
        assert_eq!(data.last_purged.unwrap().index, 1);
        assert_eq!(data.vote, Some(Vote::new(2, 1)));
        assert_eq!(std::fs::read(&path).unwrap().len(), raw.len() - 24);
    }

    #[test]
    fn a_corrupt_line_is_rejected() {
        let mut line = encode(&[Record::Truncate(3)]).unwrap();
        assert!(decode(&line).is_some());
        let last = line.len() - 2;
        line[last] = b'4';
        assert!(decode(&line).is_none());
    }

    #[test]
    fn rewrite_keeps_the_same_state() {
        let dir = tempfile::tempdir().unwrap();
        let (mut file, _) = LogFile::open(dir.path()).unwrap();
        let records: Vec<Record> = (1..=50).map(|i| Record::Entry(entry(1, i))).collect();
        file.write(&records).unwrap();
        file.write(&[Record::Purge(LogId::new(CommittedLeaderId::new(1, 1), 40))])
            .unwrap();
        let (_, before) = LogFile::open(dir.path()).unwrap();
        file.rewrite(&before).unwrap();
        let (reopened, after) = LogFile::open(dir.path()).unwrap();
        assert_eq!(reopened.records, 12);
        assert_eq!(after.entries.len(), 10);
        assert_eq!(after.last_purged, before.last_purged);
    }
}
