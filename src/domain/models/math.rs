//! The mathematics every customer-base model shares, and nothing model-specific: the outcome
//! of a fit and why one fails, the maximiser, the numerical Hessian and its positive-definiteness
//! test, the grouping of equal summaries, ln(eᵘ + eᵛ) and the Gauss hypergeometric function.
//!
//! Fits maximise the mean log-likelihood over the customers in log-parameter space (so every
//! parameter stays positive) with argmin's L-BFGS and the models' analytic gradients. Like the
//! Python package `lifetimes`, an optional L2 penalty `penalizer × Σ θ²` on the parameters is
//! subtracted, which is 0 by default; a model may say how lifetimes scales each parameter
//! before penalising it (BG/NBD's alpha is penalised in lifetimes' rescaled time), so that a
//! penalised fit is lifetimes' fit (tested against lifetimes 0.11.3).

use std::collections::HashMap;

use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use serde::{Deserialize, Serialize};

/// The outcome of a maximum-likelihood fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fit<P> {
    pub params: P,
    /// Total log-likelihood of the data at `params` (not the mean).
    pub log_likelihood: f64,
    pub iterations: u64,
    /// The optimiser stopped on its convergence criteria with a vanishing gradient.
    pub converged: bool,
    /// The Hessian, at `params`, of the objective the fit minimised: the mean negative
    /// log-likelihood per customer plus the penalty, as a function of the logarithms of the
    /// parameters (in the order the model lists them). Kept because standard errors and
    /// prediction intervals come from its inverse: without penalty, the covariance of the
    /// log-parameters is about `H⁻¹ / customers`.
    pub hessian: Vec<Vec<f64>>,
}

impl<P> Fit<P> {
    /// The same fit with its parameters wrapped or converted (e.g. into the enum of models).
    pub fn map<Q>(self, f: impl FnOnce(P) -> Q) -> Fit<Q> {
        Fit {
            params: f(self.params),
            log_likelihood: self.log_likelihood,
            iterations: self.iterations,
            converged: self.converged,
            hessian: self.hessian,
        }
    }
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
    /// A fit ran but found no maximum to trust (see [`Fit::converged`]); its parameters are
    /// not kept.
    #[error("the {model} fit did not converge after {iterations} iterations")]
    NotConverged {
        model: &'static str,
        iterations: u64,
    },
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

/// Where [`minimize`] stopped.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Minimum {
    pub point: Vec<f64>,
    pub value: f64,
    pub iterations: u64,
    pub converged: bool,
    /// The Hessian of the minimised function at `point`.
    pub hessian: Vec<Vec<f64>>,
}

/// Minimises `f` (value and gradient at a point in log-parameter space) from `start`.
pub(crate) fn minimize(
    f: impl Fn(&[f64]) -> (f64, Vec<f64>),
    start: Vec<f64>,
) -> Result<Minimum, ModelError> {
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
    let hessian = hessian(&f, &best);
    // Converged means a strict local minimum inside the bounds, however the optimiser stopped
    // (L-BFGS also stops when the line search can no longer improve at machine precision):
    // a vanishing gradient and a positive definite Hessian. The second test rejects flat
    // directions, where the data do not determine a parameter and a "solution" is arbitrary.
    let gradient_norm = gradient.iter().map(|g| g * g).sum::<f64>().sqrt();
    let converged = value.is_finite()
        && gradient_norm < 1e-6
        && best.iter().all(|x| x.abs() < LOG_BOUND - 1e-9)
        && positive_definite(&hessian);
    Ok(Minimum {
        point: best,
        value,
        iterations: state.get_iter(),
        converged,
        hessian,
    })
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
    let found = minimize(objective, vec![0.0; N])?;
    let best = at(&found.point);
    let (log_likelihood, _) = ll(&best);
    Ok(Fit {
        params: best,
        log_likelihood,
        iterations: found.iterations,
        converged: found.converged,
        hessian: found.hessian,
    })
}

