//! Fitted models and predictions on the wire.

use super::value::timestamp;
use crate::api::pb;
use crate::domain::id::CustomerId;
use crate::domain::models::{FittedPurchaseModel, FittedSpendModel, Prediction, TimeUnit};
use crate::domain::snapshot::ValueModel;

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

/// A kept model on the wire: which models were fitted, and each one's parameters in its own
/// field.
pub fn model_to_proto(m: &ValueModel) -> pb::ValueModel {
    let mut out = pb::ValueModel {
        model_id: m.model_id.clone(),
        portfolio: m.portfolio.to_string(),
        log_likelihood: m.log_likelihood,
        gamma_gamma_log_likelihood: m.gamma_gamma_log_likelihood,
        customers: m.customers,
        repeat_customers: m.repeat_customers,
        converged: m.converged,
        iterations: m.iterations,
        fitted_at: Some(timestamp(m.fitted_at)),
        time_unit: unit_to_proto(m.time_unit) as i32,
        penalizer: m.penalizer,
        ..Default::default()
    };
    match m.purchases {
        FittedPurchaseModel::BgNbd(p) => {
            out.purchase_model = pb::PurchaseModel::BgNbd as i32;
            out.bgnbd = Some(pb::BgNbdParameters {
                r: p.r,
                alpha: p.alpha,
                a: p.a,
                b: p.b,
            });
        }
    }
    match m.spend {
        FittedSpendModel::GammaGamma(g) => {
            out.spend_model = pb::SpendModel::GammaGamma as i32;
            out.gamma_gamma = Some(pb::GammaGammaParameters {
                p: g.p,
                q: g.q,
                v: g.v,
            });
        }
    }
    out
}

pub fn prediction_to_proto((id, p): (CustomerId, Prediction)) -> pb::CustomerPrediction {
    pb::CustomerPrediction {
        customer_id: id.into(),
        p_alive: p.p_alive,
        expected_purchases: p.expected_purchases,
        expected_average_value: p.expected_average_value,
        model_clv: p.model_clv,
    }
}
