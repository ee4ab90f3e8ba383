//! Disk faults with Jepsen's vocabulary: `bitflip` flips a few bits of one data file of one
//! node, `truncate` cuts bytes off its end. The node is killed first (recorded in the
//! [`Ledger`] as killed before the kill), the file is damaged, and the node is started
//! again on what is left. Whether it starts, and what it then answers, is data: a node that
//! refuses to start on a corrupt file is recorded (`"restarted": false` with the reason) and
//! stays in the ledger as killed, so the final heal tries again; never a harness failure.
//!
//! Every damage is recorded with its file and offsets (`flips: [{offset, mask}]`, or
//! `truncated: {from, to}`), so a run can be reproduced. Damage cannot be undone: `stop-*`
//! only restarts a node still down. The file is chosen among the node's data files
//! ([`DataFiles::files`]): the largest log-like file (`*.wal`, `*.log`, `*.jsonl`), else the
//! largest file. This module must never touch a file outside a node's data directory (it
//! only reaches files through [`DataFiles`]).

use std::sync::Arc;

use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::Rng;
use serde_json::{json, Value};

use crate::control::{ControlError, ProcessControl};
use crate::ledger::{Fault, Ledger};
use crate::nemesis::{FaultRequest, Nemesis, Outcome};
use crate::process::{heal_ledger, irreversible_fault};

/// The data files of nodes, as the target reaches them.
#[async_trait]
pub trait DataFiles: Send + Sync {
    /// Every regular file under `node`'s data directory, with its length.
    async fn files(&self, node: &str) -> Result<Vec<(String, u64)>, ControlError>;
    /// XOR the byte at each offset with its mask.
    async fn flip(&self, node: &str, path: &str, flips: &[(u64, u8)]) -> Result<(), ControlError>;
    /// Cut the file to `len` bytes.
    async fn truncate(&self, node: &str, path: &str, len: u64) -> Result<(), ControlError>;
}

/// Which damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskFault {
    /// Flip 1 to 8 random bits.
    Bitflip,
    /// Cut 1 to 4096 bytes off the end (never more than half the file).
    Truncate,
}

impl DiskFault {
    /// `bitflip` or `truncate`.
    pub fn name(self) -> &'static str {
        match self {
            DiskFault::Bitflip => "bitflip",
            DiskFault::Truncate => "truncate",
        }
    }
}

/// The data file a disk fault damages: the largest log-like file, else the largest file.
pub fn choose_file(files: &[(String, u64)]) -> Option<(String, u64)> {
    let loglike = |p: &str| [".wal", ".log", ".jsonl"].iter().any(|s| p.ends_with(s));
    let largest = |pred: &dyn Fn(&str) -> bool| {
        files
            .iter()
            .filter(|(p, len)| *len > 0 && pred(p))
            .max_by_key(|(_, len)| *len)
            .cloned()
    };
    largest(&|p| loglike(p)).or_else(|| largest(&|_| true))
}

/// The `bitflip` or `truncate` nemesis.
pub struct DiskNemesis {
    fault: DiskFault,
    files: Arc<dyn DataFiles>,
    process: Arc<dyn ProcessControl>,
    ledger: Arc<Ledger>,
    busy: tokio::sync::Mutex<()>,
}

impl DiskNemesis {
    /// `fault` on the data files `files` reaches, stopping and starting nodes with `process`.
    pub fn new(
        fault: DiskFault,
        files: Arc<dyn DataFiles>,
        process: Arc<dyn ProcessControl>,
        ledger: Arc<Ledger>,
    ) -> Self {
        DiskNemesis {
            fault,
            files,
            process,
            ledger,
            busy: tokio::sync::Mutex::new(()),
        }
    }

    async fn start(&self, value: &Value, rng: &mut StdRng) -> Outcome {
        let all = self.process.nodes();
        let node = match value.as_str() {
            Some(node) if all.iter().any(|n| n == node) => node.to_string(),
            Some(node) => return Outcome::Skipped(format!("{node} is not one of the nodes")),
            None => match all.choose(rng) {
                Some(node) => node.clone(),
                None => return Outcome::Skipped("there are no nodes".to_string()),
            },
        };
        if self.ledger.is_faulted(&node) {
            return Outcome::Skipped(format!("{node} is already killed or paused"));
        }
        if let Err(e) = self
            .ledger
            .record(Fault::Killed, std::slice::from_ref(&node))
        {
            return Outcome::Skipped(format!("not applied, the ledger could not record it: {e}"));
        }
        if let Err(e) = self.process.kill(&node).await {
            return Outcome::Indeterminate(format!("could not stop {node} first: {e}"));
        }
        let mut detail = json!({ "node": node, "fault": self.fault.name(), "mechanism": "file" });
        let damage = self.damage(&node, rng).await;
        let damaged = match damage {
            Ok(Some(d)) => {
                merge_into(&mut detail, d);
                true
            }
            Ok(None) => false,
            Err(e) => {
                detail["error"] = json!(e.to_string());
                false
            }
        };
        match self.process.start(&node).await {
            Ok(()) => {
                let _ = self
                    .ledger
                    .clear(Fault::Killed, std::slice::from_ref(&node));
                detail["restarted"] = json!(true);
            }
            Err(e) => {
                detail["restarted"] = json!(false);
                detail["start_error"] = json!(e.to_string());
            }
        }
        if damaged {
            Outcome::Applied(detail)
        } else if detail.get("error").is_some() {
            Outcome::Indeterminate(detail.to_string())
        } else {
            Outcome::Skipped(format!("{node} has no data file to damage yet"))
        }
    }

