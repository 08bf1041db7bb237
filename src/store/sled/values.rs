//! Kept values: each customer's history of value snapshots, append-only.
//!
//! A snapshot's key is its customer's history prefix and its time (see [`super::keys`]), so the
//! newest by time is the last key of the history, whatever order snapshots were kept in; the
//! [value cache](super::cache) answers the latest value of hot customers from memory.

use std::sync::Arc;

use super::keys::history_prefix;
use super::{decode, encode, nanos, newest_first, SledStore};
use crate::domain::id::{CustomerId, PortfolioName};
use crate::domain::snapshot::ValueSnapshot;
use crate::store::{Page, StoreError};

pub(super) async fn keep(s: &SledStore, value: &ValueSnapshot) -> Result<(), StoreError> {
    let value = Arc::new(value.clone());
    s.blocking(move |s| {
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
                match s
                    .db
                    .compare_and_swap(&k, None as Option<&[u8]>, Some(bytes.as_slice()))?
                {
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

pub(super) async fn latest(
    s: &SledStore,
    portfolio: &PortfolioName,
    id: &CustomerId,
) -> Result<Option<ValueSnapshot>, StoreError> {
    let prefix = history_prefix(portfolio, id);
    if let Some(v) = s.values.get(&prefix) {
        return Ok(Some((*v).clone()));
    }
    let stamp = s.values.stamp();
    // The latest is the newest by time, the last key of the history.
    s.blocking(move |s| match s.db.scan_prefix(&prefix).next_back() {
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

pub(super) async fn history(
    s: &SledStore,
    portfolio: &PortfolioName,
    id: &CustomerId,
    after: Option<u64>,
    limit: usize,
) -> Result<Page<ValueSnapshot>, StoreError> {
    let prefix = history_prefix(portfolio, id);
    s.blocking(move |s| newest_first(s, &prefix, after, limit, decode))
        .await
}

#[cfg(test)]
mod tests {
    use super::super::testing::{latest_score, snapshot};
    use super::super::DEFAULT_CACHE_BYTES;
    use super::*;
    use crate::store::Store;
    use time::OffsetDateTime;

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
}
