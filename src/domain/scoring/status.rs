//! Customer status and relationship lifecycle stage (domain brief §4, seed 003): what they are
//! and the rules that give them.

use serde::{Deserialize, Serialize};
use time::Date;

use super::policy::ScoringPolicy;
use crate::domain::customer::Customer;

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

/// The customer's status (seed 003), by these rules in order:
/// excluded → non-customer; no purchase → target when MAN-qualified or in pursuit, else
/// suspect; last purchase (or first, if that is all that is known) older than the inactivity
/// window → lapsed; one purchase → first-time; more → loyal with loyalty at or above the
/// policy's threshold, else repeat.
pub fn status(c: &Customer, policy: &ScoringPolicy, today: Date) -> Status {
    if c.excluded {
        return Status::NonCustomer;
    }
    let purchases = c.purchases_known().unwrap_or(0);
    if purchases == 0 {
        return if c.man.qualified() || c.in_pursuit {
            Status::Target
        } else {
            Status::Suspect
        };
    }
    if let Some(last) = c.last_purchase.or(c.first_purchase) {
        if last < months_before(today, policy.thresholds.inactivity_months) {
            return Status::Lapsed;
        }
    }
    if purchases == 1 {
        Status::FirstTime
    } else if c
        .loyalty
        .is_some_and(|l| l >= policy.thresholds.loyal_loyalty)
    {
        Status::Loyal
    } else {
        Status::Repeat
    }
}

/// The lifecycle stage (seed 003): terminated when lapsed or excluded; nurture for suspects,
/// targets, first-time customers and relationships younger than a year; retention when revenue
/// falls beyond the tolerance or satisfaction is low; growth when revenue rises beyond it;
/// payback otherwise (stable or unknown growth).
pub fn lifecycle(
    c: &Customer,
    status: Status,
    revenue_growth: Option<f64>,
    tenure_years: Option<f64>,
    policy: &ScoringPolicy,
) -> LifecycleStage {
    let th = &policy.thresholds;
    match status {
        Status::NonCustomer | Status::Lapsed => return LifecycleStage::Terminated,
        Status::Suspect | Status::Target | Status::FirstTime => return LifecycleStage::Nurture,
        Status::Repeat | Status::Loyal => {}
    }
    if tenure_years.is_some_and(|y| y < 1.0) {
        return LifecycleStage::Nurture;
    }
    let falling = revenue_growth.is_some_and(|g| g < -th.growth_tolerance);
    let unhappy = c.satisfaction.is_some_and(|s| s < th.low_satisfaction);
    if falling || unhappy {
        LifecycleStage::Retention
    } else if revenue_growth.is_some_and(|g| g > th.growth_tolerance) {
        LifecycleStage::Growth
    } else {
        LifecycleStage::Payback
    }
}

/// `date` moved back by `months` calendar months, the day clamped to the month's length.
pub fn months_before(date: Date, months: u32) -> Date {
    let total =
        i64::from(date.year()) * 12 + i64::from(u8::from(date.month())) - 1 - i64::from(months);
    let year = total.div_euclid(12);
    let month0 = total.rem_euclid(12);
    let (Ok(year), Ok(month)) = (
        i32::try_from(year),
        time::Month::try_from((month0 + 1) as u8),
    ) else {
        return Date::MIN;
    };
    let day = date.day().min(month.length(year));
    Date::from_calendar_date(year, month, day).unwrap_or(Date::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scoring::fixtures::{customer, score, TODAY};
    use crate::domain::scoring::Flag;
    use time::macros::date;

    #[test]
    fn statuses() {
        let p = ScoringPolicy::default();
        let mut c = customer();
        assert_eq!(status(&c, &p, TODAY), Status::Suspect);
        c.man.money = true;
        c.man.authority = true;
        assert_eq!(status(&c, &p, TODAY), Status::Suspect);
        c.man.need = true;
        assert_eq!(status(&c, &p, TODAY), Status::Target);
        c.first_purchase = Some(date!(2026 - 01 - 15));
        assert_eq!(status(&c, &p, TODAY), Status::FirstTime);
        c.purchase_count = Some(3);
        c.last_purchase = Some(date!(2026 - 05 - 01));
        assert_eq!(status(&c, &p, TODAY), Status::Repeat);
        c.loyalty = Some(8.0);
        assert_eq!(status(&c, &p, TODAY), Status::Loyal);
        // Twelve months to the day is still inside the window; a day more is not.
        c.last_purchase = Some(date!(2025 - 06 - 30));
        assert_eq!(status(&c, &p, TODAY), Status::Loyal);
        c.last_purchase = Some(date!(2025 - 06 - 29));
        c.first_purchase = Some(date!(2024 - 01 - 15));
        assert_eq!(status(&c, &p, TODAY), Status::Lapsed);
        c.excluded = true;
        assert_eq!(status(&c, &p, TODAY), Status::NonCustomer);
        let c2 = Customer {
            in_pursuit: true,
            ..customer()
        };
        assert_eq!(status(&c2, &p, TODAY), Status::Target);
    }

    #[test]
    fn lifecycle_stages() {
        let mut c = customer();
        c.purchase_count = Some(5);
        c.first_purchase = Some(date!(2022 - 01 - 01));
        c.last_purchase = Some(date!(2026 - 06 - 01));
        c.previous_revenue = Some(1000.0);
        c.revenue = Some(1200.0);
        assert_eq!(score(&c).lifecycle_stage, LifecycleStage::Growth);
        c.revenue = Some(1030.0);
        assert_eq!(score(&c).lifecycle_stage, LifecycleStage::Payback);
        c.revenue = Some(900.0);
        let a = score(&c);
        assert_eq!(a.lifecycle_stage, LifecycleStage::Retention);
        assert!(a.flags.contains(&Flag::RevenueFalling));
        c.revenue = Some(1000.0);
        c.satisfaction = Some(4.0);
        assert_eq!(score(&c).lifecycle_stage, LifecycleStage::Retention);
        c.first_purchase = Some(date!(2026 - 01 - 01));
        assert_eq!(score(&c).lifecycle_stage, LifecycleStage::Nurture);
        c.last_purchase = Some(date!(2026 - 01 - 01));
        c.first_purchase = Some(date!(2020 - 01 - 01));
        c.last_purchase = Some(date!(2024 - 01 - 01));
        assert_eq!(score(&c).lifecycle_stage, LifecycleStage::Terminated);
    }

    #[test]
    fn months_before_clamps_the_day() {
        assert_eq!(
            months_before(date!(2026 - 03 - 31), 1),
            date!(2026 - 02 - 28)
        );
        assert_eq!(
            months_before(date!(2026 - 01 - 15), 12),
            date!(2025 - 01 - 15)
        );
        assert_eq!(
            months_before(date!(2026 - 01 - 15), 13),
            date!(2024 - 12 - 15)
        );
    }
}
