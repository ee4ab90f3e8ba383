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

/// The fields of an op map the fast path reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Type,
    Process,
    F,
    Value,
    Key,
    Time,
    Index,
    Error,
}

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

    /// Whether the text at `at` is `word` followed by a delimiter (or the end).
    /// (A fixed-size array, so the comparison is a few integer compares, not a memcmp.)
    #[inline]
    fn word_at<const N: usize>(&self, at: usize, word: &[u8; N]) -> bool {
        self.bytes
            .get(at..at + N)
            .and_then(|s| <&[u8; N]>::try_from(s).ok())
            .is_some_and(|s| s == word)
            && self
                .bytes
                .get(at + N)
                .is_none_or(|&b| DELIMITER[b as usize])
    }

    /// The keyword here (`:name`) as `pick` recognises it from its first letter and its
    /// position, which answers the meaning and the name's length; `None` for any other
    /// keyword or token.
    #[inline]
    fn known_keyword<T>(
        &mut self,
        pick: impl FnOnce(&Self, u8, usize) -> Option<(T, usize)>,
    ) -> Option<T> {
        if self.bytes.get(self.pos) != Some(&b':') {
            return None;
        }
        let at = self.pos + 1;
        let (meaning, len) = pick(self, *self.bytes.get(at)?, at)?;
        self.pos = at + len;
        Some(meaning)
    }

    /// The op field named by the keyword here (`:process` ...), compared whole.
    #[inline]
    fn field(&mut self) -> Option<Field> {
        self.known_keyword(|s, first, at| match first {
            b'p' if s.word_at(at, b"process") => Some((Field::Process, 7)),
            b't' if s.word_at(at, b"type") => Some((Field::Type, 4)),
            b't' if s.word_at(at, b"time") => Some((Field::Time, 4)),
            b'f' if s.word_at(at, b"f") => Some((Field::F, 1)),
            b'k' if s.word_at(at, b"key") => Some((Field::Key, 3)),
            b'v' if s.word_at(at, b"value") => Some((Field::Value, 5)),
            b'i' if s.word_at(at, b"index") => Some((Field::Index, 5)),
            b'e' if s.word_at(at, b"error") => Some((Field::Error, 5)),
            _ => None,
        })
    }

    /// An op type keyword (`:invoke :ok :fail :info`).
    #[inline]
    fn op_type(&mut self) -> Option<OpType> {
        self.known_keyword(|s, first, at| match first {
            b'i' if s.word_at(at, b"invoke") => Some((OpType::Invoke, 6)),
            b'o' if s.word_at(at, b"ok") => Some((OpType::Ok, 2)),
            b'f' if s.word_at(at, b"fail") => Some((OpType::Fail, 4)),
            b'i' if s.word_at(at, b"info") => Some((OpType::Info, 4)),
            _ => None,
        })
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
                let negative = self.bytes[self.pos] == b'-';
                let start = self.pos + usize::from(negative);
                let mut end = start;
                let mut n: i64 = 0;
                while let Some(&b) = self.bytes.get(end) {
                    if !b.is_ascii_digit() {
                        break;
                    }
                    n = n * 10 + i64::from(b - b'0');
                    end += 1;
                    if end - start > 18 {
                        return None;
                    }
                }
                if end == start || self.bytes.get(end).is_some_and(|&b| !DELIMITER[b as usize]) {
                    return None;
                }
                self.pos = end;
                Some(Scalar::Int(if negative { -n } else { n }))
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
        let field = c.field()?;
        c.skip()?;
        let taken = match field {
            Field::Type => kind.replace(c.op_type()?).is_some(),
            Field::Process => process
                .replace(match c.scalar()? {
                    Scalar::Int(i) if i >= 0 => Process::Client(i as u64),
                    Scalar::Keyword("nemesis") | Scalar::Str("nemesis") => Process::Nemesis,
                    _ => return None,
                })
                .is_some(),
            Field::F => f
                .replace(match c.scalar()? {
                    Scalar::Keyword(k) | Scalar::Str(k) => k,
                    _ => return None,
                })
                .is_some(),
            Field::Value => value.replace(c.scalar()?).is_some(),
            Field::Key => key.replace(c.scalar()?).is_some(),
            Field::Time | Field::Index => {
                let Scalar::Int(i) = c.scalar()? else {
                    return None;
                };
                let slot = if field == Field::Time {
                    &mut time
                } else {
                    &mut index
                };
                slot.replace(u64::try_from(i).ok()?).is_some()
            }
            Field::Error => error
                .replace(match c.scalar()? {
                    Scalar::Nil => None,
                    Scalar::Str(s) | Scalar::Keyword(s) => Some(s.to_string()),
                    _ => return None,
                })
                .is_some(),
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
        let op = fast_op("{:type :fail, :process 0, :f \"w\", :value -17, :index 3}")
            .unwrap()
            .op;
        assert_eq!((op.kind, op.f.as_str()), (OpType::Fail, "w"));
        assert_eq!(op.value, json!(-17));
        let op = fast_op("{:type :info,:process 1,:f :r,:value 0}")
            .unwrap()
            .op;
        assert_eq!((op.kind, op.value), (OpType::Info, json!(0)));
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
            "{:process 0, :typed :invoke, :f :read}",
            "{:process 0, :type :invoked, :f :read}",
            "{:process 0, :type :in, :f :read}",
            "{:process 0, :type :ok, :f :read, :value 12abc}",
            "{:process 0, :type :ok, :f :read, :value -}",
            "{:process 0, :type :ok, :f :read, :time -5}",
            "{:process 0, :type :ok, :f :read, :valu 1}",
            "{:process 0, :type :ok, :f :read, :p 1}",
        ] {
            assert!(fast_op(text).is_none(), "{text}");
        }
    }
}
