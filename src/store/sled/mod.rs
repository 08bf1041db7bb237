//! The sled implementation of [`Store`].
//!
//! The key layout is in [`keys`]; each kind of record has its own file: [`customers`] (a base
//! of blocks plus an overlay, loads, scans and pages), [`values`] (kept values), [`runs`],
//! [`models`] and [`page_token`]. [`cache`] holds what is kept in memory, [`commit`] the
//! group commit, and [`upgrade`] the format versions. Bulk records are stored as
//! [blocks](block) of [binary](codec) records; the others as JSON.
//!
//! # Durability
//! sled calls block, so each one runs on tokio's blocking pool. Writes are serialised by a
//! mutex (so insert/update counts are exact), applied as one batch where they touch several
//! records, and flushed before the call returns; a kept score is one record claimed with a
//! compare-and-swap and needs no lock. Concurrent writers share flushes (group commit).

mod block;
mod cache;
mod codec;
mod commit;
mod customers;
mod keys;
mod models;
mod page_token;
mod runs;
mod upgrade;
mod values;

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;

use self::cache::{LatestCache, ValueCache};
use self::commit::GroupCommit;
use super::{CustomerLoad, CustomerScan, Page, Store, StoreError};
use crate::domain::customer::Customer;
use crate::domain::id::{CustomerId, PortfolioName};
use crate::domain::pyramid::Member;
use crate::domain::snapshot::{TierRun, ValueModel, ValueSnapshot};

/// Page cache of the store unless configured: enough for the hot blocks of a few million
/// customers while keeping the server's memory well under a gigabyte.
pub const DEFAULT_CACHE_BYTES: u64 = 256 * 1024 * 1024;

/// Customers whose latest value is held in memory by default: about 30 MB.
pub const DEFAULT_VALUE_CACHE_ENTRIES: usize = 20_000;

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
    latest: Arc<LatestCache>,
    /// The page-token secret once read or made: it never changes.
    page_token: Arc<OnceLock<[u8; 32]>>,
}

/// sled's errors keep their whole chain as the source.
impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::backend("sled", e)
    }
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
        let db = open_db(dir, cache_bytes)?;
        upgrade::check_format(&db, dir)?;
        Ok(Self {
            db,
            write_lock: Arc::new(Mutex::new(())),
            commits: Arc::default(),
            values: Arc::new(ValueCache::new(value_entries)),
            latest: Arc::default(),
            page_token: Arc::default(),
        })
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
}

