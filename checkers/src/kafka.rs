//! Jepsen's checks of Kafka-like logs (`jepsen.tests.kafka`, which Maelstrom's `kafka`
//! workload uses): each key is an append-only log of messages at integer offsets.
//!
//! The history's ops are `send` (key `k`, invoked with a message; completed `ok` with
//! `[offset, message]`), `poll` (completed `ok` with `{key: [[offset, message], ...]}`),
//! `assign` (the keys a process polls from now on) and `crash` (the client lost its state).
//!
//! From every acknowledged send and every poll the checker builds each key's log (offset →
//! messages; a dense *index* skips the holes), then reports Jepsen's anomalies:
//!
//! - `inconsistent-offsets`: one offset holds two messages;
//! - `duplicate`: one message at two offsets;
//! - `lost-write`: an acknowledged message below the highest index any poll read, never
//!   read by any poll;
//! - `unseen`: an acknowledged message no poll ever read (the final polls read everything);
//! - `G1a`: a poll read a message whose send certainly failed;
//! - `poll-skip` / `nonmonotonic-poll`: two successive polls of one process (with no assign
//!   of the key between) whose reads of a key jump over messages known to exist, or go back;
//! - `int-poll-skip` / `int-nonmonotonic-poll`: the same inside one poll;
//! - `nonmonotonic-send`: a process's later send to a key got an earlier offset.
//!
//! As Jepsen's checker with assign-based subscriptions, each of these makes the history
//! invalid. A pure function of the history: no I/O, no knowledge of networks or nodes.
//!
//! ```
//! use faultline_checkers::checker::{Checker, Validity};
//! use faultline_checkers::history::{History, Op, OpType, Process};
//! use faultline_checkers::kafka::KafkaChecker;
//! use serde_json::json;
//!
//! let p = Process::Client(0);
//! let history = History::from_ops(vec![
//!     Op::new(p, OpType::Invoke, "send", json!(7)).with_key(json!("k")),
//!     Op::new(p, OpType::Ok, "send", json!([0, 7])).with_key(json!("k")),
//!     Op::new(p, OpType::Invoke, "poll", json!(null)),
//!     Op::new(p, OpType::Ok, "poll", json!({"k": [[0, 7]]})),
//! ]);
//! assert_eq!(KafkaChecker.check(&history).valid, Validity::Valid);
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{json, Value};

use crate::checker::{CheckResult, Judge, Validity};
use crate::history::{History, Op, OpType};

/// Examples kept per anomaly kind in the details (the counts are always whole).
const EXAMPLES: usize = 8;

/// The checker of Kafka-like logs.
#[derive(Debug, Clone, Copy, Default)]
pub struct KafkaChecker;

/// A message: its JSON text, so any JSON value can be a message.
type Msg = String;
type Key = String;
/// What one poll read: per key, `(offset, message)` in the order returned.
type Reads = Vec<(Key, Vec<(i64, Msg)>)>;

/// One key's log as observed: offset → messages seen there.
#[derive(Default)]
struct Log {
    by_offset: BTreeMap<i64, BTreeSet<Msg>>,
}

/// A key's log made dense: the index of each message (its first offset) and the messages
/// at each index.
struct Order {
    index_of: HashMap<Msg, usize>,
    /// Index → offset and the messages there.
    at: Vec<(i64, BTreeSet<Msg>)>,
    /// Index → the messages whose *last* appearance is there.
    last_at: Vec<Vec<Msg>>,
}

impl Order {
    fn of(log: &Log) -> Order {
        let at: Vec<(i64, BTreeSet<Msg>)> = log
            .by_offset
            .iter()
            .map(|(o, ms)| (*o, ms.clone()))
            .collect();
        let mut index_of = HashMap::new();
        let mut last = HashMap::new();
        for (i, (_, msgs)) in at.iter().enumerate() {
            for m in msgs {
                index_of.entry(m.clone()).or_insert(i);
                last.insert(m.clone(), i);
            }
        }
        let mut last_at = vec![Vec::new(); at.len()];
        for (m, i) in last {
            last_at[i].push(m);
        }
        for msgs in &mut last_at {
            msgs.sort();
        }
        Order {
            index_of,
            at,
            last_at,
        }
    }

