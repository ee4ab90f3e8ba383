//! From EDN values to [`Op`]s: the meaning of Jepsen's op maps, the pairing of a history
//! while it is read (mending, with warnings, what Elle reads leniently), and the splitting
//! of Jepsen's independent `[k v]` tuples.
//!
//! Errors here always carry the file and the 1-based line of the op they concern. This
//! module must never guess: an op map it does not understand is an error, not a skipped op.

use std::collections::HashMap;

use crate::open_calls::OpenCalls;
use std::path::Path;

use serde_json::Value;

use super::edn::{Edn, EdnError, Reader};
use super::fast::fast_op;
use crate::history::{History, HistoryError, Op, OpType, Process};

/// Make a parse error for `path` at `line`.
pub(crate) fn parse_error(path: &Path, line: usize, message: impl Into<String>) -> HistoryError {
    HistoryError::Parse {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

pub(crate) fn edn_error(path: &Path, e: EdnError) -> HistoryError {
    parse_error(path, e.line, e.message)
}

/// Collects ops in order, pairing each as it arrives with what came before, and mending
/// what Elle reads leniently (see the module docs of `formats`) with a warning.
pub(crate) struct Builder<'p> {
    path: &'p Path,
    ops: Vec<Op>,
    lines: Vec<usize>,
    /// Client process → index in `ops` of its open invocation.
    open: OpenCalls,
    /// The highest client process named in the file.
    max_process: Option<u64>,
    /// Positions in `ops` of ops read without `:process`, with the number of the process of
    /// their own each gets (counted from the first after every numbered process).
    fresh: Vec<(usize, u64)>,
    /// What was mended: a first case, with its line, and how many more.
    crashed: Mended,
    orphans: Mended,
    no_process: Mended,
    no_f: Mended,
}

/// One kind of mended input: the first case's message and line, and a count.
#[derive(Default)]
struct Mended {
    first: Option<(usize, String)>,
    count: usize,
}

impl Mended {
    fn note(&mut self, line: usize, message: impl FnOnce() -> String) {
        if self.first.is_none() {
            self.first = Some((line, message()));
        }
        self.count += 1;
    }

    fn warning(self, path: &Path) -> Option<String> {
        let (line, message) = self.first?;
        let more = match self.count {
            1 => String::new(),
            n => format!(" ({} more such ops)", n - 1),
        };
        Some(format!("{}:{line}: {message}{more}", path.display()))
    }
}

impl<'p> Builder<'p> {
    /// A builder expecting about `ops` ops.
    pub(crate) fn with_capacity(path: &'p Path, ops: usize) -> Self {
        Builder {
            path,
            ops: Vec::with_capacity(ops),
            lines: Vec::with_capacity(ops),
            open: OpenCalls::for_ops(ops),
            max_process: None,
            fresh: Vec::new(),
            crashed: Mended::default(),
            orphans: Mended::default(),
            no_process: Mended::default(),
            no_f: Mended::default(),
        }
    }

    fn position(&self, line: usize) -> Result<u32, HistoryError> {
        u32::try_from(self.ops.len()).map_err(|_| {
            parse_error(
                self.path,
                line,
                "the history has more than 4,294,967,294 ops; split it into smaller files",
            )
        })
    }

    /// Append an op read from `line`. As Elle reads them: a second invocation while one is
    /// open on the process crashes the open one (an `:info` completion is added before the
    /// new invocation), and a completion with no open invocation is dropped; both with a
    /// warning.
    // Always inlined, like `finish_op`: an op is ~150 bytes, and each call that takes it
    // by value copies it once more before it reaches the vector.
    #[inline(always)]
    pub(crate) fn push(&mut self, mut op: Op, line: usize) -> Result<(), HistoryError> {
        if let Process::Client(process) = op.process {
            self.max_process = self.max_process.max(Some(process));
            if op.kind == OpType::Invoke {
                if let Some(previous) = self.open.get(process) {
                    let previous = previous as usize;
                    let open_line = self.lines[previous];
                    self.crashed.note(line, || {
                        format!(
                            "process {process} invokes :{} while its :{} invoked on line \
                             {open_line} is still open; as Elle does, the open op is taken as \
                             crashed (:info)",
                            op.f, self.ops[previous].f
                        )
                    });
                    let invoked = &self.ops[previous];
                    let mut crashed = Op::new(
                        op.process,
                        OpType::Info,
                        invoked.f.clone(),
                        invoked.value.clone(),
                    );
                    crashed.key = invoked.key.clone();
                    crashed.time = op.time;
                    crashed.error = Some("crashed: the process invoked again".to_string());
                    self.append(crashed, line);
                }
                let position = self.position(line)?;
                self.open.set(process, position);
            } else if self.open.take(process).is_none() {
                self.orphans.note(line, || {
                    format!(
                        ":{} completion of :{} on process {process} has no open invocation; \
                         as Elle does, it is dropped",
                        op.kind, op.f
                    )
                });
                return Ok(());
            }
        }
        op.index = self.ops.len() as u64;
        self.ops.push(op);
        self.lines.push(line);
        Ok(())
    }

    #[inline(always)]
    fn append(&mut self, mut op: Op, line: usize) {
        op.index = self.ops.len() as u64;
        self.ops.push(op);
        self.lines.push(line);
    }

    /// Append an op read from `line` that names no process: it gets a process of its own
    /// (numbered after every process of the file), and a completion an invocation just
    /// before it, with a warning.
    pub(crate) fn push_without_process(&mut self, op: Op, line: usize) -> Result<(), HistoryError> {
        self.position(line)?;
        let own = self.no_process.count as u64;
        self.no_process.note(line, || {
            "the op has no :process; it gets a process of its own (a completion, an \
             invocation just before it)"
                .to_string()
        });
        if op.kind != OpType::Invoke {
            let mut invoke = Op::new(op.process, OpType::Invoke, op.f.clone(), op.value.clone());
            invoke.key = op.key.clone();
            invoke.time = op.time;
            self.fresh.push((self.ops.len(), own));
            self.append(invoke, line);
        }
        self.fresh.push((self.ops.len(), own));
        self.append(op, line);
        Ok(())
    }

    /// Note that the op read from `line` had no `:f` and was taken as a `:txn`.
    pub(crate) fn defaulted_f(&mut self, line: usize) {
        self.no_f.note(line, || {
            "the op has no :f; its value is a list of micro-ops, so, as Elle does, it is a :txn"
                .to_string()
        });
    }

    /// The finished history; with `split_tuples`, Jepsen's independent `[k v]` values are
    /// split into key and value when every client op carries one (see the module docs).
    pub(crate) fn finish(mut self, split_tuples: bool) -> History {
        let first = self.max_process.map_or(0, |p| p.saturating_add(1));
        for &(i, own) in &self.fresh {
            self.ops[i].process = Process::Client(first.saturating_add(own));
        }
        if split_tuples && independent_tuples(&self.ops) {
            split_independent(&mut self.ops);
        }
        let warnings = [self.crashed, self.orphans, self.no_process, self.no_f]
            .into_iter()
            .filter_map(|m| m.warning(self.path))
            .collect();
        History {
            ops: self.ops,
            warnings,
        }
    }
}

/// Which of the optional fields an EDN op map must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyField {
    /// `:key` may be present (Jepsen histories).
    Optional,
    /// Every client op must carry `:key` (kv logs).
    Required,
}

