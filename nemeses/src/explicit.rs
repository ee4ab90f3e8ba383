//! Explicit fault schedules (`--nemesis-schedule FILE`): a JSON list of faults, each with
//! its start offset from the beginning of the test's main phase, the nemesis, the value of
//! its start request (targets, a partition shape or grudge, ...) and how long it lasts.
//! The run applies exactly these faults at these offsets, so a user can hand-write the
//! fault sequence of a bug report, CI can keep it as a regression test, and a shrunk
//! schedule can be replayed.
//!
//! ```json
//! [
//!   {"at": 2.0, "fault": "kill", "value": ["n2"], "duration": 3.0},
//!   {"at": 6.5, "fault": "partition", "value": "halves", "duration": 4.0},
//!   {"at": 8.0, "fault": "pause", "value": "leader"}
//! ]
//! ```
//!
//! `value` is what the nemesis's start request takes (`null` or absent: the nemesis chooses,
//! from the run's seed); without `duration` a fault lasts until the end of the main phase,
//! when everything is healed as in any run. Requests are made in time order; one that is due
//! while an earlier request is still running waits for it. Malformed files are errors naming
//! the file and line. This module must never know about workloads or histories.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::watch;

use crate::nemesis::Nemesis;
use crate::schedule::{request, sleep_unless_stopped, NemesisEvent, NemesisKind};

/// One fault of an explicit schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledFault {
    /// Seconds from the start of the main phase.
    pub at: f64,
    /// The nemesis, as `--nemesis` names it: `kill`, `pause`, `partition`, `clock`, `netem`.
    pub fault: String,
    /// The start request's value; `null` lets the nemesis choose.
    #[serde(default)]
    pub value: Value,
    /// Seconds until the fault is stopped; `None`: at the end of the main phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
}

impl ScheduledFault {
    /// The nemesis this fault needs.
    pub fn kind(&self) -> NemesisKind {
        NemesisKind::ALL
            .into_iter()
            .find(|k| k.name() == self.fault)
            .expect("validated when parsed")
    }
}

/// A schedule file that cannot be used, with the file and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}: {message}")]
pub struct ScheduleFileError {
    /// The file.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong and what to write instead.
    pub message: String,
}

/// Parse and validate a schedule file's text. Every fault names a known nemesis, starts at
/// a finite offset ≥ 0 and lasts a positive, finite time.
pub fn parse_schedule(text: &str, path: &Path) -> Result<Vec<ScheduledFault>, ScheduleFileError> {
    let error = |line: usize, message: String| ScheduleFileError {
        path: path.display().to_string(),
        line,
        message,
    };
    let entries: Vec<&RawValue> = serde_json::from_str(text).map_err(|e| {
        error(
            e.line().max(1),
            format!(
                "{e}; a schedule is a JSON list such as \
                 [{{\"at\": 2.0, \"fault\": \"kill\", \"value\": [\"n2\"], \"duration\": 3.0}}]"
            ),
        )
    })?;
    let mut faults = Vec::with_capacity(entries.len());
    for entry in entries {
        // Where the entry starts in the text: its line, for messages.
        let offset = entry.get().as_ptr() as usize - text.as_ptr() as usize;
        let line = text[..offset].matches('\n').count() + 1;
        let fault: ScheduledFault = serde_json::from_str(entry.get()).map_err(|e| {
            error(
                line + e.line().saturating_sub(1),
                format!("{e}; each fault is {{\"at\": SECS, \"fault\": NAME, \"value\": ..., \"duration\": SECS}}"),
            )
        })?;
        if !NemesisKind::ALL.iter().any(|k| k.name() == fault.fault) {
            let known: Vec<&str> = NemesisKind::ALL.iter().map(|k| k.name()).collect();
            return Err(error(
                line,
                format!(
                    "unknown fault \"{}\"; give one of {}",
                    fault.fault,
                    known.join(", ")
                ),
            ));
        }
        if !(fault.at.is_finite() && fault.at >= 0.0) {
            return Err(error(
                line,
                format!("\"at\": {} is not a number of seconds ≥ 0", fault.at),
            ));
        }
        if let Some(d) = fault.duration {
            if !(d.is_finite() && d > 0.0) {
                return Err(error(
                    line,
                    format!("\"duration\": {d} is not a positive number of seconds"),
                ));
            }
        }
        faults.push(fault);
    }
    Ok(faults)
}

