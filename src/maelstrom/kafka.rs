//! Maelstrom's `kafka` workload (its `workload/kafka.clj`, on Jepsen's `jepsen.tests.kafka`):
//! the generator of `send`, `poll`, `assign` and `crash` ops, the final polls, and the client
//! that turns each op into Maelstrom's RPCs: `send` → `send_ok {offset}`; `poll {offsets}` →
//! `poll_ok {msgs}` followed by `commit_offsets` of the highest offsets read; `assign` →
//! `list_committed_offsets` for keys new to the client; `crash` drops the client's offsets.
//!
//! Ops are recorded as the checker (`faultline_checkers::kafka`) reads them: a send's key is
//! the op's key and its ok value `[offset, message]`; a poll's ok value is `{key: [[offset,
//! message], ...]}`; an assign's ok value is the keys it assigned.
//!
//! The final polls, one fresh client per worker, assign every key from offset 0 and poll
//! until they have read past every acknowledged offset, for at most [`FINAL_POLLS`]: as
//! Maelstrom, a node that lost data does not stall the end of the test forever.
//! This module never starts a process; it only speaks through the RPC function it is given.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use faultline_checkers::history::OpType;
use faultline_workloads::generator::{each_worker, from_fn, stagger, time_limit, until};
use faultline_workloads::generator::{Generator, Poll};
use faultline_workloads::op::OpRequest;
use faultline_workloads::TxnOptions;
use rand::seq::IndexedRandom;
use rand::Rng;
use serde_json::{json, Value};

use super::protocol::error_outcome;
use crate::systems::Completion;

/// How long the final polls may take, at most (Maelstrom clips them to 10 s).
pub(crate) const FINAL_POLLS: Duration = Duration::from_secs(10);
/// Polls per second of each final client.
const FINAL_POLL_RATE: f64 = 20.0;

/// What the clients of one run share: the keys sent to, the highest acknowledged offset of
/// each, and whether each final client has read past all of them.
pub(crate) struct KafkaShared {
    acked: Mutex<BTreeMap<String, i64>>,
    keys: Mutex<BTreeSet<String>>,
    caught_up: Vec<Arc<AtomicBool>>,
}

impl KafkaShared {
    pub fn new(workers: usize) -> KafkaShared {
        KafkaShared {
            acked: Mutex::new(BTreeMap::new()),
            keys: Mutex::new(BTreeSet::new()),
            caught_up: (0..workers)
                .map(|_| Arc::new(AtomicBool::new(false)))
                .collect(),
        }
    }
}

/// The main generator: sends of unique messages to the active keys (each replaced by a
/// fresh key after `--max-writes-per-key` sends), polls, an occasional assign of a few active
/// keys, and a rare crash of a client.
pub(crate) fn generator(txn: &TxnOptions) -> Box<dyn Generator> {
    let key_count = txn.key_count.max(1);
    let max_writes = txn.max_writes_per_key.max(1);
    let mut active: Vec<(u64, u64)> = (0..key_count as u64).map(|k| (k, 0)).collect();
    let mut next_key = key_count as u64;
    let mut next_msg = 0u64;
    from_fn(move |_, rng| {
        let roll: f64 = rng.random();
        let op = if roll < 1.0 / 200.0 {
            OpRequest::new("crash", None, Value::Null)
        } else if roll < 1.0 / 12.0 {
            let count = rng.random_range(1..=3.min(active.len()));
            let keys: Vec<Value> = active
                .choose_multiple(rng, count)
                .map(|(k, _)| json!(k.to_string()))
                .collect();
            OpRequest::new("assign", None, Value::Array(keys))
        } else if rng.random_bool(0.5) {
            let slot = rng.random_range(0..active.len());
            let (key, writes) = &mut active[slot];
            let op = OpRequest::new("send", Some(json!(key.to_string())), json!(next_msg));
            next_msg += 1;
            *writes += 1;
            if *writes >= max_writes {
                active[slot] = (next_key, 0);
                next_key += 1;
            }
            op
        } else {
            OpRequest::new("poll", None, Value::Null)
        };
        Poll::Op(op)
    })
}

/// The final polls: each worker assigns every key from the beginning, then polls until it
/// has read past every acknowledged offset or [`FINAL_POLLS`] has passed.
pub(crate) fn final_generator(shared: &Arc<KafkaShared>) -> Box<dyn Generator> {
    let shared = shared.clone();
    each_worker(move |worker| {
        let mut assigned = false;
        let polls = from_fn(move |_, _| {
            let op = if assigned {
                OpRequest::new("poll", None, Value::Null)
            } else {
                assigned = true;
                OpRequest::new("assign", None, json!("all keys, from offset 0"))
            };
            Poll::Op(op)
        });
        let paced = stagger(FINAL_POLL_RATE, polls).expect("a positive rate");
        match shared.caught_up.get(worker) {
            Some(flag) => until(flag.clone(), time_limit(FINAL_POLLS, paced)),
            None => time_limit(FINAL_POLLS, paced),
        }
    })
}

/// One client's position: the offset it polls next in each assigned key.
#[derive(Default)]
pub(crate) struct Cursor {
    offsets: BTreeMap<String, i64>,
    /// Set by the final assign: this client's polls end once it has caught up.
    final_worker: Option<usize>,
}

