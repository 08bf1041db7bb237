//! Page sizes and page tokens.
//!
//! A page token is opaque to callers and cannot be edited: it is the store cursor of the next
//! page followed by an HMAC-SHA-256 tag over the listing it belongs to (the RPC and its
//! parameters: portfolio, customer, run, filters) and the cursor, in hex. The key is a secret
//! kept in the store, so tokens survive a restart and every replica on one store accepts the
//! others' tokens. A token from another listing, or one with a single bit changed, is refused
//! as `INVALID_ARGUMENT` instead of silently paging something else.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tonic::Status;

use super::error::invalid;

/// Page size when the request leaves it at 0.
pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// Bytes of the tag kept in a token: 128 bits, far beyond guessing.
const TAG_BYTES: usize = 16;

/// Longest cursor a token carries (a customer id is at most 128 bytes).
const MAX_CURSOR: usize = 256;

/// The page size to use: the default for 0, capped at `max`.
pub fn page_size(requested: u32, max: u32) -> usize {
    let n = if requested == 0 {
        DEFAULT_PAGE_SIZE.min(max)
    } else {
        requested.min(max)
    };
    n.max(1) as usize
}

/// Signs and checks page tokens with one key.
#[derive(Clone)]
pub struct PageTokens {
    key: [u8; 32],
}

impl std::fmt::Debug for PageTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageTokens(..)")
    }
}

const BAD: &str = "is not a page token of this listing";

impl PageTokens {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    fn tag(&self, scope: &[&str], cursor: &[u8]) -> [u8; TAG_BYTES] {
        // Any key length is valid for HMAC.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        for part in scope {
            // Length-prefixed, so that moving a boundary between parts changes the tag.
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.update(cursor);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_BYTES];
        tag.copy_from_slice(&full[..TAG_BYTES]);
        tag
    }

    /// The token of the page after `cursor` in the listing `scope`; empty when there is none.
    pub fn encode_bytes(&self, scope: &[&str], cursor: Option<&[u8]>) -> String {
        match cursor {
            Some(c) => {
                let mut raw = c.to_vec();
                raw.extend_from_slice(&self.tag(scope, c));
                hex::encode(raw)
            }
            None => String::new(),
        }
    }

    /// The cursor in `token` (`None` for the first page, an empty token), or INVALID_ARGUMENT
    /// of the field `page_token` for a token this listing did not issue.
    pub fn decode_bytes(&self, scope: &[&str], token: &str) -> Result<Option<Vec<u8>>, Status> {
        if token.is_empty() {
            return Ok(None);
        }
        let bad = || invalid("page_token", BAD);
        if token.len() > 2 * (MAX_CURSOR + TAG_BYTES) {
            return Err(bad());
        }
        let raw = hex::decode(token).map_err(|_| bad())?;
        if raw.len() < TAG_BYTES {
            return Err(bad());
        }
        let (cursor, tag) = raw.split_at(raw.len() - TAG_BYTES);
        let expected = self.tag(scope, cursor);
        // Constant time: the comparison must not tell a forger how much of a tag was right.
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], tag)) {
            return Err(bad());
        }
        Ok(Some(cursor.to_vec()))
    }

    /// [`PageTokens::encode_bytes`] for a numeric cursor (a time, a rank, an offset).
    pub fn encode(&self, scope: &[&str], cursor: Option<u64>) -> String {
        self.encode_bytes(scope, cursor.map(u64::to_be_bytes).as_ref().map(|b| &b[..]))
    }

    /// [`PageTokens::decode_bytes`] for a numeric cursor.
    pub fn decode(&self, scope: &[&str], token: &str) -> Result<Option<u64>, Status> {
        match self.decode_bytes(scope, token)? {
            None => Ok(None),
            Some(b) => <[u8; 8]>::try_from(b.as_slice())
                .map(|b| Some(u64::from_be_bytes(b)))
                .map_err(|_| invalid("page_token", BAD)),
        }
    }

    /// [`PageTokens::encode_bytes`] for a text cursor (a customer id).
    pub fn encode_key(&self, scope: &[&str], cursor: Option<&str>) -> String {
        self.encode_bytes(scope, cursor.map(str::as_bytes))
    }

    /// [`PageTokens::decode_bytes`] for a text cursor.
    pub fn decode_key(&self, scope: &[&str], token: &str) -> Result<Option<String>, Status> {
        match self.decode_bytes(scope, token)? {
            None => Ok(None),
            Some(b) => String::from_utf8(b)
                .map(Some)
                .map_err(|_| invalid("page_token", BAD)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tokens() -> PageTokens {
        PageTokens::new([7; 32])
    }

    #[test]
    fn round_trip_and_scope_binding() {
        let t = tokens().encode(&["history", "p", "c-1"], Some(42));
        assert_eq!(
            tokens().decode(&["history", "p", "c-1"], &t).unwrap(),
            Some(42)
        );
        assert!(tokens().decode(&["history", "p", "c-2"], &t).is_err());
        // Moving the boundary between parts changes the scope too.
        assert!(tokens().decode(&["history", "pc", "-1"], &t).is_err());
        assert_eq!(tokens().decode(&["x"], "").unwrap(), None);
        assert!(tokens().decode(&["x"], "zz").is_err());
        assert_eq!(tokens().encode(&["x"], None), "");
        // Another key (another store) does not accept it.
        assert!(PageTokens::new([8; 32])
            .decode(&["history", "p", "c-1"], &t)
            .is_err());
    }

    #[test]
    fn key_tokens() {
        let t = tokens().encode_key(&["p"], Some("cust-7"));
        assert_eq!(
            tokens().decode_key(&["p"], &t).unwrap(),
            Some("cust-7".to_owned())
        );
        assert!(tokens().decode_key(&["q"], &t).is_err());
        assert!(tokens().decode_key(&["p"], &t[..t.len() - 1]).is_err());
        assert_eq!(tokens().decode_key(&["p"], "").unwrap(), None);
    }

    #[test]
    fn an_edited_offset_is_refused() {
        let t = tokens().encode(&["CompareTierRuns", "a", "b"], Some(100));
        // The cursor is the first 16 hex digits: point it elsewhere.
        let edited = format!("{:016x}{}", 5u64, &t[16..]);
        let err = tokens()
            .decode(&["CompareTierRuns", "a", "b"], &edited)
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
    }

    #[test]
    fn sizes() {
        assert_eq!(page_size(0, 1000), 50);
        assert_eq!(page_size(7, 1000), 7);
        assert_eq!(page_size(5000, 1000), 1000);
        assert_eq!(page_size(0, 10), 10);
    }

    proptest! {
        /// Flipping any one bit of a token makes it invalid.
        #[test]
        fn any_bit_flip_is_refused(cursor in any::<u64>(), bit in 0usize..(8 * 24)) {
            let t = tokens().encode(&["s"], Some(cursor));
            let mut raw = hex::decode(&t).unwrap();
            raw[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(tokens().decode(&["s"], &hex::encode(raw)).is_err());
        }
    }
}
