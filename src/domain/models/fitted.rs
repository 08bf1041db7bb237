//! A portfolio's fitted models put to use: predictions for a customer's purchase summary, and
//! the model CLV and P(alive) that replace the formula in a score. Works for any purchase-count
//! model with any spend model.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::clv::discounted_value;
use super::kinds::{FittedPurchaseModel, FittedSpendModel};
use super::unit::TimeUnit;
use crate::domain::clv::ClvParams;
use crate::domain::customer::{Customer, PurchaseSummary};
use crate::domain::scoring::{ModelEstimate, ModelNames};

/// A portfolio's fitted models and the unit they were fitted in. Serialised as
/// `{"<purchase model tag>": .., "<spend model tag>": .., "time_unit": ..}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FittedModels {
    #[serde(flatten)]
    pub purchases: FittedPurchaseModel,
    #[serde(flatten)]
    pub spend: FittedSpendModel,
    pub time_unit: TimeUnit,
}

/// What the models say of one customer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub p_alive: f64,
    /// Over the requested horizon, in the model's time unit.
    pub expected_purchases: f64,
    pub expected_average_value: f64,
    pub model_clv: f64,
}

impl FittedModels {
    /// The models' names, as reasons say them.
    pub fn names(&self) -> ModelNames {
        ModelNames {
            purchases: self.purchases.kind().name(),
            spend: self.spend.kind().name(),
        }
    }

    /// Predictions for a customer's summary (frequency, recency, T and, optionally, mean repeat
    /// value); `None` without frequency, recency and T.
    pub fn predict(
        &self,
        summary: &PurchaseSummary,
        horizon: f64,
        clv_months: u32,
        monthly_discount: f64,
    ) -> Option<Prediction> {
        let (x, t_x, t) = (summary.frequency?, summary.recency?, summary.t?);
        let m = summary.monetary_value.unwrap_or(0.0);
        let value = self.spend.expected_average_value(x, m);
        Some(Prediction {
            p_alive: self.purchases.p_alive(x, t_x, t),
            expected_purchases: self.purchases.expected_purchases(horizon, x, t_x, t),
            expected_average_value: value,
            model_clv: discounted_value(
                |h| self.purchases.expected_purchases(h, x, t_x, t),
                value,
                self.time_unit,
                clv_months,
                monthly_discount,
            ),
        })
    }

    /// The model CLV and P(alive) that replace the formula in a customer's score: model CLV
    /// over the CLV parameters' horizon (in months) at their discount rate (as the monthly
    /// equivalent), less the acquisition cost, like the formula.
    pub fn estimate(&self, c: &Customer, clv: &ClvParams) -> Option<ModelEstimate> {
        let monthly = (1.0 + clv.discount_rate).powf(1.0 / 12.0) - 1.0;
        let p = self.predict(&c.purchases, 0.0, clv.horizon_years * 12, monthly)?;
        estimate_from(p, c, self.names())
    }

    /// [`FittedModels::estimate`] for many customers, computed once per distinct purchase
    /// summary (see [`predict_many`]).
    pub fn estimator(
        &self,
        clv: &ClvParams,
    ) -> impl FnMut(&Customer) -> Option<ModelEstimate> + '_ {
        let monthly = (1.0 + clv.discount_rate).powf(1.0 / 12.0) - 1.0;
        let months = clv.horizon_years * 12;
        let names = self.names();
        let mut cache: HashMap<SummaryKey, Option<Prediction>> = HashMap::new();
        move |c| {
            let p = *cache
                .entry(summary_key(&c.purchases))
                .or_insert_with(|| self.predict(&c.purchases, 0.0, months, monthly));
            estimate_from(p?, c, names)
        }
    }
}

fn estimate_from(p: Prediction, c: &Customer, models: ModelNames) -> Option<ModelEstimate> {
    p.model_clv.is_finite().then(|| ModelEstimate {
        clv: p.model_clv - c.acquisition_cost.unwrap_or(0.0),
        p_alive: p.p_alive,
        models,
    })
}

type SummaryKey = (u64, u64, u64, u64);

fn summary_key(s: &PurchaseSummary) -> SummaryKey {
    let bits = |v: Option<f64>| v.map_or(u64::MAX, f64::to_bits);
    (
        bits(s.frequency),
        bits(s.recency),
        bits(s.t),
        bits(s.monetary_value),
    )
}

