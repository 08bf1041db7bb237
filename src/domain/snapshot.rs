//! Snapshots (brief §7): what the service keeps. A snapshot is never rewritten in place; a new
//! score adds a new one.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::id::{CustomerId, PortfolioName};
use super::models::{FittedModels, FittedPurchaseModel, FittedSpendModel, PortfolioFit, TimeUnit};
use super::pyramid::{CutPoints, Metric, PyramidSummary};
use super::scoring::Assessment;

/// The tier a score was placed in, and the tiering run whose cut points placed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierPlacement {
    pub tier: String,
    pub run_id: String,
}

/// One customer's value at one moment: the assessment and what produced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueSnapshot {
    pub portfolio: PortfolioName,
    pub customer_id: CustomerId,
    pub assessment: Assessment,
    pub tier: Option<TierPlacement>,
    /// The fitted model that gave the CLV, when the CLV came from one.
    #[serde(default)]
    pub model_id: Option<String>,
    pub policy_version: String,
    #[serde(with = "time::serde::rfc3339")]
    pub scored_at: OffsetDateTime,
}

#[cfg(test)]
impl ValueSnapshot {
    /// Customer `id` (revenue 1,000, nothing else known) scored at `at` in the default
    /// portfolio, with its score replaced by `tag` to tell snapshots apart.
    pub(crate) fn sample(id: &str, tag: f64, at: OffsetDateTime) -> Self {
        use super::clv::ClvParams;
        use super::customer::Customer;
        use super::scoring::assess;
        use super::scoring::policy::ScoringPolicy;
        let mut c = Customer::new(CustomerId::parse(id).expect("a valid test id"));
        c.revenue = Some(1_000.0);
        let mut assessment = assess(
            &c,
            &ScoringPolicy::default(),
            &ClvParams::default(),
            None,
            at.date(),
        );
        assessment.score = tag;
        ValueSnapshot {
            portfolio: PortfolioName::default_portfolio(),
            customer_id: c.id,
            assessment,
            tier: None,
            model_id: None,
            policy_version: "test".into(),
            scored_at: at,
        }
    }
}

/// A tiering run, as kept: what was cut, how, when, the summary and the cut points that place
/// later scores. Its members are kept beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierRun {
    pub run_id: String,
    pub portfolio: PortfolioName,
    pub scheme: String,
    pub metric: Metric,
    pub policy_version: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub summary: PyramidSummary,
    pub excluded: u64,
    pub cuts: CutPoints,
}

impl TierRun {
    /// The rank range (1-based, inclusive) of `tier`, from the summary: members are stored in
    /// pyramid order, so a tier is a contiguous slice of the ranks.
    pub fn rank_range(&self, tier: &str) -> Option<(u64, u64)> {
        let mut start = 1;
        for t in &self.summary.tiers {
            if t.tier == tier {
                return Some((start, start + t.customers - 1));
            }
            start += t.customers;
        }
        None
    }
}

/// A portfolio's fitted purchase-count and spend models, as kept.
///
/// Stored as JSON. Each model's parameters sit under its tag, the key saying which model it
/// is: `"bgnbd": {"r", "alpha", "a", "b"}` and `"gamma_gamma": {"p", "q", "v"}`, as records
/// have had since there were only these two models, so old records read as they are and
/// readers that know only these two read new records of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueModel {
    pub model_id: String,
    pub portfolio: PortfolioName,
    #[serde(flatten)]
    pub purchases: FittedPurchaseModel,
    #[serde(flatten)]
    pub spend: FittedSpendModel,
    /// Of the purchase-count model.
    pub log_likelihood: f64,
    /// Of the spend model (named when Gamma-Gamma was the only one).
    pub gamma_gamma_log_likelihood: f64,
    pub customers: u64,
    pub repeat_customers: u64,
    pub converged: bool,
    /// Of both fits together.
    pub iterations: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub fitted_at: OffsetDateTime,
    pub time_unit: TimeUnit,
    pub penalizer: f64,
}

