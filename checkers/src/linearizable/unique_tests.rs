//! Tests of the unique-values path: decisions on hand-written register and text histories,
//! and the violations it names. Only tests; never compiled into the checker.

use super::*;
use crate::linearizable::prepare::prepare;
use crate::models::test_support::{history, sequential};
use crate::models::{CasRegister, Kv};
use serde_json::json;

/// The path's decision on an unkeyed history, with ops named `#index`.
fn decide_one<M: Model>(model: &M, h: &History) -> Decision {
    let prepared = prepare(model, h, true).unwrap();
    let semantics = model.value_semantics().unwrap();
    let part = &prepared.parts[0];
    let name = |c: u32| format!("#{}", h.ops[part.calls[c as usize].invoke as usize].index);
    decide(model, &semantics, h, part, &name)
}

fn explanation(d: Decision) -> String {
    match d {
        Decision::Invalid(v) => v.text,
        other => panic!("expected invalid, got {other:?}"),
    }
}

/// Assert that the zone test finds `h` invalid under `model`, explaining it with `because`.
#[track_caller]
fn assert_explained<M: Model>(model: &M, h: &History, because: &str) {
    let text = explanation(decide_one(model, h));
    assert!(text.contains(because), "{text}");
}

#[test]
fn a_stale_read_is_two_overlapping_zones() {
    let h = sequential(&[
        (0, "write", json!(1), json!(1)),
        (0, "write", json!(2), json!(2)),
        (1, "read", json!(null), json!(1)),
    ]);
    let text = explanation(decide_one(&CasRegister::default(), &h));
    assert!(
        text.contains("the value 2") && text.contains("#4"),
        "{text}"
    );
}

#[test]
fn a_read_that_returned_before_its_write_began_is_out_of_order() {
    let h = history(&[
        (1, "invoke", "read", json!(null)),
        (1, "ok", "read", json!(7)),
        (0, "invoke", "write", json!(7)),
        (0, "info", "write", json!(7)),
    ]);
    assert_explained(
        &CasRegister::default(),
        &h,
        "#0 read 7 but completed before #2 was invoked",
    );
}

#[test]
fn unobserved_unknown_writes_never_happened_and_cas_chains_hold_together() {
    let h = history(&[
        (0, "invoke", "write", json!(1)),
        (0, "ok", "write", json!(1)),
        (2, "invoke", "write", json!(9)),
        (2, "info", "write", json!(9)),
        (1, "invoke", "cas", json!([1, 2])),
        (1, "ok", "cas", json!([1, 2])),
        (0, "invoke", "read", json!(null)),
        (0, "ok", "read", json!(2)),
    ]);
    assert!(matches!(
        decide_one(&CasRegister::default(), &h),
        Decision::Valid
    ));
    // Two cas ops cannot both replace the value 1.
    let mut twice = h.clone();
    twice.ops[2].f = "cas".into();
    twice.ops[2].value = json!([1, 3]);
    twice.ops[3] = twice.ops[2].clone();
    twice.ops[3].kind = crate::history::OpType::Ok;
    assert_explained(&CasRegister::default(), &twice, "both replaced the value 1");
}

#[test]
fn a_value_written_twice_goes_to_the_search() {
    let h = sequential(&[
        (0, "write", json!(1), json!(1)),
        (1, "write", json!(1), json!(1)),
    ]);
    assert!(matches!(
        decide_one(&CasRegister::default(), &h),
        Decision::Search(WRITTEN_TWICE)
    ));
}

#[test]
fn kv_reads_name_their_last_element_and_its_prefix() {
    let valid = sequential(&[
        (0, "append", json!("a;"), json!("a;")),
        (1, "append", json!("b;"), json!("b;")),
        (2, "get", json!(null), json!("a;b;")),
        (0, "append", json!("c;"), json!("c;")),
    ]);
    assert!(matches!(
        decide_one(&Kv::default(), &valid),
        Decision::Valid
    ));
    let mut conflict = valid.clone();
    conflict.ops.push(crate::history::Op::new(
        crate::history::Process::Client(3),
        crate::history::OpType::Invoke,
        "get",
        json!(null),
    ));
    let mut read = conflict.ops[8].clone();
    read.kind = crate::history::OpType::Ok;
    read.value = json!("b;");
    conflict.ops.push(read);
    assert_explained(&Kv::default(), &conflict, "after different strings");
    let mut garbage = valid.clone();
    garbage.ops[5].value = json!("a;x;");
    assert_explained(
        &Kv::default(),
        &garbage,
        "no order of the key's puts and appends",
    );
}

#[test]
fn kv_strings_that_are_suffixes_of_others_go_to_the_search() {
    let h = sequential(&[
        (0, "append", json!("ab"), json!("ab")),
        (1, "append", json!("b"), json!("b")),
    ]);
    assert!(matches!(
        decide_one(&Kv::default(), &h),
        Decision::Search(_)
    ));
}
