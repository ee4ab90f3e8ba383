//! Maelstrom's workloads (its `doc/workloads.md`): for each, the generator of ops, the final
//! reads after healing, the request message of an op and what its reply means, and the
//! checkers of its history. lin-kv and the transactional workloads reuse faultline's
//! `register`, `append` and `wr` generators and checkers; unique-ids reuses `unique-ids`.
//!
//! Ops are recorded with Maelstrom's functions: `echo`, `generate`, `broadcast`, `add`,
//! `read`, `write`, `cas`, `txn`. This module never touches a process or the network.

use std::sync::Arc;

use faultline_checkers::checker::Checker;
use faultline_checkers::history::OpType;
use faultline_workloads::generator::{each_worker, from_fn, once, Generator, Poll};
use faultline_workloads::op::OpRequest;
use faultline_workloads::{Keys, TxnOptions, Workload, WorkloadOptions};
use rand::Rng;
use serde_json::{json, Value};

use super::kafka::KafkaShared;
use crate::systems::Completion;

/// The workloads `-w` takes.
pub(crate) const WORKLOADS: &[&str] = &[
    "echo",
    "unique-ids",
    "broadcast",
    "g-set",
    "g-counter",
    "pn-counter",
    "lin-kv",
    "txn-list-append",
    "txn-rw-register",
    "kafka",
];

/// One Maelstrom workload.
pub(crate) struct MaelstromWorkload {
    pub name: String,
    /// faultline's workload behind lin-kv, unique-ids and the txn workloads.
    inner: Option<Box<dyn Workload>>,
    /// What kafka's clients share; `None` for the other workloads.
    pub kafka: Option<Arc<KafkaShared>>,
    txn: TxnOptions,
}

impl MaelstromWorkload {
    /// The workload `name`, with the txn options of `--key-count`, `--max-txn-length` and
    /// `--max-writes-per-key`, and `concurrency` workers.
    pub fn new(name: &str, txn: TxnOptions, concurrency: usize) -> Result<Self, String> {
        let faultline_name = match name {
            "lin-kv" => Some("register"),
            "unique-ids" => Some("unique-ids"),
            "txn-list-append" => Some("append"),
            "txn-rw-register" => Some("wr"),
            n if WORKLOADS.contains(&n) => None,
            other => {
                return Err(format!(
                    "unknown workload '{other}': -w takes one of {}",
                    WORKLOADS.join(", ")
                ))
            }
        };
        let inner = match faultline_name {
            Some(n) => {
                let options = WorkloadOptions {
                    keys: Keys::Independent {
                        threads_per_key: concurrency.clamp(1, 10),
                        ops_per_key: 200,
                    },
                    txn,
                    ..WorkloadOptions::default()
                };
                Some(faultline_workloads::by_name(n, &options).map_err(|e| e.to_string())?)
            }
            None => None,
        };
        Ok(MaelstromWorkload {
            name: name.to_string(),
            inner,
            kafka: (name == "kafka").then(|| Arc::new(KafkaShared::new(concurrency))),
            txn,
        })
    }

    /// Whether final reads go to every node (the eventually consistent workloads).
    pub fn reads_every_node(&self) -> bool {
        matches!(
            self.name.as_str(),
            "broadcast" | "g-set" | "g-counter" | "pn-counter"
        )
    }

    /// The main generator.
    pub fn generator(&self) -> Box<dyn Generator> {
        if let Some(inner) = &self.inner {
            return inner.generator();
        }
        if self.kafka.is_some() {
            return super::kafka::generator(&self.txn);
        }
        let name = self.name.clone();
        let mut next = 0u64;
        from_fn(move |_, rng| {
            next += 1;
            let read = OpRequest::new("read", None, Value::Null);
            Poll::Op(match name.as_str() {
                "echo" => OpRequest::new("echo", None, json!(format!("Please echo {next}"))),
                "broadcast" if rng.random_bool(0.5) => {
                    OpRequest::new("broadcast", None, json!(next))
                }
                "g-set" if rng.random_bool(0.5) => OpRequest::new("add", None, json!(next)),
                "g-counter" if rng.random_bool(0.5) => {
                    OpRequest::new("add", None, json!(rng.random_range(0..5)))
                }
                "pn-counter" if rng.random_bool(0.5) => {
                    OpRequest::new("add", None, json!(rng.random_range(-5..5)))
                }
                _ => read,
            })
        })
    }

