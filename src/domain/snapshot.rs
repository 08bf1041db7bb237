//! Snapshots (brief §7): what the service keeps. A snapshot is never rewritten in place; a new
//! score adds a new one.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::bgnbd::BgNbdParams;
use super::gamma_gamma::GammaGammaParams;
use super::id::{CustomerId, PortfolioName};
use super::model::{FittedModels, TimeUnit};
use super::pyramid::{CutPoints, Metric, PyramidSummary};
use super::score::Assessment;

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
        use super::policy::ScoringPolicy;
        use super::score::assess;
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

/// A portfolio's fitted BG/NBD and Gamma-Gamma models, as kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueModel {
    pub model_id: String,
    pub portfolio: PortfolioName,
    pub bgnbd: BgNbdParams,
    pub gamma_gamma: GammaGammaParams,
    pub log_likelihood: f64,
    pub gamma_gamma_log_likelihood: f64,
    pub customers: u64,
    pub repeat_customers: u64,
    pub converged: bool,
    pub iterations: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub fitted_at: OffsetDateTime,
    pub time_unit: TimeUnit,
    pub penalizer: f64,
}

impl ValueModel {
    pub fn models(&self) -> FittedModels {
        FittedModels {
            bgnbd: self.bgnbd,
            gamma_gamma: self.gamma_gamma,
            time_unit: self.time_unit,
        }
    }
}
