//! Format versions of the sled layout: which ones this build opens, and the upgrade from the
//! older one.
//!
//! Format 1 also kept an `L` copy of each customer's latest value, which needed a batch per
//! kept score; format 2 reads the latest value from the end of the history instead, so opening
//! a format-1 store drops those copies and records the new version.

use std::path::Path;

use super::keys::{FORMAT_1_LATEST_KIND, FORMAT_KEY};
use crate::store::StoreError;

/// Version of the on-disk layout this build reads and writes. It also opens format 1 and
/// upgrades it in place.
pub const FORMAT_VERSION: u32 = 2;

/// Accepts the store in `db` (at `dir`) if it is of this build's format, upgrades it if it is
/// of format 1, and stamps an empty one; anything else is refused rather than misread.
pub(super) fn check_format(db: &sled::Db, dir: &Path) -> Result<(), StoreError> {
    let refuse = |found: String| StoreError::UnknownFormat {
        path: dir.display().to_string(),
        found,
        supported: format!("version {FORMAT_VERSION} (and upgrades version 1)"),
    };
    match db.get(FORMAT_KEY)? {
        Some(v) if v.as_ref() == FORMAT_VERSION.to_string().as_bytes() => {}
        Some(v) if v.as_ref() == b"1" => upgrade_from_1(db)?,
        Some(v) => return Err(refuse(String::from_utf8_lossy(&v).into_owned())),
        None if db.is_empty() => {
            db.insert(FORMAT_KEY, FORMAT_VERSION.to_string().as_bytes())?;
            db.flush()?;
        }
        None => return Err(refuse("none (records without a version key)".to_owned())),
    }
    Ok(())
}

/// Format 1 → 2: drops the `L` copies of each customer's latest value (the newest history
/// record is the latest value in both formats), then records the new version, in one batch.
fn upgrade_from_1(db: &sled::Db) -> Result<(), StoreError> {
    let mut batch = sled::Batch::default();
    let mut dropped = 0u64;
    for k in db.scan_prefix(FORMAT_1_LATEST_KIND).keys() {
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

#[cfg(test)]
mod tests {
    use super::super::keys::key;
    use super::super::testing::{latest_score, snapshot};
    use super::super::SledStore;
    use super::*;
    use crate::domain::id::{CustomerId, PortfolioName};
    use crate::store::Store;
    use time::OffsetDateTime;

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
