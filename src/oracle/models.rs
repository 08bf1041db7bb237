//! The portfolio's probabilistic customer-base models: fit, read, predict.

use super::customers::no_customer;
use super::{blocking, Oracle, OracleError, Result};
use crate::domain::id::{shown, CustomerId, PortfolioName};
use crate::domain::models::portfolio::fit_portfolio;
use crate::domain::models::{predict_many, ModelError, Prediction, TimeUnit};
use crate::domain::snapshot::ValueModel;

/// Longest model id accepted: ids are `m` and 16 hex digits.
const MAX_MODEL_ID: usize = 64;

/// Which customers to predict for.
#[derive(Debug, Clone)]
pub enum Selection {
    /// These customers; NOT_FOUND if one is not stored.
    Ids(Vec<CustomerId>),
    /// All customers by id, a page at a time: those after `after`, at most `limit`.
    Page {
        after: Option<CustomerId>,
        limit: usize,
    },
}

/// What to predict.
#[derive(Debug, Clone, Copy)]
pub struct Horizon {
    /// Of expected purchases, in the model's time unit; one year when `None`.
    pub purchases: Option<f64>,
    /// Months of model CLV.
    pub clv_months: u32,
    /// Monthly discount rate of model CLV.
    pub monthly_discount: f64,
}

/// Predictions of the portfolio's latest model.
#[derive(Debug, Clone)]
pub struct Predictions {
    pub model_id: String,
    /// Customers without a purchase summary are left out.
    pub items: Vec<(CustomerId, Prediction)>,
    /// With [`Selection::Page`]: the last customer of a full page, to continue after.
    pub next: Option<CustomerId>,
}

impl From<ModelError> for OracleError {
    fn from(e: ModelError) -> Self {
        match e {
            ModelError::TooFewCustomers { .. } | ModelError::InvalidInput { .. } => {
                OracleError::FailedPrecondition(e.to_string())
            }
            ModelError::NotConverged { .. } => {
                OracleError::FailedPrecondition(format!("{e}; nothing was stored"))
            }
            ModelError::Optimiser(_) => OracleError::Internal(e.to_string()),
        }
    }
}

impl Oracle {
    /// Fits the purchase-count model to the purchase summaries of the portfolio's stored
    /// customers (those with frequency, recency and t) and the spend model to those with
    /// repeat purchases and a monetary value, and keeps them as the portfolio's latest model.
    /// Nothing is stored unless both fits converged.
    pub async fn fit_value_model(
        &self,
        portfolio: PortfolioName,
        unit: TimeUnit,
        penalizer: f64,
    ) -> Result<ValueModel> {
        let mut scan = self.store.scan_customers(&portfolio);
        let fit = blocking("fitting", move || {
            let (mut counts, mut spend) = (Vec::new(), Vec::new());
            while let Some(chunk) = scan.blocking_recv() {
                for c in chunk? {
                    let s = c.purchases;
                    if let (Some(x), Some(t_x), Some(t)) = (s.frequency, s.recency, s.t) {
                        counts.push((x, t_x, t));
                        if let Some(m) = s.monetary_value.filter(|_| x > 0.0) {
                            spend.push((x, m));
                        }
                    }
                }
            }
            let started = std::time::Instant::now();
            let fit = fit_portfolio(&counts, &spend, unit, penalizer)?;
            tracing::debug!(customers = counts.len(), took = ?started.elapsed(), "models fitted");
            Ok(fit)
        })
        .await?;
        let model = ValueModel::from_fit(portfolio, &fit, self.clock.now());
        Ok(self.store.save_model(model).await?)
    }

    /// A model by id, or NOT_FOUND.
    pub async fn model(&self, model_id: &str) -> Result<ValueModel> {
        if model_id.is_empty() || model_id.len() > MAX_MODEL_ID {
            return Err(OracleError::invalid("model_id", "is not a model id"));
        }
        self.store
            .get_model(model_id)
            .await?
            .ok_or_else(|| OracleError::NotFound(format!("no value model \"{}\"", shown(model_id))))
    }

    /// The portfolio's latest model, or NOT_FOUND.
    pub async fn latest_model(&self, portfolio: &PortfolioName) -> Result<ValueModel> {
        self.store.latest_model(portfolio).await?.ok_or_else(|| {
            OracleError::NotFound(format!(
                "portfolio \"{portfolio}\" has no fitted value model"
            ))
        })
    }

    /// P(alive), expected purchases, expected average value and model CLV of the selected
    /// customers, from the portfolio's latest model (FAILED_PRECONDITION without one).
    pub async fn predict(
        &self,
        portfolio: &PortfolioName,
        selection: Selection,
        horizon: Horizon,
    ) -> Result<Predictions> {
        let model = self.store.latest_model(portfolio).await?.ok_or_else(|| {
            OracleError::FailedPrecondition(format!(
                "portfolio \"{portfolio}\" has no fitted value model: call FitValueModel first"
            ))
        })?;
        let fitted = model.models();
        let purchases = horizon
            .purchases
            .unwrap_or(12.0 * fitted.time_unit.per_month());
        let (customers, next) = match selection {
            Selection::Page { after, limit } => {
                let page = self.store.customers_page(portfolio, after, limit).await?;
                let next = (page.len() == limit)
                    .then(|| page.last().map(|c| c.id.clone()))
                    .flatten();
                (page, next)
            }
            Selection::Ids(ids) => {
                let found = self.store.get_customers(portfolio, &ids).await?;
                let found = ids
                    .iter()
                    .zip(found)
                    .map(|(id, c)| c.ok_or_else(|| no_customer(portfolio, id)))
                    .collect::<Result<Vec<_>>>()?;
                (found, None)
            }
        };
        let summaries: Vec<_> = customers.iter().map(|c| c.purchases).collect();
        let predictions = predict_many(
            &fitted,
            &summaries,
            purchases,
            horizon.clv_months,
            horizon.monthly_discount,
        );
        let items = customers
            .into_iter()
            .zip(predictions)
            .filter_map(|(c, p)| p.map(|p| (c.id, p)))
            .collect();
        Ok(Predictions {
            model_id: model.model_id,
            items,
            next,
        })
    }
}
