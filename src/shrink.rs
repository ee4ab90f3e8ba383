//! `faultline shrink RUN_DIR`: from an invalid run to the smallest run that still shows its
//! anomaly. The run's faults are read back from its history as an explicit schedule
//! (offsets, targets, durations); then, rerunning the test each time, it cuts the schedule
//! with Zeller's ddmin (fewer faults), shortens each fault, the time limit and the
//! concurrency — keeping a candidate only when the anomaly (an `invalid` verdict from the
//! same checkers) comes back in at least `--min-repro` of `--tries` runs, because a real
//! cluster does not repeat itself. Every attempt is an ordinary run in the store; the
//! original run gets `shrink.json` (every attempt, and the final command) and
//! `shrunk-schedule.json`, which `faultline test --nemesis-schedule` replays.
//!
//! This module must never judge a history itself: the reruns' own checkers do.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use faultline_nemeses::explicit::ScheduledFault;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::Value;

use crate::cli::ShrinkArgs;
use crate::exit::bad_input;

/// The smallest time limit a candidate is given, in seconds.
const MIN_TIME_LIMIT: f64 = 3.0;
/// Seconds a candidate runs past the end of its last fault.
const TAIL: f64 = 2.0;

/// One candidate: a schedule and the run's size.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Candidate {
    faults: Vec<ScheduledFault>,
    time_limit: f64,
    concurrency: usize,
}

/// One rerun of a candidate.
#[derive(Debug, Clone, Serialize)]
struct Attempt {
    faults: usize,
    time_limit: f64,
    concurrency: usize,
    run: Option<PathBuf>,
    exit: Option<i32>,
    reproduced: bool,
}

/// What `shrink.json` holds.
#[derive(Debug, Serialize)]
struct Outcome<'a> {
    original: &'a Path,
    tries: usize,
    min_repro: usize,
    attempts: &'a [Attempt],
    result: &'a Candidate,
    command: String,
}

