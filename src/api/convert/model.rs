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

pub fn prediction_to_proto((id, p): (CustomerId, Prediction)) -> pb::CustomerPrediction {
    pb::CustomerPrediction {
        customer_id: id.into(),
        p_alive: p.p_alive,
        expected_purchases: p.expected_purchases,
        expected_average_value: p.expected_average_value,
        model_clv: p.model_clv,
    }
}
