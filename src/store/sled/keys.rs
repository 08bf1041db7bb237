//! The sled layout: the key of every record the store writes.
//!
//! One sled tree holds everything, so that a single atomic [`sled::Batch`] can cover every
//! record a write touches. Keys start with a one-byte record kind; identifiers never contain
//! `0x00` (see [`crate::domain::id`]), so it separates the parts of a key:
//!
//! | key | value |
//! |---|---|
//! | `M` `format_version` | the layout version, decimal ASCII (see [`super::upgrade`]) |
//! | `M` `page_token_key` | the secret that signs page tokens: 32 random bytes, written once |
//! | `H` portfolio | the portfolio's base manifest (JSON: layer, blocks, customers) |
//! | `B` portfolio `0` layer (u64 BE) `0` block (u32 BE) | a [block](super::block) of customers ([binary](super::codec)) sorted by id |
//! | `X` portfolio `0` layer (u64 BE) `0` first id of a block | the block number (u32 BE) |
//! | `O` portfolio `0` customer | a customer upserted since the base was written ([binary](super::codec)) |
//! | `V` portfolio `0` customer `0` nanos (u64 BE) | a value snapshot (JSON), append-only |
//! | `R` run id | a tiering run (JSON) |
//! | `P` portfolio `0` nanos (u64 BE) | run id: the portfolio's runs in time order |
//! | `T` portfolio `0` scheme | run id of the portfolio's latest run of that scheme |
//! | `K` run id `0` block (u32 BE) | a block of members ([binary](super::codec)) keyed by rank (u64 BE) |
//! | `Y` run id `0` first customer of a block | a block of (customer, rank u64 BE), by customer |
//! | `F` model id | a fitted value model (JSON) |
//! | `G` portfolio | id of the portfolio's latest model |
//! | `L` portfolio `0` customer | format 1 only: a copy of the latest value, dropped by the upgrade |
//!
//! Value keys order by customer then time, so a customer's history is one range scan, read
//! backwards for newest first, and the latest value is the last key of that range. The
//! separator after the customer keeps `c1`'s history apart from `c10`'s.
//!
//! The page-token key was added within format 2: older builds never read it, so it needs no
//! new version.

use crate::domain::id::{CustomerId, PortfolioName};

/// Separates the parts of a key.
pub(super) const SEP: u8 = 0;

/// The layout version (see [`super::upgrade`]).
pub(super) const FORMAT_KEY: &[u8] = b"Mformat_version";

/// The page-token secret (see [`super::page_token`]).
pub(super) const PAGE_TOKEN_KEY: &[u8] = b"Mpage_token_key";

/// Format 1's copies of the latest values, all under this kind.
pub(super) const FORMAT_1_LATEST_KIND: &[u8] = b"L";

/// `kind` followed by `parts`, separated by [`SEP`].
pub(super) fn key(kind: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + parts.iter().map(|p| p.len() + 1).sum::<usize>());
    k.push(kind);
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            k.push(SEP);
        }
        k.extend_from_slice(p);
    }
    k
}

/// `H` portfolio: where the portfolio's base is.
pub(super) fn manifest_key(p: &PortfolioName) -> Vec<u8> {
    key(b'H', &[p.as_str().as_bytes()])
}

/// `kind` portfolio 0 layer 0: the prefix of a base layer's blocks (`B`) or index (`X`).
pub(super) fn layer_prefix(kind: u8, p: &PortfolioName, layer: u64) -> Vec<u8> {
    let mut k = key(kind, &[p.as_str().as_bytes(), &layer.to_be_bytes()]);
    k.push(SEP);
    k
}

/// `O` portfolio 0 customer: one customer upserted since the base was written.
pub(super) fn overlay_key(p: &PortfolioName, id: &[u8]) -> Vec<u8> {
    key(b'O', &[p.as_str().as_bytes(), id])
}

/// `O` portfolio 0: the prefix of a portfolio's overlay; the customer id follows it.
pub(super) fn overlay_prefix(p: &PortfolioName) -> Vec<u8> {
    key(b'O', &[p.as_str().as_bytes(), b""])
}

