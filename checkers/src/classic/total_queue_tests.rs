//! The queue checkers on hand-written histories: lost, duplicated, unexpected and recovered
//! elements, enqueues and dequeues of unknown outcome, drains, and the linearizable check.

use serde_json::{json, Value};

use super::*;
use crate::classic::testkit::{fail, history, info, inv, keyed, ok};

fn enqueue(p: u64, v: i64, outcome: fn(u64, &str, Value) -> Op) -> Vec<Op> {
    vec![inv(p, "enqueue", json!(v)), outcome(p, "enqueue", json!(v))]
}

fn dequeue(p: u64, got: Value) -> Vec<Op> {
    vec![inv(p, "dequeue", Value::Null), ok(p, "dequeue", got)]
}

fn drain(p: u64, got: Value) -> Vec<Op> {
    vec![inv(p, "drain", Value::Null), ok(p, "drain", got)]
}

/// A call of `f` (taking no value) whose outcome is unknown.
fn unknown(p: u64, f: &str) -> Vec<Op> {
    vec![inv(p, f, Value::Null), info(p, f, Value::Null)]
}

fn check(parts: Vec<Vec<Op>>) -> CheckResult {
    TotalQueue::default().check(&history(parts.into_iter().flatten().collect()))
}

#[test]
fn everything_enqueued_comes_out_valid() {
    let r = check(vec![
        enqueue(0, 1, ok),
        enqueue(0, 2, ok),
        dequeue(1, json!(1)),
        dequeue(1, Value::Null), // empty is not an element
        enqueue(0, 3, ok),
        drain(1, json!([2, 3])),
    ]);
    assert_eq!(r.valid, Validity::Valid, "{r:?}");
    assert_eq!(r.details["attempt_count"], json!(3));
    assert_eq!(r.details["ok_count"], json!(3));
    assert_eq!(r.details["keys"][0]["drained"], json!(true));
}

#[test]
fn an_acknowledged_element_never_dequeued_is_lost() {
    let r = check(vec![
        enqueue(0, 1, ok),
        enqueue(0, 2, ok),
        drain(1, json!([2])),
    ]);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(
        r.reasons,
        vec!["key -: 1 acknowledged elements lost, never dequeued: 1"]
    );
    assert_eq!(r.details["keys"][0]["lost"], json!([1]));
    assert_eq!(r.details["lost_count"], json!(1));
}

#[test]
fn info_enqueues_may_or_may_not_come_out() {
    // 1's enqueue is unknown and it never comes out: fine. 2's is unknown and it does:
    // recovered.
    let r = check(vec![
        enqueue(0, 1, info),
        enqueue(1, 2, info),
        vec![inv(2, "enqueue", json!(3))], // pending to the end
        drain(3, json!([2])),
    ]);
    assert_eq!(r.valid, Validity::Valid, "{r:?}");
    assert_eq!(r.details["keys"][0]["recovered"], json!([2]));
    assert_eq!(r.details["recovered_count"], json!(1));
    assert_eq!(r.details["lost_count"], json!(0));
}

#[test]
fn dequeued_but_never_enqueued_or_failed_is_unexpected() {
    let r = check(vec![
        enqueue(0, 1, fail),
        dequeue(1, json!(1)),
        drain(1, json!([42])),
    ]);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(
        r.reasons,
        vec!["key -: 2 unexpected elements dequeued, never enqueued (1 of them by an enqueue that failed): 1, 42"]
    );
    assert_eq!(r.details["keys"][0]["unexpected"], json!([1, 42]));
}

#[test]
fn duplicates_are_reported_and_invalid_only_when_forbidden() {
    let parts = vec![
        enqueue(0, 1, ok),
        dequeue(1, json!(1)),
        dequeue(1, json!(1)),
        drain(1, json!([1])),
    ];
    let h = history(parts.into_iter().flatten().collect());
    let r = TotalQueue::default().check(&h);
    assert_eq!(r.valid, Validity::Valid, "{r:?}");
    assert_eq!(r.details["duplicated_count"], json!(2));
    assert_eq!(
        r.details["keys"][0]["duplicated"],
        json!([{"element": 1, "dequeued": 3}])
    );
    let strict = TotalQueue::new(QueueParams {
        allow_duplicates: false,
        ..QueueParams::default()
    });
    let r = strict.check(&h);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(
        r.reasons,
        vec!["key -: 2 extra dequeues of elements enqueued fewer times: 1"]
    );
}

