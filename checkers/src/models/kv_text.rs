//! The kv model's strings as the search holds them: a persistent rope of appended pieces
//! that knows its length and a hash of its whole text, so that appending is O(1) (one
//! small node, no copy of the string so far), hashing is O(1), and two strings are almost
//! always told apart, or found identical by pointer, without reading their text.
//!
//! Equality is exact: equal lengths and hashes are only a filter, confirmed by comparing
//! the text piece by piece. This file must never compare strings by hash alone.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The base of the polynomial hash (odd, so multiplying by it loses nothing mod 2^64).
const BASE: u64 = 0x100_0000_01b3;

/// A string built by appends, shared between the states that extend it.
#[derive(Clone)]
pub struct KvText(Arc<Node>);

struct Node {
    /// The string this one extends (`None`: `tail` is the whole string).
    parent: Option<KvText>,
    tail: Tail,
    len: usize,
    /// Σ byte·BASE^(position from the end), mod 2^64, over the whole string.
    hash: u64,
    /// BASE^len mod 2^64, to append this string's hash to another's.
    pow: u64,
}

/// The text a node adds: short pieces (most appended values) live in the node itself, so
/// a string given whole costs one allocation.
#[derive(Clone)]
enum Tail {
    Inline { len: u8, bytes: [u8; INLINE] },
    Shared(Arc<str>),
}

const INLINE: usize = 22;

impl Tail {
    fn new(text: &str) -> Tail {
        if text.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            Tail::Inline {
                len: text.len() as u8,
                bytes,
            }
        } else {
            Tail::Shared(text.into())
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Tail::Inline { len, bytes } => &bytes[..*len as usize],
            Tail::Shared(text) => text.as_bytes(),
        }
    }
}

/// BASE^0 ..= BASE^8.
const POWERS: [u64; 9] = {
    let mut p = [1u64; 9];
    let mut i = 1;
    while i < 9 {
        p[i] = p[i - 1].wrapping_mul(BASE);
        i += 1;
    }
    p
};

/// The polynomial hash of `bytes` and BASE^len, eight bytes a step: the eight products
/// are independent, so only one multiply per word is on the critical path.
fn hash_of(bytes: &[u8]) -> (u64, u64) {
    let mut hash = 0u64;
    let mut pow = 1u64;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut word = 0u64;
        for (i, &b) in w.iter().enumerate() {
            word = word.wrapping_add(u64::from(b).wrapping_mul(POWERS[7 - i]));
        }
        hash = hash.wrapping_mul(POWERS[8]).wrapping_add(word);
        pow = pow.wrapping_mul(POWERS[8]);
    }
    for &b in words.remainder() {
        hash = hash.wrapping_mul(BASE).wrapping_add(u64::from(b));
        pow = pow.wrapping_mul(BASE);
    }
    (hash, pow)
}

impl KvText {
    /// A string given whole.
    pub(crate) fn new(text: &str) -> KvText {
        let (hash, pow) = hash_of(text.as_bytes());
        KvText(Arc::new(Node {
            parent: None,
            tail: Tail::new(text),
            len: text.len(),
            hash,
            pow,
        }))
    }

    /// This string followed by `piece`.
    pub(crate) fn append(&self, piece: &KvText) -> KvText {
        if piece.0.len == 0 {
            return self.clone();
        }
        if self.0.len == 0 {
            return piece.clone();
        }
        let (a, b) = (&*self.0, &*piece.0);
        // A piece is a whole string (an input), so its text is its tail.
        debug_assert!(b.parent.is_none());
        KvText(Arc::new(Node {
            parent: Some(self.clone()),
            tail: b.tail.clone(),
            len: a.len + b.len,
            hash: a.hash.wrapping_mul(b.pow).wrapping_add(b.hash),
            pow: a.pow.wrapping_mul(b.pow),
        }))
    }

    /// The nodes from the last piece back to the first.
    fn nodes(&self) -> impl Iterator<Item = &Node> {
        std::iter::successors(Some(&*self.0), |n| n.parent.as_ref().map(|p| &*p.0))
    }

    /// The whole string.
    pub(crate) fn text(&self) -> String {
        let pieces: Vec<&[u8]> = self.nodes().map(|n| n.tail.as_bytes()).collect();
        let mut s = Vec::with_capacity(self.0.len);
        for piece in pieces.iter().rev() {
            s.extend_from_slice(piece);
        }
        // Pieces are whole strings, so their concatenation is UTF-8.
        String::from_utf8_lossy(&s).into_owned()
    }

