//! A long run's history written straight to `history.jsonl` in constant memory, as the
//! recorder would write it: `workers` workers at about 3,000 calls a second with latencies
//! of 1 to 12 ms, each key in use for 2 s, a fault every 10 s lasting about 5 s (kill,
//! pause and partition in turn) during which a third of the calls fail or time out, a final heal and
//! final reads; plus the run folder's `test.json` and `results.json` (a counterexample naming
//! ops in the middle of the run).
#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs;
use std::path::Path;

use faultline_checkers::history::{HistoryWriter, Op, OpType, Process};
use serde_json::{json, Value};

const MS: u64 = 1_000_000;

/// What was written.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    /// History lines, the header included.
    pub lines: u64,
    /// Client calls.
    pub calls: u64,
    /// Faults started.
    pub faults: u64,
    /// The `Op.index` the counterexample names.
    pub culprit: u64,
}

/// Write a run folder at `dir` whose history has about `lines` lines.
pub fn write_long_run(dir: &Path, lines: u64) -> Facts {
    fs::create_dir_all(dir).unwrap();
    let workers = 20u64;
    let mut w = HistoryWriter::create(&dir.join("history.jsonl")).unwrap();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut rng = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    // (time of the worker's next event, worker); each worker invokes, then completes.
    let mut queue: BinaryHeap<Reverse<(u64, u64)>> =
        (0..workers).map(|i| Reverse((i * 300_000, i))).collect();
    let mut open: Vec<Option<(String, u64)>> = vec![None; workers as usize];
    let mut process: Vec<u64> = (0..workers).collect();
    let mut facts = Facts {
        lines: 1,
        calls: 0,
        faults: 0,
        culprit: lines / 2,
    };
    let mut next_fault = 10_000 * MS;
    let kinds = ["kill", "pause", "partition"];
    let append = |w: &mut HistoryWriter<fs::File>, op: Op, facts: &mut Facts| {
        w.append_buffered(&mut op.clone()).unwrap();
        facts.lines += 1;
    };
    let mut t = 0;
    while facts.lines + 8 < lines {
        let Reverse((at, worker)) = queue.pop().unwrap();
        t = at;
        // The nemesis: start at next_fault, stop 5 s later.
        if t >= next_fault {
            let f = if next_fault.is_multiple_of(10_000 * MS) {
                facts.faults += 1;
                format!("start-{}", kinds[(facts.faults % 3) as usize])
            } else {
                format!("stop-{}", kinds[(facts.faults % 3) as usize])
            };
            // At the time of the event at hand, so times never decrease in the file.
            let nem = |k, v| Op::new(Process::Nemesis, k, f.clone(), v).at(t);
            append(&mut w, nem(OpType::Invoke, Value::Null), &mut facts);
            append(
                &mut w,
                nem(OpType::Info, json!({"nodes": ["n2"]})),
                &mut facts,
            );
            next_fault += 5_000 * MS;
        }
        let in_fault = (t / (5_000 * MS)).is_multiple_of(2) && t >= 10_000 * MS;
        let wi = worker as usize;
        let key = json!((t / (2_000 * MS)) * 10 + worker % 10);
        let p = Process::Client(process[wi]);
        match open[wi].take() {
            None => {
                let f = if rng(3) == 0 { "write" } else { "read" };
                let value = if f == "write" {
                    json!(rng(100))
                } else {
                    Value::Null
                };
                let op = Op::new(p, OpType::Invoke, f, value.clone()).with_key(key.clone());
                append(&mut w, op.at(t), &mut facts);
                open[wi] = Some((f.to_string(), value.as_u64().unwrap_or(7)));
                facts.calls += 1;
                let latency = if in_fault && rng(3) == 0 {
                    100 * MS
                } else {
                    MS + rng(11 * MS)
                };
                queue.push(Reverse((t + latency, worker)));
            }
            Some((f, value)) => {
                let (kind, error) = match (in_fault, rng(6)) {
                    (true, 0) => (OpType::Info, Some("timeout")),
                    (true, 1) => (OpType::Fail, Some("connection refused")),
                    (_, 2) if f == "write" => (OpType::Fail, Some("cas mismatch")),
                    _ => (OpType::Ok, None),
                };
                let mut op = Op::new(p, kind, f, json!(value)).with_key(key);
                op.error = error.map(str::to_string);
                append(&mut w, op.at(t), &mut facts);
                if kind == OpType::Info {
                    process[wi] += workers;
                }
                queue.push(Reverse((t + 6 * MS + rng(2 * MS), worker)));
            }
        }
    }
    // Whatever fault is on is healed; final reads follow.
    let heal = |k| Op::new(Process::Nemesis, k, "heal", Value::Null);
    append(&mut w, heal(OpType::Invoke).at(t + 20 * MS), &mut facts);
    append(&mut w, heal(OpType::Info).at(t + 30 * MS), &mut facts);
    let read = |k| Op::new(Process::Client(10_000), k, "read", Value::Null).with_key(json!(0));
    append(&mut w, read(OpType::Invoke).at(t + 40 * MS), &mut facts);
    append(&mut w, read(OpType::Ok).at(t + 45 * MS), &mut facts);
    facts.calls += 1;
    w.flush().unwrap();
    let culprit = facts.culprit;
    let results = json!([{
        "checker": "linearizable",
        "valid": false,
        "reasons": [format!("op #{culprit} cannot be linearized")],
        "details": {"counterexample": {
            "op": culprit, "completion": culprit + 5, "description": "a stale read",
            "concurrent": [culprit + 1, culprit + 2]}}
    }]);
    let summary = json!({"valid": false, "ops": facts.lines - 1, "results": results});
    fs::write(dir.join("results.json"), summary.to_string()).unwrap();
    let spec = json!({"name": "long-run", "system": "reference", "workload": "register"});
    fs::write(dir.join("test.json"), spec.to_string()).unwrap();
    facts
}
