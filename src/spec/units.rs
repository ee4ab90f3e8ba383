//! Quantities on the command line: memory sizes (`512MiB`, `2GiB`, `800M`), concurrency
//! (`3n` = three workers per node) and positive durations in seconds.

use std::time::Duration;

use anyhow::Result;

use crate::exit::bad_input;

/// Parses `--memory-limit` (of `test` and `check`): bytes, or a size such as `512MiB`.
pub fn parse_memory_limit(text: &str) -> Result<u64> {
    match parse_size(text) {
        Ok(bytes) => Ok(bytes),
        Err(why) => bad_input!(
            "--memory-limit '{text}': {why}; give a size such as 512MiB, 2GiB, 1G or a byte count"
        ),
    }
}

/// A size in bytes from `N`, or `N` with a unit: `K`, `M`, `G`, `T` (optionally followed by
/// `iB`) are powers of 1024, as `ulimit`, Docker and the JVM read them; `kB`, `MB`, `GB`,
/// `TB` are powers of 1000; `B` is bytes. Units are case-insensitive, `N` may have a
/// fraction when it has a unit (`1.5G`), and the size must be positive.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = (&text[..split], text[split..].trim());
    if number.is_empty() {
        return Err("no number".to_string());
    }
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => return Err(format!("unknown unit '{unit}'")),
    };
    let bytes = if multiplier == 1 {
        number
            .parse::<u64>()
            .map_err(|_| format!("'{number}' is not a whole number of bytes"))?
    } else {
        let n: f64 = number
            .parse()
            .map_err(|_| format!("'{number}' is not a number"))?;
        let bytes = (n * multiplier as f64).round();
        if bytes >= u64::MAX as f64 {
            return Err("too large".to_string());
        }
        bytes as u64
    };
    if bytes == 0 {
        return Err("the checker needs some memory".to_string());
    }
    Ok(bytes)
}

/// Parse `--concurrency`: `N` workers, or `Nn` for N workers per node.
pub fn parse_concurrency(text: &str, node_count: usize) -> Result<usize> {
    let (digits, per_node) = match text.strip_suffix('n') {
        Some(digits) => (digits, true),
        None => (text, false),
    };
    let Ok(n) = digits.parse::<usize>() else {
        bad_input!("--concurrency '{text}' is not a number of workers: give e.g. 10, or 3n for three per node");
    };
    let workers = if per_node { n * node_count } else { n };
    if workers == 0 {
        bad_input!("--concurrency '{text}' gives no workers: give at least 1");
    }
    Ok(workers)
}

pub(super) fn positive_secs(flag: &str, secs: f64) -> Result<Duration> {
    if !(secs > 0.0 && secs.is_finite() && secs < 1e9) {
        bad_input!("{flag} {secs} is not a positive number of seconds");
    }
    Ok(Duration::from_secs_f64(secs))
}
