//! Property tests: the fast checker against a brute-force one on small random histories.
//!
//! Histories come from `simulate` (linearizable by construction, so the verdict must be
//! valid), from `mutate_read` (a read of a value never written, so invalid), and from
//! simulated histories whose read results are replaced at random (either verdict). On every
//! case the fast checker, split by key and unsplit, must agree with the brute force, which
//! tries every order of the calls that respects real time, keeping one state per key.

use std::collections::HashMap;

use faultline_checkers::checker::{Checker, Validity};
use faultline_checkers::history::{History, OpType};
use faultline_checkers::linearizable::{check_history, Linearizable, SearchOptions};
use faultline_checkers::models::{CasRegister, Interner, Kv, Model, OpView};
use faultline_checkers::simulate::{generate, mutate_read, SimConfig};
use proptest::prelude::*;
use serde_json::json;

struct BruteCall<I, O> {
    key: String,
    input: I,
    output: Option<O>,
    required: bool,
    invoke: usize,
    ret: usize,
}

/// Whether some order of the calls, respecting real time, is legal for `model` with one
/// state per key; `info`/pending calls may be left out.
fn brute_force<M: Model>(model: &M, history: &History) -> bool {
    let mut values = Interner::default();
    let init = model.init(&mut values);
    let mut calls = Vec::new();
    for call in history.pair().unwrap() {
        let inv = &history.ops[call.invoke];
        let done = call.completion.map(|c| &history.ops[c]);
        let kind = done.map(|op| op.kind);
        if kind == Some(OpType::Fail) {
            continue;
        }
        let required = kind == Some(OpType::Ok);
        let view = OpView::of(inv, done.filter(|_| required));
        let encoded = model.encode(view, &mut values).unwrap();
        calls.push(BruteCall {
            key: inv.key.as_ref().map(|k| k.to_string()).unwrap_or_default(),
            input: encoded.input,
            output: if required { encoded.output } else { None },
            required,
            invoke: call.invoke,
            ret: if required {
                call.completion.unwrap()
            } else {
                usize::MAX
            },
        });
    }
    let mut placed = vec![false; calls.len()];
    let mut states: HashMap<String, M::State> = HashMap::new();
    place(model, &calls, &mut placed, &mut states, &init)
}

fn place<M: Model>(
    model: &M,
    calls: &[BruteCall<M::Input, M::Output>],
    placed: &mut [bool],
    states: &mut HashMap<String, M::State>,
    init: &M::State,
) -> bool {
    if calls
        .iter()
        .zip(placed.iter())
        .all(|(c, p)| *p || !c.required)
    {
        return true;
    }
    // The earliest return among unplaced required calls bounds which calls may go next.
    let deadline = calls
        .iter()
        .zip(placed.iter())
        .filter(|(c, p)| !**p && c.required)
        .map(|(c, _)| c.ret)
        .min()
        .unwrap_or(usize::MAX);
    for i in 0..calls.len() {
        let call = &calls[i];
        if placed[i] || call.invoke > deadline {
            continue;
        }
        let before = states.get(&call.key).cloned();
        let current = before.clone().unwrap_or_else(|| init.clone());
        if let Some(after) = model.step(&current, &call.input, call.output.as_ref()) {
            states.insert(call.key.clone(), after);
            placed[i] = true;
            if place(model, calls, placed, states, init) {
                return true;
            }
            placed[i] = false;
            match before {
                Some(s) => states.insert(call.key.clone(), s),
                None => states.remove(&call.key),
            };
        }
    }
    false
}

fn fast<M: Model>(model: &M, history: &History, partition: bool) -> Validity {
    let options = SearchOptions {
        partition,
        ..SearchOptions::default()
    };
    check_history(model, history, &options).valid
}

fn compare<M: Model>(model: &M, history: &History) -> bool {
    let brute = brute_force(model, history);
    let want = if brute {
        Validity::Valid
    } else {
        Validity::Invalid
    };
    assert_eq!(
        fast(model, history, true),
        want,
        "split by key: {history:#?}"
    );
    assert_eq!(fast(model, history, false), want, "unsplit: {history:#?}");
    brute
}

