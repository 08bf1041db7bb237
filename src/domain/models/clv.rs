//! Model customer lifetime value, as lifetimes' `customer_lifetime_value` defines it: for each
//! month i = 1..=months, the expected purchases between months i−1 and i (in the data's time
//! unit) times the spend model's expected average value, discounted by (1 + monthly rate)^i.
//! Any purchase-count model with any spend model.

use super::traits::{PurchaseCountModel, SpendModel};
use super::unit::TimeUnit;

/// Model CLV of a customer with summary (x, t_x, T) and mean repeat value `monetary_value`,
/// over `months` at `monthly_discount`, with the data counted in `unit`.
pub fn model_clv<P: PurchaseCountModel, S: SpendModel>(
    purchases: &P,
    spend: &S,
    (x, t_x, t): (f64, f64, f64),
    monetary_value: f64,
    unit: TimeUnit,
    months: u32,
    monthly_discount: f64,
) -> f64 {
    discounted_value(
        |horizon| purchases.expected_purchases(horizon, x, t_x, t),
        spend.expected_average_value(x, monetary_value),
        unit,
        months,
        monthly_discount,
    )
}

/// The sum of [`model_clv`], given the customer's cumulative expected purchases as a function
/// of the horizon (in `unit`) and their expected value per purchase: what a caller holding
/// the models as data (see [`super::FittedModels`]) computes without naming the model types.
pub fn discounted_value(
    cumulative_purchases: impl Fn(f64) -> f64,
    value: f64,
    unit: TimeUnit,
    months: u32,
    monthly_discount: f64,
) -> f64 {
    let factor = unit.per_month();
    let mut clv = 0.0;
    let mut previous = 0.0;
    for i in 1..=months {
        let cumulative = cumulative_purchases(f64::from(i) * factor);
        clv += value * (cumulative - previous) / (1.0 + monthly_discount).powi(i as i32);
        previous = cumulative;
    }
    clv
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::models::bgnbd::BgNbdParams;
    use crate::domain::models::gamma_gamma::GammaGammaParams;

    #[test]
    fn model_clv_follows_the_lifetimes_definition() {
        let bg = BgNbdParams {
            r: 0.243,
            alpha: 4.414,
            a: 0.793,
            b: 2.426,
        };
        let gg = GammaGammaParams {
            p: 6.25,
            q: 3.74,
            v: 15.44,
        };
        let (x, t_x, t, m) = (2.0, 30.43, 38.86, 22.35);
        // Written out: twelve monthly slices of expected purchases, valued and discounted.
        let value = gg.expected_average_value(x, m);
        let mut expected = 0.0;
        for i in 1..=12 {
            let now = bg.expected_purchases(4.345 * f64::from(i), x, t_x, t);
            let before = bg.expected_purchases(4.345 * f64::from(i - 1), x, t_x, t);
            expected += value * (now - before) / 1.01f64.powi(i);
        }
        let got = model_clv(&bg, &gg, (x, t_x, t), m, TimeUnit::Week, 12, 0.01);
        assert!((got - expected).abs() < 1e-9, "{got} vs {expected}");
        assert!(got > 0.0);
        let undiscounted = model_clv(&bg, &gg, (x, t_x, t), m, TimeUnit::Week, 12, 0.0);
        assert!(undiscounted > got);
        // With no discount, it is the year's expected purchases times the expected value.
        let year = bg.expected_purchases(4.345 * 12.0, x, t_x, t) * value;
        assert!((undiscounted - year).abs() < 1e-9);
    }

    #[test]
    fn discounted_value_sums_monthly_slices() {
        // Two purchases a month at 10 each, 1% a month: 20/1.01 + 20/1.01².
        let got = discounted_value(|h| 2.0 * h, 10.0, TimeUnit::Month, 2, 0.01);
        assert!((got - (20.0 / 1.01 + 20.0 / 1.0201)).abs() < 1e-12, "{got}");
        assert_eq!(discounted_value(|h| h, 10.0, TimeUnit::Week, 0, 0.01), 0.0);
    }
}
