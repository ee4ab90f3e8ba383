//! A fast path for the one shape nearly every EDN op line has: a flat op map on one line
//! whose values are scalars (`{:process 9, :type :ok, :f :append, :key "0", :value "x"}`).
//! It reads such a map straight from the bytes into an [`Op`], with no intermediate EDN
//! values, and allocates only the op's own strings.
//!
//! This module must never report an error or guess: on anything it does not fully
//! understand (a nested value, an escape, a newline, an unknown or repeated field, a
//! missing one) it answers `None`, and the caller reads the same text with the general
//! EDN reader, which gives the precise error or the right value.

use serde_json::Value;

use crate::history::{Op, OpType, Process};

/// What the fast path found: the op, and how many bytes of the text its map took.
pub(crate) struct FastOp {
    pub(crate) op: Op,
    pub(crate) len: usize,
}

/// The bytes that end a token, as a table: a byte test per character is the inner loop.
const DELIMITER: [bool; 256] = {
    let mut table = [false; 256];
    let delimiters = b" \t\n\r,()[]{}\";";
    let mut i = 0;
    while i < delimiters.len() {
        table[delimiters[i] as usize] = true;
        i += 1;
    }
    table
};

/// A scalar value as it appears in an op map.
enum Scalar<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    Str(&'a str),
    Keyword(&'a str),
}

impl Scalar<'_> {
    fn into_json(self) -> Value {
        match self {
            Scalar::Nil => Value::Null,
            Scalar::Bool(b) => Value::Bool(b),
            Scalar::Int(i) => Value::from(i),
            Scalar::Str(s) | Scalar::Keyword(s) => Value::String(s.to_string()),
        }
    }
}

struct Cursor<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// Skip spaces, tabs and commas; `None` at a newline or comment (left to the general
    /// reader, which counts lines).
    fn skip(&mut self) -> Option<()> {
        while let Some(&b) = self.bytes.get(self.pos) {
            match b {
                b' ' | b'\t' | b',' => self.pos += 1,
                b'\n' | b'\r' | b';' => return None,
                _ => return Some(()),
            }
        }
        Some(())
    }

    /// The token from `start` to the next delimiter; moves past it.
    fn token(&mut self, start: usize) -> &'a str {
        let mut end = start;
        while end < self.bytes.len() && !DELIMITER[self.bytes[end] as usize] {
            end += 1;
        }
        self.pos = end;
        self.text.get(start..end).unwrap_or("")
    }

    fn keyword(&mut self) -> Option<&'a str> {
        if self.bytes.get(self.pos) != Some(&b':') {
            return None;
        }
        let name = self.token(self.pos + 1);
        (!name.is_empty()).then_some(name)
    }

    fn scalar(&mut self) -> Option<Scalar<'a>> {
        match *self.bytes.get(self.pos)? {
            b'"' => {
                let start = self.pos + 1;
                let len = self.bytes[start..]
                    .iter()
                    .position(|&b| matches!(b, b'"' | b'\\' | b'\n'))?;
                if self.bytes[start + len] != b'"' {
                    return None;
                }
                self.pos = start + len + 1;
                self.text.get(start..start + len).map(Scalar::Str)
            }
            b':' => self.keyword().map(Scalar::Keyword),
            b'0'..=b'9' | b'-' => {
                let token = self.token(self.pos);
                let digits = token.strip_prefix('-').unwrap_or(token);
                if digits.is_empty()
                    || digits.len() > 18
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return None;
                }
                token.parse().ok().map(Scalar::Int)
            }
            _ => match self.token(self.pos) {
                "nil" => Some(Scalar::Nil),
                "true" => Some(Scalar::Bool(true)),
                "false" => Some(Scalar::Bool(false)),
                _ => None,
            },
        }
    }
}

