//! What the probabilistic customer-base models share (brief §8): the time unit, the outcome
//! of a fit, errors, the maximiser, the Gauss hypergeometric function, and model CLV.
//!
//! Fits maximise the mean log-likelihood over the customers in log-parameter space (so every
//! parameter stays positive) with argmin's L-BFGS and the models' analytic gradients. Like the
//! Python package `lifetimes`, an optional L2 penalty `penalizer × Σ θ²` on the parameters is
//! subtracted, which is 0 by default; BG/NBD's alpha is penalised in lifetimes' rescaled time,
//! so that a penalised fit is lifetimes' fit (tested against lifetimes 0.11.3).

use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use serde::{Deserialize, Serialize};

use super::bgnbd::BgNbdParams;
use super::gamma_gamma::GammaGammaParams;

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

/// The outcome of a maximum-likelihood fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fit<P> {
    pub params: P,
    /// Total log-likelihood of the data at `params` (not the mean).
    pub log_likelihood: f64,
    pub iterations: u64,
    /// The optimiser stopped on its convergence criteria with a vanishing gradient.
    pub converged: bool,
}

/// Why a model cannot be fitted or used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error("too few customers to fit: {got}, at least {needed} are needed")]
    TooFewCustomers { needed: usize, got: usize },
    #[error("customer {index}: {field} {reason}")]
    InvalidInput {
        field: &'static str,
        index: usize,
        reason: String,
    },
    #[error("the optimiser failed: {0}")]
    Optimiser(String),
}

/// Both fitted models of a portfolio and the unit they were fitted in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FittedModels {
    pub bgnbd: BgNbdParams,
    pub gamma_gamma: GammaGammaParams,
    pub time_unit: TimeUnit,
}

/// What the models say of one customer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub p_alive: f64,
    /// Over the requested horizon, in the model's time unit.
    pub expected_purchases: f64,
    pub expected_average_value: f64,
    pub model_clv: f64,
}

impl FittedModels {
    /// Predictions for a customer's summary (frequency, recency, T and, optionally, mean repeat
    /// value); `None` without frequency, recency and T.
    pub fn predict(
        &self,
        summary: &super::customer::PurchaseSummary,
        horizon: f64,
        clv_months: u32,
        monthly_discount: f64,
    ) -> Option<Prediction> {
        let (x, t_x, t) = (summary.frequency?, summary.recency?, summary.t?);
        let m = summary.monetary_value.unwrap_or(0.0);
        Some(Prediction {
            p_alive: self.bgnbd.p_alive(x, t_x, t),
            expected_purchases: self.bgnbd.expected_purchases(horizon, x, t_x, t),
            expected_average_value: self.gamma_gamma.conditional_expected_average_value(x, m),
            model_clv: model_clv(
                &self.bgnbd,
                &self.gamma_gamma,
                (x, t_x, t),
                m,
                self.time_unit,
                clv_months,
                monthly_discount,
            ),
        })
    }

    /// The model CLV and P(alive) that replace the formula in a customer's score: model CLV
    /// over the CLV parameters' horizon (in months) at their discount rate (as the monthly
    /// equivalent), less the acquisition cost, like the formula.
    pub fn estimate(
        &self,
        c: &super::customer::Customer,
        clv: &super::clv::ClvParams,
    ) -> Option<super::score::ModelEstimate> {
        let monthly = (1.0 + clv.discount_rate).powf(1.0 / 12.0) - 1.0;
        let p = self.predict(&c.purchases, 0.0, clv.horizon_years * 12, monthly)?;
        estimate_from(p, c)
    }

