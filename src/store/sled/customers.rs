//! Customers: a base and an overlay, loads into them, scans and pages over them.
//!
//! A portfolio's customers live in a *base* of blocks sorted by id, plus an *overlay* of single
//! records upserted since (always newer than the base). A unary upsert writes overlay records;
//! a bulk load merges the new records, the overlay and the old base into a new base layer and
//! drops the old one and the overlay, all in one batch. So a load of a million customers is a
//! thousand large sled values, not a million small ones (see [`super::block`] for why), and one
//! customer is found with at most three reads: overlay, index, block.

use super::block::{self, Block};
use super::codec;
use super::keys::{layer_prefix, manifest_key, overlay_key, overlay_prefix};
use super::{corrupt, decode, encode, SledStore};
use crate::domain::customer::Customer;
use crate::domain::id::{CustomerId, PortfolioName};
use crate::store::{CustomerLoad, CustomerScan, StoreError, UpsertCounts};

/// Customers per base block: about 200 KB of typical records, the size sled handles well.
const BLOCK_CUSTOMERS: usize = 1024;

/// Loads up to this many customers go to the overlay; larger ones rebuild the base.
const SMALL_LOAD: usize = 10_000;

/// A stream of (id, encoded record), ascending by id.
type RecordStream<'a> = Box<dyn Iterator<Item = (&'a [u8], &'a [u8])> + 'a>;

/// A consistent read of a portfolio's customers: its base blocks and its overlay entries
/// (id, record).
type CustomerSources = (Vec<sled::IVec>, Vec<(sled::IVec, sled::IVec)>);

/// Encoded records of a load: (id, order of adding, encoded record).
type LoadRecords = [(CustomerId, usize, Vec<u8>)];

/// Where a portfolio's base is.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
struct Manifest {
    layer: u64,
    blocks: u32,
    customers: u64,
}

impl SledStore {
    fn manifest(&self, p: &PortfolioName) -> Result<Option<Manifest>, StoreError> {
        self.record(&manifest_key(p))
    }

    /// The encoded record of `id` in the portfolio's base, if any.
    fn base_record(&self, p: &PortfolioName, id: &[u8]) -> Result<Option<sled::IVec>, StoreError> {
        let Some(m) = self.manifest(p)? else {
            return Ok(None);
        };
        let index = layer_prefix(b'X', p, m.layer);
        let mut upto = index.clone();
        upto.extend_from_slice(id);
        let Some((_, block_no)) = self
            .db
            .range(index.as_slice()..=upto.as_slice())
            .next_back()
            .transpose()?
        else {
            return Ok(None);
        };
        let mut bk = layer_prefix(b'B', p, m.layer);
        bk.extend_from_slice(&block_no);
        let Some(bytes) = self.db.get(&bk)? else {
            return Err(corrupt(&bk, "indexed block is missing"));
        };
        let block = Block::parse(&bytes).map_err(|e| corrupt(&bk, &e.to_string()))?;
        Ok(block.find(id).map(sled::IVec::from))
    }

    /// The encoded record of `id`: the overlay's if upserted since the base, else the base's.
    fn customer_record(
        &self,
        p: &PortfolioName,
        id: &[u8],
    ) -> Result<Option<sled::IVec>, StoreError> {
        match self.db.get(overlay_key(p, id))? {
            Some(v) => Ok(Some(v)),
            None => self.base_record(p, id),
        }
    }

    /// Every (id, encoded record) of the portfolio, ascending by id, the overlay winning over
    /// the base. Reads a consistent state: it holds the writer lock while collecting the block
    /// handles (cheap reference-counted values), not while decoding.
    fn customer_sources(&self, p: &PortfolioName) -> Result<CustomerSources, StoreError> {
        let _guard = self.writers();
        let mut blocks = Vec::new();
        if let Some(m) = self.manifest(p)? {
            for kv in self.db.scan_prefix(layer_prefix(b'B', p, m.layer)) {
                blocks.push(kv?.1);
            }
        }
        let prefix = overlay_prefix(p);
        let mut overlay = Vec::new();
        for kv in self.db.scan_prefix(&prefix) {
            let (k, v) = kv?;
            overlay.push((sled::IVec::from(&k[prefix.len()..]), v));
        }
        Ok((blocks, overlay))
    }
}

