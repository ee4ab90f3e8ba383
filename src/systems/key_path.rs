//! A key as one path segment: percent-encoded, so that any key is safe in a URL path (the
//! HTTP protocol's `/kv/{key}`) and as a ZooKeeper znode name; and the byte escaping that
//! other systems' key alphabets (NATS KV) share with it.

/// Percent-encode a key for one path segment (RFC 3986 unreserved bytes stay as they are).
pub(crate) fn encode_key(key: &str) -> String {
    escape_bytes(
        key,
        |byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~'),
        |byte| format!("%{byte:02X}"),
    )
}

/// `key` with the bytes `keep` accepts as they are and every other byte written as
/// `escape` says.
pub(crate) fn escape_bytes(
    key: &str,
    keep: impl Fn(u8) -> bool,
    escape: impl Fn(u8) -> String,
) -> String {
    let mut out = String::with_capacity(key.len());
    for byte in key.bytes() {
        if keep(byte) {
            out.push(byte as char);
        } else {
            out.push_str(&escape(byte));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_bytes_are_escaped() {
        assert_eq!(encode_key("a/b c"), "a%2Fb%20c");
        assert_eq!(encode_key("k-1_x.~"), "k-1_x.~");
    }
}
