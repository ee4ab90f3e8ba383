//! The history formats by name, telling them apart from a file's first lines, and reading
//! a file or text in a named or detected format.
//!
//! This module must never read more than the one file (or the one folder of Cobra logs)
//! it is given, and never guess a format it cannot tell: an undetectable file is an error
//! naming the formats tried and asking for `--format`.

use std::path::Path;
use std::str::FromStr;

use super::cobra::{looks_like_cobra, read_cobra, read_cobra_logs};
use super::dbcop::{looks_like_dbcop, read_dbcop};
use super::jepsen_log::{find_marker, is_other_log_line, read_jepsen_log, MARKER};
use super::ops::{parse_error, read_edn_ops, KeyField};
use crate::history::{History, HistoryError, HISTORY_FORMAT};

/// A history file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// faultline's own `history.jsonl` (`faultline`).
    Faultline,
    /// Jepsen's or Knossos's `history.edn`: op maps, one a line or in one vector
    /// (`jepsen-edn`).
    JepsenEdn,
    /// The `jepsen.util` op lines of a Jepsen log (`jepsen-log`).
    JepsenLog,
    /// EDN op maps that each carry a `:key` (`kv-log`).
    KvLog,
    /// One rw-register micro-op a line, `r(key,value,session,txn)` / `w(...)`, as the
    /// academic isolation checkers (PolySI, IsoVista) share (`txn-text`).
    TxnText,
    /// dbcop's `history.bincode`: bincode of its sessions of rw-register txns (`dbcop`).
    Dbcop,
    /// Cobra's binary client logs: one file, or a folder of `*.log` files (`cobra`).
    Cobra,
}

/// A format name that is not one of [`Format::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown history format \"{0}\"; expected one of faultline, jepsen-edn, jepsen-log, kv-log, txn-text, dbcop, cobra"
)]
pub struct UnknownFormat(pub String);

impl Format {
    /// Every format, in the order they are listed in help text.
    pub const ALL: [Format; 7] = [
        Format::Faultline,
        Format::JepsenEdn,
        Format::JepsenLog,
        Format::KvLog,
        Format::TxnText,
        Format::Dbcop,
        Format::Cobra,
    ];

    /// The name used on the command line: `faultline`, `jepsen-edn`, `jepsen-log`, `kv-log`,
    /// `txn-text`, `dbcop`, `cobra`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Faultline => "faultline",
            Format::JepsenEdn => "jepsen-edn",
            Format::JepsenLog => "jepsen-log",
            Format::KvLog => "kv-log",
            Format::TxnText => "txn-text",
            Format::Dbcop => "dbcop",
            Format::Cobra => "cobra",
        }
    }

    /// Tell the format from the first bytes of a file: dbcop's and Cobra's binary formats
    /// by their structure, the text formats as [`Format::detect`] does.
    pub fn detect_bytes(head: &[u8]) -> Option<Format> {
        if looks_like_dbcop(head) {
            return Some(Format::Dbcop);
        }
        if looks_like_cobra(head) {
            return Some(Format::Cobra);
        }
        let text = match std::str::from_utf8(head) {
            // Cut inside a character at the end of the head.
            Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]),
            whole => whole,
        };
        text.ok().and_then(Format::detect)
    }

    /// Tell the format from the first lines of a text file, skipping blank lines and `;`
    /// comments (and, for Jepsen logs, other log lines before the first op). `None` when
    /// the text looks like none of them.
    pub fn detect(head: &str) -> Option<Format> {
        let mut rest = head;
        // A Jepsen log may open with many lines of setup before its first op.
        for _ in 0..1000 {
            let (line, after) = match rest.find('\n') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, ""),
            };
            let trimmed = line.trim();
            if find_marker(line).is_some() {
                return Some(Format::JepsenLog);
            }
            if !(trimmed.is_empty() || trimmed.starts_with(';') || is_other_log_line(trimmed)) {
                if super::txn_text::looks_like_txn_text(rest) {
                    return Some(Format::TxnText);
                }
                return detect_data(rest.trim_start());
            }
            if after.is_empty() {
                return None;
            }
            rest = after;
        }
        None
    }
}

