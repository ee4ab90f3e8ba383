//! The set-full checker on hand-written histories: every outcome, valid and invalid.

use serde_json::{json, Value};

use super::*;
use crate::checker::Checker;
use crate::classic::testkit::{fail, history, info, inv, keyed, ok, MS};

fn add(p: u64, v: i64) -> [Op; 2] {
    [inv(p, "add", json!(v)), ok(p, "add", json!(v))]
}

fn read(p: u64, seen: Value) -> [Op; 2] {
    [inv(p, "read", Value::Null), ok(p, "read", seen)]
}

/// Process 0 adds 1 while process 1 reads, the read missing it.
fn missed_by_a_concurrent_read() -> Vec<Op> {
    vec![
        inv(0, "add", json!(1)),
        inv(1, "read", Value::Null),
        ok(0, "add", json!(1)),
        ok(1, "read", json!([])),
    ]
}

fn ops(parts: Vec<[Op; 2]>) -> Vec<Op> {
    parts.into_iter().flatten().collect()
}

fn check(ops: Vec<Op>) -> CheckResult {
    SetFull::default().check(&history(ops))
}

fn linearizable(ops: Vec<Op>) -> CheckResult {
    SetFull::new(SetFullParams { linearizable: true }).check(&history(ops))
}

fn outcomes(r: &CheckResult) -> Vec<(i64, String)> {
    r.details["keys"][0]["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["element"].as_i64().unwrap(),
                e["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn elements_read_back_for_good_are_stable_and_valid() {
    let r = check(ops(vec![
        add(0, 1),
        add(0, 2),
        read(1, json!([1, 2])),
        read(2, json!([2, 1])),
    ]));
    assert_eq!(r.valid, Validity::Valid, "{r:?}");
    assert!(r.reasons.is_empty());
    assert_eq!(r.details["stable_count"], json!(2));
    assert_eq!(r.details["lost_count"], json!(0));
    assert_eq!(
        outcomes(&r),
        vec![(1, "stable".into()), (2, "stable".into())]
    );
    assert_eq!(r.details["keys"][0]["stable_latencies"]["1"], json!(0));
}

#[test]
fn a_read_concurrent_with_the_add_may_miss_it() {
    // The read began before the add completed: missing the element is no staleness.
    let r = linearizable([missed_by_a_concurrent_read(), read(1, json!([1])).to_vec()].concat());
    assert_eq!(r.valid, Validity::Valid, "{r:?}");
    assert_eq!(r.details["stale_count"], json!(0));
}

#[test]
fn an_element_seen_then_missing_is_lost() {
    let r = check(ops(vec![
        add(0, 1),
        add(0, 2),
        read(1, json!([1, 2])),
        read(1, json!([2])),
    ]));
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(
        r.reasons,
        vec![
            "key -: 1 elements lost (known to be added, then missing from a read that began \
             after that and after the last read that saw them): 1"
        ]
    );
    assert_eq!(r.details["keys"][0]["lost"], json!([1]));
    assert_eq!(r.details["lost_count"], json!(1));
    // Known at its ack (op 1, 1 ms), last seen by the read invoked at 4 ms.
    assert_eq!(r.details["keys"][0]["lost_latencies"]["0"], json!(3 * MS));
}

#[test]
fn an_acknowledged_element_no_later_read_shows_is_lost() {
    let r = check(ops(vec![add(0, 1), add(0, 2), read(1, json!([2]))]));
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(outcomes(&r), vec![(1, "lost".into()), (2, "stable".into())]);
}

#[test]
fn stale_elements_are_valid_unless_the_set_is_linearizable() {
    let history = ops(vec![
        add(0, 1),           // known at 1 ms
        read(1, json!([])),  // began at 2 ms, after: stale
        read(2, json!([])),  // began at 4 ms: stale for 3 ms
        read(1, json!([1])), // visible from now on
        add(0, 2),
        read(1, json!([1, 2])),
    ]);
    let r = check(history.clone());
    assert_eq!(r.valid, Validity::Valid, "{r:?}");
    assert_eq!(r.details["stale_count"], json!(1));
    assert_eq!(r.details["stable_count"], json!(2));
    let worst = &r.details["keys"][0]["worst_stale"][0];
    assert_eq!(worst["element"], json!(1));
    assert_eq!(worst["stale_ns"], json!(3 * MS));
    assert_eq!(worst["missed_by"], json!(4));
    assert_eq!(
        outcomes(&r),
        vec![(1, "stale".into()), (2, "stable".into())]
    );

    let r = linearizable(history);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(
        r.reasons,
        vec![
            "key -: 1 stale elements, missed by a read that began after they were known to be \
             added, though a linearizable set shows them at once: 1; the stalest, 1, for 3.0 ms \
             (read #4 missed it)"
        ]
    );
}

#[test]
fn the_longest_staleness_comes_first() {
    let r = check(ops(vec![
        add(0, 1),
        add(0, 2),
        read(1, json!([1])), // 2 stale from here (known at 3 ms, read at 4 ms)
        read(1, json!([1])),
        read(1, json!([1])), // invoked at 8 ms: 2 stale for 5 ms
        read(1, json!([1, 2])),
        read(2, json!([1, 2])),
    ]));
    assert_eq!(r.valid, Validity::Valid);
    let worst = &r.details["keys"][0]["worst_stale"];
    assert_eq!(worst.as_array().unwrap().len(), 1);
    assert_eq!(worst[0]["stale_ns"], json!(5 * MS));
}

#[test]
fn elements_never_known_or_never_read_after_are_never_read() {
    let r = check(vec![
        inv(0, "add", json!(1)),
        info(0, "add", json!(1)), // may or may not be in the set
        inv(1, "add", json!(2)),
        ok(1, "add", json!(2)),
        inv(2, "read", Value::Null),
        ok(2, "read", json!([2])),
        inv(1, "add", json!(3)), // acknowledged, but no read began after it
        ok(1, "add", json!(3)),
    ]);
    assert_eq!(r.valid, Validity::Valid, "{r:?}");
    assert_eq!(r.details["keys"][0]["never_read"], json!([1, 3]));
    assert_eq!(r.details["never_read_count"], json!(2));
}

#[test]
fn an_info_add_that_shows_up_is_known_by_the_read() {
    let r = check(vec![
        inv(0, "add", json!(1)),
        info(0, "add", json!(1)),
        inv(1, "read", Value::Null),
        ok(1, "read", json!([1])),
        inv(1, "read", Value::Null),
        ok(1, "read", json!([])),
    ]);
    // Seen (so known), then missing from a read that began after: lost.
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(outcomes(&r), vec![(1, "lost".into())]);
}

#[test]
fn elements_never_added_or_added_by_failed_adds_are_unexpected() {
    let r = check(vec![
        inv(0, "add", json!(1)),
        ok(0, "add", json!(1)),
        inv(0, "add", json!(2)),
        fail(0, "add", json!(2)),
        inv(1, "read", Value::Null),
        ok(1, "read", json!([1, 2, 99])),
    ]);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(
        r.reasons,
        vec![
            "key -: 2 unexpected elements, read though never added (or added by an add that \
             failed): 2, 99; first read: 99 by read #5"
        ]
    );
    assert_eq!(r.details["keys"][0]["unexpected"], json!([2, 99]));
    // A failed add nobody read is neither unexpected nor never-read.
    let r = check(vec![
        inv(0, "add", json!(2)),
        fail(0, "add", json!(2)),
        inv(0, "add", json!(3)),
        ok(0, "add", json!(3)),
        inv(1, "read", Value::Null),
        ok(1, "read", json!([3])),
    ]);
    assert_eq!(r.valid, Validity::Valid);
    assert_eq!(
        outcomes(&r),
        vec![(2, "failed".into()), (3, "stable".into())]
    );
    assert_eq!(r.details["never_read_count"], json!(0));
}

#[test]
fn an_element_twice_in_one_read_is_duplicated() {
    let r = check(ops(vec![
        add(0, 1),
        read(1, json!([1, 1, 1])),
        read(1, json!([1, 1])),
    ]));
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(
        r.reasons,
        vec!["key -: 1 elements appear more than once in a single read: 1 ×3"]
    );
    assert_eq!(
        r.details["keys"][0]["duplicated"],
        json!([{"element": 1, "count": 3}])
    );
}

#[test]
fn keys_are_judged_apart() {
    let mut all = keyed("a", ops(vec![add(0, 1), read(1, json!([1]))]));
    all.extend(keyed("b", ops(vec![add(0, 1), read(1, json!([]))])));
    let r = check(all);
    r.assert_invalid_for("key b: 1 elements lost");
    assert_eq!(r.details["keys"][0]["key"], json!("a"));
    assert_eq!(r.details["keys"][1]["lost"], json!([1]));
    assert_eq!(r.details["stable_count"], json!(1));
}

#[test]
fn nothing_read_back_is_unknown_and_garbage_is_unknown() {
    let r = check(ops(vec![add(0, 1)]));
    assert_eq!(r.valid, Validity::Unknown);
    assert!(
        r.reasons[0].starts_with("no element was read back"),
        "{:?}",
        r.reasons
    );
    let r = check(ops(vec![add(0, 1), read(1, json!(1))]));
    r.assert_verdict(Validity::Unknown, "not a list of elements");
}

#[test]
fn the_details_name_every_elements_times() {
    let r = check(ops(vec![add(0, 7), read(1, json!([7]))]));
    let e = &r.details["keys"][0]["elements"][0];
    assert_eq!(e["add"], json!(0));
    assert_eq!(e["known"], json!(MS));
    assert_eq!(e["first_seen"], json!(3 * MS));
    assert_eq!(e["last_present"], json!(2 * MS));
    assert_eq!(e["last_absent"], Value::Null);
}

#[test]
fn a_concurrent_read_missing_an_element_does_not_make_it_lost() {
    // The only read that missed 1 began before 1 was known: it may have come first, so 1 is
    // never read, not lost (Jepsen's asymmetry).
    let r = check(missed_by_a_concurrent_read());
    assert_eq!(r.valid, Validity::Unknown, "{r:?}");
    assert_eq!(r.details["lost_count"], json!(0));
    assert_eq!(r.details["keys"][0]["never_read"], json!([1]));
}
