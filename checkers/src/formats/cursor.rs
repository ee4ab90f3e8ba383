//! A cursor over the bytes of a binary history file (dbcop's bincode, Cobra's logs): fixed
//! width integers in either byte order, bools, and length-prefixed strings and sequences.
//!
//! Every read that runs past the end, or a length larger than what is left, is an error
//! naming the file and the byte offset where the value starts. This module must never
//! panic or allocate from a length it has not checked against the bytes left.

use std::path::Path;

use crate::history::HistoryError;

/// A position in a file's bytes.
pub(crate) struct Cursor<'b> {
    bytes: &'b [u8],
    at: usize,
    path: &'b Path,
}

impl<'b> Cursor<'b> {
    pub(crate) fn new(bytes: &'b [u8], path: &'b Path) -> Self {
        Cursor { bytes, at: 0, path }
    }

    /// The offset of the next byte.
    pub(crate) fn offset(&self) -> usize {
        self.at
    }

    /// How many bytes are left.
    pub(crate) fn left(&self) -> usize {
        self.bytes.len() - self.at
    }

    /// An error at `offset`.
    pub(crate) fn error_at(&self, offset: usize, message: impl Into<String>) -> HistoryError {
        HistoryError::Binary {
            path: self.path.to_path_buf(),
            offset: offset as u64,
            message: message.into(),
        }
    }

    /// The next `n` bytes of `what`, or an error saying the file ends inside it.
    pub(crate) fn take(&mut self, n: usize, what: &str) -> Result<&'b [u8], HistoryError> {
        if self.left() < n {
            return Err(self.error_at(
                self.at,
                format!(
                    "the file ends inside {what}: it needs {n} bytes, {} are left (truncated \
                     file?)",
                    self.left()
                ),
            ));
        }
        let taken = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(taken)
    }

    fn eight(&mut self, what: &str) -> Result<[u8; 8], HistoryError> {
        let mut out = [0u8; 8];
        out.copy_from_slice(self.take(8, what)?);
        Ok(out)
    }

    /// A little-endian `u64` (bincode v1's integers, lengths and `usize`s).
    pub(crate) fn u64_le(&mut self, what: &str) -> Result<u64, HistoryError> {
        Ok(u64::from_le_bytes(self.eight(what)?))
    }

    /// A big-endian `i64` as Java's `DataOutputStream.writeLong` writes it, as its bits.
    pub(crate) fn u64_be(&mut self, what: &str) -> Result<u64, HistoryError> {
        Ok(u64::from_be_bytes(self.eight(what)?))
    }

    /// One byte.
    pub(crate) fn byte(&mut self, what: &str) -> Result<u8, HistoryError> {
        Ok(self.take(1, what)?[0])
    }

    /// A bincode bool: one byte, 0 or 1.
    pub(crate) fn bool(&mut self, what: &str) -> Result<bool, HistoryError> {
        let at = self.at;
        match self.byte(what)? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(self.error_at(
                at,
                format!("{what} is a bool, 0 or 1, but the byte is {other}"),
            )),
        }
    }

    /// A bincode length of a sequence whose elements take at least `min_size` bytes each,
    /// checked against the bytes left.
    pub(crate) fn len(&mut self, what: &str, min_size: usize) -> Result<usize, HistoryError> {
        let at = self.at;
        let n = self.u64_le(what)?;
        let fits = usize::try_from(n)
            .ok()
            .filter(|&n| n.saturating_mul(min_size.max(1)) <= self.left());
        fits.ok_or_else(|| {
            self.error_at(
                at,
                format!(
                    "{what} says {n} elements of at least {} bytes, but only {} bytes are \
                     left (truncated or not a bincode file?)",
                    min_size.max(1),
                    self.left()
                ),
            )
        })
    }

    /// A bincode string: a `u64` length and UTF-8 bytes.
    pub(crate) fn string(&mut self, what: &str) -> Result<&'b str, HistoryError> {
        let n = self.len(what, 1)?;
        let at = self.at;
        let bytes = self.take(n, what)?;
        std::str::from_utf8(bytes)
            .map_err(|_| self.error_at(at, format!("{what} is not UTF-8 text")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_refuses_cleanly() {
        let path = Path::new("f");
        let mut bytes = 3u64.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"abc\x01\x07");
        let mut c = Cursor::new(&bytes, path);
        assert_eq!(c.string("the info").unwrap(), "abc");
        assert!(c.bool("a flag").unwrap());
        let e = c.bool("a flag").unwrap_err().to_string();
        assert_eq!(e, "f: byte 12: a flag is a bool, 0 or 1, but the byte is 7");
        let e = c.u64_le("a length").unwrap_err().to_string();
        assert!(
            e.starts_with("f: byte 13: the file ends inside a length"),
            "{e}"
        );
        let huge = u64::MAX.to_le_bytes();
        let e = Cursor::new(&huge, path).len("the sessions", 8);
        assert!(e
            .unwrap_err()
            .to_string()
            .starts_with("f: byte 0: the sessions says"));
    }
}
