//! What the sled store keeps in memory: the latest kept value of recently read or kept
//! customers, and the latest run and model of each portfolio.
//!
//! # The value cache
//! GetCustomerValue is the read sales tools make over and over for the same customers; from
//! sled, each one is a trip through tokio's blocking pool, which cost more than half of the
//! call. Hits are answered from here without touching the store.
//!
//! # Never stale
//! An entry is the newest value the cache was offered for its customer, compared by history
//! key (customer, then time), so a kept value always replaces an older one and never the
//! reverse. A value read from the store is only cached if no kept value was offered between
//! the start of the read and the offer: otherwise the read may have missed that value while
//! the entry holding it was evicted, and caching the read would bring an older value back.
//!
//! # The latest run and model
//! Every score reads its portfolio's latest run and model. [`LatestCache`] holds them (and
//! remembers that there is none yet), filled on first read and replaced on save; both happen
//! under the writer lock, so that an older read cannot overwrite a newer save.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use crate::domain::snapshot::{TierRun, ValueModel, ValueSnapshot};

/// A bounded map from a customer's history prefix to (history key, latest value).
#[derive(Debug)]
pub struct ValueCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<Vec<u8>, (Vec<u8>, Arc<ValueSnapshot>)>,
    /// Kept values offered so far.
    kept: u64,
}

/// Taken before a store read: whether a kept value was offered since.
#[derive(Debug, Clone, Copy)]
pub struct ReadStamp(u64);

impl ValueCache {
    /// Holds at most `capacity` customers; 0 caches nothing.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock only means a thread panicked between two consistent states.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, customer: &[u8]) -> Option<Arc<ValueSnapshot>> {
        if self.capacity == 0 {
            return None;
        }
        self.lock().entries.get(customer).map(|(_, v)| v.clone())
    }

    /// Call before reading the latest value from the store; pass the stamp to
    /// [`ValueCache::offer_read`].
    pub fn stamp(&self) -> ReadStamp {
        ReadStamp(self.lock().kept)
    }

    /// A value just made durable under `key`.
    pub fn offer_kept(&self, customer: &[u8], key: &[u8], value: Arc<ValueSnapshot>) {
        let mut inner = self.lock();
        inner.kept += 1;
        self.insert_if_newer(&mut inner, customer, key, value);
    }

    /// The latest value read from the store under `key`, by a read that took `stamp` first.
    pub fn offer_read(
        &self,
        stamp: ReadStamp,
        customer: &[u8],
        key: &[u8],
        value: Arc<ValueSnapshot>,
    ) {
        let mut inner = self.lock();
        if inner.kept == stamp.0 {
            self.insert_if_newer(&mut inner, customer, key, value);
        }
    }

    fn insert_if_newer(
        &self,
        inner: &mut Inner,
        customer: &[u8],
        key: &[u8],
        value: Arc<ValueSnapshot>,
    ) {
        if self.capacity == 0 {
            return;
        }
        match inner.entries.get_mut(customer) {
            Some(entry) => {
                if entry.0.as_slice() < key {
                    *entry = (key.to_vec(), value);
                }
            }
            None => {
                if inner.entries.len() >= self.capacity {
                    // Evict whichever entry the hash order gives first: as good as random,
                    // and free of bookkeeping on the read path.
                    if let Some(victim) = inner.entries.keys().next().cloned() {
                        inner.entries.remove(&victim);
                    }
                }
                inner
                    .entries
                    .insert(customer.to_vec(), (key.to_vec(), value));
            }
        }
    }
}

/// Most portfolio/scheme entries the latest-snapshot cache holds.
const LATEST_CACHE_ENTRIES: usize = 10_000;

/// Cached "latest" snapshots, by their pointer key; `None` entries remember that there is none
/// yet.
#[derive(Default)]
pub struct Latest {
    pub runs: HashMap<Vec<u8>, Option<Arc<TierRun>>>,
    pub models: HashMap<Vec<u8>, Option<ValueModel>>,
}

/// The latest run of each portfolio and scheme and the latest model of each portfolio.
#[derive(Default)]
pub struct LatestCache {
    inner: RwLock<Latest>,
}

impl LatestCache {
    /// What `f` finds in the cache.
    pub fn cached<T>(&self, f: impl FnOnce(&Latest) -> Option<T>) -> Option<T> {
        // A poisoned lock only means a panic elsewhere while holding it; the map is intact.
        f(&self.inner.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Lets `f` change the cache.
    pub fn cache<T>(&self, f: impl FnOnce(&mut Latest) -> T) -> T {
        let mut latest = self.inner.write().unwrap_or_else(|e| e.into_inner());
        // Callers choose portfolio names, so the cache is bounded: past the bound it starts
        // over (it refills from the store on demand).
        if latest.runs.len() + latest.models.len() > LATEST_CACHE_ENTRIES {
            *latest = Latest::default();
        }
        f(&mut latest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn value(tag: f64) -> Arc<ValueSnapshot> {
        Arc::new(ValueSnapshot::sample("c", tag, OffsetDateTime::UNIX_EPOCH))
    }

    fn score(cache: &ValueCache, customer: &[u8]) -> Option<f64> {
        cache.get(customer).map(|v| v.assessment.score)
    }

    #[test]
    fn a_newer_key_wins_whatever_the_order_of_offers() {
        let cache = ValueCache::new(10);
        cache.offer_kept(b"a", b"a2", value(2.0));
        cache.offer_kept(b"a", b"a1", value(1.0));
        assert_eq!(score(&cache, b"a"), Some(2.0));
        let stamp = cache.stamp();
        cache.offer_read(stamp, b"a", b"a3", value(3.0));
        assert_eq!(score(&cache, b"a"), Some(3.0));
    }

    #[test]
    fn a_read_overtaken_by_a_kept_value_is_not_cached() {
        let cache = ValueCache::new(1);
        let stamp = cache.stamp();
        // The read found a1; meanwhile a2 was kept and then evicted by another customer.
        cache.offer_kept(b"a", b"a2", value(2.0));
        cache.offer_kept(b"b", b"b1", value(9.0));
        assert_eq!(score(&cache, b"a"), None);
        cache.offer_read(stamp, b"a", b"a1", value(1.0));
        // Caching a1 now would answer an older value than the store holds.
        assert_eq!(score(&cache, b"a"), None);
    }

    #[test]
    fn capacity_bounds_the_entries_and_zero_disables() {
        let cache = ValueCache::new(3);
        for i in 0..10u8 {
            cache.offer_kept(&[i], &[i, 1], value(f64::from(i)));
        }
        assert_eq!(cache.lock().entries.len(), 3);
        assert_eq!(score(&cache, &[9]), Some(9.0));
        let off = ValueCache::new(0);
        off.offer_kept(b"a", b"a1", value(1.0));
        assert_eq!(score(&off, b"a"), None);
    }
}