/// Detect from text whose first byte starts the first meaningful line.
fn detect_data(text: &str) -> Option<Format> {
    let bytes = text.as_bytes();
    match bytes.first()? {
        b'{' => {
            let after = text[1..].trim_start();
            if after.starts_with('"') || after.starts_with('}') {
                Some(Format::Faultline)
            } else if after.starts_with(':') {
                Some(edn_or_kv(text))
            } else {
                None
            }
        }
        b'#' if text.starts_with("#{") => None,
        // A tagged op map: `#jepsen.history.Op{:index 0 ...}`.
        b'#' => {
            let brace = text.find(|c: char| c == '{' || c.is_whitespace())?;
            text[brace..]
                .starts_with('{')
                .then(|| edn_or_kv(&text[brace..]))
        }
        b'[' | b'(' => {
            let mut inner = &text[1..];
            loop {
                inner = inner.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
                if inner.starts_with(';') {
                    inner = inner.find('\n').map_or("", |i| &inner[i..]);
                } else {
                    break;
                }
            }
            if inner.starts_with("{:") || inner.starts_with('#') {
                Some(edn_or_kv(inner))
            } else if inner.starts_with(']') || inner.starts_with(')') {
                Some(Format::JepsenEdn)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// `kv-log` when the first op map carries a `:key`, else `jepsen-edn`.
fn edn_or_kv(map_text: &str) -> Format {
    let first_map = map_text.find('}').map_or(map_text, |end| &map_text[..end]);
    let has_key = first_map.match_indices(":key").any(|(i, _)| {
        let before_ok = i == 0
            || matches!(
                first_map.as_bytes()[i - 1],
                b' ' | b',' | b'{' | b'\t' | b'\n'
            );
        let after_ok = matches!(
            first_map.as_bytes().get(i + 4),
            Some(b' ' | b',' | b'\t' | b'\n' | b'"')
        );
        before_ok && after_ok
    });
    if has_key {
        Format::KvLog
    } else {
        Format::JepsenEdn
    }
}

display_by_name!(Format, name);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownFormat(s.to_string()))
    }
}

/// Read a history file in `format`, or in the format detected from its first bytes when
/// `format` is `None`. A folder is read as Cobra's client logs (its `*.log` files).
pub fn read_path(path: &Path, format: Option<Format>) -> Result<History, HistoryError> {
    if path.is_dir() {
        return match format {
            None | Some(Format::Cobra) => read_cobra_folder(path),
            Some(other) => Err(HistoryError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::other(format!(
                    "is a folder; only Cobra logs (--format cobra) are read from a folder, \
                     not {other} histories"
                )),
            }),
        };
    }
    let bytes = std::fs::read(path).map_err(|source| HistoryError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    read_bytes(&bytes, path, format)
}

/// The format of the file or folder at `path`, from its first 64 KiB (a folder is Cobra's).
pub fn detect_path(path: &Path) -> Result<Format, HistoryError> {
    use std::io::Read;
    if path.is_dir() {
        return Ok(Format::Cobra);
    }
    let io = |source| HistoryError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
        .map_err(io)?;
    match Format::detect_bytes(&head) {
        Some(format) => Ok(format),
        None => Err(match text_of(&head, path) {
            Ok(text) => undetected(text, path),
            Err(e) => e,
        }),
    }
}

/// Read a history from a file's bytes in `format`, or in the detected format when
/// `format` is `None`; `path` is only used in messages.
pub fn read_bytes(
    bytes: &[u8],
    path: &Path,
    format: Option<Format>,
) -> Result<History, HistoryError> {
    let format = match format {
        Some(format) => format,
        None => match Format::detect_bytes(bytes) {
            Some(format) => format,
            None => return Err(undetected(text_of(bytes, path)?, path)),
        },
    };
    match format {
        Format::Dbcop => read_dbcop(bytes, path),
        Format::Cobra => read_cobra(bytes, path),
        // Checked for UTF-8 line by line, as it is parsed on every core.
        Format::Faultline => History::read_jsonl_bytes(bytes, path),
        text => read_str(text_of(bytes, path)?, path, Some(text)),
    }
}

/// The text of a file in a text format; a last character cut short (a write torn by a
/// crash) is left out, for the readers to see a torn last line and say so.
fn text_of<'b>(bytes: &'b [u8], path: &Path) -> Result<&'b str, HistoryError> {
    match std::str::from_utf8(bytes) {
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&bytes[..e.valid_up_to()]),
        whole => whole,
    }
    .map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        parse_error(
            path,
            line,
            format!(
                "the file is not UTF-8 text, and not a binary history either; tried {} \
                 (is this a compressed file?)",
                tried()
            ),
        )
    })
}

