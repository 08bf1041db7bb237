//! The customer record, as the service keeps it (domain brief §3).
//!
//! A [`Customer`] is built by the API layer from the wire message; [`Customer::check`] then
//! applies every value rule of the brief (finite amounts, survey scores in 0..10, no future
//! dates, last purchase not before the first, purchase summary consistent) and names each
//! field that breaks one, so that a caller gets every problem of a record at once.

use serde::{Deserialize, Serialize};
use time::Date;

use super::id::CustomerId;

/// Individual or organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerKind {
    Individual,
    Organization,
}

/// Seed 000's levels of relationship, from the least to the most involved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationshipType {
    Basic,
    Passive,
    Responsible,
    Proactive,
    Partner,
}

/// Payment behaviour from seed 002's customer file (table 14-1), best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentBehaviour {
    Prompt,
    Normal,
    Fair,
    Late,
    Reluctant,
    InArrears,
}

impl PaymentBehaviour {
    /// Late, reluctant or in arrears: seed 002 puts such customers in the "bad" small layer.
    pub fn is_poor(self) -> bool {
        matches!(self, Self::Late | Self::Reluctant | Self::InArrears)
    }
}

/// Funding status from seed 002's customer file (table 14-1), best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FundingStatus {
    Ample,
    Sufficient,
    Tight,
    Short,
    Critical,
}

impl FundingStatus {
    /// Tight or worse.
    pub fn is_poor(self) -> bool {
        matches!(self, Self::Tight | Self::Short | Self::Critical)
    }
}

/// MAN qualification of a prospect: Money (can pay), Authority (can decide), Need.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Man {
    pub money: bool,
    pub authority: bool,
    pub need: bool,
}

impl Man {
    /// A prospect qualifies with all three.
    pub fn qualified(self) -> bool {
        self.money && self.authority && self.need
    }
}

/// Purchase summary for the probabilistic models, in one time unit: repeat purchases,
/// time from the first to the last purchase, time from the first purchase to now, and the mean
/// value of the repeat purchases.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PurchaseSummary {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recency: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monetary_value: Option<f64>,
}

/// One customer's facts. Every field but the id is optional: absent means unknown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: CustomerId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<CustomerKind>,
    #[serde(default)]
    pub segment: String,
    #[serde(default)]
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revenue: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gross_profit: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_to_serve: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquisition_cost: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category_spend: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_revenue: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_growth: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship_start: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_purchase: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_purchase: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrals: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfaction: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loyalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_complaints: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_complaints: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts_90d: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship_type: Option<RelationshipType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_behaviour: Option<PaymentBehaviour>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub funding_status: Option<FundingStatus>,
    #[serde(default)]
    pub man: Man,
    #[serde(default)]
    pub excluded: bool,
    #[serde(default)]
    pub in_pursuit: bool,
    #[serde(default)]
    pub purchases: PurchaseSummary,
}

/// Longest free-text label (segment, region) accepted, in characters.
pub const MAX_LABEL_LEN: usize = 128;

/// Largest absolute amount accepted. Far above any real customer's money, and small enough that
/// sums over millions of customers stay exact to the cent in an `f64`.
pub const MAX_AMOUNT: f64 = 1e12;

/// One broken rule: the field (named as in the API) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: String,
    pub reason: String,
}

impl Violation {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl Customer {
    /// A customer with only an id: every fact unknown.
    pub fn new(id: CustomerId) -> Self {
        Self {
            id,
            kind: None,
            segment: String::new(),
            region: String::new(),
            revenue: None,
            gross_profit: None,
            cost_to_serve: None,
            acquisition_cost: None,
            category_spend: None,
            previous_revenue: None,
            own_growth: None,
            relationship_start: None,
            first_purchase: None,
            last_purchase: None,
            purchase_count: None,
            referrals: None,
            satisfaction: None,
            loyalty: None,
            open_complaints: None,
            resolved_complaints: None,
            contacts_90d: None,
            relationship_type: None,
            payment_behaviour: None,
            funding_status: None,
            man: Man::default(),
            excluded: false,
            in_pursuit: false,
            purchases: PurchaseSummary::default(),
        }
    }

    /// Every value rule of the domain brief §3 that this record breaks, given today's date.
    /// Empty when the record is valid.
    pub fn check(&self, today: Date) -> Vec<Violation> {
        let mut v = Vec::new();
        self.check_labels(&mut v);
        self.check_money(&mut v);
        self.check_surveys(&mut v);
        self.check_dates(today, &mut v);
        self.check_purchase_summary(&mut v);
        v
    }

    fn check_labels(&self, v: &mut Vec<Violation>) {
        for (field, text) in [("segment", &self.segment), ("region", &self.region)] {
            let len = text.chars().count();
            if len > MAX_LABEL_LEN {
                v.push(Violation::new(
                    field,
                    format!("is {len} characters long; at most {MAX_LABEL_LEN} are allowed"),
                ));
            } else if text.chars().any(char::is_control) {
                v.push(Violation::new(field, "contains a control character"));
            }
        }
    }

