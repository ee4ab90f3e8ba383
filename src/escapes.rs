//! Text that writes some bytes as an escape character and a fixed number of digits: the
//! kernel's mountinfo (`\040`, octal) and URL paths (`%20`, hex).

/// `text` with each `escape` followed by `digits` digits in `radix` replaced by the byte
/// they write; an escape without such digits after it stays as it is.
pub fn unescape(text: &str, escape: u8, digits: usize, radix: u32) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == escape && i + 1 + digits <= bytes.len() {
            if let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 1 + digits], radix) {
                out.push(byte);
                i += 1 + digits;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_with_their_digits_are_bytes_and_the_rest_stays() {
        assert_eq!(unescape("a%20b%2", b'%', 2, 16), "a b%2");
        assert_eq!(unescape("%zz%", b'%', 2, 16), "%zz%");
        assert_eq!(unescape(r"\134\04", b'\\', 3, 8), r"\\04");
    }
}