/// Read the op map at the start of `text` if it has the common flat shape.
#[inline]
pub(crate) fn fast_op(text: &str) -> Option<FastOp> {
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'{') {
        return None;
    }
    let mut c = Cursor {
        text,
        bytes,
        pos: 1,
    };
    let mut kind = None;
    let mut process = None;
    let mut f = None;
    let mut value = None;
    let mut time = None;
    let mut index = None;
    let mut error = None;
    let mut key = None;
    loop {
        c.skip()?;
        if *bytes.get(c.pos)? == b'}' {
            c.pos += 1;
            break;
        }
        let field = c.keyword()?;
        c.skip()?;
        let v = c.scalar()?;
        let taken = match field {
            "type" => kind
                .replace(match v {
                    Scalar::Keyword("invoke") => OpType::Invoke,
                    Scalar::Keyword("ok") => OpType::Ok,
                    Scalar::Keyword("fail") => OpType::Fail,
                    Scalar::Keyword("info") => OpType::Info,
                    _ => return None,
                })
                .is_some(),
            "process" => process
                .replace(match v {
                    Scalar::Int(i) if i >= 0 => Process::Client(i as u64),
                    Scalar::Keyword("nemesis") | Scalar::Str("nemesis") => Process::Nemesis,
                    _ => return None,
                })
                .is_some(),
            "f" => f
                .replace(match v {
                    Scalar::Keyword(k) | Scalar::Str(k) => k,
                    _ => return None,
                })
                .is_some(),
            "value" => value.replace(v).is_some(),
            "key" => key.replace(v).is_some(),
            "time" | "index" => {
                let Scalar::Int(i) = v else { return None };
                let slot = if field == "time" {
                    &mut time
                } else {
                    &mut index
                };
                slot.replace(u64::try_from(i).ok()?).is_some()
            }
            "error" => error
                .replace(match v {
                    Scalar::Nil => None,
                    Scalar::Str(s) | Scalar::Keyword(s) => Some(s.to_string()),
                    _ => return None,
                })
                .is_some(),
            _ => return None,
        };
        if taken {
            return None;
        }
    }
    let op = Op {
        index: 0,
        time: time.unwrap_or(0),
        process: process?,
        kind: kind?,
        f: f?.to_string(),
        key: key.map(Scalar::into_json).filter(|k| !k.is_null()),
        value: value.map_or(Value::Null, Scalar::into_json),
        error: error.flatten(),
    };
    Some(FastOp { op, len: c.pos })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_flat_shape() {
        let line = "{:process 9, :type :ok, :f :append, :key \"0\", :value \"x 9 0 y\"} rest";
        let fast = fast_op(line).unwrap();
        assert_eq!(&line[fast.len..], " rest");
        let op = fast.op;
        assert_eq!(
            (op.process, op.kind, op.f.as_str()),
            (Process::Client(9), OpType::Ok, "append")
        );
        assert_eq!((op.key, op.value), (Some(json!("0")), json!("x 9 0 y")));
        let op = fast_op("{:type :info, :f :read, :value nil, :process :nemesis, :time 5, :index 0, :error :timeout}")
            .unwrap()
            .op;
        assert_eq!(op.process, Process::Nemesis);
        assert_eq!((op.time, op.error.as_deref()), (5, Some("timeout")));
        assert_eq!(op.value, Value::Null);
    }

    #[test]
    fn leaves_everything_else_to_the_general_reader() {
        for text in [
            "{:process 0, :type :invoke, :f :cas, :value [1 2]}",
            "{:process 0, :type :invoke, :f :read, :value \"a\\\"b\"}",
            "{:process 0, :type :invoke,\n :f :read}",
            "{:process 0, :type :invoke, :f :read, :f :write}",
            "{:process 0, :type :bogus, :f :read}",
            "{:process 0, :type :invoke}",
            "{:process -1, :type :invoke, :f :read}",
            "{:process 0, :type :invoke, :f :read, :value 1.5}",
            "{:process 0, :type :invoke, :f :read, :other 1}",
            "{:process 0, :type :invoke, :f :read",
            "{:process 0, :type :invoke, :f :read, :value 12345678901234567890}",
        ] {
            assert!(fast_op(text).is_none(), "{text}");
        }
    }
}
