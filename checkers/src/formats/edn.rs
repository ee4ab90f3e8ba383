//! A small byte-level EDN reader: just enough of Clojure's data notation to read the
//! histories Jepsen, Knossos and kv logs write, borrowing from the input text wherever it
//! can (a string with no escapes, a keyword, a symbol) so that reading costs no allocation
//! per character.
//!
//! Supported: `nil`, `true`/`false`, integers (with an optional `N`), floats (with an
//! optional `M`), strings with escapes, characters (`\a`, `\newline`), keywords, symbols,
//! lists, vectors, maps, sets, `;` and `#!` comments, commas as whitespace, `#_` discards,
//! and tagged literals (`#inst "..."`, `#jepsen.history.Op{...}`), whose tag is dropped.
//!
//! This module must never panic on any input, and never recurse without bound: nesting is
//! capped at [`MAX_DEPTH`]. It knows nothing about ops; `ops.rs` gives the values meaning.

use std::borrow::Cow;

use serde_json::{Map, Number, Value};

/// Deepest nesting of collections accepted, so that hostile input cannot overflow the stack.
pub(crate) const MAX_DEPTH: usize = 256;

/// One EDN value, borrowing from the text it was read from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Edn<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    /// An integer too large for `i64` but not for `u64`.
    UInt(u64),
    Float(f64),
    Str(Cow<'a, str>),
    /// A keyword without its leading colon.
    Keyword(&'a str),
    Symbol(&'a str),
    /// A list, vector or set: all become JSON arrays.
    Seq(Vec<Edn<'a>>),
    Map(Vec<(Edn<'a>, Edn<'a>)>),
}

impl<'a> Edn<'a> {
    /// A short description for error messages: `:bogus`, `a string`, `a vector`, ...
    pub(crate) fn describe(&self) -> String {
        match self {
            Edn::Nil => "nil".to_string(),
            Edn::Bool(b) => b.to_string(),
            Edn::Int(i) => i.to_string(),
            Edn::UInt(u) => u.to_string(),
            Edn::Float(f) => f.to_string(),
            Edn::Str(s) if s.len() <= 40 => format!("the string {s:?}"),
            Edn::Str(_) => "a string".to_string(),
            Edn::Keyword(k) => format!(":{k}"),
            Edn::Symbol(s) => format!("the symbol {s}"),
            Edn::Seq(_) => "a list or vector".to_string(),
            Edn::Map(_) => "a map".to_string(),
        }
    }

    /// Convert to JSON: keywords and symbols become strings without the colon, lists,
    /// vectors and sets become arrays, map keys become strings.
    pub(crate) fn into_json(self) -> Value {
        match self {
            Edn::Nil => Value::Null,
            Edn::Bool(b) => Value::Bool(b),
            Edn::Int(i) => Value::from(i),
            Edn::UInt(u) => Value::from(u),
            // Non-finite floats only come from `##Inf`-style symbols, which are read as
            // symbols; a finite f64 always converts.
            Edn::Float(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
            Edn::Str(s) => Value::String(s.into_owned()),
            Edn::Keyword(k) | Edn::Symbol(k) => Value::String(k.to_string()),
            Edn::Seq(items) => Value::Array(items.into_iter().map(Edn::into_json).collect()),
            Edn::Map(entries) => {
                let mut map = Map::with_capacity(entries.len());
                for (k, v) in entries {
                    let key = match k {
                        Edn::Str(s) => s.into_owned(),
                        Edn::Keyword(k) | Edn::Symbol(k) => k.to_string(),
                        other => other.into_json().to_string(),
                    };
                    map.insert(key, v.into_json());
                }
                Value::Object(map)
            }
        }
    }
}

/// A read error: the 1-based line it concerns and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EdnError {
    pub(crate) line: usize,
    pub(crate) message: String,
    /// Whether the input ended inside a value (a truncated file).
    pub(crate) truncated: bool,
}

/// A cursor over EDN text that tracks the current line.
pub(crate) struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: usize,
}

fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t' | b'\n' | b'\r' | b',' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'"' | b';'
    )
}

fn closing_name(close: u8) -> &'static str {
    match close {
        b')' => "list",
        b']' => "vector",
        _ => "map or set",
    }
}

impl<'a> Reader<'a> {
    /// A reader over `text`, whose first line is line `first_line` of the file.
    pub(crate) fn new(text: &'a str, first_line: usize) -> Self {
        Reader {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            line: first_line,
        }
    }

