//! Customer status and relationship lifecycle stage (domain brief §4, seed 003).

use serde::{Deserialize, Serialize};

/// Where a customer stands in the relationship: seed 003's customer states.
///
/// The order of the variants is the order of the funnel, from outside to most loyal, then lapsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Explicitly excluded: not a customer and not to be pursued.
    NonCustomer,
    /// No purchase and not qualified (MAN incomplete) nor in active pursuit.
    Suspect,
    /// No purchase yet, but MAN-qualified or in active pursuit (a prospect).
    Target,
    /// Exactly one purchase, still within the inactivity window.
    FirstTime,
    /// Two or more purchases, still within the inactivity window.
    Repeat,
    /// A repeat customer with high loyalty.
    Loyal,
    /// Bought before, but not within the inactivity window.
    Lapsed,
}

impl Status {
    /// Whether the customer is an active buyer (first-time, repeat or loyal): the customers that
    /// the ranked layers of a pyramid are cut from.
    pub fn is_active(self) -> bool {
        matches!(self, Status::FirstTime | Status::Repeat | Status::Loyal)
    }

    /// The name used in the API and in configuration (`first_time`, `lapsed`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NonCustomer => "non_customer",
            Status::Suspect => "suspect",
            Status::Target => "target",
            Status::FirstTime => "first_time",
            Status::Repeat => "repeat",
            Status::Loyal => "loyal",
            Status::Lapsed => "lapsed",
        }
    }
}

/// Stage of the relationship lifecycle (seed 003).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleStage {
    /// Young relationship (under a year) or a first-time or not-yet customer.
    Nurture,
    /// Revenue rising.
    Growth,
    /// Stable or high revenue: the relationship pays back.
    Payback,
    /// Revenue falling or satisfaction low: the relationship must be defended.
    Retention,
    /// Lapsed or excluded.
    Terminated,
}
