//! `faultline check`: read stored histories (ours, Jepsen's EDN and logs, kv logs, the
//! isolation checkers' txn text, dbcop's bincode, Cobra's client logs) and
//! check them with no cluster — Jepsen's `analyze`.
//!
//! Bad input (a file that does not exist or parse, an unknown format or model) is exit 254
//! with a one-line error naming the file and line. What a reader skips without failing (a
//! last line torn by a crash of the harness) is a warning on stderr, and in `--json`'s
//! `warnings`; the rest of the file is still checked.
//!
//! A reader that goes away (`faultline check h.edn | head -1`) ends the output quietly: the
//! checks still run and the exit code is still the verdict's, never a panic on EPIPE.

use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use faultline_checkers::checker::{check_all, CheckResult, Validity};
use faultline_checkers::formats::{self, Format};
use faultline_checkers::selection::{select, CheckBudget, Selection, SelectionError};
use faultline_checkers::txn::{self, TxnError, VersionOrders};
use serde::Serialize;

use crate::cli::CheckArgs;
use crate::exit::{bad_input, BadInput};

#[derive(Debug, Serialize)]
struct FileResult<'a> {
    file: &'a Path,
    format: &'static str,
    model: &'a str,
    ops: usize,
    valid: Validity,
    results: Vec<CheckResult>,
    /// What reading the file skipped (e.g. a torn last line), each naming the file and line.
    warnings: &'a [String],
}

/// Run `faultline check`; returns the process exit code (the worst verdict).
pub fn run(args: &CheckArgs) -> Result<i32> {
    let format = match &args.format {
        None => None,
        Some(name) => match name.parse::<Format>() {
            Ok(format) => Some(format),
            Err(e) => bad_input!("--format: {e}"),
        },
    };
    let initial = match &args.initial {
        None => None,
        Some(text) => match serde_json::from_str(text) {
            Ok(value) => Some(value),
            Err(e) => bad_input!(
                "--initial {text} is not JSON ({e}): quote strings, e.g. --initial '\"x\"', or give 0 or null"
            ),
        },
    };
    if !(args.timeout > 0.0 && args.timeout.is_finite()) {
        bad_input!(
            "--timeout {} is not a positive number of seconds",
            args.timeout
        );
    }
    let memory_limit_bytes = crate::spec::parse_memory_limit(&args.memory_limit)?;
    // Names are validated here so a bad one is bad input even when no history is txn.
    let consistency_models = crate::spec::parse_consistency_models(&args.consistency_models)?;
    let budget = CheckBudget {
        timeout: Duration::from_secs_f64(args.timeout),
        memory_limit_bytes,
        partition: !args.no_partition,
        consistency_models,
        version_orders: version_orders(args),
        process_memory: Some(crate::memory::process_memory()),
    };
    // Read and validate every file before checking any, so bad input is reported at once.
    let mut inputs = Vec::new();
    for file in &args.files {
        let detected = match format {
            Some(format) => format,
            None => detect(file)?,
        };
        let history = formats::read_path(file, Some(detected))
            .map_err(|e| anyhow::Error::new(BadInput(e.to_string())))?;
        if let Err(e) = history.pair() {
            bad_input!("{}", e.in_file(file));
        }
        for warning in &history.warnings {
            eprintln!("warning: {warning}");
        }
        let model = match &args.model {
            Some(model) => model.clone(),
            None => match txn::detect(&history) {
                Some(kind) => kind.name().to_string(),
                None => default_model(detected).to_string(),
            },
        };
        inputs.push((file, detected, model, history));
    }
    let mut worst = Validity::Valid;
    let mut json = Vec::new();
    let mut out = Quiet::new(io::stdout().lock());
    for (file, detected, model, history) in &inputs {
        let (valid, results) = match select(model, initial.as_ref(), &budget) {
            Ok(Selection::Txn { kind, options }) => match txn::check(kind, history, &options) {
                Ok(result) => (result.valid, vec![result]),
                Err(e) => bad_input!("{}", txn_error(file, *detected, e)),
            },
            Ok(selection) => check_all(&selection.into_checkers(), history),
            Err(e @ SelectionError::UnknownModel(_)) => bad_input!("--model: {e}"),
            Err(e @ SelectionError::Unavailable { .. }) => bad_input!("--initial: {e}"),
        };
        worst = worst.and(valid);
        if let Some(dir) = &args.report {
            let report_dir = if inputs.len() > 1 {
                dir.join(file.file_stem().unwrap_or_default())
            } else {
                dir.clone()
            };
            let title = file.display().to_string();
            let page = faultline_reports::render_history(history, &results, &title, &report_dir)?;
            if !args.json {
                out.line(format_args!("  report: {}", page.display()))?;
            }
        }
        if args.json {
            json.push(FileResult {
                file,
                format: detected.name(),
                model,
                ops: history.len(),
                valid,
                results,
                warnings: &history.warnings,
            });
        } else {
            out.line(format_args!(
                "{}: {valid} ({} ops, {}, model {model})",
                file.display(),
                history.len(),
                detected.name()
            ))?;
            for result in &results {
                for reason in &result.reasons {
                    out.line(format_args!("  {reason}"))?;
                }
            }
        }
    }
    if args.json {
        out.line(format_args!("{}", serde_json::to_string_pretty(&json)?))?;
    }
    // The process ends next: freeing a large history op by op would take a tenth of the
    // time its check did.
    drop(json);
    std::mem::forget(inputs);
    Ok(worst.exit_code())
}

