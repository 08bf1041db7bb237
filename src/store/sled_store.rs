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
//! | `C` portfolio `0` customer | customer facts (JSON) |
//! | `V` portfolio `0` customer `0` nanos (u64 BE) | a value snapshot (JSON), append-only |
//! | `L` portfolio `0` customer | the latest value snapshot (JSON) |
//!
//! Value keys order by customer then time, so a customer's history is one range scan, read
//! backwards for newest first.
//!
//! # Durability
//! sled calls block, so each one runs on tokio's blocking pool. Writes are serialised by a
//! mutex (so insert/update counts are exact and time keys unique), applied as one batch and
//! flushed before the call returns.

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Page, Store, StoreError, UpsertCounts, FORMAT_VERSION};
use crate::domain::customer::Customer;
use crate::domain::id::{CustomerId, PortfolioName};
use crate::domain::snapshot::ValueSnapshot;

const FORMAT_KEY: &[u8] = b"Mformat_version";
const SEP: u8 = 0;

/// A [`Store`] on a sled database in one directory.
#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
    /// Serialises writers; see the module docs.
    write_lock: Arc<Mutex<()>>,
}

impl SledStore {
    /// Opens (or creates) the store in `dir`. Refuses a store written in another layout
    /// version, or a non-empty database without a version, rather than misreading it.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new().path(dir).open()?;
        match db.get(FORMAT_KEY)? {
            Some(v) if v.as_ref() == FORMAT_VERSION.to_string().as_bytes() => {}
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

    /// Runs a write under the writer lock, then flushes.
    fn write<T>(
        &self,
        f: impl FnOnce(&sled::Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // A poisoned lock only means another writer panicked; the database itself is intact.
        let _guard = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let out = f(&self.db)?;
        self.db.flush()?;
        Ok(out)
    }
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

fn customer_key(p: &PortfolioName, id: &CustomerId) -> Vec<u8> {
    key(b'C', &[p.as_str().as_bytes(), id.as_str().as_bytes()])
}

fn latest_key(p: &PortfolioName, id: &CustomerId) -> Vec<u8> {
    key(b'L', &[p.as_str().as_bytes(), id.as_str().as_bytes()])
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

#[tonic::async_trait]
impl Store for SledStore {
    async fn upsert_customers(
        &self,
        portfolio: &PortfolioName,
        customers: Vec<Customer>,
    ) -> Result<UpsertCounts, StoreError> {
        let portfolio = portfolio.clone();
        self.blocking(move |s| {
            s.write(|db| {
                let mut batch = sled::Batch::default();
                let mut counts = UpsertCounts::default();
                for c in &customers {
                    let k = customer_key(&portfolio, &c.id);
                    if db.contains_key(&k)? {
                        counts.updated += 1;
                    } else {
                        counts.inserted += 1;
                    }
                    batch.insert(k, encode(c)?);
                }
                db.apply_batch(batch)?;
                Ok(counts)
            })
        })
        .await
    }

    async fn get_customer(
        &self,
        portfolio: &PortfolioName,
        id: &CustomerId,
    ) -> Result<Option<Customer>, StoreError> {
        let k = customer_key(portfolio, id);
        self.blocking(move |s| match s.db.get(&k)? {
            Some(v) => decode(&k, &v).map(Some),
            None => Ok(None),
        })
        .await
    }

    async fn keep_value(&self, value: &ValueSnapshot) -> Result<(), StoreError> {
        let value = value.clone();
        self.blocking(move |s| {
            s.write(|db| {
                let prefix = history_prefix(&value.portfolio, &value.customer_id);
                // Keys are unique: two snapshots in the same nanosecond (or a clock stepped
                // back) take the next free nanosecond, so none is ever overwritten.
                let mut t = nanos(value.scored_at);
                let mut k;
                loop {
                    k = prefix.clone();
                    k.extend_from_slice(&t.to_be_bytes());
                    if !db.contains_key(&k)? {
                        break;
                    }
                    t = t.saturating_add(1);
                }
                // The latest is the newest by key, not the last written.
                let newest = db.scan_prefix(&prefix).keys().next_back().transpose()?;
                let bytes = encode(&value)?;
                let mut batch = sled::Batch::default();
                if newest.is_none_or(|n| n.as_ref() < k.as_slice()) {
                    batch.insert(
                        latest_key(&value.portfolio, &value.customer_id),
                        bytes.clone(),
                    );
                }
                batch.insert(k, bytes);
                db.apply_batch(batch)?;
                Ok(())
            })
        })
        .await
    }

    async fn latest_value(
        &self,
        portfolio: &PortfolioName,
        id: &CustomerId,
    ) -> Result<Option<ValueSnapshot>, StoreError> {
        let k = latest_key(portfolio, id);
        self.blocking(move |s| match s.db.get(&k)? {
            Some(v) => decode(&k, &v).map(Some),
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
        self.blocking(move |s| {
            let mut end = prefix.clone();
            let range = match after {
                Some(t) => {
                    end.extend_from_slice(&t.to_be_bytes());
                    s.db.range(prefix.clone()..end)
                }
                None => s.db.scan_prefix(&prefix),
            };
            let mut items = Vec::new();
            let mut last = None;
            let mut more = false;
            for entry in range.rev() {
                let (k, v) = entry?;
                if items.len() == limit {
                    more = true;
                    break;
                }
                items.push(decode::<ValueSnapshot>(&k, &v)?);
                let tail: [u8; 8] =
                    k[k.len().saturating_sub(8)..]
                        .try_into()
                        .map_err(|_| StoreError::Corrupt {
                            key: String::from_utf8_lossy(&k).into_owned(),
                            reason: "history key without a time".to_owned(),
                        })?;
                last = Some(u64::from_be_bytes(tail));
            }
            // Only hand out a cursor when something follows it.
            let next = if more { last } else { None };
            Ok(Page { items, next })
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
