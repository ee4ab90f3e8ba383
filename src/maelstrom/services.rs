//! Maelstrom's services (its `doc/services.md`), which nodes call like any other node:
//!
//! - `lin-kv`: a linearizable key-value store (one state, every request applied in order);
//! - `seq-kv`: sequentially consistent: one order of writes, but a node's read may return any
//!   state at or after the last one that node saw (its own writes included), so reads can be
//!   stale yet never go back in time for a node;
//! - `lww-kv`: last-write-wins over three replicas that each request picks at random and that
//!   merge lazily (by write timestamp): reads may be stale and may go back;
//! - `lin-tso`: a linearizable timestamp oracle (`ts` → `ts_ok` with a strictly increasing `ts`).
//!
//! The KV services answer `read` (`read_ok` with `value`, or error 20 when the key was never
//! written), `write` (`write_ok`) and `cas` with `from`, `to` and optional
//! `create_if_not_exists` (`cas_ok`, error 22 when the value is not `from`, error 20 when the
//! key is absent and may not be created). Unknown request types are error 10, malformed ones
//! error 12. Deterministic for a seed; no I/O.

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::protocol::error_body;

/// The names nodes reach the services by.
pub(crate) const SERVICES: &[&str] = &["lin-kv", "seq-kv", "lww-kv", "lin-tso"];

/// Whether `name` is a service.
pub(crate) fn is_service(name: &str) -> bool {
    SERVICES.contains(&name)
}

type State = HashMap<String, Value>;

/// How many past states `seq-kv` keeps for stale reads.
const SEQ_HISTORY: usize = 64;

/// Every service of one run.
pub(crate) struct Services {
    rng: StdRng,
    lin: State,
    /// `seq-kv`: states in write order (the last is current), the first one's version, and
    /// the version each node saw last.
    seq: Vec<State>,
    seq_first: u64,
    seq_seen: HashMap<String, u64>,
    /// `lww-kv`: replicas of `(value, timestamp)`, and the next timestamp.
    lww: Vec<HashMap<String, (Value, u64)>>,
    lww_clock: u64,
    tso: u64,
}

impl Services {
    pub fn new(seed: u64) -> Services {
        Services {
            rng: StdRng::seed_from_u64(seed),
            lin: State::new(),
            seq: vec![State::new()],
            seq_first: 0,
            seq_seen: HashMap::new(),
            lww: vec![HashMap::new(); 3],
            lww_clock: 0,
            tso: 0,
        }
    }

    /// The reply body to `body`, sent by node `from` to `service`.
    pub fn handle(&mut self, service: &str, from: &str, body: &Value) -> Value {
        let msg_id = body.get("msg_id").and_then(Value::as_u64);
        let mut reply = match service {
            "lin-tso" => match body.get("type").and_then(Value::as_str) {
                Some("ts") => {
                    self.tso += 1;
                    json!({"type": "ts_ok", "ts": self.tso})
                }
                other => error_body(msg_id, 10, &format!("lin-tso does not do {other:?}")),
            },
            "lin-kv" => kv(&mut self.lin, body, msg_id),
            "seq-kv" => self.seq_kv(from, body, msg_id),
            "lww-kv" => self.lww_kv(body, msg_id),
            other => error_body(msg_id, 1, &format!("no service {other}")),
        };
        reply["in_reply_to"] = json!(msg_id);
        reply
    }

    fn seq_kv(&mut self, from: &str, body: &Value, msg_id: Option<u64>) -> Value {
        let latest = self.seq_first + self.seq.len() as u64 - 1;
        let seen = self
            .seq_seen
            .get(from)
            .copied()
            .unwrap_or(0)
            .clamp(self.seq_first, latest);
        if body.get("type").and_then(Value::as_str) == Some("read") {
            let version = self.rng.random_range(seen..=latest);
            self.seq_seen.insert(from.to_string(), version);
            let state = &mut self.seq[(version - self.seq_first) as usize].clone();
            return kv(state, body, msg_id);
        }
        // Writes and cas act on the current state, and the node sees it from then on.
        let mut next = self.seq.last().cloned().unwrap_or_default();
        let reply = kv(&mut next, body, msg_id);
        if next != *self.seq.last().expect("one state at least") {
            self.seq.push(next);
            if self.seq.len() > SEQ_HISTORY {
                self.seq.remove(0);
                self.seq_first += 1;
            }
        }
        let latest = self.seq_first + self.seq.len() as u64 - 1;
        self.seq_seen.insert(from.to_string(), latest);
        reply
    }

    fn lww_kv(&mut self, body: &Value, msg_id: Option<u64>) -> Value {
        let replicas = self.lww.len();
        let chosen = self.rng.random_range(0..replicas);
        // Lazy anti-entropy: now and then the chosen replica merges another one.
        if self.rng.random_bool(0.3) {
            let other = self.rng.random_range(0..replicas);
            let theirs = self.lww[other].clone();
            for (key, (value, ts)) in theirs {
                let mine = self.lww[chosen].entry(key).or_insert((Value::Null, 0));
                if ts > mine.1 {
                    *mine = (value, ts);
                }
            }
        }
        let mut view: State = self.lww[chosen]
            .iter()
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect();
        let before = view.clone();
        let reply = kv(&mut view, body, msg_id);
        for (key, value) in view {
            if before.get(&key) != Some(&value) {
                self.lww_clock += 1;
                self.lww[chosen].insert(key, (value, self.lww_clock));
            }
        }
        reply
    }
}

