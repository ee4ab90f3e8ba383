//! Reading faultline's own `history.jsonl` into a [`History`]: a header line, then one
//! [`Op`] as JSON a line. A last line with no newline that does not parse is a write torn by
//! a crash of the harness: it is skipped with a warning naming the file and line, and every
//! line before it is kept. Every other bad line is an error naming the file and line.
//!
//! Text already in memory is parsed on every core, a block of lines at a time (the same
//! rules, in the same order); a reader is parsed line by line. A file too long to hold is
//! visited op by op ([`History::visit_jsonl`]): read and parsed a block of lines at a time,
//! on every core, holding one block. This module must never write:
//! [`crate::history::HistoryWriter`] does.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use rayon::prelude::*;

use crate::history::{History, HistoryError, HistoryHeader, Op, HISTORY_FORMAT, HISTORY_VERSION};

/// Lines parsed in parallel at a time: enough to keep every core busy, few enough that the
/// parsed block is small beside the history.
const BLOCK_LINES: usize = 16_384;

/// What one line of a `history.jsonl` holds.
enum Line {
    /// Blank, or the header.
    Nothing,
    Op(Op),
    /// A torn last line, with the warning that says so.
    Torn(String),
}

/// Parse line `line_no` (1-based) of `path`; `torn` when it lacks its newline (only the last
/// line can).
fn parse_line(bytes: &[u8], line_no: usize, torn: bool, path: &Path) -> Result<Line, HistoryError> {
    let parse_error = |message: String| HistoryError::Parse {
        path: path.to_path_buf(),
        line: line_no,
        message,
    };
    let torn_warning = || {
        Line::Torn(format!(
            "{}:{line_no}: the last line is incomplete (the harness was probably killed \
             while writing it); skipped",
            path.display()
        ))
    };
    // Cut mid-write, a last line may even end inside a UTF-8 character.
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text.trim(),
        Err(_) if torn => return Ok(torn_warning()),
        Err(e) => {
            return Err(parse_error(format!(
                "the line is not UTF-8 text ({e}); a history is text"
            )))
        }
    };
    if text.is_empty() {
        return Ok(Line::Nothing);
    }
    if line_no == 1 {
        if let Ok(header) = serde_json::from_str::<HistoryHeader>(text) {
            if header.format != HISTORY_FORMAT {
                return Err(parse_error(format!(
                    "header names format \"{}\", expected \"{HISTORY_FORMAT}\"",
                    header.format
                )));
            }
            if header.version > HISTORY_VERSION {
                return Err(parse_error(format!(
                    "history format version {} is newer than this faultline understands \
                     ({HISTORY_VERSION}); upgrade faultline",
                    header.version
                )));
            }
            return Ok(Line::Nothing);
        }
    }
    match serde_json::from_str(text) {
        Ok(op) => Ok(Line::Op(op)),
        Err(_) if torn => Ok(torn_warning()),
        Err(e) => Err(parse_error(format!(
            "expected one JSON op {{index, time, process, type, f, value}}: {e}"
        ))),
    }
}