/// The nemeses a schedule needs, each once, in order of first use.
pub fn kinds(faults: &[ScheduledFault]) -> Vec<NemesisKind> {
    let mut kinds = Vec::new();
    for fault in faults {
        if !kinds.contains(&fault.kind()) {
            kinds.push(fault.kind());
        }
    }
    kinds
}

/// One request of the schedule, at its offset.
pub(crate) struct Step {
    at: Duration,
    nemesis: Arc<dyn Nemesis>,
    f: String,
    value: Value,
}

/// The requests of `faults` in time order, each made of the nemesis in `nemeses` whose name
/// is its `fault`; errs naming a fault no nemesis is given for.
pub(crate) fn steps(
    nemeses: &[Arc<dyn Nemesis>],
    faults: &[ScheduledFault],
) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for fault in faults {
        let Some(nemesis) = nemeses.iter().find(|n| n.name() == fault.fault) else {
            return Err(format!(
                "no {} nemesis was built for the schedule",
                fault.fault
            ));
        };
        let at = Duration::from_secs_f64(fault.at);
        steps.push(Step {
            at,
            nemesis: nemesis.clone(),
            f: format!("start-{}", fault.fault),
            value: fault.value.clone(),
        });
        if let Some(d) = fault.duration {
            steps.push(Step {
                at: at + Duration::from_secs_f64(d),
                nemesis: nemesis.clone(),
                f: format!("stop-{}", fault.fault),
                value: Value::Null,
            });
        }
    }
    // Stable: a stop and a start due at the same moment keep the file's order.
    steps.sort_by_key(|s| s.at);
    Ok(steps)
}

/// Make every request at its offset from now until `stop` holds `true` (requests not yet due
/// then are not made).
pub(crate) async fn act_out(
    steps: &[Step],
    events: &UnboundedSender<NemesisEvent>,
    stop: &mut watch::Receiver<bool>,
    rng: &mut StdRng,
) {
    let started = Instant::now();
    for step in steps {
        let due = (started + step.at).saturating_duration_since(Instant::now());
        if !sleep_unless_stopped(due, stop).await {
            break;
        }
        let value = step.value.clone();
        request(events, step.nemesis.as_ref(), &step.f, value, rng).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Result<Vec<ScheduledFault>, ScheduleFileError> {
        parse_schedule(text, Path::new("s.json"))
    }

    #[test]
    fn parses_faults_and_their_nemeses() {
        let faults = parse(
            r#"[
              {"at": 2, "fault": "kill", "value": ["n2"], "duration": 3},
              {"at": 6.5, "fault": "partition", "value": "halves"},
              {"at": 7, "fault": "kill"}
            ]"#,
        )
        .unwrap();
        assert_eq!(faults.len(), 3);
        assert_eq!(faults[0].value, json!(["n2"]));
        assert_eq!(faults[1].duration, None);
        assert_eq!(faults[2].value, Value::Null);
        assert_eq!(
            kinds(&faults),
            vec![NemesisKind::Kill, NemesisKind::Partition]
        );
    }

    #[test]
    fn malformed_files_name_the_line() {
        for (text, line, needle) in [
            (
                "[\n {\"at\": 1, \"fault\": \"kill\"},\n {\"at\": 2, \"fault\": \"meteor\"}\n]",
                3,
                "unknown fault \"meteor\"",
            ),
            (
                "[\n {\"at\": -1, \"fault\": \"kill\"}\n]",
                2,
                "not a number of seconds",
            ),
            (
                "[\n {\"at\": 1, \"fault\": \"kill\", \"duration\": 0}\n]",
                2,
                "positive",
            ),
            (
                "[\n {\"at\": 1, \"fault\": \"kill\",\n  \"durration\": 3}\n]",
                3,
                "unknown field",
            ),
            (
                "[\n {\"at\": 1, \"fault\": \"kill\"}\n",
                3,
                "a schedule is a JSON list",
            ),
            ("{\"at\": 1}", 1, "a schedule is a JSON list"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text}: {e}");
            assert!(e.to_string().contains(needle), "{e}");
            assert!(
                e.to_string().starts_with(&format!("s.json:{line}: ")),
                "{e}"
            );
        }
    }
}
