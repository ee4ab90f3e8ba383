//! Tests of the linearizability checker's driver: budgets, partitions, threads and
//! malformed input.
use super::*;
use crate::simulate::{generate, SimConfig};

fn busy_history() -> History {
    generate(&SimConfig::register(5, 0, 4_000, 1))
}

#[test]
fn the_defaults_are_the_documented_ones() {
    let o = SearchOptions::default();
    assert_eq!(o.timeout, Some(Duration::from_secs(60)));
    assert_eq!(o.memory_limit_bytes, Some(2 << 30));
    assert!(o.partition && o.threads.is_none());
}

#[test]
fn running_out_of_time_or_memory_is_unknown_with_a_reason() {
    let h = busy_history();
    let checker = Linearizable::new("cas-register", None).unwrap();
    assert_eq!(checker.check(&h).valid, Validity::Valid);
    let no_time = checker.clone().with_options(SearchOptions {
        timeout: Some(Duration::ZERO),
        ..SearchOptions::default()
    });
    let r = no_time.check(&h);
    r.assert_verdict(Validity::Unknown, "time limit");
    let no_memory = checker.with_options(SearchOptions {
        memory_limit_bytes: Some(1),
        ..SearchOptions::default()
    });
    let r = no_memory.check(&h);
    r.assert_verdict(Validity::Unknown, "memory limit");
    // Measured for the whole process, the limit holds for it, not only the memo tables.
    let process = checker_over_process_limit();
    let r = process.check(&h);
    r.assert_verdict(Validity::Unknown, "the process grew to 3072 MiB");
}

/// A checker whose process is measured at 3 GiB, over its 2 GiB limit.
fn checker_over_process_limit() -> Linearizable {
    Linearizable::new("cas-register", None)
        .unwrap()
        .with_options(SearchOptions {
            unique_values: false,
            process_memory: Some(ProcessMemory(std::sync::Arc::new(|| 3 << 30))),
            ..SearchOptions::default()
        })
}

#[test]
fn a_long_history_on_few_keys_needs_little_memo() {
    // 30,000 calls on one key: a whole bitset per configuration would be ~3.7 KiB,
    // ~100 MiB in all; the windowed bitsets take a few words each.
    let h = generate(&SimConfig {
        info_rate: 0.0,
        ..SimConfig::register(8, 1, 60_000, 4)
    });
    let checker = Linearizable::new("cas-register", None)
        .unwrap()
        .with_options(SearchOptions {
            memory_limit_bytes: Some(16 << 20),
            ..SearchOptions::default()
        });
    let r = checker.check(&h);
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.reasons);
    assert!(r.details["memo_peak_bytes"].as_u64().unwrap() < 8 << 20);
}

#[test]
fn a_malformed_history_is_unknown_with_the_error() {
    let mut h = History::default();
    h.push(crate::history::Op::new(
        crate::history::Process::Client(3),
        crate::history::OpType::Ok,
        "read",
        Value::Null,
    ));
    let r = Linearizable::new("register", None).unwrap().check(&h);
    r.assert_verdict(Validity::Unknown, "no invocation");
}

#[test]
fn threads_and_no_partition_give_the_same_verdicts() {
    // No info ops: unsplit, every pending op of every key multiplies the configurations.
    let h = generate(&SimConfig {
        info_rate: 0.0,
        ..SimConfig::kv(8, 20, 1_500, 5)
    });
    let bad = crate::simulate::mutate_read(&h, 2).unwrap();
    for options in [
        SearchOptions {
            threads: Some(2),
            ..SearchOptions::default()
        },
        SearchOptions {
            threads: Some(1),
            ..SearchOptions::default()
        },
        SearchOptions {
            partition: false,
            ..SearchOptions::default()
        },
    ] {
        let checker = Linearizable::new("kv", None).unwrap().with_options(options);
        let ok = checker.check(&h);
        assert_eq!(ok.valid, Validity::Valid, "{:?} {}", ok.reasons, ok.details);
        let r = checker.check(&bad);
        assert_eq!(r.valid, Validity::Invalid);
        assert!(r.details["counterexample"]["op"].is_u64());
    }
}

/// A read that missed an acknowledged write (a write lost in a crash, say) names that
/// write: what it stored, its op number, and how long before the read it was acknowledged.
#[test]
fn a_read_that_missed_an_acknowledged_write_names_the_write() {
    use crate::history::{Op, OpType, Process};
    use serde_json::json;
    let op = |p: u64, kind: OpType, f: &str, value: Value, ms: u64| {
        Op::new(Process::Client(p), kind, f, value)
            .with_key(json!(2))
            .at(ms * 1_000_000)
    };
    let history = History::from_ops(vec![
        op(0, OpType::Invoke, "write", json!(278), 0),
        op(0, OpType::Ok, "write", json!(278), 1),
        op(1, OpType::Invoke, "write", json!(279), 2),
        op(1, OpType::Ok, "write", json!(279), 3),
        op(2, OpType::Invoke, "read", Value::Null, 1_503),
        op(2, OpType::Ok, "read", Value::Null, 1_504),
    ]);
    let checker = Linearizable::new("cas-register", Some(Value::Null)).unwrap();
    let result = checker.check(&history);
    assert_eq!(result.valid, Validity::Invalid);
    let reason = &result.reasons[0];
    assert!(reason.contains("read key 2 -> nil"), "{reason}");
    assert!(
        reason.contains(
            "it returned nil, but every order of the ops before it leaves 279, stored by op #2 \
             (process 1, write key 2 279), acknowledged 1.500 s before the read began"
        ),
        "{reason}"
    );
}