/// Run `faultline shrink`; the exit code is 0 when a smaller reproducing run was found (or
/// the original could not be cut), 1 when the anomaly did not reproduce at all.
pub fn run(args: &ShrinkArgs) -> Result<i32> {
    let dir = &args.run_dir;
    let spec = read_json(&dir.join("test.json"))?;
    let results = read_json(&dir.join("results.json"))?;
    if results["valid"] != Value::Bool(false) {
        bad_input!(
            "{}: the run is not invalid (results.json valid = {}); shrink starts from a run that found an anomaly",
            dir.display(),
            results["valid"]
        );
    }
    if args.tries == 0 || args.min_repro == 0 || args.min_repro > args.tries {
        bad_input!(
            "--min-repro {} of --tries {}: give 1 ≤ min-repro ≤ tries, e.g. --tries 3 --min-repro 2",
            args.min_repro,
            args.tries
        );
    }
    let invalid_checkers = invalid_checkers(&results);
    let rerun = spec["rerun"]
        .as_str()
        .context("test.json has no rerun line")?;
    let base = base_args(rerun)?;
    let faults = schedule_of(&dir.join("history.jsonl"))?;
    let original = Candidate {
        faults,
        time_limit: spec["time_limit"].as_f64().unwrap_or(60.0),
        concurrency: spec["concurrency"].as_u64().unwrap_or(10) as usize,
    };
    let store = args.store.clone().unwrap_or_else(|| {
        dir.parent()
            .and_then(Path::parent)
            .map_or_else(|| PathBuf::from("store"), Path::to_path_buf)
    });
    let work = tempfile::tempdir().context("cannot make a folder for candidate schedules")?;
    let mut shrinker = Shrinker {
        base,
        store,
        work: work.path().to_path_buf(),
        invalid_checkers,
        tries: args.tries,
        min_repro: args.min_repro,
        deadline: Instant::now() + Duration::from_secs_f64(args.budget),
        attempts: Vec::new(),
        bar: ProgressBar::new_spinner(),
        name: format!("{}-shrink", spec["name"].as_str().unwrap_or("faultline")),
    };
    shrinker.bar.set_style(
        ProgressStyle::with_template("{spinner} shrinking [{elapsed}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    shrinker.bar.enable_steady_tick(Duration::from_millis(200));
    println!(
        "shrinking {}: {} faults, {:.0} s, {} workers; keeping a candidate when {} of {} reruns are invalid",
        dir.display(),
        original.faults.len(),
        original.time_limit,
        original.concurrency,
        args.min_repro,
        args.tries
    );
    let best = shrinker.shrink(original.clone())?;
    shrinker.bar.finish_and_clear();
    let schedule_file = dir.join("shrunk-schedule.json");
    std::fs::write(&schedule_file, serde_json::to_string_pretty(&best.faults)?)
        .with_context(|| format!("cannot write {}", schedule_file.display()))?;
    let command = shrinker.command(&best, &schedule_file);
    let reproduced_any = shrinker.attempts.iter().any(|a| a.reproduced);
    let outcome = Outcome {
        original: dir,
        tries: args.tries,
        min_repro: args.min_repro,
        attempts: &shrinker.attempts,
        result: &best,
        command: command.clone(),
    };
    std::fs::write(
        dir.join("shrink.json"),
        serde_json::to_string_pretty(&outcome)?,
    )?;
    println!(
        "{} attempts; smallest reproducing run: {} faults, {:.1} s, {} workers",
        shrinker.attempts.len(),
        best.faults.len(),
        best.time_limit,
        best.concurrency
    );
    println!("rerun it: {command}");
    match faultline_reports::render_run(dir) {
        Ok(page) => println!("report: {}", page.display()),
        Err(e) => tracing::warn!("the report could not be rendered again: {e}"),
    }
    Ok(if reproduced_any || best == original {
        0
    } else {
        1
    })
}

fn read_json(path: &Path) -> Result<Value> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => bad_input!("{}: {e}; give a run folder of the store", path.display()),
    };
    match serde_json::from_str(&text) {
        Ok(value) => Ok(value),
        Err(e) => bad_input!("{}: {e}", path.display()),
    }
}

/// The checkers that found the run invalid.
fn invalid_checkers(results: &Value) -> BTreeSet<String> {
    results["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["valid"] == Value::Bool(false))
        .filter_map(|r| r["checker"].as_str().map(str::to_string))
        .collect()
}

/// The rerun line's arguments without the ones a candidate sets itself.
fn base_args(rerun: &str) -> Result<Vec<String>> {
    let Some(words) = shlex::split(rerun) else {
        bad_input!("test.json's rerun line cannot be split into arguments: {rerun}");
    };
    let mut out = Vec::new();
    let mut words = words.into_iter().skip_while(|w| w != "test").skip(1);
    const OWN: [&str; 6] = [
        "--nemesis",
        "--nemesis-schedule",
        "--nemesis-interval",
        "--time-limit",
        "--concurrency",
        "--store",
    ];
    while let Some(word) = words.next() {
        if OWN.contains(&word.as_str()) {
            words.next();
        } else if word != "--stop-on-anomaly" && word != "--name" {
            out.push(word);
        } else if word == "--name" {
            words.next();
        }
    }
    Ok(out)
}

/// The run's faults, read back from its history: each `start-*` request with the nodes it
/// hit (for process faults) or its value, and the time until its `stop-*`.
fn schedule_of(history: &Path) -> Result<Vec<ScheduledFault>> {
    let text = std::fs::read_to_string(history)
        .with_context(|| format!("cannot read {}", history.display()))?;
    let ops: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|op| op["process"] == "nemesis")
        .collect();
    let mut faults: Vec<ScheduledFault> = Vec::new();
    let mut open: Vec<(String, usize)> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let (Some(f), Some(time)) = (op["f"].as_str(), op["time"].as_f64()) else {
            continue;
        };
        let secs = time / 1e9;
        if op["type"] != "invoke" {
            continue;
        }
        if let Some(fault) = f.strip_prefix("start-") {
            // The completion says what the nemesis actually did.
            let done = ops[i + 1..]
                .iter()
                .find(|o| o["f"] == f && o["type"] != "invoke");
            let applied = done.is_some_and(|d| d.get("error").is_none_or(Value::is_null));
            if !applied {
                continue;
            }
            let value = match done.map(|d| &d["value"]) {
                Some(detail) if detail["nodes"].is_array() && matches!(fault, "kill" | "pause") => {
                    detail["nodes"].clone()
                }
                _ => op["value"].clone(),
            };
            open.push((fault.to_string(), faults.len()));
            faults.push(ScheduledFault {
                at: secs,
                fault: fault.to_string(),
                value,
                duration: None,
            });
        } else if let Some(fault) = f.strip_prefix("stop-") {
            if let Some(k) = open.iter().position(|(name, _)| name == fault) {
                let (_, at) = open.remove(k);
                faults[at].duration = Some((secs - faults[at].at).max(0.1));
            }
        }
    }
    Ok(faults)
}