/// Read every op in EDN text: one op map per line, maps spread over lines, or the whole
/// history as one vector or list of maps (or several).
pub(crate) fn read_edn_ops(
    text: &str,
    path: &Path,
    key_field: KeyField,
) -> Result<History, HistoryError> {
    let mut reader = Reader::new(text, 1);
    let mut builder = Builder::with_capacity(path, text.len() / 60);
    loop {
        reader.skip().map_err(|e| edn_error(path, e))?;
        let Some(b) = reader.peek() else { break };
        if let Some(close) = match b {
            b'[' => Some(b']'),
            b'(' => Some(b')'),
            _ => None,
        } {
            let open_line = reader.line();
            reader.bump();
            loop {
                reader.skip().map_err(|e| edn_error(path, e))?;
                match reader.peek() {
                    None => {
                        return Err(parse_error(
                            path,
                            open_line,
                            format!(
                                "unterminated history: the '{}' opened on line {open_line} \
                                 is never closed with '{}' (truncated file?)",
                                if close == b']' { '[' } else { '(' },
                                close as char
                            ),
                        ))
                    }
                    Some(c) if c == close => {
                        reader.bump();
                        break;
                    }
                    Some(_) => read_one(&mut reader, &mut builder, path, key_field)?,
                }
            }
        } else {
            read_one(&mut reader, &mut builder, path, key_field)?;
        }
    }
    Ok(builder.finish(key_field == KeyField::Optional))
}

