//! The history model every faultline crate shares: operations, processes, and the
//! append-only `history.jsonl` file.
//!
//! An [`Op`] is one line of a history: an invocation or a completion. A completion is
//! `ok` (it happened), `fail` (it certainly did not happen) or `info` (unknown: it may take
//! effect at any point after its invocation, or never). Every invocation has at most one
//! completion on the same process; an invocation with none is still pending at the end of
//! the history and is treated like `info`.
//!
//! This module must never know about networks, clusters or async runtimes: it is the leaf
//! that the controller, workloads, reports and checkers all read.
//!
//! ```
//! use faultline_checkers::history::{History, Op, OpType, Process};
//! use serde_json::json;
//!
//! let mut history = History::default();
//! history.push(Op::new(Process::Client(0), OpType::Invoke, "write", json!(1)));
//! history.push(Op::new(Process::Client(0), OpType::Ok, "write", json!(1)));
//! let calls = history.pair().unwrap();
//! assert_eq!(calls[0].completion, Some(1));
//! ```

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

/// The format name written in the first line of every `history.jsonl`.
pub const HISTORY_FORMAT: &str = "faultline-history";
/// The version of that format this crate writes and reads.
pub const HISTORY_VERSION: u32 = 1;

/// What kind of history line an op is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    /// The start of an operation.
    Invoke,
    /// The operation happened.
    Ok,
    /// The operation certainly did not happen.
    Fail,
    /// Unknown whether the operation happened (timeout, lost connection).
    Info,
}

impl OpType {
    /// Whether this op ends an invocation.
    pub fn is_completion(self) -> bool {
        !matches!(self, OpType::Invoke)
    }

    /// The lowercase name used in files (`invoke`, `ok`, `fail`, `info`).
    pub fn as_str(self) -> &'static str {
        match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        }
    }
}

impl fmt::Display for OpType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who performed an op: a logical client thread, or the nemesis.
///
/// Serialized as a number for clients and the string `"nemesis"` for the nemesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    /// A logical client process. After an indeterminate result a worker continues under a
    /// fresh process id, because the old one may still have an operation in flight.
    Client(u64),
    /// The fault injector; its ops are ignored by consistency checkers.
    Nemesis,
}

impl Process {
    /// The client id, or `None` for the nemesis.
    pub fn client(self) -> Option<u64> {
        match self {
            Process::Client(id) => Some(id),
            Process::Nemesis => None,
        }
    }
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(id) => write!(f, "{id}"),
            Process::Nemesis => f.write_str("nemesis"),
        }
    }
}

impl Serialize for Process {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(id) => serializer.serialize_u64(*id),
            Process::Nemesis => serializer.serialize_str("nemesis"),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ProcessVisitor;
        impl Visitor<'_> for ProcessVisitor {
            type Value = Process;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative process number or \"nemesis\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Process, E> {
                Ok(Process::Client(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Process, E> {
                u64::try_from(v)
                    .map(Process::Client)
                    .map_err(|_| E::custom(format!("process {v} is negative")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Process, E> {
                if v == "nemesis" {
                    Ok(Process::Nemesis)
                } else {
                    Err(E::custom(format!(
                        "process \"{v}\" is neither a number nor \"nemesis\""
                    )))
                }
            }
        }
        deserializer.deserialize_any(ProcessVisitor)
    }
}

/// One line of a history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Op {
    /// Position in the history, starting at 0.
    #[serde(default)]
    pub index: u64,
    /// Nanoseconds since the start of the test (0 when the source had no times).
    #[serde(default)]
    pub time: u64,
    /// Who performed the op.
    pub process: Process,
    /// `invoke`, `ok`, `fail` or `info`.
    #[serde(rename = "type")]
    pub kind: OpType,
    /// The function: `read`, `write`, `cas`, `get`, `put`, `append`, `start-kill`, ...
    pub f: String,
    /// The key for multi-key workloads (Jepsen's independent keys); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    /// The argument on invoke, the result on completion (`null` when none or unknown).
    #[serde(default)]
    pub value: Value,
    /// Why an op failed or is indeterminate, when the client knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Op {
    /// An op with no key, index 0 and time 0; [`History::push`] assigns the index.
    pub fn new(process: Process, kind: OpType, f: impl Into<String>, value: Value) -> Self {
        Op {
            index: 0,
            time: 0,
            process,
            kind,
            f: f.into(),
            key: None,
            value,
            error: None,
        }
    }

    /// The same op with a key.
    pub fn with_key(mut self, key: Value) -> Self {
        self.key = Some(key);
        self
    }

    /// The same op at a time (nanoseconds since the start of the test).
    pub fn at(mut self, time: u64) -> Self {
        self.time = time;
        self
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#{} process {} {} {}",
            self.index, self.process, self.kind, self.f
        )?;
        if let Some(key) = &self.key {
            write!(f, " key {key}")?;
        }
        write!(f, " {}", self.value)?;
        if let Some(error) = &self.error {
            write!(f, " ({error})")?;
        }
        Ok(())
    }
}

/// An invocation and its completion, as indices into [`History::ops`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    /// Index of the invoke op.
    pub invoke: usize,
    /// Index of the completion, `None` when the op was still pending at the end.
    pub completion: Option<usize>,
}

