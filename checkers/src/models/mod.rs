//! Sequential specifications ("models") of the systems under test, which the
//! linearizability checker replays, in the spirit of Porcupine's `Model`.
//!
//! A model is a handful of functions: [`Model::init`] gives the initial state,
//! [`Model::encode`] turns one call of the history into a compact input and output once,
//! before the search, [`Model::step`] applies an input to a state and says whether the
//! observed output is legal, and `describe_*` render states and ops for people. Two states
//! are the same when they are `Eq` (their `Hash` must agree), which is what lets the search
//! memoise. Ops that carry a `key` are independent per key (Jepsen's independent keys): the
//! checker splits the history by [`Model::partition`] and gives every key its own copy of
//! the model, starting at `init`, so a model only ever describes one key.
//!
//! This module must never search or read files: it only says what one sequential object does.
//!
//! # Writing your own model
//!
//! A counter with `add` (argument: the amount) and `read` (result: the value):
//!
//! ```
//! use faultline_checkers::models::{Encoded, Interner, Model, OpView};
//! use faultline_checkers::linearizable::{check_history, SearchOptions};
//! use faultline_checkers::checker::Validity;
//! use faultline_checkers::history::{History, Op, OpType, Process};
//! use serde_json::json;
//!
//! struct Counter;
//! impl Model for Counter {
//!     type State = i64;
//!     type Input = Option<i64>; // Some(n) = add n, None = read
//!     type Output = i64;
//!     fn name(&self) -> &str { "counter" }
//!     fn init(&self, _: &mut Interner) -> i64 { 0 }
//!     fn encode(&self, op: OpView<'_>, _: &mut Interner)
//!         -> Result<Encoded<Option<i64>, i64>, String> {
//!         match op.f {
//!             "add" => Ok(Encoded::write(op.input.as_i64().map(Some)
//!                 .ok_or("add takes an integer")?)),
//!             "read" => Ok(Encoded::read(None, match op.output {
//!                 Some(v) => Some(v.as_i64().ok_or("read returns an integer")?),
//!                 None => None,
//!             })),
//!             other => Err(format!("the counter has no function {other:?}; use add or read")),
//!         }
//!     }
//!     fn step(&self, state: &i64, input: &Option<i64>, output: Option<&i64>) -> Option<i64> {
//!         match (input, output) {
//!             (Some(n), _) => Some(state + n),
//!             (None, Some(seen)) => (seen == state).then_some(*state),
//!             (None, None) => Some(*state),
//!         }
//!     }
//!     fn describe_state(&self, state: &i64, _: &Interner) -> String { state.to_string() }
//! }
//!
//! let mut h = History::default();
//! h.push(Op::new(Process::Client(0), OpType::Invoke, "add", json!(2)));
//! h.push(Op::new(Process::Client(0), OpType::Ok, "add", json!(2)));
//! h.push(Op::new(Process::Client(1), OpType::Invoke, "read", json!(null)));
//! h.push(Op::new(Process::Client(1), OpType::Ok, "read", json!(2)));
//! let result = check_history(&Counter, &h, &SearchOptions::default());
//! assert_eq!(result.valid, Validity::Valid);
//! ```

mod collections;
mod intern;
mod kv;
mod kv_text;
mod mutex;
mod register;

use std::hash::Hash;

use serde_json::Value;

use crate::history::Op;

pub use collections::{FifoQueue, SetModel};
pub use intern::Interner;
pub use kv::{Kv, KvText};
pub use mutex::Mutex;
pub use register::{CasRegister, Register, RegisterModel};

/// The names [`by_name`] accepts, in the order `--help` lists them.
pub const MODEL_NAMES: &[&str] = &[
    "register",
    "cas-register",
    "kv",
    "mutex",
    "fifo-queue",
    "set",
];

/// Why a model could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// No model has this name.
    #[error("unknown model \"{name}\"; known models: {known}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// The initial value does not fit the model.
    #[error("model {model}: bad initial value {value}: {message}")]
    BadInitial {
        /// The model's name.
        model: String,
        /// The initial value given, as JSON.
        value: String,
        /// What was expected.
        message: String,
    },
}

/// One call of the history as a model sees it when encoding.
#[derive(Debug, Clone, Copy)]
pub struct OpView<'a> {
    /// The function, e.g. `read`, `write`, `cas`.
    pub f: &'a str,
    /// The invocation's value (the argument).
    pub input: &'a Value,
    /// The completion's value (the result) when the op is `ok`; `None` when it is `info`
    /// or still pending, i.e. when its result is unknown.
    pub output: Option<&'a Value>,
}

impl<'a> OpView<'a> {
    /// The call `invoke` began; `ok`, its completion when that is `ok` (its output must
    /// match), `None` when its result is unknown.
    pub fn of(invoke: &'a Op, ok: Option<&'a Op>) -> Self {
        OpView {
            f: &invoke.f,
            input: &invoke.value,
            output: ok.map(|op| &op.value),
        }
    }
}

