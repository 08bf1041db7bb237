//! Snapshots (brief §7): what the service keeps. A snapshot is never rewritten in place; a new
//! score adds a new one.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::id::{CustomerId, PortfolioName};
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
