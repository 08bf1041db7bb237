//! Fitting a portfolio's models from its customers' summaries, all or nothing: the models are
//! kept only when both fits converged, so that a kept model is always one to predict with.

use super::fitted::FittedModels;
use super::kinds::{FittedPurchaseModel, FittedSpendModel, PurchaseModelKind, SpendModelKind};
use super::math::{Fit, ModelError};
use super::traits::{CountSummaries, SpendSummaries};
use super::unit::TimeUnit;

/// Both fits of a portfolio and what they were fitted on: what its value model keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct PortfolioFit {
    pub purchases: Fit<FittedPurchaseModel>,
    pub spend: Fit<FittedSpendModel>,
    /// Customers the purchase-count model was fitted on.
    pub customers: usize,
    /// Customers with repeat purchases, whom the spend model was fitted on.
    pub repeat_customers: usize,
    pub time_unit: TimeUnit,
    pub penalizer: f64,
}

impl PortfolioFit {
    /// The fitted models, to predict with.
    pub fn models(&self) -> FittedModels {
        FittedModels {
            purchases: self.purchases.params,
            spend: self.spend.params,
            time_unit: self.time_unit,
        }
    }
}

/// Fits the portfolio's purchase-count model to its customers' (x, t_x, T) and its spend
/// model to the (x, m) of those with repeat purchases, in `unit`, with the L2 penalty
/// `penalizer` on both; an error when the data cannot be fitted or when either fit did not
/// converge (the purchase-count model is reported first). The models are BG/NBD and
/// Gamma-Gamma; a choice among [`PurchaseModelKind::ALL`] would be made here.
pub fn fit_portfolio(
    counts: &[(f64, f64, f64)],
    spend: &[(f64, f64)],
    unit: TimeUnit,
    penalizer: f64,
) -> Result<PortfolioFit, ModelError> {
    let count_data = CountSummaries::new(counts)?;
    let purchases = PurchaseModelKind::BgNbd.fit(&count_data, penalizer)?;
    let spend_data = SpendSummaries::new(spend)?;
    let spend = SpendModelKind::GammaGamma.fit(&spend_data, penalizer)?;
    for (converged, model, iterations) in [
        (
            purchases.converged,
            purchases.params.kind().name(),
            purchases.iterations,
        ),
        (
            spend.converged,
            spend.params.kind().name(),
            spend.iterations,
        ),
    ] {
        if !converged {
            return Err(ModelError::NotConverged { model, iterations });
        }
    }
    Ok(PortfolioFit {
        purchases,
        spend,
        customers: count_data.customers(),
        repeat_customers: spend_data.customers(),
        time_unit: unit,
        penalizer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::models::bgnbd::fit_bgnbd;
    use crate::domain::models::bgnbd::tests::cdnow;
    use crate::domain::models::gamma_gamma::fit_gamma_gamma;

    #[test]
    fn cdnow_portfolio_fits_both_models() {
        let rows = cdnow();
        let counts: Vec<_> = rows.iter().map(|c| (c.0, c.1, c.2)).collect();
        let spend: Vec<_> = rows
            .iter()
            .filter(|c| c.0 > 0.0)
            .map(|c| (c.0, c.3))
            .collect();
        let fit = fit_portfolio(&counts, &spend, TimeUnit::Week, 0.01).unwrap();
        assert_eq!((fit.customers, fit.repeat_customers), (2357, 946));
        assert_eq!(
            fit.purchases,
            fit_bgnbd(&counts, 0.01)
                .unwrap()
                .map(FittedPurchaseModel::BgNbd)
        );
        assert_eq!(
            fit.spend,
            fit_gamma_gamma(&spend, 0.01)
                .unwrap()
                .map(FittedSpendModel::GammaGamma)
        );
        assert_eq!(fit.models().time_unit, TimeUnit::Week);
        assert_eq!(fit.models().purchases, fit.purchases.params);
        assert_eq!(fit.penalizer, 0.01);
    }

    #[test]
    fn a_fit_that_did_not_converge_is_refused_naming_the_model() {
        // No repeat purchase: BG/NBD has no maximum (see its tests).
        let counts = vec![(0.0, 0.0, 10.0); 50];
        let spend = [
            (2.0, 10.0),
            (3.0, 12.5),
            (1.0, 7.0),
            (4.0, 9.0),
            (2.0, 11.0),
        ]
        .repeat(4);
        let iterations = fit_bgnbd(&counts, 0.0).unwrap().iterations;
        assert_eq!(
            fit_portfolio(&counts, &spend, TimeUnit::Week, 0.0),
            Err(ModelError::NotConverged {
                model: "BG/NBD",
                iterations
            })
        );
        // Every repeat buyer spending the same: no spread across customers to fit.
        let counts: Vec<_> = cdnow().iter().map(|c| (c.0, c.1, c.2)).collect();
        let spend = vec![(2.0, 10.0); 30];
        let iterations = fit_gamma_gamma(&spend, 0.0).unwrap().iterations;
        let refused = fit_portfolio(&counts, &spend, TimeUnit::Week, 0.0).unwrap_err();
        assert_eq!(
            refused,
            ModelError::NotConverged {
                model: "Gamma-Gamma",
                iterations
            }
        );
        assert_eq!(
            refused.to_string(),
            format!("the Gamma-Gamma fit did not converge after {iterations} iterations")
        );
    }

    #[test]
    fn too_few_customers_are_refused() {
        let counts = vec![(1.0, 2.0, 3.0); 20];
        assert_eq!(
            fit_portfolio(&counts, &[(1.0, 5.0)], TimeUnit::Week, 0.0),
            Err(ModelError::TooFewCustomers { needed: 10, got: 1 })
        );
        assert_eq!(
            fit_portfolio(&counts[..3], &[], TimeUnit::Week, 0.0),
            Err(ModelError::TooFewCustomers { needed: 10, got: 3 })
        );
    }
}