    fn check_money(&self, v: &mut Vec<Violation>) {
        // Amounts that cannot be negative.
        for (field, value) in [
            ("revenue", self.revenue),
            ("cost_to_serve", self.cost_to_serve),
            ("acquisition_cost", self.acquisition_cost),
            ("category_spend", self.category_spend),
            ("previous_revenue", self.previous_revenue),
        ] {
            if let Some(x) = value {
                check_amount(v, field, x, true);
            }
        }
        // Gross profit may be negative (a loss-making customer).
        if let Some(x) = self.gross_profit {
            check_amount(v, "gross_profit", x, false);
        }
        if let Some(g) = self.own_growth {
            if !g.is_finite() {
                v.push(Violation::new("own_growth", "must be a finite number"));
            } else if !(-1.0..=100.0).contains(&g) {
                v.push(Violation::new(
                    "own_growth",
                    format!("{g} is outside -1..100 (a fraction: 0.05 = +5 %)"),
                ));
            }
        }
        if let (Some(rev), Some(spend)) = (self.revenue, self.category_spend) {
            if rev.is_finite() && spend.is_finite() && rev > spend {
                v.push(Violation::new(
                    "category_spend",
                    format!(
                        "{spend} is below revenue {rev}: the customer's total category spend \
                         includes what they spend with us"
                    ),
                ));
            }
        }
    }

    fn check_surveys(&self, v: &mut Vec<Violation>) {
        for (field, value) in [
            ("satisfaction", self.satisfaction),
            ("loyalty", self.loyalty),
        ] {
            if let Some(x) = value {
                if !x.is_finite() || !(0.0..=10.0).contains(&x) {
                    v.push(Violation::new(field, format!("{x} is outside 0..10")));
                }
            }
        }
    }

    fn check_dates(&self, today: Date, v: &mut Vec<Violation>) {
        for (field, value) in [
            ("relationship_start", self.relationship_start),
            ("first_purchase", self.first_purchase),
            ("last_purchase", self.last_purchase),
        ] {
            if let Some(d) = value {
                if d > today {
                    v.push(Violation::new(
                        field,
                        format!("{d} is in the future (today is {today})"),
                    ));
                }
            }
        }
        if let (Some(first), Some(last)) = (self.first_purchase, self.last_purchase) {
            if last < first {
                v.push(Violation::new(
                    "last_purchase",
                    format!("{last} is before first_purchase {first}"),
                ));
            }
        }
        if self.purchase_count == Some(0)
            && (self.first_purchase.is_some() || self.last_purchase.is_some())
        {
            v.push(Violation::new(
                "purchase_count",
                "is 0 but purchase dates are given",
            ));
        }
    }

    fn check_purchase_summary(&self, v: &mut Vec<Violation>) {
        let p = &self.purchases;
        for (field, value) in [
            ("frequency", p.frequency),
            ("recency", p.recency),
            ("t", p.t),
            ("monetary_value", p.monetary_value),
        ] {
            if let Some(x) = value {
                if !x.is_finite() {
                    v.push(Violation::new(field, "must be a finite number"));
                } else if x < 0.0 {
                    v.push(Violation::new(field, format!("{x} is negative")));
                } else if x > MAX_AMOUNT {
                    v.push(Violation::new(
                        field,
                        format!("{x} is larger than {MAX_AMOUNT}"),
                    ));
                }
            }
        }
        if let Some(f) = p.frequency.filter(|f| f.is_finite()) {
            if f.fract() != 0.0 {
                v.push(Violation::new(
                    "frequency",
                    format!("{f} is not a whole number of repeat purchases"),
                ));
            }
        }
        if let (Some(r), Some(t)) = (p.recency, p.t) {
            if r.is_finite() && t.is_finite() && r > t {
                v.push(Violation::new(
                    "recency",
                    format!("{r} is greater than t {t}: the last purchase cannot be after now"),
                ));
            }
        }
        if let (Some(f), Some(m)) = (p.frequency, p.monetary_value) {
            if f > 0.0 && m <= 0.0 {
                v.push(Violation::new(
                    "monetary_value",
                    "must be positive for a customer with repeat purchases",
                ));
            }
        }
    }

    /// Number of purchases known: the count if given, else the repeat purchases of the summary
    /// plus the first, else one if a purchase date is known.
    pub fn purchases_known(&self) -> Option<u64> {
        if let Some(n) = self.purchase_count {
            return Some(n);
        }
        if let Some(f) = self.purchases.frequency {
            // Validated whole and non-negative; the cast saturates on absurd values.
            return Some(f as u64 + 1);
        }
        if self.first_purchase.is_some() || self.last_purchase.is_some() {
            return Some(1);
        }
        None
    }