/// Perform `op` with `rpc` (a request body → the reply body, `None` on timeout).
pub(crate) async fn invoke<F, R>(
    shared: &KafkaShared,
    cursor: &mut Cursor,
    worker: usize,
    op: &OpRequest,
    rpc: F,
) -> Completion
where
    F: Fn(Value) -> R,
    R: std::future::Future<Output = Option<Value>>,
{
    match op.f.as_str() {
        "crash" => {
            *cursor = Cursor::default();
            Completion::info(
                Value::Null,
                "crash: the client drops its offsets and starts afresh (Jepsen's crash-clients)",
            )
        }
        "send" => {
            let key = op.key.clone().unwrap_or(Value::Null);
            let key_text = key.as_str().unwrap_or_default().to_string();
            shared.keys.lock().unwrap().insert(key_text.clone());
            let reply = rpc(json!({"type": "send", "key": key, "msg": op.value})).await;
            match answer(reply, "send_ok", true) {
                Ok(body) => match body.get("offset").and_then(Value::as_i64) {
                    Some(offset) => {
                        let mut acked = shared.acked.lock().unwrap();
                        let top = acked.entry(key_text).or_insert(offset);
                        *top = (*top).max(offset);
                        Completion::ok(json!([offset, op.value]))
                    }
                    None => Completion::info(
                        Value::Null,
                        format!("send_ok without an integer offset: {body}"),
                    ),
                },
                Err(done) => done,
            }
        }
        "assign" => {
            let keys: Vec<String> = match &op.value {
                Value::Array(keys) => keys
                    .iter()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect(),
                _ => {
                    // The final assign: every key, from the beginning.
                    cursor.final_worker = Some(worker);
                    let keys: Vec<String> = shared.keys.lock().unwrap().iter().cloned().collect();
                    cursor.offsets = keys.iter().map(|k| (k.clone(), 0)).collect();
                    return Completion::ok(json!(keys));
                }
            };
            let fresh: Vec<&String> = keys
                .iter()
                .filter(|k| !cursor.offsets.contains_key(*k))
                .collect();
            let committed = if fresh.is_empty() {
                Value::Null
            } else {
                let reply = rpc(json!({"type": "list_committed_offsets", "keys": fresh})).await;
                match answer(reply, "list_committed_offsets_ok", false) {
                    Ok(body) => body.get("offsets").cloned().unwrap_or(Value::Null),
                    Err(done) => return done,
                }
            };
            cursor.offsets = keys
                .iter()
                .map(|k| {
                    let from = cursor
                        .offsets
                        .get(k)
                        .copied()
                        .or_else(|| committed.get(k).and_then(Value::as_i64))
                        .unwrap_or(0);
                    (k.clone(), from)
                })
                .collect();
            Completion::ok(json!(keys))
        }
        "poll" => {
            let reply = rpc(json!({"type": "poll", "offsets": cursor.offsets})).await;
            let body = match answer(reply, "poll_ok", true) {
                Ok(body) => body,
                Err(done) => return done,
            };
            let msgs = body.get("msgs").cloned().unwrap_or_else(|| json!({}));
            let Some(by_key) = msgs.as_object() else {
                return Completion::info(Value::Null, format!("poll_ok msgs is not a map: {msgs}"));
            };
            let mut highest = serde_json::Map::new();
            for (key, pairs) in by_key {
                let top = pairs
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.get(0).and_then(Value::as_i64))
                    .max();
                if let Some(top) = top {
                    highest.insert(key.clone(), json!(top));
                    let next = cursor.offsets.entry(key.clone()).or_insert(0);
                    *next = (*next).max(top + 1);
                }
            }
            if !highest.is_empty() {
                // As Maelstrom's client: commit what was read. The poll happened whatever
                // the commit's answer, so it is recorded ok either way.
                let _ = rpc(json!({"type": "commit_offsets", "offsets": highest})).await;
            }
            if let Some(worker) = cursor.final_worker {
                let acked = shared.acked.lock().unwrap();
                let caught_up = acked
                    .iter()
                    .all(|(k, top)| cursor.offsets.get(k).is_some_and(|next| next > top));
                if caught_up {
                    if let Some(flag) = shared.caught_up.get(worker) {
                        flag.store(true, Ordering::Relaxed);
                    }
                }
            }
            Completion::ok(msgs)
        }
        other => Completion::fail(Value::Null, format!("kafka has no op '{other}'")),
    }
}

/// The reply's body if it is `expected`; else the op's completion: `fail` for a definite
/// error (or any error and timeout when `may_have_happened` is false), `info` otherwise.
fn answer(
    reply: Option<Value>,
    expected: &str,
    may_have_happened: bool,
) -> Result<Value, Completion> {
    let Some(body) = reply else {
        return Err(if may_have_happened {
            Completion::info(Value::Null, "timeout (no reply in 5 s)")
        } else {
            Completion::fail(Value::Null, "timeout (no reply in 5 s)")
        });
    };
    match body.get("type").and_then(Value::as_str) {
        Some(kind) if kind == expected => Ok(body),
        Some("error") => {
            let (outcome, error) = error_outcome(&body);
            Err(match outcome {
                OpType::Info if may_have_happened => Completion::info(Value::Null, error),
                _ => Completion::fail(Value::Null, error),
            })
        }
        _ => Err(Completion::info(
            Value::Null,
            format!("expected a {expected} or an error, got {body}"),
        )),
    }
}
