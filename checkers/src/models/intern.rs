//! The value interner: JSON values become small integers once, before the search, so the
//! search compares and hashes integers instead of `serde_json::Value`s.
//!
//! It must never be written to during a search: interning happens while encoding.

use serde_json::Value;

use crate::fxhash::FxHashMap;

/// Maps JSON values to dense ids and back. Id [`Interner::NIL`] is always JSON `null`.
#[derive(Debug, Clone)]
pub struct Interner {
    ints: FxHashMap<i64, u32>,
    strings: FxHashMap<Box<str>, u32>,
    others: FxHashMap<String, u32>,
    values: Vec<Value>,
}

impl Default for Interner {
    fn default() -> Self {
        Interner {
            ints: FxHashMap::default(),
            strings: FxHashMap::default(),
            others: FxHashMap::default(),
            values: vec![Value::Null],
        }
    }
}

impl Interner {
    /// The id of JSON `null` (an absent value).
    pub const NIL: u32 = 0;

    /// An interner with room for about `n` strings before its tables grow.
    pub(crate) fn with_capacity(n: usize) -> Self {
        let mut interner = Interner::default();
        interner.strings.reserve(n);
        interner.values.reserve(n);
        interner
    }

    /// The id of `value`, assigning the next one if it is new. Integers and strings are
    /// distinct (`1` is not `"1"`); other values are compared by their JSON text.
    pub fn intern(&mut self, value: &Value) -> u32 {
        let next = self.values.len() as u32;
        let id = match value {
            Value::Null => return Self::NIL,
            Value::Number(n) if n.is_i64() => {
                let i = n.as_i64().unwrap_or_default();
                *self.ints.entry(i).or_insert(next)
            }
            Value::String(s) => {
                if let Some(&id) = self.strings.get(s.as_str()) {
                    return id;
                }
                self.strings.insert(s.as_str().into(), next);
                next
            }
            other => *self.others.entry(other.to_string()).or_insert(next),
        };
        if id == next {
            self.values.push(value.clone());
        }
        id
    }

    /// The id of `value` if it was interned, without interning it.
    pub fn get(&self, value: &Value) -> Option<u32> {
        match value {
            Value::Null => Some(Self::NIL),
            Value::Number(n) if n.is_i64() => self.ints.get(&n.as_i64()?).copied(),
            Value::String(s) => self.strings.get(s.as_str()).copied(),
            other => self.others.get(&other.to_string()).copied(),
        }
    }

    /// The value an id stands for.
    pub fn value(&self, id: u32) -> &Value {
        self.values.get(id as usize).unwrap_or(&Value::Null)
    }

    /// The value as compact text for messages: `nil` for null.
    pub fn describe(&self, id: u32) -> String {
        super::compact(self.value(id))
    }

    /// How many distinct values were interned, `null` included.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether only `null` is known.
    pub fn is_empty(&self) -> bool {
        self.values.len() == 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_are_stable_and_typed() {
        let mut i = Interner::default();
        let a = i.intern(&json!(1));
        let b = i.intern(&json!("1"));
        let c = i.intern(&json!([1, 2]));
        assert_ne!(a, b);
        assert_eq!(i.intern(&json!(1)), a);
        assert_eq!(i.intern(&json!([1, 2])), c);
        assert_eq!(i.intern(&Value::Null), Interner::NIL);
        assert_eq!(i.value(b), &json!("1"));
        assert_eq!(i.get(&json!(2)), None);
        assert_eq!(i.describe(Interner::NIL), "nil");
    }
}
