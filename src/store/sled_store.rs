//! The sled implementation of [`Store`].
//!
//! # Layout
//! One sled tree holds everything, so that a single atomic [`sled::Batch`] can cover every
//! record a write touches. Keys start with a one-byte record kind; identifiers never contain
//! `0x00` (see [`crate::domain::id`]), so it separates the parts of a key:
//!
//! | key | value |
//! |---|---|
//! | `M` `format_version` | the layout version, decimal ASCII |
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
//!
//! # Customers: a base and an overlay
//! A portfolio's customers live in a *base* of blocks sorted by id, plus an *overlay* of single
//! records upserted since (always newer than the base). A unary upsert writes overlay records;
//! a bulk load merges the new records, the overlay and the old base into a new base layer and
//! drops the old one and the overlay, all in one batch. So a load of a million customers is a
//! thousand large sled values, not a million small ones (see [`super::block`] for why), and one
//! customer is found with at most three reads: overlay, index, block.
//!
//! Value keys order by customer then time, so a customer's history is one range scan, read
//! backwards for newest first, and the latest value is the last key of that range. (Format 1
//! also kept an `L` copy of the latest value, which needed a batch per kept score; opening a
//! format-1 store drops those copies and upgrades it.)
//!
//! # Durability
//! sled calls block, so each one runs on tokio's blocking pool. Writes are serialised by a
//! mutex (so insert/update counts are exact), applied as one batch where they touch several
//! records, and flushed before the call returns; a kept score is one record claimed with a
//! compare-and-swap and needs no lock. Concurrent writers share flushes (group commit).

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::block::{self, Block};
use super::codec;
use super::commit::GroupCommit;
use super::values::ValueCache;
use super::{CustomerLoad, CustomerScan, Page, Store, StoreError, UpsertCounts, FORMAT_VERSION};
use crate::domain::customer::Customer;
use crate::domain::id::{CustomerId, PortfolioName};
use crate::domain::pyramid::Member;
use crate::domain::snapshot::{TierRun, ValueModel, ValueSnapshot};

const FORMAT_KEY: &[u8] = b"Mformat_version";

/// Page cache of the store unless configured: enough for the hot blocks of a few million
/// customers while keeping the server's memory well under a gigabyte.
pub const DEFAULT_CACHE_BYTES: u64 = 256 * 1024 * 1024;

/// Customers whose latest value is held in memory by default: about 30 MB.
pub const DEFAULT_VALUE_CACHE_ENTRIES: usize = 20_000;
const SEP: u8 = 0;

/// A [`Store`] on a sled database in one directory.
#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
    /// Serialises writers; see the module docs.
    write_lock: Arc<Mutex<()>>,
    /// Lets concurrent writers share flushes.
    commits: Arc<GroupCommit>,
    /// Latest kept values of recently read or kept customers.
    values: Arc<ValueCache>,
    /// The latest run and model of each portfolio, read by every ScoreCustomer: kept in memory
    /// (filled on first read, replaced on save) so that the hot path does no storage call.
    latest: Arc<std::sync::RwLock<Latest>>,
}

/// Most portfolio/scheme entries the latest-snapshot cache holds.
const LATEST_CACHE_ENTRIES: usize = 10_000;

/// Cached "latest" snapshots; `None` entries remember that there is none yet.
#[derive(Default)]
struct Latest {
    runs: std::collections::HashMap<Vec<u8>, Option<Arc<TierRun>>>,
    models: std::collections::HashMap<Vec<u8>, Option<ValueModel>>,
}

