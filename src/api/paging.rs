//! Page sizes and page tokens.
//!
//! A page token is opaque to callers: 16 hex digits of a hash of the listing it belongs to (the
//! RPC and its parameters) followed by 16 hex digits of a store cursor. A token from another
//! listing, or one that was tampered with, is refused as `INVALID_ARGUMENT` instead of silently
//! paging something else.

use sha2::{Digest, Sha256};

/// Page size when the request leaves it at 0.
pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// The page size to use: the default for 0, capped at `max`.
pub fn page_size(requested: u32, max: u32) -> usize {
    let n = if requested == 0 {
        DEFAULT_PAGE_SIZE.min(max)
    } else {
        requested.min(max)
    };
    n.max(1) as usize
}

fn scope_hash(scope: &[&str]) -> u64 {
    let mut h = Sha256::new();
    for part in scope {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    let d = h.finalize();
    u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// The token for the page after `cursor` in the listing `scope`; empty when there is none.
pub fn encode(scope: &[&str], cursor: Option<u64>) -> String {
    match cursor {
        Some(c) => format!("{:016x}{:016x}", scope_hash(scope), c),
        None => String::new(),
    }
}

/// The cursor in `token` (`None` for the first page), or why the token is not one of this
/// listing's.
pub fn decode(scope: &[&str], token: &str) -> Result<Option<u64>, &'static str> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = "is not a page token of this listing";
    if token.len() != 32 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad);
    }
    let (scope_hex, cursor_hex) = token.split_at(16);
    let scope_got = u64::from_str_radix(scope_hex, 16).map_err(|_| bad)?;
    if scope_got != scope_hash(scope) {
        return Err(bad);
    }
    u64::from_str_radix(cursor_hex, 16)
        .map(Some)
        .map_err(|_| bad)
}

/// The token for the page after the key `cursor` (a customer id) in the listing `scope`.
pub fn encode_key(scope: &[&str], cursor: Option<&str>) -> String {
    match cursor {
        Some(c) => {
            let hex: String = c.bytes().map(|b| format!("{b:02x}")).collect();
            format!("{:016x}{hex}", scope_hash(scope))
        }
        None => String::new(),
    }
}

/// The key cursor in `token` (`None` for the first page), or why the token is not one of this
/// listing's.
pub fn decode_key(scope: &[&str], token: &str) -> Result<Option<String>, &'static str> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = "is not a page token of this listing";
    if token.len() < 18
        || !token.len().is_multiple_of(2)
        || !token.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(bad);
    }
    let (scope_hex, key_hex) = token.split_at(16);
    if u64::from_str_radix(scope_hex, 16).map_err(|_| bad)? != scope_hash(scope) {
        return Err(bad);
    }
    let bytes = (0..key_hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&key_hex[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| bad)?;
    String::from_utf8(bytes).map(Some).map_err(|_| bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_scope_binding() {
        let t = encode(&["history", "p", "c-1"], Some(42));
        assert_eq!(decode(&["history", "p", "c-1"], &t), Ok(Some(42)));
        assert!(decode(&["history", "p", "c-2"], &t).is_err());
        // Moving the separator between parts changes the scope too.
        assert!(decode(&["history", "pc", "-1"], &t).is_err());
        assert_eq!(decode(&["x"], ""), Ok(None));
        assert!(decode(&["x"], "zz").is_err());
        assert_eq!(encode(&["x"], None), "");
    }

    #[test]
    fn key_tokens() {
        let t = encode_key(&["p"], Some("cust-7"));
        assert_eq!(decode_key(&["p"], &t), Ok(Some("cust-7".to_owned())));
        assert!(decode_key(&["q"], &t).is_err());
        assert!(decode_key(&["p"], &t[..t.len() - 1]).is_err());
        assert_eq!(decode_key(&["p"], ""), Ok(None));
    }

    #[test]
    fn sizes() {
        assert_eq!(page_size(0, 1000), 50);
        assert_eq!(page_size(7, 1000), 7);
        assert_eq!(page_size(5000, 1000), 1000);
        assert_eq!(page_size(0, 10), 10);
    }
}