    /// The current 1-based line.
    pub(crate) fn line(&self) -> usize {
        self.line
    }

    /// The text not yet read.
    pub(crate) fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or("")
    }

    /// The next byte, if any, without consuming it.
    pub(crate) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Consume one byte (never a newline: callers only bump past brackets).
    pub(crate) fn bump(&mut self) {
        self.pos += 1;
    }

    /// Consume `len` bytes that hold no newline (text another reader already read).
    pub(crate) fn advance(&mut self, len: usize) {
        self.pos += len;
    }

    fn err<T>(&self, line: usize, message: impl Into<String>) -> Result<T, EdnError> {
        Err(EdnError {
            line,
            message: message.into(),
            truncated: false,
        })
    }

    fn truncated<T>(&self, line: usize, message: impl Into<String>) -> Result<T, EdnError> {
        Err(EdnError {
            line,
            message: message.into(),
            truncated: true,
        })
    }

    /// Skip whitespace, commas and comments.
    pub(crate) fn skip_ws(&mut self) {
        while let Some(&b) = self.bytes.get(self.pos) {
            match b {
                b'\n' => {
                    self.line += 1;
                    self.pos += 1;
                }
                b' ' | b'\t' | b'\r' | b',' => self.pos += 1,
                b';' => self.skip_line(),
                b'#' if self.bytes.get(self.pos + 1) == Some(&b'!') => self.skip_line(),
                _ => return,
            }
        }
    }

    /// Skip whitespace, comments and `#_` discarded forms.
    pub(crate) fn skip(&mut self) -> Result<(), EdnError> {
        self.skip_at(0)
    }

    fn skip_at(&mut self, depth: usize) -> Result<(), EdnError> {
        loop {
            self.skip_ws();
            if self.peek() != Some(b'#') || self.bytes.get(self.pos + 1) != Some(&b'_') {
                return Ok(());
            }
            let line = self.line;
            self.pos += 2;
            self.skip_ws();
            if self.peek().is_none() {
                return self.truncated(line, "#_ is not followed by a form to discard");
            }
            self.read_at(depth + 1)?;
        }
    }

    fn skip_line(&mut self) {
        while let Some(&b) = self.bytes.get(self.pos) {
            if b == b'\n' {
                return;
            }
            self.pos += 1;
        }
    }

    /// Read one value. Call [`Reader::skip_ws`] first; at the end of the input this is an
    /// error.
    pub(crate) fn read(&mut self) -> Result<Edn<'a>, EdnError> {
        self.read_at(0)
    }

    fn read_at(&mut self, depth: usize) -> Result<Edn<'a>, EdnError> {
        if depth > MAX_DEPTH {
            return self.err(
                self.line,
                format!("values are nested more than {MAX_DEPTH} levels deep"),
            );
        }
        let Some(b) = self.peek() else {
            return self.truncated(self.line, "expected a value, found the end of the input");
        };
        match b {
            b'{' => self.read_map(depth),
            b'[' => self.read_seq(b']', depth),
            b'(' => self.read_seq(b')', depth),
            b')' | b']' | b'}' => self.err(
                self.line,
                format!(
                    "unexpected '{}': it closes a {} that was never opened",
                    b as char,
                    closing_name(b)
                ),
            ),
            b'"' => self.read_string(),
            b'\\' => self.read_char(),
            b'#' => self.read_dispatch(depth),
            b':' => {
                let start = self.pos + 1;
                let token = self.token_from(start);
                if token.is_empty() {
                    return self.err(self.line, "expected a keyword name after ':'");
                }
                Ok(Edn::Keyword(token))
            }
            b'0'..=b'9' => {
                let token = self.token_from(self.pos);
                self.number(token)
            }
            b'+' | b'-'
                if self
                    .bytes
                    .get(self.pos + 1)
                    .is_some_and(|c| c.is_ascii_digit()) =>
            {
                let token = self.token_from(self.pos);
                self.number(token)
            }
            _ => {
                let token = self.token_from(self.pos);
                match token {
                    "" => self.err(
                        self.line,
                        format!("unexpected character {:?}", self.char_at(self.pos)),
                    ),
                    "nil" => Ok(Edn::Nil),
                    "true" => Ok(Edn::Bool(true)),
                    "false" => Ok(Edn::Bool(false)),
                    s => Ok(Edn::Symbol(s)),
                }
            }
        }
    }

    fn char_at(&self, pos: usize) -> char {
        self.text
            .get(pos..)
            .and_then(|s| s.chars().next())
            .unwrap_or('?')
    }

    /// The token starting at `start` and running to the next delimiter; moves past it.
    fn token_from(&mut self, start: usize) -> &'a str {
        let mut end = start;
        while let Some(&b) = self.bytes.get(end) {
            if is_delimiter(b) {
                break;
            }
            end += 1;
        }
        self.pos = end;
        // Delimiters are ASCII, so `start..end` lies on character boundaries.
        self.text.get(start..end).unwrap_or("")
    }

    fn number(&self, token: &'a str) -> Result<Edn<'a>, EdnError> {
        let bad = || EdnError {
            line: self.line,
            message: format!("expected a number, found {token:?}"),
            truncated: false,
        };
        if let Some(int) = token.strip_suffix('N') {
            return parse_int(int).ok_or_else(bad);
        }
        if let Some(int) = parse_int(token) {
            return Ok(int);
        }
        let float = token.strip_suffix('M').unwrap_or(token);
        let valid = float
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
        match float.parse::<f64>() {
            Ok(f) if valid && f.is_finite() => Ok(Edn::Float(f)),
            _ => Err(bad()),
        }
    }

    fn read_seq(&mut self, close: u8, depth: usize) -> Result<Edn<'a>, EdnError> {
        let open_line = self.line;
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_at(depth)?;
            match self.peek() {
                None => return self.unterminated(close, open_line),
                Some(b) if b == close => {
                    self.pos += 1;
                    return Ok(Edn::Seq(items));
                }
                Some(b @ (b')' | b']' | b'}')) => return self.mismatched(b, close, open_line),
                Some(_) => items.push(self.read_at(depth + 1)?),
            }
        }
    }

    fn read_map(&mut self, depth: usize) -> Result<Edn<'a>, EdnError> {
        let mut entries = Vec::new();
        self.read_map_entries_at(depth, |k, v| entries.push((k, v)))?;
        Ok(Edn::Map(entries))
    }

    /// Read the map that starts at the current `{`, handing each entry to `visit` instead
    /// of collecting them, so that a caller that only wants a few fields allocates nothing
    /// for the map itself.
    pub(crate) fn read_map_entries(
        &mut self,
        visit: impl FnMut(Edn<'a>, Edn<'a>),
    ) -> Result<(), EdnError> {
        self.read_map_entries_at(0, visit)
    }

    fn read_map_entries_at(
        &mut self,
        depth: usize,
        mut visit: impl FnMut(Edn<'a>, Edn<'a>),
    ) -> Result<(), EdnError> {
        let open_line = self.line;
        self.pos += 1;
        loop {
            self.skip_at(depth)?;
            match self.peek() {
                None => return self.unterminated(b'}', open_line),
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b @ (b')' | b']')) => return self.mismatched(b, b'}', open_line),
                Some(_) => {
                    let key = self.read_at(depth + 1)?;
                    self.skip_at(depth)?;
                    match self.peek() {
                        None => return self.unterminated(b'}', open_line),
                        Some(b'}') => {
                            return self.err(
                                self.line,
                                format!(
                                    "map key {} has no value: a map needs an even number \
                                     of forms",
                                    key.describe()
                                ),
                            )
                        }
                        Some(_) => {}
                    }
                    let value = self.read_at(depth + 1)?;
                    visit(key, value);
                }
            }
        }
    }

    fn unterminated<T>(&self, close: u8, open_line: usize) -> Result<T, EdnError> {
        self.truncated(
            open_line,
            format!(
                "unterminated {}: the one opened on line {open_line} is never closed with \
                 '{}' (the input ends on line {}; truncated file?)",
                closing_name(close),
                close as char,
                self.line
            ),
        )
    }

    fn mismatched<T>(&self, found: u8, close: u8, open_line: usize) -> Result<T, EdnError> {
        self.err(
            self.line,
            format!(
                "expected '{}' to close the {} opened on line {open_line}, found '{}'",
                close as char,
                closing_name(close),
                found as char
            ),
        )
    }

    fn read_string(&mut self) -> Result<Edn<'a>, EdnError> {
        let open_line = self.line;
        self.pos += 1;
        let start = self.pos;
        // Fast path: no escapes, borrow the text.
        while let Some(&b) = self.bytes.get(self.pos) {
            match b {
                b'"' => {
                    let s = self.text.get(start..self.pos).unwrap_or("");
                    self.pos += 1;
                    return Ok(Edn::Str(Cow::Borrowed(s)));
                }
                b'\\' => break,
                b'\n' => {
                    self.line += 1;
                    self.pos += 1;
                }
                _ => self.pos += 1,
            }
        }
        let mut owned = String::from(self.text.get(start..self.pos).unwrap_or(""));
        loop {
            let Some(&b) = self.bytes.get(self.pos) else {
                return self.truncated(
                    open_line,
                    format!(
                        "unterminated string: the one opened on line {open_line} has no \
                         closing '\"' (truncated file?)"
                    ),
                );
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    return Ok(Edn::Str(Cow::Owned(owned)));
                }
                b'\\' => {
                    let escape = self.bytes.get(self.pos + 1).copied();
                    self.pos += 2;
                    let c = match escape {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'n') => '\n',
                        Some(b't') => '\t',
                        Some(b'r') => '\r',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'u') => {
                            let hex = self.text.get(self.pos..self.pos + 4).unwrap_or("");
                            let c = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32);
                            let Some(c) = c else {
                                return self.err(
                                    self.line,
                                    format!("expected 4 hex digits after \\u, found {hex:?}"),
                                );
                            };
                            self.pos += 4;
                            c
                        }
                        None => continue,
                        Some(_) => {
                            return self.err(
                                self.line,
                                format!(
                                    "unknown string escape \\{}; expected one of \\\" \\\\ \
                                     \\n \\t \\r \\b \\f \\uXXXX",
                                    self.char_at(self.pos - 1)
                                ),
                            )
                        }
                    };
                    owned.push(c);
                }
                _ => {
                    // Copy the run of plain bytes up to the next quote, escape or newline.
                    let run_start = self.pos;
                    while let Some(&c) = self.bytes.get(self.pos) {
                        if matches!(c, b'"' | b'\\') {
                            break;
                        }
                        if c == b'\n' {
                            self.line += 1;
                        }
                        self.pos += 1;
                    }
                    owned.push_str(self.text.get(run_start..self.pos).unwrap_or(""));
                }
            }
        }
    }

    fn read_char(&mut self) -> Result<Edn<'a>, EdnError> {
        // `\x` takes the next character even if it is a delimiter; `\newline` is a name.
        let start = self.pos + 1;
        let Some(first) = self.text.get(start..).and_then(|s| s.chars().next()) else {
            return self.err(self.line, "expected a character after '\\'");
        };
        let mut end = start + first.len_utf8();
        while let Some(&b) = self.bytes.get(end) {
            if is_delimiter(b) {
                break;
            }
            end += 1;
        }
        let name = self.text.get(start..end).unwrap_or("");
        let c = match name {
            "newline" => Some('\n'),
            "space" => Some(' '),
            "tab" => Some('\t'),
            "return" => Some('\r'),
            "formfeed" => Some('\u{c}'),
            "backspace" => Some('\u{8}'),
            _ if name.len() == first.len_utf8() => Some(first),
            _ if name.len() == 5 && name.starts_with('u') => u32::from_str_radix(&name[1..], 16)
                .ok()
                .and_then(char::from_u32),
            _ => None,
        };
        let Some(c) = c else {
            return self.err(self.line, format!("unknown character literal \\{name}"));
        };
        if first == '\n' {
            self.line += 1;
        }
        self.pos = end;
        Ok(Edn::Str(Cow::Owned(c.to_string())))
    }

    fn read_dispatch(&mut self, depth: usize) -> Result<Edn<'a>, EdnError> {
        match self.bytes.get(self.pos + 1) {
            Some(b'{') => {
                self.pos += 1;
                self.read_seq(b'}', depth)
            }
            Some(b'_') => {
                self.skip_at(depth)?;
                self.read_at(depth)
            }
            Some(b'#') => {
                // `##Inf`, `##NaN`: no JSON number can hold them; keep the name.
                let token = self.token_from(self.pos + 2);
                Ok(Edn::Symbol(token))
            }
            Some(b'"') => {
                // A regex literal: keep its source as a string.
                self.pos += 1;
                self.read_string()
            }
            Some(b) if b.is_ascii_alphabetic() => {
                // A tagged literal: `#inst "..."`, `#jepsen.history.Op{...}`. Drop the tag.
                let tag_line = self.line;
                let tag = self.token_from(self.pos + 1);
                self.skip_ws();
                if self.peek().is_none() {
                    return self.truncated(
                        tag_line,
                        format!("tag #{tag} is not followed by a value (truncated file?)"),
                    );
                }
                self.read_at(depth + 1)
            }
            _ => self.err(
                self.line,
                format!(
                    "unsupported '#' form {:?}; expected a set #{{...}}, a tagged literal \
                     #tag value or a discard #_",
                    self.text.get(self.pos..).map_or("", |s| {
                        let end = s.char_indices().nth(2).map_or(s.len(), |(i, _)| i);
                        &s[..end]
                    })
                ),
            ),
        }
    }
}