impl SledStore {
    /// Opens (or creates) the store in `dir`. Refuses a store written in another layout
    /// version, or a non-empty database without a version, rather than misreading it.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, DEFAULT_CACHE_BYTES, DEFAULT_VALUE_CACHE_ENTRIES)
    }

    /// [`SledStore::open`] with a page cache of `cache_bytes` (sled's own default is 1 GiB) and
    /// the latest values of up to `value_entries` customers in memory.
    pub fn open_with(
        dir: &Path,
        cache_bytes: u64,
        value_entries: usize,
    ) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .open()?;
        match db.get(FORMAT_KEY)? {
            Some(v) if v.as_ref() == FORMAT_VERSION.to_string().as_bytes() => {}
            Some(v) if v.as_ref() == b"1" => upgrade_from_1(&db)?,
            Some(v) => {
                return Err(StoreError::UnknownFormat {
                    path: dir.display().to_string(),
                    found: String::from_utf8_lossy(&v).into_owned(),
                })
            }
            None if db.is_empty() => {
                db.insert(FORMAT_KEY, FORMAT_VERSION.to_string().as_bytes())?;
                db.flush()?;
            }
            None => {
                return Err(StoreError::UnknownFormat {
                    path: dir.display().to_string(),
                    found: "none (records without a version key)".to_owned(),
                })
            }
        }
        Ok(Self {
            db,
            write_lock: Arc::new(Mutex::new(())),
            commits: Arc::default(),
            values: Arc::new(ValueCache::new(value_entries)),
            latest: Arc::default(),
        })
    }

    fn cached<T>(&self, f: impl FnOnce(&Latest) -> Option<T>) -> Option<T> {
        // A poisoned lock only means a panic elsewhere while holding it; the map is intact.
        f(&self.latest.read().unwrap_or_else(|e| e.into_inner()))
    }

    fn cache<T>(&self, f: impl FnOnce(&mut Latest) -> T) -> T {
        let mut latest = self.latest.write().unwrap_or_else(|e| e.into_inner());
        // Callers choose portfolio names, so the cache is bounded: past the bound it starts
        // over (it refills from the store on demand).
        if latest.runs.len() + latest.models.len() > LATEST_CACHE_ENTRIES {
            *latest = Latest::default();
        }
        f(&mut latest)
    }

    /// Runs `f` on the blocking pool with a handle to the database.
    async fn blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&SledStore) -> Result<T, StoreError> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || f(&this))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// The record under `k`, if any.
    fn record<T: DeserializeOwned>(&self, k: &[u8]) -> Result<Option<T>, StoreError> {
        match self.db.get(k)? {
            Some(v) => decode(k, &v).map(Some),
            None => Ok(None),
        }
    }

    /// The record whose id is stored under the pointer key `pointer` (a portfolio's latest run
    /// or model), found under `record_key(id)`. A pointer to nothing is corruption.
    fn pointed<T: DeserializeOwned>(
        &self,
        pointer: &[u8],
        record_key: impl FnOnce(&[u8]) -> Vec<u8>,
    ) -> Result<Option<T>, StoreError> {
        let Some(id) = self.db.get(pointer)? else {
            return Ok(None);
        };
        match self.record(&record_key(&id))? {
            Some(t) => Ok(Some(t)),
            None => Err(corrupt(pointer, "the record it points to is missing")),
        }
    }

    /// Runs a write under the writer lock, then waits until it is durable: the caller may
    /// acknowledge the write once this returns.
    fn write<T>(
        &self,
        f: impl FnOnce(&sled::Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.commit(|| {
            // A poisoned lock only means another writer panicked; the database is intact.
            let _guard = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
            f(&self.db)
        })
    }

    /// Applies a write, then waits until it is durable. The flush is outside any lock and
    /// shared by the writers waiting for one (group commit, see [`GroupCommit`]), so that
    /// concurrent writers do not queue one fsync each.
    fn commit<T>(&self, apply: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
        let out = apply()?;
        // After the write: a flush that starts from here on covers it.
        let ticket = self.commits.applied();
        self.commits
            .durable(ticket, || {
                self.db.flush().map(drop).map_err(|e| e.to_string())
            })
            .map_err(StoreError::Flush)?;
        Ok(out)
    }
}

/// Format 1 → 2: drops the `L` copies of each customer's latest value (the newest history
/// record is the latest value in both formats), then records the new version, in one batch.
fn upgrade_from_1(db: &sled::Db) -> Result<(), StoreError> {
    let mut batch = sled::Batch::default();
    let mut dropped = 0u64;
    for k in db.scan_prefix(b"L").keys() {
        batch.remove(k?);
        dropped += 1;
    }
    batch.insert(FORMAT_KEY, FORMAT_VERSION.to_string().as_bytes());
    db.apply_batch(batch)?;
    db.flush()?;
    tracing::info!(
        dropped,
        "upgraded the store from format 1 to {FORMAT_VERSION}"
    );
    Ok(())
}