#[test]
fn missing_elements_an_unknown_dequeue_may_have_taken_are_possibly_lost_not_lost() {
    let cases = [
        (
            "one missing, one unknown dequeue: it may have taken it",
            vec![
                enqueue(0, 1, ok),
                enqueue(0, 2, ok),
                unknown(1, "dequeue"),
                drain(2, json!([2])),
            ],
            Validity::Valid,
            "1 dequeues have unknown outcomes and may have taken them",
        ),
        (
            "two missing, one unknown dequeue: at least one is certainly lost",
            vec![
                enqueue(0, 1, ok),
                enqueue(0, 2, ok),
                unknown(1, "dequeue"),
                drain(2, json!([])),
            ],
            Validity::Invalid,
            "(at most 1 of them by dequeues of unknown outcome)",
        ),
        (
            "a drain of unknown outcome explains any number",
            vec![enqueue(0, 1, ok), enqueue(0, 2, ok), unknown(1, "drain")],
            Validity::Valid,
            "the drain #4 has an unknown outcome",
        ),
        (
            "no drain yet (a prefix of the run): missing elements may still be in the queue",
            vec![enqueue(0, 1, ok), enqueue(0, 2, ok)],
            Validity::Valid,
            "may still be in the queue",
        ),
    ];
    for (case, ops, valid, reason) in cases {
        println!("{case}");
        check(ops).assert_verdict(valid, reason);
    }
}

#[test]
fn keys_are_judged_apart_and_garbage_is_unknown() {
    let mut ops = keyed("a", [enqueue(0, 1, ok), drain(1, json!([1]))].concat());
    ops.extend(keyed(
        "b",
        [enqueue(0, 1, ok), drain(1, json!([]))].concat(),
    ));
    let r = TotalQueue::default().check(&history(ops));
    r.assert_invalid_for("key b: 1 acknowledged elements lost");
    assert_eq!(r.details["keys"][0]["verdict"], json!(true));
    assert_eq!(r.details["keys"][1]["verdict"], json!(false));
    let r = check(vec![enqueue(0, 1, ok), drain(1, json!(5))]);
    r.assert_verdict(Validity::Unknown, "not a list of elements");
    assert_eq!(check(vec![drain(1, json!([]))]).valid, Validity::Unknown);
}

#[test]
fn the_linearizable_check_reads_drains_as_dequeues() {
    // 1 and 2 enqueued in order, then drained as `drained`.
    let drained = |drained: Value| {
        history([enqueue(0, 1, ok), enqueue(0, 2, ok), drain(1, drained)].concat())
    };
    let h = drained(json!([1, 2]));
    assert_eq!(QueueLinearizable::new().check(&h).valid, Validity::Valid);
    // Out of order: not a FIFO queue, though total-queue is content.
    let h = drained(json!([2, 1]));
    assert_eq!(TotalQueue::default().check(&h).valid, Validity::Valid);
    let r = QueueLinearizable::new().check(&h);
    assert_eq!(r.valid, Validity::Invalid, "{r:?}");
    // An empty drain is a dequeue that found the queue empty.
    let h = history([enqueue(0, 1, ok), drain(1, json!([]))].concat());
    assert_eq!(QueueLinearizable::new().check(&h).valid, Validity::Invalid);
    // A drain of unknown outcome cannot be replayed.
    let h = history([enqueue(0, 1, ok), vec![inv(1, "drain", Value::Null)]].concat());
    let r = QueueLinearizable::new().check(&h);
    r.assert_verdict(Validity::Unknown, "unknown outcome");
}