/// Predictions for many summaries, computed once per distinct summary: customers of one
/// portfolio share few distinct (frequency, recency, T, value) histories, so a million
/// predictions cost what their distinct histories cost.
pub fn predict_many(
    models: &FittedModels,
    summaries: &[PurchaseSummary],
    horizon: f64,
    clv_months: u32,
    monthly_discount: f64,
) -> Vec<Option<Prediction>> {
    let mut cache: HashMap<SummaryKey, Option<Prediction>> = HashMap::new();
    summaries
        .iter()
        .map(|s| {
            *cache
                .entry(summary_key(s))
                .or_insert_with(|| models.predict(s, horizon, clv_months, monthly_discount))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::id::CustomerId;
    use crate::domain::models::bgnbd::BgNbdParams;
    use crate::domain::models::clv::model_clv;
    use crate::domain::models::gamma_gamma::GammaGammaParams;
    use crate::domain::models::traits::{PurchaseCountModel, SpendModel};

    const BG: BgNbdParams = BgNbdParams {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };
    const GG: GammaGammaParams = GammaGammaParams {
        p: 6.25,
        q: 3.74,
        v: 15.44,
    };

    fn models() -> FittedModels {
        FittedModels {
            purchases: BG.into(),
            spend: GG.into(),
            time_unit: TimeUnit::Week,
        }
    }

    fn summary(x: f64, t_x: f64, t: f64, m: Option<f64>) -> PurchaseSummary {
        PurchaseSummary {
            frequency: Some(x),
            recency: Some(t_x),
            t: Some(t),
            monetary_value: m,
        }
    }

    #[test]
    fn a_prediction_is_what_each_model_says() {
        let (x, t_x, t, m) = (2.0, 30.43, 38.86, 22.35);
        let p = models()
            .predict(&summary(x, t_x, t, Some(m)), 52.0, 12, 0.01)
            .unwrap();
        assert_eq!(p.p_alive, BG.p_alive(x, t_x, t));
        assert_eq!(p.expected_purchases, BG.expected_purchases(52.0, x, t_x, t));
        assert_eq!(p.expected_average_value, GG.expected_average_value(x, m));
        let clv = model_clv(&BG, &GG, (x, t_x, t), m, TimeUnit::Week, 12, 0.01);
        assert_eq!(p.model_clv, clv);
        // No value known: the models see a mean of 0.
        let p = models()
            .predict(&summary(x, t_x, t, None), 52.0, 12, 0.01)
            .unwrap();
        assert_eq!(p.expected_average_value, GG.expected_average_value(x, 0.0));
        let mut incomplete = summary(x, t_x, t, Some(m));
        incomplete.t = None;
        assert_eq!(models().predict(&incomplete, 52.0, 12, 0.01), None);
    }

    #[test]
    fn many_predictions_are_each_prediction() {
        let summaries = [
            summary(2.0, 30.43, 38.86, Some(22.35)),
            summary(0.0, 0.0, 38.86, Some(0.0)),
            summary(2.0, 30.43, 38.86, Some(22.35)),
            PurchaseSummary::default(),
        ];
        let got = predict_many(&models(), &summaries, 39.0, 6, 0.02);
        let want: Vec<_> = summaries
            .iter()
            .map(|s| models().predict(s, 39.0, 6, 0.02))
            .collect();
        assert_eq!(got, want);
        assert!(got[3].is_none());
    }

    #[test]
    fn an_estimate_is_the_clv_over_the_policy_horizon_less_acquisition() {
        let mut c = Customer::new(CustomerId::parse("c-1").unwrap());
        c.purchases = summary(2.0, 30.43, 38.86, Some(22.35));
        c.acquisition_cost = Some(5.0);
        let clv = ClvParams::default();
        let monthly = (1.0 + clv.discount_rate).powf(1.0 / 12.0) - 1.0;
        let months = clv.horizon_years * 12;
        let p = models()
            .predict(&c.purchases, 0.0, months, monthly)
            .unwrap();
        let e = models().estimate(&c, &clv).unwrap();
        assert_eq!(e.clv, p.model_clv - 5.0);
        assert_eq!(e.p_alive, p.p_alive);
        let fitted = models();
        let mut estimator = fitted.estimator(&clv);
        assert_eq!(estimator(&c), Some(e));
        assert_eq!(estimator(&c), Some(e));
    }

    #[test]
    fn the_serialised_form_is_the_old_one() {
        let json = serde_json::to_value(models()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
                "gamma_gamma": {"p": 6.25, "q": 3.74, "v": 15.44},
                "time_unit": "week"
            })
        );
        assert_eq!(
            serde_json::from_value::<FittedModels>(json).unwrap(),
            models()
        );
    }
}
