//! The secret that signs page tokens: 32 random bytes under one `M` key, written once.
//!
//! It is made on first use rather than when the store is created, so that stores created by
//! earlier builds get one too; after that it never changes, and it is held in memory.

use super::keys::PAGE_TOKEN_KEY;
use super::{corrupt, SledStore};
use crate::store::StoreError;

pub(super) async fn key(s: &SledStore) -> Result<[u8; 32], StoreError> {
    if let Some(key) = s.page_token.get() {
        return Ok(*key);
    }
    let key = s.blocking(|s| s.write(read_or_make)).await?;
    Ok(*s.page_token.get_or_init(|| key))
}

/// The stored secret, or a new one stored. Under the writer lock, so that concurrent first
/// calls agree; through [`SledStore::write`] even when it was already there, so that a secret
/// whose first flush failed is durable before anyone relies on it.
fn read_or_make(db: &sled::Db) -> Result<[u8; 32], StoreError> {
    if let Some(v) = db.get(PAGE_TOKEN_KEY)? {
        return <[u8; 32]>::try_from(v.as_ref())
            .map_err(|_| corrupt(PAGE_TOKEN_KEY, "a page-token secret is 32 bytes"));
    }
    let mut key = [0u8; 32];
    getrandom::fill(&mut key)
        .map_err(|e| StoreError::backend("the operating system's random source", e))?;
    db.insert(PAGE_TOKEN_KEY, &key[..])?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[tokio::test]
    async fn the_secret_is_stored_once_under_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        assert!(store.db.get(PAGE_TOKEN_KEY).unwrap().is_none());
        let key = store.page_token_key().await.unwrap();
        let stored = store.db.get(PAGE_TOKEN_KEY).unwrap().unwrap();
        assert_eq!(stored.as_ref(), &key[..]);
        // A store that has one keeps it: what is on disk wins over nothing in memory.
        drop(store);
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.page_token_key().await.unwrap(), key);
    }

    #[tokio::test]
    async fn a_secret_of_the_wrong_length_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        store.db.insert(PAGE_TOKEN_KEY, &b"short"[..]).unwrap();
        let err = store.page_token_key().await.err().unwrap();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    }
}
