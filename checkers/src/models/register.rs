//! The `register` (read/write) and `cas-register` (read/write/compare-and-set) models:
//! one value per key, absent (`nil`) unless an initial value is given.
//!
//! This file must never know how a history is searched; it only defines one register.

use serde_json::Value;

use super::{unknown_function, Effect, Encoded, Interner, Model, OpView, ValueSemantics};

/// What a register op asks for, with values interned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterInput {
    /// Read the value (the output is what was read).
    Read,
    /// Set the value.
    Write(u32),
    /// If the value is `from`, set it to `to`; an `ok` cas means it did.
    Cas {
        /// The expected current value.
        from: u32,
        /// The new value.
        to: u32,
    },
}

/// A register of one value per key; with `CAS` it also takes compare-and-set. Use the
/// aliases [`Register`] and [`CasRegister`].
#[derive(Debug, Clone, Default)]
pub struct RegisterModel<const CAS: bool> {
    initial: Value,
}

/// A read/write register.
pub type Register = RegisterModel<false>;

/// A read/write/compare-and-set register. A cas's value is `[from, to]`.
pub type CasRegister = RegisterModel<true>;

impl<const CAS: bool> RegisterModel<CAS> {
    /// A register starting at `initial` (`None` = nil, absent).
    pub fn new(initial: Option<Value>) -> Self {
        RegisterModel {
            initial: initial.unwrap_or(Value::Null),
        }
    }
}

fn encode(
    model: &str,
    allow_cas: bool,
    op: OpView<'_>,
    values: &mut Interner,
) -> Result<Encoded<RegisterInput, u32>, String> {
    match op.f {
        "read" => Ok(Encoded::read(
            RegisterInput::Read,
            op.output.map(|v| values.intern(v)),
        )),
        "write" => Ok(Encoded::write(RegisterInput::Write(
            values.intern(op.input),
        ))),
        "cas" if allow_cas => match op.input.as_array().map(Vec::as_slice) {
            Some([from, to]) => Ok(Encoded::write(RegisterInput::Cas {
                from: values.intern(from),
                to: values.intern(to),
            })),
            _ => Err(format!(
                "cas takes [from, to], found {}; write it as e.g. [1, 2]",
                op.input
            )),
        },
        other => Err(unknown_function(
            model,
            other,
            if allow_cas {
                "read, write, cas"
            } else {
                "read, write (use the cas-register model for cas)"
            },
        )),
    }
}

/// What a register op does to the value: reads, writes and cas are all the path needs.
fn effect<'a>(op: OpView<'a>) -> Effect<'a> {
    match (op.f, op.output) {
        ("read", Some(seen)) => Effect::Read(seen),
        ("write", _) => Effect::Write(op.input),
        ("cas", _) => match op.input.as_array().map(Vec::as_slice) {
            Some([from, to]) => Effect::Cas { from, to },
            _ => Effect::Opaque,
        },
        _ => Effect::Opaque,
    }
}

fn step(state: u32, input: &RegisterInput, output: Option<&u32>) -> Option<u32> {
    match *input {
        RegisterInput::Read => match output {
            Some(&seen) => (seen == state).then_some(state),
            None => Some(state),
        },
        RegisterInput::Write(v) => Some(v),
        RegisterInput::Cas { from, to } => (from == state).then_some(to),
    }
}

impl<const CAS: bool> Model for RegisterModel<CAS> {
    type State = u32;
    type Input = RegisterInput;
    type Output = u32;