/// Merges ascending (id, record) streams; on equal ids the earlier stream wins. Calls `emit`
/// with each id, its record, the stream it came from, and whether it was also present in a
/// later stream (shadowing it).
fn merge_sorted<'a>(
    streams: Vec<RecordStream<'a>>,
    mut emit: impl FnMut(&'a [u8], &'a [u8], usize, bool) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut iters: Vec<_> = streams.into_iter().map(|s| s.peekable()).collect();
    loop {
        let mut best: Option<(usize, &'a [u8])> = None;
        for (i, it) in iters.iter_mut().enumerate() {
            if let Some(&(k, _)) = it.peek() {
                if best.is_none_or(|(_, b)| k < b) {
                    best = Some((i, k));
                }
            }
        }
        let Some((winner, k)) = best else {
            return Ok(());
        };
        let mut record = None;
        let mut shadowed = false;
        for (i, it) in iters.iter_mut().enumerate() {
            if it.peek().is_some_and(|&(k2, _)| k2 == k) {
                let (_, r) = it.next().unwrap_or((k, b""));
                if i == winner {
                    record = Some(r);
                } else {
                    shadowed = true;
                }
            }
        }
        emit(k, record.unwrap_or(b""), winner, shadowed)?;
    }
}

/// Parses base blocks read from the store.
fn parse_blocks(blocks: &[sled::IVec]) -> Result<Vec<Block<'_>>, StoreError> {
    blocks
        .iter()
        .map(|b| Block::parse(b).map_err(|e| corrupt(b"(base block)", &e.to_string())))
        .collect()
}

/// The overlay first (it wins), then the base.
fn overlay_then_base<'a>(
    overlay: &'a [(sled::IVec, sled::IVec)],
    base: &'a [Block<'a>],
) -> Vec<RecordStream<'a>> {
    vec![
        Box::new(overlay.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))),
        Box::new(base.iter().flat_map(|b| b.iter())),
    ]
}

/// A pending load: the encoded records, merged into a new base at commit.
struct SledLoad {
    store: SledStore,
    portfolio: PortfolioName,
    /// (id, order of adding, encoded record).
    records: Vec<(CustomerId, usize, Vec<u8>)>,
}

pub(super) fn begin_load(s: &SledStore, portfolio: &PortfolioName) -> Box<dyn CustomerLoad> {
    Box::new(SledLoad {
        store: s.clone(),
        portfolio: portfolio.clone(),
        records: Vec::new(),
    })
}

#[async_trait::async_trait]
impl CustomerLoad for SledLoad {
    fn add(&mut self, customer: &Customer) -> Result<(), StoreError> {
        let n = self.records.len();
        self.records
            .push((customer.id.clone(), n, codec::encode_customer(customer)));
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<UpsertCounts, StoreError> {
        let SledLoad {
            store,
            portfolio,
            mut records,
        } = *self;
        store
            .blocking(move |s| {
                // A stable sort: of two records with one id, the first added comes first.
                records.sort_by(|a, b| a.0.cmp(&b.0));
                if let Some(w) = records.windows(2).find(|w| w[0].0 == w[1].0) {
                    return Err(StoreError::DuplicateInLoad {
                        id: w[0].0.to_string(),
                        first: w[0].1,
                        second: w[1].1,
                    });
                }
                let started = std::time::Instant::now();
                let out = if records.len() <= SMALL_LOAD {
                    s.write(|db| write_overlay(s, db, &portfolio, &records))
                } else {
                    s.write(|db| rewrite_base(db, &portfolio, &records))
                };
                tracing::debug!(records = records.len(), took = ?started.elapsed(), "load committed");
                out
            })
            .await
    }
}

fn write_overlay(
    s: &SledStore,
    db: &sled::Db,
    p: &PortfolioName,
    records: &LoadRecords,
) -> Result<UpsertCounts, StoreError> {
    let mut counts = UpsertCounts::default();
    let mut batch = sled::Batch::default();
    for (id, _, rec) in records {
        let id = id.as_str().as_bytes();
        if s.customer_record(p, id)?.is_some() {
            counts.updated += 1;
        } else {
            counts.inserted += 1;
        }
        batch.insert(overlay_key(p, id), rec.as_slice());
    }
    db.apply_batch(batch)?;
    Ok(counts)
}

/// The current base of a portfolio, as a rebuild needs it: its manifest, its blocks (key,
/// bytes), and every key of the layer (blocks and index), to remove.
type OldBase = (
    Option<Manifest>,
    Vec<(sled::IVec, sled::IVec)>,
    Vec<sled::IVec>,
);

fn old_base(db: &sled::Db, p: &PortfolioName) -> Result<OldBase, StoreError> {
    let mk = manifest_key(p);
    let old: Option<Manifest> = match db.get(&mk)? {
        Some(v) => Some(decode(&mk, &v)?),
        None => None,
    };
    let mut old_blocks = Vec::new();
    let mut old_keys = Vec::new();
    if let Some(m) = old {
        for prefix in [
            layer_prefix(b'B', p, m.layer),
            layer_prefix(b'X', p, m.layer),
        ] {
            for kv in db.scan_prefix(&prefix) {
                let (k, v) = kv?;
                if k[0] == b'B' {
                    old_blocks.push((k.clone(), v));
                }
                old_keys.push(k);
            }
        }
    }
    Ok((old, old_blocks, old_keys))
}

/// Writes a new base layer into a batch, one block of [`BLOCK_CUSTOMERS`] records at a time.
struct LayerWriter<'a> {
    block_prefix: Vec<u8>,
    index_prefix: Vec<u8>,
    pending: Vec<(&'a [u8], &'a [u8])>,
    blocks: u32,
    customers: u64,
}

