//! A Maelstrom node program in Rust, written from Maelstrom's `doc/protocol.md` and
//! `doc/workloads.md` only: what a Gossip Glomers solver writes, to run with
//! `faultline maelstrom test --bin target/debug/examples/maelstrom-node`.
//!
//! One binary serves several workloads, by message type:
//! - `echo` and `generate` (unique ids: node id and a counter);
//! - `broadcast`: relay each new message to the topology's neighbours, and every 200 ms
//!   gossip the whole set to them (anti-entropy, so messages cross healed partitions);
//! - `add`/`read` of `g-set` and, with `--counter`, of `g-counter`/`pn-counter`
//!   (state-based CRDTs: a set, and a per-node total, gossiped every 200 ms);
//! - `kafka`'s `send`, `poll`, `commit_offsets`, `list_committed_offsets`: node `n1` keeps
//!   the logs; the others forward each request to it and relay its answer.
//!
//! Deliberate bugs, for the tests that show each checker catches one (`--bug NAME` after
//! the binary): `no-relay` (broadcast forgets to relay or gossip), `double-count` (a counter
//! counts every add twice), `local-logs` (each kafka node keeps its own logs).
//!
//! Standard library and `serde_json` only; one thread reads stdin, the main loop handles
//! messages and timers.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const GOSSIP_EVERY: Duration = Duration::from_millis(200);

#[derive(Default)]
struct Node {
    id: String,
    ids: Vec<String>,
    bug: String,
    /// `--counter`: reads answer the counter's value (g-counter, pn-counter).
    counter: bool,
    next_msg_id: u64,
    next_unique: u64,
    neighbours: Vec<String>,
    messages: BTreeSet<i64>,
    elements: BTreeSet<i64>,
    /// Per node, the sum of the deltas it received (g-counter/pn-counter).
    counts: BTreeMap<String, i64>,
    /// Kafka, on n1: key → messages (offset = position), and committed offsets.
    logs: BTreeMap<String, Vec<Value>>,
    committed: BTreeMap<String, i64>,
    /// Forwarded requests: our msg_id → (the client, its msg_id).
    forwarded: HashMap<u64, (String, Value)>,
}