/// Errors reading, writing or pairing a history. Messages name the file and line.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A line is not what the format expects.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file (or `<input>` for in-memory text).
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What was wrong and what was expected.
        message: String,
    },
    /// A binary history file (dbcop's `history.bincode`, a Cobra log) is not what its
    /// format expects at a byte offset.
    #[error("{path}: byte {offset}: {message}")]
    Binary {
        /// The file.
        path: PathBuf,
        /// 0-based offset of the first byte that could not be read.
        offset: u64,
        /// What was wrong and what was expected.
        message: String,
    },
    /// The ops do not form a well-formed history.
    #[error("{path}: op #{index}: {message}")]
    Malformed {
        /// The file, when known.
        path: PathBuf,
        /// Index of the offending op.
        index: u64,
        /// What is wrong.
        message: String,
    },
}

impl HistoryError {
    /// Attach a file path to an error produced without one (e.g. by [`History::pair`]).
    pub fn in_file(self, file: &Path) -> Self {
        match self {
            HistoryError::Malformed { index, message, .. } => HistoryError::Malformed {
                path: file.to_path_buf(),
                index,
                message,
            },
            other => other,
        }
    }
}

/// An ordered list of ops, and what reading it from a file had to skip.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// The ops in history order.
    pub ops: Vec<Op>,
    /// What the reader skipped without failing, one message a warning naming the file and
    /// line (e.g. a last line torn by a crash of the harness). Empty for histories built in
    /// memory. Equality ignores it: two histories are equal when their ops are.
    pub warnings: Vec<String>,
}

impl PartialEq for History {
    fn eq(&self, other: &Self) -> bool {
        self.ops == other.ops
    }
}

impl History {
    /// A history from ops, re-numbering their indices in order.
    pub fn from_ops(mut ops: Vec<Op>) -> Self {
        for (i, op) in ops.iter_mut().enumerate() {
            op.index = i as u64;
        }
        History {
            ops,
            warnings: Vec::new(),
        }
    }

    /// Append an op, giving it the next index.
    pub fn push(&mut self, mut op: Op) {
        op.index = self.ops.len() as u64;
        self.ops.push(op);
    }

    /// Number of ops.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether there are no ops.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Pair every client invocation with its completion, in invocation order.
    ///
    /// Nemesis ops are skipped. A completion with no open invocation on its process, or a
    /// second invocation while one is open, is an error: such a history has no meaning.
    pub fn pair(&self) -> Result<Vec<Call>, HistoryError> {
        use std::collections::HashMap;
        let mut open: HashMap<u64, usize> = HashMap::new();
        let mut calls: Vec<Call> = Vec::new();
        let mut call_of_invoke: HashMap<usize, usize> = HashMap::new();
        for (i, op) in self.ops.iter().enumerate() {
            let Some(process) = op.process.client() else {
                continue;
            };
            if op.kind == OpType::Invoke {
                if let Some(&previous) = open.get(&process) {
                    return Err(HistoryError::Malformed {
                        path: PathBuf::new(),
                        index: op.index,
                        message: format!(
                            "process {process} invokes again while op #{} is still open; \
                             a process runs one op at a time",
                            self.ops[previous].index
                        ),
                    });
                }
                open.insert(process, i);
                call_of_invoke.insert(i, calls.len());
                calls.push(Call {
                    invoke: i,
                    completion: None,
                });
            } else {
                let Some(invoke) = open.remove(&process) else {
                    return Err(HistoryError::Malformed {
                        path: PathBuf::new(),
                        index: op.index,
                        message: format!(
                            "{} completion on process {process} has no invocation",
                            op.kind
                        ),
                    });
                };
                calls[call_of_invoke[&invoke]].completion = Some(i);
            }
        }
        Ok(calls)
    }
}