    /// [`FittedModels::estimate`] for many customers, computed once per distinct purchase
    /// summary (see [`predict_many`]).
    pub fn estimator(
        &self,
        clv: &super::clv::ClvParams,
    ) -> impl FnMut(&super::customer::Customer) -> Option<super::score::ModelEstimate> + '_ {
        let monthly = (1.0 + clv.discount_rate).powf(1.0 / 12.0) - 1.0;
        let months = clv.horizon_years * 12;
        let mut cache: std::collections::HashMap<SummaryKey, Option<Prediction>> =
            std::collections::HashMap::new();
        move |c| {
            let p = *cache
                .entry(summary_key(&c.purchases))
                .or_insert_with(|| self.predict(&c.purchases, 0.0, months, monthly));
            estimate_from(p?, c)
        }
    }
}

fn estimate_from(
    p: Prediction,
    c: &super::customer::Customer,
) -> Option<super::score::ModelEstimate> {
    p.model_clv
        .is_finite()
        .then(|| super::score::ModelEstimate {
            clv: p.model_clv - c.acquisition_cost.unwrap_or(0.0),
            p_alive: p.p_alive,
        })
}

type SummaryKey = (u64, u64, u64, u64);

fn summary_key(s: &super::customer::PurchaseSummary) -> SummaryKey {
    let bits = |v: Option<f64>| v.map_or(u64::MAX, f64::to_bits);
    (
        bits(s.frequency),
        bits(s.recency),
        bits(s.t),
        bits(s.monetary_value),
    )
}

/// Predictions for many summaries, computed once per distinct summary: customers of one
/// portfolio share few distinct (frequency, recency, T, value) histories, so a million
/// predictions cost what their distinct histories cost.
pub fn predict_many(
    models: &FittedModels,
    summaries: &[super::customer::PurchaseSummary],
    horizon: f64,
    clv_months: u32,
    monthly_discount: f64,
) -> Vec<Option<Prediction>> {
    let mut cache: std::collections::HashMap<SummaryKey, Option<Prediction>> =
        std::collections::HashMap::new();
    summaries
        .iter()
        .map(|s| {
            *cache
                .entry(summary_key(s))
                .or_insert_with(|| models.predict(s, horizon, clv_months, monthly_discount))
        })
        .collect()
}

/// Largest |log-parameter| the optimiser may try: e^±30 is far beyond any sensible value, and
/// the bound keeps every trial point finite.
const LOG_BOUND: f64 = 30.0;

struct Objective<F>(F);

impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> CostFunction for Objective<F> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, p: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        Ok((self.0)(p).0)
    }
}

impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> Gradient for Objective<F> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, p: &Vec<f64>) -> Result<Vec<f64>, argmin::core::Error> {
        Ok((self.0)(p).1)
    }
}

/// Minimises `f` (value and gradient at a point in log-parameter space) from `start`.
/// Returns the best point, its value, the iterations and whether it converged.
pub(crate) fn minimize(
    f: impl Fn(&[f64]) -> (f64, Vec<f64>),
    start: Vec<f64>,
) -> Result<(Vec<f64>, f64, u64, bool), ModelError> {
    let bounded = |p: &[f64]| {
        let clamped: Vec<f64> = p.iter().map(|x| x.clamp(-LOG_BOUND, LOG_BOUND)).collect();
        let (v, g) = f(&clamped);
        if v.is_finite() && g.iter().all(|x| x.is_finite()) {
            (v, g)
        } else {
            // Steer the line search away from where the model breaks down.
            (f64::MAX / 4.0, vec![0.0; p.len()])
        }
    };
    let err = |e: argmin::core::Error| ModelError::Optimiser(e.to_string());
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(1e-10)
        .map_err(err)?
        .with_tolerance_cost(1e-15)
        .map_err(err)?;
    let result = Executor::new(Objective(bounded), solver)
        .configure(|s| s.param(start).max_iters(1000))
        .run()
        .map_err(err)?;
    let state = result.state();
    let best = state
        .get_best_param()
        .cloned()
        .ok_or_else(|| ModelError::Optimiser("no solution".to_owned()))?;
    let best: Vec<f64> = best
        .iter()
        .map(|x| x.clamp(-LOG_BOUND, LOG_BOUND))
        .collect();
    let (value, gradient) = f(&best);
    // Converged means a strict local minimum inside the bounds, however the optimiser stopped
    // (L-BFGS also stops when the line search can no longer improve at machine precision):
    // a vanishing gradient and a positive definite Hessian. The second test rejects flat
    // directions, where the data do not determine a parameter and a "solution" is arbitrary.
    let gradient_norm = gradient.iter().map(|g| g * g).sum::<f64>().sqrt();
    let converged = value.is_finite()
        && gradient_norm < 1e-6
        && best.iter().all(|x| x.abs() < LOG_BOUND - 1e-9)
        && positive_definite(&hessian(&f, &best));
    Ok((best, value, state.get_iter(), converged))
}

