//! The scoring policy: weights, reference scales, thresholds and CLV defaults (brief §4).
//!
//! A policy is plain data, read from the `[policy]` table of the configuration file, every
//! field defaulted. Its version is its configured name or, when unnamed, a short SHA-256 of its
//! content, so that every snapshot says exactly which rules produced it and two servers with
//! the same policy agree on the version.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::clv::ClvParams;
use crate::domain::customer::Violation;

/// Weights of Curry's three performance factors. They add up to 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PartWeights {
    pub value: f64,
    pub behaviour: f64,
    pub satisfaction: f64,
}

impl Default for PartWeights {
    fn default() -> Self {
        Self {
            value: 0.5,
            behaviour: 0.3,
            satisfaction: 0.2,
        }
    }
}

/// Weights of the factors inside each part: annual profit and CLV make the value part; revenue,
/// share of wallet and tenure the behaviour part; satisfaction and loyalty the satisfaction
/// part. The weights of one part add up to 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FactorWeights {
    pub annual_profit: f64,
    pub clv: f64,
    pub revenue: f64,
    pub share_of_wallet: f64,
    pub tenure: f64,
    pub satisfaction: f64,
    pub loyalty: f64,
}

impl Default for FactorWeights {
    fn default() -> Self {
        Self {
            annual_profit: 0.6,
            clv: 0.4,
            revenue: 0.4,
            share_of_wallet: 0.3,
            tenure: 0.3,
            satisfaction: 0.5,
            loyalty: 0.5,
        }
    }
}

/// Reference scales. A factor equal to its scale earns half of its points; see
/// [`super::saturate`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReferenceScales {
    pub annual_profit: f64,
    pub clv: f64,
    pub revenue: f64,
    pub share_of_wallet: f64,
    pub tenure_years: f64,
}

impl Default for ReferenceScales {
    fn default() -> Self {
        Self {
            annual_profit: 10_000.0,
            clv: 50_000.0,
            revenue: 50_000.0,
            share_of_wallet: 0.3,
            tenure_years: 3.0,
        }
    }
}

/// Thresholds of status, lifecycle and flags.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Months without a purchase after which a customer is lapsed.
    pub inactivity_months: u32,
    /// Loyalty (0-10) at or above which a repeat customer is loyal.
    pub loyal_loyalty: f64,
    /// Satisfaction below this is low: the relationship is in retention.
    pub low_satisfaction: f64,
    /// Satisfaction in `[barely_satisfied_min, barely_satisfied_max)` is "barely satisfied":
    /// Curry's customers who defect to competitors.
    pub barely_satisfied_min: f64,
    pub barely_satisfied_max: f64,
    /// A revenue change within ± this fraction is stable.
    pub growth_tolerance: f64,
    /// Length of the trailing window the money fields cover, in months.
    pub window_months: u32,
    /// Probability alive (from a fitted model) below which a customer is flagged at risk.
    pub low_p_alive: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            inactivity_months: 12,
            loyal_loyalty: 8.0,
            low_satisfaction: 5.0,
            barely_satisfied_min: 5.0,
            barely_satisfied_max: 7.0,
            growth_tolerance: 0.05,
            window_months: 12,
            low_p_alive: 0.3,
        }
    }
}

/// The whole scoring policy.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoringPolicy {
    /// A name chosen by the operator; when set, it is the version.
    pub name: Option<String>,
    pub weights: PartWeights,
    pub factor_weights: FactorWeights,
    pub scales: ReferenceScales,
    pub thresholds: Thresholds,
    pub clv: ClvParams,
}

impl ScoringPolicy {
    /// The configured name, or `sha256:` and the first 16 hex digits of the SHA-256 of the
    /// policy's canonical JSON (fields in declaration order).
    pub fn version(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        // Serialising plain numbers and strings cannot fail; an empty hash input would still
        // give a stable (if less useful) version.
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        let digest = Sha256::digest(&canonical);
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }

    /// Every rule the policy breaks; empty when it can serve.
    pub fn check(&self) -> Vec<Violation> {
        let mut v = Vec::new();
        self.check_weights(&mut v);
        self.check_scales(&mut v);
        self.check_thresholds(&mut v);
        v.extend(
            self.clv
                .check()
                .into_iter()
                .map(|x| Violation::new(format!("clv.{}", x.field), x.reason)),
        );
        v
    }

