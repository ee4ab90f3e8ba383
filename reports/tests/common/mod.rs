//! Run folders for the report tests and the render benchmark: a deterministic register
//! history on a few keys with a `kill` fault (healed) and a `pause` fault (never healed),
//! ops failing or timing out while a fault is applied, and an optional stale read with
//! the counterexample a linearizability checker would give for it.
#![allow(dead_code)]

pub mod long;

use std::fs;
use std::path::Path;

use faultline_checkers::checker::{CheckResult, Validity};
use faultline_checkers::history::{History, HistoryWriter, Op, OpType, Process};
use serde_json::{json, Value};

pub const MS: u64 = 1_000_000;

/// Known fault times of [`history`] (ns): kill [start, end] (healed), pause from start on.
pub const KILL: (u64, u64) = (2_000 * MS, 4_050 * MS);
pub const PAUSE_START: u64 = 5_000 * MS;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A history of about `calls` client calls by `workers` workers over `keys` keys, lasting
/// about `span_ms`; the faults fall inside it when `span_ms` is at least 6000.
pub fn history(calls: usize, workers: u64, keys: u64, span_ms: u64) -> History {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // (time, tie-breaker, op)
    let mut events: Vec<(u64, u64, Op)> = Vec::with_capacity(calls * 2 + 8);
    let per_worker = (calls as u64).div_ceil(workers);
    let gap = (span_ms * MS / per_worker.max(1)).max(1);
    let mut registers = vec![0i64; keys as usize];
    let mut seq = 0u64;
    for w in 0..workers {
        let mut process = w;
        let mut t = w * gap / workers;
        for _ in 0..per_worker {
            let key = rng.below(keys);
            let write = rng.below(3) == 0;
            let in_kill = t >= KILL.0 && t < KILL.1;
            let in_pause = t >= PAUSE_START;
            let mut latency = MS / 2 + rng.below(gap.max(2) / 2) + rng.below(4 * MS);
            let roll = rng.below(100);
            let kind = if in_kill && roll < 35 {
                latency = 100 * MS;
                if roll < 20 {
                    OpType::Info
                } else {
                    OpType::Fail
                }
            } else if in_pause && roll < 10 {
                latency = 100 * MS;
                OpType::Info
            } else {
                OpType::Ok
            };
            let (f, arg) = if write {
                ("write", json!(rng.below(10)))
            } else {
                ("read", Value::Null)
            };
            let invoke = Op::new(Process::Client(process), OpType::Invoke, f, arg.clone())
                .with_key(json!(key))
                .at(t);
            seq += 1;
            events.push((t, seq, invoke));
            let end = t + latency;
            let mut done = Op::new(Process::Client(process), kind, f, Value::Null)
                .with_key(json!(key))
                .at(end);
            if kind != OpType::Ok {
                done.error = Some(
                    if kind == OpType::Info {
                        "timeout"
                    } else {
                        "connection refused"
                    }
                    .into(),
                );
            }
            seq += 1;
            events.push((end, seq, done));
            if kind == OpType::Info {
                process += workers;
            }
            t = end + gap / 2 + rng.below(gap.max(2) / 2);
        }
    }
    let nem =
        |kind, f: &str, t: u64, v: Value| (t, 0u64, Op::new(Process::Nemesis, kind, f, v).at(t));
    events.push(nem(OpType::Invoke, "start-kill", KILL.0, Value::Null));
    events.push(nem(
        OpType::Info,
        "start-kill",
        KILL.0 + 10 * MS,
        json!({"nodes": ["n2"]}),
    ));
    events.push(nem(
        OpType::Invoke,
        "stop-kill",
        KILL.1 - 50 * MS,
        Value::Null,
    ));
    events.push(nem(
        OpType::Info,
        "stop-kill",
        KILL.1,
        json!({"nodes": ["n2"]}),
    ));
    events.push(nem(OpType::Invoke, "start-pause", PAUSE_START, Value::Null));
    events.push(nem(
        OpType::Info,
        "start-pause",
        PAUSE_START + 5 * MS,
        json!({"nodes": ["n1"]}),
    ));
    events.sort_by_key(|e| (e.0, e.1));
    // Fill register values in completion order: writes take effect at completion.
    let mut open: std::collections::HashMap<u64, Value> = std::collections::HashMap::new();
    let mut ops: Vec<Op> = Vec::with_capacity(events.len());
    for (_, _, mut op) in events {
        if let Process::Client(p) = op.process {
            let key = op.key.as_ref().and_then(Value::as_u64).unwrap_or(0) as usize;
            if op.kind == OpType::Invoke {
                open.insert(p, op.value.clone());
            } else {
                let arg = open.remove(&p).unwrap_or(Value::Null);
                if op.kind == OpType::Ok {
                    if op.f == "write" {
                        registers[key] = arg.as_i64().unwrap_or(0);
                        op.value = arg;
                    } else {
                        op.value = json!(registers[key]);
                    }
                }
            }
        }
        ops.push(op);
    }
    History::from_ops(ops)
}