    /// Damage one data file of `node`; `None` when it has none.
    async fn damage(&self, node: &str, rng: &mut StdRng) -> Result<Option<Value>, ControlError> {
        let files = self.files.files(node).await?;
        let Some((path, len)) = choose_file(&files) else {
            return Ok(None);
        };
        Ok(Some(match self.fault {
            DiskFault::Bitflip => {
                let count = rng.random_range(1..=8);
                let flips: Vec<(u64, u8)> = (0..count)
                    .map(|_| (rng.random_range(0..len), 1u8 << rng.random_range(0..8)))
                    .collect();
                self.files.flip(node, &path, &flips).await?;
                json!({
                    "file": path,
                    "flips": flips.iter().map(|(o, m)| json!({"offset": o, "mask": m})).collect::<Vec<_>>(),
                })
            }
            DiskFault::Truncate => {
                let cut = rng.random_range(1..=(len / 2).clamp(1, 4096));
                self.files.truncate(node, &path, len - cut).await?;
                json!({ "file": path, "truncated": { "from": len, "to": len - cut } })
            }
        }))
    }
}

fn merge_into(target: &mut Value, extra: Value) {
    if let (Some(t), Value::Object(e)) = (target.as_object_mut(), extra) {
        t.extend(e);
    }
}

#[async_trait]
impl Nemesis for DiskNemesis {
    fn name(&self) -> &str {
        self.fault.name()
    }

    fn fs(&self) -> Vec<String> {
        let name = self.fault.name();
        vec![format!("start-{name}"), format!("stop-{name}")]
    }

    async fn invoke(&self, request: &FaultRequest, rng: &mut StdRng) -> Outcome {
        let _busy = self.busy.lock().await;
        // Damage stays.
        let start = self.start(&request.value, rng);
        let (ledger, process) = (self.ledger.clone(), self.process.clone());
        irreversible_fault(self.fault.name(), request, start, ledger, process).await
    }

    async fn heal(&self) -> Vec<Outcome> {
        let _busy = self.busy.lock().await;
        heal_ledger(self.ledger.clone(), self.process.clone()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeCluster, Proc};
    use rand::SeedableRng;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Files(Mutex<BTreeMap<String, Vec<u8>>>);

    #[async_trait]
    impl DataFiles for Files {
        async fn files(&self, _node: &str) -> Result<Vec<(String, u64)>, ControlError> {
            let map = self.0.lock().unwrap();
            Ok(map
                .iter()
                .map(|(p, b)| (p.clone(), b.len() as u64))
                .collect())
        }
        async fn flip(
            &self,
            _n: &str,
            path: &str,
            flips: &[(u64, u8)],
        ) -> Result<(), ControlError> {
            let mut map = self.0.lock().unwrap();
            let bytes = map.get_mut(path).unwrap();
            for (o, m) in flips {
                bytes[*o as usize] ^= m;
            }
            Ok(())
        }
        async fn truncate(&self, _n: &str, path: &str, len: u64) -> Result<(), ControlError> {
            self.0
                .lock()
                .unwrap()
                .get_mut(path)
                .unwrap()
                .truncate(len as usize);
            Ok(())
        }
    }

    #[test]
    fn the_log_is_chosen_over_larger_files() {
        let files = vec![
            ("d/db".to_string(), 9000),
            ("d/raft-log.jsonl".to_string(), 100),
            ("d/empty.wal".to_string(), 0),
        ];
        assert_eq!(choose_file(&files).unwrap().0, "d/raft-log.jsonl");
        assert_eq!(choose_file(&files[..1]).unwrap().0, "d/db");
        assert!(choose_file(&[]).is_none());
    }

    #[tokio::test]
    async fn damage_is_recorded_with_offsets_and_the_node_restarted() {
        let files = Arc::new(Files::default());
        files
            .0
            .lock()
            .unwrap()
            .insert("d/raft-log.jsonl".into(), vec![b'a'; 1000]);
        let cluster = Arc::new(FakeCluster::new(3));
        let ledger = Arc::new(Ledger::in_memory());
        let flip = DiskNemesis::new(
            DiskFault::Bitflip,
            files.clone(),
            cluster.clone(),
            ledger.clone(),
        );
        let mut rng = StdRng::seed_from_u64(5);
        let out = flip
            .invoke(&FaultRequest::new("start-bitflip", json!("n2")), &mut rng)
            .await;
        let Outcome::Applied(detail) = out else {
            panic!("{out:?}")
        };
        assert_eq!(detail["restarted"], true);
        let changed: Vec<usize> = {
            let map = files.0.lock().unwrap();
            map["d/raft-log.jsonl"]
                .iter()
                .enumerate()
                .filter(|(_, b)| **b != b'a')
                .map(|(i, _)| i)
                .collect()
        };
        let recorded: Vec<usize> = detail["flips"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["offset"].as_u64().unwrap() as usize)
            .collect();
        assert!(!changed.is_empty());
        assert!(changed.iter().all(|i| recorded.contains(i)), "{detail}");
        assert_eq!(cluster.proc("n2"), Proc::Running);
        assert!(ledger.snapshot().is_empty());

        let cut = DiskNemesis::new(DiskFault::Truncate, files.clone(), cluster.clone(), ledger);
        let out = cut
            .invoke(&FaultRequest::new("start-truncate", json!("n1")), &mut rng)
            .await;
        let Outcome::Applied(detail) = out else {
            panic!("{out:?}")
        };
        let to = detail["truncated"]["to"].as_u64().unwrap();
        assert!((500..1000).contains(&to), "{detail}");
        assert_eq!(files.0.lock().unwrap()["d/raft-log.jsonl"].len() as u64, to);
    }
}