fn read_one(
    reader: &mut Reader<'_>,
    builder: &mut Builder<'_>,
    path: &Path,
    key_field: KeyField,
) -> Result<(), HistoryError> {
    let line = reader.line();
    let cut_off = |e: EdnError| {
        if e.truncated && e.line != line {
            parse_error(
                path,
                line,
                format!(
                    "unterminated op map: the op that starts on line {line} is cut off; {}",
                    e.message
                ),
            )
        } else {
            edn_error(path, e)
        }
    };
    if let Some(fast) = fast_op(reader.rest()) {
        reader.advance(fast.len);
        let read = ReadOp {
            op: fast.op,
            named_process: true,
            txn_default: false,
        };
        return finish_op(read, line, builder, path, key_field);
    }
    let mut fields = OpFields::default();
    if reader.peek() == Some(b'{') {
        // The common case: read the fields straight from the text, building no map.
        reader
            .read_map_entries(|k, v| fields.field(k, v))
            .map_err(cut_off)?;
    } else {
        let form = reader.read().map_err(cut_off)?;
        let Edn::Map(entries) = form else {
            return Err(parse_error(
                path,
                line,
                format!(
                    "expected an op map such as {{:type :invoke, :f :read, :value nil, \
                     :process 0}}, found {}",
                    form.describe()
                ),
            ));
        };
        for (k, v) in entries {
            fields.field(k, v);
        }
    }
    let read = fields.finish().map_err(|m| parse_error(path, line, m))?;
    finish_op(read, line, builder, path, key_field)
}

#[inline(always)]
fn finish_op(
    read: ReadOp,
    line: usize,
    builder: &mut Builder<'_>,
    path: &Path,
    key_field: KeyField,
) -> Result<(), HistoryError> {
    let op = read.op;
    if key_field == KeyField::Required && op.key.is_none() && op.process != Process::Nemesis {
        return Err(parse_error(
            path,
            line,
            "kv-log op has no :key; every client op of a kv log names its key \
             (use --format jepsen-edn for single-register histories)",
        ));
    }
    if read.txn_default {
        builder.defaulted_f(line);
    }
    if read.named_process {
        builder.push(op, line)
    } else {
        builder.push_without_process(op, line)
    }
}

/// The fields of one op map as Jepsen writes it. `:index` is checked but not kept: ops are
/// numbered by their position in the file.
///
/// They are taken as they are read, entry by entry; the first problem is kept and
/// reported by [`OpFields::finish`], once the whole map has been read.
#[derive(Default)]
pub(crate) struct OpFields {
    kind: Option<OpType>,
    process: Option<Process>,
    f: Option<String>,
    value: Option<Value>,
    time: Option<u64>,
    index: Option<u64>,
    error: Option<Option<String>>,
    key: Option<Value>,
    problem: Option<String>,
}

impl OpFields {
    /// Take one entry of the op map.
    pub(crate) fn field(&mut self, k: Edn<'_>, v: Edn<'_>) {
        if self.problem.is_some() {
            return;
        }
        let Edn::Keyword(name) = k else { return };
        let taken = match name {
            "type" => op_type(&v).map(|t| self.kind.replace(t).is_some()),
            "process" => process_of(&v).map(|p| self.process.replace(p).is_some()),
            "f" => function(v).map(|f| self.f.replace(f).is_some()),
            "value" => Ok(self.value.replace(v.into_json()).is_some()),
            "time" => non_negative("time", &v).map(|t| self.time.replace(t).is_some()),
            "index" => non_negative("index", &v).map(|i| self.index.replace(i).is_some()),
            "error" => Ok(self.error.replace(error_text(v)).is_some()),
            "key" => Ok(self.key.replace(v.into_json()).is_some()),
            _ => Ok(false),
        };
        match taken {
            Ok(false) => {}
            Ok(true) => self.problem = Some(format!("the op map has :{name} twice")),
            Err(e) => self.problem = Some(e),
        }
    }

