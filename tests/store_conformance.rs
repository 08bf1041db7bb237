//! The sled store against the store contract's conformance suite, with and without the cache
//! of latest values (which answers reads the suite checks from memory).

use cvo::store::conformance::{run_all, Backend};
use cvo::store::{SledStore, StoreError, DEFAULT_CACHE_BYTES, DEFAULT_VALUE_CACHE_ENTRIES};
use tempfile::TempDir;

/// Sled stores in temporary directories, holding the latest values of up to `value_entries`
/// customers in memory.
struct Sled {
    value_entries: usize,
}

#[async_trait::async_trait]
impl Backend for Sled {
    type Store = SledStore;
    type Place = TempDir;

    async fn create(&self) -> Result<(SledStore, TempDir), StoreError> {
        let dir =
            tempfile::tempdir().map_err(|e| StoreError::backend("a temporary directory", e))?;
        let store = SledStore::open_with(dir.path(), DEFAULT_CACHE_BYTES, self.value_entries)?;
        Ok((store, dir))
    }

    async fn reopen(&self, dir: &TempDir) -> Result<SledStore, StoreError> {
        SledStore::open_with(dir.path(), DEFAULT_CACHE_BYTES, self.value_entries)
    }
}

#[tokio::test]
async fn sled_without_a_value_cache_conforms() {
    run_all(&Sled { value_entries: 0 }).await.assert_passed();
}

#[tokio::test]
async fn sled_with_a_value_cache_conforms() {
    run_all(&Sled {
        value_entries: DEFAULT_VALUE_CACHE_ENTRIES,
    })
    .await
    .assert_passed();
}

/// A cache of one customer evicts on nearly every kept value.
#[tokio::test]
async fn sled_with_a_one_customer_value_cache_conforms() {
    run_all(&Sled { value_entries: 1 }).await.assert_passed();
}
