//! The recorder: every op a worker or the nemesis performs goes through here into
//! `history.jsonl`, written by one thread, append-only, and flushed whenever the queue
//! drains, so a crash of the harness loses nothing already completed.
//!
//! Workers never wait on the disk: recording is a channel send. The recorder must never
//! reorder ops: the history's order is the order ops reached the channel, which respects
//! real time (an op's invoke is sent before its request, its completion after its response).
//! Nor does it keep them: once on disk an op is gone from memory, except for a [`Feed`] that
//! hands new ops to the online checker, so a run of hours records in flat memory.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use anyhow::{Context, Result};
use faultline_checkers::history::{HistoryWriter, Op, OpType, Process};
use serde_json::Value;

/// Live counts: the progress bar's, and the run's op counts in `results.json`.
#[derive(Debug, Default)]
pub struct Counts {
    /// Client invocations.
    pub invoked: AtomicU64,
    /// Completed client ops that happened.
    pub ok: AtomicU64,
    /// Completed client ops that certainly did not happen.
    pub fail: AtomicU64,
    /// Client ops with an unknown outcome.
    pub info: AtomicU64,
    /// Faults started by the nemesis.
    pub faults: AtomicU64,
    /// Nemesis invocations (starts, stops and heals).
    pub nemesis: AtomicU64,
}

impl Counts {
    /// All completed client ops.
    pub fn completed(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
            + self.fail.load(Ordering::Relaxed)
            + self.info.load(Ordering::Relaxed)
    }

    /// Client invocations with no completion (yet).
    pub fn pending(&self) -> u64 {
        self.invoked
            .load(Ordering::Relaxed)
            .saturating_sub(self.completed())
    }
}

/// A cheap, cloneable handle that records ops.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Op>,
    start: Instant,
    counts: Arc<Counts>,
}

/// Owns the writer thread; [`RecorderThread::finish`] waits for the file to be complete.
pub struct RecorderThread {
    handle: JoinHandle<std::io::Result<u64>>,
    feed: Option<Feed>,
}

/// The ops written since a follower last took them, in history order: the writer adds each
/// batch once it is on disk, the follower (the online checker) takes them. A closed feed
/// drops what is added, so nothing piles up once the follower has stopped.
#[derive(Clone, Debug, Default)]
pub struct Feed(Arc<Mutex<Option<Vec<Op>>>>);