    fn check_weights(&self, v: &mut Vec<Violation>) {
        let close_to_one = |s: f64| (s - 1.0).abs() <= 1e-9;
        let w = self.weights;
        let fw = self.factor_weights;
        let all_weights = [
            ("weights.value", w.value),
            ("weights.behaviour", w.behaviour),
            ("weights.satisfaction", w.satisfaction),
            ("factor_weights.annual_profit", fw.annual_profit),
            ("factor_weights.clv", fw.clv),
            ("factor_weights.revenue", fw.revenue),
            ("factor_weights.share_of_wallet", fw.share_of_wallet),
            ("factor_weights.tenure", fw.tenure),
            ("factor_weights.satisfaction", fw.satisfaction),
            ("factor_weights.loyalty", fw.loyalty),
        ];
        for (field, x) in all_weights {
            if !x.is_finite() || x < 0.0 {
                v.push(Violation::new(field, format!("{x} is not a weight >= 0")));
            }
        }
        for (field, sum) in [
            ("weights", w.value + w.behaviour + w.satisfaction),
            ("factor_weights (value part)", fw.annual_profit + fw.clv),
            (
                "factor_weights (behaviour part)",
                fw.revenue + fw.share_of_wallet + fw.tenure,
            ),
            (
                "factor_weights (satisfaction part)",
                fw.satisfaction + fw.loyalty,
            ),
        ] {
            if !close_to_one(sum) {
                v.push(Violation::new(field, format!("add up to {sum}, not 1")));
            }
        }
    }

    fn check_scales(&self, v: &mut Vec<Violation>) {
        let s = self.scales;
        for (field, x) in [
            ("scales.annual_profit", s.annual_profit),
            ("scales.clv", s.clv),
            ("scales.revenue", s.revenue),
            ("scales.share_of_wallet", s.share_of_wallet),
            ("scales.tenure_years", s.tenure_years),
        ] {
            if !x.is_finite() || x <= 0.0 {
                v.push(Violation::new(field, format!("{x} is not a scale > 0")));
            }
        }
    }

    fn check_thresholds(&self, v: &mut Vec<Violation>) {
        let t = self.thresholds;
        if t.inactivity_months == 0 {
            v.push(Violation::new(
                "thresholds.inactivity_months",
                "must be > 0",
            ));
        }
        if t.window_months == 0 {
            v.push(Violation::new("thresholds.window_months", "must be > 0"));
        }
        for (field, x) in [
            ("thresholds.loyal_loyalty", t.loyal_loyalty),
            ("thresholds.low_satisfaction", t.low_satisfaction),
            ("thresholds.barely_satisfied_min", t.barely_satisfied_min),
            ("thresholds.barely_satisfied_max", t.barely_satisfied_max),
        ] {
            if !(0.0..=10.0).contains(&x) {
                v.push(Violation::new(field, format!("{x} is outside 0..10")));
            }
        }
        if t.barely_satisfied_min > t.barely_satisfied_max {
            v.push(Violation::new(
                "thresholds.barely_satisfied_min",
                "is above barely_satisfied_max",
            ));
        }
        if !(0.0..=1.0).contains(&t.low_p_alive) {
            v.push(Violation::new(
                "thresholds.low_p_alive",
                format!("{} is outside 0..1", t.low_p_alive),
            ));
        }
        if !(0.0..1.0).contains(&t.growth_tolerance) {
            v.push(Violation::new(
                "thresholds.growth_tolerance",
                format!("{} is outside 0..1", t.growth_tolerance),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_is_valid_with_the_brief_weights() {
        let p = ScoringPolicy::default();
        assert!(p.check().is_empty(), "{:?}", p.check());
        assert_eq!(
            (p.weights.value, p.weights.behaviour, p.weights.satisfaction),
            (0.5, 0.3, 0.2)
        );
    }

    #[test]
    fn version_is_a_stable_content_hash_unless_named() {
        let a = ScoringPolicy::default();
        let b = ScoringPolicy::default();
        assert_eq!(a.version(), b.version());
        assert!(a.version().starts_with("sha256:"));
        assert_eq!(a.version().len(), "sha256:".len() + 16);
        let mut c = ScoringPolicy::default();
        c.scales.revenue = 60_000.0;
        assert_ne!(a.version(), c.version());
        c.name = Some("q3-2026".into());
        assert_eq!(c.version(), "q3-2026");
    }

    #[test]
    fn bad_weights_are_named() {
        let mut p = ScoringPolicy::default();
        p.weights.value = 0.6;
        p.scales.clv = 0.0;
        let fields: Vec<_> = p.check().into_iter().map(|v| v.field).collect();
        assert_eq!(fields, ["weights", "scales.clv"]);
    }

    #[test]
    fn reads_a_partial_toml_table() {
        let p: ScoringPolicy =
            toml::from_str("name = \"x\"\n[weights]\nvalue = 0.6\nbehaviour = 0.2\n").unwrap();
        assert_eq!(p.weights.value, 0.6);
        assert_eq!(p.weights.satisfaction, 0.2);
        assert_eq!(p.scales, ReferenceScales::default());
        assert!(p.check().is_empty());
    }
}