impl<'a> LayerWriter<'a> {
    fn new(p: &PortfolioName, layer: u64) -> Self {
        Self {
            block_prefix: layer_prefix(b'B', p, layer),
            index_prefix: layer_prefix(b'X', p, layer),
            pending: Vec::with_capacity(BLOCK_CUSTOMERS),
            blocks: 0,
            customers: 0,
        }
    }

    /// Adds the next customer (ids ascending).
    fn push(&mut self, id: &'a [u8], rec: &'a [u8], batch: &mut sled::Batch) {
        self.pending.push((id, rec));
        self.customers += 1;
        if self.pending.len() == BLOCK_CUSTOMERS {
            self.flush_block(batch);
        }
    }

    /// Writes the pending records as one block and its index entry.
    fn flush_block(&mut self, batch: &mut sled::Batch) {
        if let Some(&(first, _)) = self.pending.first() {
            let mut bk = self.block_prefix.clone();
            bk.extend_from_slice(&self.blocks.to_be_bytes());
            batch.insert(bk, block::encode(self.pending.iter().copied()));
            let mut ik = self.index_prefix.clone();
            ik.extend_from_slice(first);
            batch.insert(ik, &self.blocks.to_be_bytes()[..]);
            self.blocks += 1;
            self.pending.clear();
        }
    }
}

/// Merges `fresh` (sorted, unique ids) with the overlay and the current base into a new base
/// layer, in one batch that also removes the old layer and the overlay.
fn rewrite_base(
    db: &sled::Db,
    p: &PortfolioName,
    fresh: &LoadRecords,
) -> Result<UpsertCounts, StoreError> {
    let (old, old_blocks, old_keys) = old_base(db, p)?;
    let parsed: Vec<Block<'_>> = old_blocks
        .iter()
        .map(|(k, v)| Block::parse(v).map_err(|e| corrupt(k, &e.to_string())))
        .collect::<Result<_, _>>()?;
    let overlay_prefix = overlay_prefix(p);
    let overlay: Vec<(sled::IVec, sled::IVec)> =
        db.scan_prefix(&overlay_prefix).collect::<Result<_, _>>()?;

    let layer = old.map_or(0, |m| m.layer + 1);
    let mut batch = sled::Batch::default();
    let mut counts = UpsertCounts::default();
    let mut writer = LayerWriter::new(p, layer);
    let streams: Vec<RecordStream<'_>> = vec![
        Box::new(
            fresh
                .iter()
                .map(|(id, _, r)| (id.as_str().as_bytes(), r.as_slice())),
        ),
        Box::new(
            overlay
                .iter()
                .map(|(k, v)| (&k[overlay_prefix.len()..], v.as_ref())),
        ),
        Box::new(parsed.iter().flat_map(|b| b.iter())),
    ];
    merge_sorted(streams, |id, rec, source, shadowed| {
        if source == 0 {
            if shadowed {
                counts.updated += 1;
            } else {
                counts.inserted += 1;
            }
        }
        writer.push(id, rec, &mut batch);
        Ok(())
    })?;
    writer.flush_block(&mut batch);
    for k in old_keys {
        batch.remove(k);
    }
    for (k, _) in &overlay {
        batch.remove(k);
    }
    let manifest = Manifest {
        layer,
        blocks: writer.blocks,
        customers: writer.customers,
    };
    batch.insert(manifest_key(p), encode(&manifest)?);
    db.apply_batch(batch)?;
    Ok(counts)
}

pub(super) async fn get(
    s: &SledStore,
    portfolio: &PortfolioName,
    id: &CustomerId,
) -> Result<Option<Customer>, StoreError> {
    let (p, id) = (portfolio.clone(), id.clone());
    s.blocking(
        move |s| match s.customer_record(&p, id.as_str().as_bytes())? {
            Some(v) => codec::decode_customer(&v).map(Some),
            None => Ok(None),
        },
    )
    .await
}

