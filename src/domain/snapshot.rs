//! Snapshots (brief §7): what the service keeps. A snapshot is never rewritten in place; a new
//! score adds a new one.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::id::{CustomerId, PortfolioName};
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
    pub policy_version: String,
    #[serde(with = "time::serde::rfc3339")]
    pub scored_at: OffsetDateTime,
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