/// `V` portfolio 0 customer 0: the prefix of one customer's history; the time follows it.
pub(super) fn history_prefix(p: &PortfolioName, id: &CustomerId) -> Vec<u8> {
    let mut k = key(b'V', &[p.as_str().as_bytes(), id.as_str().as_bytes()]);
    k.push(SEP);
    k
}

/// `R` run id: the run itself.
pub(super) fn run_key(run_id: &str) -> Vec<u8> {
    key(b'R', &[run_id.as_bytes()])
}

/// `P` portfolio 0: the prefix of a portfolio's runs in time order.
pub(super) fn run_list_prefix(p: &PortfolioName) -> Vec<u8> {
    key(b'P', &[p.as_str().as_bytes(), b""])
}

/// `P` portfolio 0 nanos: one entry of the portfolio's runs in time order.
pub(super) fn run_list_key(p: &PortfolioName, nanos: u64) -> Vec<u8> {
    let mut k = run_list_prefix(p);
    k.extend_from_slice(&nanos.to_be_bytes());
    k
}

/// `T` portfolio 0 scheme: the pointer to the latest run of a scheme.
pub(super) fn latest_run_key(p: &PortfolioName, scheme: &str) -> Vec<u8> {
    key(b'T', &[p.as_str().as_bytes(), scheme.as_bytes()])
}

/// `K` run id 0 block: members by rank.
pub(super) fn member_block_key(run_id: &str, block: u64) -> Vec<u8> {
    let mut k = key(b'K', &[run_id.as_bytes(), b""]);
    k.extend_from_slice(&(block as u32).to_be_bytes());
    k
}

/// `Y` run id 0 first customer: a block of ranks by customer.
pub(super) fn member_index_key(run_id: &str, first_customer: &[u8]) -> Vec<u8> {
    key(b'Y', &[run_id.as_bytes(), first_customer])
}

/// `F` model id: the model itself.
pub(super) fn model_key(model_id: &[u8]) -> Vec<u8> {
    key(b'F', &[model_id])
}

/// `G` portfolio: the pointer to the portfolio's latest model.
pub(super) fn latest_model_key(p: &PortfolioName) -> Vec<u8> {
    key(b'G', &[p.as_str().as_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout is a storage format: these bytes are what existing data directories hold.
    #[test]
    fn every_key_has_the_bytes_of_the_layout_table() {
        let p = PortfolioName::parse("p1").unwrap();
        let c = CustomerId::parse("c1").unwrap();
        assert_eq!(FORMAT_KEY, b"Mformat_version");
        assert_eq!(PAGE_TOKEN_KEY, b"Mpage_token_key");
        assert_eq!(manifest_key(&p), b"Hp1");
        assert_eq!(
            layer_prefix(b'B', &p, 2),
            b"Bp1\0\0\0\0\0\0\0\0\x02\0".to_vec()
        );
        assert_eq!(
            layer_prefix(b'X', &p, 258),
            b"Xp1\0\0\0\0\0\0\0\x01\x02\0".to_vec()
        );
        assert_eq!(overlay_key(&p, b"c1"), b"Op1\0c1");
        assert_eq!(overlay_prefix(&p), b"Op1\0");
        assert_eq!(history_prefix(&p, &c), b"Vp1\0c1\0");
        assert_eq!(run_key("r00ff"), b"Rr00ff");
        assert_eq!(run_list_prefix(&p), b"Pp1\0");
        assert_eq!(
            run_list_key(&p, 0x0102_0304_0506_0708),
            b"Pp1\0\x01\x02\x03\x04\x05\x06\x07\x08".to_vec()
        );
        assert_eq!(latest_run_key(&p, "curry"), b"Tp1\0curry");
        assert_eq!(member_block_key("r1", 3), b"Kr1\0\0\0\0\x03".to_vec());
        assert_eq!(member_index_key("r1", b"c1"), b"Yr1\0c1");
        assert_eq!(model_key(b"m1"), b"Fm1");
        assert_eq!(latest_model_key(&p), b"Gp1");
    }
}