    /// Annual profit: gross profit less cost to serve, scaled from a window of
    /// `window_months` to twelve months. Unknown without a gross profit.
    pub fn annual_profit(&self, window_months: u32) -> Option<f64> {
        let gp = self.gross_profit?;
        let months = f64::from(window_months.max(1));
        Some((gp - self.cost_to_serve.unwrap_or(0.0)) * 12.0 / months)
    }

    /// Revenue change against the previous window, as a fraction; unknown without both
    /// revenues or with no previous revenue.
    pub fn revenue_growth(&self) -> Option<f64> {
        match (self.revenue, self.previous_revenue) {
            (Some(now), Some(prev)) if prev > 0.0 => Some((now - prev) / prev),
            _ => None,
        }
    }

    /// Revenue / category spend.
    pub fn share_of_wallet(&self) -> Option<f64> {
        match (self.revenue, self.category_spend) {
            (Some(rev), Some(spend)) if spend > 0.0 => Some((rev / spend).clamp(0.0, 1.0)),
            _ => None,
        }
    }

    /// Category spend not yet ours: the headroom for growing the customer.
    pub fn headroom(&self) -> Option<f64> {
        match (self.revenue, self.category_spend) {
            (Some(rev), Some(spend)) => Some((spend - rev).max(0.0)),
            (None, Some(spend)) => Some(spend),
            _ => None,
        }
    }

    /// Payment late or worse, or funding tight or worse.
    pub fn poor_credit(&self) -> bool {
        self.payment_behaviour
            .is_some_and(PaymentBehaviour::is_poor)
            || self.funding_status.is_some_and(FundingStatus::is_poor)
    }
}

fn check_amount(v: &mut Vec<Violation>, field: &str, x: f64, non_negative: bool) {
    if !x.is_finite() {
        v.push(Violation::new(field, "must be a finite number"));
    } else if x.abs() > MAX_AMOUNT {
        v.push(Violation::new(
            field,
            format!("{x} is larger in size than {MAX_AMOUNT}"),
        ));
    } else if non_negative && x < 0.0 {
        v.push(Violation::new(field, format!("{x} is negative")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 06 - 30);

    fn customer() -> Customer {
        Customer::new(CustomerId::parse("c-1").unwrap())
    }

    fn fields(c: &Customer) -> Vec<String> {
        c.check(TODAY).into_iter().map(|v| v.field).collect()
    }

    #[test]
    fn an_id_alone_is_valid() {
        assert!(customer().check(TODAY).is_empty());
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut c = customer();
        c.revenue = Some(f64::NAN);
        c.cost_to_serve = Some(-1.0);
        c.gross_profit = Some(f64::INFINITY);
        c.satisfaction = Some(11.0);
        c.loyalty = Some(-0.5);
        c.first_purchase = Some(date!(2026 - 01 - 10));
        c.last_purchase = Some(date!(2025 - 12 - 31));
        c.relationship_start = Some(date!(2026 - 07 - 01));
        assert_eq!(
            fields(&c),
            [
                "revenue",
                "cost_to_serve",
                "gross_profit",
                "satisfaction",
                "loyalty",
                "relationship_start",
                "last_purchase"
            ]
        );
    }

    #[test]
    fn summary_rules() {
        let mut c = customer();
        c.purchases = PurchaseSummary {
            frequency: Some(-1.0),
            recency: Some(5.0),
            t: Some(4.0),
            monetary_value: Some(0.0),
        };
        assert_eq!(fields(&c), ["frequency", "recency"]);
        c.purchases.frequency = Some(2.0);
        assert_eq!(fields(&c), ["recency", "monetary_value"]);
        c.purchases.frequency = Some(1.5);
        c.purchases.recency = Some(3.0);
        c.purchases.monetary_value = Some(10.0);
        assert_eq!(fields(&c), ["frequency"]);
    }

    #[test]
    fn derived_figures() {
        let mut c = customer();
        c.revenue = Some(1000.0);
        c.previous_revenue = Some(800.0);
        c.category_spend = Some(4000.0);
        c.gross_profit = Some(300.0);
        c.cost_to_serve = Some(50.0);
        assert_eq!(c.annual_profit(12), Some(250.0));
        assert_eq!(c.annual_profit(6), Some(500.0));
        assert_eq!(c.revenue_growth(), Some(0.25));
        assert_eq!(c.share_of_wallet(), Some(0.25));
        assert_eq!(c.headroom(), Some(3000.0));
        assert!(!c.poor_credit());
        c.funding_status = Some(FundingStatus::Tight);
        assert!(c.poor_credit());
    }

    #[test]
    fn purchases_known_prefers_the_count() {
        let mut c = customer();
        assert_eq!(c.purchases_known(), None);
        c.first_purchase = Some(date!(2026 - 01 - 01));
        assert_eq!(c.purchases_known(), Some(1));
        c.purchases.frequency = Some(3.0);
        assert_eq!(c.purchases_known(), Some(4));
        c.purchase_count = Some(7);
        assert_eq!(c.purchases_known(), Some(7));
    }
}