/// Make one completed read in the middle stale and return the counterexample for it.
pub fn plant_stale_read(history: &mut History) -> Value {
    let n = history.ops.len();
    // The first ok read after the middle whose key had a completed write before it.
    for i in n / 2..n {
        let op = &history.ops[i];
        if op.kind != OpType::Ok || op.f != "read" {
            continue;
        }
        let process = op.process;
        let key = op.key.clone();
        let value = op.value.as_i64().unwrap_or(0);
        let invoke = (0..i)
            .rev()
            .find(|&j| history.ops[j].process == process && history.ops[j].kind == OpType::Invoke)
            .unwrap();
        // The last two ok writes on this key completed before the read's invocation.
        let writes: Vec<usize> = (0..invoke)
            .rev()
            .filter(|&j| {
                let o = &history.ops[j];
                o.kind == OpType::Ok && o.f == "write" && o.key == key
            })
            .take(2)
            .collect();
        if writes.len() < 2 {
            continue;
        }
        let older = history.ops[writes[1]].value.as_i64().unwrap_or(0);
        let stale = if older != value { older } else { value + 100 };
        history.ops[i].value = json!(stale);
        let inv_of = |c: usize| {
            let p = history.ops[c].process;
            (0..c)
                .rev()
                .find(|&j| history.ops[j].process == p && history.ops[j].kind == OpType::Invoke)
                .unwrap() as u64
        };
        let (w_old, w_new) = (writes[1], writes[0]);
        let t0 = history.ops[invoke].time;
        let t1 = history.ops[i].time;
        let concurrent: Vec<u64> = (0..n)
            .filter(|&j| {
                let o = &history.ops[j];
                o.kind == OpType::Invoke && o.key == key && j != invoke && o.time < t1 && {
                    let p = o.process;
                    let end = (j + 1..n)
                        .find(|&k| history.ops[k].process == p)
                        .map_or(u64::MAX, |k| history.ops[k].time);
                    end > t0
                }
            })
            .map(|j| j as u64)
            .collect();
        let v_old = history.ops[w_old].value.clone();
        let v_new = history.ops[w_new].value.clone();
        return json!({
            "key": key,
            "op": invoke as u64,
            "completion": i as u64,
            "description": format!("process {process}, read -> {stale}"),
            "linearized": 17,
            "concurrent": concurrent,
            "attempts": [
                {"order": [inv_of(w_old), inv_of(w_new)], "states": ["0", v_old.to_string(), v_new.to_string()]},
                {"order": [inv_of(w_old)], "states": ["0", v_old.to_string()]}
            ]
        });
    }
    panic!("no read to make stale");
}

/// Write a run folder as the controller does.
pub fn write_run(dir: &Path, history: &History, results: &[CheckResult], seed: u64) {
    fs::create_dir_all(dir.join("nodes/n1")).unwrap();
    fs::create_dir_all(dir.join("nodes/n2")).unwrap();
    fs::write(dir.join("nodes/n1/node.log"), "n1 started\n").unwrap();
    fs::write(dir.join("nodes/n2/node.log"), "n2 started\n").unwrap();
    fs::write(dir.join("faultline.log"), "run log\n").unwrap();
    let mut w = HistoryWriter::create(&dir.join("history.jsonl")).unwrap();
    for op in &history.ops {
        w.append_buffered(&mut op.clone()).unwrap();
    }
    w.flush().unwrap();
    let valid = results.iter().fold(Validity::Valid, |a, r| a.and(r.valid));
    let spec = json!({
        "name": "register-kill",
        "system": "reference",
        "target": "local",
        "node_count": 3,
        "workload": "register",
        "nemeses": ["kill", "pause"],
        "nemesis_interval": 2.0,
        "time_limit": 8.0,
        "concurrency": 5,
        "rate": null,
        "keys": 4,
        "seed": seed,
        "bug": null,
        "rerun": format!("faultline test --workload register --nemesis kill,pause --seed {seed}"),
    });
    fs::write(
        dir.join("test.json"),
        serde_json::to_string_pretty(&spec).unwrap(),
    )
    .unwrap();
    let summary = json!({
        "valid": valid,
        "interrupted": false,
        "seed": seed,
        "ops": history.len(),
        "counts": {},
        "results": results,
        "duration_secs": 8.4,
        "healed": [],
    });
    fs::write(
        dir.join("results.json"),
        serde_json::to_string_pretty(&summary).unwrap(),
    )
    .unwrap();
}

/// A valid run folder and an invalid one (with a counterexample) under `root`.
pub fn valid_and_invalid_runs(root: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let valid_dir = root.join("register-kill/20240101T120000");
    let h = history(3_000, 5, 4, 8_000);
    write_run(
        &valid_dir,
        &h,
        &[CheckResult::new("linearizable", Validity::Valid)],
        42,
    );
    let invalid_dir = root.join("register-kill/20240102T120000");
    let mut h = history(3_000, 5, 4, 8_000);
    let cx = plant_stale_read(&mut h);
    let reason = format!(
        "op #{} ({}) cannot be linearized",
        cx["op"],
        cx["description"].as_str().unwrap()
    );
    write_run(
        &invalid_dir,
        &h,
        &[CheckResult::new("linearizable", Validity::Invalid)
            .reason(reason)
            .details(json!({ "counterexample": cx }))],
        43,
    );
    (valid_dir, invalid_dir)
}