fn key(kind: u8, parts: &[&[u8]]) -> Vec<u8> {
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

fn overlay_key(p: &PortfolioName, id: &[u8]) -> Vec<u8> {
    key(b'O', &[p.as_str().as_bytes(), id])
}

fn manifest_key(p: &PortfolioName) -> Vec<u8> {
    key(b'H', &[p.as_str().as_bytes()])
}

/// `kind` portfolio 0 layer 0: the prefix of a base layer's blocks (`B`) or index (`X`).
fn layer_prefix(kind: u8, p: &PortfolioName, layer: u64) -> Vec<u8> {
    let mut k = key(kind, &[p.as_str().as_bytes(), &layer.to_be_bytes()]);
    k.push(SEP);
    k
}

/// Customers per base block: about 200 KB of typical records, the size sled handles well.
const BLOCK_CUSTOMERS: usize = 1024;

/// Members per block of a run; ranks map to blocks by division.
const BLOCK_MEMBERS: u64 = 4096;

fn run_key(run_id: &str) -> Vec<u8> {
    key(b'R', &[run_id.as_bytes()])
}

fn member_block_key(run_id: &str, block: u64) -> Vec<u8> {
    let mut k = key(b'K', &[run_id.as_bytes(), b""]);
    k.extend_from_slice(&(block as u32).to_be_bytes());
    k
}

/// A stream of (id, encoded record), ascending by id.
type RecordStream<'a> = Box<dyn Iterator<Item = (&'a [u8], &'a [u8])> + 'a>;

/// A consistent read of a portfolio's customers: its base blocks and its overlay entries
/// (id, record).
type CustomerSources = (Vec<sled::IVec>, Vec<(sled::IVec, sled::IVec)>);

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
        let _guard = self.write_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut blocks = Vec::new();
        if let Some(m) = self.manifest(p)? {
            for kv in self.db.scan_prefix(layer_prefix(b'B', p, m.layer)) {
                blocks.push(kv?.1);
            }
        }
        let prefix = key(b'O', &[p.as_str().as_bytes(), b""]);
        let mut overlay = Vec::new();
        for kv in self.db.scan_prefix(&prefix) {
            let (k, v) = kv?;
            overlay.push((sled::IVec::from(&k[prefix.len()..]), v));
        }
        Ok((blocks, overlay))
    }
}

/// A page of the records under `prefix` whose keys end in a time (u64 BE), newest first,
/// strictly older than the cursor `after`; the next cursor is the last record's time.
fn newest_first<T>(
    s: &SledStore,
    prefix: &[u8],
    after: Option<u64>,
    limit: usize,
    mut read: impl FnMut(&[u8], &[u8]) -> Result<T, StoreError>,
) -> Result<Page<T>, StoreError> {
    let range = match after {
        Some(t) => {
            let mut end = prefix.to_vec();
            end.extend_from_slice(&t.to_be_bytes());
            s.db.range(prefix.to_vec()..end)
        }
        None => s.db.scan_prefix(prefix),
    };
    let mut items = Vec::new();
    let mut last = None;
    for entry in range.rev() {
        let (k, v) = entry?;
        if items.len() == limit {
            // Only hand out a cursor when something follows it.
            return Ok(Page { items, next: last });
        }
        items.push(read(&k, &v)?);
        let tail: [u8; 8] = k[k.len().saturating_sub(8)..]
            .try_into()
            .map_err(|_| corrupt(&k, "listing key without a time"))?;
        last = Some(u64::from_be_bytes(tail));
    }
    Ok(Page { items, next: None })
}

fn corrupt(key: &[u8], reason: &str) -> StoreError {
    StoreError::Corrupt {
        key: String::from_utf8_lossy(key).replace('\0', "/"),
        reason: reason.to_owned(),
    }
}