struct Shrinker {
    base: Vec<String>,
    store: PathBuf,
    work: PathBuf,
    invalid_checkers: BTreeSet<String>,
    tries: usize,
    min_repro: usize,
    deadline: Instant,
    attempts: Vec<Attempt>,
    bar: ProgressBar,
    name: String,
}

impl Shrinker {
    fn out_of_time(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Fewer faults (ddmin), then shorter faults, a shorter run and fewer workers.
    fn shrink(&mut self, original: Candidate) -> Result<Candidate> {
        let mut best = original;
        best.time_limit = best.time_limit.min(fit_time(&best.faults, best.time_limit));
        // No fault at all is the smallest schedule there is: try it first.
        let none = Candidate {
            faults: Vec::new(),
            time_limit: best.time_limit,
            concurrency: best.concurrency,
        };
        if self.reproduces(&none)? {
            best = none;
        } else {
            best = self.ddmin(best)?;
        }
        for i in 0..best.faults.len() {
            loop {
                let mut shorter = best.clone();
                let Some(d) = shorter.faults[i].duration else {
                    shorter.faults[i].duration =
                        Some((best.time_limit - shorter.faults[i].at).max(1.0) / 2.0);
                    if self.reproduces(&shorter)? {
                        best = shorter;
                        continue;
                    }
                    break;
                };
                if d < 1.0 {
                    break;
                }
                shorter.faults[i].duration = Some(d / 2.0);
                if !self.reproduces(&shorter)? {
                    break;
                }
                best = shorter;
            }
        }
        loop {
            let mut shorter = best.clone();
            shorter.time_limit = fit_time(&best.faults, best.time_limit / 2.0);
            if shorter.time_limit >= best.time_limit || !self.reproduces(&shorter)? {
                break;
            }
            best = shorter;
        }
        while best.concurrency > 2 {
            let mut fewer = best.clone();
            fewer.concurrency = (best.concurrency / 2).max(2);
            if !self.reproduces(&fewer)? {
                break;
            }
            best = fewer;
        }
        Ok(best)
    }

    /// The faults cut down by [`ddmin`].
    fn ddmin(&mut self, best: Candidate) -> Result<Candidate> {
        let faults = ddmin(best.faults.clone(), &mut |subset: &[ScheduledFault]| {
            self.reproduces(&Candidate {
                faults: subset.to_vec(),
                ..best.clone()
            })
        })?;
        Ok(Candidate { faults, ..best })
    }

    /// Rerun `candidate` until it reproduced `min_repro` times or cannot any more.
    fn reproduces(&mut self, candidate: &Candidate) -> Result<bool> {
        if self.out_of_time() {
            return Ok(false);
        }
        let schedule = self
            .work
            .join(format!("schedule-{}.json", self.attempts.len()));
        std::fs::write(&schedule, serde_json::to_string_pretty(&candidate.faults)?)?;
        let mut hits = 0;
        for done in 0..self.tries {
            if hits >= self.min_repro || hits + (self.tries - done) < self.min_repro {
                break;
            }
            if self.out_of_time() {
                return Ok(false);
            }
            self.bar.set_message(format!(
                "attempt {}: {} faults, {:.1} s, {} workers (try {} of {})",
                self.attempts.len() + 1,
                candidate.faults.len(),
                candidate.time_limit,
                candidate.concurrency,
                done + 1,
                self.tries
            ));
            let attempt = self.rerun(candidate, &schedule)?;
            hits += usize::from(attempt.reproduced);
            self.attempts.push(attempt);
        }
        Ok(hits >= self.min_repro)
    }

    fn args(&self, candidate: &Candidate, schedule: &Path) -> Vec<String> {
        let mut args = vec!["test".to_string()];
        args.extend(self.base.iter().cloned());
        args.extend([
            "--time-limit".to_string(),
            format!("{:.1}", candidate.time_limit),
            "--concurrency".to_string(),
            candidate.concurrency.to_string(),
        ]);
        if candidate.faults.is_empty() {
            args.extend(["--nemesis".to_string(), "none".to_string()]);
        } else {
            args.extend([
                "--nemesis-schedule".to_string(),
                schedule.display().to_string(),
            ]);
        }
        args
    }

    fn rerun(&self, candidate: &Candidate, schedule: &Path) -> Result<Attempt> {
        let exe = std::env::current_exe().context("cannot find faultline's own binary")?;
        let output = std::process::Command::new(exe)
            .args(self.args(candidate, schedule))
            .args([
                "--store",
                &self.store.display().to_string(),
                "--name",
                &self.name,
            ])
            .arg("--no-progress")
            .output()
            .context("cannot rerun the test")?;
        let run = std::fs::canonicalize(self.store.join(&self.name).join("latest")).ok();
        let reproduced = output.status.code() == Some(1)
            && run.as_ref().is_some_and(|run| {
                read_json(&run.join("results.json"))
                    .map(|r| invalid_checkers(&r).is_superset(&self.invalid_checkers))
                    .unwrap_or(false)
            });
        Ok(Attempt {
            faults: candidate.faults.len(),
            time_limit: candidate.time_limit,
            concurrency: candidate.concurrency,
            run,
            exit: output.status.code(),
            reproduced,
        })
    }

    /// The command that replays `best` (its schedule written to `schedule`).
    fn command(&self, best: &Candidate, schedule: &Path) -> String {
        let mut words = vec!["faultline".to_string()];
        words.extend(self.args(best, schedule));
        shlex::try_join(words.iter().map(String::as_str)).unwrap_or_else(|_| words.join(" "))
    }
}

/// At least `wanted` seconds, and long enough for every fault to start and end (plus a
/// little after), never below [`MIN_TIME_LIMIT`].
fn fit_time(faults: &[ScheduledFault], wanted: f64) -> f64 {
    let end = faults
        .iter()
        .map(|f| f.at + f.duration.unwrap_or(0.0))
        .fold(0.0f64, f64::max);
    wanted.max(end + TAIL).max(MIN_TIME_LIMIT)
}

/// Zeller's ddmin: a 1-minimal subset of `items` for which `fails` holds (`fails(items)` is
/// assumed). Tries each of `n` chunks, then each complement, doubling `n` when neither fails.
fn ddmin<T: Clone>(
    mut items: Vec<T>,
    fails: &mut dyn FnMut(&[T]) -> Result<bool>,
) -> Result<Vec<T>> {
    let mut n = 2usize;
    while items.len() >= 2 {
        let chunks = split(&items, n);
        let mut reduced = false;
        for (k, chunk) in chunks.iter().enumerate() {
            if fails(chunk)? {
                items = chunk.clone();
                n = 2;
                reduced = true;
                break;
            }
            if chunks.len() > 2 {
                let complement: Vec<T> = chunks
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != k)
                    .flat_map(|(_, c)| c.iter().cloned())
                    .collect();
                if fails(&complement)? {
                    items = complement;
                    n = (n - 1).max(2);
                    reduced = true;
                    break;
                }
            }
        }
        if !reduced {
            if n >= items.len() {
                break;
            }
            n = (2 * n).min(items.len());
        }
    }
    Ok(items)
}

