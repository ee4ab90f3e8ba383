//! Maelstrom's wire protocol (its `doc/protocol.md`): one JSON message a line,
//! `{"src", "dest", "body"}`, bodies with `type`, `msg_id` and `in_reply_to`, and the error
//! codes, each definite (the op certainly did not happen: `fail`) or not (`info`).
//! Nothing here does I/O.

use faultline_checkers::history::OpType;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One message between nodes, clients and services.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Message {
    pub src: String,
    pub dest: String,
    pub body: Value,
}

impl Message {
    /// The body's `in_reply_to`, if any.
    pub fn in_reply_to(&self) -> Option<u64> {
        self.body.get("in_reply_to").and_then(Value::as_u64)
    }

    /// The body's `msg_id`, if any.
    pub fn msg_id(&self) -> Option<u64> {
        self.body.get("msg_id").and_then(Value::as_u64)
    }
}

/// A node's line as a message, or why it is not one (the line is kept by the caller).
pub(crate) fn parse_line(line: &str) -> Result<Message, String> {
    let message: Message =
        serde_json::from_str(line).map_err(|e| format!("not a Maelstrom message: {e}"))?;
    if !message.body.is_object() {
        return Err("its body is not a JSON object".to_string());
    }
    Ok(message)
}

/// Maelstrom's error codes: name, and whether the error is definite.
pub(crate) fn error_code(code: i64) -> (&'static str, bool) {
    match code {
        0 => ("timeout", false),
        1 => ("node-not-found", true),
        10 => ("not-supported", true),
        11 => ("temporarily-unavailable", true),
        12 => ("malformed-request", true),
        13 => ("crash", false),
        14 => ("abort", true),
        20 => ("key-does-not-exist", true),
        21 => ("key-already-exists", true),
        22 => ("precondition-failed", true),
        30 => ("txn-conflict", true),
        // Codes of the user's own (>= 1000) and unknown ones are indefinite.
        _ => ("custom", false),
    }
}

/// What an `error` reply means for the op: its type (`fail` when the code is definite,
/// `info` otherwise) and the error text the history keeps.
pub(crate) fn error_outcome(body: &Value) -> (OpType, String) {
    let code = body.get("code").and_then(Value::as_i64).unwrap_or(13);
    let (name, definite) = error_code(code);
    let text = body.get("text").and_then(Value::as_str).unwrap_or("");
    let error = if text.is_empty() {
        format!("{name} ({code})")
    } else {
        format!("{name} ({code}): {text}")
    };
    (if definite { OpType::Fail } else { OpType::Info }, error)
}

/// An `error` body answering `msg_id`.
pub(crate) fn error_body(msg_id: Option<u64>, code: i64, text: &str) -> Value {
    serde_json::json!({"type": "error", "in_reply_to": msg_id, "code": code, "text": text})
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_are_messages_with_object_bodies() {
        let m = parse_line(r#"{"src":"n1","dest":"c1","body":{"type":"echo_ok","in_reply_to":3}}"#)
            .unwrap();
        assert_eq!(
            (m.body["type"].as_str(), m.in_reply_to()),
            (Some("echo_ok"), Some(3))
        );
        assert!(parse_line("hello").is_err());
        assert!(parse_line(r#"{"src":"n1","dest":"c1","body":3}"#).is_err());
    }

    #[test]
    fn definite_codes_fail_and_the_others_are_unknown() {
        for code in [1, 10, 11, 12, 14, 20, 21, 22, 30] {
            let (kind, _) = error_outcome(&json!({"type": "error", "code": code}));
            assert_eq!(kind, OpType::Fail, "{code}");
        }
        for code in [0, 13, 1000, 1234] {
            let (kind, _) = error_outcome(&json!({"type": "error", "code": code}));
            assert_eq!(kind, OpType::Info, "{code}");
        }
        let (_, text) = error_outcome(&json!({"type": "error", "code": 22, "text": "was 3"}));
        assert_eq!(text, "precondition-failed (22): was 3");
    }
}
