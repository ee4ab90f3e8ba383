//! The `clock` nemesis: skew one node's wall clock by an offset (`start-clock` with a skew),
//! or strobe it (flip between the offset and true time every period until stopped), and
//! reset it (`stop-clock`). It acts through the [`Clock`] seam, which has two
//! implementations here:
//!
//! - [`FaketimeClock`]: the node's process runs under libfaketime with
//!   `FAKETIME_TIMESTAMP_FILE` pointing at a per-node file; the offset is written to that file
//!   (`+60.000`), so the host clock is never touched. Honoured by programs that read the time
//!   through libc (C, Rust, Java); not by Go binaries such as etcd, which read it from the
//!   vDSO directly.
//! - [`RealClock`] (`--clock-mode real`): `date -s` on the node through [`Control::exec`],
//!   shifting the clock by the difference between the offset in effect and the one wanted.
//!   Meant for SSH or docker nodes that are whole machines; never used on the local target.
//!
//! Every offset is written to the [`Ledger`] before it is applied, so a heal resets it.
//! This module must never change a clock except through `Clock`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::Rng;
use serde_json::{json, Value};

use crate::control::{exec_ok, Control, ControlError};
use crate::ledger::Ledger;
use crate::nemesis::Outcome;
use crate::start_stop::StartStop;

/// How a node's clock is moved.
#[async_trait]
pub trait Clock: Send + Sync {
    /// The names of the nodes, in a stable order.
    fn nodes(&self) -> Vec<String>;
    /// How the clock is moved (`libfaketime`, `date -s`), for the history.
    fn method(&self) -> String;
    /// Move `node`'s clock from `from_ms` ahead of true time (as far as the caller knows)
    /// to `to_ms` ahead (negative: behind). `to_ms == 0` resets it.
    async fn set_offset(&self, node: &str, from_ms: i64, to_ms: i64) -> Result<(), ControlError>;
}

/// libfaketime offsets written to one control file per node.
pub struct FaketimeClock {
    control: Arc<dyn Control>,
    files: BTreeMap<String, String>,
}

impl FaketimeClock {
    /// Clocks of `control`'s nodes, each read by libfaketime from `files[node]`.
    pub fn new(control: Arc<dyn Control>, files: BTreeMap<String, String>) -> Self {
        FaketimeClock { control, files }
    }

    /// The content of a control file for an offset: `+60.000`, `-0.250`, `+0`.
    pub fn format(offset_ms: i64) -> String {
        if offset_ms == 0 {
            return "+0".to_string();
        }
        let sign = if offset_ms < 0 { '-' } else { '+' };
        let abs = offset_ms.unsigned_abs();
        format!("{sign}{}.{:03}", abs / 1000, abs % 1000)
    }
}

#[async_trait]
impl Clock for FaketimeClock {
    fn nodes(&self) -> Vec<String> {
        self.control.nodes()
    }
    fn method(&self) -> String {
        "libfaketime".to_string()
    }
    async fn set_offset(&self, node: &str, _from_ms: i64, to_ms: i64) -> Result<(), ControlError> {
        let file = self.files.get(node).ok_or_else(|| {
            ControlError::failed(node, "clock", "the node was not started under libfaketime")
        })?;
        self.control
            .write_file(node, file, &format!("{}\n", Self::format(to_ms)))
            .await
    }
}

/// The node's real clock, moved with `date -s` (whole seconds).
pub struct RealClock {
    control: Arc<dyn Control>,
}

impl RealClock {
    /// Real clocks of `control`'s nodes.
    pub fn new(control: Arc<dyn Control>) -> Self {
        RealClock { control }
    }
}