fn parse_int(token: &str) -> Option<Edn<'static>> {
    let digits = token.strip_prefix(['+', '-']).unwrap_or(token);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Ok(i) = token.parse::<i64>() {
        return Some(Edn::Int(i));
    }
    if let Ok(u) = digits.parse::<u64>() {
        if !token.starts_with('-') {
            return Some(Edn::UInt(u));
        }
    }
    token.parse::<f64>().ok().map(Edn::Float)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(text: &str) -> Result<Edn<'_>, EdnError> {
        let mut r = Reader::new(text, 1);
        r.skip()?;
        r.read()
    }

    fn json_of(text: &str) -> Value {
        read(text).unwrap().into_json()
    }

    #[test]
    fn scalars() {
        assert_eq!(read("nil").unwrap(), Edn::Nil);
        assert_eq!(read("true").unwrap(), Edn::Bool(true));
        assert_eq!(read("-12").unwrap(), Edn::Int(-12));
        assert_eq!(read("+7").unwrap(), Edn::Int(7));
        assert_eq!(read("12N").unwrap(), Edn::Int(12));
        assert_eq!(read("18446744073709551615").unwrap(), Edn::UInt(u64::MAX));
        assert_eq!(read("1.5").unwrap(), Edn::Float(1.5));
        assert_eq!(read("2.5M").unwrap(), Edn::Float(2.5));
        assert_eq!(read("1e3").unwrap(), Edn::Float(1000.0));
        assert_eq!(read(":timed-out").unwrap(), Edn::Keyword("timed-out"));
        assert_eq!(read("foo/bar").unwrap(), Edn::Symbol("foo/bar"));
        assert_eq!(read("\\a").unwrap(), Edn::Str("a".into()));
        assert_eq!(read("\\newline").unwrap(), Edn::Str("\n".into()));
    }

    #[test]
    fn strings_with_escapes() {
        assert_eq!(
            read(r#""a\"b\\c\n\u00e9""#).unwrap(),
            Edn::Str("a\"b\\c\n\u{e9}".into())
        );
        assert!(matches!(
            read(r#""plain""#).unwrap(),
            Edn::Str(Cow::Borrowed("plain"))
        ));
        let e = read(r#""bad \q""#).unwrap_err();
        assert!(e.message.contains("unknown string escape \\q"), "{e:?}");
    }

    #[test]
    fn collections_and_comments() {
        assert_eq!(
            json_of("{:a [1 2], :b (3 ; comment\n 4), :c #{5}, \"d\" nil}"),
            json!({"a": [1, 2], "b": [3, 4], "c": [5], "d": null})
        );
        assert_eq!(
            json_of("#jepsen.history.Op{:f :read}"),
            json!({"f": "read"})
        );
        assert_eq!(json_of("[#_ 1 2]"), json!([2]));
        assert_eq!(json_of("[1 #_ 2]"), json!([1]));
        assert_eq!(json_of("{:a #_ :b 1}"), json!({"a": 1}));
        assert_eq!(json_of("#inst \"2020-01-01\""), json!("2020-01-01"));
    }

    #[test]
    fn unterminated_names_the_opening_line() {
        let e = read("[1\n2\n{:a\n").unwrap_err();
        assert_eq!(e.line, 3, "{e:?}");
        assert!(e.message.contains("unterminated map"), "{e:?}");
        let e = read("\n\"abc\ndef").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("unterminated string"), "{e:?}");
    }

    #[test]
    fn mismatched_and_odd_maps_are_errors() {
        assert!(read("[1 2)").unwrap_err().message.contains("expected ']'"));
        assert!(read("{:a}").unwrap_err().message.contains("no value"));
        assert!(read(")").unwrap_err().message.contains("never opened"));
        assert!(read("1x")
            .unwrap_err()
            .message
            .contains("expected a number"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = "[".repeat(100_000);
        assert!(read(&text).unwrap_err().message.contains("nested"));
        let text = "#_".repeat(100_000);
        assert!(read(&text).is_err());
        let text = "#_1 ".repeat(100_000) + "2";
        assert_eq!(read(&text).unwrap(), Edn::Int(2));
    }
}