impl ValueModel {
    /// The value model of a portfolio's fit, not yet stored (the store gives it its id).
    pub fn from_fit(
        portfolio: PortfolioName,
        fit: &PortfolioFit,
        fitted_at: OffsetDateTime,
    ) -> Self {
        ValueModel {
            model_id: String::new(),
            portfolio,
            purchases: fit.purchases.params,
            spend: fit.spend.params,
            log_likelihood: fit.purchases.log_likelihood,
            gamma_gamma_log_likelihood: fit.spend.log_likelihood,
            customers: fit.customers as u64,
            repeat_customers: fit.repeat_customers as u64,
            converged: fit.purchases.converged && fit.spend.converged,
            iterations: fit.purchases.iterations + fit.spend.iterations,
            fitted_at,
            time_unit: fit.time_unit,
            penalizer: fit.penalizer,
        }
    }

    pub fn models(&self) -> FittedModels {
        FittedModels {
            purchases: self.purchases,
            spend: self.spend,
            time_unit: self.time_unit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::models::bgnbd::tests::cdnow;
    use crate::domain::models::bgnbd::BgNbdParams;
    use crate::domain::models::fit_portfolio;
    use crate::domain::models::gamma_gamma::GammaGammaParams;

    /// A value model as the code before the model kinds wrote it (CDNOW, weekly, unpenalised).
    const OLD_RECORD: &str = r#"{"model_id":"m1893f0e2a4c00000","portfolio":"default","bgnbd":{"r":0.24259290723016208,"alpha":4.4135315615871065,"a":0.7928861478200195,"b":2.4257534359975645},"gamma_gamma":{"p":6.24880207625353,"q":3.7445886872252365,"v":15.44775040170099},"log_likelihood":-9582.425560567357,"gamma_gamma_log_likelihood":-4055.923243502775,"customers":2357,"repeat_customers":946,"converged":true,"iterations":55,"fitted_at":"2026-03-02T09:30:00Z","time_unit":"week","penalizer":0.0}"#;

    fn old_model() -> ValueModel {
        ValueModel {
            model_id: "m1893f0e2a4c00000".into(),
            portfolio: PortfolioName::default_portfolio(),
            purchases: FittedPurchaseModel::BgNbd(BgNbdParams {
                r: 0.24259290723016208,
                alpha: 4.4135315615871065,
                a: 0.7928861478200195,
                b: 2.4257534359975645,
            }),
            spend: FittedSpendModel::GammaGamma(GammaGammaParams {
                p: 6.24880207625353,
                q: 3.7445886872252365,
                v: 15.44775040170099,
            }),
            log_likelihood: -9582.425560567357,
            gamma_gamma_log_likelihood: -4055.923243502775,
            customers: 2357,
            repeat_customers: 946,
            converged: true,
            iterations: 55,
            fitted_at: time::macros::datetime!(2026-03-02 09:30:00 UTC),
            time_unit: TimeUnit::Week,
            penalizer: 0.0,
        }
    }

    #[test]
    fn an_old_record_reads_as_bgnbd_and_gamma_gamma() {
        let read: ValueModel = serde_json::from_str(OLD_RECORD).unwrap();
        assert_eq!(read, old_model());
    }

    #[test]
    fn a_new_record_has_the_old_fields_and_values() {
        let written = serde_json::to_value(old_model()).unwrap();
        let old: serde_json::Value = serde_json::from_str(OLD_RECORD).unwrap();
        assert_eq!(written, old);
        let back: ValueModel = serde_json::from_value(written).unwrap();
        assert_eq!(back, old_model());
    }

    #[test]
    fn a_record_without_its_models_is_refused() {
        let mut old: serde_json::Value = serde_json::from_str(OLD_RECORD).unwrap();
        old.as_object_mut().unwrap().remove("gamma_gamma");
        assert!(serde_json::from_value::<ValueModel>(old).is_err());
    }

    #[test]
    fn the_value_model_of_a_fit_is_the_one_the_old_code_kept() {
        let rows = cdnow();
        let counts: Vec<_> = rows.iter().map(|c| (c.0, c.1, c.2)).collect();
        let spend: Vec<_> = rows
            .iter()
            .filter(|c| c.0 > 0.0)
            .map(|c| (c.0, c.3))
            .collect();
        let fit = fit_portfolio(&counts, &spend, TimeUnit::Week, 0.0).unwrap();
        let mut model = ValueModel::from_fit(
            PortfolioName::default_portfolio(),
            &fit,
            time::macros::datetime!(2026-03-02 09:30:00 UTC),
        );
        assert_eq!(model.model_id, "");
        assert_eq!(model.models(), fit.models());
        model.model_id = "m1893f0e2a4c00000".into();
        assert_eq!(model, old_model());
    }
}
