//! The ledger of applied faults: which nodes are killed or paused, which drop packets from
//! which peers (partitions), which carry a netem qdisc on which devices, which have link
//! faults made another way (NFQUEUE, statistic, tbf, relays), whose clock is skewed by
//! how much, and which were removed from the cluster's membership. Kept in memory and, when given a path, in a small JSON state file so
//! `faultline heal RUN_DIR` can undo faults after the harness itself was killed.
//!
//! A fault is recorded (and the file rewritten: temp file, fsync, rename) *before* it is
//! applied, and removed only after it was undone, so the file never misses a fault that may
//! be in effect. This module must never act on nodes; it only remembers.
//!
//! ```
//! use faultline_nemeses::ledger::{Fault, Ledger};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("nemesis-state.json");
//! let ledger = Ledger::create(&path).unwrap();
//! ledger.record(Fault::Killed, &["n2".to_string()]).unwrap();
//! // ... the harness dies here; later, `faultline heal` reads the file back:
//! let again = Ledger::load(&path).unwrap();
//! assert!(again.contains(Fault::Killed, "n2"));
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use crate::link_fault::LinkRecord;
use crate::nemesis::Outcome;

/// The conventional name of the state file inside a run folder.
pub const LEDGER_FILE_NAME: &str = "nemesis-state.json";
/// The format name written into every state file.
pub const LEDGER_FORMAT: &str = "faultline-nemesis-ledger";
/// The version of that format this crate writes and reads.
pub const LEDGER_VERSION: u32 = 1;

/// A kind of fault the ledger tracks per node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fault {
    /// The system's process was SIGKILLed and must be restarted.
    Killed,
    /// The system's process was SIGSTOPped and must be continued.
    Paused,
}

impl Fault {
    /// The lowercase word used in files and messages (`killed`, `paused`).
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Killed => "killed",
            Fault::Paused => "paused",
        }
    }
}

/// The ledger's content: what the state file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerState {
    /// Nodes whose process is killed.
    #[serde(default)]
    pub killed: BTreeSet<String>,
    /// Nodes whose process is paused.
    #[serde(default)]
    pub paused: BTreeSet<String>,
    /// Partitioned nodes: each node and the peers whose packets it drops.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub partitioned: BTreeMap<String, BTreeSet<String>>,
    /// Nodes with a netem qdisc: each node and the network devices carrying it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub netem: BTreeMap<String, BTreeSet<String>>,
    /// Nodes whose clock is skewed: each node and its offset in milliseconds (for a strobe,
    /// the largest offset it sets).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub clock: BTreeMap<String, i64>,
    /// Nodes with link faults made without kernel netem (NFQUEUE scheduler, statistic drops,
    /// tbf, relay toxics): each node and what was installed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub links: BTreeMap<String, LinkRecord>,
    /// Nodes removed from the cluster's membership (the `membership` nemesis), to be added
    /// back.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub removed_members: BTreeSet<String>,
}

impl LedgerState {
    /// The nodes under `fault`.
    pub fn nodes(&self, fault: Fault) -> &BTreeSet<String> {
        match fault {
            Fault::Killed => &self.killed,
            Fault::Paused => &self.paused,
        }
    }

    fn nodes_mut(&mut self, fault: Fault) -> &mut BTreeSet<String> {
        match fault {
            Fault::Killed => &mut self.killed,
            Fault::Paused => &mut self.paused,
        }
    }

    /// Whether nothing is applied.
    pub fn is_empty(&self) -> bool {
        self.killed.is_empty()
            && self.paused.is_empty()
            && self.partitioned.is_empty()
            && self.netem.is_empty()
            && self.clock.is_empty()
            && self.links.is_empty()
            && self.removed_members.is_empty()
    }