    /// The op, whether it named its process, and whether its `:f` was taken as `:txn`;
    /// or the first problem met in its fields.
    pub(crate) fn finish(self) -> Result<ReadOp, String> {
        if let Some(problem) = self.problem {
            return Err(problem);
        }
        let missing = |field: &str| {
            format!("missing required field :{field}; every op needs :type, and :f unless its value is a list of micro-ops")
        };
        let value = self.value.unwrap_or(Value::Null);
        let kind = self.kind.ok_or_else(|| missing("type"))?;
        let txn_default = self.f.is_none();
        let f = match self.f {
            Some(f) => f,
            None if is_mop_list(&value) => "txn".to_string(),
            None => return Err(missing("f")),
        };
        Ok(ReadOp {
            named_process: self.process.is_some(),
            txn_default,
            op: Op {
                index: 0,
                time: self.time.unwrap_or(0),
                process: self.process.unwrap_or(Process::Client(0)),
                kind,
                f,
                key: self.key.filter(|k| !k.is_null()),
                value,
                error: self.error.flatten(),
            },
        })
    }
}

/// An op as read from its map, and what it left out.
pub(crate) struct ReadOp {
    pub(crate) op: Op,
    /// It had a `:process`.
    pub(crate) named_process: bool,
    /// It had no `:f` and is taken as a `:txn`.
    pub(crate) txn_default: bool,
}

/// A non-empty list of Elle micro-ops: `[f k]` or `[f k v]` with `f` one of `r`, `w`,
/// `append`.
fn is_mop_list(value: &Value) -> bool {
    value.as_array().is_some_and(|mops| {
        !mops.is_empty()
            && mops.iter().all(|m| {
                m.as_array().is_some_and(|m| {
                    (2..=3).contains(&m.len())
                        && matches!(m[0].as_str(), Some("r" | "w" | "append"))
                })
            })
    })
}

/// `:invoke`, `:ok`, `:fail` or `:info`.
pub(crate) fn op_type(v: &Edn<'_>) -> Result<OpType, String> {
    match v {
        Edn::Keyword("invoke") => Ok(OpType::Invoke),
        Edn::Keyword("ok") => Ok(OpType::Ok),
        Edn::Keyword("fail") => Ok(OpType::Fail),
        Edn::Keyword("info") => Ok(OpType::Info),
        other => Err(format!(
            "expected :type to be one of :invoke :ok :fail :info, found {}",
            other.describe()
        )),
    }
}

/// A non-negative integer, or `:nemesis`.
pub(crate) fn process_of(v: &Edn<'_>) -> Result<Process, String> {
    match v {
        Edn::Int(i) if *i >= 0 => Ok(Process::Client(*i as u64)),
        Edn::UInt(u) => Ok(Process::Client(*u)),
        Edn::Keyword("nemesis") => Ok(Process::Nemesis),
        Edn::Str(s) if s == "nemesis" => Ok(Process::Nemesis),
        other => Err(format!(
            "expected :process to be a non-negative integer or :nemesis, found {}",
            other.describe()
        )),
    }
}

/// The name of an op's function: a keyword, symbol or string.
pub(crate) fn function(v: Edn<'_>) -> Result<String, String> {
    match v {
        Edn::Keyword(k) | Edn::Symbol(k) => Ok(k.to_string()),
        Edn::Str(s) => Ok(s.into_owned()),
        other => Err(format!(
            "expected :f to be a keyword such as :read, found {}",
            other.describe()
        )),
    }
}

fn non_negative(field: &str, v: &Edn<'_>) -> Result<u64, String> {
    match v {
        Edn::Int(i) if *i >= 0 => Ok(*i as u64),
        Edn::UInt(u) => Ok(*u),
        other => Err(format!(
            "expected :{field} to be a non-negative integer, found {}",
            other.describe()
        )),
    }
}

/// An op's `:error` as text: strings and keywords as they are, anything else as JSON.
fn error_text(v: Edn<'_>) -> Option<String> {
    match v {
        Edn::Nil => None,
        Edn::Str(s) => Some(s.into_owned()),
        Edn::Keyword(k) | Edn::Symbol(k) => Some(k.to_string()),
        other => Some(other.into_json().to_string()),
    }
}

/// `Some((key, value))` when `value` is a Jepsen independent tuple `[k v]` with a scalar
/// key (and, for `cas`, a `[from to]` value).
fn tuple<'v>(f: &str, value: &'v Value) -> Option<(&'v Value, &'v Value)> {
    let Value::Array(items) = value else {
        return None;
    };
    let [k, v] = items.as_slice() else {
        return None;
    };
    if k.is_array() || k.is_object() || k.is_null() {
        return None;
    }
    if f == "cas" && v.as_array().is_none_or(|a| a.len() != 2) {
        return None;
    }
    Some((k, v))
}

