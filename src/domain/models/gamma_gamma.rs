//! The Gamma-Gamma model of spend per transaction (Fader & Hardie 2013, "The Gamma-Gamma model
//! of monetary value"), as the Python package `lifetimes` implements it (`GammaGammaFitter`).
//!
//! A customer's transaction values are Gamma(p, ν) with ν ~ Gamma(q, γ) across customers
//! (γ is `v` here). For a customer with x repeat purchases of mean value m (x > 0):
//!
//! ```text
//! ln L = lnΓ(px+q) − lnΓ(px) − lnΓ(q) + q ln v + (px−1) ln m + px ln x − (px+q) ln(xm+v)
//! ```
//!
//! and the expected value of their future transactions is a weighted mean of the population
//! mean p·v/(q−1) and their own mean m, with weight p·x/(p·x+q−1) on their own.

use serde::{Deserialize, Serialize};
use statrs::function::gamma::{digamma, ln_gamma};

use super::math::{fit_log_params, Fit, ModelError};
use super::traits::{SpendModel, SpendSummaries};

/// Fewest repeat customers a fit accepts.
pub const MIN_CUSTOMERS: usize = super::traits::MIN_CUSTOMERS;

/// Gamma-Gamma parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaGammaParams {
    pub p: f64,
    pub q: f64,
    pub v: f64,
}

impl SpendModel for GammaGammaParams {
    const NAME: &'static str = "Gamma-Gamma";

    /// Equal (x, m) pairs are grouped; all parameters are penalised as they are.
    fn fit(data: &SpendSummaries, penalizer: f64) -> Result<Fit<Self>, ModelError> {
        fit_log_params(
            data.customers() as f64,
            penalizer,
            [1.0; 3],
            |[p, q, v]| GammaGammaParams { p, q, v },
            |g| [g.p, g.q, g.v],
            |g| total_ll(g, data.rows()),
        )
    }

    fn log_likelihood(&self, x: f64, m: f64) -> f64 {
        let Self { p, q, v } = *self;
        ln_gamma(p * x + q) - ln_gamma(p * x) - ln_gamma(q)
            + q * v.ln()
            + (p * x - 1.0) * m.ln()
            + p * x * x.ln()
            - (p * x + q) * (x * m + v).ln()
    }

    /// lifetimes' `conditional_expected_average_profit`. The population mean exists only for
    /// q > 1; below that, and for customers without repeat purchases, the population mean is
    /// unknown and the customer's own mean is returned.
    fn expected_average_value(&self, x: f64, m: f64) -> f64 {
        let Self { p, q, v } = *self;
        if q <= 1.0 {
            return m;
        }
        let population = p * v / (q - 1.0);
        if x <= 0.0 {
            return population;
        }
        let own = p * x / (p * x + q - 1.0);
        (1.0 - own) * population + own * m
    }
}

/// Σ w·lnL and its gradient in (p, q, v).
fn total_ll(par: &GammaGammaParams, rows: &[([f64; 2], f64)]) -> (f64, [f64; 3]) {
    let GammaGammaParams { p, q, v } = *par;
    let (dg_q, ln_v) = (digamma(q), v.ln());
    let mut ll = 0.0;
    let mut g = [0.0; 3];
    for &([x, m], w) in rows {
        ll += w * par.log_likelihood(x, m);
        let (dg_pxq, ln_xmv) = (digamma(p * x + q), (x * m + v).ln());
        g[0] += w * x * (dg_pxq - digamma(p * x) + m.ln() + x.ln() - ln_xmv);
        g[1] += w * (dg_pxq - dg_q + ln_v - ln_xmv);
        g[2] += w * (q / v - (p * x + q) / (x * m + v));
    }
    (ll, g)
}

/// Fits the Gamma-Gamma model to (frequency, monetary value) pairs by maximum likelihood, on
/// the customers with frequency > 0 (the others carry no spend information), with an optional
/// L2 penalty on the parameters. Equal pairs are grouped.
pub fn fit_gamma_gamma(
    data: &[(f64, f64)],
    penalizer: f64,
) -> Result<Fit<GammaGammaParams>, ModelError> {
    GammaGammaParams::fit(&SpendSummaries::new(data)?, penalizer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::models::bgnbd::tests::cdnow;

    #[test]
    fn cdnow_fit_matches_the_published_estimates() {
        let data: Vec<(f64, f64)> = cdnow().iter().map(|c| (c.0, c.3)).collect();
        let fit = fit_gamma_gamma(&data, 0.0).unwrap();
        assert!(fit.converged, "{fit:?}");
        let GammaGammaParams { p, q, v } = fit.params;
        for (got, want, name) in [(p, 6.2488, "p"), (q, 3.7446, "q"), (v, 15.4477, "v")] {
            assert!(
                ((got - want) / want).abs() < 1e-3,
                "{name}: {got} vs {want}"
            );
        }
    }

    /// Penalised fits agree with lifetimes 0.11.3's `GammaGammaFitter(penalizer_coef=c)` on
    /// the CDNOW repeat buyers (`fit(x, zbar, tol=1e-8)`, run once; figures to 6 places).
    #[test]
    fn penalised_cdnow_fits_match_lifetimes() {
        let data: Vec<(f64, f64)> = cdnow().iter().map(|c| (c.0, c.3)).collect();
        for (penalizer, want) in [
            (0.001, [7.912025, 2.446819, 7.209564]),
            (0.01, [4.10925, 0.968385, 3.780802]),
            (0.1, [1.284762, 0.335947, 1.146925]),
        ] {
            let fit = fit_gamma_gamma(&data, penalizer).unwrap();
            assert!(fit.converged, "{penalizer}: {fit:?}");
            let GammaGammaParams { p, q, v } = fit.params;
            for (got, want, name) in [(p, want[0], "p"), (q, want[1], "q"), (v, want[2], "v")] {
                assert!(
                    ((got - want) / want).abs() < 1e-5,
                    "penalizer {penalizer}, {name}: {got} vs lifetimes {want}"
                );
            }
        }
    }

    #[test]
    fn conditional_mean_is_the_weighted_mean() {
        let g = GammaGammaParams {
            p: 6.25,
            q: 3.74,
            v: 15.44,
        };
        let population = 6.25 * 15.44 / 2.74;
        let w = 6.25 * 2.0 / (6.25 * 2.0 + 2.74);
        let got = g.expected_average_value(2.0, 22.35);
        assert!((got - ((1.0 - w) * population + w * 22.35)).abs() < 1e-12);
        assert!((g.expected_average_value(0.0, 0.0) - population).abs() < 1e-12);
    }

    #[test]
    fn refuses_non_positive_spend_and_too_few_buyers() {
        let mut data = vec![(2.0, 10.0); 20];
        data[3] = (1.0, 0.0);
        assert!(matches!(
            fit_gamma_gamma(&data, 0.0),
            Err(ModelError::InvalidInput {
                field: "monetary_value",
                index: 3,
                ..
            })
        ));
        let few = vec![(0.0, 0.0); 50];
        assert!(matches!(
            fit_gamma_gamma(&few, 0.0),
            Err(ModelError::TooFewCustomers { got: 0, .. })
        ));
    }
}
