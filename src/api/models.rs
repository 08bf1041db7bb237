//! The probabilistic models behind the RPCs: fitting a portfolio's BG/NBD and Gamma-Gamma
//! models, and their wire forms.

use std::sync::Arc;

use time::OffsetDateTime;
use tonic::Status;

use super::convert::timestamp;
use super::error::storage;
use super::pb;
use crate::domain::bgnbd::fit_bgnbd;
use crate::domain::gamma_gamma::fit_gamma_gamma;
use crate::domain::id::PortfolioName;
use crate::domain::model::{FittedPurchaseModel, FittedSpendModel, ModelError, TimeUnit};
use crate::domain::snapshot::ValueModel;
use crate::store::Store;

pub fn unit_from_proto(u: pb::TimeUnit) -> TimeUnit {
    match u {
        pb::TimeUnit::Unspecified | pb::TimeUnit::Week => TimeUnit::Week,
        pb::TimeUnit::Day => TimeUnit::Day,
        pb::TimeUnit::Month => TimeUnit::Month,
        pb::TimeUnit::Hour => TimeUnit::Hour,
    }
}

fn unit_to_proto(u: TimeUnit) -> pb::TimeUnit {
    match u {
        TimeUnit::Day => pb::TimeUnit::Day,
        TimeUnit::Week => pb::TimeUnit::Week,
        TimeUnit::Month => pb::TimeUnit::Month,
        TimeUnit::Hour => pb::TimeUnit::Hour,
    }
}

fn model_error(e: ModelError) -> Status {
    match e {
        ModelError::TooFewCustomers { .. }
        | ModelError::InvalidInput { .. }
        | ModelError::NotConverged { .. } => Status::failed_precondition(e.to_string()),
        ModelError::Optimiser(_) => Status::internal(e.to_string()),
    }
}

/// Fits both models to the purchase summaries of the portfolio's stored customers (those with
/// frequency, recency and t; Gamma-Gamma on those with repeat purchases and a monetary value)
/// and stores them. Nothing is stored unless both fits converged.
pub async fn fit(
    store: &Arc<dyn Store>,
    portfolio: PortfolioName,
    unit: TimeUnit,
    penalizer: f64,
) -> Result<ValueModel, Status> {
    let mut scan = store.scan_customers(&portfolio);
    let fitted = tokio::task::spawn_blocking(move || {
        let (mut counts, mut spend) = (Vec::new(), Vec::new());
        while let Some(chunk) = scan.blocking_recv() {
            for c in chunk.map_err(storage)? {
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
        let bg = fit_bgnbd(&counts, penalizer).map_err(model_error)?;
        let gg = fit_gamma_gamma(&spend, penalizer).map_err(model_error)?;
        tracing::debug!(customers = counts.len(), took = ?started.elapsed(), "models fitted");
        Ok::<_, Status>((bg, gg, counts.len(), spend.len()))
    })
    .await
    .map_err(|e| Status::internal(format!("fitting task failed: {e}")))??;
    let (bg, gg, customers, repeat) = fitted;
    if !bg.converged || !gg.converged {
        return Err(Status::failed_precondition(format!(
            "the fit did not converge (BG/NBD after {} iterations: {}, Gamma-Gamma after {}: {}); \
             nothing was stored",
            bg.iterations,
            if bg.converged {
                "converged"
            } else {
                "not converged"
            },
            gg.iterations,
            if gg.converged {
                "converged"
            } else {
                "not converged"
            },
        )));
    }
    let model = ValueModel {
        model_id: String::new(),
        portfolio,
        purchases: bg.params.into(),
        spend: gg.params.into(),
        log_likelihood: bg.log_likelihood,
        gamma_gamma_log_likelihood: gg.log_likelihood,
        customers: customers as u64,
        repeat_customers: repeat as u64,
        converged: true,
        iterations: bg.iterations + gg.iterations,
        fitted_at: OffsetDateTime::now_utc(),
        time_unit: unit,
        penalizer,
    };
    store.save_model(model).await.map_err(storage)
}

pub fn model_to_proto(m: &ValueModel) -> pb::ValueModel {
    let (FittedPurchaseModel::BgNbd(bg), FittedSpendModel::GammaGamma(gg)) = (m.purchases, m.spend);
    pb::ValueModel {
        model_id: m.model_id.clone(),
        portfolio: m.portfolio.to_string(),
        bgnbd: Some(pb::BgNbdParameters {
            r: bg.r,
            alpha: bg.alpha,
            a: bg.a,
            b: bg.b,
        }),
        gamma_gamma: Some(pb::GammaGammaParameters {
            p: gg.p,
            q: gg.q,
            v: gg.v,
        }),
        log_likelihood: m.log_likelihood,
        gamma_gamma_log_likelihood: m.gamma_gamma_log_likelihood,
        customers: m.customers,
        repeat_customers: m.repeat_customers,
        converged: m.converged,
        iterations: m.iterations,
        fitted_at: Some(timestamp(m.fitted_at)),
        time_unit: unit_to_proto(m.time_unit) as i32,
        penalizer: m.penalizer,
    }
}