#[async_trait]
impl Clock for RealClock {
    fn nodes(&self) -> Vec<String> {
        self.control.nodes()
    }
    fn method(&self) -> String {
        "date -s".to_string()
    }
    async fn set_offset(&self, node: &str, from_ms: i64, to_ms: i64) -> Result<(), ControlError> {
        let delta_s = ((to_ms - from_ms) as f64 / 1000.0).round() as i64;
        if delta_s == 0 {
            return Ok(());
        }
        let script = format!("date -s \"@$(( $(date +%s) + ({delta_s}) ))\" > /dev/null");
        exec_ok(self.control.as_ref(), node, "sh", &["-c", &script]).await?;
        Ok(())
    }
}

/// What `--clock-*` options ask of the clock nemesis.
#[derive(Debug, Clone, PartialEq)]
pub struct ClockOptions {
    /// Offsets a skew chooses among, milliseconds (each used with either sign).
    pub offsets_ms: Vec<i64>,
    /// Whether `null` requests may skew.
    pub skew: bool,
    /// Whether `null` requests may strobe (with `skew` too: either, at random).
    pub strobe: bool,
    /// How long a strobe holds each of its two states.
    pub strobe_period: Duration,
}

impl Default for ClockOptions {
    fn default() -> Self {
        ClockOptions {
            offsets_ms: vec![60_000],
            skew: true,
            strobe: true,
            strobe_period: Duration::from_millis(500),
        }
    }
}

/// Offsets a node's clock is at now, shared with strobe tasks.
type Offsets = Arc<Mutex<BTreeMap<String, i64>>>;

/// The `clock` nemesis.
pub struct ClockNemesis {
    clock: Arc<dyn Clock>,
    ledger: Arc<Ledger>,
    options: ClockOptions,
    current: Offsets,
    strobes: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl ClockNemesis {
    /// Clock faults through `clock`.
    pub fn new(clock: Arc<dyn Clock>, ledger: Arc<Ledger>, options: ClockOptions) -> Self {
        let current = Arc::new(Mutex::new(ledger.snapshot().clock));
        ClockNemesis {
            clock,
            ledger,
            options,
            current,
            strobes: Mutex::default(),
        }
    }
}

/// Record `to` for `node`, then move its clock there.
async fn set(
    clock: &Arc<dyn Clock>,
    ledger: &Ledger,
    current: &Offsets,
    node: &str,
    to: i64,
) -> Result<(), String> {
    let from = current
        .lock()
        .expect("offsets")
        .get(node)
        .copied()
        .unwrap_or(0);
    // Record the fault before applying it; a reset is recorded (cleared) after.
    if to != 0 {
        ledger
            .update(|s| {
                s.clock.insert(node.to_string(), to);
            })
            .map_err(|e| format!("not applied, the ledger could not record it: {e}"))?;
    }
    clock
        .set_offset(node, from, to)
        .await
        .map_err(|e| e.to_string())?;
    let mut cur = current.lock().expect("offsets");
    if to == 0 {
        cur.remove(node);
    } else {
        cur.insert(node.to_string(), to);
    }
    drop(cur);
    if to == 0 {
        ledger
            .update(|s| {
                s.clock.remove(node);
            })
            .map_err(|e| format!("reset, but the ledger could not record it: {e}"))?;
    }
    Ok(())
}

/// Reset every clock `ledger` holds as skewed; `None` when it holds none. Used by the
/// nemesis and by `faultline heal` (with the ledger read back from the run folder).
pub async fn reset_clocks(
    clock: &Arc<dyn Clock>,
    ledger: &Ledger,
    current: &Offsets,
) -> Option<Outcome> {
    let held = ledger.snapshot().clock;
    if held.is_empty() {
        return None;
    }
    {
        let mut cur = current.lock().expect("offsets");
        for (node, offset) in &held {
            cur.entry(node.clone()).or_insert(*offset);
        }
    }
    let mut reset = Vec::new();
    let mut errors = Vec::new();
    for node in held.keys() {
        match set(clock, ledger, current, node, 0).await {
            Ok(()) => reset.push(node.clone()),
            Err(e) => errors.push(format!("node {node}: clock reset failed: {e}")),
        }
    }
    Some(if errors.is_empty() {
        Outcome::Applied(json!({ "reset": reset }))
    } else {
        Outcome::Indeterminate(format!("reset {}; {}", reset.join(", "), errors.join("; ")))
    })
}

/// [`reset_clocks`] for a fresh process: the offsets in effect are taken from the ledger.
pub async fn reset_ledger_clocks(clock: &Arc<dyn Clock>, ledger: &Ledger) -> Option<Outcome> {
    let current: Offsets = Arc::new(Mutex::new(ledger.snapshot().clock));
    reset_clocks(clock, ledger, &current).await
}

#[async_trait]
impl StartStop for ClockNemesis {
    const FAULT: &'static str = "clock";
    const NOTHING_TO_STOP: &'static str = "no clock is skewed";

