//! Fitted value models: the model record and the pointer to each portfolio's latest.
//!
//! A model id is its fit time in hex (`m` and 16 digits), bumped past any id taken.

use super::keys::{latest_model_key, model_key};
use super::{encode, nanos, SledStore};
use crate::domain::id::PortfolioName;
use crate::domain::snapshot::ValueModel;
use crate::store::StoreError;

pub(super) async fn save(s: &SledStore, mut model: ValueModel) -> Result<ValueModel, StoreError> {
    s.blocking(move |s| {
        let _guard = s.writers();
        let mut t = nanos(model.fitted_at);
        while s
            .db
            .contains_key(model_key(format!("m{t:016x}").as_bytes()))?
        {
            t = t.saturating_add(1);
        }
        model.model_id = format!("m{t:016x}");
        let mut batch = sled::Batch::default();
        batch.insert(model_key(model.model_id.as_bytes()), encode(&model)?);
        batch.insert(
            latest_model_key(&model.portfolio),
            model.model_id.as_bytes(),
        );
        s.db.apply_batch(batch)?;
        s.db.flush()?;
        let g = latest_model_key(&model.portfolio);
        s.latest.cache(|l| l.models.insert(g, Some(model.clone())));
        Ok(model)
    })
    .await
}

pub(super) async fn get(s: &SledStore, model_id: &str) -> Result<Option<ValueModel>, StoreError> {
    let k = model_key(model_id.as_bytes());
    s.blocking(move |s| s.record(&k)).await
}

pub(super) async fn latest(
    s: &SledStore,
    portfolio: &PortfolioName,
) -> Result<Option<ValueModel>, StoreError> {
    let g = latest_model_key(portfolio);
    if let Some(cached) = s.latest.cached(|l| l.models.get(&g).cloned()) {
        return Ok(cached);
    }
    s.blocking(move |s| {
        let _guard = s.writers();
        let model = s.pointed::<ValueModel>(&g, model_key)?;
        s.latest.cache(|l| l.models.insert(g, model.clone()));
        Ok(model)
    })
    .await
}
