//! The `mutex` model: a lock that is free or held. `acquire` succeeds only when it is
//! free, `release` only when it is held. Outputs are ignored: an `ok` is the observation.
//!
//! This file must never track who holds the lock: faultline's processes change ids after
//! an indeterminate op, so ownership cannot be checked from a history.

use serde_json::Value;

use super::{bad_initial, unknown_function, Encoded, Interner, Model, ModelError, OpView};

/// What a mutex op asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MutexInput {
    /// Take the lock.
    Acquire,
    /// Give it back.
    Release,
}

/// A lock, free unless `--initial true`.
#[derive(Debug, Clone, Default)]
pub struct Mutex {
    held: bool,
}

impl Mutex {
    /// A lock starting free (`None`, null or `false`) or held (`true`).
    pub fn new(initial: Option<Value>) -> Result<Mutex, ModelError> {
        match initial {
            None | Some(Value::Null) => Ok(Mutex { held: false }),
            Some(Value::Bool(held)) => Ok(Mutex { held }),
            Some(other) => Err(bad_initial(
                "mutex",
                &other,
                "give true (held) or false (free)",
            )),
        }
    }
}

impl Model for Mutex {
    type State = bool;
    type Input = MutexInput;
    type Output = ();

    fn name(&self) -> &str {
        "mutex"
    }
    fn init(&self, _: &mut Interner) -> bool {
        self.held
    }
    fn encode(&self, op: OpView<'_>, _: &mut Interner) -> Result<Encoded<MutexInput, ()>, String> {
        match op.f {
            "acquire" | "lock" => Ok(Encoded::write(MutexInput::Acquire)),
            "release" | "unlock" => Ok(Encoded::write(MutexInput::Release)),
            other => Err(unknown_function("mutex", other, "acquire, release")),
        }
    }
    fn step(&self, held: &bool, input: &MutexInput, _: Option<&()>) -> Option<bool> {
        match input {
            MutexInput::Acquire => (!held).then_some(true),
            MutexInput::Release => held.then_some(false),
        }
    }
    fn describe_state(&self, held: &bool, _: &Interner) -> String {
        if *held { "held" } else { "free" }.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Validity;
    use crate::models::test_support::{history, sequential, verdict};
    use serde_json::json;

    #[test]
    fn alternating_holders_are_valid() {
        let h = history(&[
            (0, "invoke", "acquire", json!(null)),
            (0, "ok", "acquire", json!(null)),
            (1, "invoke", "acquire", json!(null)),
            (0, "invoke", "release", json!(null)),
            (0, "ok", "release", json!(null)),
            (1, "ok", "acquire", json!(null)),
        ]);
        assert_eq!(verdict(&Mutex::default(), &h), Validity::Valid);
    }

    #[test]
    fn two_holders_at_once_are_invalid() {
        let h = sequential(&[
            (0, "acquire", json!(null), json!(null)),
            (1, "acquire", json!(null), json!(null)),
        ]);
        assert_eq!(verdict(&Mutex::default(), &h), Validity::Invalid);
        let held = Mutex::new(Some(json!(true))).unwrap();
        let release = sequential(&[(0, "release", json!(null), json!(null))]);
        assert_eq!(verdict(&held, &release), Validity::Valid);
        assert_eq!(verdict(&Mutex::default(), &release), Validity::Invalid);
    }
}