/// Whether the history is an independent one: see the module docs of `formats`.
fn independent_tuples(ops: &[Op]) -> bool {
    let mut open_key: HashMap<u64, &Value> = HashMap::new();
    let mut any_client = false;
    for op in ops {
        let Process::Client(process) = op.process else {
            continue;
        };
        if op.key.is_some() {
            return false;
        }
        any_client = true;
        if op.kind == OpType::Invoke {
            let Some((k, _)) = tuple(&op.f, &op.value) else {
                return false;
            };
            open_key.insert(process, k);
        } else if op.value.is_array() {
            let Some((k, _)) = tuple(&op.f, &op.value) else {
                return false;
            };
            // Pairing was checked while reading, so the invocation is there.
            if open_key.remove(&process) != Some(k) {
                return false;
            }
        } else {
            open_key.remove(&process);
        }
    }
    any_client
}

fn split_independent(ops: &mut [Op]) {
    let mut open_key: HashMap<u64, Value> = HashMap::new();
    for op in ops.iter_mut() {
        let Process::Client(process) = op.process else {
            continue;
        };
        if let Value::Array(items) = &mut op.value {
            if items.len() == 2 {
                let v = items.pop().unwrap_or(Value::Null);
                let k = items.pop().unwrap_or(Value::Null);
                op.value = v;
                if op.kind == OpType::Invoke {
                    open_key.insert(process, k.clone());
                } else {
                    open_key.remove(&process);
                }
                op.key = Some(k);
                continue;
            }
        }
        // A completion without a tuple (e.g. nil): its key is its invocation's.
        op.key = open_key.remove(&process);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(text: &str) -> Result<History, HistoryError> {
        read_edn_ops(text, Path::new("t.edn"), KeyField::Optional)
    }

    #[test]
    fn reads_one_map_per_line_with_every_field() {
        let h = read(
            "{:type :invoke, :f :cas, :value [1 2], :process 3, :time 10, :index 0}\n\
             {:type :info, :f :cas, :value [1 2], :process 3, :time 20, :index 1, \
             :error :timeout}\n\
             {:type :info, :f :start, :value nil, :process :nemesis, :time 30}\n",
        )
        .unwrap();
        assert_eq!(h.len(), 3);
        let op = &h.ops[1];
        assert_eq!(
            (op.index, op.time, op.process, op.kind, op.f.as_str()),
            (1, 20, Process::Client(3), OpType::Info, "cas")
        );
        assert_eq!(op.value, json!([1, 2]));
        assert_eq!(op.error.as_deref(), Some("timeout"));
        assert_eq!(op.key, None);
        assert_eq!(h.ops[2].process, Process::Nemesis);
    }

    #[test]
    fn splits_independent_tuples_only_when_every_client_op_has_one() {
        let h = read(
            "[{:type :invoke, :f :cas, :value [7 [1 2]], :process 0}\n\
              {:type :invoke, :f :read, :value [8 nil], :process 1}\n\
              {:type :fail, :f :cas, :value [7 [1 2]], :process 0}\n\
              {:type :info, :f :read, :value nil, :process 1}]",
        )
        .unwrap();
        assert_eq!(h.ops[0].key, Some(json!(7)));
        assert_eq!(h.ops[0].value, json!([1, 2]));
        assert_eq!(h.ops[3].key, Some(json!(8)));
        assert_eq!(h.ops[3].value, json!(null));
        let plain = read(
            "{:type :invoke, :f :cas, :value [1 2], :process 0}\n\
             {:type :ok, :f :cas, :value [1 2], :process 0}",
        )
        .unwrap();
        assert_eq!(plain.ops[0].key, None);
        assert_eq!(plain.ops[0].value, json!([1, 2]));
    }

    #[test]
    fn errors_name_the_line() {
        let e = read("{:type :invoke, :f :read, :process 0}\n{:type :bogus, :f :read, :process 0}")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "t.edn:2: expected :type to be one of :invoke :ok :fail :info, found :bogus"
            ),
            "{e}"
        );
        let h = read("\n{:type :ok, :f :read, :process 4}").unwrap();
        assert!(h.ops.is_empty());
        assert!(
            h.warnings[0].starts_with("t.edn:2: :ok completion"),
            "{:?}",
            h.warnings
        );
        let e = read("{:f :read, :process 4}").unwrap_err().to_string();
        assert!(e.contains("t.edn:1: missing required field :type"), "{e}");
        let e = read("{:type :ok, :process 4}").unwrap_err().to_string();
        assert!(e.contains("t.edn:1: missing required field :f"), "{e}");
    }
}
