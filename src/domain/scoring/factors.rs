//! The seven factors of a score, normalised to 0..1, and the points each earns (see the module
//! docs of [`super`] for the rules).
//!
//! Each factor's reading is its structured reason, [`FactorReason`]: the points are computed
//! once, and the same value is what the reasons rank and say.

use serde::{Deserialize, Serialize};

use super::policy::ScoringPolicy;
use super::reasons::{Band, FactorReason, Unit};

/// Normalised value of an unknown survey score.
pub const NEUTRAL: f64 = 0.5;

/// `x / (x + scale)` for `x > 0`, else 0: monotone, 0 at 0, ½ at the scale, below 1 for all x.
pub fn saturate(x: f64, scale: f64) -> f64 {
    if x > 0.0 && scale > 0.0 {
        x / (x + scale)
    } else {
        0.0
    }
}

/// Points of the score from each part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Contributions {
    pub value: f64,
    pub behaviour: f64,
    pub satisfaction: f64,
}

impl Contributions {
    pub fn total(&self) -> f64 {
        self.value + self.behaviour + self.satisfaction
    }
}

/// One of the seven factors of a score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Factor {
    AnnualProfit,
    Clv,
    Revenue,
    ShareOfWallet,
    Tenure,
    Satisfaction,
    Loyalty,
}

/// What the factors are measured from: the customer's facts and the figures scoring derives
/// from them. `None` is unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Inputs {
    pub annual_profit: Option<f64>,
    pub clv: Option<f64>,
    pub revenue: Option<f64>,
    pub share_of_wallet: Option<f64>,
    pub tenure_years: Option<f64>,
    pub satisfaction: Option<f64>,
    pub loyalty: Option<f64>,
}

/// Every factor's reading in the policy's order: the value part (annual profit, CLV), the
/// behaviour part (revenue, share of wallet, tenure), the satisfaction part (satisfaction,
/// loyalty). One flat array, so that the reasons keep it as it is, without a copy.
pub type Readings = [FactorReason; 7];

/// Where each part's factors are in [`Readings`].
const VALUE: std::ops::Range<usize> = 0..2;
const BEHAVIOUR: std::ops::Range<usize> = 2..5;
const SATISFACTION: std::ops::Range<usize> = 5..7;

/// Reads every factor of `x` under `policy`'s weights and scales.
///
/// This, [`contributions`], the flag rules and [`Reasons::new`](super::Reasons::new) are
/// marked inline: measured, that spares about a tenth of a quiet score, mostly copies of the
/// 280 bytes of readings on their way into the reasons.
#[inline]
pub fn measure(x: &Inputs, policy: &ScoringPolicy) -> Readings {
    let sc = &policy.scales;
    let fw = &policy.factor_weights;
    let w = &policy.weights;
    // A factor's most points: `100 × part weight × factor weight`.
    let max = |part: f64, weight: f64| 100.0 * part * weight;
    [
        measured(
            Factor::AnnualProfit,
            x.annual_profit,
            sc.annual_profit,
            max(w.value, fw.annual_profit),
            Unit::Money,
        ),
        measured(
            Factor::Clv,
            x.clv,
            sc.clv,
            max(w.value, fw.clv),
            Unit::Money,
        ),
        measured(
            Factor::Revenue,
            x.revenue,
            sc.revenue,
            max(w.behaviour, fw.revenue),
            Unit::Money,
        ),
        measured(
            Factor::ShareOfWallet,
            x.share_of_wallet,
            sc.share_of_wallet,
            max(w.behaviour, fw.share_of_wallet),
            Unit::Fraction,
        ),
        measured(
            Factor::Tenure,
            x.tenure_years,
            sc.tenure_years,
            max(w.behaviour, fw.tenure),
            Unit::Years,
        ),
        surveyed(
            Factor::Satisfaction,
            x.satisfaction,
            max(w.satisfaction, fw.satisfaction),
        ),
        surveyed(Factor::Loyalty, x.loyalty, max(w.satisfaction, fw.loyalty)),
    ]
}

/// Each part's points: the sum of its factors' points, so the parts add up to the score.
#[inline]
pub fn contributions(r: &Readings) -> Contributions {
    let sum = |fs: &[FactorReason]| fs.iter().map(FactorReason::points).sum::<f64>();
    Contributions {
        value: sum(&r[VALUE]),
        behaviour: sum(&r[BEHAVIOUR]),
        satisfaction: sum(&r[SATISFACTION]),
    }
}

/// A money, share-of-wallet or tenure factor: saturated against its scale when known; no
/// evidence, and so no points, when unknown.
fn measured(factor: Factor, x: Option<f64>, scale: f64, max: f64, unit: Unit) -> FactorReason {
    match x {
        Some(value) => {
            let n = saturate(value, scale);
            FactorReason::Measured {
                factor,
                value,
                unit,
                scale,
                band: Band::of(n),
                points: max * n,
                max,
            }
        }
        None => FactorReason::Unknown { factor, max },
    }
}

/// A survey score (0-10): linear when reported, [`NEUTRAL`] when not.
fn surveyed(factor: Factor, x: Option<f64>, max: f64) -> FactorReason {
    match x {
        Some(value) => FactorReason::Surveyed {
            factor,
            value,
            points: max * value / 10.0,
            max,
        },
        None => FactorReason::NotReported {
            factor,
            points: max * NEUTRAL,
            max,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturate_is_half_at_the_scale_and_nothing_without_evidence() {
        assert_eq!(saturate(10.0, 10.0), 0.5);
        assert_eq!(saturate(30.0, 10.0), 0.75);
        assert_eq!(saturate(0.0, 10.0), 0.0);
        assert_eq!(saturate(-5.0, 10.0), 0.0);
        assert_eq!(saturate(5.0, 0.0), 0.0);
    }

    #[test]
    fn readings_carry_their_numbers_and_parts_add_up() {
        let p = ScoringPolicy::default();
        let f = measure(
            &Inputs {
                annual_profit: Some(30_000.0),
                satisfaction: Some(8.0),
                ..Inputs::default()
            },
            &p,
        );
        // 50 × 0.6 = 30 points at most; three times the scale earns 75 % of them.
        assert_eq!(
            f[0],
            FactorReason::Measured {
                factor: Factor::AnnualProfit,
                value: 30_000.0,
                unit: Unit::Money,
                scale: 10_000.0,
                band: Band::Top,
                points: 22.5,
                max: 30.0,
            }
        );
        assert_eq!(
            f[1],
            FactorReason::Unknown {
                factor: Factor::Clv,
                max: 20.0
            }
        );
        // 20 × 0.5 = 10 points each: 8 of them for satisfaction 8, 5 for unknown loyalty.
        assert_eq!(
            f[6],
            FactorReason::NotReported {
                factor: Factor::Loyalty,
                points: 5.0,
                max: 10.0
            }
        );
        let c = contributions(&f);
        assert_eq!((c.value, c.behaviour, c.satisfaction), (22.5, 0.0, 13.0));
        assert_eq!(f[5].factor(), Factor::Satisfaction);
    }
}