    async fn start(&self, value: &Value, rng: &mut StdRng) -> Outcome {
        let all = self.clock.nodes();
        let pick_node = |rng: &mut StdRng| all.choose(rng).cloned();
        let pick_offset = |rng: &mut StdRng| {
            let abs = self
                .options
                .offsets_ms
                .choose(rng)
                .copied()
                .unwrap_or(60_000);
            if rng.random_bool(0.5) {
                abs
            } else {
                -abs
            }
        };
        let (mode, node, offset) = match value {
            Value::Null => {
                let strobe = match (self.options.skew, self.options.strobe) {
                    (true, true) => rng.random_bool(0.5),
                    (skew, strobe) => strobe && !skew,
                };
                let Some(node) = pick_node(rng) else {
                    return Outcome::Skipped("there is no node".to_string());
                };
                (if strobe { "strobe" } else { "skew" }, node, pick_offset(rng))
            }
            Value::Object(map) => {
                let mode = if map.contains_key("period_ms") { "strobe" } else { "skew" };
                let node = match map.get("node").and_then(Value::as_str) {
                    Some(n) => n.to_string(),
                    None => match pick_node(rng) {
                        Some(n) => n,
                        None => return Outcome::Skipped("there is no node".to_string()),
                    },
                };
                let offset = map
                    .get("offset_ms")
                    .and_then(Value::as_i64)
                    .unwrap_or_else(|| pick_offset(rng));
                (mode, node, offset)
            }
            other => {
                return Outcome::Skipped(format!(
                    "clock value {other} is not understood; give null or {{\"node\", \"offset_ms\", \"period_ms\"}}"
                ))
            }
        };
        if !all.contains(&node) {
            return Outcome::Skipped(format!(
                "{node} is not one of the nodes ({})",
                all.join(", ")
            ));
        }
        if let Some(Outcome::Indeterminate(why)) = self.stop().await {
            return Outcome::Indeterminate(format!(
                "could not reset the previous clock fault: {why}"
            ));
        }
        let detail = json!({
            "mode": mode, "node": node, "offset_ms": offset, "via": self.clock.method(),
        });
        if let Err(e) = set(&self.clock, &self.ledger, &self.current, &node, offset).await {
            return Outcome::Indeterminate(format!("{detail}: {e}"));
        }
        if mode == "strobe" {
            let period = value
                .get("period_ms")
                .and_then(Value::as_u64)
                .map(Duration::from_millis)
                .unwrap_or(self.options.strobe_period);
            let (clock, ledger, current) = (
                self.clock.clone(),
                self.ledger.clone(),
                self.current.clone(),
            );
            let task = tokio::spawn(async move {
                let mut on = true;
                loop {
                    tokio::time::sleep(period).await;
                    on = !on;
                    let to = if on { offset } else { 0 };
                    if let Err(e) = set(&clock, &ledger, &current, &node, to).await {
                        tracing::warn!("clock strobe: {e}");
                    }
                }
            });
            self.strobes.lock().expect("strobes").push(task);
            let mut detail = detail;
            detail["period_ms"] = json!(period.as_millis() as u64);
            return Outcome::Applied(detail);
        }
        Outcome::Applied(detail)
    }