    /// Compare the texts of two strings of equal length, piece by piece from the end.
    fn same_text(&self, other: &KvText) -> bool {
        let mut a = self.nodes();
        let mut b = other.nodes();
        let (mut na, mut nb) = (a.next(), b.next());
        // The parts of the current pieces not compared yet.
        let (mut ra, mut rb): (&[u8], &[u8]) = (
            na.map_or(&[], |n| n.tail.as_bytes()),
            nb.map_or(&[], |n| n.tail.as_bytes()),
        );
        loop {
            if let (Some(x), Some(y)) = (na, nb) {
                // Both at the end of a whole node: the same node means the same rest.
                if ra.len() == x.tail.as_bytes().len()
                    && rb.len() == y.tail.as_bytes().len()
                    && std::ptr::eq(x, y)
                {
                    return true;
                }
            }
            if ra.is_empty() {
                na = a.next();
                match na {
                    Some(n) => ra = n.tail.as_bytes(),
                    None => return rb.is_empty() && b.all(|n| n.tail.as_bytes().is_empty()),
                }
                continue;
            }
            if rb.is_empty() {
                nb = b.next();
                match nb {
                    Some(n) => rb = n.tail.as_bytes(),
                    None => return false,
                }
                continue;
            }
            let k = ra.len().min(rb.len());
            if ra[ra.len() - k..] != rb[rb.len() - k..] {
                return false;
            }
            ra = &ra[..ra.len() - k];
            rb = &rb[..rb.len() - k];
        }
    }
}

impl PartialEq for KvText {
    fn eq(&self, other: &KvText) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || (self.0.len == other.0.len && self.0.hash == other.0.hash && self.same_text(other))
    }
}

impl Eq for KvText {}

impl Hash for KvText {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0.hash);
    }
}

impl fmt::Debug for KvText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.text())
    }
}

impl Drop for Node {
    /// Unlink the chain iteratively: a string of a million appends would otherwise be
    /// dropped by a million nested calls.
    fn drop(&mut self) {
        let mut parent = self.parent.take();
        while let Some(KvText(node)) = parent {
            parent = match Arc::into_inner(node) {
                Some(mut node) => node.parent.take(),
                None => None,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(pieces: &[&str]) -> KvText {
        pieces
            .iter()
            .fold(KvText::new(""), |s, p| s.append(&KvText::new(p)))
    }

    #[test]
    fn equal_texts_are_equal_however_they_were_built() {
        let a = build(&["ab", "c", "", "def"]);
        let b = build(&["a", "bcd", "ef"]);
        assert_eq!(a, b);
        assert_eq!(a, KvText::new("abcdef"));
        assert_eq!(a.text(), "abcdef");
        assert_ne!(a, build(&["ab", "c", "deg"]));
        assert_ne!(a, build(&["abcde"]));
        let long = "a piece longer than the inline limit of a node";
        assert_eq!(build(&[long, long]).text(), format!("{long}{long}"));
        assert_eq!(build(&[long, long]), KvText::new(&format!("{long}{long}")));
        assert_ne!(build(&["x", "y"]), build(&["y", "x"]));
        let shared = build(&["one ", "two "]);
        assert_eq!(
            shared.append(&KvText::new("three")),
            shared.append(&KvText::new("three"))
        );
        assert_eq!(KvText::new(""), build(&[]));
    }

    #[test]
    fn the_word_at_a_time_hash_is_the_polynomial_hash() {
        let text = b"abcdefghijklmnopqrstuvwxyz";
        let slow = text.iter().fold((0u64, 1u64), |(h, p), &b| {
            (
                h.wrapping_mul(BASE).wrapping_add(u64::from(b)),
                p.wrapping_mul(BASE),
            )
        });
        assert_eq!(hash_of(text), slow);
    }

    #[test]
    fn a_long_chain_drops_without_deep_recursion() {
        let piece = KvText::new("x");
        let mut s = KvText::new("");
        for _ in 0..1_000_000 {
            s = s.append(&piece);
        }
        assert_eq!(s.0.len, 1_000_000);
        drop(s);
    }
}
