//! The recorder: every op a worker or the nemesis performs goes through here into
//! `history.jsonl`, written by one thread, append-only, and flushed whenever the queue
//! drains, so a crash of the harness loses nothing already completed.
//!
//! Workers never wait on the disk: recording is a channel send. The recorder must never
//! reorder ops: the history's order is the order ops reached the channel, which respects
//! real time (an op's invoke is sent before its request, its completion after its response).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Instant;

use anyhow::{Context, Result};
use faultline_checkers::history::{History, HistoryWriter, Op, OpType, Process};
use serde_json::Value;

/// Live counts for the progress bar.
#[derive(Debug, Default)]
pub struct Counts {
    /// Completed client ops that happened.
    pub ok: AtomicU64,
    /// Completed client ops that certainly did not happen.
    pub fail: AtomicU64,
    /// Client ops with an unknown outcome.
    pub info: AtomicU64,
    /// Faults started by the nemesis.
    pub faults: AtomicU64,
}

impl Counts {
    /// All completed client ops.
    pub fn completed(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
            + self.fail.load(Ordering::Relaxed)
            + self.info.load(Ordering::Relaxed)
    }
}

/// A cheap, cloneable handle that records ops.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Op>,
    start: Instant,
    counts: Arc<Counts>,
}

/// Owns the writer thread; [`RecorderThread::finish`] returns the whole history.
pub struct RecorderThread {
    handle: JoinHandle<std::io::Result<History>>,
    ops: SharedOps,
}

/// The ops written so far, in history order, for readers that follow the run (the online
/// checker); appended a batch at a time, after the batch is on disk.
pub type SharedOps = Arc<std::sync::Mutex<Vec<Op>>>;

/// The ops, even when a panicking reader poisoned the lock (they stay valid).
pub fn lock(ops: &SharedOps) -> std::sync::MutexGuard<'_, Vec<Op>> {
    ops.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Recorder {
    /// Create `path`, write its header, and start the writer thread. Times are measured
    /// from `start`.
    pub fn create(path: &Path, start: Instant) -> Result<(Recorder, RecorderThread)> {
        let mut writer = HistoryWriter::create(path)
            .with_context(|| format!("cannot create the history file {}", path.display()))?;
        let (tx, rx) = mpsc::channel::<Op>();
        let ops = SharedOps::default();
        let recorded = ops.clone();
        let handle = std::thread::Builder::new()
            .name("faultline-recorder".into())
            .spawn(move || {
                let mut batch = Vec::new();
                while let Ok(mut op) = rx.recv() {
                    writer.append_buffered(&mut op)?;
                    batch.push(op);
                    while let Ok(mut op) = rx.try_recv() {
                        writer.append_buffered(&mut op)?;
                        batch.push(op);
                    }
                    writer.flush()?;
                    lock(&recorded).append(&mut batch);
                }
                writer.flush()?;
                Ok(History::from_ops(std::mem::take(&mut *lock(&recorded))))
            })?;
        let recorder = Recorder {
            tx,
            start,
            counts: Arc::new(Counts::default()),
        };
        Ok((recorder, RecorderThread { handle, ops }))
    }

    /// Live counts.
    pub fn counts(&self) -> &Arc<Counts> {
        &self.counts
    }

    /// Nanoseconds since the test started.
    pub fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Record one op, stamping it with the current time.
    pub fn record(
        &self,
        process: Process,
        kind: OpType,
        f: &str,
        key: Option<&Value>,
        value: Value,
        error: Option<String>,
    ) {
        if process != Process::Nemesis {
            let counter = match kind {
                OpType::Invoke => None,
                OpType::Ok => Some(&self.counts.ok),
                OpType::Fail => Some(&self.counts.fail),
                OpType::Info => Some(&self.counts.info),
            };
            if let Some(counter) = counter {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
        let op = Op {
            index: 0,
            time: self.now(),
            process,
            kind,
            f: f.to_string(),
            key: key.cloned(),
            value,
            error,
        };
        // The writer thread only stops when every sender is gone or the disk failed; a
        // disk failure is reported by `finish`.
        let _ = self.tx.send(op);
    }
}

impl RecorderThread {
    /// The ops recorded so far, shared with the writer thread.
    pub fn ops(&self) -> SharedOps {
        self.ops.clone()
    }

    /// Wait for every recorder handle to be dropped and the file to be complete; return the
    /// recorded history.
    pub fn finish(self) -> Result<History> {
        match self.handle.join() {
            Ok(result) => result.context("writing the history failed"),
            Err(_) => anyhow::bail!("the history writer thread panicked"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_in_order_and_the_file_matches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let (recorder, thread) = Recorder::create(&path, Instant::now()).unwrap();
        for i in 0..100u64 {
            let p = Process::Client(i % 3);
            recorder.record(p, OpType::Invoke, "write", Some(&json!(1)), json!(i), None);
            recorder.record(p, OpType::Ok, "write", Some(&json!(1)), json!(i), None);
        }
        assert_eq!(recorder.counts().completed(), 100);
        drop(recorder);
        let history = thread.finish().unwrap();
        assert_eq!(history.len(), 200);
        assert!(history
            .ops
            .iter()
            .enumerate()
            .all(|(i, op)| op.index == i as u64));
        let from_disk = History::read_jsonl(&path).unwrap();
        assert_eq!(from_disk, history);
    }
}
