//! The local target's [`DataFiles`]: each node's data folder under the run's
//! `nodes/<node>/data/`, read and damaged in place for the `bitflip` and `truncate`
//! nemeses. This module must never touch a path outside those folders.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use faultline_nemeses::control::ControlError;
use faultline_nemeses::disk::DataFiles;

/// The data folders of local nodes.
pub struct LocalDataFiles {
    dirs: BTreeMap<String, PathBuf>,
}

impl LocalDataFiles {
    /// Files under `dirs` (node → its data folder).
    pub fn new(dirs: BTreeMap<String, PathBuf>) -> Self {
        LocalDataFiles { dirs }
    }

    /// `path` if it lies inside `node`'s data folder.
    fn inside(&self, node: &str, path: &str) -> Result<PathBuf, ControlError> {
        let dir = self.dirs.get(node).ok_or_else(|| {
            ControlError::unknown_node(node, &self.dirs.keys().cloned().collect::<Vec<_>>())
        })?;
        let path = PathBuf::from(path);
        let (Ok(dir), Ok(full)) = (dir.canonicalize(), path.canonicalize()) else {
            return Err(ControlError::failed(
                node,
                "damage a file",
                format!("{} is gone", path.display()),
            ));
        };
        if full.starts_with(&dir) {
            Ok(full)
        } else {
            Err(ControlError::failed(
                node,
                "damage a file",
                format!("{} is not in the node's data folder", full.display()),
            ))
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<(String, u64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            walk(&entry.path(), out);
        } else if meta.is_file() {
            out.push((entry.path().display().to_string(), meta.len()));
        }
    }
}

fn io(node: &str, action: &str, e: std::io::Error) -> ControlError {
    ControlError::failed(node, action, e.to_string())
}

#[async_trait]
impl DataFiles for LocalDataFiles {
    async fn files(&self, node: &str) -> Result<Vec<(String, u64)>, ControlError> {
        let dir = self.dirs.get(node).ok_or_else(|| {
            ControlError::unknown_node(node, &self.dirs.keys().cloned().collect::<Vec<_>>())
        })?;
        let mut out = Vec::new();
        walk(dir, &mut out);
        out.sort();
        Ok(out)
    }

    async fn flip(&self, node: &str, path: &str, flips: &[(u64, u8)]) -> Result<(), ControlError> {
        let path = self.inside(node, path)?;
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| io(node, "open a data file", e))?;
        for (offset, mask) in flips {
            let mut byte = [0u8; 1];
            file.seek(SeekFrom::Start(*offset))
                .and_then(|_| file.read_exact(&mut byte))
                .and_then(|_| file.seek(SeekFrom::Start(*offset)))
                .and_then(|_| file.write_all(&[byte[0] ^ mask]))
                .map_err(|e| io(node, "flip a bit", e))?;
        }
        file.sync_all()
            .map_err(|e| io(node, "fsync a data file", e))
    }

    async fn truncate(&self, node: &str, path: &str, len: u64) -> Result<(), ControlError> {
        let path = self.inside(node, path)?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| io(node, "open a data file", e))?;
        file.set_len(len)
            .and_then(|_| file.sync_all())
            .map_err(|e| io(node, "truncate a data file", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn files_are_damaged_in_place_and_only_inside_the_data_folder() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("wal")).unwrap();
        std::fs::write(data.join("wal/0.wal"), [0u8; 10]).unwrap();
        std::fs::write(dir.path().join("outside"), [0u8; 10]).unwrap();
        let files = LocalDataFiles::new(BTreeMap::from([("n1".to_string(), data.clone())]));
        let listed = files.files("n1").await.unwrap();
        assert_eq!(listed.len(), 1);
        let path = listed[0].0.clone();
        files.flip("n1", &path, &[(3, 0x10)]).await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap()[3], 0x10);
        files.truncate("n1", &path, 4).await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap().len(), 4);
        let outside = dir.path().join("outside").display().to_string();
        assert!(files.flip("n1", &outside, &[(0, 1)]).await.is_err());
        assert!(files.files("n9").await.is_err());
    }
}