/// Maximises a total log-likelihood over `n` customers in log-parameter space: the objective
/// is the mean negative log-likelihood plus `penalizer × Σ (cᵢ θᵢ)²`, started at θ = 1.
/// `params` builds the parameters from θ, `theta` reads θ back, and `ll` gives the total
/// log-likelihood and its gradient in θ.
///
/// `penalty_scale` (the cᵢ) is how lifetimes sees the parameters when it penalises them: it
/// fits BG/NBD in time rescaled so that the longest customer age is 1, so its penalty falls
/// on `alpha / max T`, not on `alpha`. With the same cᵢ, a penalised fit here is the same
/// fit as lifetimes'.
pub(crate) fn fit_log_params<P, const N: usize>(
    n: f64,
    penalizer: f64,
    penalty_scale: [f64; N],
    params: impl Fn([f64; N]) -> P,
    theta: impl Fn(&P) -> [f64; N],
    ll: impl Fn(&P) -> (f64, [f64; N]),
) -> Result<Fit<P>, ModelError> {
    let at = |lp: &[f64]| {
        let mut t = [0.0; N];
        for (t, l) in t.iter_mut().zip(lp) {
            *t = l.exp();
        }
        params(t)
    };
    let objective = |lp: &[f64]| {
        let p = at(lp);
        let (total, g) = ll(&p);
        let th = theta(&p);
        let seen = |i: usize| penalty_scale[i] * th[i];
        let penalty = penalizer * (0..N).map(|i| seen(i) * seen(i)).sum::<f64>();
        // d/d ln θ = θ · d/dθ, and d/d ln θ (cθ)² = 2 (cθ)².
        let grad = (0..N)
            .map(|i| -g[i] * th[i] / n + 2.0 * penalizer * seen(i) * seen(i))
            .collect();
        (-total / n + penalty, grad)
    };
    let (lp, _, iterations, converged) = minimize(objective, vec![0.0; N])?;
    let best = at(&lp);
    let (log_likelihood, _) = ll(&best);
    Ok(Fit {
        params: best,
        log_likelihood,
        iterations,
        converged,
    })
}

/// The Hessian of `f` at `p` by central differences of its gradient, symmetrised.
fn hessian(f: &impl Fn(&[f64]) -> (f64, Vec<f64>), p: &[f64]) -> Vec<Vec<f64>> {
    let n = p.len();
    let h = 1e-5;
    let mut m = vec![vec![0.0; n]; n];
    for j in 0..n {
        let mut up = p.to_vec();
        let mut down = p.to_vec();
        up[j] += h;
        down[j] -= h;
        let (gu, gd) = (f(&up).1, f(&down).1);
        for i in 0..n {
            m[i][j] = (gu[i] - gd[i]) / (2.0 * h);
        }
    }
    (0..n)
        .map(|i| (0..n).map(|j| (m[i][j] + m[j][i]) / 2.0).collect())
        .collect()
}