/// A call converted to a model's compact representation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded<I, O> {
    /// What the op asks of the object.
    pub input: I,
    /// What it observed; `None` when unknown (the checker also forces `None` for `info`).
    pub output: Option<O>,
    /// Whether the op never changes the state (a read). Such ops are dropped when their
    /// outcome is unknown, since they can neither constrain nor change anything.
    pub read_only: bool,
}

impl<I, O> Encoded<I, O> {
    /// An op that may change the state; its output is ignored.
    pub fn write(input: I) -> Self {
        Encoded {
            input,
            output: None,
            read_only: false,
        }
    }

    /// An op that may change the state and whose output matters (e.g. a dequeue).
    pub fn update(input: I, output: Option<O>) -> Self {
        Encoded {
            input,
            output,
            read_only: false,
        }
    }

    /// A read-only op with an observed output (or `None` when unknown).
    pub fn read(input: I, output: Option<O>) -> Self {
        Encoded {
            input,
            output,
            read_only: true,
        }
    }
}

/// A sequential specification of one object (one key).
///
/// `step` must be a pure function. With `output == None` the op's result is unknown: return
/// the state after the op took effect in some legal way, or `None` if it cannot take effect
/// here (the checker may still decide it never happened).
pub trait Model: Send + Sync {
    /// The object's state. Equal states must hash equally.
    type State: Clone + Eq + Hash + Send + Sync;
    /// An op's argument, in compact form (intern values with the [`Interner`]).
    type Input: Send + Sync;
    /// An op's observed result, in compact form.
    type Output: Send + Sync;

    /// A short name for messages, e.g. `cas-register`.
    fn name(&self) -> &str;
    /// The state every key starts in.
    fn init(&self, values: &mut Interner) -> Self::State;
    /// Convert one call, once, before the search. An error names the op's problem and
    /// what the model expects; the checker prefixes it with the op's index.
    fn encode(
        &self,
        op: OpView<'_>,
        values: &mut Interner,
    ) -> Result<Encoded<Self::Input, Self::Output>, String>;
    /// Apply `input` to `state`: the next state if the op is legal here with `output`
    /// (`None` = unknown output), or `None` if it is not.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Option<Self::State>;
    /// A state for people, e.g. `3`, `nil`, `"x 1 y"`.
    fn describe_state(&self, state: &Self::State, values: &Interner) -> String;

    /// An op for people, e.g. `read key 3 -> 7` or `cas [1,2]`.
    fn describe_op(
        &self,
        f: &str,
        key: Option<&Value>,
        input: &Value,
        output: Option<&Value>,
    ) -> String {
        let mut text = f.to_string();
        if let Some(key) = key {
            text.push_str(" key ");
            text.push_str(&compact(key));
        }
        if !input.is_null() {
            text.push(' ');
            text.push_str(&compact(input));
        }
        match output {
            // A read returns what its invocation left blank: even a blank is an answer.
            Some(out) if out != input || input.is_null() => {
                text.push_str(" -> ");
                text.push_str(&compact(out));
            }
            Some(_) => {}
            None => text.push_str(" (unknown outcome)"),
        }
        text
    }

    /// Which independent object an op belongs to; ops with different partitions never
    /// interact. By default the op's `key` (`None` = the single unkeyed object).
    fn partition<'a>(&self, op: &'a Op) -> Option<&'a Value> {
        op.key.as_ref()
    }

    /// Heap bytes a state owns beyond its `size_of`, for the memory budget.
    fn state_heap_bytes(&self, _state: &Self::State) -> usize {
        0
    }

    /// How this model's values behave, for the checker's polynomial path for histories in
    /// which every value is written once (see [`crate::linearizable`]); `None`, the
    /// default, keeps the model on the general search.
    fn value_semantics(&self) -> Option<ValueSemantics> {
        None
    }

    /// What one call does to the whole value of its key, for that path. Only asked of
    /// models whose [`Model::value_semantics`] is `Some`; [`Effect::Opaque`] (the default)
    /// sends the call's key to the general search.
    fn effect<'a>(&self, _op: OpView<'a>) -> Effect<'a> {
        Effect::Opaque
    }
}

/// How a model's values behave, for the unique-values path.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueSemantics {
    /// The value every key starts with.
    pub initial: Value,
    /// Values are strings and [`Effect::Append`] concatenates (the `kv` model); otherwise
    /// a read returns exactly the value one write or cas stored (registers).
    pub text: bool,
}