/// Every format's name, for messages.
fn tried() -> String {
    Format::ALL.map(Format::name).join(", ")
}

/// Read a folder of Cobra client logs: its `*.log` files, in name order.
fn read_cobra_folder(dir: &Path) -> Result<History, HistoryError> {
    let io = |path: &Path, source| HistoryError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(io(
            dir,
            std::io::Error::other("the folder holds no Cobra client logs (*.log files)"),
        ));
    }
    let mut logs = Vec::with_capacity(files.len());
    for file in files {
        let bytes = std::fs::read(&file).map_err(|e| io(&file, e))?;
        logs.push((file, bytes));
    }
    read_cobra_logs(&logs)
}

/// Read history text in `format`, or in the detected format when `format` is `None`;
/// `path` is only used in messages.
pub fn read_str(text: &str, path: &Path, format: Option<Format>) -> Result<History, HistoryError> {
    let format = match format {
        Some(format) => format,
        None => Format::detect_bytes(text.as_bytes()).ok_or_else(|| undetected(text, path))?,
    };
    match format {
        Format::Faultline => History::read_jsonl_bytes(text.as_bytes(), path),
        Format::JepsenEdn => read_edn_ops(text, path, KeyField::Optional),
        Format::KvLog => read_edn_ops(text, path, KeyField::Required),
        Format::JepsenLog => read_jepsen_log(text, path),
        Format::TxnText => super::txn_text::read_txn_text(text, path),
        Format::Dbcop => read_dbcop(text.as_bytes(), path),
        Format::Cobra => read_cobra(text.as_bytes(), path),
    }
}

fn undetected(text: &str, path: &Path) -> HistoryError {
    let first = text
        .lines()
        .enumerate()
        .find(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with(';'));
    let Some((i, line)) = first else {
        return parse_error(
            path,
            1,
            "the file holds no ops (it is empty or only comments), so its format cannot be \
             detected; name it with --format if an empty history is intended",
        );
    };
    let shown: String = line.trim().chars().take(60).collect();
    parse_error(
        path,
        i + 1,
        format!(
            "cannot tell the history format from {shown:?}; expected a faultline \
             history.jsonl ({{\"format\":\"{HISTORY_FORMAT}\",...}}), Jepsen EDN op maps \
             ({{:type :invoke, ...}} or a vector of them), a Jepsen log with \
             `{MARKER}` lines, a kv log, r(k,v,s,t) lines, a dbcop history.bincode or a \
             Cobra log; name the format with --format (tried {})",
            tried()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>(), Ok(f));
        }
        let e = "edn".parse::<Format>().unwrap_err().to_string();
        assert!(e.contains("\"edn\"") && e.contains("jepsen-log"), "{e}");
    }

    #[test]
    fn detection() {
        let d = Format::detect;
        assert_eq!(
            d("{\"format\":\"faultline-history\",\"version\":1}\n"),
            Some(Format::Faultline)
        );
        assert_eq!(
            d("{\"process\":0,\"type\":\"invoke\"}"),
            Some(Format::Faultline)
        );
        assert_eq!(
            d("\n; c\nINFO  jepsen.core - hi\nINFO  jepsen.util - 0\t:invoke\t:read\tnil"),
            Some(Format::JepsenLog)
        );
        assert_eq!(d("{:type :invoke, :f :read}"), Some(Format::JepsenEdn));
        assert_eq!(
            d("#jepsen.history.Op{:index 0, :type :invoke}"),
            Some(Format::JepsenEdn)
        );
        assert_eq!(d("[\n {:process 0}]"), Some(Format::JepsenEdn));
        assert_eq!(d("({:process 0, :key 3})"), Some(Format::KvLog));
        assert_eq!(
            d("{:process 9, :type :ok, :f :append, :key \"0\", :value \"x\"}"),
            Some(Format::KvLog)
        );
        assert_eq!(d("{:process 9, :keyed 1}"), Some(Format::JepsenEdn));
        assert_eq!(d("hello"), None);
        assert_eq!(d(""), None);
        assert_eq!(d("INFO  jepsen.core - only setup"), None);
    }
}
