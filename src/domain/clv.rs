//! Customer lifetime value by the retention-discount formula of seed 003.
//!
//! For an annual profit `m`, a retention rate `r`, a yearly discount rate `d`, a horizon of `H`
//! years and an acquisition cost `AC`:
//!
//! ```text
//! CLV = Σ_{t=1..H} m · r^(t-1) / (1+d)^t  −  AC
//! ```
//!
//! The first year's profit is earned for sure (`r^0`), each later year only by the customers
//! still retained, and each year is discounted back to today. With `r = 1` and `d = 0` it is
//! seed 003's example: 10 years × 100 per year − 80 = 920.

use serde::{Deserialize, Serialize};

use super::customer::Violation;

/// Longest horizon accepted, in years.
pub const MAX_HORIZON_YEARS: u32 = 100;
/// Largest yearly discount rate accepted (1000 %).
pub const MAX_DISCOUNT_RATE: f64 = 10.0;

/// Parameters of the formula.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClvParams {
    /// Share of customers kept from one year to the next, 0..1.
    pub retention_rate: f64,
    /// Yearly discount rate, 0..10 (0.1 = 10 %).
    pub discount_rate: f64,
    /// Years, 1..100.
    pub horizon_years: u32,
}

impl Default for ClvParams {
    /// Four customers in five kept each year, money at 10 %, five years: a conservative
    /// planning horizon for sales.
    fn default() -> Self {
        Self {
            retention_rate: 0.8,
            discount_rate: 0.1,
            horizon_years: 5,
        }
    }
}

impl ClvParams {
    /// Every rule these parameters break, fields named without a prefix.
    pub fn check(&self) -> Vec<Violation> {
        let mut v = Vec::new();
        if !(0.0..=1.0).contains(&self.retention_rate) {
            v.push(Violation::new(
                "retention_rate",
                format!("{} is outside 0..1", self.retention_rate),
            ));
        }
        if !(0.0..=MAX_DISCOUNT_RATE).contains(&self.discount_rate) {
            v.push(Violation::new(
                "discount_rate",
                format!("{} is outside 0..{MAX_DISCOUNT_RATE}", self.discount_rate),
            ));
        }
        if !(1..=MAX_HORIZON_YEARS).contains(&self.horizon_years) {
            v.push(Violation::new(
                "horizon_years",
                format!("{} is outside 1..{MAX_HORIZON_YEARS}", self.horizon_years),
            ));
        }
        v
    }

    /// CLV of a customer earning `annual_profit` a year, less `acquisition_cost`.
    pub fn clv(&self, annual_profit: f64, acquisition_cost: f64) -> f64 {
        let mut total = 0.0;
        let mut kept = 1.0; // r^(t-1)
        let mut discount = 1.0; // (1+d)^t
        for _ in 0..self.horizon_years {
            discount *= 1.0 + self.discount_rate;
            total += annual_profit * kept / discount;
            kept *= self.retention_rate;
        }
        total - acquisition_cost
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn seed_example_is_920() {
        let p = ClvParams {
            retention_rate: 1.0,
            discount_rate: 0.0,
            horizon_years: 10,
        };
        assert_eq!(p.clv(100.0, 80.0), 920.0);
    }

    #[test]
    fn hand_computed_with_churn_and_discounting() {
        // r = 0.8, d = 0.1, H = 5, m = 100, AC = 80, term by term.
        let terms = [
            100.0 / 1.1,
            80.0 / 1.21,
            64.0 / 1.331,
            51.2 / 1.4641,
            40.96 / 1.61051,
        ];
        let expected: f64 = terms.iter().sum::<f64>() - 80.0;
        let got = ClvParams::default().clv(100.0, 80.0);
        assert!((got - expected).abs() < 1e-9, "{got} vs {expected}");
        assert!((got - 185.5122).abs() < 1e-4);
    }

    #[test]
    fn parameter_rules() {
        let p = ClvParams {
            retention_rate: 1.5,
            discount_rate: -0.1,
            horizon_years: 0,
        };
        let fields: Vec<_> = p.check().into_iter().map(|v| v.field).collect();
        assert_eq!(fields, ["retention_rate", "discount_rate", "horizon_years"]);
        assert!(ClvParams::default().check().is_empty());
    }

    proptest! {
        #[test]
        fn more_profit_more_retention_less_discount_never_lower(
            m in 0.0..1e6f64, r in 0.0..1.0f64, d in 0.0..1.0f64, h in 1u32..40,
        ) {
            let p = ClvParams { retention_rate: r, discount_rate: d, horizon_years: h };
            let base = p.clv(m, 0.0);
            prop_assert!(p.clv(m * 1.1, 0.0) >= base);
            let kept_more = ClvParams { retention_rate: (r + 0.1).min(1.0), ..p };
            prop_assert!(kept_more.clv(m, 0.0) >= base - 1e-9);
            let cheaper_money = ClvParams { discount_rate: d / 2.0, ..p };
            prop_assert!(cheaper_money.clv(m, 0.0) >= base - 1e-9);
            prop_assert!(base <= m * f64::from(h) + 1e-6);
        }
    }
}