/// A writer that stops writing, without an error, once its reader has closed the pipe.
struct Quiet<W: Write> {
    out: W,
    closed: bool,
}

impl<W: Write> Quiet<W> {
    fn new(out: W) -> Quiet<W> {
        Quiet { out, closed: false }
    }

    /// Write `text` and a newline; a broken pipe silences the rest, other errors fail.
    fn line(&mut self, text: std::fmt::Arguments<'_>) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        match writeln!(self.out, "{text}").and_then(|()| self.out.flush()) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}

/// The rw-register version-order sources the flags name; none named is writes follow reads.
fn version_orders(args: &CheckArgs) -> VersionOrders {
    if args.wfr_keys || args.sequential_keys || args.linearizable_keys {
        VersionOrders {
            wfr_keys: args.wfr_keys,
            sequential_keys: args.sequential_keys,
            linearizable_keys: args.linearizable_keys,
        }
    } else {
        VersionOrders::default()
    }
}

fn detect(file: &Path) -> Result<Format> {
    match formats::detect_path(file) {
        Ok(format) => Ok(format),
        Err(e) => bad_input!("{e}"),
    }
}

/// A malformed transactional history as `file:line: op #N: what`, the line found when the
/// format has one op a line.
fn txn_error(file: &Path, format: Format, error: TxnError) -> String {
    match (&error, error.op_index()) {
        (TxnError::BadOp { message, .. }, Some(index)) => match op_line(file, format, index) {
            Some(line) => format!("{}:{line}: op #{index}: {message}", file.display()),
            None => format!("{}: op #{index}: {message}", file.display()),
        },
        _ => format!("{}: {error}", file.display()),
    }
}

/// The 1-based line of `file` that holds op #`index`: in faultline's JSONL the line whose op
/// has that index; in EDN and kv logs written one op a line, the index-th op line.
fn op_line(file: &Path, format: Format, index: u64) -> Option<usize> {
    let text = std::fs::read_to_string(file).ok()?;
    let mut lines = text.lines().enumerate();
    match format {
        Format::Faultline => lines
            .find(|(_, line)| {
                serde_json::from_str::<serde_json::Value>(line)
                    .is_ok_and(|op| op.get("index").and_then(|i| i.as_u64()) == Some(index))
            })
            .map(|(n, _)| n + 1),
        Format::JepsenEdn | Format::KvLog => {
            let ops: Vec<usize> = lines
                .filter(|(_, line)| line.contains(":type"))
                .map(|(n, _)| n + 1)
                .collect();
            // Only when every op has a line of its own can the index-th one be found.
            (text.matches(":type").count() == ops.len())
                .then(|| ops.get(index as usize).copied())
                .flatten()
        }
        _ => None,
    }
}

/// The model a format's histories are usually checked with.
fn default_model(format: Format) -> &'static str {
    match format {
        Format::KvLog => "kv",
        Format::TxnText | Format::Dbcop | Format::Cobra => "rw-register",
        _ => "cas-register",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes `room` lines, then reports a closed pipe.
    struct Pipe {
        lines: Vec<u8>,
        room: usize,
    }

    impl Write for Pipe {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            self.lines.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            self.room = self.room.saturating_sub(1);
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_silences_the_output_without_an_error() {
        let mut out = Quiet::new(Pipe {
            lines: Vec::new(),
            room: 1,
        });
        for n in 0..3 {
            out.line(format_args!("line {n}")).unwrap();
        }
        assert!(out.closed);
        assert_eq!(out.out.lines, b"line 0\n");
    }
}