impl Feed {
    fn open() -> Feed {
        Feed(Arc::new(Mutex::new(Some(Vec::new()))))
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Vec<Op>>> {
        // The ops stay valid even when a panicking follower poisoned the lock.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn add(&self, batch: &mut Vec<Op>) {
        match self.slot().as_mut() {
            Some(ops) => ops.append(batch),
            None => batch.clear(),
        }
    }

    /// The ops added since the last take (empty once closed).
    pub fn take(&self) -> Vec<Op> {
        self.slot().as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Stop following: what is added from now on is dropped.
    pub fn close(&self) {
        *self.slot() = None;
    }
}

impl Recorder {
    /// Create `path`, write its header, and start the writer thread. Times are measured
    /// from `start`. With `follow`, new ops are also handed to a [`Feed`].
    pub fn create(path: &Path, start: Instant, follow: bool) -> Result<(Recorder, RecorderThread)> {
        let mut writer = HistoryWriter::create(path)
            .with_context(|| format!("cannot create the history file {}", path.display()))?;
        let (tx, rx) = mpsc::channel::<Op>();
        let feed = follow.then(Feed::open);
        let follower = feed.clone();
        let handle = std::thread::Builder::new()
            .name("faultline-recorder".into())
            .spawn(move || {
                let mut batch = Vec::new();
                let following = follower.is_some();
                // Two workers may stamp their ops a few microseconds apart and send them in the
                // other order; lifting a time to the line before it keeps the file's times in
                // order (readers that stream the file rely on it), moving none by more than that.
                let mut latest = 0u64;
                let mut write = |writer: &mut HistoryWriter<_>, batch: &mut Vec<Op>, mut op: Op| {
                    op.time = op.time.max(latest);
                    latest = op.time;
                    writer.append_buffered(&mut op)?;
                    if following {
                        batch.push(op);
                    }
                    std::io::Result::Ok(())
                };
                while let Ok(op) = rx.recv() {
                    write(&mut writer, &mut batch, op)?;
                    while let Ok(op) = rx.try_recv() {
                        write(&mut writer, &mut batch, op)?;
                    }
                    writer.flush()?;
                    if let Some(feed) = &follower {
                        feed.add(&mut batch);
                    }
                }
                writer.flush()?;
                Ok(writer.len())
            })?;
        let recorder = Recorder {
            tx,
            start,
            counts: Arc::new(Counts::default()),
        };
        Ok((recorder, RecorderThread { handle, feed }))
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
        let counter = match (process, kind) {
            (Process::Nemesis, OpType::Invoke) => Some(&self.counts.nemesis),
            (Process::Nemesis, _) => None,
            (_, OpType::Invoke) => Some(&self.counts.invoked),
            (_, OpType::Ok) => Some(&self.counts.ok),
            (_, OpType::Fail) => Some(&self.counts.fail),
            (_, OpType::Info) => Some(&self.counts.info),
        };
        if let Some(counter) = counter {
            counter.fetch_add(1, Ordering::Relaxed);
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
    /// The feed of new ops, when the recorder was created to be followed.
    pub fn feed(&self) -> Option<Feed> {
        self.feed.clone()
    }

    /// Wait for every recorder handle to be dropped and the file to be complete; return how
    /// many ops it holds.
    pub fn finish(self) -> Result<u64> {
        if let Some(feed) = &self.feed {
            feed.close();
        }
        match self.handle.join() {
            Ok(result) => result.context("writing the history failed"),
            Err(_) => anyhow::bail!("the history writer thread panicked"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checkers::history::History;
    use serde_json::json;

    /// A followed recorder writing `history.jsonl` in `dir`.
    fn followed(dir: &tempfile::TempDir) -> (std::path::PathBuf, Recorder, RecorderThread, Feed) {
        let path = dir.path().join("history.jsonl");
        let (recorder, thread) = Recorder::create(&path, Instant::now(), true).unwrap();
        let feed = thread.feed().unwrap();
        (path, recorder, thread, feed)
    }

    #[test]
    fn records_in_order_and_feeds_what_is_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let (path, recorder, thread, feed) = followed(&dir);
        let mut fed = Vec::new();
        for i in 0..100u64 {
            let p = Process::Client(i % 3);
            recorder.record(p, OpType::Invoke, "write", Some(&json!(1)), json!(i), None);
            recorder.record(p, OpType::Ok, "write", Some(&json!(1)), json!(i), None);
            if i == 50 {
                std::thread::sleep(std::time::Duration::from_millis(20));
                fed.extend(feed.take());
            }
        }
        recorder.record(
            Process::Nemesis,
            OpType::Invoke,
            "heal",
            None,
            json!(null),
            None,
        );
        assert_eq!(recorder.counts().completed(), 100);
        assert_eq!(recorder.counts().invoked.load(Ordering::Relaxed), 100);
        assert_eq!(recorder.counts().nemesis.load(Ordering::Relaxed), 1);
        assert_eq!(recorder.counts().pending(), 0);
        drop(recorder);
        std::thread::sleep(std::time::Duration::from_millis(20));
        fed.extend(feed.take());
        assert_eq!(thread.finish().unwrap(), 201);
        let from_disk = History::read_jsonl(&path).unwrap();
        assert_eq!(from_disk.len(), 201);
        assert!(from_disk
            .ops
            .iter()
            .enumerate()
            .all(|(i, op)| op.index == i as u64));
        assert_eq!(fed, from_disk.ops, "the feed hands on every op, in order");
    }

    #[test]
    fn a_closed_feed_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (_, recorder, thread, feed) = followed(&dir);
        feed.close();
        recorder.record(
            Process::Client(0),
            OpType::Invoke,
            "read",
            None,
            json!(null),
            None,
        );
        drop(recorder);
        assert_eq!(thread.finish().unwrap(), 1);
        assert!(feed.take().is_empty());
    }
}