    /// Messages strictly between indices `from` and `to`.
    fn between(&self, from: usize, to: usize) -> Vec<Value> {
        (from + 1..to)
            .filter_map(|i| self.at[i].1.iter().next())
            .map(|m| msg_value(m))
            .collect()
    }
}

fn msg_value(m: &str) -> Value {
    serde_json::from_str(m).unwrap_or(Value::Null)
}

/// What one completed client call said.
struct Call<'a> {
    invoke: &'a Op,
    done: Option<&'a Op>,
}

impl Call<'_> {
    fn kind(&self) -> Option<OpType> {
        self.done.map(|d| d.kind)
    }
}

/// `[offset, message]` of an acknowledged send, or why not.
fn sent(op: &Op) -> Result<(i64, Msg), String> {
    match op.value.as_array().map(Vec::as_slice) {
        Some([offset, msg]) => match offset.as_i64() {
            Some(o) => Ok((o, msg.to_string())),
            None => Err(format!(
                "send #{} has offset {offset}, not an integer",
                op.index
            )),
        },
        _ => Err(format!(
            "send #{} completed with {}, not [offset, message]",
            op.index, op.value
        )),
    }
}

/// A poll's reads: key → `[(offset, message)]` in the order returned.
fn polled(op: &Op) -> Result<Reads, String> {
    let Some(map) = op.value.as_object() else {
        return Err(format!(
            "poll #{} completed with {}, not a map of keys to [[offset, message], ...]",
            op.index, op.value
        ));
    };
    let mut out = Vec::new();
    for (k, pairs) in map {
        let mut reads = Vec::new();
        for pair in pairs.as_array().into_iter().flatten() {
            match pair.as_array().map(Vec::as_slice) {
                Some([o, m]) if o.as_i64().is_some() => {
                    reads.push((o.as_i64().unwrap_or(0), m.to_string()))
                }
                _ => {
                    return Err(format!(
                        "poll #{} read {pair} in key {k}, not [offset, message]",
                        op.index
                    ))
                }
            }
        }
        out.push((k.clone(), reads));
    }
    Ok(out)
}