/// One KV request against `state`.
fn kv(state: &mut State, body: &Value, msg_id: Option<u64>) -> Value {
    let Some(key) = body.get("key") else {
        return error_body(msg_id, 12, "a KV request needs a key");
    };
    let key = key.to_string();
    match body.get("type").and_then(Value::as_str) {
        Some("read") => match state.get(&key) {
            Some(value) => json!({"type": "read_ok", "value": value}),
            None => error_body(msg_id, 20, "key does not exist"),
        },
        Some("write") => {
            state.insert(key, body.get("value").cloned().unwrap_or(Value::Null));
            json!({"type": "write_ok"})
        }
        Some("cas") => {
            let from = body.get("from").cloned().unwrap_or(Value::Null);
            let to = body.get("to").cloned().unwrap_or(Value::Null);
            let create = body
                .get("create_if_not_exists")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            match state.get(&key) {
                None if create => {
                    state.insert(key, to);
                    json!({"type": "cas_ok"})
                }
                None => error_body(msg_id, 20, "key does not exist"),
                Some(current) if *current == from => {
                    state.insert(key, to);
                    json!({"type": "cas_ok"})
                }
                Some(current) => {
                    error_body(msg_id, 22, &format!("expected {from}, but had {current}"))
                }
            }
        }
        other => error_body(msg_id, 10, &format!("KV services do not do {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(s: &mut Services, service: &str, from: &str, body: Value) -> Value {
        s.handle(service, from, &body)
    }

    #[test]
    fn lin_kv_reads_writes_and_cas_with_maelstrom_codes() {
        let mut s = Services::new(1);
        let r = call(
            &mut s,
            "lin-kv",
            "n1",
            json!({"type": "read", "msg_id": 1, "key": "k"}),
        );
        assert_eq!(
            (
                r["type"].clone(),
                r["code"].clone(),
                r["in_reply_to"].clone()
            ),
            (json!("error"), json!(20), json!(1))
        );
        call(
            &mut s,
            "lin-kv",
            "n1",
            json!({"type": "write", "msg_id": 2, "key": "k", "value": 3}),
        );
        let r = call(
            &mut s,
            "lin-kv",
            "n2",
            json!({"type": "cas", "msg_id": 3, "key": "k", "from": 4, "to": 5}),
        );
        assert_eq!(r["code"], 22);
        let r = call(
            &mut s,
            "lin-kv",
            "n2",
            json!({"type": "cas", "msg_id": 4, "key": "k", "from": 3, "to": 5}),
        );
        assert_eq!(r["type"], "cas_ok");
        let r = call(
            &mut s,
            "lin-kv",
            "n1",
            json!({"type": "read", "msg_id": 5, "key": "k"}),
        );
        assert_eq!(r["value"], 5);
        let r = call(
            &mut s,
            "lin-kv",
            "n1",
            json!({"type": "cas", "msg_id": 6, "key": "new", "from": 0, "to": 1, "create_if_not_exists": true}),
        );
        assert_eq!(r["type"], "cas_ok");
        let r = call(&mut s, "lin-tso", "n1", json!({"type": "ts", "msg_id": 7}));
        let r2 = call(&mut s, "lin-tso", "n2", json!({"type": "ts", "msg_id": 8}));
        assert!(r2["ts"].as_u64() > r["ts"].as_u64());
    }

    #[test]
    fn seq_kv_may_be_stale_but_never_goes_back_for_a_node_and_shows_its_own_writes() {
        let mut s = Services::new(7);
        for v in 1..=20 {
            call(
                &mut s,
                "seq-kv",
                "n1",
                json!({"type": "write", "msg_id": v, "key": "x", "value": v}),
            );
        }
        let mut stale = false;
        let mut last = 0;
        for i in 0..50 {
            let r = call(
                &mut s,
                "seq-kv",
                "n2",
                json!({"type": "read", "msg_id": 100 + i, "key": "x"}),
            );
            let v = r["value"].as_i64().unwrap_or(0);
            assert!(v >= last, "n2 went back from {last} to {v}");
            stale |= v < 20;
            last = v;
        }
        assert!(stale, "a fresh node saw only the latest state");
        // n1 wrote 20 last: it reads it.
        let r = call(
            &mut s,
            "seq-kv",
            "n1",
            json!({"type": "read", "msg_id": 999, "key": "x"}),
        );
        assert_eq!(r["value"], 20);
    }

    #[test]
    fn lww_kv_converges_to_the_last_write() {
        let mut s = Services::new(3);
        call(
            &mut s,
            "lww-kv",
            "n1",
            json!({"type": "write", "msg_id": 1, "key": "x", "value": 1}),
        );
        call(
            &mut s,
            "lww-kv",
            "n1",
            json!({"type": "write", "msg_id": 2, "key": "x", "value": 2}),
        );
        let reads: Vec<Value> = (0..200)
            .map(|i| {
                call(
                    &mut s,
                    "lww-kv",
                    "n2",
                    json!({"type": "read", "msg_id": 10 + i, "key": "x"}),
                )["value"]
                    .clone()
            })
            .collect();
        assert_eq!(reads.last().unwrap(), &json!(2), "converged");
    }
}