    /// The final generator of the workers (lin-kv, txn: faultline's final reads), or `None`
    /// when the final reads go to every node instead ([`reads_every_node`](Self::reads_every_node)).
    pub fn final_generator(&self) -> Option<Box<dyn Generator>> {
        if let Some(shared) = &self.kafka {
            return Some(super::kafka::final_generator(shared));
        }
        self.inner.as_ref().and_then(|w| w.final_generator())
    }

    /// One read by each worker, for the final reads of every node.
    pub fn final_reads() -> Box<dyn Generator> {
        each_worker(|_| once(OpRequest::new("read", None, Value::Null)))
    }

    /// The checkers of the history.
    pub fn checkers(&self) -> Option<Vec<Box<dyn Checker>>> {
        faultline_checkers::maelstrom::checkers_for(&self.name)
    }

    /// faultline's workload behind this one, whose model names its checkers.
    pub fn inner(&self) -> Option<&dyn Workload> {
        self.inner.as_deref()
    }

    /// The request body of `op` (without `msg_id`).
    pub fn request(&self, op: &OpRequest) -> Value {
        let key = op.key.clone().unwrap_or(Value::Null);
        match (self.name.as_str(), op.f.as_str()) {
            ("echo", _) => json!({"type": "echo", "echo": op.value}),
            (_, "generate") => json!({"type": "generate"}),
            ("broadcast", "broadcast") => json!({"type": "broadcast", "message": op.value}),
            ("g-set", "add") => json!({"type": "add", "element": op.value}),
            (_, "add") => json!({"type": "add", "delta": op.value}),
            ("lin-kv", "read") => json!({"type": "read", "key": key}),
            (_, "read") => json!({"type": "read"}),
            (_, "write") => json!({"type": "write", "key": key, "value": op.value}),
            (_, "cas") => json!({"type": "cas", "key": key,
                                  "from": op.value.get(0), "to": op.value.get(1)}),
            (_, "txn") => json!({"type": "txn", "txn": op.value}),
            (_, other) => json!({"type": other}),
        }
    }

    /// What the reply body `reply` to `op` means.
    pub fn completion(&self, op: &OpRequest, reply: &Value) -> Completion {
        let kind = reply.get("type").and_then(Value::as_str).unwrap_or("");
        if kind == "error" {
            let (outcome, error) = super::protocol::error_outcome(reply);
            return match outcome {
                // A read changes nothing: an unknown read certainly did not happen.
                OpType::Info if op.f != "read" => Completion::info(Value::Null, error),
                _ => Completion::fail(Value::Null, error),
            };
        }
        let expected = format!("{}_ok", self.request(op)["type"].as_str().unwrap_or(""));
        if kind != expected {
            return Completion::info(
                Value::Null,
                format!("expected a {expected} or an error, got {reply}"),
            );
        }
        let field = |name: &str| reply.get(name).cloned().unwrap_or(Value::Null);
        let value = match (self.name.as_str(), op.f.as_str()) {
            ("echo", _) => field("echo"),
            (_, "generate") => field("id"),
            ("broadcast", "read") => field("messages"),
            (_, "read") => field("value"),
            (_, "txn") => field("txn"),
            _ => op.value.clone(),
        };
        Completion::ok(value)
    }
}

