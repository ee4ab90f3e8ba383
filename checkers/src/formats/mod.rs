//! Importers: histories written by other tools, read into faultline's [`History`].
//!
//! [`read_path`] reads a file (or, for Cobra, a folder) in a [`Format`] named by the user
//! or detected from its content by [`Format::detect_bytes`] (binary formats by their
//! structure, then the text formats from their first lines by [`Format::detect`]; never
//! from a file's name):
//!
//! - `faultline`: our own `history.jsonl` (`{"format":"faultline-history",...}` first).
//! - `jepsen-edn`: Jepsen's and Knossos's `history.edn`, one op map a line
//!   (`{:type :invoke, :f :read, :value nil, :process 0, :time 123, :index 0}`) or the
//!   whole history as one vector or list of maps over many lines. `#jepsen.history.Op`
//!   style tags are dropped.
//! - `jepsen-log`: the `INFO  jepsen.util - 3 :invoke :cas [1 4]` lines of a Jepsen log
//!   (fields separated by tabs or runs of spaces); other log output is skipped.
//! - `kv-log`: EDN op maps that each carry a `:key` (`{:process 9, :type :ok, :f :append,
//!   :key "0", :value "x 9 0 y"}`).
//! - `txn-text`: the academic isolation checkers' `r(key,value,session,txn)` lines.
//! - `dbcop`: dbcop's `history.bincode` (bincode v1 of its sessions of txns; PolySI, AWDIT,
//!   Plume and IsoVista read it too). See `dbcop.rs`.
//! - `cobra`: Cobra's binary client logs, one file or a folder of `*.log` files (one per
//!   client). See `cobra.rs`.
//!
//! The last three become rw-register txn histories (`["r", k, v]`, `["w", k, v]`, `null`
//! read for the initial state: a read of dbcop's or PolySI's value 0, a read of Cobra's
//! `INIT` write), one process per session or client. They record no real time across
//! sessions: the sessions run in rounds, which invents a real-time order, so check them
//! against models without real time (`serializable`, `snapshot-isolation`, their
//! `strong-session-` forms); `strict-` models are not meaningful for them.
//!
//! How EDN becomes an [`Op`]:
//!
//! - `:process` is a non-negative integer or `:nemesis`; `:type` one of `:invoke :ok
//!   :fail :info`; `:f` a keyword (`:read` becomes `"read"`). `:type` is required; see
//!   below for ops without `:process` or `:f`.
//! - `:value` becomes JSON: `nil` → `null`, keywords and symbols → strings without the
//!   colon (`:timed-out` → `"timed-out"`), vectors, lists and sets → arrays, maps →
//!   objects. A missing `:value` is `null`.
//! - `:time` (nanoseconds, as Jepsen writes it) is kept; `:index` must be a non-negative
//!   integer but ops are numbered by their position in the file; `:error` becomes text
//!   (strings and keywords as they are, anything else as JSON); other fields are ignored.
//! - In a Jepsen log an `:info` completion whose value is a keyword (`:timed-out`) logs why
//!   the result is unknown: its value becomes `null` and the keyword its error.
//! - Nemesis ops are kept as written (Jepsen logs both halves of a fault as `:info`).
//!
//! **Independent keys.** Jepsen's `independent` checker runs one register per key and
//! writes values as `[k v]` tuples. For `jepsen-edn` and `jepsen-log` histories with no
//! `:key` fields, the tuples are split into [`Op::key`] `k` and [`Op::value`] `v` when, for
//! the whole history:
//!
//! 1. there is at least one client op;
//! 2. every client invocation's value is a 2-element vector whose first element (the key)
//!    is a scalar — not `nil`, a vector or a map — and, when `:f` is `:cas`, whose second
//!    element is itself a 2-element vector `[from to]`;
//! 3. every client completion's value is either such a tuple with the same key as its
//!    invocation, or not a vector at all (`nil`, `:timed-out`): then it keeps its value and
//!    takes its invocation's key.
//!
//! Otherwise no op is split. A plain cas register (`[1 4]` is a cas with no key, as its
//! second element is not a vector; reads are invoked with `nil`) is therefore never split.
//!
//! **Checks while reading.** Every error names the file and the 1-based line (the byte
//! offset, [`HistoryError::Binary`], in dbcop's and Cobra's binary files): a malformed or
//! truncated line (an unterminated map, vector or string names the line where it opened),
//! a missing `:type`, a missing `:f` on an op whose value is not a list of micro-ops, an
//! unknown op type. A file no format fits is an error naming every format tried. A missing
//! file is [`HistoryError::Io`]. No input makes a reader panic.
//!
//! **Read leniently, as Elle does,** with one warning per kind in [`History::warnings`]
//! naming the first line (and how many more), which `faultline check` prints:
//!
//! - a second invocation while a process's previous op is still open: the open op is taken
//!   as crashed, an `:info` completion (error `crashed: ...`) added just before the new
//!   invocation;
//! - a completion with no open invocation on its process: dropped;
//! - an op without `:process`: it gets a process of its own, numbered after every process
//!   of the file; a completion gets an invocation just before it (so Elle's hand-written
//!   histories of `:ok` txns read);
//! - an op without `:f` whose value is a list of micro-ops (`[[:r :x nil] [:append :x 1]]`):
//!   `:f` is `:txn`. Two-element reads `[:r :x]` are read as they are (the txn checkers take
//!   them as reads with no value yet).
//!
//! ```
//! use std::path::Path;
//! use faultline_checkers::formats::{read_str, Format};
//! use faultline_checkers::history::OpType;
//!
//! let text = "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n\
//!             INFO  jepsen.util - 0\t:ok\t:read\t3\n";
//! assert_eq!(Format::detect(text), Some(Format::JepsenLog));
//! assert_eq!(Format::detect_bytes(text.as_bytes()), Some(Format::JepsenLog));
//! let history = read_str(text, Path::new("etcd.log"), None).unwrap();
//! assert_eq!(history.ops[1].kind, OpType::Ok);
//! assert_eq!(history.ops[1].value, serde_json::json!(3));
//! assert_eq!("kv-log".parse::<Format>(), Ok(Format::KvLog));
//! ```
//!
//! This module must never check consistency: it only reads what a history says.

mod cobra;
mod cursor;
mod dbcop;
mod edn;
mod fast;
mod format;
mod jepsen_log;
mod ops;
mod sessions;
mod txn_text;

pub use cobra::{read_cobra, read_cobra_logs};
pub use dbcop::read_dbcop;
pub use format::{detect_path, read_bytes, read_path, read_str, Format, UnknownFormat};
pub use txn_text::{looks_like_txn_text, read_txn_text};

#[cfg(doc)]
use crate::history::{History, HistoryError, Op};
