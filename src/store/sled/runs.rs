//! Tiering runs: the run record, its members in blocks by rank and by customer, the
//! portfolio's runs in time order, and the pointer to the latest run of each scheme.
//!
//! A run id is its creation time in hex (`r` and 16 digits), bumped past any id taken, so ids
//! are unique and sort like creation times; the same time keys the run in its portfolio's
//! listing.

use std::sync::Arc;

use super::block::{self, Block};
use super::codec;
use super::keys::{
    latest_run_key, member_block_key, member_index_key, run_key, run_list_key, run_list_prefix,
};
use super::{corrupt, decode, encode, nanos, newest_first, SledStore};
use crate::domain::id::{CustomerId, PortfolioName};
use crate::domain::pyramid::Member;
use crate::domain::snapshot::TierRun;
use crate::store::{Page, StoreError};

/// Members per block of a run; ranks map to blocks by division.
const BLOCK_MEMBERS: u64 = 4096;

pub(super) async fn save(
    s: &SledStore,
    mut run: TierRun,
    members: Vec<Member>,
) -> Result<TierRun, StoreError> {
    s.blocking(move |s| {
        // The id is the creation time in hex, bumped past any id taken (under the writer
        // lock, so two runs never share one): unique and time-ordered.
        let _guard = s.writers();
        let mut t = nanos(run.created_at);
        while s.db.contains_key(run_key(&format!("r{t:016x}")))? {
            t = t.saturating_add(1);
        }
        run.run_id = format!("r{t:016x}");
        let mut batch = sled::Batch::default();
        add_members(&mut batch, &run.run_id, &members);
        batch.insert(run_list_key(&run.portfolio, t), run.run_id.as_bytes());
        batch.insert(
            latest_run_key(&run.portfolio, &run.scheme),
            run.run_id.as_bytes(),
        );
        batch.insert(run_key(&run.run_id), encode(&run)?);
        s.db.apply_batch(batch)?;
        s.db.flush()?;
        s.latest.cache(|l| {
            l.runs.insert(
                latest_run_key(&run.portfolio, &run.scheme),
                Some(Arc::new(run.clone())),
            )
        });
        Ok(run)
    })
    .await
}

/// The member blocks of a run: by rank, and ranks by customer.
fn add_members(batch: &mut sled::Batch, run_id: &str, members: &[Member]) {
    // Members by rank, in blocks.
    for (b, chunk) in members.chunks(BLOCK_MEMBERS as usize).enumerate() {
        let recs: Vec<([u8; 8], Vec<u8>)> = chunk
            .iter()
            .map(|m| (m.rank.to_be_bytes(), codec::encode_member(m)))
            .collect();
        let bytes = block::encode(recs.iter().map(|(k, v)| (&k[..], v.as_slice())));
        batch.insert(member_block_key(run_id, b as u64), bytes);
    }
    // Ranks by customer, in blocks sorted by customer.
    let mut by_customer: Vec<(&[u8], [u8; 8])> = members
        .iter()
        .map(|m| (m.customer_id.as_str().as_bytes(), m.rank.to_be_bytes()))
        .collect();
    by_customer.sort_unstable_by(|a, b| a.0.cmp(b.0));
    for chunk in by_customer.chunks(BLOCK_MEMBERS as usize) {
        let first = chunk[0].0;
        let bytes = block::encode(chunk.iter().map(|(k, v)| (*k, &v[..])));
        batch.insert(member_index_key(run_id, first), bytes);
    }
}

pub(super) async fn get(s: &SledStore, run_id: &str) -> Result<Option<TierRun>, StoreError> {
    let k = run_key(run_id);
    s.blocking(move |s| s.record(&k)).await
}

pub(super) async fn latest(
    s: &SledStore,
    portfolio: &PortfolioName,
    scheme: &str,
) -> Result<Option<Arc<TierRun>>, StoreError> {
    let k = latest_run_key(portfolio, scheme);
    if let Some(cached) = s.latest.cached(|l| l.runs.get(&k).cloned()) {
        return Ok(cached);
    }
    s.blocking(move |s| {
        // Under the writer lock, so that a run saved meanwhile cannot be overwritten in the
        // cache by this older read.
        let _guard = s.writers();
        let run = s
            .pointed::<TierRun>(&k, |id| run_key(&String::from_utf8_lossy(id)))?
            .map(Arc::new);
        s.latest.cache(|l| l.runs.insert(k, run.clone()));
        Ok(run)
    })
    .await
}

pub(super) async fn list(
    s: &SledStore,
    portfolio: &PortfolioName,
    after: Option<u64>,
    limit: usize,
) -> Result<Page<TierRun>, StoreError> {
    let prefix = run_list_prefix(portfolio);
    s.blocking(move |s| {
        newest_first(s, &prefix, after, limit, |k, id| {
            let rk = run_key(&String::from_utf8_lossy(id));
            let v =
                s.db.get(&rk)?
                    .ok_or_else(|| corrupt(k, "listed run is missing"))?;
            decode(&rk, &v)
        })
    })
    .await
}

pub(super) async fn members(
    s: &SledStore,
    run_id: &str,
    from: u64,
    to: u64,
    limit: usize,
) -> Result<Vec<Member>, StoreError> {
    let run_id = run_id.to_owned();
    s.blocking(move |s| {
        let mut out = Vec::new();
        if from == 0 || from > to {
            return Ok(out);
        }
        let mut rank = from;
        while rank <= to && out.len() < limit {
            let b = (rank - 1) / BLOCK_MEMBERS;
            let bk = member_block_key(&run_id, b);
            let Some(bytes) = s.db.get(&bk)? else { break };
            let block = Block::parse(&bytes).map_err(|e| corrupt(&bk, &e.to_string()))?;
            let start = ((rank - 1) % BLOCK_MEMBERS) as usize;
            for i in start..block.len() {
                if rank > to || out.len() == limit {
                    break;
                }
                let (_, rec) = block.get(i).ok_or_else(|| corrupt(&bk, "short block"))?;
                out.push(codec::decode_member(rec)?);
                rank += 1;
            }
            if block.len() < BLOCK_MEMBERS as usize {
                break;
            }
        }
        Ok(out)
    })
    .await
}

pub(super) async fn member(
    s: &SledStore,
    run_id: &str,
    customer: &CustomerId,
) -> Result<Option<Member>, StoreError> {
    let (run_id, customer) = (run_id.to_owned(), customer.clone());
    let rank = s
        .blocking({
            let run_id = run_id.clone();
            move |s| rank_of(s, &run_id, &customer)
        })
        .await?;
    match rank {
        Some(r) => Ok(members(s, &run_id, r, r, 1).await?.pop()),
        None => Ok(None),
    }
}

/// The rank of `customer` in a run, from the block of the by-customer index that would hold
/// it.
fn rank_of(s: &SledStore, run_id: &str, customer: &CustomerId) -> Result<Option<u64>, StoreError> {
    let prefix = member_index_key(run_id, b"");
    let upto = member_index_key(run_id, customer.as_str().as_bytes());
    let Some((k, v)) =
        s.db.range(prefix.as_slice()..=upto.as_slice())
            .next_back()
            .transpose()?
    else {
        return Ok(None);
    };
    let block = Block::parse(&v).map_err(|e| corrupt(&k, &e.to_string()))?;
    Ok(block
        .find(customer.as_str().as_bytes())
        .and_then(|r| <[u8; 8]>::try_from(r).ok())
        .map(u64::from_be_bytes))
}