/// Random small simulated histories: `clients` and `ops` ranges, registers of three
/// values or (with `unique_values`) of values each written once, or kv strings.
fn sim_config(
    clients: std::ops::Range<usize>,
    ops: std::ops::Range<usize>,
    unique_values: bool,
) -> impl Strategy<Value = SimConfig> {
    (
        clients,
        0usize..3,
        ops,
        any::<u64>(),
        prop::bool::ANY,
        0.0f64..0.4,
        0.0f64..0.3,
    )
        .prop_map(
            move |(clients, keys, ops, seed, kv, info_rate, fail_rate)| {
                let base = if kv {
                    SimConfig::kv(clients, keys, ops, seed)
                } else {
                    SimConfig::register(clients, keys, ops, seed)
                };
                SimConfig {
                    info_rate,
                    fail_rate,
                    values: 3,
                    unique_values,
                    ..base
                }
            },
        )
}

fn small_config() -> impl Strategy<Value = SimConfig> {
    sim_config(1..4, 4..15, false)
}

fn check_both(config: &SimConfig, history: &History) -> bool {
    match config.model_name() {
        "kv" => compare(&Kv::default(), history),
        _ => compare(&CasRegister::default(), history),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn simulated_histories_are_valid(config in small_config()) {
        let history = generate(&config);
        prop_assert!(check_both(&config, &history));
    }

    #[test]
    fn mutated_reads_are_invalid(config in small_config(), seed in any::<u64>()) {
        let history = generate(&config);
        if let Some(bad) = mutate_read(&history, seed) {
            prop_assert!(!check_both(&config, &bad));
        }
    }

    #[test]
    fn random_read_results_agree_with_brute_force(
        config in small_config(),
        picks in prop::collection::vec((any::<prop::sample::Index>(), 0u64..3), 1..3),
    ) {
        let mut history = generate(&config);
        let reads: Vec<usize> = history.ops.iter().enumerate()
            .filter(|(_, op)| op.kind == OpType::Ok && (op.f == "read" || op.f == "get"))
            .map(|(i, _)| i)
            .collect();
        if !reads.is_empty() {
            for (index, value) in picks {
                let at = reads[index.index(reads.len())];
                history.ops[at].value = if config.model_name() == "kv" {
                    json!(["", "x 0 0 y", "x 1 1 y"][value as usize])
                } else if value == 0 {
                    serde_json::Value::Null
                } else {
                    json!(value)
                };
            }
        }
        check_both(&config, &history);
    }
}

#[test]
fn checker_trait_agrees_with_check_history_on_a_broken_history() {
    let config = SimConfig::register(3, 1, 40, 11);
    let bad = mutate_read(&generate(&config), 3).unwrap();
    let result = Linearizable::new("cas-register", None).unwrap().check(&bad);
    assert_eq!(result.valid, Validity::Invalid);
    assert_eq!(result.checker, "linearizable");
    let ce = &result.details["counterexample"];
    let op = ce["op"].as_u64().unwrap();
    assert!(
        result.reasons[0].starts_with(&format!("op #{op} (")),
        "{:?}",
        result.reasons
    );
    // The mutated read is the op that cannot be placed (nothing else is wrong).
    let read = &bad.ops[op as usize];
    assert!(read.f == "read", "{read:?}");
}

/// Histories in which every value is written once (registers with fresh values, kv with
/// unique put and append strings), as faultline's workloads produce: the polynomial
/// unique-values path must decide every key, and agree with the search and, when small
/// enough, with the brute force.
fn unique_config() -> impl Strategy<Value = SimConfig> {
    sim_config(1..7, 4..48, true)
}

/// Replace the results of some reads (and the expected values of some cas ops) with other
/// values of the same key: written ones, the initial one, or (kv) another read's string
/// with one more element, so that both verdicts occur.
fn mutate_unique(history: &mut History, picks: &[(prop::sample::Index, prop::sample::Index, u8)]) {
    let mut written: HashMap<String, Vec<serde_json::Value>> = HashMap::new();
    let mut seen: HashMap<String, Vec<serde_json::Value>> = HashMap::new();
    for op in &history.ops {
        let k = op.key.as_ref().map(|k| k.to_string()).unwrap_or_default();
        match (op.kind, op.f.as_str()) {
            (OpType::Invoke, "write" | "put" | "append") => {
                written.entry(k).or_default().push(op.value.clone())
            }
            (OpType::Invoke, "cas") => written.entry(k).or_default().push(op.value[1].clone()),
            (OpType::Ok, "read" | "get") => seen.entry(k).or_default().push(op.value.clone()),
            _ => {}
        }
    }
    let targets: Vec<usize> = history
        .ops
        .iter()
        .enumerate()
        .filter(|(_, op)| {
            op.kind == OpType::Ok && matches!(op.f.as_str(), "read" | "get")
                || op.kind == OpType::Invoke && op.f == "cas"
        })
        .map(|(i, _)| i)
        .collect();
    if targets.is_empty() {
        return;
    }
    for (target, pick, how) in picks {
        let at = targets[target.index(targets.len())];
        let k = history.ops[at]
            .key
            .as_ref()
            .map(|k| k.to_string())
            .unwrap_or_default();
        let pool = written.get(&k).cloned().unwrap_or_default();
        let chosen = if pool.is_empty() || *how == 0 {
            serde_json::Value::Null
        } else {
            pool[pick.index(pool.len())].clone()
        };
        let op = &mut history.ops[at];
        match op.f.as_str() {
            "cas" => op.value[0] = chosen,
            "get" => {
                let reads = seen.get(&k).cloned().unwrap_or_default();
                let base = if reads.is_empty() {
                    String::new()
                } else {
                    reads[pick.index(reads.len())]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                };
                op.value = match how % 3 {
                    0 => json!(base),
                    1 => json!(format!("{base}{}", chosen.as_str().unwrap_or_default())),
                    _ => json!(chosen.as_str().unwrap_or_default()),
                };
            }
            _ => op.value = chosen,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn the_unique_values_path_agrees_with_the_search(
        config in unique_config(),
        picks in prop::collection::vec(
            (any::<prop::sample::Index>(), any::<prop::sample::Index>(), 0u8..3),
            0..3,
        ),
    ) {
        let mut history = generate(&config);
        mutate_unique(&mut history, &picks);
        let (path, search) = match config.model_name() {
            "kv" => both_ways(&Kv::default(), &history),
            _ => both_ways(&CasRegister::default(), &history),
        };
        prop_assert_eq!(
            path.details["unique_values_keys"].as_u64(),
            path.details["partitions"].as_u64(),
            "the path must decide every key: {:?}", path.reasons
        );
        // A search that ran out of its budget decides nothing to compare with; the brute
        // force below still judges the path on small histories.
        if search.valid != Validity::Unknown {
            prop_assert_eq!(path.valid, search.valid, "path {:?} / search {:?}: {:#?}",
                path.reasons, search.reasons, history);
        }
        if history.len() <= 24 {
            let brute = match config.model_name() {
                "kv" => brute_force(&Kv::default(), &history),
                _ => brute_force(&CasRegister::default(), &history),
            };
            prop_assert_eq!(path.valid == Validity::Valid, brute);
        }
    }
}

fn both_ways<M: Model>(
    model: &M,
    history: &History,
) -> (
    faultline_checkers::checker::CheckResult,
    faultline_checkers::checker::CheckResult,
) {
    let path = check_history(model, history, &SearchOptions::default());
    // WGL is exponential in the worst case: a generated history with twenty ops all
    // concurrent can need gigabytes. Bound it; an `unknown` is then skipped by the caller.
    let search = check_history(
        model,
        history,
        &SearchOptions {
            unique_values: false,
            timeout: Some(std::time::Duration::from_secs(5)),
            memory_limit_bytes: Some(256 << 20),
            ..SearchOptions::default()
        },
    );
    (path, search)
}