/// Merges ascending (id, record) streams; on equal ids the earlier stream wins. Calls `emit`
/// with each id, its record, and whether it came from `fresh` (stream 0) while also present in
/// a later stream.
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

/// `V` portfolio 0 customer 0: the prefix of one customer's history.
fn history_prefix(p: &PortfolioName, id: &CustomerId) -> Vec<u8> {
    let mut k = key(b'V', &[p.as_str().as_bytes(), id.as_str().as_bytes()]);
    k.push(SEP);
    k
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Corrupt {
        key: "(new record)".to_owned(),
        reason: e.to_string(),
    })
}

fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        key: String::from_utf8_lossy(key).replace('\0', "/"),
        reason: e.to_string(),
    })
}

fn nanos(t: time::OffsetDateTime) -> u64 {
    u64::try_from(t.unix_timestamp_nanos()).unwrap_or(0)
}

/// A pending load: the encoded records, merged into a new base at commit.
struct SledLoad {
    store: SledStore,
    portfolio: PortfolioName,
    /// (id, order of adding, encoded record).
    records: Vec<(CustomerId, usize, Vec<u8>)>,
}

#[tonic::async_trait]
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

/// Loads up to this many customers go to the overlay; larger ones rebuild the base.
const SMALL_LOAD: usize = 10_000;

fn write_overlay(
    s: &SledStore,
    db: &sled::Db,
    p: &PortfolioName,
    records: &[(CustomerId, usize, Vec<u8>)],
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

/// Merges `fresh` (sorted, unique ids) with the overlay and the current base into a new base
/// layer, in one batch that also removes the old layer and the overlay.
fn rewrite_base(
    db: &sled::Db,
    p: &PortfolioName,
    fresh: &[(CustomerId, usize, Vec<u8>)],
) -> Result<UpsertCounts, StoreError> {
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
    let parsed: Vec<Block<'_>> = old_blocks
        .iter()
        .map(|(k, v)| Block::parse(v).map_err(|e| corrupt(k, &e.to_string())))
        .collect::<Result<_, _>>()?;
    let overlay_prefix = key(b'O', &[p.as_str().as_bytes(), b""]);
    let overlay: Vec<(sled::IVec, sled::IVec)> =
        db.scan_prefix(&overlay_prefix).collect::<Result<_, _>>()?;

    let layer = old.map_or(0, |m| m.layer + 1);
    let block_prefix = layer_prefix(b'B', p, layer);
    let index_prefix = layer_prefix(b'X', p, layer);
    let mut batch = sled::Batch::default();
    let mut counts = UpsertCounts::default();
    let mut pending: Vec<(&[u8], &[u8])> = Vec::with_capacity(BLOCK_CUSTOMERS);
    let mut blocks: u32 = 0;
    let mut customers: u64 = 0;
    let mut flush_block = |pending: &mut Vec<(&[u8], &[u8])>, batch: &mut sled::Batch| {
        if let Some(&(first, _)) = pending.first() {
            let mut bk = block_prefix.clone();
            bk.extend_from_slice(&blocks.to_be_bytes());
            batch.insert(bk, block::encode(pending.iter().copied()));
            let mut ik = index_prefix.clone();
            ik.extend_from_slice(first);
            batch.insert(ik, &blocks.to_be_bytes()[..]);
            blocks += 1;
            pending.clear();
        }
    };
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
        pending.push((id, rec));
        customers += 1;
        if pending.len() == BLOCK_CUSTOMERS {
            flush_block(&mut pending, &mut batch);
        }
        Ok(())
    })?;
    flush_block(&mut pending, &mut batch);
    for k in old_keys {
        batch.remove(k);
    }
    for (k, _) in &overlay {
        batch.remove(k);
    }
    let manifest = Manifest {
        layer,
        blocks,
        customers,
    };
    batch.insert(mk, encode(&manifest)?);
    db.apply_batch(batch)?;
    Ok(counts)
}

#[tonic::async_trait]
impl Store for SledStore {
    fn begin_load(&self, portfolio: &PortfolioName) -> Box<dyn CustomerLoad> {
        Box::new(SledLoad {
            store: self.clone(),
            portfolio: portfolio.clone(),
            records: Vec::new(),
        })
    }

