//! The faults table of a run, in its two forms: the HTML section of the run page and the
//! `faults[]` records of `results.json`, one row per fault with its availability and its
//! recovery, so the page and the file always say the same. The figures come from `faults`
//! and `recovery`; this module only words and shapes them, and must never draw plots or
//! read files.

use std::fmt::Write as _;

use faultline_checkers::history::History;
use serde::Serialize;

use crate::faults::{self, kind_css, FaultInterval};
use crate::html::{esc, table};
use crate::recovery::{self, Figure, KeyRecovery, Recovery};
use crate::stats::{human_ns, Calls};

/// The faults section of a run page: its heading, the table and what the columns mean.
pub(crate) fn section(
    calls: &Calls,
    intervals: &[FaultInterval],
    kinds: &[String],
    recoveries: &[Option<Recovery>],
) -> String {
    let avail = faults::availability(&calls.calls, intervals);
    section_of(&avail, &calls.keys, intervals, kinds, recoveries)
}

/// [`section`] from the figures themselves: the availability during each interval and
/// outside them all (last), and the key names the recoveries' key indices point into.
pub(crate) fn section_of(
    avail: &[faults::Availability],
    keys: &[String],
    intervals: &[FaultInterval],
    kinds: &[String],
    recoveries: &[Option<Recovery>],
) -> String {
    let mut body = String::from("<h2 id=\"faults\">Faults: availability and recovery</h2>");
    if intervals.is_empty() {
        body.push_str("<p class=\"note\">No faults were applied in this run.</p>");
        return body;
    }
    let pct = |a: &faults::Availability| {
        a.share()
            .map_or("no ops".to_string(), |s| format!("{:.1}%", s * 100.0))
    };
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (i, iv) in intervals.iter().enumerate() {
        let k = kinds.iter().position(|k| *k == iv.kind).unwrap_or(0);
        let a = &avail[i];
        let (answer, ok, keys) = match &recoveries[i] {
            None => {
                let not = "not healed before the end".to_string();
                (not.clone(), not, String::new())
            }
            Some(r) => (
                r.text(Figure::FirstAnswer),
                r.text(Figure::FirstOk),
                spanning_keys_text(keys, iv.start, r),
            ),
        };
        rows.push(vec![
            format!(
                "<span class=\"swatch\" style=\"display:inline-block;width:10px;height:10px;background:{}\"></span> {}",
                kind_css(k),
                esc(&iv.kind)
            ),
            esc(&iv.detail),
            format!("{:.3}", iv.start as f64 / 1e9),
            format!("{:.3}", iv.end as f64 / 1e9),
            human_ns(iv.end - iv.start),
            a.invoked.to_string(),
            a.ok.to_string(),
            pct(a),
            esc(&answer),
            esc(&ok),
            esc(&keys),
        ]);
    }
    let outside = avail.last().expect("availability has an outside row");
    let mut last = vec![
        "<i>outside any fault</i>".to_string(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        outside.invoked.to_string(),
        outside.ok.to_string(),
        pct(outside),
    ];
    last.resize(11, String::new());
    rows.push(last);
    body.push_str(&table(
        "faults",
        &[
            "fault",
            "what",
            "from (s)",
            "to (s)",
            "lasted",
            "ops invoked",
            "ok",
            "availability",
            "heal → first answer",
            "heal → first ok",
            "keys spanning the heal",
        ],
        &rows,
    ));
    body.push_str(
        "<p class=\"note\">Availability: the share of client ops invoked during the fault that \
         succeeded. Recovery is measured on the keys that span the heal (the stop's \
         completion): keys with an op invoked before it and another after it, so a key opened \
         after the heal or retired during the fault is not charged to it. Heal → first ok: \
         until an op invoked after the heal succeeded on every such key. Heal → first answer: \
         the same, where a fail the service gave (a cas mismatch, a lost race) also counts, \
         but not a timeout, a refused connection or \u{201c}unavailable\u{201d}. Only ops of the \
         main phase count (the final reads follow the harness's own wait for the cluster), so \
         no figure is longer than the time from its heal to the end of the main phase. The \
         plots mark each heal with a bracket above the data, from the heal to the first ok on \
         every spanning key.</p>",
    );
    body
}

/// The keys a recovery was measured on (the fault began at `fault_start`): each of a few,
/// or how many and the slowest.
fn spanning_keys_text(names: &[String], fault_start: u64, r: &Recovery) -> String {
    let one = |k: &KeyRecovery| {
        let t = |t: Option<u64>| t.map_or(format!("none in {}", human_ns(k.watched)), human_ns);
        let since = if k.first_invoked < fault_start {
            "in use since"
        } else {
            "opened during the fault at"
        };
        format!(
            "{} ({since} {:.3} s): answer {}, ok {}",
            names[k.key as usize],
            k.first_invoked as f64 / 1e9,
            t(k.to_answer),
            t(k.to_ok)
        )
    };
    if r.keys.len() <= 8 {
        let mut keys: Vec<&KeyRecovery> = r.keys.iter().collect();
        // Numeric keys in numeric order, then the rest by text.
        keys.sort_by_key(|k| {
            let name = names[k.key as usize].as_str();
            (name.parse::<f64>().is_err(), name.len(), name)
        });
        return keys.into_iter().map(one).collect::<Vec<_>>().join("; ");
    }
    let mut s = format!("{} keys; slowest ", r.keys.len());
    if let Some(k) = r.slowest() {
        s.push_str(&one(k));
    }
    let never = r.keys.len() - r.keys_with(Figure::FirstOk);
    if never > 0 {
        let _ = write!(s, "; {never} never ok again in the main phase");
    }
    s
}

/// One fault of a run as `results.json` lists it under `faults`.
#[derive(Debug, Clone, Serialize)]
pub struct FaultRecord {
    /// `kill`, `pause`, `partition`, ...
    pub fault: String,
    /// What the start did, e.g. `{"nodes":["n2"]}`.
    pub what: String,
    /// Invocation of the start (s since the start of the run).
    pub start_s: f64,
    /// Completion of the stop, or the end of the history when it was never healed (s).
    pub end_s: f64,
    /// Whether a stop or heal completed.
    pub healed: bool,
    /// Client ops invoked during the fault.
    pub ops_invoked: u64,
    /// Of those, how many succeeded.
    pub ops_ok: u64,
    /// `ops_ok / ops_invoked`; `None` when no op was invoked.
    pub availability: Option<f64>,
    /// Recovery after the heal; `None` when the fault was never healed.
    pub recovery: Option<RecoveryRecord>,
}

/// `faults[].recovery` of `results.json` (see the module doc for the definitions).
#[derive(Debug, Clone, Serialize)]
pub struct RecoveryRecord {
    /// The heal (s since the start).
    pub heal_s: f64,
    /// The end of the main phase (s since the start).
    pub main_phase_end_s: f64,
    /// `measured`, `no key spans this fault` or `healed at the end of the main phase`.
    pub status: &'static str,
    /// How many keys span the heal.
    pub keys_spanning: usize,
    /// Heal to the first ok on every spanning key (s); `None` when some key had none.
    pub time_to_first_ok_s: Option<f64>,
    /// Heal to the first answer (ok or definite fail) on every spanning key (s).
    pub time_to_first_answer_s: Option<f64>,
    /// When `time_to_first_ok_s` is `None`: it exceeds this (s), the longest a key without
    /// an ok was watched after the heal.
    pub time_to_first_ok_over_s: Option<f64>,
    /// The same for `time_to_first_answer_s`.
    pub time_to_first_answer_over_s: Option<f64>,
    /// Spanning keys with an ok after the heal.
    pub keys_ok_again: usize,
    /// Spanning keys with an answer after the heal.
    pub keys_answered_again: usize,
    /// The key slowest to its first ok.
    pub slowest_key: Option<KeyRecord>,
    /// Every spanning key.
    pub keys: Vec<KeyRecord>,
}

/// One spanning key in [`RecoveryRecord`].
#[derive(Debug, Clone, Serialize)]
pub struct KeyRecord {
    /// The key as the history writes it (`-` for unkeyed ops).
    pub key: String,
    /// Invocation of its first op (s since the start).
    pub first_invoked_s: f64,
    /// Heal to its first ok (s); `None`: none in the main phase.
    pub time_to_first_ok_s: Option<f64>,
    /// Heal to its first answer (s); `None`: none in the main phase.
    pub time_to_first_answer_s: Option<f64>,
    /// When a figure is `None`: heal to the completion of its last op in the main phase
    /// (s), which that figure exceeds.
    pub watched_s: Option<f64>,
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

fn key_record(keys: &[String], k: &KeyRecovery) -> KeyRecord {
    KeyRecord {
        key: keys[k.key as usize].clone(),
        first_invoked_s: secs(k.first_invoked),
        time_to_first_ok_s: k.to_ok.map(secs),
        time_to_first_answer_s: k.to_answer.map(secs),
        watched_s: (k.to_ok.is_none() || k.to_answer.is_none()).then(|| secs(k.watched)),
    }
}

/// The faults of the history in a `history.jsonl` file, as [`fault_records`] gives them:
/// what `faultline test` writes into `results.json` without holding the history itself.
/// The file is read in two streaming passes in bounded memory (`stream`): one block of
/// lines, the open calls, and a small record per key and per fault, however long the run.
pub fn fault_records_of_file(
    path: &std::path::Path,
) -> Result<Vec<FaultRecord>, crate::ReportError> {
    let summary = crate::stream::summarize(path, None)?;
    Ok(records_of(
        &summary.intervals,
        &summary.availability,
        &summary.recoveries,
        &summary.keys,
    ))
}

/// The faults of a history with their availability and recovery, as `results.json` keeps
/// them.
pub fn fault_records(history: &History) -> Vec<FaultRecord> {
    let calls = Calls::from_history(history);
    let intervals = faults::fault_intervals(history);
    let avail = faults::availability(&calls.calls, &intervals);
    let recoveries = recovery::recovery(history, &calls, &intervals);
    records_of(&intervals, &avail, &recoveries, &calls.keys)
}

/// The records from the figures: fault intervals, availability during each, recovery after
/// each, and the key names the recoveries point into.
pub(crate) fn records_of(
    intervals: &[FaultInterval],
    avail: &[faults::Availability],
    recoveries: &[Option<Recovery>],
    keys: &[String],
) -> Vec<FaultRecord> {
    intervals
        .iter()
        .zip(avail)
        .zip(recoveries)
        .map(|((iv, a), r)| FaultRecord {
            fault: iv.kind.clone(),
            what: iv.detail.clone(),
            start_s: secs(iv.start),
            end_s: secs(iv.end),
            healed: iv.healed,
            ops_invoked: a.invoked,
            ops_ok: a.ok,
            availability: a.share(),
            recovery: r.as_ref().map(|r| RecoveryRecord {
                heal_s: secs(r.heal),
                main_phase_end_s: secs(r.main_end),
                status: r.status().as_str(),
                keys_spanning: r.keys.len(),
                time_to_first_ok_s: r.every_key(Figure::FirstOk).map(secs),
                time_to_first_answer_s: r.every_key(Figure::FirstAnswer).map(secs),
                time_to_first_ok_over_s: r.at_least(Figure::FirstOk).map(secs),
                time_to_first_answer_over_s: r.at_least(Figure::FirstAnswer).map(secs),
                keys_ok_again: r.keys_with(Figure::FirstOk),
                keys_answered_again: r.keys_with(Figure::FirstAnswer),
                slowest_key: r.slowest().map(|k| key_record(keys, k)),
                keys: r.keys.iter().map(|k| key_record(keys, k)).collect(),
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recovery::tests::{fail, history, kill_then_pause, nemesis, ok};

    #[test]
    fn results_json_records_the_same_figures() {
        let h = kill_then_pause();
        let records = serde_json::to_value(fault_records(&h)).unwrap();
        let kill = &records[0];
        assert_eq!(kill["fault"], "kill");
        assert_eq!(kill["ops_invoked"], 1);
        let rec = &kill["recovery"];
        assert_eq!(rec["status"], "measured");
        assert_eq!(rec["keys_spanning"], 1);
        assert_eq!(rec["slowest_key"]["key"], "7");
        assert_eq!(rec["slowest_key"]["first_invoked_s"], 0.0);
        assert!(
            rec["keys"][0]["watched_s"].is_null(),
            "both figures: no bound"
        );
        assert!((rec["time_to_first_ok_s"].as_f64().unwrap() - 0.060).abs() < 1e-9);
        assert!((rec["time_to_first_answer_s"].as_f64().unwrap() - 0.020).abs() < 1e-9);
        assert!((rec["main_phase_end_s"].as_f64().unwrap() - 0.260).abs() < 1e-9);
        assert_eq!(
            records[1]["recovery"]["status"],
            "healed at the end of the main phase"
        );
    }

    /// The faults section of the page for a history, as text without tags.
    fn table_text(h: &History) -> String {
        let calls = Calls::from_history(h);
        let intervals = faults::fault_intervals(h);
        let kinds = faults::kinds(&intervals);
        let recoveries = recovery::recovery(h, &calls, &intervals);
        let html = section(&calls, &intervals, &kinds, &recoveries);
        let mut text = String::new();
        let mut in_tag = false;
        for c in html.chars() {
            match c {
                '<' => in_tag = true,
                '>' => {
                    in_tag = false;
                    text.push('|');
                }
                c if !in_tag => text.push(c),
                _ => {}
            }
        }
        text
    }

    #[test]
    fn the_page_names_the_spanning_keys_and_says_when_none_spans() {
        let h = history(vec![
            ok(0, 1, 0, 10),
            // Kill: key 1 is retired during it, key 2 opens after the heal.
            nemesis("start-kill", 100, 101),
            ok(0, 1, 110, 120),
            nemesis("stop-kill", 199, 200),
            ok(0, 2, 400, 450),
            // Pause: key 2 spans it; a cas mismatch answers before the first ok.
            nemesis("start-pause", 500, 501),
            fail(0, 2, 510, 600, "no answer from n1 within 1s"),
            nemesis("stop-pause", 699, 700),
            fail(0, 2, 700, 720, "cas mismatch"),
            ok(0, 2, 720, 800),
            ok(0, 3, 900, 910),
            nemesis("heal", 1_000, 1_001),
        ]);
        let text = table_text(&h);
        assert!(
            text.contains("|no key spans this fault||no key spans this fault|"),
            "{text}"
        );
        assert!(
            text.contains(
                "|20.0 ms||100.0 ms||2 (in use since 0.400 s): answer 20.0 ms, ok 100.0 ms|"
            ),
            "{text}"
        );
    }
}
