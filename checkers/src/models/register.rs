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
    use crate::models::test_support::{assert_verdicts, history, sequential};
    use serde_json::json;

    #[test]
    fn a_register_reads_the_value_of_a_linearizable_order() {
        use Validity::*;
        let concurrent = history(&[
            (0, "invoke", "write", json!(1)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!(1)),
            (0, "ok", "write", json!(1)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!(1)),
        ]);
        let stale = sequential(&[
            (0, "write", json!(1), json!(1)),
            (0, "write", json!(2), json!(2)),
            (1, "read", json!(null), json!(1)),
        ]);
        let initial = sequential(&[(1, "read", json!(null), json!(0))]);
        assert_verdicts(
            &Register::new(None),
            &[
                ("a read concurrent with a write sees it", concurrent, Valid),
                ("a read after a later write completed", stale, Invalid),
                ("0 read with no initial value", initial.clone(), Invalid),
            ],
        );
        assert_verdicts(
            &Register::new(Some(json!(0))),
            &[("the initial value read before any write", initial, Valid)],
        );
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
    fn ok_cas_needs_the_expected_value_and_failed_or_unknown_ops_may_not_happen() {
        use Validity::*;
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
        let bad = sequential(&[
            (0, "write", json!(1), json!(1)),
            (0, "cas", json!([2, 3]), json!([2, 3])),
        ]);
        let info_write_then_read = |read: Value| {
            history(&[
                (0, "invoke", "write", json!(5)),
                (0, "info", "write", json!(5)),
                (1, "invoke", "read", json!(null)),
                (1, "ok", "read", read),
            ])
        };
        let read_before_write_invoked = history(&[
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!(5)),
            (0, "invoke", "write", json!(5)),
            (0, "info", "write", json!(5)),
        ]);
        let mut keys = sequential(&[
            (0, "write", json!(1), json!(1)),
            (1, "read", json!(null), json!(null)),
        ]);
        for (op, key) in keys.ops.iter_mut().zip([1, 1, 2, 2]) {
            op.key = Some(json!(key));
        }
        let mut one_key = keys.clone();
        for op in &mut one_key.ops {
            op.key = Some(json!(1));
        }
        assert_verdicts(
            &CasRegister::new(None),
            &[
                ("a failed cas did not happen, an ok one did", good, Valid),
                ("an ok cas from a value not current", bad, Invalid),
                (
                    "an info write that took effect",
                    info_write_then_read(json!(5)),
                    Valid,
                ),
                (
                    "an info write that never did",
                    info_write_then_read(json!(null)),
                    Valid,
                ),
                (
                    "a read of a write not yet invoked",
                    read_before_write_invoked,
                    Invalid,
                ),
                ("keys are independent registers", keys, Valid),
                ("the same key read after the write", one_key, Invalid),
            ],
        );
    }
}