    async fn stop(&self) -> Option<Outcome> {
        let strobes: Vec<_> = self.strobes.lock().expect("strobes").drain(..).collect();
        for task in strobes {
            task.abort();
            let _ = task.await;
        }
        reset_clocks(&self.clock, &self.ledger, &self.current).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nemesis::{FaultRequest, Nemesis};
    use crate::start_stop::Serialised;
    use crate::testing::FakeShell;
    use rand::SeedableRng;

    fn faketime(shell: &Arc<FakeShell>) -> Arc<dyn Clock> {
        let files = (1..=3)
            .map(|i| (format!("n{i}"), format!("/run/n{i}.faketime")))
            .collect();
        Arc::new(FaketimeClock::new(shell.clone(), files))
    }

    #[test]
    fn offsets_format_for_libfaketime() {
        assert_eq!(FaketimeClock::format(60_000), "+60.000");
        assert_eq!(FaketimeClock::format(-250), "-0.250");
        assert_eq!(FaketimeClock::format(0), "+0");
    }

    #[tokio::test]
    async fn a_skew_is_recorded_written_and_reset() {
        let shell = Arc::new(FakeShell::new(3, &[]));
        let ledger = Arc::new(Ledger::in_memory());
        let nemesis = Serialised::new(ClockNemesis::new(
            faketime(&shell),
            ledger.clone(),
            ClockOptions::default(),
        ));
        let mut rng = StdRng::seed_from_u64(2);
        let out = nemesis
            .invoke(
                &FaultRequest::new("start-clock", json!({"node": "n2", "offset_ms": -60000})),
                &mut rng,
            )
            .await;
        assert!(out.is_applied(), "{out:?}");
        assert_eq!(shell.file("n2", "/run/n2.faketime").unwrap(), "-60.000\n");
        assert_eq!(ledger.snapshot().clock["n2"], -60_000);
        assert!(nemesis.heal().await[0].is_applied());
        assert_eq!(shell.file("n2", "/run/n2.faketime").unwrap(), "+0\n");
        assert!(ledger.snapshot().is_empty());
        assert!(nemesis.heal().await.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_strobe_flips_until_stopped() {
        let shell = Arc::new(FakeShell::new(3, &[]));
        let ledger = Arc::new(Ledger::in_memory());
        let nemesis = Serialised::new(ClockNemesis::new(
            faketime(&shell),
            ledger.clone(),
            ClockOptions::default(),
        ));
        let mut rng = StdRng::seed_from_u64(2);
        let request = json!({"node": "n1", "offset_ms": 5000, "period_ms": 100});
        assert!(nemesis
            .invoke(&FaultRequest::new("start-clock", request), &mut rng)
            .await
            .is_applied());
        tokio::time::sleep(Duration::from_millis(450)).await;
        let writes = shell.commands("n1").len();
        assert!(writes >= 4, "{:?}", shell.commands("n1"));
        let stop = nemesis
            .invoke(&FaultRequest::new("stop-clock", Value::Null), &mut rng)
            .await;
        assert!(stop.is_applied(), "{stop:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(shell.commands("n1").len(), writes + 1, "the strobe stopped");
        assert_eq!(shell.file("n1", "/run/n1.faketime").unwrap(), "+0\n");
    }

    #[tokio::test]
    async fn real_clocks_shift_by_the_difference() {
        let shell = Arc::new(FakeShell::new(3, &[]));
        let clock = RealClock::new(shell.clone());
        clock.set_offset("n3", 0, 60_000).await.unwrap();
        clock.set_offset("n3", 60_000, 0).await.unwrap();
        let commands = shell.commands("n3");
        assert!(commands[0].contains("+ (60)"), "{commands:?}");
        assert!(commands[1].contains("+ (-60)"), "{commands:?}");
    }
}