/// The Hessian of `f` at `p` by central differences of its gradient, symmetrised.
pub(crate) fn hessian(f: &impl Fn(&[f64]) -> (f64, Vec<f64>), p: &[f64]) -> Vec<Vec<f64>> {
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
pub(crate) fn positive_definite(m: &[Vec<f64>]) -> bool {
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

/// Equal rows counted once, weighted by how often they occur. Customers with equal summaries
/// contribute equally to a likelihood, so a million customers cost what their distinct
/// summaries cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Grouped<const K: usize> {
    /// (row, count), ascending by the row's first value, then its second, and so on: a fixed
    /// order, so that sums over the rows, and so fits, are the same on every run, and rows of
    /// equal first value are adjacent (terms of that value alone are computed once).
    pub rows: Vec<([f64; K], f64)>,
    /// How many rows were grouped.
    pub total: usize,
}

/// Groups equal rows (bit for bit) of `rows`.
pub fn group<const K: usize>(rows: impl IntoIterator<Item = [f64; K]>) -> Grouped<K> {
    let mut counts: HashMap<[u64; K], f64> = HashMap::new();
    let mut total = 0;
    for row in rows {
        *counts.entry(row.map(f64::to_bits)).or_default() += 1.0;
        total += 1;
    }
    let mut rows: Vec<([f64; K], f64)> = counts
        .into_iter()
        .map(|(bits, w)| (bits.map(f64::from_bits), w))
        .collect();
    rows.sort_by(|(p, _), (q, _)| {
        p.iter()
            .zip(q)
            .map(|(a, b)| a.total_cmp(b))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    Grouped { rows, total }
}

/// ln(eᵘ + eᵛ) without overflow.
pub fn log_add_exp(u: f64, v: f64) -> f64 {
    let m = u.max(v);
    m + ((u - m).exp() + (v - m).exp()).ln()
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
    fn positive_definiteness() {
        assert!(positive_definite(&[vec![2.0, 1.0], vec![1.0, 2.0]]));
        assert!(!positive_definite(&[vec![1.0, 2.0], vec![2.0, 1.0]]));
        assert!(!positive_definite(&[vec![1.0, 0.0], vec![0.0, 0.0]]));
    }

    #[test]
    fn minimize_a_quadratic() {
        let Minimum {
            point: p,
            value: v,
            converged,
            hessian,
            ..
        } = minimize(
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
        // x² + 3y² has the Hessian diag(2, 6) everywhere.
        for (i, row) in hessian.iter().enumerate() {
            for (j, h) in row.iter().enumerate() {
                let want = [[2.0, 0.0], [0.0, 6.0]][i][j];
                assert!((h - want).abs() < 1e-6, "H[{i}][{j}] = {h}");
            }
        }
    }

    #[test]
    fn the_fit_keeps_the_hessian_in_log_parameters() {
        // ln L = Σ (ln θ − θ)·w with Σw = 4 is greatest at θ = 1; the mean objective
        // −(ln θ − θ) in u = ln θ is e^u − u, whose second derivative at u = 0 is 1.
        let fit = fit_log_params(
            4.0,
            0.0,
            [1.0],
            |[t]| t,
            |t| [*t],
            |t| (4.0 * (t.ln() - t), [4.0 * (1.0 / t - 1.0)]),
        )
        .unwrap();
        assert!(fit.converged);
        assert!((fit.params - 1.0).abs() < 1e-8, "{}", fit.params);
        assert!((fit.log_likelihood + 4.0).abs() < 1e-12);
        assert_eq!(fit.hessian.len(), 1);
        assert!((fit.hessian[0][0] - 1.0).abs() < 1e-6, "{:?}", fit.hessian);
        let wrapped = fit.clone().map(Some);
        assert_eq!(wrapped.params, Some(fit.params));
        assert_eq!(wrapped.hessian, fit.hessian);
    }

    #[test]
    fn grouping_counts_equal_rows_in_a_fixed_order() {
        let g = group([
            [2.0, 1.0, 5.0],
            [0.0, 0.0, 5.0],
            [2.0, 1.0, 5.0],
            [2.0, 0.5, 5.0],
            [0.0, 0.0, 4.0],
            [2.0, 1.0, 5.0],
        ]);
        assert_eq!(g.total, 6);
        assert_eq!(
            g.rows,
            vec![
                ([0.0, 0.0, 4.0], 1.0),
                ([0.0, 0.0, 5.0], 1.0),
                ([2.0, 0.5, 5.0], 1.0),
                ([2.0, 1.0, 5.0], 3.0),
            ]
        );
        let empty = group(std::iter::empty::<[f64; 2]>());
        assert_eq!((empty.rows.len(), empty.total), (0, 0));
    }

    #[test]
    fn log_add_exp_is_exact_and_does_not_overflow() {
        assert!((log_add_exp(0.0, 0.0) - 2f64.ln()).abs() < 1e-15);
        assert!((log_add_exp(1.0, 2.0) - (1f64.exp() + 2f64.exp()).ln()).abs() < 1e-14);
        assert!((log_add_exp(1000.0, 1000.0) - (1000.0 + 2f64.ln())).abs() < 1e-12);
        assert_eq!(log_add_exp(-1000.0, 0.0), 0.0);
    }
}