fn key_of(op: &Op) -> Key {
    match &op.key {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Anomalies found, by kind.
#[derive(Default)]
struct Found {
    by_kind: BTreeMap<&'static str, (usize, Vec<Value>, Option<String>)>,
}

impl Found {
    fn add(&mut self, kind: &'static str, example: Value, sentence: impl FnOnce() -> String) {
        let entry = self.by_kind.entry(kind).or_default();
        entry.0 += 1;
        if entry.1.len() < EXAMPLES {
            entry.1.push(example);
        }
        if entry.2.is_none() {
            entry.2 = Some(sentence());
        }
    }
}

impl Judge for KafkaChecker {
    fn name(&self) -> &str {
        "kafka"
    }

    fn judge(&self, history: &History) -> Result<CheckResult, String> {
        analyse(history)
    }
}

fn analyse(history: &History) -> Result<CheckResult, String> {
    let pairs = history.pair().map_err(|e| e.to_string())?;
    let calls: Vec<Call> = pairs
        .iter()
        .map(|c| Call {
            invoke: &history.ops[c.invoke],
            done: c.completion.map(|i| &history.ops[i]),
        })
        .collect();

    // The logs, from acknowledged sends and from every poll that returned messages.
    let mut logs: BTreeMap<Key, Log> = BTreeMap::new();
    let mut acked: BTreeMap<Key, BTreeMap<Msg, &Op>> = BTreeMap::new();
    let mut failed: HashMap<(Key, Msg), &Op> = HashMap::new();
    let mut reads: Vec<(&Op, Reads)> = Vec::new();
    for call in &calls {
        match (call.invoke.f.as_str(), call.kind(), call.done) {
            ("send", Some(OpType::Ok), Some(done)) => {
                let (offset, msg) = sent(done)?;
                let key = key_of(call.invoke);
                logs.entry(key.clone())
                    .or_default()
                    .by_offset
                    .entry(offset)
                    .or_default()
                    .insert(msg.clone());
                acked.entry(key).or_default().insert(msg, done);
            }
            ("send", Some(OpType::Fail), Some(done)) => {
                failed.insert((key_of(call.invoke), call.invoke.value.to_string()), done);
            }
            ("poll", Some(kind), Some(done)) if kind == OpType::Ok || done.value.is_object() => {
                let got = polled(done)?;
                for (key, pairs) in &got {
                    let log = logs.entry(key.clone()).or_default();
                    for (o, m) in pairs {
                        log.by_offset.entry(*o).or_default().insert(m.clone());
                    }
                }
                if done.kind == OpType::Ok {
                    reads.push((done, got));
                }
            }
            _ => {}
        }
    }
    let orders: BTreeMap<&Key, Order> = logs.iter().map(|(k, log)| (k, Order::of(log))).collect();
    let mut found = Found::default();

    for (key, order) in &orders {
        for (offset, msgs) in &order.at {
            if msgs.len() > 1 {
                let values: Vec<Value> = msgs.iter().map(|m| msg_value(m)).collect();
                let senders: Vec<String> = msgs
                    .iter()
                    .filter_map(|m| acked.get(*key).and_then(|by_msg| by_msg.get(m)))
                    .map(|op| format!("#{}", op.index))
                    .collect();
                let by = match senders.is_empty() {
                    true => String::new(),
                    false => format!(", acknowledged by sends {}", senders.join(", ")),
                };
                found.add(
                    "inconsistent-offsets",
                    json!({"key": key, "offset": offset, "values": values}),
                    || {
                        format!(
                            "key {key}: offset {offset} holds {} different messages ({}){by}",
                            msgs.len(),
                            join(&values)
                        )
                    },
                );
            }
        }
        let mut offsets_of: BTreeMap<&Msg, Vec<i64>> = BTreeMap::new();
        for (offset, msgs) in &order.at {
            for m in msgs {
                offsets_of.entry(m).or_default().push(*offset);
            }
        }
        for (m, offsets) in offsets_of.into_iter().filter(|(_, o)| o.len() > 1) {
            found.add(
                "duplicate",
                json!({"key": key, "value": msg_value(m), "offsets": offsets}),
                || format!("key {key}: message {m} appears at offsets {offsets:?}"),
            );
        }
    }

    // Every message some ok poll read, per key; and who read the furthest.
    let mut read_by_key: BTreeMap<&str, BTreeSet<&Msg>> = BTreeMap::new();
    let mut furthest: BTreeMap<&str, (usize, &Op)> = BTreeMap::new();
    for (op, got) in &reads {
        for (key, pairs) in got {
            let order = &orders[key];
            for (_, m) in pairs {
                read_by_key.entry(key).or_default().insert(m);
                let i = order.index_of[m];
                let best = furthest.entry(key).or_insert((i, op));
                if i > best.0 {
                    *best = (i, op);
                }
            }
        }
    }
    for (key, msgs) in &acked {
        let read = read_by_key.get(key.as_str());
        let was_read = |m: &Msg| read.is_some_and(|r| r.contains(m));
        let bound = furthest.get(key.as_str());
        let order = &orders[key];
        let must_read: BTreeSet<&Msg> = match bound {
            Some((b, _)) => order.last_at[..=*b].iter().flatten().collect(),
            None => BTreeSet::new(),
        };
        for (m, send) in msgs {
            if was_read(m) {
                continue;
            }
            if let (true, Some((b, reader))) = (must_read.contains(m), bound) {
                let offset = order.at[order.index_of[m]].0;
                found.add(
                    "lost-write",
                    json!({"key": key, "value": msg_value(m), "offset": offset,
                           "writer": send.index, "max-read": reader.index}),
                    || format!(
                        "key {key}: message {m} was acknowledged at offset {offset} (op #{}) but no poll read it, though op #{} read up to offset {}",
                        send.index, reader.index, order.at[*b].0
                    ),
                );
            } else {
                found.add(
                    "unseen",
                    json!({"key": key, "value": msg_value(m), "writer": send.index}),
                    || format!(
                        "key {key}: message {m} was acknowledged (op #{}) but no poll ever read it, not even the final polls",
                        send.index
                    ),
                );
            }
        }
    }
    for (op, got) in &reads {
        for (key, pairs) in got {
            for (_, m) in pairs {
                if let Some(send) = failed.get(&(key.clone(), m.clone())) {
                    found.add(
                        "G1a",
                        json!({"key": key, "value": msg_value(m), "writer": send.index, "reader": op.index}),
                        || format!("key {key}: poll #{} read message {m}, whose send #{} failed", op.index, send.index),
                    );
                }
            }
        }
    }

    internal_order(&reads, &orders, &mut found);
    process_order(&calls, &orders, &mut found);

    let mut result = CheckResult::new("kafka", Validity::Valid);
    let mut details = serde_json::Map::new();
    for (kind, (count, examples, sentence)) in &found.by_kind {
        result.valid = Validity::Invalid;
        if let Some(sentence) = sentence {
            let more = match count {
                1 => String::new(),
                n => format!(" ({n} cases)"),
            };
            result = result.reason(format!("{kind}: {sentence}{more}"));
        }
        details.insert(
            kind.to_string(),
            json!({"count": count, "examples": examples}),
        );
    }
    let sends = acked.values().map(BTreeMap::len).sum::<usize>();
    details.insert("acknowledged-sends".into(), json!(sends));
    details.insert("polls".into(), json!(reads.len()));
    details.insert("keys".into(), json!(orders.len()));
    details.insert(
        "error-types".into(),
        json!(found.by_kind.keys().collect::<Vec<_>>()),
    );
    Ok(result.details(Value::Object(details)))
}

fn join(values: &[Value]) -> String {
    values
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Within one poll, each key's messages must follow the log one index at a time.
fn internal_order(reads: &[(&Op, Reads)], orders: &BTreeMap<&Key, Order>, found: &mut Found) {
    for (op, got) in reads {
        for (key, pairs) in got {
            let order = &orders[key];
            for w in pairs.windows(2) {
                let (i1, i2) = (order.index_of[&w[0].1], order.index_of[&w[1].1]);
                step(
                    found,
                    true,
                    key,
                    order,
                    i1,
                    i2,
                    &[op.index],
                    &w[0].1,
                    &w[1].1,
                );
            }
        }
    }
}

/// Report a skip or a step back from index `i1` to `i2` of `key`.
#[allow(clippy::too_many_arguments)]
fn step(
    found: &mut Found,
    internal: bool,
    key: &str,
    order: &Order,
    i1: usize,
    i2: usize,
    ops: &[u64],
    m1: &str,
    m2: &str,
) {
    let delta = i2 as i64 - i1 as i64;
    let where_ = match ops {
        [one] => format!("poll #{one}"),
        [a, b] => format!("polls #{a} then #{b} of one process"),
        _ => String::new(),
    };
    if delta > 1 {
        let skipped = order.between(i1, i2);
        let kind = if internal {
            "int-poll-skip"
        } else {
            "poll-skip"
        };
        found.add(
            kind,
            json!({"key": key, "values": [msg_value(m1), msg_value(m2)], "delta": delta,
                   "skipped": skipped, "ops": ops}),
            || {
                format!(
                    "key {key}: {where_} read {m1} then {m2}, skipping {}",
                    join(&skipped)
                )
            },
        );
    } else if delta < 1 {
        let kind = if internal {
            "int-nonmonotonic-poll"
        } else {
            "nonmonotonic-poll"
        };
        found.add(
            kind,
            json!({"key": key, "values": [msg_value(m1), msg_value(m2)], "delta": delta, "ops": ops}),
            || format!("key {key}: {where_} read {m1} then {m2}, which is not later in the log"),
        );
    }
}

/// Each process's successive polls continue where the last left off (until an assign), and
/// its successive sends to a key land at increasing offsets.
fn process_order(calls: &[Call], orders: &BTreeMap<&Key, Order>, found: &mut Found) {
    // Per process: key → (index, message, op) of the last message read / sent.
    let mut last_read: HashMap<u64, HashMap<Key, (usize, Msg, u64)>> = HashMap::new();
    let mut last_sent: HashMap<u64, HashMap<Key, (usize, Msg, u64)>> = HashMap::new();
    for call in calls {
        let (Some(done), Some(process)) = (call.done, call.invoke.process.client()) else {
            continue;
        };
        match (call.invoke.f.as_str(), done.kind) {
            ("assign", OpType::Ok) => {
                // The keys assigned: the completion's value, or else the invocation's.
                let keys = if done.value.is_array() {
                    &done.value
                } else {
                    &call.invoke.value
                };
                let keep: BTreeSet<Key> = keys
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|k| k.as_str().map_or_else(|| k.to_string(), str::to_string))
                    .collect();
                for map in [&mut last_read, &mut last_sent] {
                    if let Some(m) = map.get_mut(&process) {
                        m.retain(|k, _| keep.contains(k));
                    }
                }
            }
            ("poll", OpType::Ok) => {
                let Ok(got) = polled(done) else { continue };
                let lasts = last_read.entry(process).or_default();
                for (key, pairs) in got {
                    let (Some(first), Some(last)) = (pairs.first(), pairs.last()) else {
                        continue;
                    };
                    let order = &orders[&key];
                    let (i_first, i_last) = (order.index_of[&first.1], order.index_of[&last.1]);
                    if let Some((i, m, op)) = lasts.get(&key) {
                        step(
                            found,
                            false,
                            &key,
                            order,
                            *i,
                            i_first,
                            &[*op, done.index],
                            m,
                            &first.1,
                        );
                    }
                    lasts.insert(key, (i_last, last.1.clone(), done.index));
                }
            }
            ("send", OpType::Ok) => {
                let Ok((_, msg)) = sent(done) else { continue };
                let key = key_of(call.invoke);
                let order = &orders[&key];
                let i = order.index_of[&msg];
                let lasts = last_sent.entry(process).or_default();
                if let Some((i0, m0, op0)) = lasts.get(&key) {
                    if i <= *i0 {
                        found.add(
                            "nonmonotonic-send",
                            json!({"key": key, "values": [msg_value(m0), msg_value(&msg)],
                                   "delta": i as i64 - *i0 as i64, "ops": [op0, done.index]}),
                            || format!(
                                "key {key}: one process sent {m0} (op #{op0}) then {msg} (op #{}), which landed no later in the log",
                                done.index
                            ),
                        );
                    }
                }
                lasts.insert(key, (i, msg, done.index));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Checker;
    use crate::history::Process;

    /// A history builder: each call is invoke + completion on its process.
    struct H(Vec<Op>);

    impl H {
        fn new() -> H {
            H(Vec::new())
        }
        /// An invocation of `f` with `invoke` and its completion as `done` with `value`.
        fn call(mut self, p: u64, f: &str, invoke: Value, done: OpType, value: Value) -> H {
            let proc_ = Process::Client(p);
            self.0.push(Op::new(proc_, OpType::Invoke, f, invoke));
            self.0.push(Op::new(proc_, done, f, value));
            self
        }
        fn send(self, p: u64, key: &str, msg: i64, done: OpType, offset: i64) -> H {
            let value = if done == OpType::Ok {
                json!([offset, msg])
            } else {
                Value::Null
            };
            let mut h = self.call(p, "send", json!(msg), done, value);
            let sent = h.0.len() - 2;
            for op in &mut h.0[sent..] {
                op.key = Some(json!(key));
            }
            h
        }
        fn poll(self, p: u64, reads: Value) -> H {
            self.call(p, "poll", Value::Null, OpType::Ok, reads)
        }
        fn assign(self, p: u64, keys: Value) -> H {
            self.call(p, "assign", keys.clone(), OpType::Ok, keys)
        }
        fn check(self) -> CheckResult {
            KafkaChecker.check(&History::from_ops(self.0))
        }
    }

    fn kinds(r: &CheckResult) -> Vec<String> {
        r.details["error-types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn a_log_read_in_order_is_valid() {
        let r = H::new()
            .send(0, "a", 1, OpType::Ok, 0)
            .send(0, "a", 2, OpType::Ok, 1)
            .send(1, "a", 3, OpType::Ok, 5)
            .poll(2, json!({"a": [[0, 1], [1, 2]]}))
            .poll(2, json!({"a": [[5, 3]]}))
            .check();
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!(r.details["acknowledged-sends"], 3);
    }

    #[test]
    fn two_messages_at_one_offset_are_inconsistent() {
        let r = H::new()
            .send(0, "a", 1, OpType::Ok, 0)
            .send(1, "a", 2, OpType::Ok, 0)
            .poll(2, json!({"a": [[0, 1]]}))
            .check();
        assert_eq!(r.valid, Validity::Invalid);
        assert!(
            kinds(&r).contains(&"inconsistent-offsets".to_string()),
            "{r:?}"
        );
    }

    #[test]
    fn a_message_at_two_offsets_is_a_duplicate() {
        let r = H::new()
            .send(0, "a", 1, OpType::Ok, 0)
            .poll(2, json!({"a": [[0, 1], [1, 1]]}))
            .check();
        assert!(kinds(&r).contains(&"duplicate".to_string()), "{r:?}");
    }

    #[test]
    fn an_acknowledged_message_below_the_furthest_read_is_lost() {
        let r = H::new()
            .send(0, "a", 1, OpType::Ok, 0)
            .send(0, "a", 2, OpType::Ok, 1)
            .send(0, "a", 3, OpType::Ok, 2)
            .poll(1, json!({"a": [[0, 1]]}))
            .assign(1, json!(["a"]))
            .poll(3, json!({"a": [[2, 3]]}))
            .check();
        assert_eq!(kinds(&r), vec!["lost-write"], "{r:?}");
        assert!(r.reasons[0].contains("message 2"), "{:?}", r.reasons);
    }

    #[test]
    fn sends_read_wrongly_are_named_by_kind() {
        let cases = [
            (
                "an acknowledged message never read is unseen",
                H::new()
                    .send(0, "a", 1, OpType::Ok, 0)
                    .send(0, "a", 2, OpType::Ok, 1)
                    .poll(1, json!({"a": [[0, 1]]})),
                "unseen",
            ),
            (
                "reading a failed send is G1a",
                H::new()
                    .send(0, "a", 1, OpType::Fail, 0)
                    .poll(1, json!({"a": [[0, 1]]})),
                "G1a",
            ),
            (
                "a later send at an earlier offset is nonmonotonic",
                H::new()
                    .send(0, "a", 1, OpType::Ok, 3)
                    .send(0, "a", 2, OpType::Ok, 1)
                    .poll(1, json!({"a": [[1, 2], [3, 1]]})),
                "nonmonotonic-send",
            ),
        ];
        for (case, h, kind) in cases {
            let r = h.check();
            assert_eq!(kinds(&r), vec![kind], "{case}: {r:?}");
        }
    }

    #[test]
    fn an_unknown_send_may_or_may_not_be_read() {
        let r = H::new()
            .send(0, "a", 1, OpType::Info, 0)
            .send(0, "a", 2, OpType::Info, 0)
            .poll(1, json!({"a": [[0, 1]]}))
            .check();
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
    }

    #[test]
    fn skips_and_steps_back_between_and_within_polls() {
        let base = || {
            H::new()
                .send(0, "a", 1, OpType::Ok, 0)
                .send(0, "a", 2, OpType::Ok, 1)
                .send(0, "a", 3, OpType::Ok, 2)
                .poll(5, json!({"a": [[0, 1], [1, 2], [2, 3]]}))
        };
        let skip = base()
            .poll(1, json!({"a": [[0, 1]]}))
            .poll(1, json!({"a": [[2, 3]]}))
            .check();
        assert_eq!(kinds(&skip), vec!["poll-skip"], "{skip:?}");
        assert!(skip.reasons[0].contains("skipping 2"), "{:?}", skip.reasons);
        let back = base()
            .poll(1, json!({"a": [[1, 2]]}))
            .poll(1, json!({"a": [[1, 2]]}))
            .check();
        assert_eq!(kinds(&back), vec!["nonmonotonic-poll"], "{back:?}");
        let after_assign = base()
            .poll(1, json!({"a": [[1, 2]]}))
            .assign(1, json!(["b"]))
            .assign(1, json!(["a"]))
            .poll(1, json!({"a": [[0, 1]]}))
            .check();
        assert_eq!(after_assign.valid, Validity::Valid, "{after_assign:?}");
        let internal = base().poll(1, json!({"a": [[0, 1], [2, 3]]})).check();
        assert_eq!(kinds(&internal), vec!["int-poll-skip"], "{internal:?}");
        let internal_back = base().poll(1, json!({"a": [[1, 2], [0, 1]]})).check();
        assert_eq!(
            kinds(&internal_back),
            vec!["int-nonmonotonic-poll"],
            "{internal_back:?}"
        );
    }

    #[test]
    fn malformed_values_are_unknown_naming_the_op() {
        let r = H::new()
            .send(0, "a", 1, OpType::Ok, 0)
            .poll(1, json!([1]))
            .check();
        r.assert_verdict(Validity::Unknown, "poll #3");
    }
}