/// The first line of `history.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryHeader {
    /// Always [`HISTORY_FORMAT`].
    pub format: String,
    /// The format version, [`HISTORY_VERSION`] when written by this crate.
    pub version: u32,
}

impl Default for HistoryHeader {
    fn default() -> Self {
        HistoryHeader {
            format: HISTORY_FORMAT.to_string(),
            version: HISTORY_VERSION,
        }
    }
}

/// Writes `history.jsonl` append-only, one op a line, flushed after every op so that a
/// crash of the harness loses nothing already recorded.
pub struct HistoryWriter<W: Write> {
    out: BufWriter<W>,
    next_index: u64,
}

impl HistoryWriter<File> {
    /// Create (truncate) a history file and write its header.
    pub fn create(path: &Path) -> Result<Self, HistoryError> {
        let file = File::create(path).map_err(|source| HistoryError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::new(file).map_err(|source| HistoryError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

impl History {
    /// Write this history to a new `history.jsonl` at `path`, its ops numbered in order (as
    /// the recorder numbers them).
    pub fn write_jsonl(&self, path: &Path) -> Result<(), HistoryError> {
        let io_error = |source| HistoryError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut writer = HistoryWriter::create(path)?;
        for op in &self.ops {
            writer.append_buffered(&mut op.clone()).map_err(io_error)?;
        }
        writer.flush().map_err(io_error)
    }
}

impl<W: Write> HistoryWriter<W> {
    /// Start a history on any writer, writing the header line.
    pub fn new(out: W) -> io::Result<Self> {
        let mut out = BufWriter::new(out);
        serde_json::to_writer(&mut out, &HistoryHeader::default())?;
        out.write_all(b"\n")?;
        out.flush()?;
        Ok(HistoryWriter { out, next_index: 0 })
    }

    /// Append one op, assigning its index, and flush it to the OS. Returns the index.
    pub fn append(&mut self, op: &mut Op) -> io::Result<u64> {
        self.append_buffered(op)?;
        self.out.flush()?;
        Ok(op.index)
    }

    /// Append one op without flushing; call [`HistoryWriter::flush`] before waiting on
    /// anything, so that a batch of ops reaches the file together.
    pub fn append_buffered(&mut self, op: &mut Op) -> io::Result<u64> {
        op.index = self.next_index;
        self.next_index += 1;
        serde_json::to_writer(&mut self.out, op)?;
        self.out.write_all(b"\n")?;
        Ok(op.index)
    }

    /// Flush buffered ops to the OS.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flush and give back the writer (e.g. the bytes of a history written to a `Vec`).
    pub fn into_inner(self) -> io::Result<W> {
        self.out
            .into_inner()
            .map_err(io::IntoInnerError::into_error)
    }

    /// How many ops were written.
    pub fn len(&self) -> u64 {
        self.next_index
    }

    /// Whether no op was written yet.
    pub fn is_empty(&self) -> bool {
        self.next_index == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> History {
        let mut h = History::default();
        h.push(Op::new(Process::Client(0), OpType::Invoke, "write", json!(1)).with_key(json!("k")));
        h.push(Op::new(
            Process::Nemesis,
            OpType::Invoke,
            "start-kill",
            json!(null),
        ));
        h.push(Op::new(
            Process::Client(1),
            OpType::Invoke,
            "read",
            json!(null),
        ));
        h.push(Op::new(Process::Client(0), OpType::Ok, "write", json!(1)).with_key(json!("k")));
        h
    }

    #[test]
    fn jsonl_round_trip_keeps_every_field() {
        let history = sample();
        let mut buf = Vec::new();
        {
            let mut w = HistoryWriter::new(&mut buf).unwrap();
            for op in &history.ops {
                w.append(&mut op.clone()).unwrap();
            }
        }
        let text = String::from_utf8(buf).unwrap();
        assert!(text.starts_with("{\"format\":\"faultline-history\",\"version\":1}"));
        let back = History::read_jsonl_from(text.as_bytes(), Path::new("mem")).unwrap();
        assert_eq!(back, history);
    }

    #[test]
    fn pairing_skips_nemesis_and_leaves_pending_open() {
        let calls = sample().pair().unwrap();
        assert_eq!(
            calls,
            vec![
                Call {
                    invoke: 0,
                    completion: Some(3)
                },
                Call {
                    invoke: 2,
                    completion: None
                }
            ]
        );
    }

    #[test]
    fn completion_without_invocation_is_an_error() {
        let mut h = History::default();
        h.push(Op::new(Process::Client(3), OpType::Ok, "read", json!(1)));
        let err = h.pair().unwrap_err().to_string();
        assert!(
            err.contains("op #0") && err.contains("no invocation"),
            "{err}"
        );
    }

    #[test]
    fn bad_line_names_file_and_line() {
        let text = "{\"format\":\"faultline-history\",\"version\":1}\n{\"process\":0}\n";
        let err = History::read_jsonl_from(text.as_bytes(), Path::new("h.jsonl"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("h.jsonl:2:"), "{err}");
    }

    #[test]
    fn torn_last_line_is_skipped_with_a_warning_naming_file_and_line() {
        let text = "{\"format\":\"faultline-history\",\"version\":1}\n\
                    {\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n{\"process\":0,\"ty";
        let h = History::read_jsonl_from(text.as_bytes(), Path::new("run/history.jsonl")).unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(
            h.warnings,
            vec![
                "run/history.jsonl:3: the last line is incomplete (the harness was probably \
                  killed while writing it); skipped"
                    .to_string()
            ]
        );
        // A complete history reads without warnings, and equality ignores them.
        let whole = &text[..text.rfind('\n').unwrap() + 1];
        let complete = History::read_jsonl_from(whole.as_bytes(), Path::new("h")).unwrap();
        assert!(complete.warnings.is_empty());
        assert_eq!(complete, h);
        // A last line that parses needs no newline; a bad line with one is still an error.
        let unterminated = &text[..text.rfind('\n').unwrap()];
        let h = History::read_jsonl_from(unterminated.as_bytes(), Path::new("h")).unwrap();
        assert_eq!((h.len(), h.warnings.len()), (1, 0));
        let bad_but_whole = format!("{text}\n");
        assert!(History::read_jsonl_from(bad_but_whole.as_bytes(), Path::new("h")).is_err());
    }

    #[test]
    fn a_last_line_cut_inside_a_utf8_character_is_torn_too() {
        let mut bytes = b"{\"format\":\"faultline-history\",\"version\":1}\n\
                          {\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n\
                          {\"process\":0,\"type\":\"info\",\"f\":\"read\",\"error\":\"\xe2\x80"
            .to_vec();
        let h = History::read_jsonl_from(&bytes[..], Path::new("h.jsonl")).unwrap();
        assert_eq!(h.len(), 1);
        assert!(h.warnings[0].starts_with("h.jsonl:3: the last line is incomplete"));
        // Not UTF-8 in the middle of the file is an error naming the line.
        bytes.extend_from_slice(b"\n");
        let err = History::read_jsonl_from(&bytes[..], Path::new("h.jsonl")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("h.jsonl:3: the line is not UTF-8"),
            "{err}"
        );
    }

    #[test]
    fn process_serializes_as_number_or_nemesis() {
        assert_eq!(serde_json::to_string(&Process::Client(7)).unwrap(), "7");
        assert_eq!(
            serde_json::to_string(&Process::Nemesis).unwrap(),
            "\"nemesis\""
        );
        assert_eq!(
            serde_json::from_str::<Process>("\"nemesis\"").unwrap(),
            Process::Nemesis
        );
        assert!(serde_json::from_str::<Process>("\"bob\"").is_err());
    }
}