/// A Maelstrom topology (`--topology`): each node's neighbours, for broadcast.
pub(crate) fn topology(kind: &str, nodes: &[String]) -> Result<Value, String> {
    let n = nodes.len();
    let neighbours = |i: usize| -> Vec<usize> {
        match kind {
            "line" => [i.checked_sub(1), (i + 1 < n).then_some(i + 1)]
                .into_iter()
                .flatten()
                .collect(),
            "total" => (0..n).filter(|&j| j != i).collect(),
            "grid" => {
                let width = (n as f64).sqrt().ceil() as usize;
                let (row, col) = (i / width, i % width);
                let mut out = Vec::new();
                if row > 0 {
                    out.push(i - width);
                }
                if i + width < n {
                    out.push(i + width);
                }
                if col > 0 {
                    out.push(i - 1);
                }
                if col + 1 < width && i + 1 < n {
                    out.push(i + 1);
                }
                out
            }
            tree => {
                let k: usize = tree.trim_start_matches("tree").parse().unwrap_or(2);
                let mut out: Vec<usize> = (k * i + 1..=k * i + k).filter(|&c| c < n).collect();
                if i > 0 {
                    out.push((i - 1) / k);
                }
                out
            }
        }
    };
    if !["grid", "line", "total", "tree2", "tree3", "tree4"].contains(&kind) {
        return Err(format!(
            "unknown --topology '{kind}': it takes grid, line, tree2, tree3, tree4 or total"
        ));
    }
    let map: serde_json::Map<String, Value> = (0..n)
        .map(|i| {
            (
                nodes[i].clone(),
                json!(neighbours(i)
                    .into_iter()
                    .map(|j| nodes[j].clone())
                    .collect::<Vec<_>>()),
            )
        })
        .collect();
    Ok(Value::Object(map))
}

/// Shared by every client of a run.
pub(crate) type SharedWorkload = Arc<MaelstromWorkload>;

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn topologies_are_symmetric_and_connected() {
        for kind in ["grid", "line", "total", "tree2", "tree3", "tree4"] {
            for n in [1, 2, 5, 9, 10] {
                let t = topology(kind, &names(n)).unwrap();
                for (node, ns) in t.as_object().unwrap() {
                    for other in ns.as_array().unwrap() {
                        let back = t[other.as_str().unwrap()].as_array().unwrap();
                        assert!(back.contains(&json!(node)), "{kind} {n}: {node} {other}");
                    }
                }
                // Connected: a walk from n1 reaches every node.
                let mut seen = vec!["n1".to_string()];
                let mut i = 0;
                while i < seen.len() {
                    for o in t[&seen[i]].as_array().unwrap() {
                        let o = o.as_str().unwrap().to_string();
                        if !seen.contains(&o) {
                            seen.push(o);
                        }
                    }
                    i += 1;
                }
                assert_eq!(seen.len(), n, "{kind} {n}");
            }
        }
        assert_eq!(
            topology("line", &names(3)).unwrap()["n2"],
            json!(["n1", "n3"])
        );
        assert!(topology("ring", &names(3)).is_err());
    }

    #[test]
    fn requests_and_replies_follow_the_workload_docs() {
        let kv = MaelstromWorkload::new("lin-kv", TxnOptions::default(), 4).unwrap();
        let cas = OpRequest::new("cas", Some(json!(3)), json!([1, 2]));
        assert_eq!(
            kv.request(&cas),
            json!({"type": "cas", "key": 3, "from": 1, "to": 2})
        );
        let done = kv.completion(&cas, &json!({"type": "cas_ok"}));
        assert_eq!((done.kind, done.value), (OpType::Ok, json!([1, 2])));
        let mismatch = kv.completion(&cas, &json!({"type": "error", "code": 22}));
        assert_eq!(mismatch.kind, OpType::Fail);
        let crash = kv.completion(&cas, &json!({"type": "error", "code": 13}));
        assert_eq!(crash.kind, OpType::Info);
        let read = OpRequest::new("read", Some(json!(3)), Value::Null);
        assert_eq!(
            kv.completion(&read, &json!({"type": "error", "code": 0}))
                .kind,
            OpType::Fail,
            "an unknown read changed nothing"
        );
        let b = MaelstromWorkload::new("broadcast", TxnOptions::default(), 4).unwrap();
        let r = b.completion(
            &OpRequest::new("read", None, Value::Null),
            &json!({"type": "read_ok", "messages": [1, 2]}),
        );
        assert_eq!(r.value, json!([1, 2]));
        let wrong = b.completion(
            &OpRequest::new("read", None, Value::Null),
            &json!({"type": "echo_ok"}),
        );
        assert_eq!(wrong.kind, OpType::Info);
        assert!(MaelstromWorkload::new("queues", TxnOptions::default(), 1).is_err());
    }
}