    /// One line per applied fault (`n2 is paused`, `n1 drops packets from n3, n4`), for
    /// reports of what a heal has to undo.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for node in &self.killed {
            lines.push(format!("{node} is killed"));
        }
        for node in &self.paused {
            lines.push(format!("{node} is paused"));
        }
        for (node, from) in &self.partitioned {
            let from: Vec<&str> = from.iter().map(String::as_str).collect();
            lines.push(format!("{node} drops packets from {}", from.join(", ")));
        }
        for (node, devices) in &self.netem {
            let devices: Vec<&str> = devices.iter().map(String::as_str).collect();
            lines.push(format!("{node} has netem on {}", devices.join(", ")));
        }
        for (node, offset) in &self.clock {
            lines.push(format!("{node}'s clock is skewed by {offset} ms"));
        }
        for (node, record) in &self.links {
            lines.push(format!(
                "{node} has link faults by {}",
                crate::link_fault::describe(&record.mechanisms)
            ));
        }
        for node in &self.removed_members {
            lines.push(format!("{node} is removed from the cluster's membership"));
        }
        lines
    }
}

/// The file layout: the state plus a format header, so a stray file is recognised.
#[derive(Serialize, Deserialize)]
struct LedgerFile {
    format: String,
    version: u32,
    #[serde(flatten)]
    state: LedgerState,
}

/// Why the ledger could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// There is no state file: no nemesis ever ran with this path.
    #[error("no nemesis state file at {path}; nothing was recorded there (was the run started with a nemesis?)")]
    Missing {
        /// The path looked at.
        path: PathBuf,
    },
    /// Reading or writing the file failed.
    #[error("nemesis state file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: io::Error,
    },
    /// The file is not a ledger this version understands.
    #[error("nemesis state file {path} is not valid: {reason}; undo its faults by hand (restart killed processes, kill -CONT paused ones) and delete it")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// Which nodes are killed or paused, shared by the nemeses of one run.
///
/// Thread-safe; share it as `Arc<Ledger>`. Every change is written to the state file (if any)
/// before it returns.
#[derive(Debug)]
pub struct Ledger {
    path: Option<PathBuf>,
    state: Mutex<LedgerState>,
}

impl Ledger {
    /// A ledger kept in memory only (for tests and runs that need no `faultline heal`).
    pub fn in_memory() -> Self {
        Ledger {
            path: None,
            state: Mutex::default(),
        }
    }

