//! The store: one folder per run, `store/<test-name>/<YYYYMMDDTHHMMSS>/`, holding
//! `test.json`, `history.jsonl`, `results.json`, `faultline.log`, and `nodes/<node>/` with
//! each node's data and log; `store/latest` points at the newest run.
//!
//! This module only lays out folders and writes whole files; the history is streamed by
//! [`crate::recorder`].

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

/// The folder of one run.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// The folder.
    pub path: PathBuf,
}

impl RunDir {
    /// Create a fresh run folder under `store/<name>/` named after the local time, and
    /// point `store/latest` and `store/<name>/latest` at it.
    pub fn create(store: &Path, name: &str) -> Result<RunDir> {
        fs::create_dir_all(store)
            .with_context(|| format!("cannot create the store folder {}", store.display()))?;
        // Absolute, so node command lines name the run folder (`faultline heal` relies on it).
        let store = &fs::canonicalize(store)?;
        let stamp = chrono::Local::now().format("%Y%m%dT%H%M%S").to_string();
        let test_dir = store.join(name);
        fs::create_dir_all(&test_dir)
            .with_context(|| format!("cannot create the store folder {}", test_dir.display()))?;
        // Two runs within one second (e.g. --test-count) get -2, -3 ... suffixes.
        let mut leaf = stamp.clone();
        let mut n = 1;
        let path = loop {
            let candidate = test_dir.join(&leaf);
            match fs::create_dir(&candidate) {
                Ok(()) => break candidate,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    n += 1;
                    leaf = format!("{stamp}-{n}");
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot create {}", candidate.display()))
                }
            }
        };
        fs::create_dir_all(path.join("nodes"))?;
        point_link(&store.join("latest"), &Path::new(name).join(&leaf))?;
        point_link(&test_dir.join("latest"), Path::new(&leaf))?;
        Ok(RunDir { path })
    }

    /// An existing run folder.
    pub fn open(path: &Path) -> Result<RunDir> {
        if !path.is_dir() {
            crate::exit::bad_input!(
                "{} is not a run folder: give a folder under the store, e.g. store/latest",
                path.display()
            );
        }
        Ok(RunDir {
            path: fs::canonicalize(path)?,
        })
    }

    /// `history.jsonl`.
    pub fn history(&self) -> PathBuf {
        self.path.join("history.jsonl")
    }
    /// `test.json`.
    pub fn test_json(&self) -> PathBuf {
        self.path.join("test.json")
    }
    /// `results.json`.
    pub fn results_json(&self) -> PathBuf {
        self.path.join("results.json")
    }
    /// `net.jsonl`: every message of a Maelstrom test, for its sequence diagram.
    pub fn net_journal(&self) -> PathBuf {
        self.path.join("net.jsonl")
    }
    /// The harness's own log.
    pub fn log(&self) -> PathBuf {
        self.path.join("faultline.log")
    }
    /// The ledger of applied faults, read by `faultline heal`.
    pub fn nemesis_state(&self) -> PathBuf {
        self.path.join("nemesis-state.json")
    }
    /// The pids of the node processes, read by `faultline heal`.
    pub fn node_pids(&self) -> PathBuf {
        self.path.join("nodes").join("pids.json")
    }
    /// The nodes of a local run as they were placed (`NodeSpec`s), read by `faultline heal`
    /// to add removed members back.
    pub fn node_specs(&self) -> PathBuf {
        self.path.join("nodes").join("cluster.json")
    }
    /// The folder of one node.
    pub fn node_dir(&self, node: &str) -> PathBuf {
        self.path.join("nodes").join(node)
    }

    /// Write a value as pretty JSON, replacing the file atomically.
    pub fn write_json(&self, path: &Path, value: &impl Serialize) -> Result<()> {
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(value)?;
        fs::write(&tmp, text + "\n").with_context(|| format!("cannot write {}", tmp.display()))?;
        fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }
}

fn point_link(link: &Path, target: &Path) -> Result<()> {
    let tmp = link.with_extension("tmp-link");
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)
        .with_context(|| format!("cannot create the link {}", tmp.display()))?;
    fs::rename(&tmp, link).with_context(|| format!("cannot update {}", link.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_in_the_same_second_get_distinct_folders_and_latest_follows() {
        let store = tempfile::tempdir().unwrap();
        let a = RunDir::create(store.path(), "t").unwrap();
        let b = RunDir::create(store.path(), "t").unwrap();
        assert_ne!(a.path, b.path);
        let latest = fs::canonicalize(store.path().join("latest")).unwrap();
        assert_eq!(latest, fs::canonicalize(&b.path).unwrap());
        assert!(b.path.join("nodes").is_dir());
    }
}