/// Several customers in one trip through the blocking pool.
pub(super) async fn get_many(
    s: &SledStore,
    portfolio: &PortfolioName,
    ids: &[CustomerId],
) -> Result<Vec<Option<Customer>>, StoreError> {
    let (p, ids) = (portfolio.clone(), ids.to_vec());
    s.blocking(move |s| {
        ids.iter()
            .map(|id| match s.customer_record(&p, id.as_str().as_bytes())? {
                Some(v) => codec::decode_customer(&v).map(Some),
                None => Ok(None),
            })
            .collect()
    })
    .await
}

pub(super) fn scan(s: &SledStore, portfolio: &PortfolioName) -> CustomerScan {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let this = s.clone();
    let p = portfolio.clone();
    tokio::task::spawn_blocking(move || {
        let send = |item| tx.blocking_send(item).is_ok();
        if let Err(e) = scan_into(&this, &p, &send) {
            send(Err(e));
        }
    });
    rx
}

/// Sends every customer of `p` in chunks of a block; an error is the caller's to send. A
/// reader that went away stops the scan quietly.
fn scan_into(
    s: &SledStore,
    p: &PortfolioName,
    send: &impl Fn(Result<Vec<Customer>, StoreError>) -> bool,
) -> Result<(), StoreError> {
    let (blocks, overlay) = s.customer_sources(p)?;
    let parsed = parse_blocks(&blocks)?;
    let mut chunk = Vec::with_capacity(BLOCK_CUSTOMERS);
    let result = merge_sorted(overlay_then_base(&overlay, &parsed), |_id, rec, _, _| {
        chunk.push(codec::decode_customer(rec)?);
        if chunk.len() == BLOCK_CUSTOMERS && !send(Ok(std::mem::take(&mut chunk))) {
            // The reader went away: stop quietly.
            return Err(StoreError::Task("scan abandoned".to_owned()));
        }
        Ok(())
    });
    match result {
        Ok(()) => {
            if !chunk.is_empty() {
                send(Ok(chunk));
            }
            Ok(())
        }
        Err(StoreError::Task(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

pub(super) async fn page(
    s: &SledStore,
    portfolio: &PortfolioName,
    after: Option<CustomerId>,
    limit: usize,
) -> Result<Vec<Customer>, StoreError> {
    let p = portfolio.clone();
    s.blocking(move |s| {
        let start: &[u8] = after.as_ref().map_or(b"", |a| a.as_str().as_bytes());
        let blocks = page_blocks(s, &p, start, limit)?;
        let overlay = page_overlay(s, &p, start, limit)?;
        let parsed = parse_blocks(&blocks)?;
        // Room for a page, but no more than a block's worth up front: `limit` may be huge.
        let mut out = Vec::with_capacity(limit.min(BLOCK_CUSTOMERS));
        merge_sorted(overlay_then_base(&overlay, &parsed), |id, rec, _, _| {
            if id > start && out.len() < limit {
                out.push(codec::decode_customer(rec)?);
            }
            Ok(())
        })?;
        Ok(out)
    })
    .await
}

/// Base blocks from the one that holds `start` on, enough to fill a page of `limit` from the
/// base alone; the index says where to start.
fn page_blocks(
    s: &SledStore,
    p: &PortfolioName,
    start: &[u8],
    limit: usize,
) -> Result<Vec<sled::IVec>, StoreError> {
    let mut blocks = Vec::new();
    let Some(m) = s.manifest(p)? else {
        return Ok(blocks);
    };
    let index = layer_prefix(b'X', p, m.layer);
    let mut upto = index.clone();
    upto.extend_from_slice(start);
    let first =
        s.db.range(index.as_slice()..=upto.as_slice())
            .next_back()
            .transpose()?
            .map_or(0, |(_, v)| {
                <[u8; 4]>::try_from(v.as_ref()).map_or(0, u32::from_be_bytes)
            });
    let mut from = layer_prefix(b'B', p, m.layer);
    let prefix = from.clone();
    from.extend_from_slice(&first.to_be_bytes());
    // Stop once the blocks read hold `limit` records past the start.
    let mut held = 0;
    for kv in s.db.range(from..) {
        let (k, v) = kv?;
        if !k.starts_with(&prefix) {
            break;
        }
        held += Block::parse(&v)
            .map_err(|e| corrupt(&k, &e.to_string()))?
            .iter()
            .filter(|(id, _)| *id > start)
            .count();
        blocks.push(v);
        if held >= limit {
            break;
        }
    }
    Ok(blocks)
}

/// Overlay entries (id, record) from `start` on: enough to fill a page of `limit` from the
/// overlay alone.
fn page_overlay(
    s: &SledStore,
    p: &PortfolioName,
    start: &[u8],
    limit: usize,
) -> Result<Vec<(sled::IVec, sled::IVec)>, StoreError> {
    let overlay_prefix = overlay_prefix(p);
    let mut overlay_from = overlay_prefix.clone();
    overlay_from.extend_from_slice(start);
    let mut overlay = Vec::new();
    for kv in s.db.range(overlay_from..) {
        let (k, v) = kv?;
        if !k.starts_with(&overlay_prefix) || overlay.len() > limit {
            break;
        }
        overlay.push((sled::IVec::from(&k[overlay_prefix.len()..]), v));
    }
    Ok(overlay)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{all, customer, load};
    use super::*;
    use crate::store::Store;

    #[tokio::test]
    async fn base_and_overlay_merge_with_exact_counts_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let p = PortfolioName::parse("p").unwrap();
        let other = PortfolioName::parse("p2").unwrap();
        let n = SMALL_LOAD + 2_500;
        let big: Vec<Customer> = (0..n)
            .map(|i| customer(&format!("c{i:06}"), i as f64))
            .collect();
        {
            let store = SledStore::open(dir.path()).unwrap();
            // A small load goes to the overlay.
            let counts = store
                .upsert_customers(&p, &[customer("c000001", -1.0), customer("zz", 5.0)])
                .await
                .unwrap();
            assert_eq!(
                counts,
                UpsertCounts {
                    inserted: 2,
                    updated: 0
                }
            );
            store
                .upsert_customers(&other, &[customer("c000001", 7.0)])
                .await
                .unwrap();
            // A large one rebuilds the base, absorbing the overlay.
            let counts = load(&store, &p, &big).await;
            assert_eq!(
                counts,
                UpsertCounts {
                    inserted: n as u64 - 1,
                    updated: 1
                }
            );
            let got = store
                .get_customer(&p, &CustomerId::parse("c000001").unwrap())
                .await
                .unwrap();
            assert_eq!(got.unwrap().revenue, Some(1.0));
            // Overlay on top of the base.
            let counts = store
                .upsert_customers(&p, &[customer("c000002", 99.0), customer("a-new", 1.0)])
                .await
                .unwrap();
            assert_eq!(
                counts,
                UpsertCounts {
                    inserted: 1,
                    updated: 1
                }
            );
            // A second large load over base + overlay.
            let counts = load(&store, &p, &big[..SMALL_LOAD + 1]).await;
            assert_eq!(
                counts,
                UpsertCounts {
                    inserted: 0,
                    updated: SMALL_LOAD as u64 + 1
                }
            );
        }
        let store = SledStore::open(dir.path()).unwrap();
        let everything = all(&store, &p).await;
        assert_eq!(everything.len(), n + 2);
        let ids: Vec<&str> = everything.iter().map(|c| c.id.as_str()).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(ids, sorted);
        assert_eq!(ids[0], "a-new");
        assert_eq!(*ids.last().unwrap(), "zz");
        let c2 = everything
            .iter()
            .find(|c| c.id.as_str() == "c000002")
            .unwrap();
        assert_eq!(
            c2.revenue,
            Some(2.0),
            "the later load wins over the older overlay"
        );
        for i in [0usize, 1023, 1024, 5000, n - 1] {
            let id = CustomerId::parse(&format!("c{i:06}")).unwrap();
            let c = store.get_customer(&p, &id).await.unwrap().unwrap();
            assert_eq!(c.revenue, Some(i as f64));
        }
        assert!(store
            .get_customer(&p, &CustomerId::parse("c9").unwrap())
            .await
            .unwrap()
            .is_none());
        assert_eq!(all(&store, &other).await.len(), 1);
    }

    #[tokio::test]
    async fn a_load_with_a_customer_twice_fails_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let p = PortfolioName::parse("p").unwrap();
        let mut l = store.begin_load(&p);
        for c in [customer("a", 1.0), customer("b", 1.0), customer("a", 2.0)] {
            l.add(&c).unwrap();
        }
        match l.commit().await {
            Err(StoreError::DuplicateInLoad { id, first, second }) => {
                assert_eq!((id.as_str(), first, second), ("a", 0, 2));
            }
            other => panic!("{other:?}"),
        }
        assert!(all(&store, &p).await.is_empty());
    }

    #[tokio::test]
    async fn an_uncommitted_load_leaves_no_trace() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let p = PortfolioName::parse("p").unwrap();
        let mut l = store.begin_load(&p);
        l.add(&customer("a", 1.0)).unwrap();
        drop(l);
        assert!(all(&store, &p).await.is_empty());
    }
}