    fn name(&self) -> &str {
        if CAS {
            "cas-register"
        } else {
            "register"
        }
    }
    fn init(&self, values: &mut Interner) -> u32 {
        values.intern(&self.initial)
    }
    fn encode(
        &self,
        op: OpView<'_>,
        values: &mut Interner,
    ) -> Result<Encoded<RegisterInput, u32>, String> {
        encode(self.name(), CAS, op, values)
    }
    fn step(&self, state: &u32, input: &RegisterInput, output: Option<&u32>) -> Option<u32> {
        step(*state, input, output)
    }
    fn describe_state(&self, state: &u32, values: &Interner) -> String {
        values.describe(*state)
    }
    fn value_semantics(&self) -> Option<ValueSemantics> {
        Some(ValueSemantics {
            initial: self.initial.clone(),
            text: false,
        })
    }
    fn effect<'a>(&self, op: OpView<'a>) -> Effect<'a> {
        effect(op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Validity;
    use crate::models::test_support::{history, sequential, verdict};
    use serde_json::json;

    #[test]
    fn concurrent_write_and_read_of_either_value_is_valid() {
        let h = history(&[
            (0, "invoke", "write", json!(1)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!(1)),
            (0, "ok", "write", json!(1)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!(1)),
        ]);
        assert_eq!(verdict(&Register::new(None), &h), Validity::Valid);
    }

    #[test]
    fn stale_read_after_write_completed_is_invalid() {
        let h = sequential(&[
            (0, "write", json!(1), json!(1)),
            (0, "write", json!(2), json!(2)),
            (1, "read", json!(null), json!(1)),
        ]);
        assert_eq!(verdict(&Register::new(None), &h), Validity::Invalid);
    }

    #[test]
    fn initial_value_is_read_before_any_write() {
        let h = sequential(&[(1, "read", json!(null), json!(0))]);
        assert_eq!(verdict(&Register::new(Some(json!(0))), &h), Validity::Valid);
        assert_eq!(verdict(&Register::new(None), &h), Validity::Invalid);
    }

    #[test]
    fn register_rejects_cas_with_a_hint() {
        let h = sequential(&[(0, "cas", json!([1, 2]), json!([1, 2]))]);
        let r = crate::linearizable::check_history(
            &Register::new(None),
            &h,
            &crate::linearizable::SearchOptions::default(),
        );
        r.assert_verdict(Validity::Unknown, "cas-register");
    }

    #[test]
    fn ok_cas_needs_the_expected_value_and_failed_cas_did_not_happen() {
        let good = history(&[
            (0, "invoke", "write", json!(1)),
            (0, "ok", "write", json!(1)),
            (1, "invoke", "cas", json!([2, 3])),
            (1, "fail", "cas", json!([2, 3])),
            (0, "invoke", "cas", json!([1, 3])),
            (0, "ok", "cas", json!([1, 3])),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!(3)),
        ]);
        assert_eq!(verdict(&CasRegister::new(None), &good), Validity::Valid);
        let bad = sequential(&[
            (0, "write", json!(1), json!(1)),
            (0, "cas", json!([2, 3]), json!([2, 3])),
        ]);
        assert_eq!(verdict(&CasRegister::new(None), &bad), Validity::Invalid);
    }

    #[test]
    fn info_write_may_or_may_not_happen() {
        let took_effect = history(&[
            (0, "invoke", "write", json!(5)),
            (0, "info", "write", json!(5)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!(5)),
        ]);
        let never = history(&[
            (0, "invoke", "write", json!(5)),
            (0, "info", "write", json!(5)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!(null)),
        ]);
        let model = CasRegister::new(None);
        assert_eq!(verdict(&model, &took_effect), Validity::Valid);
        assert_eq!(verdict(&model, &never), Validity::Valid);
        let read_before_write_invoked = history(&[
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!(5)),
            (0, "invoke", "write", json!(5)),
            (0, "info", "write", json!(5)),
        ]);
        assert_eq!(
            verdict(&model, &read_before_write_invoked),
            Validity::Invalid
        );
    }

    #[test]
    fn keys_are_independent_registers() {
        let mut h = sequential(&[
            (0, "write", json!(1), json!(1)),
            (1, "read", json!(null), json!(null)),
        ]);
        h.ops[0].key = Some(json!(1));
        h.ops[1].key = Some(json!(1));
        h.ops[2].key = Some(json!("other"));
        h.ops[3].key = Some(json!("other"));
        assert_eq!(verdict(&CasRegister::new(None), &h), Validity::Valid);
        h.ops[2].key = Some(json!(1));
        h.ops[3].key = Some(json!(1));
        assert_eq!(verdict(&CasRegister::new(None), &h), Validity::Invalid);
    }
}