/// How long opening waits for the directory lock of a store closed a moment ago.
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// Opens the sled database in `dir`. sled locks the directory, and lets go of the lock only
/// when the last of its background jobs for the previous handle is done: these run on a pool
/// shared by every database in the process, so reopening a store just closed in the same
/// process can find it still locked for a moment. That wait is bounded; a store held by
/// another process is still refused.
fn open_db(dir: &Path, cache_bytes: u64) -> Result<sled::Db, StoreError> {
    let started = Instant::now();
    loop {
        match sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .open()
        {
            Ok(db) => return Ok(db),
            // sled 0.34 reports a held lock only by this message.
            Err(sled::Error::Io(e))
                if e.to_string().starts_with("could not acquire lock")
                    && started.elapsed() < LOCK_WAIT =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(StoreError::backend("sled, opening the database", e)),
        }
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

#[async_trait::async_trait]
impl Store for SledStore {
    fn begin_load(&self, portfolio: &PortfolioName) -> Box<dyn CustomerLoad> {
        customers::begin_load(self, portfolio)
    }

    async fn get_customer(
        &self,
        portfolio: &PortfolioName,
        id: &CustomerId,
    ) -> Result<Option<Customer>, StoreError> {
        customers::get(self, portfolio, id).await
    }

    async fn get_customers(
        &self,
        portfolio: &PortfolioName,
        ids: &[CustomerId],
    ) -> Result<Vec<Option<Customer>>, StoreError> {
        customers::get_many(self, portfolio, ids).await
    }

    fn scan_customers(&self, portfolio: &PortfolioName) -> CustomerScan {
        customers::scan(self, portfolio)
    }

    async fn customers_page(
        &self,
        portfolio: &PortfolioName,
        after: Option<CustomerId>,
        limit: usize,
    ) -> Result<Vec<Customer>, StoreError> {
        customers::page(self, portfolio, after, limit).await
    }

    async fn keep_value(&self, value: &ValueSnapshot) -> Result<(), StoreError> {
        values::keep(self, value).await
    }

    async fn latest_value(
        &self,
        portfolio: &PortfolioName,
        id: &CustomerId,
    ) -> Result<Option<ValueSnapshot>, StoreError> {
        values::latest(self, portfolio, id).await
    }

    async fn value_history(
        &self,
        portfolio: &PortfolioName,
        id: &CustomerId,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Page<ValueSnapshot>, StoreError> {
        values::history(self, portfolio, id, after, limit).await
    }

    async fn save_run(&self, run: TierRun, members: Vec<Member>) -> Result<TierRun, StoreError> {
        runs::save(self, run, members).await
    }

    async fn get_run(&self, run_id: &str) -> Result<Option<TierRun>, StoreError> {
        runs::get(self, run_id).await
    }

    async fn latest_run(
        &self,
        portfolio: &PortfolioName,
        scheme: &str,
    ) -> Result<Option<Arc<TierRun>>, StoreError> {
        runs::latest(self, portfolio, scheme).await
    }

    async fn list_runs(
        &self,
        portfolio: &PortfolioName,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Page<TierRun>, StoreError> {
        runs::list(self, portfolio, after, limit).await
    }

    async fn run_members(
        &self,
        run_id: &str,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Result<Vec<Member>, StoreError> {
        runs::members(self, run_id, from, to, limit).await
    }

    async fn run_member(
        &self,
        run_id: &str,
        customer: &CustomerId,
    ) -> Result<Option<Member>, StoreError> {
        runs::member(self, run_id, customer).await
    }

    async fn save_model(&self, model: ValueModel) -> Result<ValueModel, StoreError> {
        models::save(self, model).await
    }

    async fn get_model(&self, model_id: &str) -> Result<Option<ValueModel>, StoreError> {
        models::get(self, model_id).await
    }

    async fn latest_model(
        &self,
        portfolio: &PortfolioName,
    ) -> Result<Option<ValueModel>, StoreError> {
        models::latest(self, portfolio).await
    }

    async fn page_token_key(&self) -> Result<[u8; 32], StoreError> {
        page_token::key(self).await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.blocking(|s| {
            s.db.flush()?;
            Ok(())
        })
        .await
    }
}

/// What the tests of the sled folder share.
#[cfg(test)]
mod testing {
    use super::*;
    use crate::store::UpsertCounts;
    use time::OffsetDateTime;

    pub fn customer(id: &str, revenue: f64) -> Customer {
        let mut c = Customer::new(CustomerId::parse(id).unwrap());
        c.revenue = Some(revenue);
        c
    }

    pub async fn all(store: &SledStore, p: &PortfolioName) -> Vec<Customer> {
        let mut rx = store.scan_customers(p);
        let mut out = Vec::new();
        while let Some(chunk) = rx.recv().await {
            out.extend(chunk.unwrap());
        }
        out
    }

    pub async fn load(store: &SledStore, p: &PortfolioName, cs: &[Customer]) -> UpsertCounts {
        let mut l = store.begin_load(p);
        for c in cs {
            l.add(c).unwrap();
        }
        l.commit().await.unwrap()
    }

    pub fn snapshot(id: &str, tag: f64, at: OffsetDateTime) -> ValueSnapshot {
        ValueSnapshot::sample(id, tag, at)
    }

    pub async fn latest_score(
        store: &SledStore,
        p: &PortfolioName,
        id: &CustomerId,
    ) -> Option<f64> {
        let latest = store.latest_value(p, id).await.unwrap();
        latest.map(|v| v.assessment.score)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn an_engine_error_is_kept_whole_as_the_source() {
        // A plain file where the database directory should be: sled cannot open it.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-directory");
        std::fs::write(&file, b"x").unwrap();
        let err = SledStore::open(&file).err().unwrap();
        let StoreError::Backend { context, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(*context, "sled, opening the database");
        let source = err.source().expect("the engine's error is the source");
        assert!(source.downcast_ref::<sled::Error>().is_some(), "{source:?}");
        // The message is the context; the engine's words are the source's.
        assert!(err.to_string().contains("opening the database"), "{err}");
    }

    #[test]
    fn opening_waits_for_a_lock_let_go_of_meanwhile_but_not_for_ever() {
        let dir = tempfile::tempdir().unwrap();
        let held = SledStore::open(dir.path()).unwrap();
        let started = Instant::now();
        let err = SledStore::open(dir.path()).err().unwrap();
        assert!(started.elapsed() >= LOCK_WAIT, "{:?}", started.elapsed());
        let cause = err.source().map(|s| s.to_string()).unwrap_or_default();
        assert!(cause.contains("could not acquire lock"), "{err}: {cause}");
        // Let go of while the second open waits: it gets the store.
        let closer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            drop(held);
        });
        SledStore::open(dir.path()).unwrap();
        closer.join().unwrap();
    }
}