    /// A new, empty ledger backed by the file at `path`, written at once so an unwritable
    /// run folder fails the run before any fault is applied. Replaces an existing file.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, LedgerError> {
        let ledger = Ledger {
            path: Some(path.as_ref().to_path_buf()),
            state: Mutex::default(),
        };
        ledger.persist(&LedgerState::default())?;
        Ok(ledger)
    }

    /// Read the ledger back from the file at `path`; later changes are written there again.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, LedgerError> {
        let path = path.as_ref().to_path_buf();
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(LedgerError::Missing { path })
            }
            Err(source) => return Err(LedgerError::Io { path, source }),
        };
        let file: LedgerFile = serde_json::from_str(&text).map_err(|e| LedgerError::Invalid {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if file.format != LEDGER_FORMAT || file.version != LEDGER_VERSION {
            return Err(LedgerError::Invalid {
                path,
                reason: format!(
                    "it says format {:?} version {}, this faultline reads {LEDGER_FORMAT:?} version {LEDGER_VERSION}",
                    file.format, file.version
                ),
            });
        }
        Ok(Ledger {
            path: Some(path),
            state: Mutex::new(file.state),
        })
    }

    /// The state file, if this ledger has one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// A copy of what is recorded now.
    pub fn snapshot(&self) -> LedgerState {
        self.lock().clone()
    }

    /// The nodes under `fault`, in name order.
    pub fn nodes(&self, fault: Fault) -> Vec<String> {
        self.lock().nodes(fault).iter().cloned().collect()
    }

    /// Whether `node` is under `fault`.
    pub fn contains(&self, fault: Fault, node: &str) -> bool {
        self.lock().nodes(fault).contains(node)
    }

    /// Whether `node` is under any fault.
    pub fn is_faulted(&self, node: &str) -> bool {
        let state = self.lock();
        state.killed.contains(node) || state.paused.contains(node)
    }

    /// Record `nodes` as under `fault` and write the file; call it *before* applying the
    /// fault. On a write error nothing is recorded and the fault must not be applied.
    pub fn record(&self, fault: Fault, nodes: &[String]) -> Result<(), LedgerError> {
        self.change(fault, nodes, true)
    }

    /// Forget that `nodes` are under `fault` and write the file; call it *after* undoing.
    /// On a write error the nodes stay recorded, so a later heal tries them again.
    pub fn clear(&self, fault: Fault, nodes: &[String]) -> Result<(), LedgerError> {
        self.change(fault, nodes, false)
    }

    fn change(&self, fault: Fault, nodes: &[String], add: bool) -> Result<(), LedgerError> {
        self.update(|next| {
            let set = next.nodes_mut(fault);
            for node in nodes {
                if add {
                    set.insert(node.clone());
                } else {
                    set.remove(node);
                }
            }
        })
    }

    /// Change the state with `edit` and write the file. Record a fault this way *before*
    /// applying it, and clear it only *after* it was undone. On a write error nothing changes.
    pub fn update(&self, edit: impl FnOnce(&mut LedgerState)) -> Result<(), LedgerError> {
        let mut state = self.lock();
        let mut next = state.clone();
        edit(&mut next);
        if next != *state {
            self.persist(&next)?;
            *state = next;
        }
        Ok(())
    }

    /// Forget the nodes whose faults were undone (`undos`: each node and how its undo went)
    /// from the map of node faults `held` picks (partitions, netem, link faults), and say so:
    /// the nodes healed, or, when some undo (or this write) failed, what was `undone` where
    /// and why the rest was not.
    pub(crate) fn forget_healed<V>(
        &self,
        held: fn(&mut LedgerState) -> &mut BTreeMap<String, V>,
        undos: Vec<(String, Result<(), String>)>,
        undone: &str,
    ) -> Outcome {
        let mut healed = Vec::new();
        let mut errors = Vec::new();
        for (node, undo) in undos {
            match undo {
                Ok(()) => healed.push(node),
                Err(e) => errors.push(e),
            }
        }
        if let Err(e) = self.update(|s| {
            for node in &healed {
                held(s).remove(node);
            }
        }) {
            errors.push(format!("could not update the ledger: {e}"));
        }
        if errors.is_empty() {
            Outcome::Applied(serde_json::json!({ "healed": healed }))
        } else {
            Outcome::Indeterminate(format!(
                "{undone} on {}; {}",
                healed.join(", "),
                errors.join("; ")
            ))
        }
    }

    fn lock(&self) -> MutexGuard<'_, LedgerState> {
        // A panic while holding the lock cannot leave the state half-changed (it is replaced
        // whole), so a poisoned lock is still correct to use.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Write `state` to the file: a temporary file next to it, fsync, then rename over it.
    fn persist(&self, state: &LedgerState) -> Result<(), LedgerError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let io_err = |source| LedgerError::Io {
            path: path.clone(),
            source,
        };
        let file = LedgerFile {
            format: LEDGER_FORMAT.to_string(),
            version: LEDGER_VERSION,
            state: state.clone(),
        };
        let mut text = serde_json::to_string_pretty(&file).expect("a ledger always serializes");
        text.push('\n');
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| LEDGER_FILE_NAME.to_string());
        let temp = path.with_file_name(format!(".{name}.tmp"));
        let mut out = fs::File::create(&temp).map_err(io_err)?;
        out.write_all(text.as_bytes()).map_err(io_err)?;
        out.sync_all().map_err(io_err)?;
        drop(out);
        fs::rename(&temp, path).map_err(io_err)?;
        // Make the rename itself durable; not every platform lets a directory be opened.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn record_and_clear_round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LEDGER_FILE_NAME);
        let ledger = Ledger::create(&path).unwrap();
        assert!(Ledger::load(&path).unwrap().snapshot().is_empty());

        ledger.record(Fault::Killed, &names(&["n1", "n3"])).unwrap();
        ledger.record(Fault::Paused, &names(&["n2"])).unwrap();
        let loaded = Ledger::load(&path).unwrap();
        assert_eq!(loaded.nodes(Fault::Killed), names(&["n1", "n3"]));
        assert_eq!(loaded.nodes(Fault::Paused), names(&["n2"]));
        assert!(loaded.is_faulted("n2") && !loaded.is_faulted("n4"));

        // A loaded ledger writes back to the same file.
        loaded.clear(Fault::Killed, &names(&["n1"])).unwrap();
        let again = Ledger::load(&path).unwrap();
        assert_eq!(again.nodes(Fault::Killed), names(&["n3"]));
        assert!(!dir.path().join(format!(".{LEDGER_FILE_NAME}.tmp")).exists());
    }

    #[test]
    fn the_file_names_its_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LEDGER_FILE_NAME);
        let ledger = Ledger::create(&path).unwrap();
        ledger.record(Fault::Paused, &names(&["n2"])).unwrap();
        let value: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "format": LEDGER_FORMAT, "version": 1, "killed": [], "paused": ["n2"]
            })
        );
    }

    #[test]
    fn load_reports_missing_and_invalid_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.json");
        assert!(matches!(
            Ledger::load(&path),
            Err(LedgerError::Missing { .. })
        ));

        fs::write(&path, "{not json").unwrap();
        let err = Ledger::load(&path).unwrap_err();
        assert!(matches!(err, LedgerError::Invalid { .. }), "{err}");

        fs::write(
            &path,
            r#"{"format":"faultline-nemesis-ledger","version":99,"killed":[]}"#,
        )
        .unwrap();
        let err = Ledger::load(&path).unwrap_err().to_string();
        assert!(err.contains("version 99"), "{err}");
    }

    #[test]
    fn a_failed_write_records_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(LEDGER_FILE_NAME);
        assert!(matches!(Ledger::create(&path), Err(LedgerError::Io { .. })));

        fs::create_dir(dir.path().join("sub")).unwrap();
        let ledger = Ledger::create(&path).unwrap();
        fs::remove_dir_all(dir.path().join("sub")).unwrap();
        assert!(ledger.record(Fault::Killed, &names(&["n1"])).is_err());
        assert!(!ledger.contains(Fault::Killed, "n1"));
    }

    #[test]
    fn network_and_clock_faults_round_trip_and_old_files_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LEDGER_FILE_NAME);
        let ledger = Ledger::create(&path).unwrap();
        ledger
            .update(|s| {
                s.partitioned
                    .insert("n1".into(), names(&["n2", "n3"]).into_iter().collect());
                s.netem
                    .insert("n2".into(), names(&["eth0"]).into_iter().collect());
                s.clock.insert("n3".into(), -60_000);
            })
            .unwrap();
        let loaded = Ledger::load(&path).unwrap().snapshot();
        assert_eq!(loaded.clock["n3"], -60_000);
        assert_eq!(
            loaded.describe(),
            vec![
                "n1 drops packets from n2, n3".to_string(),
                "n2 has netem on eth0".to_string(),
                "n3's clock is skewed by -60000 ms".to_string(),
            ]
        );
        assert!(!loaded.is_empty());
        // A file written before these faults existed has none of their fields.
        fs::write(
            &path,
            r#"{"format":"faultline-nemesis-ledger","version":1,"killed":["n1"],"paused":[]}"#,
        )
        .unwrap();
        let old = Ledger::load(&path).unwrap().snapshot();
        assert!(old.partitioned.is_empty() && old.killed.contains("n1"));
    }

    #[test]
    fn in_memory_ledger_needs_no_file() {
        let ledger = Ledger::in_memory();
        ledger.record(Fault::Killed, &names(&["n1"])).unwrap();
        assert!(ledger.contains(Fault::Killed, "n1"));
        assert_eq!(ledger.path(), None);
        ledger.clear(Fault::Killed, &names(&["n1"])).unwrap();
        assert!(ledger.snapshot().is_empty());
    }
}