/// `items` in `n` contiguous chunks of nearly equal size.
fn split<T: Clone>(items: &[T], n: usize) -> Vec<Vec<T>> {
    let n = n.clamp(1, items.len().max(1));
    let size = items.len().div_ceil(n);
    items.chunks(size.max(1)).map(<[T]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rerun_line_loses_what_a_candidate_sets() {
        let base = base_args(
            "faultline test --system reference --nemesis kill,pause --nemesis-interval 3 \
             --time-limit 60 --concurrency 2n --rate 100 --seed 7 --bug lost-writes --name x",
        )
        .unwrap();
        assert_eq!(
            base,
            [
                "--system",
                "reference",
                "--rate",
                "100",
                "--seed",
                "7",
                "--bug",
                "lost-writes"
            ]
        );
    }

    #[test]
    fn ddmin_finds_the_two_faults_that_matter() {
        let mut asked = 0;
        let found = ddmin((0..16).collect::<Vec<u32>>(), &mut |s: &[u32]| {
            asked += 1;
            Ok(s.contains(&3) && s.contains(&11))
        })
        .unwrap();
        assert_eq!(found, vec![3, 11]);
        assert!(asked < 40, "{asked} reruns");
        let one = ddmin((0..9).collect::<Vec<u32>>(), &mut |s: &[u32]| {
            Ok(s.contains(&7))
        })
        .unwrap();
        assert_eq!(one, vec![7]);
    }

    #[test]
    fn chunks_cover_every_fault_once() {
        let faults: Vec<u32> = (0..7).collect();
        let chunks = split(&faults, 3);
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks.concat(), faults);
        assert_eq!(split(&faults, 100).len(), 7);
    }

    #[test]
    fn a_schedule_is_read_back_from_the_history() {
        let dir = tempfile::tempdir().unwrap();
        let history = dir.path().join("history.jsonl");
        std::fs::write(
            &history,
            [
                r#"{"format":"faultline-history","version":1}"#,
                r#"{"index":0,"time":1000000000,"process":"nemesis","type":"invoke","f":"start-kill","value":null}"#,
                r#"{"index":1,"time":1100000000,"process":"nemesis","type":"info","f":"start-kill","value":{"target":"one","nodes":["n2"]}}"#,
                r#"{"index":2,"time":4000000000,"process":"nemesis","type":"invoke","f":"stop-kill","value":null}"#,
                r#"{"index":3,"time":4100000000,"process":"nemesis","type":"info","f":"stop-kill","value":{"nodes":["n2"]}}"#,
                r#"{"index":4,"time":5000000000,"process":"nemesis","type":"invoke","f":"start-pause","value":null}"#,
                r#"{"index":5,"time":5100000000,"process":"nemesis","type":"info","f":"start-pause","value":null,"error":"skipped: no node left"}"#,
            ]
            .join("\n"),
        )
        .unwrap();
        let faults = schedule_of(&history).unwrap();
        assert_eq!(faults.len(), 1, "a skipped fault is not replayed");
        assert_eq!(faults[0].fault, "kill");
        assert_eq!(faults[0].value, serde_json::json!(["n2"]));
        assert_eq!(faults[0].at, 1.0);
        assert_eq!(faults[0].duration, Some(3.0));
    }
}