/// Whether a symmetric matrix is positive definite, by Cholesky factorisation; pivots must
/// stand clear of rounding noise relative to the diagonal.
fn positive_definite(m: &[Vec<f64>]) -> bool {
    let n = m.len();
    let scale = (0..n).map(|i| m[i][i].abs()).fold(0.0, f64::max);
    if !(scale.is_finite() && scale > 0.0) {
        return false;
    }
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let d = m[i][i] - s;
                if d <= 1e-8 * scale {
                    return false;
                }
                l[i][j] = d.sqrt();
            } else {
                l[i][j] = (m[i][j] - s) / l[j][j];
            }
        }
    }
    true
}

/// Gauss hypergeometric ₂F₁(a, b; c; z) for 0 ≤ z < 1 by its power series
/// Σ (a)ₖ(b)ₖ / ((c)ₖ k!) zᵏ, summed until a term no longer changes the sum. `None` when the
/// series does not settle within 100,000 terms (z too close to 1).
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Option<f64> {
    if !(0.0..1.0).contains(&z) {
        return None;
    }
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 0..100_000u32 {
        let k = f64::from(k);
        term *= (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        sum += term;
        if term.abs() <= 1e-16 * sum.abs() {
            return Some(sum);
        }
        if !sum.is_finite() {
            return None;
        }
    }
    None
}

/// Model customer lifetime value, as lifetimes' `customer_lifetime_value` defines it: for each
/// month i = 1..=months, the expected purchases between months i−1 and i (in the data's time
/// unit) times the Gamma-Gamma expected average value, discounted by (1 + monthly rate)^i.
pub fn model_clv(
    bg: &BgNbdParams,
    gg: &GammaGammaParams,
    (x, t_x, t): (f64, f64, f64),
    monetary_value: f64,
    unit: TimeUnit,
    months: u32,
    monthly_discount: f64,
) -> f64 {
    let value = gg.conditional_expected_average_value(x, monetary_value);
    let factor = unit.per_month();
    let mut clv = 0.0;
    let mut previous = 0.0;
    for i in 1..=months {
        let cumulative = bg.expected_purchases(f64::from(i) * factor, x, t_x, t);
        clv += value * (cumulative - previous) / (1.0 + monthly_discount).powi(i as i32);
        previous = cumulative;
    }
    clv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyp2f1_known_values() {
        // ₂F₁(1, 1; 2; z) = −ln(1 − z) / z.
        for z in [0.1, 0.5, 0.9] {
            let got = hyp2f1(1.0, 1.0, 2.0, z).unwrap();
            let expected = -(1.0f64 - z).ln() / z;
            assert!(
                (got - expected).abs() < 1e-12 * expected,
                "{z}: {got} vs {expected}"
            );
        }
        // ₂F₁(a, b; b; z) = (1 − z)^−a.
        let got = hyp2f1(2.5, 3.0, 3.0, 0.3).unwrap();
        assert!((got - 0.7f64.powf(-2.5)).abs() < 1e-12);
        assert_eq!(hyp2f1(1.0, 1.0, 2.0, 1.0), None);
        assert_eq!(hyp2f1(1.0, 1.0, 2.0, 0.0), Some(1.0));
    }

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
        let value = gg.conditional_expected_average_value(x, m);
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
    fn positive_definiteness() {
        assert!(positive_definite(&[vec![2.0, 1.0], vec![1.0, 2.0]]));
        assert!(!positive_definite(&[vec![1.0, 2.0], vec![2.0, 1.0]]));
        assert!(!positive_definite(&[vec![1.0, 0.0], vec![0.0, 0.0]]));
    }

    #[test]
    fn minimize_a_quadratic() {
        let (p, v, _, converged) = minimize(
            |p| {
                let (x, y) = (p[0] - 1.0, p[1] + 2.0);
                (x * x + 3.0 * y * y, vec![2.0 * x, 6.0 * y])
            },
            vec![0.0, 0.0],
        )
        .unwrap();
        assert!(converged);
        assert!(
            (p[0] - 1.0).abs() < 1e-6 && (p[1] + 2.0).abs() < 1e-6,
            "{p:?}"
        );
        assert!(v < 1e-10);
    }
}