    async fn get_customer(
        &self,
        portfolio: &PortfolioName,
        id: &CustomerId,
    ) -> Result<Option<Customer>, StoreError> {
        let (p, id) = (portfolio.clone(), id.clone());
        self.blocking(
            move |s| match s.customer_record(&p, id.as_str().as_bytes())? {
                Some(v) => codec::decode_customer(&v).map(Some),
                None => Ok(None),
            },
        )
        .await
    }

    fn scan_customers(&self, portfolio: &PortfolioName) -> CustomerScan {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let this = self.clone();
        let p = portfolio.clone();
        tokio::task::spawn_blocking(move || {
            let send = |item| tx.blocking_send(item).is_ok();
            let (blocks, overlay) = match this.customer_sources(&p) {
                Ok(x) => x,
                Err(e) => {
                    send(Err(e));
                    return;
                }
            };
            let parsed: Result<Vec<Block<'_>>, StoreError> = blocks
                .iter()
                .map(|b| Block::parse(b).map_err(|e| corrupt(b"(base block)", &e.to_string())))
                .collect();
            let parsed = match parsed {
                Ok(p) => p,
                Err(e) => {
                    send(Err(e));
                    return;
                }
            };
            let streams: Vec<RecordStream<'_>> = vec![
                Box::new(overlay.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))),
                Box::new(parsed.iter().flat_map(|b| b.iter())),
            ];
            let mut chunk = Vec::with_capacity(BLOCK_CUSTOMERS);
            let result = merge_sorted(streams, |_id, rec, _, _| {
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
                }
                Err(StoreError::Task(_)) => {}
                Err(e) => {
                    send(Err(e));
                }
            }
        });
        rx
    }

    async fn keep_value(&self, value: &ValueSnapshot) -> Result<(), StoreError> {
        let value = Arc::new(value.clone());
        self.blocking(move |s| {
            let prefix = history_prefix(&value.portfolio, &value.customer_id);
            // No writer lock: the insert claims its key atomically. Keys are unique: two
            // snapshots in the same nanosecond (or a clock stepped back) take the next free
            // nanosecond, so none is ever overwritten.
            let key = s.commit(|| {
                let bytes = encode(&*value)?;
                let mut t = nanos(value.scored_at);
                loop {
                    let mut k = prefix.clone();
                    k.extend_from_slice(&t.to_be_bytes());
                    match s.db.compare_and_swap(
                        &k,
                        None as Option<&[u8]>,
                        Some(bytes.as_slice()),
                    )? {
                        Ok(()) => return Ok(k),
                        Err(_) => t = t.saturating_add(1),
                    }
                }
            })?;
            // Durable now: readers may be answered from memory.
            s.values.offer_kept(&prefix, &key, value);
            Ok(())
        })
        .await
    }

    async fn latest_value(
        &self,
        portfolio: &PortfolioName,
        id: &CustomerId,
    ) -> Result<Option<ValueSnapshot>, StoreError> {
        let prefix = history_prefix(portfolio, id);
        if let Some(v) = self.values.get(&prefix) {
            return Ok(Some((*v).clone()));
        }
        let stamp = self.values.stamp();
        // The latest is the newest by time, the last key of the history.
        self.blocking(move |s| match s.db.scan_prefix(&prefix).next_back() {
            Some(kv) => {
                let (k, v) = kv?;
                let value = Arc::new(decode::<ValueSnapshot>(&k, &v)?);
                s.values.offer_read(stamp, &prefix, &k, value.clone());
                Ok(Some(Arc::unwrap_or_clone(value)))
            }
            None => Ok(None),
        })
        .await
    }

    async fn value_history(
        &self,
        portfolio: &PortfolioName,
        id: &CustomerId,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Page<ValueSnapshot>, StoreError> {
        let prefix = history_prefix(portfolio, id);
        self.blocking(move |s| newest_first(s, &prefix, after, limit, decode))
            .await
    }

    async fn save_run(
        &self,
        mut run: TierRun,
        members: Vec<Member>,
    ) -> Result<TierRun, StoreError> {
        self.blocking(move |s| {
            // The id is the creation time in hex, bumped past any id taken (under the writer
            // lock, so two runs never share one): unique and time-ordered.
            let _guard = s.write_lock.lock().unwrap_or_else(|e| e.into_inner());
            let mut t = nanos(run.created_at);
            while s.db.contains_key(run_key(&format!("r{t:016x}")))? {
                t = t.saturating_add(1);
            }
            run.run_id = format!("r{t:016x}");
            let mut batch = sled::Batch::default();
            // Members by rank, in blocks.
            for (b, chunk) in members.chunks(BLOCK_MEMBERS as usize).enumerate() {
                let recs: Vec<([u8; 8], Vec<u8>)> = chunk
                    .iter()
                    .map(|m| (m.rank.to_be_bytes(), codec::encode_member(m)))
                    .collect();
                let bytes = block::encode(recs.iter().map(|(k, v)| (&k[..], v.as_slice())));
                batch.insert(member_block_key(&run.run_id, b as u64), bytes);
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
                batch.insert(key(b'Y', &[run.run_id.as_bytes(), first]), bytes);
            }
            let p = run.portfolio.as_str().as_bytes();
            let mut pk = key(b'P', &[p, b""]);
            pk.extend_from_slice(&t.to_be_bytes());
            batch.insert(pk, run.run_id.as_bytes());
            batch.insert(
                key(b'T', &[p, run.scheme.as_bytes()]),
                run.run_id.as_bytes(),
            );
            batch.insert(run_key(&run.run_id), encode(&run)?);
            s.db.apply_batch(batch)?;
            s.db.flush()?;
            s.cache(|l| {
                l.runs.insert(
                    key(b'T', &[p, run.scheme.as_bytes()]),
                    Some(Arc::new(run.clone())),
                )
            });
            Ok(run)
        })
        .await
    }

    async fn get_run(&self, run_id: &str) -> Result<Option<TierRun>, StoreError> {
        let k = run_key(run_id);
        self.blocking(move |s| s.record(&k)).await
    }

    async fn latest_run(
        &self,
        portfolio: &PortfolioName,
        scheme: &str,
    ) -> Result<Option<Arc<TierRun>>, StoreError> {
        let k = key(b'T', &[portfolio.as_str().as_bytes(), scheme.as_bytes()]);
        if let Some(cached) = self.cached(|l| l.runs.get(&k).cloned()) {
            return Ok(cached);
        }
        self.blocking(move |s| {
            // Under the writer lock, so that a run saved meanwhile cannot be overwritten in the
            // cache by this older read.
            let _guard = s.write_lock.lock().unwrap_or_else(|e| e.into_inner());
            let run = s
                .pointed::<TierRun>(&k, |id| run_key(&String::from_utf8_lossy(id)))?
                .map(Arc::new);
            s.cache(|l| l.runs.insert(k, run.clone()));
            Ok(run)
        })
        .await
    }

    async fn list_runs(
        &self,
        portfolio: &PortfolioName,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Page<TierRun>, StoreError> {
        let prefix = key(b'P', &[portfolio.as_str().as_bytes(), b""]);
        self.blocking(move |s| {
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

    async fn run_members(
        &self,
        run_id: &str,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Result<Vec<Member>, StoreError> {
        let run_id = run_id.to_owned();
        self.blocking(move |s| {
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

    async fn run_member(
        &self,
        run_id: &str,
        customer: &CustomerId,
    ) -> Result<Option<Member>, StoreError> {
        let (run_id, customer) = (run_id.to_owned(), customer.clone());
        let rank = self
            .blocking({
                let run_id = run_id.clone();
                move |s| {
                    let prefix = key(b'Y', &[run_id.as_bytes(), b""]);
                    let upto = key(b'Y', &[run_id.as_bytes(), customer.as_str().as_bytes()]);
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
            })
            .await?;
        match rank {
            Some(r) => Ok(self.run_members(&run_id, r, r, 1).await?.pop()),
            None => Ok(None),
        }
    }

    async fn customers_page(
        &self,
        portfolio: &PortfolioName,
        after: Option<CustomerId>,
        limit: usize,
    ) -> Result<Vec<Customer>, StoreError> {
        let p = portfolio.clone();
        self.blocking(move |s| {
            let start: &[u8] = after.as_ref().map_or(b"", |a| a.as_str().as_bytes());
            // Base blocks from the one that holds `after` on; the index says which.
            let mut blocks = Vec::new();
            if let Some(m) = s.manifest(&p)? {
                let index = layer_prefix(b'X', &p, m.layer);
                let mut upto = index.clone();
                upto.extend_from_slice(start);
                let first =
                    s.db.range(index.as_slice()..=upto.as_slice())
                        .next_back()
                        .transpose()?
                        .map_or(0, |(_, v)| {
                            <[u8; 4]>::try_from(v.as_ref()).map_or(0, u32::from_be_bytes)
                        });
                let mut from = layer_prefix(b'B', &p, m.layer);
                let prefix = from.clone();
                from.extend_from_slice(&first.to_be_bytes());
                // Enough blocks to fill the page from the base alone: stop once the blocks
                // read hold `limit` records past the start.
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
            }
            let overlay_prefix = key(b'O', &[p.as_str().as_bytes(), b""]);
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
            let parsed: Vec<Block<'_>> = blocks
                .iter()
                .map(|b| Block::parse(b).map_err(|e| corrupt(b"(base block)", &e.to_string())))
                .collect::<Result<_, _>>()?;
            let streams: Vec<RecordStream<'_>> = vec![
                Box::new(overlay.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))),
                Box::new(parsed.iter().flat_map(|b| b.iter())),
            ];
            let mut out = Vec::with_capacity(limit);
            merge_sorted(streams, |id, rec, _, _| {
                if id > start && out.len() < limit {
                    out.push(codec::decode_customer(rec)?);
                }
                Ok(())
            })?;
            Ok(out)
        })
        .await
    }

    async fn save_model(&self, mut model: ValueModel) -> Result<ValueModel, StoreError> {
        self.blocking(move |s| {
            let _guard = s.write_lock.lock().unwrap_or_else(|e| e.into_inner());
            let mut t = nanos(model.fitted_at);
            while s
                .db
                .contains_key(key(b'F', &[format!("m{t:016x}").as_bytes()]))?
            {
                t = t.saturating_add(1);
            }
            model.model_id = format!("m{t:016x}");
            let mut batch = sled::Batch::default();
            batch.insert(key(b'F', &[model.model_id.as_bytes()]), encode(&model)?);
            batch.insert(
                key(b'G', &[model.portfolio.as_str().as_bytes()]),
                model.model_id.as_bytes(),
            );
            s.db.apply_batch(batch)?;
            s.db.flush()?;
            let g = key(b'G', &[model.portfolio.as_str().as_bytes()]);
            s.cache(|l| l.models.insert(g, Some(model.clone())));
            Ok(model)
        })
        .await
    }

    async fn get_model(&self, model_id: &str) -> Result<Option<ValueModel>, StoreError> {
        let k = key(b'F', &[model_id.as_bytes()]);
        self.blocking(move |s| s.record(&k)).await
    }

    async fn latest_model(
        &self,
        portfolio: &PortfolioName,
    ) -> Result<Option<ValueModel>, StoreError> {
        let g = key(b'G', &[portfolio.as_str().as_bytes()]);
        if let Some(cached) = self.cached(|l| l.models.get(&g).cloned()) {
            return Ok(cached);
        }
        self.blocking(move |s| {
            let _guard = s.write_lock.lock().unwrap_or_else(|e| e.into_inner());
            let model = s.pointed::<ValueModel>(&g, |id| key(b'F', &[id]))?;
            s.cache(|l| l.models.insert(g, model.clone()));
            Ok(model)
        })
        .await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.blocking(|s| {
            s.db.flush()?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn customer(id: &str, revenue: f64) -> Customer {
        let mut c = Customer::new(CustomerId::parse(id).unwrap());
        c.revenue = Some(revenue);
        c
    }

    async fn all(store: &SledStore, p: &PortfolioName) -> Vec<Customer> {
        let mut rx = store.scan_customers(p);
        let mut out = Vec::new();
        while let Some(chunk) = rx.recv().await {
            out.extend(chunk.unwrap());
        }
        out
    }

    async fn load(store: &SledStore, p: &PortfolioName, cs: &[Customer]) -> UpsertCounts {
        let mut l = store.begin_load(p);
        for c in cs {
            l.add(c).unwrap();
        }
        l.commit().await.unwrap()
    }

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

    fn snapshot(id: &str, tag: f64, at: OffsetDateTime) -> ValueSnapshot {
        ValueSnapshot::sample(id, tag, at)
    }

    async fn latest_score(store: &SledStore, p: &PortfolioName, id: &CustomerId) -> Option<f64> {
        let latest = store.latest_value(p, id).await.unwrap();
        latest.map(|v| v.assessment.score)
    }

    #[tokio::test]
    async fn the_latest_value_is_the_newest_by_time_and_none_is_overwritten() {
        // From the store alone, and through a small cache of latest values.
        for cached in [0, 1] {
            latest_is_newest(cached).await;
        }
    }

    async fn latest_is_newest(cached: usize) {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open_with(dir.path(), DEFAULT_CACHE_BYTES, cached).unwrap();
        let p = PortfolioName::default_portfolio();
        let id = CustomerId::parse("c1").unwrap();
        let t = OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap();
        assert_eq!(latest_score(&store, &p, &id).await, None);
        store.keep_value(&snapshot("c1", 1.0, t)).await.unwrap();
        // Older, kept later: history grows, the latest stays.
        store
            .keep_value(&snapshot("c1", 2.0, t - time::Duration::hours(1)))
            .await
            .unwrap();
        assert_eq!(latest_score(&store, &p, &id).await, Some(1.0));
        // Same nanosecond: kept beside the first, one nanosecond later, so the newest.
        store.keep_value(&snapshot("c1", 3.0, t)).await.unwrap();
        assert_eq!(latest_score(&store, &p, &id).await, Some(3.0));
        let history = store.value_history(&p, &id, None, 10).await.unwrap();
        let scores: Vec<f64> = history.items.iter().map(|v| v.assessment.score).collect();
        assert_eq!(scores, [3.0, 1.0, 2.0]);
        // Another customer's history is not this one's, even with a shared id prefix.
        store.keep_value(&snapshot("c10", 4.0, t)).await.unwrap();
        assert_eq!(latest_score(&store, &p, &id).await, Some(3.0));
    }

    #[tokio::test]
    async fn a_format_1_store_is_upgraded_and_keeps_its_values() {
        let dir = tempfile::tempdir().unwrap();
        let p = PortfolioName::default_portfolio();
        let id = CustomerId::parse("c1").unwrap();
        let t = OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            store.keep_value(&snapshot("c1", 7.0, t)).await.unwrap();
            // What format 1 also wrote: a copy of the latest value under `L`.
            let l = key(b'L', &[b"default", b"c1"]);
            store.db.insert(&l, &b"{stale copy}"[..]).unwrap();
            store.db.insert(FORMAT_KEY, &b"1"[..]).unwrap();
            store.db.flush().unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(
            store.db.get(FORMAT_KEY).unwrap().unwrap().as_ref(),
            FORMAT_VERSION.to_string().as_bytes()
        );
        assert_eq!(store.db.scan_prefix(b"L").count(), 0);
        assert_eq!(latest_score(&store, &p, &id).await, Some(7.0));
    }

    #[test]
    fn refuses_unknown_formats() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::open(dir.path()).unwrap();
            db.insert(FORMAT_KEY, &b"99"[..]).unwrap();
            db.flush().unwrap();
        }
        let err = SledStore::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("format version 99"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::open(dir.path()).unwrap();
            db.insert(b"Cstray", &b"x"[..]).unwrap();
            db.flush().unwrap();
        }
        let err = SledStore::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("without a version key"), "{err}");
    }
}
