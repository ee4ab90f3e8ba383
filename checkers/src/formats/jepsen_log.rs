//! The `jepsen-log` importer: ops recovered from the `jepsen.util` lines of a Jepsen log,
//!
//! ```text
//! INFO  jepsen.util - 3	:invoke	:cas	[1 4]
//! INFO  jepsen.util - 4	:info	:write	:timed-out
//! ```
//!
//! After `jepsen.util - ` come the process, the type, the function and the value,
//! separated by tabs or by runs of spaces; a fifth tab-separated field, when present, is the
//! op's error. Each field is read as EDN, so the value must end on its line.
//!
//! This module must never skip a line it cannot account for: a `jepsen.util` line that
//! does not parse is an error, and other lines are skipped only when they are clearly other
//! log output (a line with a log level such as `INFO` or `WARN` among its first words, and
//! the lines that continue such a message, like stack traces).

use std::path::Path;

use serde_json::Value;

use super::edn::{Edn, Reader};
use super::ops::{edn_error, function, op_type, parse_error, process_of, Builder};
use crate::history::{History, HistoryError, Op, OpType};

/// What precedes the fields of an op line.
pub(crate) const MARKER: &str = "jepsen.util - ";

const LEVELS: [&str; 8] = [
    "TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR", "FATAL", "SEVERE",
];

/// Whether a line is clearly a log line from another logger: a level among its first
/// four words (the words before may be a date and a time).
pub(crate) fn is_other_log_line(line: &str) -> bool {
    line.split_ascii_whitespace()
        .take(4)
        .any(|word| LEVELS.contains(&word.trim_matches(|c| c == '[' || c == ']')))
}

/// Read every op of a Jepsen log.
pub(crate) fn read_jepsen_log(text: &str, path: &Path) -> Result<History, HistoryError> {
    let mut builder = Builder::new(path);
    // Whether the last line that was not blank belonged to another logger's message, so
    // that the lines after it (stack traces, pretty-printed maps) may continue it.
    let mut in_other_message = false;
    for (i, raw) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(at) = line.find(MARKER) {
            let op = op_from_fields(&line[at + MARKER.len()..], line_no, path)?;
            builder.push(op, line_no)?;
            in_other_message = false;
        } else if line.trim().is_empty() {
            continue;
        } else if is_other_log_line(line) {
            in_other_message = true;
        } else if !in_other_message {
            let shown: String = line.chars().take(80).collect();
            return Err(parse_error(
                path,
                line_no,
                format!(
                    "expected a Jepsen log line such as \
                     `INFO  jepsen.util - 3\\t:invoke\\t:cas\\t[1 4]` or other log output \
                     with a level (INFO, WARN, ...), found {shown:?}"
                ),
            ));
        }
    }
    Ok(builder.finish(true))
}

/// The next field of an op line, read as EDN.
fn field<'a>(
    reader: &mut Reader<'a>,
    what: &str,
    line: usize,
    path: &Path,
) -> Result<Edn<'a>, HistoryError> {
    reader.skip().map_err(|e| edn_error(path, e))?;
    if reader.peek().is_none() {
        return Err(parse_error(
            path,
            line,
            format!(
                "jepsen.util line ends before its {what}; expected \
                 `<process> <type> <f> <value>` after `{MARKER}` (truncated line?)"
            ),
        ));
    }
    reader.read().map_err(|e| edn_error(path, e))
}

/// The op in the fields after the marker: process, type, f, value and maybe an error.
fn op_from_fields(fields: &str, line: usize, path: &Path) -> Result<Op, HistoryError> {
    let mut reader = Reader::new(fields, line);
    let mut next = |what: &str| field(&mut reader, what, line, path);
    let at = |m: String| parse_error(path, line, m);
    let process = process_of(&next("process")?).map_err(at)?;
    let kind = op_type(&next("type")?).map_err(at)?;
    let f = function(next("f")?).map_err(at)?;
    let value = next("value")?;
    let rest = reader.rest();
    let mut error = None;
    if !rest.trim().is_empty() {
        match rest.strip_prefix('\t') {
            Some(e) => error = Some(e.trim().to_string()),
            None => {
                let shown: String = rest.trim().chars().take(40).collect();
                return Err(parse_error(
                    path,
                    line,
                    format!(
                        "unexpected {shown:?} after the value; a jepsen.util line holds \
                         process, type, f and value, and an error only after a tab"
                    ),
                ));
            }
        }
    }
    // An indeterminate completion logs why instead of a value: `:info :write :timed-out`.
    let value = match (kind, value) {
        (OpType::Info, Edn::Keyword(reason)) => {
            error.get_or_insert_with(|| reason.to_string());
            Value::Null
        }
        (_, v) => v.into_json(),
    };
    Ok(Op {
        index: 0,
        time: 0,
        process,
        kind,
        f,
        key: None,
        value,
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Process;
    use serde_json::json;

    fn read(text: &str) -> Result<History, HistoryError> {
        read_jepsen_log(text, Path::new("etcd.log"))
    }

    #[test]
    fn tabs_spaces_nil_and_timeouts() {
        let h = read(
            "INFO  jepsen.util - 3\t:invoke\t:cas\t[1 4]\n\
             INFO  jepsen.util - 0   :invoke   :read   nil\r\n\
             INFO  jepsen.util - 3\t:info\t:cas\t:timed-out\n\
             INFO  jepsen.util - 0\t:ok\t:read\t2\n\
             INFO  jepsen.util - :nemesis\t:info\t:start\t\"cut off\"\n",
        )
        .unwrap();
        assert_eq!(h.len(), 5);
        assert_eq!(h.ops[0].value, json!([1, 4]));
        assert_eq!(h.ops[1].value, json!(null));
        assert_eq!(h.ops[2].value, json!(null));
        assert_eq!(h.ops[2].error.as_deref(), Some("timed-out"));
        assert_eq!(h.ops[3].value, json!(2));
        assert_eq!(h.ops[4].process, Process::Nemesis);
        assert_eq!(h.ops[4].value, json!("cut off"));
    }

    #[test]
    fn other_log_output_is_skipped_but_junk_is_not() {
        let h = read(
            "2014-05-02 10:00:00 INFO  jepsen.core - Running test\n\
             java.lang.RuntimeException: boom\n\
             \tat clojure.core$eval.invoke(core.clj:1)\n\
             INFO  jepsen.util - 1\t:invoke\t:write\t4\n\
             WARN  jepsen.db - slow\n\
             INFO  jepsen.util - 1\t:ok\t:write\t4\n",
        )
        .unwrap();
        assert_eq!(h.len(), 2);
        let e = read("INFO  jepsen.util - 1\t:invoke\t:write\t4\ngarbage here\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("etcd.log:2: expected a Jepsen log line"),
            "{e}"
        );
    }

    #[test]
    fn bad_op_lines_are_errors_with_their_line() {
        let e = read(
            "INFO  jepsen.util - 1\t:invoke\t:write\t4\nINFO  jepsen.util - 1\t:bogus\t:write\t4",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("etcd.log:2: expected :type to be one of"),
            "{e}"
        );
        let e = read("INFO  jepsen.util - 1\t:invoke\t:cas\t[1 4")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("etcd.log:1: unterminated vector"), "{e}");
        let e = read("INFO  jepsen.util - 1\t:invoke")
            .unwrap_err()
            .to_string();
        assert!(e.contains("ends before its f"), "{e}");
        let e = read("INFO  jepsen.util - 1\t:invoke\t:write\t4 5")
            .unwrap_err()
            .to_string();
        assert!(e.contains("after the value"), "{e}");
    }
}