/// What one call does to the whole value of its key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Effect<'a> {
    /// Returned this value (an `ok` read).
    Read(&'a Value),
    /// Replaced the value, whatever it was.
    Write(&'a Value),
    /// Replaced `from` by `to`; an `ok` cas means it did.
    Cas {
        /// The value it expected.
        from: &'a Value,
        /// The value it stored.
        to: &'a Value,
    },
    /// Appended this string to the value.
    Append(&'a Value),
    /// Anything else: the key is checked by the general search.
    Opaque,
}

/// A value as compact JSON text, with strings unquoted only when they are keys of a map.
pub(crate) fn compact(value: &Value) -> String {
    match value {
        Value::Null => "nil".to_string(),
        other => other.to_string(),
    }
}

/// Any of the built-in models, chosen by name at run time (the CLI's `--model`).
#[derive(Debug, Clone)]
pub enum AnyModel {
    /// `register`: read/write.
    Register(Register),
    /// `cas-register`: read/write/cas.
    CasRegister(CasRegister),
    /// `kv`: per-key string register with get/put/append/cas.
    Kv(Kv),
    /// `mutex`: acquire/release.
    Mutex(Mutex),
    /// `fifo-queue`: enqueue/dequeue.
    FifoQueue(FifoQueue),
    /// `set`: add/read.
    Set(SetModel),
}

impl AnyModel {
    /// The model's name, one of [`MODEL_NAMES`].
    pub fn name(&self) -> &str {
        match self {
            AnyModel::Register(m) => m.name(),
            AnyModel::CasRegister(m) => m.name(),
            AnyModel::Kv(m) => m.name(),
            AnyModel::Mutex(m) => m.name(),
            AnyModel::FifoQueue(m) => m.name(),
            AnyModel::Set(m) => m.name(),
        }
    }
}

/// The built-in model called `name`, every key starting at `initial` (`None` = the model's
/// default: nil for registers, `""` for kv, free for mutex, empty for queue and set).
pub fn by_name(name: &str, initial: Option<Value>) -> Result<AnyModel, ModelError> {
    let model = match name {
        "register" => AnyModel::Register(Register::new(initial)),
        "cas-register" => AnyModel::CasRegister(CasRegister::new(initial)),
        "kv" => AnyModel::Kv(Kv::new(initial)?),
        "mutex" => AnyModel::Mutex(Mutex::new(initial)?),
        "fifo-queue" => AnyModel::FifoQueue(FifoQueue::new(initial)?),
        "set" => AnyModel::Set(SetModel::new(initial)?),
        _ => {
            return Err(ModelError::Unknown {
                name: name.to_string(),
                known: MODEL_NAMES.join(", "),
            })
        }
    };
    Ok(model)
}

pub(crate) fn bad_initial(model: &str, value: &Value, message: &str) -> ModelError {
    ModelError::BadInitial {
        model: model.to_string(),
        value: value.to_string(),
        message: message.to_string(),
    }
}

pub(crate) fn unknown_function(model: &str, f: &str, known: &str) -> String {
    format!("the {model} model has no function \"{f}\"; its functions are {known}")
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Helpers for the models' unit tests: build histories tersely and check them.

    use serde_json::Value;

    use crate::checker::Validity;
    use crate::history::{History, Op, OpType, Process};
    use crate::linearizable::{check_history, SearchOptions};

    use super::Model;

    /// `(process, type, f, value)` lines, optionally keyed.
    pub(crate) fn history(lines: &[(u64, &str, &str, Value)]) -> History {
        let mut h = History::default();
        for (p, t, f, v) in lines {
            let kind = match *t {
                "invoke" => OpType::Invoke,
                "ok" => OpType::Ok,
                "fail" => OpType::Fail,
                _ => OpType::Info,
            };
            h.push(Op::new(Process::Client(*p), kind, *f, v.clone()));
        }
        h
    }

    /// Ops that each complete `ok` before the next is invoked: `(process, f, value
    /// invoked, value returned)` lines.
    pub(crate) fn sequential(ops: &[(u64, &str, Value, Value)]) -> History {
        let lines: Vec<_> = ops
            .iter()
            .flat_map(|(p, f, invoked, returned)| {
                [
                    (*p, "invoke", *f, invoked.clone()),
                    (*p, "ok", *f, returned.clone()),
                ]
            })
            .collect();
        history(&lines)
    }

    pub(crate) fn verdict<M: Model>(model: &M, h: &History) -> Validity {
        check_history(model, h, &SearchOptions::default()).valid
    }

    /// Assert the verdict of `model` on each labelled history.
    #[track_caller]
    pub(crate) fn assert_verdicts<M: Model>(model: &M, cases: &[(&str, History, Validity)]) {
        for (case, h, want) in cases {
            assert_eq!(verdict(model, h), *want, "{case}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_model_lists_known_names() {
        let err = by_name("regster", None).unwrap_err().to_string();
        assert!(
            err.contains("regster") && err.contains("cas-register, kv"),
            "{err}"
        );
    }

    #[test]
    fn every_listed_name_builds() {
        for name in MODEL_NAMES {
            assert_eq!(by_name(name, None).unwrap().name(), *name);
        }
    }
}