/// Append the next line of `reader` (with its newline, if it has one) to `buffer`; 0 at the
/// end.
fn read_line(
    reader: &mut impl BufRead,
    buffer: &mut Vec<u8>,
    path: &Path,
) -> Result<usize, HistoryError> {
    reader
        .read_until(b'\n', buffer)
        .map_err(|source| HistoryError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// Add one parsed line to `history`; false once a torn line ended it.
fn take(history: &mut History, line: Line) -> bool {
    match line {
        Line::Nothing => true,
        Line::Op(op) => {
            history.ops.push(op);
            true
        }
        Line::Torn(warning) => {
            history.warnings.push(warning);
            false
        }
    }
}

impl History {
    /// Read a faultline `history.jsonl` file (see the module doc).
    pub fn read_jsonl(path: &Path) -> Result<History, HistoryError> {
        let file = File::open(path).map_err(|source| HistoryError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::read_jsonl_from(BufReader::new(file), path)
    }

    /// Read `history.jsonl` text from any reader, line by line; `path` is only used in
    /// messages.
    pub fn read_jsonl_from(mut reader: impl BufRead, path: &Path) -> Result<History, HistoryError> {
        let mut history = History::default();
        let mut line = Vec::new();
        let mut line_no = 0;
        loop {
            line.clear();
            if read_line(&mut reader, &mut line, path)? == 0 {
                break;
            }
            line_no += 1;
            let torn = !line.ends_with(b"\n");
            if !take(&mut history, parse_line(&line, line_no, torn, path)?) {
                break;
            }
        }
        Ok(history)
    }

    /// Read `history.jsonl` text already in memory, parsing blocks of lines on every core;
    /// the same history, warnings and errors as [`History::read_jsonl_from`].
    pub fn read_jsonl_bytes(bytes: &[u8], path: &Path) -> Result<History, HistoryError> {
        let mut history = History::default();
        // One op a line: no growing (and copying) of the ops while the text is still held.
        history
            .ops
            .reserve_exact(bytes.iter().filter(|&&b| b == b'\n').count() + 1);
        let mut rest = bytes;
        let mut first = 1;
        while !rest.is_empty() {
            let end = rest
                .iter()
                .enumerate()
                .filter(|(_, &b)| b == b'\n')
                .nth(BLOCK_LINES - 1)
                .map_or(rest.len(), |(i, _)| i + 1);
            let (block, tail) = rest.split_at(end);
            let lines: Vec<&[u8]> = block.split_inclusive(|b| *b == b'\n').collect();
            let parsed: Vec<Result<Line, HistoryError>> = lines
                .par_iter()
                .enumerate()
                .map(|(i, line)| parse_line(line, first + i, !line.ends_with(b"\n"), path))
                .collect();
            for line in parsed {
                if !take(&mut history, line?) {
                    return Ok(history);
                }
            }
            first += lines.len();
            rest = tail;
        }
        Ok(history)
    }
}

impl History {
    /// Visit every op of a faultline `history.jsonl` file in order without holding the
    /// history: the file is read [`BLOCK_LINES`] lines at a time and each block parsed on
    /// every core, so memory holds one block whatever the file's length. The same ops,
    /// warnings (returned) and errors as [`History::read_jsonl`]; ops before a bad line
    /// have been visited when its error is returned.
    pub fn visit_jsonl(path: &Path, visit: impl FnMut(Op)) -> Result<Vec<String>, HistoryError> {
        let file = File::open(path).map_err(|source| HistoryError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::visit_jsonl_from(BufReader::with_capacity(1 << 20, file), path, visit)
    }

    /// [`History::visit_jsonl`] over any reader; `path` is only used in messages.
    pub fn visit_jsonl_from(
        mut reader: impl BufRead,
        path: &Path,
        mut visit: impl FnMut(Op),
    ) -> Result<Vec<String>, HistoryError> {
        let mut warnings = Vec::new();
        let mut text: Vec<u8> = Vec::new();
        // Where each line of the block ends in `text`.
        let mut ends: Vec<usize> = Vec::with_capacity(BLOCK_LINES);
        let mut first = 1;
        loop {
            text.clear();
            ends.clear();
            while ends.len() < BLOCK_LINES {
                if read_line(&mut reader, &mut text, path)? == 0 {
                    break;
                }
                ends.push(text.len());
            }
            if ends.is_empty() {
                return Ok(warnings);
            }
            let starts = std::iter::once(0).chain(ends.iter().copied());
            let lines: Vec<&[u8]> = starts.zip(&ends).map(|(a, &b)| &text[a..b]).collect();
            let parsed: Vec<Result<Line, HistoryError>> = lines
                .par_iter()
                .enumerate()
                .map(|(i, line)| parse_line(line, first + i, !line.ends_with(b"\n"), path))
                .collect();
            for line in parsed {
                match line? {
                    Line::Nothing => {}
                    Line::Op(op) => visit(op),
                    Line::Torn(warning) => {
                        warnings.push(warning);
                        return Ok(warnings);
                    }
                }
            }
            first += lines.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{HistoryWriter, OpType, Process};
    use serde_json::json;

    /// A history file of `n` ops, as the recorder writes it.
    fn file_of(n: usize) -> Vec<u8> {
        let mut writer = HistoryWriter::new(Vec::new()).unwrap();
        for i in 0..n {
            let kind = if i % 2 == 0 {
                OpType::Invoke
            } else {
                OpType::Ok
            };
            let mut op = Op::new(Process::Client(i as u64 % 7), kind, "write", json!(i));
            writer.append_buffered(&mut op).unwrap();
        }
        writer.into_inner().unwrap()
    }

    /// The parallel reader and the block visitor give what the line-by-line reader gives:
    /// the same ops, warnings and errors, across block boundaries and at a torn or bad line.
    #[test]
    fn every_reader_reads_as_a_stream_does() {
        let long = file_of(2 * BLOCK_LINES + 5);
        let mut torn = long.clone();
        torn.extend_from_slice(br#"{"index":99999,"time":1,"proc"#);
        let mut torn_at_block_end = file_of(BLOCK_LINES - 1);
        torn_at_block_end.extend_from_slice(br#"{"index":99999,"time":1,"proc"#);
        let mut torn_utf8 = file_of(10);
        torn_utf8.extend_from_slice(&[b'{', 0xE2, 0x82]);
        let mut bad_inside = file_of(BLOCK_LINES + 3);
        let at = bad_inside.len() / 2;
        let line_start = bad_inside[..at].iter().rposition(|&b| b == b'\n').unwrap() + 1;
        bad_inside.splice(line_start..line_start, b"not json\n".iter().copied());
        let mut bad_after_block = file_of(BLOCK_LINES + 3);
        bad_after_block.extend_from_slice(b"not json\n");
        bad_after_block.extend(
            file_of(3)
                .split_inclusive(|b| *b == b'\n')
                .skip(1)
                .flatten(),
        );
        let cases: [(&str, Vec<u8>); 7] = [
            ("blocks", long),
            ("torn last line", torn),
            ("torn last line at a block's end", torn_at_block_end),
            ("torn inside a character", torn_utf8),
            ("a bad line in the second block", bad_inside),
            ("a bad line after a block", bad_after_block),
            ("empty", Vec::new()),
        ];
        let path = Path::new("h.jsonl");
        for (case, bytes) in cases {
            let streamed = History::read_jsonl_from(&bytes[..], path);
            let parallel = History::read_jsonl_bytes(&bytes, path);
            let mut ops = Vec::new();
            let visited = History::visit_jsonl_from(&bytes[..], path, |op| ops.push(op))
                .map(|warnings| History { ops, warnings });
            for (reader, other) in [("parallel", parallel), ("visited", visited)] {
                match (&streamed, other) {
                    (Ok(a), Ok(b)) => {
                        assert_eq!(a.ops, b.ops, "{case}: {reader}");
                        assert_eq!(a.warnings, b.warnings, "{case}: {reader}");
                    }
                    (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{case}"),
                    (a, b) => panic!("{case}: {reader}: {a:?} vs {b:?}"),
                }
            }
        }
        // From a file on disk too.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("history.jsonl");
        std::fs::write(&file, file_of(40)).unwrap();
        let mut n = 0;
        assert!(History::visit_jsonl(&file, |_| n += 1).unwrap().is_empty());
        assert_eq!(n, 40);
    }
}