impl Node {
    fn send(&mut self, dest: &str, mut body: Value) {
        if body.get("msg_id").is_none() && body.get("in_reply_to").is_none() {
            self.next_msg_id += 1;
            body["msg_id"] = json!(self.next_msg_id);
        }
        let line = json!({"src": self.id, "dest": dest, "body": body});
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    fn reply(&mut self, request: &Value, mut body: Value) {
        body["in_reply_to"] = request["body"]["msg_id"].clone();
        let dest = request["src"].as_str().unwrap_or_default().to_string();
        self.send(&dest, body);
    }

    fn gossip(&mut self) {
        if self.bug == "no-relay" {
            return;
        }
        let others: Vec<String> = match self.neighbours.is_empty() {
            true => self
                .ids
                .iter()
                .filter(|n| **n != self.id)
                .cloned()
                .collect(),
            false => self.neighbours.clone(),
        };
        for n in others {
            let body = json!({"type": "gossip", "messages": self.messages, "elements": self.elements, "counts": self.counts, "in_reply_to": null});
            self.send(&n, body);
        }
    }

    fn kafka(&mut self, body: &Value) -> Value {
        let key = |v: &Value| v.as_str().unwrap_or_default().to_string();
        match body["type"].as_str().unwrap_or_default() {
            "send" => {
                let log = self.logs.entry(key(&body["key"])).or_default();
                log.push(body["msg"].clone());
                json!({"type": "send_ok", "offset": log.len() - 1})
            }
            "poll" => {
                let mut msgs = serde_json::Map::new();
                for (k, from) in body["offsets"].as_object().into_iter().flatten() {
                    let log = self.logs.get(k).map(Vec::as_slice).unwrap_or_default();
                    let from = from.as_u64().unwrap_or(0) as usize;
                    let pairs: Vec<Value> = (from..log.len().min(from + 10))
                        .map(|o| json!([o, log[o]]))
                        .collect();
                    if !pairs.is_empty() {
                        msgs.insert(k.clone(), Value::Array(pairs));
                    }
                }
                json!({"type": "poll_ok", "msgs": msgs})
            }
            "commit_offsets" => {
                for (k, o) in body["offsets"].as_object().into_iter().flatten() {
                    let top = self.committed.entry(k.clone()).or_insert(-1);
                    *top = (*top).max(o.as_i64().unwrap_or(-1));
                }
                json!({"type": "commit_offsets_ok"})
            }
            _ => {
                let offsets: serde_json::Map<String, Value> = body["keys"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|k| {
                        let k = key(k);
                        self.committed.get(&k).map(|o| (k, json!(o)))
                    })
                    .collect();
                json!({"type": "list_committed_offsets_ok", "offsets": offsets})
            }
        }
    }

    fn handle(&mut self, message: Value) {
        let body = message["body"].clone();
        if let Some(reply_to) = body["in_reply_to"].as_u64() {
            // The leader's answer to a forwarded kafka request: relay it to the client.
            if let Some((client, client_msg_id)) = self.forwarded.remove(&reply_to) {
                let mut answer = body.clone();
                answer["in_reply_to"] = client_msg_id;
                answer.as_object_mut().map(|o| o.remove("msg_id"));
                self.send(&client, answer);
            }
            return;
        }
        match body["type"].as_str().unwrap_or_default() {
            "init" => {
                self.id = body["node_id"].as_str().unwrap_or_default().to_string();
                self.ids = serde_json::from_value(body["node_ids"].clone()).unwrap_or_default();
                self.reply(&message, json!({"type": "init_ok"}));
            }
            "echo" => self.reply(&message, json!({"type": "echo_ok", "echo": body["echo"]})),
            "generate" => {
                self.next_unique += 1;
                let id = format!("{}-{}", self.id, self.next_unique);
                self.reply(&message, json!({"type": "generate_ok", "id": id}));
            }
            "topology" => {
                self.neighbours =
                    serde_json::from_value(body["topology"][&self.id].clone()).unwrap_or_default();
                self.reply(&message, json!({"type": "topology_ok"}));
            }
            "broadcast" => {
                let m = body["message"].as_i64().unwrap_or_default();
                if self.messages.insert(m) && self.bug != "no-relay" {
                    for n in self.neighbours.clone() {
                        self.send(
                            &n,
                            json!({"type": "gossip", "messages": [m], "in_reply_to": null}),
                        );
                    }
                }
                self.reply(&message, json!({"type": "broadcast_ok"}));
            }
            "gossip" => {
                for m in body["messages"].as_array().into_iter().flatten() {
                    self.messages.extend(m.as_i64());
                }
                for e in body["elements"].as_array().into_iter().flatten() {
                    self.elements.extend(e.as_i64());
                }
                for (n, c) in body["counts"].as_object().into_iter().flatten() {
                    // A node's total only grows in g-counter; in pn-counter the newest wins,
                    // and a node's own entry is only ever written by that node.
                    if *n != self.id {
                        self.counts.insert(n.clone(), c.as_i64().unwrap_or(0));
                    }
                }
            }
            "add" if body.get("element").is_some() => {
                self.elements.extend(body["element"].as_i64());
                self.reply(&message, json!({"type": "add_ok"}));
            }
            "add" => {
                let times = if self.bug == "double-count" { 2 } else { 1 };
                let delta = body["delta"].as_i64().unwrap_or(0) * times;
                *self.counts.entry(self.id.clone()).or_default() += delta;
                self.reply(&message, json!({"type": "add_ok"}));
            }
            "read" => {
                let reply = match self.counter {
                    true => json!({"type": "read_ok", "value": self.counts.values().sum::<i64>()}),
                    false => {
                        json!({"type": "read_ok", "messages": self.messages, "value": self.elements})
                    }
                };
                self.reply(&message, reply);
            }
            "send" | "poll" | "commit_offsets" | "list_committed_offsets" => {
                if self.id == "n1" || self.bug == "local-logs" {
                    let answer = self.kafka(&body);
                    self.reply(&message, answer);
                } else {
                    self.next_msg_id += 1;
                    let id = self.next_msg_id;
                    let client = message["src"].as_str().unwrap_or_default().to_string();
                    self.forwarded.insert(id, (client, body["msg_id"].clone()));
                    let mut forward = body.clone();
                    forward["msg_id"] = json!(id);
                    self.send("n1", forward);
                }
            }
            other => {
                let text = format!("no handler for {other}");
                self.reply(&message, json!({"type": "error", "code": 10, "text": text}));
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bug = match args.iter().position(|a| a == "--bug") {
        Some(i) => args.get(i + 1).cloned().unwrap_or_default(),
        None => String::new(),
    };
    let mut node = Node {
        bug,
        counter: args.iter().any(|a| a == "--counter"),
        ..Node::default()
    };
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut next_gossip = Instant::now() + GOSSIP_EVERY;
    loop {
        let wait = next_gossip.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(line) => match serde_json::from_str::<Value>(&line) {
                Ok(message) => node.handle(message),
                Err(e) => eprintln!("not a message ({e}): {line}"),
            },
            Err(mpsc::RecvTimeoutError::Timeout) => {
                node.gossip();
                next_gossip = Instant::now() + GOSSIP_EVERY;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}
