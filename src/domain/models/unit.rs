//! The time unit in which frequency, recency and T are counted, and how it converts to the
//! calendar: summaries count days, model CLV counts months.

use serde::{Deserialize, Serialize};

/// The time unit of frequency, recency and T.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    Day,
    #[default]
    Week,
    Month,
    Hour,
}

impl TimeUnit {
    /// Time units per month, as lifetimes counts them (30-day months, 4.345 weeks).
    pub fn per_month(self) -> f64 {
        match self {
            TimeUnit::Day => 30.0,
            TimeUnit::Week => 4.345,
            TimeUnit::Month => 1.0,
            TimeUnit::Hour => 30.0 * 24.0,
        }
    }

    /// Days in one unit, for summaries computed from dated transactions.
    pub fn days(self) -> f64 {
        match self {
            TimeUnit::Day => 1.0,
            TimeUnit::Week => 7.0,
            TimeUnit::Month => 30.0,
            TimeUnit::Hour => 1.0 / 24.0,
        }
    }
}
