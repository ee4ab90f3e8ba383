//! The `kv` model: every key is an independent string register that starts as `""` (or
//! the `--initial` string). `put` replaces the string, `append` concatenates to it, `get`
//! returns it, and `cas [from, to]` replaces it when it equals `from`. This is the model of
//! the key-value logs in Porcupine's test data.
//!
//! This file must never know about other keys: the checker splits the history by key.

use serde_json::Value;

pub use super::kv_text::KvText;
use super::{
    bad_initial, unknown_function, Effect, Encoded, Interner, Model, ModelError, OpView,
    ValueSemantics,
};

/// What a kv op asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvInput {
    /// Return the current string (`read` is accepted as a synonym).
    Get,
    /// Replace the string (`write` is accepted as a synonym).
    Put(KvText),
    /// Concatenate to the string.
    Append(KvText),
    /// Replace the string if it equals `from`.
    Cas(KvText, KvText),
}

/// A map from keys to strings, one key at a time.
#[derive(Debug, Clone)]
pub struct Kv {
    initial: KvText,
}

impl Default for Kv {
    fn default() -> Self {
        Kv {
            initial: KvText::new(""),
        }
    }
}

impl Kv {
    /// Every key starts as `initial` (a JSON string; `None` or null = `""`).
    pub fn new(initial: Option<Value>) -> Result<Kv, ModelError> {
        match initial {
            None | Some(Value::Null) => Ok(Kv::default()),
            Some(Value::String(s)) => Ok(Kv {
                initial: KvText::new(&s),
            }),
            Some(other) => Err(bad_initial(
                "kv",
                &other,
                "every key starts as one string; give a JSON string such as \"\"",
            )),
        }
    }
}

/// A kv value as a string: strings as they are, null as `""`, anything else as its JSON.
fn text(value: &Value) -> KvText {
    match value {
        Value::String(s) => KvText::new(s),
        Value::Null => KvText::new(""),
        other => KvText::new(&other.to_string()),
    }
}

impl Model for Kv {
    type State = KvText;
    type Input = KvInput;
    type Output = KvText;

    fn name(&self) -> &str {
        "kv"
    }
    fn init(&self, _: &mut Interner) -> KvText {
        self.initial.clone()
    }
    fn encode(&self, op: OpView<'_>, _: &mut Interner) -> Result<Encoded<KvInput, KvText>, String> {
        match op.f {
            "get" | "read" => Ok(Encoded::read(KvInput::Get, op.output.map(text))),
            "put" | "write" => Ok(Encoded::write(KvInput::Put(text(op.input)))),
            "append" => Ok(Encoded::write(KvInput::Append(text(op.input)))),
            "cas" => match op.input.as_array().map(Vec::as_slice) {
                Some([from, to]) => Ok(Encoded::write(KvInput::Cas(text(from), text(to)))),
                _ => Err(format!(
                    "cas takes [from, to], found {}; write it as e.g. [\"a\", \"b\"]",
                    op.input
                )),
            },
            other => Err(unknown_function("kv", other, "get, put, append, cas")),
        }
    }
    fn step(&self, state: &KvText, input: &KvInput, output: Option<&KvText>) -> Option<KvText> {
        match input {
            KvInput::Get => match output {
                Some(seen) => (seen == state).then(|| state.clone()),
                None => Some(state.clone()),
            },
            KvInput::Put(v) => Some(v.clone()),
            KvInput::Append(v) => Some(state.append(v)),
            KvInput::Cas(from, to) => (from == state).then(|| to.clone()),
        }
    }
    fn describe_state(&self, state: &KvText, _: &Interner) -> String {
        format!("{state:?}")
    }
    fn state_heap_bytes(&self, _: &KvText) -> usize {
        // One rope node; the text it shares is counted once, with the history.
        64
    }
    fn value_semantics(&self) -> Option<ValueSemantics> {
        Some(ValueSemantics {
            initial: Value::String(self.initial.text()),
            text: true,
        })
    }
    /// get, put and append; a kv cas compares whole strings, which the path does not
    /// follow, so its key goes to the search.
    fn effect<'a>(&self, op: OpView<'a>) -> Effect<'a> {
        match (op.f, op.output) {
            ("get" | "read", Some(seen)) => Effect::Read(seen),
            ("put" | "write", _) => Effect::Write(op.input),
            ("append", _) => Effect::Append(op.input),
            _ => Effect::Opaque,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Validity;
    use crate::models::test_support::{assert_verdicts, history, sequential};
    use serde_json::json;

    #[test]
    fn gets_see_puts_appends_and_cas_in_a_linearizable_order() {
        use Validity::*;
        let concurrent = history(&[
            (0, "invoke", "append", json!("a")),
            (1, "invoke", "append", json!("b")),
            (0, "ok", "append", json!("a")),
            (1, "ok", "append", json!("b")),
            (2, "invoke", "get", json!(null)),
            (2, "ok", "get", json!("ba")),
        ]);
        let missing = sequential(&[
            (0, "put", json!("x"), json!("x")),
            (0, "append", json!("y"), json!("y")),
            (2, "get", json!(null), json!("x")),
        ]);
        let empty = sequential(&[(2, "get", json!(null), json!(""))]);
        let cas = sequential(&[
            (0, "put", json!("a"), json!("a")),
            (0, "cas", json!(["a", "b"]), json!(["a", "b"])),
            (2, "get", json!(null), json!("b")),
        ]);
        assert_verdicts(
            &Kv::default(),
            &[
                (
                    "concurrent appends concatenate in either order",
                    concurrent,
                    Valid,
                ),
                ("a get missing a completed append", missing, Invalid),
                ("a key starts empty", empty.clone(), Valid),
                ("cas compares strings", cas, Valid),
            ],
        );
        assert_verdicts(
            &Kv::new(Some(json!("s"))).unwrap(),
            &[("a key starts at the initial string", empty, Invalid)],
        );
        assert!(Kv::new(Some(json!(3))).is_err());
    }
}
