//! Blocks: many records under one sled key.
//!
//! sled is fast with a few large values and slow with a million small ones in one atomic
//! batch (measured on the development machine: one million 200-byte records in one batch take
//! over 10 s and 5 GB of memory; a thousand 200 KB values take under half a second). Bulk data —
//! a portfolio's customers after a load, the members of a tiering run — is therefore written as
//! blocks of records sorted by key, each block one sled value:
//!
//! ```text
//! u8  format (1)
//! u32 n                                  little-endian, like every integer here
//! n × { u32 key_len, key, u32 rec_len }  the header, keys ascending
//! records, concatenated in header order
//! ```
//!
//! A reader can binary-search the header for one key and decode just that record.

use std::ops::Range;

const BLOCK_FORMAT: u8 = 1;

/// Why bytes are not a block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed block: {0}")]
pub struct BlockError(&'static str);

/// Encodes `entries` (keys ascending) into one block.
pub fn encode<'a>(entries: impl ExactSizeIterator<Item = (&'a [u8], &'a [u8])> + Clone) -> Vec<u8> {
    let n = entries.len();
    let size: usize = entries.clone().map(|(k, r)| 8 + k.len() + r.len()).sum();
    let mut out = Vec::with_capacity(5 + size);
    out.push(BLOCK_FORMAT);
    out.extend_from_slice(&(n as u32).to_le_bytes());
    for (k, r) in entries.clone() {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(k);
        out.extend_from_slice(&(r.len() as u32).to_le_bytes());
    }
    for (_, r) in entries {
        out.extend_from_slice(r);
    }
    out
}

/// A parsed block header over borrowed bytes.
pub struct Block<'a> {
    bytes: &'a [u8],
    /// (key range, record range) per entry, in key order.
    entries: Vec<(Range<usize>, Range<usize>)>,
}

fn read_u32(bytes: &[u8], at: usize) -> Result<usize, BlockError> {
    let b: [u8; 4] = bytes
        .get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .ok_or(BlockError("truncated"))?;
    Ok(u32::from_le_bytes(b) as usize)
}

impl<'a> Block<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self, BlockError> {
        if bytes.first() != Some(&BLOCK_FORMAT) {
            return Err(BlockError("unknown block format"));
        }
        let n = read_u32(bytes, 1)?;
        // Each header entry takes at least 8 bytes: refuse absurd counts before allocating.
        if n > bytes.len() / 8 {
            return Err(BlockError("entry count larger than the block"));
        }
        let mut at = 5;
        let mut header = Vec::with_capacity(n);
        for _ in 0..n {
            let klen = read_u32(bytes, at)?;
            let key = at + 4..at + 4 + klen;
            let rlen = read_u32(bytes, key.end)?;
            at = key.end + 4;
            header.push((key, rlen));
        }
        let mut entries = Vec::with_capacity(n);
        for (key, rlen) in header {
            let rec = at..at + rlen;
            if rec.end > bytes.len() || key.end > bytes.len() {
                return Err(BlockError("record past the end"));
            }
            at = rec.end;
            entries.push((key, rec));
        }
        Ok(Self { bytes, entries })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn get(&self, i: usize) -> Option<(&'a [u8], &'a [u8])> {
        let (k, r) = self.entries.get(i)?;
        Some((&self.bytes[k.clone()], &self.bytes[r.clone()]))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + '_ {
        (0..self.entries.len()).filter_map(|i| self.get(i))
    }

    /// The record of `key`, by binary search.
    pub fn find(&self, key: &[u8]) -> Option<&'a [u8]> {
        let i = self
            .entries
            .binary_search_by(|(k, _)| self.bytes[k.clone()].cmp(key))
            .ok()?;
        self.get(i).map(|(_, r)| r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip_and_find() {
        let entries: Vec<(Vec<u8>, Vec<u8>)> = vec![
            (b"a".to_vec(), b"one".to_vec()),
            (b"b".to_vec(), Vec::new()),
            (b"c".to_vec(), b"three".to_vec()),
        ];
        let bytes = encode(entries.iter().map(|(k, r)| (k.as_slice(), r.as_slice())));
        let block = Block::parse(&bytes).unwrap();
        assert_eq!(block.len(), 3);
        assert_eq!(block.find(b"a"), Some(&b"one"[..]));
        assert_eq!(block.find(b"b"), Some(&b""[..]));
        assert_eq!(block.find(b"c"), Some(&b"three"[..]));
        assert_eq!(block.find(b"d"), None);
        let back: Vec<_> = block
            .iter()
            .map(|(k, r)| (k.to_vec(), r.to_vec()))
            .collect();
        assert_eq!(back, entries);
    }

    proptest! {
        #[test]
        fn parsing_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(b) = Block::parse(&bytes) {
                for (k, r) in b.iter() {
                    prop_assert!(k.len() + r.len() <= bytes.len());
                    let _ = b.find(k);
                }
            }
        }
    }
}
